package xzone_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/loadertest"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
	"pgregory.net/rapid"
)

const page = 16 << 10

// tinyWorld draws a scaled-down macOS (loadertest.SmallDyld), an image set,
// and an XZone window a few MiB above the executable.
func tinyWorld(t *rapid.T) (*loader.Dyld, *loader.ImageSet, xzone.Profile) {
	d := loadertest.SmallDyld().Draw(t, "model")
	set := loadertest.SmallSet(14).Draw(t, "images")
	p := xzone.Libmalloc792
	p.Granule = page
	p.RangesStart = vaspace.Addr(4<<30 + uint64(rapid.IntRange(8, 100).Draw(t, "window pages"))*page)
	p.Separation = page
	p.PointerRange = 2 * page
	p.RangesEnd = p.RangesStart + 40*page
	p.ZeroEntropy = rapid.IntRange(0, 9).Draw(t, "zero entropy") == 0
	return d, set, p
}

// bruteForce launches every draw of the support and analyses it.
func bruteForce(t require.TestingT, d *loader.Dyld, set *loader.ImageSet, p xzone.Profile) *big.Rat {
	sum := new(big.Int)
	draws := int64(0)
	for r := range loadertest.EveryDraw(d) {
		proc, err := d.Launch(set, r)
		require.NoError(t, err)
		res, err := xzone.Analyze(proc.Space, p)
		require.NoError(t, err)
		num := new(big.Int).Mul(res.Crash.Num(), new(big.Int).Div(new(big.Int).SetUint64(p.EntropyValues()), res.Crash.Denom()))
		sum.Add(sum, num)
		draws++
	}
	return new(big.Rat).SetFrac(sum, new(big.Int).Mul(big.NewInt(draws), new(big.Int).SetUint64(p.EntropyValues())))
}

// JointAnalyze equals the draw-by-draw sum exactly, on random scaled-down
// worlds where the decisions change across the support.
func TestJointMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, set, p := tinyWorld(t)
		require.NoError(t, p.Validate())
		j, err := xzone.JointAnalyzeWorkers(d, set, p, rapid.IntRange(1, 3).Draw(t, "workers"))
		if _, lerr := loadertest.LaunchFailure(d, set); err != nil || lerr != nil {
			// A world too small for its images at some draw fails both ways.
			require.Error(t, err, "a launch fails (%v), so JointAnalyze must", lerr)
			require.Error(t, lerr, "JointAnalyze failed (%v), so some launch must", err)
			t.Skip(err)
		}
		want := bruteForce(t, d, set, p)
		require.Zero(t, want.Cmp(j.Crash), "joint %v, brute force %v (%d pieces)", j.Crash.FloatString(8), want.FloatString(8), j.Pieces)
		sum := new(big.Rat)
		for _, q := range j.Colliding {
			sum.Add(sum, q)
		}
		require.Zero(t, sum.Cmp(big.NewRat(1, 1)), "the colliding-count distribution sums to 1")
	})
}

// The sampling cross-check agrees with the exact joint figure.
func TestJointMonteCarloCrossCheck(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, set, p := tinyWorld(t)
		j, err := xzone.JointAnalyze(d, set, p)
		if err != nil {
			t.Skip(err)
		}
		const n = 400
		seed := rapid.Uint64().Draw(t, "seed")
		got, err := xzone.JointMonteCarlo(d, set, p, n, rand.New(rand.NewPCG(seed, 4)))
		require.NoError(t, err)
		// The exact binomial interval holding all but 1e-12 of the mass:
		// a sampling fluke fails this once in 10^12 cases, a systematic
		// error of a few percent always.
		l, err := xzone.Expect(n, j.Probability, 1-1e-12)
		require.NoError(t, err)
		require.True(t, l.Lo <= got && got <= l.Hi, "%d crashes in %d launches at p = %v, want %d-%d", got, n, j.Probability, l.Lo, l.Hi)
	})
}
