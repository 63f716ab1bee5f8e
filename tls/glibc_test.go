package tls

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
)

func glibc236(t testing.TB) Profile {
	p, err := GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64)
	require.NoError(t, err)
	return p
}

// ieLib is a library whose own TLS block (size, align) is reached by an
// initial-exec relocation.
func ieLib(path string, size, align uint64, deps ...*Module) *Module {
	return &Module{Name: path, Path: path, TLS: &loader.TLSBlock{MemSize: size, Align: align},
		Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}, Deps: deps}
}

func descLib(path string, size, align uint64, deps ...*Module) *Module {
	return &Module{Name: path, Path: path, TLS: &loader.TLSBlock{MemSize: size, Align: align},
		Relocs: []Reloc{{Access: loader.TLSAccessDescriptor, Local: true}}, Deps: deps}
}

// debianStartup is a C program whose only start-up TLS module is Debian
// 2.36's libc (PT_TLS 144 bytes, align 8; its own TPOFF64 relocations).
func debianStartup() (main, libc *Module, mods []*Module) {
	ldso := &Module{Name: "ld-linux-x86-64.so.2", Path: "/lib64/ld-linux-x86-64.so.2"}
	libc = ieLib("/lib/x86_64-linux-gnu/libc.so.6", 144, 8, ldso)
	libc.Exports = []string{"errno"}
	main = &Module{Name: "host", Path: "", Main: true, Deps: []*Module{libc}}
	return main, libc, []*Module{main, libc, ldso}
}

func open1(g State, m *Module, deps ...*Module) *DlopenOutcome {
	return g.Dlopen(&DlopenRequest{Name: m.Path, Root: m, SearchList: append([]*Module{m}, deps...)})
}

// TestGlibcMeasuredRows replays the ground-truth experiments measured on
// Debian glibc 2.36 x86_64 with _dl_get_tls_static_info and dlopen.
func TestGlibcMeasuredRows(t *testing.T) {
	p := glibc236(t)
	start := func(opt StartOptions) (*Glibc, []*Module) {
		_, _, mods := debianStartup()
		g, err := StartGlibc(p, mods, opt)
		require.NoError(t, err)
		return g, mods
	}
	g, _ := start(StartOptions{})
	st := g.Static()
	assert.Equal(t, uint64(4224), st.Size)
	assert.Equal(t, uint64(64), st.Align)
	assert.Equal(t, uint64(144), st.Used)
	assert.Equal(t, uint64(1664), st.Surplus)
	assert.Equal(t, uint64(1712), st.Free)

	g, _ = start(StartOptions{})
	assert.True(t, open1(g, ieLib("/t/ie1712.so", 1712, 16)).OK)
	g, _ = start(StartOptions{})
	o := open1(g, ieLib("/t/ie1713.so", 1713, 16))
	require.False(t, o.OK)
	assert.Equal(t, "/t/ie1713.so: cannot allocate memory in static TLS block", o.Error)
	assert.Equal(t, FailNoSpace, o.Failure.Kind)
	assert.Equal(t, uint64(1713), o.Failure.Need)
	assert.Equal(t, uint64(1712), o.Failure.Free)

	g, _ = start(StartOptions{})
	o = open1(g, ieLib("/t/ie500a128.so", 500, 128))
	require.False(t, o.OK)
	assert.Equal(t, FailAlign, o.Failure.Kind)

	g, _ = start(StartOptions{})
	require.True(t, open1(g, ieLib("/t/a.so", 1000, 8)).OK)
	o = open1(g, ieLib("/t/b.so", 800, 8))
	require.False(t, o.OK)
	assert.Equal(t, uint64(712), o.Failure.Free)

	for _, c := range []struct {
		n  uint64
		ok bool
	}{{1312, true}, {1313, false}} {
		g, _ = start(StartOptions{})
		d := open1(g, descLib("/t/desc400.so", 400, 8))
		require.True(t, d.OK)
		require.Len(t, d.Placed, 1)
		assert.True(t, d.Placed[0].Optional)
		assert.Equal(t, c.ok, open1(g, ieLib("/t/ie.so", c.n, 8)).OK, "IE %d after a 400-byte TLSDESC block", c.n)
	}

	// LD_AUDIT with one audit module: only the main program is laid out
	// at start-up; libc and a start-up IE library come out of a 1952-byte
	// surplus at relocation time.
	for _, c := range []struct {
		n  uint64
		ok bool
	}{{1840, true}, {1841, false}} {
		ldso := &Module{Name: "ld.so", Path: "/lib64/ld-linux-x86-64.so.2"}
		libc := ieLib("/lib/x86_64-linux-gnu/libc.so.6", 144, 8, ldso)
		lib := ieLib("/t/startup-ie.so", c.n, 16, libc)
		main := &Module{Name: "host", Main: true, Deps: []*Module{lib, libc}}
		g, err := StartGlibc(p, []*Module{main, lib, libc, ldso}, StartOptions{Audit: 1, ProgramName: "./host"})
		if c.ok {
			require.NoError(t, err)
			assert.Equal(t, uint64(4352), g.Static().Size)
		} else {
			require.Error(t, err)
			assert.Equal(t, "./host: error while loading shared libraries: /t/startup-ie.so: cannot allocate memory in static TLS block", err.Error())
		}
	}
}

