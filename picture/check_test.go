package picture

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/vaspace"
)

// tb is what testing.T and rapid.T share.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	FailNow()
}

// node is an SVG element as encoding/xml reads it.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *node) has(name string) bool {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return true
		}
	}
	return false
}

func (n *node) num(t tb, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	require.NoError(t, err, "%s=%q on <%s>", name, n.attr(name), n.XMLName.Local)
	return v
}

func (n *node) addr(t tb, name string) vaspace.Addr {
	t.Helper()
	v, err := strconv.ParseUint(n.attr(name), 0, 64)
	require.NoError(t, err, "%s=%q on <%s %s>", name, n.attr(name), n.XMLName.Local, n.attr("data-kind"))
	return vaspace.Addr(v)
}

func (n *node) rng(t tb) vaspace.Range {
	t.Helper()
	return vaspace.Range{Start: n.addr(t, "data-start"), End: n.addr(t, "data-end")}
}

// title returns the text of the element's <title> child.
func (n *node) title() string {
	for _, c := range n.Nodes {
		if c.XMLName.Local == "title" {
			return c.Text
		}
	}
	return ""
}

// elem is an element with the panel it lies in.
type elem struct {
	*node
	panel string
}

// parsed is an SVG document read back.
type parsed struct {
	root  node
	w, h  float64
	elems []elem
}

func (p *parsed) kind(k string) []elem {
	var out []elem
	for _, e := range p.elems {
		if e.attr("data-kind") == k {
			out = append(out, e)
		}
	}
	return out
}

func parseSVG(t tb, data []byte) *parsed {
	t.Helper()
	p := &parsed{}
	require.NoError(t, xml.Unmarshal(data, &p.root), "the SVG parses")
	require.Equal(t, "svg", p.root.XMLName.Local)
	require.Equal(t, "http://www.w3.org/2000/svg", p.root.XMLName.Space)
	p.w, p.h = p.root.num(t, "width"), p.root.num(t, "height")
	require.Equal(t, fmt.Sprintf("0 0 %s %s", p.root.attr("width"), p.root.attr("height")), p.root.attr("viewBox"))
	var walk func(n *node, panel string)
	walk = func(n *node, panel string) {
		if n.attr("data-kind") == "panel" {
			panel = n.attr("data-panel")
		}
		p.elems = append(p.elems, elem{n, panel})
		for i := range n.Nodes {
			walk(&n.Nodes[i], panel)
		}
	}
	walk(&p.root, "")
	return p
}

