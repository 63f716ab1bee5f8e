package slide_test

import (
	"pgregory.net/rapid"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/vasim/vasim/loader/slide"
)

// Region.Interval solves each constraint for one variable, rounding
// inward: 3x - 7 >= 0 holds from x = 3, -2x + 9 >= 0 up to x = 4, and a
// constraint in other variables only filters.
func TestRegionInterval(t *testing.T) {
	const vx, vy slide.Var = 0, 1
	r := slide.NewRegion()
	r.Require(slide.Affine{C: -7, K: [slide.MaxVars]int64{vx: 3}})
	r.Require(slide.Affine{C: 9, K: [slide.MaxVars]int64{vx: -2}})
	r.Require(slide.Affine{C: -1, K: [slide.MaxVars]int64{vy: 1}})
	var d slide.Draw
	d[vy] = 1
	lo, hi, ok := r.Interval(d, vx, -100, 100)
	assert.True(t, ok)
	assert.Equal(t, [2]int64{3, 4}, [2]int64{lo, hi})
	for x := int64(-10); x <= 10; x++ {
		d[vx] = x
		assert.Equal(t, x >= 3 && x <= 4, r.Contains(d), "x = %d", x)
	}
	// Negative bounds round inward too: 2x + 7 >= 0 from x = -3.
	r2 := slide.NewRegion()
	r2.Require(slide.Affine{C: 7, K: [slide.MaxVars]int64{vx: 2}})
	lo, _, _ = r2.Interval(slide.Draw{}, vx, -100, 100)
	assert.Equal(t, int64(-3), lo)
	// Outside the other variables' constraint, no x qualifies.
	d[vy] = 0
	_, _, ok = r.Interval(d, vx, -100, 100)
	assert.False(t, ok)
	// Constraints with the same coefficients keep only the tightest.
	r.Require(slide.Affine{C: -10, K: [slide.MaxVars]int64{vx: 3}})
	r.Require(slide.Affine{C: -5, K: [slide.MaxVars]int64{vx: 3}})
	assert.Len(t, r.Constraints(), 3)
	d[vy] = 1
	lo, _, _ = r.Interval(d, vx, -100, 100)
	assert.Equal(t, int64(4), lo, "3x - 10 >= 0 from x = 4; the looser 3x - 5 changes nothing")
}

// Bound keeps every draw of the region: on random regions, each draw the
// region contains lies in the box.
func TestBoundHoldsTheRegion(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := slide.NewRegion()
		for range rapid.IntRange(0, 6).Draw(t, "constraints") {
			var a slide.Affine
			a.C = rapid.Int64Range(-50, 50).Draw(t, "c")
			for v := range 2 {
				a.K[v] = rapid.Int64Range(-3, 3).Draw(t, "k")
			}
			r.Require(a)
		}
		box := r.Bound([slide.MaxVars][2]int64{{-20, 20}, {-20, 20}, {0, 0}})
		for x := int64(-20); x <= 20; x++ {
			for y := int64(-20); y <= 20; y++ {
				d := slide.Draw{x, y, 0}
				if r.Contains(d) && !slide.InBox(d, box) {
					t.Fatalf("%v is in the region %v but not in its box %v", d, r.Constraints(), box)
				}
			}
		}
	})
}
