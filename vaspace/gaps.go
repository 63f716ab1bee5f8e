package vaspace

// The free-space index.
//
// google/btree keeps no per-node summary, so a gap search over the mapping
// tree alone walks every gap between the hint and the answer: placing n
// mappings top-down then costs O(n^2). Linux's maple tree and gVisor's
// pkg/segment solve this by storing, in every internal node, the largest gap
// in each child's subtree (Linux lib/maple_tree.c MT_FLAGS_ALLOC_RANGE;
// gVisor pkg/segment). We cannot add a field to
// google/btree's nodes, so the summary lives beside them: a small B+tree of
// the maximal free ranges ("gaps") in address order, whose internal nodes
// record, per child, the lowest gap start and the largest gap length in that
// child's subtree. A search skips every subtree whose largest gap is too
// small, so it visits O(log n) nodes of gapFan entries each.
//
// Copy-on-write, as google/btree does it: every node records the index that
// owns it, and an index changes its own nodes in place but copies a shared
// node (and so the path above it) before changing it. Forking an index
// gives both sides new owners, so after a Space.Clone every node is shared
// and each side copies what it writes; a long run of updates to one Space
// between clones allocates nothing.

const (
	// gapFan is the node capacity, as the maple tree's 16-slot leaves.
	gapFan = 16
	// gapMin is the fewest entries a non-root node keeps after a removal;
	// below it the node borrows from or merges with a sibling.
	gapMin = gapFan / 4
)

// gnode is a leaf (gaps) or an internal node (kids with their summaries).
type gnode struct {
	owner *gapOwner // the index allowed to change this node in place
	n     int
	leaf  bool
	// ent holds, in a leaf, the gaps in address order; in an internal
	// node, per child, the lowest gap start in its subtree (Start) and the
	// largest gap length in it (End). One array for both keeps the node
	// small, and a node is copied on every copy-on-write.
	ent  [gapFan]Range
	kids [gapFan]*gnode // internal: children in address order
}

// gapOwner identifies an index for copy-on-write. It has a field so that
// distinct owners have distinct addresses.
type gapOwner struct{ _ byte }

// mutable returns n itself if x owns it, or a copy that x owns.
func (x *gapIndex) mutable(n *gnode) *gnode {
	if n.owner == x.owner {
		return n
	}
	c := *n
	c.owner = x.owner
	return &c
}

// low returns the lowest gap start in the subtree; n must not be empty.
func (n *gnode) low() Addr {
	if n.leaf {
		return n.ent[0].Start
	}
	return n.ent[0].Start
}

// maxLen returns the largest gap length in the subtree.
func (n *gnode) maxLen() uint64 {
	var m uint64
	for i := 0; i < n.n; i++ {
		if n.leaf {
			m = max(m, n.ent[i].Len())
		} else {
			m = max(m, uint64(n.ent[i].End))
		}
	}
	return m
}

// setKid stores k as child i and refreshes its summary.
func (n *gnode) setKid(i int, k *gnode) {
	n.kids[i], n.ent[i] = k, Range{k.low(), Addr(k.maxLen())}
}

// kidFor returns the index of the child whose subtree would hold a gap
// starting at a: the last child whose lowest start is <= a, or 0.
func (n *gnode) kidFor(a Addr) int {
	i := 0
	for i+1 < n.n && n.ent[i+1].Start <= a {
		i++
	}
	return i
}

// gapIndex is the index of one Space.
type gapIndex struct {
	root  *gnode
	owner *gapOwner
}

func newGapIndex(bounds Range) gapIndex {
	x := gapIndex{owner: new(gapOwner)}
	x.root = &gnode{owner: x.owner, leaf: true, n: 1}
	x.root.ent[0] = bounds
	return x
}

// fork returns a copy of x sharing all its nodes; from then on neither x
// nor the copy changes a node in place. O(1).
func (x *gapIndex) fork() gapIndex {
	x.owner = new(gapOwner)
	return gapIndex{root: x.root, owner: new(gapOwner)}
}

// floor returns the gap with the greatest start <= a.
func (x *gapIndex) floor(a Addr) (Range, bool) {
	n := x.root
	for !n.leaf {
		if n.ent[0].Start > a {
			return Range{}, false
		}
		n = n.kids[n.kidFor(a)]
	}
	for i := n.n - 1; i >= 0; i-- {
		if n.ent[i].Start <= a {
			return n.ent[i], true
		}
	}
	return Range{}, false
}

// Gaps in one child end before the next child's lowest start (a mapping
// separates them), so child i lies entirely below address a when
// lo[i+1] <= a.
func (n *gnode) kidBelow(i int, a Addr) bool { return i+1 < n.n && n.ent[i+1].Start <= a }

