package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/reserve"
	"github.com/vasim/vasim/vaspace"
)

func init() {
	register(&command{
		name:    "layout",
		summary: "where a Linux program's mappings land when main starts (kernel exec + glibc ld.so), address for address",
		usage:   "vasim layout --exe PATH [--dlopen LIB]... [--no-aslr | --seed N] [--kernel FILE] [--env K=V]... [--clean-env] [--json]",
		run:     runLayout,
	})
	register(&command{
		name:    "reserve",
		summary: "exact probability that a Linux launch's randomised layout is in the way of fixed ranges (sanitizers, emulators)",
		usage:   "vasim reserve --exe PATH (--range START-END... | --preset NAME) [--allow START-END]... [--mmap-rnd-bits N] [--fail-above P] [--json]",
		run:     runReserve,
	})
}

// environment returns the process environment the command runs in.
func (e *env) environment() []string {
	if e.environ == nil {
		return os.Environ()
	}
	return e.environ()
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// launchFlags are the flags layout and reserve share: the program and how
// it is started.
type launchFlags struct {
	exe, kernel, cwd, sysroot string
	dlopen, envs, args        listFlag
	cleanEnv                  bool
	stackLimit                string
}

func (l *launchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.exe, "exe", "", "the ELF program to place (required)")
	fs.Var(&l.dlopen, "dlopen", "a library the program dlopens after main starts, as it names it (repeatable, in order)")
	fs.StringVar(&l.kernel, "kernel", "", "kernel profile JSON overriding this machine's settings (fields of vasim layout --json's \"kernel\")")
	fs.Var(&l.envs, "env", "an environment variable K=V of the launch (repeatable; added to vasim's own environment unless --clean-env)")
	fs.BoolVar(&l.cleanEnv, "clean-env", false, "start from an empty environment, as env -i does")
	fs.Var(&l.args, "arg", "an argument after argv[0] (repeatable); the arguments and environment size the stack")
	fs.StringVar(&l.cwd, "cwd", "", "the program's working directory (default vasim's)")
	fs.StringVar(&l.sysroot, "sysroot", "", "take every absolute path under this directory")
	fs.StringVar(&l.stackLimit, "stack-limit", "", "the stack rlimit in bytes or \"unlimited\" (default vasim's own)")
}

// prepare resolves the flags into a prepared program.
func (l *launchFlags) prepare(e *env, noASLR bool, bits int) (*linux.Program, error) {
	if l.exe == "" {
		return nil, fmt.Errorf("--exe is required")
	}
	k, err := linux.HostKernel()
	if err != nil && l.kernel == "" {
		return nil, err
	}
	if l.kernel != "" {
		data, err := input.ReadFile(l.kernel, linux.MaxKernelBytes, "a kernel profile")
		if err != nil {
			return nil, fmt.Errorf("--kernel: %w", err)
		}
		if k, err = linux.DecodeKernel(data, l.kernel, k); err != nil {
			return nil, err
		}
	}
	if bits != 0 {
		k.MmapRndBits = bits
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("--mmap-rnd-bits: %w", err)
		}
	}
	launch, err := linux.HostLaunch()
	if err != nil {
		return nil, err
	}
	if l.stackLimit != "" {
		if l.stackLimit == "unlimited" {
			launch.StackLimit = linux.Unlimited
		} else if launch.StackLimit, err = strconv.ParseUint(l.stackLimit, 0, 64); err != nil {
			return nil, fmt.Errorf("--stack-limit %q: want a number of bytes or \"unlimited\"", l.stackLimit)
		}
	}
	launch.NoRandomize = noASLR
	var envv []string
	if !l.cleanEnv {
		envv = e.environment()
	}
	for _, kv := range l.envs {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("--env %q: want K=V", kv)
		}
		envv = append(envv, kv)
	}
	if envv == nil {
		envv = []string{}
	}
	cwd := l.cwd
	if cwd == "" {
		if cwd, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	opt := linux.Options{Kernel: &k, Launch: &launch, Env: envv, Dlopen: l.dlopen, WorkDir: cwd, Sysroot: l.sysroot}
	if len(l.args) > 0 {
		opt.Args = append([]string{l.exe}, l.args...)
	}
	return linux.Prepare(l.exe, opt)
}

