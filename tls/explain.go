package tls

import (
	"fmt"
	"strings"
)

// Explanation tells a user why a dlopen failed and what would fix it.
type Explanation struct {
	// Step is the index of the failed dlopen in Result.Steps.
	Step int
	// Module is the module whose TLS could not be placed (the definer).
	Module string
	// Referrer is the module whose relocation needed it.
	Referrer string
	// Need and Free are the bytes needed and left.
	Need, Free uint64
	// AlignImpossible: the block's alignment exceeds the static block's;
	// no amount of surplus fixes it (only preloading or rebuilding).
	AlignImpossible bool
	Align           uint64
	StaticAlign     uint64
	// ForcedDynamic: the module's TLS was already used dynamically.
	ForcedDynamic bool
	// Consumers are the post-start-up static placements still holding
	// surplus when the dlopen ran, oldest first.
	Consumers []Allocation
	// OptionalSpent is how much of the optional budget was gone (never
	// returned, even after dlclose).
	OptionalSpent uint64
	// OptionalSet is, for every glibc.rtld.optional_static_tls from 0 to
	// the largest glibc adds without wrapping (other tunables unchanged),
	// whether every dlopen of the scenario succeeds (see
	// OptionalStaticTLSSet); nil when not searched (no tunables, or a
	// failure no tunable changes).
	OptionalSet *ValueSet
	// NNSSet is the same for glibc.rtld.nns, 1..16.
	NNSSet *ValueSet
	// FixOptionalStaticTLS is the glibc.rtld.optional_static_tls to
	// suggest: the least value from which every larger one works
	// (OptionalSet.WorksFrom), so that rounding it up stays safe; when no
	// such value exists, the least value of the lowest range that works.
	// 0 when nothing works (FixTunables then names nns, or is empty).
	FixOptionalStaticTLS uint64
	// FixNNS is the glibc.rtld.nns from which every larger one works
	// (else the least that works; with LD_AUDIT, large values leave too
	// few namespaces), or 0.
	FixNNS uint64
	// FixTunables is the GLIBC_TUNABLES value to suggest ("" if none).
	FixTunables string
	// FixVerified reports that FixTunables was checked by running the
	// whole scenario again with it, start-up and every dlopen (on the
	// model, from the files where the model's replay could depart from
	// them): every dlopen succeeds.
	FixVerified bool
	// PreloadChecked reports that PreloadFixes was worked out (for static
	// TLS failures of a module vasim read from a file, with any loader).
	PreloadChecked bool
	// PreloadFixes reports whether adding the module's path to
	// LD_PRELOAD makes every dlopen succeed (verified by re-running).
	PreloadFixes bool
	// Notes are further sentences for the user.
	Notes []string
}

// explainStart explains a start-up that fails for want of static TLS
// (LD_AUDIT relocates every start-up library through the surplus). The
// fixes are searched with full Runs: a program that does not start has no
// replay.
func explainStart(sc Program, f *Failure) Explanation {
	e := Explanation{Step: -1, Need: f.Need, Free: f.Free, Align: f.Align, StaticAlign: f.StaticAlign,
		AlignImpossible: f.Kind == FailAlign, ForcedDynamic: f.Kind == FailForcedDynamic}
	if f.Module != nil {
		e.Module = f.Module.Label()
	}
	if f.Referrer != nil {
		e.Referrer = f.Referrer.Label()
	}
	switch f.Kind {
	case FailNoSpace:
		e.Notes = append(e.Notes, fmt.Sprintf("at start-up the block needs %d bytes of static TLS but only %d are free", f.Need, f.Free))
	case FailAlign:
		e.Notes = append(e.Notes, fmt.Sprintf("its TLS alignment %d exceeds the static TLS alignment %d fixed at start-up: no surplus can fix this", f.Align, f.StaticAlign))
	}
	gl, ok := sc.Loader.(GlibcLoader)
	if !ok || !gl.Profile.Tunables || f.Kind != FailNoSpace {
		return e
	}
	if len(sc.Audit) > 0 || sc.Options.Audit > 0 {
		e.Notes = append(e.Notes, "with LD_AUDIT, ld.so lays out only the main program's TLS at start-up and every library's initial-exec TLS comes out of the surplus")
	}
	fx := searchFixes(sc, &Result{}, gl.Profile) // no replay: full Runs
	e.OptionalSet, e.NNSSet = &fx.optional, &fx.nns
	e.FixOptionalStaticTLS, e.FixNNS, e.FixTunables, e.FixVerified = fx.opt, fx.nnsFix, fx.tunables, fx.verified
	return e
}

