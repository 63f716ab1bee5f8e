package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/tls"
	"github.com/vasim/vasim/tls/tlscase"
)

// schemaTLSCase is the document of vasim tls --scenario and --case: a
// case replayed, not a program read from files (vasim help json).
const schemaTLSCase = "vasim/tls-case/v1"

type tlsCaseOutcome struct {
	Dlopen string `json:"dlopen"`
	// Outcome is "fits" or "fails"; Reason "static-tls-exhausted" for a
	// failure; Message the loader's text.
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	OK       bool   `json:"ok"`
	Expected bool   `json:"published_ok"`
	Error    string `json:"error,omitempty"`
	// Need is what the block needs and Free what was free (Need - Free
	// short).
	Need  uint64 `json:"need,omitempty"`
	Free  uint64 `json:"free,omitempty"`
	Short uint64 `json:"short,omitempty"`
	// Took is the static TLS the dlopen took (alignment padding
	// included) and FreeAfter the room left after it.
	Took      uint64 `json:"took"`
	FreeAfter uint64 `json:"free_after"`
}

type tlsCaseFix struct {
	Name     string `json:"name"`
	Works    bool   `json:"works"`
	Reported bool   `json:"reported_works"`
	Source   string `json:"source,omitempty"`
}

type tlsCaseJSON struct {
	Schema string `json:"schema"`
	// Outcome is "fits" when the program starts and every dlopen
	// succeeds, else "fails" (exit 1).
	Outcome    string `json:"outcome"`
	Case       string `json:"case"`
	Summary    string `json:"summary"`
	Glibc      string `json:"glibc"`
	Arch       string `json:"arch"`
	StartError string `json:"start_error,omitempty"`
	// The static block, as in vasim/tls/v1: StaticSize = StaticUsed +
	// Surplus + AlignmentPadding + TCBSize (x86_64; on aarch64 the
	// 16-byte TCB is in StaticUsed and TCBSize is 0), StaticAlign
	// glibc's dl_tls_static_align; Free = Surplus + AlignmentPadding, of
	// which OptionalLeft may go to TLS-descriptor blocks.
	StaticSize       uint64           `json:"static_size"`
	StaticAlign      uint64           `json:"static_align"`
	StaticUsed       uint64           `json:"static_used"`
	Surplus          uint64           `json:"surplus"`
	AlignmentPadding uint64           `json:"alignment_padding"`
	TCBSize          uint64           `json:"tcb_size"`
	OptionalLeft     uint64           `json:"optional_left"`
	Free             uint64           `json:"free"`
	Outcomes         []tlsCaseOutcome `json:"dlopens"`
	Reproduced       bool             `json:"reproduces_report"`
	Fixes            []tlsCaseFix     `json:"fixes"`
	// OptionalStaticTLS is every value of the tunable and whether the
	// program then loads; MinimalOptional its least working value, which
	// may lie in a gap below values that fail (0: none, or no tunable).
	OptionalStaticTLS *tlsJSONSet `json:"optional_static_tls,omitempty"`
	MinimalOptional   uint64      `json:"minimal_optional_static_tls,omitempty"`
	Published         []string    `json:"published"`
	Notes             []string    `json:"notes,omitempty"`
}

