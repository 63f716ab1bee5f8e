package loader

import (
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
// draw. Sample is the launch at the draw that discovered the piece.
type Piece struct {
	Region   *Region
	Sample   *MacProcess
	mappings []AffineMapping
}

// Mappings returns every mapping of the sample launch with its affine
// boundaries, in address order.
func (p *Piece) Mappings() []AffineMapping {
	if p.mappings != nil {
		return p.mappings
	}
	t := p.Sample.tracker
	for m := range p.Sample.Space.All() {
		p.mappings = append(p.mappings, AffineMapping{Mapping: m, Start: t.startOf(m), End: t.endOf(m)})
	}
	return p.mappings
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

// Cover partitions the whole joint support of the random inputs into
// cells and calls fn for each, in order. It simulates a launch (with the
// affine bookkeeping) only at a draw no piece found so far contains, so
// the cost grows with the number of distinct layouts, not with the
// number of draws (3069 × 255 × 65 for the defaults). It returns the
// number of pieces found.
func (d *Dyld) Cover(set *ImageSet, fn func(Cell) error) (int, error) {
	order, err := set.LoadOrder()
	if err != nil {
		return 0, err
	}
	sup := d.Supports()
	xs := sup[VarExeSlide]
	var pieces []*Piece
	// The cells of the previous row: the piece that held exe index i there
	// is the likeliest to hold it in this row too.
	type span struct {
		lo, hi int
		piece  *Piece
	}
	var lastRow, row []span
	atIndex := func(i int) *Piece {
		k := sort.Search(len(lastRow), func(k int) bool { return lastRow[k].hi >= i })
		if k < len(lastRow) && lastRow[k].lo <= i {
			return lastRow[k].piece
		}
		return nil
	}
	var prev *Piece

	// fits returns the last exe index j >= i such that the draws with exe
	// slides xs[i..j] all lie in p.
	fits := func(p *Piece, d Draw, i int) (int, bool) {
		if p == nil {
			return 0, false
		}
		lo, hi, ok := p.Region.Interval(d, VarExeSlide, xs[i], xs[len(xs)-1])
		if !ok || lo > xs[i] {
			return 0, false
		}
		j := sort.Search(len(xs), func(k int) bool { return xs[k] > hi }) - 1
		return j, j >= i
	}

	for _, ds := range sup[VarDyldSlide] {
		for _, gt := range sup[VarGuardTail] {
			var draw Draw
			draw[VarDyldSlide], draw[VarGuardTail] = ds, gt
			lastRow, row = row, lastRow[:0]
			for i := 0; i < len(xs); {
				draw[VarExeSlide] = xs[i]
				var piece *Piece
				j := 0
				for _, cand := range []*Piece{prev, atIndex(i)} {
					if jj, ok := fits(cand, draw, i); ok {
						piece, j = cand, jj
						break
					}
				}
				if piece == nil {
					for _, cand := range pieces {
						if jj, ok := fits(cand, draw, i); ok {
							piece, j = cand, jj
							break
						}
					}
				}
				if piece == nil {
					proc, err := d.launch(set, order, draw, true)
					if err != nil {
						return len(pieces), err
					}
					piece = &Piece{Region: proc.tracker.region, Sample: proc}
					pieces = append(pieces, piece)
					var ok bool
					if j, ok = fits(piece, draw, i); !ok {
						panic("loader: a piece does not contain the draw that made it")
					}
				}
				if err := fn(Cell{Piece: piece, Fixed: draw, Lo: i, Hi: j}); err != nil {
					return len(pieces), err
				}
				row = append(row, span{i, j, piece})
				prev = piece
				i = j + 1
			}
		}
	}
	return len(pieces), nil
}
