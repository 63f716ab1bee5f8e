package xzone

import (
	"math/big"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sort"

	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
)

// Joint is the crash probability of a launch over the joint distribution
// of its placement randomness (on macOS arm64: the executable's slide,
// dyld's slide, the libmalloc guarded-range tail) and the malloc entropy
// that picks the slot, computed exactly.
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

// JointAnalyze sums the crash probability over every placement draw of a
// placement model bound to its images (macos.Layouts). Draws are grouped
// into pieces in which the layout is an affine function of the draw
// (slide.Layouts.Cover); within a piece, only the mappings that can reach
// the XZone window matter, and the set of colliding slots changes only
// where one of their ends crosses a slot boundary, so each cell's run of
// draws is split at those crossings and every part is evaluated once. The
// result is exact: no sampling. It uses every CPU (runtime.GOMAXPROCS).
func JointAnalyze(l slide.Layouts, p Profile) (*Joint, error) {
	return JointAnalyzeWorkers(l, p, runtime.GOMAXPROCS(0))
}

// JointAnalyzeWorkers is JointAnalyze on the given number of goroutines.
func JointAnalyzeWorkers(l slide.Layouts, p Profile, workers int) (*Joint, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	in := l.Inputs()
	draws := slide.Draws(in)
	accs := make([]*jointAcc, max(1, workers))
	for i := range accs {
		accs[i] = newJointAcc(p, in)
	}
	pieces, err := l.Cover(p.Window(), len(accs), func(w int) func(slide.Cell) error { return accs[w].cell })
	if err != nil {
		return nil, err
	}
	total := new(big.Int)
	counts := map[int]uint64{}
	for _, a := range accs {
		total.Add(total, a.total())
		for n, c := range a.counts {
			counts[n] += c
		}
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

// jointAcc accumulates one worker's cells.
type jointAcc struct {
	p        Profile
	in       []slide.Input
	box      [slide.MaxVars][2]int64
	relevant map[*slide.Piece]*relevance // and older: see remember
	older    map[*slide.Piece]*relevance
	counts   map[int]uint64 // colliding-slot count -> number of draws
	hi, lo   uint64         // 128-bit sum of draws × colliding entropy values
	ranges   [][2]int
}

func newJointAcc(p Profile, in []slide.Input) *jointAcc {
	return &jointAcc{p: p, in: in, box: slide.Box(in), relevant: map[*slide.Piece]*relevance{}, counts: map[int]uint64{}}
}

// weight returns how many entropy values make the slot runs collide.
func (a *jointAcc) weight(ranges [][2]int) uint64 {
	p := a.p
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

// add counts n draws whose colliding slots are a.ranges.
func (a *jointAcc) add(n uint64) {
	h, l := bits.Mul64(a.weight(a.ranges), n)
	var carry uint64
	a.lo, carry = bits.Add64(a.lo, l, 0)
	a.hi += h + carry
	a.counts[slotCount(a.ranges)] += n
}

// total returns the accumulated sum.
func (a *jointAcc) total() *big.Int {
	t := new(big.Int).SetUint64(a.hi)
	t.Lsh(t, 64)
	return t.Add(t, new(big.Int).SetUint64(a.lo))
}

// span is a mapping's affine bounds: all the sum needs of it.
type span struct{ Start, End slide.Affine }

// maxRelevant bounds the pieces a worker keeps the relevance of.
const maxRelevant = 512

// relevance is what of a piece's layout can matter to the reservation.
type relevance struct {
	// ms are the mappings that can overlap the window at some draw.
	ms []span
	// When every one of them starts below RangesStart + R at every draw
	// (the usual case: images packed below the window), each collides
	// with slots 0 up to the one its end reaches, so the colliding set is
	// [0, k] for the highest end. tops are the ends that can be highest
	// (ends always below another are dropped).
	prefix bool
	tops   []slide.Affine
}

func (a *jointAcc) relevanceOf(piece *slide.Piece) *relevance {
	if r, ok := a.relevant[piece]; ok {
		return r
	}
	if r, ok := a.older[piece]; ok {
		a.remember(piece, r)
		return r
	}
	p := a.p
	w := p.Window()
	r := &relevance{prefix: true}
	for m := range piece.Mappings() {
		if m.End.MaxOver(a.box) > int64(w.Start) && m.Start.MinOver(a.box) < int64(w.End) {
			r.ms = append(r.ms, span{m.Start, m.End})
			if m.Start.MaxOver(a.box) >= int64(p.RangesStart)+int64(p.Reservation()) {
				r.prefix = false
			}
		}
	}
	if r.prefix {
		// Ends with the same coefficients move together: of each such
		// group only the highest can be the top. Then drop the group
		// tops that another is at or above at every draw (a piece of
		// hundreds of mappings in the window has a handful of groups,
		// so this is linear, not quadratic, in the mappings).
		best := map[[slide.MaxVars]int64]slide.Affine{}
		var order [][slide.MaxVars]int64
		for _, m := range r.ms {
			e, ok := best[m.End.K]
			if !ok {
				order = append(order, m.End.K)
			}
			if !ok || m.End.C > e.C {
				best[m.End.K] = m.End
			}
		}
		for i, ki := range order {
			ei := best[ki]
			dominated := false
			for j, kj := range order {
				ej := best[kj]
				if i != j && ej.Sub(ei).MinOver(a.box) >= 0 && (ei.Sub(ej).MinOver(a.box) < 0 || j < i) {
					dominated = true
					break
				}
			}
			if !dominated {
				r.tops = append(r.tops, ei)
			}
		}
	}
	a.remember(piece, r)
	return r
}

// remember caches r for piece in two generations of at most maxRelevant
// pieces each: the pieces in use along the sweep stay, the ones it has
// left behind are let go with their mappings.
func (a *jointAcc) remember(piece *slide.Piece, r *relevance) {
	if len(a.relevant) >= maxRelevant {
		a.older, a.relevant = a.relevant, make(map[*slide.Piece]*relevance, maxRelevant)
	}
	a.relevant[piece] = r
}

// topSlot returns the highest slot the end e reaches at draw d, or -1.
func topSlot(e slide.Affine, d slide.Draw, p Profile) int {
	if v := e.At(d); v > int64(p.RangesStart) {
		return min(int((uint64(v)-uint64(p.RangesStart)+p.Granule-1)/p.Granule)-1, p.Slots()-1)
	}
	return -1
}

// cell adds a cell's draws. When no boundary that matters crosses a slot
// edge anywhere in the rectangle (checked at its corners, where affine
// boundaries take their extreme values), one evaluation serves every
// draw; otherwise each row is split where a boundary crosses.
func (a *jointAcc) cell(c slide.Cell) error {
	rel := a.relevanceOf(c.Piece)
	if c.ALo < c.AHi {
		if a.uniform(rel, c.Corners(a.in)) {
			a.evaluate(rel, c.Fixed)
			a.add(c.Draws())
			return nil
		}
		for k := c.ALo; k <= c.AHi; k++ {
			a.row(rel, c.Row(a.in, k))
		}
		return nil
	}
	a.row(rel, c)
	return nil
}

// uniform reports whether every relevant boundary reaches the same slots
// at the four corners, and so throughout.
func (a *jointAcc) uniform(rel *relevance, corners [4]slide.Draw) bool {
	p := a.p
	if rel.prefix {
		for _, e := range rel.tops {
			k := topSlot(e, corners[0], p)
			for _, d := range corners[1:] {
				if topSlot(e, d, p) != k {
					return false
				}
			}
		}
		return true
	}
	for _, m := range rel.ms {
		if m.Start.IsConst() && m.End.IsConst() {
			continue
		}
		lo, hi, ok := p.SlotsOverlapping(rangeAt(m, corners[0]))
		for _, d := range corners[1:] {
			lo2, hi2, ok2 := p.SlotsOverlapping(rangeAt(m, d))
			if ok != ok2 || ok && (lo != lo2 || hi != hi2) {
				return false
			}
		}
	}
	return true
}

func rangeAt(m span, d slide.Draw) vaspace.Range {
	return vaspace.Range{Start: vaspace.Addr(m.Start.At(d)), End: vaspace.Addr(m.End.At(d))}
}

// evaluate sets a.ranges to the colliding slots at draw d.
func (a *jointAcc) evaluate(rel *relevance, d slide.Draw) {
	a.ranges = a.ranges[:0]
	if rel.prefix {
		k := -1
		for _, e := range rel.tops {
			k = max(k, topSlot(e, d, a.p))
		}
		if k >= 0 {
			a.ranges = append(a.ranges, [2]int{0, k})
		}
		return
	}
	a.ranges = collidingRangesInto(a.ranges, rel.ms, d, a.p)
}

// row adds a one-deep cell, split where a boundary crosses a slot edge
// along it.
func (a *jointAcc) row(rel *relevance, c slide.Cell) {
	p, v := a.p, c.Along
	xs := a.in[v].Values
	d := c.Fixed
	lo, hi := d, d
	lo[v], hi[v] = xs[c.Lo], xs[c.Hi]
	if a.uniform(rel, [4]slide.Draw{lo, hi, lo, hi}) {
		a.evaluate(rel, lo)
		a.add(uint64(c.Hi - c.Lo + 1))
		return
	}
	ms := rel.ms
	// Otherwise split xs[Lo..Hi] where a boundary crosses a slot edge: a
	// cut x means the colliding set may differ between draws below x and
	// at or above it.
	bounds := []int{c.Lo, c.Hi + 1}
	for _, m := range ms {
		for _, f := range []struct {
			a    slide.Affine
			base int64
		}{{m.End, int64(p.RangesStart)}, {m.Start, int64(p.RangesStart) + int64(p.Reservation())}} {
			k := f.a.K[v]
			if k == 0 {
				continue
			}
			d[v] = 0
			v0 := f.a.At(d)
			va, vb := v0+k*xs[c.Lo], v0+k*xs[c.Hi]
			lo, hi := min(va, vb), max(va, vb)
			g := int64(p.Granule)
			for j := slide.FloorDiv(lo-f.base, g); f.base+j*g <= hi; j++ {
				x := slide.FloorDiv(f.base+j*g-v0, k)
				for _, cut := range []int64{x, x + 1} {
					if i := sort.Search(len(xs), func(i int) bool { return xs[i] >= cut }); i > c.Lo && i <= c.Hi {
						bounds = append(bounds, i)
					}
				}
			}
		}
	}
	sort.Ints(bounds)
	for bi := 0; bi+1 < len(bounds); bi++ {
		i, next := bounds[bi], bounds[bi+1]
		if i == next {
			continue
		}
		d[v] = xs[i]
		a.ranges = collidingRangesInto(a.ranges[:0], ms, d, p)
		a.add(uint64(next - i))
	}
}

// collidingRangesInto appends to out the merged runs of slots that the
// mappings ms, evaluated at draw d, make collide.
func collidingRangesInto(out [][2]int, ms []span, d slide.Draw, p Profile) [][2]int {
	start := len(out)
	for _, m := range ms {
		r := vaspace.Range{Start: vaspace.Addr(m.Start.At(d)), End: vaspace.Addr(m.End.At(d))}
		if lo, hi, ok := p.SlotsOverlapping(r); ok {
			out = append(out, [2]int{lo, hi})
		}
	}
	rs := out[start:]
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	merged := out[:start]
	for _, r := range rs {
		if n := len(merged); n > start && r[0] <= merged[n-1][1]+1 {
			merged[n-1][1] = max(merged[n-1][1], r[1])
		} else {
			merged = append(merged, r)
		}
	}
	return merged
}

func slotCount(ranges [][2]int) int {
	n := 0
	for _, r := range ranges {
		n += r[1] - r[0] + 1
	}
	return n
}

// JointMonteCarlo estimates the same probability by sampling n launches:
// a uniform placement draw, a full simulated launch, and a uniform 32-bit
// entropy value. It exists to cross-check JointAnalyze; its cost is n full
// launches.
func JointMonteCarlo(l slide.Layouts, p Profile, n int, rng *rand.Rand) (crashes int, err error) {
	in := l.Inputs()
	for i := 0; i < n; i++ {
		var d slide.Draw
		for v, x := range in {
			d[v] = x.Values[rng.IntN(len(x.Values))]
		}
		s, err := l.Place(d)
		if err != nil {
			return crashes, err
		}
		k := int(rng.Uint64N(p.EntropyValues()) % uint64(p.Slots()))
		if p.ZeroEntropy {
			k = 0
		}
		if !s.IsFree(p.SlotRange(k)) {
			crashes++
		}
	}
	return crashes, nil
}

// MonteCarlo estimates a fixed layout's crash probability by drawing n
// uniform 32-bit entropy values and trying each slot's reservation. It is
// the sampling baseline Analyze is compared with; Analyze is exact and
// cheaper.
func MonteCarlo(s *vaspace.Space, p Profile, n int, rng *rand.Rand) (crashes int) {
	slots := uint64(p.Slots())
	for i := 0; i < n; i++ {
		k := int(rng.Uint64N(p.EntropyValues()) % slots)
		if p.ZeroEntropy {
			k = 0
		}
		if !s.IsFree(p.SlotRange(k)) {
			crashes++
		}
	}
	return crashes
}
