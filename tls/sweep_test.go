package tls

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"pgregory.net/rapid"
)

// sweepProgram is a synthetic program for the sweep tests: start-up
// modules, then dlopens (and dlcloses) of IE and descriptor libraries,
// optionally under LD_AUDIT, on any glibc profile.
type sweepProgram struct {
	prof   Profile
	nns    uint64
	audit  bool
	libs   []sweepLib
	closes map[int]bool // close dlopen i right after it
}

type sweepLib struct {
	size, align, vaddr uint64
	desc               bool
	startup            bool
}

// run plays the program with glibc.rtld.optional_static_tls = v and
// reports whether it starts and every dlopen succeeds.
func (sp sweepProgram) run(v uint64, sw *Sweep) bool {
	return sp.play(Tunables{NNS: sp.nns, OptionalStaticTLS: v, Rseq: true}, sw)
}

// naudit is the number of audit modules.
func (sp sweepProgram) naudit() int {
	if sp.audit {
		return 1
	}
	return 0
}

// play plays the program with tunables t.
func (sp sweepProgram) play(t Tunables, sw *Sweep) bool {
	libc := &Module{Name: "libc.so.6", Path: "/lib/libc.so.6", TLS: &loader.TLSBlock{MemSize: 144, Align: 8},
		Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}}
	main := &Module{Name: "prog", Main: true, Deps: []*Module{libc}}
	mods := []*Module{main, libc}
	var opens []*Module
	for i, l := range sp.libs {
		acc := loader.TLSAccessInitialExec
		if l.desc {
			acc = loader.TLSAccessDescriptor
		}
		m := &Module{Name: fmt.Sprintf("lib%d.so", i), Path: fmt.Sprintf("/t/lib%d.so", i),
			TLS:    &loader.TLSBlock{MemSize: l.size, Align: l.align, VAddr: l.vaddr},
			Relocs: []Reloc{{Access: acc, Local: true}}, Deps: []*Module{libc}}
		if l.startup {
			main.Deps = append(main.Deps, m)
			mods = append(mods, m)
		} else {
			opens = append(opens, m)
		}
	}
	opt := StartOptions{Tunables: t, Sweep: sw}
	if sp.audit {
		alibc := &Module{Name: "libc.so.6", Path: "/lib/libc.so.6", TLS: &loader.TLSBlock{MemSize: 144, Align: 8},
			Relocs: []Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}}
		au := &Module{Name: "audit.so", Path: "/t/audit.so", Deps: []*Module{alibc}}
		opt.Audit, opt.AuditModules = 1, [][]*Module{{au, alibc}}
	}
	g, err := StartGlibc(sp.prof, mods, opt)
	if err != nil {
		return false
	}
	ok := true
	for i, m := range opens {
		out := g.Dlopen(&DlopenRequest{Name: m.Path, Root: m, SearchList: []*Module{m, libc}, Now: true})
		ok = ok && out.OK
		if out.OK && sp.closes[i] {
			_, err := g.Dlclose(out.Handle)
			if err != nil {
				return false
			}
		}
	}
	return ok
}

func drawSweepProgram(t *rapid.T) sweepProgram {
	type era struct {
		v    ldso.GlibcVersion
		arch loader.Arch
	}
	e := rapid.SampledFrom([]era{
		{ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64},
		{ldso.GlibcVersion{Major: 2, Minor: 41}, loader.ArchX86_64},
		{ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchAArch64},
		{ldso.GlibcVersion{Major: 2, Minor: 32}, loader.ArchAArch64},
	}).Draw(t, "glibc")
	prof, err := GlibcProfile(e.v, e.arch)
	if err != nil {
		t.Fatal(err)
	}
	sp := sweepProgram{prof: prof, nns: rapid.Uint64Range(1, 16).Draw(t, "nns"), audit: rapid.Bool().Draw(t, "audit"), closes: map[int]bool{}}
	n := rapid.IntRange(1, 6).Draw(t, "libs")
	for i := 0; i < n; i++ {
		l := sweepLib{
			size:    rapid.Uint64Range(1, 1500).Draw(t, "size"),
			align:   rapid.SampledFrom([]uint64{1, 8, 16, 32, 64, 128}).Draw(t, "align"),
			desc:    rapid.Bool().Draw(t, "desc"),
			startup: rapid.IntRange(0, 4).Draw(t, "startup") == 0,
		}
		l.vaddr = rapid.Uint64Range(0, l.align-1).Draw(t, "vaddr")
		sp.libs = append(sp.libs, l)
		if rapid.IntRange(0, 3).Draw(t, "close") == 0 {
			sp.closes[i] = true
		}
	}
	return sp
}

