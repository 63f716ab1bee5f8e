package tls

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/ldso"
)

// TestExplainVerifiedByRealGlibc checks each claim of an explanation with
// the real glibc of this machine: the earlier dlopens named as consumers,
// the suggested GLIBC_TUNABLES value (it works, one byte less does not),
// and whether preloading the failing module would help.
func TestExplainVerifiedByRealGlibc(t *testing.T) {
	requireGlibcHost(t)
	pl := buildPool(t, glibcX86)
	prof := hostGlibcProfile(t)
	host := pl.hosts[0] // links none of the pool
	for _, c := range []struct {
		opens        []int // pool ids, dlopened in order
		fails        int   // index in opens of the one failing dlopen
		preloadFixes bool
	}{
		// 1200 bytes, then 700 does not fit; the 100 after it does.
		{[]int{7, 5, 2}, 1, true},
		// 1200 and 500 leave too little for 1500; with 1500 preloaded,
		// 1200 and 500 no longer both fit.
		{[]int{7, 4, 8}, 2, false},
	} {
		t.Run(fmt.Sprint(c.opens), func(t *testing.T) {
			r, err := ldso.NewResolver("")
			require.NoError(t, err)
			sc := Program{Exe: host.path, Resolver: r, Loader: GlibcLoader{prof}}
			var args []string
			for _, id := range c.opens {
				sc.Events = append(sc.Events, Event{Kind: EventDlopen, Name: pl.libs[id].path})
				args = append(args, "o:"+pl.libs[id].path)
			}
			res, err := Run(sc)
			require.NoError(t, err)
			ex := Explain(sc, res)
			require.Len(t, ex, 1)
			e := ex[0]
			assert.Equal(t, c.fails, e.Step)
			assert.Equal(t, pl.libs[c.opens[c.fails]].path, e.Module)
			var consumers []string
			for _, a := range e.Consumers {
				consumers = append(consumers, a.Module.Path)
			}
			var want []string
			for _, id := range c.opens[:c.fails] {
				want = append(want, pl.libs[id].path)
			}
			assert.Equal(t, want, consumers, "the dlopens before the failure, not after")
			assert.Equal(t, c.preloadFixes, e.PreloadFixes)

			allOK := func(run hostRun) bool {
				for _, l := range run.lines[1:] {
					if !strings.HasPrefix(l, "ok") {
						return false
					}
				}
				return len(run.lines) == 1+len(c.opens)
			}
			base := runHost(t, pl, diffCase{host: host, args: args})
			require.False(t, allOK(base), "real glibc: %q", base.lines)
			pre := runHost(t, pl, diffCase{host: host, args: args, preload: []int{c.opens[c.fails]}})
			assert.Equal(t, c.preloadFixes, allOK(pre), "real glibc with the failing module preloaded: %q", pre.lines)
			require.NotZero(t, e.FixOptionalStaticTLS)
			assert.Equal(t, fmt.Sprintf("glibc.rtld.optional_static_tls=%d", e.FixOptionalStaticTLS), e.FixTunables)
			fixed := runHost(t, pl, diffCase{host: host, args: args, tunables: e.FixTunables})
			assert.True(t, allOK(fixed), "real glibc with %s: %q", e.FixTunables, fixed.lines)
			less := runHost(t, pl, diffCase{host: host, args: args,
				tunables: fmt.Sprintf("glibc.rtld.optional_static_tls=%d", e.FixOptionalStaticTLS-1)})
			assert.False(t, allOK(less), "one byte less must fail for real: %q", less.lines)
		})
	}
}
