// Package slide describes a launch's layout as a function of its random
// draws, so that a probability over every launch can be summed exactly
// instead of sampled.
//
// A launch draws a few random numbers that move mappings: on macOS arm64
// the executable's slide, dyld's slide and the tail of libmalloc's guarded
// range (xnu-11417 vm_map.c, libmalloc-792.41.1 vm.c); on Linux the mmap
// base, the PIE base and the stack top (Linux 6.x arch_mmap_rnd,
// arch_randomize_brk, randomize_stack_top). Each placement model names its
// own inputs as Vars. Within a region of draws where the model takes the
// same decisions (which hole each mapping lands in, whether a fixed
// mapping fits), every address it produces is an Affine function of the
// draws. A model records those functions and the region's linear
// constraints (Region); a model bound to its input enumerates the regions
// as Pieces and Cells (Layouts), and an analysis sums over them.
package slide

import (
	"fmt"
	"strings"
)

// MaxVars is the most random inputs a model may have. Affine forms are
// fixed-size arrays of this length, so they copy without allocating; each
// more input costs every boundary of every enumerated layout 8 bytes (a
// fourth made the Chromium sum about 10% slower). Three is what the macOS
// arm64 launch draws (executable slide, dyld slide, guarded-range tail),
// and what a Linux exec draws that moves mappings at start-up (mmap base,
// PIE base, stack top; the x86_64 vdso has had no draw of its own since
// Linux 6.9, the arm64 one never had).
const MaxVars = 3

// Var is one random input of a launch, an index into a model's inputs.
type Var int

func (v Var) String() string { return fmt.Sprintf("var%d", int(v)) }

// Draw is one value of every random input, in bytes.
type Draw [MaxVars]int64

// Affine is C + Σ K[v]·draw[v]: an address or length as a function of the
// draws.
type Affine struct {
	C int64
	K [MaxVars]int64
}

// Const returns the affine function with constant value c.
func Const(c int64) Affine { return Affine{C: c} }

// Of returns the affine function k·draw[v].
func Of(v Var, k int64) Affine {
	var a Affine
	a.K[v] = k
	return a
}

// At evaluates a at the draw d.
func (a Affine) At(d Draw) int64 {
	v := a.C
	for i, k := range a.K {
		v += k * d[i]
	}
	return v
}

// IsConst reports whether a does not depend on any draw.
func (a Affine) IsConst() bool { return a.K == [MaxVars]int64{} }

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

// MaxOver returns the largest value a takes when each draw[v] ranges over
// [box[v][0], box[v][1]].
func (a Affine) MaxOver(box [MaxVars][2]int64) int64 {
	v := a.C
	for i, k := range a.K {
		v += max(k*box[i][0], k*box[i][1])
	}
	return v
}

// MinOver returns the smallest value a takes over the box (see MaxOver).
func (a Affine) MinOver(box [MaxVars][2]int64) int64 {
	v := a.C
	for i, k := range a.K {
		v += min(k*box[i][0], k*box[i][1])
	}
	return v
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

// Clone returns an independent copy.
func (r *Region) Clone() *Region { return &Region{cons: append([]Affine(nil), r.cons...)} }

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

// Bound returns box narrowed by the constraints on one variable alone
// (the others bound combinations and are left out): a box every draw of
// the region lies in, cheap to test before Contains. box holds each
// variable's least and greatest value.
func (r *Region) Bound(box [MaxVars][2]int64) [MaxVars][2]int64 {
	for _, a := range r.cons {
		v, n := 0, 0
		for i, k := range a.K {
			if k != 0 {
				v, n = i, n+1
			}
		}
		if n != 1 {
			continue
		}
		k := a.K[v] // C + k·x >= 0
		if k > 0 {
			box[v][0] = max(box[v][0], CeilDiv(-a.C, k))
		} else {
			box[v][1] = min(box[v][1], FloorDiv(a.C, -k))
		}
	}
	return box
}

// InBox reports whether d lies in box (Bound's form).
func InBox(d Draw, box [MaxVars][2]int64) bool {
	for v := range d {
		if d[v] < box[v][0] || d[v] > box[v][1] {
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
			lo = max(lo, CeilDiv(-base, kv))
		default: // x <= base/(-kv)
			hi = min(hi, FloorDiv(base, -kv))
		}
	}
	return lo, hi, lo <= hi
}

// FloorDiv returns ⌊a/b⌋ for b != 0.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// CeilDiv returns ⌈a/b⌉ for b != 0.
func CeilDiv(a, b int64) int64 { return -FloorDiv(-a, b) }
