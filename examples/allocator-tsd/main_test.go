package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/tsd"
)

func TestCorruptionOnlyUnderFixedSlot(t *testing.T) {
	for m, want := range map[tsd.Model]bool{tsd.FixedSlot: true, tsd.ThreadLocal: false, tsd.DynamicPthreads: false} {
		es, err := tsd.Run(tsd.TwoAddons(m))
		require.NoError(t, err)
		c := tsd.Summary(es)
		require.Equal(t, want, c[tsd.Corruption] > 0, "%v", m)
	}
}
