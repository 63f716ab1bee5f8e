package macos

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/place"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
)

// Layouts is the model bound to one load order: every launch's layout as
// a function of its random draws. It implements slide.Layouts.
type Layouts struct {
	model *Model
	order *dyld.LoadOrder
	plans []imagePlan
	// Budget bounds Cover's work: how many images it may place in all,
	// over every layout it finds (DefaultBudget unless set). An image set
	// whose layouts change with nearly every slide (images that run into
	// the stack or the shared region) needs one placement of every image
	// per layout; Cover stops with ErrBudget rather than run for hours.
	Budget int64
	// Progress, when set, is called after each dyld slide Cover has
	// covered, with how many of total are done; from any worker's
	// goroutine, so it must be safe to call concurrently.
	Progress func(done, total int)
}

// DefaultBudget is Cover's default work bound: 15 million image
// placements, about ten seconds on two cores. The Chromium scenario needs
// 7.5 million.
const DefaultBudget = 15_000_000

// ErrBudget is the class of Cover failures for image sets whose exact sum
// would take more work than Layouts.Budget allows.
var ErrBudget = errors.New("the exact sum over every slide needs more work than its budget")

// BudgetError says how far Cover got.
type BudgetError struct {
	Images, Layouts int
	Placed, Budget  int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%v: %d image placements for %d layouts of %d images so far (budget %d; Layouts.Budget): the layout changes with nearly every slide; analyse the layout with ASLR off, or fewer images",
		ErrBudget, e.Placed, e.Layouts, e.Images, e.Budget)
}

// Unwrap returns ErrBudget.
func (e *BudgetError) Unwrap() error { return ErrBudget }

// Layouts binds the model to a load order. The model is copied: later
// changes to m do not reach the result.
func (m *Model) Layouts(order *dyld.LoadOrder) (*Layouts, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	mc := *m
	plans, err := mc.plan(order.Images)
	if err != nil {
		return nil, err
	}
	return &Layouts{model: &mc, order: order, plans: plans}, nil
}

// Inputs returns the executable and dyld slides (only 0 with ASLR
// disabled) and the guarded-range tail (only 0 when the malloc
// allocations are off), each value equally likely.
func (l *Layouts) Inputs() []slide.Input {
	d := l.model
	in := make([]slide.Input, 3)
	for v, name := range inputNames {
		in[v].Name = name
	}
	if d.Dyld.DisableASLR {
		in[VarExeSlide].Values, in[VarDyldSlide].Values = []int64{0}, []int64{0}
	} else {
		in[VarExeSlide].Values, in[VarDyldSlide].Values = d.Platform.ExeSlides(), d.Platform.DyldSlides()
	}
	in[VarGuardTail].Values = d.Malloc.GuardTails(d.Platform.PageSize)
	return in
}

// Place lays out the launch at draw d.
func (l *Layouts) Place(d slide.Draw) (*vaspace.Space, error) {
	p, err := l.model.launch(l.order, d)
	if err != nil {
		return nil, err
	}
	return p.Space, nil
}

// piece is a slide.Piece with the images piece it was placed from.
type piece struct {
	slide.Piece
	images *imagesPiece
}

// imagesPiece is a region of draws over which the images land the same
// way, with the free ranges left when libmalloc starts. The guarded-range
// tail does not matter yet, so one imagesPiece serves all its values.
type imagesPiece struct {
	region *slide.Region
	// box bounds the region (slide.Region.Bound): most pieces a lookup
	// scans fail on it without evaluating the region.
	box   [slide.MaxVars][2]int64
	state *place.Lean
	// owner is the worker that placed it: only it reads and drops snaps.
	// Other workers find the piece in the shared list and use its region,
	// its state (read only) and its children, which mu guards.
	owner    *coverer
	mu       sync.Mutex
	children []*piece
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
	state *place.Lean
}

// snapsPerLaunch is about how many snapshots a placement keeps, one every
// len(order)/snapsPerLaunch images (counting shared-cache ones), in the
// first snapShare of the order only: on the Chromium scenario 95% of
// resumptions start in its first third, and each snapshot costs a copy of
// the free-range list.
const (
	snapsPerLaunch = 16
	snapShare      = 3
)

