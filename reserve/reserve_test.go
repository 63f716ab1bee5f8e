package reserve

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestIntervalsAgainstBruteForce checks union counting and complements on
// small random sets against a membership array.
func TestIntervalsAgainstBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const lo, hi = -40, 40
		var s intervals
		n := rapid.IntRange(0, 6).Draw(t, "n")
		for range n {
			a := rapid.Int64Range(lo, hi).Draw(t, "a")
			b := rapid.Int64Range(a, hi).Draw(t, "b")
			s = append(s, [2]int64{a, b})
		}
		in := map[int64]bool{}
		for _, iv := range s {
			for x := iv[0]; x <= iv[1]; x++ {
				in[x] = true
			}
		}
		require.Equal(t, uint64(len(in)), s.count())
		c := s.complement(lo, hi)
		for x := int64(lo); x <= hi; x++ {
			require.Equal(t, !in[x], c.contains(x), "complement at %d of %v is %v", x, s, c)
			require.Equal(t, in[x], s.contains(x))
		}
		norm := s.normalized()
		for i := 1; i < len(norm); i++ {
			require.Greater(t, norm[i][0], norm[i-1][1]+1, "normalized intervals must be disjoint and not adjacent")
		}
	})
}

// TestIndexMapsAgainstBruteForce checks the draws computed for linear and
// monotone motions against evaluating every draw.
func TestIndexMapsAgainstBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		lo := rapid.Int64Range(-5000, 5000).Draw(t, "lo")
		hi := rapid.Int64Range(lo, lo+3000).Draw(t, "hi")
		c := condition{bad: intervals{{lo, hi}}}
		step := rapid.Int64Range(-300, 300).Filter(func(x int64) bool { return x != 0 }).Draw(t, "step")
		n := uint64(rapid.IntRange(1, 200).Draw(t, "n"))
		got := c.linear(step, n)
		for q := uint64(0); q < n; q++ {
			require.Equal(t, c.holds(int64(q)*step), got.contains(int64(q)), "q=%d step=%d", q, step)
		}
		align := int64(1) << rapid.IntRange(0, 5).Draw(t, "align log2")
		base := rapid.Int64Range(0, 100).Draw(t, "base")
		shift := func(p uint64) int64 { return (base+int64(p)*7)/align*align - base/align*align }
		got = c.monotone(shift, n)
		for p := uint64(0); p < n; p++ {
			require.Equal(t, c.holds(shift(p)), got.contains(int64(p)), "p=%d", p)
		}
	})
}

func TestSpecErrors(t *testing.T) {
	require.ErrorIs(t, Spec{}.Validate(), ErrSpec)
	require.ErrorIs(t, Spec{Free: []Range{rng("empty", 5, 5)}}.Validate(), ErrSpec)
	_, err := LookupPreset("tsan-sparc")
	require.ErrorContains(t, err, "tsan-x86_64")
	for _, p := range Presets() {
		require.NoError(t, p.Spec.Validate(), p.Name)
	}
	_ = big.NewInt
}
