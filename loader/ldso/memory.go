package ldso

import (
	"fmt"
	"strings"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/elfspec"
)

// Memory receives the memory operations glibc's ld.so performs while it
// finds and maps a program's libraries, in glibc's order, so that a
// placement model can replay them into an address space (package linux
// does). Set Resolver.Memory to receive them; only the glibc flavor calls
// it.
//
// Allocations are ld.so's minimal malloc (elf/dl-minimal-malloc.c):
// Malloc returns the block's address, Free undoes the block only when it
// is the last one, and Realloc grows the last block. The sizes are those
// of glibc 2.36 (see GlibcSizes), call site by call site: the link maps
// (elf/dl-object.c _dl_new_object), the search-path lists
// (elf/dl-load.c decompose_rpath, fillin_rpath, _dl_init_paths), the
// hwcaps strings (elf/dl-hwcaps.c), the names found (open_path,
// elf/dl-cache.c) and the dependency lists (elf/dl-deps.c).
type Memory interface {
	Malloc(n uint64) (uint64, error)
	Free(p uint64)
	Realloc(p, n uint64) (uint64, error)
	// MapCache maps ld.so.cache (size bytes) at the first cache lookup.
	MapCache(size uint64) error
	// MapObject maps a newly loaded object's segments
	// (elf/dl-map-segments.h), right after its link map is allocated.
	MapObject(o *Object) error
}

// GlibcSizes are the structure sizes and release rules ld.so's start-up
// allocations depend on.
type GlibcSizes struct {
	// Release is what the sizes describe, for messages.
	Release string
	// Measured says the figures were measured on a real build (else they
	// are computed from the release's source).
	Measured bool
	// LinkMap is sizeof(struct link_map).
	LinkMap uint64
	// AuditState is sizeof(struct auditstate); DLNNS is DL_NNS, the audit
	// slots reserved in the main program's and the vDSO's link maps.
	AuditState, DLNNS uint64
	// LibnameList, SearchPathElem, StrlenPair, HWCapsPriority and
	// FoundVersion are sizeof(struct libname_list), (struct
	// r_search_path_elem), (struct r_strlenpair), (struct
	// dl_hwcaps_priority) and (struct r_found_version).
	LibnameList, SearchPathElem, StrlenPair, HWCapsPriority, FoundVersion uint64
	// TunablesCopy says ld.so copies each GLIBC_TUNABLES variable with
	// minimal malloc (before 2.39).
	TunablesCopy bool
	// HWCapsSizeFix says _dl_important_hwcaps sizes its buffer exactly
	// (2.37, and the 2.35 and 2.36 release branches); the 2.35 and 2.36
	// releases over-allocate.
	HWCapsSizeFix bool
}

// GlibcSizesFor returns the sizes for glibc release v on arch, as built
// from the release branch (what distributions ship: Debian 12's
// 2.36-9+deb12u14 follows release/2.36/master). Measured on Debian 12
// x86_64 (2.36): sizeof(struct link_map) 1192 (1184 in the 2.36 tag; the
// branch adds l_init_called_next). Other x86_64 releases come from
// compiling each release's struct link_map: 2.35 1168, 2.37 and 2.38
// 1192, 2.39 to 2.41 1176. Other architectures are not modelled.
func GlibcSizesFor(v GlibcVersion, arch loader.Arch) (GlibcSizes, error) {
	if arch != loader.ArchX86_64 {
		return GlibcSizes{}, fmt.Errorf("ldso: glibc %v on %v: ld.so's start-up allocation sizes are modelled for x86_64 only", v, arch)
	}
	s := GlibcSizes{
		Release: fmt.Sprintf("glibc %v (release branch) x86_64", v), AuditState: 16, DLNNS: 16,
		LibnameList: 24, SearchPathElem: 40, StrlenPair: 16, HWCapsPriority: 16, FoundVersion: 24,
		TunablesCopy: !v.AtLeast(2, 39), HWCapsSizeFix: true,
	}
	switch {
	case v.Major == 2 && v.Minor == 35:
		s.LinkMap = 1168
	case v.Major == 2 && v.Minor >= 36 && v.Minor <= 38:
		s.LinkMap = 1192
		s.Measured = v.Minor == 36
	case v.Major == 2 && v.Minor >= 39 && v.Minor <= 41:
		s.LinkMap = 1176
	default:
		return GlibcSizes{}, fmt.Errorf("ldso: glibc %v: ld.so's start-up allocation sizes are modelled for 2.35 to 2.41", v)
	}
	return s, nil
}

