package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/tls"
	"github.com/vasim/vasim/vaspace"
)

// The write-up's figures: the bookkeeping five pages below the TCB page;
// the 1-page probe misses it, the 8-page window covers it but shares
// pages with no TLS and crosses a hole, the exact rule does neither.
func TestStrategiesAsInTheWriteUp(t *testing.T) {
	b, dtv, space, err := layout()
	require.NoError(t, err)
	bk := b.TP - bookkeeping
	require.Equal(t, vaspace.Addr(5*page), b.TP.RoundDown(page)-bk.RoundDown(page))
	rs := tls.ComparePages(b, dtv, space, []vaspace.Addr{bk}, tls.Strategies)
	window, probe, exact := rs[0], rs[1], rs[2]
	require.True(t, window.Covers[bk])
	require.NotEmpty(t, window.Extra)
	require.ErrorIs(t, window.OneCall, vaspace.ErrNotMapped)
	require.False(t, probe.Covers[bk])
	require.NotEmpty(t, probe.Missed)
	require.True(t, exact.Covers[bk])
	require.Empty(t, exact.Extra)
	require.Empty(t, exact.Missed)
	require.NoError(t, exact.OneCall)
	// Every byte of the static area, the TCB and the DTV is on an exact page.
	for _, r := range []vaspace.Range{b.Static, b.TCB, dtv} {
		for a := r.Start; a < r.End; a += 8 {
			require.Contains(t, exact.Pages, a.RoundDown(page))
		}
	}
}
