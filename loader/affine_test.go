package loader_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/vasim/vasim/loader"
)

// Region.Interval solves each constraint for one variable, rounding
// inward: 3x - 7 >= 0 holds from x = 3, -2x + 9 >= 0 up to x = 4, and a
// constraint in other variables only filters.
func TestRegionInterval(t *testing.T) {
	r := loader.NewRegion()
	r.Require(loader.Affine{C: -7, K: [loader.NumVars]int64{loader.VarExeSlide: 3}})
	r.Require(loader.Affine{C: 9, K: [loader.NumVars]int64{loader.VarExeSlide: -2}})
	r.Require(loader.Affine{C: -1, K: [loader.NumVars]int64{loader.VarDyldSlide: 1}})
	var d loader.Draw
	d[loader.VarDyldSlide] = 1
	lo, hi, ok := r.Interval(d, loader.VarExeSlide, -100, 100)
	assert.True(t, ok)
	assert.Equal(t, [2]int64{3, 4}, [2]int64{lo, hi})
	for x := int64(-10); x <= 10; x++ {
		d[loader.VarExeSlide] = x
		assert.Equal(t, x >= 3 && x <= 4, r.Contains(d), "x = %d", x)
	}
	// Negative bounds round inward too: 2x + 7 >= 0 from x = -3.
	r2 := loader.NewRegion()
	r2.Require(loader.Affine{C: 7, K: [loader.NumVars]int64{loader.VarExeSlide: 2}})
	lo, _, _ = r2.Interval(loader.Draw{}, loader.VarExeSlide, -100, 100)
	assert.Equal(t, int64(-3), lo)
	// Outside the other variables' constraint, no x qualifies.
	d[loader.VarDyldSlide] = 0
	_, _, ok = r.Interval(d, loader.VarExeSlide, -100, 100)
	assert.False(t, ok)
	// Constraints with the same coefficients keep only the tightest.
	r.Require(loader.Affine{C: -10, K: [loader.NumVars]int64{loader.VarExeSlide: 3}})
	r.Require(loader.Affine{C: -5, K: [loader.NumVars]int64{loader.VarExeSlide: 3}})
	assert.Len(t, r.Constraints(), 3)
	d[loader.VarDyldSlide] = 1
	lo, _, _ = r.Interval(d, loader.VarExeSlide, -100, 100)
	assert.Equal(t, int64(4), lo, "3x - 10 >= 0 from x = 4; the looser 3x - 5 changes nothing")
}
