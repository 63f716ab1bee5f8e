package tls

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
)

// Env is what the dynamic loader reads from the environment and that
// shapes static TLS.
type Env struct {
	// LibraryPath is LD_LIBRARY_PATH.
	LibraryPath string
	// Preload is LD_PRELOAD: names separated by ':' or spaces
	// (elf/rtld.c handle_preload_list).
	Preload string
	// Audit is LD_AUDIT: names separated by ':', empty ones skipped
	// (elf/rtld.c audit_list_next).
	Audit string
	// BindNow is LD_BIND_NOW set to anything non-empty.
	BindNow bool
	// Tunables is GLIBC_TUNABLES.
	Tunables string
	// StaticTLSExtra is FreeBSD rtld's LD_STATIC_TLS_EXTRA.
	StaticTLSExtra string
}

// EnvFrom reads Env's variables with getenv (os.Getenv for the real
// environment).
func EnvFrom(getenv func(string) string) Env {
	return Env{
		LibraryPath:    getenv("LD_LIBRARY_PATH"),
		Preload:        getenv("LD_PRELOAD"),
		Audit:          getenv("LD_AUDIT"),
		BindNow:        getenv("LD_BIND_NOW") != "",
		Tunables:       getenv("GLIBC_TUNABLES"),
		StaticTLSExtra: getenv("LD_STATIC_TLS_EXTRA"),
	}
}

// Setup is a program run as a user states it: the program, what it
// dlopens, where its files are, which loader runs it and the loader's
// environment.
type Setup struct {
	// Exe is the program's path as the target sees it.
	Exe string
	// Dlopens are the libraries the program dlopens, in order.
	Dlopens []string
	// Sysroot, when set, holds the target's files (a foreign tree).
	Sysroot string
	// Loader is "glibc", "musl", "freebsd" or "bionic"; empty picks
	// glibc or musl from the program's interpreter (PT_INTERP).
	Loader string
	// Glibc is the glibc release to model ("2.31"); empty reads it from
	// the libc.so.6 the program loads.
	Glibc string
	// Env is the loader's environment.
	Env Env
}

// Loaders lists the loader names Setup.Loader accepts.
var Loaders = []string{"glibc", "musl", "freebsd", "bionic"}

// Plan is a Setup resolved against the files: the Program to run and
// what was decided on the way.
type Plan struct {
	Program Program
	// Arch is the program's architecture.
	Arch loader.Arch
	// Glibc is the release modelled (glibc only), and GlibcSource how it
	// was found ("banner of /lib/x86_64-linux-gnu/libc.so.6"; "" when it
	// was given).
	Glibc       ldso.GlibcVersion
	GlibcSource string
	// Warnings are what the user should know that is not an error (a
	// tunable name this release may have that vasim cannot check).
	Warnings []string
}

// ErrSetup is the class of errors for a Setup that cannot be run: a
// missing or unreadable program, a statically linked one, an unknown
// loader, a malformed GLIBC_TUNABLES or glibc release.
var ErrSetup = errors.New("tls: bad setup")

// ErrBadOption is the part of ErrSetup that is about how the Setup was
// stated rather than the files it names: an unknown loader, a glibc
// release that does not parse or that the models do not cover, a
// malformed GLIBC_TUNABLES or LD_STATIC_TLS_EXTRA, no program. Every
// ErrBadOption is also an ErrSetup; an ErrSetup that is not an
// ErrBadOption is about the files (not found, unreadable, malformed,
// statically linked, another architecture).
var ErrBadOption = errors.New("tls: bad option")

// setupError is an ErrSetup with its reason.
type setupError struct {
	err    error
	option bool // an ErrBadOption
}

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }
func (e *setupError) Is(target error) bool {
	return target == ErrSetup || e.option && target == ErrBadOption
}

func badSetup(format string, args ...any) error {
	return &setupError{err: fmt.Errorf(format, args...)}
}

func badOption(err error) error { return &setupError{err: err, option: true} }

