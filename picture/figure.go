package picture

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/vasim/vasim/vaspace"
)

// Figure is one picture of an address space. Only Mappings, Bands, Slots
// or Highlights give it something to draw; the zero Figure is an error.
type Figure struct {
	// Title heads the picture; Notes are the lines under it ("P(crash)
	// 2.04%: 15 of 736 slots collide"). Long lines wrap.
	Title string
	Notes []string
	// Bounds, when not empty, is the range the axis covers at least (the
	// address space's bounds, so that the free stretches above and below
	// the mappings show); the axis always reaches everything drawn.
	Bounds vaspace.Range
	// Mappings are drawn to scale in one row, coloured by Kind. Runs of
	// adjacent mappings of one kind and owner are drawn as one, and so are
	// runs of one kind too narrow to tell apart. They may come in any
	// order and may overlap: they are drawn in address order, each over
	// the ones before it.
	Mappings []vaspace.Mapping
	// Bands are labelled ranges drawn above the mappings: a window, a
	// range that must stay free, where something can land.
	Bands []Band
	// Slots is an optional row of equal slots below the mappings.
	Slots *Slots
	// Highlights are ranges to point out, each drawn on its own and
	// labelled: the mappings to blame.
	Highlights []Highlight
}

// Band is a labelled address range drawn over the axis.
type Band struct {
	Name  string
	Range vaspace.Range
	Style BandStyle
}

// BandStyle says what a band means, which decides how it looks.
type BandStyle uint8

const (
	// BandNote is a range of note: a window, a region (grey).
	BandNote BandStyle = iota
	// BandKeepFree is a range that must stay free: a fixed reservation,
	// a sanitizer's shadow (red, hatched).
	BandKeepFree
	// BandAllowed is a range mappings must lie in: a sanitizer's
	// application ranges (green).
	BandAllowed
	// BandReach is where randomised memory can land over every draw: the
	// mmap region, a position-independent executable (blue, dashed).
	BandReach
)

var bandStyleNames = [...]string{"note", "keep-free", "allowed", "reach"}

// String returns the style's name as data-style carries it ("keep-free").
func (s BandStyle) String() string {
	if int(s) < len(bandStyleNames) {
		return bandStyleNames[s]
	}
	return fmt.Sprintf("BandStyle(%d)", uint8(s))
}

// Slots is a row of Count equal slots of Granule bytes from Start: slot k
// is [Start + k·Granule, Start + (k+1)·Granule). libmalloc's XZone
// reservation has 736 slots of 32 MiB from 16 GiB, one of which the
// malloc entropy picks.
type Slots struct {
	// Name labels the row ("XZone slot starts").
	Name    string
	Start   vaspace.Addr
	Granule uint64
	Count   int
	// Reach is how far what a slot stands for extends from its start
	// (the 24 GiB XZone reservation), for tooltips; 0 means Granule.
	Reach uint64
	// Colliding lists the slots that collide, each at most once, with
	// what they run into.
	Colliding []Collision
}

// Collision is one colliding slot and its culprit, the name of what it
// runs into ("libchromium_component_511.dylib").
type Collision struct {
	Slot    int
	Culprit string
}

// Highlight is a range to point out with a label.
type Highlight struct {
	Label string
	Range vaspace.Range
}

// Limits on what WriteSVG draws, so that a malformed input cannot make it
// produce an unbounded document.
const (
	maxMappings   = 1 << 21
	maxBands      = 256
	maxHighlights = 4096
	maxSlots      = 1 << 16
	maxNotes      = 64
)

// ErrFigure is the class of every error WriteSVG returns for a Figure it
// cannot draw; errors.Is(err, ErrFigure) tests for it and errors.As with
// *Error gives the field.
var ErrFigure = errors.New("picture: cannot draw the figure")

// Error says which part of a Figure is wrong and how.
type Error struct {
	// Field names the part: "mappings[3]", "slots.granule", "figure".
	Field string
	// Detail says what is wrong with it and what is wanted instead.
	Detail string
}

// Error formats the error as "picture: FIELD: DETAIL".
func (e *Error) Error() string {
	return "picture: " + e.Field + ": " + e.Detail
}

