package tls

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
)

// Module is one loaded object as the static TLS models see it: its TLS
// block, the TLS relocations it carries, the TLS symbols it exports and its
// direct dependencies. A Module is the spec; each model keeps its own
// per-process state (offset, module ID) beside it. The same *Module stands
// for the same loaded object across events; an object loaded again after
// an unload is a new *Module.
type Module struct {
	// Name is how messages refer to the object when Path is empty
	// (SONAME or file name).
	Name string
	// Path is glibc's l_name: the path the object was opened under. glibc
	// puts it in its error messages.
	Path string
	// TLS is the PT_TLS block, or nil.
	TLS *loader.TLSBlock
	// Relocs are the TLS relocations in processing order.
	Relocs []Reloc
	// Exports are the TLS symbols the object defines for others.
	Exports []string
	// StaticTLSFlag is DF_STATIC_TLS (read by FreeBSD rtld, not glibc).
	StaticTLSFlag bool
	// NoDelete is DF_1_NODELETE: dlclose never unloads it.
	NoDelete bool
	// BindNow is DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW: its relocations
	// are never lazy (see loader.ELFInfo.BindNow).
	BindNow bool
	// Deps are the direct dependencies in DT_NEEDED order (glibc's
	// per-object l_initfini for objects loaded as dependencies).
	Deps []*Module
	// Main marks the main program.
	Main bool
}

// Label returns Path, or Name when the path is empty.
func (m *Module) Label() string {
	if m == nil {
		return "(nil module)"
	}
	if m.Path != "" {
		return m.Path
	}
	return m.Name
}

// Reloc is a TLS relocation as the models need it.
type Reloc struct {
	Access loader.TLSAccess
	// Type is the raw relocation type, for messages.
	Type uint32
	// Symbol is the referenced symbol ("" for the module's own block).
	Symbol string
	// Local is true when the relocation binds to the module itself
	// without a lookup (symbol index 0, local, hidden or internal, or a
	// protected symbol the module defines).
	Local bool
	// Weak marks an undefined weak reference: unresolved, it is skipped.
	Weak bool
	// PLT marks DT_JMPREL relocations (lazy TLS descriptors on old glibc).
	PLT bool
}

// ModuleFromSpec builds a Module from an ELF spec. path is the l_name to
// report (an empty string keeps spec.Path).
func ModuleFromSpec(spec *loader.ImageSpec, path string) (*Module, error) {
	if spec == nil {
		return nil, errors.New("tls: nil spec")
	}
	if path == "" {
		path = spec.Path
	}
	m := &Module{Name: spec.Name, Path: path, Main: spec.Kind == loader.KindExecutable}
	if spec.TLS != nil {
		t := *spec.TLS
		m.TLS = &t
	}
	e := spec.ELF
	if e == nil {
		return m, nil
	}
	m.StaticTLSFlag = e.StaticTLS()
	m.NoDelete = e.NoDelete()
	m.BindNow = e.BindNow()
	for _, s := range e.TLSSymbols {
		m.Exports = append(m.Exports, s.Name)
	}
	for _, r := range e.TLSRelocs {
		local := r.BindsLocally() || (r.Defined && r.Visibility == elf.STV_PROTECTED)
		m.Relocs = append(m.Relocs, Reloc{
			Access: r.Access, Type: r.Type, Symbol: r.Symbol, Local: local,
			Weak: !r.Defined && r.Bind == elf.STB_WEAK, PLT: r.PLT,
		})
	}
	return m, nil
}

// exports reports whether m defines the TLS symbol name.
func (m *Module) exports(name string) bool {
	for _, s := range m.Exports {
		if s == name {
			return true
		}
	}
	return false
}

// Handle identifies an open dlopen handle.
type Handle int

