// Package ldso resolves an ELF program's libraries the way glibc's ld.so
// does, without running anything: the search order (DT_RPATH,
// LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, the system directories
// with their glibc-hwcaps subdirectories), the dynamic string tokens, the
// breadth-first start-up order, dlopen, dlmopen and dlclose. It also reads
// ld.so.cache files and finds the glibc release a tree ships.
package ldso

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vasim/vasim/internal/input"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/elfspec"
)

// The model: glibc 2.36 elf/dl-load.c _dl_map_object, open_path, fillin_rpath,
// _dl_dst_substitute; elf/dl-deps.c _dl_map_object_deps; elf/rtld.c for
// the start-up order). Unlike ldd, which runs the loader on the program,
// a Resolver only reads files, so it works on a foreign tree (Sysroot) and
// on programs that must not be run.

// Resolver finds libraries the way ld.so does. The zero value searches
// nothing but explicit paths; NewResolver sets Detect, so that what is
// left unset is taken from the program and the machine (see Detect).
type Resolver struct {
	// Flavor is the loader whose rules apply; FlavorAuto picks it from
	// the program's interpreter.
	Flavor Flavor
	// Sysroot, when set, prefixes every absolute path the resolver opens,
	// so a foreign tree can be resolved as if it were /. Paths reported
	// (Object.Path) stay as the target sees them.
	Sysroot string
	// SysrootFallback looks an absolute path up as is when it is not
	// under Sysroot, as qemu-user's -L does for the programs it runs
	// (linux-user/path.c path()): a cross program built in /tmp runs
	// against a target sysroot's libraries.
	SysrootFallback bool
	// LibraryPath is LD_LIBRARY_PATH (':' or ';' separated).
	LibraryPath string
	// Preload lists LD_PRELOAD entries (already split).
	Preload []string
	// Cache is the ld.so.cache to consult, or nil for none.
	Cache *LDCache
	// CacheOptions are the machine facts for cache lookups.
	CacheOptions CacheLookupOptions
	// SystemDirs are the default directories, searched last.
	SystemDirs []string
	// Subdirs are tried inside each search directory, "" standing for the
	// directory itself (see HWCaps.Subdirs); nil means only the directory.
	Subdirs []string
	// Detect makes LoadProgram fill in what is left unset from the
	// program and the machine: SystemDirs, Lib, Platform and the cache's
	// machine from the program's architecture (Debian's multiarch
	// layout, as "ld.so --help" lists it), and Subdirs and the cache's
	// glibc-hwcaps levels from the glibc release of the program's
	// interpreter and from CPU (see DetectHWCaps). For musl, SystemDirs
	// come from its path file (see MuslSystemDirs).
	Detect bool
	// CPU is the processor Subdirs are chosen for; nil means this
	// machine's (HostCPU).
	CPU *CPU
	// Lib and Platform are what $LIB and $PLATFORM expand to. Measured
	// with DT_RPATH on Debian glibc 2.36 x86_64: "lib/x86_64-linux-gnu"
	// and "x86_64".
	Lib, Platform string
	// Machine and Class are the process's; candidates of another machine
	// or class are skipped as open_verify does. Zero: taken from the main
	// program.
	Machine elf.Machine
	Class   elf.Class

	// WorkDir is the program's current directory, in which relative
	// paths and empty search-path elements are taken; "" means vasim's
	// own.
	WorkDir string

	// Memory, when set, receives glibc's start-up allocations and
	// mappings in order (see Memory); MemoryOptions say what they depend
	// on besides the search.
	Memory        Memory
	MemoryOptions MemoryOptions

	// hw and version are what Detect found (zero without it).
	hw      HWCaps
	version GlibcVersion

	// specs caches what each existing file read as (bounded by the files
	// the tree holds: absent paths are not cached); dirs caches whether
	// each search directory exists, as ld.so's r_search_path_elem status
	// does, so a directory found missing once is not tried again
	// (elf/dl-load.c open_path).
	specs map[string]*specResult
	dirs  map[string]bool
	// lookups counts file-system lookups, for tests of the cost.
	lookups int
	// libraryPath and systemDirs are LibraryPath and SystemDirs as
	// searchDirs, computed on first use.
	libraryPath, systemDirs *[]searchDir
}

type specResult struct {
	spec *loader.ImageSpec
	err  error
	fi   os.FileInfo
}

// NewResolver returns a Resolver for the given sysroot ("" for this
// machine) that detects its defaults from the program it loads (Detect),
// with the ld.so.cache read from <sysroot>/etc/ld.so.cache when it exists.
func NewResolver(sysroot string) (*Resolver, error) {
	r := &Resolver{Sysroot: sysroot, Detect: true}
	cachePath := filepath.Join(sysroot, "/etc/ld.so.cache")
	if _, err := os.Stat(cachePath); err == nil {
		c, err := ReadLDCache(cachePath)
		if err != nil {
			return nil, err
		}
		r.Cache = c
	}
	return r, nil
}

