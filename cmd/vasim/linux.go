package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/reserve"
	"github.com/vasim/vasim/vaspace"
)

func init() {
	register(&command{
		name:    "layout",
		summary: "where a Linux program's mappings land when main starts (kernel exec + glibc ld.so), address for address",
		usage:   "vasim layout --exe PROGRAM [--arg ARG]... [--env K=V]... [--clean-env] [--cwd DIR] [--stack-limit BYTES|unlimited] [--dlopen LIB]... [--no-aslr | --seed N] [--kernel FILE] [--sysroot DIR] [--svg FILE] [--json]",
		example: `vasim layout --exe /usr/bin/true --no-aslr --clean-env  # the maps setarch -R env -i /usr/bin/true has at main
vasim layout --exe python3 --seed 7                      # python3 from PATH, at one random launch (seed 7)
vasim layout --exe ./app --dlopen libplugin.so --json    # after a dlopen, as a vasim/layout/v1 document`,
		run: runLayout,
	})
	register(&command{
		name:    "reserve",
		summary: "exact share of a Linux program's launches whose randomised layout is in the way of fixed ranges (sanitizers, emulators)",
		usage:   "vasim reserve --exe PROGRAM [--preset NAME] [--range START-END]... [--allow START-END]... [--mmap-rnd-bits N] [--fail-above P] [--arg ARG]... [--env K=V]... [--clean-env] [--cwd DIR] [--stack-limit BYTES|unlimited] [--dlopen LIB]... [--kernel FILE] [--sysroot DIR] [--svg FILE] [--json]",
		example: `vasim reserve --exe ./app --preset tsan-x86_64                    # how often TSan's fixed ranges are in the way, and by what
vasim reserve --exe ./app --preset tsan-x86_64 --mmap-rnd-bits 32  # the same on a host with 32 random bits
vasim reserve --exe ./app --preset msan-x86_64 --fail-above 0      # CI: exit 1 if any launch can fail
vasim reserve --exe ./app --range 0x600000000000-0x640000000000     # a range of your own that must stay free`,
		run: runReserve,
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

// probFlag is a probability flag with no default.
type probFlag struct {
	p   float64
	set bool
}

func (f *probFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatFloat(f.p, 'g', -1, 64)
}

func (f *probFlag) Set(s string) error {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil || !(p >= 0 && p <= 1) {
		return errors.New("want a probability from 0 to 1, e.g. 0.01 for 1%")
	}
	f.p, f.set = p, true
	return nil
}

// exitError is an error that calls for a given exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a bad command line (exit 2).
func usageError(format string, a ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, a...)}
}

// inputError is bad input (exit 3).
func inputError(format string, a ...any) error {
	return &exitError{exitInput, fmt.Errorf(format, a...)}
}

// report reports err through r with the exit status it calls for: that
// of an exitError; 1 when the model predicts that the program fails (ld.so
// does not find a library, a dlopen fails, the layout does not fit), as
// vasim tls does; otherwise 3, for input the model cannot read or place.
func report(r reporter, err error) int {
	var x *exitError
	var de *linux.DlopenError
	switch {
	case errors.As(err, &x):
		return r.fail(x.code, "%v", x.err)
	case errors.As(err, &de):
		return r.input("%s", dlopenMissing(de))
	case errors.Is(err, linux.ErrStart):
		return r.fail(exitFailure, "predicted failure: %v", err)
	}
	return r.input("%v", err)
}

// dlopenMissing says what is wrong with a --dlopen name that is not found
// or names no library: a mistyped path (exit 3), as vasim tls says it.
func dlopenMissing(de *linux.DlopenError) string {
	m := de.Missing
	var le *ldso.LoadError
	switch {
	case m.Err == nil:
		searched := ""
		if n := len(m.Searched); n > 0 && !strings.Contains(m.Name, "/") {
			searched = "; searched " + strings.Join(m.Searched[:min(n, 4)], ", ")
			if n > 4 {
				searched += fmt.Sprintf(" and %d more", n-4)
			}
		}
		return fmt.Sprintf("--dlopen %s: not found (the real dlopen fails with %q%s)", de.Name, m.Message(), searched)
	case errors.As(m.Err, &le):
		return fmt.Sprintf("--dlopen %s: not a shared library (the real dlopen fails with %q)", de.Name, m.Message())
	}
	return fmt.Sprintf("--dlopen %s: %s cannot be read as a library: %v", de.Name, m.Name, m.Err)
}

// launchFlags are the flags layout and reserve share: the program and how
// it is started.
type launchFlags struct {
	exe, kernel, cwd, sysroot string
	dlopen, envs, args        listFlag
	cleanEnv                  bool
	stackLimit                string

	// cmd is the command as resolved by prepare, and bitsFrom where the
	// kernel's mmap_rnd_bits came from.
	cmd      *input.Command
	bitsFrom string
}

func (l *launchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.exe, "exe", "", "the `PROGRAM` to place (required): a path, or a name looked up in PATH as a shell does (--env PATH=... for another); a #! script is placed as the kernel runs it, as its interpreter")
	fs.Var(&l.dlopen, "dlopen", "a library `LIB` the program dlopens after main starts, as it names it (repeatable, in order); one that fails as glibc's dlopen would (its initial-exec TLS does not fit, a dependency is missing) is reported and left out, exit 1; one not found at all is a mistyped name, exit 3")
	fs.StringVar(&l.kernel, "kernel", "", "a kernel profile `FILE` (JSON) overriding this machine's settings: the fields of vasim layout --json's \"kernel\"")
	fs.Var(&l.envs, "env", "an environment variable `K=V` of the launch (repeatable; added to vasim's own environment, replacing a K there, unless --clean-env)")
	fs.BoolVar(&l.cleanEnv, "clean-env", false, "start from an empty environment, as env -i does")
	fs.Var(&l.args, "arg", "an argument `ARG` after argv[0] (repeatable); the arguments and environment size the stack")
	fs.StringVar(&l.cwd, "cwd", "", "the program's working directory `DIR` (default vasim's)")
	fs.StringVar(&l.sysroot, "sysroot", "", "take every absolute path under the directory `DIR` (a target's root file system)")
	fs.StringVar(&l.stackLimit, "stack-limit", "", "the stack rlimit in `BYTES` or \"unlimited\" (default vasim's own)")
}

