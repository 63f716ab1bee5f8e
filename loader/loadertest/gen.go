// Package loadertest provides pgregory.net/rapid generators of image sets
// and Dyld models, for property tests over placement.
//
// SmallDyld draws a scaled-down macOS: slides of a few pages, a stack just
// above the executable, a small dyld and small malloc allocations, so that
// every kind of placement decision (the stack's ANYWHERE fallback, images
// landing in the dyld-slide gap or below the stack, dyld's temporary file
// mappings, the guarded-range tail pushing the arena up) changes within a
// support small enough to enumerate draw by draw.
package loadertest

import (
	"fmt"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
	"pgregory.net/rapid"
)

// Page is the 16 KiB page of macOS arm64.
const Page = 16 << 10

// SmallDyld draws a Dyld model on the scaled-down platform.
func SmallDyld() *rapid.Generator[*loader.Dyld] {
	return rapid.Custom(func(t *rapid.T) *loader.Dyld {
		d := loader.NewDyld()
		d.Platform.ExeSlideSections = 3
		d.Platform.ExeSlideSectionSize = uint64(rapid.IntRange(1, 8).Draw(t, "section pages")) * Page
		d.Platform.ExeSlidePages = int64(rapid.IntRange(2, 6).Draw(t, "exe pages"))
		d.Platform.DyldSlidePages = int64(rapid.IntRange(2, 4).Draw(t, "dyld pages"))
		d.Platform.StackTop = vaspace.Addr(4<<30 + uint64(rapid.IntRange(40, 120).Draw(t, "stack top pages"))*Page)
		d.Platform.StackSize = uint64(rapid.IntRange(1, 8).Draw(t, "stack pages")) * Page
		d.Dyld.Size = uint64(rapid.IntRange(1, 4).Draw(t, "dyld size pages")) * Page
		d.Dyld.TemporaryFileMapping = rapid.Bool().Draw(t, "temp mapping")
		d.Dyld.BytesPerImage = uint64(rapid.IntRange(0, 40000).Draw(t, "bytes per image"))
		d.Dyld.StaticPool = 2 * Page
		d.Dyld.Pool = 2 * Page
		d.Malloc.Enabled = rapid.Bool().Draw(t, "malloc")
		d.Malloc.GuardedRange = 8 * Page
		d.Malloc.GuardedTailMax = uint64(rapid.IntRange(0, 3).Draw(t, "tail pages")) * Page
		d.Malloc.Carveout = 2 * Page
		d.Malloc.EarlyArena = uint64(rapid.IntRange(0, 6).Draw(t, "arena pages")) * Page
		d.Malloc.MainZone = uint64(rapid.IntRange(0, 3).Draw(t, "zone pages")) * Page
		return d
	})
}

// SmallSet draws an executable with a one-to-thirty-page __TEXT and up to
// maxDylibs dylibs of a few pages each, all direct dependencies.
func SmallSet(maxDylibs int) *rapid.Generator[*loader.ImageSet] {
	return rapid.Custom(func(t *rapid.T) *loader.ImageSet {
		text := uint64(rapid.IntRange(1, 30).Draw(t, "exe text pages")) * Page
		exe := &loader.ImageSpec{Name: "exe", Kind: loader.KindExecutable, Format: loader.FormatMachO, Segments: []loader.Segment{
			{Name: "__PAGEZERO", VMSize: 4 << 30},
			{Name: "__TEXT", VMAddr: 4 << 30, VMSize: text, FileSize: text, Prot: vaspace.ProtRX},
		}}
		set := &loader.ImageSet{Name: "small", Main: exe}
		n := rapid.IntRange(1, maxDylibs).Draw(t, "dylibs")
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("@rpath/lib%d.dylib", i)
			exe.Needed = append(exe.Needed, name)
			text := uint64(rapid.IntRange(1, 12).Draw(t, "text pages")) * Page
			link := uint64(rapid.IntRange(0, 6).Draw(t, "linkedit pages")) * Page
			segs := []loader.Segment{{Name: "__TEXT", VMSize: text, FileSize: text, Prot: vaspace.ProtRX}}
			if link > 0 {
				segs = append(segs, loader.Segment{Name: "__LINKEDIT", VMAddr: text, VMSize: link, FileOff: text, FileSize: link, Prot: vaspace.ProtRead})
			}
			set.Images = append(set.Images, &loader.ImageSpec{Name: name, Kind: loader.KindLibrary, Format: loader.FormatMachO, Segments: segs})
		}
		return set
	})
}

// Draw draws one point of the model's support.
func Draw(d *loader.Dyld) *rapid.Generator[loader.Randomness] {
	return rapid.Custom(func(t *rapid.T) loader.Randomness {
		sup := d.Supports()
		return loader.Randomness{
			ExeSlide:  uint64(rapid.SampledFrom(sup[loader.VarExeSlide]).Draw(t, "exe slide")),
			DyldSlide: uint64(rapid.SampledFrom(sup[loader.VarDyldSlide]).Draw(t, "dyld slide")),
			GuardTail: uint64(rapid.SampledFrom(sup[loader.VarGuardTail]).Draw(t, "guard tail")),
		}
	})
}
