// Package reserve computes, exactly, how often a program's randomised
// Linux layout is in the way of the fixed address ranges it needs:
// sanitizer shadow memory (ThreadSanitizer, MemorySanitizer,
// AddressSanitizer), emulator and JIT reservations. A launch fails when a
// mapping that exists when main starts overlaps a range that must be free,
// or lies outside the ranges the program's mappings must stay in (a
// sanitizer's application ranges: TSan's "unexpected memory mapping",
// MSan's "out of application range").
//
// The probability is a ratio of counts of the kernel's equally likely
// draws, not a sample: package linux gives the layout as three groups,
// each moved rigidly by its own draw (the executable by the PIE draw, the
// mmap region by the mmap draw, the stack by the stack draws), and for a
// rigid group the draws that put a mapping in the way form intervals.
package reserve

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"

	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/vaspace"
)

// Range is an address range with a name for reports.
type Range struct {
	vaspace.Range
	Name string
}

// Spec says what the program needs of the address space.
type Spec struct {
	// Free ranges must not overlap any mapping.
	Free []Range
	// Allowed, when not empty, are the ranges every mapping must lie in
	// (whole mappings; one that straddles two adjacent allowed ranges
	// counts as inside).
	Allowed []Range
}

// ErrSpec classifies a specification that cannot be analysed.
var ErrSpec = errors.New("reserve: bad specification")

// Validate checks the ranges.
func (s Spec) Validate() error {
	for _, list := range [][]Range{s.Free, s.Allowed} {
		for _, r := range list {
			if r.IsEmpty() || !r.WellFormed() {
				return fmt.Errorf("%w: range %q %v is empty", ErrSpec, r.Name, r.Range)
			}
		}
	}
	if len(s.Free) == 0 && len(s.Allowed) == 0 {
		return fmt.Errorf("%w: no ranges to check", ErrSpec)
	}
	return nil
}

// Culprit is a mapping that can be in the way.
type Culprit struct {
	// Mapping is the image (its segments' span, named by its first) or
	// other mapping, where it is at the zero draw. Mappings that are not
	// image segments are culprits one by one, each with its own range
	// (ld.so's malloc chunks: Owner names ld.so), even when they share a
	// name.
	Mapping vaspace.Mapping
	// Group is what moves it.
	Group linux.Group
	// Range is the free range it can overlap, or Outside when it can leave
	// the allowed ranges.
	Range   string
	Outside bool
	// Probability is the fraction of launches in which this mapping is in
	// the way (whatever the others do).
	Probability *big.Rat
}

// Result is the analysis at one mmap_rnd_bits.
type Result struct {
	// Bits is the mmap_rnd_bits analysed.
	Bits int
	// Probability is the exact fraction of launches that fail.
	Probability *big.Rat
	// Groups gives each group's own failure probability.
	Groups map[linux.Group]*big.Rat
	// Culprits lists the mappings that can be in the way, most likely
	// first.
	Culprits []Culprit
}

// Float returns the probability as a float64.
func (r *Result) Float() float64 {
	f, _ := r.Probability.Float64()
	return f
}

// Analyze computes the failure probability of the launch v describes at
// its kernel's mmap_rnd_bits.
func Analyze(v *linux.Variation, spec Spec) (*Result, error) {
	return AnalyzeBits(v, spec, v.Kernel.MmapRndBits)
}

