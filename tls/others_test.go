package tls

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/vasim/vasim/loader"
)

func startupSet() (*Module, *Module, []*Module) {
	libc := ieLib("/lib/libc.so", 144, 8)
	main := &Module{Name: "prog", Main: true, Deps: []*Module{libc}}
	return main, libc, []*Module{main, libc}
}

func TestMuslIEToDlopenedModuleFails(t *testing.T) {
	_, libc, mods := startupSet()
	p, err := MuslLoader{Arch: loader.ArchX86_64}.Start(mods, StartOptions{})
	require.NoError(t, err)
	// A dlopened module reaching libc's TLS with IE is fine.
	user := &Module{Name: "user.so", Path: "/t/user.so",
		Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Symbol: "errno"}}}
	libc.Exports = []string{"errno"}
	assert.True(t, open1(p, user).OK)
	// Its own TLS through IE is not.
	o := open1(p, ieLib("/t/own.so", 8, 8))
	require.False(t, o.OK)
	assert.Equal(t, "Error relocating /t/own.so: : initial-exec TLS resolves to dynamic definition in /t/own.so", o.Error)
	assert.Equal(t, FailDynamicDefinition, o.Failure.Kind)
}

func TestBionicIEToDlopenedModuleFails(t *testing.T) {
	_, _, mods := startupSet()
	p, err := BionicLoader{Arch: loader.ArchAArch64}.Start(mods, StartOptions{})
	require.NoError(t, err)
	def := &Module{Name: "def.so", Path: "/t/def.so", TLS: &loader.TLSBlock{MemSize: 16, Align: 8}, Exports: []string{"x"}}
	ref := &Module{Name: "ref.so", Path: "/t/ref.so", Deps: []*Module{def},
		Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Symbol: "x"}}}
	o := open1(p, ref, def)
	require.False(t, o.OK)
	assert.Equal(t, `dlopen failed: TLS symbol "x" in dlopened "/t/def.so" referenced from "/t/ref.so" using IE access model`, o.Error)
	// A descriptor access is fine (dynamic).
	d := descLib("/t/desc.so", 64, 8)
	assert.True(t, open1(p, d).OK)
}

func TestFreeBSDExtraAndStaticTLSFlag(t *testing.T) {
	_, _, mods := startupSet()
	p, err := FreeBSDLoader{Arch: loader.ArchX86_64}.Start(mods, StartOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(FreeBSDStaticTLSExtra), p.Static().Free)
	o := open1(p, ieLib("/t/a.so", 128, 8))
	assert.True(t, o.OK)
	o = open1(p, ieLib("/t/b.so", 8, 8))
	require.False(t, o.OK)
	assert.Equal(t, "/t/b.so: No space available for static Thread Local Storage", o.Error)

	// DF_STATIC_TLS places the block at dlopen even without an IE
	// relocation; LD_STATIC_TLS_EXTRA below 128 is ignored.
	_, _, mods = startupSet()
	p, err = FreeBSDLoader{Arch: loader.ArchX86_64}.Start(mods, StartOptions{StaticTLSExtra: 64})
	require.NoError(t, err)
	assert.Equal(t, uint64(128), p.Static().Free)
	flagged := &Module{Name: "f.so", Path: "/t/f.so", TLS: &loader.TLSBlock{MemSize: 100, Align: 8}, StaticTLSFlag: true}
	o = open1(p, flagged)
	require.True(t, o.OK)
	_, ok := p.Offset(flagged)
	assert.True(t, ok)
	_, _, mods = startupSet()
	p, err = FreeBSDLoader{Arch: loader.ArchX86_64}.Start(mods, StartOptions{StaticTLSExtra: 4096})
	require.NoError(t, err)
	assert.Equal(t, uint64(4096), p.Static().Free)
}

