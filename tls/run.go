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

	// loaded is the program as NewPlan already resolved it with Resolver,
	// for the first Run to use instead of resolving it again.
	loaded *loadedProgram
}

// loadedProgram is a namespace resolved once, given to one Run.
type loadedProgram struct {
	ns       *ldso.Namespace
	resolver *ldso.Resolver
	key      string // the program and the resolver's settings it was resolved with
	taken    bool
}

func newLoaded(ns *ldso.Namespace, r *ldso.Resolver, exe string) *loadedProgram {
	return &loadedProgram{ns: ns, resolver: r, key: loadKey(r, exe)}
}

func loadKey(r *ldso.Resolver, exe string) string {
	return fmt.Sprintf("%q %q %q %q %v %q %v", exe, r.Sysroot, r.LibraryPath, r.Preload, r.Flavor, r.WorkDir, r.SystemDirs)
}

// take returns the namespace when it was resolved for exe by r, with the
// settings r has now, and was not used yet.
func (l *loadedProgram) take(r *ldso.Resolver, exe string) *ldso.Namespace {
	if l == nil || l.taken || l.resolver != r || l.key != loadKey(r, exe) {
		return nil
	}
	l.taken = true
	return l.ns
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
	// Missing lists what the dlopen did not find (or found but ld.so
	// refuses to map), the dlopened name itself when it is not a
	// Dependency.
	Missing []ldso.MissingLibrary
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

	// replay is the run reduced to the model's inputs, for re-running
	// under other tunables without reading files (nil when the program
	// did not start).
	replay *replay
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
	lp := sc.loaded.take(sc.Resolver, sc.Exe)
	if lp == nil {
		var err error
		if lp, err = sc.Resolver.LoadProgram(sc.Exe); err != nil {
			return nil, err
		}
	}
	res := &Result{Loader: sc.Loader.Name(), Missing: lp.Missing, Objects: map[*Module]*ldso.Object{}}
	if m := unreadable(lp.Missing); m != nil {
		return nil, fmt.Errorf("tls: %s (needed by %s): %w", m.Name, m.NeededBy, m.Err)
	}
	if len(lp.Missing) > 0 {
		msg := fmt.Sprintf("%s: error while loading shared libraries: %s", sc.Exe, lp.Missing[0].Message())
		if lp.Missing[0].Flavor == ldso.FlavorMusl {
			msg = lp.Missing[0].Message()
		}
		kind := FailNotFound
		var le *ldso.LoadError
		if errors.As(lp.Missing[0].Err, &le) {
			kind = FailNotObject
		}
		return res, &startFailure{&StartError{Message: msg, Failure: &Failure{Kind: kind, Message: msg}}}
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
			return res, &startFailure{se}
		}
		return res, err
	}
	rp := newReplay(sc.Loader, startup, opt)
	for _, o := range lp.Objects {
		if o.Via == "LD_PRELOAD" {
			rp.preloads++
		}
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
			step.Path, step.Missing = ev.Name, dr.Missing
			if dr.Root != nil && len(dr.Missing) == 0 {
				if req.Root, err = conv(dr.Root); err != nil {
					return nil, err
				}
				if req.SearchList, err = convAll(dr.SearchList); err != nil {
					return nil, err
				}
				step.Path = dr.Root.Label()
			}
			rp.record(ev, req)
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
			rp.record(ev, nil)
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
			rp.record(ev, nil)
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
	res.replay = rp
	return res, nil
}

// startFailure is a start-up failure of the modelled program: errors.Is
// matches ErrStart, errors.As a *StartError.
type startFailure struct{ se *StartError }

func (e *startFailure) Error() string {
	return ErrStart.Error() + ": " + e.se.Message
}

func (e *startFailure) Is(target error) bool { return target == ErrStart }

func (e *startFailure) Unwrap() error { return e.se }

// replay is a run reduced to what the model reads: the loader, the
// start-up modules and options, and every event with its resolved dlopen
// request. It re-runs the program under other tunables without resolving
// or reading any file: the files a dlopen resolves to do not depend on the
// tunables, only on the names and the search path.
//
// Run gives an object loaded again after an unload a new *Module; the
// replay keeps one module per object path (with its dependencies mapped
// the same way), so that a dlopen that failed in the run but succeeds in
// the replay leaves its objects loaded for the dlopens after it, as ld.so
// would. The one case this misses is a file opened under two different
// paths after an unload; callers verify their answer with a full Run.
type replay struct {
	loader  Loader
	startup []*Module
	opt     StartOptions
	events  []replayEvent
	// preloads counts the LD_PRELOAD objects, which follow the main
	// program in the start-up list.
	preloads int
	// collapsed reports that two of the run's modules became one (an
	// object loaded again after an unload): the replay then departs from
	// the run, and answers from it need a full Run to confirm.
	collapsed bool

	byPtr  map[*Module]*Module
	byPath map[string]*Module
}

