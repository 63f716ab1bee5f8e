package tls

import (
	"debug/elf"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
)

// The expected numbers in this file are worked out by hand from the
// formulas of glibc's elf/dl-tls.c _dl_determine_tlsoffset, elf/dl-reloc.c
// _dl_try_allocate_static_tls and elf/dl-close.c _dl_close_worker (each
// step in the comments), not from the model. They cover what the
// differential test cannot reach on an x86_64 glibc 2.36 machine: TLS
// variant I (aarch64), blocks whose p_vaddr is not aligned (a non-zero
// l_tls_firstbyte_offset), and the other release eras.

func profile(t *testing.T, minor int, arch loader.Arch) Profile {
	t.Helper()
	p, err := GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: minor}, arch)
	require.NoError(t, err)
	return p
}

// tlsMod is a module with its own TLS block reached by access.
func tlsMod(path string, size, align, vaddr uint64, access loader.TLSAccess) *Module {
	return &Module{Name: path, Path: path, TLS: &loader.TLSBlock{MemSize: size, Align: align, VAddr: vaddr},
		Relocs: []Reloc{{Access: access, Local: true}}}
}

func offsetOf(t *testing.T, g *Glibc, m *Module) uint64 {
	t.Helper()
	off, ok := g.Offset(m)
	require.True(t, ok, "%s has no static offset", m.Label())
	return off
}

// TestVariantIStartupLayout: aarch64 2.36 (TLS_TCB_SIZE 16, TCB_ALIGNMENT
// 32, surplus 1664), start-up blocks with alignment padding, a
// non-zero first-byte offset, and gap reuse.
func TestVariantIStartupLayout(t *testing.T) {
	p := profile(t, 36, loader.ArchAArch64)
	a := tlsMod("/l/a.so", 100, 8, 0, loader.TLSAccessInitialExec)
	b := tlsMod("/l/b.so", 40, 64, 0, loader.TLSAccessInitialExec)
	d := tlsMod("/l/d.so", 8, 4, 0, loader.TLSAccessInitialExec)
	c := tlsMod("/l/c.so", 20, 16, 4, loader.TLSAccessInitialExec) // fbo 4, firstbyte 12
	e := tlsMod("/l/e.so", 12, 4, 0, loader.TLSAccessInitialExec)
	main := &Module{Name: "prog", Main: true, Deps: []*Module{a, b, d, c, e}}
	g, err := StartGlibc(p, []*Module{main, a, b, d, c, e}, StartOptions{})
	require.NoError(t, err)
	// offset starts at TLS_TCB_SIZE = 16.
	// a: off = roundup(16, 8) = 16 -> a at 16; offset = 116.
	assert.Equal(t, uint64(16), offsetOf(t, g, a))
	// b: off = roundup(116, 64) = 128 -> b at 128; padding 12 > gap 0:
	//    freebottom 116, freetop 128; offset = 168.
	assert.Equal(t, uint64(128), offsetOf(t, g, b))
	// d: 8 <= gap 12: off = roundup(116, 4) = 116, 116+8 <= 128 -> d at
	//    116 (gap reuse); freebottom = 124.
	assert.Equal(t, uint64(116), offsetOf(t, g, d))
	// c: 20 > gap 4. off = roundup(168, 16) = 176; 176-168 = 8 < 12, so
	//    off = 192 -> c at 192-12 = 180; padding 180-168 = 12 > gap 4:
	//    freebottom 168, freetop 180; offset = 192+20-12 = 200.
	assert.Equal(t, uint64(180), offsetOf(t, g, c))
	// e: 12 <= gap 12: off = roundup(168, 4) = 168, 168+12 <= 180 -> e at
	//    168.
	assert.Equal(t, uint64(168), offsetOf(t, g, e))
	st := g.Static()
	assert.Equal(t, uint64(200), st.Used)
	assert.Equal(t, uint64(64), st.Align, "max(TCB_ALIGNMENT 32, 8, 64, 4, 16)")
	assert.Equal(t, uint64(1888), st.Size, "roundup(200 + 1664, 32): TCB_ALIGNMENT, not the static alignment")
	assert.Equal(t, uint64(1688), st.Free, "variant I: static_size - static_used")

	// Without d, c's padding (12) only equals the recorded gap (12), which
	// is not "larger": the gap stays at [116, 128) and e goes there.
	main = &Module{Name: "prog", Main: true, Deps: []*Module{a, b, c, e}}
	g, err = StartGlibc(p, []*Module{main, a, b, c, e}, StartOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(180), offsetOf(t, g, c))
	assert.Equal(t, uint64(116), offsetOf(t, g, e))
}

