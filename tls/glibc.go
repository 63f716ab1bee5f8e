package tls

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
)

// Glibc is a process under glibc's dynamic loader: the static TLS block
// laid out at start-up (elf/dl-tls.c _dl_determine_tlsoffset), then
// dlopen, dlclose and dynamic accesses changing it (elf/dl-reloc.c
// _dl_try_allocate_static_tls, elf/dl-close.c _dl_close_worker,
// elf/dl-tls.c tls_get_addr_tail). Offsets are glibc's l_tls_offset
// values; every step follows the profile's release.
type Glibc struct {
	prof Profile
	tun  Tunables

	staticSize, staticAlign, staticUsed uint64
	surplus, optional                   uint64
	naudit                              int
	bindNow                             bool // LD_BIND_NOW

	st      map[*Module]*gstate
	loaded  []*Module // link-map order (main namespace)
	global  []*Module // global scope: main search list + RTLD_GLOBAL
	main    *Module
	handles map[Handle]*Module
	nextH   Handle

	// Module IDs (DTV slots): elf/dl-tls.c _dl_assign_tls_modid.
	modids      map[int]*Module
	maxModID    int
	staticNelem int
	modidGaps   bool

	allocs   []Allocation
	event    int
	warnings []string

	// sizeBase, sizeAlign and sizeTCB give the static size as a function
	// of the value v a Sweep follows (glibc.rtld.optional_static_tls, or
	// the surplus): roundUp(sizeBase + v, sizeAlign) + sizeTCB, where
	// sizeBase is static_used after the start-up layout plus the surplus
	// less v.
	sizeBase, sizeAlign, sizeTCB uint64
	sweep                        *Sweep
}

type gstate struct {
	offset     int64  // l_tls_offset; 0 = NO_TLS_OFFSET
	fbo        uint64 // l_tls_firstbyte_offset (variant I dlopen reuses it)
	modid      int
	startup    bool
	relocated  bool
	needInit   bool
	opencount  int
	initfini   []*Module // l_initfini without self (deps, or the sorted closure for a root)
	isRoot     bool
	searchList []*Module // l_searchlist for roots
	scope2     []*Module // the dlopen root's search list, the second lookup scope
	reldeps    []*Module
	lazyDescs  []Reloc
}

const noTLSOffset = 0

