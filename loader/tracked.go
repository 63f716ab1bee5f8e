package loader

import (
	"errors"
	"fmt"
	"sort"

	"github.com/vasim/vasim/vaspace"
)

// placer is what the Dyld model needs to place one launch at one draw.
// Two implement it: tracker, over a vaspace.Space (the layout users see),
// and lean, over a list of free ranges (the same decisions, no segment
// detail, fast enough to enumerate thousands of layouts). Both record the
// affine forms of boundaries and the region of draws that keeps every
// decision when tracking.
type placer interface {
	// at returns the draw being placed.
	at() Draw
	// detailed reports whether the placer keeps the full layout (segment
	// mappings and names); the lean one does not.
	detailed() bool
	// fixed maps m exactly at m.Range (VM_FLAGS_FIXED); start and end are
	// its boundaries' affine forms.
	fixed(m vaspace.Mapping, start, end Affine) error
	// anywhere maps m at the first fit for size at or above hint
	// (VM_FLAGS_ANYWHERE) and returns it with its start's affine form.
	anywhere(m vaspace.Mapping, hint, size Affine) (vaspace.Mapping, Affine, error)
	// within maps child over part of parent (which starts at parentStart),
	// moving rigidly with it.
	within(parent vaspace.Mapping, parentStart Affine, child vaspace.Mapping) error
	// unmap removes m, whose boundaries are start and end.
	unmap(m vaspace.Mapping, start, end Affine) error
	// punch unmaps r, a part of m whose boundaries are mStart and mEnd;
	// r's ends move rigidly with mStart.
	punch(m vaspace.Mapping, mStart, mEnd Affine, r vaspace.Range) error
}

// tracker places mappings into a vaspace.Space at one draw of the
// placement randomness. When tracking, it also records the affine form of
// every mapping boundary and, for every placement decision, the
// constraints under which the same decision would be taken at another
// draw (see affine.go). Only boundaries matter: a placement goes to the
// bottom of a free range, so its start is the affine form of that range's
// lower boundary.
type tracker struct {
	s     *vaspace.Space
	draw  Draw
	track bool
	// below[a] is the affine form of address a as the end of the mapping
	// that ends at a; above[a] as the start of the mapping that starts at
	// a. They agree for mappings laid out rigidly relative to each other.
	below, above map[vaspace.Addr]Affine
	// touch holds addresses where a mapping ends and the next begins with
	// a different affine form: a free range of length zero at this draw
	// that can open at another.
	touch  map[vaspace.Addr]bool
	region *Region
}

func newTracker(s *vaspace.Space, d Draw, track bool) *tracker {
	t := &tracker{s: s, draw: d, track: track}
	if track {
		t.below = map[vaspace.Addr]Affine{}
		t.above = map[vaspace.Addr]Affine{}
		t.touch = map[vaspace.Addr]bool{}
		t.region = NewRegion()
	}
	return t
}

func (t *tracker) page() uint64 { return t.s.PageSize() }

func (t *tracker) at() Draw { return t.draw }

func (t *tracker) detailed() bool { return true }

// lower returns the affine form of the lower end of a free range starting
// at a: the end of the mapping below, or the bounds.
func (t *tracker) lower(a vaspace.Addr) Affine {
	if f, ok := t.below[a]; ok {
		return f
	}
	return Const(int64(a))
}

// upper returns the affine form of the upper end of a free range ending at
// a: the start of the mapping above, or the bounds.
func (t *tracker) upper(a vaspace.Addr) Affine {
	if f, ok := t.above[a]; ok {
		return f
	}
	return Const(int64(a))
}

// startOf and endOf return a mapping's boundaries as affine forms.
func (t *tracker) startOf(m vaspace.Mapping) Affine { return t.upper(m.Start) }
func (t *tracker) endOf(m vaspace.Mapping) Affine   { return t.lower(m.End) }

// record notes m's boundaries.
func (t *tracker) record(m vaspace.Mapping, start, end Affine) {
	t.above[m.Start] = start
	t.below[m.End] = end
	t.checkTouch(m.Start)
	t.checkTouch(m.End)
}

func (t *tracker) checkTouch(a vaspace.Addr) {
	b, okB := t.below[a]
	u, okU := t.above[a]
	if okB && okU && b.K != u.K {
		t.touch[a] = true
	} else {
		delete(t.touch, a)
	}
}

func (t *tracker) check(start, end Affine, m vaspace.Mapping) {
	if start.At(t.draw) != int64(m.Start) || end.At(t.draw) != int64(m.End) {
		panic(fmt.Sprintf("loader: affine bookkeeping broken for %v: start %v end %v at draw %v", m, start, end, t.draw))
	}
}

// fixed maps m at its given place (XNU VM_FLAGS_FIXED). start and end are
// the affine forms of m's boundaries. When the range is taken, it returns
// the vaspace error and records why, so the region keeps the same outcome.
func (t *tracker) fixed(m vaspace.Mapping, start, end Affine) error {
	err := t.s.Map(m)
	if !t.track {
		return err
	}
	t.check(start, end, m)
	pg := int64(t.page())
	if err != nil {
		var ve *vaspace.Error
		if errors.As(err, &ve) && ve.Hit != nil {
			h := *ve.Hit
			// Still overlapping: h.Start < m.End and h.End > m.Start.
			t.region.Require(end.Sub(t.startOf(h)).Plus(-pg))
			t.region.Require(t.endOf(h).Sub(start).Plus(-pg))
		}
		return err
	}
	// Still free: the free range that held m still holds it.
	lo, hi := t.freeAround(m.Range)
	t.region.Require(start.Sub(t.lower(lo)))
	t.region.Require(t.upper(hi).Sub(end))
	t.record(m, start, end)
	return nil
}

