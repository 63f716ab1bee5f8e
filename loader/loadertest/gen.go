// Package loadertest helps tests of the loader packages and of code built
// on them: pgregory.net/rapid generators of image sets and placement
// models, and builders of real object files (gcc) and synthetic ones (ELF
// and Mach-O writers) for readers and differential tests.
//
// SmallModel draws a scaled-down macOS: slides of a few pages, a stack just
// above the executable, a small dyld and small malloc allocations, so that
// every kind of placement decision (the stack's ANYWHERE fallback, images
// landing in the dyld-slide gap or below the stack, dyld's temporary file
// mappings, allocator pools searched from a hint that moves in and out of
// free ranges, the guarded-range tail pushing the arena up) changes within
// a support small enough to enumerate draw by draw.
package loadertest

import (
	"fmt"
	"iter"
	"slices"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
	"pgregory.net/rapid"
)

// Page is the 16 KiB page of macOS arm64.
const Page = 16 << 10

// SmallModel draws a macOS placement model on the scaled-down platform.
// Now and then ASLR is off, so that the slides' support is a single
// point.
func SmallModel() *rapid.Generator[*macos.Model] {
	return rapid.Custom(func(t *rapid.T) *macos.Model {
		d := macos.NewModel()
		d.Platform.ExeSlideSections = 3
		d.Platform.ExeSlideSectionSize = uint64(rapid.IntRange(1, 8).Draw(t, "section pages")) * Page
		d.Platform.ExeSlidePages = int64(rapid.IntRange(2, 6).Draw(t, "exe pages"))
		d.Platform.DyldSlidePages = int64(rapid.IntRange(2, 4).Draw(t, "dyld pages"))
		d.Platform.StackTop = vaspace.Addr(4<<30 + uint64(rapid.IntRange(40, 120).Draw(t, "stack top pages"))*Page)
		d.Platform.StackSize = uint64(rapid.IntRange(1, 8).Draw(t, "stack pages")) * Page
		if rapid.Bool().Draw(t, "shared region near the stack") {
			// Just above the stack's top at some slides and below it at
			// others: the default stack place is then taken from above at
			// small slides only.
			start := d.Platform.StackTop - vaspace.Addr(uint64(rapid.IntRange(0, 12).Draw(t, "shared region below the stack top, pages"))*Page)
			d.Platform.SharedRegion = vaspace.Range{Start: start, End: start + 4*Page}
		}
		d.Dyld.Size = uint64(rapid.IntRange(1, 4).Draw(t, "dyld size pages")) * Page
		d.Dyld.TemporaryFileMapping = rapid.Bool().Draw(t, "temp mapping")
		d.Dyld.BytesPerImage = uint64(rapid.IntRange(0, 40000).Draw(t, "bytes per image"))
		d.Dyld.StaticPool = 2 * Page
		d.Dyld.Pool = 2 * Page
		// Pools are searched upward from a hint; one that lands among the
		// executable, dyld and the stack, which move with the slides, is
		// sometimes inside a free range and sometimes below or above it.
		d.Dyld.PoolHint = vaspace.Addr(4<<30 + uint64(rapid.IntRange(0, 80).Draw(t, "pool hint pages"))*Page)
		d.Dyld.DisableASLR = rapid.IntRange(0, 7).Draw(t, "aslr off") == 0
		d.Malloc.Enabled = rapid.Bool().Draw(t, "malloc")
		d.Malloc.GuardedRange = 8 * Page
		d.Malloc.GuardedTailMax = uint64(rapid.IntRange(0, 3).Draw(t, "tail pages")) * Page
		d.Malloc.Carveout = 2 * Page
		d.Malloc.EarlyArena = uint64(rapid.IntRange(0, 6).Draw(t, "arena pages")) * Page
		d.Malloc.EarlyArenaGuard = uint64(rapid.IntRange(0, 1).Draw(t, "arena guard pages")) * Page
		d.Malloc.MainZone = uint64(rapid.IntRange(0, 3).Draw(t, "zone pages")) * Page
		d.Malloc.ReclaimRing = uint64(rapid.IntRange(0, 4).Draw(t, "reclaim ring pages")) * Page
		return d
	})
}

