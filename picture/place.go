package picture

import "sort"

// Label placement: labels sit in horizontal rows beside a track, joined to
// what they name by a leader line that runs straight from the thing to the
// label's row and then sideways to the label when the label had to move.
// Each label takes the place that costs least: how far it moves, how many
// rows out it goes, and how many anchors of labels still to place it
// covers (a covered anchor's leader cannot pass). No label covers a leader
// placed before it, and no two labels overlap.

const (
	labelGap    = 8.0   // pixels kept between labels in a row
	rowCost     = 70.0  // cost of going one row further out
	coverCost   = 400.0 // cost of covering an anchor still to be labelled
	maxPerPanel = 400   // labels tried per row set
)

type ival struct{ a, b float64 }

// rows records what each label row holds.
type rows struct {
	occ    [][]ival
	lo, hi float64 // the x range labels must stay in
	tried  int
}

func newRows(n int, lo, hi float64) *rows {
	return &rows{occ: make([][]ival, n), lo: lo, hi: hi}
}

// free reports whether [a, b] keeps labelGap from everything in row r.
func (rs *rows) free(r int, a, b float64) bool {
	for _, iv := range rs.occ[r] {
		if a < iv.b+labelGap && iv.a < b+labelGap {
			return false
		}
	}
	return true
}

// freeExact reports whether [a, b] touches nothing in row r: leaders may
// pass close to labels.
func (rs *rows) freeExact(r int, a, b float64) bool {
	for _, iv := range rs.occ[r] {
		if a < iv.b && iv.a < b {
			return false
		}
	}
	return true
}

// used returns how many rows hold something.
func (rs *rows) used() int {
	n := 0
	for i, r := range rs.occ {
		if len(r) > 0 {
			n = i + 1
		}
	}
	return n
}

// spot is where a label went.
type spot struct {
	row int
	x   float64 // left edge of the text
	ok  bool
}

// place finds a row (first or further out) and a left edge for a label of
// width w naming the thing at x ax, at most maxShift from centred on ax.
// pending are the anchors of labels still to place, sorted. With leader
// false (a label that sits right by its thing) it ignores leaders. It
// reserves what it takes.
func (rs *rows) place(ax, w, maxShift float64, first int, pending []float64, leader bool) spot {
	rs.tried++
	if w > rs.hi-rs.lo || rs.tried > maxPerPanel {
		return spot{}
	}
	clamp := func(x float64) float64 { return min(max(x, rs.lo), rs.hi-w) }
	want := clamp(ax - w/2)
	// The pending anchors near enough to matter.
	lo := sort.SearchFloat64s(pending, ax-maxShift-w-labelGap)
	hi := sort.SearchFloat64s(pending, ax+maxShift+w+labelGap)
	near := pending[lo:hi]
	best, bestCost, bestRow := 0.0, 0.0, -1
	for r := first; r < len(rs.occ); r++ {
		rc := float64(r-first) * rowCost
		if bestRow >= 0 && rc >= bestCost {
			break
		}
		if leader {
			blocked := false
			for q := first; q < r; q++ {
				if !rs.freeExact(q, ax-1.5, ax+1.5) {
					blocked = true
					break
				}
			}
			if blocked {
				break // further rows are blocked too
			}
		}
		cands := []float64{want, clamp(ax - 3), clamp(ax - w + 3)}
		for _, iv := range rs.occ[r] {
			cands = append(cands, clamp(iv.a-labelGap-w-0.01), clamp(iv.b+labelGap+0.01))
		}
		for _, a := range near {
			cands = append(cands, clamp(a+4), clamp(a-w-4))
		}
		for _, x := range cands {
			d := abs(x - want)
			if d > maxShift {
				continue
			}
			a, b := x, x+w
			if leader {
				a, b = min(a, ax-1.5), max(b, ax+1.5)
			}
			if !rs.free(r, a, b) {
				continue
			}
			cost := d + rc
			for _, p := range near {
				if p >= a-2 && p <= b+2 {
					cost += coverCost
				}
			}
			if bestRow < 0 || cost < bestCost {
				best, bestCost, bestRow = x, cost, r
			}
		}
	}
	if bestRow < 0 {
		return spot{}
	}
	a, b := best, best+w
	if leader {
		a, b = min(a, ax-1.5), max(b, ax+1.5)
		for q := first; q < bestRow; q++ {
			rs.occ[q] = append(rs.occ[q], ival{ax - 1.5, ax + 1.5})
		}
	}
	rs.occ[bestRow] = append(rs.occ[bestRow], ival{a, b})
	return spot{row: bestRow, x: best, ok: true}
}

// reserve takes [a, b] in row r if it is free.
func (rs *rows) reserve(r int, a, b float64) bool {
	if a < rs.lo-0.01 || b > rs.hi+0.01 || !rs.free(r, a, b) {
		return false
	}
	rs.occ[r] = append(rs.occ[r], ival{a, b})
	return true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