// StartGlibc lays out the static TLS of a program whose start-up modules
// are mods, in glibc's link-map order (main program, LD_PRELOAD, then the
// breadth-first DT_NEEDED closure), with Deps set on each.
func StartGlibc(p Profile, mods []*Module, opt StartOptions) (*Glibc, error) {
	if len(mods) == 0 {
		return nil, fmt.Errorf("tls: no modules: the main program comes first")
	}
	for _, m := range mods {
		if err := checkModule(m); err != nil {
			return nil, err
		}
	}
	t := opt.Tunables
	if t == (Tunables{}) {
		t = DefaultTunables()
	}
	g := &Glibc{prof: p, tun: t, st: map[*Module]*gstate{}, handles: map[Handle]*Module{}, modids: map[int]*Module{},
		naudit: opt.Audit, bindNow: opt.BindNow, main: mods[0], nextH: 1}
	if opt.Sweep != nil && !opt.Sweep.OfSurplus {
		// Everything before the layout (the audit count check) does not
		// depend on optional_static_tls.
		g.sweep = opt.Sweep
		g.sweep.start(t.OptionalStaticTLS, p.OptionalStaticTLSLimit(t.NNS, opt.Audit))
	}
	surplus, optional, err := p.Surplus(t, opt.Audit)
	if err != nil {
		return nil, &StartError{Message: err.Error(), Failure: &Failure{Kind: FailAuditSlots, Message: err.Error()}}
	}
	g.surplus, g.optional = surplus, optional
	if opt.Sweep != nil && opt.Sweep.OfSurplus {
		g.sweep = opt.Sweep
		g.sweep.start(surplus, math.MaxInt32)
	}
	for _, m := range mods {
		g.st[m] = &gstate{startup: true, initfini: m.Deps}
		g.loaded = append(g.loaded, m)
		g.global = append(g.global, m)
		if m.TLS != nil {
			g.assignModID(m)
		}
	}
	g.staticNelem = g.maxModID
	// The main program's l_initfini is its sorted search list.
	ms := g.st[mods[0]]
	ms.isRoot, ms.searchList = true, mods
	ms.initfini = nil // blank while its own list is sorted (elf/dl-deps.c)
	sorted := g.sortMaps(mods, false)
	ms.initfini = sorted[1:]
	if sorted[0] != mods[0] {
		ms.initfini = without(sorted, mods[0])
	}
	// With LD_AUDIT, init_tls runs before the dependencies are mapped and
	// lays out the main program alone (elf/rtld.c).
	layout := mods
	if opt.Audit > 0 {
		layout = mods[:1]
	}
	if !g.determineOffsets(layout) {
		const msg = "cannot allocate TLS data structures for initial thread"
		return nil, &StartError{Message: msg, Failure: &Failure{Kind: FailInitialBlock, Message: msg}}
	}
	// Then ld.so loads each LD_AUDIT module with dlmopen into a namespace
	// of its own (elf/rtld.c load_audit_modules): relocating it and its
	// dependencies (its own copy of libc) takes static TLS first. A module
	// that fails is reported and ignored, as ld.so does; its module IDs
	// come after the start-up modules' here (ld.so assigns the main
	// program's first), which matters only to glibc <= 2.21's DTV check.
	for _, list := range opt.AuditModules {
		if len(list) == 0 {
			continue
		}
		out := g.dlopen(&DlopenRequest{Name: list[0].Label(), Root: list[0], SearchList: list}, list)
		if !out.OK {
			g.warnings = append(g.warnings, fmt.Sprintf("ERROR: ld.so: object '%s' cannot be loaded as audit interface: %s; ignored.", list[0].Label(), out.Error))
			continue
		}
		for _, m := range list {
			g.st[m].startup = true
		}
	}
	// Relocate in reverse initialisation order (elf/rtld.c); only under
	// LD_AUDIT or with old-release quirks can this ask for static TLS.
	order := append([]*Module{mods[0]}, ms.initfini...)
	for i := len(order) - 1; i >= 0; i-- {
		m := order[i]
		if f := g.relocate(m, g.global, nil, !opt.BindNow); f != nil {
			name := opt.ProgramName
			if name == "" {
				name = mods[0].Label()
			}
			return nil, &StartError{Message: fmt.Sprintf("%s: error while loading shared libraries: %s", name, f.Message), Failure: f}
		}
		g.st[m].relocated = true
	}
	return g, nil
}

func without(list []*Module, x *Module) []*Module {
	var out []*Module
	for _, m := range list {
		if m != x {
			out = append(out, m)
		}
	}
	return out
}

// Loader implements State.
func (g *Glibc) Loader() string { return g.prof.Name }

// Profile returns the profile in use.
func (g *Glibc) Profile() Profile { return g.prof }

// Tunables returns the tunables in use.
func (g *Glibc) Tunables() Tunables { return g.tun }

func (g *Glibc) fbo(m *Module) uint64 { return m.TLS.FirstByteOffset() }

