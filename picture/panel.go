package picture

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"

	"github.com/vasim/vasim/vaspace"
)

// drawPanel draws panel p with its top at y0 and returns its height. From
// top to bottom: a header, the bands, labels above the track, the
// highlights, the mapping track, the slot row, the slots' labels and the
// axis.
func (d *drawing) drawPanel(b *bytes.Buffer, p *panel, y0 float64) float64 {
	ax := &p.ax
	y := y0 + 18
	bands := d.bandLayout(p)
	nBandLanes := 0
	for _, bd := range bands {
		nBandLanes = max(nBandLanes, bd.lane+1)
	}
	bandsTop := y
	if nBandLanes > 0 {
		y += float64(nBandLanes)*(bandH+bandGap) + 2
	}

	// Highlights in this panel, in lanes so that none hides another.
	type hlDraw struct {
		i      int
		x0, x1 float64 // drawn, at least 3 pixels wide
		t0, t1 float64 // true extent
		lane   int
	}
	var hls []hlDraw
	for i, h := range d.hls {
		if h.r.Overlaps(p.rng) {
			x0, x1 := ax.span(h.r, 3)
			t0, t1 := ax.span(h.r, 0)
			hls = append(hls, hlDraw{i: i, x0: x0, x1: x1, t0: t0, t1: t1})
		}
	}
	sort.SliceStable(hls, func(i, j int) bool { return hls[i].x0 < hls[j].x0 })
	var laneEnd []float64
	for k := range hls {
		h := &hls[k]
		h.lane = -1
		for l, e := range laneEnd {
			if e <= h.t0+0.5 {
				h.lane = l
				break
			}
		}
		if h.lane < 0 {
			if len(laneEnd) < 6 {
				laneEnd = append(laneEnd, 0)
			}
			h.lane = len(laneEnd) - 1
		}
		laneEnd[h.lane] = max(laneEnd[h.lane], h.t1)
	}
	nHLLanes := len(laneEnd)

	groups := d.groups(p)

	// Labels above the track: detail-panel letters, then highlights, then
	// (in the overview) mappings too narrow to hold their own name.
	nRows := maxAbove
	if p.zoom {
		nRows = maxAboveZoom
	}
	above := newRows(nRows, margin, figWidth-margin)
	var labels []placed
	type anchorAt int
	const (
		atIndicator anchorAt = iota
		atHighlight
		atTrack
	)
	type req struct {
		l     placed
		shift float64
		at    anchorAt
		lane  int
	}
	var reqs [][]req // by class, each in order of anchor
	if !p.zoom {
		var rq []req
		for _, z := range d.zooms {
			text := "detail " + z.letter
			rq = append(rq, req{l: placed{text: text, ax: (z.ix0 + z.ix1) / 2, w: textWidth(text, labelSize, true), fill: colText, bold: true, above: true,
				attrs: `data-kind="label" data-for="detail" data-panel="` + z.letter + `"`}, shift: 60, at: atIndicator})
		}
		reqs = append(reqs, rq)
	}
	var rq []req
	for _, h := range hls {
		if !p.ownHL[h.i] || d.hls[h.i].text == "" {
			continue
		}
		it := d.hls[h.i]
		rq = append(rq, req{l: placed{text: it.text, ax: (h.x0 + h.x1) / 2, w: textWidth(it.text, labelSize, false), fill: colHighlightTx, above: true,
			attrs: fmt.Sprintf(`data-kind="label" data-for="highlight" data-index="%d" %s`, h.i, rangeAttrs(it.r))}, shift: 300, at: atHighlight, lane: h.lane})
	}
	reqs = append(reqs, rq)
	inside := map[*group]string{}
	var outside []*group
	insideEnd := plotX0 // names inside runs must not run into each other
	for _, g := range groups {
		text := g.label()
		tw := textWidth(text, labelSize, false)
		if g.x1-g.x0 >= tw+8 && g.x0+4 >= insideEnd+4 {
			inside[g] = text
			insideEnd = g.x0 + 4 + tw
			continue
		}
		// Runs of many images are left unnamed: "images" says little.
		if p.zoom || (g.ident == "" && g.kind == vaspace.KindImage) || d.nearFocus(g.r) {
			continue
		}
		outside = append(outside, g)
	}
	// The widest first: they matter most.
	sort.SliceStable(outside, func(i, j int) bool { return outside[i].x1-outside[i].x0 > outside[j].x1-outside[j].x0 })
	rq = nil
	for _, g := range outside {
		text := elide(g.label(), 240, labelSize, false)
		rq = append(rq, req{l: placed{text: text, ax: (g.x0 + g.x1) / 2, w: textWidth(text, labelSize, false), fill: colText, above: true,
			attrs: `data-kind="label" data-for="mapping" ` + rangeAttrs(g.r)}, shift: 140, at: atTrack})
	}
	reqs = append(reqs, rq)
	var at []req
	missed := 0 // highlight and slot labels that found no room
	for _, class := range reqs {
		for i, r := range class {
			pending := make([]float64, 0, len(class)-i-1)
			for _, o := range class[i+1:] {
				pending = append(pending, o.l.ax)
			}
			sort.Float64s(pending)
			s := above.place(r.l.ax, r.l.w, r.shift, 0, pending, true)
			if !s.ok {
				if r.at == atHighlight {
					missed++
				}
				continue
			}
			r.l.x, r.l.row = s.x, s.row
			labels = append(labels, r.l)
			at = append(at, r)
		}
	}
	nAbove := above.used()
	aboveTop := y
	if nAbove > 0 {
		y += float64(nAbove)*rowH + 4
	}
	hlTop := y
	if nHLLanes > 0 {
		y += float64(nHLLanes)*(hlH+2) + 1
	}
	trackTop := y
	hasTrack := len(d.maps) > 0
	if hasTrack {
		y += trackH
	}
	laneY := func(l int) float64 { return trackTop - float64(l+1)*(hlH+2) }
	for i := range labels {
		l := &labels[i]
		l.baseline = aboveTop + float64(nAbove-l.row)*rowH - 3
		switch a := at[i]; a.at {
		case atIndicator:
			l.ay = min(hlTop, trackTop) - 2
		case atHighlight:
			l.ay = laneY(a.lane)
		default:
			l.ay = trackTop
		}
	}

	// The slot row and the labels of its colliding runs.
	showSlots := d.slots != nil && d.window.Overlaps(p.rng)
	slotTop := y
	var runs []placed
	if showSlots {
		y += 4
		slotTop = y
		y += slotH
		nb := maxBelow
		if p.zoom {
			nb = maxBelowZoom
		}
		below := newRows(nb, margin, figWidth-margin)
		var own []int
		for _, k := range d.colliding {
			if p.ownSlot[k] {
				own = append(own, k)
			}
		}
		type run struct {
			first, last int
			x0, x1      float64
		}
		var rs []run
		for i := 0; i < len(own); {
			j := i
			for j+1 < len(own) && own[j+1] == own[j]+1 && d.culprit[own[j+1]] == d.culprit[own[i]] {
				j++
			}
			r := vaspace.Range{Start: d.slots.cell(own[i]).Start, End: d.slots.cell(own[j]).End}
			x0, x1 := ax.span(r, 2)
			rs = append(rs, run{own[i], own[j], x0, x1})
			i = j + 1
		}
		for i, r := range rs {
			var pending []float64
			for _, o := range rs[i+1:] {
				pending = append(pending, (o.x0+o.x1)/2)
			}
			text := slotLabel(r.first, r.last, d.culprit[r.first])
			w := textWidth(text, labelSize, false)
			if s := below.place((r.x0+r.x1)/2, w, 300, 0, pending, true); s.ok {
				runs = append(runs, placed{text: text, x: s.x, row: s.row, ax: (r.x0 + r.x1) / 2, ay: slotTop + slotH, w: w, fill: colHighlightTx,
					attrs: fmt.Sprintf(`data-kind="label" data-for="slots" data-first="%d" data-last="%d"`, r.first, r.last)})
			} else {
				missed++
			}
		}
		if n := below.used(); n > 0 {
			for i := range runs {
				runs[i].baseline = y + 4 + float64(runs[i].row+1)*rowH - 3
			}
			y += 4 + float64(n)*rowH
		}
	}

	// The axis and its labels.
	baseline := y + 8
	arows := newRows(4, 4, figWidth-4)
	type axisText struct {
		x    float64
		row  int
		text string
		attr string
	}
	var atexts []axisText
	type mark struct {
		x float64
		a vaspace.Addr
	}
	var marks []mark
	edgeAt := map[vaspace.Addr]bool{}
	type edge struct {
		a     vaspace.Addr
		x     float64
		align int // -1 text ends at x, 0 centred, 1 starts at x
	}
	var edges []edge
	addEdge := func(a vaspace.Addr, x float64, align int) {
		for i := range edges {
			if edges[i].a == a {
				edges[i].align = 0
				return
			}
		}
		edges = append(edges, edge{a, x, align})
	}
	pcs := ax.pieces
	addEdge(ax.ext.Start, pcs[0].x0, 1)
	for _, pc := range pcs {
		if pc.brk {
			if pc.r.Start != ax.ext.Start {
				addEdge(pc.r.Start, pc.x0, -1)
			}
			if pc.r.End != ax.ext.End {
				addEdge(pc.r.End, pc.x1, 1)
			}
		}
	}
	addEdge(ax.ext.End, pcs[len(pcs)-1].x1, -1)
	if len(edges) > 1 && edges[len(edges)-1].a == ax.ext.End {
		edges[len(edges)-1].align = -1
	}
	// Axis labels: what each break skips, under it; the axis's two ends;
	// the other ends of segments; then the ticks where there is room.
	placeEdge := func(e edge) {
		text := exact(e.a)
		w := textWidth(text, tickSize, false)
		x := e.x - w/2
		switch e.align {
		case -1:
			x = e.x - w - 2
		case 1:
			x = e.x + 2
		}
		x = min(max(x, 4), figWidth-4-w)
		edgeAt[e.a] = true
		marks = append(marks, mark{e.x, e.a})
		for r := range 3 {
			if arows.reserve(r, x, x+w) {
				atexts = append(atexts, axisText{x, r, text, `data-kind="tick-label" data-edge="true" data-addr="` + hex(e.a) + `"`})
				break
			}
		}
	}
	// Each break's two-line label sits under it, in rows 0 and 1.
	for _, pc := range pcs {
		if !pc.brk {
			continue
		}
		for r, line := range pc.lines {
			w := textWidth(line, tickSize, false)
			x := (pc.x0+pc.x1)/2 - w/2
			arows.occ[r] = append(arows.occ[r], ival{x, x + w})
			atexts = append(atexts, axisText{x, r, line, `data-kind="label" data-for="break" ` + rangeAttrs(pc.r)})
		}
	}
	for _, e := range edges {
		if e.a == ax.ext.Start || e.a == ax.ext.End {
			placeEdge(e)
		}
	}
	for _, e := range edges {
		if e.a != ax.ext.Start && e.a != ax.ext.End {
			placeEdge(e)
		}
	}
	for _, pc := range pcs {
		if pc.brk {
			continue
		}
		for _, t := range ticks(pc) {
			x := ax.x(t.a)
			marks = append(marks, mark{x, t.a})
			if edgeAt[t.a] {
				continue
			}
			w := textWidth(t.text, tickSize, false)
			if arows.reserve(0, x-w/2, x+w/2) {
				atexts = append(atexts, axisText{x - w/2, 0, t.text, `data-kind="tick-label" data-addr="` + hex(t.a) + `"`})
			}
		}
	}
	nAxisRows := max(arows.used(), 1)
	rowBase := func(r int) float64 { return baseline + 6 + 10 + float64(r)*axisRowH }
	height := rowBase(nAxisRows-1) + 10 - y0

	// Emit, back to front.
	fmt.Fprintf(b, `<g data-kind="panel" data-panel="%s" %s>`, panelName(p), rangeAttrs(p.rng))
	textEl(b, margin, y0+13, 12, true, colText, d.header(p, missed), `data-kind="panel-title"`)
	gridTop := bandsTop
	for _, m := range marks {
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`, num(m.x), num(gridTop), num(m.x), num(baseline), colGrid)
	}
	for _, bd := range bands {
		look := bandLooks[bd.b.Style]
		by := bandsTop + float64(bd.lane)*(bandH+bandGap)
		dash := ""
		if look.dash != "" {
			dash = ` stroke-dasharray="` + look.dash + `"`
		}
		fmt.Fprintf(b, `<rect data-kind="band" data-style="%s" %s x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s" stroke-width="1"%s>%s</rect>`,
			bd.b.Style, rangeAttrs(bd.b.Range), num(bd.x0), num(by), num(bd.x1-bd.x0), num(bandH), look.fill, look.stroke, dash, tip(clean(bd.b.Name)+" ("+look.legend+")", bd.b.Range))
		if bd.text != "" {
			textEl(b, bd.tx, by+12, labelSize, false, colText, bd.text, `data-kind="label" data-for="band" `+rangeAttrs(bd.b.Range))
		}
	}
	if hasTrack {
		fmt.Fprintf(b, `<rect data-kind="track" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>free: nothing mapped</title></rect>`,
			num(plotX0), num(trackTop), num(plotX1-plotX0), num(trackH), colTrack)
		textEl(b, margin, trackTop+17, labelSize, false, colMuted, "mapped", `data-kind="gutter"`)
	}
	for _, g := range groups {
		st := styleOf(g.kind)
		w := max(g.x1-g.x0, 0.8)
		stroke := ""
		if w >= 3 {
			stroke = ` stroke="#fff" stroke-width="0.6"`
		}
		name := g.label()
		switch {
		case g.count == 1 && g.name != "" && g.ident != g.name:
			name = clean(g.name) + " of " + clean(g.ident)
		case g.count == 1 && g.name != "":
			name = clean(g.name)
		case g.ident != "":
			name = clean(g.ident)
		}
		what := fmt.Sprintf("%s (%s, %d mapping", name, st.name, g.count)
		if g.count != 1 {
			what += "s"
		}
		what += ")"
		fmt.Fprintf(b, `<rect data-kind="mapping" data-mapping-kind="%s" data-count="%d" %s x="%s" y="%s" width="%s" height="%s" fill="%s"%s>%s</rect>`,
			esc(g.kind.String()), g.count, rangeAttrs(g.r), num(g.x0), num(trackTop), num(w), num(trackH), st.fill, stroke, tip(what, g.r))
		if text, ok := inside[g]; ok {
			textEl(b, g.x0+4, trackTop+17, labelSize, false, onColour(st.fill), text, `data-kind="label" data-for="mapping" `+rangeAttrs(g.r))
		}
	}
	for _, h := range hls {
		it := d.hls[h.i]
		fmt.Fprintf(b, `<rect data-kind="highlight" data-index="%d" %s x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s" stroke-width="0.6">%s</rect>`,
			h.i, rangeAttrs(it.r), num(h.x0), num(laneY(h.lane)), num(h.x1-h.x0), num(hlH), colHighlight, colHighlightLn, tip(it.full, it.r))
		if hasTrack {
			// A red outline on the track shows what the highlight covers.
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="%s" stroke-width="1.2"/>`,
				num(h.x0), num(trackTop+0.6), num(h.x1-h.x0), num(trackH-1.2), colHighlight)
		}
	}
	if showSlots {
		d.drawSlots(b, p, slotTop)
	}
	if !p.zoom {
		for _, z := range d.zooms {
			top := min(hlTop, trackTop) - 2
			bottom := max(trackTop+trackH, slotTop+slotH) + 2
			if !showSlots {
				bottom = trackTop + trackH + 2
			}
			z.iy0, z.iy1 = top, bottom
			fmt.Fprintf(b, `<rect data-kind="detail-marker" data-panel="%s" %s x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333" stroke-width="1" stroke-dasharray="3 2"><title>%s</title></rect>`,
				z.letter, rangeAttrs(z.rng), num(z.ix0-1), num(top), num(z.ix1-z.ix0+2), num(bottom-top), esc("detail "+z.letter+": "+rangeText(z.rng)))
		}
	}
	for _, pc := range pcs {
		if !pc.brk {
			continue
		}
		xm := (pc.x0 + pc.x1) / 2
		what := "free"
		if pc.what != "" {
			what = pc.what
		}
		fmt.Fprintf(b, `<g data-kind="break" %s data-skipped="%d">%s`, rangeAttrs(pc.r), pc.r.Len(), tip("collapsed, not to scale: "+what, pc.r))
		fmt.Fprintf(b, `<rect x="%s" y="%s" width="6" height="%s" fill="#fff"/>`, num(xm-3), num(gridTop), num(baseline-gridTop))
		fmt.Fprintf(b, `<path d="M%s %sL%s %sM%s %sL%s %s" stroke="%s" stroke-width="1.3" fill="none"/>`,
			num(xm-8), num(baseline+5), num(xm-2), num(baseline-5), num(xm+2), num(baseline+5), num(xm+8), num(baseline-5), colAxis)
		b.WriteString(`</g>`)
	}
	for _, pc := range pcs {
		if pc.brk {
			continue
		}
		fmt.Fprintf(b, `<line data-kind="segment" %s x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.2">%s</line>`,
			rangeAttrs(pc.r), num(pc.x0), num(baseline), num(pc.x1), num(baseline), colAxis, tip("to scale", pc.r))
	}
	for _, m := range marks {
		fmt.Fprintf(b, `<line data-kind="tick" data-addr="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`, hex(m.a), num(m.x), num(baseline), num(m.x), num(baseline+4), colAxis)
	}
	for _, t := range atexts {
		textEl(b, t.x, rowBase(t.row), tickSize, false, colAxis, t.text, t.attr)
	}
	for _, l := range labels {
		leader(b, l)
		textEl(b, l.x, l.baseline, labelSize, l.bold, l.fill, l.text, l.attrs)
	}
	for _, l := range runs {
		leader(b, l)
		textEl(b, l.x, l.baseline, labelSize, false, l.fill, l.text, l.attrs)
	}
	b.WriteString("</g>")
	return height
}