// check validates the flags' values (exit 2) before any file is read.
func (l *launchFlags) check() error {
	if l.exe == "" {
		return usageError("--exe is required: the program to place, e.g. --exe /usr/bin/true")
	}
	for _, kv := range l.envs {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return usageError("--env %q: want K=V", kv)
		}
	}
	if l.stackLimit != "" && l.stackLimit != "unlimited" {
		n, err := strconv.ParseUint(l.stackLimit, 0, 64)
		if err != nil {
			return usageError("--stack-limit %q: want a number of bytes or \"unlimited\"", l.stackLimit)
		}
		if n == 0 {
			return usageError("--stack-limit 0: want a number of bytes, at least a page (a process cannot start with no stack), or \"unlimited\"")
		}
	}
	return nil
}

// checkDirs checks --sysroot and --cwd (exit 3): a launch cannot start
// from a directory that does not exist, and no file is found under a
// sysroot that does not.
func (l *launchFlags) checkDirs() error {
	if err := checkSysroot(l.sysroot); err != nil {
		return err
	}
	if l.cwd == "" {
		return nil
	}
	host := l.cwd
	where := ""
	if l.sysroot != "" && filepath.IsAbs(l.cwd) {
		host, where = filepath.Join(l.sysroot, l.cwd), " under --sysroot "+l.sysroot
	}
	fi, err := os.Stat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return inputError("--cwd %s: no such directory%s: the program cannot be started there (its chdir would fail)", l.cwd, where)
	case err != nil:
		return inputError("--cwd %s: %v", l.cwd, err)
	case !fi.IsDir():
		return inputError("--cwd %s: %s, not a directory%s", l.cwd, input.Kind(fi.Mode()), where)
	}
	return nil
}

// checkSysroot requires --sysroot, when given, to be a directory (exit
// 3), so that a missing file is not blamed on the path inside it.
func checkSysroot(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return inputError("--sysroot %s: no such directory", dir)
	case err != nil:
		return inputError("--sysroot %s: %v", dir, err)
	case !fi.IsDir():
		return inputError("--sysroot %s: %s, not a directory", dir, input.Kind(fi.Mode()))
	}
	return nil
}

// envValue returns the last --env value of key.
func (l *launchFlags) envValue(key string) (string, bool) {
	v, ok := "", false
	for _, kv := range l.envs {
		if k, val, _ := strings.Cut(kv, "="); k == key {
			v, ok = val, true
		}
	}
	return v, ok
}

// resolve follows --exe to the ELF program the kernel runs: a name
// without a slash in PATH (vasim's, or --env PATH=...), a #! script to
// its interpreter.
func (l *launchFlags) resolve(e *env) (*input.Command, error) {
	cmd, err := l.resolver(e).Resolve(l.exe, l.args)
	if err != nil {
		return nil, l.exeError(err)
	}
	return cmd, nil
}

// resolver is the command resolution of the launch: PATH from vasim's
// environment or --env, paths under --sysroot, --cwd the directory.
func (l *launchFlags) resolver(e *env) input.Resolver {
	path, launchPath := e.getenv("PATH"), e.getenv("PATH")
	if l.cleanEnv {
		launchPath = ""
	}
	if v, ok := l.envValue("PATH"); ok {
		path, launchPath = v, v
	}
	return input.Resolver{PATH: path, EnvPATH: launchPath, Root: l.sysroot, Dir: l.cwd}
}

// exeError says why --exe cannot be followed, and what to pass instead
// (exit 3).
func (l *launchFlags) exeError(err error) error {
	var ce *input.CommandError
	if !errors.As(err, &ce) {
		return inputError("--exe %s: %v", l.exe, err)
	}
	msg := ce.Error()
	if ce.Path == l.exe {
		msg = ce.Msg
	}
	switch {
	case ce.Instead != nil:
		fix := "--exe " + quoteArg(ce.Instead[0])
		for _, a := range ce.Instead[1:] {
			fix += " --arg " + quoteArg(a)
		}
		msg += "; to place what runs instead, pass " + fix
	case errors.Is(err, input.ErrMachO):
		msg += "; the Linux model places ELF programs: for a macOS program, vasim xzone --exe " + quoteArg(l.exe)
	case errors.Is(err, input.ErrScript):
		msg += "; pass the interpreter instead: --exe INTERPRETER --arg SCRIPT"
	case ce.Path == l.exe && !strings.Contains(l.exe, "/"):
		msg += "; give its path instead"
	}
	return inputError("--exe %s: %s", l.exe, msg+underSysroot(err, ce.Path, l.sysroot))
}

// underSysroot says, for a file not found at an absolute path, that it
// was looked for under the sysroot.
func underSysroot(err error, path, sysroot string) string {
	if sysroot == "" || !errors.Is(err, fs.ErrNotExist) || !filepath.IsAbs(path) {
		return ""
	}
	return fmt.Sprintf(" under --sysroot %s (looked for %s)", sysroot, filepath.Join(sysroot, path))
}

