package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/tls"
	"github.com/vasim/vasim/tls/tlscase"
)

func init() {
	register(&command{
		name:    "tls",
		summary: "predict whether dlopen fails with \"cannot allocate memory in static TLS block\", and which GLIBC_TUNABLES values fix it",
		usage: "vasim tls --exe PROGRAM [--dlopen LIB]... [--tunables STR] [--glibc VERSION] [--loader glibc|musl|freebsd|bionic] [--sysroot DIR] [--json]\n" +
			"       vasim tls (--scenario NAME | --case FILE) [--json]\n" +
			"       vasim tls pages --exe PROGRAM ... (vasim tls pages -h)",
		example: `vasim tls --exe /usr/bin/gdb --dlopen /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    # does gdb's process still have room for jemalloc's initial-exec TLS? if not, why, and every fix
vasim tls --exe ./app --dlopen ./plugin.so --tunables glibc.rtld.optional_static_tls=2048
    # the same with a tunable set (default: $GLIBC_TUNABLES)
vasim tls --exe /usr/bin/app --sysroot /srv/focal-root --glibc 2.31 --dlopen libfoo.so.1
    # in another machine's file tree, on its glibc release
vasim tls --scenario cef-119-x64    # a published report replayed (vasim scenarios lists them)
vasim tls --exe ./app --dlopen ./plugin.so --json
    # CI: a vasim/tls/v1 document; exit 1 when a dlopen fails, 3 when a file is missing`,
		run: runTLS,
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// tlsJSONAlloc is a block placed in static TLS after start-up.
type tlsJSONAlloc struct {
	Path string `json:"path"`
	// Offset is the loader's own figure (glibc l_tls_offset); TPOffset
	// is where the block starts relative to the thread pointer.
	Offset   uint64 `json:"offset"`
	TPOffset int64  `json:"tp_offset"`
	// Bytes is what the placement took from the free room: the block
	// (BlockSize) plus Padding to keep it aligned.
	Bytes     uint64 `json:"bytes"`
	BlockSize uint64 `json:"block_size"`
	Padding   uint64 `json:"padding"`
	Optional  bool   `json:"optional"`
}

// tlsJSONSet is the outcome of every value of one tunable.
type tlsJSONSet struct {
	// Current is the value in effect.
	Current uint64 `json:"current"`
	// WorksFrom is the least value from which every larger one (up to
	// CheckedUpTo) works; absent when the largest values fail.
	WorksFrom *uint64 `json:"works_from,omitempty"`
	// AlsoWorks are the ranges below WorksFrom that work, Fails every
	// range that fails: [lo, hi], both included.
	AlsoWorks [][2]uint64 `json:"also_works"`
	Fails     [][2]uint64 `json:"fails"`
	// Smallest is the least value that works (it may lie in a gap).
	Smallest *uint64 `json:"smallest,omitempty"`
	// CheckedUpTo is the largest value decided: for optional_static_tls
	// the largest glibc adds to the surplus without its int sum wrapping.
	CheckedUpTo uint64 `json:"checked_up_to"`
	// ModelRuns is how many model runs deciding every value took.
	ModelRuns int `json:"model_runs"`
}

func setJSON(s *tls.ValueSet, current uint64) *tlsJSONSet {
	if s == nil {
		return nil
	}
	j := &tlsJSONSet{Current: current, AlsoWorks: [][2]uint64{}, Fails: [][2]uint64{}, CheckedUpTo: s.Max, ModelRuns: s.Runs}
	if w, ok := s.WorksFrom(); ok {
		j.WorksFrom = &w
	}
	if v, ok := s.Smallest(); ok {
		j.Smallest = &v
	}
	for _, r := range s.AlsoWorks() {
		j.AlsoWorks = append(j.AlsoWorks, [2]uint64{r.Lo, r.Hi})
	}
	for _, r := range s.Fails {
		j.Fails = append(j.Fails, [2]uint64{r.Lo, r.Hi})
	}
	return j
}

// tlsJSONWhy explains a failure and lists its fixes.
type tlsJSONWhy struct {
	Module   string `json:"module,omitempty"`
	Referrer string `json:"referrer,omitempty"`
	// BytesNeeded is what the fit test needs: the block plus its
	// first-byte offset (x86_64) or its alignment padding (aarch64);
	// BytesFree what was free, so the block is BytesNeeded - BytesFree
	// short.
	BytesNeeded     uint64         `json:"bytes_needed,omitempty"`
	BytesFree       *uint64        `json:"bytes_free,omitempty"`
	BytesShort      uint64         `json:"bytes_short,omitempty"`
	AlignImpossible bool           `json:"align_impossible,omitempty"`
	Consumers       []tlsJSONAlloc `json:"consumed_by,omitempty"`
	OptionalSpent   uint64         `json:"optional_spent,omitempty"`
	// OptionalStaticTLS and NNS are every value of the two tunables and
	// whether the program then loads; FixTunables is the one to use.
	OptionalStaticTLS    *tlsJSONSet `json:"optional_static_tls,omitempty"`
	NNS                  *tlsJSONSet `json:"nns,omitempty"`
	FixTunables          string      `json:"fix_tunables,omitempty"`
	FixOptionalStaticTLS uint64      `json:"fix_optional_static_tls,omitempty"`
	FixNNS               uint64      `json:"fix_nns,omitempty"`
	FixVerified          bool        `json:"fix_verified,omitempty"`
	PreloadFixes         *bool       `json:"preload_fixes,omitempty"`
	// Notes are the explanation's sentences; Explanation all of it in
	// one.
	Notes       []string `json:"notes,omitempty"`
	Explanation string   `json:"explanation,omitempty"`
}

type tlsJSONDlopen struct {
	Path string `json:"path"`
	// Outcome is "fits" or "fails"; Reason, for a failure, one of
	// tls.FailureKind's codes; Message the loader's own text.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// OK and Error say the same as Outcome and Message (kept from
	// before).
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	// StaticOffset and TPOffset locate the dlopened library's own block
	// when it is in static TLS.
	StaticOffset *uint64        `json:"static_offset,omitempty"`
	TPOffset     *int64         `json:"tp_offset,omitempty"`
	Placed       []tlsJSONAlloc `json:"placed,omitempty"`
	// FreeAfter is the room left for later dlopens.
	FreeAfter uint64 `json:"free_after"`
	tlsJSONWhy
}

type tlsJSONModule struct {
	Path     string  `json:"path"`
	Size     uint64  `json:"tls_size"`
	Align    uint64  `json:"tls_align"`
	Offset   *uint64 `json:"offset,omitempty"`
	TPOffset *int64  `json:"tp_offset,omitempty"`
}

// tlsJSONStart is a program that does not start.
type tlsJSONStart struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	tlsJSONWhy
}

type tlsJSON struct {
	Schema string `json:"schema"`
	// Outcome is "fits" when the program starts and every dlopen
	// succeeds, else "fails" (exit 1).
	Outcome      string `json:"outcome"`
	Loader       string `json:"loader"`
	Arch         string `json:"arch"`
	GlibcVersion string `json:"glibc_version,omitempty"`
	GlibcSource  string `json:"glibc_version_source,omitempty"`
	Exe          string `json:"exe"`
	Tunables     string `json:"tunables,omitempty"`
	// Every "offset" is the loader's own figure, a distance from the
	// thread pointer in OffsetDirection (below on x86_64, where the
	// block starts at tp - offset; above on aarch64, tp + offset); every
	// "tp_offset" is the block's start minus the thread pointer.
	OffsetFrom      string `json:"offset_from"`
	OffsetDirection string `json:"offset_direction"`
	// The static TLS block after start-up: StaticSize = StaticUsed +
	// Surplus + AlignmentPadding + TCBSize, where the TCB is the thread
	// control block after the modules' blocks (x86_64; on aarch64 its 16
	// bytes are inside StaticUsed and TCBSize is 0). Free = Surplus +
	// AlignmentPadding is the room left for libraries dlopened later, of
	// which TLS-descriptor blocks may take OptionalLeft.
	StaticSize       uint64          `json:"static_size"`
	StaticAlign      uint64          `json:"static_align"`
	StaticUsed       uint64          `json:"static_used"`
	Surplus          uint64          `json:"surplus"`
	AlignmentPadding uint64          `json:"alignment_padding"`
	TCBSize          uint64          `json:"tcb_size"`
	OptionalLeft     uint64          `json:"optional_left"`
	Free             uint64          `json:"free"`
	Startup          []tlsJSONModule `json:"startup_tls"`
	Start            *tlsJSONStart   `json:"start_failure,omitempty"`
	Dlopen           []tlsJSONDlopen `json:"dlopen"`
	Warnings         []string        `json:"warnings,omitempty"`
}

func runTLS(e *env, args []string) int {
	if len(args) > 0 && args[0] == "pages" {
		return runTLSPages(e, args[1:])
	}
	fs := newFlags(e, "tls")
	exe := fs.String("exe", "", "the `PROGRAM` whose process is modelled (required, or --scenario/--case): a path, or a name looked up in PATH as a shell does; a #! script is modelled as the interpreter the kernel runs for it")
	var dlopens stringList
	fs.Var(&dlopens, "dlopen", "a library the program dlopens, as the program names it: a path, or a name ld.so searches for (repeatable, in order)")
	tunables := fs.String("tunables", "", "the GLIBC_TUNABLES value, e.g. glibc.rtld.optional_static_tls=2048 (default: $GLIBC_TUNABLES)")
	glibcV := fs.String("glibc", "", "the glibc release to model, e.g. 2.31 (default: read from the libc.so.6 the program loads)")
	loaderName := fs.String("loader", "", "the loader model: "+strings.Join(tls.Loaders[:len(tls.Loaders)-1], ", ")+" or "+tls.Loaders[len(tls.Loaders)-1]+" (default: glibc or musl, from the program's interpreter)")
	sysroot := fs.String("sysroot", "", "resolve every path inside this directory (another machine's file tree)")
	asJSON := fs.Bool("json", false, "print a vasim/tls/v1 document (vasim help json)")
	caseName := fs.String("scenario", "", "a built-in case from a published report (vasim scenarios lists them): "+strings.Join(tlscase.Names(), ", "))
	caseFile := fs.String("case", "", "a case document to run (vasim scenarios --dump NAME prints one; - reads standard input)")
	r := reporter{e: e, name: "tls"}
	if code, ok := parseArgs(fs, &r, args); !ok {
		return code
	}
	r.asJSON = *asJSON
	if *caseName != "" || *caseFile != "" {
		if *exe != "" || *caseName != "" && *caseFile != "" || len(dlopens) > 0 {
			return r.usage("give one of --exe (with --dlopen), --scenario and --case")
		}
		for _, f := range []string{"tunables", "glibc", "loader", "sysroot"} {
			if flagSet(fs, f) {
				return r.usage("--%s applies to --exe; a case states its own (edit the document from vasim scenarios --dump)", f)
			}
		}
		return runTLSCase(e, r, *caseName, *caseFile)
	}
	if *exe == "" {
		return r.usage("--exe is required (or --scenario NAME, --case FILE), e.g. vasim tls --exe /usr/bin/python3 --dlopen libfoo.so")
	}
	// --exe is followed as layout follows it: a name in PATH, a #! script
	// to its interpreter (the process whose TLS is modelled).
	if err := checkSysroot(*sysroot); err != nil {
		return report(r, err)
	}
	cmd, err := tlsProgram(e, *exe, *sysroot)
	if err != nil {
		return report(r, err)
	}
	setup := tls.Setup{Exe: cmd.Path, Dlopens: dlopens, Sysroot: *sysroot, Loader: *loaderName, Glibc: *glibcV, Env: tls.EnvFrom(e.getenv)}
	if *tunables != "" {
		setup.Env.Tunables = *tunables
	}
	rep, err := tls.Check(setup)
	if err != nil && !errors.Is(err, tls.ErrStart) {
		if errors.Is(err, tls.ErrBadOption) {
			return r.usage("%v", err)
		}
		var pe *iofs.PathError
		if errors.As(err, &pe) && errors.Is(pe.Err, iofs.ErrNotExist) && strings.HasSuffix(pe.Path, cmd.Path) {
			return r.input("--exe %s: no such file%s", *exe, underSysroot(pe.Err, cmd.Path, *sysroot))
		}
		return r.input("%v", err)
	}
	// A --dlopen name that is not there, or not a library at all, is a
	// mistyped path, not a prediction.
	if rep.Result != nil {
		for _, s := range rep.Result.Steps {
			if s.OK || len(s.Missing) == 0 || s.Missing[0].Dependency {
				continue
			}
			m := s.Missing[0]
			what := "not found"
			if s.Failure != nil && s.Failure.Kind == tls.FailNotObject {
				what = "not a shared library"
			}
			searched := ""
			if n := len(m.Searched); n > 0 && !strings.Contains(m.Name, "/") {
				shown := m.Searched[:min(n, 4)]
				searched = "; searched " + strings.Join(shown, ", ")
				if n > 4 {
					searched += fmt.Sprintf(" and %d more", n-4)
				}
			}
			return r.input("--dlopen %s: %s (the real dlopen fails with %q%s)", m.Name, what, s.Error, searched)
		}
	}
	out := tlsReport(rep, err)
	if r.asJSON {
		writeJSON(e.stdout, out)
	} else {
		if cmd.Path != *exe {
			fmt.Fprintf(e.stdout, "--exe %s: %s\n", shown(*exe), resolvedWords(cmd))
		}
		printTLS(e.stdout, out)
	}
	if out.Outcome != "fits" {
		return exitFailure
	}
	return exitOK
}

// tlsProgram follows --exe to the ELF program whose process is modelled,
// as vasim layout does (launchFlags.resolve): PATH from the environment,
// paths under the sysroot, a #! script to its interpreter. A path that is
// not there is left to tls.Check, which reads the sysroot's ld.so.cache
// first and names a missing program "no such file".
func tlsProgram(e *env, exe, sysroot string) (*input.Command, error) {
	lf := launchFlags{exe: exe, sysroot: sysroot}
	cmd, err := lf.resolver(e).Resolve(exe, nil)
	if err == nil {
		return cmd, nil
	}
	var ce *input.CommandError
	if errors.As(err, &ce) && ce.Path == exe && strings.Contains(exe, "/") && errors.Is(err, iofs.ErrNotExist) {
		return &input.Command{Given: exe, Path: exe, Filename: exe, Argv: []string{exe}}, nil
	}
	return nil, lf.exeError(err)
}

// resolvedWords says how --exe led to the program modelled: a PATH
// search, a script's interpreter.
func resolvedWords(c *input.Command) string {
	if n := scriptNote(c); n != "" {
		return n
	}
	return "found in PATH as " + shown(c.Path)
}

// flagSet reports whether the flag called name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// tpOffset returns where a block at the loader's offset starts relative
// to the thread pointer: below it on x86_64 (TLS variant II), above it on
// aarch64 (variant I).
func tpOffset(arch string, off uint64) int64 {
	if arch == loader.ArchAArch64.String() {
		return int64(off)
	}
	return -int64(off)
}

func allocJSON(arch string, a tls.Allocation) tlsJSONAlloc {
	j := tlsJSONAlloc{Path: a.Module.Label(), Offset: a.Offset, TPOffset: tpOffset(arch, a.Offset), Bytes: a.Use, Optional: a.Optional}
	if a.Module.TLS != nil {
		j.BlockSize = a.Module.TLS.MemSize
		if a.Use > j.BlockSize {
			j.Padding = a.Use - j.BlockSize
		}
	}
	return j
}

// whyJSON renders an explanation.
func whyJSON(arch string, x tls.Explanation, f *tls.Failure, base tls.Tunables) tlsJSONWhy {
	j := tlsJSONWhy{Module: x.Module, Referrer: x.Referrer, BytesNeeded: x.Need, AlignImpossible: x.AlignImpossible}
	if f != nil && f.Kind.StaticTLS() {
		// Byte counts and the preload verdict only mean something for a
		// static TLS failure, not for a missing file.
		free := x.Free
		j.BytesFree = &free
		if x.Need > x.Free {
			j.BytesShort = x.Need - x.Free
		}
	}
	if x.PreloadChecked {
		pf := x.PreloadFixes
		j.PreloadFixes = &pf
	}
	for _, a := range x.Consumers {
		j.Consumers = append(j.Consumers, allocJSON(arch, a))
	}
	j.OptionalSpent, j.FixTunables, j.FixOptionalStaticTLS, j.FixNNS, j.FixVerified = x.OptionalSpent, x.FixTunables, x.FixOptionalStaticTLS, x.FixNNS, x.FixVerified
	j.OptionalStaticTLS = setJSON(x.OptionalSet, base.OptionalStaticTLS)
	j.NNS = setJSON(x.NNSSet, base.NNS)
	j.Notes = x.Notes
	j.Explanation = x.Sentence()
	return j
}

// tlsReport turns a report (and a start-up failure, when runErr is one)
// into the JSON document.
func tlsReport(rep *tls.Report, runErr error) tlsJSON {
	plan, res := rep.Plan, rep.Result
	arch := plan.Arch.String()
	out := tlsJSON{Schema: schemaTLS, Outcome: "fits", Exe: plan.Program.Exe, Arch: arch, Tunables: plan.Program.Options.Tunables.String(), GlibcSource: plan.GlibcSource,
		OffsetFrom: "thread_pointer", OffsetDirection: "below", Loader: plan.Program.Loader.Name(), Dlopen: []tlsJSONDlopen{}, Startup: []tlsJSONModule{}}
	if plan.Arch == loader.ArchAArch64 {
		out.OffsetDirection = "above"
	}
	if !plan.Glibc.IsZero() {
		out.GlibcVersion = plan.Glibc.String()
	}
	base := plan.Program.Options.Tunables
	if base == (tls.Tunables{}) {
		base = tls.DefaultTunables()
	}
	_, isGlibc := plan.Program.Loader.(tls.GlibcLoader)
	_, isBionic := plan.Program.Loader.(tls.BionicLoader)
	out.Warnings = append(out.Warnings, plan.Warnings...)
	if res != nil {
		out.Loader = res.Loader
		out.Warnings = append(out.Warnings, res.Warnings...)
		st := res.Static
		out.StaticSize, out.StaticAlign, out.StaticUsed, out.Surplus, out.OptionalLeft, out.Free = st.Size, st.Align, st.Used, st.Surplus, st.OptionalLeft, st.Free
		if isGlibc && plan.Arch == loader.ArchX86_64 {
			out.TCBSize = st.TCBSize
		}
		if sum := st.Used + st.Surplus + out.TCBSize; st.Size > sum {
			out.AlignmentPadding = st.Size - sum
		}
		if isBionic {
			out.Warnings = append(out.Warnings, "bionic's static TLS layout is not modelled byte for byte: no offsets are given")
		}
		for _, m := range res.Startup {
			if m.TLS == nil {
				continue
			}
			jm := tlsJSONModule{Path: m.Label(), Size: m.TLS.MemSize, Align: m.TLS.Align}
			if m.Main {
				jm.Path = plan.Program.Exe
			}
			if res.State != nil && !isBionic {
				if off, ok := res.State.Offset(m); ok {
					tp := tpOffset(arch, off)
					jm.Offset, jm.TPOffset = &off, &tp
				}
			}
			out.Startup = append(out.Startup, jm)
		}
		for i, s := range res.Steps {
			if s.Event.Kind != tls.EventDlopen {
				continue
			}
			j := tlsJSONDlopen{Path: s.Path, OK: s.OK, Error: s.Error, Outcome: "fits", FreeAfter: s.StaticAfter.Free}
			if !s.OK {
				out.Outcome, j.Outcome, j.Message = "fails", "fails", s.Error
				if s.Failure != nil {
					j.Reason = s.Failure.Kind.Code()
				}
			}
			if s.OK && s.RootStatic && !isBionic {
				off, tp := s.RootOffset, tpOffset(arch, s.RootOffset)
				j.StaticOffset, j.TPOffset = &off, &tp
			}
			for _, a := range s.Placed {
				j.Placed = append(j.Placed, allocJSON(arch, a))
			}
			if x, ok := rep.Explanations[i]; ok {
				j.tlsJSONWhy = whyJSON(arch, x, s.Failure, base)
			}
			out.Dlopen = append(out.Dlopen, j)
		}
	}
	var se *tls.StartError
	if errors.As(runErr, &se) {
		out.Outcome = "fails"
		st := &tlsJSONStart{Reason: "start-up-failed", Message: se.Message}
		if se.Failure != nil {
			st.Reason = se.Failure.Kind.Code()
		}
		if rep.Start != nil {
			st.tlsJSONWhy = whyJSON(arch, *rep.Start, se.Failure, base)
		}
		out.Start = st
	}
	return out
}

// signed renders a tp offset as "tp-1040" or "tp+16".
func signed(tp int64) string {
	if tp < 0 {
		return fmt.Sprintf("tp-%d", -tp)
	}
	return fmt.Sprintf("tp+%d", tp)
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func printTLS(w io.Writer, o tlsJSON) {
	fmt.Fprintf(w, "%s under %s", shown(o.Exe), o.Loader)
	if o.GlibcSource != "" {
		fmt.Fprintf(w, " (release read from the %s)", o.GlibcSource)
	}
	fmt.Fprintln(w, ".")
	if o.Tunables != "" {
		fmt.Fprintf(w, "GLIBC_TUNABLES=%s\n", o.Tunables)
	}
	for _, warn := range o.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	glibc := strings.HasPrefix(o.Loader, "glibc")
	n := uint64(len(o.Startup))
	if o.StaticSize == 0 && n > 0 {
		// The start failed before the block was laid out.
		fmt.Fprintf(w, "Start-up modules with TLS (%s):\n", plural(n, "module", "modules"))
		for _, m := range o.Startup {
			fmt.Fprintf(w, "  %s: %d bytes, align %d\n", shown(m.Path), m.Size, m.Align)
		}
	}
	if o.StaticSize > 0 {
		switch {
		case glibc && o.TCBSize > 0:
			fmt.Fprintf(w, "Static TLS per thread: %d bytes = %d used by the start-up modules' blocks + %d surplus + %d padding (to a multiple of the %d-byte alignment) + %d for the thread control block.\n",
				o.StaticSize, o.StaticUsed, o.Surplus, o.AlignmentPadding, o.StaticAlign, o.TCBSize)
		case glibc:
			fmt.Fprintf(w, "Static TLS per thread: %d bytes = %d used by the 16-byte thread control block and the start-up modules' blocks + %d surplus + %d padding (rounding up to the TCB alignment).\n",
				o.StaticSize, o.StaticUsed, o.Surplus, o.AlignmentPadding)
		default:
			fmt.Fprintf(w, "Static TLS per thread: %d bytes, %d used by the start-up modules' blocks", o.StaticSize, o.StaticUsed)
			if o.Free > 0 {
				fmt.Fprintf(w, " + %d spare", o.Free)
			}
			fmt.Fprintln(w, ".")
		}
		switch {
		case glibc:
			fmt.Fprintf(w, "Free for libraries dlopened later: %d bytes = %d surplus + %d padding. Initial-exec TLS may use all of it.\n", o.Free, o.Surplus, o.AlignmentPadding)
			if o.OptionalLeft > 0 {
				// The tunable exists from glibc 2.32 (elf/dl-tls.c); before,
				// descriptors could take the whole surplus.
				tunable := "glibc.rtld.optional_static_tls; never given back"
				if f := strings.Fields(o.Loader); len(f) > 1 {
					if v, err := ldso.ParseGlibcVersion(f[1]); err == nil && !v.AtLeast(2, 32) {
						tunable = "before glibc 2.32 no tunable sets this; never given back"
					}
				}
				fmt.Fprintf(w, "glibc also moves the TLS of libraries that use TLS descriptors (gcc -mtls-dialect=gnu2; the aarch64 default) into it while they fit, up to %d bytes in all (%s).\n", o.OptionalLeft, tunable)
			}
		case strings.HasPrefix(o.Loader, "FreeBSD"):
			fmt.Fprintf(w, "Free for libraries dlopened later: %d bytes (RTLD_STATIC_TLS_EXTRA, or LD_STATIC_TLS_EXTRA when larger).\n", o.Free)
		default:
			fmt.Fprintf(w, "%s keeps no room for libraries dlopened later: their TLS is allocated apart, and initial-exec TLS in them (or reaching into them) fails.\n", strings.Fields(o.Loader)[0])
		}
		if n > 0 && o.Startup[0].TPOffset == nil {
			fmt.Fprintf(w, "Start-up modules with TLS (%s):\n", plural(n, "module", "modules"))
		} else if n > 0 {
			fmt.Fprintf(w, "Start-up modules with TLS (%s), where each block starts relative to the thread pointer tp:\n", plural(n, "module", "modules"))
		}
		if n > 0 {
			for _, m := range o.Startup {
				at := "          "
				if m.TPOffset != nil {
					at = fmt.Sprintf("%-10s", signed(*m.TPOffset))
				}
				fmt.Fprintf(w, "  %s %s: %d bytes, align %d\n", at, shown(m.Path), m.Size, m.Align)
			}
		}
	}
	if s := o.Start; s != nil {
		fmt.Fprintf(w, "start-up FAILS (%s): %s\n", s.Reason, shown(s.Message))
		printWhy(w, s.tlsJSONWhy, s.Reason, "  ", "the program")
	}
	for _, d := range o.Dlopen {
		if d.OK {
			fmt.Fprintf(w, "dlopen %s: ok", shown(d.Path))
			if len(d.Placed) == 0 {
				fmt.Fprintln(w, "; nothing placed in static TLS")
				continue
			}
			fmt.Fprintln(w)
			for _, p := range d.Placed {
				kind := "initial-exec"
				if p.Optional {
					kind = "TLS-descriptor"
				}
				fmt.Fprintf(w, "  %s's %d-byte %s block placed at %s, taking %d bytes", shown(p.Path), p.BlockSize, kind, signed(p.TPOffset), p.Bytes)
				if p.Padding > 0 {
					fmt.Fprintf(w, " (%d + %d padding to align it)", p.BlockSize, p.Padding)
				}
				if p.Optional {
					fmt.Fprint(w, ", also counted against the optional budget")
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "  %d bytes free after it\n", d.FreeAfter)
			continue
		}
		fmt.Fprintf(w, "dlopen %s: FAILS (%s): %s\n", shown(d.Path), d.Reason, shown(d.Error))
		printWhy(w, d.tlsJSONWhy, d.Reason, "  ", "every dlopen")
	}
}

// printWhy prints the explanation of a failure of kind reason, its fixes
// one per line; rerun names what a verified fix was checked by running
// again.
func printWhy(w io.Writer, x tlsJSONWhy, reason, indent, rerun string) {
	if reason == "static-tls-exhausted" && x.BytesFree != nil && x.BytesShort > 0 {
		fmt.Fprintf(w, "%swhy: %s needs %d bytes of static TLS and %d are free: %d short.\n", indent, shown(x.Module), x.BytesNeeded, *x.BytesFree, x.BytesShort)
		for _, n := range x.Notes {
			if !strings.Contains(n, "bytes of static TLS but only") {
				fmt.Fprintf(w, "%s  %s\n", indent, n)
			}
		}
	} else if len(x.Notes) > 0 {
		fmt.Fprintf(w, "%swhy: %s.\n", indent, strings.Join(x.Notes, "; "))
	}
	for _, c := range x.Consumers {
		kind := "initial-exec"
		if c.Optional {
			kind = "TLS descriptor, from the optional budget"
		}
		fmt.Fprintf(w, "%s  an earlier dlopen took %d bytes: %s (%s)\n", indent, c.Bytes, shown(c.Path), kind)
	}
	if x.OptionalSpent > 0 {
		fmt.Fprintf(w, "%s  %d bytes of the optional budget are spent, and never given back\n", indent, x.OptionalSpent)
	}
	var fixes []string
	if s := x.OptionalStaticTLS; s != nil && (s.WorksFrom != nil || len(s.AlsoWorks) > 0) {
		line := fmt.Sprintf("GLIBC_TUNABLES=%s (%s)", x.FixTunables, setWords(s, false))
		if x.FixVerified {
			line += "; checked by running " + rerun + " again with it"
		}
		fixes = append(fixes, line)
		if n := x.NNS; n != nil && x.FixNNS > 0 {
			fixes = append(fixes, fmt.Sprintf("GLIBC_TUNABLES=glibc.rtld.nns=%d (%s)", x.FixNNS, setWords(n, true)))
		}
	} else if x.FixTunables != "" {
		line := fmt.Sprintf("GLIBC_TUNABLES=%s", x.FixTunables)
		if n := x.NNS; n != nil {
			line += " (" + setWords(n, true) + ")"
		}
		if x.FixVerified {
			line += "; checked by running " + rerun + " again with it"
		}
		fixes = append(fixes, line)
	} else if x.OptionalStaticTLS != nil {
		fmt.Fprintf(w, "%s     no value of glibc.rtld.optional_static_tls (up to %d) or glibc.rtld.nns makes every dlopen succeed\n", indent, x.OptionalStaticTLS.CheckedUpTo)
	}
	if x.PreloadFixes != nil && *x.PreloadFixes {
		fixes = append(fixes, fmt.Sprintf("LD_PRELOAD=%s (the library is then laid out at start-up, not fitted into the surplus)", shown(x.Module)))
	}
	for i, f := range fixes {
		lead := "fix:"
		if i > 0 {
			lead = " or:"
		}
		fmt.Fprintf(w, "%s%s %s\n", indent, lead, f)
	}
	if x.PreloadFixes != nil && !*x.PreloadFixes {
		fmt.Fprintf(w, "%s     LD_PRELOAD=%s would not help\n", indent, shown(x.Module))
	}
}

// setWords says which values of a tunable work: "now 512; 1447 or any
// larger value works, 0..1446 fail", with the gaps when there are; for a
// bounded tunable (nns, 1..16) "8..16 work".
func setWords(s *tlsJSONSet, bounded bool) string {
	rng := func(r [2]uint64) string {
		if r[0] == r[1] {
			return fmt.Sprint(r[0])
		}
		return fmt.Sprintf("%d..%d", r[0], r[1])
	}
	list := func(rs [][2]uint64) string {
		var out []string
		for _, r := range rs {
			out = append(out, rng(r))
		}
		if len(out) > 1 {
			return strings.Join(out[:len(out)-1], ", ") + " and " + out[len(out)-1]
		}
		return strings.Join(out, "")
	}
	verb := func(rs [][2]uint64, one, many string) string {
		if len(rs) == 1 && rs[0][0] == rs[0][1] {
			return one
		}
		return many
	}
	var b strings.Builder
	fmt.Fprintf(&b, "now %d; ", s.Current)
	switch {
	case s.WorksFrom != nil && len(s.AlsoWorks) > 0:
		fmt.Fprintf(&b, "%d or any larger value works; %s also %s, but %s %s: rounding a value up from %s can fail",
			*s.WorksFrom, list(s.AlsoWorks), verb(s.AlsoWorks, "works", "work"), list(s.Fails), verb(s.Fails, "fails", "fail"), list(s.AlsoWorks))
	case s.WorksFrom != nil && bounded:
		fmt.Fprintf(&b, "%s work", rng([2]uint64{*s.WorksFrom, s.CheckedUpTo}))
		if len(s.Fails) > 0 {
			fmt.Fprintf(&b, ", %s %s", list(s.Fails), verb(s.Fails, "fails", "fail"))
		}
	case s.WorksFrom != nil:
		fmt.Fprintf(&b, "%d or any larger value works", *s.WorksFrom)
		if len(s.Fails) > 0 {
			fmt.Fprintf(&b, ", %s %s", list(s.Fails), verb(s.Fails, "fails", "fail"))
		}
	case len(s.AlsoWorks) > 0:
		fmt.Fprintf(&b, "only %s %s; every other value up to %d fails", list(s.AlsoWorks), verb(s.AlsoWorks, "works", "work"), s.CheckedUpTo)
	default:
		fmt.Fprintf(&b, "no value up to %d works", s.CheckedUpTo)
	}
	return b.String()
}