// determineOffsets is _dl_determine_tlsoffset. It reports false when the
// static block would exceed MaxStaticTLS.
func (g *Glibc) determineOffsets(mods []*Module) bool {
	p := g.prof
	maxAlign := p.TCBAlign
	var freeTop, freeBottom uint64
	var offset uint64
	if p.Variant == VariantI {
		offset = p.TCBSize
	}
	for _, m := range mods {
		if m.TLS == nil {
			continue
		}
		if offset > MaxStaticTLS {
			// Already too large to map; stop before the sums can wrap
			// (each block is at most MaxStaticTLS: checkModule).
			return false
		}
		s := g.st[m]
		bs, al := m.TLS.MemSize, m.TLS.Align
		firstbyte := (-g.fbo(m)) & (al - 1)
		s.fbo = g.fbo(m)
		maxAlign = max(maxAlign, al)
		if p.Variant == VariantII {
			if freeBottom-freeTop >= bs {
				off := roundUp(freeTop+bs-firstbyte, al) + firstbyte
				if off <= freeBottom {
					freeTop = off
					s.offset = int64(off)
					continue
				}
			}
			off := roundUp(offset+bs-firstbyte, al) + firstbyte
			if off > offset+bs+(freeBottom-freeTop) {
				freeTop = offset
				freeBottom = off - bs
			}
			offset = off
			s.offset = int64(off)
		} else {
			if bs <= freeTop-freeBottom {
				off := roundUp(freeBottom, al)
				if off-freeBottom < firstbyte {
					off += al
				}
				if off+bs-firstbyte <= freeTop {
					s.offset = int64(off - firstbyte)
					freeBottom = off + bs - firstbyte
					continue
				}
			}
			off := roundUp(offset, al)
			if off-offset < firstbyte {
				off += al
			}
			s.offset = int64(off - firstbyte)
			if off-firstbyte-offset > freeTop-freeBottom {
				freeBottom = offset
				freeTop = off - firstbyte
			}
			offset = off + bs - firstbyte
		}
	}
	if p.ExtraTLS {
		size, align := p.ExtraTLSSize, p.ExtraTLSAlign
		if !g.tun.Rseq {
			size, align = rseqAreaSizeInitial, rseqMinAlign
		}
		maxAlign = max(maxAlign, align)
		// Both variants: align the running offset, then add the block.
		offset = roundUp(offset, max(align, 1)) + size
	}
	g.staticUsed = offset
	total, carry := bits.Add64(offset, g.surplus, 0)
	if p.Variant == VariantII {
		g.staticSize = roundUp(total, maxAlign) + p.TCBSize
		g.sizeAlign, g.sizeTCB = maxAlign, p.TCBSize
	} else {
		g.staticSize = roundUp(total, p.TCBAlign)
		g.sizeAlign = p.TCBAlign
	}
	g.staticAlign = maxAlign
	fits := carry == 0 && total <= MaxStaticTLS
	if g.sweep != nil && g.prof.Tunables && carry == 0 && total >= g.sweep.at {
		// total = sizeBase + v: the block can be allocated while v <=
		// MaxStaticTLS - sizeBase.
		g.sizeBase = total - g.sweep.at
		var t uint64 // the least v that makes it too large
		if g.sizeBase <= MaxStaticTLS {
			t = MaxStaticTLS - g.sizeBase + 1
		}
		g.sweep.decide(fits, t, false)
	} else if g.sweep != nil && g.prof.Tunables {
		g.sweep.lost()
	}
	return fits
}

// sizeAtLeast reports static_size >= y, and narrows the sweep to the
// values of optional_static_tls for which the answer is the same:
// static_size = roundUp(sizeBase + v, sizeAlign) + sizeTCB is at least y
// exactly when v >= roundUp(y - sizeTCB, sizeAlign) - sizeAlign + 1 -
// sizeBase.
func (g *Glibc) sizeAtLeast(y uint64) bool {
	holds := g.staticSize >= y
	if g.sweep == nil || !g.prof.Tunables {
		return holds // without tunables the value changes nothing
	}
	if y <= g.sizeTCB {
		g.sweep.decide(holds, 0, true)
		return holds
	}
	a := max(g.sizeAlign, 1)
	x := roundUp(y-g.sizeTCB, a) - a + 1 // the least sizeBase + v that does it
	var t uint64
	if x > g.sizeBase {
		t = x - g.sizeBase
	}
	g.sweep.decide(holds, t, true)
	return holds
}

// optionalAtLeast reports that the optional budget left holds use bytes,
// and narrows the sweep: the budget left is v minus what descriptors took
// so far, so it holds use exactly when v >= use + spent.
func (g *Glibc) optionalAtLeast(use uint64) bool {
	holds := g.optional >= use
	if g.sweep != nil && g.prof.Tunables && !g.sweep.OfSurplus {
		spent := g.sweep.at - g.optional
		g.sweep.decide(holds, use+spent, true)
	}
	return holds
}

// MaxStaticTLS bounds the static TLS block vasim lets start-up allocate:
// 2^47 bytes, the x86_64 user address space with 4-level page tables (and
// more than an aarch64 48-bit one can spare). A larger block, which a huge
// or wrapped glibc.rtld.optional_static_tls produces (see Surplus), cannot
// be mapped: glibc stops with "cannot allocate TLS data structures for
// initial thread" (elf/rtld.c init_tls). Smaller blocks can still fail
// for want of memory, which vasim does not model.
const MaxStaticTLS = 1 << 47

// haveStatic is HAVE_STATIC_TLS.
func (g *Glibc) haveStatic(m *Module) bool {
	o := g.st[m].offset
	return o != noTLSOffset && o != g.prof.ForcedDynamicOffset
}

