package loader

import (
	"iter"
	"sort"

	"github.com/vasim/vasim/vaspace"
)

// AffineMapping is a mapping whose boundaries are affine functions of the
// draw, valid throughout a Piece.
type AffineMapping struct {
	vaspace.Mapping // as placed at the piece's sample draw
	Start, End      Affine
}

// Piece is a region of draws over which the Dyld model takes the same
// decisions, so every mapping boundary is one affine function of the
// draw.
type Piece struct {
	Region *Region
	images *imagesPiece
	// base (shared by every piece of the same images piece) and extra
	// hold the mappings in placement order.
	base  [][]AffineMapping
	extra []AffineMapping
}

// Mappings yields every mapping with its affine boundaries, in placement
// order; the concrete ranges are those of some draw in the piece, so use
// the affine forms. Image segments are not listed separately: each lies
// inside its image's reservation, which is.
func (p *Piece) Mappings() iter.Seq[AffineMapping] {
	return func(yield func(AffineMapping) bool) {
		for _, ms := range p.base {
			for _, m := range ms {
				if !yield(m) {
					return
				}
			}
		}
		for _, m := range p.extra {
			if !yield(m) {
				return
			}
		}
	}
}

// Supports returns, for each random input, the values it takes, in
// increasing order and each equally likely: the executable and dyld slides
// (only 0 with ASLR disabled) and the guarded-range tail (only 0 when the
// malloc allocations are off).
func (d *Dyld) Supports() [NumVars][]int64 {
	var s [NumVars][]int64
	if d.Dyld.DisableASLR {
		s[VarExeSlide], s[VarDyldSlide] = []int64{0}, []int64{0}
	} else {
		s[VarExeSlide], s[VarDyldSlide] = d.Platform.ExeSlides(), d.Platform.DyldSlides()
	}
	s[VarGuardTail] = d.Malloc.GuardTails(d.Platform.PageSize)
	return s
}

// Cell is a run of draws inside one piece: VarDyldSlide and VarGuardTail
// fixed at their values in Fixed, and the executable slide ranging over
// Supports()[VarExeSlide][Lo..Hi].
type Cell struct {
	Piece  *Piece
	Fixed  Draw
	Lo, Hi int
}

// imagesPiece is a region of draws over which the images land the same
// way, with the free ranges left when libmalloc starts. The guarded-range
// tail does not matter yet, so one imagesPiece serves all its values.
type imagesPiece struct {
	region   *Region
	state    *lean
	children []*Piece
	// snaps are frozen states taken while placing the images, every
	// few images, each with the region of draws that takes the same
	// decisions up to that point (regions shrink along the list). A draw
	// outside every piece resumes from the deepest snapshot of a nearby
	// piece that still holds it, instead of placing every image again.
	// Only recently used pieces keep them.
	snaps []snapshot
}

type snapshot struct {
	next  int // the next image to load
	state *lean
}

// snapsPerLaunch is about how many snapshots a placement keeps, one every
// len(order)/snapsPerLaunch images (counting shared-cache ones), in the
// first snapShare of the order only: on the Chromium scenario 95% of
// resumptions start in its first third, and each snapshot costs a copy of
// the free-range list.
const (
	snapsPerLaunch = 48
	snapShare      = 3
)

// snapKeep is how many images pieces keep their snapshots, and
// recentScan how many recent ones a lookup scans before placing afresh.
const (
	snapKeep   = 48
	recentScan = 256
)

// deepest returns the deepest snapshot of ip whose region holds d.
func (ip *imagesPiece) deepest(d Draw) (int, bool) {
	k := sort.Search(len(ip.snaps), func(k int) bool { return !ip.snaps[k].state.region.Contains(d) })
	return k - 1, k > 0
}

