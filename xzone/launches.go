package xzone

import (
	"fmt"
	"math"
)

// Launches describes the number of crashes X in N independent launches
// that each crash with probability P: X ~ Binomial(N, P). Each launch
// draws fresh malloc entropy (xnu bsd/kern/kern_exec.c exec_add_entropy_key
// writes new bytes into apple[] on every exec), so launches are
// independent.
type Launches struct {
	N int
	P float64
	// Mean is N·P.
	Mean float64
	// Lo and Hi bound the central interval holding at least Level of the
	// probability: P(X < Lo) <= (1-Level)/2 and P(X > Hi) <= (1-Level)/2.
	Lo, Hi int
	Level  float64
}

// Expect returns the distribution of crashes in n launches at crash
// probability p, with the central interval at the given level (0.95 for a
// 95% interval).
func Expect(n int, p, level float64) (Launches, error) {
	switch {
	case n < 0:
		return Launches{}, fmt.Errorf("xzone: launch count %d is negative", n)
	case !(p >= 0 && p <= 1):
		return Launches{}, fmt.Errorf("xzone: probability %v outside [0, 1]", p)
	case !(level > 0 && level < 1):
		return Launches{}, fmt.Errorf("xzone: interval level %v outside (0, 1)", level)
	}
	l := Launches{N: n, P: p, Mean: float64(n) * p, Level: level}
	tail := (1 - level) / 2
	lo, hi := l.bulk()
	cum := 0.0
	l.Lo = lo
	for k := lo; k <= hi; k++ {
		cum += l.PMF(k)
		if cum > tail {
			l.Lo = k
			break
		}
	}
	cum = 0
	l.Hi = hi
	for k := hi; k >= lo; k-- {
		cum += l.PMF(k)
		if cum > tail {
			l.Hi = k
			break
		}
	}
	return l, nil
}

// bulk returns the crash counts [lo, hi] that hold all of the
// distribution that a float64 sum can tell apart: beyond 40 standard
// deviations and 200 more, the binomial tail is below e^-75 (Bernstein's
// inequality). Sums over the bulk cost O(sqrt(N)), not O(N), so a huge
// launch count stays cheap.
func (l Launches) bulk() (int, int) {
	w := 40*math.Sqrt(float64(l.N)*l.P*(1-l.P)) + 200
	lo, hi := 0, l.N
	if m := l.Mean - w; m > 0 {
		lo = int(m)
	}
	if m := l.Mean + w; m < float64(l.N) {
		hi = int(m) + 1
	}
	return lo, hi
}

// PMF returns P(X = k).
func (l Launches) PMF(k int) float64 {
	n, p := l.N, l.P
	if k < 0 || k > n {
		return 0
	}
	switch p {
	case 0:
		if k == 0 {
			return 1
		}
		return 0
	case 1:
		if k == n {
			return 1
		}
		return 0
	}
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
}

// Between returns P(a <= X <= b): how likely an observation of a to b
// crashes is under this model ("2-5 crashes in 200 spawns").
func (l Launches) Between(a, b int) float64 {
	lo, hi := l.bulk()
	sum := 0.0
	for k := max(a, lo); k <= min(b, hi); k++ {
		sum += l.PMF(k)
	}
	return min(sum, 1)
}