// tryAllocate is _dl_try_allocate_static_tls; it returns the failure kind
// or 0.
func (g *Glibc) tryAllocate(m *Module, optional bool) (FailureKind, uint64) {
	s := g.st[m]
	p := g.prof
	if s.offset == p.ForcedDynamicOffset {
		return FailForcedDynamic, 0
	}
	if m.TLS.Align > g.staticAlign {
		return FailAlign, 0
	}
	bs, al, fbo := m.TLS.MemSize, m.TLS.Align, g.fbo(m)
	var use uint64
	var newOffset uint64
	if p.Variant == VariantII {
		// free = static_size - static_used must hold TLS_TCB_SIZE, then
		// the block and its first-byte offset: one test of static_size.
		if !g.sizeAtLeast(g.staticUsed + p.TCBSize + bs + fbo) {
			return FailNoSpace, 0
		}
		free := g.staticSize - g.staticUsed - p.TCBSize
		n := (free - bs - fbo) / al
		use = free - n*al - fbo
		if optional && p.OptionalCap && !g.optionalAtLeast(use) {
			return FailNoSpace, use
		}
		if optional && p.OptionalCap {
			g.optional -= use
		}
		newOffset = g.staticUsed + use
		s.offset = int64(newOffset)
		g.staticUsed = newOffset
	} else {
		off := roundUp(g.staticUsed-fbo, al) + fbo
		used := off + bs
		if !g.sizeAtLeast(used) {
			return FailNoSpace, 0
		}
		use = used - g.staticUsed
		if optional && p.OptionalCap && !g.optionalAtLeast(use) {
			return FailNoSpace, use
		}
		if optional && p.OptionalCap {
			g.optional -= use
		}
		s.offset = int64(off)
		s.fbo = g.staticUsed
		g.staticUsed = used
		newOffset = off
	}
	if !s.relocated {
		s.needInit = true
	}
	g.allocs = append(g.allocs, Allocation{Module: m, Offset: newOffset, Use: use, Optional: optional, Event: g.event})
	return 0, use
}

// freeBytes is the room a variant II fit test sees (static_size -
// static_used - TLS_TCB_SIZE), or variant I's static_size - static_used.
func (g *Glibc) freeBytes() uint64 {
	free := g.staticSize - g.staticUsed
	if g.prof.Variant == VariantII {
		if free < g.prof.TCBSize {
			return 0
		}
		free -= g.prof.TCBSize
	}
	return free
}

func (g *Glibc) needBytes(m *Module) uint64 {
	if g.prof.Variant == VariantII {
		return m.TLS.MemSize + g.fbo(m)
	}
	off := roundUp(g.staticUsed-g.fbo(m), m.TLS.Align) + g.fbo(m)
	return off + m.TLS.MemSize - g.staticUsed
}

// lookup finds the module defining the TLS symbol name, searching the
// scopes in order (the global scope, then the dlopen root's search list:
// elf/dl-lookup.c _dl_lookup_symbol_x over l_scope). Every loader model
// uses it.
func lookup(name string, scopes ...[]*Module) *Module {
	for _, sc := range scopes {
		for _, d := range sc {
			if d.exports(name) {
				return d
			}
		}
	}
	return nil
}

// relocate processes m's TLS relocations in order. scope2 is the dlopen
// root's search list (nil at start-up); lazy is the relocation mode asked
// for (RTLD_LAZY, no LD_BIND_NOW), which m's own BIND_NOW overrides
// (elf/dl-reloc.c _dl_relocate_object).
func (g *Glibc) relocate(m *Module, global, scope2 []*Module, lazy bool) *Failure {
	s := g.st[m]
	lazy = lazy && !m.BindNow
	for _, r := range m.Relocs {
		def := m
		if !r.Local {
			def = lookup(r.Symbol, global, scope2)
			if def == nil {
				if r.Weak {
					continue
				}
				return &Failure{Kind: FailUndefinedSymbol, Module: m, Referrer: m, Symbol: r.Symbol,
					Message: fmt.Sprintf("%s: undefined symbol: %s", m.Label(), r.Symbol)}
			}
			if def != m {
				g.addRelDep(m, def)
			}
		}
		switch r.Access {
		case loader.TLSAccessInitialExec32:
			if g.prof.Arch == loader.ArchX86_64 {
				return &Failure{Kind: FailBadReloc, Module: m, Referrer: m, Symbol: r.Symbol,
					Message: fmt.Sprintf("%s: unexpected reloc type 0x%02x", m.Label(), r.Type)}
			}
		case loader.TLSAccessInitialExec:
			if def.TLS == nil || g.haveStatic(def) {
				continue
			}
			if kind, _ := g.tryAllocate(def, false); kind != 0 {
				return g.noStaticTLS(kind, def, m, r.Symbol)
			}
		case loader.TLSAccessDescriptor:
			if def.TLS == nil {
				continue
			}
			if g.prof.LazyTLSDesc && r.PLT && lazy {
				s.lazyDescs = append(s.lazyDescs, r)
				continue
			}
			g.tryDesc(def)
		}
	}
	return nil
}