// TestVariantIDlopen: the aarch64 fit test, the optional budget, and
// dlclose's reclaim of the last chunk only.
func TestVariantIDlopen(t *testing.T) {
	p := profile(t, 36, loader.ArchAArch64)
	start := func() *Glibc {
		a := tlsMod("/l/a.so", 100, 8, 0, loader.TLSAccessInitialExec)
		b := tlsMod("/l/b.so", 40, 64, 0, loader.TLSAccessInitialExec)
		d := tlsMod("/l/d.so", 8, 4, 0, loader.TLSAccessInitialExec)
		c := tlsMod("/l/c.so", 20, 16, 4, loader.TLSAccessInitialExec)
		e := tlsMod("/l/e.so", 12, 4, 0, loader.TLSAccessInitialExec)
		main := &Module{Name: "prog", Main: true, Deps: []*Module{a, b, d, c, e}}
		g, err := StartGlibc(p, []*Module{main, a, b, d, c, e}, StartOptions{})
		require.NoError(t, err)
		return g // static_used 200, static_size 1888
	}
	g := start()
	f := tlsMod("/d/f.so", 1000, 32, 0, loader.TLSAccessInitialExec)
	of := open1(g, f)
	require.True(t, of.OK)
	// off = roundup(200 - 0, 32) + 0 = 224; used = 1224 <= 1888.
	assert.Equal(t, uint64(224), offsetOf(t, g, f))
	assert.Equal(t, uint64(1024), of.Placed[0].Use, "use = new used - old used")
	h := tlsMod("/d/h.so", 600, 16, 8, loader.TLSAccessInitialExec) // fbo 8
	oh := open1(g, h)
	require.True(t, oh.OK)
	// off = roundup(1224 - 8, 16) + 8 = 1224; used = 1824.
	assert.Equal(t, uint64(1224), offsetOf(t, g, h))
	assert.Equal(t, uint64(1824), g.Static().Used)
	big := tlsMod("/d/big.so", 65, 1, 0, loader.TLSAccessInitialExec)
	o := open1(g, big)
	require.False(t, o.OK)
	assert.Equal(t, "/d/big.so: cannot allocate memory in static TLS block", o.Error)
	assert.Equal(t, uint64(65), o.Failure.Need)
	assert.Equal(t, uint64(64), o.Failure.Free)
	// Closing f (not at the end) reclaims nothing; closing h then gives
	// back [1224, 1824) only: f's range is lost.
	_, err := g.Dlclose(of.Handle)
	require.NoError(t, err)
	assert.Equal(t, uint64(1824), g.Static().Used)
	_, err = g.Dlclose(oh.Handle)
	require.NoError(t, err)
	assert.Equal(t, uint64(1224), g.Static().Used)

	// In the other order both chunks come back.
	g = start()
	of, oh = open1(g, tlsMod("/d/f.so", 1000, 32, 0, loader.TLSAccessInitialExec)), open1(g, tlsMod("/d/h.so", 600, 16, 8, loader.TLSAccessInitialExec))
	require.True(t, of.OK && oh.OK)
	_, err = g.Dlclose(oh.Handle)
	require.NoError(t, err)
	assert.Equal(t, uint64(1224), g.Static().Used)
	_, err = g.Dlclose(of.Handle)
	require.NoError(t, err)
	assert.Equal(t, uint64(200), g.Static().Used)

	// TLS descriptors (the aarch64 default) take the optional budget: a
	// 400-byte block at roundup(200, 8) = 200 uses 400 of 512; a second
	// one of 200 bytes no longer fits the 112 left and stays dynamic.
	g = start()
	d1, d2 := tlsMod("/d/d1.so", 400, 8, 0, loader.TLSAccessDescriptor), tlsMod("/d/d2.so", 200, 8, 0, loader.TLSAccessDescriptor)
	require.True(t, open1(g, d1).OK)
	assert.Equal(t, uint64(200), offsetOf(t, g, d1))
	assert.Equal(t, uint64(112), g.Static().OptionalLeft)
	require.True(t, open1(g, d2).OK)
	_, static := g.Offset(d2)
	assert.False(t, static)
	// Initial-exec may still use everything left: 1888 - 600 = 1288.
	assert.True(t, open1(g, tlsMod("/d/ie.so", 1288, 8, 0, loader.TLSAccessInitialExec)).OK)
}

