package reserve_test

import (
	"bytes"
	"math"
	"math/big"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/reserve"
	"github.com/vasim/vasim/vaspace"
	"pgregory.net/rapid"
)

// program builds the maps printer and prepares it for placement with
// this machine's kernel, randomised.
func program(t *testing.T) (string, *linux.Program) {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("places a Linux x86_64 program")
	}
	dir := t.TempDir()
	exe := objtest.Program(t, dir, "maps", objtest.MapsPrinterSrc, nil)
	k, err := linux.HostKernel()
	require.NoError(t, err)
	if k.RandomizeVASpace == 0 {
		t.Skip("kernel.randomize_va_space is 0 on this machine")
	}
	launch, err := linux.HostLaunch()
	require.NoError(t, err)
	pr, err := linux.Prepare(exe, linux.Options{Kernel: &k, Launch: &launch, Env: []string{"A=1"}, WorkDir: dir})
	require.NoError(t, err)
	return exe, pr
}

// TestVariationPredictsEveryDraw places the program at random draws and
// requires every mapping where the Variation says it is.
func TestVariationPredictsEveryDraw(t *testing.T) {
	_, pr := program(t)
	v, err := pr.Variation()
	require.NoError(t, err)
	require.NotNil(t, v.Exec)
	k := v.Kernel
	in := k.Inputs(pr.Launch())
	rapid.Check(t, func(rt *rapid.T) {
		d := linux.Draw{
			Mmap:       rapid.Uint64Range(0, in.Mmap-1).Draw(rt, "mmap"),
			PIE:        rapid.Uint64Range(0, in.PIE-1).Draw(rt, "pie"),
			Stack:      rapid.Uint64Range(0, in.Stack-1).Draw(rt, "stack"),
			StackAlign: rapid.Uint64Range(0, 2).Draw(rt, "stack align"),
			SP:         rapid.Uint64Range(0, in.SP-1).Draw(rt, "sp"),
			Brk:        rapid.Uint64Range(0, in.Brk-1).Draw(rt, "brk"),
		}
		p, err := pr.Layout(d)
		require.NoError(rt, err)
		var want []vaspace.Mapping
		want = append(want, v.Fixed...)
		for _, m := range v.Exec.Mappings {
			s := vaspace.Addr(v.Exec.Shift(d.PIE))
			m.Start, m.End = m.Start+s, m.End+s
			want = append(want, m)
		}
		r, q := d.Mmap%v.Mmap.Period, d.Mmap/v.Mmap.Period
		for _, m := range v.Mmap.Residues[r] {
			s := vaspace.Addr(q * v.Mmap.Period * v.Mmap.PageSize)
			m.Start, m.End = m.Start-s, m.End-s
			want = append(want, m)
		}
		var got []vaspace.Mapping
		for m := range p.Space().All() {
			if m.Kind == vaspace.KindStack {
				top := v.Stack.Top - (d.Stack+d.StackAlign)*k.PageSize
				require.Equal(rt, top, uint64(m.End), "stack top")
				found := false
				for _, e := range v.Stack.Extents {
					found = found || e.Size == m.Len()
				}
				require.True(rt, found, "stack size %#x is none of %v", m.Len(), v.Stack.Extents)
				continue
			}
			got = append(got, m)
		}
		sortMappings(want)
		require.Equal(rt, want, got)
	})
}