func TestGlibcDlcloseReclaimsOnlyTheLastChunk(t *testing.T) {
	p := glibc236(t)
	_, _, mods := debianStartup()
	g, err := StartGlibc(p, mods, StartOptions{})
	require.NoError(t, err)
	a, b := ieLib("/t/a.so", 400, 8), ieLib("/t/b.so", 400, 8)
	oa, ob := open1(g, a), open1(g, b)
	require.True(t, oa.OK)
	require.True(t, ob.OK)
	used := g.Static().Used
	// Closing a (not the last block) gives nothing back.
	_, err = g.Dlclose(oa.Handle)
	require.NoError(t, err)
	assert.Equal(t, used, g.Static().Used)
	_, err = g.Dlclose(oa.Handle)
	assert.ErrorIs(t, err, ErrUnknownHandle, "closed twice")
	// Closing b (the last block) gives back b's block only, not a's.
	_, err = g.Dlclose(ob.Handle)
	require.NoError(t, err)
	assert.Equal(t, used-ob.Placed[0].Use+(ob.Placed[0].Use-400), g.Static().Used)
}

func TestGlibcOptionalBudgetNeverReturned(t *testing.T) {
	p := glibc236(t)
	_, _, mods := debianStartup()
	g, err := StartGlibc(p, mods, StartOptions{})
	require.NoError(t, err)
	d := open1(g, descLib("/t/d.so", 400, 8))
	require.True(t, d.OK)
	assert.Equal(t, uint64(112), g.Static().OptionalLeft)
	_, err = g.Dlclose(d.Handle)
	require.NoError(t, err)
	assert.Equal(t, uint64(112), g.Static().OptionalLeft)
	// A second 400-byte descriptor module stays dynamic, silently.
	d2 := descLib("/t/d2.so", 400, 8)
	o := open1(g, d2)
	require.True(t, o.OK)
	_, static := g.Offset(d2)
	assert.False(t, static)
}

func TestGlibcProfiles(t *testing.T) {
	old, err := GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 31}, loader.ArchAArch64)
	require.NoError(t, err)
	assert.False(t, old.OptionalCap)
	s, _, err := old.Surplus(DefaultTunables(), 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1664), s)
	v216, err := GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 16}, loader.ArchX86_64)
	require.NoError(t, err)
	assert.Equal(t, int64(1), v216.ForcedDynamicOffset)
	_, err = GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 16}, loader.ArchAArch64)
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 2}, loader.ArchX86_64)
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchRISCV64)
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = MuslLoader{Arch: loader.ArchI386}.Start(nil, StartOptions{})
	assert.ErrorIs(t, err, ErrUnsupported)
	p := glibc236(t)
	for nns := uint64(1); nns <= 16; nns++ {
		s, opt, err := p.Surplus(Tunables{NNS: nns, OptionalStaticTLS: 512}, 0)
		require.NoError(t, err)
		assert.Equal(t, 288*nns+512, s, "closed form 288*(nns+naudit)+optional")
		assert.Equal(t, uint64(512), opt)
	}
	_, _, err = p.Surplus(Tunables{NNS: 16, OptionalStaticTLS: 512}, 1)
	assert.EqualError(t, err, "Failed loading 1 audit modules, 0 are supported.")
}