// Object is one loaded object: what ld.so's link map records about where
// the object came from.
type Object struct {
	// Spec is the parsed file.
	Spec *loader.ImageSpec
	// Path is glibc's l_name: the path the object was opened under, as the
	// target sees it (search directory + name, a cache entry, or the name
	// itself when it contains a slash). Empty for the main program, as in
	// glibc; see Program for its path.
	Path string
	// HostPath is the file actually read (Path under the Sysroot).
	HostPath string
	// Names are the names the object has been requested under (glibc's
	// l_libname list), including its SONAME once matched.
	Names []string
	// Loader is the object whose DT_NEEDED (or dlopen) caused the load
	// (glibc l_loader): the main program for LD_PRELOAD objects (elf/rtld.c
	// do_preload); nil for the main program and the interpreter.
	Loader *Object
	// Deps are the resolved DT_NEEDED entries in order (duplicates kept),
	// recorded when the object was first loaded (glibc's per-object
	// l_initfini, used to sort relocation and destructor order).
	Deps []*Object
	// Via says how the object was found: "main program", "LD_PRELOAD",
	// "interpreter", "RPATH of <path>", "LD_LIBRARY_PATH",
	// "RUNPATH of <path>", "ld.so.cache", "system search path", or
	// "path" (the name had a slash).
	Via string
	// Program is the main program's path as given (main object only).
	Program string
	// Unloaded marks an object dlclose removed; it no longer matches
	// names.
	Unloaded bool

	fi     os.FileInfo
	origin string
	isMain bool
	// shortname is the file name of an object found by a search, which
	// musl matches later names against.
	shortname string
	// rpath and runpath are the object's DT_RPATH and DT_RUNPATH split,
	// expanded and combined with the subdirectories, once (glibc
	// decomposes them once per object too: elf/dl-load.c
	// decompose_rpath, l_rpath_dirs, l_runpath_dirs).
	rpath, runpath *[]searchDir
	// initfini says the object's needed[] list was recorded (glibc
	// l_initfini), so later walks do not allocate another.
	initfini bool
}

// searchDir is one directory a search tries, with its subdirectory
// applied: as the target sees it, and on the host.
type searchDir struct{ target, host string }

// searchDirs combines dirs with the subdirectories (see Subdirs), in
// ld.so's order: each directory's subdirectories, then the directory.
func (r *Resolver) searchDirs(dirs []string) []searchDir {
	var out []searchDir
	for _, d := range dirs {
		for _, sub := range r.subdirs() {
			dir := d
			if sub != "" {
				dir = joinDir(d, sub)
			}
			out = append(out, searchDir{dir, r.host(dirOrDot(dir))})
		}
	}
	return out
}

// searchPath returns o's DT_RPATH (runpath false) or DT_RUNPATH
// directories, computing them once, when a search first reaches them
// (glibc decomposes a library's lists lazily, the program's at start-up).
func (p *Namespace) searchPath(o *Object, runpath bool) []searchDir {
	r := p.r
	cache, value := &o.rpath, o.Spec.ELF.RPath
	if runpath {
		cache, value = &o.runpath, o.Spec.ELF.RunPath
	}
	if *cache == nil {
		dirs := r.searchDirs(r.pathList(value, ":", o))
		*cache = &dirs
		if !o.isMain && p.startupMem() != nil {
			p.decompose(o, value)
		}
	}
	return **cache
}

// Label returns Path, or the program path for the main object.
func (o *Object) Label() string {
	if o.isMain {
		return o.Program
	}
	return o.Path
}

// IsMain reports whether o is the main program.
func (o *Object) IsMain() bool { return o.isMain }

// MissingLibrary is a DT_NEEDED (or dlopen) name that no search found, or
// whose search stopped at a file that is not a loadable ELF object.
type MissingLibrary struct {
	Name     string // as written in DT_NEEDED
	NeededBy string // Label of the object that needed it
	Searched []string
	// Err, when set, is why the search stopped at the last path in
	// Searched: glibc's open_verify fails the whole load there instead
	// of trying the next directory (elf/dl-load.c); only a file of
	// another ELF class or machine is skipped. A *LoadError is what ld.so
	// itself reports (a directory, a short file, no ELF magic); any other
	// error (a *loader.FileError) is a file ld.so may well load but
	// vasim cannot read.
	Err error
	// Flavor is the loader that failed, which decides the message.
	Flavor Flavor
	// Dependency marks a name from NeededBy's DT_NEEDED, rather than one
	// given to dlopen or LD_PRELOAD.
	Dependency bool
}

// Message is what the loader reports for the failure: glibc's after
// "error while loading shared libraries: " at start-up or as dlerror()
// after a dlopen ("libx.so: cannot open shared object file: No such file
// or directory", "/tmp: cannot read file data: Is a directory"); musl's
// from its error() calls ("Error loading shared library libx.so: No such
// file or directory (needed by /opt/liby.so)").
func (m MissingLibrary) Message() string {
	var le *LoadError
	isLoad := errors.As(m.Err, &le)
	if m.Flavor == FlavorMusl {
		errno := syscall.ENOENT
		if isLoad {
			errno = le.Errno
		}
		msg := "Error loading shared library " + m.Name + ": " + errnoText(errno)
		if m.Dependency {
			msg += " (needed by " + m.NeededBy + ")"
		}
		return msg
	}
	if isLoad {
		return le.Error()
	}
	if m.Err != nil {
		// A file vasim cannot read as an object (truncated, hostile):
		// say what is wrong with it rather than that it is missing.
		return m.Name + ": " + m.Err.Error()
	}
	return m.Name + ": cannot open shared object file: No such file or directory"
}