// Explain re-runs the scenario to find fixes for each failed dlopen of a
// glibc scenario: the minimal optional_static_tls, the minimal nns, and
// whether preloading the failing module would work. Other loaders get the
// byte accounting and notes only.
func Explain(sc Program, res *Result) []Explanation {
	var out []Explanation
	gl, isGlibc := sc.Loader.(GlibcLoader)
	var fx *fixes
	for i, st := range res.Steps {
		if st.Event.Kind != EventDlopen || st.OK || st.Failure == nil {
			continue
		}
		f := st.Failure
		e := Explanation{Step: i, Need: f.Need, Free: f.Free, Align: f.Align, StaticAlign: f.StaticAlign}
		if f.Module != nil {
			e.Module = f.Module.Label()
		}
		if f.Referrer != nil {
			e.Referrer = f.Referrer.Label()
		}
		e.AlignImpossible = f.Kind == FailAlign
		e.ForcedDynamic = f.Kind == FailForcedDynamic
		for _, a := range res.State.Allocations() {
			if a.Event < i+1 && !a.Freed {
				e.Consumers = append(e.Consumers, a)
			}
		}
		switch f.Kind {
		case FailNoSpace:
			e.Notes = append(e.Notes, fmt.Sprintf("the block needs %d bytes of static TLS but only %d are free", f.Need, f.Free))
		case FailAlign:
			e.Notes = append(e.Notes, fmt.Sprintf("its TLS alignment %d exceeds the static TLS alignment %d fixed at start-up: no surplus can fix this", f.Align, f.StaticAlign))
		case FailForcedDynamic:
			e.Notes = append(e.Notes, "its TLS was already accessed dynamically (__tls_get_addr), which makes static TLS impossible for it from then on")
		case FailDynamicDefinition:
			e.Notes = append(e.Notes, fmt.Sprintf("%s keeps no static TLS for libraries loaded after start-up: initial-exec TLS in (or into) a dlopened library always fails; build it with -ftls-model=global-dynamic, or load it at start-up", strings.Fields(res.Loader)[0]))
		case FailNotFound:
			e.Notes = append(e.Notes, "the object or one of its dependencies was not found")
		case FailNotObject:
			e.Notes = append(e.Notes, "the object or one of its dependencies is not an ELF object the loader can map")
		}
		if isGlibc && (f.Kind == FailNoSpace || f.Kind == FailAlign || f.Kind == FailForcedDynamic) {
			if gl.Profile.OptionalCap {
				e.OptionalSpent = currentTunables(sc).OptionalStaticTLS - st.StaticAfter.OptionalLeft
			}
			if gl.Profile.Tunables && f.Kind == FailNoSpace {
				if fx == nil {
					fx = searchFixes(sc, res, gl.Profile)
				}
				e.OptionalSet, e.NNSSet = &fx.optional, &fx.nns
				e.FixOptionalStaticTLS, e.FixNNS, e.FixTunables, e.FixVerified = fx.opt, fx.nnsFix, fx.tunables, fx.verified
			} else if !gl.Profile.Tunables {
				e.Notes = append(e.Notes, fmt.Sprintf("glibc %v has no static TLS tunables (2.32+): the surplus is fixed at %d bytes", gl.Profile.Glibc, gl.Profile.FixedSurplus))
			}
		}
		if f.Kind.StaticTLS() && f.Module != nil && res.Objects[f.Module] != nil {
			e.PreloadChecked = true
			e.PreloadFixes = preloadFixes(sc, res, res.Objects[f.Module].Path)
		}
		out = append(out, e)
	}
	return out
}

func currentTunables(sc Program) Tunables {
	if sc.Options.Tunables == (Tunables{}) {
		return DefaultTunables()
	}
	return sc.Options.Tunables
}

