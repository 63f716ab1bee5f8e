package tls

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vasim/vasim/loader/ldso"
)

// EventKind is what a program does after start-up.
type EventKind uint8

// Event kinds.
const (
	EventDlopen EventKind = iota + 1
	EventDlclose
	EventAccess
)

// Event is one step of a scenario.
type Event struct {
	Kind EventKind
	// Name is the dlopen argument (EventDlopen).
	Name string
	// Global is RTLD_GLOBAL and Now RTLD_NOW (EventDlopen; the zero
	// value is RTLD_LAZY | RTLD_LOCAL).
	Global, Now bool
	// Of is the index (in Events) of the dlopen whose handle is closed
	// (EventDlclose) or whose root's code runs and touches its TLS
	// (EventAccess).
	Of int
}

// Program is a program run: start the executable, then the events in
// order, continuing after a failed dlopen as a program that checks
// dlopen's result would.
type Program struct {
	// Exe is the program path (as the target sees it).
	Exe string
	// Resolver finds libraries (sysroot, LD_LIBRARY_PATH, LD_PRELOAD,
	// cache); see ldso.NewResolver.
	Resolver *ldso.Resolver
	// Loader starts a State from the start-up modules; GlibcLoader,
	// MuslLoader, FreeBSDLoader and BionicLoader provide them.
	Loader Loader
	// Options for the start.
	Options StartOptions
	// Events after start-up.
	Events []Event
	// Threaded: the program has started threads before the dlopens
	// (glibc <= 2.21 cares).
	Threaded bool
	// Audit lists the LD_AUDIT modules (glibc): each is resolved and
	// loaded with its dependencies into a namespace of its own before the
	// program's libraries are relocated (see StartOptions.AuditModules).
	// When Options.Audit is 0 it is set to len(Audit).
	Audit []string
}

// Loader starts a process of one dynamic loader model.
type Loader interface {
	// Name is e.g. "glibc 2.36 x86_64".
	Name() string
	// Start lays out the start-up modules (link-map order, main first).
	Start(mods []*Module, opt StartOptions) (State, error)
}

// GlibcLoader is the Loader for a glibc profile.
type GlibcLoader struct{ Profile Profile }

// Name implements Loader.
func (l GlibcLoader) Name() string { return l.Profile.Name }

