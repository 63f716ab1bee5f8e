package xzone_test

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
	"pgregory.net/rapid"
)

const page = 16 << 10

// tinyWorld is a scaled-down macOS: slides of a few pages, a stack just
// above the executable, an XZone window a few MiB up, so that every kind
// of decision (the stack's fallback, images landing in the dyld-slide gap
// or below the stack, the guarded range's tail pushing the arena up)
// changes within a support small enough to enumerate draw by draw.
func tinyWorld(t *rapid.T) (*loader.Dyld, *loader.ImageSet, xzone.Profile) {
	d := loader.NewDyld()
	d.Platform.ExeSlideSections = 3
	d.Platform.ExeSlideSectionSize = uint64(rapid.IntRange(1, 8).Draw(t, "section pages")) * page
	d.Platform.ExeSlidePages = int64(rapid.IntRange(2, 6).Draw(t, "exe pages"))
	d.Platform.DyldSlidePages = int64(rapid.IntRange(2, 4).Draw(t, "dyld pages"))
	d.Platform.StackTop = vaspace.Addr(4<<30 + uint64(rapid.IntRange(40, 120).Draw(t, "stack top pages"))*page)
	d.Platform.StackSize = uint64(rapid.IntRange(1, 8).Draw(t, "stack pages")) * page
	d.Dyld.Size = uint64(rapid.IntRange(1, 4).Draw(t, "dyld size pages")) * page
	d.Dyld.TemporaryFileMapping = rapid.Bool().Draw(t, "temp mapping")
	d.Dyld.BytesPerImage = uint64(rapid.IntRange(0, 40000).Draw(t, "bytes per image"))
	d.Dyld.StaticPool = 2 * page
	d.Dyld.Pool = 2 * page
	d.Malloc.Enabled = rapid.Bool().Draw(t, "malloc")
	d.Malloc.GuardedRange = 8 * page
	d.Malloc.GuardedTailMax = uint64(rapid.IntRange(0, 3).Draw(t, "tail pages")) * page
	d.Malloc.Carveout = 2 * page
	d.Malloc.EarlyArena = uint64(rapid.IntRange(0, 6).Draw(t, "arena pages")) * page
	d.Malloc.MainZone = uint64(rapid.IntRange(0, 3).Draw(t, "zone pages")) * page

	textPages := uint64(rapid.IntRange(1, 30).Draw(t, "exe text pages"))
	exe := &loader.ImageSpec{Name: "exe", Kind: loader.KindExecutable, Format: loader.FormatMachO, Segments: []loader.Segment{
		{Name: "__PAGEZERO", VMSize: 4 << 30},
		{Name: "__TEXT", VMAddr: 4 << 30, VMSize: textPages * page, FileSize: textPages * page, Prot: vaspace.ProtRX},
	}}
	set := &loader.ImageSet{Name: "tiny", Main: exe}
	n := rapid.IntRange(1, 14).Draw(t, "dylibs")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("@rpath/lib%d.dylib", i)
		exe.Needed = append(exe.Needed, name)
		text := uint64(rapid.IntRange(1, 12).Draw(t, "text pages")) * page
		link := uint64(rapid.IntRange(0, 6).Draw(t, "linkedit pages")) * page
		segs := []loader.Segment{{Name: "__TEXT", VMSize: text, FileSize: text, Prot: vaspace.ProtRX}}
		if link > 0 {
			segs = append(segs, loader.Segment{Name: "__LINKEDIT", VMAddr: text, VMSize: link, FileOff: text, FileSize: link, Prot: vaspace.ProtRead})
		}
		set.Images = append(set.Images, &loader.ImageSpec{Name: name, Kind: loader.KindLibrary, Format: loader.FormatMachO, Segments: segs})
	}
	p := xzone.Libmalloc792
	p.Granule = page
	p.RangesStart = vaspace.Addr(4<<30 + uint64(rapid.IntRange(8, 100).Draw(t, "window pages"))*page)
	p.Separation = page
	p.PointerRange = 2 * page
	p.RangesEnd = p.RangesStart + 40*page
	p.ZeroEntropy = rapid.IntRange(0, 9).Draw(t, "zero entropy") == 0
	return d, set, p
}

// bruteForce launches every draw of the support and analyses it.
func bruteForce(t require.TestingT, d *loader.Dyld, set *loader.ImageSet, p xzone.Profile) *big.Rat {
	sup := d.Supports()
	sum := new(big.Int)
	draws := int64(0)
	for _, x := range sup[loader.VarExeSlide] {
		for _, y := range sup[loader.VarDyldSlide] {
			for _, z := range sup[loader.VarGuardTail] {
				proc, err := d.Launch(set, loader.Randomness{ExeSlide: uint64(x), DyldSlide: uint64(y), GuardTail: uint64(z)})
				require.NoError(t, err)
				res, err := xzone.Analyze(proc.Space, p)
				require.NoError(t, err)
				num := new(big.Int).Mul(res.Crash.Num(), new(big.Int).Div(new(big.Int).SetUint64(p.EntropyValues()), res.Crash.Denom()))
				sum.Add(sum, num)
				draws++
			}
		}
	}
	return new(big.Rat).SetFrac(sum, new(big.Int).Mul(big.NewInt(draws), new(big.Int).SetUint64(p.EntropyValues())))
}

// JointAnalyze equals the draw-by-draw sum exactly, on random scaled-down
// worlds where the decisions change across the support.
func TestJointMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, set, p := tinyWorld(t)
		require.NoError(t, p.Validate())
		j, err := xzone.JointAnalyze(d, set, p)
		if err != nil {
			// A world too small for its images fails the same way both ways.
			_, err2 := d.Launch(set, loader.Randomness{})
			require.Error(t, err2)
			t.Skip(err)
		}
		want := bruteForce(t, d, set, p)
		require.Zero(t, want.Cmp(j.Crash), "joint %v, brute force %v (%d pieces)", j.Crash.FloatString(8), want.FloatString(8), j.Pieces)
		sum := new(big.Rat)
		for _, q := range j.Colliding {
			sum.Add(sum, q)
		}
		require.Zero(t, sum.Cmp(big.NewRat(1, 1)), "the colliding-count distribution sums to 1")
	})
}
