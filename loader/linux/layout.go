package linux

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/elfspec"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/tls"
	"github.com/vasim/vasim/vaspace"
)

// Options configure Layout.
type Options struct {
	// Kernel is the kernel profile; nil means this machine's (HostKernel).
	Kernel *Kernel
	// Launch are the personality and stack limit; nil means this
	// process's (HostLaunch).
	Launch *Launch
	// Filename is the path given to execve; "" means the executable's
	// path. Args is argv (nil means just the file name) and Env envp; they
	// size the stack, and Env's LD_LIBRARY_PATH, LD_PRELOAD and
	// GLIBC_TUNABLES steer ld.so.
	Filename string
	Args     []string
	Env      []string
	// Sysroot is the tree the program's paths are taken in ("" for /).
	Sysroot string
	// WorkDir is the program's current directory ("" means vasim's).
	WorkDir string
	// Dlopen lists libraries the program opens after main starts, in
	// order (dlopen(name, RTLD_NOW) from the program).
	Dlopen []string
	// FileSystem names the file system a host file lives on (it decides
	// the 2 MiB alignment of large mappings); nil means statfs(2).
	FileSystem func(hostPath string) string
	// VDSOVersionIndex is the largest version index of the vDSO image
	// (2 for x86_64's LINUX_2.6 and arm64's LINUX_2.6.39): ld.so sizes
	// its version table by it.
	VDSOVersionIndex int
	// StackUse is how far below the initial stack pointer the start-up
	// code (ld.so, libc's start) touches the stack before main, which
	// grows the stack VMA when that reaches below it: 0x1600 bytes,
	// measured for a C program on Debian glibc 2.36 x86_64 (it varies
	// with the program).
	StackUse uint64
}

// DefaultStackUse is Options.StackUse's default.
const DefaultStackUse = 0x1600

// Process is a predicted process layout when main starts (and after the
// requested dlopens).
type Process struct {
	Kernel Kernel
	Launch Launch
	// Draw is the draw placed (zero when not randomised).
	Draw Draw
	// Randomized says the launch was randomised.
	Randomized bool
	mm         *MM
	// Images are the loaded objects in dl_iterate_phdr order: the
	// program, the vDSO, then the libraries and ld.so in link-map order.
	Images []*Image
	// Stack is the main thread's stack VMA and SP its stack pointer at
	// exec.
	Stack vaspace.Range
	SP    uint64
	// BrkStart is where the heap starts.
	BrkStart uint64
	// MmapBase is the mmap base the draw gave.
	MmapBase uint64
	// TLS is where the initial thread's static TLS and thread control
	// block are (glibc's init_tls allocation).
	TLS tls.InitialBlock
	// DTV is the initial thread's dynamic thread vector as its TCB points
	// to it (one entry past glibc's allocation, elf/dl-tls.c
	// allocate_dtv), and DTVAlloc that allocation.
	DTV      uint64
	DTVAlloc vaspace.Range
	// Namespace is ld.so's view: the objects, how each was found.
	Namespace *ldso.Namespace
	// Dlopens are the outcomes of Options.Dlopen, in order; the mappings
	// of a failed one are not in the layout (glibc unmaps them).
	Dlopens []DlopenOutcome
	sysroot string
}

// Space returns the mappings.
func (p *Process) Space() *vaspace.Space { return p.mm.space }

// Maps renders the layout as /proc/PID/maps shows it, with the device
// and inode of each file read from the file.
func (p *Process) Maps() []MapsLine {
	ls := MapsOf(p.mm.space, p.mm.startBrk, p.mm.brk)
	for i := range ls {
		if strings.HasPrefix(ls[i].Path, "/") {
			ls[i].Dev, ls[i].Inode = fileID(p.sysroot + ls[i].Path)
		}
	}
	return ls
}