// Unwrap returns ErrFigure.
func (e *Error) Unwrap() error { return ErrFigure }

func bad(field, format string, args ...any) error {
	return &Error{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// checkRange rejects empty and reversed ranges.
func checkRange(field string, r vaspace.Range) error {
	if r.End < r.Start {
		return bad(field, "range [%#x, %#x) ends below its start", uint64(r.Start), uint64(r.End))
	}
	if r.IsEmpty() {
		return bad(field, "range [%#x, %#x) is empty", uint64(r.Start), uint64(r.End))
	}
	return nil
}

// slotWindow returns [Start, Start + Count·Granule) and whether it fits in
// 64 bits.
func (s *Slots) window() (vaspace.Range, bool) {
	hi, lo := bits.Mul64(uint64(s.Count), s.Granule)
	if hi != 0 {
		return vaspace.Range{}, false
	}
	end, ok := s.Start.Add(lo)
	if !ok {
		return vaspace.Range{}, false
	}
	return vaspace.Range{Start: s.Start, End: end}, true
}

// cell returns slot k's range; k must be in [0, Count) of a valid row.
func (s *Slots) cell(k int) vaspace.Range {
	start := s.Start + vaspace.Addr(uint64(k)*s.Granule)
	return vaspace.Range{Start: start, End: start + vaspace.Addr(s.Granule)}
}

// check validates f and says what is wrong with the first bad part.
func (f *Figure) check() error {
	if len(f.Mappings) == 0 && len(f.Bands) == 0 && f.Slots == nil && len(f.Highlights) == 0 {
		return bad("figure", "nothing to draw: give mappings, bands, slots or highlights")
	}
	if f.Bounds != (vaspace.Range{}) {
		if err := checkRange("bounds", f.Bounds); err != nil {
			return err
		}
	}
	if len(f.Notes) > maxNotes {
		return bad("notes", "%d lines, at most %d", len(f.Notes), maxNotes)
	}
	if len(f.Mappings) > maxMappings {
		return bad("mappings", "%d mappings, at most %d", len(f.Mappings), maxMappings)
	}
	for i, m := range f.Mappings {
		if err := checkRange(fmt.Sprintf("mappings[%d] %q", i, m.Name), m.Range); err != nil {
			return err
		}
	}
	if len(f.Bands) > maxBands {
		return bad("bands", "%d bands, at most %d", len(f.Bands), maxBands)
	}
	for i, b := range f.Bands {
		if err := checkRange(fmt.Sprintf("bands[%d] %q", i, b.Name), b.Range); err != nil {
			return err
		}
		if int(b.Style) >= len(bandStyleNames) {
			return bad(fmt.Sprintf("bands[%d] %q", i, b.Name), "unknown style %d", b.Style)
		}
	}
	if len(f.Highlights) > maxHighlights {
		return bad("highlights", "%d highlights, at most %d", len(f.Highlights), maxHighlights)
	}
	for i, h := range f.Highlights {
		if err := checkRange(fmt.Sprintf("highlights[%d] %q", i, h.Label), h.Range); err != nil {
			return err
		}
	}
	if s := f.Slots; s != nil {
		if s.Granule == 0 {
			return bad("slots.granule", "0: want the size of one slot")
		}
		if s.Count < 1 || s.Count > maxSlots {
			return bad("slots.count", "%d: want 1 to %d slots", s.Count, maxSlots)
		}
		if _, ok := s.window(); !ok {
			return bad("slots", "%d slots of %#x bytes from %#x run past the top of the address space", s.Count, s.Granule, uint64(s.Start))
		}
		seen := make(map[int]bool, len(s.Colliding))
		for i, c := range s.Colliding {
			if c.Slot < 0 || c.Slot >= s.Count {
				return bad(fmt.Sprintf("slots.colliding[%d]", i), "slot %d is not in [0, %d)", c.Slot, s.Count)
			}
			if seen[c.Slot] {
				return bad(fmt.Sprintf("slots.colliding[%d]", i), "slot %d is listed twice", c.Slot)
			}
			seen[c.Slot] = true
		}
	}
	return nil
}
