package tls

import (
	"fmt"
	"math"
	"strings"
)

// Why the working values of glibc.rtld.optional_static_tls are a set and
// not a threshold. The tunable v enters glibc's static TLS in two places
// (elf/dl-tls.c _dl_tls_static_surplus_init, elf/dl-reloc.c
// _dl_try_allocate_static_tls):
//
//   - the static size, roundup(static_used + surplus, static_align) (plus
//     TLS_TCB_SIZE on x86_64), with surplus = 288 × namespaces + v: a
//     larger v leaves more room for every block;
//   - the optional budget, v itself, which TLS-descriptor blocks draw on
//     when glibc places them in static TLS opportunistically.
//
// A larger v can therefore let a descriptor block into static TLS that a
// smaller v kept out, and that block then takes room an initial-exec
// block dlopened later needs. On glibc 2.36 x86_64, in a program whose
// only start-up TLS is libc's 144 bytes, dlopen a library with a
// 400-byte descriptor block and then one with a 1505-byte initial-exec
// block: v = 305..399 works (the descriptor block stays dynamic),
// v = 400..752 fails (it is placed, and the initial-exec block no longer
// fits) and v = 753 and up works again. A "smallest working value" of 305
// is a trap for a user who rounds it up to 512.
//
// Given the decisions a run takes (which blocks fit, which descriptors are
// placed), every byte count of the run is fixed: a block's alignment
// padding depends on static_used modulo its alignment, which the
// static_align rounding of the static size does not change. Each decision
// is then a comparison of v against one threshold: the static size
// (monotone in v) against the bytes the block needs, or the optional
// budget (v less what descriptors took) against the block's use. So the
// values of v that take the same decisions as a given run form one
// interval, whose ends are the nearest thresholds; Sweep records it
// during the run. OptionalStaticTLSSet starts at v = 0, runs the model,
// jumps to the end of the interval and repeats: one run per interval, and
// the intervals' outcomes are exact for every value in them. Once v is so
// large that every fit test and every budget test succeeds, one interval
// reaches the end of the range.

// Sweep follows one run of the glibc model as glibc.rtld.optional_static_tls
// varies. Passed in StartOptions.Sweep, it is set by StartGlibc to the
// whole range the tunable can take without glibc's int sum wrapping
// (Profile.OptionalStaticTLSLimit), and narrowed at every decision that
// depends on the tunable, so that after the run every value in [Lo, Hi]
// takes the same decisions as the run's own value, with the same outcome.
//
// With OfSurplus set, it follows the surplus in bytes instead, the
// optional budget staying as it is: what glibc.rtld.nns changes (288
// bytes a namespace; see NNSSet).
type Sweep struct {
	// Lo and Hi bound the values (inclusive).
	Lo, Hi uint64
	// OfSurplus makes the sweep follow the surplus rather than
	// optional_static_tls.
	OfSurplus bool
	at        uint64 // the value the run used
	set       bool   // StartGlibc started it
	broken    bool   // a decision disagreed with its threshold: Lo and Hi mean nothing
}

func (s *Sweep) start(at, limit uint64) {
	*s = Sweep{OfSurplus: s.OfSurplus, at: at, set: true, Lo: 0, Hi: limit}
	if at > limit {
		// glibc's sum wraps (Profile.Surplus): claim nothing beyond the
		// value itself.
		s.Lo, s.Hi = at, at
	}
}

// decide records a decision that holds exactly when v >= t (ge) or v < t
// (!ge), and that came out as holds for the run's value.
func (s *Sweep) decide(holds bool, t uint64, ge bool) {
	if !s.set || s.broken {
		return
	}
	pred := s.at >= t
	if !ge {
		pred = !pred
	}
	if pred != holds {
		s.broken = true
		return
	}
	if ge == holds { // the run's side is v >= t
		s.Lo = max(s.Lo, t)
	} else if t > 0 { // the run's side is v < t
		s.Hi = min(s.Hi, t-1)
	}
}

// lost records a decision the sweep cannot follow.
func (s *Sweep) lost() {
	if s.set {
		s.broken = true
	}
}

// Range returns the values known to behave as the run's own value did;
// ok is false when the run recorded nothing usable (StartGlibc was not
// reached, or a decision could not be followed), and then only the run's
// value itself is known.
func (s *Sweep) Range() (lo, hi uint64, ok bool) {
	if !s.set || s.broken || s.Lo > s.at || s.Hi < s.at {
		return s.at, s.at, false
	}
	return s.Lo, s.Hi, true
}