// freeAround returns the ends of the free range that contained r just
// before r was mapped: the nearest mapping ends below and starts above.
func (t *tracker) freeAround(r vaspace.Range) (lo, hi vaspace.Addr) {
	lo, hi = t.s.Bounds().Start, t.s.Bounds().End
	if m, ok := t.s.Before(r.Start); ok {
		lo = m.End
	}
	if m, ok := t.s.After(r.End); ok {
		hi = m.Start
	}
	return lo, hi
}

// anywhere maps m (whose Range is ignored) at the first fit for size bytes
// at or above hint: XNU VM_FLAGS_ANYWHERE with page alignment, as dyld,
// libmalloc and the kernel's stack fallback use it.
func (t *tracker) anywhere(m vaspace.Mapping, hint, size Affine) (vaspace.Mapping, Affine, error) {
	h := vaspace.Addr(hint.At(t.draw))
	n := size.At(t.draw)
	if n <= 0 {
		return m, Affine{}, fmt.Errorf("loader: %q: size %d is not positive", m.Name, n)
	}
	a, err := t.s.FirstFit(h, vaspace.Request{Size: uint64(n)})
	if err != nil {
		return m, Affine{}, err
	}
	m.Range = vaspace.Range{Start: a, End: a + vaspace.Addr(n)}
	if !t.track {
		return m, Const(int64(a)), t.s.Map(m)
	}
	pg := int64(t.page())
	// Every free range between the hint and the choice was too small and
	// must stay so; the chosen one must stay large enough. Free ranges
	// wholly below the hint must stay below it.
	from := max(h, t.s.Bounds().Start)
	for g := range t.s.Gaps(vaspace.Range{Start: t.s.Bounds().Start, End: from}) {
		if g.End < from {
			t.region.Require(hint.Sub(t.upper(g.End)))
		}
	}
	for z := range t.touch {
		if z < from {
			t.region.Require(hint.Sub(t.upper(z)))
		}
	}
	var cands []vaspace.Range
	for g := range t.s.Gaps(vaspace.Range{Start: from, End: a + 1}) {
		cands = append(cands, g)
	}
	for z := range t.touch {
		if z >= from && z < a {
			cands = append(cands, vaspace.Range{Start: z, End: z})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Start < cands[j].Start })
	var start Affine
	for _, g := range cands {
		// Gaps yields free ranges clipped to the query; recover the real
		// lower end of the first one.
		realStart := g.Start
		if g.Start == from && !g.IsEmpty() {
			realStart = t.s.Bounds().Start
			if below, ok := t.s.Before(from); ok {
				realStart = below.End
			}
		}
		lo := t.lower(realStart)
		if h > realStart {
			// The hint lies inside this free range: it is the lower end,
			// and must stay inside it.
			lo = hint
			t.region.Require(hint.Sub(t.lower(realStart)))
		}
		if !g.Contains(a) {
			// Too small, and must stay too small.
			t.region.Require(size.Sub(t.upper(g.End).Sub(lo)).Plus(-pg))
			continue
		}
		end := t.s.Bounds().End
		if nx, ok := t.s.After(a); ok {
			end = nx.Start
		}
		t.region.Require(t.upper(end).Sub(lo).Sub(size))
		start = lo
		break
	}
	if err := t.s.Map(m); err != nil {
		return m, Affine{}, err
	}
	t.check(start, start.Add(size), m)
	t.record(m, start, start.Add(size))
	return m, start, nil
}

// within maps child over part of parent, rigidly: child's boundaries move
// with parent's (dyld maps segments MAP_FIXED inside an image's
// reservation). It replaces what it covers.
func (t *tracker) within(parent vaspace.Mapping, base Affine, child vaspace.Mapping) error {
	if !parent.ContainsRange(child.Range) {
		return fmt.Errorf("loader: %v does not lie inside %v", child, parent)
	}
	if err := t.s.MapReplace(child); err != nil {
		return err
	}
	if !t.track {
		return nil
	}
	rigid := func(a vaspace.Addr) Affine { return base.Plus(int64(a - parent.Start)) }
	t.above[child.Start] = rigid(child.Start)
	t.below[child.End] = rigid(child.End)
	if child.Start > parent.Start {
		t.below[child.Start] = rigid(child.Start)
	}
	if child.End < parent.End {
		t.above[child.End] = rigid(child.End)
	}
	t.checkTouch(child.Start)
	t.checkTouch(child.End)
	return nil
}

// unmap removes m (which must be mapped exactly) and forgets its
// boundaries.
func (t *tracker) unmap(m vaspace.Mapping, _, _ Affine) error {
	if err := t.s.Unmap(m.Range); err != nil {
		return err
	}
	if t.track {
		delete(t.above, m.Start)
		delete(t.below, m.End)
		t.checkTouch(m.Start)
		t.checkTouch(m.End)
	}
	return nil
}

// punch unmaps r, a part of mapping m, leaving a free range whose ends
// move rigidly with m (libmalloc's carveout in the guarded range).
func (t *tracker) punch(m vaspace.Mapping, base, _ Affine, r vaspace.Range) error {
	if err := t.s.Unmap(r); err != nil {
		return err
	}
	if t.track {
		rigid := func(a vaspace.Addr) Affine { return base.Plus(int64(a - m.Start)) }
		if r.Start > m.Start {
			t.below[r.Start] = rigid(r.Start)
		}
		if r.End < m.End {
			t.above[r.End] = rigid(r.End)
		}
	}
	return nil
}