// Mmap places one more mapping in the process as mmap(2) without
// MAP_FIXED would now (a sanitizer's or JIT's reservation, a later
// allocation), and returns it.
func (p *Process) Mmap(req MmapRequest) (vaspace.Mapping, error) { return p.mm.Mmap(req) }

// Clone returns an independent copy of the process to place more into
// (vaspace.Space.Clone is O(1)).
func (p *Process) Clone() *Process {
	c := *p
	mm := *p.mm
	mm.space = p.mm.space.Clone()
	c.mm = &mm
	c.Images = append([]*Image(nil), p.Images...)
	return &c
}

// ErrStart classifies a program that would not reach main: a library
// cannot be found, or the layout does not fit.
var ErrStart = errors.New("the program does not start")

// StartError says why the program would not start, in ld.so's words
// where ld.so would print them (or the kernel's, for an execve that
// fails: Err is then ErrArgListTooLong).
type StartError struct {
	Program string
	Message string
	Err     error
}

func (e *StartError) Error() string { return e.Program + ": " + e.Message }

// Unwrap returns ErrStart, and Err when set.
func (e *StartError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrStart, e.Err}
	}
	return []error{ErrStart}
}

// HostLaunch returns this process's personality-free launch settings:
// its stack rlimit.
func HostLaunch() (Launch, error) {
	lim, err := stackLimit()
	if err != nil {
		return Launch{}, fmt.Errorf("linux: stack rlimit: %w", err)
	}
	return Launch{StackLimit: lim}, nil
}

// Program is a program prepared for placement: its libraries resolved,
// its files read and ld.so's start-up recorded as the sequence of its
// memory operations, so that a layout at any draw only replays that
// sequence through the kernel's placement. Prepare builds one; Layout
// places it.
type Program struct {
	exe    string
	k      Kernel
	launch Launch
	in     ExecInput
	opt    Options
	// ns is ld.so's view of the objects; nil for a static program.
	ns *ldso.Namespace
	// ops is what ld.so did to memory, in order.
	ops []op
	// interpEnd is ld.so's _end relative to its load bias.
	interpEnd uint64
	// tlsOp and dtvOp are the ops whose allocations hold the initial
	// thread's TLS block and its DTV; tlsProfile and tlsStatic place the
	// block in the former.
	tlsOp, dtvOp int
	tlsProfile   tls.Profile
	tlsStatic    tls.StaticInfo
	// order lists the loaded objects in link-map order (not the program).
	order []*ldso.Object
	// tlsState is the static TLS model of the process (package tls, the
	// model vasim tls runs) after start-up and the dlopens so far, and
	// tlsMods its module for each object.
	tlsState *tls.Glibc
	tlsMods  map[*ldso.Object]*tls.Module
	// dlopens are the outcomes of Options.Dlopen, in order.
	dlopens []DlopenOutcome
	// paths caches the file names and file systems of the objects.
	realPath func(string) string
	fsOf     func(string) string
	// Notes say where the model departs from what was asked (a set-ID
	// program is randomised whatever the personality).
	Notes []string
}

// opKind is one kind of operation ld.so performs on memory.
type opKind uint8

const (
	opMalloc opKind = iota
	opFree
	opRealloc
	opMapCache
	opUnmapCache
	opMapObject
	opRELRO
	opHeap
	opUnmapObject
)

// op is one recorded operation. ref names an earlier op whose result it
// uses (the block freed or grown); obj is the object mapped or protected
// (nil: the program; interp: ld.so).
type op struct {
	kind opKind
	n    uint64
	ref  int
	obj  *ldso.Object
	img  int // for opRELRO: the index in the layout's Images
}

