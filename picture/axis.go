package picture

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"

	"github.com/vasim/vasim/vaspace"
)

// Axis geometry.
const (
	breakWidth    = 40.0  // the narrowest a collapsed stretch is drawn
	maxBreakWidth = 110.0 // and the widest, to hold its label
	minSegment    = 24.0  // narrowest shown segment
	maxBreaks     = 8
	minFeatureX   = 4.0 // collapse only while the smallest thing is narrower
	tickSize      = 10.0
)

// piece is one stretch of an axis: a segment drawn to scale, or a break
// standing for a collapsed stretch.
type piece struct {
	r      vaspace.Range
	x0, x1 float64
	brk    bool
	// what names a break's content: "" for free space, else the mapping
	// that covers it; lines are its two-line label, which sets its width.
	what  string
	lines [2]string
}

// breakLines returns a break's label, what then how much ("GPU carveout",
// "≈ 384 GiB") or how much then "free", and the width of the break that
// holds it.
func breakLines(p piece) ([2]string, float64) {
	l := [2]string{"≈ " + approx(p.r.Len()), "free"}
	if p.what != "" {
		l = [2]string{elide(p.what, maxBreakWidth-10, tickSize, false), "≈ " + approx(p.r.Len())}
	}
	w := max(textWidth(l[0], tickSize, false), textWidth(l[1], tickSize, false)) + 10
	return l, min(max(w, breakWidth), maxBreakWidth)
}

// axis maps addresses in ext to x coordinates in [x0, x1]: monotone,
// continuous, linear inside each piece.
type axis struct {
	ext    vaspace.Range
	pieces []piece
	x0, x1 float64
}

// feature is a range the axis must show: protect says it may not be
// collapsed (bands, highlights, the slot row); mappings may be.
type feature struct {
	r       vaspace.Range
	protect bool
}

// newAxis builds the broken axis over ext for the given features (clipped
// to ext), between x0 and x1. maps are the mappings sorted by start, used
// to name the content of collapsed mapped stretches.
func newAxis(ext vaspace.Range, feats []feature, maps []vaspace.Mapping, x0, x1 float64) axis {
	ax := axis{ext: ext, x0: x0, x1: x1}
	pts := make([]vaspace.Addr, 0, 2*len(feats)+2)
	pts = append(pts, ext.Start, ext.End)
	minFeat := ext.Len()
	for _, f := range feats {
		r := f.r.Intersect(ext)
		if r.IsEmpty() {
			continue
		}
		pts = append(pts, r.Start, r.End)
		minFeat = min(minFeat, r.Len())
	}
	slices.Sort(pts)
	pts = slices.Compact(pts)
	n := len(pts) - 1 // elementary intervals [pts[i], pts[i+1])
	prot := make([]int, n+1)
	mapped := make([]int, n+1)
	idx := func(a vaspace.Addr) int {
		i, _ := slices.BinarySearch(pts, a)
		return i
	}
	for _, f := range feats {
		r := f.r.Intersect(ext)
		if r.IsEmpty() {
			continue
		}
		i, j := idx(r.Start), idx(r.End)
		if f.protect {
			prot[i]++
			prot[j]--
		} else {
			mapped[i]++
			mapped[j]--
		}
	}
	for i := 1; i <= n; i++ {
		prot[i] += prot[i-1]
		mapped[i] += mapped[i-1]
	}
	var cands []int
	for i := range n {
		if prot[i] == 0 {
			cands = append(cands, i)
		}
	}
	length := func(i int) uint64 { return uint64(pts[i+1] - pts[i]) }
	sort.SliceStable(cands, func(a, b int) bool { return length(cands[a]) > length(cands[b]) })
	collapsed := make([]bool, n)
	total := ext.Len()
	width := x1 - x0
	breaks := 0
	for _, c := range cands {
		l := length(c)
		if breaks >= maxBreaks || l < total/4 || l >= total {
			break
		}
		if mapped[c] > 0 && l < total/4*3 {
			continue // the inside of a mapping goes only when it dwarfs the rest
		}
		if float64(minFeat)*width/float64(total) >= minFeatureX {
			break
		}
		collapsed[c] = true
		total -= l
		breaks++
	}

	// Pieces: runs of shown intervals, and one break per collapsed one.
	for i := 0; i < n; {
		if collapsed[i] {
			p := piece{r: vaspace.Range{Start: pts[i], End: pts[i+1]}, brk: true}
			if mapped[i] > 0 {
				p.what = coveringName(maps, p.r)
			}
			p.lines, _ = breakLines(p)
			ax.pieces = append(ax.pieces, p)
			i++
			continue
		}
		j := i
		for j < n && !collapsed[j] {
			j++
		}
		ax.pieces = append(ax.pieces, piece{r: vaspace.Range{Start: pts[i], End: pts[j]}})
		i = j
	}
	ax.layout()
	return ax
}

// coveringName names the mapping that covers r, or "mapped".
func coveringName(maps []vaspace.Mapping, r vaspace.Range) string {
	i := sort.Search(len(maps), func(i int) bool { return maps[i].Start > r.Start })
	for j := i - 1; j >= 0 && j >= i-64; j-- {
		if maps[j].ContainsRange(r) {
			return display(maps[j].Name)
		}
	}
	return "mapped"
}