// TestVariantIIFirstByteOffset: x86_64 2.36 with blocks whose p_vaddr is
// not a multiple of p_align, at start-up and at dlopen.
func TestVariantIIFirstByteOffset(t *testing.T) {
	p := glibc236(t)
	a := tlsMod("/l/a.so", 100, 32, 8, loader.TLSAccessInitialExec) // fbo 8, firstbyte 24
	b := tlsMod("/l/b.so", 10, 16, 0, loader.TLSAccessInitialExec)
	main := &Module{Name: "prog", Main: true, Deps: []*Module{a, b}}
	g, err := StartGlibc(p, []*Module{main, a, b}, StartOptions{})
	require.NoError(t, err)
	// a: off = roundup(0 + 100 - 24, 32) + 24 = 96 + 24 = 120; padding
	//    120 - 100 - 0 = 20 > 0: freetop 0, freebottom 20; offset 120.
	assert.Equal(t, uint64(120), offsetOf(t, g, a))
	// b: 20 >= 10: off = roundup(0 + 10, 16) = 16 <= 20 -> b at 16 (in
	//    the gap below a's block); offset stays 120.
	assert.Equal(t, uint64(16), offsetOf(t, g, b))
	st := g.Static()
	assert.Equal(t, uint64(120), st.Used)
	// roundup(120 + 1664, 64) + 2368 = 1792 + 2368.
	assert.Equal(t, uint64(4160), st.Size)
	// dlopen: free = 4160 - 120 - 2368 = 1672. A block of 1000 bytes,
	// align 64, fbo 40: need = 1040; n = (1672 - 1040) / 64 = 9; use =
	// 1672 - 9*64 - 40 = 1056; offset = 120 + 1056 = 1176.
	c := tlsMod("/d/c.so", 1000, 64, 40, loader.TLSAccessInitialExec)
	o := open1(g, c)
	require.True(t, o.OK)
	assert.Equal(t, uint64(1056), o.Placed[0].Use)
	assert.Equal(t, uint64(1176), offsetOf(t, g, c))
	// 1672 - 1056 = 616 = 9*64 + 40 left; a block of 577 + fbo 40 does
	// not fit, 576 does.
	assert.False(t, open1(g, tlsMod("/d/x.so", 577, 64, 40, loader.TLSAccessInitialExec)).OK)
	assert.True(t, open1(g, tlsMod("/d/y.so", 576, 64, 40, loader.TLSAccessInitialExec)).OK)
}