func TestParseTunables(t *testing.T) {
	tu, err := ParseTunables("glibc.rtld.nns=8:glibc.rtld.optional_static_tls=0x1000")
	require.NoError(t, err)
	assert.Equal(t, Tunables{NNS: 8, OptionalStaticTLS: 4096, Rseq: true}, tu)
	// Read as glibc 2.36 does (measured with ld.so --list-tunables).
	cases := []struct {
		in       string
		optional uint64
		nns      uint64
	}{
		{"glibc.rtld.optional_static_tls=abc", 0, 4},
		{"glibc.rtld.optional_static_tls=12abc", 12, 4},
		{"junk:glibc.rtld.optional_static_tls=1000", 1000, 4},
		{"glibc.rtld.optional_static_tls=010", 8, 4},
		{"glibc.rtld.nns=17", 512, 4},
		{"glibc.rtld.optonal_static_tls=4096", 512, 4},
	}
	for _, c := range cases {
		tu, err := ParseTunables(c.in)
		assert.Error(t, err, c.in)
		assert.Equal(t, c.optional, tu.OptionalStaticTLS, c.in)
		assert.Equal(t, c.nns, tu.NNS, c.in)
	}
	_, err = ParseTunables("glibc.malloc.arena_max=2")
	assert.NoError(t, err)
	// _dl_strtoul: a minus negates modulo 2^64, an overflow reads as
	// 2^64-1, blanks before the number are skipped.
	tu, err = ParseTunables("glibc.rtld.optional_static_tls=-1")
	assert.ErrorContains(t, err, "negative: glibc reads 18446744073709551615")
	assert.Equal(t, uint64(1<<64-1), tu.OptionalStaticTLS)
	tu, err = ParseTunables("glibc.rtld.optional_static_tls=99999999999999999999999")
	assert.ErrorContains(t, err, "overflows 64 bits")
	assert.Equal(t, uint64(1<<64-1), tu.OptionalStaticTLS)
	tu, err = ParseTunables("glibc.rtld.nns=-1")
	assert.Error(t, err)
	assert.Equal(t, uint64(4), tu.NNS)
	tu, err = ParseTunables("glibc.rtld.optional_static_tls= 0x20")
	assert.NoError(t, err)
	assert.Equal(t, uint64(32), tu.OptionalStaticTLS)
	tu, err = ParseTunables("glibc.pthread.rseq=0")
	require.NoError(t, err)
	assert.False(t, tu.Rseq)
	tu, err = ParseTunables("glibc.pthread.rseq=2")
	assert.Error(t, err)
	assert.True(t, tu.Rseq, "out of range: the default stays")
}

// FuzzParseTunables: any GLIBC_TUNABLES value gives tunables glibc could
// hold (nns in 1..16) and, for anything it would ignore or misread, a
// *TunablesError; never a panic.
func FuzzParseTunables(f *testing.F) {
	for _, s := range []string{"", "glibc.rtld.nns=8:glibc.rtld.optional_static_tls=0x1000", "glibc.rtld.optional_static_tls=-1",
		"glibc.pthread.rseq=0:junk", "glibc.rtld.nns=017", "=:::=", "glibc.rtld.optional_static_tls= 99999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tu, err := ParseTunables(s)
		if tu.NNS < 1 || tu.NNS > 16 {
			t.Fatalf("%q: nns %d", s, tu.NNS)
		}
		if err != nil {
			var te *TunablesError
			if !errors.As(err, &te) || len(te.Issues) == 0 {
				t.Fatalf("%q: error %T %v", s, err, err)
			}
		}
		_ = tu.String()
	})
}