// quoteArg quotes a for a shell when it needs it.
func quoteArg(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// prepare resolves the flags into a prepared program. bits, when not
// zero, replaces the kernel's vm.mmap_rnd_bits.
func (l *launchFlags) prepare(e *env, noASLR bool, bits int, prog *stageLine) (*linux.Program, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	k, err := l.kernelProfile(bits)
	if err != nil {
		return nil, err
	}
	return l.prepareWith(e, k, noASLR, prog)
}

// kernelProfile returns the kernel settings: this machine's, or --kernel's
// over them, with bits (when not zero) as vm.mmap_rnd_bits.
func (l *launchFlags) kernelProfile(bits int) (linux.Kernel, error) {
	k, hostErr := linux.HostKernel()
	l.bitsFrom = "host"
	if l.kernel != "" {
		data, err := input.ReadFile(l.kernel, linux.MaxKernelBytes, "a kernel profile")
		if errors.Is(err, fs.ErrNotExist) {
			return k, inputError("--kernel %s: no such file", l.kernel)
		} else if err != nil {
			return k, inputError("--kernel: %v", err)
		}
		if k, err = linux.DecodeKernel(data, l.kernel, k); err != nil {
			return k, inputError("--kernel: %v", err)
		}
		l.bitsFrom = "kernel-profile"
	} else if hostErr != nil {
		return k, inputError("reading this machine's kernel settings: %v; give a kernel profile with --kernel FILE", hostErr)
	}
	if bits != 0 {
		k.MmapRndBits = bits
		if err := k.Validate(); err != nil {
			lo, hi := k.RndBitsRange()
			return k, usageError("--mmap-rnd-bits %d: %v accepts %d to %d (vm.mmap_rnd_bits)", bits, k.Arch, lo, hi)
		}
		l.bitsFrom = "flag"
	}
	return k, nil
}

// prepareWith resolves --exe and prepares the program under kernel k.
func (l *launchFlags) prepareWith(e *env, k linux.Kernel, noASLR bool, prog *stageLine) (*linux.Program, error) {
	if err := l.checkDirs(); err != nil {
		return nil, err
	}
	launch, err := linux.HostLaunch()
	if err != nil {
		return nil, inputError("%v", err)
	}
	if l.stackLimit == "unlimited" {
		launch.StackLimit = linux.Unlimited
	} else if l.stackLimit != "" {
		launch.StackLimit, _ = strconv.ParseUint(l.stackLimit, 0, 64)
		if launch.StackLimit < k.PageSize {
			return nil, usageError("--stack-limit %s: below a page (%d bytes): a process cannot start with less stack; want at least %d, or \"unlimited\"", l.stackLimit, k.PageSize, k.PageSize)
		}
	}
	launch.NoRandomize = noASLR
	cmd, err := l.resolve(e)
	if err != nil {
		return nil, err
	}
	l.cmd = cmd
	cwd := l.cwd
	if cwd == "" {
		if cwd, err = os.Getwd(); err != nil {
			return nil, inputError("the working directory: %v", err)
		}
	}
	opt := linux.Options{Kernel: &k, Launch: &launch, Env: l.environment(e), Dlopen: l.dlopen, WorkDir: cwd, Sysroot: l.sysroot, Filename: cmd.Filename, Args: cmd.Argv}
	prog.set("reading " + cmd.Path + " and its libraries")
	return linux.Prepare(cmd.Path, opt)
}

// environment is the launch's environment: vasim's (unless --clean-env)
// with each --env K=V replacing K, then what a #!/usr/bin/env line
// changed.
func (l *launchFlags) environment(e *env) []string {
	set := func(envv []string, kv string) []string {
		k, _, _ := strings.Cut(kv, "=")
		return append(without(envv, k), kv)
	}
	envv := []string{}
	if !l.cleanEnv {
		envv = append(envv, e.environment()...)
	}
	for _, kv := range l.envs {
		envv = set(envv, kv)
	}
	if c := l.cmd; c != nil {
		if c.ClearEnv {
			envv = []string{}
		}
		for _, k := range c.Unset {
			envv = without(envv, k)
		}
		for _, kv := range c.Set {
			envv = set(envv, kv)
		}
	}
	return envv
}

// without returns envv without the variable k.
func without(envv []string, k string) []string {
	out := envv[:0:0]
	for _, kv := range envv {
		if name, _, _ := strings.Cut(kv, "="); name != k {
			out = append(out, kv)
		}
	}
	return out
}

// place prepares the program and lays it out: with randomisation off,
// at the draw a seed gives, or at the zero draw.
func (l *launchFlags) place(e *env, noASLR bool, seed string) (*linux.Program, *linux.Process, error) {
	return l.placeWith(e, noASLR, seed, nil)
}

func (l *launchFlags) placeWith(e *env, noASLR bool, seed string, prog *stageLine) (*linux.Program, *linux.Process, error) {
	if noASLR && seed != "" {
		return nil, nil, usageError("--no-aslr and --seed exclude each other: --no-aslr places the one layout of setarch -R, --seed one random launch")
	}
	var n uint64
	if seed != "" {
		var err error
		if n, err = strconv.ParseUint(seed, 0, 64); err != nil {
			return nil, nil, usageError("--seed %q: want a non-negative integer, e.g. --seed 7", seed)
		}
	}
	pr, err := l.prepare(e, noASLR, 0, prog)
	if err != nil {
		return nil, nil, err
	}
	var d linux.Draw
	if seed != "" {
		d = drawFrom(pr, n)
	}
	prog.set("placing " + l.cmd.Path)
	p, err := pr.Layout(d)
	return pr, p, err
}

// programJSON is the program placed and how --exe led to it.
type programJSON struct {
	// Given is --exe as given; Path the ELF file placed; Filename the
	// path the last execve was given (AT_EXECFN) and Argv its argv.
	Given    string     `json:"given"`
	Path     string     `json:"path"`
	Filename string     `json:"execfn"`
	Argv     []string   `json:"argv"`
	Steps    []stepJSON `json:"steps"`
	// What env(1) in a #! line did to the environment.
	EnvCleared bool     `json:"env_cleared,omitempty"`
	EnvUnset   []string `json:"env_unset,omitempty"`
	EnvSet     []string `json:"env_set,omitempty"`
}

type stepJSON struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	File string `json:"file"`
	Arg  string `json:"arg,omitempty"`
	Dir  string `json:"path_entry,omitempty"`
}

func programOf(c *input.Command) programJSON {
	o := programJSON{Given: c.Given, Path: c.Path, Filename: c.Filename, Argv: c.Argv, Steps: []stepJSON{}, EnvCleared: c.ClearEnv, EnvUnset: c.Unset, EnvSet: c.Set}
	for _, s := range c.Steps {
		o.Steps = append(o.Steps, stepJSON{Kind: string(s.Kind), Name: s.Name, File: s.File, Arg: s.Arg, Dir: s.Dir})
	}
	return o
}