// errnoText is strerror(e) as glibc and musl spell it for the errors a
// load meets.
func errnoText(e syscall.Errno) string {
	switch e {
	case syscall.ENOENT:
		return "No such file or directory"
	case syscall.EISDIR:
		return "Is a directory"
	case syscall.ENOEXEC:
		return "Exec format error"
	}
	return e.Error()
}

func (m MissingLibrary) String() string {
	if m.Err != nil {
		return fmt.Sprintf("%s (needed by %s): %v", m.Name, m.NeededBy, m.Err)
	}
	return fmt.Sprintf("%s (needed by %s): cannot open shared object file: No such file or directory", m.Name, m.NeededBy)
}

// LoadError is a file ld.so finds and then refuses, with the message
// glibc 2.36's open_verify gives (elf/dl-load.c): "cannot read file data:
// Is a directory" for a directory, "file too short" for one shorter than
// an ELF header (an empty file, /dev/null), "invalid ELF header" for one
// without the ELF magic (/dev/zero, a script, a linker script such as
// libc.so). The load fails; Error is dlerror()'s text.
type LoadError struct {
	Path    string // the path ld.so opened, as the target sees it
	Message string
	// Errno is the error musl's loader meets on the same file: EISDIR for
	// a directory, ENOEXEC for the rest (ldso/dynlink.c map_library).
	Errno syscall.Errno
}

func (e *LoadError) Error() string { return e.Path + ": " + e.Message }

// notLoadable returns glibc's reason for refusing to load spec as a
// dependency or with dlopen, or "": an executable cannot be, since it is
// not possible to relocate it, handle its static TLS or run its
// constructors (glibc 2.36 elf/dl-load.c _dl_map_object_from_fd: "cannot
// dynamically load executable" for ET_EXEC; "cannot dynamically load
// position-independent executable" for DF_1_PIE, checked since 2.30).
// musl loads both.
func (r *Resolver) notLoadable(spec *loader.ImageSpec) string {
	e := spec.ELF
	if r.Flavor == FlavorMusl || e == nil {
		return ""
	}
	switch {
	case e.Type == elf.ET_EXEC:
		return "cannot dynamically load executable"
	case e.Flags1&elf.DF_1_PIE != 0 && (r.version.IsZero() || r.version.AtLeast(2, 30)):
		return "cannot dynamically load position-independent executable"
	}
	return ""
}

// elfHeaderSize is sizeof(Elf64_Ehdr): open_verify reads this much first.
const elfHeaderSize = 64

// Namespace is one link-map namespace: the objects loaded into it, in
// glibc's link-map order (the main namespace, LM_ID_BASE, for a program;
// a fresh one for each dlmopen(LM_ID_NEWLM) and LD_AUDIT module).
type Namespace struct {
	r *Resolver
	// Objects in load order: the main program, LD_PRELOAD objects, then
	// the DT_NEEDED graph breadth-first (glibc _dl_map_object_deps), the
	// interpreter where the graph first names it; later dlopens append.
	Objects []*Object
	// Main is the main program, Interp the program interpreter (nil when
	// the program has none or it was not found).
	Main, Interp *Object
	// SearchList is the main program's search list after start-up: the
	// program, the LD_PRELOAD objects, then the DT_NEEDED closure
	// breadth-first (glibc l_searchlist).
	SearchList []*Object
	// Missing lists libraries not found at start-up, in the order met.
	Missing []MissingLibrary
	// Warnings records files skipped during searches (wrong machine or
	// class, unreadable), as ld.so silently skips them, each once.
	Warnings []string
	warned   map[string]bool
	// mem replays the start-up memory operations (nil without
	// Resolver.Memory).
	mem *memTrace
}

func (r *Resolver) host(p string) string {
	if !filepath.IsAbs(p) {
		if r.WorkDir != "" {
			return filepath.Join(r.WorkDir, p)
		}
		return p
	}
	if r.Sysroot == "" {
		return p
	}
	hp := filepath.Join(r.Sysroot, p)
	if r.SysrootFallback {
		if _, err := os.Lstat(hp); err != nil {
			return p
		}
	}
	return hp
}