// each calls yield, in address order, for every gap overlapping w, clipped
// to w; it reports false if yield stopped it.
func (n *gnode) each(w Range, yield func(Range) bool) bool {
	for i := 0; i < n.n; i++ {
		if n.leaf {
			g := n.ent[i]
			if g.Start >= w.End {
				return true
			}
			if c := g.Intersect(w); !c.IsEmpty() && !yield(c) {
				return false
			}
			continue
		}
		if n.kidBelow(i, w.Start) {
			continue
		}
		if n.ent[i].Start >= w.End {
			return true
		}
		if !n.kids[i].each(w, yield) {
			return false
		}
	}
	return true
}

// touching calls fn, in address order, for every gap that overlaps r or
// touches one of its ends (g.End >= r.Start and g.Start <= r.End).
func (n *gnode) touching(r Range, fn func(Range)) {
	for i := 0; i < n.n; i++ {
		if n.leaf {
			g := n.ent[i]
			if g.Start > r.End {
				return
			}
			if g.End >= r.Start {
				fn(g)
			}
			continue
		}
		if n.kidBelow(i, r.Start) {
			continue
		}
		if n.ent[i].Start > r.End {
			return
		}
		n.kids[i].touching(r, fn)
	}
}

// insert adds gap g, which must not overlap or touch any gap present.
func (x *gapIndex) insert(g Range) {
	n, split := x.insertGap(x.root, g)
	if split != nil {
		root := &gnode{owner: x.owner, n: 2}
		root.setKid(0, n)
		root.setKid(1, split)
		n = root
	}
	x.root = n
}

// insertGap returns a copy of n with g added and, if n overflowed, the new
// right sibling holding the upper half.
func (x *gapIndex) insertGap(n *gnode, g Range) (*gnode, *gnode) {
	c := x.mutable(n)
	if c.leaf {
		i := 0
		for i < c.n && c.ent[i].Start < g.Start {
			i++
		}
		return c.insertAt(i, func(d *gnode, j int) { d.ent[j] = g })
	}
	i := c.kidFor(g.Start)
	k, split := x.insertGap(c.kids[i], g)
	c.setKid(i, k)
	if split == nil {
		return c, nil
	}
	return c.insertAt(i+1, func(d *gnode, j int) { d.setKid(j, split) })
}

// insertAt opens slot i in c (shifting later entries up), lets put fill
// it, and splits c in two halves if it overflows.
func (c *gnode) insertAt(i int, put func(d *gnode, j int)) (*gnode, *gnode) {
	if c.n < gapFan {
		c.shiftUp(i)
		put(c, i)
		return c, nil
	}
	// Full: move the upper half to a new sibling, then insert into the
	// half that holds slot i.
	right := &gnode{owner: c.owner, leaf: c.leaf}
	half := gapFan / 2
	c.moveTail(half, right)
	if i <= half {
		c.shiftUp(i)
		put(c, i)
	} else {
		right.shiftUp(i - half)
		put(right, i-half)
	}
	return c, right
}

func (c *gnode) shiftUp(i int) {
	copy(c.ent[i+1:c.n+1], c.ent[i:c.n])
	copy(c.kids[i+1:c.n+1], c.kids[i:c.n])
	c.n++
}

func (c *gnode) shiftDown(i int) {
	copy(c.ent[i:c.n-1], c.ent[i+1:c.n])
	copy(c.kids[i:c.n-1], c.kids[i+1:c.n])
	c.n--
	c.ent[c.n], c.kids[c.n] = Range{}, nil
}

// moveTail moves entries [from, c.n) of c to the end of d.
func (c *gnode) moveTail(from int, d *gnode) {
	k := c.n - from
	copy(d.ent[d.n:d.n+k], c.ent[from:c.n])
	copy(d.kids[d.n:d.n+k], c.kids[from:c.n])
	d.n += k
	for j := from; j < c.n; j++ {
		c.ent[j], c.kids[j] = Range{}, nil
	}
	c.n = from
}

// moveHead moves the first k entries of c to the end of d.
func (c *gnode) moveHead(k int, d *gnode) {
	copy(d.ent[d.n:d.n+k], c.ent[:k])
	copy(d.kids[d.n:d.n+k], c.kids[:k])
	d.n += k
	for j := 0; j < k; j++ {
		c.shiftDown(0)
	}
}

// remove deletes the gap starting at start, which must be present.
func (x *gapIndex) remove(start Addr) {
	n := x.removeGap(x.root, start)
	if !n.leaf && n.n == 1 {
		n = n.kids[0]
	}
	x.root = n
}

