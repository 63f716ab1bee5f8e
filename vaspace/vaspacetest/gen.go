// Package vaspacetest provides pgregory.net/rapid generators of addresses,
// ranges, mappings, placement requests and whole layouts, for property
// tests over vaspace.Space and over anything built on it.
//
// Every generator takes a Config; its zero value gives small, dense layouts
// in a narrow window, where collisions between mappings are frequent, which
// is what most property tests want. Widen Bounds or lower Density for
// sparse layouts.
//
//	rapid.Check(t, func(t *rapid.T) {
//		s := vaspacetest.Layout(vaspacetest.Config{MaxCount: 200}).Draw(t, "layout")
//		...
//	})
package vaspacetest

import (
	"fmt"

	"github.com/vasim/vasim/vaspace"
	"pgregory.net/rapid"
)

// Config shapes the generated values. Zero fields take the defaults noted.
type Config struct {
	// Bounds is the address space; default [0x10000, 0x10000 + 1024 pages).
	Bounds vaspace.Range
	// PageSize is the page size, a power of two; default 4096.
	PageSize uint64
	// MinCount and MaxCount bound the number of mappings in a Layout;
	// defaults 0 and 32. A layout may hold fewer than MinCount mappings when
	// they do not fit in Bounds.
	MinCount, MaxCount int
	// MaxPages is the largest mapping or request, in pages; default 16.
	MaxPages uint64
	// Align is the alignment of generated mapping starts (a power of two,
	// at least the page size); default the page size.
	Align uint64
	// Density is the fraction of a layout's span that is mapped, in (0, 1];
	// 1 packs mappings back to back. Default 0.5.
	Density float64
	// Names, when set, are drawn as mapping names; by default mappings are
	// named "m0", "m1", ... in address order.
	Names []string
	// Target, when set, is the range a Layout should cover: the layout
	// starts at a page drawn so that its expected span overlaps Target,
	// and most layouts do (MacOSXZone's, nearly 9 in 10). Without it a layout
	// starts within a few gaps of Bounds.Start and spans about MaxCount ×
	// MaxPages pages / Density, so with wide Bounds it never reaches
	// what lies far above Bounds.Start: a property test over an XZone
	// window must set Target, or it tests nothing.
	Target vaspace.Range
}

// MacOSXZone generates macOS arm64 layouts around libmalloc's XZone
// window: 16 KiB pages, Bounds from the 4 GiB __PAGEZERO to the 63 GiB
// commpage region, mappings of up to 128 MiB packed at 90%, and Target
// the 2 GiB around the window's start at 16 GiB, where images running up
// from 4 GiB meet the reservation (package xzone). Use it with
// xzone.Analyze in property tests.
var MacOSXZone = Config{
	Bounds:   vaspace.Range{Start: 4 << 30, End: 63 << 30},
	PageSize: 16 << 10,
	MaxCount: 64,
	MaxPages: 8192,
	Density:  0.9,
	Target:   vaspace.Range{Start: 15 << 30, End: 17 << 30},
}

func (c Config) withDefaults() Config {
	if c.PageSize == 0 {
		c.PageSize = 4096
	}
	if c.Bounds == (vaspace.Range{}) {
		c.Bounds = vaspace.Range{Start: 0x10000, End: vaspace.Addr(0x10000 + 1024*c.PageSize)}
	}
	if c.MaxCount == 0 {
		c.MaxCount = max(32, c.MinCount)
	}
	if c.MaxPages == 0 {
		c.MaxPages = 16
	}
	if c.Align < c.PageSize {
		c.Align = c.PageSize
	}
	if c.Density <= 0 || c.Density > 1 {
		c.Density = 0.5
	}
	return c
}