// memTrace is a namespace's replay of ld.so's start-up memory operations.
type memTrace struct {
	m    Memory
	size GlibcSizes
	// hw are the hwcaps the search uses; ncap is the number of
	// subdirectories tried in each directory (glibc ncapstr).
	hw   HWCaps
	ncap uint64
	// known holds every search directory ld.so has an element for, with
	// its trailing '/' (the system directories and every list's).
	known map[string]bool
	// cacheMapped says the first cache lookup happened.
	cacheMapped bool
	// mainOrigin is the main program's origin once _dl_get_origin ran.
	mainOrigin *string
	// startup says allocations go to the minimal malloc (until the
	// program's libraries are loaded; dlopen's go to libc's malloc).
	startup bool
	err     error
}

func (t *memTrace) malloc(n uint64) uint64 {
	if t.err != nil || !t.startup {
		return 0
	}
	p, err := t.m.Malloc(n)
	if err != nil {
		t.err = err
	}
	return p
}

func (t *memTrace) free(p uint64) {
	if t.err == nil && t.startup && p != 0 {
		t.m.Free(p)
	}
}

func (t *memTrace) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// strSize is strlen(s)+1.
func strSize(s string) uint64 { return uint64(len(s)) + 1 }

// startMemory replays what ld.so allocates before it loads anything for
// the namespace (glibc 2.36 elf/rtld.c dl_main up to the preloads; the
// main and vDSO link maps and GLIBC_TUNABLES are the caller's): the
// hwcaps priorities and strings, the system search directories, the main
// program's DT_RUNPATH or DT_RPATH list and LD_LIBRARY_PATH's.
func (p *Namespace) startMemory() error {
	r := p.r
	opt := r.MemoryOptions
	var sizes GlibcSizes
	if opt.Sizes != nil {
		sizes = *opt.Sizes
	} else {
		var err error
		if sizes, err = GlibcSizesFor(r.version, elfspec.Arch(p.Main.Spec.ELF.Machine)); err != nil {
			return err
		}
	}
	hw := r.hw
	t := &memTrace{m: r.Memory, size: sizes, hw: hw, known: map[string]bool{}, startup: true}
	p.mem = t
	// elf/dl-tunables.c: a copy of each GLIBC_TUNABLES variable.
	if sizes.TunablesCopy {
		for _, v := range opt.Tunables {
			t.malloc(uint64(len("GLIBC_TUNABLES=")+len(v)) + 2)
		}
	}
	// elf/rtld.c: the program's and the vDSO's link maps, with room for
	// every audit namespace.
	mainMap := sizes.LinkMap + sizes.DLNNS*sizes.AuditState + 8 + sizes.LibnameList + 1
	t.malloc(mainMap)
	if opt.VDSO {
		t.malloc(mainMap)
	}
	// elf/dl-hwcaps.c: compute_priorities and _dl_important_hwcaps.
	chw := uint64(len(hw.GlibcHWCaps))
	var thw uint64
	for _, s := range hw.GlibcHWCaps {
		thw += uint64(len("glibc-hwcaps/")) + 1 + uint64(len(s))
	}
	t.malloc(sizes.HWCapsPriority * chw)
	var temp []string
	if !hw.NoLegacy {
		for i := len(hw.Legacy) - 1; i >= 0; i-- { // bit order
			temp = append(temp, hw.Legacy[i])
		}
		if hw.Platform != "" {
			temp = append(temp, hw.Platform)
		}
		temp = append(temp, "tls")
	}
	var tleg uint64
	switch c := len(temp); {
	case c == 0:
	case c == 1:
		tleg = strSize(temp[0])
	default:
		tleg = uint64(len(temp[0])+len(temp[c-1])) + 2
		if c > 2 {
			tleg <<= 1
			for _, s := range temp[1 : c-1] {
				tleg += strSize(s)
			}
			tleg <<= c - 3
		}
	}
	t.ncap = chw + 1
	if len(temp) > 0 {
		t.ncap = chw + 1<<len(temp)
	}
	t.malloc(sizes.StrlenPair*t.ncap + tleg + thw)
	// elf/dl-load.c _dl_init_paths: the system directories.
	nsys := uint64(len(r.SystemDirs))
	t.malloc(8 * (nsys + 1))
	round := (2*sizes.SearchPathElem - 1 + t.ncap*4) / sizes.SearchPathElem
	t.malloc(nsys * round * sizes.SearchPathElem)
	for _, d := range r.SystemDirs {
		t.known[dirKey(d)] = true
	}
	main := p.Main
	if e := main.Spec.ELF; e.HasRunPath {
		p.decompose(main, e.RunPath)
	} else if e.HasRPath {
		p.decompose(main, e.RPath)
	}
	if r.LibraryPath != "" {
		k := 1 + uint64(strings.Count(r.LibraryPath, ":")+strings.Count(r.LibraryPath, ";"))
		arr := t.malloc(8 * (k + 1))
		if n := p.fillin(main, r.LibraryPath, ":;", nil); n == 0 {
			t.free(arr)
		}
	}
	return t.err
}