// plain reports whether s is printed unchanged: printable, single spaces,
// no leading path.
func plain(s string) bool {
	if strings.Join(strings.Fields(s), " ") != s {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

type box struct {
	x0, y0, x1, y1 float64
	what           string
}

// checkSVG checks that the document data draws f: it parses; every band,
// highlight and colliding slot is there with its range; every titled
// element's title gives its range; every mapping lies in a drawn run; the
// axis pieces tile each panel and the breaks add up; tick labels increase
// and say their address; segments are to scale; nothing leaves the view
// box; no two texts overlap.
func checkSVG(t tb, f *Figure, data []byte) *parsed {
	t.Helper()
	p := parseSVG(t, data)
	assert.Equal(t, figWidth, p.w)

	// Titles give ranges.
	for _, e := range p.elems {
		if e.has("data-start") && e.title() != "" {
			r := e.rng(t)
			assert.Contains(t, e.title(), rangeText(r), "title of %s", e.attr("data-kind"))
		}
	}

	// Bands, highlights and colliding slots.
	overview := func(kind string) []elem {
		var out []elem
		for _, e := range p.kind(kind) {
			if e.panel == "overview" {
				out = append(out, e)
			}
		}
		return out
	}
	bands := overview("band")
	for i, b := range f.Bands {
		found := false
		for _, e := range bands {
			if e.rng(t) == b.Range && e.attr("data-style") == b.Style.String() &&
				(!plain(b.Name) || strings.Contains(e.title(), b.Name)) {
				found = true
			}
		}
		assert.True(t, found, "band %d %q %v in the overview", i, b.Name, b.Range)
	}
	hls := overview("highlight")
	assert.Len(t, hls, len(f.Highlights), "every highlight drawn once in the overview")
	for i, h := range f.Highlights {
		found := false
		for _, e := range hls {
			if e.attr("data-index") == strconv.Itoa(i) {
				found = true
				assert.Equal(t, h.Range, e.rng(t), "highlight %d", i)
				if plain(h.Label) {
					assert.Contains(t, e.title(), h.Label)
				}
			}
		}
		assert.True(t, found, "highlight %d %q", i, h.Label)
	}
	if s := f.Slots; s != nil {
		slots := p.kind("slot")
		for _, c := range s.Colliding {
			found := false
			for _, e := range slots {
				if e.attr("data-slot") == strconv.Itoa(c.Slot) && e.attr("data-colliding") == "true" {
					found = true
					assert.Equal(t, s.cell(c.Slot), e.rng(t), "slot %d", c.Slot)
					if plain(c.Culprit) {
						assert.Equal(t, c.Culprit, e.attr("data-culprit"))
					}
				}
			}
			assert.True(t, found, "colliding slot %d drawn on its own", c.Slot)
		}
		// Every slot is drawn, on its own or in a run, in the overview.
		covered := make([]bool, s.Count)
		for _, e := range p.elems {
			if e.panel != "overview" {
				continue
			}
			switch e.attr("data-kind") {
			case "slot":
				k, err := strconv.Atoi(e.attr("data-slot"))
				require.NoError(t, err)
				covered[k] = true
			case "slot-run":
				a, err1 := strconv.Atoi(e.attr("data-first"))
				b, err2 := strconv.Atoi(e.attr("data-last"))
				require.NoError(t, err1)
				require.NoError(t, err2)
				for k := a; k <= b; k++ {
					assert.False(t, covered[k] && e.attr("data-kind") == "slot-run", "slot %d twice", k)
					covered[k] = true
				}
			}
		}
		for k, c := range covered {
			if !c {
				assert.Fail(t, "slot not drawn", "slot %d", k)
				break
			}
		}
	}

	// Every mapping lies in one drawn run of the overview.
	var runs []vaspace.Range
	for _, e := range overview("mapping") {
		runs = append(runs, e.rng(t))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Start < runs[j].Start })
	for _, m := range f.Mappings {
		i := sort.Search(len(runs), func(i int) bool { return runs[i].Start > m.Start })
		ok := false
		for j := i - 1; j >= 0; j-- {
			if runs[j].ContainsRange(m.Range) {
				ok = true
				break
			}
		}
		if !ok {
			assert.Fail(t, "mapping not drawn", "%v", m)
			break
		}
	}

	// Per panel: pieces tile the range, breaks add up, ticks increase,
	// segments are to scale.
	panels := p.kind("panel")
	require.NotEmpty(t, panels)
	for _, pn := range panels {
		name := pn.attr("data-panel")
		pr := pn.rng(t)
		type pc struct {
			r      vaspace.Range
			brk    bool
			skip   uint64
			x0, x1 float64
		}
		var pcs []pc
		var ticks []elem
		for _, e := range p.elems {
			if e.panel != name {
				continue
			}
			switch e.attr("data-kind") {
			case "segment":
				pcs = append(pcs, pc{r: e.rng(t), x0: e.num(t, "x1"), x1: e.num(t, "x2")})
			case "break":
				skip, err := strconv.ParseUint(e.attr("data-skipped"), 10, 64)
				require.NoError(t, err)
				pcs = append(pcs, pc{r: e.rng(t), brk: true, skip: skip})
			case "tick-label":
				ticks = append(ticks, e)
			}
		}
		sort.Slice(pcs, func(i, j int) bool { return pcs[i].r.Start < pcs[j].r.Start })
		require.NotEmpty(t, pcs, "panel %s has an axis", name)
		assert.Equal(t, pr.Start, pcs[0].r.Start, "panel %s axis start", name)
		assert.Equal(t, pr.End, pcs[len(pcs)-1].r.End, "panel %s axis end", name)
		var shown, skipped uint64
		for i, c := range pcs {
			if i > 0 {
				assert.Equal(t, pcs[i-1].r.End, c.r.Start, "panel %s pieces tile", name)
			}
			if c.brk {
				assert.Equal(t, c.r.Len(), c.skip, "break label is its length")
				skipped += c.skip
			} else {
				shown += c.r.Len()
			}
		}
		assert.Equal(t, pr.Len(), shown+skipped, "panel %s: shown and skipped add up", name)
		// Within each row of labels, left to right, addresses increase.
		sort.SliceStable(ticks, func(i, j int) bool {
			if yi, yj := ticks[i].num(t, "y"), ticks[j].num(t, "y"); yi != yj {
				return yi < yj
			}
			return ticks[i].num(t, "x") < ticks[j].num(t, "x")
		})
		for i, e := range ticks {
			a := e.addr(t, "data-addr")
			if i > 0 && ticks[i-1].num(t, "y") == e.num(t, "y") {
				assert.Greater(t, a, ticks[i-1].addr(t, "data-addr"), "panel %s tick labels increase: %q after %q", name, e.Text, ticks[i-1].Text)
			}
			v, tol, ok := labelValue(e.Text)
			if assert.True(t, ok, "tick label %q", e.Text) {
				assert.InDelta(t, float64(a), v, tol, "tick label %q at %#x", e.Text, uint64(a))
			}
		}
		// Mapping runs that start inside a segment start where its scale
		// puts them.
		for _, e := range p.elems {
			if e.panel != name || e.attr("data-kind") != "mapping" {
				continue
			}
			r := e.rng(t)
			if r.Start < pr.Start {
				continue
			}
			for _, c := range pcs {
				if !c.brk && c.r.Start <= r.Start && r.Start < c.r.End {
					want := c.x0 + float64(r.Start-c.r.Start)/float64(c.r.Len())*(c.x1-c.x0)
					assert.InDelta(t, want, e.num(t, "x"), 0.11, "mapping %s x to scale", rangeText(r))
				}
			}
		}
	}

	// Nothing leaves the view box; no texts overlap.
	const tol = 0.51
	inside := func(x0, y0, x1, y1 float64, what string) {
		if x0 < -tol || y0 < -tol || x1 > p.w+tol || y1 > p.h+tol {
			assert.Fail(t, "outside the view box", "%s: [%.1f, %.1f]×[%.1f, %.1f] in %.0f×%.0f", what, x0, x1, y0, y1, p.w, p.h)
		}
	}
	var texts []box
	for _, e := range p.elems {
		what := e.XMLName.Local + " " + e.attr("data-kind")
		switch e.XMLName.Local {
		case "rect":
			if e.attr("width") == "6" && e.attr("data-kind") == "" && e.attr("x") == "0" {
				continue // pattern tile
			}
			if !e.has("x") {
				continue
			}
			x, y, w, h := e.num(t, "x"), e.num(t, "y"), e.num(t, "width"), e.num(t, "height")
			assert.GreaterOrEqual(t, w, 0.0, what)
			assert.GreaterOrEqual(t, h, 0.0, what)
			inside(x, y, x+w, y+h, what)
		case "line":
			if e.has("x1") && e.has("y1") {
				inside(min(e.num(t, "x1"), e.num(t, "x2")), min(e.num(t, "y1"), e.num(t, "y2")), max(e.num(t, "x1"), e.num(t, "x2")), max(e.num(t, "y1"), e.num(t, "y2")), what)
			}
		case "text":
			x, y, size := e.num(t, "x"), e.num(t, "y"), e.num(t, "font-size")
			w := textWidth(e.Text, size, e.attr("font-weight") == "bold")
			b := box{x, y - 0.78*size, x + w, y + 0.22*size, fmt.Sprintf("%q (%s)", e.Text, e.attr("data-kind"))}
			inside(b.x0, b.y0, b.x1, b.y1, "text "+b.what)
			texts = append(texts, b)
		case "path":
			for _, v := range pathNumbers(e.attr("d")) {
				inside(v[0], v[1], v[0], v[1], what)
			}
		}
	}
	overlaps := 0
	for i := range texts {
		for j := i + 1; j < len(texts); j++ {
			a, b := texts[i], texts[j]
			if a.x0 < b.x1-tol && b.x0 < a.x1-tol && a.y0 < b.y1-tol && b.y0 < a.y1-tol {
				if overlaps < 5 {
					assert.Fail(t, "texts overlap", "%s at (%.1f, %.1f) and %s at (%.1f, %.1f)", a.what, a.x0, a.y1, b.what, b.x0, b.y1)
				}
				overlaps++
			}
		}
	}
	return p
}

// labelValue reads a tick label back: "0", "16.5 GiB", "0x7ffff000"; tol
// is how far the address may be from the value the label rounds to.
func labelValue(s string) (v, tol float64, ok bool) {
	if s == "0" {
		return 0, 0.5, true
	}
	if strings.HasPrefix(s, "0x") {
		n, err := strconv.ParseUint(s, 0, 64)
		return float64(n), 0.5, err == nil
	}
	num, unit, found := strings.Cut(s, " ")
	if !found {
		return 0, 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, 0, false
	}
	for i, u := range unitNames {
		if u == unit {
			scale := math.Exp2(float64(10 * i))
			dec := 0
			if _, frac, ok := strings.Cut(num, "."); ok {
				dec = len(frac)
			}
			return f * scale, scale*math.Pow(10, -float64(dec))/2 + 1, true
		}
	}
	return 0, 0, false
}

// pathNumbers returns the points of an M/L/V/H path.
func pathNumbers(d string) [][2]float64 {
	var out [][2]float64
	var x, y float64
	fields := strings.FieldsFunc(d, func(r rune) bool { return r == ' ' || r == ',' })
	// Split commands glued to numbers: "M12" -> "M", "12".
	var toks []string
	for _, f := range fields {
		for f != "" {
			i := strings.IndexAny(f[1:], "MLVHZ")
			if i < 0 {
				toks = append(toks, f)
				break
			}
			toks = append(toks, f[:i+1])
			f = f[i+1:]
		}
	}
	var cmd byte
	nums := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		if c := tk[0]; c == 'M' || c == 'L' || c == 'V' || c == 'H' {
			cmd = c
			tk = tk[1:]
			if tk == "" {
				continue
			}
		}
		switch cmd {
		case 'M', 'L':
			x = nums(tk)
			if i+1 < len(toks) {
				i++
				y = nums(toks[i])
			}
		case 'V':
			y = nums(tk)
		case 'H':
			x = nums(tk)
		}
		out = append(out, [2]float64{x, y})
	}
	return out
}

// writeSVG draws f and returns the document.
func writeSVG(t tb, f *Figure) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, f.WriteSVG(&b))
	return b.Bytes()
}