// Validate reports a Config that cannot generate anything.
func (c Config) Validate() error {
	d := c.withDefaults()
	switch {
	case !vaspace.IsPow2(d.PageSize):
		return fmt.Errorf("vaspacetest: page size %#x is not a power of two", d.PageSize)
	case !vaspace.IsPow2(d.Align):
		return fmt.Errorf("vaspacetest: alignment %#x is not a power of two", d.Align)
	case d.Bounds.Len() < d.PageSize:
		return fmt.Errorf("vaspacetest: bounds %v hold no page", d.Bounds)
	case !d.Bounds.Start.IsAligned(d.PageSize) || !d.Bounds.End.IsAligned(d.PageSize):
		return fmt.Errorf("vaspacetest: bounds %v are not page-aligned", d.Bounds)
	case d.MinCount < 0 || d.MinCount > d.MaxCount:
		return fmt.Errorf("vaspacetest: count range [%d, %d] is empty", d.MinCount, d.MaxCount)
	case !d.Target.IsEmpty() && (d.Target.Start < d.Bounds.Start || d.Target.End > d.Bounds.End):
		return fmt.Errorf("vaspacetest: target %v is not inside bounds %v", d.Target, d.Bounds)
	}
	return nil
}

func (c Config) mustValid() Config {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c.withDefaults()
}

func (c Config) pages() uint64 { return c.Bounds.Len() / c.PageSize }

// Addr generates page-aligned addresses inside Bounds.
func Addr(cfg Config) *rapid.Generator[vaspace.Addr] {
	c := cfg.mustValid()
	return rapid.Custom(func(t *rapid.T) vaspace.Addr {
		p := rapid.Uint64Range(0, c.pages()-1).Draw(t, "page")
		return c.Bounds.Start + vaspace.Addr(p*c.PageSize)
	})
}

// Range generates non-empty, page-aligned ranges of at most MaxPages pages
// inside Bounds, starting at a multiple of Align when one fits.
func Range(cfg Config) *rapid.Generator[vaspace.Range] {
	c := cfg.mustValid()
	return rapid.Custom(func(t *rapid.T) vaspace.Range {
		n := rapid.Uint64Range(1, min(c.MaxPages, c.pages())).Draw(t, "pages")
		size := n * c.PageSize
		lo := c.Bounds.Start
		if a, ok := lo.RoundUp(c.Align); ok && a <= c.Bounds.End && uint64(c.Bounds.End-a) >= size {
			lo = a
		}
		slots := (uint64(c.Bounds.End-lo) - size) / c.Align
		k := rapid.Uint64Range(0, slots).Draw(t, "slot")
		start := lo + vaspace.Addr(k*c.Align)
		return vaspace.Range{Start: start, End: start + vaspace.Addr(size)}
	})
}

var (
	prots = []vaspace.Prot{vaspace.ProtNone, vaspace.ProtRead, vaspace.ProtRX, vaspace.ProtRW}
	kinds = []vaspace.Kind{vaspace.KindAnon, vaspace.KindImage, vaspace.KindReservation, vaspace.KindGuard, vaspace.KindStack}
)

// Mapping generates a single mapping over a Range(cfg), with a drawn name,
// protection, kind, file offset and flags.
func Mapping(cfg Config) *rapid.Generator[vaspace.Mapping] {
	c := cfg.mustValid()
	ranges := Range(c)
	names := rapid.StringMatching(`[a-z]{1,6}`)
	if len(c.Names) > 0 {
		names = rapid.SampledFrom(c.Names)
	}
	return rapid.Custom(func(t *rapid.T) vaspace.Mapping {
		return vaspace.Mapping{
			Range:  ranges.Draw(t, "range"),
			Name:   names.Draw(t, "name"),
			Prot:   rapid.SampledFrom(prots).Draw(t, "prot"),
			Kind:   rapid.SampledFrom(kinds).Draw(t, "kind"),
			Offset: rapid.Uint64Range(0, 3).Draw(t, "offset pages") * c.PageSize,
			Flags:  rapid.Uint32Range(0, 3).Draw(t, "flags"),
		}
	})
}

