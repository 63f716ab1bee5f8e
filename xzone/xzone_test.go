package xzone_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/vaspace/vaspacetest"
	"github.com/vasim/vasim/xzone"
	"pgregory.net/rapid"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

// The profile reproduces the figures read from libmalloc-792.41.1
// src/xzone_malloc/xzone_segment.c and src/vm.c.
func TestLibmalloc792Figures(t *testing.T) {
	p := xzone.Libmalloc792
	require.NoError(t, p.Validate())
	assert.Equal(t, uint64(24*gib), p.Reservation())
	assert.Equal(t, 736, p.Slots())
	assert.Equal(t, vaspace.Addr(0x400000000), p.SlotStart(0))
	assert.Equal(t, vaspace.Addr(0x402000000), p.SlotStart(1))
	assert.Equal(t, vaspace.Addr(0x9BE000000), p.SlotStart(735))
	assert.Equal(t, vaspace.Addr(0xFBE000000), p.SlotRange(735).End, "32 MiB below the commpage nesting start")
	assert.Equal(t, vaspace.Range{Start: 0x502000000, End: 0x902000000}, p.PointerRangeOf(1))
	assert.Equal(t, 416, p.DataSlots())
	// A successful spawn showed a malloc region at 0xD32000000: data draw
	// j = 409 placed above the pointer reservation.
	assert.Equal(t, vaspace.Addr(0xD32000000), p.DataStart(100, 409))
	assert.Equal(t, vaspace.Addr(16*gib+5*32*mib), p.DataStart(100, 5))
	// Zero entropy: reservation [16, 40) GiB, data hint 40 GiB.
	assert.Equal(t, vaspace.Range{Start: 16 * gib, End: 40 * gib}, p.SlotRange(0))
	assert.Equal(t, vaspace.Addr(40*gib), p.DataStart(0, 0))

	// 2^32 = 736 × 5,835,553 + 288.
	assert.Equal(t, uint64(5835554), p.SlotWeight(0))
	assert.Equal(t, uint64(5835554), p.SlotWeight(287))
	assert.Equal(t, uint64(5835553), p.SlotWeight(288))
	assert.Equal(t, uint64(5835553), p.SlotWeight(735))
	var sum uint64
	for k := 0; k < p.Slots(); k++ {
		sum += p.SlotWeight(k)
	}
	assert.Equal(t, uint64(1)<<32, sum)
}

func TestProfileValidate(t *testing.T) {
	bad := xzone.Libmalloc792
	bad.Granule = 3 * mib
	assert.ErrorIs(t, bad.Validate(), xzone.ErrBadProfile)
	bad = xzone.Libmalloc792
	bad.RangesEnd = 30 * gib
	assert.ErrorIs(t, bad.Validate(), xzone.ErrBadProfile)
	bad = xzone.Libmalloc792
	bad.Separation = math.MaxUint64 / 2
	assert.ErrorIs(t, bad.Validate(), xzone.ErrBadProfile)
	bad = xzone.Libmalloc792
	bad.EntropyBits = 0
	assert.ErrorIs(t, bad.Validate(), xzone.ErrBadProfile)
	_, err := xzone.LookupProfile("libmalloc-1")
	assert.ErrorContains(t, err, "libmalloc-792.41.1")
}

func layoutWith(t *testing.T, ranges ...vaspace.Range) *vaspace.Space {
	s := vaspace.MustNew(vaspace.Range{Start: 0, End: 0x7ffffe000000}, 0x4000)
	for i, r := range ranges {
		require.NoError(t, s.Map(vaspace.Mapping{Range: r, Name: fmt.Sprintf("img%d", i), Kind: vaspace.KindImage}))
	}
	return s
}

// The common case: nothing mapped above T gives
// ceil((T - 16 GiB) / 32 MiB) colliding slots.
func TestCommonCaseTable(t *testing.T) {
	for _, c := range []struct {
		top  float64 // GiB
		want int
	}{{16.3, 10}, {16.46, 15}, {17, 32}, {18, 64}, {20, 128}, {15.9, 0}, {16, 0}, {60, 736}} {
		top := vaspace.Addr(c.top * gib).RoundDown(0x4000)
		s := layoutWith(t, vaspace.Range{Start: 4 * gib, End: top})
		res, err := xzone.Analyze(s, xzone.Libmalloc792)
		require.NoError(t, err)
		assert.Len(t, res.Colliding, c.want, "T = %v GiB", c.top)
		for i, k := range res.Colliding {
			assert.Equal(t, i, k)
		}
	}
}

