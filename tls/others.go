package tls

import (
	"fmt"

	"github.com/vasim/vasim/loader"
)

// The other loaders, behind the same State interface. They share a
// simple object bookkeeping (start-up set, handles, reference counts over
// the dependency closure) and differ in what static TLS they give a module
// loaded after start-up.

type simpleProc struct {
	name    string
	arch    loader.Arch
	static  map[*Module]uint64 // static offsets
	startup map[*Module]bool
	loaded  []*Module
	global  []*Module
	closure map[*Module][]*Module // a dlopen root's search list
	refs    map[*Module]int
	handles map[Handle]*Module
	nextH   Handle
	used    uint64 // static area in use (layout extent)
	size    uint64 // static area size
	allocs  []Allocation
	event   int
	// place decides a dlopened module's static TLS for a relocation;
	// it returns a failure or nil.
	place func(p *simpleProc, def, ref *Module, r Reloc) *Failure
	// eager is called for each new module before relocation (FreeBSD
	// DF_STATIC_TLS).
	eager func(p *simpleProc, m *Module) *Failure
	// free releases a module's static TLS when it is unloaded.
	free func(p *simpleProc, m *Module)
	// forward relocates a dlopen's new modules in load order, the
	// dlopened object first (musl's reloc_all walks the list forward);
	// otherwise dependencies come first.
	forward bool
	// keep makes dlclose unload nothing (musl's dlclose only checks the
	// handle).
	keep bool
	// undefined is the loader's message for a symbol not found, or nil
	// for glibc's.
	undefined func(m *Module, sym string) string
}

func newSimple(name string, arch loader.Arch, mods []*Module) (*simpleProc, error) {
	if arch != loader.ArchX86_64 && arch != loader.ArchAArch64 {
		return nil, fmt.Errorf("%w: %s: architecture %v (the models cover x86_64 and aarch64)", ErrUnsupported, name, arch)
	}
	for _, m := range mods {
		if err := checkModule(m); err != nil {
			return nil, err
		}
	}
	p := &simpleProc{name: name, arch: arch, static: map[*Module]uint64{}, startup: map[*Module]bool{},
		closure: map[*Module][]*Module{}, refs: map[*Module]int{}, handles: map[Handle]*Module{}, nextH: 1}
	for _, m := range mods {
		p.startup[m] = true
		p.loaded = append(p.loaded, m)
		p.global = append(p.global, m)
	}
	return p, nil
}

func (p *simpleProc) Loader() string { return p.name }

func (p *simpleProc) Dlopen(req *DlopenRequest) *DlopenOutcome {
	p.event++
	if out := notFound(req); out != nil {
		return out
	}
	out := &DlopenOutcome{}
	var newMods []*Module
	isLoaded := map[*Module]bool{}
	for _, m := range p.loaded {
		isLoaded[m] = true
	}
	for _, m := range req.SearchList {
		if !isLoaded[m] {
			if err := checkModule(m); err != nil {
				out.Error = err.Error()
				out.Failure = &Failure{Kind: FailBadModule, Module: m, Message: out.Error}
				return out
			}
			newMods = append(newMods, m)
		}
	}
	before := len(p.allocs)
	var fail *Failure
	for _, m := range newMods {
		p.loaded = append(p.loaded, m)
		if p.eager != nil && fail == nil {
			fail = p.eager(p, m)
		}
	}
	// Relocate the new modules, dependencies first (or in load order).
	for k := 0; k < len(newMods) && fail == nil; k++ {
		m := newMods[len(newMods)-1-k]
		if p.forward {
			m = newMods[k]
		}
		for _, r := range m.Relocs {
			def := m
			if !r.Local {
				def = lookup(r.Symbol, p.global, req.SearchList)
				if def == nil {
					if r.Weak {
						continue
					}
					msg := fmt.Sprintf("%s: undefined symbol: %s", m.Label(), r.Symbol)
					if p.undefined != nil {
						msg = p.undefined(m, r.Symbol)
					}
					fail = &Failure{Kind: FailUndefinedSymbol, Module: m, Referrer: m, Symbol: r.Symbol, Message: msg}
					break
				}
			}
			if def.TLS == nil || !r.Access.Static() || r.Access == loader.TLSAccessDescriptor {
				continue
			}
			if fail = p.place(p, def, m, r); fail != nil {
				break
			}
		}
	}
	out.New = newMods
	if fail != nil {
		out.Error, out.Failure = fail.Message, fail
		p.unload(newMods)
		return out
	}
	out.Placed = append(out.Placed, p.allocs[before:]...)
	p.closure[req.Root] = req.SearchList
	for _, m := range req.SearchList {
		p.refs[m]++
	}
	if req.Global {
		for _, m := range newMods {
			p.global = append(p.global, m)
		}
	}
	h := p.nextH
	p.nextH++
	p.handles[h] = req.Root
	out.OK, out.Handle = true, h
	return out
}