// TestMinimalTunablesIsMinimal checks, on random synthetic scenarios, that
// the optional_static_tls MinimalTunables returns works and that no smaller
// value does (brute force over the whole range below it).
func TestMinimalTunablesIsMinimal(t *testing.T) {
	p := glibc236(t)
	rapid.Check(t, func(rt *rapid.T) {
		type spec struct {
			size, align uint64
			desc        bool
		}
		n := rapid.IntRange(1, 4).Draw(rt, "n")
		var specs []spec
		var blocks uint64
		for i := 0; i < n; i++ {
			s := spec{
				size:  rapid.Uint64Range(1, 2500).Draw(rt, "size"),
				align: rapid.SampledFrom([]uint64{1, 8, 16, 32, 64}).Draw(rt, "align"),
				desc:  rapid.Bool().Draw(rt, "desc"),
			}
			specs = append(specs, s)
			blocks += s.size + s.align
		}
		ok := func(tu Tunables) bool {
			_, _, mods := debianStartup()
			g, err := StartGlibc(p, mods, StartOptions{Tunables: tu})
			if err != nil {
				return false
			}
			for i, s := range specs {
				var m *Module
				if s.desc {
					m = descLib("/t/d.so", s.size, s.align)
				} else {
					m = ieLib("/t/i.so", s.size, s.align)
				}
				m.Path = m.Path + string(rune('a'+i))
				if !open1(g, m).OK {
					return false
				}
			}
			return true
		}
		base := DefaultTunables()
		opt, _ := MinimalTunables(base, blocks, ok)
		if ok(base) {
			if opt != 0 {
				rt.Fatalf("base works but a fix %d was returned", opt)
			}
			return
		}
		if opt == 0 {
			rt.Fatalf("no fix found")
		}
		fixed := base
		fixed.OptionalStaticTLS = opt
		if !ok(fixed) {
			rt.Fatalf("fix %d does not work", opt)
		}
		for v := uint64(0); v < opt; v++ {
			t2 := base
			t2.OptionalStaticTLS = v
			if ok(t2) {
				rt.Fatalf("optional_static_tls=%d works but %d was returned", v, opt)
			}
		}
	})
}

// Sizes near 2^64 never wrap into a wrong answer: a block larger than any
// address space is refused naming the module, on the executable as on a
// library and for every loader; a FreeBSD LD_STATIC_TLS_EXTRA that would
// wrap rtld's sum is refused too.
func TestTLSSizesNear2To64(t *testing.T) {
	huge := &loader.TLSBlock{MemSize: 1<<64 - 16, Align: 16}
	prof := glibc236(t)
	for _, onMain := range []bool{false, true} {
		main := &Module{Name: "prog", Main: true}
		lib := &Module{Name: "libhuge.so", Path: "/lib/libhuge.so", TLS: huge, Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}}
		if onMain {
			main.TLS, lib.TLS = huge, nil
		}
		main.Deps = []*Module{lib}
		mods := []*Module{main, lib}
		_, err := StartGlibc(prof, mods, StartOptions{Tunables: DefaultTunables()})
		require.Error(t, err, "main %v", onMain)
		assert.ErrorIs(t, err, ErrBadModule)
		assert.Contains(t, err.Error(), "larger than a process's address space")
		for _, ld := range []Loader{MuslLoader{loader.ArchX86_64}, FreeBSDLoader{loader.ArchX86_64}, BionicLoader{loader.ArchX86_64}} {
			_, err := ld.Start(mods, StartOptions{})
			assert.ErrorIs(t, err, ErrBadModule, ld.Name())
		}
	}
	libc := &Module{Name: "libc.so.7", Path: "/lib/libc.so.7", TLS: &loader.TLSBlock{MemSize: 64, Align: 16}}
	_, err := FreeBSDLoader{loader.ArchX86_64}.Start([]*Module{{Name: "prog", Main: true}, libc}, StartOptions{StaticTLSExtra: 1<<64 - 1})
	assert.ErrorContains(t, err, "LD_STATIC_TLS_EXTRA=18446744073709551615: the static TLS area would be larger")
}
