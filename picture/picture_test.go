package picture

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/vaspace"
	"pgregory.net/rapid"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
	tib = 1 << 40
)

func rng(start, end uint64) vaspace.Range {
	return vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(end)}
}

func img(name string, start, end uint64) vaspace.Mapping {
	return vaspace.Mapping{Range: rng(start, end), Name: name, Owner: name, Kind: vaspace.KindImage, Prot: vaspace.ProtRX}
}

func TestRejectsWhatCannotBeDrawn(t *testing.T) {
	ok := []vaspace.Mapping{img("a", 0x1000, 0x2000)}
	cases := []struct {
		name  string
		f     *Figure
		field string
	}{
		{"nil", nil, "figure"},
		{"empty", &Figure{Title: "nothing"}, "figure"},
		{"empty mapping", &Figure{Mappings: []vaspace.Mapping{img("a", 0x1000, 0x1000)}}, `mappings[0] "a"`},
		{"reversed mapping", &Figure{Mappings: []vaspace.Mapping{img("a", 0x1000, 0x2000), img("b", 0x3000, 0x2000)}}, `mappings[1] "b"`},
		{"reversed bounds", &Figure{Bounds: rng(0x2000, 0x1000), Mappings: ok}, "bounds"},
		{"empty band", &Figure{Mappings: ok, Bands: []Band{{Name: "w", Range: rng(5, 5)}}}, `bands[0] "w"`},
		{"band style", &Figure{Mappings: ok, Bands: []Band{{Name: "w", Range: rng(5, 6), Style: 9}}}, `bands[0] "w"`},
		{"reversed highlight", &Figure{Mappings: ok, Highlights: []Highlight{{Label: "h", Range: rng(math.MaxUint64, 0)}}}, `highlights[0] "h"`},
		{"no granule", &Figure{Slots: &Slots{Count: 3}}, "slots.granule"},
		{"no slots", &Figure{Slots: &Slots{Granule: 4096}}, "slots.count"},
		{"too many slots", &Figure{Slots: &Slots{Granule: 4096, Count: maxSlots + 1}}, "slots.count"},
		{"slots past the top", &Figure{Slots: &Slots{Start: vaspace.Addr(math.MaxUint64 - 3*gib), Granule: gib, Count: 4}}, "slots"},
		{"slots overflow the multiply", &Figure{Slots: &Slots{Granule: 1 << 60, Count: 1 << 10}}, "slots"},
		{"colliding slot out of range", &Figure{Slots: &Slots{Granule: 4096, Count: 4, Colliding: []Collision{{Slot: 4}}}}, "slots.colliding[0]"},
		{"negative colliding slot", &Figure{Slots: &Slots{Granule: 4096, Count: 4, Colliding: []Collision{{Slot: -1}}}}, "slots.colliding[0]"},
		{"slot twice", &Figure{Slots: &Slots{Granule: 4096, Count: 4, Colliding: []Collision{{Slot: 1}, {Slot: 1}}}}, "slots.colliding[1]"},
		{"too many notes", &Figure{Mappings: ok, Notes: make([]string, maxNotes+1)}, "notes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			err := c.f.WriteSVG(&b)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrFigure)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, c.field, e.Field)
			assert.True(t, strings.HasPrefix(err.Error(), "picture: "+c.field+": "), err.Error())
			assert.Zero(t, b.Len(), "nothing written")
		})
	}
}

type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteErrorIsReturned(t *testing.T) {
	f := &Figure{Mappings: []vaspace.Mapping{img("a", 0x1000, 0x2000)}}
	assert.ErrorIs(t, f.WriteSVG(failWriter{}), errWrite)
}

// TestNamesAreEscaped puts markup, quotes, control characters and invalid
// UTF-8 in every name: the document still parses and says them.
func TestNamesAreEscaped(t *testing.T) {
	nasty := `<script>alert("x")</script> & 'q' ]]> ` + "\x00\x1b[31m\xff\t\n end"
	f := &Figure{
		Title: nasty,
		Notes: []string{nasty},
		Mappings: []vaspace.Mapping{
			{Range: rng(0x10000, 0x20000), Name: nasty, Kind: vaspace.KindHeap},
			{Range: rng(0x20000, 0x30000), Name: nasty, Owner: nasty, Kind: 200},
		},
		Bands:      []Band{{Name: nasty, Range: rng(0x10000, 0x40000), Style: BandKeepFree}},
		Highlights: []Highlight{{Label: nasty, Range: rng(0x20000, 0x30000)}},
		Slots:      &Slots{Name: nasty, Start: 0x10000, Granule: 0x8000, Count: 6, Colliding: []Collision{{Slot: 2, Culprit: nasty}}},
	}
	data := writeSVG(t, f)
	assert.NotContains(t, string(data), "<script")
	assert.NotContains(t, string(data), "\x1b")
	p := checkSVG(t, f, data)
	hl := p.kind("highlight")
	require.NotEmpty(t, hl)
	assert.Contains(t, hl[0].title(), `<script>alert("x")</script> & 'q' ]]>`)
	slots := p.kind("slot")
	found := false
	for _, s := range slots {
		if s.attr("data-colliding") == "true" {
			found = true
			assert.Contains(t, s.attr("data-culprit"), `<script>alert("x")</script>`)
		}
	}
	assert.True(t, found)
}