// Prepare resolves and records exe for placement (see Program).
func Prepare(exe string, opt Options) (*Program, error) {
	k, launch, err := opt.settings()
	if err != nil {
		return nil, err
	}
	fsOf := opt.FileSystem
	if fsOf == nil {
		fsOf = fileSystem
	}
	pr := &Program{exe: exe, k: k, launch: launch, opt: opt, realPath: memo(realPathIn(opt.Sysroot)), fsOf: memo(fsOf)}
	host := func(p string) string {
		if opt.Sysroot != "" && strings.HasPrefix(p, "/") {
			return opt.Sysroot + p
		}
		return p
	}
	hostExe := host(exe)
	exeSpec, err := elfspec.Read(hostExe)
	if err != nil {
		return nil, err
	}
	if exeSpec.ELF.Machine != machineOf(k.Arch) {
		return nil, fmt.Errorf("linux: %s is for %v, the kernel profile for %v", exe, exeSpec.ELF.Machine, k.Arch)
	}
	// A set-user-ID or set-group-ID program that changes the credentials
	// runs with ADDR_NO_RANDOMIZE cleared (PER_CLEAR_ON_SETID) and
	// AT_SECURE, in which ld.so ignores LD_LIBRARY_PATH and LD_PRELOAD.
	secure := changesCredentials(hostExe)
	if secure {
		if launch.NoRandomize {
			pr.Notes = append(pr.Notes, "the program is set-user-ID or set-group-ID: the kernel clears ADDR_NO_RANDOMIZE at exec, so it is placed randomised")
		}
		launch.NoRandomize = false
		pr.launch = launch
		pr.Notes = append(pr.Notes, "secure mode (AT_SECURE): LD_LIBRARY_PATH and LD_PRELOAD are ignored (glibc still honours slash-free LD_PRELOAD names of set-ID libraries in the system directories, which the model does not)")
	}
	in := ExecInput{Exe: exeSpec, ExeFile: File{Path: pr.realPath(hostExe), FS: pr.fsOf(hostExe)}, Filename: opt.Filename, Args: opt.Args, Env: opt.Env, Launch: launch}
	if in.Filename == "" {
		in.Filename = exe
	}
	if in.Args == nil {
		in.Args = []string{in.Filename}
	}
	if ip := exeSpec.ELF.Interp; ip != "" {
		if ldso.FlavorOf(ip) == ldso.FlavorMusl {
			return nil, fmt.Errorf("linux: %s is a musl program: only glibc's ld.so is placed", exe)
		}
		if in.Interp, err = elfspec.Read(host(ip)); err != nil {
			return nil, fmt.Errorf("linux: interpreter of %s: %w", exe, err)
		}
		in.InterpFile = File{Path: pr.realPath(host(ip)), FS: pr.fsOf(host(ip))}
		for _, s := range in.Interp.Segments {
			pr.interpEnd = max(pr.interpEnd, s.VMAddr+s.VMSize)
		}
	}
	pr.in = in
	if err := pr.k.checkArgs(in); err != nil {
		return nil, &StartError{Program: exe, Message: err.Error(), Err: err}
	}
	if in.Interp == nil {
		pr.Notes = append(pr.Notes, "a static program: the layout is the kernel's at exec; the program's libc then sets up its TLS (glibc: with brk, so a [heap] appears) before main, which the model does not place")
		return pr, nil
	}
	if _, err := os.Stat(host("/etc/ld.so.preload")); err == nil {
		return nil, fmt.Errorf("linux: %s exists: ld.so's handling of it is not modelled", host("/etc/ld.so.preload"))
	}
	// Record ld.so's start-up by running it once, at the zero draw.
	x, err := execute(&pr.k, in, Draw{})
	if err != nil {
		return nil, &StartError{Program: exe, Message: err.Error(), Err: err}
	}
	heap := pr.newRTLD(x)
	heap.record = &pr.ops
	r, err := ldso.NewResolver(opt.Sysroot)
	if err != nil {
		return nil, err
	}
	r.Flavor = ldso.FlavorGlibc
	r.WorkDir = opt.WorkDir
	env := envMap(opt.Env)
	if a := env["LD_AUDIT"]; a != "" && !secure {
		return nil, fmt.Errorf("linux: LD_AUDIT=%s: ld.so's start-up with audit modules (dlmopen namespaces, allocations moved before the libraries) is not placed by this model", a)
	}
	if r.Cache != nil && len(r.Cache.HWCapsSubdirs) > 0 {
		return nil, fmt.Errorf("linux: %s has glibc-hwcaps entries, whose lookup allocates in ld.so in a way this model does not replay", r.Cache.Path)
	}
	if !secure {
		r.LibraryPath = env["LD_LIBRARY_PATH"]
		r.Preload = strings.FieldsFunc(env["LD_PRELOAD"], func(c rune) bool { return c == ' ' || c == ':' })
	}
	var tunables []string
	for _, kv := range opt.Env {
		if v, ok := strings.CutPrefix(kv, "GLIBC_TUNABLES="); ok {
			tunables = append(tunables, v)
		}
	}
	r.MemoryOptions = ldso.MemoryOptions{Tunables: tunables, VDSO: len(k.VDSO) > 0}
	r.Memory = heap
	if r.Cache != nil {
		heap.cachePath = pr.realPath(r.Cache.Path)
	}
	ns, err := r.LoadProgram(exe)
	if err != nil {
		return nil, fmt.Errorf("linux: %s: %w", exe, err)
	}
	pr.ns = ns
	if len(ns.Missing) > 0 {
		return nil, &StartError{Program: exe, Message: "error while loading shared libraries: " + ns.Missing[0].Message()}
	}
	if err := pr.finishStartup(heap, x); err != nil {
		return nil, err
	}
	for _, name := range opt.Dlopen {
		if err := pr.dlopen(heap, name); err != nil {
			return nil, err
		}
	}
	return pr, nil
}