// DlopenRequest is one dlopen as the loader's search resolved it.
type DlopenRequest struct {
	// Name is the argument given to dlopen (for messages).
	Name string
	// Root is the object opened, or nil when it was not found.
	Root *Module
	// SearchList is the root's breadth-first closure (glibc
	// l_searchlist): already loaded and new modules alike.
	SearchList []*Module
	// Missing names dependencies (or the root) that were not found.
	Missing []ldso.MissingLibrary
	// Global is RTLD_GLOBAL: the new modules join the global scope.
	Global bool
	// Now is RTLD_NOW; false is RTLD_LAZY. It matters only to releases
	// with lazy TLS descriptors (Profile.LazyTLSDesc).
	Now bool
	// Threaded says the process has more than one thread at this point
	// (only glibc <= 2.21 cares).
	Threaded bool
}

// FailureKind says why a dlopen failed.
type FailureKind uint8

// Failure kinds.
const (
	// FailNoSpace: not enough static TLS left for an initial-exec block.
	FailNoSpace FailureKind = iota + 1
	// FailAlign: the block's alignment exceeds the static block's, so no
	// amount of space helps (glibc) .
	FailAlign
	// FailForcedDynamic: the module's TLS was already accessed
	// dynamically, so it can never become static.
	FailForcedDynamic
	// FailNotFound: the object or a dependency was not found.
	FailNotFound
	// FailUndefinedSymbol: a TLS symbol could not be resolved.
	FailUndefinedSymbol
	// FailBadReloc: a relocation type the loader rejects (glibc x86_64
	// dynamic R_X86_64_TPOFF32).
	FailBadReloc
	// FailDTVSurplus: glibc <= 2.21 in a threaded process, module ID above
	// DTV_SURPLUS.
	FailDTVSurplus
	// FailDynamicDefinition: IE access to a module that is not part of the
	// static set (musl, bionic).
	FailDynamicDefinition
	// FailNotObject: the object or a dependency is a file the loader
	// refuses (a directory, a file shorter than an ELF header, one without
	// the ELF magic).
	FailNotObject
	// FailBadModule: a module's PT_TLS no loader could use (alignment 0 or
	// not a power of two, p_filesz above p_memsz, larger than an address
	// space).
	FailBadModule
	// FailAuditSlots: glibc start-up with more LD_AUDIT modules than the
	// namespaces left (elf/dl-tls.c: "Failed loading N audit modules, M
	// are supported.").
	FailAuditSlots
	// FailInitialBlock: glibc start-up cannot allocate the initial
	// thread's static TLS ("cannot allocate TLS data structures for
	// initial thread"; elf/rtld.c init_tls).
	FailInitialBlock
)

// Code is the kind as a stable identifier for machine-readable output:
// "static-tls-exhausted", "alignment-too-large", "already-dynamic",
// "not-found", "undefined-symbol", "unsupported-relocation",
// "dtv-surplus-exceeded", "initial-exec-to-dlopened-module",
// "not-an-object", "invalid-tls-segment", "too-many-audit-modules" or
// "initial-block-too-large".
func (k FailureKind) Code() string {
	switch k {
	case FailNoSpace:
		return "static-tls-exhausted"
	case FailAlign:
		return "alignment-too-large"
	case FailForcedDynamic:
		return "already-dynamic"
	case FailNotFound:
		return "not-found"
	case FailUndefinedSymbol:
		return "undefined-symbol"
	case FailBadReloc:
		return "unsupported-relocation"
	case FailDTVSurplus:
		return "dtv-surplus-exceeded"
	case FailDynamicDefinition:
		return "initial-exec-to-dlopened-module"
	case FailNotObject:
		return "not-an-object"
	case FailBadModule:
		return "invalid-tls-segment"
	case FailAuditSlots:
		return "too-many-audit-modules"
	case FailInitialBlock:
		return "initial-block-too-large"
	}
	return fmt.Sprintf("failure-%d", uint8(k))
}

// StaticTLS reports whether the failure is about static TLS (space,
// alignment, an access already dynamic, the DTV limit, or a loader
// without surplus), rather than a missing object, symbol or a rejected
// relocation.
func (k FailureKind) StaticTLS() bool {
	switch k {
	case FailNoSpace, FailAlign, FailForcedDynamic, FailDTVSurplus, FailDynamicDefinition:
		return true
	}
	return false
}

