package xzone

import (
	"fmt"
	"math/big"

	"github.com/vasim/vasim/vaspace"
)

// Slot is the outcome of one candidate reservation.
type Slot struct {
	// Index is k, the entropy residue that selects this slot.
	Index int
	// Reservation is [ptr_start, ptr_start+R).
	Reservation vaspace.Range
	// Weight is how many entropy values select this slot.
	Weight uint64
	// Hit is the lowest mapping inside Reservation, which makes the fixed
	// mapping fail; nil when the slot is free and the launch survives.
	Hit *vaspace.Mapping
}

// OK reports whether the reservation succeeds in this slot.
func (s Slot) OK() bool { return s.Hit == nil }

// Result is the outcome of Analyze: every slot, which collide, and the
// chance that a launch with this layout aborts in __malloc_init.
type Result struct {
	Profile Profile
	// Slots holds one entry per candidate slot, in order.
	Slots []Slot
	// Colliding lists the indices of the slots whose reservation fails.
	Colliding []int
	// Crash is the exact probability over the entropy, counting the bias
	// of 2^32 mod slots: (sum of colliding weights) / 2^EntropyBits. With
	// Profile.ZeroEntropy it is 1 or 0 (slot 0 always).
	Crash *big.Rat
	// Probability is Crash as a float64.
	Probability float64
	// Culprits are the mappings hit by at least one slot, in address
	// order: what would have to move for the launch never to crash.
	Culprits []vaspace.Mapping
	// Headroom is how many bytes the mapping just below the lowest free
	// slot may grow upward before that slot collides too; Below is that
	// mapping (nil if none lies below it). Zero when no slot is free.
	Headroom uint64
	Below    *vaspace.Mapping
	// Excess is how far the highest culprit reaches into the window:
	// the layout must shrink (or move) by this many bytes below
	// RangesStart for no slot to collide. Zero when none collides.
	Excess uint64
	// IDCacheMayReach reports that no IDCacheSize bytes are free between
	// Profile.IDCacheHintTop and the window, so libmalloc's reclaim ID
	// cache, which the models do not place, may land in the window and
	// make more slots collide than Colliding lists.
	IDCacheMayReach bool
}

// Analyze replays the reservation over the layout s for every slot. It
// sweeps the mappings inside the profile's window once in address order,
// so it costs O(slots + mappings in the window), not their product.
func Analyze(s *vaspace.Space, p Profile) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	n := p.Slots()
	r := p.Reservation()
	w := p.Window()
	var ms []vaspace.Mapping
	for m := range s.Overlapping(w) {
		ms = append(ms, m)
	}
	res := &Result{Profile: p, Slots: make([]Slot, n)}
	var weight uint64
	i := 0
	for k := 0; k < n; k++ {
		start := p.SlotStart(k)
		slot := Slot{Index: k, Reservation: vaspace.Range{Start: start, End: start + vaspace.Addr(r)}, Weight: p.SlotWeight(k)}
		// Mappings are sorted and disjoint, so their ends increase too: the
		// first one ending above this slot's start only moves forward.
		for i < len(ms) && ms[i].End <= start {
			i++
		}
		if i < len(ms) && ms[i].Start < slot.Reservation.End {
			hit := ms[i]
			slot.Hit = &hit
			res.Colliding = append(res.Colliding, k)
			weight += slot.Weight
		}
		res.Slots[k] = slot
	}
	res.finish(s, weight)
	return res, nil
}

// AnalyzeBruteForce checks every slot with its own overlap query. It is
// the definition Analyze must agree with, kept for tests and for the
// benchmarks that compare the two.
func AnalyzeBruteForce(s *vaspace.Space, p Profile) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Profile: p, Slots: make([]Slot, p.Slots())}
	var weight uint64
	for k := range res.Slots {
		slot := Slot{Index: k, Reservation: p.SlotRange(k), Weight: p.SlotWeight(k)}
		for m := range s.Overlapping(slot.Reservation) {
			hit := m
			slot.Hit = &hit
			res.Colliding = append(res.Colliding, k)
			weight += slot.Weight
			break
		}
		res.Slots[k] = slot
	}
	res.finish(s, weight)
	return res, nil
}