// read returns what the file at hostPath (targetPath as the target sees
// it) reads as: a spec, or why ld.so or vasim cannot use it. Absent files
// are not cached, so the cache holds at most one entry per existing file.
func (r *Resolver) read(hostPath, targetPath string) *specResult {
	if r.specs == nil {
		r.specs = map[string]*specResult{}
	}
	if s, ok := r.specs[hostPath]; ok {
		return s
	}
	r.lookups++
	fi, err := os.Stat(hostPath)
	if err != nil {
		return &specResult{err: err}
	}
	s := &specResult{fi: fi}
	lose := func(msg string) {
		errno := syscall.ENOEXEC
		if fi.IsDir() {
			errno = syscall.EISDIR
		}
		s.err = &LoadError{Path: targetPath, Message: msg, Errno: errno}
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		lose("cannot read file data: Is a directory")
	case m.IsRegular() && fi.Size() < elfHeaderSize:
		lose("file too short")
	case m.IsRegular():
		s.spec, s.err = elfspec.ReadRegular(hostPath, fi)
		if errors.Is(s.err, loader.ErrWrongFormat) {
			lose("invalid ELF header")
		}
	case m&fs.ModeCharDevice != 0:
		// ld.so reads the header from a device like any file: /dev/null
		// gives nothing, /dev/zero zeros. vasim reads at most the header,
		// and never waits for a device.
		head, err := readHead(hostPath, elfHeaderSize)
		switch {
		case err != nil:
			s.err = &loader.FileError{Path: hostPath, Format: "ELF", Offset: -1, Err: err}
		case len(head) < elfHeaderSize:
			lose("file too short")
		case string(head[:4]) != elf.ELFMAG:
			lose("invalid ELF header")
		default:
			s.err = &loader.FileError{Path: hostPath, Format: "ELF", Offset: -1, Err: fmt.Errorf("is %s holding ELF data: vasim reads objects from regular files only", input.Kind(m))}
		}
	default:
		// ld.so's open(2) of a FIFO waits for a writer; vasim refuses it.
		s.err = &loader.FileError{Path: hostPath, Format: "ELF", Offset: -1, Err: fmt.Errorf("is %s: ld.so would block opening it", input.Kind(m))}
	}
	r.specs[hostPath] = s
	return s
}

// dirExists reports whether the search directory hostDir exists, checking
// once per directory.
func (r *Resolver) dirExists(hostDir string) bool {
	if r.dirs == nil {
		r.dirs = map[string]bool{}
	}
	ok, known := r.dirs[hostDir]
	if !known {
		r.lookups++
		fi, err := os.Stat(hostDir)
		ok = err == nil && fi.IsDir()
		r.dirs[hostDir] = ok
	}
	return ok
}

// LoadProgram models ld.so starting the program at exe (a path as the
// target sees it; under Sysroot when set): the main program, LD_PRELOAD,
// then the breadth-first DT_NEEDED closure. The first library that cannot
// be loaded is recorded in Missing and ends the walk, where ld.so would
// exit with "error while loading shared libraries"; an error is returned
// only when the program itself cannot be read.
func (r *Resolver) LoadProgram(exe string) (*Namespace, error) {
	hp := r.host(exe)
	// The kernel runs only regular files (execve fails with EACCES).
	if _, err := input.Regular(hp); err != nil {
		return nil, err
	}
	s := r.read(hp, exe)
	if s.err != nil {
		return nil, s.err
	}
	if s.spec.ELF == nil {
		return nil, &loader.FileError{Path: exe, Format: "ELF", Offset: -1, Err: errors.New("not an ELF object")}
	}
	if r.Machine == 0 {
		r.Machine = s.spec.ELF.Machine
	}
	if r.Class == 0 {
		r.Class = s.spec.ELF.Class
	}
	p := &Namespace{r: r}
	r.configure(s.spec, p)
	main := &Object{Spec: s.spec, HostPath: hp, Via: "main program", Program: exe, fi: s.fi, isMain: true}
	abs := hp
	if real, err := filepath.EvalSymlinks(hp); err == nil {
		abs = real
	}
	if a, err := filepath.Abs(abs); err == nil {
		abs = a
	}
	main.origin = r.targetPath(filepath.Dir(abs))
	p.Main = main
	p.Objects = append(p.Objects, main)
	// The interpreter is mapped by the kernel and known by its PT_INTERP
	// path and its SONAME; DT_NEEDED entries naming it match without a
	// search. It takes its place in the list where the graph names it.
	if ip := s.spec.ELF.Interp; ip != "" {
		is := r.read(r.host(ip), ip)
		if is.err == nil {
			p.Interp = &Object{Spec: is.spec, Path: ip, HostPath: r.host(ip), Names: []string{ip}, Via: "interpreter", fi: is.fi, origin: r.originOf(ip)}
			if is.spec.ELF != nil && is.spec.ELF.SOName != "" {
				p.Interp.Names = append(p.Interp.Names, is.spec.ELF.SOName)
			}
		} else {
			p.warn(fmt.Sprintf("interpreter %s: %v", ip, is.err))
		}
	}
	if r.Memory != nil && r.Flavor == FlavorGlibc {
		if err := p.startMemory(); err != nil {
			return nil, err
		}
	}
	queue := []*Object{main}
	for _, name := range r.Preload {
		// elf/rtld.c do_preload maps preloads with the main program as
		// the loader: a bare name is searched with its DT_RPATH or
		// DT_RUNPATH.
		from := main
		if r.Flavor == FlavorMusl {
			from = nil // musl loads preloads with no needed_by: no RPATH
		}
		o, miss, err := p.mapObject(name, from, "LD_PRELOAD")
		if o == nil {
			// ld.so prints an error and ignores a preload it cannot load;
			// the message stays allocated (_dl_exception_create).
			if p.mem != nil {
				p.mem.malloc(strSize(name) + strSize("cannot open shared object file"))
			}
			if err != nil {
				p.warn(fmt.Sprintf("LD_PRELOAD %s: %v", name, err))
			} else {
				p.warn(fmt.Sprintf("LD_PRELOAD %s: not found in %v", name, miss))
			}
			continue
		}
		if !contains(queue, o) {
			queue = append(queue, o)
		}
	}
	p.SearchList = p.bfs(queue, nil)
	if p.Interp != nil && !contains(p.Objects, p.Interp) {
		p.Objects = append(p.Objects, p.Interp)
	}
	if p.mem != nil {
		p.mem.startup = false
		if p.mem.err != nil {
			return p, p.mem.err
		}
	}
	return p, nil
}