// tryDesc is TRY_STATIC_TLS for a descriptor: a silent fall-back to
// dynamic access when the optional budget or the space runs out.
func (g *Glibc) tryDesc(def *Module) {
	if g.st[def].offset == noTLSOffset {
		g.tryAllocate(def, true)
	}
}

func (g *Glibc) noStaticTLS(kind FailureKind, def, ref *Module, sym string) *Failure {
	f := &Failure{Kind: kind, Module: def, Referrer: ref, Symbol: sym,
		Message:     fmt.Sprintf("%s: cannot allocate memory in static TLS block", def.Label()),
		Align:       def.TLS.Align,
		StaticAlign: g.staticAlign,
		Free:        g.freeBytes(),
	}
	if kind == FailNoSpace {
		f.Need = g.needBytes(def)
	} else {
		f.Need = def.TLS.MemSize + g.fbo(def)
	}
	return f
}

func (g *Glibc) addRelDep(m, def *Module) {
	if g.st[def].startup {
		return
	}
	s := g.st[m]
	for _, x := range g.closure(m) {
		if x == def {
			return
		}
	}
	for _, x := range s.reldeps {
		if x == def {
			return
		}
	}
	s.reldeps = append(s.reldeps, def)
}

// closure is m's dependency closure through initfini lists.
func (g *Glibc) closure(m *Module) []*Module {
	seen := map[*Module]bool{m: true}
	out := []*Module{m}
	for i := 0; i < len(out); i++ {
		for _, d := range g.st[out[i]].initfini {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// assignModID is _dl_assign_tls_modid.
func (g *Glibc) assignModID(m *Module) {
	s := g.st[m]
	if g.modidGaps {
		for id := g.staticNelem + 1; id <= g.maxModID; id++ {
			if g.modids[id] == nil {
				g.modids[id] = m
				s.modid = id
				return
			}
		}
		g.modidGaps = false
	}
	g.maxModID++
	g.modids[g.maxModID] = m
	s.modid = g.maxModID
}

func (g *Glibc) freeModID(m *Module) {
	s := g.st[m]
	if s.modid == 0 {
		return
	}
	delete(g.modids, s.modid)
	if s.modid == g.maxModID {
		for g.maxModID > g.staticNelem && g.modids[g.maxModID] == nil {
			g.maxModID--
		}
		// Lower free slots may remain: still gaps if any.
		g.modidGaps = false
		for id := g.staticNelem + 1; id < g.maxModID; id++ {
			if g.modids[id] == nil {
				g.modidGaps = true
			}
		}
	} else {
		g.modidGaps = true
	}
	s.modid = 0
}

// sortMaps is glibc 2.36's default _dl_sort_maps (the DFS algorithm,
// elf/dl-sort-maps.c): reverse post-order from the back of the list,
// following each object's l_initfini (and, for destructors, its
// relocation dependencies, then a second pass on static links only).
//
// It is the default from 2.35 (glibc.rtld.dynamic_sort=2). Earlier
// releases, and 2.35+ with glibc.rtld.dynamic_sort=1, use the older
// _dl_sort_maps_original, which vasim does not model: for some dependency
// graphs it relocates the new objects of one dlopen, or unloads those of
// one dlclose, in another order. That can change which of a dlopen's
// initial-exec blocks is named in the error, how much a multi-object
// dlclose gives back and, at the margin (alignment slack depends on the
// order), whether the blocks fit.
func (g *Glibc) sortMaps(maps []*Module, forFini bool) []*Module {
	n := len(maps)
	visited := map[*Module]bool{}
	rpo := make([]*Module, 0, n)
	doReldeps := false
	var dfs func(m *Module, useRel bool)
	dfs = func(m *Module, useRel bool) {
		if visited[m] {
			return
		}
		visited[m] = true
		s := g.st[m]
		if s != nil {
			for _, d := range s.initfini {
				if !visited[d] && !d.Main {
					dfs(d, useRel)
				}
			}
			if useRel && len(s.reldeps) > 0 {
				doReldeps = true
				for k := len(s.reldeps) - 1; k >= 0; k-- {
					d := s.reldeps[k]
					if !visited[d] && !d.Main {
						dfs(d, useRel)
					}
				}
			}
		}
		rpo = append(rpo, m) // post-order; reversed below
	}
	for i := n - 1; i >= 0; i-- {
		dfs(maps[i], forFini)
	}
	out := reverse(rpo)
	if doReldeps {
		visited = map[*Module]bool{}
		rpo = rpo[:0:0]
		for i := len(out) - 1; i >= 0; i-- {
			dfs(out[i], false)
		}
		out = reverse(rpo)
	}
	return out
}

func reverse(s []*Module) []*Module {
	out := make([]*Module, len(s))
	for i, m := range s {
		out[len(s)-1-i] = m
	}
	return out
}

// Dlopen implements State: _dl_open and dl_open_worker.
func (g *Glibc) Dlopen(req *DlopenRequest) *DlopenOutcome {
	g.event++
	return g.dlopen(req, nil)
}

// dlopen opens req in the program's namespace (scope nil: lookups use the
// global scope), or, for an LD_AUDIT module, in a namespace of its own
// whose only scope is scope (the module's search list: the first object
// opened in a namespace is its global scope, elf/dl-open.c).
func (g *Glibc) dlopen(req *DlopenRequest, scope []*Module) *DlopenOutcome {
	if out := notFound(req); out != nil {
		return out
	}
	out := &DlopenOutcome{}
	for _, m := range req.SearchList {
		if err := checkModule(m); err != nil {
			out.Error = err.Error()
			out.Failure = &Failure{Kind: FailBadModule, Module: m, Message: out.Error}
			return out
		}
	}
	root := req.Root
	if rs := g.st[root]; rs != nil && rs.isRoot {
		// Already open with its own search list: one more reference,
		// and RTLD_GLOBAL promotes it (elf/dl-open.c add_to_global).
		rs.opencount++
		if req.Global {
			g.addGlobal(rs.searchList)
		}
		h := g.newHandle(root)
		out.OK, out.Handle = true, h
		return out
	}
	// Map the new objects in search-list order.
	var newMods []*Module
	for _, m := range req.SearchList {
		if g.st[m] == nil {
			// Objects loaded as dependencies record their direct
			// dependencies; the root's list stays blank until sorted.
			deps := m.Deps
			if m == root {
				deps = nil
			}
			g.st[m] = &gstate{initfini: deps}
			g.loaded = append(g.loaded, m)
			newMods = append(newMods, m)
			if m.TLS != nil {
				g.assignModID(m)
			}
		}
	}
	out.New = newMods
	rs := g.st[root]
	rs.isRoot = true
	rs.searchList = req.SearchList
	sorted := g.sortMaps(req.SearchList, false)
	rs.initfini = without(sorted, root)
	for _, m := range req.SearchList {
		g.st[m].scope2 = req.SearchList
	}
	allocBefore := len(g.allocs)
	// Relocate the not-yet-relocated objects, dependencies first.
	order := append([]*Module{root}, rs.initfini...)
	var fail *Failure
	for i := len(order) - 1; i >= 0 && fail == nil; i-- {
		m := order[i]
		s := g.st[m]
		if s.relocated {
			continue
		}
		global := g.global
		if scope != nil {
			global = scope
		}
		fail = g.relocate(m, global, req.SearchList, !g.bindNow && !req.Now)
		if fail == nil {
			s.relocated = true
		}
	}
	// glibc <= 2.21: the second pass over static TLS of new objects.
	if fail == nil && g.prof.DTVSurplus > 0 && req.Threaded {
		for _, m := range req.SearchList {
			s := g.st[m]
			if s.needInit && m.TLS != nil && s.modid > g.prof.DTVSurplus {
				fail = &Failure{Kind: FailDTVSurplus, Module: m, Message: "dlopen: cannot load any more object with static TLS"}
				break
			}
		}
	}
	for _, m := range req.SearchList {
		g.st[m].needInit = false
	}
	if fail != nil {
		out.Error, out.Failure = fail.Message, fail
		// _dl_close_worker on the new objects: unload and reclaim.
		g.closeWorker()
		out.Placed = nil
		return out
	}
	for _, a := range g.allocs[allocBefore:] {
		out.Placed = append(out.Placed, a)
	}
	if req.Global && scope == nil {
		g.addGlobal(req.SearchList)
	}
	rs.opencount++
	out.OK, out.Handle = true, g.newHandle(root)
	return out
}

// notFound is the outcome of a dlopen whose object or a dependency was not
// found (dlerror's text names the first missing name), or nil.
func notFound(req *DlopenRequest) *DlopenOutcome {
	if req.Root != nil && len(req.Missing) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s: cannot open shared object file: No such file or directory", req.Name)
	kind := FailNotFound
	if len(req.Missing) > 0 {
		msg = req.Missing[0].Message()
		var le *ldso.LoadError
		if errors.As(req.Missing[0].Err, &le) {
			kind = FailNotObject
		}
	}
	return &DlopenOutcome{Error: msg, Failure: &Failure{Kind: kind, Message: msg}}
}

// addGlobal appends the modules of list not yet in the global scope.
func (g *Glibc) addGlobal(list []*Module) {
	for _, m := range list {
		if !containsMod(g.global, m) {
			g.global = append(g.global, m)
		}
	}
}

func containsMod(list []*Module, m *Module) bool {
	for _, x := range list {
		if x == m {
			return true
		}
	}
	return false
}

func (g *Glibc) newHandle(m *Module) Handle {
	h := g.nextH
	g.nextH++
	g.handles[h] = m
	return h
}

// Dlclose implements State: _dl_close.
func (g *Glibc) Dlclose(h Handle) ([]*Module, error) {
	m, ok := g.handles[h]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownHandle, h)
	}
	g.event++
	delete(g.handles, h)
	g.st[m].opencount--
	if g.st[m].opencount > 0 {
		return nil, nil
	}
	return g.closeWorker(), nil
}

// closeWorker is _dl_close_worker: mark what is still used, unload the
// rest, and give back static TLS when the freed chunk ends at
// static_used.
func (g *Glibc) closeWorker() []*Module {
	used := map[*Module]bool{}
	var work []*Module
	for _, m := range g.loaded {
		s := g.st[m]
		if s.startup || s.opencount > 0 || m.NoDelete {
			used[m] = true
			work = append(work, m)
		}
	}
	for i := 0; i < len(work); i++ {
		s := g.st[work[i]]
		for _, d := range s.initfini {
			if !used[d] && g.st[d] != nil {
				used[d] = true
				work = append(work, d)
			}
		}
		for _, d := range s.reldeps {
			if !used[d] && g.st[d] != nil {
				used[d] = true
				work = append(work, d)
			}
		}
	}
	sorted := g.sortMaps(g.loaded, true)
	var freeStart, freeEnd uint64 // NO_TLS_OFFSET (0) = unset, as in glibc
	var removed []*Module
	anyTLS := false
	for _, m := range sorted {
		if used[m] {
			continue
		}
		s := g.st[m]
		removed = append(removed, m)
		if m.TLS == nil {
			continue
		}
		anyTLS = true
		g.freeModID(m)
		if s.offset == noTLSOffset || s.offset == g.prof.ForcedDynamicOffset {
			continue
		}
		off, bs := uint64(s.offset), m.TLS.MemSize
		if g.prof.Variant == VariantII {
			switch {
			case freeStart == noTLSOffset || off == freeStart:
				freeStart = off - bs
				if freeEnd == noTLSOffset {
					freeEnd = off
				}
			case off-bs == freeEnd:
				freeEnd = off
			default:
				if freeEnd == g.staticUsed {
					g.staticUsed = freeStart
					freeEnd = off
					freeStart = freeEnd - bs
				} else if off == g.staticUsed {
					g.staticUsed = off - bs
				} else if freeEnd < off {
					freeEnd = off
					freeStart = freeEnd - bs
				}
			}
		} else {
			fb := s.fbo // the old static_used saved at dlopen
			switch {
			case freeStart == noTLSOffset:
				freeStart = fb
				freeEnd = off + bs
			case fb == freeEnd:
				freeEnd = off + bs
			case off+bs == freeStart:
				freeStart = fb
			case off+bs == g.staticUsed:
				g.staticUsed = fb
			case freeEnd == g.staticUsed:
				g.staticUsed = freeStart
				freeStart = fb
				freeEnd = off + bs
			case freeEnd < fb:
				freeStart = fb
				freeEnd = off + bs
			}
		}
		for i := range g.allocs {
			if g.allocs[i].Module == m {
				g.allocs[i].Freed = true
			}
		}
	}
	if anyTLS && freeEnd == g.staticUsed {
		g.staticUsed = freeStart
	}
	if len(removed) > 0 {
		gone := map[*Module]bool{}
		for _, m := range removed {
			gone[m] = true
			delete(g.st, m)
		}
		g.loaded = filterMods(g.loaded, gone)
		g.global = filterMods(g.global, gone)
		// Keep removed objects out of surviving objects' lists.
		for _, s := range g.st {
			s.reldeps = filterMods(s.reldeps, gone)
		}
	}
	// Order removed in link-map order for callers.
	return removed
}

func filterMods(list []*Module, gone map[*Module]bool) []*Module {
	out := list[:0:0]
	for _, m := range list {
		if !gone[m] {
			out = append(out, m)
		}
	}
	return out
}

// Access implements State: code in m runs and touches the TLS it
// references. Lazy descriptors (old releases) are resolved first; then
// every module it reaches dynamically (module-ID relocations, descriptors
// left dynamic) that has no static offset is fixed as dynamic
// (tls_get_addr_tail sets FORCED_DYNAMIC_TLS_OFFSET).
func (g *Glibc) Access(m *Module) {
	s := g.st[m]
	if s == nil {
		return
	}
	g.event++
	for _, r := range s.lazyDescs {
		if def := g.definer(m, r); def != nil && def.TLS != nil {
			g.tryDesc(def)
		}
	}
	s.lazyDescs = nil
	for _, r := range m.Relocs {
		if r.Access != loader.TLSAccessModuleID && r.Access != loader.TLSAccessDescriptor {
			continue
		}
		def := g.definer(m, r)
		if def == nil || def.TLS == nil {
			continue
		}
		if ds := g.st[def]; ds != nil && ds.offset == noTLSOffset {
			ds.offset = g.prof.ForcedDynamicOffset
		}
	}
}

func (g *Glibc) definer(m *Module, r Reloc) *Module {
	if r.Local {
		return m
	}
	return lookup(r.Symbol, g.global, g.st[m].scope2)
}

// Static implements State.
func (g *Glibc) Static() StaticInfo {
	return StaticInfo{Size: g.staticSize, Align: g.staticAlign, Used: g.staticUsed, Surplus: g.surplus,
		OptionalLeft: g.optional, TCBSize: g.prof.TCBSize, Free: g.freeBytes()}
}

// Offset implements State.
func (g *Glibc) Offset(m *Module) (uint64, bool) {
	s := g.st[m]
	if s == nil || !g.haveStatic(m) {
		return 0, false
	}
	return uint64(s.offset), true
}

// ModuleID returns m's DTV slot (glibc l_tls_modid), 0 if none.
func (g *Glibc) ModuleID(m *Module) int {
	if s := g.st[m]; s != nil {
		return s.modid
	}
	return 0
}

// ForcedDynamic reports whether m's TLS was fixed as dynamic.
func (g *Glibc) ForcedDynamic(m *Module) bool {
	s := g.st[m]
	return s != nil && s.offset == g.prof.ForcedDynamicOffset
}

// Allocations implements State.
func (g *Glibc) Allocations() []Allocation { return append([]Allocation(nil), g.allocs...) }

// Warnings returns what ld.so would print without failing the start (an
// LD_AUDIT module that could not be loaded).
func (g *Glibc) Warnings() []string { return append([]string(nil), g.warnings...) }

// Loaded returns the loaded modules in load order (LD_AUDIT namespaces
// included).
func (g *Glibc) Loaded() []*Module { return append([]*Module(nil), g.loaded...) }
