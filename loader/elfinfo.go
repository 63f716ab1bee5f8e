package loader

import (
	"debug/elf"
	"fmt"
)

// TLSAccess classifies a dynamic relocation by how it reaches
// thread-local storage, which decides what glibc does with the defining
// module's TLS block when it processes the relocation.
type TLSAccess uint8

// TLS access kinds.
const (
	// TLSAccessInitialExec is an initial-exec (IE) reference: a fixed
	// offset from the thread pointer (x86_64 R_X86_64_TPOFF64, aarch64
	// R_AARCH64_TLS_TPREL64). glibc must give the defining module a static
	// TLS offset or fail the load (CHECK_STATIC_TLS, elf/dl-static-tls.h).
	TLSAccessInitialExec TLSAccess = iota + 1
	// TLSAccessInitialExec32 is x86_64 R_X86_64_TPOFF32 as a dynamic
	// relocation. glibc's x86_64 elf_machine_rela has no case for it and
	// reports "unexpected reloc type 0x17" (sysdeps/x86_64/dl-machine.h,
	// elf/dl-reloc.c _dl_reloc_bad_type).
	TLSAccessInitialExec32
	// TLSAccessDescriptor is a TLS descriptor (R_X86_64_TLSDESC with
	// -mtls-dialect=gnu2, R_AARCH64_TLSDESC by default): glibc tries the
	// optional static TLS budget and otherwise leaves the access dynamic
	// (TRY_STATIC_TLS).
	TLSAccessDescriptor
	// TLSAccessModuleID is a module-ID relocation (R_X86_64_DTPMOD64,
	// R_AARCH64_TLS_DTPMOD64) used by __tls_get_addr (general or local
	// dynamic access). It never asks for static TLS.
	TLSAccessModuleID
	// TLSAccessDTPOffset is the matching offset within the module's block
	// (R_X86_64_DTPOFF64, R_AARCH64_TLS_DTPREL64).
	TLSAccessDTPOffset
)

func (a TLSAccess) String() string {
	switch a {
	case TLSAccessInitialExec:
		return "initial-exec"
	case TLSAccessInitialExec32:
		return "initial-exec (TPOFF32)"
	case TLSAccessDescriptor:
		return "TLS descriptor"
	case TLSAccessModuleID:
		return "dynamic (module ID)"
	case TLSAccessDTPOffset:
		return "dynamic (offset)"
	}
	return fmt.Sprintf("TLSAccess(%d)", uint8(a))
}

// Static reports whether the access asks glibc for static TLS at
// relocation time (mandatorily for IE, optionally for descriptors).
func (a TLSAccess) Static() bool {
	return a == TLSAccessInitialExec || a == TLSAccessInitialExec32 || a == TLSAccessDescriptor
}

// TLSReloc is one run of identical TLS-related dynamic relocations (same
// type and symbol, consecutive in ld.so's processing order). Runs are kept
// in the order ld.so processes them: the DT_RELA range, then the DT_JMPREL
// range (elf/dynamic-link.h _ELF_DYNAMIC_DO_RELOC). Consecutive identical
// relocations have the same effect on static TLS as one, so they are folded
// into Count.
type TLSReloc struct {
	Access TLSAccess
	// Type is the raw r_type (see TypeName).
	Type uint32
	// Offset is r_offset of the first relocation of the run.
	Offset uint64
	// Count is how many consecutive identical relocations the run holds.
	Count int
	// PLT marks relocations from the DT_JMPREL range (.rela.plt).
	PLT bool
	// SymIndex is the dynamic symbol index; 0 means the image's own TLS
	// block (local-dynamic or IE access to the image's own variables).
	SymIndex uint32
	// Symbol is the symbol name ("" for index 0).
	Symbol string
	// Bind and Visibility are the symbol's binding and visibility.
	Bind       elf.SymBind
	Visibility elf.SymVis
	// Defined reports whether this image defines the symbol.
	Defined bool
}

// BindsLocally reports whether ld.so resolves the relocation to the image
// itself without a symbol lookup: symbol index 0, a local symbol, or
// hidden/internal visibility (glibc elf/dl-reloc.c resolve_map,
// sysdeps/generic/ldsodefs.h dl_symbol_visibility_binds_local_p).
// Otherwise the symbol is looked up in the loaded modules' scope.
func (r TLSReloc) BindsLocally() bool {
	return r.SymIndex == 0 || r.Bind == elf.STB_LOCAL ||
		r.Visibility == elf.STV_HIDDEN || r.Visibility == elf.STV_INTERNAL
}

// TypeName names the relocation type for machine m.
func (r TLSReloc) TypeName(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return elf.R_X86_64(r.Type).String()
	case elf.EM_AARCH64:
		return elf.R_AARCH64(r.Type).String()
	}
	return fmt.Sprintf("reloc %d", r.Type)
}

