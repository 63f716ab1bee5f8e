package loader

import (
	"fmt"
	"strings"
)

// Placement randomness.
//
// A launch on macOS arm64 draws a few random numbers that move images: the
// main executable's slide, dyld's slide, and the size of libmalloc's
// guarded range (which can push the malloc arena up). Every address the
// Dyld model produces is an affine function of these draws within a
// region of draws where the model takes the same decisions (which hole
// each image lands in, whether the stack fits at its default place). The
// model records those functions and the region's linear constraints, so
// the crash probability over the joint distribution can be summed region
// by region instead of launch by launch.

// Var is one random input of a launch.
type Var int

// The random inputs of a macOS arm64 launch.
const (
	// VarExeSlide is the main executable's ASLR slide in bytes.
	VarExeSlide Var = iota
	// VarDyldSlide is dyld's own slide, added after the executable's end.
	VarDyldSlide
	// VarGuardTail is the random tail of libmalloc's guarded range.
	VarGuardTail
	// NumVars is the number of random inputs.
	NumVars
)

func (v Var) String() string {
	switch v {
	case VarExeSlide:
		return "exe_slide"
	case VarDyldSlide:
		return "dyld_slide"
	case VarGuardTail:
		return "guard_tail"
	}
	return fmt.Sprintf("Var(%d)", int(v))
}

// Draw is one value of every random input.
type Draw [NumVars]int64

// Affine is C + Σ K[v]·draw[v]: an address or length as a function of the
// draws.
type Affine struct {
	C int64
	K [NumVars]int64
}

// Const returns the affine function with constant value c.
func Const(c int64) Affine { return Affine{C: c} }

// At evaluates a at the draw d.
func (a Affine) At(d Draw) int64 {
	v := a.C
	for i, k := range a.K {
		v += k * d[i]
	}
	return v
}

// IsConst reports whether a does not depend on any draw.
func (a Affine) IsConst() bool { return a.K == [NumVars]int64{} }

// Add returns a + b.
func (a Affine) Add(b Affine) Affine {
	a.C += b.C
	for i := range a.K {
		a.K[i] += b.K[i]
	}
	return a
}

// Sub returns a - b.
func (a Affine) Sub(b Affine) Affine {
	a.C -= b.C
	for i := range a.K {
		a.K[i] -= b.K[i]
	}
	return a
}

// Plus returns a + c.
func (a Affine) Plus(c int64) Affine {
	a.C += c
	return a
}

func (a Affine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%#x", a.C)
	for i, k := range a.K {
		if k != 0 {
			fmt.Fprintf(&b, " %+d·%v", k, Var(i))
		}
	}
	return b.String()
}

// Region is a set of draws given by linear constraints, each satisfied when
// its affine value is >= 0. Constraints with the same coefficients are
// merged (only the tightest is kept), so a region stays small however many
// decisions it records.
type Region struct {
	// cons holds one constraint per coefficient vector, the tightest
	// seen; a few dozen at most, so a linear scan beats a map.
	cons []Affine
}

// NewRegion returns the region of all draws.
func NewRegion() *Region { return &Region{} }

// clone returns an independent copy.
func (r *Region) clone() *Region { return &Region{cons: append([]Affine(nil), r.cons...)} }

// Require adds the constraint a >= 0. A constant constraint is checked by
// the caller at the sample draw and carries no information.
func (r *Region) Require(a Affine) {
	if a.IsConst() {
		return
	}
	for i := range r.cons {
		if r.cons[i].K == a.K {
			r.cons[i].C = min(r.cons[i].C, a.C)
			return
		}
	}
	r.cons = append(r.cons, a)
}

// Contains reports whether every constraint holds at d.
func (r *Region) Contains(d Draw) bool {
	for _, a := range r.cons {
		if a.At(d) < 0 {
			return false
		}
	}
	return true
}

// Constraints returns the constraints, each meaning "value >= 0".
func (r *Region) Constraints() []Affine { return append([]Affine(nil), r.cons...) }

// Interval returns the range [lo, hi] of values x of variable v for which
// the draw d with d[v] = x lies in the region, holding the other variables
// at their values in d. ok is false when no x qualifies.
func (r *Region) Interval(d Draw, v Var, lo, hi int64) (int64, int64, bool) {
	for _, a := range r.cons {
		kv := a.K[v]
		base := a.At(d) - kv*d[v] // constraint: base + kv·x >= 0
		switch {
		case kv == 0:
			if base < 0 {
				return 0, 0, false
			}
		case kv > 0: // x >= -base/kv
			lo = max(lo, ceilDiv(-base, kv))
		default: // x <= base/(-kv)
			hi = min(hi, floorDiv(base, -kv))
		}
	}
	return lo, hi, lo <= hi
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
