package macos_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/vaspace"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// dylib returns a one-segment dylib of span bytes whose file is file bytes
// long (dyld maps the whole file first, so the file size sets the hole it
// leaves below the image).
func dylib(name string, span, file uint64) *loader.ImageSpec {
	return &loader.ImageSpec{Name: name, Kind: loader.KindLibrary, Format: loader.FormatMachO,
		Segments: []loader.Segment{{Name: "__TEXT", VMSize: span, FileSize: span, Prot: vaspace.ProtRX}},
		MachO:    &loader.MachOInfo{FileSize: file}}
}

// twoDylibs is an executable of 1 MiB __TEXT needing A (1 MiB span, 5.5 MiB
// file) and B (1 MiB span, 6 MiB file).
func twoDylibs() *loader.ImageSet {
	exe := &loader.ImageSpec{Name: "exe", Kind: loader.KindExecutable, Format: loader.FormatMachO,
		Segments: []loader.Segment{
			{Name: "__PAGEZERO", VMSize: 4 * gib},
			{Name: "__TEXT", VMAddr: 4 * gib, VMSize: 1 * mib, FileSize: 1 * mib, Prot: vaspace.ProtRX},
		},
		Needed: []string{"A", "B"}}
	return &loader.ImageSet{Name: "two", Main: exe, Images: []*loader.ImageSpec{dylib("A", 1*mib, 5*mib+512*kib), dylib("B", 1*mib, 6*mib)}}
}

// launch resolves set and places it at r.
func launch(d *macos.Model, set *loader.ImageSet, r macos.Randomness) (*macos.Process, error) {
	order, err := dyld.Resolve(set)
	if err != nil {
		return nil, err
	}
	return d.Launch(order, r)
}

// reservations returns where each image of p landed, by name.
func reservations(p *macos.Process) map[string]vaspace.Range {
	out := map[string]vaspace.Range{}
	for _, im := range p.Images {
		out[im.Spec.Name] = im.Reservation
	}
	return out
}

// named returns the ranges of p's mappings called name, in address order.
func named(p *macos.Process, name string) []vaspace.Range {
	var out []vaspace.Range
	for m := range p.Space.All() {
		if m.Name == name {
			out = append(out, m.Range)
		}
	}
	return out
}

// The kernel's part and dyld's per-image sequence, read off one launch:
// __PAGEZERO to the slid executable, dyld after its page-rounded end plus
// its own slide, the stack below USRSTACK64 minus the slide, and each dylib
// reserved just above the hole its temporary file mapping leaves.
func TestModelLaunchLayout(t *testing.T) {
	d := macos.NewModel()
	d.Platform = macos.MacOS15 // with the shared region xnu-11417 maps
	d.Malloc.Enabled = false
	r := macos.Randomness{ExeSlide: 32*mib + 3*16*kib, DyldSlide: 5 * 16 * kib}
	p, err := launch(d, twoDylibs(), r)
	require.NoError(t, err)
	require.NoError(t, p.Space.Check())

	exeStart := vaspace.Addr(4*gib + r.ExeSlide)
	pz, ok := p.Space.At(0)
	require.True(t, ok)
	assert.Equal(t, vaspace.Range{Start: 0, End: exeStart}, pz.Range, "__PAGEZERO raises the map minimum to the slid executable")
	res := reservations(p)
	assert.Equal(t, vaspace.Range{Start: exeStart, End: exeStart + 1*mib}, res["exe"])
	dyldStart := exeStart + 1*mib + vaspace.Addr(r.DyldSlide)
	dy := res["/usr/lib/dyld"]
	assert.Equal(t, vaspace.Range{Start: dyldStart, End: dyldStart + vaspace.Addr(d.Dyld.Size)}, dy)
	top := d.Platform.StackTop - vaspace.Addr(r.ExeSlide)
	assert.Equal(t, vaspace.Range{Start: top - vaspace.Addr(d.Platform.StackSize), End: top}, p.Stack)
	assert.False(t, p.StackMoved)

	// A's file went first fit right after dyld and its span after the
	// file. B's file did not fit in the hole A's file left, so it went
	// above A, and B's span went first fit into A's hole.
	a, b := res["A"], res["B"]
	assert.Equal(t, dy.End+5*mib+512*kib, a.Start)
	assert.Equal(t, dy.End, b.Start)
	assert.True(t, p.Space.IsFree(vaspace.Range{Start: b.End, End: a.Start}), "the rest of A's file hole")
	assert.True(t, p.Space.IsFree(vaspace.Range{Start: a.End, End: a.End + 6*mib}), "B's file hole")
	assert.Equal(t, 9, p.Space.Len(), "__PAGEZERO, exe, dyld, A, B, the stack, the shared region and two reserved regions")
}