// TLSSymbol is a thread-local symbol an image defines and exports in its
// dynamic symbol table: what another image's named TLS relocation can
// resolve to.
type TLSSymbol struct {
	Name       string
	Value      uint64 // offset within the image's TLS block
	Size       uint64
	Bind       elf.SymBind
	Visibility elf.SymVis
}

// ELFInfo is what an ELF file says beyond the format-neutral ImageSpec
// fields: what ld.so needs to find dependencies and to decide about static
// TLS.
type ELFInfo struct {
	Class   elf.Class
	Machine elf.Machine
	Type    elf.Type
	// Dynamic reports a PT_DYNAMIC program header (false: a static
	// executable or a plain object).
	Dynamic bool
	// Interp is the PT_INTERP path (the program interpreter), or "".
	Interp string
	// SOName is DT_SONAME, or "".
	SOName string
	// RPath and RunPath are the DT_RPATH and DT_RUNPATH strings, unsplit
	// and unexpanded; HasRPath/HasRunPath report whether the tag is
	// present (glibc ignores DT_RPATH whenever DT_RUNPATH is present, even
	// empty: elf/dl-load.c _dl_map_object). With several tags of one kind
	// the last wins, as in glibc's l_info.
	RPath      string
	HasRPath   bool
	RunPath    string
	HasRunPath bool
	// Flags and Flags1 are DT_FLAGS and DT_FLAGS_1.
	Flags  elf.DynFlag
	Flags1 elf.DynFlag1
	// HasBindNow reports a DT_BIND_NOW tag (see BindNow).
	HasBindNow bool
	// TLSRelocs lists the TLS-related dynamic relocations in ld.so's
	// processing order (see TLSReloc).
	TLSRelocs []TLSReloc
	// TLSSymbols lists the exported thread-local symbols this image
	// defines (only images with a PT_TLS block define any).
	TLSSymbols []TLSSymbol

	// What placement needs beyond the segments (package linux).

	// RELROAddr and RELROSize are PT_GNU_RELRO's p_vaddr and p_memsz: the
	// part ld.so makes read-only after relocation (elf/dl-reloc.c
	// _dl_protect_relro); RELROSize 0 when there is none.
	RELROAddr, RELROSize uint64
	// HasGNUStack reports a PT_GNU_STACK header, and StackFlags its
	// p_flags: whether the image asks for an executable stack.
	HasGNUStack bool
	StackFlags  elf.ProgFlag
	// DynamicEntries is PT_DYNAMIC's p_memsz in dynamic entries (glibc
	// l_ldnum).
	DynamicEntries uint64
	// PhNum is e_phnum; PhdrMapped reports whether the program headers
	// are visible in memory (PT_PHDR, or inside a PT_LOAD's file part), so
	// ld.so need not copy them (elf/dl-load.c _dl_map_object_from_fd).
	PhNum      int
	PhdrMapped bool
	// VersionIndexMax is the largest version index the image defines or
	// needs (DT_VERDEF vd_ndx, DT_VERNEED vna_other): glibc sizes its
	// l_versions array by it (elf/dl-version.c _dl_check_map_versions).
	VersionIndexMax int
}

// StaticTLS reports DF_STATIC_TLS in DT_FLAGS: the link editor's note that
// the object uses the static TLS model. glibc does not read it (2.36:
// defined in elf.h only); FreeBSD rtld does.
func (e *ELFInfo) StaticTLS() bool { return e.Flags&elf.DF_STATIC_TLS != 0 }

// BindNow reports that ld.so relocates the object eagerly even when the
// process binds lazily: DT_BIND_NOW, DF_BIND_NOW in DT_FLAGS or DF_1_NOW
// in DT_FLAGS_1 (glibc elf/get-dynamic-info.h turns the flags into
// l_info[DT_BIND_NOW]; elf/dl-reloc.c _dl_relocate_object then clears
// lazy).
func (e *ELFInfo) BindNow() bool {
	return e.HasBindNow || e.Flags&elf.DF_BIND_NOW != 0 || e.Flags1&elf.DF_1_NOW != 0
}

// NoDelete reports DF_1_NODELETE: dlclose never unloads the object.
func (e *ELFInfo) NoDelete() bool { return e.Flags1&elf.DF_1_NODELETE != 0 }

// NoDefaultLib reports DF_1_NODEFLIB: ld.so does not search the cache or
// the default directories for this object's dependencies.
func (e *ELFInfo) NoDefaultLib() bool { return e.Flags1&elf.DF_1_NODEFLIB != 0 }

// HasStaticTLSAccess reports whether any relocation asks for static TLS
// (initial-exec or descriptor).
func (e *ELFInfo) HasStaticTLSAccess() bool {
	for _, r := range e.TLSRelocs {
		if r.Access.Static() {
			return true
		}
	}
	return false
}