// Start implements Loader.
func (l GlibcLoader) Start(mods []*Module, opt StartOptions) (State, error) {
	g, err := StartGlibc(l.Profile, mods, opt)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Step is the outcome of one event.
type Step struct {
	Event Event
	// OK reports success (dlopen) or that the event applied.
	OK bool
	// Path is the dlopened object's path as the loader names it (or the
	// name, when not found).
	Path string
	// Error is the loader's error text when !OK.
	Error string
	// Failure is the structured failure.
	Failure *Failure
	// Handle is the dlopen handle when OK.
	Handle Handle
	// Root is the dlopened module.
	Root *Module
	// Placed lists static TLS placements this dlopen made.
	Placed []Allocation
	// RootOffset is the dlopened module's static TLS offset right after
	// the dlopen, when RootStatic.
	RootOffset uint64
	RootStatic bool
	// StaticAfter is the static TLS state after the event.
	StaticAfter StaticInfo
}

// Result is a whole scenario's outcome.
type Result struct {
	Loader string
	// Startup lists the start-up modules in link-map order.
	Startup []*Module
	// Missing lists libraries not found at start-up (the real loader
	// would refuse to start).
	Missing []ldso.MissingLibrary
	// Warnings are what the real loader would print without failing
	// (an LD_AUDIT module not found or not loadable).
	Warnings []string
	// Static is the state right after start-up.
	Static StaticInfo
	// Steps has one entry per event.
	Steps []Step
	// State is the process after the last event.
	State State
	// Modules maps each module back to the loader's object.
	Objects map[*Module]*ldso.Object
}

// Failed reports whether any dlopen failed.
func (r *Result) Failed() bool {
	for _, s := range r.Steps {
		if s.Event.Kind == EventDlopen && !s.OK {
			return true
		}
	}
	return false
}

// ErrStart wraps a start-up failure of the modelled program.
var ErrStart = errors.New("tls: the program fails to start")

// Run plays a scenario. It returns an error for bad input (an unreadable
// or malformed program, library or dlopen target; missing start-up
// libraries, a start-up failure); dlopen failures are outcomes in the
// Result.
func Run(sc Program) (*Result, error) {
	if sc.Resolver == nil {
		r, err := ldso.NewResolver("")
		if err != nil {
			return nil, err
		}
		sc.Resolver = r
	}
	lp, err := sc.Resolver.LoadProgram(sc.Exe)
	if err != nil {
		return nil, err
	}
	res := &Result{Loader: sc.Loader.Name(), Missing: lp.Missing, Objects: map[*Module]*ldso.Object{}}
	if m := unreadable(lp.Missing); m != nil {
		return nil, fmt.Errorf("tls: %s (needed by %s): %w", m.Name, m.NeededBy, m.Err)
	}
	if len(lp.Missing) > 0 {
		if lp.Missing[0].Flavor == ldso.FlavorMusl {
			return res, fmt.Errorf("%w: %s", ErrStart, lp.Missing[0].Message())
		}
		return res, fmt.Errorf("%w: %s: error while loading shared libraries: %s", ErrStart, sc.Exe, lp.Missing[0].Message())
	}
	mods := map[*ldso.Object]*Module{}
	var convIn func(mods map[*ldso.Object]*Module, o *ldso.Object) (*Module, error)
	convIn = func(mods map[*ldso.Object]*Module, o *ldso.Object) (*Module, error) {
		if m, ok := mods[o]; ok {
			return m, nil
		}
		m, err := ModuleFromSpec(o.Spec, o.Label())
		if err != nil {
			return nil, err
		}
		m.Main = o.IsMain()
		if m.Main {
			m.Path = ""
			m.Name = o.Program
		}
		mods[o] = m
		res.Objects[m] = o
		for _, d := range o.Deps {
			dm, err := convIn(mods, d)
			if err != nil {
				return nil, err
			}
			m.Deps = append(m.Deps, dm)
		}
		return m, nil
	}
	conv := func(o *ldso.Object) (*Module, error) { return convIn(mods, o) }
	convAllIn := func(mods map[*ldso.Object]*Module, objs []*ldso.Object) ([]*Module, error) {
		var out []*Module
		for _, o := range objs {
			m, err := convIn(mods, o)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	}
	convAll := func(objs []*ldso.Object) ([]*Module, error) { return convAllIn(mods, objs) }
	startup, err := convAll(lp.Objects)
	if err != nil {
		return nil, err
	}
	res.Startup = startup
	opt := sc.Options
	if opt.ProgramName == "" {
		opt.ProgramName = sc.Exe
	}
	// LD_AUDIT modules, each in a namespace of its own; one that is not
	// found is ignored by ld.so but still counted.
	if len(sc.Audit) > 0 && opt.Audit == 0 {
		opt.Audit = len(sc.Audit)
	}
	for _, name := range sc.Audit {
		_, dr := lp.DlmopenNew(name)
		if m := unreadable(dr.Missing); m != nil {
			return nil, fmt.Errorf("tls: LD_AUDIT %s: %s (needed by %s): %w", name, m.Name, m.NeededBy, m.Err)
		}
		if dr.Root == nil || len(dr.Missing) > 0 {
			// ld.so's words (elf/rtld.c load_audit_module): "object
			// '%s' cannot be loaded as audit interface: %s; ignored."
			why := "cannot open shared object file"
			if len(dr.Missing) > 0 {
				why = auditReason(dr.Missing[0])
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("LD_AUDIT: object '%s' cannot be loaded as audit interface: %s; ld.so ignores it", name, why))
			continue
		}
		list, err := convAllIn(map[*ldso.Object]*Module{}, dr.SearchList)
		if err != nil {
			return nil, err
		}
		for i, m := range list {
			res.Objects[m] = dr.SearchList[i]
		}
		opt.AuditModules = append(opt.AuditModules, list)
	}
	proc, err := sc.Loader.Start(startup, opt)
	if err != nil {
		var se *StartError
		if errors.As(err, &se) {
			return res, fmt.Errorf("%w: %s", ErrStart, se.Message)
		}
		return res, err
	}
	res.State = proc
	res.Static = proc.Static()
	if g, ok := proc.(*Glibc); ok {
		res.Warnings = append(res.Warnings, g.Warnings()...)
	}
	handles := map[int]Handle{}
	roots := map[int]*Module{}
	for i, ev := range sc.Events {
		step := Step{Event: ev}
		switch ev.Kind {
		case EventDlopen:
			dr := lp.Dlopen(ev.Name, nil)
			if m := unreadable(dr.Missing); m != nil {
				if dr.Root == nil {
					return nil, fmt.Errorf("tls: dlopen %s (event %d): %w", ev.Name, i, m.Err)
				}
				return nil, fmt.Errorf("tls: dlopen %s (event %d): %s (needed by %s): %w", ev.Name, i, m.Name, m.NeededBy, m.Err)
			}
			req := &DlopenRequest{Name: ev.Name, Missing: dr.Missing, Global: ev.Global, Now: ev.Now, Threaded: sc.Threaded}
			step.Path = ev.Name
			if dr.Root != nil && len(dr.Missing) == 0 {
				if req.Root, err = conv(dr.Root); err != nil {
					return nil, err
				}
				if req.SearchList, err = convAll(dr.SearchList); err != nil {
					return nil, err
				}
				step.Path = dr.Root.Label()
			}
			out := proc.Dlopen(req)
			step.OK, step.Error, step.Failure, step.Handle, step.Root, step.Placed = out.OK, out.Error, out.Failure, out.Handle, req.Root, out.Placed
			if out.OK {
				handles[i], roots[i] = out.Handle, req.Root
				step.RootOffset, step.RootStatic = proc.Offset(req.Root)
			} else {
				var gone []*ldso.Object
				for _, m := range out.New {
					if o := res.Objects[m]; o != nil {
						gone = append(gone, o)
						delete(mods, o)
					}
				}
				lp.Unload(gone...)
			}
		case EventDlclose:
			h, ok := handles[ev.Of]
			if !ok {
				step.Error = fmt.Sprintf("event %d: dlclose of event %d, which is not an open handle", i, ev.Of)
				break
			}
			delete(handles, ev.Of)
			removed, err := proc.Dlclose(h)
			if err != nil {
				return nil, err
			}
			var gone []*ldso.Object
			for _, m := range removed {
				if o := res.Objects[m]; o != nil {
					gone = append(gone, o)
					delete(mods, o)
				}
			}
			lp.Unload(gone...)
			step.OK = true
		case EventAccess:
			m, ok := roots[ev.Of]
			if !ok {
				step.Error = fmt.Sprintf("event %d: access through event %d, which opened nothing", i, ev.Of)
				break
			}
			proc.Access(m)
			step.OK, step.Root = true, m
		default:
			return nil, fmt.Errorf("tls: event %d: unknown kind %d", i, ev.Kind)
		}
		step.StaticAfter = proc.Static()
		res.Steps = append(res.Steps, step)
	}
	return res, nil
}

// unreadable returns the first library whose search stopped at a file
// vasim cannot read although ld.so might load it (a malformed ELF file: bad
// input for vasim), or nil. A file ld.so itself refuses (an
// *ldso.LoadError: a directory, a short file, no ELF magic) is not bad
// input: the load fails as the real one would, with ld.so's message.
func unreadable(missing []ldso.MissingLibrary) *ldso.MissingLibrary {
	for i := range missing {
		var le *ldso.LoadError
		if missing[i].Err != nil && !errors.As(missing[i].Err, &le) {
			return &missing[i]
		}
	}
	return nil
}

// auditReason is the reason glibc gives for an audit module it cannot
// load: its dlerror text without the file name ("invalid ELF header",
// "cannot read file data", "cannot open shared object file").
func auditReason(m ldso.MissingLibrary) string {
	var le *ldso.LoadError
	if errors.As(m.Err, &le) {
		msg := le.Message
		if i := strings.Index(msg, ": Is a directory"); i >= 0 {
			msg = msg[:i] // glibc prints the reason without errno's text here
		}
		return msg
	}
	if m.Err != nil {
		return m.Err.Error()
	}
	return "cannot open shared object file"
}