func panelName(p *panel) string {
	if p.zoom {
		return p.letter
	}
	return "overview"
}

// header is the line above a panel.
func (d *drawing) header(p *panel, missed int) string {
	var s string
	if p.zoom {
		s = fmt.Sprintf("Detail %s: %s, %s, drawn to its own scale", p.letter, rangeText(p.rng), approx(p.rng.Len()))
	} else {
		s = "Address space " + rangeText(p.rng) + ", to scale"
		for _, pc := range p.ax.pieces {
			if pc.brk {
				s = "Address space " + rangeText(p.rng) + ": to scale between the breaks (//), which skip long stretches"
				break
			}
		}
	}
	switch missed {
	case 0:
	case 1:
		s += " (1 label left out for room: see the tooltips)"
	default:
		s += fmt.Sprintf(" (%d labels left out for room: see the tooltips)", missed)
	}
	return s
}

// nearFocus reports whether r overlaps a highlight or lies in a detail
// panel: its name is told there.
func (d *drawing) nearFocus(r vaspace.Range) bool {
	for _, h := range d.hls {
		if h.r.Overlaps(r) {
			return true
		}
	}
	for _, z := range d.zooms {
		if z.rng.Overlaps(r) {
			return true
		}
	}
	return false
}

// drawSlots draws the slot row of p at y: every slot on its own when
// slots are at least 4 pixels wide, else runs of free slots and each
// colliding slot on its own.
func (d *drawing) drawSlots(b *bytes.Buffer, p *panel, y float64) {
	s := d.slots
	ax := &p.ax
	textEl(b, margin, y+13, labelSize, false, colMuted, elide(clean(s.Name), gutter-8, labelSize, false), `data-kind="gutter"`)
	vis := d.window.Intersect(p.rng)
	first := int(uint64(vis.Start-s.Start) / s.Granule)
	last := int(uint64(vis.End-1-s.Start) / s.Granule)
	cellW := ax.x(s.cell(first).End) - ax.x(s.cell(first).Start)
	reach := s.Reach
	if reach == 0 {
		reach = s.Granule
	}
	one := func(k int) {
		c := s.cell(k)
		x0, x1 := ax.span(c, 2)
		culprit, hit := d.culprit[k]
		fill, stroke := colFreeSlot, colFreeSlotLn
		what := fmt.Sprintf("slot %d: free", k)
		if hit {
			fill, stroke = colHighlight, colHighlightLn
			what = fmt.Sprintf("slot %d: collides", k)
			if culprit != "" {
				what += " with " + culprit
			}
		}
		if end, ok := c.Start.Add(reach); ok && reach != s.Granule {
			what += "; reserves " + rangeText(vaspace.Range{Start: c.Start, End: end})
		}
		cul := ""
		if hit {
			cul = ` data-culprit="` + esc(culprit) + `"`
		}
		fmt.Fprintf(b, `<rect data-kind="slot" data-slot="%d" data-colliding="%t"%s %s x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s" stroke-width="0.5">%s</rect>`,
			k, hit, cul, rangeAttrs(c), num(x0), num(y), num(x1-x0), num(slotH), fill, stroke, tip(what, c))
		if t := strconv.Itoa(k); x1-x0 >= textWidth(t, 9, false)+4 {
			col := colText
			if hit {
				col = "#fff"
			}
			textEl(b, x0+(x1-x0-textWidth(t, 9, false))/2, y+12.5, 9, false, col, t, `data-kind="slot-index"`)
		}
	}
	if cellW >= 4 {
		for k := first; k <= last; k++ {
			one(k)
		}
		return
	}
	for k := first; k <= last; {
		if _, hit := d.culprit[k]; hit {
			k++
			continue
		}
		j := k
		for j+1 <= last {
			if _, hit := d.culprit[j+1]; hit {
				break
			}
			j++
		}
		r := vaspace.Range{Start: s.cell(k).Start, End: s.cell(j).End}
		x0, x1 := ax.span(r, 1)
		fmt.Fprintf(b, `<rect data-kind="slot-run" data-colliding="false" data-first="%d" data-last="%d" %s x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s" stroke-width="0.5">%s</rect>`,
			k, j, rangeAttrs(r), num(x0), num(y), num(x1-x0), num(slotH), colFreeSlot, colFreeSlotLn, tip(fmt.Sprintf("slots %d–%d: free", k, j), r))
		k = j + 1
	}
	for _, k := range d.colliding {
		if k >= first && k <= last {
			one(k)
		}
	}
}

