package xzone

import (
	"math/big"
	"math/rand/v2"
	"sort"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
)

// Joint is the crash probability of a launch over the joint distribution
// of its placement randomness (the executable's slide, dyld's slide, the
// libmalloc guarded-range tail) and the malloc entropy that picks the
// slot, computed exactly.
type Joint struct {
	Profile Profile
	// Crash is the exact probability; Probability the same as a float64.
	Crash       *big.Rat
	Probability float64
	// Draws is the number of equally likely placement draws summed over.
	Draws uint64
	// Pieces is the number of distinct layouts (regions of draws over
	// which every mapping moves as one affine function) the model found.
	Pieces int
	// Colliding[n] is the probability that exactly n slots collide.
	Colliding map[int]*big.Rat
	// Fewest and Most are the smallest and largest numbers of colliding
	// slots over all draws.
	Fewest, Most int
}

// JointAnalyze sums the crash probability over every placement draw of
// the Dyld model. Draws are grouped into pieces in which the layout is an
// affine function of the draw (loader.Dyld.Cover); within a piece, only
// the mappings that can reach the XZone window matter, and the set of
// colliding slots changes only where one of their ends crosses a slot
// boundary, so each run of executable slides is split at those crossings
// and every part is evaluated once. The result is exact: no sampling.
func JointAnalyze(model *loader.Dyld, set *loader.ImageSet, p Profile) (*Joint, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	sup := model.Supports()
	xs := sup[loader.VarExeSlide]
	var box [loader.NumVars][2]int64
	draws := uint64(1)
	for v := range sup {
		box[v] = [2]int64{sup[v][0], sup[v][len(sup[v])-1]}
		draws *= uint64(len(sup[v]))
	}
	w := p.Window()
	relevant := map[*loader.Piece][]loader.AffineMapping{}
	var counts = map[int]uint64{} // colliding-slot count -> number of draws
	total := new(big.Int)
	var cellSum uint64

	weight := func(ranges [][2]int) uint64 {
		if p.ZeroEntropy {
			if len(ranges) > 0 && ranges[0][0] == 0 {
				return p.EntropyValues()
			}
			return 0
		}
		var sum uint64
		n := uint64(p.Slots())
		q, r := p.EntropyValues()/n, p.EntropyValues()%n
		for _, rg := range ranges {
			lo, hi := uint64(rg[0]), uint64(rg[1])
			sum += (hi - lo + 1) * q
			if lo < r {
				sum += min(hi, r-1) - lo + 1
			}
		}
		return sum
	}

	pieces, err := model.Cover(set, func(c loader.Cell) error {
		ms, ok := relevant[c.Piece]
		if !ok {
			for _, m := range c.Piece.Mappings() {
				if maxOver(m.End, box) > int64(w.Start) && minOver(m.Start, box) < int64(w.End) {
					ms = append(ms, m)
				}
			}
			relevant[c.Piece] = ms
		}
		// Split xs[Lo..Hi] where a relevant boundary crosses a slot edge.
		var cuts []int64
		d := c.Fixed
		for _, m := range ms {
			for _, f := range []struct {
				a    loader.Affine
				base int64
			}{{m.End, int64(p.RangesStart)}, {m.Start, int64(p.RangesStart) + int64(p.Reservation())}} {
				k := f.a.K[loader.VarExeSlide]
				if k == 0 {
					continue
				}
				d[loader.VarExeSlide] = 0
				v0 := f.a.At(d)
				va, vb := v0+k*xs[c.Lo], v0+k*xs[c.Hi]
				lo, hi := min(va, vb), max(va, vb)
				g := int64(p.Granule)
				for j := floorDivI(lo-f.base, g); f.base+j*g <= hi; j++ {
					level := f.base + j*g
					x := floorDivI(level-v0, k)
					cuts = append(cuts, x, x+1)
				}
			}
		}
		// A cut x means the colliding set may differ between draws below x
		// and at or above it: turn cuts into boundaries between indices.
		bounds := []int{c.Lo, c.Hi + 1}
		for _, x := range cuts {
			if k := sort.Search(len(xs), func(k int) bool { return xs[k] >= x }); k > c.Lo && k <= c.Hi {
				bounds = append(bounds, k)
			}
		}
		sort.Ints(bounds)
		cellSum = 0
		for bi := 0; bi+1 < len(bounds); bi++ {
			i, next := bounds[bi], bounds[bi+1]
			if i == next {
				continue
			}
			d[loader.VarExeSlide] = xs[i]
			ranges := collidingRanges(ms, d, p)
			n := uint64(next - i)
			cellSum += n * weight(ranges)
			slots := 0
			for _, rg := range ranges {
				slots += rg[1] - rg[0] + 1
			}
			counts[slots] += n
		}
		total.Add(total, new(big.Int).SetUint64(cellSum))
		return nil
	})
	if err != nil {
		return nil, err
	}
	denom := new(big.Int).Mul(new(big.Int).SetUint64(draws), new(big.Int).SetUint64(p.EntropyValues()))
	j := &Joint{Profile: p, Crash: new(big.Rat).SetFrac(total, denom), Draws: draws, Pieces: pieces, Colliding: map[int]*big.Rat{}, Fewest: -1}
	j.Probability, _ = j.Crash.Float64()
	for n, c := range counts {
		j.Colliding[n] = new(big.Rat).SetFrac(new(big.Int).SetUint64(c), new(big.Int).SetUint64(draws))
		if j.Fewest < 0 || n < j.Fewest {
			j.Fewest = n
		}
		j.Most = max(j.Most, n)
	}
	return j, nil
}