// Namespace returns ld.so's view of the program's objects (nil for a
// static program).
func (pr *Program) Namespace() *ldso.Namespace { return pr.ns }

// Kernel returns the kernel profile the program is placed with.
func (pr *Program) Kernel() Kernel { return pr.k }

// Launch returns the launch settings.
func (pr *Program) Launch() Launch { return pr.launch }

// Layout predicts where everything of the program exe lands at one draw:
// the kernel's exec, then glibc's ld.so loading the libraries in its
// order with its own allocations in between (glibc 2.36 x86_64), up to
// main, then the dlopens. It is Prepare followed by Program.Layout.
func Layout(exe string, d Draw, opt Options) (*Process, error) {
	pr, err := Prepare(exe, opt)
	if err != nil {
		return nil, err
	}
	return pr.Layout(d)
}

// Layout places the program at draw d.
func (pr *Program) Layout(d Draw) (*Process, error) {
	x, err := execute(&pr.k, pr.in, d)
	if err != nil {
		return nil, &StartError{Program: pr.exe, Message: err.Error(), Err: err}
	}
	p := &Process{Kernel: pr.k, Launch: pr.launch, Draw: d, Randomized: pr.k.Randomized(pr.launch), mm: x.MM, Stack: x.Stack, SP: x.SP, BrkStart: x.BrkStart, MmapBase: x.MM.MmapBase(), Namespace: pr.ns, Dlopens: pr.Dlopens(), sysroot: pr.opt.Sysroot}
	if !p.Randomized {
		p.Draw = Draw{}
	}
	p.Images = append(p.Images, x.Exe)
	if x.VDSO != nil {
		p.Images = append(p.Images, x.VDSO)
	}
	if x.Interp == nil {
		return p, nil
	}
	heap := pr.newRTLD(x)
	results := make([]uint64, len(pr.ops))
	for i, o := range pr.ops {
		var err error
		switch o.kind {
		case opMalloc:
			results[i], err = heap.Malloc(o.n)
		case opFree:
			heap.Free(results[o.ref])
		case opRealloc:
			var from uint64
			if o.ref >= 0 {
				from = results[o.ref]
			}
			results[i], err = heap.Realloc(from, o.n)
		case opMapCache:
			err = heap.MapCache(o.n)
		case opUnmapCache:
			err = heap.unmapCache()
		case opMapObject:
			err = heap.MapObject(o.obj)
		case opRELRO:
			img := x.Exe
			switch {
			case o.obj == pr.ns.Interp:
				img = x.Interp
			case o.obj != nil:
				img = heap.images[o.obj]
			}
			err = protectRELRO(x.MM, img)
		case opHeap:
			err = createHeap(x.MM)
		case opUnmapObject:
			err = heap.unmapObject(o.obj)
		}
		if err != nil {
			return nil, &StartError{Program: pr.exe, Message: err.Error()}
		}
	}
	for _, o := range pr.order {
		img := heap.images[o]
		if o == pr.ns.Interp {
			img = x.Interp
			img.Path = o.Path
		}
		p.Images = append(p.Images, img)
	}
	if p.TLS, err = pr.tlsProfile.InitialThreadBlock(pr.tlsStatic, vaspace.Addr(results[pr.tlsOp]), pr.k.PageSize); err != nil {
		return nil, err
	}
	p.DTV = results[pr.dtvOp] + 16
	p.DTVAlloc = vaspace.Range{Start: vaspace.Addr(results[pr.dtvOp]), End: vaspace.Addr(results[pr.dtvOp] + pr.ops[pr.dtvOp].n)}
	if err := p.growStack(pr.opt.StackUse); err != nil {
		return nil, err
	}
	return p, nil
}

