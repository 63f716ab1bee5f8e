package tls

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vasim/vasim/vaspace"
)

// A compartmentalising loader (IA2's rtld, which tags memory with
// protection keys) must share the initial thread's static TLS, its TCB
// and its DTV with every compartment, and nothing more. The code here
// compares the rules such a loader can follow on one process's layout
// (IA2 PR "rtld: share exactly the initial thread's static TLS pages").

// Strategy is a rule for the pages to retag.
type Strategy struct {
	// Name labels the rule in reports.
	Name string
	// Below is the number of pages below the TCB page a window rule
	// retags; Exact rules ignore it.
	Below int
	// Exact takes the static TLS range rounded outward instead of a
	// window.
	Exact bool
}

// Strategies are the rules the IA2 change went through: a fixed window
// of the TCB page and eight pages below it, a narrower probe of one page
// below, and the exact range from dl_tls_static_size. Each also retags the
// DTV's pages when they lie outside what it covers.
var Strategies = []Strategy{
	{Name: "window of 8 pages below the TCB page", Below: 8},
	{Name: "probe of 1 page below the TCB page", Below: 1},
	{Name: "exact static TLS range", Exact: true},
}

// ExactPages returns the pages a loader must share: the static TLS area
// and the TCB rounded outward to pages, and the pages of the DTV
// allocation dtv (empty when unknown).
func ExactPages(b InitialBlock, dtv vaspace.Range, page uint64) []vaspace.Addr {
	return addPages(pagesOf(b.Pages, page), dtv, page)
}

// StrategyPages returns the pages strategy s retags for block b.
func StrategyPages(s Strategy, b InitialBlock, dtv vaspace.Range, page uint64) []vaspace.Addr {
	if s.Exact {
		return ExactPages(b, dtv, page)
	}
	tcbPage := b.TP.RoundDown(page)
	lo := tcbPage
	if n := vaspace.Addr(uint64(s.Below) * page); n <= tcbPage {
		lo = tcbPage - n
	} else {
		lo = 0
	}
	return addPages(pagesOf(vaspace.Range{Start: lo, End: tcbPage + vaspace.Addr(page)}, page), dtv, page)
}

func pagesOf(r vaspace.Range, page uint64) []vaspace.Addr {
	var out []vaspace.Addr
	if r.IsEmpty() {
		return nil
	}
	end, _ := r.End.RoundUp(page)
	for a := r.Start.RoundDown(page); a < end; a += vaspace.Addr(page) {
		out = append(out, a)
	}
	return out
}

func addPages(ps []vaspace.Addr, r vaspace.Range, page uint64) []vaspace.Addr {
	for _, a := range pagesOf(r, page) {
		if !slices.Contains(ps, a) {
			ps = append(ps, a)
		}
	}
	slices.Sort(ps)
	return ps
}

// PageReport is one strategy's outcome on a layout.
type PageReport struct {
	Strategy Strategy
	// Pages are the pages it retags.
	Pages []vaspace.Addr
	// Extra are mapped pages it retags outside the exact set (shared with
	// every compartment for no reason); Missed are exact pages it leaves
	// out (an access there faults).
	Extra, Missed []vaspace.Addr
	// Covers reports, for each probe address asked about, whether a
	// retagged page holds it.
	Covers map[vaspace.Addr]bool
	// OneCall is the outcome of retagging the whole interval with one
	// pkey_mprotect (nil: it succeeds; an ErrNotMapped naming the hole
	// when the interval crosses unmapped memory, Linux's ENOMEM).
	OneCall error
	// Unmapped are the pages a page-by-page walk cannot retag because
	// nothing is mapped there; the walk retags the rest.
	Unmapped []vaspace.Addr
}

// ComparePages runs each strategy on a layout: the block, the DTV
// allocation, the mappings (to see where a single protection call over
// the interval crosses a hole) and addresses whose coverage matters (for
// example PartitionAlloc's per-thread bookkeeping at tp − 0x4018).
func ComparePages(b InitialBlock, dtv vaspace.Range, space *vaspace.Space, probes []vaspace.Addr, strategies []Strategy) []PageReport {
	page := space.PageSize()
	exact := ExactPages(b, dtv, page)
	var out []PageReport
	for _, s := range strategies {
		r := PageReport{Strategy: s, Pages: StrategyPages(s, b, dtv, page), Covers: map[vaspace.Addr]bool{}}
		r.Unmapped, r.OneCall = retag(space.Clone(), r.Pages, page)
		for _, p := range r.Pages {
			if !slices.Contains(exact, p) && !slices.Contains(r.Unmapped, p) {
				r.Extra = append(r.Extra, p)
			}
		}
		for _, p := range exact {
			if !slices.Contains(r.Pages, p) {
				r.Missed = append(r.Missed, p)
			}
		}
		for _, a := range probes {
			r.Covers[a] = slices.Contains(r.Pages, a.RoundDown(page))
		}
		out = append(out, r)
	}
	return out
}

// retag models the two ways of applying a protection key: one call over
// the interval from the lowest to the highest page (pkey_mprotect fails
// with ENOMEM, changing nothing, when any page of it is unmapped), and a
// walk page by page, which retags every mapped page.
func retag(s *vaspace.Space, pages []vaspace.Addr, page uint64) ([]vaspace.Addr, error) {
	if len(pages) == 0 {
		return nil, nil
	}
	interval := vaspace.Range{Start: pages[0], End: pages[len(pages)-1] + vaspace.Addr(page)}
	var oneCall error
	if err := protectSame(s, interval); err != nil {
		oneCall = err
	}
	var unmapped []vaspace.Addr
	for _, p := range pages {
		if err := protectSame(s, vaspace.Range{Start: p, End: p + vaspace.Addr(page)}); err != nil {
			unmapped = append(unmapped, p)
		}
	}
	return unmapped, oneCall
}

// protectSame checks that every page of r is mapped, as mprotect does,
// without changing anything (the key is not part of the model's
// protection).
func protectSame(s *vaspace.Space, r vaspace.Range) error {
	next := r.Start
	for m := range s.Overlapping(r) {
		if m.Start > next {
			return &vaspace.Error{Op: "pkey_mprotect", Range: r, Hole: vaspace.Range{Start: next, End: m.Start}, Err: vaspace.ErrNotMapped}
		}
		next = m.End
	}
	if next < r.End {
		return &vaspace.Error{Op: "pkey_mprotect", Range: r, Hole: vaspace.Range{Start: next, End: r.End}, Err: vaspace.ErrNotMapped}
	}
	return nil
}

// ErrNoBlock is returned when a layout has no initial TLS block to
// report on.
var ErrNoBlock = errors.New("tls: no initial thread TLS block")

// String summarises a report.
func (r PageReport) String() string {
	s := fmt.Sprintf("%s: %d pages, %d extra, %d missed", r.Strategy.Name, len(r.Pages), len(r.Extra), len(r.Missed))
	if r.OneCall != nil {
		s += fmt.Sprintf("; one pkey_mprotect over the interval fails: %v", r.OneCall)
	}
	return s
}