// drawLegend draws the key at y and returns its height.
func (d *drawing) drawLegend(b *bytes.Buffer, y float64) float64 {
	type entry struct {
		fill, stroke, dash, text string
	}
	var es []entry
	seen := map[vaspace.Kind]bool{}
	var kinds []vaspace.Kind
	for _, m := range d.maps {
		if !seen[m.Kind] {
			seen[m.Kind] = true
			kinds = append(kinds, m.Kind)
		}
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	for _, k := range kinds {
		st := styleOf(k)
		es = append(es, entry{st.fill, "none", "", st.name})
	}
	if len(d.maps) > 0 {
		es = append(es, entry{colTrack, "#ccc", "", "free"})
	}
	styles := map[BandStyle]bool{}
	for _, bd := range d.f.Bands {
		styles[bd.Style] = true
	}
	for s := BandNote; int(s) < len(bandLooks); s++ {
		if styles[s] {
			l := bandLooks[s]
			es = append(es, entry{l.fill, l.stroke, l.dash, l.legend})
		}
	}
	if len(d.hls) > 0 {
		es = append(es, entry{colHighlight, colHighlightLn, "", "highlighted"})
	}
	if d.slots != nil {
		es = append(es, entry{colHighlight, colHighlightLn, "", "colliding slot"}, entry{colFreeSlot, colFreeSlotLn, "", "free slot"})
	}
	b.WriteString(`<g data-kind="legend">`)
	x, row := plotX0, 0.0
	textEl(b, margin, y+11, labelSize, false, colMuted, "key", `data-kind="gutter"`)
	for _, e := range es {
		w := 16 + textWidth(e.text, labelSize, false) + 18
		if x+w > plotX1 && x > plotX0 {
			x, row = plotX0, row+1
		}
		yy := y + row*18
		dash := ""
		if e.dash != "" {
			dash = ` stroke-dasharray="` + e.dash + `"`
		}
		fmt.Fprintf(b, `<rect data-kind="key" x="%s" y="%s" width="12" height="12" fill="%s" stroke="%s"%s/>`, num(x), num(yy+1), e.fill, e.stroke, dash)
		textEl(b, x+16, yy+11, labelSize, false, colText, e.text, `data-kind="key-label"`)
		x += w
	}
	b.WriteString(`</g>`)
	return (row + 1) * 18
}