func contains(list []*Object, o *Object) bool {
	for _, x := range list {
		if x == o {
			return true
		}
	}
	return false
}

// bfs walks the DT_NEEDED graph from the start list breadth-first, loading
// what is not yet loaded, and returns the search list (every object of the
// closure once, in BFS order). A library that cannot be loaded stops the
// walk, as it stops ld.so (elf/dl-deps.c _dl_map_object_deps signals the
// first failure; only ldd's trace mode goes on): it goes to p.Missing
// when missing is nil, else to *missing.
func (p *Namespace) bfs(start []*Object, missing *[]MissingLibrary) []*Object {
	list := append([]*Object(nil), start...)
	inList := map[*Object]bool{}
	for _, o := range list {
		inList[o] = true
	}
	t := p.mem
	if t != nil && !t.startup {
		t = nil
	}
	var scratch, scratchLen uint64 = 0, 1024 // the needed[] scratch buffer
	for i := 0; i < len(list); i++ {
		o := list[i]
		record := o.Deps == nil && !o.isMain && len(o.Spec.Needed) > 0
		if o.isMain && o.Deps == nil {
			record = true
		}
		// elf/dl-deps.c: a needed[] array for every new object but the
		// program and ld.so (whose l_ldnum is 0), in a scratch buffer
		// that grows past its 1024 inline bytes.
		needArray := t != nil && !o.isMain && o != p.Interp && !o.initfini && o.Spec.ELF.DynamicEntries > 0
		if needArray && 8*o.Spec.ELF.DynamicEntries > scratchLen {
			t.free(scratch)
			scratch = t.malloc(8 * o.Spec.ELF.DynamicEntries)
			scratchLen = 8 * o.Spec.ELF.DynamicEntries
		}
		var deps []*Object
		for _, name := range o.Spec.Needed {
			if t != nil && o.isMain && dstCount(name) > 0 {
				p.mainOrigin()
			}
			name = p.r.expand(name, o)
			dep, searched, err := p.mapObject(name, o, "")
			if dep == nil {
				m := MissingLibrary{Name: name, NeededBy: o.Label(), Searched: searched, Err: err, Flavor: p.r.Flavor, Dependency: true}
				if missing != nil {
					*missing = append(*missing, m)
				} else {
					p.Missing = append(p.Missing, m)
				}
				if record {
					o.Deps = deps
				}
				return list
			}
			deps = append(deps, dep)
			if !inList[dep] {
				inList[dep] = true
				list = append(list, dep)
			}
		}
		if record {
			o.Deps = deps
		}
		if needArray {
			t.malloc(8 * uint64(2*len(deps)+3))
			o.initfini = true
		}
	}
	if t != nil {
		t.free(scratch)
		t.malloc(8 * uint64(2*len(list)+1))
	}
	return list
}

// findLoaded returns a loaded object that name matches (glibc
// _dl_name_match_p against l_name and l_libname, then the SONAME).
func (p *Namespace) findLoaded(name string) *Object {
	o := p.matchLoaded(name)
	if o != nil && o == p.Interp && !contains(p.Objects, o) {
		// The interpreter joins the link-map list where the graph first
		// names it (elf/rtld.c moves the rtld map to its search-list
		// position).
		p.Objects = append(p.Objects, o)
	}
	return o
}

func (p *Namespace) matchLoaded(name string) *Object {
	for o := range p.candidates() {
		if o.Unloaded || o.isMain {
			continue
		}
		if o.Path == name {
			return o
		}
		for _, n := range o.Names {
			if n == name {
				return o
			}
		}
		if o.Spec.ELF != nil && o.Spec.ELF.SOName == name {
			p.addName(o, name) // add_name_to_object, once per object
			return o
		}
	}
	return nil
}

// candidates yields the loaded objects, then the interpreter when it has
// not joined the list yet. Every lookup scans them, as glibc's
// _dl_map_object scans the link maps; yielding rather than copying the
// list keeps that scan free of allocation.
func (p *Namespace) candidates() iter.Seq[*Object] {
	return func(yield func(*Object) bool) {
		interp := p.Interp != nil
		for _, o := range p.Objects {
			if o == p.Interp {
				interp = false
			}
			if !yield(o) {
				return
			}
		}
		if interp {
			yield(p.Interp)
		}
	}
}