// dirKey is a directory as ld.so stores it: trailing slashes trimmed
// (keeping "/") and one appended; "" for the current directory.
func dirKey(d string) string {
	if d == "" {
		return ""
	}
	for len(d) > 1 && strings.HasSuffix(d, "/") {
		d = d[:len(d)-1]
	}
	if !strings.HasSuffix(d, "/") {
		d += "/"
	}
	return d
}

// decompose is decompose_rpath for o's DT_RPATH or DT_RUNPATH value: a
// copy, the array, the elements, and the array freed when no element
// survives.
func (p *Namespace) decompose(o *Object, value string) {
	t := p.mem
	if t == nil || value == "" {
		return
	}
	copied := t.malloc(strSize(value))
	arr := t.malloc(8 * uint64(strings.Count(value, ":")+2))
	where := o.Path
	n := p.fillin(o, value, ":", &where)
	t.free(copied)
	if n == 0 {
		t.free(arr)
	}
}

// fillin is fillin_rpath: for each element, its expansion (a strdup, or
// a buffer sized for the dynamic string tokens, freed again), and a new
// r_search_path_elem (with room for the ncapstr statuses, the owner's
// name and the directory) unless ld.so already knows the directory. It
// returns how many elements the list kept. where is the owner's name
// (nil for LD_LIBRARY_PATH).
func (p *Namespace) fillin(o *Object, value, seps string, where *string) int {
	t := p.mem
	kept := map[string]bool{}
	for _, raw := range splitKeepEmpty(value, seps) {
		var buf uint64
		dir := ""
		if raw != "" {
			buf = t.malloc(p.dstSize(o, raw))
			dir = p.r.expand(raw, o)
			if dir == "" || strings.Contains(dir, "\x00") {
				t.free(buf)
				continue
			}
			dir = dirKey(dir)
		}
		if !t.known[dir] {
			n := t.size.SearchPathElem + 4*t.ncap + uint64(len(dir)) + 1
			if where != nil {
				n += strSize(*where)
			}
			t.malloc(n)
			t.known[dir] = true
		}
		kept[dir] = true
		t.free(buf)
	}
	return len(kept)
}

// dstSize is what expand_dynamic_string_token allocates for s: strlen+1,
// or room for every token to expand to the longest of the origin,
// $PLATFORM and $LIB (elf/dl-dst.h DL_DST_REQUIRED). The main program's
// origin is computed on first need (_dl_get_origin, one allocation).
func (p *Namespace) dstSize(o *Object, s string) uint64 {
	cnt := dstCount(s)
	if cnt == 0 {
		return strSize(s)
	}
	origin := o.origin
	if o.isMain {
		origin = p.mainOrigin()
	}
	d := uint64(max(len(origin), len(p.r.Platform), len(p.r.Lib)))
	total := uint64(len(s))
	if d > 4 {
		total += uint64(cnt) * (d - 4)
	}
	return total + 1
}

// mainOrigin is _dl_get_origin for the main program: the directory of
// /proc/self/exe, allocated once.
func (p *Namespace) mainOrigin() string {
	t := p.mem
	if t.mainOrigin == nil {
		o := p.Main.origin
		n := uint64(len(o)) + 2 // the directory and '/' from readlink, +1
		if o == "/" {
			n = 2
		}
		t.malloc(n)
		t.mainOrigin = &o
	}
	return *t.mainOrigin
}

// dstCount counts the dynamic string tokens in s ($ORIGIN, $PLATFORM,
// $LIB, also in ${...} form; elf/dl-load.c _dl_dst_count).
func dstCount(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		rest := s[i+1:]
		for _, tok := range []string{"ORIGIN", "PLATFORM", "LIB"} {
			if strings.HasPrefix(rest, "{"+tok+"}") ||
				strings.HasPrefix(rest, tok) && (len(rest) == len(tok) || !isIdentChar(rest[len(tok)])) {
				n++
				break
			}
		}
	}
	return n
}