// SmallSet draws an executable with a one-to-thirty-page __TEXT (and, now
// and then, an LC_MAIN stack size) and up to maxDylibs dylibs of a few
// pages each. A dylib may have a zero-fill tail (so its file is shorter
// than its span), a file larger than its segments (a code signature, other
// slices), or live in the shared cache (loaded, not mapped). The
// executable needs a few of them directly; each dylib may need later ones,
// so the load order is not the declaration order.
func SmallSet(maxDylibs int) *rapid.Generator[*loader.ImageSet] {
	return rapid.Custom(func(t *rapid.T) *loader.ImageSet {
		text := uint64(rapid.IntRange(1, 30).Draw(t, "exe text pages")) * Page
		exe := &loader.ImageSpec{Name: "exe", Kind: loader.KindExecutable, Format: loader.FormatMachO, Segments: []loader.Segment{
			{Name: "__PAGEZERO", VMSize: 4 << 30},
			{Name: "__TEXT", VMAddr: 4 << 30, VMSize: text, FileSize: text, Prot: vaspace.ProtRX},
		}}
		if rapid.IntRange(0, 3).Draw(t, "lc_main stack") == 0 {
			exe.MachO = &loader.MachOInfo{HasMain: true, StackSize: uint64(rapid.IntRange(1, 6).Draw(t, "stack size pages"))*Page - uint64(rapid.IntRange(0, 1).Draw(t, "stack size unaligned"))}
		}
		set := &loader.ImageSet{Name: "small", Main: exe}
		n := rapid.IntRange(1, maxDylibs).Draw(t, "dylibs")
		name := func(i int) string { return fmt.Sprintf("@rpath/lib%d.dylib", i) }
		for i := 0; i < n; i++ {
			if i == 0 || rapid.Bool().Draw(t, "direct") {
				exe.Needed = append(exe.Needed, name(i))
			}
			lib := &loader.ImageSpec{Name: name(i), Kind: loader.KindLibrary, Format: loader.FormatMachO}
			for j := i + 1; j < n; j++ {
				if rapid.IntRange(0, 3).Draw(t, "needs later") == 0 {
					lib.Needed = append(lib.Needed, name(j))
				}
			}
			// Every dylib is reachable: one not needed by the executable
			// is needed by the one before it.
			if i > 0 && !slices.Contains(exe.Needed, name(i)) && !slices.Contains(set.Images[i-1].Needed, name(i)) {
				set.Images[i-1].Needed = append(set.Images[i-1].Needed, name(i))
			}
			if rapid.IntRange(0, 5).Draw(t, "in shared cache") == 0 {
				lib.InSharedCache = true
				set.Images = append(set.Images, lib)
				continue
			}
			text := uint64(rapid.IntRange(1, 12).Draw(t, "text pages")) * Page
			link := uint64(rapid.IntRange(0, 6).Draw(t, "linkedit pages")) * Page
			zero := uint64(rapid.IntRange(0, 4).Draw(t, "zero-fill pages")) * Page
			lib.Segments = []loader.Segment{{Name: "__TEXT", VMSize: text, FileSize: text, Prot: vaspace.ProtRX}}
			if zero > 0 {
				lib.Segments = append(lib.Segments, loader.Segment{Name: "__DATA", VMAddr: text, VMSize: zero + Page, FileOff: text, FileSize: Page, Prot: vaspace.ProtRW})
				text += zero + Page
			}
			if link > 0 {
				lib.Segments = append(lib.Segments, loader.Segment{Name: "__LINKEDIT", VMAddr: text, VMSize: link, FileOff: text - zero, FileSize: link, Prot: vaspace.ProtRead})
			}
			if extra := rapid.IntRange(0, 8).Draw(t, "file pages beyond the segments"); extra > 0 {
				end := uint64(0)
				for _, s := range lib.Segments {
					end = max(end, s.FileOff+s.FileSize)
				}
				lib.MachO = &loader.MachOInfo{FileSize: end + uint64(extra)*Page - uint64(rapid.IntRange(0, 1).Draw(t, "file size unaligned"))}
			}
			set.Images = append(set.Images, lib)
		}
		return set
	})
}

// EveryDraw yields every draw of the layouts' inputs, each equally
// likely: every launch Cover sums over. Brute-force checks iterate it.
func EveryDraw(l slide.Layouts) iter.Seq[slide.Draw] {
	in := l.Inputs()
	return func(yield func(slide.Draw) bool) {
		var d slide.Draw
		var walk func(v int) bool
		walk = func(v int) bool {
			if v == len(in) {
				return yield(d)
			}
			for _, x := range in[v].Values {
				d[v] = x
				if !walk(v + 1) {
					return false
				}
			}
			return true
		}
		walk(0)
	}
}

// LaunchFailure returns the first draw at which the launch fails (an
// image that does not fit, dyld running into something), and its error:
// the worlds where Cover must fail too.
func LaunchFailure(l slide.Layouts) (slide.Draw, error) {
	for d := range EveryDraw(l) {
		if _, err := l.Place(d); err != nil {
			return d, err
		}
	}
	return slide.Draw{}, nil
}