// libmalloc's allocations before the reservation, in source order: the
// guarded range first fit from the bottom, the early arena between its
// guard pages also from the bottom (mvm_allocate_pages_plat with
// DISABLE_ASLR), the main zone hinted at the guarded range's base (so in
// the carveout), then the deferred-reclaim ring.
func TestModelMallocInit(t *testing.T) {
	d := macos.NewModel()
	d.Malloc.ReclaimRing = macos.ReclaimRingSize
	d.Malloc.MainZone = 256 * kib // would also fit a hole below the guarded range
	r := macos.Randomness{ExeSlide: 16 * kib, DyldSlide: 16 * kib, GuardTail: 1 * mib}
	p, err := launch(d, twoDylibs(), r)
	require.NoError(t, err)
	a, b := reservations(p)["A"], reservations(p)["B"]
	// Free now: 4.5 MiB of A's file hole above B, and, from B's file
	// hole on, everything up to the stack. 5 MiB of guarded range skip the
	// first for the second.
	assert.Equal(t, vaspace.Range{Start: a.End, End: a.End + 5*mib}, p.Guarded)
	// 4 MiB + two 16 KiB guard pages fit the first, below the guarded range.
	assert.Equal(t, vaspace.Range{Start: b.End, End: b.End + 4*mib + 32*kib}, p.Arena)
	carve := p.Guarded.Start + vaspace.Addr(d.Platform.PageSize)
	assert.Equal(t, vaspace.Range{Start: carve, End: carve + 256*kib}, p.Zone, "the main zone fills the carveout from its start, not the 480 KiB left above the arena")
	// The ring fits no hole below: it goes right above the guarded range,
	// B's file mapping having been the highest mapping below the stack.
	assert.Equal(t, vaspace.Range{Start: p.Guarded.End, End: p.Guarded.End + macos.ReclaimRingSize}, p.Reclaim)
	require.NoError(t, p.Space.Check())
}

// Where the default stack place is taken (here by a large executable), XNU's
// create_unix_stack retries ANYWHERE from the bottom of the map.
func TestModelStackFallback(t *testing.T) {
	d := macos.NewModel()
	d.Malloc.Enabled = false
	set := twoDylibs()
	set.Main.Segments[1].VMSize = 1*gib + 768*mib
	set.Main.Segments[1].FileSize = 16 * kib
	r := macos.Randomness{ExeSlide: 16 * kib, DyldSlide: 16 * kib}
	p, err := launch(d, set, r)
	require.NoError(t, err)
	require.True(t, p.StackMoved, "the executable reaches past the stack's default bottom")
	dyld := p.Images[1].Reservation
	assert.Equal(t, vaspace.Range{Start: dyld.End, End: dyld.End + vaspace.Addr(d.Platform.StackSize)}, p.Stack, "first fit above dyld")
}