// Analyze agrees with the brute-force definition on random layouts:
// slot by slot, hit by hit, and on every derived figure.
func TestAnalyzeMatchesBruteForce(t *testing.T) {
	cfg := vaspacetest.Config{
		Bounds:   vaspace.Range{Start: 4 * gib, End: 64 * gib},
		PageSize: 0x4000,
		MaxPages: 1 << 16, // up to 1 GiB
		MaxCount: 40,
		Density:  0.05,
	}
	rapid.Check(t, func(t *rapid.T) {
		s := vaspacetest.Layout(cfg).Draw(t, "layout")
		p := xzone.Libmalloc792
		p.ZeroEntropy = rapid.Bool().Draw(t, "zero entropy")
		got, err := xzone.Analyze(s, p)
		require.NoError(t, err)
		want, err := xzone.AnalyzeBruteForce(s, p)
		require.NoError(t, err)
		require.Equal(t, want.Colliding, got.Colliding)
		require.Equal(t, want.Slots, got.Slots)
		require.Zero(t, want.Crash.Cmp(got.Crash))
		require.Equal(t, want.Culprits, got.Culprits)
		require.Equal(t, want.Headroom, got.Headroom)
		require.Equal(t, want.Excess, got.Excess)

		// The exact probability is the colliding weight over 2^32.
		var w uint64
		for _, k := range got.Colliding {
			w += p.SlotWeight(k)
		}
		if p.ZeroEntropy {
			w = 0
			if len(got.Colliding) > 0 && got.Colliding[0] == 0 {
				w = 1 << 32
			}
		}
		require.Zero(t, big.NewRat(int64(w), 1<<32).Cmp(got.Crash))

		// Headroom is exact: growing the mapping below the lowest free slot
		// by Headroom keeps that slot free; one more page makes it collide.
		if got.Below != nil && got.Headroom > 0 {
			k := len(got.Colliding)
			for i, c := range got.Colliding {
				if c != i {
					k = i
					break
				}
			}
			grown := s.Clone()
			b := *got.Below
			require.NoError(t, grown.Unmap(b.Range))
			b.End += vaspace.Addr(got.Headroom)
			require.NoError(t, grown.Map(b))
			r2, err := xzone.Analyze(grown, xzone.Libmalloc792)
			require.NoError(t, err)
			require.True(t, r2.Slots[k].OK(), "growing by the headroom must keep slot %d free", k)
			require.NoError(t, grown.Unmap(b.Range))
			b.End += 0x4000
			if grown.IsFree(b.Range) {
				require.NoError(t, grown.Map(b))
				r3, err := xzone.Analyze(grown, xzone.Libmalloc792)
				require.NoError(t, err)
				require.False(t, r3.Slots[k].OK(), "one page past the headroom must hit slot %d", k)
			}
		}
	})
}

// SlotsOverlapping agrees with checking each slot.
func TestSlotsOverlapping(t *testing.T) {
	p := xzone.Libmalloc792
	rapid.Check(t, func(t *rapid.T) {
		a := vaspace.Addr(rapid.Uint64Range(0, 70*gib).Draw(t, "start")).RoundDown(0x4000)
		r := vaspace.Range{Start: a, End: a + vaspace.Addr(rapid.Uint64Range(1, 1<<18).Draw(t, "pages")*0x4000)}
		lo, hi, ok := p.SlotsOverlapping(r)
		var want []int
		for k := 0; k < p.Slots(); k++ {
			if p.SlotRange(k).Overlaps(r) {
				want = append(want, k)
			}
		}
		require.Equal(t, len(want) > 0, ok, "%v", r)
		if ok {
			require.Equal(t, want[0], lo)
			require.Equal(t, want[len(want)-1], hi)
			require.Len(t, want, hi-lo+1)
		}
	})
}

// The published case (Apple Developer Forums thread 821081): 15/736, 4.08 expected crashes
// in 200 spawns, consistent with the observed 2-5.
func TestLaunchesPublishedCase(t *testing.T) {
	s := layoutWith(t, vaspace.Range{Start: 4 * gib, End: 0x401d04000}, vaspace.Range{Start: 0x401d04000, End: 0x41D800000})
	res, err := xzone.Analyze(s, xzone.Libmalloc792)
	require.NoError(t, err)
	require.Equal(t, "15/736", res.Fraction())
	assert.Equal(t, [][2]int{{0, 14}}, res.CollidingRanges())
	assert.Equal(t, vaspace.Addr(0x401d04000), res.Slots[1].Hit.Start, "slot 1 hits the dylib at 0x401d04000")
	assert.InDelta(t, 15.0/736, res.Probability, 1e-6)
	l, err := xzone.Expect(200, res.Probability, 0.95)
	require.NoError(t, err)
	assert.InDelta(t, 4.08, l.Mean, 0.01)
	assert.LessOrEqual(t, l.Lo, 2)
	assert.GreaterOrEqual(t, l.Hi, 5)
	assert.Greater(t, l.Between(2, 5), 0.5)
	assert.InDelta(t, 1, l.Between(0, 200), 1e-9)
}