// allOK re-runs the scenario from its files with tunables t (and sw as
// the start's Sweep) and reports whether every dlopen succeeds.
func allOK(sc Program, t Tunables, sw *Sweep) bool {
	sc.Options.Tunables, sc.Options.Sweep = t, sw
	r := *sc.Resolver
	sc.Resolver = &r
	res, err := Run(sc)
	return err == nil && !res.Failed()
}

// fixes is what searchFixes found for a scenario.
type fixes struct {
	optional, nns ValueSet
	opt, nnsFix   uint64
	tunables      string // GLIBC_TUNABLES of fix, "" for none
	fix           Tunables
	verified      bool
}

// searchFixes decides every value of optional_static_tls and nns for the
// scenario (other tunables as they are) and picks the values to suggest.
// The search re-runs the model from the run's replay (no file is read
// again), one run per interval of optional_static_tls values that take
// the same decisions (OptionalStaticTLSSet) and one per nns value; the
// suggested value is among those run. Where the replay may depart from
// the run (an object loaded again after an unload), the suggestion is
// verified by a full Run, and should that disagree the search is repeated
// with full Runs.
func searchFixes(sc Program, res *Result, prof Profile) *fixes {
	base := currentTunables(sc)
	naudit := sc.Options.Audit
	if naudit == 0 {
		naudit = len(sc.Audit)
	}
	loads := func(t Tunables, sw *Sweep) bool { return allOK(sc, t, sw) }
	if res.replay != nil {
		loads = res.replay.loads
	}
	fx := decideFixes(base, prof, naudit, loads)
	if fx.tunables != "" {
		// The sets ran the model at the suggested value itself (each
		// interval starts at a value run). A full Run from the files is
		// needed only where the replay departs from the run.
		fx.verified = true
		if res.replay == nil || res.replay.collapsed {
			fx.verified = allOK(sc, fx.fix, nil)
		}
		if !fx.verified && res.replay != nil {
			fx = decideFixes(base, prof, naudit, func(t Tunables, sw *Sweep) bool { return allOK(sc, t, sw) })
			fx.verified = fx.tunables != ""
		}
	}
	return fx
}

// decideFixes computes both sets with loads and picks the suggestions.
func decideFixes(base Tunables, prof Profile, naudit int, loads func(Tunables, *Sweep) bool) *fixes {
	fx := &fixes{}
	fx.optional = OptionalStaticTLSSet(prof.OptionalStaticTLSLimit(base.NNS, naudit), func(v uint64, sw *Sweep) bool {
		t := base
		t.OptionalStaticTLS = v
		return loads(t, sw)
	})
	fx.nns = prof.NNSSet(base, naudit, func(n uint64, sw *Sweep) bool {
		t := base
		t.NNS = n
		return loads(t, sw)
	})
	haveOpt := false
	if w, ok := fx.optional.WorksFrom(); ok {
		fx.opt, haveOpt = w, true
	} else if s, ok := fx.optional.Smallest(); ok {
		fx.opt, haveOpt = s, true
	}
	if w, ok := fx.nns.WorksFrom(); ok {
		fx.nnsFix = w
	} else if s, ok := fx.nns.Smallest(); ok {
		fx.nnsFix = s
	}
	t := base
	switch {
	case haveOpt:
		t.OptionalStaticTLS = fx.opt
		fx.tunables, fx.fix = t.String(), t
	case fx.nnsFix > 0:
		t.NNS = fx.nnsFix
		fx.tunables, fx.fix = t.String(), t
	}
	return fx
}

// MaxMinimalScan bounds the exhaustive part of MinimalTunables: when the
// working value found by bisection is at most this, every smaller value is
// tried, so the answer is the true minimum; above it, the bisection result is returned (working, and with
// the value one below failing, but a smaller working value cannot be
// ruled out).
var MaxMinimalScan uint64 = 20000

