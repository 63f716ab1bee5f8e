package place

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
)

// Lean is a placer that keeps only the free ranges, each with the affine
// forms of its ends, and a list of what was mapped. It takes exactly the
// decisions Tracker takes over a vaspace.Space (the same searches over the
// same free ranges; TestLeanAgreesWithTracker checks it), but it skips
// segment mappings (Within), which never change a decision, and every
// operation is a short scan of a small slice. Each decision also adds to
// Region the constraints under which it stays the same, so a Lean placed
// at one draw describes every draw of its region.
//
// A free range of length zero is kept when its ends have different affine
// forms: two mappings that touch at this draw may part at another, and
// the gap that opens must be considered by later placements.
type Lean struct {
	draw   slide.Draw
	bounds vaspace.Range
	page   int64
	holes  []hole
	// caps[i] is how wide holes[i] is at every draw, or math.MaxInt64
	// when its width changes with the draw: a first-fit skips the holes
	// too small for a constant size by scanning this compact list alone
	// (most holes are the rigid gaps between images, and too small).
	caps []int64
	// base holds what was mapped before a fork, as the slices of the
	// forks before it (shared, never written); maps what was mapped since,
	// in placement order.
	base   [][]slide.Mapping
	maps   []slide.Mapping
	region *slide.Region
	// keep, when set, says which mappings to list (see SetKeep).
	keep func(slide.Mapping) bool
}

// SetKeep makes l list only the mappings keep accepts, and so its pieces;
// decisions are unchanged, since they depend on the free ranges alone. A
// model enumerating thousands of layouts keeps only the mappings an
// analysis can use (those that can reach its window), instead of every
// mapping of every layout. Forks and frozen copies keep the filter.
func (l *Lean) SetKeep(keep func(slide.Mapping) bool) { l.keep = keep }

// record lists m unless the filter drops it.
func (l *Lean) record(m slide.Mapping) {
	if l.keep == nil || l.keep(m) {
		l.maps = append(l.maps, m)
	}
}

// hole is a free range with the affine forms of its ends.
type hole struct {
	lo, hi   vaspace.Addr
	loA, hiA slide.Affine
	// tooSmall is the least constant size the region already requires
	// the whole hole to stay too small for (0: none): a larger size needs
	// no new constraint. Seams between images placed relative to
	// different draws are visited by nearly every search.
	tooSmall int64
}

// NewLean returns an empty Lean over bounds with the given page size, at
// draw d, whose region is every draw.
func NewLean(bounds vaspace.Range, page uint64, d slide.Draw) *Lean {
	return &Lean{
		draw:   d,
		bounds: bounds,
		page:   int64(page),
		holes:  []hole{{bounds.Start, bounds.End, slide.Const(int64(bounds.Start)), slide.Const(int64(bounds.End)), 0}},
		caps:   []int64{int64(bounds.Len())},
		region: slide.NewRegion(),
	}
}

// At implements Placer.
func (l *Lean) At() slide.Draw { return l.draw }

// Detailed implements Placer: false.
func (l *Lean) Detailed() bool { return false }

// Region returns the draws for which every decision so far is the same as
// at At(). It is l's own: later placements narrow it.
func (l *Lean) Region() *slide.Region { return l.region }

// Piece returns the piece of draws l describes: its region and what it
// mapped. Later placements on l do not change the piece's mappings (they
// narrow the region, which the piece shares: take it from a Freeze).
func (l *Lean) Piece() *slide.Piece {
	chunks := l.base
	if len(l.maps) > 0 {
		chunks = append(l.base[:len(l.base):len(l.base)], l.maps[:len(l.maps):len(l.maps)])
	}
	return slide.NewPiece(l.region, chunks...)
}

// keep reports whether a free range belongs in the list.
func keep(h hole) bool { return h.lo < h.hi || h.loA.K != h.hiA.K }

// find returns the index of the first hole ending after a (or the first
// zero-length hole at a).
func (l *Lean) find(a vaspace.Addr) int {
	return sort.Search(len(l.holes), func(i int) bool { return l.holes[i].hi > a || l.holes[i].hi == a && l.holes[i].lo == a })
}