func TestExpectRejectsNonsense(t *testing.T) {
	_, err := xzone.Expect(-1, 0.5, 0.95)
	assert.Error(t, err)
	_, err = xzone.Expect(10, 1.5, 0.95)
	assert.Error(t, err)
	_, err = xzone.Expect(10, math.NaN(), 0.95)
	assert.Error(t, err)
	_, err = xzone.Expect(10, 0.5, 1)
	assert.Error(t, err)
	l, err := xzone.Expect(10, 0, 0.95)
	require.NoError(t, err)
	assert.Equal(t, 0, l.Hi)
}

// Expect and Between sum only the bulk of the distribution; they must
// agree with sums over every crash count, and stay cheap for launch counts
// far beyond what a loop over them could afford.
func TestExpectMatchesFullSums(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 3000).Draw(t, "launches")
		p := rapid.Float64Range(0, 1).Draw(t, "p")
		level := rapid.SampledFrom([]float64{0.5, 0.95, 1 - 1e-7, 1 - 1e-12}).Draw(t, "level")
		l, err := xzone.Expect(n, p, level)
		require.NoError(t, err)
		tail := (1 - level) / 2
		lo, hi, cum := 0, n, 0.0
		for k := 0; k <= n; k++ {
			if cum += l.PMF(k); cum > tail {
				lo = k
				break
			}
		}
		cum = 0
		for k := n; k >= 0; k-- {
			if cum += l.PMF(k); cum > tail {
				hi = k
				break
			}
		}
		require.Equal(t, lo, l.Lo, "n %d p %v", n, p)
		require.Equal(t, hi, l.Hi, "n %d p %v", n, p)
		a := rapid.IntRange(0, n).Draw(t, "a")
		b := rapid.IntRange(a, n).Draw(t, "b")
		full := 0.0
		for k := a; k <= b; k++ {
			full += l.PMF(k)
		}
		require.InDelta(t, min(full, 1), l.Between(a, b), 1e-12)
	})
	l, err := xzone.Expect(1<<40, 0.02, 0.95)
	require.NoError(t, err)
	assert.Less(t, float64(l.Lo), l.Mean)
	assert.Greater(t, float64(l.Hi), l.Mean)
	assert.InDelta(t, 1, l.Between(0, 1<<40), 1e-9)
}

func ExampleAnalyze() {
	s := vaspace.MustNew(vaspace.Range{Start: 0, End: 0x7ffffe000000}, 0x4000)
	// Images packed from 4 GiB up to 16.46 GiB.
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x100000000, End: 0x401d04000}, Name: "images below"})
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x401d04000, End: 0x41D800000}, Name: "libtop.dylib"})
	res, _ := xzone.Analyze(s, xzone.Libmalloc792)
	fmt.Printf("%s slots collide (%.2f%%): %v\n", res.Fraction(), 100*res.Probability, res.CollidingRanges())
	fmt.Println("slot 1 at", res.Slots[1].Reservation.Start, "hits", res.Slots[1].Hit.Name)
	fmt.Println("headroom", vaspace.Size(res.Headroom), "excess", vaspace.Size(res.Excess))
	// Output:
	// 15/736 slots collide (2.04%): [[0 14]]
	// slot 1 at 0x402000000 hits libtop.dylib
	// headroom 8 MiB excess 472 MiB
}

// Monte Carlo agrees with the exact figure within its sampling error.
func TestMonteCarloCrossCheck(t *testing.T) {
	s := layoutWith(t, vaspace.Range{Start: 4 * gib, End: 0x41D800000})
	res, err := xzone.Analyze(s, xzone.Libmalloc792)
	require.NoError(t, err)
	const n = 200000
	got := xzone.MonteCarlo(s, xzone.Libmalloc792, n, rand.New(rand.NewPCG(1, 2)))
	l, err := xzone.Expect(n, res.Probability, 1-1e-12)
	require.NoError(t, err)
	assert.True(t, l.Lo <= got && got <= l.Hi, "%d crashes in %d at p = %v, want %d-%d", got, n, res.Probability, l.Lo, l.Hi)
}