// place prepares the program and lays it out: with randomisation off,
// at the draw a seed gives, or at the zero draw.
func (l *launchFlags) place(e *env, noASLR bool, seed string) (*linux.Program, *linux.Process, error) {
	if noASLR && seed != "" {
		return nil, nil, fmt.Errorf("--no-aslr and --seed exclude each other")
	}
	pr, err := l.prepare(e, noASLR, 0)
	if err != nil {
		return nil, nil, err
	}
	var d linux.Draw
	if seed != "" {
		n, err := strconv.ParseUint(seed, 0, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("--seed %q: want a number", seed)
		}
		d = drawFrom(pr, n)
	}
	p, err := pr.Layout(d)
	return pr, p, err
}

type layoutImage struct {
	Path  string       `json:"path"`
	Name  string       `json:"dlpi_name"`
	Base  vaspace.Addr `json:"base"`
	Start vaspace.Addr `json:"start"`
	End   vaspace.Addr `json:"end"`
	Group string       `json:"moved_by"`
}

type layoutMapping struct {
	Start  vaspace.Addr `json:"start"`
	End    vaspace.Addr `json:"end"`
	Perms  string       `json:"perms"`
	Offset vaspace.Addr `json:"offset"`
	Path   string       `json:"path"`
}

type layoutJSON struct {
	Program    string          `json:"program"`
	Randomized bool            `json:"randomized"`
	Draw       linux.Draw      `json:"draw"`
	Kernel     linux.Kernel    `json:"kernel"`
	MmapBase   vaspace.Addr    `json:"mmap_base"`
	Stack      vaspace.Range   `json:"stack"`
	BrkStart   vaspace.Addr    `json:"brk_start"`
	TP         vaspace.Addr    `json:"thread_pointer,omitempty"`
	TLSPages   *vaspace.Range  `json:"initial_tls_pages,omitempty"`
	Notes      []string        `json:"notes,omitempty"`
	Images     []layoutImage   `json:"images"`
	Mappings   []layoutMapping `json:"mappings"`
}

func runLayout(e *env, args []string) int {
	fs := newFlags(e, "layout")
	var lf launchFlags
	lf.register(fs)
	noASLR := fs.Bool("no-aslr", false, "place as setarch -R runs it: no randomisation")
	seed := fs.String("seed", "", "draw the kernel's random inputs from this seed (default: every input at its lowest value)")
	asJSON := fs.Bool("json", false, "print a machine-readable result")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	bad := usageErr(e, "layout")
	pr, p, err := lf.place(e, *noASLR, *seed)
	if err != nil {
		return bad("%v", err)
	}
	out := layoutJSON{Program: lf.exe, Randomized: p.Randomized, Draw: p.Draw, Kernel: p.Kernel, MmapBase: vaspace.Addr(p.MmapBase), Stack: p.Stack, BrkStart: vaspace.Addr(p.BrkStart), Notes: pr.Notes}
	if p.TLS.TP != 0 {
		out.TP = p.TLS.TP
		pages := p.TLS.Pages
		out.TLSPages = &pages
	}
	for i, img := range p.Images {
		li := layoutImage{Path: img.Path, Name: img.Path, Base: vaspace.Addr(img.Bias), Start: img.Span.Start, End: img.Span.End, Group: img.Group.String()}
		if i == 0 {
			li.Path = lf.exe
		}
		out.Images = append(out.Images, li)
	}
	for _, l := range p.Maps() {
		out.Mappings = append(out.Mappings, layoutMapping{Start: l.Start, End: l.End, Perms: permsOf(l), Offset: vaspace.Addr(l.Offset), Path: l.Path})
	}
	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return bad("%v", err)
		}
		return exitOK
	}
	printLayout(e.stdout, out, p)
	return exitOK
}

func permsOf(l linux.MapsLine) string {
	if l.Shared {
		return l.Prot.String() + "s"
	}
	return l.Prot.String() + "p"
}

// drawFrom draws every random input uniformly from a seeded generator.
func drawFrom(pr *linux.Program, seed uint64) linux.Draw {
	k := pr.Kernel()
	in := k.Inputs(pr.Launch())
	r := rand.New(rand.NewPCG(seed, 0x766173696d))
	w := k.StackAlignWeights(pr.Launch())
	var a uint64
	x := r.Uint64N(w[0] + w[1] + w[2])
	switch {
	case x < w[0]:
	case x < w[0]+w[1]:
		a = 1
	default:
		a = 2
	}
	return linux.Draw{Mmap: r.Uint64N(in.Mmap), PIE: r.Uint64N(in.PIE), Stack: r.Uint64N(in.Stack), StackAlign: a, SP: r.Uint64N(in.SP), Brk: r.Uint64N(in.Brk)}
}