// snapKeep is how many images pieces keep their snapshots, and
// recentScan how many recent ones (of every worker) a lookup scans before
// placing afresh.
const (
	snapKeep   = 48
	recentScan = 512
)

// sharedPieces are the images pieces every worker has placed, in the
// order they were made: a worker finds the layouts its neighbour placed
// instead of placing them again (fixed shares of the dyld slides made
// each worker rediscover the layouts that span the boundary; short runs,
// which balance the work, made it half as much work again).
type sharedPieces struct {
	mu     sync.RWMutex
	images []*imagesPiece
}

// find returns the most recent piece holding d, or nil.
func (sp *sharedPieces) find(d slide.Draw) *imagesPiece {
	sp.mu.RLock()
	defer sp.mu.RUnlock()
	for k := len(sp.images) - 1; k >= max(0, len(sp.images)-recentScan); k-- {
		if ip := sp.images[k]; slide.InBox(d, ip.box) && ip.region.Contains(d) {
			return ip
		}
	}
	return nil
}

// add appends ip, and lets go of the pieces no lookup scans any more
// (the memory of a sum whose layouts change with most slides, where
// thousands of pieces each list hundreds of mappings in the window).
func (sp *sharedPieces) add(ip *imagesPiece) {
	sp.mu.Lock()
	sp.images = append(sp.images, ip)
	if n := len(sp.images); n >= 2*recentScan {
		sp.images = append(sp.images[:0:0], sp.images[n-recentScan:]...)
	}
	sp.mu.Unlock()
}

// deepest returns the deepest snapshot of ip whose region holds d.
func (ip *imagesPiece) deepest(d slide.Draw) (int, bool) {
	k := sort.Search(len(ip.snaps), func(k int) bool { return !ip.snaps[k].state.Region().Contains(d) })
	return k - 1, k > 0
}

// Cover partitions every draw of the random inputs into cells and calls
// fn for each; each cell is a rectangle of executable slides × guarded
// tails at one dyld slide, and each piece lists the mappings that can
// reach window. It places a launch (on the lean placer, with the affine
// bookkeeping) only at a draw no piece found so far contains, so the cost
// grows with the number of distinct layouts, not with the number of draws
// (3069 × 255 × 65 with the defaults). The images are placed once per
// region of slides, resuming from a snapshot of a neighbouring layout
// where their decisions agree; libmalloc's allocations, which also depend
// on the guarded-range tail, are placed from a copy of that state.
//
// Work is split over workers goroutines, pairs of which sweep the dyld
// slides of a segment from both ends until they meet, sharing the pieces
// they place. visitor(w) gives worker w's cell function, called from that
// worker only. Two workers that need the same new layout at once may both
// place it, so the count can exceed a single worker's. It returns the
// number of pieces.
func (l *Layouts) Cover(window vaspace.Range, workers int, visitor func(worker int) func(slide.Cell) error) (int, error) {
	d := l.model
	sup := l.Inputs()
	budget := l.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	var placed, layouts atomic.Int64
	var keep func(slide.Mapping) bool
	if !window.IsEmpty() {
		box := slide.Box(sup)
		keep = func(m slide.Mapping) bool { return slide.CanOverlap(m, window, box) }
	}
	ds := sup[VarDyldSlide].Values
	workers = max(1, min(workers, len(ds)))
	// Workers meet in the middle: the dyld slides are cut into one
	// segment per pair of workers, and of each pair one takes slides from
	// the segment's low end up and the other from its high end down,
	// until they meet. Each worker moves through neighbouring slides, so
	// the layouts it placed last are the likeliest to hold its next
	// draws; the work evens out wherever the layouts cluster; and the
	// workers share their pieces, so only the layouts that span the
	// meeting point can be placed twice. (Runs handed out from one
	// counter interleave the workers, which then race to place the same
	// layouts: half as much work again.)
	pairs := (workers + 1) / 2
	type segment struct {
		mu     sync.Mutex
		lo, hi int // slides not yet taken: ds[lo..hi]
	}
	segs := make([]*segment, pairs)
	for k := range segs {
		segs[k] = &segment{lo: k * len(ds) / pairs, hi: (k+1)*len(ds)/pairs - 1}
	}
	next := func(w int) (int64, bool) {
		sg := segs[w/2]
		sg.mu.Lock()
		defer sg.mu.Unlock()
		if sg.lo > sg.hi {
			return 0, false
		}
		if w%2 == 0 {
			sg.lo++
			return ds[sg.lo-1], true
		}
		sg.hi--
		return ds[sg.hi+1], true
	}
	shared := &sharedPieces{}
	var stop atomic.Bool
	var done atomic.Int64
	type result struct {
		pieces int
		err    error
	}
	results := make(chan result, workers)
	for w := 0; w < workers; w++ {
		c := &coverer{d: d, order: l.order, plans: l.plans, sup: sup, keep: keep, budget: budget, placed: &placed, layouts: &layouts, shared: shared,
			bounds:    vaspace.Range{Start: 0, End: d.Platform.VATop},
			snapEvery: max(1, len(l.order.Images)/snapsPerLaunch)}
		fn := visitor(w)
		go func() {
			var err error
			for !stop.Load() {
				dsl, ok := next(w)
				if !ok {
					break
				}
				if err = c.sweep(dsl, fn); err != nil {
					stop.Store(true)
					break
				}
				if l.Progress != nil {
					l.Progress(int(done.Add(1)), len(ds))
				}
			}
			results <- result{c.pieces, err}
		}()
	}
	total := 0
	var err error
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
	piece  *piece
}