// AnalyzeBits is Analyze with mmap_rnd_bits set to bits (within what the
// architecture accepts): the PIE and mmap draws then range over 2^bits
// values; the layouts are the same.
func AnalyzeBits(v *linux.Variation, spec Spec, bits int) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	lo, hi := v.Kernel.RndBitsRange()
	if bits < lo || bits > hi {
		return nil, fmt.Errorf("%w: mmap_rnd_bits %d: %v accepts %d..%d", ErrSpec, bits, v.Kernel.Arch, lo, hi)
	}
	res := &Result{Bits: bits, Groups: map[linux.Group]*big.Rat{}}
	draws := uint64(1) << bits
	ok := big.NewRat(1, 1)
	// run adds a group: its trials (a residue, or an extent and alignment
	// of the stack) each weigh weight and give, for a condition, the
	// draws of the trial's own index that meet it.
	run := func(g linux.Group, trials []trial, total *big.Int) {
		bad := new(big.Int)
		per := map[string]*culpritAcc{}
		var keys []string
		// at0 is each culprit identity's mapping at the zero draw (the
		// first trial): an image's span, or the mapping itself.
		at0 := map[string]vaspace.Mapping{}
		for _, t := range trials {
			if !t.first {
				continue
			}
			ids := culpritIDs(t.ms)
			for i, m := range t.ms {
				if a, ok := at0[ids[i]]; ok {
					a.Start, a.End = min(a.Start, m.Start), max(a.End, m.End)
					at0[ids[i]] = a
				} else {
					at0[ids[i]] = m
				}
			}
		}
		for _, t := range trials {
			var all intervals
			own := map[string]intervals{}
			ids := culpritIDs(t.ms)
			for i, m := range t.ms {
				for _, c := range conditions(spec, m) {
					iv := t.index(c)
					if len(iv) == 0 {
						continue
					}
					key := ids[i] + "\x00" + c.rng
					if _, seen := per[key]; !seen {
						shown, ok := at0[ids[i]]
						if !ok {
							shown = m
						}
						per[key] = &culpritAcc{c: c, m: shown, w: new(big.Int)}
						keys = append(keys, key)
					}
					own[key] = append(own[key], iv...)
					all = append(all, iv...)
				}
			}
			for key, iv := range own {
				n := new(big.Int).SetUint64(iv.count())
				per[key].w.Add(per[key].w, n.Mul(n, t.weight))
			}
			n := new(big.Int).SetUint64(all.count())
			bad.Add(bad, n.Mul(n, t.weight))
		}
		for _, key := range keys {
			a := per[key]
			res.Culprits = append(res.Culprits, a.c.culprit(a.m, g, new(big.Rat).SetFrac(a.w, total)))
		}
		p := new(big.Rat).SetFrac(bad, total)
		res.Groups[g] = p
		ok.Mul(ok, new(big.Rat).Sub(big.NewRat(1, 1), p))
	}
	one := big.NewInt(1)
	// Fixed mappings: in the way always or never.
	if len(v.Fixed) > 0 {
		run(linux.GroupFixed, []trial{{ms: v.Fixed, weight: one, first: true, index: func(c condition) intervals {
			if c.holds(0) {
				return intervals{{0, 0}}
			}
			return nil
		}}}, one)
	}
	// The executable: a monotone step function of the PIE draw.
	if g := v.Exec; g != nil {
		shift := func(p uint64) int64 { return int64(g.Shift(p)) }
		run(linux.GroupExec, []trial{{ms: g.Mappings, weight: one, first: true, index: func(c condition) intervals {
			return c.monotone(shift, draws)
		}}}, new(big.Int).SetUint64(draws))
	}
	// The mmap region: per residue, a linear function of the quotient.
	if g := v.Mmap; g != nil {
		if draws < g.Period {
			return nil, fmt.Errorf("%w: %d bits give fewer mmap draws than the %d residues of the alignment", ErrSpec, bits, g.Period)
		}
		quotients := draws / g.Period
		step := int64(g.Period * g.PageSize)
		if g.Down {
			step = -step
		}
		var trials []trial
		for r, ms := range g.Residues {
			trials = append(trials, trial{ms: ms, weight: one, first: r == 0, index: func(c condition) intervals { return c.linear(step, quotients) }})
		}
		run(linux.GroupMmap, trials, new(big.Int).SetUint64(draws))
	}
	// The stack: the top moves down by s + a pages, s uniform, a and the
	// extent weighted.
	if g := v.Stack; g != nil {
		var wsum uint64
		for _, w := range g.AlignWeights {
			wsum += w
		}
		total := new(big.Int).SetUint64(g.StackDraws)
		total.Mul(total, new(big.Int).SetUint64(wsum))
		total.Mul(total, new(big.Int).SetUint64(g.SPDraws))
		var trials []trial
		for _, e := range g.Extents {
			for a, w := range g.AlignWeights {
				if w == 0 {
					continue
				}
				top := g.Top - uint64(a)*g.PageSize
				m := vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(top - e.Size), End: vaspace.Addr(top)}, Name: g.Name, Prot: g.Prot, Kind: vaspace.KindStack}
				weight := new(big.Int).Mul(new(big.Int).SetUint64(w), new(big.Int).SetUint64(e.Count))
				trials = append(trials, trial{ms: []vaspace.Mapping{m}, weight: weight, first: len(trials) == 0, index: func(c condition) intervals {
					return c.linear(-int64(g.PageSize), g.StackDraws)
				}})
			}
		}
		run(linux.GroupStack, trials, total)
	}
	res.Probability = new(big.Rat).Sub(big.NewRat(1, 1), ok)
	sort.SliceStable(res.Culprits, func(i, j int) bool {
		return res.Culprits[i].Probability.Cmp(res.Culprits[j].Probability) > 0
	})
	return res, nil
}

