package picture

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vasim/vasim/vaspace"
)

// Page geometry, in pixels.
const (
	figWidth     = 1200.0
	margin       = 16.0
	gutter       = 92.0
	plotX0       = margin + gutter
	plotX1       = figWidth - margin
	labelSize    = 11.0
	rowH         = 14.0
	bandH        = 16.0
	bandGap      = 4.0
	hlH          = 7.0
	trackH       = 26.0
	slotH        = 18.0
	axisRowH     = 13.0
	maxZooms     = 3
	maxAbove     = 4 // label rows above the track in the overview
	maxAboveZoom = 7 // and in a detail panel
	maxBelow     = 3 // label rows below the slot row in the overview
	maxBelowZoom = 5 // and in a detail panel
	maxLanes     = 12
)

// WriteSVG draws f as one standalone SVG document and writes it to w.
// It returns an *Error (class ErrFigure) and writes nothing when f cannot
// be drawn: nothing to draw, an empty or reversed range, a slot row that
// runs past the top of the address space or names a slot twice or out of
// range, or more than the package's limits (2^21 mappings, 256 bands, 4096 highlights,
// 65536 slots, 64 note lines). Otherwise it writes the document in one
// Write and returns that Write's error.
func (f *Figure) WriteSVG(w io.Writer) error {
	if f == nil {
		return bad("figure", "nil figure")
	}
	if err := f.check(); err != nil {
		return err
	}
	d := newDrawing(f)
	var b bytes.Buffer
	d.write(&b)
	_, err := w.Write(b.Bytes())
	return err
}

type hlItem struct {
	r    vaspace.Range
	text string // shown
	full string // tooltip
}

// drawing is a Figure prepared for drawing.
type drawing struct {
	f         *Figure
	maps      []vaspace.Mapping // sorted by start
	hls       []hlItem
	slots     *Slots
	window    vaspace.Range
	culprit   map[int]string
	colliding []int // sorted
	ext       vaspace.Range
	over      *panel
	zooms     []*panel
}

// panel is the overview or one detail panel.
type panel struct {
	letter  string
	rng     vaspace.Range
	ax      axis
	zoom    bool
	ownHL   map[int]bool // highlights labelled here
	ownSlot map[int]bool // colliding slots labelled here
	// Where the overview shows this detail panel's range.
	ix0, ix1, iy0, iy1 float64
}

func newDrawing(f *Figure) *drawing {
	d := &drawing{f: f, slots: f.Slots, culprit: map[int]string{}}
	d.maps = slices.Clone(f.Mappings)
	slices.SortFunc(d.maps, compareMappings)
	var feats []feature
	ext := f.Bounds
	grow := func(r vaspace.Range) {
		if ext.IsEmpty() {
			ext = r
			return
		}
		ext.Start = min(ext.Start, r.Start)
		ext.End = max(ext.End, r.End)
	}
	for _, m := range d.maps {
		grow(m.Range)
		feats = append(feats, feature{r: m.Range})
	}
	for _, b := range f.Bands {
		grow(b.Range)
		feats = append(feats, feature{r: b.Range, protect: true})
	}
	for _, h := range f.Highlights {
		grow(h.Range)
		feats = append(feats, feature{r: h.Range, protect: true})
		full := clean(h.Label)
		d.hls = append(d.hls, hlItem{r: h.Range, text: elide(display(full), 360, labelSize, false), full: full})
	}
	if s := d.slots; s != nil {
		d.window, _ = s.window()
		grow(d.window)
		feats = append(feats, feature{r: d.window, protect: true})
		for _, c := range s.Colliding {
			d.culprit[c.Slot] = clean(c.Culprit)
			d.colliding = append(d.colliding, c.Slot)
		}
		slices.Sort(d.colliding)
	}
	d.ext = ext
	d.over = &panel{rng: ext, ownHL: map[int]bool{}, ownSlot: map[int]bool{}}
	d.over.ax = newAxis(ext, feats, d.maps, plotX0, plotX1)
	d.planZooms(feats)
	return d
}

// compareMappings orders mappings by address, then by every other field,
// so that the drawing does not depend on the order they came in.
func compareMappings(a, b vaspace.Mapping) int {
	return cmp.Or(
		cmp.Compare(a.Start, b.Start),
		cmp.Compare(a.End, b.End),
		cmp.Compare(a.Kind, b.Kind),
		strings.Compare(a.Owner, b.Owner),
		strings.Compare(a.Name, b.Name),
		cmp.Compare(a.Prot, b.Prot),
		cmp.Compare(a.Offset, b.Offset),
		cmp.Compare(a.Flags, b.Flags),
	)
}

