package loader

import (
	"errors"
	"fmt"
	"sort"

	"github.com/vasim/vasim/vaspace"
)

// lean is a placer that keeps only the free ranges, each with the affine
// forms of its ends, and a list of what was mapped. It takes exactly the
// decisions tracker takes over a vaspace.Space (first fit over the same
// free ranges; TestCoverPiecesAreSound checks it), but it skips segment
// mappings, which never change a decision, and every operation is a short
// scan of a small slice. Cover uses it to enumerate layouts quickly; the
// layout users see comes from tracker.
//
// A free range of length zero is kept when its ends have different affine
// forms: two mappings that touch at this draw may part at another, and
// the gap that opens must be considered by later placements.
type lean struct {
	draw   Draw
	bounds vaspace.Range
	page   int64
	holes  []hole
	// base holds what was mapped before a fork, as the slices of the
	// forks before it (shared, never written); maps what was mapped since,
	// in placement order.
	base   [][]AffineMapping
	maps   []AffineMapping
	region *Region
}

// hole is a free range with the affine forms of its ends.
type hole struct {
	lo, hi   vaspace.Addr
	loA, hiA Affine
}

var errLeanOverlap = errors.New("address range overlaps an existing mapping")

func newLean(bounds vaspace.Range, page uint64, d Draw) *lean {
	return &lean{
		draw:   d,
		bounds: bounds,
		page:   int64(page),
		holes:  []hole{{bounds.Start, bounds.End, Const(int64(bounds.Start)), Const(int64(bounds.End))}},
		region: NewRegion(),
	}
}

func (l *lean) at() Draw { return l.draw }

func (l *lean) detailed() bool { return false }

// keep reports whether a free range belongs in the list.
func keep(h hole) bool { return h.lo < h.hi || h.loA.K != h.hiA.K }

// find returns the index of the first hole ending after a (or the first
// zero-length hole at a).
func (l *lean) find(a vaspace.Addr) int {
	return sort.Search(len(l.holes), func(i int) bool { return l.holes[i].hi > a || l.holes[i].hi == a && l.holes[i].lo == a })
}

// replaceAt replaces holes[i] by the kept ones among a and b.
func (l *lean) replaceAt(i int, a, b hole) {
	ka, kb := keep(a), keep(b)
	switch {
	case ka && kb:
		l.holes = append(l.holes, hole{})
		copy(l.holes[i+2:], l.holes[i+1:])
		l.holes[i], l.holes[i+1] = a, b
	case ka:
		l.holes[i] = a
	case kb:
		l.holes[i] = b
	default:
		l.holes = append(l.holes[:i], l.holes[i+1:]...)
	}
}

func (l *lean) fixed(m vaspace.Mapping, start, end Affine) error {
	// The only free range that can hold m is the last one starting at or
	// below m.Start.
	j := sort.Search(len(l.holes), func(i int) bool { return l.holes[i].lo > m.Start }) - 1
	if j >= 0 && m.End <= l.holes[j].hi {
		h := l.holes[j]
		l.region.Require(start.Sub(h.loA))
		l.region.Require(h.hiA.Sub(end))
		l.replaceAt(j, hole{h.lo, m.Start, h.loA, start}, hole{m.End, h.hi, end, h.hiA})
		l.maps = append(l.maps, AffineMapping{Mapping: m, Start: start, End: end})
		return nil
	}
	// Taken: m overlaps the run of mappings that starts where hole j ends
	// (or at the bounds) and ends where the next hole starts; it must go
	// on overlapping it. Seams are kept as holes, so a run moves rigidly.
	runStartA := Const(int64(l.bounds.Start))
	if j >= 0 {
		runStartA = l.holes[j].hiA
	}
	runEndA := Const(int64(l.bounds.End))
	if j+1 < len(l.holes) {
		runEndA = l.holes[j+1].loA
	}
	l.region.Require(end.Sub(runStartA).Plus(-l.page))
	l.region.Require(runEndA.Sub(start).Plus(-l.page))
	return fmt.Errorf("loader: %v: %w", m, errLeanOverlap)
}

