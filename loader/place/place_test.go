package place_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/place"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
	"pgregory.net/rapid"
)

const page = 0x1000

var bounds = vaspace.Range{Start: 0, End: 512 * page}

// op is one step of a script, its addresses affine in the draw.
type op struct {
	kind                 string // fixed, firstfit, topdown, unmap
	start, hint, low, hi slide.Affine
	size                 slide.Affine
	target               int // unmap: the index of the op whose mapping goes
	name                 string
	// Set by the lean run: whether the mapping was placed, and its
	// boundaries' forms.
	placed       bool
	startA, endA slide.Affine
}

// genAffine draws c pages plus up to one page per unit of each input,
// with coefficients in {-1, 0, 1} (or {0, 1} when nonneg).
func genAffine(t *rapid.T, label string, cLo, cHi int, nonneg bool) slide.Affine {
	a := slide.Const(int64(rapid.IntRange(cLo, cHi).Draw(t, label+" pages")) * page)
	lo := -1
	if nonneg {
		lo = 0
	}
	for v := 0; v < slide.MaxVars; v++ {
		a.K[v] = int64(rapid.IntRange(lo, 1).Draw(t, fmt.Sprintf("%s k%d", label, v)))
	}
	return a
}

func genScript(t *rapid.T) []*op {
	n := rapid.IntRange(1, 14).Draw(t, "ops")
	var ops []*op
	for i := 0; i < n; i++ {
		o := &op{name: fmt.Sprintf("m%d", i)}
		o.kind = rapid.SampledFrom([]string{"fixed", "firstfit", "firstfit", "topdown", "topdown", "unmap"}).Draw(t, "kind")
		o.size = genAffine(t, "size", 1, 40, true)
		switch o.kind {
		case "fixed":
			o.start = genAffine(t, "start", 40, 400, false)
		case "firstfit":
			o.hint = genAffine(t, "hint", 0, 300, true)
		case "topdown":
			o.low = genAffine(t, "low", 0, 350, true)
			o.hi = o.low.Plus(int64(rapid.IntRange(10, 300).Draw(t, "window pages")) * page)
			o.hi.K = genAffine(t, "high", 0, 0, true).K
		case "unmap":
			o.target = rapid.IntRange(0, max(0, i-1)).Draw(t, "target")
		}
		ops = append(ops, o)
	}
	return ops
}

// run plays the script on p. With record set (the lean run) it notes in
// the ops which mappings were placed and their affine forms; otherwise
// (a tracker replay at another draw) it checks that every decision is the
// same and every mapping lands where those forms say. It stops at the
// first no-space failure, after which no decision is recorded, and
// returns how many ops ran.
func run(p place.Placer, ops []*op, record bool) (int, error) {
	d := p.At()
	live := map[int]bool{}
	for i, o := range ops {
		m := vaspace.Mapping{Name: o.name, Prot: vaspace.ProtRW}
		var got vaspace.Mapping
		var startA slide.Affine
		var err error
		switch o.kind {
		case "fixed":
			end := o.start.Add(o.size)
			m.Range = vaspace.Range{Start: vaspace.Addr(o.start.At(d)), End: vaspace.Addr(end.At(d))}
			err = p.Fixed(m, o.start, end)
			got, startA = m, o.start
		case "firstfit":
			got, startA, err = p.FirstFit(m, o.hint, o.size)
		case "topdown":
			got, startA, err = p.TopDown(m, o.low, o.hi, o.size)
		case "unmap":
			t := ops[o.target]
			if !live[o.target] {
				continue
			}
			r := vaspace.Range{Start: vaspace.Addr(t.startA.At(d)), End: vaspace.Addr(t.endA.At(d))}
			if err := p.Unmap(vaspace.Mapping{Range: r, Name: t.name}, t.startA, t.endA); err != nil {
				return i, fmt.Errorf("op %d: unmap %v: %w", i, r, err)
			}
			delete(live, o.target)
			continue
		}
		switch {
		case err != nil && !errors.Is(err, vaspace.ErrOverlap):
			return i, err
		case record:
			o.placed = err == nil
			if o.placed {
				o.startA, o.endA = startA, startA.Add(o.size)
			}
		case o.placed != (err == nil):
			return i, fmt.Errorf("op %d (%s): placed by the lean placer %v, by the tracker %v (%v)", i, o.kind, o.placed, err == nil, err)
		case o.placed:
			want := vaspace.Range{Start: vaspace.Addr(o.startA.At(d)), End: vaspace.Addr(o.endA.At(d))}
			if got.Range != want {
				return i, fmt.Errorf("op %d (%s): the tracker placed %v, the lean placer's forms say %v", i, o.kind, got.Range, want)
			}
		}
		if err == nil {
			live[i] = true
		}
	}
	return len(ops), nil
}

