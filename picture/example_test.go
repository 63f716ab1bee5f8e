package picture_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vasim/vasim/picture"
	"github.com/vasim/vasim/vaspace"
)

// A library loaded across the start of an eight-slot window: the first
// two slots run into it. The SVG carries each colliding slot, with its
// culprit, as an element a program can find.
func ExampleFigure_WriteSVG() {
	const mib = 1 << 20
	lib := vaspace.Range{Start: 60 * mib, End: 70 * mib}
	f := &picture.Figure{
		Title: "Two of eight slots collide",
		Notes: []string{"P(crash) = 25%"},
		Mappings: []vaspace.Mapping{
			{Range: vaspace.Range{Start: 16 * mib, End: 60 * mib}, Name: "app", Kind: vaspace.KindImage},
			{Range: lib, Name: "libfoo.so", Kind: vaspace.KindImage},
		},
		Bands:      []picture.Band{{Name: "window", Range: vaspace.Range{Start: 64 * mib, End: 192 * mib}}},
		Slots:      &picture.Slots{Name: "slots", Start: 64 * mib, Granule: 4 * mib, Count: 8, Colliding: []picture.Collision{{Slot: 0, Culprit: "libfoo.so"}, {Slot: 1, Culprit: "libfoo.so"}}},
		Highlights: []picture.Highlight{{Label: "libfoo.so", Range: lib}},
	}
	var b bytes.Buffer
	if err := f.WriteSVG(&b); err != nil {
		fmt.Println(err)
		return
	}
	svg := b.String()
	fmt.Println(strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg" width="1200"`))
	fmt.Println(strings.Count(svg, `data-colliding="true" data-culprit="libfoo.so"`), "colliding slots")
	fmt.Println(strings.Contains(svg, `<title>libfoo.so [0x3c00000, 0x4600000) 10 MiB</title>`))

	// A figure with nothing in it is refused.
	err := (&picture.Figure{Title: "empty"}).WriteSVG(io.Discard)
	fmt.Println(errors.Is(err, picture.ErrFigure), err)
	// Output:
	// true
	// 2 colliding slots
	// true
	// true picture: figure: nothing to draw: give mappings, bands, slots or highlights
}