func (k FailureKind) String() string {
	switch k {
	case FailNoSpace:
		return "no space"
	case FailAlign:
		return "alignment"
	case FailForcedDynamic:
		return "already dynamic"
	case FailNotFound:
		return "not found"
	case FailUndefinedSymbol:
		return "undefined symbol"
	case FailBadReloc:
		return "bad relocation"
	case FailDTVSurplus:
		return "module ID above DTV_SURPLUS"
	case FailDynamicDefinition:
		return "IE access to a dynamically loaded module"
	case FailNotObject:
		return "not an object"
	case FailBadModule:
		return "invalid TLS segment"
	case FailAuditSlots:
		return "too many audit modules"
	case FailInitialBlock:
		return "initial block too large"
	}
	return fmt.Sprintf("FailureKind(%d)", uint8(k))
}

// Failure is a structured description of a failed dlopen (or start-up).
type Failure struct {
	Kind FailureKind
	// Message is the loader's own error text, as dlerror returns it.
	Message string
	// Module is the module whose TLS could not be placed (the defining
	// module of the symbol, not necessarily the one relocated).
	Module *Module
	// Referrer is the module whose relocation asked for it.
	Referrer *Module
	// Symbol is the symbol referenced ("" for the module's own block).
	Symbol string
	// Need is the bytes the block needs (blocksize + firstbyte offset on
	// variant II; blocksize plus alignment padding on variant I) and Free
	// the static TLS bytes left when it was asked for.
	Need, Free uint64
	// Align is the block's alignment; StaticAlign the static block's.
	Align, StaticAlign uint64
}

// Allocation records a module placed in static TLS after start-up (the
// surplus it consumed).
type Allocation struct {
	Module *Module
	// Offset is the module's static offset (glibc l_tls_offset).
	Offset uint64
	// Use is the bytes of surplus the placement consumed, alignment slack
	// included.
	Use uint64
	// Optional marks a TLS-descriptor placement (from the optional
	// budget); otherwise it was initial-exec.
	Optional bool
	// Event is the index of the event (dlopen) that made it.
	Event int
	// Freed marks allocations given back by dlclose.
	Freed bool
}

// DlopenOutcome is the result of one dlopen.
type DlopenOutcome struct {
	OK bool
	// Handle is valid when OK.
	Handle Handle
	// Error is dlerror()'s text when !OK.
	Error string
	// Failure describes the failure when !OK.
	Failure *Failure
	// New lists the modules this dlopen loaded (removed again on failure).
	New []*Module
	// Placed lists static TLS placements this dlopen made.
	Placed []Allocation
}

// StaticInfo is the static TLS state of a process.
type StaticInfo struct {
	// Size and Align are what _dl_get_tls_static_info reports (glibc
	// dl_tls_static_size, dl_tls_static_align).
	Size, Align uint64
	// Used is dl_tls_static_used (variant II: bytes below tp in use;
	// variant I: bytes above tp in use, TCB included).
	Used uint64
	// Surplus is dl_tls_static_surplus.
	Surplus uint64
	// OptionalLeft is what is left of the optional budget
	// (dl_tls_static_optional).
	OptionalLeft uint64
	// TCBSize is the profile's TLS_TCB_SIZE.
	TCBSize uint64
	// Free is the room left for one more block at alignment 1 with no
	// first-byte offset: static_size - static_used - TLS_TCB_SIZE on
	// variant II, static_size - static_used on variant I.
	Free uint64
}

// State is one simulated process under some loader. Every loader model
// (glibc, musl, FreeBSD rtld, bionic) implements it.
type State interface {
	// Loader names the model, e.g. "glibc 2.36 x86_64".
	Loader() string
	// Dlopen loads req's modules and processes their TLS relocations.
	Dlopen(req *DlopenRequest) *DlopenOutcome
	// Dlclose drops a handle and returns the modules unloaded.
	Dlclose(h Handle) ([]*Module, error)
	// Access records that code in m ran and touched the TLS it
	// references, which can fix a module's TLS as dynamic for good.
	Access(m *Module)
	// Static returns the static TLS state.
	Static() StaticInfo
	// Offset returns m's static TLS offset (distance below tp on variant
	// II, above tp on variant I) and whether it has one.
	Offset(m *Module) (uint64, bool)
	// Allocations lists the post-start-up static placements so far.
	Allocations() []Allocation
}