// rect is a cell still open below the current row: it covers exe indices
// [lo, hi] down to guarded-tail index last.
type rect struct {
	span
	last int
}

// coverer holds one worker's pieces and the state of its sweep.
type coverer struct {
	d    *Model
	keep func(slide.Mapping) bool
	// placed and layouts count the work of every worker, against budget.
	budget          int64
	placed, layouts *atomic.Int64
	order           *dyld.LoadOrder
	plans           []imagePlan
	sup             []slide.Input
	bounds          vaspace.Range
	snapEvery       int

	shared     *sharedPieces
	withSnaps  []*imagesPiece // this worker's pieces that still keep snapshots
	prevImages *imagesPiece
	lastRow    []span // the cells of the previous row
	row        []span
	open, more []rect         // cells reaching below this row, by lo
	hints      []*imagesPiece // reused by lookup
	pieces     int
}

// sweep covers every draw at dyld slide dsl: the grid of guarded tails
// (rows) × executable slides, by rectangles. A row's draws that no open
// rectangle covers are looked up (or placed) left to right; each new cell
// reaches down as far as its piece holds both of its ends, which, the
// piece's region being convex, means every draw between.
func (c *coverer) sweep(dsl int64, fn func(slide.Cell) error) error {
	xs, gs := c.sup[VarExeSlide].Values, c.sup[VarGuardTail].Values
	c.open = c.open[:0]
	for g, gt := range gs {
		var draw slide.Draw
		draw[VarDyldSlide], draw[VarGuardTail] = dsl, gt
		c.lastRow, c.row = c.row, c.lastRow[:0]
		c.more = c.more[:0]
		open := c.open
		for i := 0; i < len(xs); {
			if len(open) > 0 && open[0].lo == i {
				c.row = append(c.row, open[0].span)
				if open[0].last > g {
					c.more = append(c.more, open[0])
				}
				i = open[0].hi + 1
				open = open[1:]
				continue
			}
			limit := len(xs) - 1
			if len(open) > 0 {
				limit = open[0].lo - 1
			}
			draw[VarExeSlide] = xs[i]
			piece, j, err := c.lookup(draw, i)
			if err != nil {
				return err
			}
			j = min(j, limit)
			last := c.depth(piece.Region, draw, i, j, g)
			cell := slide.Cell{Piece: &piece.Piece, Fixed: draw, Along: VarExeSlide, Lo: i, Hi: j, Across: VarGuardTail, ALo: g, AHi: last}
			if err := fn(cell); err != nil {
				return err
			}
			sp := span{i, j, piece}
			c.row = append(c.row, sp)
			if last > g {
				c.more = append(c.more, rect{sp, last})
			}
			i = j + 1
		}
		c.open, c.more = c.more, c.open
	}
	return nil
}