// TestGlibc241ExtraBlock: from 2.41 the rseq area is a TLS block after
// the start-up modules (sysdeps/unix/sysv/linux/dl-extra_tls.h).
func TestGlibc241ExtraBlock(t *testing.T) {
	for _, arch := range []loader.Arch{loader.ArchX86_64, loader.ArchAArch64} {
		p := profile(t, 41, arch)
		p.ExtraTLSSize, p.ExtraTLSAlign = 64, 64 // a kernel with a 64-byte rseq area
		libc := tlsMod("/lib/libc.so.6", 144, 8, 0, loader.TLSAccessInitialExec)
		main := &Module{Name: "prog", Main: true, Deps: []*Module{libc}}
		for _, rseq := range []bool{true, false} {
			tu := DefaultTunables()
			tu.Rseq = rseq
			g, err := StartGlibc(p, []*Module{main, libc}, StartOptions{Tunables: tu})
			require.NoError(t, err)
			st := g.Static()
			name := fmt.Sprintf("%v rseq=%v", arch, rseq)
			switch {
			case arch == loader.ArchX86_64 && rseq:
				// offset 144 -> roundup(144, 64) + 64 = 256.
				assert.Equal(t, uint64(256), st.Used, name)
				assert.Equal(t, uint64(1920+2368), st.Size, name) // roundup(256+1664, 64) + TCB
			case arch == loader.ArchX86_64:
				// glibc.pthread.rseq=0: 32 bytes at 32: roundup(144, 32) + 32.
				assert.Equal(t, uint64(192), st.Used, name)
				assert.Equal(t, uint64(1856+2368), st.Size, name)
			case rseq:
				// offset 16 + 144 = 160 -> roundup(160, 64) + 64 = 256.
				assert.Equal(t, uint64(256), st.Used, name)
				assert.Equal(t, uint64(1920), st.Size, name) // roundup(256+1664, 32)
				assert.Equal(t, uint64(64), st.Align, name)
			default:
				assert.Equal(t, uint64(192), st.Used, name) // roundup(160, 32) + 32
				assert.Equal(t, uint64(1856), st.Size, name)
				assert.Equal(t, uint64(32), st.Align, name)
			}
		}
	}
	// Before 2.41 there is no extra block: 2.40 lays out libc alone.
	p := profile(t, 40, loader.ArchX86_64)
	_, _, mods := debianStartup()
	g, err := StartGlibc(p, mods, StartOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(144), g.Static().Used)
}

// TestGlibc221DTVSurplus: up to 2.21, in a process with threads, a
// dlopened module given static TLS during its own relocation must have a
// module ID <= DTV_SURPLUS (14) (elf/dl-open.c in glibc-2.21).
func TestGlibc221DTVSurplus(t *testing.T) {
	for _, c := range []struct {
		minor    int
		threaded bool
		failAt   int // 1-based index of the first failing dlopen, 0: none
	}{{21, true, 14}, {21, false, 0}, {22, true, 0}} {
		p := profile(t, c.minor, loader.ArchX86_64)
		_, _, mods := debianStartup() // libc has module ID 1
		g, err := StartGlibc(p, mods, StartOptions{})
		require.NoError(t, err)
		failAt := 0
		for i := 1; i <= 16; i++ {
			m := tlsMod(fmt.Sprintf("/d/m%d.so", i), 8, 8, 0, loader.TLSAccessInitialExec)
			o := g.Dlopen(&DlopenRequest{Name: m.Path, Root: m, SearchList: []*Module{m}, Threaded: c.threaded})
			if !o.OK && failAt == 0 {
				failAt = i
				assert.Equal(t, "dlopen: cannot load any more object with static TLS", o.Error)
				assert.Equal(t, FailDTVSurplus, o.Failure.Kind)
			}
		}
		// The 14th dlopened module gets ID 15.
		assert.Equal(t, c.failAt, failAt, "glibc 2.%d threaded=%v", c.minor, c.threaded)
	}
}