// Request generates placement requests of 1..MaxPages pages with an
// alignment between the page size and Align·16 and, half the time, a
// window inside Bounds.
func Request(cfg Config) *rapid.Generator[vaspace.Request] {
	c := cfg.mustValid()
	ranges := Range(Config{Bounds: c.Bounds, PageSize: c.PageSize, MaxPages: c.pages()})
	return rapid.Custom(func(t *rapid.T) vaspace.Request {
		shift := rapid.IntRange(0, 4).Draw(t, "align shift")
		req := vaspace.Request{
			Size:  rapid.Uint64Range(1, c.MaxPages).Draw(t, "pages") * c.PageSize,
			Align: c.Align << shift,
		}
		if req.Align > c.PageSize && rapid.Bool().Draw(t, "offset") {
			req.Offset = rapid.Uint64Range(0, req.Align/c.PageSize-1).Draw(t, "offset pages") * c.PageSize
		}
		if rapid.Bool().Draw(t, "windowed") {
			req.Window = ranges.Draw(t, "window")
		}
		return req
	})
}

// Layout generates a populated vaspace.Space: between MinCount and
// MaxCount mappings of 1..MaxPages pages laid out upward from a random
// start in Bounds, separated by free gaps whose mean keeps the mapped
// fraction near Density. Mappings are named "m0", "m1", ... in address
// order unless Names is set.
func Layout(cfg Config) *rapid.Generator[*vaspace.Space] {
	c := cfg.mustValid()
	return rapid.Custom(func(t *rapid.T) *vaspace.Space {
		s, err := vaspace.New(c.Bounds, c.PageSize)
		if err != nil {
			t.Fatalf("vaspacetest: %v", err)
		}
		n := rapid.IntRange(c.MinCount, c.MaxCount).Draw(t, "count")
		meanSize := float64(c.MaxPages+1) / 2
		maxGap := uint64(2 * meanSize * (1 - c.Density) / c.Density)
		alignPages := c.Align / c.PageSize
		// Sizes and gaps first, then where the layout starts: within a
		// few gaps of Bounds.Start, or so that one mapping drawn at
		// random starts inside Target.
		sizes, gaps := make([]uint64, n), make([]uint64, n)
		for i := range n {
			if i > 0 {
				gaps[i] = rapid.Uint64Range(0, maxGap).Draw(t, "gap pages")
			}
			sizes[i] = rapid.Uint64Range(1, c.MaxPages).Draw(t, "size pages")
		}
		cursor := rapid.Uint64Range(0, min(maxGap, c.pages()-1)).Draw(t, "first page")
		if !c.Target.IsEmpty() && n > 0 {
			k := rapid.IntRange(0, n-1).Draw(t, "anchor")
			var before uint64 // pages before mapping k, roughly (alignment adds a little)
			for i := 0; i < k; i++ {
				before += gaps[i] + sizes[i]
			}
			before += gaps[k]
			t0 := uint64(c.Target.Start-c.Bounds.Start) / c.PageSize
			t1 := uint64(c.Target.End-c.Bounds.Start) / c.PageSize
			a := rapid.Uint64Range(t0, t1-1).Draw(t, "anchor page")
			cursor = a - min(a, before)
		}
		for i := 0; i < n; i++ {
			cursor += gaps[i]
			cursor = (cursor + alignPages - 1) / alignPages * alignPages
			size := sizes[i]
			if cursor+size > c.pages() {
				break
			}
			name := fmt.Sprintf("m%d", i)
			if len(c.Names) > 0 {
				name = rapid.SampledFrom(c.Names).Draw(t, "name")
			}
			m := vaspace.Mapping{
				Range: vaspace.Range{
					Start: c.Bounds.Start + vaspace.Addr(cursor*c.PageSize),
					End:   c.Bounds.Start + vaspace.Addr((cursor+size)*c.PageSize),
				},
				Name: name,
				Prot: rapid.SampledFrom(prots).Draw(t, "prot"),
				Kind: rapid.SampledFrom(kinds).Draw(t, "kind"),
			}
			if err := s.Map(m); err != nil {
				t.Fatalf("vaspacetest: generated layout rejected %v: %v", m, err)
			}
			cursor += size
		}
		return s
	})
}
