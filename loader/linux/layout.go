package linux

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"

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
	// allocate_dtv).
	DTV uint64
	// Namespace is ld.so's view: the objects, how each was found.
	Namespace *ldso.Namespace
}

// Space returns the mappings.
func (p *Process) Space() *vaspace.Space { return p.mm.space }

// Maps renders the layout as /proc/PID/maps shows it.
func (p *Process) Maps() []MapsLine { return MapsOf(p.mm.space, p.mm.startBrk, p.mm.brk) }

// ErrStart classifies a program that would not reach main: a library
// cannot be found, or the layout does not fit.
var ErrStart = errors.New("the program does not start")

// StartError says why the program would not start, in ld.so's words
// where ld.so would print them.
type StartError struct {
	Program string
	Message string
}

func (e *StartError) Error() string { return e.Program + ": " + e.Message }

// Unwrap returns ErrStart.
func (e *StartError) Unwrap() error { return ErrStart }

// HostLaunch returns this process's personality-free launch settings:
// its stack rlimit.
func HostLaunch() (Launch, error) {
	lim, err := stackLimit()
	if err != nil {
		return Launch{}, fmt.Errorf("linux: stack rlimit: %w", err)
	}
	return Launch{StackLimit: lim}, nil
}

// Layout predicts where everything of the program exe lands at one draw:
// the kernel's exec, then glibc's ld.so loading the libraries in its
// order with its own allocations in between (glibc 2.36 x86_64), up to
// main, then the dlopens.
func Layout(exe string, d Draw, opt Options) (*Process, error) {
	k, launch, err := opt.settings()
	if err != nil {
		return nil, err
	}
	r, err := ldso.NewResolver(opt.Sysroot)
	if err != nil {
		return nil, err
	}
	r.Flavor = ldso.FlavorGlibc
	r.WorkDir = opt.WorkDir
	env := envMap(opt.Env)
	r.LibraryPath = env["LD_LIBRARY_PATH"]
	r.Preload = strings.FieldsFunc(env["LD_PRELOAD"], func(c rune) bool { return c == ' ' || c == ':' })
	var tunables []string
	for _, kv := range opt.Env {
		if v, ok := strings.CutPrefix(kv, "GLIBC_TUNABLES="); ok {
			tunables = append(tunables, v)
		}
	}
	r.MemoryOptions = ldso.MemoryOptions{Tunables: tunables, VDSO: len(k.VDSO) > 0}

	hostExe := r.Sysroot + exe
	if r.Sysroot == "" {
		hostExe = exe
	}
	exeSpec, err := elfspec.Read(hostExe)
	if err != nil {
		return nil, err
	}
	if exeSpec.ELF.Machine != machineOf(k.Arch) {
		return nil, fmt.Errorf("linux: %s is for %v, the kernel profile for %v", exe, exeSpec.ELF.Machine, k.Arch)
	}
	fsOf := opt.FileSystem
	if fsOf == nil {
		fsOf = fileSystem
	}
	realPath := realPathIn(opt.Sysroot)
	in := ExecInput{Exe: exeSpec, ExeFile: File{Path: realPath(hostExe), FS: fsOf(hostExe)}, Filename: opt.Filename, Args: opt.Args, Env: opt.Env, Launch: launch}
	if in.Filename == "" {
		in.Filename = exe
	}
	if in.Args == nil {
		in.Args = []string{in.Filename}
	}
	var interpHost string
	if ip := exeSpec.ELF.Interp; ip != "" {
		interpHost = ip
		if opt.Sysroot != "" {
			interpHost = opt.Sysroot + ip
		}
		if in.Interp, err = elfspec.Read(interpHost); err != nil {
			return nil, fmt.Errorf("linux: interpreter of %s: %w", exe, err)
		}
		if f := ldso.FlavorOf(ip); f == ldso.FlavorMusl {
			return nil, fmt.Errorf("linux: %s is a musl program: only glibc's ld.so is placed", exe)
		}
		in.InterpFile = File{Path: realPath(interpHost), FS: fsOf(interpHost)}
	}
	x, err := execute(&k, in, d)
	if err != nil {
		return nil, &StartError{Program: exe, Message: err.Error()}
	}
	p := &Process{Kernel: k, Launch: launch, Draw: d, Randomized: k.Randomized(launch), mm: x.MM, Stack: x.Stack, SP: x.SP, BrkStart: x.BrkStart, MmapBase: x.MM.MmapBase()}
	if !p.Randomized {
		p.Draw = Draw{}
	}
	if x.Interp == nil {
		// A static program: nothing but the kernel's mappings.
		p.Images = append(p.Images, x.Exe)
		if x.VDSO != nil {
			p.Images = append(p.Images, x.VDSO)
		}
		return p, nil
	}
	if _, err := os.Stat(r.Sysroot + "/etc/ld.so.preload"); err == nil {
		return nil, fmt.Errorf("linux: %s/etc/ld.so.preload exists: ld.so's handling of it is not modelled", r.Sysroot)
	}
	var end uint64
	for _, s := range in.Interp.Segments {
		end = max(end, x.Interp.Bias+s.VMAddr+s.VMSize)
	}
	heap := &rtld{mm: x.MM, end: end, images: map[*ldso.Object]*Image{}, realPath: realPath, fsOf: fsOf, cachePath: "/etc/ld.so.cache"}
	if r.Cache != nil {
		heap.cachePath = realPath(r.Cache.Path)
	}
	r.Memory = heap
	ns, err := r.LoadProgram(exe)
	if err != nil {
		return nil, fmt.Errorf("linux: %s: %w", exe, err)
	}
	p.Namespace = ns
	if len(ns.Missing) > 0 {
		return nil, &StartError{Program: exe, Message: "error while loading shared libraries: " + ns.Missing[0].Message()}
	}
	if err := p.finishStartup(ns, heap, x, opt); err != nil {
		return nil, err
	}
	for _, name := range opt.Dlopen {
		if err := p.dlopen(ns, heap, name); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// finishStartup replays the rest of ld.so's start-up (glibc 2.36
// elf/rtld.c dl_main after the libraries are mapped): the version tables,
// the TLS slot list, the initial thread's TLS block and DTV, the unique
// symbol table, _dl_find_object's table, the cache unmapped, RELRO
// protected; then the stack as start-up leaves it.
func (p *Process) finishStartup(ns *ldso.Namespace, heap *rtld, x *Exec, opt Options) error {
	malloc := func(n uint64) (uint64, error) { return heap.Malloc(n) }
	// elf/dl-version.c: the program, the vDSO, then the rest of the
	// search list, each with a table sized by its largest version index.
	vdsoIdx := opt.VDSOVersionIndex
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
	// init_tls: the slot list, the block, the DTV.
	var mods []*tls.Module
	for _, o := range ns.Objects {
		if o.Spec.TLS == nil {
			continue
		}
		m, err := tls.ModuleFromSpec(o.Spec, o.Path)
		if err != nil {
			return err
		}
		m.Main = o.IsMain()
		mods = append(mods, m)
	}
	ntls := uint64(len(mods))
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
	prof, err := tls.GlibcProfile(v, p.Kernel.Arch)
	if err != nil {
		return err
	}
	tun := tls.DefaultTunables()
	if t, ok := envMap(opt.Env)["GLIBC_TUNABLES"]; ok {
		if tun, err = tls.ParseTunables(t); err != nil {
			return err
		}
	}
	g, err := tls.StartGlibc(prof, mods, tls.StartOptions{Tunables: tun, ProgramName: ns.Main.Program})
	if err != nil {
		return &StartError{Program: ns.Main.Program, Message: err.Error()}
	}
	st := g.Static()
	probe, err := prof.InitialThreadBlock(st, 0, p.Kernel.PageSize)
	if err != nil {
		return err
	}
	at, err := malloc(probe.Alloc.Len())
	if err != nil {
		return err
	}
	if p.TLS, err = prof.InitialThreadBlock(st, vaspace.Addr(at), p.Kernel.PageSize); err != nil {
		return err
	}
	dtv, err := malloc(16 * (ntls + 16))
	if err != nil {
		return err
	}
	p.DTV = dtv + 16
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
	if !contiguous(ns.Main.Spec, p.Kernel.PageSize) {
		nobj += uint64(len(ns.Main.Spec.Segments))
	}
	if _, err := malloc(32 * nobj); err != nil {
		return err
	}
	if err := heap.unmapCache(); err != nil {
		return err
	}
	ns.ResetCache()
	// Images in link-map order, RELRO.
	p.Images = append(p.Images, x.Exe)
	if x.VDSO != nil {
		p.Images = append(p.Images, x.VDSO)
	}
	for _, o := range ns.Objects[1:] {
		img := heap.images[o]
		if o == ns.Interp {
			img = x.Interp
			img.Path = o.Path
		}
		if img == nil {
			return fmt.Errorf("linux: %s was loaded but not mapped", o.Label())
		}
		p.Images = append(p.Images, img)
	}
	for _, img := range p.Images {
		if img.Spec != nil {
			if err := protectRELRO(p.mm, img); err != nil {
				return err
			}
		}
	}
	// The stack as start-up leaves it.
	use := opt.StackUse
	if use == 0 {
		use = DefaultStackUse
	}
	if low := alignDown(p.SP-use, p.Kernel.PageSize); low < uint64(p.Stack.Start) {
		grown := vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(low), End: p.Stack.Start}, Name: "[stack]", Prot: vaspace.ProtRW, Kind: vaspace.KindStack}
		m, _ := p.mm.space.At(p.Stack.Start)
		grown.Prot = m.Prot
		if err := p.mm.space.Unmap(p.Stack); err != nil {
			return err
		}
		p.Stack.Start = grown.Start
		grown.Range = p.Stack
		if err := p.mm.space.Map(grown); err != nil {
			return fmt.Errorf("linux: the stack grows into %w", err)
		}
		p.mm.stack = p.Stack
	}
	return nil
}