// TestOptionalStaticTLSSetIsExact: on random programs (x86_64 and
// aarch64, 2.32 to 2.41, descriptors and initial-exec blocks, dlclose,
// LD_AUDIT), the set a sweep finds agrees with running the model at every
// value from 0 to well past the largest threshold, and at random values
// up to the limit; every run's interval is consistent (no decision
// disagrees with its threshold).
func TestOptionalStaticTLSSetIsExact(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		sp := drawSweepProgram(rt)
		limit := sp.prof.OptionalStaticTLSLimit(sp.nns, sp.naudit())
		set := OptionalStaticTLSSet(limit, func(v uint64, sw *Sweep) bool {
			ok := sp.run(v, sw)
			if sw.set && sw.broken {
				rt.Fatalf("v=%d: a decision disagreed with its threshold", v)
			}
			return ok
		})
		if !set.Complete {
			rt.Fatalf("sweep incomplete after %d runs", set.Runs)
		}
		var total uint64
		for _, l := range sp.libs {
			total += l.size + l.align
		}
		for v := uint64(0); v <= total+2*288+300; v++ {
			if got, want := set.Contains(v), sp.run(v, nil); got != want {
				rt.Fatalf("v=%d: set says %v, the model %v (set: %v)", v, got, want, set)
			}
		}
		for i := 0; i < 50; i++ {
			v := rapid.Uint64Range(0, limit).Draw(rt, "v")
			if got, want := set.Contains(v), sp.run(v, nil); got != want {
				rt.Fatalf("v=%d: set says %v, the model %v (set: %v)", v, got, want, set)
			}
		}
		if set.Runs > 64 {
			rt.Fatalf("%d runs for %d libraries", set.Runs, len(sp.libs))
		}
	})
}

// TestNNSSetIsExact: the nns set found from a few surplus sweeps agrees
// with running every nns from 1 to 16, with and without LD_AUDIT (which
// makes the largest values fail at start-up).
func TestNNSSetIsExact(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		sp := drawSweepProgram(rt)
		opt := rapid.SampledFrom([]uint64{0, 64, 512, 2000}).Draw(rt, "optional_static_tls")
		base := Tunables{NNS: 4, OptionalStaticTLS: opt, Rseq: true}
		set := sp.prof.NNSSet(base, sp.naudit(), func(n uint64, sw *Sweep) bool {
			tu := base
			tu.NNS = n
			ok := sp.play(tu, sw)
			if sw.set && sw.broken {
				rt.Fatalf("nns=%d: a decision disagreed with its threshold", n)
			}
			return ok
		})
		want := ValueSetOf(1, 16, func(n uint64) bool {
			tu := base
			tu.NNS = n
			return sp.play(tu, nil)
		})
		if !assert.Equal(rt, want.Works, set.Works) || !assert.Equal(rt, want.Fails, set.Fails) {
			rt.Fatalf("nns set %v, every value run: %v", set, want)
		}
		if set.Runs > 8 {
			rt.Fatalf("%d runs", set.Runs)
		}
	})
}

// descGapProgram is the case of the package comment: a 400-byte
// descriptor block, then an initial-exec block that needs 305 bytes more
// than the default surplus leaves, on glibc 2.36 x86_64.
func descGapProgram(t *testing.T) sweepProgram {
	return sweepProgram{prof: glibc236(t), nns: 4, libs: []sweepLib{
		{size: 400, align: 16, desc: true},
		{size: 1712 - 512 + 305, align: 16},
	}}
}

func TestOptionalStaticTLSSetGap(t *testing.T) {
	sp := descGapProgram(t)
	set := OptionalStaticTLSSet(sp.prof.OptionalStaticTLSLimit(4, 0), sp.run)
	require.True(t, set.Complete)
	w, ok := set.WorksFrom()
	require.True(t, ok)
	assert.False(t, set.Contains(512), "the default fails")
	assert.Equal(t, uint64(753), w, set.String())
	assert.Equal(t, []ValueRange{{305, 399}}, set.AlsoWorks(), set.String())
	assert.Equal(t, []ValueRange{{0, 304}, {400, 752}}, set.Fails, set.String())
	s, _ := set.Smallest()
	assert.Equal(t, uint64(305), s)
	assert.LessOrEqual(t, set.Runs, 5)
	assert.Equal(t, "works from 753; also 305..399; fails 0..304, 400..752", set.String())
}

// TestPlanResolvesOnce: Check's Run takes the program as NewPlan resolved
// it, instead of resolving every library again; a Run with another
// resolver, or after the resolver's settings changed, resolves afresh.
func TestPlanResolvesOnce(t *testing.T) {
	p, err := NewPlan(Setup{Exe: "/bin/ls"})
	if err != nil {
		t.Skipf("/bin/ls: %v", err)
	}
	_, err = Run(p.Program)
	require.NoError(t, err)
	assert.True(t, p.Program.loaded.taken)
	assert.Nil(t, p.Program.loaded.take(p.Program.Resolver, p.Program.Exe), "once only")

	p, err = NewPlan(Setup{Exe: "/bin/ls"})
	require.NoError(t, err)
	p.Program.Resolver.LibraryPath = "/nonexistent"
	_, err = Run(p.Program)
	require.NoError(t, err)
	assert.False(t, p.Program.loaded.taken, "the settings changed")
}
