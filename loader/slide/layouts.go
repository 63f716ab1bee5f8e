package slide

import (
	"iter"

	"github.com/vasim/vasim/vaspace"
)

// Input is one random input of a model: its name and the values it takes,
// in increasing order, each equally likely. The model's Var v is
// Inputs()[v].
type Input struct {
	Name   string
	Values []int64
}

// Mapping is a mapping whose boundaries are affine functions of the draw,
// valid throughout a Piece.
type Mapping struct {
	vaspace.Mapping // as placed at the piece's sample draw
	Start, End      Affine
}

// Piece is a region of draws over which a model takes the same decisions,
// so every mapping boundary is one affine function of the draw.
type Piece struct {
	Region *Region
	// chunks hold the mappings in placement order; a chunk may be shared
	// (never written) by several pieces.
	chunks [][]Mapping
}

// NewPiece returns the piece of region whose mappings are the chunks'
// in order. The chunks are not copied and must not change afterwards.
func NewPiece(region *Region, chunks ...[]Mapping) *Piece {
	return &Piece{Region: region, chunks: chunks}
}

// Mappings yields every mapping with its affine boundaries, in placement
// order. The concrete ranges are those of some draw in the piece, so use
// the affine forms.
func (p *Piece) Mappings() iter.Seq[Mapping] {
	return func(yield func(Mapping) bool) {
		for _, ms := range p.chunks {
			for _, m := range ms {
				if !yield(m) {
					return
				}
			}
		}
	}
}

// Cell is a rectangle of draws inside one piece: every input fixed at its
// value in Fixed except Along, which ranges over its values with indices
// Lo..Hi, and Across, which ranges over its values with indices ALo..AHi
// (inclusive; Fixed holds Across's value at ALo). A cell one draw deep has
// ALo == AHi. Every boundary is affine, so over a cell it takes its
// extreme values at the four corners (Corners), and it is monotonic along
// each side.
type Cell struct {
	Piece    *Piece
	Fixed    Draw
	Along    Var
	Lo, Hi   int
	Across   Var
	ALo, AHi int
}

// Draws returns the number of draws in c.
func (c Cell) Draws() uint64 { return uint64(c.Hi-c.Lo+1) * uint64(c.AHi-c.ALo+1) }

// Corners returns c's four corner draws, given the inputs' values: Along
// low and high with Across low, then Along low and high with Across high.
func (c Cell) Corners(in []Input) [4]Draw {
	var out [4]Draw
	for k := range out {
		d := c.Fixed
		d[c.Along] = in[c.Along].Values[c.Lo]
		if k%2 == 1 {
			d[c.Along] = in[c.Along].Values[c.Hi]
		}
		d[c.Across] = in[c.Across].Values[c.ALo]
		if k >= 2 {
			d[c.Across] = in[c.Across].Values[c.AHi]
		}
		out[k] = d
	}
	return out
}

// Row returns the one-deep cell of c at Across index k (ALo <= k <= AHi).
func (c Cell) Row(in []Input, k int) Cell {
	r := c
	r.ALo, r.AHi = k, k
	r.Fixed[c.Across] = in[c.Across].Values[k]
	return r
}

// Layouts is a placement model bound to its input: the layout of one
// program's launch as a function of the launch's random draws.
type Layouts interface {
	// Inputs returns the random inputs; only those Vars are non-zero in
	// a draw.
	Inputs() []Input
	// Place lays out one launch at the draw d, with every mapping.
	Place(d Draw) (*vaspace.Space, error)
	// Cover partitions every draw (the product of the inputs' values)
	// into cells and calls the cell function of worker w, from worker w's
	// goroutine only, for each cell that worker covers. Each piece lists
	// only the mappings that can overlap window at some draw (every
	// mapping when window is empty), which is what bounds the memory of
	// enumerating many layouts of many images. It returns the number of
	// pieces it placed.
	Cover(window vaspace.Range, workers int, visitor func(worker int) func(Cell) error) (pieces int, err error)
}

// Draws returns the number of equally likely draws of the inputs.
func Draws(in []Input) uint64 {
	n := uint64(1)
	for _, v := range in {
		n *= uint64(len(v.Values))
	}
	return n
}

// Box returns each input's least and greatest value (zero for Vars the
// model does not use).
func Box(in []Input) [MaxVars][2]int64 {
	var b [MaxVars][2]int64
	for v, x := range in {
		if len(x.Values) > 0 {
			b[v] = [2]int64{x.Values[0], x.Values[len(x.Values)-1]}
		}
	}
	return b
}

// CanOverlap reports whether m can overlap window at some draw in box
// (the inputs' least and greatest values: Box).
func CanOverlap(m Mapping, window vaspace.Range, box [MaxVars][2]int64) bool {
	return m.End.MaxOver(box) > int64(window.Start) && m.Start.MinOver(box) < int64(window.End)
}