// removeGap returns a copy of n without the gap starting at start. The
// copy may hold fewer than gapMin entries; the caller rebalances it.
func (x *gapIndex) removeGap(n *gnode, start Addr) *gnode {
	c := x.mutable(n)
	if c.leaf {
		for i := 0; i < c.n; i++ {
			if c.ent[i].Start == start {
				c.shiftDown(i)
				break
			}
		}
		return c
	}
	i := c.kidFor(start)
	k := x.removeGap(c.kids[i], start)
	if k.n >= gapMin {
		c.setKid(i, k)
		return c
	}
	// The child underflowed: join it with a neighbour, or even the two out
	// if they do not fit in one node.
	l, r := i-1, i
	if i == 0 {
		l, r = 0, 1
	}
	if r >= c.n { // an only child: nothing to balance with
		if k.n == 0 {
			c.shiftDown(i)
		} else {
			c.setKid(i, k)
		}
		return c
	}
	left, right := c.kids[l], c.kids[r]
	if l == i {
		left = k
	} else {
		right = k
	}
	left, right = x.mutable(left), x.mutable(right)
	if left.n+right.n <= gapFan {
		right.moveTail(0, left)
		c.setKid(l, left)
		c.shiftDown(r)
		return c
	}
	total := left.n + right.n
	if left.n > total/2 {
		tmp := &gnode{owner: x.owner, leaf: right.leaf}
		left.moveTail(total/2, tmp)
		right.moveTail(0, tmp)
		right = tmp
	} else {
		right.moveHead(total/2-left.n, left)
	}
	c.setKid(l, left)
	c.setKid(r, right)
	return c
}

// replace swaps the gap starting at g.Start, which must be present, for
// g. Only the path to it is copied.
func (x *gapIndex) replace(g Range) { x.root = x.replaceGap(x.root, g) }

func (x *gapIndex) replaceGap(n *gnode, g Range) *gnode {
	c := x.mutable(n)
	if c.leaf {
		for i := 0; i < c.n; i++ {
			if c.ent[i].Start == g.Start {
				c.ent[i] = g
			}
		}
		return c
	}
	i := c.kidFor(g.Start)
	c.setKid(i, x.replaceGap(c.kids[i], g))
	return c
}

// check verifies the tree's structure and summaries and appends the gaps
// in order to out.
func (x *gapIndex) check() ([]Range, error) {
	var out []Range
	depth := -1
	var walk func(n *gnode, d int, root bool) error
	walk = func(n *gnode, d int, root bool) error {
		if n.n > gapFan || (!root && n.n < gapMin) || (!n.leaf && n.n < 2 && root) {
			return errorf("gap index: node with %d entries (leaf %v, root %v)", n.n, n.leaf, root)
		}
		if n.leaf {
			if depth >= 0 && d != depth {
				return errorf("gap index: leaves at depths %d and %d", depth, d)
			}
			depth = d
			for i := 0; i < n.n; i++ {
				g := n.ent[i]
				if g.IsEmpty() {
					return errorf("gap index: empty gap %v", g)
				}
				if len(out) > 0 && out[len(out)-1].End >= g.Start {
					return errorf("gap index: gaps %v and %v out of order or touching", out[len(out)-1], g)
				}
				out = append(out, g)
			}
			return nil
		}
		for i := 0; i < n.n; i++ {
			k := n.kids[i]
			if k == nil || k.n == 0 {
				return errorf("gap index: empty child %d", i)
			}
			if n.ent[i].Start != k.low() || uint64(n.ent[i].End) != k.maxLen() {
				return errorf("gap index: child %d records low %v max %#x, subtree has %v %#x", i, n.ent[i].Start, uint64(n.ent[i].End), k.low(), k.maxLen())
			}
			if err := walk(k, d+1, false); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(x.root, 0, true)
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

// firstFit returns the lowest placement over all gaps, skipping every
// subtree whose largest gap is smaller than the request. A subtree inside
// the window that holds a gap of at least size+mask bytes always contains a
// fit, so only the window-boundary paths and gaps whose length lies in
// [size, size+mask) are visited without success: O(log n) node visits for
// page-granular alignment.
func (f *fit) firstFit(n *gnode) (Addr, bool) {
	for i := 0; i < n.n; i++ {
		if n.leaf {
			g := n.ent[i]
			if g.Start >= f.window.End {
				break
			}
			if a, ok := f.placeLow(g); ok {
				return a, true
			}
			continue
		}
		if uint64(n.ent[i].End) < f.size || n.kidBelow(i, f.window.Start) {
			continue
		}
		if n.ent[i].Start >= f.window.End {
			break
		}
		if a, ok := f.firstFit(n.kids[i]); ok {
			return a, true
		}
	}
	return 0, false
}

// highestGap returns the highest gap whose part inside the window is at
// least length bytes long, clipped to the window: the maple tree's reverse
// empty-area walk (mas_empty_area_rev) that Linux unmapped_area_topdown
// performs. O(log n) node visits.
func highestGap(n *gnode, window Range, length uint64) (Range, bool) {
	for i := n.n - 1; i >= 0; i-- {
		if n.leaf {
			g := n.ent[i]
			if g.End <= window.Start {
				break
			}
			if c := g.Intersect(window); c.Len() >= length {
				return c, true
			}
			continue
		}
		if n.kidBelow(i, window.Start) {
			break
		}
		if n.ent[i].Start >= window.End || uint64(n.ent[i].End) < length {
			continue
		}
		if g, ok := highestGap(n.kids[i], window, length); ok {
			return g, true
		}
	}
	return Range{}, false
}