func (l *lean) anywhere(m vaspace.Mapping, hint, size Affine) (vaspace.Mapping, Affine, error) {
	h := vaspace.Addr(hint.At(l.draw))
	n := size.At(l.draw)
	if n <= 0 {
		return m, Affine{}, fmt.Errorf("loader: %q: size %d is not positive", m.Name, n)
	}
	first := l.find(max(h, l.bounds.Start))
	sizeConst := size.IsConst()
	// Free ranges wholly below the hint are not searched; they must stay
	// below it.
	for i := 0; i < first; i++ {
		l.region.Require(hint.Sub(l.holes[i].hiA))
	}
	for i := first; i < len(l.holes); i++ {
		g := &l.holes[i]
		if int64(g.hi-g.lo) < n && sizeConst && g.loA.K == g.hiA.K {
			// Too small at every draw, wherever the hint is: no decision
			// to record.
			continue
		}
		lo, loA := g.lo, g.loA
		if h > g.lo {
			lo, loA = h, hint
			l.region.Require(hint.Sub(g.loA))
		}
		length := g.hiA.Sub(loA)
		if int64(g.hi-lo) < n {
			// Too small, and must stay so. A hint that moves into it at
			// another draw only makes it smaller.
			l.region.Require(size.Sub(length).Plus(-l.page))
			continue
		}
		l.region.Require(length.Sub(size))
		if h <= g.lo && !(hint.IsConst() && hint.C <= int64(l.bounds.Start)) {
			// The placement is at the free range's lower end only while the
			// hint stays at or below it; above it, XNU starts at the hint.
			l.region.Require(g.loA.Sub(hint))
		}
		endA := loA.Add(size)
		m.Range = vaspace.Range{Start: lo, End: lo + vaspace.Addr(n)}
		l.replaceAt(i, hole{g.lo, lo, g.loA, loA}, hole{m.End, g.hi, endA, g.hiA})
		if m.Kind == vaspace.KindFile {
			return m, loA, nil // temporary: unmapped before the launch ends
		}
		l.maps = append(l.maps, AffineMapping{Mapping: m, Start: loA, End: endA})
		return m, loA, nil
	}
	return m, Affine{}, fmt.Errorf("loader: no free range of %#x bytes above %v: %w", n, h, vaspace.ErrNoSpace)
}

// within changes nothing: segments lie inside their image's reservation
// and never affect a placement.
func (l *lean) within(vaspace.Mapping, Affine, vaspace.Mapping) error { return nil }

// forget drops m from the list of mappings, replacing it by the given
// remaining parts. Temporary file mappings are never listed.
func (l *lean) forget(m vaspace.Mapping, parts ...AffineMapping) {
	if m.Kind == vaspace.KindFile {
		return
	}
	for k := len(l.maps) - 1; k >= 0; k-- {
		if l.maps[k].Range == m.Range {
			l.maps = append(l.maps[:k], append(parts, l.maps[k+1:]...)...)
			return
		}
	}
}

func (l *lean) unmap(m vaspace.Mapping, start, end Affine) error {
	l.forget(m)
	nh := hole{m.Start, m.End, start, end}
	// Merge with the free range ending at m.Start and the one starting at
	// m.End, if any (either may be a zero-length seam).
	i := sort.Search(len(l.holes), func(i int) bool { return l.holes[i].hi >= m.Start })
	if i < len(l.holes) && l.holes[i].hi == m.Start {
		nh.lo, nh.loA = l.holes[i].lo, l.holes[i].loA
		l.holes = append(l.holes[:i], l.holes[i+1:]...)
	}
	if i < len(l.holes) && l.holes[i].lo == m.End {
		nh.hi, nh.hiA = l.holes[i].hi, l.holes[i].hiA
		l.holes = append(l.holes[:i], l.holes[i+1:]...)
	}
	l.insertHole(i, nh)
	return nil
}

// insertHole inserts h at index i.
func (l *lean) insertHole(i int, h hole) {
	l.holes = append(l.holes, hole{})
	copy(l.holes[i+1:], l.holes[i:])
	l.holes[i] = h
}

func (l *lean) punch(m vaspace.Mapping, mStart, mEnd Affine, r vaspace.Range) error {
	rigid := func(a vaspace.Addr) Affine { return mStart.Plus(int64(a - m.Start)) }
	var parts []AffineMapping
	if r.Start > m.Start {
		p := m
		p.End = r.Start
		parts = append(parts, AffineMapping{Mapping: p, Start: mStart, End: rigid(r.Start)})
	}
	if r.End < m.End {
		p := m
		p.Start = r.End
		parts = append(parts, AffineMapping{Mapping: p, Start: rigid(r.End), End: mEnd})
	}
	l.forget(m, parts...)
	i := sort.Search(len(l.holes), func(i int) bool { return l.holes[i].lo >= r.Start })
	l.insertHole(i, hole{r.Start, r.End, rigid(r.Start), rigid(r.End)})
	return nil
}

// freeze returns a copy of l that later placements on l do not change.
func (l *lean) freeze() *lean {
	c := *l
	c.holes = append([]hole(nil), l.holes...)
	c.maps = l.maps[:len(l.maps):len(l.maps)]
	c.region = l.region.clone()
	return &c
}

// fork returns a copy of l that continues at draw d, which must lie in
// l's region: every free range is re-evaluated from its affine form. The
// mappings made so far are shared, not copied: their concrete ranges stay
// those of l's draw (use the affine forms), and the fork's own mappings
// are kept apart so that forget never reaches shared ones.
func (l *lean) fork(d Draw) *lean {
	c := &lean{draw: d, bounds: l.bounds, page: l.page, region: l.region.clone()}
	c.holes = make([]hole, len(l.holes))
	for i, h := range l.holes {
		c.holes[i] = hole{vaspace.Addr(h.loA.At(d)), vaspace.Addr(h.hiA.At(d)), h.loA, h.hiA}
	}
	c.base = l.base
	if len(l.maps) > 0 {
		c.base = append(l.base[:len(l.base):len(l.base)], l.maps[:len(l.maps):len(l.maps)])
	}
	return c
}