func TestDeterministic(t *testing.T) {
	f, _ := xzoneFigure(t)
	a, b := writeSVG(t, f), writeSVG(t, f)
	assert.Equal(t, a, b)
	// The order mappings come in does not matter either.
	g := *f
	g.Mappings = append([]vaspace.Mapping(nil), f.Mappings...)
	for i, j := 0, len(g.Mappings)-1; i < j; i, j = i+1, j-1 {
		g.Mappings[i], g.Mappings[j] = g.Mappings[j], g.Mappings[i]
	}
	assert.Equal(t, a, writeSVG(t, &g))
	// Nor do mappings with one range.
	m := []vaspace.Mapping{img("a", 0x1000, 0x2000), img("b", 0x1000, 0x2000)}
	one := writeSVG(t, &Figure{Mappings: m})
	slices.Reverse(m)
	assert.Equal(t, one, writeSVG(t, &Figure{Mappings: m}))
}

// TestXZoneFigure checks the Chromium figure says what the analysis says:
// 15 colliding slots, each on its own with its culprit, and a detail panel
// that shows them wide enough to see.
func TestXZoneFigure(t *testing.T) {
	f, res := xzoneFigure(t)
	p := checkSVG(t, f, writeSVG(t, f))
	require.Len(t, res.Colliding, 15)
	var detail []elem
	for _, e := range p.kind("slot") {
		if e.panel == "A" && e.attr("data-colliding") == "true" {
			detail = append(detail, e)
			assert.GreaterOrEqual(t, e.num(t, "width"), 20.0, "slot %s is wide enough to see", e.attr("data-slot"))
		}
	}
	assert.Len(t, detail, 15, "every colliding slot in detail A")
	// Every culprit is labelled in the detail panel.
	labelled := map[string]bool{}
	for _, e := range p.kind("label") {
		if e.attr("data-for") == "highlight" {
			labelled[e.attr("data-index")] = true
			assert.Equal(t, "A", e.panel)
		}
	}
	assert.Len(t, labelled, len(f.Highlights))
	// Every run of colliding slots is labelled with its culprit.
	runs := 0
	for _, e := range p.kind("label") {
		if e.attr("data-for") == "slots" {
			runs++
			assert.Contains(t, e.Text, "→ lib")
		}
	}
	assert.Equal(t, 7, runs, "slots 0, 1, 2, 3–4, 5–6, 7–12, 13–14")
	// The overview collapses the GPU carveout and the free top.
	var breaks []string
	for _, e := range p.kind("break") {
		if e.panel == "overview" {
			breaks = append(breaks, e.title())
		}
	}
	require.Len(t, breaks, 2)
	assert.Contains(t, breaks[0], "GPU carveout")
	assert.Contains(t, breaks[1], "free")
}

// TestBreaks checks a long empty stretch is collapsed and labelled and
// the stretches around it stay to scale.
func TestBreaks(t *testing.T) {
	f := &Figure{Mappings: []vaspace.Mapping{
		img("low", 0x10000, 0x30000),
		img("high", 100*tib, 100*tib+0x40000),
	}}
	p := checkSVG(t, f, writeSVG(t, f))
	br := p.kind("break")
	require.Len(t, br, 1)
	assert.Equal(t, rng(0x30000, 100*tib), br[0].rng(t))
	labels := ""
	for _, e := range p.kind("label") {
		if e.attr("data-for") == "break" {
			labels += e.Text + " "
		}
	}
	assert.Equal(t, "≈ 100 TiB free ", labels)
	segs := p.kind("segment")
	require.Len(t, segs, 2)
	w0 := segs[0].num(t, "x2") - segs[0].num(t, "x1")
	w1 := segs[1].num(t, "x2") - segs[1].num(t, "x1")
	assert.InDelta(t, 2.0/4.0, w0/w1, 0.01, "one scale for both segments")
}