// skipSmall returns the first index from i whose cap is at least n, or
// len(caps): the hot loop of a first fit, unrolled by four.
func skipSmall(caps []int64, i int, n int64) int {
	for ; i+4 <= len(caps); i += 4 {
		c := caps[i : i+4 : i+4]
		if c[0] >= n || c[1] >= n || c[2] >= n || c[3] >= n {
			break
		}
	}
	for i < len(caps) && caps[i] < n {
		i++
	}
	return i
}

// capOf returns h's entry in caps.
func capOf(h hole) int64 {
	if h.loA.K == h.hiA.K {
		return int64(h.hi - h.lo)
	}
	return math.MaxInt64
}

// splice replaces holes[i:j] by hs.
func (l *Lean) splice(i, j int, hs ...hole) {
	var buf [2]int64
	cs := buf[:0]
	for _, h := range hs {
		cs = append(cs, capOf(h))
	}
	l.holes = slices.Replace(l.holes, i, j, hs...)
	l.caps = slices.Replace(l.caps, i, j, cs...)
}

// replaceAt replaces holes[i] by the kept ones among a and b.
func (l *Lean) replaceAt(i int, a, b hole) {
	ka, kb := keep(a), keep(b)
	switch {
	case ka && kb:
		l.splice(i, i+1, a, b)
	case ka:
		l.holes[i], l.caps[i] = a, capOf(a)
	case kb:
		l.holes[i], l.caps[i] = b, capOf(b)
	default:
		l.splice(i, i+1)
	}
}

// Fixed implements Placer.
func (l *Lean) Fixed(m vaspace.Mapping, start, end slide.Affine) error {
	// The only free range that can hold m is the last one starting at or
	// below m.Start.
	j := sort.Search(len(l.holes), func(i int) bool { return l.holes[i].lo > m.Start }) - 1
	if j >= 0 && m.End <= l.holes[j].hi {
		h := l.holes[j]
		l.region.Require(start.Sub(h.loA))
		l.region.Require(h.hiA.Sub(end))
		l.replaceAt(j, hole{h.lo, m.Start, h.loA, start, 0}, hole{m.End, h.hi, end, h.hiA, 0})
		l.record(slide.Mapping{Mapping: m, Start: start, End: end})
		return nil
	}
	// Taken: m overlaps the run of mappings that starts where hole j ends
	// (or at the bounds) and ends where the next hole starts; it must go
	// on overlapping it. Seams are kept as holes, so a run moves rigidly.
	runStartA := slide.Const(int64(l.bounds.Start))
	if j >= 0 {
		runStartA = l.holes[j].hiA
	}
	runEndA := slide.Const(int64(l.bounds.End))
	if j+1 < len(l.holes) {
		runEndA = l.holes[j+1].loA
	}
	l.region.Require(end.Sub(runStartA).Plus(-l.page))
	l.region.Require(runEndA.Sub(start).Plus(-l.page))
	return fmt.Errorf("%v: %w", m, vaspace.ErrOverlap)
}