// NewPlan resolves a Setup: it reads the program (resolving its libraries
// with ld.so's rules from the environment), finds its architecture and,
// for glibc, the release and its tunables. A statically linked program
// (no PT_INTERP) is refused: its TLS is set up by csu/libc-tls.c, not by
// the dynamic loader vasim models. Every error is an ErrSetup.
func NewPlan(s Setup) (*Plan, error) {
	if s.Exe == "" {
		return nil, badOption(errors.New("no program given"))
	}
	tun, tunErr := ParseTunables(s.Env.Tunables)
	var tunIssues *TunablesError
	if tunErr != nil && !errors.As(tunErr, &tunIssues) {
		return nil, badOption(tunErr)
	}
	r, err := ldso.NewResolver(s.Sysroot)
	if err != nil {
		return nil, &setupError{err: err}
	}
	switch s.Loader {
	case "glibc":
		r.Flavor = ldso.FlavorGlibc
	case "musl":
		r.Flavor = ldso.FlavorMusl
	case "":
	case "freebsd", "bionic":
		// Their search rules are not modelled: glibc's stand in.
		r.Flavor = ldso.FlavorGlibc
	default:
		return nil, badOption(fmt.Errorf("loader %q: want one of %s", s.Loader, strings.Join(Loaders, ", ")))
	}
	r.LibraryPath = s.Env.LibraryPath
	if s.Env.Preload != "" {
		r.Preload = strings.FieldsFunc(s.Env.Preload, func(c rune) bool { return c == ':' || c == ' ' })
	}
	ns, err := r.LoadProgram(s.Exe)
	if err != nil {
		return nil, &setupError{err: err}
	}
	if ns.Main.Spec.ELF.Interp == "" {
		return nil, badSetup("%s has no program interpreter (PT_INTERP): it is statically linked, and vasim tls models the dynamic loader only", s.Exe)
	}
	arch := ns.Main.Spec.Arch
	if arch != loader.ArchX86_64 && arch != loader.ArchAArch64 {
		return nil, &setupError{err: fmt.Errorf("%s: %w: architecture %v (machine %v): the models cover x86_64 and aarch64", s.Exe, ErrUnsupported, arch, ns.Main.Spec.ELF.Machine)}
	}
	p := &Plan{Arch: arch}
	name := s.Loader
	if name == "" {
		name = r.Flavor.String() // chosen from PT_INTERP by LoadProgram
	}
	var ld Loader
	switch name {
	case "glibc":
		v := ldso.GlibcVersion{}
		if s.Glibc != "" {
			if v, err = ldso.ParseGlibcVersion(s.Glibc); err != nil {
				return nil, badOption(err)
			}
		} else {
			d, ok, err := ns.DetectGlibc()
			if err != nil {
				return nil, badSetup("reading glibc's version: %v", err)
			}
			if !ok {
				if len(ns.Missing) > 0 {
					return nil, badSetup("%s: error while loading shared libraries: %s (the glibc release is read from the libc.so.6 it loads)", s.Exe, ns.Missing[0].Message())
				}
				return nil, badSetup("%s does not load glibc's libc.so.6: give the glibc release or another loader", s.Exe)
			}
			v = d.Version
			p.GlibcSource = d.Source + " of " + d.Path
		}
		p.Glibc = v
		prof, err := GlibcProfile(v, arch)
		if err != nil {
			if s.Glibc != "" {
				return nil, badOption(err)
			}
			return nil, &setupError{err: err}
		}
		if tunIssues != nil && v != (ldso.GlibcVersion{Major: 2, Minor: 36}) {
			// vasim knows only 2.36's list of names: another release's
			// names cannot be called typos.
			for _, is := range tunIssues.Issues {
				if is.UnknownName {
					p.Warnings = append(p.Warnings, fmt.Sprintf("GLIBC_TUNABLES %q: not a glibc 2.36 tunable; not checked for glibc %v", is.Item, v))
				}
			}
			tunIssues = tunIssues.Without(func(is TunableIssue) bool { return is.UnknownName })
		}
		if tunIssues != nil {
			return nil, badOption(tunIssues)
		}
		ld = GlibcLoader{Profile: prof}
	case "musl":
		ld = MuslLoader{Arch: arch}
	case "freebsd":
		ld = FreeBSDLoader{Arch: arch}
	case "bionic":
		ld = BionicLoader{Arch: arch}
	default:
		return nil, badOption(fmt.Errorf("loader %q: want one of %s", s.Loader, strings.Join(Loaders, ", ")))
	}
	p.Program = Program{Exe: s.Exe, Resolver: r, Loader: ld, loaded: newLoaded(ns, r, s.Exe),
		// LD_AUDIT is split at ':' with empty names skipped (elf/rtld.c
		// audit_list_next).
		Audit:   strings.FieldsFunc(s.Env.Audit, func(c rune) bool { return c == ':' }),
		Options: StartOptions{Tunables: tun, BindNow: s.Env.BindNow}}
	if name == "freebsd" && s.Env.StaticTLSExtra != "" {
		n, err := strconv.ParseUint(s.Env.StaticTLSExtra, 10, 64)
		if err != nil {
			return nil, badOption(fmt.Errorf("LD_STATIC_TLS_EXTRA=%q: not a number", s.Env.StaticTLSExtra))
		}
		p.Program.Options.StaticTLSExtra = n
	}
	for _, d := range s.Dlopens {
		p.Program.Events = append(p.Program.Events, Event{Kind: EventDlopen, Name: d})
	}
	return p, nil
}

// Report is a Setup run: the plan, the outcome of every event, and for
// each failed dlopen the explanation and fixes.
type Report struct {
	Plan   *Plan
	Result *Result
	// Explanations holds the explanation of each failed step, by step
	// index.
	Explanations map[int]Explanation
	// Start explains a start-up that fails for want of static TLS (an
	// LD_AUDIT or LD_PRELOAD environment): Step is -1, and the fixes are
	// those that make the program start and every dlopen succeed. Nil
	// otherwise.
	Start *Explanation
}

// Check plans the Setup, runs it and explains every failed dlopen. Errors
// are ErrSetup (the setup cannot be run), ErrStart (the modelled program
// fails to start: a missing library, a start-up TLS failure; the Report
// then holds what is known) or a failure to read a library (a
// *loader.FileError).
func Check(s Setup) (*Report, error) {
	p, err := NewPlan(s)
	if err != nil {
		return nil, err
	}
	rep := &Report{Plan: p, Explanations: map[int]Explanation{}}
	res, err := Run(p.Program)
	rep.Result = res
	if err != nil {
		var se *StartError
		if errors.As(err, &se) && se.Failure != nil && se.Failure.Kind.StaticTLS() {
			x := explainStart(p.Program, se.Failure)
			rep.Start = &x
		}
		return rep, err
	}
	for _, x := range Explain(p.Program, res) {
		rep.Explanations[x.Step] = x
	}
	return rep, nil
}
