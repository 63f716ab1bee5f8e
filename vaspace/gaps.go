package vaspace

// The free-space index.
//
// google/btree keeps no per-node summary, so a gap search over the mapping
// tree alone walks every gap between the hint and the answer: placing n
// mappings top-down then costs O(n^2). Linux's maple tree and gVisor's
// pkg/segment solve this by storing, in every internal node, the largest gap
// in that subtree (linux-placement.md §9). We cannot add a field to
// google/btree's nodes, so the summary lives beside it: a treap of the
// maximal free ranges ("gaps"), keyed by start address, in which every node
// records the largest gap length in its subtree.
//
// The treap is persistent: nodes are never modified after construction, and
// an update copies only the O(log n) nodes on the paths it touches. A clone
// of a Space therefore shares the whole index by copying one pointer, which
// matches google/btree's lazy copy-on-write Clone.
//
// Priorities are a hash of the gap's start address, so the shape (and every
// result) is a deterministic function of the set of gaps.

type gapNode struct {
	gap         Range
	prio        uint64
	maxLen      uint64 // largest gap.Len() in this subtree
	left, right *gapNode
}

// mix is SplitMix64's finaliser: a bijective hash with good avalanche, used
// for treap priorities.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newGapNode(g Range) *gapNode {
	return &gapNode{gap: g, prio: mix(uint64(g.Start)), maxLen: g.Len()}
}

// with returns a copy of n with new children and a recomputed summary.
func (n *gapNode) with(left, right *gapNode) *gapNode {
	c := &gapNode{gap: n.gap, prio: n.prio, maxLen: n.gap.Len(), left: left, right: right}
	if left != nil && left.maxLen > c.maxLen {
		c.maxLen = left.maxLen
	}
	if right != nil && right.maxLen > c.maxLen {
		c.maxLen = right.maxLen
	}
	return c
}

// splitGaps divides n into gaps starting before k and gaps starting at or
// after k.
func splitGaps(n *gapNode, k Addr) (lt, ge *gapNode) {
	if n == nil {
		return nil, nil
	}
	if n.gap.Start < k {
		a, b := splitGaps(n.right, k)
		return n.with(n.left, a), b
	}
	a, b := splitGaps(n.left, k)
	return a, n.with(b, n.right)
}

// mergeGaps joins two treaps where every gap in l starts before every gap
// in r.
func mergeGaps(l, r *gapNode) *gapNode {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.prio > r.prio:
		return l.with(l.left, mergeGaps(l.right, r))
	default:
		return r.with(mergeGaps(l, r.left), r.right)
	}
}

// floorGap returns the gap with the greatest start <= a.
func floorGap(n *gapNode, a Addr) (Range, bool) {
	var best Range
	found := false
	for n != nil {
		if n.gap.Start <= a {
			best, found = n.gap, true
			n = n.right
		} else {
			n = n.left
		}
	}
	return best, found
}

// eachGap calls yield, in address order, for every gap that overlaps w,
// clipped to w. It stops when yield returns false and reports whether it
// ran to completion.
func eachGap(n *gapNode, w Range, yield func(Range) bool) bool {
	if n == nil {
		return true
	}
	// Gaps in the left subtree end before n.gap.Start; those in the right
	// start after n.gap.End.
	if n.gap.Start > w.Start && !eachGap(n.left, w, yield) {
		return false
	}
	if c := n.gap.Intersect(w); !c.IsEmpty() && !yield(c) {
		return false
	}
	if n.gap.End < w.End {
		return eachGap(n.right, w, yield)
	}
	return true
}

// countGaps returns the number of gaps in the treap (for Check).
func countGaps(n *gapNode) int {
	if n == nil {
		return 0
	}
	return 1 + countGaps(n.left) + countGaps(n.right)
}

// checkGaps verifies the treap's order, heap and summary invariants and
// appends the gaps in order to out.
func checkGaps(n *gapNode, out []Range) ([]Range, error) {
	if n == nil {
		return out, nil
	}
	var err error
	if out, err = checkGaps(n.left, out); err != nil {
		return nil, err
	}
	want := n.gap.Len()
	for _, c := range []*gapNode{n.left, n.right} {
		if c == nil {
			continue
		}
		if c.prio > n.prio {
			return nil, errorf("gap index: heap order broken at %v", n.gap)
		}
		want = max(want, c.maxLen)
	}
	if n.maxLen != want {
		return nil, errorf("gap index: node %v records max gap %#x, subtree has %#x", n.gap, n.maxLen, want)
	}
	if n.prio != mix(uint64(n.gap.Start)) {
		return nil, errorf("gap index: node %v has a stale priority", n.gap)
	}
	out = append(out, n.gap)
	return checkGaps(n.right, out)
}

// fit describes one placement search, already validated and normalised.
type fit struct {
	size   uint64 // bytes to place, > 0
	mask   uint64 // alignment - 1
	offset uint64 // wanted start modulo alignment
	window Range  // the placement must lie inside it
}

// alignUp returns the lowest address >= a that is congruent to f.offset
// modulo the alignment.
func (f *fit) alignUp(a Addr) (Addr, bool) {
	delta := (f.offset - uint64(a)) & f.mask
	return a.Add(delta)
}

// placeLow returns the lowest aligned start in gap g (clipped to the
// window) where f.size bytes fit.
func (f *fit) placeLow(g Range) (Addr, bool) {
	c := g.Intersect(f.window)
	if c.Len() < f.size {
		return 0, false
	}
	s, ok := f.alignUp(c.Start)
	if !ok {
		return 0, false
	}
	e, ok := s.Add(f.size)
	return s, ok && e <= c.End
}

// firstFit returns the lowest placement over all gaps, pruning every
// subtree whose largest gap is smaller than the request. A subtree that lies
// inside the window and holds a gap of at least size+mask bytes always
// contains a fit, so only the two window-boundary paths and gaps whose
// length lies in [size, size+mask) are visited without success: O(log n)
// expected for page-granular alignment.
func (f *fit) firstFit(n *gapNode) (Addr, bool) {
	if n == nil || n.maxLen < f.size {
		return 0, false
	}
	if n.gap.Start > f.window.Start {
		if a, ok := f.firstFit(n.left); ok {
			return a, true
		}
	}
	if n.gap.Start >= f.window.End {
		return 0, false
	}
	if a, ok := f.placeLow(n.gap); ok {
		return a, true
	}
	if n.gap.End < f.window.End {
		return f.firstFit(n.right)
	}
	return 0, false
}

// highestGap returns the highest gap whose part inside the window is at
// least length bytes long, clipped to the window: the maple tree's reverse
// empty-area walk (mas_empty_area_rev) that Linux unmapped_area_topdown
// performs. Expected O(log n).
func highestGap(n *gapNode, window Range, length uint64) (Range, bool) {
	if n == nil || n.maxLen < length {
		return Range{}, false
	}
	if n.gap.End < window.End {
		if g, ok := highestGap(n.right, window, length); ok {
			return g, true
		}
	}
	if n.gap.End <= window.Start {
		return Range{}, false
	}
	if c := n.gap.Intersect(window); c.Len() >= length {
		return c, true
	}
	if n.gap.Start > window.Start {
		return highestGap(n.left, window, length)
	}
	return Range{}, false
}
