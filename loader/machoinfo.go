package loader

import (
	"debug/macho"
	"fmt"
	"strings"
)

// Mach-O values debug/macho does not define, which the vocabulary below
// needs (xnu-11417 EXTERNAL_HEADERS/mach-o/loader.h).
const (
	machoLCLoadWeakDylib   macho.LoadCmd = 0x80000018 // LC_LOAD_WEAK_DYLIB (0x18 | LC_REQ_DYLD)
	machoLCReexportDylib   macho.LoadCmd = 0x8000001f // LC_REEXPORT_DYLIB (0x1f | LC_REQ_DYLD)
	machoLCLazyLoadDylib   macho.LoadCmd = 0x20       // LC_LAZY_LOAD_DYLIB
	machoLCLoadUpwardDylib macho.LoadCmd = 0x80000023 // LC_LOAD_UPWARD_DYLIB (0x23 | LC_REQ_DYLD)

	// MachOFlagPIE is MH_PIE in the header flags: the kernel loads the
	// main executable at a random address.
	MachOFlagPIE = 0x200000
)

// DylibKind says which load command named a dependency, which decides
// what dyld does when the dependency is missing and in which order it
// runs initializers.
type DylibKind uint8

// Dependency kinds.
const (
	// DylibRegular is LC_LOAD_DYLIB: the image fails to load if the
	// dependency cannot be found.
	DylibRegular DylibKind = iota
	// DylibWeak is LC_LOAD_WEAK_DYLIB: a missing dependency is not an
	// error (dyld-1378 MachOFile.cpp forEachDependentDylib isWeak).
	DylibWeak
	// DylibReexport is LC_REEXPORT_DYLIB: loaded like a regular
	// dependency, and its symbols are re-exported by this image.
	DylibReexport
	// DylibLazy is LC_LAZY_LOAD_DYLIB. dyld-1378 does not load it at
	// launch: forEachDependentDylib visits only LC_LOAD_DYLIB,
	// LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB and LC_LOAD_UPWARD_DYLIB.
	DylibLazy
	// DylibUpward is LC_LOAD_UPWARD_DYLIB: loaded like a regular
	// dependency, but it may depend back on this image (upward links
	// break the initializer-ordering cycle).
	DylibUpward
)

var dylibKindNames = [...]string{
	DylibRegular:  "regular",
	DylibWeak:     "weak",
	DylibReexport: "reexport",
	DylibLazy:     "lazy",
	DylibUpward:   "upward",
}

// String returns "regular", "weak", "reexport", "lazy" or "upward".
func (k DylibKind) String() string {
	if int(k) < len(dylibKindNames) {
		return dylibKindNames[k]
	}
	return fmt.Sprintf("DylibKind(%d)", uint8(k))
}

// ParseDylibKind parses the names String returns.
func ParseDylibKind(s string) (DylibKind, error) {
	for k, name := range dylibKindNames {
		if s == name {
			return DylibKind(k), nil
		}
	}
	return 0, fmt.Errorf("dependency kind %q: want one of %s", s, strings.Join(dylibKindNames[:], ", "))
}

// LoadCmd returns the load command that names a dependency of this kind.
func (k DylibKind) LoadCmd() macho.LoadCmd {
	switch k {
	case DylibWeak:
		return machoLCLoadWeakDylib
	case DylibReexport:
		return machoLCReexportDylib
	case DylibLazy:
		return machoLCLazyLoadDylib
	case DylibUpward:
		return machoLCLoadUpwardDylib
	}
	return macho.LoadCmdDylib
}

// CommandName returns the name of the load command that names a
// dependency of this kind ("LC_LOAD_WEAK_DYLIB").
func (k DylibKind) CommandName() string {
	switch k {
	case DylibWeak:
		return "LC_LOAD_WEAK_DYLIB"
	case DylibReexport:
		return "LC_REEXPORT_DYLIB"
	case DylibLazy:
		return "LC_LAZY_LOAD_DYLIB"
	case DylibUpward:
		return "LC_LOAD_UPWARD_DYLIB"
	}
	return "LC_LOAD_DYLIB"
}