// TestGlibc216OneByteBlock: up to 2.16, FORCED_DYNAMIC_TLS_OFFSET was 1,
// so a module laid out at static offset 1 (a 1-byte block first in the
// list, e.g. preloaded) was taken for forced-dynamic and its own
// initial-exec relocation failed the start (BZ #14898).
func TestGlibc216OneByteBlock(t *testing.T) {
	for _, minor := range []int{16, 17} {
		p := profile(t, minor, loader.ArchX86_64)
		pre := tlsMod("/p/one.so", 1, 1, 0, loader.TLSAccessInitialExec)
		libc := tlsMod("/lib/libc.so.6", 144, 8, 0, loader.TLSAccessInitialExec)
		main := &Module{Name: "prog", Main: true, Deps: []*Module{libc}}
		_, err := StartGlibc(p, []*Module{main, pre, libc}, StartOptions{ProgramName: "./prog"})
		if minor == 16 {
			assert.EqualError(t, err, "./prog: error while loading shared libraries: /p/one.so: cannot allocate memory in static TLS block")
		} else {
			assert.NoError(t, err)
		}
	}
}

// TestLazyTLSDescriptors: before 2.34 on x86_64, a TLS descriptor in
// DT_JMPREL is resolved at first use when the object is relocated lazily,
// so its optional static TLS is tried then; RTLD_NOW, LD_BIND_NOW or the
// object's own BIND_NOW resolve it at dlopen.
func TestLazyTLSDescriptors(t *testing.T) {
	p := profile(t, 33, loader.ArchX86_64)
	desc := func() *Module {
		return &Module{Name: "/d/desc.so", Path: "/d/desc.so", TLS: &loader.TLSBlock{MemSize: 100, Align: 8},
			Relocs: []Reloc{{Access: loader.TLSAccessDescriptor, Local: true, PLT: true}}}
	}
	start := func(opt StartOptions) *Glibc {
		_, _, mods := debianStartup()
		g, err := StartGlibc(p, mods, opt)
		require.NoError(t, err)
		return g
	}
	// RTLD_LAZY: nothing at dlopen, placed at the first access.
	g, m := start(StartOptions{}), desc()
	require.True(t, open1(g, m).OK)
	_, static := g.Offset(m)
	assert.False(t, static, "lazy descriptor not resolved at dlopen")
	g.Access(m)
	_, static = g.Offset(m)
	assert.True(t, static, "resolved, and placed, at first use")

	for name, c := range map[string]struct {
		opt     StartOptions
		now     bool
		bindNow bool
	}{"RTLD_NOW": {now: true}, "LD_BIND_NOW": {opt: StartOptions{BindNow: true}}, "DF_BIND_NOW": {bindNow: true}} {
		g, m := start(c.opt), desc()
		m.BindNow = c.bindNow
		require.True(t, g.Dlopen(&DlopenRequest{Name: m.Path, Root: m, SearchList: []*Module{m}, Now: c.now}).OK)
		_, static := g.Offset(m)
		assert.True(t, static, name)
	}
	// From 2.34 descriptors are never lazy.
	p = profile(t, 34, loader.ArchX86_64)
	_, _, mods := debianStartup()
	g, err := StartGlibc(p, mods, StartOptions{})
	require.NoError(t, err)
	m = desc()
	require.True(t, open1(g, m).OK)
	_, static = g.Offset(m)
	assert.True(t, static)
}

// TestGlibcGlobalPromotion: dlopen with RTLD_GLOBAL of an object already
// open locally adds it to the global scope (elf/dl-open.c
// add_to_global_update), so a later object's initial-exec reference to
// its TLS symbol resolves.
func TestGlibcGlobalPromotion(t *testing.T) {
	_, _, mods := debianStartup()
	g, err := StartGlibc(glibc236(t), mods, StartOptions{})
	require.NoError(t, err)
	def := tlsMod("/d/def.so", 64, 8, 0, loader.TLSAccessModuleID)
	def.Exports = []string{"x"}
	ref := func() *Module {
		return &Module{Name: "/d/ref.so", Path: "/d/ref.so", Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Symbol: "x"}}}
	}
	require.True(t, open1(g, def).OK)
	o := open1(g, ref())
	require.False(t, o.OK)
	assert.Equal(t, "/d/ref.so: undefined symbol: x", o.Error)
	require.True(t, g.Dlopen(&DlopenRequest{Name: def.Path, Root: def, SearchList: []*Module{def}, Global: true}).OK)
	r := ref()
	o = open1(g, r)
	require.True(t, o.OK, o.Error)
	require.Len(t, o.Placed, 1)
	assert.Equal(t, def, o.Placed[0].Module, "the definer gets the static block, not the referrer")
}