// OptionalStaticTLSLimit is the largest glibc.rtld.optional_static_tls
// that glibc adds to the surplus without its C int sum wrapping, for nns
// namespaces and naudit audit modules (see Surplus): 2^31 - 1 less the
// other terms. Above it the surplus wraps and start-up fails or takes
// only the low 32 bits. Without the tunables (before 2.32) the value is
// read by nothing and the limit is math.MaxInt32.
func (p Profile) OptionalStaticTLSLimit(nns uint64, naudit int) uint64 {
	if !p.Tunables {
		return math.MaxInt32
	}
	n := min(nns, p.MaxNamespaces) + uint64(max(naudit, 0))
	if n == 0 {
		n = 1
	}
	other := (n-1)*p.LibcIETLS + n*p.OtherIETLS + p.LegacyTLS
	if other >= math.MaxInt32 {
		return 0
	}
	return math.MaxInt32 - other
}

// ValueRange is a range of tunable values, both ends included.
type ValueRange struct{ Lo, Hi uint64 }

func (r ValueRange) String() string {
	if r.Lo == r.Hi {
		return fmt.Sprint(r.Lo)
	}
	return fmt.Sprintf("%d..%d", r.Lo, r.Hi)
}

// ValueSet is the outcome of every value of one tunable in [Min, Max]:
// Works and Fails list, ascending, the maximal ranges of values with which
// the program loads (every dlopen succeeds) and with which it does not.
// Together they cover [Min, Max] when Complete.
type ValueSet struct {
	Min, Max     uint64
	Works, Fails []ValueRange
	// Complete reports that every value of [Min, Max] was decided; a
	// sweep that hit its run limit stops short and Max is then the last
	// value decided.
	Complete bool
	// Runs is the number of model runs it took.
	Runs int
}

// add appends [lo, hi] with its outcome, merging it with the range before
// when they agree and touch.
func (s *ValueSet) add(lo, hi uint64, ok bool) {
	list := &s.Fails
	if ok {
		list = &s.Works
	}
	if n := len(*list); n > 0 && (*list)[n-1].Hi+1 == lo {
		(*list)[n-1].Hi = hi
		return
	}
	*list = append(*list, ValueRange{lo, hi})
}

// Contains reports whether v is among the values that work.
func (s ValueSet) Contains(v uint64) bool {
	for _, r := range s.Works {
		if r.Lo <= v && v <= r.Hi {
			return true
		}
	}
	return false
}

// WorksFrom returns the least value from which every value up to Max
// works, and whether there is one (the range that works reaches Max).
func (s ValueSet) WorksFrom() (uint64, bool) {
	if !s.Complete || len(s.Works) == 0 || s.Works[len(s.Works)-1].Hi != s.Max {
		return 0, false
	}
	return s.Works[len(s.Works)-1].Lo, true
}

// AlsoWorks returns the ranges that work below WorksFrom (all that work
// when there is no WorksFrom): the gaps a user who rounds up may fall out
// of.
func (s ValueSet) AlsoWorks() []ValueRange {
	if _, ok := s.WorksFrom(); ok {
		return s.Works[:len(s.Works)-1]
	}
	return s.Works
}

// Smallest returns the least value that works, and whether one does.
func (s ValueSet) Smallest() (uint64, bool) {
	if len(s.Works) == 0 {
		return 0, false
	}
	return s.Works[0].Lo, true
}

// String renders the set in words, e.g. "works from 699; also 305..399;
// fails 0..304, 400..698".
func (s ValueSet) String() string {
	var parts []string
	if w, ok := s.WorksFrom(); ok {
		parts = append(parts, fmt.Sprintf("works from %d", w))
	}
	join := func(rs []ValueRange) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.String())
		}
		return strings.Join(out, ", ")
	}
	if also := s.AlsoWorks(); len(also) > 0 {
		parts = append(parts, "also "+join(also))
	}
	if len(s.Fails) > 0 {
		parts = append(parts, "fails "+join(s.Fails))
	}
	if !s.Complete {
		parts = append(parts, fmt.Sprintf("undecided above %d", s.Max))
	}
	return strings.Join(parts, "; ")
}