// newRTLD returns ld.so's memory state for a process just exec'd.
func (pr *Program) newRTLD(x *Exec) *rtld {
	return &rtld{mm: x.MM, end: x.Interp.Bias + pr.interpEnd, owner: x.Interp.File, images: map[*ldso.Object]*Image{}, realPath: pr.realPath, fsOf: pr.fsOf, cachePath: "/etc/ld.so.cache"}
}

// finishStartup records the rest of ld.so's start-up (glibc 2.36
// elf/rtld.c dl_main after the libraries are mapped): the version tables,
// the TLS slot list, the initial thread's TLS block and DTV, the unique
// symbol table, _dl_find_object's table, the cache unmapped, RELRO
// protected.
func (pr *Program) finishStartup(heap *rtld, x *Exec) error {
	ns := pr.ns
	malloc := func(n uint64) (uint64, error) { return heap.Malloc(n) }
	// elf/dl-version.c: the program, the vDSO, then the rest of the
	// search list, each with a table sized by its largest version index.
	vdsoIdx := pr.opt.VDSOVersionIndex
	if vdsoIdx == 0 {
		vdsoIdx = 2
	}
	indexes := []int{ns.Main.Spec.ELF.VersionIndexMax}
	if x.VDSO != nil {
		indexes = append(indexes, vdsoIdx)
	}
	for _, o := range ns.SearchList[1:] {
		indexes = append(indexes, o.Spec.ELF.VersionIndexMax)
	}
	for _, h := range indexes {
		if h > 0 {
			if _, err := malloc(24 * uint64(h+1)); err != nil {
				return err
			}
		}
	}
	// init_tls: the slot list, the block, the DTV. The static TLS model
	// is given every start-up object, as vasim tls gives it, so that the
	// dlopens after main are decided by the same model.
	pr.tlsMods = map[*ldso.Object]*tls.Module{}
	mods, err := pr.tlsModules(ns.Objects)
	if err != nil {
		return err
	}
	var ntls uint64
	for _, m := range mods {
		if m.TLS != nil {
			ntls++
		}
	}
	if _, err := malloc(16 + 16*(ntls+63)); err != nil {
		return err
	}
	v, ok := ns.Resolver().GlibcVersion()
	if !ok {
		var err error
		if v, err = glibcVersion(ns); err != nil {
			return err
		}
	}
	prof, err := tls.GlibcProfile(v, pr.k.Arch)
	if err != nil {
		return err
	}
	env := envMap(pr.opt.Env)
	tun := tls.DefaultTunables()
	if t, ok := env["GLIBC_TUNABLES"]; ok {
		if tun, err = tls.ParseTunables(t); err != nil {
			return err
		}
	}
	g, err := tls.StartGlibc(prof, mods, tls.StartOptions{Tunables: tun, ProgramName: ns.Main.Program, BindNow: env["LD_BIND_NOW"] != ""})
	if err != nil {
		return &StartError{Program: ns.Main.Program, Message: err.Error()}
	}
	pr.tlsState = g
	pr.tlsProfile, pr.tlsStatic = prof, g.Static()
	probe, err := prof.InitialThreadBlock(pr.tlsStatic, 0, pr.k.PageSize)
	if err != nil {
		return err
	}
	pr.tlsOp = len(pr.ops)
	if _, err := malloc(probe.Alloc.Len()); err != nil {
		return err
	}
	pr.dtvOp = len(pr.ops)
	if _, err := malloc(16 * (ntls + 16)); err != nil {
		return err
	}
	// Relocation: the unique-symbol table.
	n, err := uniqueSymbols(ns.SearchList)
	if err != nil {
		return fmt.Errorf("linux: unique symbols: %w", err)
	}
	if err := uniqueTable(heap, n); err != nil {
		return err
	}
	// _dl_find_object_init: every object but the program, plus the
	// program's segments when they are not contiguous.
	nobj := uint64(len(ns.Objects) - 1)
	if x.VDSO != nil {
		nobj++
	}
	if !contiguous(ns.Main.Spec, pr.k.PageSize) {
		nobj += uint64(len(ns.Main.Spec.Segments))
	}
	if _, err := malloc(32 * nobj); err != nil {
		return err
	}
	if err := heap.unmapCache(); err != nil {
		return err
	}
	ns.ResetCache()
	// RELRO, object by object.
	pr.order = append(pr.order, ns.Objects[1:]...)
	for _, o := range ns.Objects {
		obj := o
		if o.IsMain() {
			obj = nil
		}
		if err := heap.relro(obj, x, pr.ns.Interp); err != nil {
			return err
		}
	}
	return nil
}

