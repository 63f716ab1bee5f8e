package loader

import (
	"fmt"

	"github.com/vasim/vasim/vaspace"
)

// placer is what the Dyld model needs to place one launch at one draw.
// Two implement it: tracker, over a vaspace.Space (the layout users see),
// and lean, over a list of free ranges (the same decisions, no segment
// detail, fast enough to enumerate thousands of layouts), which also
// records the affine forms of boundaries and the region of draws that
// keeps every decision (see affine.go). TestCoverPiecesAreSound checks
// that the two agree.
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
// placement randomness: the layout of one launch, with every segment and
// name. It keeps no affine forms; the ones it returns are the constant
// addresses of this draw.
type tracker struct {
	s    *vaspace.Space
	draw Draw
}

func newTracker(s *vaspace.Space, d Draw) *tracker { return &tracker{s: s, draw: d} }

func (t *tracker) at() Draw { return t.draw }

func (t *tracker) detailed() bool { return true }

// fixed maps m at its given place (XNU VM_FLAGS_FIXED): it fails, changing
// nothing, if the range is taken.
func (t *tracker) fixed(m vaspace.Mapping, _, _ Affine) error { return t.s.Map(m) }

// anywhere maps m (whose Range is ignored) at the first fit for size bytes
// at or above hint: XNU VM_FLAGS_ANYWHERE with page alignment, as dyld,
// libmalloc and the kernel's stack fallback use it.
func (t *tracker) anywhere(m vaspace.Mapping, hint, size Affine) (vaspace.Mapping, Affine, error) {
	h, n := hint.At(t.draw), size.At(t.draw)
	if n <= 0 {
		return m, Affine{}, fmt.Errorf("loader: %q: size %d is not positive", m.Name, n)
	}
	a, err := t.s.FirstFit(vaspace.Addr(max(h, 0)), vaspace.Request{Size: uint64(n)})
	if err != nil {
		return m, Affine{}, err
	}
	m.Range = vaspace.Range{Start: a, End: a + vaspace.Addr(n)}
	return m, Const(int64(a)), t.s.Map(m)
}

// within maps child over part of parent (dyld maps segments MAP_FIXED
// inside an image's reservation), replacing what it covers.
func (t *tracker) within(parent vaspace.Mapping, _ Affine, child vaspace.Mapping) error {
	if !parent.ContainsRange(child.Range) {
		return fmt.Errorf("loader: %v does not lie inside %v", child, parent)
	}
	return t.s.MapReplace(child)
}

// unmap removes m.
func (t *tracker) unmap(m vaspace.Mapping, _, _ Affine) error { return t.s.Unmap(m.Range) }

// punch unmaps r, a part of mapping m (libmalloc's carveout in the guarded
// range).
func (t *tracker) punch(_ vaspace.Mapping, _, _ Affine, r vaspace.Range) error {
	return t.s.Unmap(r)
}