// depth returns the last guarded-tail index, from g on, at which r holds
// the draws with exe indices i and j (the other inputs as in d).
func (c *coverer) depth(r *slide.Region, d slide.Draw, i, j, g int) int {
	xs, gs := c.sup[VarExeSlide].Values, c.sup[VarGuardTail].Values
	hi := gs[len(gs)-1]
	for _, k := range []int{i, j} {
		d[VarExeSlide] = xs[k]
		_, h, ok := r.Interval(d, VarGuardTail, gs[g], hi)
		if !ok {
			panic("macos: a cell's piece does not hold its first row")
		}
		hi = h
	}
	return sort.Search(len(gs), func(k int) bool { return gs[k] > hi }) - 1
}

// fits returns the last exe index j >= i such that the draws with exe
// slides xs[i..j] (the other inputs as in d) all lie in r.
func (c *coverer) fits(r *slide.Region, d slide.Draw, i int) (int, bool) {
	xs := c.sup[VarExeSlide].Values
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
func (c *coverer) lookup(draw slide.Draw, i int) (*piece, int, error) {
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
	ip.mu.Lock()
	defer ip.mu.Unlock()
	for _, p := range ip.children {
		if j, ok := c.fits(p.Region, draw, i); ok {
			return p, j, nil
		}
	}
	// Place libmalloc's allocations from the images' final state.
	l := ip.state.Fork(draw)
	if c.d.Malloc.Enabled {
		if err := c.d.mallocInit(l, &Process{}); err != nil {
			return nil, 0, err
		}
	}
	p := &piece{Piece: *l.Piece(), images: ip}
	ip.children = append(ip.children, p)
	c.pieces++
	j, ok := c.fits(p.Region, draw, i)
	if !ok {
		panic("macos: a piece does not contain the draw that made it")
	}
	return p, j, nil
}

// imagesFor returns the images piece holding draw, placing the images if
// none does: from the deepest snapshot of a nearby piece that still holds
// the draw, or from exec.
func (c *coverer) imagesFor(draw slide.Draw, hints []*imagesPiece) (*imagesPiece, error) {
	for _, ip := range hints {
		if ip != nil && ip.region.Contains(draw) {
			return ip, nil
		}
	}
	// Scan the most recent pieces; an older one that holds the draw is
	// found again as a new piece, which costs one placement and changes
	// nothing else (cells may come from overlapping pieces).
	if ip := c.shared.find(draw); ip != nil {
		return ip, nil
	}
	var from *imagesPiece
	depth := -1
	for _, group := range [][]*imagesPiece{hints, c.withSnaps} {
		for _, ip := range group {
			if ip == nil || ip.owner != c {
				continue // another worker's snapshots are its own
			}
			if k, ok := ip.deepest(draw); ok && (from == nil || ip.snaps[k].next > from.snaps[depth].next) {
				from, depth = ip, k
			}
		}
	}
	ip := &imagesPiece{owner: c}
	var l *place.Lean
	next := 0
	if from != nil {
		snap := from.snaps[depth]
		l, next = snap.state.Fork(draw), snap.next
		ip.snaps = append(ip.snaps, from.snaps[:depth+1]...)
	} else {
		l = place.NewLean(c.bounds, c.d.Platform.PageSize, draw)
		l.SetKeep(c.keep)
		if err := c.d.exec(l, c.order, &Process{}); err != nil {
			return nil, err
		}
		if err := c.d.dyldStart(l); err != nil {
			return nil, err
		}
		ip.snaps = append(ip.snaps, snapshot{0, l.Freeze()})
	}
	n := len(c.order.Images)
	if p := c.placed.Add(int64(n - next)); p > c.budget {
		return nil, &BudgetError{Images: n, Layouts: int(c.layouts.Load()), Placed: p, Budget: c.budget}
	}
	c.layouts.Add(1)
	err := c.d.loadImages(l, c.order.Images, c.plans, next, &Process{}, func(next int) {
		if next%c.snapEvery == 0 && next <= n/snapShare {
			ip.snaps = append(ip.snaps, snapshot{next, l.Freeze()})
		}
	})
	if err != nil {
		return nil, err
	}
	ip.region, ip.state = l.Region(), l
	ip.box = ip.region.Bound(slide.Box(c.sup))
	c.shared.add(ip)
	c.withSnaps = append(c.withSnaps, ip)
	if len(c.withSnaps) > snapKeep {
		c.withSnaps[0].snaps = nil
		c.withSnaps = c.withSnaps[1:]
	}
	return ip, nil
}