// growStack grows the stack VMA down to what start-up touches below the
// initial stack pointer (Options.StackUse).
func (p *Process) growStack(use uint64) error {
	if use == 0 {
		use = DefaultStackUse
	}
	low := alignDown(p.SP-use, p.Kernel.PageSize)
	if low >= uint64(p.Stack.Start) {
		return nil
	}
	m, ok := p.mm.space.At(p.Stack.Start)
	if !ok {
		return fmt.Errorf("linux: the stack %v is not mapped", p.Stack)
	}
	if err := p.mm.space.Unmap(p.Stack); err != nil {
		return err
	}
	p.Stack.Start = vaspace.Addr(low)
	m.Range = p.Stack
	if err := p.mm.space.Map(m); err != nil {
		return fmt.Errorf("linux: the stack grows into %w", err)
	}
	p.mm.stack = p.Stack
	return nil
}

// DlopenOutcome is what one of Options.Dlopen did.
type DlopenOutcome struct {
	// Name is the name given to dlopen; Path the object it found (glibc's
	// l_name).
	Name, Path string
	// OK says the dlopen succeeded. A failed one left nothing mapped:
	// glibc unmaps what it loaded (elf/dl-open.c _dl_open calls
	// _dl_close_worker), and the program goes on, as one that checks
	// dlopen's result does.
	OK bool
	// Message is dlerror()'s text for a failure, in glibc's words
	// ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2: cannot allocate memory
	// in static TLS block").
	Message string
	// Failure is the static TLS model's account of the failure (package
	// tls): its kind, and for want of static TLS the bytes needed and
	// free.
	Failure *tls.Failure
}