// culpritIDs names what each of ms (in address order) is reported as: an
// image segment by its image (the segments of one image are one culprit,
// their span); any other mapping by its run, the adjacent mappings of the
// same name, owner, kind and protection that /proc/PID/maps shows as one
// line, numbered among the runs of that name in address order. So each
// piece of ld.so's malloc is a culprit of its own with its own range, and
// the same piece has the same identity in every trial of a group (its
// residues, its stack extents).
func culpritIDs(ms []vaspace.Mapping) []string {
	ids := make([]string, len(ms))
	nth := map[string]int{}
	for i, m := range ms {
		if m.Kind == vaspace.KindImage && m.Owner != "" {
			ids[i] = "image\x00" + m.Owner
			continue
		}
		if i > 0 {
			p := ms[i-1]
			if p.End == m.Start && p.Name == m.Name && p.Owner == m.Owner && p.Kind == m.Kind && p.Prot == m.Prot {
				ids[i] = ids[i-1]
				continue
			}
		}
		ids[i] = fmt.Sprintf("%s\x00%d", m.Name, nth[m.Name])
		nth[m.Name]++
	}
	return ids
}

// trial is one case of a group's draws with its weight: its mappings and
// how a condition maps to the draws of the trial's index.
type trial struct {
	ms     []vaspace.Mapping
	weight *big.Int
	index  func(condition) intervals
	// first marks the trial whose mappings culprits are reported with
	// (the zero draw's).
	first bool
}

// Sweep analyses every mmap_rnd_bits the architecture accepts.
func Sweep(v *linux.Variation, spec Spec) ([]*Result, error) {
	lo, hi := v.Kernel.RndBitsRange()
	var out []*Result
	for b := lo; b <= hi; b++ {
		r, err := AnalyzeBits(v, spec, b)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// condition is one way a mapping can be in the way, as a set of
// displacements: an overlap with a free range, or leaving the allowed
// ranges.
type condition struct {
	// bad holds the displacements (added to the mapping's addresses)
	// that put the mapping in the way, as closed intervals.
	bad     intervals
	rng     string
	outside bool
}

func (c condition) holds(d int64) bool { return c.bad.contains(d) }

func (c condition) culprit(m vaspace.Mapping, g linux.Group, p *big.Rat) Culprit {
	return Culprit{Mapping: m, Group: g, Range: c.rng, Outside: c.outside, Probability: p}
}

// maxAddr bounds the arithmetic: every user address is below 2^62.
const maxAddr = int64(1) << 62

// conditions returns the ways m can be in the way.
func conditions(spec Spec, m vaspace.Mapping) []condition {
	var out []condition
	start, end := clampAddr(m.Start), clampAddr(m.End)
	for _, f := range spec.Free {
		// overlap: start+d < f.End and end+d > f.Start.
		lo, hi := clampAddr(f.Start)-end+1, clampAddr(f.End)-start-1
		if lo <= hi {
			out = append(out, condition{bad: intervals{{lo, hi}}, rng: f.Name})
		}
	}
	if len(spec.Allowed) > 0 && m.Name != "[vsyscall]" {
		// inside: the mapping lies in a union of adjacent allowed ranges.
		var inside intervals
		for _, a := range mergeAdjacent(spec.Allowed) {
			lo, hi := clampAddr(a.Start)-start, clampAddr(a.End)-end
			if lo <= hi {
				inside = append(inside, [2]int64{lo, hi})
			}
		}
		out = append(out, condition{bad: inside.complement(-maxAddr, maxAddr), rng: "outside the allowed ranges", outside: true})
	}
	return out
}

func clampAddr(a vaspace.Addr) int64 {
	if uint64(a) >= uint64(maxAddr) {
		return maxAddr
	}
	return int64(a)
}

// mergeAdjacent joins allowed ranges that touch or overlap.
func mergeAdjacent(rs []Range) []vaspace.Range {
	var out []vaspace.Range
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b Range) int {
		if a.Start < b.Start {
			return -1
		}
		if a.Start > b.Start {
			return 1
		}
		return 0
	})
	for _, r := range sorted {
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r.Range)
	}
	return out
}