// Cover partitions the whole joint support of the random inputs into
// cells and calls fn for each, in order. It places a launch (on the lean
// placer, with the affine bookkeeping) only at a draw no piece found so
// far contains, so the cost grows with the number of distinct layouts,
// not with the number of draws (3069 × 255 × 65 with the defaults). The
// images are placed once per region of slides, resuming from a snapshot
// of a neighbouring layout where their decisions agree; libmalloc's
// allocations, which also depend on the guarded-range tail, are placed
// from a copy of that state. It returns the number of pieces.
func (d *Dyld) Cover(set *ImageSet, fn func(Cell) error) (int, error) {
	return d.CoverParallel(set, 1, func(int) func(Cell) error { return fn })
}

// CoverParallel is Cover split over workers goroutines, each taking a
// contiguous share of dyld's slides with its own pieces; visitor(w) gives
// worker w's cell function, called from that worker only. Pieces that
// straddle two shares are found by both, so the count can exceed Cover's.
func (d *Dyld) CoverParallel(set *ImageSet, workers int, visitor func(worker int) func(Cell) error) (int, error) {
	order, err := set.LoadOrder()
	if err != nil {
		return 0, err
	}
	if err := d.Validate(); err != nil {
		return 0, err
	}
	sup := d.Supports()
	ds := sup[VarDyldSlide]
	workers = max(1, min(workers, len(ds)))
	type result struct {
		pieces int
		err    error
	}
	results := make(chan result, workers)
	for w := 0; w < workers; w++ {
		c := &coverer{d: d, set: set, order: order, sup: sup,
			bounds:    vaspace.Range{Start: 0, End: d.Platform.VATop},
			snapEvery: max(1, len(order)/snapsPerLaunch)}
		share := ds[w*len(ds)/workers : (w+1)*len(ds)/workers]
		fn := visitor(w)
		go func() {
			err := c.run(share, fn)
			results <- result{c.pieces, err}
		}()
	}
	total := 0
	for w := 0; w < workers; w++ {
		r := <-results
		total += r.pieces
		if r.err != nil && err == nil {
			err = r.err
		}
	}
	return total, err
}

// span is one cell of a row: exe indices [lo, hi] in piece.
type span struct {
	lo, hi int
	piece  *Piece
}

// coverer holds one worker's pieces and the state of its sweep.
type coverer struct {
	d         *Dyld
	set       *ImageSet
	order     []*ImageSpec
	sup       [NumVars][]int64
	bounds    vaspace.Range
	snapEvery int

	images     []*imagesPiece
	withSnaps  []*imagesPiece // the pieces that still keep snapshots
	prevImages *imagesPiece
	lastRow    []span // the cells of the previous row
	row        []span
	hints      []*imagesPiece // reused by lookup
	pieces     int
}

func (c *coverer) run(dyldSlides []int64, fn func(Cell) error) error {
	xs := c.sup[VarExeSlide]
	for _, dsl := range dyldSlides {
		for _, gt := range c.sup[VarGuardTail] {
			var draw Draw
			draw[VarDyldSlide], draw[VarGuardTail] = dsl, gt
			c.lastRow, c.row = c.row, c.lastRow[:0]
			for i := 0; i < len(xs); {
				draw[VarExeSlide] = xs[i]
				piece, j, err := c.lookup(draw, i)
				if err != nil {
					return err
				}
				if err := fn(Cell{Piece: piece, Fixed: draw, Lo: i, Hi: j}); err != nil {
					return err
				}
				c.row = append(c.row, span{i, j, piece})
				i = j + 1
			}
		}
	}
	return nil
}

// fits returns the last exe index j >= i such that the draws with exe
// slides xs[i..j] (the other inputs as in d) all lie in r.
func (c *coverer) fits(r *Region, d Draw, i int) (int, bool) {
	xs := c.sup[VarExeSlide]
	lo, hi, ok := r.Interval(d, VarExeSlide, xs[i], xs[len(xs)-1])
	if !ok || lo > xs[i] {
		return 0, false
	}
	j := sort.Search(len(xs), func(k int) bool { return xs[k] > hi }) - 1
	return j, j >= i
}