type replayEvent struct {
	ev  Event
	req *DlopenRequest // EventDlopen only
}

func newReplay(l Loader, startup []*Module, opt StartOptions) *replay {
	rp := &replay{loader: l, opt: opt, byPtr: map[*Module]*Module{}, byPath: map[string]*Module{}}
	rp.opt.Sweep = nil
	for _, m := range startup {
		rp.startup = append(rp.startup, rp.canon(m))
	}
	return rp
}

// canon returns the replay's module for m: one per object path, a shallow
// copy whose dependencies are canonical too.
func (rp *replay) canon(m *Module) *Module {
	if m == nil {
		return nil
	}
	if c, ok := rp.byPtr[m]; ok {
		return c
	}
	key := m.Label()
	if c, ok := rp.byPath[key]; ok && !m.Main {
		rp.byPtr[m] = c
		rp.collapsed = true
		return c
	}
	c := new(Module)
	*c = *m
	rp.byPtr[m], rp.byPath[key] = c, c
	c.Deps = nil
	for _, d := range m.Deps {
		c.Deps = append(c.Deps, rp.canon(d))
	}
	return c
}

func (rp *replay) record(ev Event, req *DlopenRequest) {
	e := replayEvent{ev: ev}
	if req != nil {
		r := *req
		r.Root = rp.canon(req.Root)
		r.SearchList = nil
		for _, m := range req.SearchList {
			r.SearchList = append(r.SearchList, rp.canon(m))
		}
		e.req = &r
	}
	rp.events = append(rp.events, e)
}

// loads re-runs the program with tunables t (and sw as the start's Sweep)
// and reports whether it starts and every dlopen succeeds. It stops at
// the first failure: what comes after cannot change the answer.
func (rp *replay) loads(t Tunables, sw *Sweep) bool {
	return rp.loadsFrom(rp.startup, t, sw)
}

// withPreload returns the start-up list with the module whose path is
// path added to LD_PRELOAD (after the main program and the present
// preloads, where ld.so puts it), or false when that is not known without
// resolving files again: the module was not in the run, or it needs an
// object that was not loaded at start-up (its place in the breadth-first
// order would have to be worked out from the files).
func (rp *replay) withPreload(path string) ([]*Module, bool) {
	m, ok := rp.byPath[path]
	if !ok || rp.collapsed {
		return nil, false
	}
	in := map[*Module]bool{}
	for _, s := range rp.startup {
		in[s] = true
	}
	if in[m] {
		return rp.startup, true
	}
	seen := map[*Module]bool{m: true}
	for list := []*Module{m}; len(list) > 0; list = list[1:] {
		for _, d := range list[0].Deps {
			if !in[d] {
				return nil, false
			}
			if !seen[d] {
				seen[d] = true
				list = append(list, d)
			}
		}
	}
	at := min(1+rp.preloads, len(rp.startup))
	out := append(append(append([]*Module(nil), rp.startup[:at]...), m), rp.startup[at:]...)
	return out, true
}

// loadsFrom is loads with another start-up list.
func (rp *replay) loadsFrom(startup []*Module, t Tunables, sw *Sweep) bool {
	opt := rp.opt
	opt.Tunables, opt.Sweep = t, sw
	st, err := rp.loader.Start(startup, opt)
	if err != nil {
		return false
	}
	handles := map[int]Handle{}
	roots := map[int]*Module{}
	for i, e := range rp.events {
		switch e.ev.Kind {
		case EventDlopen:
			req := *e.req
			out := st.Dlopen(&req)
			if !out.OK {
				return false
			}
			handles[i], roots[i] = out.Handle, req.Root
		case EventDlclose:
			if h, ok := handles[e.ev.Of]; ok {
				delete(handles, e.ev.Of)
				if _, err := st.Dlclose(h); err != nil {
					return false
				}
			}
		case EventAccess:
			if m, ok := roots[e.ev.Of]; ok {
				st.Access(m)
			}
		}
	}
	return true
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