func printLayout(w io.Writer, o layoutJSON, p *linux.Process) {
	how := "randomisation off (setarch -R)"
	if o.Randomized {
		how = fmt.Sprintf("randomised, draw mmap %d, PIE %d, stack %d+%d, brk %d", o.Draw.Mmap, o.Draw.PIE, o.Draw.Stack, o.Draw.StackAlign, o.Draw.Brk)
	}
	fmt.Fprintf(w, "%s on Linux %s %v (mmap_rnd_bits %d): %s\n", shown(o.Program), o.Kernel.Release, o.Kernel.Arch, o.Kernel.MmapRndBits, how)
	fmt.Fprintf(w, "mmap base %v, stack %v, heap starts at %v\n", o.MmapBase, o.Stack, o.BrkStart)
	if o.TLSPages != nil {
		fmt.Fprintf(w, "initial thread: thread pointer %v, static TLS and TCB on pages %v\n", o.TP, *o.TLSPages)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)
	for _, m := range p.Maps() {
		fmt.Fprintln(w, m)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "images (dl_iterate_phdr order), load bias:")
	for _, img := range o.Images {
		fmt.Fprintf(w, "  %18v  %s\n", img.Base, shown(img.Path))
	}
}

type reserveCulprit struct {
	Name        string       `json:"name"`
	Owner       string       `json:"owner,omitempty"`
	Start       vaspace.Addr `json:"start"`
	End         vaspace.Addr `json:"end"`
	MovedBy     string       `json:"moved_by"`
	Range       string       `json:"range"`
	Outside     bool         `json:"outside_allowed"`
	Probability float64      `json:"probability"`
}

type reserveBits struct {
	Bits        int     `json:"mmap_rnd_bits"`
	Probability float64 `json:"probability"`
	Exact       string  `json:"probability_exact"`
}

type reserveJSON struct {
	Program     string             `json:"program"`
	Preset      string             `json:"preset,omitempty"`
	Bits        int                `json:"mmap_rnd_bits"`
	Probability float64            `json:"probability"`
	Exact       string             `json:"probability_exact"`
	Groups      map[string]float64 `json:"groups"`
	Culprits    []reserveCulprit   `json:"culprits"`
	ByBits      []reserveBits      `json:"by_mmap_rnd_bits"`
	FirstBits   int                `json:"first_failing_bits,omitempty"`
	Message     string             `json:"runtime_message,omitempty"`
	Notes       []string           `json:"notes,omitempty"`
}