// MinimalTunables finds the smallest glibc.rtld.optional_static_tls (other
// tunables as in base) by trying values, for callers that can only say
// whether a set of tunables works. It re-runs ok many times and finds only
// the least working value, which may lie in a gap below values that fail;
// a caller that runs the glibc model itself should use
// OptionalStaticTLSSet, which decides every value exactly in a few runs.
//
// In full: MinimalTunables finds the smallest glibc.rtld.optional_static_tls (other
// tunables as in base) and, separately, the smallest glibc.rtld.nns for
// which ok holds; 0 means none was found (or base already works). blocks
// bounds the search: the total size plus alignment of the TLS blocks
// involved.
//
// Success is not monotone in optional_static_tls: a larger budget lets a
// TLS descriptor module take static space that an initial-exec module
// later needs, and the static size grows in steps of the static
// alignment. So a bisection only finds some working value; MinimalTunables
// then tries every value from the current one up to it (see
// MaxMinimalScan) and returns the first that works.
func MinimalTunables(base Tunables, blocks uint64, ok func(Tunables) bool) (optional, nns uint64) {
	if ok(base) {
		return 0, 0
	}
	try := func(v uint64) bool { t := base; t.OptionalStaticTLS = v; return ok(t) }
	hi := (base.OptionalStaticTLS+blocks)*2 + 4096
	// glibc adds the value as a C int (see Profile.Surplus): stay where a
	// larger value means a larger surplus.
	const maxSane = 1<<31 - 1<<16
	hi = min(hi, maxSane)
	if try(hi) {
		lo := base.OptionalStaticTLS // fails
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if try(mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		optional = hi
		if hi <= MaxMinimalScan {
			// Values below the current one count too: a smaller optional
			// budget can keep a descriptor module out of the way.
			for v := uint64(0); v < hi; v++ {
				if v != base.OptionalStaticTLS && try(v) {
					optional = v
					break
				}
			}
		}
	}
	for n := base.NNS + 1; n <= glibcDLNNS; n++ {
		t := base
		t.NNS = n
		if ok(t) {
			nns = n
			break
		}
	}
	return optional, nns
}

// preloadFixes re-runs the scenario with path added to LD_PRELOAD: from
// the replay when the object and everything it needs were already known
// (a full Run otherwise).
func preloadFixes(sc Program, res *Result, path string) bool {
	if rp := res.replay; rp != nil {
		if startup, ok := rp.withPreload(path); ok {
			return rp.loadsFrom(startup, currentTunables(sc), nil)
		}
	}
	r := *sc.Resolver
	r.Preload = append(append([]string(nil), r.Preload...), path)
	sc.Resolver = &r
	res, err := Run(sc)
	return err == nil && !res.Failed()
}

// Sentence renders the explanation in words.
func (e Explanation) Sentence() string {
	var b strings.Builder
	b.WriteString(strings.Join(e.Notes, "; "))
	if len(e.Consumers) > 0 {
		var parts []string
		for _, c := range e.Consumers {
			kind := "initial-exec"
			if c.Optional {
				kind = "TLS descriptor, optional budget"
			}
			parts = append(parts, fmt.Sprintf("%s (%d bytes, %s)", c.Module.Label(), c.Use, kind))
		}
		fmt.Fprintf(&b, "; earlier dlopens took surplus: %s", strings.Join(parts, ", "))
	}
	if e.OptionalSpent > 0 {
		fmt.Fprintf(&b, "; %d bytes of the optional budget were spent (never returned)", e.OptionalSpent)
	}
	if e.FixTunables != "" {
		fmt.Fprintf(&b, "; fix: GLIBC_TUNABLES=%s", e.FixTunables)
		// The suggestion is optional_static_tls whenever some value of it
		// works (searchFixes), else nns.
		if e.OptionalSet != nil && len(e.OptionalSet.Works) > 0 {
			fmt.Fprintf(&b, " (%s)", e.OptionalSet.Advice())
			if e.FixNNS > 0 {
				fmt.Fprintf(&b, ", or glibc.rtld.nns=%d", e.FixNNS)
			}
		}
		if e.FixVerified {
			b.WriteString("; verified by re-running every dlopen")
		}
	}
	switch {
	case e.PreloadFixes:
		also := ""
		if e.FixTunables != "" {
			also = "also "
		}
		fmt.Fprintf(&b, "; LD_PRELOAD=%s would %sfix it (the module is then laid out at start-up)", e.Module, also)
	case e.PreloadChecked && !e.ForcedDynamic:
		b.WriteString("; preloading it would not help")
	}
	return strings.TrimPrefix(b.String(), "; ")
}