// TestBandsAreNotCollapsed: a band over a long stretch keeps it to scale.
func TestBandsAreNotCollapsed(t *testing.T) {
	f := &Figure{
		Mappings: []vaspace.Mapping{img("low", 0x10000, 0x30000), img("high", 100*tib, 100*tib+0x40000)},
		Bands:    []Band{{Name: "shadow", Range: rng(16*tib, 48*tib), Style: BandKeepFree}},
	}
	p := checkSVG(t, f, writeSVG(t, f))
	for _, b := range p.kind("break") {
		r := b.rng(t)
		assert.False(t, r.Overlaps(f.Bands[0].Range), "break %v over the band", r)
	}
}

func TestHugeRanges(t *testing.T) {
	f := &Figure{
		Bands: []Band{
			{Name: "everything", Range: rng(0, math.MaxUint64)},
			{Name: "top page", Range: rng(math.MaxUint64-4095, math.MaxUint64), Style: BandAllowed},
		},
		Mappings:   []vaspace.Mapping{img("one byte", 0, 1), img("top", math.MaxUint64-8192, math.MaxUint64)},
		Highlights: []Highlight{{Label: "first byte", Range: rng(0, 1)}},
		Slots:      &Slots{Name: "all", Start: 0, Granule: 1 << 48, Count: 65535},
	}
	checkSVG(t, f, writeSVG(t, f))
}

func TestOnlySlots(t *testing.T) {
	f := &Figure{Slots: &Slots{Name: "slots", Start: 16 * gib, Granule: 32 * mib, Count: 736, Colliding: []Collision{{Slot: 0, Culprit: "a"}, {Slot: 735, Culprit: "b"}}}}
	p := checkSVG(t, f, writeSVG(t, f))
	assert.Empty(t, p.kind("mapping"))
}

func TestFormats(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {32 * mib, "32 MiB"}, {384 * gib, "384 GiB"}, {127*tib + 600*gib, "128 TiB"}, {12*gib + 348*mib, "12.3 GiB"}, {5*gib + 348*mib, "5.34 GiB"}, {math.MaxUint64, "16 EiB"}} {
		assert.Equal(t, c.want, approx(c.n), "approx(%d)", c.n)
	}
	for _, c := range []struct {
		a    uint64
		want string
	}{{0, "0"}, {16 * gib, "16 GiB"}, {16*gib + 512*mib, "16.5 GiB"}, {16*gib + 256*mib, "16.25 GiB"}, {16*gib + 32*mib, "0x402000000"}, {0x7ffffe000000, "0x7ffffe000000"}, {100, "0x64"}, {math.MaxUint64, "0xffffffffffffffff"}, {1 << 63, "8 EiB"}} {
		assert.Equal(t, c.want, exact(vaspace.Addr(c.a)), "exact(%#x)", c.a)
	}
	assert.Equal(t, "libc.so.6 62% outside", display("/usr/lib/x86_64-linux-gnu/libc.so.6 62% outside"))
	assert.Equal(t, "libfoo.dylib", display("@rpath/libfoo.dylib"))
	assert.Equal(t, "a/", display("a/"))
	assert.Equal(t, "x\uFFFD y", clean("x\x00\t y"))
	e := elide("libchromium_component_503.dylib", 100, labelSize, false)
	assert.LessOrEqual(t, textWidth(e, labelSize, false), 100.0)
	assert.True(t, strings.HasPrefix(e, "libc") && strings.HasSuffix(e, "ylib"), e)
}