// ErrDlopenMissing classifies a library named to dlopen that ld.so's
// search does not find, or finds as something it cannot load as a
// library: a mistyped name or path, which is bad input rather than a
// prediction (see DlopenError).
var ErrDlopenMissing = errors.New("linux: the library to dlopen is missing")

// DlopenError is a name given to dlopen that is not found, or names
// something other than a shared library: the real dlopen fails with
// Missing's message (Missing.Searched lists where ld.so looked).
type DlopenError struct {
	Name    string
	Missing ldso.MissingLibrary
}

func (e *DlopenError) Error() string {
	return "dlopen " + e.Name + ": " + e.Missing.Message()
}

// Is makes errors.Is(err, ErrDlopenMissing) true.
func (e *DlopenError) Is(target error) bool { return target == ErrDlopenMissing }

// Dlopens returns the outcome of each of Options.Dlopen, in order.
func (pr *Program) Dlopens() []DlopenOutcome { return append([]DlopenOutcome(nil), pr.dlopens...) }

// dlopen records a dlopen after main started (glibc 2.36 elf/dl-open.c):
// the objects it needs mapped by ld.so as at start-up, the cache mapped
// again for the lookups; then the static TLS model (package tls, the
// model vasim tls runs) relocates them, which fails the dlopen when an
// initial-exec block does not fit in what is left of the static TLS
// block ("cannot allocate memory in static TLS block", elf/dl-reloc.c
// _dl_allocate_static_tls) or a dependency is missing. _dl_open then
// unmaps the cache and, for a failure, unmaps every object the dlopen
// loaded (_dl_close_worker); for a success, RELRO is protected. Either
// way libc's heap is created by the first malloc.
//
// A name that is not found at all, or names no library, is returned as a
// *DlopenError: bad input, not a prediction.
func (pr *Program) dlopen(heap *rtld, name string) error {
	ns := pr.ns
	res := ns.Dlopen(name, ns.Main)
	if err := ns.MemoryError(); err != nil {
		return err
	}
	if res.Root == nil {
		m := ldso.MissingLibrary{Name: name, NeededBy: ns.Main.Label()}
		if len(res.Missing) > 0 {
			m = res.Missing[0]
		}
		return &DlopenError{Name: name, Missing: m}
	}
	for _, m := range res.Missing {
		var le *ldso.LoadError
		if m.Err != nil && !errors.As(m.Err, &le) {
			return fmt.Errorf("linux: dlopen %s: %s (needed by %s): %w", name, m.Name, m.NeededBy, m.Err)
		}
	}
	req := &tls.DlopenRequest{Name: name, Missing: res.Missing, Now: true}
	if len(res.Missing) == 0 {
		var err error
		if req.Root, err = pr.tlsModule(res.Root); err != nil {
			return err
		}
		if req.SearchList, err = pr.tlsModules(res.SearchList); err != nil {
			return err
		}
	}
	out := pr.tlsState.Dlopen(req)
	if err := heap.unmapCache(); err != nil {
		return err
	}
	ns.ResetCache()
	d := DlopenOutcome{Name: name, Path: res.Root.Path, OK: out.OK, Message: out.Error, Failure: out.Failure}
	pr.dlopens = append(pr.dlopens, d)
	if !out.OK {
		for _, o := range res.New {
			if _, mapped := heap.images[o]; mapped {
				if err := heap.unmapObject(o); err != nil {
					return err
				}
			}
			delete(pr.tlsMods, o)
		}
		if len(res.Missing) == 0 {
			ns.Unload(res.New...) // ns.Dlopen unloaded them when something was missing
		}
		return heap.heap()
	}
	for _, o := range res.New {
		pr.order = append(pr.order, o)
		if err := heap.relro(o, nil, nil); err != nil {
			return err
		}
	}
	return heap.heap()
}

