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
	// FixOptionalStaticTLS is the smallest glibc.rtld.optional_static_tls
	// (other tunables unchanged) with which every dlopen of the scenario
	// succeeds, verified by re-running it; 0 when none was found.
	FixOptionalStaticTLS uint64
	// FixNNS is the smallest glibc.rtld.nns that does it alone, or 0.
	FixNNS uint64
	// FixTunables is the GLIBC_TUNABLES value to suggest ("" if none).
	FixTunables string
	// PreloadChecked reports that PreloadFixes was worked out (for static
	// TLS failures of a module vasim read from a file, with any loader).
	PreloadChecked bool
	// PreloadFixes reports whether adding the module's path to
	// LD_PRELOAD makes every dlopen succeed (verified by re-running).
	PreloadFixes bool
	// Notes are further sentences for the user.
	Notes []string
}

// Explain re-runs the scenario to find fixes for each failed dlopen of a
// glibc scenario: the minimal optional_static_tls, the minimal nns, and
// whether preloading the failing module would work. Other loaders get the
// byte accounting and notes only.
func Explain(sc Program, res *Result) []Explanation {
	var out []Explanation
	gl, isGlibc := sc.Loader.(GlibcLoader)
	var fixOpt, fixNNS uint64
	fixSearched := false
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
				if !fixSearched {
					fixOpt, fixNNS = minimalTunables(sc, res)
					fixSearched = true
				}
				e.FixOptionalStaticTLS, e.FixNNS = fixOpt, fixNNS
				if fixOpt > 0 {
					e.FixTunables = tunablesWith(sc, fixOpt, 0)
				} else if fixNNS > 0 {
					e.FixTunables = tunablesWith(sc, 0, fixNNS)
				}
			} else if !gl.Profile.Tunables {
				e.Notes = append(e.Notes, fmt.Sprintf("glibc %v has no static TLS tunables (2.32+): the surplus is fixed at %d bytes", gl.Profile.Glibc, gl.Profile.FixedSurplus))
			}
		}
		if f.Kind.StaticTLS() && f.Module != nil && res.Objects[f.Module] != nil {
			e.PreloadChecked = true
			e.PreloadFixes = preloadFixes(sc, res.Objects[f.Module].Path)
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

func tunablesWith(sc Program, optional, nns uint64) string {
	t := currentTunables(sc)
	if optional > 0 {
		t.OptionalStaticTLS = optional
	}
	if nns > 0 {
		t.NNS = nns
	}
	return t.String()
}

// allOK re-runs the scenario with tunables t and reports whether every
// dlopen succeeds.
func allOK(sc Program, t Tunables) bool {
	sc.Options.Tunables = t
	r := *sc.Resolver
	sc.Resolver = &r
	res, err := Run(sc)
	return err == nil && !res.Failed()
}

// minimalTunables searches the smallest optional_static_tls and nns that
// make the whole scenario succeed, by re-running it.
func minimalTunables(sc Program, res *Result) (optional, nns uint64) {
	// Upper bound: every TLS block of every module the scenario touches,
	// with its alignment, on top of the current value.
	var blocks uint64
	for m := range res.Objects {
		if m.TLS != nil {
			blocks += m.TLS.MemSize + m.TLS.Align + m.TLS.FirstByteOffset()
		}
	}
	return MinimalTunables(currentTunables(sc), blocks, func(t Tunables) bool { return allOK(sc, t) })
}

// MaxMinimalScan bounds the exhaustive part of MinimalTunables: when the
// working value found by bisection is at most this, every smaller value is
// tried, so the answer is the true minimum; above it, the bisection result is returned (working, and with
// the value one below failing, but a smaller working value cannot be
// ruled out).
var MaxMinimalScan uint64 = 20000

// MinimalTunables finds the smallest glibc.rtld.optional_static_tls (other
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

// preloadFixes re-runs the scenario with path added to LD_PRELOAD.
func preloadFixes(sc Program, path string) bool {
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
		fmt.Fprintf(&b, "; fix: GLIBC_TUNABLES=%s (the smallest value that makes every dlopen succeed, verified)", e.FixTunables)
		if e.FixNNS > 0 && e.FixOptionalStaticTLS > 0 {
			fmt.Fprintf(&b, ", or glibc.rtld.nns=%d", e.FixNNS)
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