// focus is something that may need a closer look: a highlight or a
// colliding slot.
type focus struct {
	r    vaspace.Range
	hl   int // index in hls, or -1
	slot int // slot index, or -1
}

// planZooms groups the highlights and colliding slots that crowd together
// in the overview and gives the most crowded groups detail panels.
func (d *drawing) planZooms(feats []feature) {
	ax := &d.over.ax
	var items []focus
	for i, h := range d.hls {
		items = append(items, focus{r: h.r, hl: i, slot: -1})
	}
	for _, k := range d.colliding {
		items = append(items, focus{r: d.slots.cell(k), hl: -1, slot: k})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].r.Start < items[j].r.Start })
	type cluster struct {
		r     vaspace.Range
		items []focus
		minW  float64
		slots bool
	}
	var cs []*cluster
	for _, it := range items {
		w := ax.x(it.r.End) - ax.x(it.r.Start)
		if n := len(cs); n > 0 {
			c := cs[n-1]
			if ax.x(it.r.Start)-ax.x(c.r.End) <= 24 && !ax.broken(min(c.r.End, it.r.Start), max(c.r.End, it.r.Start)) {
				c.r.End = max(c.r.End, it.r.End)
				c.items = append(c.items, it)
				c.minW = min(c.minW, w)
				c.slots = c.slots || it.slot >= 0
				continue
			}
		}
		cs = append(cs, &cluster{r: it.r, items: []focus{it}, minW: w, slots: it.slot >= 0})
	}
	var need []*cluster
	for _, c := range cs {
		if len(c.items) >= 2 && c.minW < 6 {
			need = append(need, c)
		}
	}
	sort.SliceStable(need, func(i, j int) bool { return len(need[i].items) > len(need[j].items) })
	if len(need) > maxZooms {
		need = need[:maxZooms]
	}
	sort.SliceStable(need, func(i, j int) bool { return need[i].r.Start < need[j].r.Start })
	zoomed := map[*cluster]bool{}
	for i, c := range need {
		zoomed[c] = true
		pad := c.r.Len() / 8
		if c.slots {
			pad = max(pad, 2*d.slots.Granule)
		}
		pad = max(pad, 1)
		start, ok := c.r.Start.Sub(pad)
		if !ok || start < d.ext.Start {
			start = d.ext.Start
		}
		end, ok := c.r.End.Add(pad)
		if !ok || end > d.ext.End {
			end = d.ext.End
		}
		// Round out to a power of two near a sixteenth of the span, for
		// round tick values.
		if span := uint64(end - start); span >= 16 {
			a := uint64(1) << (63 - bits.LeadingZeros64(span/16))
			if s := start.RoundDown(a); s >= d.ext.Start {
				start = s
			}
			if e, ok := end.RoundUp(a); ok && e <= d.ext.End {
				end = e
			}
		}
		p := &panel{letter: string(rune('A' + i)), rng: vaspace.Range{Start: start, End: end}, zoom: true, ownHL: map[int]bool{}, ownSlot: map[int]bool{}}
		p.ax = newAxis(p.rng, feats, d.maps, plotX0, plotX1)
		for _, it := range c.items {
			if it.hl >= 0 {
				p.ownHL[it.hl] = true
			} else {
				p.ownSlot[it.slot] = true
			}
		}
		p.ix0, p.ix1 = ax.span(p.rng, 5)
		d.zooms = append(d.zooms, p)
	}
	for _, c := range cs {
		if zoomed[c] {
			continue
		}
		for _, it := range c.items {
			if it.hl >= 0 {
				d.over.ownHL[it.hl] = true
			} else {
				d.over.ownSlot[it.slot] = true
			}
		}
	}
}