// Advice says in words which values work, for a user choosing one:
// "1447 or any larger value works; 0..1446 fail", or with gaps "753 or any
// larger value works; 305..399 also work, but 0..304 and 400..752 fail:
// rounding a value up from 305..399 can fail".
func (s ValueSet) Advice() string {
	join := func(rs []ValueRange, and string) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.String())
		}
		if len(out) > 1 {
			return strings.Join(out[:len(out)-1], ", ") + " " + and + " " + out[len(out)-1]
		}
		return strings.Join(out, "")
	}
	verb := func(rs []ValueRange, one, many string) string {
		if len(rs) == 1 && rs[0].Lo == rs[0].Hi {
			return one
		}
		return many
	}
	var b strings.Builder
	w, ok := s.WorksFrom()
	also := s.AlsoWorks()
	switch {
	case ok:
		fmt.Fprintf(&b, "%d or any larger value works", w)
		if len(also) > 0 {
			fmt.Fprintf(&b, "; %s also %s, but %s %s: rounding a value up from %s can fail", join(also, "and"), verb(also, "works", "work"), join(s.Fails, "and"), verb(s.Fails, "fails", "fail"), join(also, "or"))
		} else if len(s.Fails) > 0 {
			fmt.Fprintf(&b, "; %s %s", join(s.Fails, "and"), verb(s.Fails, "fails", "fail"))
		}
	case len(also) > 0:
		fmt.Fprintf(&b, "only %s %s; every other value up to %d fails", join(also, "or"), verb(also, "works", "work"), s.Max)
	default:
		fmt.Fprintf(&b, "no value up to %d works", s.Max)
	}
	if !s.Complete {
		fmt.Fprintf(&b, " (values above %d not decided)", s.Max)
	}
	return b.String()
}

// MaxSweepRuns bounds the model runs of one OptionalStaticTLSSet. Each
// run decides one interval of values, and a program has few: one per
// change in which blocks fit and which descriptors are placed.
var MaxSweepRuns = 4096

// OptionalStaticTLSSet decides every value of glibc.rtld.optional_static_tls
// from 0 to limit (Profile.OptionalStaticTLSLimit): run must play the
// program with the tunable set to v and sw as StartOptions.Sweep, and
// report whether it loads (starts, and every dlopen succeeds). Each run
// decides the whole interval of values that take the same decisions (see
// Sweep), so the number of runs is the number of intervals, not of
// values. A run that records no interval decides its own value only.
func OptionalStaticTLSSet(limit uint64, run func(v uint64, sw *Sweep) bool) ValueSet {
	set := ValueSet{Min: 0, Max: limit, Complete: true}
	for v := uint64(0); ; {
		sw := &Sweep{}
		ok := run(v, sw)
		set.Runs++
		_, hi, _ := sw.Range()
		hi = min(max(hi, v), limit)
		set.add(v, hi, ok)
		if hi >= limit {
			return set
		}
		if set.Runs >= MaxSweepRuns {
			set.Complete, set.Max = false, hi
			return set
		}
		v = hi + 1
	}
}

// NNSSet decides every glibc.rtld.nns from 1 to MaxNamespaces, other
// tunables as in base and naudit audit modules: run must play the program
// with the tunable set to n and sw (a Sweep following the surplus) as
// StartOptions.Sweep, and report whether it loads. nns moves only the
// surplus, by 288 bytes a namespace, so one run decides every nns whose
// surplus falls in the run's interval.
func (p Profile) NNSSet(base Tunables, naudit int, run func(n uint64, sw *Sweep) bool) ValueSet {
	set := ValueSet{Min: 1, Max: p.MaxNamespaces, Complete: true}
	surplus := func(n uint64) (uint64, bool) {
		t := base
		t.NNS = n
		s, _, err := p.Surplus(t, naudit)
		return s, err == nil
	}
	for n := uint64(1); n <= p.MaxNamespaces; {
		sw := &Sweep{OfSurplus: true}
		ok := run(n, sw)
		set.Runs++
		next := n + 1
		if lo, hi, known := sw.Range(); known {
			for ; next <= p.MaxNamespaces; next++ {
				s, fine := surplus(next)
				if !fine || s < lo || s > hi {
					break
				}
			}
		}
		set.add(n, next-1, ok)
		n = next
	}
	return set
}

// ValueSetOf decides every value in [lo, hi] by running each.
func ValueSetOf(lo, hi uint64, run func(v uint64) bool) ValueSet {
	set := ValueSet{Min: lo, Max: hi, Complete: true}
	for v := lo; v <= hi; v++ {
		set.add(v, v, run(v))
		set.Runs++
		if v == math.MaxUint64 {
			break
		}
	}
	return set
}