// dlopen loads a library after main started: the objects it needs mapped
// by ld.so as at start-up (the cache mapped again for the lookups and
// unmapped at the end), RELRO protected, and libc's heap created by the
// first malloc (brk to start_brk + 132 KiB: glibc's M_TOP_PAD of 128 KiB
// plus the request).
func (p *Process) dlopen(ns *ldso.Namespace, heap *rtld, name string) error {
	res := ns.Dlopen(name, ns.Main)
	if err := ns.MemoryError(); err != nil {
		return err
	}
	if len(res.Missing) > 0 || res.Root == nil {
		msg := "not found"
		if len(res.Missing) > 0 {
			msg = res.Missing[0].Message()
		}
		return &StartError{Program: ns.Main.Program, Message: "dlopen " + name + ": " + msg}
	}
	if err := heap.unmapCache(); err != nil {
		return err
	}
	ns.ResetCache()
	for _, o := range res.New {
		img := heap.images[o]
		if img == nil {
			return fmt.Errorf("linux: %s was loaded but not mapped", o.Label())
		}
		p.Images = append(p.Images, img)
		if err := protectRELRO(p.mm, img); err != nil {
			return err
		}
	}
	if p.mm.brk == p.mm.startBrk {
		p.mm.brk = p.mm.startBrk + 0x21000
		h := vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(p.mm.startBrk), End: vaspace.Addr(p.mm.brk)}, Name: "[heap]", Prot: vaspace.ProtRW, Kind: vaspace.KindHeap}
		if err := p.mm.space.Map(h); err != nil {
			return fmt.Errorf("linux: the heap at %v: %w", h.Range, err)
		}
	}
	return nil
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