// write draws the whole document: title, notes, the overview, the detail
// panels and the legend.
func (d *drawing) write(b *bytes.Buffer) {
	var head, body bytes.Buffer
	y := 0.0
	title := clean(d.f.Title)
	if title != "" {
		for _, line := range wrap(title, plotX1-margin, 18, true) {
			y += 24
			textEl(&body, margin, y, 18, true, colText, line, `data-kind="title"`)
		}
	}
	for _, n := range d.f.Notes {
		for _, line := range wrap(clean(n), plotX1-margin, 13, false) {
			y += 18
			textEl(&body, margin, y, 13, false, "#333", line, `data-kind="note"`)
		}
	}
	y += 14
	// The overview first: the detail panels' connectors need where it
	// showed their ranges.
	overTop := y
	var scratch bytes.Buffer
	y += d.drawPanel(&scratch, d.over, overTop)
	var panels bytes.Buffer
	panels.Write(scratch.Bytes())
	for i, p := range d.zooms {
		y += 10
		if i == 0 {
			// Connectors from the overview's marker to the panel.
			fmt.Fprintf(&panels, `<path data-kind="connector" d="M%s %sL%s %sM%s %sL%s %s" fill="none" stroke="#aaa" stroke-dasharray="3 3"/>`,
				num(p.ix0), num(p.iy1), num(plotX0), num(y), num(p.ix1), num(p.iy1), num(plotX1), num(y))
		}
		y += d.drawPanel(&panels, p, y)
	}
	y += d.drawLegend(&panels, y+8) + 8
	height := y + 12

	fmt.Fprintf(&head, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="'DejaVu Sans', Verdana, sans-serif">`,
		num(figWidth), num(height), num(figWidth), num(height))
	fmt.Fprintf(&head, `<title>%s</title>`, esc(title))
	if len(d.f.Notes) > 0 {
		var notes []string
		for _, n := range d.f.Notes {
			notes = append(notes, clean(n))
		}
		fmt.Fprintf(&head, `<desc>%s</desc>`, esc(joinLines(notes)))
	}
	head.WriteString(defs)
	fmt.Fprintf(&head, `<rect data-kind="background" x="0" y="0" width="%s" height="%s" fill="#fff"/>`, num(figWidth), num(height))
	b.Write(head.Bytes())
	b.Write(body.Bytes())
	b.Write(panels.Bytes())
	b.WriteString("</svg>\n")
}

func joinLines(s []string) string {
	var b bytes.Buffer
	for i, l := range s {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// wrap breaks s into lines no wider than width at size.
func wrap(s string, width, size float64, bold bool) []string {
	var lines []string
	var cur string
	for _, word := range splitWords(s) {
		next := word
		if cur != "" {
			next = cur + " " + word
		}
		if textWidth(next, size, bold) <= width || cur == "" {
			cur = next
			continue
		}
		lines = append(lines, cur)
		cur = word
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	for i, l := range lines {
		lines[i] = elide(l, width, size, bold)
	}
	return lines
}

func splitWords(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		if r == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// textEl writes a <text> element with its left edge at x and baseline at y.
func textEl(b *bytes.Buffer, x, y, size float64, bold bool, fill, s, attrs string) {
	weight := ""
	if bold {
		weight = ` font-weight="bold"`
	}
	if attrs != "" {
		attrs = " " + attrs
	}
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="%s"%s fill="%s"%s>%s</text>`,
		num(x), num(y), num(size), weight, fill, attrs, esc(s))
}

// rangeAttrs returns data-start and data-end for r.
func rangeAttrs(r vaspace.Range) string {
	return fmt.Sprintf(`data-start="%s" data-end="%s"`, hex(r.Start), hex(r.End))
}

// tip returns a <title> for name over r.
func tip(name string, r vaspace.Range) string {
	if name != "" {
		name += " "
	}
	return "<title>" + esc(name+rangeText(r)+" "+approx(r.Len())) + "</title>"
}

// group is a run of mappings drawn as one rectangle.
type group struct {
	kind   vaspace.Kind
	ident  string // owner or name shared by all; "" when mixed
	name   string // the first mapping's name
	r      vaspace.Range
	x0, x1 float64
	count  int // mappings
	idents int // distinct runs merged
}

func ident(m vaspace.Mapping) string {
	if m.Owner != "" {
		return m.Owner
	}
	return m.Name
}

func (g *group) label() string {
	if g.count == 1 && g.name != "" {
		return display(g.name)
	}
	if g.ident != "" {
		return display(g.ident)
	}
	return styleOf(g.kind).plural
}

// groups merges the mappings in p's range into runs: adjacent mappings of
// one kind and owner, then neighbouring runs of one kind of which one is
// under 3 pixels wide.
func (d *drawing) groups(p *panel) []*group {
	ax := &p.ax
	var runs []*group
	for _, m := range d.maps {
		r := m.Range.Intersect(p.rng)
		if r.IsEmpty() {
			continue
		}
		x0, x1 := ax.x(r.Start), ax.x(r.End)
		if n := len(runs); n > 0 {
			g := runs[n-1]
			if g.kind == m.Kind && g.ident == ident(m) && x0-g.x1 < 1 {
				g.r.End = max(g.r.End, m.End)
				g.x1 = max(g.x1, x1)
				g.count++
				continue
			}
		}
		runs = append(runs, &group{kind: m.Kind, ident: ident(m), name: m.Name, r: m.Range, x0: x0, x1: x1, count: 1, idents: 1})
	}
	var out []*group
	for _, g := range runs {
		if n := len(out); n > 0 {
			h := out[n-1]
			if h.kind == g.kind && g.x0-h.x1 < 1 && (g.x1-g.x0 < 3 || h.x1-h.x0 < 3) {
				h.r.End = max(h.r.End, g.r.End)
				h.x1 = max(h.x1, g.x1)
				h.count += g.count
				h.idents += g.idents
				if h.ident != g.ident {
					h.ident = ""
				}
				continue
			}
		}
		out = append(out, g)
	}
	return out
}

