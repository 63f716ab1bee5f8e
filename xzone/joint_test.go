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
	return d, set, tinyProfile(t, vaspace.Addr(4<<30+uint64(rapid.IntRange(8, 100).Draw(t, "window pages"))*page))
}

// tinyProfile is libmalloc's reservation scaled down to pages: a 4-page
// reservation (guard, 2-page pointer range, guard) at start + k pages.
func tinyProfile(t *rapid.T, start vaspace.Addr) xzone.Profile {
	p := xzone.Libmalloc792
	p.Granule = page
	p.RangesStart = start
	p.Separation = page
	p.PointerRange = 2 * page
	p.RangesEnd = p.RangesStart + 40*page
	p.ZeroEntropy = rapid.IntRange(0, 9).Draw(t, "zero entropy") == 0
	return p
}

// edgeProfiles draws windows against the boundaries of one launch's
// layout: a mapping that starts exactly where slot 0's reservation ends,
// or that ends exactly at a slot's start, where the slot arithmetic and
// Cover's cuts are at their edges.
func edgeProfiles(t *rapid.T, d *loader.Dyld, set *loader.ImageSet, n int) []xzone.Profile {
	var draws []loader.Randomness
	for r := range loadertest.EveryDraw(d) {
		draws = append(draws, r)
	}
	proc, err := d.Launch(set, rapid.SampledFrom(draws).Draw(t, "sample draw"))
	if err != nil {
		return nil
	}
	var edges []vaspace.Addr
	for m := range proc.Space.All() {
		for _, a := range []vaspace.Addr{m.Start, m.End} {
			if a > 4<<30+8*page && a < 4<<30+400*page {
				edges = append(edges, a)
			}
		}
	}
	if len(edges) == 0 {
		return nil
	}
	var out []xzone.Profile
	for range n {
		e := rapid.SampledFrom(edges).Draw(t, "edge")
		p := tinyProfile(t, e)
		if rapid.Bool().Draw(t, "edge at the reservation end") {
			p.RangesStart -= vaspace.Addr(p.Reservation())
		} else {
			p.RangesStart -= vaspace.Addr(uint64(rapid.IntRange(0, 3).Draw(t, "edge slot")) * p.Granule)
		}
		p.RangesEnd = p.RangesStart + 40*page
		out = append(out, p)
	}
	return out
}

// bruteForce launches every draw of the support and analyses it for each
// profile.
func bruteForce(t require.TestingT, d *loader.Dyld, set *loader.ImageSet, ps []xzone.Profile) []*big.Rat {
	sums := make([]*big.Int, len(ps))
	for i := range sums {
		sums[i] = new(big.Int)
	}
	draws := int64(0)
	for r := range loadertest.EveryDraw(d) {
		proc, err := d.Launch(set, r)
		require.NoError(t, err)
		for i, p := range ps {
			res, err := xzone.Analyze(proc.Space, p)
			require.NoError(t, err)
			num := new(big.Int).Mul(res.Crash.Num(), new(big.Int).Div(new(big.Int).SetUint64(p.EntropyValues()), res.Crash.Denom()))
			sums[i].Add(sums[i], num)
		}
		draws++
	}
	out := make([]*big.Rat, len(ps))
	for i, p := range ps {
		out[i] = new(big.Rat).SetFrac(sums[i], new(big.Int).Mul(big.NewInt(draws), new(big.Int).SetUint64(p.EntropyValues())))
	}
	return out
}

// JointAnalyze equals the draw-by-draw sum exactly, on random scaled-down
// worlds where the decisions change across the support, for a window a
// few MiB above the executable and for windows placed against the edges of
// the layout.
func TestJointMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, set, p := tinyWorld(t)
		require.NoError(t, p.Validate())
		workers := rapid.IntRange(1, 3).Draw(t, "workers")
		if _, lerr := loadertest.LaunchFailure(d, set); lerr != nil {
			// A world too small for its images at some draw fails both ways.
			_, err := xzone.JointAnalyzeWorkers(d, set, p, workers)
			require.Error(t, err, "a launch fails (%v), so JointAnalyze must", lerr)
			t.Skip(lerr)
		}
		ps := append([]xzone.Profile{p}, edgeProfiles(t, d, set, 12)...)
		want := bruteForce(t, d, set, ps)
		for i, p := range ps {
			require.NoError(t, p.Validate())
			j, err := xzone.JointAnalyzeWorkers(d, set, p, workers)
			require.NoError(t, err)
			require.Zero(t, want[i].Cmp(j.Crash), "window %v: joint %v, brute force %v (%d pieces)", p.RangesStart, j.Crash.FloatString(8), want[i].FloatString(8), j.Pieces)
			sum := new(big.Rat)
			for _, q := range j.Colliding {
				sum.Add(sum, q)
			}
			require.Zero(t, sum.Cmp(big.NewRat(1, 1)), "the colliding-count distribution sums to 1")
		}
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