// TestGlibc221ModuleIDGaps: a module ID freed by dlclose is reused by the
// next module with TLS (elf/dl-tls.c _dl_assign_tls_modid), which keeps a
// later dlopen under glibc 2.21's DTV_SURPLUS limit.
func TestGlibc221ModuleIDGaps(t *testing.T) {
	p := profile(t, 21, loader.ArchX86_64)
	_, _, mods := debianStartup() // libc: ID 1
	g, err := StartGlibc(p, mods, StartOptions{})
	require.NoError(t, err)
	var hs []Handle
	for i := 1; i <= 13; i++ { // IDs 2..14
		m := tlsMod(fmt.Sprintf("/d/m%d.so", i), 8, 8, 0, loader.TLSAccessModuleID)
		o := g.Dlopen(&DlopenRequest{Name: m.Path, Root: m, SearchList: []*Module{m}, Threaded: true})
		require.True(t, o.OK)
		hs = append(hs, o.Handle)
	}
	_, err = g.Dlclose(hs[4]) // frees ID 6
	require.NoError(t, err)
	m := tlsMod("/d/ie.so", 8, 8, 0, loader.TLSAccessInitialExec)
	o := g.Dlopen(&DlopenRequest{Name: m.Path, Root: m, SearchList: []*Module{m}, Threaded: true})
	require.True(t, o.OK, o.Error)
	assert.Equal(t, 6, g.ModuleID(m))
	m2 := tlsMod("/d/ie2.so", 8, 8, 0, loader.TLSAccessInitialExec)
	o = g.Dlopen(&DlopenRequest{Name: m2.Path, Root: m2, SearchList: []*Module{m2}, Threaded: true})
	assert.False(t, o.OK, "no gap left: ID 15")
}

// TestGlibcRelocationCases: an undefined weak TLS reference is skipped; a
// dynamic R_X86_64_TPOFF32 is a relocation type glibc's x86_64
// elf_machine_rela does not handle; a DF_1_NODELETE module keeps its
// static block after dlclose.
func TestGlibcRelocationCases(t *testing.T) {
	start := func() *Glibc {
		_, _, mods := debianStartup()
		g, err := StartGlibc(glibc236(t), mods, StartOptions{})
		require.NoError(t, err)
		return g
	}
	g := start()
	weak := &Module{Name: "/d/weak.so", Path: "/d/weak.so", Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Symbol: "nowhere", Weak: true}}}
	assert.True(t, open1(g, weak).OK)
	strong := &Module{Name: "/d/strong.so", Path: "/d/strong.so", Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Symbol: "nowhere"}}}
	o := open1(g, strong)
	require.False(t, o.OK)
	assert.Equal(t, "/d/strong.so: undefined symbol: nowhere", o.Error)

	tp32 := &Module{Name: "/d/tp32.so", Path: "/d/tp32.so", TLS: &loader.TLSBlock{MemSize: 8, Align: 8},
		Relocs: []Reloc{{Access: loader.TLSAccessInitialExec32, Type: 23, Local: true}}}
	o = open1(g, tp32)
	require.False(t, o.OK)
	assert.Equal(t, "/d/tp32.so: unexpected reloc type 0x17", o.Error)
	assert.Equal(t, FailBadReloc, o.Failure.Kind)

	g = start()
	nd := tlsMod("/d/nodelete.so", 400, 8, 0, loader.TLSAccessInitialExec)
	nd.NoDelete = true
	on := open1(g, nd)
	require.True(t, on.OK)
	used := g.Static().Used
	gone, err := g.Dlclose(on.Handle)
	require.NoError(t, err)
	assert.Empty(t, gone)
	assert.Equal(t, used, g.Static().Used)
	_, static := g.Offset(nd)
	assert.True(t, static)
}