func runReserve(e *env, args []string) int {
	fs := newFlags(e, "reserve")
	var lf launchFlags
	lf.register(fs)
	var ranges, allows listFlag
	fs.Var(&ranges, "range", "an address range START-END (hex) that must stay free (repeatable)")
	fs.Var(&allows, "allow", "an address range START-END every mapping must lie in (repeatable)")
	presetName := fs.String("preset", "", "a built-in sanitizer layout: "+presetNames())
	bits := fs.Int("mmap-rnd-bits", 0, "vm.mmap_rnd_bits to analyse (default the kernel profile's)")
	failAbove := fs.Float64("fail-above", -1, "exit 1 when the failure probability exceeds this fraction")
	asJSON := fs.Bool("json", false, "print a machine-readable result")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	bad := usageErr(e, "reserve")
	if *failAbove != -1 && !(*failAbove >= 0 && *failAbove <= 1) {
		return bad("--fail-above %v: want a probability between 0 and 1", *failAbove)
	}
	var spec reserve.Spec
	var preset reserve.Preset
	if *presetName != "" {
		var err error
		if preset, err = reserve.LookupPreset(*presetName); err != nil {
			return bad("--preset: %v", err)
		}
		spec = preset.Spec
	}
	for _, s := range ranges {
		r, err := parseRegion(s)
		if err != nil {
			return bad("--range %q: %v", s, err)
		}
		spec.Free = append(spec.Free, reserve.Range{Range: r, Name: s})
	}
	for _, s := range allows {
		r, err := parseRegion(s)
		if err != nil {
			return bad("--allow %q: %v", s, err)
		}
		spec.Allowed = append(spec.Allowed, reserve.Range{Range: r, Name: s})
	}
	if len(spec.Free) == 0 && len(spec.Allowed) == 0 {
		return bad("give --range, --allow or --preset")
	}
	pr, err := lf.prepare(e, false, *bits)
	if err != nil {
		return bad("%v", err)
	}
	if preset.Name != "" && preset.Arch != pr.Kernel().Arch {
		return bad("--preset %s is for %v, the kernel profile is %v", preset.Name, preset.Arch, pr.Kernel().Arch)
	}
	v, err := pr.Variation()
	if err != nil {
		return bad("%v", err)
	}
	res, err := reserve.Analyze(v, spec)
	if err != nil {
		return bad("%v", err)
	}
	sweep, err := reserve.Sweep(v, spec)
	if err != nil {
		return bad("%v", err)
	}
	out := reserveJSON{Program: lf.exe, Preset: preset.Name, Bits: res.Bits, Probability: res.Float(), Exact: res.Probability.RatString(), Groups: map[string]float64{}, Message: preset.Message, Notes: pr.Notes}
	for g, p := range res.Groups {
		f, _ := p.Float64()
		out.Groups[g.String()] = f
	}
	for _, c := range res.Culprits {
		f, _ := c.Probability.Float64()
		out.Culprits = append(out.Culprits, reserveCulprit{Name: c.Mapping.Name, Owner: c.Mapping.Owner, Start: c.Mapping.Start, End: c.Mapping.End, MovedBy: c.Group.String(), Range: c.Range, Outside: c.Outside, Probability: f})
	}
	for _, r := range sweep {
		out.ByBits = append(out.ByBits, reserveBits{Bits: r.Bits, Probability: r.Float(), Exact: r.Probability.RatString()})
		if out.FirstBits == 0 && r.Probability.Sign() > 0 {
			out.FirstBits = r.Bits
		}
	}
	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return bad("%v", err)
		}
	} else {
		printReserve(e.stdout, out)
	}
	if *failAbove >= 0 && out.Probability > *failAbove {
		fmt.Fprintf(e.stderr, "vasim reserve: failure probability %.4f%% exceeds --fail-above %.4f%%\n", 100*out.Probability, 100**failAbove)
		return exitFailure
	}
	return exitOK
}

func presetNames() string {
	var n []string
	for _, p := range reserve.Presets() {
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}

func printReserve(w io.Writer, o reserveJSON) {
	what := "the given ranges"
	if o.Preset != "" {
		what = o.Preset
	}
	fmt.Fprintf(w, "%s against %s at mmap_rnd_bits %d: %s of launches fail (exactly %s)\n", shown(o.Program), what, o.Bits, pct(o.Probability), o.Exact)
	if o.Probability > 0 && o.Message != "" {
		fmt.Fprintf(w, "the runtime then reports: %s\n", o.Message)
	}
	for _, g := range []string{linux.GroupExec.String(), linux.GroupMmap.String(), linux.GroupStack.String(), linux.GroupFixed.String()} {
		if p, ok := o.Groups[g]; ok && p > 0 {
			fmt.Fprintf(w, "  %-26s %s\n", g, pct(p))
		}
	}
	if len(o.Culprits) > 0 {
		fmt.Fprintln(w, "\nin the way (share of launches, each counted alone):")
		for i, c := range o.Culprits {
			if i == 12 {
				fmt.Fprintf(w, "  … and %d more (see --json)\n", len(o.Culprits)-i)
				break
			}
			where := "overlaps " + c.Range
			if c.Outside {
				where = "leaves the allowed ranges"
			}
			fmt.Fprintf(w, "  %8s  %s [%v, %v) %s (%s)\n", pct(c.Probability), shown(ownerOr(c.Owner, c.Name)), c.Start, c.End, where, c.MovedBy)
		}
	}
	for _, n := range o.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w, "\nby vm.mmap_rnd_bits:")
	for _, b := range o.ByBits {
		fmt.Fprintf(w, "  %2d  %s\n", b.Bits, pct(b.Probability))
	}
	if o.FirstBits != 0 {
		fmt.Fprintf(w, "launches start failing at mmap_rnd_bits %d\n", o.FirstBits)
	}
}

func ownerOr(owner, name string) string {
	if owner != "" {
		return owner
	}
	return name
}