// heading names the program for the text output: the file placed, and
// --exe when that differs.
func (o programJSON) heading() string {
	if o.Given == o.Path {
		return shown(o.Path)
	}
	return fmt.Sprintf("%s (--exe %s)", shown(o.Path), shown(o.Given))
}

// scriptNote says, for a script, what is placed and why.
func scriptNote(c *input.Command) string {
	scripts := c.Scripts()
	if len(scripts) == 0 {
		return ""
	}
	var how []string
	for _, s := range c.Steps {
		switch s.Kind {
		case input.StepScript:
			line := "#!" + s.File
			if s.Arg != "" {
				line += " " + s.Arg
			}
			how = append(how, fmt.Sprintf("%s starts %s", shown(s.Name), shown(line)))
		case input.StepEnv:
			how = append(how, fmt.Sprintf("env finds %s at %s", shown(s.Name), shown(s.File)))
		}
	}
	return fmt.Sprintf("a script: placing its interpreter %s as the kernel runs it (%s), argv %s; what the script runs later is another exec, not placed",
		shown(c.Path), strings.Join(how, "; "), shown(strings.Join(c.Argv, " ")))
}

// moved is the random draw that moves a group, as JSON names it.
func moved(g linux.Group) string {
	switch g {
	case linux.GroupExec:
		return "pie"
	case linux.GroupMmap:
		return "mmap"
	case linux.GroupStack:
		return "stack"
	}
	return "none"
}

// movedWords says what a draw moves, for the text output.
var movedWords = map[string]string{
	"pie":   "the PIE draw (moves the executable)",
	"mmap":  "the mmap draw (moves ld.so, the libraries, the vDSO)",
	"stack": "the stack draw",
	"none":  "never moves",
}

type layoutImage struct {
	Path     string       `json:"path"`
	File     string       `json:"file,omitempty"`
	Name     string       `json:"dlpi_name"`
	LoadBias vaspace.Addr `json:"load_bias"`
	Start    vaspace.Addr `json:"start"`
	End      vaspace.Addr `json:"end"`
	MovedBy  string       `json:"moved_by"`
}

type layoutMapping struct {
	Start  vaspace.Addr `json:"start"`
	End    vaspace.Addr `json:"end"`
	Perms  string       `json:"perms"`
	Offset vaspace.Addr `json:"offset"`
	Path   string       `json:"path"`
}

// dlopenJSON is the outcome of one --dlopen, in the form of vasim/tls/v1's
// "dlopen" entries: "fits" when it succeeds, "fails" with glibc's message
// and the kind of failure (tls.FailureKind's codes) when it does not.
type dlopenJSON struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// dlopensOf renders the outcomes of the --dlopen libraries.
func dlopensOf(ds []linux.DlopenOutcome) []dlopenJSON {
	var out []dlopenJSON
	for _, d := range ds {
		j := dlopenJSON{Name: d.Name, Path: d.Path, Outcome: "fits"}
		if !d.OK {
			j.Outcome, j.Message = "fails", d.Message
			if d.Failure != nil {
				j.Reason = d.Failure.Kind.Code()
			}
		}
		out = append(out, j)
	}
	return out
}

// failedDlopens returns the dlopens that fail.
func failedDlopens(ds []dlopenJSON) []dlopenJSON {
	var out []dlopenJSON
	for _, d := range ds {
		if d.Outcome == "fails" {
			out = append(out, d)
		}
	}
	return out
}

// printDlopens prints every --dlopen's outcome; a failure with glibc's
// message, what became of its mappings, and for want of static TLS the
// command that explains it (exe is the program placed).
func printDlopens(w io.Writer, exe string, ds []dlopenJSON) {
	for _, d := range ds {
		if d.Outcome == "fits" {
			fmt.Fprintf(w, "dlopen %s: ok (%s)\n", shown(d.Name), shown(d.Path))
			continue
		}
		fmt.Fprintf(w, "dlopen %s: FAILS (%s): %s\n", shown(d.Name), d.Reason, shown(d.Message))
		fmt.Fprintln(w, "  glibc unmaps what the failed dlopen loaded: none of it is in the layout; the program goes on as one that checks dlopen's result")
		switch d.Reason {
		case "static-tls-exhausted", "alignment-too-large", "already-dynamic", "dtv-surplus-exceeded":
			fmt.Fprintf(w, "  why, and which GLIBC_TUNABLES fix it: vasim tls --exe %s --dlopen %s\n", quoteArg(exe), quoteArg(d.Name))
		}
	}
}

// reportDlopens says on standard error which dlopens fail and returns
// exitFailure when one does, else exitOK.
func reportDlopens(e *env, name string, ds []dlopenJSON) int {
	failed := failedDlopens(ds)
	for _, d := range failed {
		fmt.Fprintf(e.stderr, "vasim %s: predicted failure: dlopen %s fails: %s\n", name, d.Name, d.Message)
	}
	if len(failed) > 0 {
		return exitFailure
	}
	return exitOK
}

// drawJSON is the launch's random inputs: where they came from and their
// values (pages; sp in bytes).
type drawJSON struct {
	Source     string  `json:"source"`
	Seed       *uint64 `json:"seed,omitempty"`
	Mmap       uint64  `json:"mmap"`
	PIE        uint64  `json:"pie"`
	Stack      uint64  `json:"stack"`
	StackAlign uint64  `json:"stack_align"`
	SP         uint64  `json:"sp"`
	Brk        uint64  `json:"brk"`
}