// layout gives every piece its pixels: breaks breakWidth, segments a share
// of the rest proportional to their length, at least minSegment.
func (ax *axis) layout() {
	var segs []int
	bw := make([]float64, len(ax.pieces))
	avail := ax.x1 - ax.x0
	for i, p := range ax.pieces {
		if p.brk {
			_, bw[i] = breakLines(p)
			avail -= bw[i]
		} else {
			segs = append(segs, i)
		}
	}
	w := make([]float64, len(ax.pieces))
	switch {
	case len(segs) == 0:
	case float64(len(segs))*minSegment >= avail:
		for _, i := range segs {
			w[i] = avail / float64(len(segs))
		}
	default:
		// Give each segment its share; fix those under minSegment at
		// minSegment and share out the rest again, until none is under.
		fixed := make([]bool, len(ax.pieces))
		for {
			free, sum := avail, 0.0
			for _, i := range segs {
				if fixed[i] {
					free -= minSegment
				} else {
					sum += float64(ax.pieces[i].r.Len())
				}
			}
			changed := false
			for _, i := range segs {
				if fixed[i] {
					w[i] = minSegment
					continue
				}
				w[i] = free * float64(ax.pieces[i].r.Len()) / sum
				if w[i] < minSegment {
					fixed[i], changed = true, true
				}
			}
			if !changed {
				break
			}
		}
	}
	x := ax.x0
	for i := range ax.pieces {
		p := &ax.pieces[i]
		p.x0 = x
		if p.brk {
			x += bw[i]
		} else {
			x += max(w[i], 0)
		}
		p.x1 = x
	}
	// Rounding: end exactly at x1.
	if len(ax.pieces) > 0 {
		ax.pieces[len(ax.pieces)-1].x1 = ax.x1
	}
}

// x returns the x coordinate of address a, clamped to the axis.
func (ax *axis) x(a vaspace.Addr) float64 {
	i := sort.Search(len(ax.pieces), func(i int) bool { return ax.pieces[i].r.End > a })
	if i == len(ax.pieces) {
		return ax.x1
	}
	p := ax.pieces[i]
	if a <= p.r.Start {
		return p.x0
	}
	return p.x0 + float64(a-p.r.Start)/float64(p.r.Len())*(p.x1-p.x0)
}

// span returns the x extent of r, at least minW wide (widened about its
// centre, kept inside the axis).
func (ax *axis) span(r vaspace.Range, minW float64) (float64, float64) {
	r = r.Intersect(ax.ext)
	a, b := ax.x(r.Start), ax.x(r.End)
	if b-a < minW {
		c := (a + b) / 2
		a, b = c-minW/2, c+minW/2
		if a < ax.x0 {
			a, b = ax.x0, ax.x0+minW
		}
		if b > ax.x1 {
			a, b = ax.x1-minW, ax.x1
		}
	}
	return a, b
}

// broken reports whether a break lies between a and b.
func (ax *axis) broken(a, b vaspace.Addr) bool {
	for _, p := range ax.pieces {
		if p.brk && p.r.Start < b && a < p.r.End {
			return true
		}
	}
	return false
}

// tick is a labelled position on an axis.
type tick struct {
	a    vaspace.Addr
	text string
}

var tickSteps = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

// ticks returns the ticks of segment p: multiples of a round step in the
// binary unit of the segment's magnitude (or the next smaller unit, when
// its values stay under 10000), or of a power of two in hexadecimal when
// neither does with at most two decimals.
func ticks(p piece) []tick {
	u := unitOf(uint64(p.r.End))
	for _, v := range []int{u, u - 1} {
		if v < 0 || (v < u && float64(p.r.End)/math.Exp2(float64(10*v)) >= 10000) {
			continue
		}
		if out, ok := unitTicks(p, v); ok {
			return out
		}
	}
	return hexTicks(p)
}

// unitTicks returns the ticks of p in unit 2^(10u) and false when that
// unit needs more than two decimals.
func unitTicks(p piece, u int) ([]tick, bool) {
	s, e := p.r.Start, p.r.End
	w := p.x1 - p.x0
	unit := math.Exp2(float64(10 * u))
	sample := strconv.FormatFloat(float64(e)/unit, 'f', 2, 64) + " " + unitNames[u]
	spacing := textWidth(sample, tickSize, false) + 18
	n := math.Floor(w / spacing)
	if n < 1 {
		return nil, true
	}
	need := float64(e-s) / unit / n
	step := 0.0
	for _, c := range tickSteps {
		if c >= need {
			step = c
			break
		}
	}
	if step == 0 || need < 0.01 || (u == 0 && step < 1) {
		return nil, false
	}
	dec := 0
	switch {
	case step < 0.1 || step == 0.25:
		dec = 2
	case step < 1:
		dec = 1
	}
	var out []tick
	k := math.Ceil(float64(s)/unit/step - 1e-9)
	for range 64 {
		v := k * step
		b := v * unit
		if b > float64(e)+0.5 || b >= math.Exp2(64) {
			break
		}
		a := vaspace.Addr(uint64(math.Round(b)))
		if a >= s && a <= e {
			text := "0"
			if v != 0 {
				text = strconv.FormatFloat(v, 'f', dec, 64) + " " + unitNames[u]
			}
			out = append(out, tick{a: a, text: text})
		}
		k++
	}
	return out, true
}

func hexTicks(p piece) []tick {
	s, e := p.r.Start, p.r.End
	spacing := textWidth(hex(e), tickSize, false) + 18
	n := math.Floor((p.x1 - p.x0) / spacing)
	if n < 1 {
		return nil
	}
	need := uint64(float64(e-s) / n)
	step := uint64(1)
	if need > 1 {
		if bits.Len64(need-1) >= 64 {
			return nil
		}
		step = 1 << bits.Len64(need-1)
	}
	a, ok := s.RoundUp(step)
	var out []tick
	for range 64 {
		if !ok || a > e {
			break
		}
		out = append(out, tick{a: a, text: hex(a)})
		a, ok = a.Add(step)
	}
	return out
}
