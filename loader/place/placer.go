// Package place holds the two placers a placement model runs on: Tracker,
// which lays out one launch in a vaspace.Space with every mapping, and
// Lean, which takes the same decisions over a list of free ranges while
// recording every boundary as a slide.Affine function of the draws and
// the region of draws that keeps each decision. A model written against
// Placer gets both: the layout users see, and the exact enumeration of
// every layout its random inputs can produce.
//
// Both offer the kernels' placements: a fixed mapping (MAP_FIXED_NOREPLACE,
// VM_FLAGS_FIXED), a first fit upward from a hint (XNU VM_FLAGS_ANYWHERE;
// xnu-11417 vm_map_locate_space_anywhere) and a top-down fit below a limit
// (Linux unmapped_area_topdown, mm/mmap.c), at page alignment.
package place

import (
	"fmt"

	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
)

// Placer is what a placement model needs to place one launch at one draw.
// Every affine argument is the boundary's form as a function of the draw;
// the concrete values are taken at At().
type Placer interface {
	// At returns the draw being placed.
	At() slide.Draw
	// Detailed reports whether the placer keeps the full layout (segment
	// mappings inside their images); the lean one does not, and a model
	// may skip work, such as naming mappings, that only a detailed
	// layout shows.
	Detailed() bool
	// Fixed maps m exactly at m.Range, failing if any of it is taken;
	// start and end are its boundaries' forms.
	Fixed(m vaspace.Mapping, start, end slide.Affine) error
	// FirstFit maps m (its Range is ignored) at the lowest address at or
	// above hint where size bytes are free, and returns it with its
	// start's form.
	FirstFit(m vaspace.Mapping, hint, size slide.Affine) (vaspace.Mapping, slide.Affine, error)
	// TopDown maps m (its Range is ignored) flush with the top of the
	// highest free range whose part inside [low, high) holds size bytes,
	// and returns it with its start's form.
	TopDown(m vaspace.Mapping, low, high, size slide.Affine) (vaspace.Mapping, slide.Affine, error)
	// Within maps child over part of parent (which starts at parentStart),
	// moving rigidly with it (segments inside an image's reservation).
	Within(parent vaspace.Mapping, parentStart slide.Affine, child vaspace.Mapping) error
	// Unmap removes m, whose boundaries are start and end.
	Unmap(m vaspace.Mapping, start, end slide.Affine) error
	// Punch unmaps r, a part of m whose boundaries are mStart and mEnd;
	// r's ends move rigidly with mStart.
	Punch(m vaspace.Mapping, mStart, mEnd slide.Affine, r vaspace.Range) error
}

// Tracker places mappings into a vaspace.Space at one draw: the layout of
// one launch, with every segment and name. It keeps no affine forms; the
// ones it returns are the constant addresses of this draw.
type Tracker struct {
	s    *vaspace.Space
	draw slide.Draw
}

// NewTracker returns a placer writing into s at draw d.
func NewTracker(s *vaspace.Space, d slide.Draw) *Tracker { return &Tracker{s: s, draw: d} }

// Space returns the space the tracker writes.
func (t *Tracker) Space() *vaspace.Space { return t.s }

// At implements Placer.
func (t *Tracker) At() slide.Draw { return t.draw }

// Detailed implements Placer: true.
func (t *Tracker) Detailed() bool { return true }

// Fixed implements Placer: it fails, changing nothing, if the range is
// taken.
func (t *Tracker) Fixed(m vaspace.Mapping, _, _ slide.Affine) error { return t.s.Map(m) }

// FirstFit implements Placer with vaspace.Space.FirstFit at page
// alignment.
func (t *Tracker) FirstFit(m vaspace.Mapping, hint, size slide.Affine) (vaspace.Mapping, slide.Affine, error) {
	h, n := hint.At(t.draw), size.At(t.draw)
	if n <= 0 {
		return m, slide.Affine{}, fmt.Errorf("%q: size %d is not positive", m.Name, n)
	}
	a, err := t.s.FirstFit(vaspace.Addr(max(h, 0)), vaspace.Request{Size: uint64(n)})
	if err != nil {
		return m, slide.Affine{}, err
	}
	m.Range = vaspace.Range{Start: a, End: a + vaspace.Addr(n)}
	return m, slide.Const(int64(a)), t.s.Map(m)
}

// TopDown implements Placer with vaspace.Space.HighestFit at page
// alignment.
func (t *Tracker) TopDown(m vaspace.Mapping, low, high, size slide.Affine) (vaspace.Mapping, slide.Affine, error) {
	lo, hi, n := low.At(t.draw), high.At(t.draw), size.At(t.draw)
	if n <= 0 {
		return m, slide.Affine{}, fmt.Errorf("%q: size %d is not positive", m.Name, n)
	}
	if hi <= lo || lo < 0 {
		return m, slide.Affine{}, fmt.Errorf("%q: window [%#x, %#x) is empty", m.Name, lo, hi)
	}
	a, err := t.s.HighestFit(vaspace.Request{Size: uint64(n), Window: vaspace.Range{Start: vaspace.Addr(lo), End: vaspace.Addr(hi)}})
	if err != nil {
		return m, slide.Affine{}, err
	}
	m.Range = vaspace.Range{Start: a, End: a + vaspace.Addr(n)}
	return m, slide.Const(int64(a)), t.s.Map(m)
}

// Within implements Placer: the child replaces what it covers, as a
// loader's MAP_FIXED segment mappings inside a reservation do.
func (t *Tracker) Within(parent vaspace.Mapping, _ slide.Affine, child vaspace.Mapping) error {
	if !parent.ContainsRange(child.Range) {
		return fmt.Errorf("%v does not lie inside %v", child, parent)
	}
	return t.s.MapReplace(child)
}

// Unmap implements Placer.
func (t *Tracker) Unmap(m vaspace.Mapping, _, _ slide.Affine) error { return t.s.Unmap(m.Range) }

// Punch implements Placer.
func (t *Tracker) Punch(_ vaspace.Mapping, _, _ slide.Affine, r vaspace.Range) error {
	return t.s.Unmap(r)
}