func (p *simpleProc) unload(mods []*Module) {
	gone := map[*Module]bool{}
	for _, m := range mods {
		gone[m] = true
		if p.free != nil {
			p.free(p, m)
		}
		delete(p.static, m)
		delete(p.refs, m)
	}
	p.loaded = filterMods(p.loaded, gone)
	p.global = filterMods(p.global, gone)
	for i := range p.allocs {
		if gone[p.allocs[i].Module] {
			p.allocs[i].Freed = true
		}
	}
}

func (p *simpleProc) Dlclose(h Handle) ([]*Module, error) {
	root, ok := p.handles[h]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownHandle, h)
	}
	p.event++
	delete(p.handles, h)
	if p.keep {
		return nil, nil
	}
	var gone []*Module
	for _, m := range p.closure[root] {
		p.refs[m]--
		if p.refs[m] <= 0 && !p.startup[m] && !m.NoDelete {
			gone = append(gone, m)
		}
	}
	p.unload(gone)
	return gone, nil
}

func (p *simpleProc) Access(m *Module) { p.event++ }

func (p *simpleProc) Static() StaticInfo {
	free := uint64(0)
	if p.size > p.used {
		free = p.size - p.used
	}
	return StaticInfo{Size: p.size, Used: p.used, Free: free, Surplus: p.size - min(p.size, p.usedAtStart())}
}

func (p *simpleProc) usedAtStart() uint64 { return p.used - p.allocated() }

func (p *simpleProc) allocated() uint64 {
	var s uint64
	for _, a := range p.allocs {
		if !a.Freed {
			s += a.Use
		}
	}
	return s
}

func (p *simpleProc) Offset(m *Module) (uint64, bool) {
	off, ok := p.static[m]
	return off, ok
}

func (p *simpleProc) Allocations() []Allocation { return append([]Allocation(nil), p.allocs...) }

// MuslLoader models musl's dynamic linker (ldso/dynlink.c, musl 1.2.3 and
// 1.2.4): the static TLS area holds exactly the start-up modules, laid out
// as load_library does; there is no surplus, so an initial-exec relocation
// that resolves to a module loaded by dlopen fails (TLS for dlopened
// modules is allocated eagerly for every thread, outside the static area).
// A dlopen relocates its new modules in load order (reloc_all), and
// dlclose unloads nothing.
type MuslLoader struct{ Arch loader.Arch }

// Name implements Loader.
func (l MuslLoader) Name() string { return "musl " + l.Arch.String() }

// Start implements Loader.
func (l MuslLoader) Start(mods []*Module, opt StartOptions) (State, error) {
	p, err := newSimple(l.Name(), l.Arch, mods)
	if err != nil {
		return nil, err
	}
	var off uint64
	for _, m := range mods {
		if m.TLS == nil {
			continue
		}
		if off > MaxStaticTLS {
			return nil, &StartError{Message: "the start-up modules' TLS is larger than the address space"}
		}
		bs, al, fbo := m.TLS.MemSize, max(m.TLS.Align, 1), m.TLS.FirstByteOffset()
		if l.Arch == loader.ArchAArch64 {
			// TLS_ABOVE_TP: offset = tls_offset + ((align-1) & (-tls_offset + image))
			o := off + ((al - 1) & (-off + fbo))
			p.static[m] = o
			off = o + bs
		} else {
			off += bs + al - 1
			off -= (off + fbo) & (al - 1)
			p.static[m] = off
		}
	}
	p.used, p.size = off, off
	p.forward, p.keep = true, true
	p.undefined = func(m *Module, sym string) string {
		return fmt.Sprintf("Error relocating %s: %s: symbol not found", m.Label(), sym)
	}
	p.place = func(p *simpleProc, def, ref *Module, r Reloc) *Failure {
		if _, ok := p.static[def]; ok || p.startup[def] {
			return nil
		}
		name := r.Symbol
		return &Failure{Kind: FailDynamicDefinition, Module: def, Referrer: ref, Symbol: name, Need: def.TLS.MemSize,
			Message: fmt.Sprintf("Error relocating %s: %s: initial-exec TLS resolves to dynamic definition in %s", ref.Label(), name, def.Label())}
	}
	return p, nil
}

// BionicLoader models Android's linker (linker/linker_relocate.cpp,
// docs/elf-tls.md, API 29+): no surplus; an initial-exec reference to a
// dlopened module's TLS always fails.
type BionicLoader struct{ Arch loader.Arch }

// Name implements Loader.
func (l BionicLoader) Name() string { return "bionic " + l.Arch.String() }