// FirstFit implements Placer.
func (l *Lean) FirstFit(m vaspace.Mapping, hint, size slide.Affine) (vaspace.Mapping, slide.Affine, error) {
	h := vaspace.Addr(hint.At(l.draw))
	n := size.At(l.draw)
	if n <= 0 {
		return m, slide.Affine{}, fmt.Errorf("%q: size %d is not positive", m.Name, n)
	}
	first := l.find(max(h, l.bounds.Start))
	sizeConst := size.IsConst()
	// Free ranges wholly below the hint are not searched; they must stay
	// below it.
	for i := 0; i < first; i++ {
		l.region.Require(hint.Sub(l.holes[i].hiA))
	}
	for i := first; i < len(l.holes); i++ {
		if sizeConst {
			// Too small at every draw, wherever the hint is: no decision
			// to record.
			i = skipSmall(l.caps, i, n)
			if i == len(l.caps) {
				break
			}
		}
		g := &l.holes[i]
		lo, loA := g.lo, g.loA
		if h > g.lo {
			lo, loA = h, hint
			l.region.Require(hint.Sub(g.loA))
		}
		if int64(g.hi-lo) < n {
			// Too small, and must stay so. A hint that moves into it at
			// another draw only makes it smaller.
			if g.tooSmall != 0 && sizeConst && lo == g.lo && n >= g.tooSmall {
				continue
			}
			l.region.Require(size.Sub(g.hiA.Sub(loA)).Plus(-l.page))
			if sizeConst && lo == g.lo {
				g.tooSmall = n
			}
			continue
		}
		l.region.Require(g.hiA.Sub(loA).Sub(size))
		if h <= g.lo && !(hint.IsConst() && hint.C <= int64(l.bounds.Start)) {
			// The placement is at the free range's lower end only while the
			// hint stays at or below it; above it, the search starts at the
			// hint.
			l.region.Require(g.loA.Sub(hint))
		}
		endA := loA.Add(size)
		m.Range = vaspace.Range{Start: lo, End: lo + vaspace.Addr(n)}
		l.replaceAt(i, hole{g.lo, lo, g.loA, loA, 0}, hole{m.End, g.hi, endA, g.hiA, 0})
		l.record(slide.Mapping{Mapping: m, Start: loA, End: endA})
		return m, loA, nil
	}
	return m, slide.Affine{}, fmt.Errorf("no free range of %#x bytes above %v: %w", n, h, vaspace.ErrNoSpace)
}

// TopDown implements Placer.
func (l *Lean) TopDown(m vaspace.Mapping, low, high, size slide.Affine) (vaspace.Mapping, slide.Affine, error) {
	lo, hi := vaspace.Addr(low.At(l.draw)), vaspace.Addr(high.At(l.draw))
	n := size.At(l.draw)
	if n <= 0 {
		return m, slide.Affine{}, fmt.Errorf("%q: size %d is not positive", m.Name, n)
	}
	if low.At(l.draw) < 0 || hi <= lo {
		return m, slide.Affine{}, fmt.Errorf("%q: window [%#x, %#x) is empty", m.Name, low.At(l.draw), high.At(l.draw))
	}
	sizeConst := size.IsConst()
	for i := len(l.holes) - 1; i >= 0; i-- {
		g := &l.holes[i]
		if g.lo >= hi {
			// Above the window: not searched, and must stay so.
			l.region.Require(g.loA.Sub(high))
			continue
		}
		if g.hi <= lo {
			break // below the window: nothing fits
		}
		top, topA := g.hi, g.hiA
		clipped := false
		if g.hi > hi {
			top, topA, clipped = hi, high, true
			l.region.Require(g.hiA.Sub(high))
		} else {
			l.region.Require(high.Sub(g.hiA))
		}
		bottom, bottomA := g.lo, g.loA
		if g.lo < lo {
			bottom, bottomA, clipped = lo, low, true
			l.region.Require(low.Sub(g.loA))
		} else {
			l.region.Require(g.loA.Sub(low))
		}
		if int64(top-bottom) < n && sizeConst && !clipped && g.loA.K == g.hiA.K {
			continue // too small at every draw
		}
		length := topA.Sub(bottomA)
		if int64(top-bottom) < n {
			l.region.Require(size.Sub(length).Plus(-l.page))
			continue
		}
		l.region.Require(length.Sub(size))
		startA := topA.Sub(size)
		m.Range = vaspace.Range{Start: top - vaspace.Addr(n), End: top}
		l.replaceAt(i, hole{g.lo, m.Start, g.loA, startA, 0}, hole{top, g.hi, topA, g.hiA, 0})
		l.record(slide.Mapping{Mapping: m, Start: startA, End: topA})
		return m, startA, nil
	}
	return m, slide.Affine{}, fmt.Errorf("no free range of %#x bytes in [%v, %v): %w", n, lo, hi, vaspace.ErrNoSpace)
}