// The lean placer takes the tracker's decisions, and the region it
// records is sound: at every draw of the support inside it, a tracker
// replaying the script takes the same decisions and places every mapping
// where the lean placer's affine forms say.
func TestLeanAgreesWithTracker(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ops := genScript(t)
		var values [slide.MaxVars][]int64
		for v := range values {
			for x := 0; x <= rapid.IntRange(0, 3).Draw(t, fmt.Sprintf("var%d values", v)); x++ {
				values[v] = append(values[v], int64(x)*page)
			}
		}
		var d0 slide.Draw
		for v := range d0 {
			d0[v] = rapid.SampledFrom(values[v]).Draw(t, fmt.Sprintf("d0[%d]", v))
		}
		lean := place.NewLean(bounds, page, d0)
		n, err := run(lean, ops, true)
		if err != nil && !errors.Is(err, vaspace.ErrNoSpace) {
			t.Fatalf("lean: %v", err)
		}
		ops = ops[:n]
		require.True(t, lean.Region().Contains(d0), "the region holds the draw it was placed at")

		var d slide.Draw
		checked := 0
		var each func(v int)
		each = func(v int) {
			if v == slide.MaxVars {
				if !lean.Region().Contains(d) {
					return
				}
				checked++
				s, err := vaspace.New(bounds, page)
				require.NoError(t, err)
				_, err = run(place.NewTracker(s, d), ops, false)
				require.NoError(t, err, "draw %v (placed at %v), region %v", d, d0, lean.Region().Constraints())
				require.NoError(t, s.Check())
				return
			}
			for _, x := range values[v] {
				d[v] = x
				each(v + 1)
			}
		}
		each(0)
		require.Positive(t, checked)
	})
}

// A top-down window whose low end falls inside a free range: the part
// that counts starts at the window's end only while the free range starts
// below it. Placed at draw 0 the mapping fits exactly; at a draw where the
// free range starts above the window's low end it no longer does, so that
// draw must lie outside the region.
func TestTopDownClippedAtLow(t *testing.T) {
	x := slide.Of(0, 1) // the one input, in bytes
	a := vaspace.Mapping{Range: vaspace.Range{Start: 90 * page, End: 100 * page}, Name: "a"}
	low, high, size := slide.Const(105*page), slide.Const(200*page), slide.Const(95*page)
	lean := place.NewLean(bounds, page, slide.Draw{})
	require.NoError(t, lean.Fixed(a, slide.Const(90*page), x.Plus(100*page)))
	m, start, err := lean.TopDown(vaspace.Mapping{Name: "b"}, low, high, size)
	require.NoError(t, err)
	assert.Equal(t, vaspace.Range{Start: 105 * page, End: 200 * page}, m.Range)
	assert.Equal(t, slide.Const(105*page), start)
	for dx := int64(0); dx <= 8; dx++ {
		d := slide.Draw{dx * page}
		s := vaspace.MustNew(bounds, page)
		tr := place.NewTracker(s, d)
		require.NoError(t, tr.Fixed(vaspace.Mapping{Range: vaspace.Range{Start: 90 * page, End: vaspace.Addr(100*page + d[0])}, Name: "a"}, slide.Affine{}, slide.Affine{}))
		_, _, err := tr.TopDown(vaspace.Mapping{Name: "b"}, low, high, size)
		assert.Equal(t, err == nil, lean.Region().Contains(d), "draw %d pages: the region holds exactly the draws that fit", dx)
	}
}
