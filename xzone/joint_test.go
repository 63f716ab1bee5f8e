package xzone_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/loadertest"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
	"pgregory.net/rapid"
)

const page = 16 << 10

// tinyWorld draws a scaled-down macOS (loadertest.SmallModel) bound to an
// image set, and an XZone window a few MiB above the executable.
func tinyWorld(t *rapid.T) (slide.Layouts, xzone.Profile) {
	d := loadertest.SmallModel().Draw(t, "model")
	set := loadertest.SmallSet(14).Draw(t, "images")
	order, err := dyld.Resolve(set)
	require.NoError(t, err)
	l, err := d.Layouts(order)
	require.NoError(t, err)
	return l, tinyProfile(t, vaspace.Addr(4<<30+uint64(rapid.IntRange(8, 100).Draw(t, "window pages"))*page))
}

// tinyProfile is libmalloc's reservation scaled down to pages: a 4-page
// reservation (guard, 2-page pointer range, guard) at start + k granules
// of 1, 2 or 4 pages. A granule wider than a slide's step, as on macOS
// (32 MiB against 16 KiB), is what makes the cut after a boundary's
// crossing matter: with a one-page granule, the next edge's cut falls
// there too.
func tinyProfile(t *rapid.T, start vaspace.Addr) xzone.Profile {
	p := xzone.Libmalloc792
	p.Granule = page << rapid.IntRange(0, 2).Draw(t, "granule shift")
	for !start.IsAligned(p.Granule) {
		p.Granule /= 2 // the window starts on a granule
	}
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
func edgeProfiles(t *rapid.T, l slide.Layouts, n int) []xzone.Profile {
	var draws []slide.Draw
	for d := range loadertest.EveryDraw(l) {
		draws = append(draws, d)
	}
	sp, err := l.Place(rapid.SampledFrom(draws).Draw(t, "sample draw"))
	if err != nil {
		return nil
	}
	var edges []vaspace.Addr
	for m := range sp.All() {
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
func bruteForce(t require.TestingT, l slide.Layouts, ps []xzone.Profile) []*big.Rat {
	sums := make([]*big.Int, len(ps))
	for i := range sums {
		sums[i] = new(big.Int)
	}
	draws := int64(0)
	for d := range loadertest.EveryDraw(l) {
		sp, err := l.Place(d)
		require.NoError(t, err)
		for i, p := range ps {
			res, err := xzone.Analyze(sp, p)
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
		l, p := tinyWorld(t)
		require.NoError(t, p.Validate())
		workers := rapid.IntRange(1, 3).Draw(t, "workers")
		if _, lerr := loadertest.LaunchFailure(l); lerr != nil {
			// A world too small for its images at some draw fails both ways.
			_, err := xzone.JointAnalyzeWorkers(l, p, workers)
			require.Error(t, err, "a launch fails (%v), so JointAnalyze must", lerr)
			t.Skip(lerr)
		}
		ps := append([]xzone.Profile{p}, edgeProfiles(t, l, 12)...)
		want := bruteForce(t, l, ps)
		for i, p := range ps {
			require.NoError(t, p.Validate())
			j, err := xzone.JointAnalyzeWorkers(l, p, workers)
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
		l, p := tinyWorld(t)
		j, err := xzone.JointAnalyze(l, p)
		if err != nil {
			t.Skip(err)
		}
		const n = 400
		seed := rapid.Uint64().Draw(t, "seed")
		got, err := xzone.JointMonteCarlo(l, p, n, rand.New(rand.NewPCG(seed, 4)))
		require.NoError(t, err)
		// The exact binomial interval holding all but 1e-12 of the mass:
		// a sampling fluke fails this once in 10^12 cases, a systematic
		// error of a few percent always.
		lc, err := xzone.Expect(n, j.Probability, 1-1e-12)
		require.NoError(t, err)
		require.True(t, lc.Lo <= got && got <= lc.Hi, "%d crashes in %d launches at p = %v, want %d-%d", got, n, j.Probability, lc.Lo, lc.Hi)
	})
}