// LoadedAtLaunch reports whether dyld-1378 loads a dependency of this
// kind together with the image (every kind but DylibLazy).
func (k DylibKind) LoadedAtLaunch() bool { return k != DylibLazy }

// MachODylib is one dependency as a dylib_command names it.
type MachODylib struct {
	// Path is the install name as written (dylib.name), unexpanded:
	// it may start with @rpath/, @loader_path/ or @executable_path/.
	Path string
	// Kind is the load command that named it.
	Kind DylibKind
	// Timestamp, CurrentVersion and CompatVersion are the dylib
	// struct's fields; versions are packed as xxxx.yy.zz (see
	// FormatDylibVersion). Zero for dependencies described in JSON.
	Timestamp      uint32
	CurrentVersion uint32
	CompatVersion  uint32
}

// FormatDylibVersion formats a packed dylib version (X in the high 16
// bits, Y and Z in one byte each) as "X.Y.Z".
func FormatDylibVersion(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v>>16, (v>>8)&0xff, v&0xff)
}

// MachOInfo is what a Mach-O file says beyond the format-neutral
// ImageSpec fields: what dyld needs to find dependencies and to map the
// file. For an image described in JSON only FileSize, CodeSigned,
// RPaths and the Path and Kind of each dependency are set.
type MachOInfo struct {
	// FileType is the header's filetype (MH_EXECUTE, MH_DYLIB,
	// MH_BUNDLE or MH_DYLINKER).
	FileType macho.Type
	// CPU and SubCPU are the header's cputype and cpusubtype, the
	// capability bits (CPU_SUBTYPE_MASK, 0xff000000) included.
	CPU    macho.Cpu
	SubCPU uint32
	// Flags is the header's flags word (MH_PIE, MH_TWOLEVEL, ...).
	Flags uint32
	// InstallName is the LC_ID_DYLIB name of an MH_DYLIB, or "".
	InstallName string
	// Dependencies lists every dependency load command in load-command
	// order, one entry per ImageSpec.Needed element (same order, same
	// paths).
	Dependencies []MachODylib
	// RPaths lists the LC_RPATH paths in load-command order,
	// unexpanded (@loader_path/..., @executable_path/...).
	RPaths []string
	// Dylinker is the LC_LOAD_DYLINKER path ("/usr/lib/dyld") of an
	// executable, or "": the Mach-O counterpart of ELF's PT_INTERP.
	Dylinker string
	// CodeSigned reports an LC_CODE_SIGNATURE with a non-empty
	// signature. dyld registers the signature and then maps the whole
	// file a second time (dyld-1378 JustInTimeLoader.cpp
	// makeJustInTimeLoaderDisk: only when the signature size is not 0).
	CodeSigned bool
	// EntryOffset and StackSize are LC_MAIN's entryoff (the entry point's
	// offset from the start of __TEXT) and stacksize (0: the default main
	// thread stack size). Both are 0 without LC_MAIN.
	EntryOffset uint64
	StackSize   uint64
	// HasMain reports an LC_MAIN command.
	HasMain bool
	// FileSize is the size of the whole file (st_size), all slices of a
	// universal file included: dyld's temporary read-only mapping of the
	// file covers all of it (dyld-1378 DyldDelegates.cpp mapFileReadOnly
	// maps st_size bytes; makeJustInTimeLoaderDisk then picks the slice
	// inside that mapping). 0 means unknown.
	FileSize uint64
	// SliceOffset and SliceSize locate the image within the file: 0 and
	// FileSize for a thin file, the fat_arch offset and size for a slice
	// of a universal file.
	SliceOffset uint64
	SliceSize   uint64
	// UUID is the LC_UUID value, all zero without one.
	UUID [16]byte
}

// PIE reports MH_PIE: the executable is position independent and the
// kernel slides it.
func (m *MachOInfo) PIE() bool { return m.Flags&MachOFlagPIE != 0 }

// Weak reports whether dependency i is weak-linked: dyld continues
// without it when the file is missing.
func (m *MachOInfo) Weak(i int) bool {
	return i >= 0 && i < len(m.Dependencies) && m.Dependencies[i].Kind == DylibWeak
}