// near returns the cells of the previous row around exe index i: the
// likeliest to hold it in this row too.
func (c *coverer) near(i int) []span {
	k := sort.Search(len(c.lastRow), func(k int) bool { return c.lastRow[k].hi >= i })
	return c.lastRow[max(0, k-1):min(len(c.lastRow), k+2)]
}

// lookup returns the piece holding draw (whose exe index is i) and the
// last exe index it holds there, placing a launch if no piece does.
func (c *coverer) lookup(draw Draw, i int) (*Piece, int, error) {
	near := c.near(i)
	for _, sp := range near {
		if j, ok := c.fits(sp.piece.Region, draw, i); ok {
			return sp.piece, j, nil
		}
	}
	hints := c.hints[:0]
	for _, sp := range near {
		hints = append(hints, sp.piece.images)
	}
	hints = append(hints, c.prevImages)
	c.hints = hints
	ip, err := c.imagesFor(draw, hints)
	if err != nil {
		return nil, 0, err
	}
	c.prevImages = ip
	for _, p := range ip.children {
		if j, ok := c.fits(p.Region, draw, i); ok {
			return p, j, nil
		}
	}
	// Place libmalloc's allocations from the images' final state.
	l := ip.state.fork(draw)
	if c.d.Malloc.Enabled {
		if err := c.d.mallocInit(l, &MacProcess{}); err != nil {
			return nil, 0, err
		}
	}
	p := &Piece{Region: l.region, images: ip, base: l.base, extra: l.maps}
	ip.children = append(ip.children, p)
	c.pieces++
	j, ok := c.fits(p.Region, draw, i)
	if !ok {
		panic("loader: a piece does not contain the draw that made it")
	}
	return p, j, nil
}

// imagesFor returns the images piece holding draw, placing the images if
// none does: from the deepest snapshot of a nearby piece that still holds
// the draw, or from exec.
func (c *coverer) imagesFor(draw Draw, hints []*imagesPiece) (*imagesPiece, error) {
	for _, ip := range hints {
		if ip != nil && ip.region.Contains(draw) {
			return ip, nil
		}
	}
	// Scan the most recent pieces; an older one that holds the draw is
	// found again as a new piece, which costs one placement and changes
	// nothing else (cells may come from overlapping pieces).
	for k := len(c.images) - 1; k >= max(0, len(c.images)-recentScan); k-- {
		if ip := c.images[k]; ip.region.Contains(draw) {
			return ip, nil
		}
	}
	var from *imagesPiece
	depth := -1
	for _, group := range [][]*imagesPiece{hints, c.withSnaps} {
		for _, ip := range group {
			if ip == nil {
				continue
			}
			if k, ok := ip.deepest(draw); ok && (from == nil || ip.snaps[k].next > from.snaps[depth].next) {
				from, depth = ip, k
			}
		}
	}
	ip := &imagesPiece{}
	var l *lean
	next := 0
	if from != nil {
		snap := from.snaps[depth]
		l, next = snap.state.fork(draw), snap.next
		ip.snaps = append(ip.snaps, from.snaps[:depth+1]...)
	} else {
		l = newLean(c.bounds, c.d.Platform.PageSize, draw)
		if err := c.d.exec(l, c.set, &MacProcess{}); err != nil {
			return nil, err
		}
		ip.snaps = append(ip.snaps, snapshot{0, l.freeze()})
	}
	err := c.d.loadImages(l, c.order, next, &MacProcess{}, func(next int) {
		if next%c.snapEvery == 0 && next <= len(c.order)/snapShare {
			ip.snaps = append(ip.snaps, snapshot{next, l.freeze()})
		}
	})
	if err != nil {
		return nil, err
	}
	ip.region, ip.state = l.region, l
	c.images = append(c.images, ip)
	c.withSnaps = append(c.withSnaps, ip)
	if len(c.withSnaps) > snapKeep {
		c.withSnaps[0].snaps = nil
		c.withSnaps = c.withSnaps[1:]
	}
	return ip, nil
}
