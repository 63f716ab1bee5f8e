package macos_test

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/loadertest"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
	"pgregory.net/rapid"
)

// covered returns the merged address ranges of ms.
func covered(ms []vaspace.Range) []vaspace.Range {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Start < ms[j].Start })
	var out []vaspace.Range
	for _, r := range ms {
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
		} else {
			out = append(out, r)
		}
	}
	return out
}

// Every piece Cover reports is sound: at every draw of every cell, the piece's
// affine mappings cover exactly the addresses a real launch maps, and
// the cells partition the support. Cover calls the cell function from its
// own goroutine, so a mismatch is returned as an error, not asserted there.
func TestCoverPiecesAreSound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := loadertest.SmallModel().Draw(t, "model")
		set := loadertest.SmallSet(10).Draw(t, "images")
		order, err := dyld.Resolve(set)
		require.NoError(t, err)
		l, err := d.Layouts(order)
		require.NoError(t, err)
		nothing := func(int) func(slide.Cell) error { return func(slide.Cell) error { return nil } }
		if _, err := loadertest.LaunchFailure(l); err != nil {
			_, cerr := l.Cover(vaspace.Range{}, 1, nothing)
			require.Error(t, cerr, "a launch fails (%v), so Cover must", err)
			t.Skip("world too small at some draw:", err)
		}
		in := l.Inputs()
		seen := 0
		_, err = l.Cover(vaspace.Range{}, 1, func(int) func(slide.Cell) error {
			return func(c slide.Cell) error {
				xs := in[c.Along].Values
				seen += int(c.Draws())
				for k := c.ALo; k <= c.AHi; k++ {
					for i := c.Lo; i <= c.Hi; i++ {
						dr := c.Row(in, k).Fixed
						dr[c.Along] = xs[i]
						if !c.Piece.Region.Contains(dr) {
							return fmt.Errorf("draw %v lies outside its piece's region %v", dr, c.Piece.Region.Constraints())
						}
						var got []vaspace.Range
						for m := range c.Piece.Mappings() {
							got = append(got, vaspace.Range{Start: vaspace.Addr(m.Start.At(dr)), End: vaspace.Addr(m.End.At(dr))})
						}
						sp, err := l.Place(dr)
						if err != nil {
							return fmt.Errorf("draw %v: %w", dr, err)
						}
						var want []vaspace.Range
						for m := range sp.All() {
							want = append(want, m.Range)
						}
						if w, g := covered(want), covered(got); !slices.Equal(w, g) {
							return fmt.Errorf("draw %v (cell %d..%d × %d..%d): a launch maps %v, the piece says %v", dr, c.Lo, c.Hi, c.ALo, c.AHi, w, g)
						}
					}
				}
				return nil
			}
		})
		require.NoError(t, err)
		require.Equal(t, int(slide.Draws(in)), seen, "cells partition the support")
	})
}

// An image set whose layout changes with nearly every slide is refused
// once Cover has placed Budget images, saying how far it got, instead of
// running for hours.
func TestCoverBudget(t *testing.T) {
	d := macos.NewModel()
	set := &loader.ImageSet{Main: &loader.ImageSpec{Name: "exe", Kind: loader.KindExecutable, Format: loader.FormatMachO, Segments: []loader.Segment{
		{Name: "__PAGEZERO", VMSize: 4 << 30},
		{Name: "__TEXT", VMAddr: 4 << 30, VMSize: 1 << 20, FileSize: 1 << 20, Prot: vaspace.ProtRX},
	}}}
	for i := range 400 {
		name := fmt.Sprintf("lib%d", i)
		set.Main.Needed = append(set.Main.Needed, name)
		set.Images = append(set.Images, &loader.ImageSpec{Name: name, Kind: loader.KindLibrary, Format: loader.FormatMachO,
			Segments: []loader.Segment{{Name: "__TEXT", VMSize: 8 << 20, FileSize: 8 << 20, Prot: vaspace.ProtRX}}})
	}
	order, err := dyld.Resolve(set)
	require.NoError(t, err)
	l, err := d.Layouts(order)
	require.NoError(t, err)
	l.Budget = 2000
	nothing := func(int) func(slide.Cell) error { return func(slide.Cell) error { return nil } }
	_, err = l.Cover(vaspace.Range{}, 2, nothing)
	require.ErrorIs(t, err, macos.ErrBudget)
	var be *macos.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 401, be.Images)
	assert.Greater(t, be.Placed, int64(2000))
}