// TestModuleFromSpecBinding: which relocations bind to the module itself
// (glibc elf/dl-reloc.c resolve_map: symbol 0, STB_LOCAL, hidden or
// internal; a protected definition ends up the module's own through
// elf/dl-lookup.c's protected-symbol handling), and which are weak.
func TestModuleFromSpecBinding(t *testing.T) {
	spec := &loader.ImageSpec{Name: "x.so", Path: "/x.so", Kind: loader.KindLibrary,
		TLS: &loader.TLSBlock{MemSize: 8, Align: 8},
		ELF: &loader.ELFInfo{TLSRelocs: []loader.TLSReloc{
			{Access: loader.TLSAccessInitialExec},
			{Access: loader.TLSAccessInitialExec, SymIndex: 1, Symbol: "hid", Bind: elf.STB_GLOBAL, Visibility: elf.STV_HIDDEN, Defined: true},
			{Access: loader.TLSAccessInitialExec, SymIndex: 2, Symbol: "prot", Bind: elf.STB_GLOBAL, Visibility: elf.STV_PROTECTED, Defined: true},
			{Access: loader.TLSAccessInitialExec, SymIndex: 3, Symbol: "def", Bind: elf.STB_GLOBAL, Defined: true},
			{Access: loader.TLSAccessInitialExec, SymIndex: 4, Symbol: "wk", Bind: elf.STB_WEAK},
		}},
	}
	m, err := ModuleFromSpec(spec, "")
	require.NoError(t, err)
	var local, weak []bool
	for _, r := range m.Relocs {
		local = append(local, r.Local)
		weak = append(weak, r.Weak)
	}
	assert.Equal(t, []bool{true, true, true, false, false}, local)
	assert.Equal(t, []bool{false, false, false, false, true}, weak)
}

// TestGlibc231DescriptorsEatTheSurplus: before 2.32 there was no optional
// budget, so TLS descriptors (the aarch64 default) could take the whole
// surplus and a later initial-exec library such as libgomp (136 bytes,
// align 16 on Debian) failed: BZ #25051, the "cannot allocate memory in
// static TLS block" of aarch64 Ubuntu 18.04/20.04 and Jetson. From 2.32
// descriptors stop at 512 bytes.
func TestGlibc231DescriptorsEatTheSurplus(t *testing.T) {
	for _, c := range []struct {
		minor int
		ok    bool
	}{{31, false}, {32, true}} {
		p := profile(t, c.minor, loader.ArchAArch64)
		libc := tlsMod("/lib/libc.so.6", 144, 8, 0, loader.TLSAccessInitialExec)
		main := &Module{Name: "python3", Main: true, Deps: []*Module{libc}}
		g, err := StartGlibc(p, []*Module{main, libc}, StartOptions{})
		require.NoError(t, err)
		// static_used = 16 + 144 = 160; static_size = roundup(160 + 1664, 32) = 1824.
		for i := 0; i < 4; i++ {
			require.True(t, open1(g, tlsMod(fmt.Sprintf("/ext/d%d.so", i), 400, 8, 0, loader.TLSAccessDescriptor)).OK)
		}
		gomp := tlsMod("/usr/lib/aarch64-linux-gnu/libgomp.so.1", 136, 16, 0, loader.TLSAccessInitialExec)
		o := open1(g, gomp)
		// 2.31: four 400-byte descriptor blocks take 1600 of the 1664
		// free bytes, leaving 64. 2.32: only the first fits the 512-byte
		// budget; the rest stay dynamic and libgomp fits.
		assert.Equal(t, c.ok, o.OK, "glibc 2.%d", c.minor)
		if !c.ok {
			assert.Equal(t, "/usr/lib/aarch64-linux-gnu/libgomp.so.1: cannot allocate memory in static TLS block", o.Error)
			assert.Equal(t, uint64(64), o.Failure.Free)
		}
	}
}