// mapObject is _dl_map_object: reuse a loaded object matching name, or
// search for it and load it. It returns the object, or nil and the list
// of paths tried; bad is set when the search stopped at a file that is
// not a loadable ELF object (see MissingLibrary.Err).
func (p *Namespace) mapObject(name string, from *Object, via string) (o *Object, tried []string, bad error) {
	r := p.r
	if r.Flavor == FlavorMusl && p.Interp != nil && (muslReserved(name) || name == p.Interp.Path) {
		// musl's libc.so is the dynamic linker: the names of the
		// libraries it contains, and its own path, are itself.
		if !contains(p.Objects, p.Interp) {
			p.Objects = append(p.Objects, p.Interp)
		}
		return p.Interp, nil, nil
	}
	if r.Flavor == FlavorMusl {
		// musl matches a name without a slash only against the file
		// names of libraries it found by searching (shortname), and a
		// path not at all before opening it (ldso/dynlink.c
		// load_library); the same file is then found by dev/ino below.
		if !strings.Contains(name, "/") {
			for _, o := range p.Objects {
				if !o.Unloaded && o.shortname == name {
					return o, nil, nil
				}
			}
		}
	} else if o := p.findLoaded(name); o != nil {
		return o, nil, nil
	}
	t := p.startupMem()
	// try opens path. glibc copies a name with a slash or a cache entry
	// before it opens it (expand_dynamic_string_token,
	// _dl_load_cache_lookup) and frees the copy when the open fails; a
	// search copies the name it found after the open (open_path).
	try := func(path, how string) *Object {
		if bad != nil {
			return nil
		}
		tried = append(tried, path)
		var copied uint64
		if t != nil && (how == "path" || how == "ld.so.cache") {
			copied = t.malloc(strSize(path))
		}
		release := func() {
			if t != nil {
				t.free(copied)
			}
		}
		hp := r.host(path)
		s := r.read(hp, path)
		if s.err != nil {
			release()
			var le *LoadError
			var fe *loader.FileError
			switch {
			case errors.As(s.err, &le), errors.As(s.err, &fe):
				bad = s.err
			case errors.Is(s.err, os.ErrNotExist), errors.Is(s.err, syscall.ENOTDIR):
			default:
				p.warn(fmt.Sprintf("%s: %v", path, s.err))
			}
			return nil
		}
		e := s.spec.ELF
		if e == nil || (r.Machine != 0 && e.Machine != r.Machine) || (r.Class != 0 && e.Class != r.Class) {
			release()
			p.warn(fmt.Sprintf("%s: skipped: machine %v class %v", path, e.Machine, e.Class))
			return nil
		}
		if msg := r.notLoadable(s.spec); msg != "" {
			release()
			bad = &LoadError{Path: path, Message: msg, Errno: syscall.ENOEXEC}
			return nil
		}
		if t != nil && copied == 0 {
			copied = t.malloc(strSize(path))
		}
		// The same file under another name is the same object (glibc
		// compares st_dev/st_ino in _dl_map_object_from_fd, musl in
		// load_library).
		for o := range p.candidates() {
			if !o.Unloaded && !o.isMain && o.fi != nil && os.SameFile(o.fi, s.fi) {
				release()
				p.addName(o, name)
				if how != "path" && o.shortname == "" {
					o.shortname = filepath.Base(path)
				}
				return o
			}
		}
		if via == "" {
			via = how
		}
		o := &Object{Spec: s.spec, Path: path, HostPath: hp, Names: []string{name}, Loader: from, Via: via, fi: s.fi, origin: r.originOf(path)}
		if how != "path" {
			o.shortname = filepath.Base(path)
		}
		if p.Interp != nil && o.Path == p.Interp.Path {
			return p.Interp
		}
		p.Objects = append(p.Objects, o)
		p.mapped(o, name)
		return o
	}
	if strings.Contains(name, "/") {
		if o := try(name, "path"); o != nil {
			return o, nil, nil
		}
		return nil, tried, bad
	}
	searchDirs := func(dirs []searchDir, how string) *Object {
		for _, d := range dirs {
			if !r.dirExists(d.host) {
				continue
			}
			if o := try(joinDir(d.target, name), how); o != nil {
				return o
			}
			if bad != nil {
				return nil
			}
		}
		return nil
	}
	if r.Flavor == FlavorMusl {
		// musl: LD_LIBRARY_PATH, then the RPATH (or RUNPATH) of every
		// object up the needed_by chain, then the system path
		// (ldso/dynlink.c load_library).
		if r.LibraryPath != "" {
			if r.libraryPath == nil {
				dirs := r.searchDirs(splitMuslPath(r.LibraryPath))
				r.libraryPath = &dirs
			}
			if o := searchDirs(*r.libraryPath, "LD_LIBRARY_PATH"); o != nil {
				return o, nil, nil
			}
		}
		for l := from; l != nil && bad == nil; l = l.Loader {
			if dirs := r.muslRPath(l); len(dirs) > 0 {
				if o := searchDirs(dirs, "RPATH of "+l.Label()); o != nil {
					return o, nil, nil
				}
			}
		}
		if bad == nil {
			if r.systemDirs == nil {
				dirs := r.searchDirs(r.SystemDirs)
				r.systemDirs = &dirs
			}
			if o := searchDirs(*r.systemDirs, "system path"); o != nil {
				return o, nil, nil
			}
		}
		return nil, tried, bad
	}
	// DT_RPATH of the from chain and of the executable, unless the
	// from has DT_RUNPATH.
	if from == nil || from.Spec.ELF == nil || !from.Spec.ELF.HasRunPath {
		didMain := false
		for l := from; l != nil; l = l.Loader {
			if l.Spec.ELF != nil && l.Spec.ELF.HasRPath {
				if o := searchDirs(p.searchPath(l, false), "RPATH of "+l.Label()); o != nil {
					return o, nil, nil
				}
				didMain = didMain || l == p.Main
			}
		}
		if !didMain && p.Main != nil && p.Main.Spec.ELF != nil && p.Main.Spec.ELF.HasRPath {
			if o := searchDirs(p.searchPath(p.Main, false), "RPATH of "+p.Main.Label()); o != nil {
				return o, nil, nil
			}
		}
	}
	if r.LibraryPath != "" {
		if r.libraryPath == nil {
			dirs := r.searchDirs(r.pathList(r.LibraryPath, ":;", p.Main))
			r.libraryPath = &dirs
		}
		if o := searchDirs(*r.libraryPath, "LD_LIBRARY_PATH"); o != nil {
			return o, nil, nil
		}
	}
	if from != nil && from.Spec.ELF != nil && from.Spec.ELF.HasRunPath {
		if o := searchDirs(p.searchPath(from, true), "RUNPATH of "+from.Label()); o != nil {
			return o, nil, nil
		}
	}
	nodeflib := false
	if l := loaderOrMain(from, p.Main); l != nil && l.Spec.ELF != nil && l.Spec.ELF.NoDefaultLib() {
		nodeflib = true
	}
	if r.Cache != nil {
		p.mapCache() // at the first lookup, found or not
		if cached, ok := r.Cache.Lookup(name, r.cacheOptions()); ok {
			skip := false
			if nodeflib {
				// glibc compares the entry with each system directory
				// including its trailing slash (elf/dl-load.c system_dirs).
				for _, d := range r.SystemDirs {
					if strings.HasPrefix(cached, strings.TrimSuffix(d, "/")+"/") {
						skip = true
					}
				}
			}
			if skip {
				if t != nil {
					t.free(t.malloc(strSize(cached))) // copied, then refused
				}
			} else if o := try(cached, "ld.so.cache"); o != nil {
				return o, nil, nil
			}
		}
	}
	if !nodeflib {
		if r.systemDirs == nil {
			dirs := r.searchDirs(r.SystemDirs)
			r.systemDirs = &dirs
		}
		if o := searchDirs(*r.systemDirs, "system search path"); o != nil {
			return o, nil, nil
		}
	}
	return nil, tried, bad
}

