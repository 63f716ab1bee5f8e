package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/tls"
	"github.com/vasim/vasim/tls/tlscase"
)

func init() {
	register(&command{
		name:    "tls",
		summary: "predict whether dlopen fails with \"cannot allocate memory in static TLS block\", and the fix",
		usage:   "vasim tls --exe PATH [--dlopen LIB]... [--tunables STR] [--glibc VERSION] [--loader glibc|musl|freebsd|bionic] [--sysroot DIR] [--json]\n       vasim tls (--scenario NAME | --case FILE) [--json]\n       vasim tls pages --exe PATH [--no-aslr | --seed N] [--probe OFFSET]... [--json]",
		run:     runTLS,
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type tlsJSONAlloc struct {
	Path     string `json:"path"`
	Offset   uint64 `json:"offset"`
	Bytes    uint64 `json:"bytes"`
	Optional bool   `json:"optional"`
}

type tlsJSONDlopen struct {
	Path                 string         `json:"path"`
	OK                   bool           `json:"ok"`
	Error                string         `json:"error"`
	StaticOffset         *uint64        `json:"static_offset,omitempty"`
	Placed               []tlsJSONAlloc `json:"placed,omitempty"`
	FailureKind          string         `json:"failure,omitempty"`
	Module               string         `json:"module,omitempty"`
	Referrer             string         `json:"referrer,omitempty"`
	BytesNeeded          uint64         `json:"bytes_needed,omitempty"`
	BytesFree            *uint64        `json:"bytes_free,omitempty"`
	AlignImpossible      bool           `json:"align_impossible,omitempty"`
	Consumers            []tlsJSONAlloc `json:"consumed_by,omitempty"`
	OptionalSpent        uint64         `json:"optional_spent,omitempty"`
	FixTunables          string         `json:"fix_tunables,omitempty"`
	FixOptionalStaticTLS uint64         `json:"fix_optional_static_tls,omitempty"`
	FixNNS               uint64         `json:"fix_nns,omitempty"`
	PreloadFixes         *bool          `json:"preload_fixes,omitempty"`
	Explanation          string         `json:"explanation,omitempty"`
}

type tlsJSONModule struct {
	Path   string  `json:"path"`
	Size   uint64  `json:"tls_size"`
	Align  uint64  `json:"tls_align"`
	Offset *uint64 `json:"offset,omitempty"`
}

type tlsJSON struct {
	Loader       string          `json:"loader"`
	Arch         string          `json:"arch"`
	GlibcVersion string          `json:"glibc_version,omitempty"`
	GlibcSource  string          `json:"glibc_version_source,omitempty"`
	Exe          string          `json:"exe"`
	Tunables     string          `json:"tunables,omitempty"`
	StaticSize   uint64          `json:"static_size"`
	StaticAlign  uint64          `json:"static_align"`
	StaticUsed   uint64          `json:"static_used"`
	Surplus      uint64          `json:"surplus"`
	OptionalLeft uint64          `json:"optional_left"`
	Free         uint64          `json:"free"`
	Startup      []tlsJSONModule `json:"startup_tls"`
	Dlopen       []tlsJSONDlopen `json:"dlopen"`
	Warnings     []string        `json:"warnings,omitempty"`
}

func runTLS(e *env, args []string) int {
	if len(args) > 0 && args[0] == "pages" {
		return runTLSPages(e, args[1:])
	}
	fs := newFlags(e, "tls")
	exe := fs.String("exe", "", "the program whose process is modelled (required)")
	var dlopens stringList
	fs.Var(&dlopens, "dlopen", "a library the program dlopens, in order (repeatable)")
	tunables := fs.String("tunables", "", "GLIBC_TUNABLES value (default: $GLIBC_TUNABLES)")
	glibcV := fs.String("glibc", "", "glibc release to model, e.g. 2.31 (default: read from the tree's libc.so.6)")
	loaderName := fs.String("loader", "", "loader model: "+strings.Join(tls.Loaders[:len(tls.Loaders)-1], ", ")+" or "+tls.Loaders[len(tls.Loaders)-1]+" (default: glibc or musl, from the program's interpreter)")
	sysroot := fs.String("sysroot", "", "resolve paths inside this directory (a foreign tree)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	caseName := fs.String("scenario", "", "a built-in case from a published report (see vasim scenarios): "+strings.Join(tlscase.Names(), ", "))
	caseFile := fs.String("case", "", "a case document (vasim scenarios --dump NAME prints one; - reads standard input)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	bad := usageErr(e, "tls")
	if *caseName != "" || *caseFile != "" {
		if *exe != "" || *caseName != "" && *caseFile != "" {
			return bad("give one of --exe, --scenario and --case")
		}
		return runTLSCase(e, *caseName, *caseFile, *asJSON)
	}
	if *exe == "" {
		return bad("--exe is required (or --scenario NAME, --case FILE)")
	}
	setup := tls.Setup{Exe: *exe, Dlopens: dlopens, Sysroot: *sysroot, Loader: *loaderName, Glibc: *glibcV, Env: tls.EnvFrom(e.getenv)}
	if *tunables != "" {
		setup.Env.Tunables = *tunables
	}
	rep, err := tls.Check(setup)
	if err != nil {
		if errors.Is(err, tls.ErrStart) {
			fmt.Fprintf(e.stderr, "vasim tls: %v\n", err)
			return exitFailure
		}
		return bad("%v", err)
	}
	out := tlsReport(rep)
	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return bad("%v", err)
		}
	} else {
		printTLS(e, out)
	}
	if rep.Result.Failed() {
		return exitFailure
	}
	return exitOK
}

// tlsReport turns a report into the JSON document.
func tlsReport(rep *tls.Report) tlsJSON {
	plan, res := rep.Plan, rep.Result
	out := tlsJSON{Exe: plan.Program.Exe, Arch: plan.Arch.String(), Tunables: plan.Program.Options.Tunables.String(), GlibcSource: plan.GlibcSource}
	if !plan.Glibc.IsZero() {
		out.GlibcVersion = plan.Glibc.String()
	}
	out.Warnings = append(out.Warnings, plan.Warnings...)
	out.Loader = res.Loader
	out.Warnings = append(out.Warnings, res.Warnings...)
	st := res.Static
	out.StaticSize, out.StaticAlign, out.StaticUsed, out.Surplus, out.OptionalLeft, out.Free = st.Size, st.Align, st.Used, st.Surplus, st.OptionalLeft, st.Free
	for _, m := range res.Startup {
		if m.TLS == nil {
			continue
		}
		jm := tlsJSONModule{Path: m.Label(), Size: m.TLS.MemSize, Align: m.TLS.Align}
		if m.Main {
			jm.Path = plan.Program.Exe
		}
		if off, ok := res.State.Offset(m); ok {
			jm.Offset = &off
		}
		out.Startup = append(out.Startup, jm)
	}
	for i, s := range res.Steps {
		j := tlsJSONDlopen{Path: s.Path, OK: s.OK, Error: s.Error}
		if s.OK && s.RootStatic {
			off := s.RootOffset
			j.StaticOffset = &off
		}
		for _, a := range s.Placed {
			j.Placed = append(j.Placed, tlsJSONAlloc{Path: a.Module.Label(), Offset: a.Offset, Bytes: a.Use, Optional: a.Optional})
		}
		if !s.OK && s.Failure != nil {
			j.FailureKind = s.Failure.Kind.String()
		}
		if x, ok := rep.Explanations[i]; ok {
			j.Module, j.Referrer, j.BytesNeeded, j.AlignImpossible = x.Module, x.Referrer, x.Need, x.AlignImpossible
			if s.Failure != nil && s.Failure.Kind.StaticTLS() {
				// Byte counts and the preload verdict only mean something
				// for a static TLS failure, not for a missing file.
				free := x.Free
				j.BytesFree = &free
			}
			if x.PreloadChecked {
				pf := x.PreloadFixes
				j.PreloadFixes = &pf
			}
			for _, a := range x.Consumers {
				j.Consumers = append(j.Consumers, tlsJSONAlloc{Path: a.Module.Label(), Offset: a.Offset, Bytes: a.Use, Optional: a.Optional})
			}
			j.OptionalSpent, j.FixTunables, j.FixOptionalStaticTLS, j.FixNNS = x.OptionalSpent, x.FixTunables, x.FixOptionalStaticTLS, x.FixNNS
			j.Explanation = x.Sentence()
		}
		out.Dlopen = append(out.Dlopen, j)
	}
	return out
}

func printTLS(e *env, o tlsJSON) {
	w := e.stdout
	fmt.Fprintf(w, "%s under %s", shown(o.Exe), o.Loader)
	if o.GlibcSource != "" {
		fmt.Fprintf(w, " (version from the %s)", o.GlibcSource)
	}
	fmt.Fprintln(w, ".")
	if o.Tunables != "" {
		fmt.Fprintf(w, "GLIBC_TUNABLES=%s\n", o.Tunables)
	}
	fmt.Fprintf(w, "Static TLS: %d bytes (align %d); %d used by start-up modules; surplus %d; %d bytes free for initial-exec TLS",
		o.StaticSize, o.StaticAlign, o.StaticUsed, o.Surplus, o.Free)
	if o.OptionalLeft > 0 {
		fmt.Fprintf(w, ", of which TLS descriptors may take %d", o.OptionalLeft)
	}
	fmt.Fprintln(w, ".")
	for _, warn := range o.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	// Offsets are below the thread pointer on x86_64 (TLS variant II),
	// above it on aarch64 (variant I).
	sign := "-"
	if o.Arch == loader.ArchAArch64.String() {
		sign = "+"
	}
	for _, m := range o.Startup {
		if m.Offset != nil {
			fmt.Fprintf(w, "  start-up %s: %d bytes (align %d) at tp%s%d\n", shown(m.Path), m.Size, m.Align, sign, *m.Offset)
		}
	}
	for _, d := range o.Dlopen {
		if d.OK {
			fmt.Fprintf(w, "dlopen %s: ok", shown(d.Path))
			for _, p := range d.Placed {
				kind := "initial-exec"
				if p.Optional {
					kind = "TLS descriptor"
				}
				fmt.Fprintf(w, "; %s placed in static TLS (%d bytes, %s)", shown(p.Path), p.Bytes, kind)
			}
			fmt.Fprintln(w)
			continue
		}
		fmt.Fprintf(w, "dlopen %s: FAILS: %s\n", shown(d.Path), shown(d.Error))
		if d.Explanation != "" {
			fmt.Fprintf(w, "  why: %s.\n", d.Explanation)
		}
	}
}
