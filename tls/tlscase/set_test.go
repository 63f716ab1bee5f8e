package tlscase

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/tls"
)

// descGap is a program whose working optional_static_tls values have a
// gap: it dlopens a library with a 400-byte block reached through TLS
// descriptors, which glibc places in static TLS when the optional budget
// holds it, and then one with a 1505-byte initial-exec block.
func descGap(glibc string) *Case {
	return &Case{
		Name: "descriptor-gap", Summary: "a descriptor block placed only with a larger budget takes the room an initial-exec block needs",
		Glibc: glibc, Arch: "x86_64",
		Modules: []Module{
			{Name: "host", Main: true, Needs: []string{"libc.so.6"}},
			{Name: "libc.so.6", TLS: &Block{Size: 144, Align: 8}, Access: "initial-exec", Needs: []string{"ld-linux-x86-64.so.2"}},
			{Name: "ld-linux-x86-64.so.2"},
			{Name: "libdesc.so", TLS: &Block{Size: 400, Align: 16}, Access: "descriptor", Needs: []string{"libc.so.6"}},
			{Name: "libie.so", TLS: &Block{Size: 1505, Align: 16}, Access: "initial-exec", Needs: []string{"libc.so.6"}},
		},
		Dlopens: []string{"libdesc.so", "libie.so"},
		Expect:  []bool{true, false},
	}
}

// TestOptionalSetMatchesTheModel: for every built-in case and the
// descriptor gap, the set OptionalSet finds agrees with running the case
// at every value up to well past its blocks and at the ends of every
// range, in a handful of runs.
func TestOptionalSetMatchesTheModel(t *testing.T) {
	cases := []*Case{descGap("2.36")}
	for _, n := range Names() {
		c, err := Load(n)
		require.NoError(t, err)
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			set, ok, err := c.OptionalSet()
			require.NoError(t, err)
			v, _ := ldso.ParseGlibcVersion(c.Glibc)
			if !v.AtLeast(2, 32) {
				require.False(t, ok, "glibc %s has no tunables", c.Glibc)
				return
			}
			require.True(t, ok)
			require.True(t, set.Complete)
			assert.LessOrEqual(t, set.Runs, 8)
			loads := func(v uint64) bool {
				r, err := c.run(c.Preload, c.Dlopens, fmt.Sprintf("glibc.rtld.optional_static_tls=%d", v), nil, nil)
				require.NoError(t, err)
				return r.Loads()
			}
			var total uint64
			for _, m := range c.Modules {
				if m.TLS != nil {
					total += m.TLS.Size + m.TLS.Align
				}
			}
			for v := uint64(0); v <= 2*total+1024; v++ {
				require.Equal(t, loads(v), set.Contains(v), "optional_static_tls=%d (set: %v)", v, set)
			}
			for _, r := range append(append([]tls.ValueRange(nil), set.Works...), set.Fails...) {
				for _, v := range []uint64{r.Lo, r.Hi} {
					require.Equal(t, loads(v), set.Contains(v), "optional_static_tls=%d (set: %v)", v, set)
				}
			}
		})
	}
	set, _, err := descGap("2.36").OptionalSet()
	require.NoError(t, err)
	assert.Equal(t, "works from 753; also 305..399; fails 0..304, 400..752", set.String())
	min, err := descGap("2.36").MinimalOptional()
	require.NoError(t, err)
	assert.Equal(t, uint64(305), min, "the smallest working value lies in the gap")
}

// TestOptionalSetAgainstRealGlibc runs the descriptor gap on this
// machine's glibc at the ends of every range the model finds, the
// default and a value inside the failing gap: the real loader must load
// the program exactly where the set says it does.
func TestOptionalSetAgainstRealGlibc(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs x86_64 Linux programs")
	}
	cc := objtest.RequireCC(t, "gcc")
	det, err := ldso.DetectGlibcVersion("/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		t.Skipf("no glibc here: %v", err)
	}
	if !det.Version.AtLeast(2, 34) {
		t.Skipf("glibc %v resolves TLS descriptors lazily; the case assumes 2.34+", det.Version)
	}
	c := descGap(det.Version.String())
	set, ok, err := c.OptionalSet()
	require.NoError(t, err)
	require.True(t, ok)
	require.NotEmpty(t, set.AlsoWorks(), "the model finds the gap on glibc %v: %v", det.Version, set)
	paths := buildCase(t, cc, t.TempDir(), c, nil, nil)
	points := []uint64{512, 4096}
	for _, r := range append(append([]tls.ValueRange(nil), set.Works...), set.Fails...) {
		points = append(points, r.Lo, r.Hi, r.Lo+(r.Hi-r.Lo)/2)
	}
	for _, v := range points {
		if v > 1<<20 {
			continue
		}
		tun := fmt.Sprintf("glibc.rtld.optional_static_tls=%d", v)
		got := runCase(t, paths, c, nil, c.Dlopens, tun)
		real := len(got) == 2 && got[0] == "libdesc.so true" && got[1] == "libie.so true"
		assert.Equal(t, set.Contains(v), real, "%s: real glibc %v says %q; the set: %v", tun, det.Version, got, set)
		t.Logf("optional_static_tls=%d: real %q, model loads %v", v, got, set.Contains(v))
	}
}
