package main

import (
	"fmt"
	"io"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/tls/tlscase"
)

type tlsCaseOutcome struct {
	Dlopen   string `json:"dlopen"`
	OK       bool   `json:"ok"`
	Expected bool   `json:"published_ok"`
	Error    string `json:"error,omitempty"`
	Need     uint64 `json:"need,omitempty"`
	Free     uint64 `json:"free,omitempty"`
}

type tlsCaseFix struct {
	Name     string `json:"name"`
	Works    bool   `json:"works"`
	Reported bool   `json:"reported_works"`
	Source   string `json:"source,omitempty"`
}

type tlsCaseJSON struct {
	Case            string           `json:"case"`
	Summary         string           `json:"summary"`
	Glibc           string           `json:"glibc"`
	Arch            string           `json:"arch"`
	StartError      string           `json:"start_error,omitempty"`
	StaticSize      uint64           `json:"static_size"`
	Surplus         uint64           `json:"surplus"`
	Outcomes        []tlsCaseOutcome `json:"dlopens"`
	Reproduced      bool             `json:"reproduces_report"`
	Fixes           []tlsCaseFix     `json:"fixes"`
	MinimalOptional uint64           `json:"minimal_optional_static_tls,omitempty"`
	Published       []string         `json:"published"`
	Notes           []string         `json:"notes,omitempty"`
}

// runTLSCase is vasim tls --scenario/--case: a program from a published
// report, replayed on the glibc model of its release.
func runTLSCase(e *env, name, file string, asJSON bool) int {
	bad := usageErr(e, "tls")
	var c *tlscase.Case
	var err error
	if file != "" {
		data, err := input.ReadFile(file, tlscase.MaxBytes, "a static-TLS case")
		if err != nil {
			return bad("--case: %v", err)
		}
		if c, err = tlscase.Parse(data, file); err != nil {
			return bad("%v", err)
		}
	} else if c, err = tlscase.Load(name); err != nil {
		return bad("--scenario: %v", err)
	}
	r, err := c.Run()
	if err != nil {
		return bad("%v", err)
	}
	out := tlsCaseJSON{Case: c.Name, Summary: c.Summary, Glibc: c.Glibc, Arch: c.Arch, StartError: r.StartError, StaticSize: r.Static.Size, Surplus: r.Static.Surplus, Reproduced: c.StartFails == (r.StartError != ""), Published: c.Published, Notes: c.Notes}
	for i, o := range r.Outcomes {
		exp := true
		if i < len(c.Expect) {
			exp = c.Expect[i]
		}
		out.Outcomes = append(out.Outcomes, tlsCaseOutcome{Dlopen: o.Name, OK: o.OK, Expected: exp, Error: o.Error, Need: o.Need, Free: o.Free})
		out.Reproduced = out.Reproduced && o.OK == exp
	}
	for _, f := range c.Fixes {
		fr, err := c.RunFix(f)
		if err != nil {
			return bad("fix %q: %v", f.Name, err)
		}
		out.Fixes = append(out.Fixes, tlsCaseFix{Name: f.Name, Works: fr.Loads(), Reported: f.Works, Source: f.Source})
	}
	if !r.Loads() {
		if out.MinimalOptional, err = c.MinimalOptional(); err != nil {
			return bad("%v", err)
		}
	}
	if asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return bad("%v", err)
		}
	} else {
		printTLSCase(e.stdout, out)
	}
	if !r.Loads() {
		return exitFailure
	}
	return exitOK
}

func printTLSCase(w io.Writer, o tlsCaseJSON) {
	fmt.Fprintf(w, "%s (glibc %s %s): %s\n", o.Case, o.Glibc, o.Arch, o.Summary)
	if o.StartError != "" {
		fmt.Fprintf(w, "  start-up: %s\n", o.StartError)
	} else {
		fmt.Fprintf(w, "static TLS %d bytes, surplus %d\n", o.StaticSize, o.Surplus)
	}
	for _, d := range o.Outcomes {
		if d.OK {
			fmt.Fprintf(w, "  dlopen %s: ok\n", shown(d.Dlopen))
		} else {
			fmt.Fprintf(w, "  dlopen %s: %s (needs %d, %d free)\n", shown(d.Dlopen), d.Error, d.Need, d.Free)
		}
	}
	if o.Reproduced {
		fmt.Fprintln(w, "as published")
	} else {
		fmt.Fprintln(w, "NOT as published")
	}
	for _, f := range o.Fixes {
		verdict := "works"
		if !f.Works {
			verdict = "does not work"
		}
		fmt.Fprintf(w, "  fix: %s: %s (reported: %v)\n", f.Name, verdict, f.Reported)
	}
	if o.MinimalOptional > 0 {
		fmt.Fprintf(w, "  smallest GLIBC_TUNABLES=glibc.rtld.optional_static_tls=%d\n", o.MinimalOptional)
	}
	for _, p := range o.Published {
		fmt.Fprintf(w, "  published: %s\n", p)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