// collidingRanges returns the merged runs of slots that the mappings ms,
// evaluated at draw d, make collide.
func collidingRanges(ms []loader.AffineMapping, d loader.Draw, p Profile) [][2]int {
	var rs [][2]int
	for _, m := range ms {
		r := vaspace.Range{Start: vaspace.Addr(m.Start.At(d)), End: vaspace.Addr(m.End.At(d))}
		if lo, hi, ok := p.SlotsOverlapping(r); ok {
			rs = append(rs, [2]int{lo, hi})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	var out [][2]int
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
		} else {
			out = append(out, r)
		}
	}
	return out
}

func maxOver(a loader.Affine, box [loader.NumVars][2]int64) int64 {
	v := a.C
	for i, k := range a.K {
		v += max(k*box[i][0], k*box[i][1])
	}
	return v
}

func minOver(a loader.Affine, box [loader.NumVars][2]int64) int64 {
	v := a.C
	for i, k := range a.K {
		v += min(k*box[i][0], k*box[i][1])
	}
	return v
}

func floorDivI(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// JointMonteCarlo estimates the same probability by sampling n launches:
// a uniform placement draw, a full simulated launch, and a uniform 32-bit
// entropy value. It exists to cross-check JointAnalyze; its cost is n full
// launches.
func JointMonteCarlo(model *loader.Dyld, set *loader.ImageSet, p Profile, n int, rng *rand.Rand) (crashes int, err error) {
	sup := model.Supports()
	for i := 0; i < n; i++ {
		r := loader.Randomness{
			ExeSlide:  uint64(sup[loader.VarExeSlide][rng.IntN(len(sup[loader.VarExeSlide]))]),
			DyldSlide: uint64(sup[loader.VarDyldSlide][rng.IntN(len(sup[loader.VarDyldSlide]))]),
			GuardTail: uint64(sup[loader.VarGuardTail][rng.IntN(len(sup[loader.VarGuardTail]))]),
		}
		proc, err := model.Launch(set, r)
		if err != nil {
			return crashes, err
		}
		k := int(rng.Uint64N(p.EntropyValues()) % uint64(p.Slots()))
		if p.ZeroEntropy {
			k = 0
		}
		if !proc.Space.IsFree(p.SlotRange(k)) {
			crashes++
		}
	}
	return crashes, nil
}