// muslReserved reports the names musl takes for itself: "lib" followed by
// c., pthread., rt., m., dl., util. or xnet. (ldso/dynlink.c
// load_library), so libc.so, libm.so.6 and libc.musl-x86_64.so.1 alike.
func muslReserved(name string) bool {
	rest, ok := strings.CutPrefix(name, "lib")
	if !ok || strings.Contains(name, "/") {
		return false
	}
	for _, r := range []string{"c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."} {
		if strings.HasPrefix(rest, r) {
			return true
		}
	}
	return false
}

// muslRPath returns o's search path as musl reads it, once: DT_RUNPATH
// if present, else DT_RPATH, split at ':' with empty entries skipped,
// $ORIGIN and ${ORIGIN} expanded, and none at all if any other '$'
// appears (ldso/dynlink.c decode_dyn, fixup_rpath).
func (r *Resolver) muslRPath(o *Object) []searchDir {
	if o.rpath == nil {
		var dirs []searchDir
		if e := o.Spec.ELF; e != nil {
			value := e.RPath
			if e.HasRunPath {
				value = e.RunPath
			}
			v := strings.ReplaceAll(strings.ReplaceAll(value, "${ORIGIN}", "\x00"), "$ORIGIN", "\x00")
			if !strings.Contains(v, "$") && (o.origin != "" || !strings.Contains(v, "\x00")) {
				dirs = r.searchDirs(strings.FieldsFunc(strings.ReplaceAll(v, "\x00", o.origin), func(c rune) bool { return c == ':' }))
			}
		}
		o.rpath = &dirs
	}
	return *o.rpath
}

// dirOrDot is dir, or "." for the empty element (the current directory).
func dirOrDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// warn records a warning once.
func (p *Namespace) warn(msg string) {
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	if !p.warned[msg] {
		p.warned[msg] = true
		p.Warnings = append(p.Warnings, msg)
	}
}

func loaderOrMain(l, main *Object) *Object {
	if l != nil {
		return l
	}
	return main
}

func (r *Resolver) cacheOptions() CacheLookupOptions {
	o := r.CacheOptions
	if r.Machine != 0 {
		o.Machine = r.Machine
	}
	return o
}

func (r *Resolver) subdirs() []string {
	if len(r.Subdirs) == 0 {
		return []string{""}
	}
	return r.Subdirs
}