// finish derives the probability, culprits, headroom and excess.
func (res *Result) finish(s *vaspace.Space, weight uint64) {
	res.IDCacheMayReach = idCacheMayReach(s, res.Profile)
	p := res.Profile
	if p.ZeroEntropy {
		weight = 0
		if !res.Slots[0].OK() {
			weight = p.EntropyValues()
		}
	}
	res.Crash = p.exactFraction(weight)
	res.Probability, _ = res.Crash.Float64()

	// Culprits: the mappings in the window that some colliding slot
	// overlaps, in address order.
	if len(res.Colliding) > 0 {
		first := res.Slots[res.Colliding[0]].Reservation.Start
		last := res.Slots[res.Colliding[len(res.Colliding)-1]].Reservation.End
		// prefix[k] counts colliding slots below k, so "does any slot in
		// [lo, hi] collide" is one subtraction.
		prefix := make([]int, len(res.Slots)+1)
		for k, slot := range res.Slots {
			prefix[k+1] = prefix[k]
			if !slot.OK() {
				prefix[k+1]++
			}
		}
		for m := range s.Overlapping(vaspace.Range{Start: first, End: last}) {
			if lo, hi, ok := p.SlotsOverlapping(m.Range); ok && prefix[hi+1] > prefix[lo] {
				res.Culprits = append(res.Culprits, m)
			}
		}
		if top := res.Culprits[len(res.Culprits)-1].End; top > p.RangesStart {
			res.Excess = uint64(top - p.RangesStart)
		}
	}

	// Headroom: the lowest free slot and the mapping just below it.
	for _, slot := range res.Slots {
		if !slot.OK() {
			continue
		}
		start := slot.Reservation.Start
		if m, ok := s.Before(start); ok {
			res.Below = &m
			res.Headroom = uint64(start - m.End)
		} else {
			res.Headroom = uint64(start - min(start, s.Bounds().Start))
		}
		break
	}
}

// Culprit is one image (or, for mappings of no image, one mapping) that
// overlaps some colliding slot's reservation.
type Culprit struct {
	// Name is the image's owner name, or the mapping's name.
	Name string
	// Range spans the image's mappings that lie in colliding slots.
	Range vaspace.Range
	// FirstHit lists the slots whose lowest hit belongs to this image:
	// the mapping XNU's fixed mapping runs into first.
	FirstHit []int
	// Image reports whether these are an image's segments or reservation
	// (vaspace.KindImage, KindReservation), rather than other memory such
	// as an allocator's region.
	Image bool
}

// CulpritImages groups Culprits by image, in address order: the images to
// move (for example, to load with dlopen after launch, once the
// reservation is made) for the launch never to crash.
func (res *Result) CulpritImages() []Culprit {
	var out []Culprit
	index := map[string]int{}
	key := func(m vaspace.Mapping) string {
		if m.Owner != "" {
			return m.Owner
		}
		return m.Name
	}
	for _, m := range res.Culprits {
		k := key(m)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Culprit{Name: k, Range: m.Range})
		}
		if m.Kind == vaspace.KindImage || m.Kind == vaspace.KindReservation {
			out[i].Image = true
		}
		out[i].Range.Start = min(out[i].Range.Start, m.Start)
		out[i].Range.End = max(out[i].Range.End, m.End)
	}
	for _, k := range res.Colliding {
		if i, ok := index[key(*res.Slots[k].Hit)]; ok {
			out[i].FirstHit = append(out[i].FirstHit, k)
		}
	}
	return out
}

// Fraction formats the crash probability as colliding slots over all
// slots, the way the public report states it ("15/736").
func (res *Result) Fraction() string {
	return fmt.Sprintf("%d/%d", len(res.Colliding), len(res.Slots))
}

// CollidingRanges returns the colliding slots as inclusive runs
// ([[0 14]] for "slots 0-14"), for reports.
func (res *Result) CollidingRanges() [][2]int {
	var out [][2]int
	for _, k := range res.Colliding {
		if n := len(out); n > 0 && out[n-1][1] == k-1 {
			out[n-1][1] = k
		} else {
			out = append(out, [2]int{k, k})
		}
	}
	return out
}

// idCacheMayReach reports that no p.IDCacheSize bytes are free, at a
// page boundary, between p.IDCacheHintTop and the window.
func idCacheMayReach(s *vaspace.Space, p Profile) bool {
	if p.IDCacheSize == 0 || p.IDCacheHintTop >= p.RangesStart {
		return false
	}
	pg := vaspace.Addr(s.PageSize())
	for g := range s.Gaps(vaspace.Range{Start: p.IDCacheHintTop, End: p.RangesStart}) {
		start := g.Start
		if pg > 0 {
			start = (start + pg - 1) / pg * pg
		}
		if start < g.End && uint64(g.End-start) >= p.IDCacheSize {
			return false
		}
	}
	return true
}