// tlsModule returns the static TLS model's module for o, building it (and
// its dependencies' modules) the first time, as vasim tls builds them
// (tls.Run): the main program unnamed but for its program name, each
// module's Deps its DT_NEEDED objects.
func (pr *Program) tlsModule(o *ldso.Object) (*tls.Module, error) {
	if m, ok := pr.tlsMods[o]; ok {
		return m, nil
	}
	m, err := tls.ModuleFromSpec(o.Spec, o.Label())
	if err != nil {
		return nil, err
	}
	m.Main = o.IsMain()
	if m.Main {
		m.Path, m.Name = "", o.Program
	}
	pr.tlsMods[o] = m
	for _, d := range o.Deps {
		dm, err := pr.tlsModule(d)
		if err != nil {
			return nil, err
		}
		m.Deps = append(m.Deps, dm)
	}
	return m, nil
}

// tlsModules is tlsModule for each of objs.
func (pr *Program) tlsModules(objs []*ldso.Object) ([]*tls.Module, error) {
	out := make([]*tls.Module, 0, len(objs))
	for _, o := range objs {
		m, err := pr.tlsModule(o)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// createHeap is glibc malloc's first brk: start_brk + 132 KiB (M_TOP_PAD
// of 128 KiB plus the request, page-rounded).
func createHeap(mm *MM) error {
	if mm.brk != mm.startBrk {
		return nil
	}
	mm.brk = mm.startBrk + 0x21000
	h := vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(mm.startBrk), End: vaspace.Addr(mm.brk)}, Name: "[heap]", Prot: vaspace.ProtRW, Kind: vaspace.KindHeap, Flags: FlagAccount}
	if err := mm.space.Map(h); err != nil {
		return fmt.Errorf("the heap at %v: %w", h.Range, err)
	}
	return nil
}

// memo caches a function of a path.
func memo(f func(string) string) func(string) string {
	var mu sync.Mutex
	m := map[string]string{}
	return func(p string) string {
		mu.Lock()
		defer mu.Unlock()
		if v, ok := m[p]; ok {
			return v
		}
		v := f(p)
		m[p] = v
		return v
	}
}

// contiguous reports whether the image's segments follow each other
// page by page (glibc's _dl_find_object treats the program as one range
// only then).
func contiguous(s *loader.ImageSpec, page uint64) bool {
	var next uint64
	for i, seg := range s.Segments {
		start := alignDown(seg.VMAddr, page)
		if i > 0 && start != next {
			return false
		}
		next = alignUp(seg.VMAddr+seg.VMSize, page)
	}
	return true
}

func (o *Options) settings() (Kernel, Launch, error) {
	var k Kernel
	if o.Kernel != nil {
		k = *o.Kernel
	} else {
		var err error
		if k, err = HostKernel(); err != nil {
			return Kernel{}, Launch{}, err
		}
	}
	if err := k.Validate(); err != nil {
		return Kernel{}, Launch{}, err
	}
	var l Launch
	if o.Launch != nil {
		l = *o.Launch
	} else {
		var err error
		if l, err = HostLaunch(); err != nil {
			return Kernel{}, Launch{}, err
		}
	}
	if l.StackLimit < k.PageSize {
		return Kernel{}, Launch{}, fmt.Errorf("linux: stack limit %#x is below a page", l.StackLimit)
	}
	return k, l, nil
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := m[k]; !ok { // getenv returns the first
			m[k] = v
		}
	}
	return m
}

func machineOf(a loader.Arch) elf.Machine {
	switch a {
	case loader.ArchX86_64:
		return elf.EM_X86_64
	case loader.ArchAArch64:
		return elf.EM_AARCH64
	}
	return elf.EM_NONE
}

// glibcVersion is the release of the namespace's libc.
func glibcVersion(ns *ldso.Namespace) (ldso.GlibcVersion, error) {
	d, ok, err := ns.DetectGlibc()
	if err != nil {
		return ldso.GlibcVersion{}, err
	}
	if !ok {
		return ldso.GlibcVersion{}, fmt.Errorf("linux: %s loads no glibc libc.so.6", ns.Main.Program)
	}
	return d.Version, nil
}