// placed is a label with its leader.
type placed struct {
	text     string
	x        float64 // left edge
	row      int
	ax, ay   float64 // anchor
	w        float64
	fill     string
	bold     bool
	attrs    string
	above    bool
	baseline float64
}

// leader draws the line from a label's anchor to the label.
func leader(b *bytes.Buffer, l placed) {
	var ty, my float64 // the label's near edge and its middle
	if l.above {
		ty, my = l.baseline+3, l.baseline-4
	} else {
		ty, my = l.baseline-10, l.baseline-4
	}
	if l.ax >= l.x-1 && l.ax <= l.x+l.w+1 {
		fmt.Fprintf(b, `<path d="M%s %sV%s" stroke="%s" stroke-width="0.8" fill="none"/>`, num(l.ax), num(l.ay), num(ty), colLeader)
		return
	}
	ex := l.x - 2
	if l.ax > l.x+l.w {
		ex = l.x + l.w + 2
	}
	fmt.Fprintf(b, `<path d="M%s %sV%sH%s" stroke="%s" stroke-width="0.8" fill="none"/>`, num(l.ax), num(l.ay), num(my), num(ex), colLeader)
}

// bandDraw is a band laid out in a panel.
type bandDraw struct {
	b      Band
	x0, x1 float64
	text   string
	tx     float64
	lane   int
}

func (d *drawing) bandLayout(p *panel) []bandDraw {
	type cand struct {
		i int
		b Band
	}
	var bs []cand
	for i, b := range d.f.Bands {
		if b.Range.Overlaps(p.rng) {
			bs = append(bs, cand{i, b})
		}
	}
	sort.SliceStable(bs, func(i, j int) bool {
		if bs[i].b.Range.Start != bs[j].b.Range.Start {
			return bs[i].b.Range.Start < bs[j].b.Range.Start
		}
		return bs[i].b.Range.Len() > bs[j].b.Range.Len()
	})
	lanes := newRows(maxLanes, margin, plotX1)
	var out []bandDraw
	for _, c := range bs {
		x0, x1 := p.ax.span(c.b.Range, 2)
		text := elide(display(c.b.Name), plotX1-plotX0-8, labelSize, false)
		tw := textWidth(text, labelSize, false)
		bd := bandDraw{b: c.b, x0: x0, x1: x1, text: text}
		// The label goes inside, else right of the band, else left of it,
		// else against the right edge.
		var fa, fb float64
		switch {
		case x1-x0 >= tw+8:
			bd.tx, fa, fb = x0+4, x0, x1
		case x1+4+tw <= plotX1:
			bd.tx, fa, fb = x1+4, x0, x1+4+tw
		case x0-4-tw >= plotX0:
			bd.tx, fa, fb = x0-4-tw, x0-4-tw, x1
		default:
			bd.tx = plotX1 - tw
			fa, fb = min(x0, bd.tx), plotX1
		}
		if text == "" {
			fa, fb = x0, x1
		}
		bd.lane = -1
		for l := range maxLanes {
			if lanes.reserve(l, fa, fb) {
				bd.lane = l
				break
			}
		}
		if bd.lane < 0 {
			// No room with the label: draw the band alone.
			bd.text = ""
			bd.lane = maxLanes - 1
			for l := range maxLanes {
				if lanes.reserve(l, x0, x1) {
					bd.lane = l
					break
				}
			}
		}
		out = append(out, bd)
	}
	return out
}

// slotLabel is the text for a run of colliding slots with one culprit.
func slotLabel(first, last int, culprit string) string {
	s := "slot " + strconv.Itoa(first)
	if last > first {
		s = "slots " + strconv.Itoa(first) + "–" + strconv.Itoa(last)
	}
	if culprit != "" {
		s += " → " + display(culprit)
	}
	return elide(s, 380, labelSize, false)
}