// Within implements Placer and changes nothing: segments lie inside their
// image's reservation and never affect a placement.
func (l *Lean) Within(vaspace.Mapping, slide.Affine, vaspace.Mapping) error { return nil }

// forget drops m from the list of mappings made since the last fork,
// replacing it by the given remaining parts. A mapping made before the
// fork stays listed whole.
func (l *Lean) forget(m vaspace.Mapping, parts ...slide.Mapping) {
	// Only mappings made since the last Freeze are written in place: a
	// frozen copy shares the elements before them.
	for k := len(l.maps) - 1; k >= 0; k-- {
		if l.maps[k].Range != m.Range {
			continue
		}
		switch len(parts) {
		case 0:
			l.maps = append(l.maps[:k], l.maps[k+1:]...)
		case 1:
			l.maps[k] = parts[0]
		default:
			l.maps = append(l.maps[:k], append(parts, l.maps[k+1:]...)...)
		}
		return
	}
}

// Unmap implements Placer.
func (l *Lean) Unmap(m vaspace.Mapping, start, end slide.Affine) error {
	l.forget(m)
	nh := hole{m.Start, m.End, start, end, 0}
	// Merge with the free range ending at m.Start and the one starting at
	// m.End, if any (either may be a zero-length seam).
	i := sort.Search(len(l.holes), func(i int) bool { return l.holes[i].hi >= m.Start })
	j := i
	if j < len(l.holes) && l.holes[j].hi == m.Start {
		nh.lo, nh.loA = l.holes[j].lo, l.holes[j].loA
		j++
	}
	if j < len(l.holes) && l.holes[j].lo == m.End {
		nh.hi, nh.hiA = l.holes[j].hi, l.holes[j].hiA
		j++
	}
	l.splice(i, j, nh)
	return nil
}

// Punch implements Placer.
func (l *Lean) Punch(m vaspace.Mapping, mStart, mEnd slide.Affine, r vaspace.Range) error {
	rigid := func(a vaspace.Addr) slide.Affine { return mStart.Plus(int64(a - m.Start)) }
	var parts []slide.Mapping
	if r.Start > m.Start {
		p := m
		p.End = r.Start
		parts = append(parts, slide.Mapping{Mapping: p, Start: mStart, End: rigid(r.Start)})
	}
	if r.End < m.End {
		p := m
		p.Start = r.End
		parts = append(parts, slide.Mapping{Mapping: p, Start: rigid(r.End), End: mEnd})
	}
	l.forget(m, parts...)
	i := sort.Search(len(l.holes), func(i int) bool { return l.holes[i].lo >= r.Start })
	l.splice(i, i, hole{r.Start, r.End, rigid(r.Start), rigid(r.End), 0})
	return nil
}

// Freeze returns a copy of l that later placements on l do not change.
func (l *Lean) Freeze() *Lean {
	c := *l
	c.holes = append([]hole(nil), l.holes...)
	c.caps = append([]int64(nil), l.caps...)
	c.maps = l.maps[:len(l.maps):len(l.maps)]
	c.region = l.region.Clone()
	return &c
}

// Fork returns a copy of l that continues at draw d, which must lie in
// l's region: every free range is re-evaluated from its affine form. The
// mappings made so far are shared, not copied: their concrete ranges stay
// those of l's draw (use the affine forms), and the fork's own mappings
// are kept apart so that forget never reaches shared ones.
func (l *Lean) Fork(d slide.Draw) *Lean {
	c := &Lean{draw: d, bounds: l.bounds, page: l.page, region: l.region.Clone(), keep: l.keep}
	c.holes = make([]hole, len(l.holes), len(l.holes)+8)
	for i, h := range l.holes {
		c.holes[i] = hole{vaspace.Addr(h.loA.At(d)), vaspace.Addr(h.hiA.At(d)), h.loA, h.hiA, h.tooSmall}
	}
	c.caps = append(make([]int64, 0, len(l.caps)+8), l.caps...)
	c.base = l.base
	if len(l.maps) > 0 {
		c.base = append(l.base[:len(l.base):len(l.base)], l.maps[:len(l.maps):len(l.maps)])
	}
	return c
}