type layoutJSON struct {
	Schema   string          `json:"schema"`
	SVG      string          `json:"svg,omitempty"`
	Program  programJSON     `json:"program"`
	Kernel   linux.Kernel    `json:"kernel"`
	ASLR     string          `json:"aslr"`
	ASLROff  string          `json:"aslr_off_by,omitempty"`
	Draw     *drawJSON       `json:"draw,omitempty"`
	MmapBase vaspace.Addr    `json:"mmap_base"`
	Stack    vaspace.Range   `json:"stack"`
	BrkStart vaspace.Addr    `json:"brk_start"`
	TP       vaspace.Addr    `json:"thread_pointer,omitempty"`
	TLSPages *vaspace.Range  `json:"initial_tls_pages,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
	Dlopen   []dlopenJSON    `json:"dlopen,omitempty"`
	Images   []layoutImage   `json:"images"`
	Mappings []layoutMapping `json:"mappings"`
}

// drawFlags registers --no-aslr and --seed, which pick the launch placed
// (vasim layout, vasim tls pages).
func drawFlags(fs *flag.FlagSet) (noASLR *bool, seed *string) {
	noASLR = fs.Bool("no-aslr", false, "place as setarch -R runs it: no randomisation")
	seed = fs.String("seed", "", "place the launch whose random draws the seed `N` picks (default: the launch where every draw is 0)")
	return noASLR, seed
}

func runLayout(e *env, args []string) int {
	fs := newFlags(e, "layout")
	var lf launchFlags
	lf.register(fs)
	noASLR, seed := drawFlags(fs)
	svgFile := fs.String("svg", "", "also draw every mapping to scale as an SVG picture in `FILE`")
	asJSON := fs.Bool("json", false, "print a vasim/layout/v1 document (vasim help json)")
	r := reporter{e: e, name: "layout"}
	if code, ok := parseArgs(fs, &r, args); !ok {
		return code
	}
	r.asJSON = *asJSON
	prog := startStages(e, "layout", *asJSON)
	pr, p, err := lf.placeWith(e, *noASLR, *seed, prog)
	prog.stop()
	if err != nil {
		return report(r, err)
	}
	out := layoutJSON{Schema: schemaLayout, Program: programOf(lf.cmd), Kernel: p.Kernel, ASLR: "off", MmapBase: vaspace.Addr(p.MmapBase), Stack: p.Stack, BrkStart: vaspace.Addr(p.BrkStart)}
	if n := scriptNote(lf.cmd); n != "" {
		out.Notes = append(out.Notes, n)
	}
	out.Notes = append(out.Notes, pr.Notes...)
	if *seed != "" && !p.Randomized {
		out.Notes = append(out.Notes, seedNote(*seed, p.Kernel))
	}
	out.Dlopen = dlopensOf(p.Dlopens)
	switch {
	case p.Randomized:
		out.ASLR = "on"
		d := p.Draw
		out.Draw = &drawJSON{Source: "zero", Mmap: d.Mmap, PIE: d.PIE, Stack: d.Stack, StackAlign: d.StackAlign, SP: d.SP, Brk: d.Brk}
		if *seed != "" {
			n, _ := strconv.ParseUint(*seed, 0, 64)
			out.Draw.Source, out.Draw.Seed = "seed", &n
		}
	case *noASLR:
		out.ASLROff = "no-aslr"
	default:
		out.ASLROff = "randomize_va_space"
	}
	if p.TLS.TP != 0 {
		out.TP = p.TLS.TP
		pages := p.TLS.Pages
		out.TLSPages = &pages
	}
	for i, img := range p.Images {
		li := layoutImage{Path: img.Path, File: img.File, Name: img.Path, LoadBias: vaspace.Addr(img.Bias), Start: img.Span.Start, End: img.Span.End, MovedBy: moved(img.Group)}
		if i == 0 {
			li.Path = lf.cmd.Path
		}
		out.Images = append(out.Images, li)
	}
	for _, l := range p.Maps() {
		out.Mappings = append(out.Mappings, layoutMapping{Start: l.Start, End: l.End, Perms: permsOf(l), Offset: vaspace.Addr(l.Offset), Path: l.Path})
	}
	if *svgFile != "" {
		title := fmt.Sprintf("%s when main starts (Linux %v, ASLR %s)", lf.cmd.Path, p.Kernel.Arch, out.ASLR)
		notes := []string{fmt.Sprintf("mmap base %v, stack %v, brk start %v", out.MmapBase, out.Stack, out.BrkStart)}
		if err := writeSVG(*svgFile, layoutFigure(title, notes, p)); err != nil {
			return r.input("--svg: %v", err)
		}
		out.SVG = *svgFile
	}
	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return report(r, err)
		}
	} else {
		printLayout(e.stdout, out, p)
	}
	return reportDlopens(e, "layout", out.Dlopen)
}

// seedNote says that --seed changes nothing when the launch is not
// randomised.
func seedNote(seed string, k linux.Kernel) string {
	return fmt.Sprintf("--seed %s has no effect: ASLR is off (kernel.randomize_va_space is %d), so every launch has this one layout", seed, k.RandomizeVASpace)
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
	var how string
	switch {
	case o.ASLROff == "no-aslr":
		how = "ASLR off (--no-aslr), as setarch -R runs it"
	case o.ASLROff != "":
		how = "ASLR off (kernel.randomize_va_space is 0)"
	case o.Draw.Source == "seed":
		d := o.Draw
		how = fmt.Sprintf("ASLR on (vm.mmap_rnd_bits %d): the launch seed %d picks, random draws of mmap %d, PIE %d, stack %d (+%d to align), brk %d pages", o.Kernel.MmapRndBits, *d.Seed, d.Mmap, d.PIE, d.Stack, d.StackAlign, d.Brk)
	default:
		how = fmt.Sprintf("ASLR on (vm.mmap_rnd_bits %d): the launch where every random draw is 0 (--seed N for a random one, --no-aslr for setarch -R)", o.Kernel.MmapRndBits)
	}
	fmt.Fprintf(w, "%s on Linux %s %v\n%s\n", o.Program.heading(), o.Kernel.Release, o.Kernel.Arch, how)
	fmt.Fprintf(w, "mmap base %v, stack %v, heap (brk) starts at %v\n", o.MmapBase, o.Stack, o.BrkStart)
	if o.TLSPages != nil {
		fmt.Fprintf(w, "initial thread: thread pointer %v, static TLS and TCB on pages %v\n", o.TP, *o.TLSPages)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	printDlopens(w, o.Program.Path, o.Dlopen)
	fmt.Fprintln(w)
	for _, m := range p.Maps() {
		fmt.Fprintln(w, m)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "images in dl_iterate_phdr order, with their load bias:")
	for _, img := range o.Images {
		fmt.Fprintf(w, "  %18v  %s\n", img.LoadBias, shown(img.Path))
	}
}

type rangeJSON struct {
	Name  string       `json:"name"`
	Start vaspace.Addr `json:"start"`
	End   vaspace.Addr `json:"end"`
}

type presetJSON struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	Arch    string `json:"arch"`
	Source  string `json:"source"`
	Message string `json:"runtime_message"`
}

type reserveCulprit struct {
	Name        string       `json:"name"`
	Owner       string       `json:"owner,omitempty"`
	Start       vaspace.Addr `json:"start"`
	End         vaspace.Addr `json:"end"`
	MovedBy     string       `json:"moved_by"`
	Conflict    string       `json:"conflict"`
	Range       string       `json:"range,omitempty"`
	Probability float64      `json:"probability"`
	Exact       string       `json:"probability_exact"`
}

type reserveGroup struct {
	MovedBy     string  `json:"moved_by"`
	Probability float64 `json:"probability"`
	Exact       string  `json:"probability_exact"`
}

type reserveBits struct {
	Bits        int     `json:"mmap_rnd_bits"`
	Probability float64 `json:"probability"`
	Exact       string  `json:"probability_exact"`
}

type gateJSON struct {
	FailAbove float64 `json:"fail_above"`
	Compares  string  `json:"compares"`
	Exceeded  bool    `json:"exceeded"`
}

type reserveJSON struct {
	Schema      string           `json:"schema"`
	SVG         string           `json:"svg,omitempty"`
	Program     programJSON      `json:"program"`
	Preset      *presetJSON      `json:"preset,omitempty"`
	Free        []rangeJSON      `json:"free"`
	Allowed     []rangeJSON      `json:"allowed"`
	Bits        int              `json:"mmap_rnd_bits"`
	BitsFrom    string           `json:"mmap_rnd_bits_from"`
	Probability float64          `json:"probability"`
	Exact       string           `json:"probability_exact"`
	Gate        *gateJSON        `json:"gate,omitempty"`
	Groups      []reserveGroup   `json:"groups"`
	Culprits    []reserveCulprit `json:"culprits"`
	ByBits      []reserveBits    `json:"by_mmap_rnd_bits"`
	FirstBits   int              `json:"first_failing_bits,omitempty"`
	// ASLR is "off" when the launch is not randomised: one layout, in the
	// way (probability 1) or not (0), whatever mmap_rnd_bits.
	ASLR   string       `json:"aslr"`
	Notes  []string     `json:"notes,omitempty"`
	Dlopen []dlopenJSON `json:"dlopen,omitempty"`
}

func runReserve(e *env, args []string) int {
	fs := newFlags(e, "reserve")
	var lf launchFlags
	lf.register(fs)
	var ranges, allows listFlag
	fs.Var(&ranges, "range", "an address range `START-END` (hex) no mapping may overlap (repeatable)")
	fs.Var(&allows, "allow", "an address range `START-END` (hex) every mapping must lie in (repeatable)")
	var presetList listFlag
	fs.Var(&presetList, "preset", "a built-in sanitizer layout `NAME` (its free and allowed ranges; one, with any --range and --allow added): "+presetNames())
	bits := fs.Int("mmap-rnd-bits", 0, "the vm.mmap_rnd_bits `N` to analyse (default the kernel's: this machine's, or --kernel's)")
	var failAbove probFlag
	fs.Var(&failAbove, "fail-above", "exit 1 when the share of launches that fail (\"probability\") exceeds `P`, a fraction from 0 to 1")
	svgFile := fs.String("svg", "", "also draw the ranges, where each randomised group can land and the mappings in the way as an SVG picture in `FILE`")
	asJSON := fs.Bool("json", false, "print a vasim/reserve/v1 document (vasim help json)")
	r := reporter{e: e, name: "reserve"}
	if code, ok := parseArgs(fs, &r, args); !ok {
		return code
	}
	r.asJSON = *asJSON
	var spec reserve.Spec
	var preset reserve.Preset
	if len(presetList) > 1 {
		return r.usage("--preset given %d times (%s): a process runs under one sanitizer's layout; analyse each preset in a run of its own", len(presetList), strings.Join(presetList, ", "))
	}
	if len(presetList) == 1 {
		var err error
		if preset, err = reserve.LookupPreset(presetList[0]); err != nil {
			return r.usage("--preset: %v", strings.TrimPrefix(err.Error(), reserve.ErrSpec.Error()+": "))
		}
		spec = preset.Spec
	}
	for _, s := range ranges {
		rg, err := parseRange(s)
		if err != nil {
			return r.usage("--range %q: %v", s, err)
		}
		spec.Free = append(spec.Free, reserve.Range{Range: rg, Name: s})
	}
	for _, s := range allows {
		rg, err := parseRange(s)
		if err != nil {
			return r.usage("--allow %q: %v", s, err)
		}
		spec.Allowed = append(spec.Allowed, reserve.Range{Range: rg, Name: s})
	}
	if len(spec.Free) == 0 && len(spec.Allowed) == 0 {
		return r.usage("give --preset NAME, --range START-END or --allow START-END: the ranges to check")
	}
	if err := lf.check(); err != nil {
		return report(r, err)
	}
	bitsSet := false
	fs.Visit(func(f *flag.Flag) { bitsSet = bitsSet || f.Name == "mmap-rnd-bits" })
	if bitsSet && *bits <= 0 {
		return r.usage("--mmap-rnd-bits %d: want the number of random bits, e.g. 28", *bits)
	}
	prog := startStages(e, "reserve", *asJSON)
	out, err := analyseReserve(e, &lf, spec, preset, *bits, prog, *svgFile)
	prog.stop()
	if err != nil {
		return report(r, err)
	}
	if failAbove.set {
		out.Gate = &gateJSON{FailAbove: failAbove.p, Compares: "probability", Exceeded: out.Probability > failAbove.p}
	}
	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return report(r, err)
		}
	} else {
		printReserve(e.stdout, out)
	}
	code := reportDlopens(e, "reserve", out.Dlopen)
	if out.Gate != nil && out.Gate.Exceeded {
		fmt.Fprintf(e.stderr, "vasim reserve: %s of launches fail at mmap_rnd_bits %d, above --fail-above %s\n", share(out.Probability), out.Bits, share(failAbove.p))
		code = exitFailure
	}
	return code
}

// parseRange reads START-END in hex.
func parseRange(s string) (vaspace.Range, error) {
	if s == "none" || !strings.Contains(s, "-") {
		return vaspace.Range{}, errors.New("want START-END in hex, like 0x600000000000-0x640000000000")
	}
	return parseRegion(s)
}

// analyseReserve prepares the program and computes the result at the
// kernel's mmap_rnd_bits (or bits) and at every value the architecture
// accepts.
func analyseReserve(e *env, lf *launchFlags, spec reserve.Spec, preset reserve.Preset, bits int, prog *stageLine, svg string) (reserveJSON, error) {
	k, err := lf.kernelProfile(bits)
	if err != nil {
		return reserveJSON{}, err
	}
	if preset.Name != "" && preset.Arch != k.Arch {
		return reserveJSON{}, usageError("--preset %s is for %v, the kernel profile is %v", preset.Name, preset.Arch, k.Arch)
	}
	pr, err := lf.prepareWith(e, k, false, prog)
	if err != nil {
		return reserveJSON{}, err
	}
	k = pr.Kernel()
	prog.set("working out how each random draw moves the layout")
	v, err := pr.Variation()
	if err != nil {
		return reserveJSON{}, err
	}
	lo, hi := k.RndBitsRange()
	prog.set(fmt.Sprintf("counting the failing draws at mmap_rnd_bits %d to %d", lo, hi))
	sweep, err := reserve.Sweep(v, spec)
	if err != nil {
		return reserveJSON{}, err
	}
	var res *reserve.Result
	for _, s := range sweep {
		if s.Bits == k.MmapRndBits {
			res = s
		}
	}
	if res == nil {
		if res, err = reserve.Analyze(v, spec); err != nil {
			return reserveJSON{}, err
		}
	}
	if svg != "" {
		p, err := pr.Layout(linux.Draw{})
		if err != nil {
			return reserveJSON{}, err
		}
		if err := writeSVG(svg, reserveFigure(lf.cmd.Path, spec, v, p.Space(), res)); err != nil {
			return reserveJSON{}, fmt.Errorf("--svg: %w", err)
		}
	}
	out := reserveJSON{Schema: schemaReserve, SVG: svg, Program: programOf(lf.cmd), Free: rangesOf(spec.Free), Allowed: rangesOf(spec.Allowed), Bits: res.Bits, BitsFrom: lf.bitsFrom, Probability: res.Float(), Exact: res.Probability.RatString(), Groups: []reserveGroup{}, Culprits: []reserveCulprit{}, ASLR: "on", Dlopen: dlopensOf(pr.Dlopens())}
	if preset.Name != "" {
		out.Preset = &presetJSON{Name: preset.Name, Summary: preset.Summary, Arch: preset.Arch.String(), Source: preset.Source, Message: preset.Message}
	}
	if n := scriptNote(lf.cmd); n != "" {
		out.Notes = append(out.Notes, n)
	}
	out.Notes = append(out.Notes, pr.Notes...)
	if !k.Randomized(pr.Launch()) {
		out.ASLR = "off"
		out.Notes = append(out.Notes, fmt.Sprintf("ASLR is off (kernel.randomize_va_space is %d): every launch has the one layout, so it fails always or never, whatever vm.mmap_rnd_bits", k.RandomizeVASpace))
	}
	for _, m := range v.Apart {
		out.Notes = append(out.Notes, fmt.Sprintf("not counted: %s %v, libc's brk heap (created by the first malloc, at the first dlopen), which the brk draw moves above the executable's end: no group of the exact analysis holds it", m.Name, m.Range))
	}
	for _, g := range []linux.Group{linux.GroupExec, linux.GroupMmap, linux.GroupStack, linux.GroupFixed} {
		if p, ok := res.Groups[g]; ok {
			out.Groups = append(out.Groups, reserveGroup{MovedBy: moved(g), Probability: ratFloat(p), Exact: p.RatString()})
		}
	}
	for _, c := range res.Culprits {
		rc := reserveCulprit{Name: c.Mapping.Name, Owner: c.Mapping.Owner, Start: c.Mapping.Start, End: c.Mapping.End, MovedBy: moved(c.Group), Conflict: "overlaps", Range: c.Range, Probability: ratFloat(c.Probability), Exact: c.Probability.RatString()}
		if c.Outside {
			rc.Conflict, rc.Range = "outside-allowed", ""
		}
		out.Culprits = append(out.Culprits, rc)
	}
	for _, s := range sweep {
		out.ByBits = append(out.ByBits, reserveBits{Bits: s.Bits, Probability: s.Float(), Exact: s.Probability.RatString()})
		if out.FirstBits == 0 && s.Probability.Sign() > 0 {
			out.FirstBits = s.Bits
		}
	}
	return out, nil
}

func ratFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

func rangesOf(rs []reserve.Range) []rangeJSON {
	out := []rangeJSON{}
	for _, r := range rs {
		out = append(out, rangeJSON{Name: r.Name, Start: r.Start, End: r.End})
	}
	return out
}

func presetNames() string {
	var n []string
	for _, p := range reserve.Presets() {
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}

// share prints a fraction of launches as a percentage that is never 0%
// or 100% unless it is exactly that.
func share(p float64) string {
	switch {
	case p == 0:
		return "0%"
	case p == 1:
		return "100%"
	case p < 0.00005:
		return "<0.01%"
	case p > 0.99995:
		return ">99.99%"
	}
	return pct(p)
}

// bitsWords says where the analysed mmap_rnd_bits came from.
var bitsWords = map[string]string{
	"host":           "this machine's",
	"kernel-profile": "the --kernel profile's",
	"flag":           "--mmap-rnd-bits",
}

func printReserve(w io.Writer, o reserveJSON) {
	fmt.Fprintln(w, o.Program.heading())
	if o.Preset != nil {
		fmt.Fprintf(w, "preset %s: %s\n", o.Preset.Name, o.Preset.Summary)
	}
	printRanges := func(what string, rs []rangeJSON) {
		if len(rs) == 0 {
			return
		}
		fmt.Fprintf(w, "  %s:\n", what)
		for _, r := range rs {
			rg := vaspace.Range{Start: r.Start, End: r.End}
			if strings.HasPrefix(r.Name, "0x") { // --range and --allow are named by their text
				fmt.Fprintf(w, "    %v\n", rg)
				continue
			}
			fmt.Fprintf(w, "    %-40v %s\n", rg, shown(r.Name))
		}
	}
	printRanges("no mapping may overlap", o.Free)
	printRanges("every mapping must lie in", o.Allowed)
	for _, n := range o.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	printDlopens(w, o.Program.Path, o.Dlopen)
	fmt.Fprintln(w)
	at := fmt.Sprintf("At vm.mmap_rnd_bits %d (%s),", o.Bits, bitsWords[o.BitsFrom])
	switch {
	case o.ASLR == "off" && o.Probability == 0:
		fmt.Fprintln(w, "With ASLR off no launch fails (0%): no mapping of the one layout is in the way.")
	case o.ASLR == "off":
		fmt.Fprintln(w, "With ASLR off every launch fails (100%): the one layout has mappings in the way.")
		if o.Preset != nil && o.Preset.Message != "" {
			fmt.Fprintf(w, "Such a launch stops with: %s\n", o.Preset.Message)
		}
		fmt.Fprintln(w, "\nIn the way:")
		printCulprits(w, o.Culprits)
	case o.Probability == 0:
		fmt.Fprintf(w, "%s no launch fails: no random draw puts a mapping in the way.\n", at)
	default:
		exact := ""
		if len(o.Exact) <= 21 {
			exact = " (exactly " + o.Exact + ")"
		}
		fmt.Fprintf(w, "%s %s of launches fail%s.\n", at, share(o.Probability), exact)
		if o.Preset != nil && o.Preset.Message != "" {
			fmt.Fprintf(w, "Such a launch stops with: %s\n", o.Preset.Message)
		}
		var failing []reserveGroup
		for _, g := range o.Groups {
			if g.Probability > 0 {
				failing = append(failing, g)
			}
		}
		if len(failing) > 1 {
			fmt.Fprintln(w, "\nEach random draw alone (they are independent: the total is 1 − (1 − a)(1 − b)…):")
			for _, g := range failing {
				fmt.Fprintf(w, "  %8s  %s\n", share(g.Probability), movedWords[g.MovedBy])
			}
		}
		fmt.Fprintln(w, "\nIn the way (the share of launches in which each one is, whatever the others do):")
		printCulprits(w, o.Culprits)
	}
	if o.Gate != nil {
		verdict := "not exceeded"
		if o.Gate.Exceeded {
			verdict = "exceeded: exit status 1"
		}
		fmt.Fprintf(w, "\n--fail-above %s: %s\n", share(o.Gate.FailAbove), verdict)
	}
	if o.ASLR == "off" {
		return
	}
	fmt.Fprintln(w, "\nBy vm.mmap_rnd_bits (the same program; every value the architecture accepts):")
	for _, b := range o.ByBits {
		mark := ""
		if b.Bits == o.Bits {
			mark = "  ← analysed above"
		}
		fmt.Fprintf(w, "  %2d  %8s%s\n", b.Bits, share(b.Probability), mark)
	}
	switch {
	case o.FirstBits == 0:
		fmt.Fprintln(w, "No launch fails at any of them.")
	case o.FirstBits == o.ByBits[0].Bits:
		fmt.Fprintf(w, "Launches fail already at the fewest bits the architecture accepts, %d.\n", o.FirstBits)
	default:
		fmt.Fprintf(w, "Launches start failing at mmap_rnd_bits %d.\n", o.FirstBits)
	}
}

// printCulprits lists the mappings in the way, most often first. The
// mappings one draw moves together are often in the way in about the same
// share of launches: each run of them with the same share as printed and
// the same conflict is one line, its first mapping named and the others
// counted.
func printCulprits(w io.Writer, cs []reserveCulprit) {
	const lines = 12
	for i, n := 0, 0; i < len(cs); n++ {
		if n == lines {
			fmt.Fprintf(w, "  … and %d more (see --json)\n", len(cs)-i)
			return
		}
		c := cs[i]
		j := i + 1
		for j < len(cs) && cs[j].MovedBy == c.MovedBy && cs[j].Conflict == c.Conflict && cs[j].Range == c.Range && share(cs[j].Probability) == share(c.Probability) {
			j++
		}
		where := "overlaps " + shown(c.Range)
		if c.Conflict == "outside-allowed" {
			where = "leaves the allowed ranges"
		}
		by := "moved by the " + c.MovedBy + " draw"
		if c.MovedBy == "none" {
			by = "never moves"
		}
		fmt.Fprintf(w, "  %8s  %s [%v, %v) %s; %s\n", share(c.Probability), culpritLabel(c), c.Start, c.End, where, by)
		if j-i > 1 {
			which := "the " + c.MovedBy + " draw moves"
			if c.MovedBy == "none" {
				which = "that never move"
			}
			fmt.Fprintf(w, "            and %d more mappings %s, each also in %s\n", j-i-1, which, share(c.Probability))
		}
		i = j
	}
}

// culpritLabel names a culprit: an image by its file; another mapping by
// its name, with its owner (ld.so's malloc: ld.so) when it has one.
func culpritLabel(c reserveCulprit) string {
	switch {
	case c.Owner == "":
		return shown(c.Name)
	case c.Name == c.Owner || c.Name == "bss of "+c.Owner:
		return shown(c.Owner)
	}
	return fmt.Sprintf("%s (%s)", shown(c.Name), shown(c.Owner))
}