// StartOptions configures a process start.
type StartOptions struct {
	// Tunables are the GLIBC_TUNABLES settings (glibc only).
	Tunables Tunables
	// Audit is the number of LD_AUDIT modules (glibc only): it sizes the
	// surplus, and with any, start-up lays out only the main program.
	Audit int
	// AuditModules are the LD_AUDIT modules that were found, each as its
	// search list (the module, then its dependencies breadth-first: new
	// *Module values, since each audit module has a namespace of its own
	// and its own copy of libc). They are loaded and relocated before the
	// program's libraries, so their initial-exec TLS comes out of the
	// surplus first. Audit counts the names, found or not (elf/rtld.c
	// audit_list_count).
	AuditModules [][]*Module
	// ProgramName is argv[0] for start-up error messages.
	ProgramName string
	// StaticTLSExtra is FreeBSD's LD_STATIC_TLS_EXTRA (0: unset).
	StaticTLSExtra uint64
	// BindNow is LD_BIND_NOW (glibc): every relocation is eager, at
	// start-up and in every dlopen (elf/rtld.c, elf/dl-open.c).
	BindNow bool
	// Sweep, when set, records the interval of glibc.rtld.optional_static_tls
	// values that take the same decisions as this run (glibc only; see
	// Sweep and OptionalStaticTLSSet).
	Sweep *Sweep
}

// StartError is a failure while starting the program (fatal in the real
// loader).
type StartError struct {
	Message string
	Failure *Failure
}

func (e *StartError) Error() string { return e.Message }

// Errors for bad model input.
var (
	// ErrBadModule is the class of errors for module data a loader could
	// not have loaded (e.g. a PT_TLS alignment of zero or not a power of
	// two).
	ErrBadModule = errors.New("tls: invalid module")
	// ErrUnsupported is the class of errors for a configuration the
	// models do not cover: a glibc release before 2.3, aarch64 before
	// glibc 2.17 (the port's first release), an architecture other than
	// x86_64 and aarch64.
	ErrUnsupported = errors.New("tls: unsupported")
	// ErrUnknownHandle is what Dlclose returns for a handle that is not
	// open.
	ErrUnknownHandle = errors.New("tls: dlclose of a handle that is not open")
)

// ModuleError says which module is unusable and why.
type ModuleError struct {
	Module string
	Detail string
}

func (e *ModuleError) Error() string { return fmt.Sprintf("tls: %s: %s", e.Module, e.Detail) }

// Is makes errors.Is(err, ErrBadModule) true.
func (e *ModuleError) Is(target error) bool { return target == ErrBadModule }

func checkModule(m *Module) error {
	if m.TLS == nil {
		return nil
	}
	a := m.TLS.Align
	if a == 0 {
		return &ModuleError{m.Label(), "PT_TLS p_align is 0 (glibc would divide by zero laying it out)"}
	}
	if a&(a-1) != 0 {
		return &ModuleError{m.Label(), fmt.Sprintf("PT_TLS p_align %#x is not a power of two", a)}
	}
	if m.TLS.FileSize > m.TLS.MemSize {
		return &ModuleError{m.Label(), fmt.Sprintf("PT_TLS p_filesz %#x exceeds p_memsz %#x", m.TLS.FileSize, m.TLS.MemSize)}
	}
	// A block (or an alignment) larger than any address space can hold
	// can never be given to a thread; every offset vasim adds up stays
	// far below 2^64 because of this bound.
	if m.TLS.MemSize > MaxStaticTLS || a > MaxStaticTLS {
		return &ModuleError{m.Label(), fmt.Sprintf("PT_TLS p_memsz %#x (p_align %#x) is larger than a process's address space (%#x bytes): no loader can give it a block", m.TLS.MemSize, a, uint64(MaxStaticTLS))}
	}
	return nil
}

func roundUp(x, a uint64) uint64 {
	if a <= 1 {
		return x
	}
	return (x + a - 1) / a * a
}
