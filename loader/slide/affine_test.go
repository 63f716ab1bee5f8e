package slide_test

import (
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