func joinDir(dir, name string) string {
	if dir == "" {
		return name
	}
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// pathList splits an RPATH/RUNPATH/LD_LIBRARY_PATH value as glibc's
// fillin_rpath does: an empty element means the current directory (names
// are opened relative to it),
// trailing slashes go, dynamic string tokens are expanded (an element
// whose $ORIGIN cannot be known is dropped), and a directory already in
// the list is not repeated.
func (r *Resolver) pathList(value, seps string, obj *Object) []string {
	var out []string
	seen := map[string]bool{}
	elems := splitKeepEmpty(value, seps)
	for _, el := range elems {
		if el != "" {
			// An element is expanded first; one that expands to nothing
			// (or to an unknown $ORIGIN) is dropped.
			el = r.expand(el, obj)
			if el == "" || strings.Contains(el, "\x00") {
				continue
			}
			for len(el) > 1 && strings.HasSuffix(el, "/") {
				el = el[:len(el)-1]
			}
		}
		// An empty element stays empty: names are then opened relative to
		// the current directory.
		if seen[el] {
			continue
		}
		seen[el] = true
		out = append(out, el)
	}
	return out
}

func splitKeepEmpty(s, seps string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(seps, s[i]) >= 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// expand substitutes $ORIGIN, $LIB and $PLATFORM (also in ${...} form) as
// glibc's _dl_dst_substitute does. An unknown $ORIGIN yields a string with
// a NUL, which callers drop.
func (r *Resolver) expand(s string, obj *Object) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		rest := s[i+1:]
		matched := false
		for _, tok := range []string{"ORIGIN", "LIB", "PLATFORM"} {
			n := 0
			switch {
			case strings.HasPrefix(rest, "{"+tok+"}"):
				n = len(tok) + 2
			case strings.HasPrefix(rest, tok) && (len(rest) == len(tok) || !isIdentChar(rest[len(tok)])):
				n = len(tok)
			}
			if n == 0 {
				continue
			}
			var val string
			switch tok {
			case "ORIGIN":
				if obj == nil || obj.origin == "" {
					return "\x00"
				}
				val = obj.origin
			case "LIB":
				val = r.Lib
			case "PLATFORM":
				val = r.Platform
			}
			b.WriteString(val)
			i += n
			matched = true
			break
		}
		if !matched {
			b.WriteByte('$')
		}
	}
	return b.String()
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// originOf returns the directory of a target path (glibc l_origin for a
// library: the directory of the name it was opened under, made absolute
// and not normalised; see originString).
func (r *Resolver) originOf(path string) string {
	if strings.HasPrefix(path, "/") {
		return originString(path, "") // the working directory is not needed
	}
	cwd, _ := r.workDir()
	return originString(path, cwd)
}

// workDir is the target's current directory: WorkDir, or vasim's own.
func (r *Resolver) workDir() (string, error) {
	if r.WorkDir != "" {
		return r.WorkDir, nil
	}
	return os.Getwd()
}

// targetPath strips the Sysroot prefix from a host path.
func (r *Resolver) targetPath(hostPath string) string {
	if r.Sysroot == "" {
		return hostPath
	}
	root, err := filepath.Abs(r.Sysroot)
	if err != nil {
		return hostPath
	}
	if rel, err := filepath.Rel(root, hostPath); err == nil && !strings.HasPrefix(rel, "..") {
		return "/" + rel
	}
	return hostPath
}

// DlopenResult is what one dlopen did to the object set.
type DlopenResult struct {
	// Root is the object dlopen returns a handle to (nil when it was not
	// found).
	Root *Object
	// SearchList is the root's breadth-first closure (glibc l_searchlist),
	// loaded and new objects alike.
	SearchList []*Object
	// New lists the objects this dlopen loaded, in load order.
	New []*Object
	// Missing lists what could not be found; a non-empty list means the
	// dlopen fails and the new objects are unloaded again.
	Missing []MissingLibrary
}

// Dlopen models dlopen(name) called from caller (nil: the main program):
// the same search as for DT_NEEDED with the caller as the loader, then the
// breadth-first closure. When something is missing the new objects are
// unloaded again, as dlopen does.
func (p *Namespace) Dlopen(name string, caller *Object) *DlopenResult {
	if caller == nil {
		caller = p.Main
	}
	res := &DlopenResult{}
	before := len(p.Objects)
	name = p.r.expand(name, caller)
	root, searched, err := p.mapObject(name, caller, "")
	if root == nil {
		res.Missing = append(res.Missing, MissingLibrary{Name: name, NeededBy: caller.Label(), Searched: searched, Err: err, Flavor: p.r.Flavor})
		return res
	}
	res.Root = root
	res.SearchList = p.bfs([]*Object{root}, &res.Missing)
	res.New = append(res.New, p.Objects[before:]...)
	if len(res.Missing) > 0 {
		p.Unload(res.New...)
	}
	return res
}

// DlmopenNew models dlmopen(LM_ID_NEWLM, name): the object and its
// dependencies loaded afresh in a new, empty namespace, as ld.so loads an
// LD_AUDIT module (elf/rtld.c load_audit_module). A library already
// loaded in the program's namespace (libc.so.6, say) is loaded again as a
// separate object; only the interpreter is shared. The search is the
// program's (its DT_RPATH and, for audit modules, DT_RUNPATH apply:
// elf/dl-load.c _dl_map_object). The new namespace is returned as a
// namespace of its own, Main still the program's main object.
func (p *Namespace) DlmopenNew(name string) (*Namespace, *DlopenResult) {
	ns := &Namespace{r: p.r, Main: p.Main, Interp: p.Interp}
	return ns, ns.Dlopen(name, p.Main)
}

// Unload marks objects as gone (dlclose, or a failed dlopen): they no
// longer match names or files, so a later dlopen loads them afresh.
func (p *Namespace) Unload(objs ...*Object) {
	drop := map[*Object]bool{}
	for _, o := range objs {
		o.Unloaded = true
		drop[o] = true
	}
	kept := p.Objects[:0]
	for _, o := range p.Objects {
		if !drop[o] {
			kept = append(kept, o)
		}
	}
	p.Objects = kept
}