// Start implements Loader.
func (l BionicLoader) Start(mods []*Module, opt StartOptions) (State, error) {
	p, err := newSimple(l.Name(), l.Arch, mods)
	if err != nil {
		return nil, err
	}
	// Start-up modules get static offsets; vasim does not model bionic's
	// layout byte for byte, only which modules are static.
	var off uint64
	for _, m := range mods {
		if m.TLS != nil {
			off = roundUp(off, max(m.TLS.Align, 1))
			p.static[m] = off
			off += m.TLS.MemSize
		}
	}
	p.used, p.size = off, off
	p.place = func(p *simpleProc, def, ref *Module, r Reloc) *Failure {
		if p.startup[def] {
			return nil
		}
		msg := fmt.Sprintf("dlopen failed: TLS symbol %q in dlopened %q referenced from %q using IE access model", r.Symbol, def.Label(), ref.Label())
		return &Failure{Kind: FailDynamicDefinition, Module: def, Referrer: ref, Symbol: r.Symbol, Need: def.TLS.MemSize, Message: msg}
	}
	return p, nil
}

// FreeBSDLoader models FreeBSD rtld-elf (libexec/rtld-elf/rtld.c, rtld.h):
// every start-up object gets a static offset; the static space is the
// last offset (variant I: plus the last size) plus RTLD_STATIC_TLS_EXTRA =
// 128 bytes, or LD_STATIC_TLS_EXTRA when that is at least 128. A dlopened
// object with DF_STATIC_TLS gets its offset at load, others at the first
// initial-exec relocation; space is given back only when the freed object
// was the last allocated. Offsets follow calculate_tls_offset without the
// first-byte refinements of recent releases (unconfirmed for those).
type FreeBSDLoader struct{ Arch loader.Arch }

// FreeBSDStaticTLSExtra is RTLD_STATIC_TLS_EXTRA (rtld.h).
const FreeBSDStaticTLSExtra = 128

// Name implements Loader.
func (l FreeBSDLoader) Name() string { return "FreeBSD rtld " + l.Arch.String() }

// Start implements Loader.
func (l FreeBSDLoader) Start(mods []*Module, opt StartOptions) (State, error) {
	p, err := newSimple(l.Name(), l.Arch, mods)
	if err != nil {
		return nil, err
	}
	extra := uint64(FreeBSDStaticTLSExtra)
	if opt.StaticTLSExtra >= FreeBSDStaticTLSExtra {
		extra = opt.StaticTLSExtra
	}
	if extra > MaxStaticTLS {
		return nil, fmt.Errorf("%w: LD_STATIC_TLS_EXTRA=%d: the static TLS area would be larger than a process's address space (%#x bytes); rtld's size_t sum would wrap", ErrUnsupported, extra, uint64(MaxStaticTLS))
	}
	var last, lastSize uint64
	next := func(m *Module) uint64 {
		al := max(m.TLS.Align, 1)
		if l.Arch == loader.ArchAArch64 {
			return roundUp(last+lastSize, al)
		}
		return roundUp(last+m.TLS.MemSize, al)
	}
	for _, m := range mods {
		if m.TLS == nil {
			continue
		}
		if last > MaxStaticTLS {
			return nil, &StartError{Message: "the start-up modules' TLS is larger than the address space"}
		}
		o := next(m)
		p.static[m] = o
		last, lastSize = o, m.TLS.MemSize
	}
	p.used = last
	if l.Arch == loader.ArchAArch64 {
		p.used = last + lastSize
	}
	p.size = p.used + extra
	alloc := func(p *simpleProc, def *Module) *Failure {
		if _, ok := p.static[def]; ok {
			return nil
		}
		o := next(def)
		end := o
		if l.Arch == loader.ArchAArch64 {
			end = o + def.TLS.MemSize
		}
		if end > p.size {
			return &Failure{Kind: FailNoSpace, Module: def, Need: def.TLS.MemSize, Free: p.size - p.used,
				Message: fmt.Sprintf("%s: No space available for static Thread Local Storage", def.Label())}
		}
		use := end - p.used
		p.static[def] = o
		p.allocs = append(p.allocs, Allocation{Module: def, Offset: o, Use: use, Event: p.event})
		last, lastSize = o, def.TLS.MemSize
		p.used = end
		return nil
	}
	p.eager = func(p *simpleProc, m *Module) *Failure {
		if m.TLS != nil && m.StaticTLSFlag {
			return alloc(p, m)
		}
		return nil
	}
	p.place = func(p *simpleProc, def, ref *Module, r Reloc) *Failure {
		if r.Access == loader.TLSAccessInitialExec || r.Access == loader.TLSAccessInitialExec32 {
			return alloc(p, def)
		}
		return nil
	}
	p.free = func(p *simpleProc, m *Module) {
		o, ok := p.static[m]
		if !ok || p.startup[m] {
			return
		}
		// free_tls_offset: only the last allocation is given back.
		if o == last {
			end := o
			if l.Arch == loader.ArchAArch64 {
				end = o + m.TLS.MemSize
			}
			if end == p.used {
				if l.Arch == loader.ArchAArch64 {
					p.used = o
				} else {
					p.used = o - m.TLS.MemSize
				}
				last, lastSize = p.used, 0
			}
		}
	}
	return p, nil
}