// newLinkMap is _dl_new_object for a library found as realname and
// requested as name: the link map with the name, then the origin (a copy
// of an absolute realname, or getcwd's growing buffer for a relative
// one).
func (p *Namespace) newLinkMap(name, realname string) {
	t := p.mem
	t.malloc(t.size.LinkMap + 8 + t.size.LibnameList + strSize(name))
	if strings.HasPrefix(realname, "/") {
		t.malloc(strSize(realname))
		return
	}
	cwd, err := p.r.workDir()
	if err != nil {
		t.fail(fmt.Errorf("ldso: the current directory, for the origin of %s: %w", realname, err))
		return
	}
	n := strSize(realname) + 128
	blk := t.malloc(n)
	for uint64(len(cwd))+1 > n-strSize(realname) {
		n += 128
		var err error
		if blk, err = t.m.Realloc(blk, n); err != nil {
			t.fail(err)
			return
		}
	}
}

// addName is add_name_to_object: name joins o's names unless it has it.
func (p *Namespace) addName(o *Object, name string) {
	for _, n := range o.Names {
		if n == name {
			return
		}
	}
	o.Names = append(o.Names, name)
	if p.mem != nil {
		p.mem.malloc(p.mem.size.LibnameList + strSize(name))
	}
}

// mapCache maps the cache at the first lookup.
func (p *Namespace) mapCache() {
	t := p.mem
	if t == nil || t.cacheMapped || p.r.Cache == nil {
		return
	}
	t.cacheMapped = true
	if t.err == nil {
		if err := t.m.MapCache(p.r.Cache.Size); err != nil {
			t.fail(err)
		}
	}
}

// CacheMapped reports whether ld.so mapped ld.so.cache while loading the
// namespace (it unmaps it at the end of start-up and of each dlopen).
func (p *Namespace) CacheMapped() bool { return p.mem != nil && p.mem.cacheMapped }

// MemoryError returns the first error the Memory reported, if any.
func (p *Namespace) MemoryError() error {
	if p.mem == nil {
		return nil
	}
	return p.mem.err
}

// originString is glibc's l_origin of a library opened as path: the path
// up to its last '/', not normalised ("/a/b/../c/libx.so" gives
// "/a/b/../c"); a relative path is taken from the current directory cwd.
func originString(path, cwd string) string {
	if !strings.HasPrefix(path, "/") {
		if cwd == "" {
			return ""
		}
		if cwd == "/" {
			path = "/" + path
		} else {
			path = cwd + "/" + path
		}
	}
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// MemoryOptions are what ld.so's start-up allocations depend on besides
// the search.
type MemoryOptions struct {
	// Sizes are the release's structure sizes; nil means those of the
	// detected release (GlibcSizesFor).
	Sizes *GlibcSizes
	// Tunables are the values of the GLIBC_TUNABLES variables in the
	// environment, in order (each is copied before 2.39).
	Tunables []string
	// VDSO says the kernel provides a vDSO (AT_SYSINFO_EHDR), which gets a
	// link map.
	VDSO bool
}

// startupMem returns the trace while start-up allocations are replayed
// (nil before and after, and without Memory).
func (p *Namespace) startupMem() *memTrace {
	if p.mem == nil || !p.mem.startup {
		return nil
	}
	return p.mem
}

// mapped is called for a newly loaded object: at start-up its link map
// and origin are allocated first; its segments are mapped (at start-up
// and by dlopen); then, when ld.so cannot see its program headers in
// memory, a copy of them is allocated.
func (p *Namespace) mapped(o *Object, name string) {
	if p.mem == nil {
		return
	}
	t := p.startupMem()
	if t != nil {
		p.newLinkMap(name, o.Path)
	}
	if p.mem.err == nil {
		if err := p.mem.m.MapObject(o); err != nil {
			p.mem.fail(err)
		}
	}
	if t != nil && !o.Spec.ELF.PhdrMapped {
		t.malloc(56 * uint64(o.Spec.ELF.PhNum))
	}
}

// ResetCache records that the caller unmapped ld.so.cache (glibc
// _dl_unload_cache, at the end of start-up and of every dlopen): the
// next lookup maps it again.
func (p *Namespace) ResetCache() {
	if p.mem != nil {
		p.mem.cacheMapped = false
	}
}

// Resolver returns the resolver that loads the namespace.
func (p *Namespace) Resolver() *Resolver { return p.r }

// GlibcVersion returns the glibc release Detect found for the program's
// interpreter (ok false when nothing was detected).
func (r *Resolver) GlibcVersion() (GlibcVersion, bool) {
	return r.version, !r.version.IsZero()
}