// runTLSCase is vasim tls --scenario/--case: a program from a published
// report, replayed on the glibc model of its release.
func runTLSCase(e *env, r reporter, name, file string) int {
	var c *tlscase.Case
	var err error
	if file != "" {
		data, err := input.ReadFile(file, tlscase.MaxBytes, "a static-TLS case")
		if errors.Is(err, fs.ErrNotExist) {
			return r.input("--case %s: no such file", file)
		} else if err != nil {
			return r.input("--case: %v", err)
		}
		if c, err = tlscase.Parse(data, file); err != nil {
			return r.input("%v", err)
		}
	} else if c, err = tlscase.Load(name); err != nil {
		return r.usage("--scenario %q: want one of %s (vasim scenarios describes them)", name, strings.Join(tlscase.Names(), ", "))
	}
	res, err := c.Run()
	if err != nil {
		return r.input("%v", err)
	}
	out := tlsCaseJSON{Schema: schemaTLSCase, Outcome: "fits", Case: c.Name, Summary: c.Summary, Glibc: c.Glibc, Arch: c.Arch, StartError: res.StartError,
		StaticSize: res.Static.Size, StaticAlign: res.Static.Align, StaticUsed: res.Static.Used, Surplus: res.Static.Surplus,
		OptionalLeft: res.Static.OptionalLeft, Free: res.Static.Free,
		Reproduced: c.StartFails == (res.StartError != ""), Published: c.Published, Notes: c.Notes, Outcomes: []tlsCaseOutcome{}, Fixes: []tlsCaseFix{}}
	if res.Profile.Variant == tls.VariantII {
		out.TCBSize = res.Static.TCBSize
	}
	if res.StartError != "" {
		out.StaticSize, out.StaticAlign, out.StaticUsed, out.Surplus, out.OptionalLeft, out.Free, out.TCBSize = 0, 0, 0, 0, 0, 0, 0
	} else if sum := out.StaticUsed + out.Surplus + out.TCBSize; out.StaticSize > sum {
		out.AlignmentPadding = out.StaticSize - sum
	}
	if !res.Loads() {
		out.Outcome = "fails"
	}
	for i, o := range res.Outcomes {
		exp := true
		if i < len(c.Expect) {
			exp = c.Expect[i]
		}
		j := tlsCaseOutcome{Dlopen: o.Name, Outcome: "fits", OK: o.OK, Expected: exp, Error: o.Error, Need: o.Need, Free: o.Free, Took: o.Took, FreeAfter: o.FreeAfter}
		if !o.OK {
			j.Outcome, j.Message = "fails", o.Error
			if o.Need > o.Free {
				j.Reason, j.Short = tls.FailNoSpace.Code(), o.Need-o.Free
			}
		}
		out.Outcomes = append(out.Outcomes, j)
		out.Reproduced = out.Reproduced && o.OK == exp
	}
	for _, f := range c.Fixes {
		fr, err := c.RunFix(f)
		if err != nil {
			return r.input("fix %q: %v", f.Name, err)
		}
		out.Fixes = append(out.Fixes, tlsCaseFix{Name: f.Name, Works: fr.Loads(), Reported: f.Works, Source: f.Source})
	}
	if !res.Loads() {
		set, ok, err := c.OptionalSet()
		if err != nil {
			return r.input("%v", err)
		}
		if ok {
			base := tls.DefaultTunables()
			if c.Tunables != "" {
				base, _ = tls.ParseTunables(c.Tunables)
			}
			out.OptionalStaticTLS = setJSON(&set, base.OptionalStaticTLS)
			out.MinimalOptional, _ = set.Smallest()
		}
	}
	if r.asJSON {
		writeJSON(e.stdout, out)
	} else {
		printTLSCase(e.stdout, out)
	}
	if out.Outcome != "fits" {
		return exitFailure
	}
	return exitOK
}

func printTLSCase(w io.Writer, o tlsCaseJSON) {
	fmt.Fprintf(w, "%s (glibc %s %s): %s\n", o.Case, o.Glibc, o.Arch, o.Summary)
	if o.StartError != "" {
		fmt.Fprintf(w, "  start-up FAILS: %s\n", o.StartError)
	} else {
		if o.TCBSize > 0 {
			fmt.Fprintf(w, "static TLS per thread: %d bytes = %d used at start-up + %d surplus + %d padding (to a multiple of the %d-byte alignment) + %d thread control block\n",
				o.StaticSize, o.StaticUsed, o.Surplus, o.AlignmentPadding, o.StaticAlign, o.TCBSize)
		} else {
			fmt.Fprintf(w, "static TLS per thread: %d bytes = %d used at start-up (the 16-byte thread control block included) + %d surplus + %d padding (rounding up)\n",
				o.StaticSize, o.StaticUsed, o.Surplus, o.AlignmentPadding)
		}
		fmt.Fprintf(w, "free for libraries dlopened later: %d bytes = %d surplus + %d padding\n", o.Free, o.Surplus, o.AlignmentPadding)
	}
	for _, d := range o.Outcomes {
		if d.OK && d.Took > 0 {
			fmt.Fprintf(w, "  dlopen %s: ok, took %d bytes of static TLS, %d free after it\n", shown(d.Dlopen), d.Took, d.FreeAfter)
		} else if d.OK {
			fmt.Fprintf(w, "  dlopen %s: ok, nothing placed in static TLS\n", shown(d.Dlopen))
		} else if d.Short > 0 {
			fmt.Fprintf(w, "  dlopen %s: FAILS: %s (needs %d bytes of static TLS, %d are free at that point: %d short)\n", shown(d.Dlopen), d.Error, d.Need, d.Free, d.Short)
		} else {
			fmt.Fprintf(w, "  dlopen %s: FAILS: %s\n", shown(d.Dlopen), d.Error)
		}
	}
	if o.Reproduced {
		fmt.Fprintln(w, "the model reproduces the published outcome")
	} else {
		fmt.Fprintln(w, "the model does NOT reproduce the published outcome")
	}
	for _, f := range o.Fixes {
		verdict := "works"
		if !f.Works {
			verdict = "does not work"
		}
		reported := "reported to work"
		if !f.Reported {
			reported = "reported not to work"
		}
		fmt.Fprintf(w, "  fix: %s: %s (%s)\n", f.Name, verdict, reported)
	}
	if s := o.OptionalStaticTLS; s != nil {
		if s.WorksFrom != nil || len(s.AlsoWorks) > 0 {
			fmt.Fprintf(w, "  GLIBC_TUNABLES: %s\n", "glibc.rtld.optional_static_tls "+setWords(s, false))
		} else {
			fmt.Fprintf(w, "  GLIBC_TUNABLES: no value of glibc.rtld.optional_static_tls up to %d works\n", s.CheckedUpTo)
		}
	}
	for _, p := range o.Published {
		fmt.Fprintf(w, "  published: %s\n", p)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