func sortMappings(ms []vaspace.Mapping) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Start < ms[j-1].Start; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// TestPresetsReproducePublishedFailures checks the sanitizer layouts
// against what their maintainers and users reported for a PIE program on
// x86_64 (linux-fixed-ranges: google/sanitizers#1716, #1614,
// llvm/llvm-project PR #85834).
func TestPresetsReproducePublishedFailures(t *testing.T) {
	_, pr := program(t)
	v, err := pr.Variation()
	require.NoError(t, err)
	at := func(preset string, bits int) *reserve.Result {
		p, err := reserve.LookupPreset(preset)
		require.NoError(t, err)
		r, err := reserve.AnalyzeBits(v, p.Spec, bits)
		require.NoError(t, err)
		return r
	}
	zero := new(big.Rat)
	// Old TSan fails at 32 random bits, not at 28.
	require.Equal(t, 0, at("tsan-x86_64-old", 28).Probability.Cmp(zero), "old TSan at 28 bits")
	old32 := at("tsan-x86_64-old", 32)
	require.Equal(t, 1, old32.Probability.Cmp(zero), "old TSan at 32 bits")
	// Current TSan supports 30 bits and not 32.
	require.Equal(t, 0, at("tsan-x86_64", 30).Probability.Cmp(zero), "TSan at 30 bits")
	require.Equal(t, 1, at("tsan-x86_64", 32).Probability.Cmp(zero), "TSan at 32 bits")
	// MSan: at 32 bits the program's code leaves the application range
	// (code above 0x600000000000).
	msan := at("msan-x86_64", 32)
	require.Equal(t, 1, msan.Probability.Cmp(zero))
	exeOut := false
	for _, c := range msan.Culprits {
		exeOut = exeOut || c.Group == linux.GroupExec && c.Outside
	}
	require.True(t, exeOut, "the executable is a culprit: %+v", msan.Culprits)
	require.Equal(t, 0, at("msan-x86_64", 28).Probability.Cmp(zero))
	// ASan's old allocator at 0x600000000000 collides with the PIE at 32
	// bits only.
	require.Equal(t, 0, at("asan-x86_64-old-allocator", 28).Probability.Cmp(zero))
	require.Equal(t, 1, at("asan-x86_64-old-allocator", 32).Probability.Cmp(zero))
	require.Equal(t, 0, at("asan-x86_64", 32).Probability.Cmp(zero))
	for _, b := range []int{28, 30, 32} {
		t.Logf("bits %d: old TSan %.4g, TSan %.4g, LLVM 18 TSan %.4g, MSan %.4g, ASan old allocator %.4g", b,
			at("tsan-x86_64-old", b).Float(), at("tsan-x86_64", b).Float(), at("tsan-x86_64-llvm18", b).Float(),
			at("msan-x86_64", b).Float(), at("asan-x86_64-old-allocator", b).Float())
	}
}

// TestExactAgainstRealLaunches starts the program many times with ASLR on
// and checks, for ranges across the executable's, the mmap region's and
// the stack's spans, that the number of launches in which some mapping
// overlaps the range is inside the binomial interval of the exact
// probability.
func TestExactAgainstRealLaunches(t *testing.T) {
	exe, pr := program(t)
	v, err := pr.Variation()
	require.NoError(t, err)
	const runs = 600
	var layouts [][]linux.MapsLine
	for range runs {
		cmd := exec.Command(exe)
		cmd.Env = []string{"A=1"}
		out, err := cmd.Output()
		require.NoError(t, err)
		ls, err := linux.ParseMaps(bytes.NewReader(out), exe)
		require.NoError(t, err)
		layouts = append(layouts, ls)
	}
	k := v.Kernel
	page := k.PageSize
	mmapTop := v.Mmap.Residues[0][len(v.Mmap.Residues[0])-1].End
	span := (v.Mmap.Draws - 1) * page
	exeLow := v.Exec.Mappings[0].Start
	exeSpan := v.Exec.Shift(v.Exec.Draws - 1)
	stackTop := v.Stack.Top
	ranges := []reserve.Range{
		{Name: "middle of the PIE range", Range: vaspace.Range{Start: exeLow + vaspace.Addr(exeSpan/3), End: exeLow + vaspace.Addr(exeSpan/3*2)}},
		{Name: "upper half of the mmap range", Range: vaspace.Range{Start: mmapTop - vaspace.Addr(span/2), End: mmapTop}},
		{Name: "a quarter of the mmap range", Range: vaspace.Range{Start: mmapTop - vaspace.Addr(span/4*3), End: mmapTop - vaspace.Addr(span/2)}},
		{Name: "upper stack range", Range: vaspace.Range{Start: vaspace.Addr(stackTop - v.Stack.StackDraws*page/3), End: vaspace.Addr(stackTop)}},
	}
	for _, r := range ranges {
		res, err := reserve.Analyze(v, reserve.Spec{Free: []reserve.Range{r}})
		require.NoError(t, err)
		p := res.Float()
		hits := 0
		for _, ls := range layouts {
			for _, l := range ls {
				if l.Path == "[heap]" || l.Path == "[vsyscall]" {
					continue
				}
				if l.Overlaps(r.Range) {
					hits++
					break
				}
			}
		}
		mean, sd := runs*p, math.Sqrt(runs*p*(1-p))
		t.Logf("%s %v: exact %.5f, observed %d/%d", r.Name, r.Range, p, hits, runs)
		require.InDelta(t, mean, float64(hits), 5*sd+1, "%s: %d of %d launches hit it, exact probability %.5f", r.Name, hits, runs, p)
	}
	_ = strings.TrimSpace
	_ = os.Getenv
}