// linear returns the indices q in [0, n) whose displacement q·step lies
// in the condition's bad set.
func (c condition) linear(step int64, n uint64) intervals {
	var out intervals
	for _, iv := range c.bad {
		lo, hi := iv[0], iv[1]
		var qlo, qhi int64
		if step > 0 {
			qlo, qhi = ceilDiv(lo, step), floorDiv(hi, step)
		} else {
			qlo, qhi = ceilDiv(hi, step), floorDiv(lo, step)
		}
		qlo, qhi = max(qlo, 0), min(qhi, int64(n)-1)
		if qlo <= qhi {
			out = append(out, [2]int64{qlo, qhi})
		}
	}
	return out
}

// monotone returns the indices p in [0, n) whose displacement shift(p)
// (non-decreasing in p) lies in the bad set, by binary search.
func (c condition) monotone(shift func(uint64) int64, n uint64) intervals {
	var out intervals
	for _, iv := range c.bad {
		// first p with shift(p) >= lo, first p with shift(p) > hi.
		first := sort.Search(int(n), func(p int) bool { return shift(uint64(p)) >= iv[0] })
		past := sort.Search(int(n), func(p int) bool { return shift(uint64(p)) > iv[1] })
		if first < past {
			out = append(out, [2]int64{int64(first), int64(past - 1)})
		}
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// intervals is a set of closed integer intervals (possibly overlapping).
type intervals [][2]int64

// normalized returns the disjoint, sorted union.
func (s intervals) normalized() intervals {
	c := slices.Clone(s)
	slices.SortFunc(c, func(a, b [2]int64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	var out intervals
	for _, iv := range c {
		if n := len(out); n > 0 && iv[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], iv[1])
			continue
		}
		out = append(out, iv)
	}
	return out
}

// count returns how many integers the union holds.
func (s intervals) count() uint64 {
	var n uint64
	for _, iv := range s.normalized() {
		n += uint64(iv[1]-iv[0]) + 1
	}
	return n
}

func (s intervals) contains(x int64) bool {
	for _, iv := range s {
		if iv[0] <= x && x <= iv[1] {
			return true
		}
	}
	return false
}

// complement returns [lo, hi] less the union.
func (s intervals) complement(lo, hi int64) intervals {
	var out intervals
	cur := lo
	for _, iv := range s.normalized() {
		if iv[0] > cur {
			out = append(out, [2]int64{cur, min(iv[0]-1, hi)})
		}
		cur = max(cur, iv[1]+1)
		if cur > hi {
			return out
		}
	}
	if cur <= hi {
		out = append(out, [2]int64{cur, hi})
	}
	return out
}

// culpritAcc accumulates one mapping's weighted count.
type culpritAcc struct {
	c condition
	m vaspace.Mapping
	w *big.Int
}