// A 64-bit arm64 executable needs a hard page zero of 4 GiB: XNU fails the
// exec with LOAD_BADMACHO otherwise (xnu-11417 bsd/kern/mach_loader.c
// load_machfile, vm_map_has_hard_pagezero(map, 0x100000000)).
func TestModelRejectsSmallPageZero(t *testing.T) {
	set := twoDylibs()
	set.Main.Segments[0].VMSize = 4*gib - 16*kib
	set.Main.Segments[1].VMAddr = 4*gib - 16*kib
	_, err := launch(macos.NewModel(), set, macos.Randomness{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "__PAGEZERO")
}

// dyld allocates an image's Loader (JustInTimeLoader::make) after mapping
// its segments and before dropping the temporary file mapping, so a pool
// it needs then cannot reuse that file's hole.
func TestModelPoolsAfterEachImage(t *testing.T) {
	d := macos.NewModel()
	d.Malloc.Enabled = false
	d.Dyld.BytesPerImage = 100 * kib // the executable fits the static pool; A and B need one pool each
	r := macos.Randomness{ExeSlide: 16 * kib, DyldSlide: 5 * 16 * kib}
	p, err := launch(d, twoDylibs(), r)
	require.NoError(t, err)
	a, b := reservations(p)["A"], reservations(p)["B"]
	pools := named(p, "dyld allocator pool")
	pool := vaspace.Addr(d.Dyld.Pool)
	// A's pool goes above A (its file still fills the hole below); B's
	// into what is left of A's file hole, right above B.
	assert.Equal(t, []vaspace.Range{{Start: b.End, End: b.End + pool}, {Start: a.End, End: a.End + pool}}, pools)

	// Pools are searched upward from PoolHint: one inside that hole puts
	// B's pool there instead of at its bottom.
	d.Dyld.PoolHint = b.End + 1*mib
	p, err = launch(d, twoDylibs(), r)
	require.NoError(t, err)
	pools = named(p, "dyld allocator pool")
	assert.Equal(t, []vaspace.Range{{Start: b.End + 1*mib, End: b.End + 1*mib + pool}, {Start: a.End, End: a.End + pool}}, pools)
}

// LC_MAIN's stack size replaces MAXSSIZ, plus one guard page, rounded to
// the page (xnu-11417 bsd/kern/mach_loader.c load_main).
func TestModelLCMainStack(t *testing.T) {
	d := macos.NewModel()
	d.Malloc.Enabled = false
	set := twoDylibs()
	set.Main.MachO = &loader.MachOInfo{HasMain: true, StackSize: 8*mib + 1}
	r := macos.Randomness{ExeSlide: 16 * kib, DyldSlide: 16 * kib}
	p, err := launch(d, set, r)
	require.NoError(t, err)
	top := d.Platform.StackTop - vaspace.Addr(r.ExeSlide)
	assert.Equal(t, vaspace.Range{Start: top - (8*mib + 16*kib) - 16*kib, End: top}, p.Stack)
}

// Parameters the model cannot work with are refused up front, naming the
// parameter, rather than placing unaligned or wrapped-around mappings.
func TestModelValidate(t *testing.T) {
	for _, c := range []struct {
		set  func(d *macos.Model)
		want string
	}{
		{func(d *macos.Model) { d.Dyld.PoolHint = 4*gib + 1 }, "pool hint 0x100000001 is not page-aligned"},
		{func(d *macos.Model) { d.Dyld.Pool = 0 }, "dyld pool 0x0 is not a positive multiple"},
		{func(d *macos.Model) { d.Malloc.GuardedTailMax = 1 << 40 }, "more than 1048576 values"},
		{func(d *macos.Model) { d.Malloc.ReclaimRing = 1 << 50 }, "reclaim ring 0x4000000000000 is beyond the VA top"},
		{func(d *macos.Model) { d.Malloc.EarlyArenaGuard = 100 }, "early arena guard 0x64 is not a multiple"},
		{func(d *macos.Model) { d.Malloc.Carveout = 4 * mib }, "carveout 0x400000 does not fit"},
		{func(d *macos.Model) { d.Platform.VATop = 1 << 63 }, "beyond the model's 64-bit signed arithmetic"},
		{func(d *macos.Model) { d.Platform.StackTop = 64 * mib }, "does not fit below its top at every executable slide"},
		{func(d *macos.Model) { d.Platform.ExeSlidePages = 1 << 21 }, "more than 1048576 slides"},
	} {
		d := macos.NewModel()
		c.set(d)
		err := d.Validate()
		if assert.Error(t, err, c.want) {
			assert.Contains(t, err.Error(), c.want)
		}
		_, err = launch(d, twoDylibs(), macos.Randomness{})
		assert.Error(t, err, "Launch validates too: %s", c.want)
	}
	assert.NoError(t, macos.NewModel().Validate())
}