// genFigure draws a figure: clusters of mappings anywhere in the 64-bit
// space, bands, highlights over some mappings and elsewhere, and maybe a
// slot row with collisions.
func genFigure(t *rapid.T) *Figure {
	f := &Figure{Title: rapid.StringN(0, 80, -1).Draw(t, "title")}
	kinds := rapid.IntRange(0, 11)
	nClusters := rapid.IntRange(0, 3).Draw(t, "clusters")
	for c := range nClusters {
		at := vaspace.Addr(rapid.Uint64().Draw(t, "base") &^ 0xfff)
		n := rapid.IntRange(1, 40).Draw(t, "n")
		for i := range n {
			_ = i
			pages := uint64(1) << rapid.IntRange(0, 24).Draw(t, "size bits")
			pages += rapid.Uint64Range(0, pages).Draw(t, "size")
			start, ok := at.Add(rapid.Uint64Range(0, 3).Draw(t, "gap") << rapid.IntRange(12, 40).Draw(t, "gap bits"))
			if !ok {
				break
			}
			end, ok := start.Add(pages << 12)
			if !ok {
				break
			}
			owner := rapid.SampledFrom([]string{"", "a", "libb.so", "/x/y/libc.so.6"}).Draw(t, "owner")
			f.Mappings = append(f.Mappings, vaspace.Mapping{Range: vaspace.Range{Start: start, End: end}, Name: rapid.StringN(0, 30, -1).Draw(t, "name"), Owner: owner, Kind: vaspace.Kind(kinds.Draw(t, "kind"))})
			at = end
		}
		_ = c
	}
	anyRange := func(label string) vaspace.Range {
		if len(f.Mappings) > 0 && rapid.Bool().Draw(t, label+" near") {
			m := f.Mappings[rapid.IntRange(0, len(f.Mappings)-1).Draw(t, label+" of")]
			return m.Range
		}
		a := rapid.Uint64Range(0, math.MaxUint64-1).Draw(t, label+" start")
		b := rapid.Uint64Range(a+1, math.MaxUint64).Draw(t, label+" end")
		return rng(a, b)
	}
	for range rapid.IntRange(0, 5).Draw(t, "bands") {
		f.Bands = append(f.Bands, Band{Name: rapid.StringN(0, 40, -1).Draw(t, "band"), Range: anyRange("band"), Style: BandStyle(rapid.IntRange(0, 3).Draw(t, "style"))})
	}
	for range rapid.IntRange(0, 12).Draw(t, "highlights") {
		f.Highlights = append(f.Highlights, Highlight{Label: rapid.StringN(0, 50, -1).Draw(t, "label"), Range: anyRange("highlight")})
	}
	if rapid.Bool().Draw(t, "slots") || (len(f.Mappings) == 0 && len(f.Bands) == 0 && len(f.Highlights) == 0) {
		count := rapid.IntRange(1, 800).Draw(t, "count")
		granule := uint64(1) << rapid.IntRange(0, 40).Draw(t, "granule bits")
		start := rapid.Uint64Range(0, math.MaxUint64-uint64(count)*granule).Draw(t, "slot start")
		if len(f.Mappings) > 0 && rapid.Bool().Draw(t, "slots near mappings") {
			if s := uint64(f.Mappings[0].Start); s <= math.MaxUint64-uint64(count)*granule {
				start = s
			}
		}
		s := &Slots{Name: rapid.StringN(0, 20, -1).Draw(t, "slots name"), Start: vaspace.Addr(start), Granule: granule, Count: count}
		for _, k := range rapid.SliceOfNDistinct(rapid.IntRange(0, count-1), 0, min(count, 40), func(k int) int { return k }).Draw(t, "colliding") {
			s.Colliding = append(s.Colliding, Collision{Slot: k, Culprit: rapid.SampledFrom([]string{"", "a", "libb.so"}).Draw(t, "culprit")})
		}
		f.Slots = s
	}
	if rapid.Bool().Draw(t, "bounds") {
		f.Bounds = anyRange("bounds")
	}
	return f
}

// TestAnyFigure: whatever the input, the SVG parses and holds what it
// claims (see checkSVG), or the figure is refused with an *Error.
func TestAnyFigure(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := genFigure(rt)
		var b bytes.Buffer
		if err := f.WriteSVG(&b); err != nil {
			var e *Error
			require.ErrorAs(rt, err, &e)
			return
		}
		checkSVG(rt, f, b.Bytes())
		// The order of the mappings does not change a byte.
		g := *f
		g.Mappings = slices.Clone(f.Mappings)
		slices.Reverse(g.Mappings)
		assert.Equal(rt, b.Bytes(), writeSVG(rt, &g))
	})
}

// TestReserveFigure checks the sanitizer figure: every fixed range and
// where each group can land, to scale over the whole 128 TiB, with the
// executable named in the overview and the libraries in a detail panel.
func TestReserveFigure(t *testing.T) {
	f := reserveFigure(t)
	p := checkSVG(t, f, writeSVG(t, f))
	assert.Empty(t, p.kind("break"), "the bands keep the whole space to scale")
	reach := 0
	for _, b := range f.Bands {
		if b.Style == BandReach {
			reach++
		}
	}
	assert.Equal(t, 2, reach)
	var over, detail int
	for _, e := range p.kind("label") {
		if e.attr("data-for") != "highlight" {
			continue
		}
		if e.panel == "overview" {
			over++
			assert.True(t, strings.HasPrefix(e.Text, "env: "), e.Text)
		} else {
			detail++
		}
	}
	assert.Equal(t, 1, over)
	assert.GreaterOrEqual(t, detail, 4)
}
