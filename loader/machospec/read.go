// Package machospec reads Mach-O images (thin or a slice of a universal
// file) into loader.ImageSpecs: what dyld4 reads from a file before it
// maps it.
package machospec

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/internal/objfile"
	"github.com/vasim/vasim/vaspace"
)

// What is read: what dyld4 reads from a file before it maps it
// (dyld-1378 dyld/JustInTimeLoader.cpp makeJustInTimeLoaderDisk,
// dyld/Loader.cpp mapSegments, common/MachOFile.cpp forEachLoadCommand,
// validSegments, validEmbeddedPaths, forEachDependentDylib).
//
// The header, the segments and the load command list come from the
// standard library's debug/macho (macho.NewFile, File.Loads,
// *macho.Segment). debug/macho decodes only LC_LOAD_DYLIB and LC_RPATH of
// the commands that name files, so the dylib_command and rpath_command
// layouts are decoded here from each command's raw bytes
// (macho.LoadBytes), for all five dependency commands alike. Before
// debug/macho sees a file, its load command table is walked here with
// dyld's structural checks, so that a malformed file is reported with the
// index and file offset of the command at fault rather than as a bare
// "unexpected EOF".
//
// The reader rejects what it cannot read unambiguously (truncation,
// commands or strings out of bounds, segments that wrap or overlap or lie
// past the end of the file). Rules dyld applies when it decides whether
// to load an image (an MH_DYLIB needs an LC_ID_DYLIB, __TEXT must start
// the file, an executable must link libSystem, platform and version
// checks) are left to the placement model. Not read: dyld's unlisted
// extra arm64 slice after the last fat_arch entry (FatFile::forEachSlice
// "look for one more slice"), and thread-local variables (__thread_vars
// sections; ImageSpec.TLS stays nil).
//
// Constants are from xnu-11417 EXTERNAL_HEADERS/mach-o/loader.h and
// osfmk/mach/machine.h.

// format names the format in errors.
const format = "Mach-O"

// Mach-O constants debug/macho does not define (xnu-11417
// EXTERNAL_HEADERS/mach-o/loader.h, osfmk/mach/machine.h, mach-o/fat.h).
const (
	machoLCIDDylib         macho.LoadCmd = 0xd        // LC_ID_DYLIB
	machoLCLoadDylinker    macho.LoadCmd = 0xe        // LC_LOAD_DYLINKER
	machoLCIDDylinker      macho.LoadCmd = 0xf        // LC_ID_DYLINKER
	machoLCLoadWeakDylib   macho.LoadCmd = 0x80000018 // LC_LOAD_WEAK_DYLIB (0x18 | LC_REQ_DYLD)
	machoLCUUID            macho.LoadCmd = 0x1b       // LC_UUID
	machoLCCodeSignature   macho.LoadCmd = 0x1d       // LC_CODE_SIGNATURE
	machoLCReexportDylib   macho.LoadCmd = 0x8000001f // LC_REEXPORT_DYLIB (0x1f | LC_REQ_DYLD)
	machoLCLazyLoadDylib   macho.LoadCmd = 0x20       // LC_LAZY_LOAD_DYLIB
	machoLCLoadUpwardDylib macho.LoadCmd = 0x80000023 // LC_LOAD_UPWARD_DYLIB (0x23 | LC_REQ_DYLD)
	machoLCMain            macho.LoadCmd = 0x80000028 // LC_MAIN (0x28 | LC_REQ_DYLD)

	machoTypeDylinker macho.Type = 0x7 // MH_DYLINKER

	machoSubtypeMask      = 0xff000000 // CPU_SUBTYPE_MASK: capability bits
	machoSubtypeARM64E    = 2          // CPU_SUBTYPE_ARM64E
	machoSubtypeX86_64H   = 8          // CPU_SUBTYPE_X86_64_H
	machoCPUARM64_32      = 0x0200000c // CPU_TYPE_ARM64_32
	machoFatMagic64       = 0xcafebabf // FAT_MAGIC_64
	machoSGNoReloc        = 0x4        // SG_NORELOC
	machoVMProtAll        = 0x7        // VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE
	machoHeaderSize32     = 28         // sizeof(struct mach_header)
	machoHeaderSize64     = 32         // sizeof(struct mach_header_64)
	machoSegCmdSize32     = 56         // sizeof(struct segment_command)
	machoSegCmdSize64     = 72         // sizeof(struct segment_command_64)
	machoSectSize32       = 68         // sizeof(struct section)
	machoSectSize64       = 80         // sizeof(struct section_64)
	machoDylibCmdSize     = 24         // sizeof(struct dylib_command)
	machoLCStrCmdSize     = 12         // rpath_command, dylinker_command
	machoUUIDCmdSize      = 24         // sizeof(struct uuid_command)
	machoLinkeditCmdSize  = 16         // sizeof(struct linkedit_data_command)
	machoEntryCmdSize     = 24         // sizeof(struct entry_point_command)
	machoSymtabCmdSize    = 24         // sizeof(struct symtab_command)
	machoDysymtabCmdSize  = 80         // sizeof(struct dysymtab_command)
	machoFatArchSize      = 20         // sizeof(struct fat_arch)
	machoFatArch64Size    = 32         // sizeof(struct fat_arch_64)
	machoFatHeaderMaxSize = 4096       // dyld reads at most one page of fat_arch entries
)

// machoTypeNames names the filetypes of xnu-11417 loader.h.
var machoTypeNames = map[macho.Type]string{
	0x1: "MH_OBJECT (relocatable object file)",
	0x2: "MH_EXECUTE",
	0x3: "MH_FVMLIB (fixed VM shared library)",
	0x4: "MH_CORE (core file)",
	0x5: "MH_PRELOAD (preloaded executable)",
	0x6: "MH_DYLIB",
	0x7: "MH_DYLINKER",
	0x8: "MH_BUNDLE",
	0x9: "MH_DYLIB_STUB (shared library stub)",
	0xa: "MH_DSYM (debug companion file)",
	0xb: "MH_KEXT_BUNDLE (kernel extension)",
	0xc: "MH_FILESET (set of Mach-O files)",
}

func machoTypeName(t macho.Type) string {
	if s, ok := machoTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("unknown filetype %#x", uint32(t))
}

// machoCmdNames names the load commands error messages mention.
var machoCmdNames = map[macho.LoadCmd]string{
	macho.LoadCmdSegment:    "LC_SEGMENT",
	macho.LoadCmdSegment64:  "LC_SEGMENT_64",
	macho.LoadCmdSymtab:     "LC_SYMTAB",
	macho.LoadCmdDysymtab:   "LC_DYSYMTAB",
	macho.LoadCmdThread:     "LC_THREAD",
	macho.LoadCmdUnixThread: "LC_UNIXTHREAD",
	macho.LoadCmdDylib:      "LC_LOAD_DYLIB",
	macho.LoadCmdRpath:      "LC_RPATH",
	machoLCIDDylib:          "LC_ID_DYLIB",
	machoLCLoadDylinker:     "LC_LOAD_DYLINKER",
	machoLCIDDylinker:       "LC_ID_DYLINKER",
	machoLCLoadWeakDylib:    "LC_LOAD_WEAK_DYLIB",
	machoLCUUID:             "LC_UUID",
	machoLCCodeSignature:    "LC_CODE_SIGNATURE",
	machoLCReexportDylib:    "LC_REEXPORT_DYLIB",
	machoLCLazyLoadDylib:    "LC_LAZY_LOAD_DYLIB",
	machoLCLoadUpwardDylib:  "LC_LOAD_UPWARD_DYLIB",
	machoLCMain:             "LC_MAIN",
}

func machoCmdName(c macho.LoadCmd) string {
	if s, ok := machoCmdNames[c]; ok {
		return s
	}
	return fmt.Sprintf("cmd %#x", uint32(c))
}

// machoDylibKinds maps the dependency load commands to their kinds.
var machoDylibKinds = map[macho.LoadCmd]loader.DylibKind{
	macho.LoadCmdDylib:     loader.DylibRegular,
	machoLCLoadWeakDylib:   loader.DylibWeak,
	machoLCReexportDylib:   loader.DylibReexport,
	machoLCLazyLoadDylib:   loader.DylibLazy,
	machoLCLoadUpwardDylib: loader.DylibUpward,
}

// machoMinCmdSize is the fixed part of each command vasim or debug/macho
// decodes; a shorter cmdsize is malformed.
var machoMinCmdSize = map[macho.LoadCmd]uint32{
	macho.LoadCmdSymtab:    machoSymtabCmdSize,
	macho.LoadCmdDysymtab:  machoDysymtabCmdSize,
	macho.LoadCmdDylib:     machoDylibCmdSize,
	macho.LoadCmdRpath:     machoLCStrCmdSize,
	machoLCIDDylib:         machoDylibCmdSize,
	machoLCLoadDylinker:    machoLCStrCmdSize,
	machoLCIDDylinker:      machoLCStrCmdSize,
	machoLCLoadWeakDylib:   machoDylibCmdSize,
	machoLCUUID:            machoUUIDCmdSize,
	machoLCCodeSignature:   machoLinkeditCmdSize,
	machoLCReexportDylib:   machoDylibCmdSize,
	machoLCLazyLoadDylib:   machoDylibCmdSize,
	machoLCLoadUpwardDylib: machoDylibCmdSize,
	machoLCMain:            machoEntryCmdSize,
}

// Read reads the Mach-O file at path into an ImageSpec with its MachO
// field set. A universal file's arm64e slice is read if it has one, else
// its arm64 slice, else its only slice (see ParseArch). Errors are
// *loader.FileError values naming the file and what was wrong.
func Read(path string) (*loader.ImageSpec, error) {
	return ReadArch(path, "")
}

// ReadArch is Read reading the slice for architecture arch (see
// ParseArch). Only a regular file is opened (input.Open).
func ReadArch(path, arch string) (*loader.ImageSpec, error) {
	f, err := input.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseArch(f, path, arch)
}

// Parse reads a Mach-O image from r; path names it in the spec and in
// errors. It never panics: a panic inside debug/macho on hostile input is
// converted into a *loader.FileError. The file size (MachOInfo.FileSize)
// comes from r's Size or Stat method, or is probed with ReadAt.
func Parse(r io.ReaderAt, path string) (*loader.ImageSpec, error) {
	return ParseArch(r, path, "")
}

// ParseArch is Parse reading the slice for architecture arch ("arm64e",
// "arm64", "x86_64", ...: the names SliceName returns) of a universal
// file. With arch "" it picks arm64e, then arm64, then the only slice; a
// universal file with several slices and neither arm64 variant is a
// loader.ErrNoArch error listing the slices. A thin file must match a
// non-empty arch.
//
// Only the chosen slice is parsed, as dyld does (dyld-1378 MachOFile.cpp
// FatFile::forEachSlice checks the other slices' headers only), so a
// damaged slice for another architecture does not make the file
// unreadable. FAT_MAGIC_64 universal headers are read too.
func ParseArch(r io.ReaderAt, path, arch string) (spec *loader.ImageSpec, err error) {
	defer objfile.Recover(path, format, "debug/macho", &spec, &err)
	p := &machoParser{path: path, r: r, wantArch: arch}
	return p.parse()
}

type machoParser struct {
	path     string
	r        io.ReaderAt
	wantArch string
	size     uint64 // whole file
	arch     string // chosen slice of a universal file, for errors
	sliceOff uint64
	bo       binary.ByteOrder
}

func (p *machoParser) fail(what string, off int64, err error) error {
	return &loader.FileError{Path: p.path, Format: format, Slice: p.arch, What: what, Offset: off, Err: err}
}

// failf reports a problem at offset off within the slice.
func (p *machoParser) failf(what string, off uint64, format string, args ...any) error {
	return p.fail(what, int64(p.sliceOff+off), fmt.Errorf(format, args...))
}

func (p *machoParser) parse() (*loader.ImageSpec, error) {
	size, err := objfile.Size(p.r)
	if err != nil {
		return nil, p.fail("file size", -1, err)
	}
	p.size = uint64(size)
	var m [4]byte
	if n, _ := p.r.ReadAt(m[:], 0); n < len(m) {
		return nil, p.fail("Mach-O header", 0, fmt.Errorf("truncated: the file has %d bytes, fewer than a magic number", n))
	}
	switch be, le := binary.BigEndian.Uint32(m[:]), binary.LittleEndian.Uint32(m[:]); {
	case be == macho.MagicFat || be == machoFatMagic64:
		off, sz, err := p.chooseSlice(be == machoFatMagic64)
		if err != nil {
			return nil, err
		}
		return p.parseSlice(off, sz)
	case le&^1 == macho.Magic32, be&^1 == macho.Magic32:
		return p.parseSlice(0, p.size)
	default:
		return nil, &loader.FileError{Path: p.path, Format: format, What: "Mach-O header", Offset: 0, Class: loader.ErrWrongFormat,
			Err: fmt.Errorf("magic %#08x is neither a Mach-O magic (0xfeedface, 0xfeedfacf, either byte order) nor a universal one (0xcafebabe, 0xcafebabf)", be)}
	}
}

// machoSlice is one fat_arch (or fat_arch_64) entry.
type machoSlice struct {
	cpu       macho.Cpu
	subCPU    uint32
	off, size uint64
	arch      string
}

// chooseSlice reads the universal header and returns the slice to parse.
func (p *machoParser) chooseSlice(fat64 bool) (uint64, uint64, error) {
	const what = "universal header"
	var hdr [8]byte
	if n, _ := p.r.ReadAt(hdr[:], 0); n < len(hdr) {
		return 0, 0, p.fail(what, 0, fmt.Errorf("truncated: the file has %d bytes, the fat_header needs 8", n))
	}
	narch := uint64(binary.BigEndian.Uint32(hdr[4:]))
	entSize := uint64(machoFatArchSize)
	if fat64 {
		entSize = machoFatArch64Size
	}
	// dyld-1378 FatFile::forEachSlice: the entries must fit in the first
	// page of the file.
	if maxArch := (machoFatHeaderMaxSize - 8) / entSize; narch > maxArch {
		return 0, 0, p.fail(what, 4, fmt.Errorf("nfat_arch %d is more than the %d entries that fit in the first 4096 bytes", narch, maxArch))
	}
	if narch == 0 {
		return 0, 0, p.fail(what, 4, errors.New("nfat_arch is 0: the file has no slices"))
	}
	if end := 8 + narch*entSize; end > p.size {
		return 0, 0, p.fail(what, 8, fmt.Errorf("truncated: %d fat_arch entries end at %#x, past the end of the file (%#x bytes)", narch, end, p.size))
	}
	tab := make([]byte, narch*entSize)
	if _, err := p.r.ReadAt(tab, 8); err != nil {
		return 0, 0, p.fail(what, 8, err)
	}
	slices := make([]machoSlice, narch)
	for i := range slices {
		e := tab[uint64(i)*entSize:]
		s := &slices[i]
		if fat64 {
			// struct fat_arch_64: cputype, cpusubtype, offset (64),
			// size (64), align, reserved.
			s.cpu, s.subCPU = macho.Cpu(binary.BigEndian.Uint32(e)), binary.BigEndian.Uint32(e[4:])
			s.off, s.size = binary.BigEndian.Uint64(e[8:]), binary.BigEndian.Uint64(e[16:])
		} else {
			var fa macho.FatArchHeader
			if err := binary.Read(bytes.NewReader(e[:entSize]), binary.BigEndian, &fa); err != nil {
				return 0, 0, p.fail(what, int64(8+uint64(i)*entSize), err)
			}
			s.cpu, s.subCPU, s.off, s.size = fa.Cpu, fa.SubCpu, uint64(fa.Offset), uint64(fa.Size)
		}
		s.arch = objfile.SliceName(s.cpu, s.subCPU)
	}
	names := make([]string, len(slices))
	for i, s := range slices {
		names[i] = s.arch
	}
	pick := -1
	switch {
	case p.wantArch != "":
		for i, s := range slices {
			if s.arch == p.wantArch {
				pick = i
				break
			}
		}
		if pick < 0 {
			return 0, 0, &loader.FileError{Path: p.path, Format: format, What: what, Offset: -1, Class: loader.ErrNoArch,
				Err: fmt.Errorf("no %s slice; the file has %s", p.wantArch, strings.Join(names, ", "))}
		}
	case len(slices) == 1:
		pick = 0
	default:
		for _, want := range []string{"arm64e", "arm64"} {
			for i, s := range slices {
				if pick < 0 && s.arch == want {
					pick = i
				}
			}
		}
		if pick < 0 {
			return 0, 0, &loader.FileError{Path: p.path, Format: format, What: what, Offset: -1, Class: loader.ErrNoArch,
				Err: fmt.Errorf("the file has slices %s and none is arm64e or arm64; name the one to read (ReadArch)", strings.Join(names, ", "))}
		}
	}
	s := slices[pick]
	entOff := int64(8 + uint64(pick)*entSize)
	p.arch = s.arch
	if end, ok := vaspace.Addr(s.off).Add(s.size); !ok || uint64(end) > p.size {
		return 0, 0, p.fail(fmt.Sprintf("fat_arch %d", pick), entOff,
			fmt.Errorf("slice [%#x, +%#x) extends past the end of the file (%#x bytes)", s.off, s.size, p.size))
	}
	// dyld-1378 FatFile::isValidSlice: the slice's own header must agree
	// with the fat_arch entry.
	var mh [12]byte
	if n, _ := p.r.ReadAt(mh[:], int64(s.off)); n == len(mh) && s.size >= uint64(len(mh)) {
		bo := machoByteOrder(mh[:4])
		if bo != nil {
			cpu, sub := macho.Cpu(bo.Uint32(mh[4:])), bo.Uint32(mh[8:])
			if cpu != s.cpu || sub&^machoSubtypeMask != s.subCPU&^machoSubtypeMask {
				return 0, 0, p.fail(fmt.Sprintf("fat_arch %d", pick), entOff,
					fmt.Errorf("the slice's header says cputype %#x cpusubtype %#x, the fat_arch entry %#x %#x", uint32(cpu), sub, uint32(s.cpu), s.subCPU))
			}
		}
	}
	return s.off, s.size, nil
}

// machoByteOrder returns the byte order a thin Mach-O magic implies, or
// nil.
func machoByteOrder(m []byte) binary.ByteOrder {
	switch {
	case binary.LittleEndian.Uint32(m)&^1 == macho.Magic32:
		return binary.LittleEndian
	case binary.BigEndian.Uint32(m)&^1 == macho.Magic32:
		return binary.BigEndian
	}
	return nil
}

// machoCmd is one load command as the table walk found it.
type machoCmd struct {
	cmd  macho.LoadCmd
	off  uint64 // offset within the slice
	data []byte // cmdsize bytes
}

func (c *machoCmd) what(i int) string {
	return fmt.Sprintf("load command %d (%s)", i, machoCmdName(c.cmd))
}

func (p *machoParser) parseSlice(off, size uint64) (*loader.ImageSpec, error) {
	p.sliceOff = off
	const what = "Mach-O header"
	sr := io.NewSectionReader(p.r, int64(off), int64(size))
	var m [4]byte
	if n, _ := sr.ReadAt(m[:], 0); n < len(m) {
		return nil, p.failf(what, 0, "truncated: the image has %d bytes, fewer than a magic number", n)
	}
	bo := machoByteOrder(m[:])
	if bo == nil {
		return nil, &loader.FileError{Path: p.path, Format: format, Slice: p.arch, What: what, Offset: int64(off), Class: loader.ErrWrongFormat,
			Err: fmt.Errorf("magic %#08x is not a Mach-O magic (0xfeedface, 0xfeedfacf)", binary.BigEndian.Uint32(m[:]))}
	}
	p.bo = bo
	is64 := bo.Uint32(m[:]) == macho.Magic64
	hdrSize := uint64(machoHeaderSize32)
	if is64 {
		hdrSize = machoHeaderSize64
	}
	if size < hdrSize {
		return nil, p.failf(what, 0, "truncated: the image has %d bytes, the %d-bit header needs %d", size, map[bool]int{false: 32, true: 64}[is64], hdrSize)
	}
	hb := make([]byte, hdrSize)
	if _, err := sr.ReadAt(hb, 0); err != nil {
		return nil, p.failf(what, 0, "%v", err)
	}
	var fh macho.FileHeader
	fh.Magic, fh.Cpu, fh.SubCpu = bo.Uint32(hb), macho.Cpu(bo.Uint32(hb[4:])), bo.Uint32(hb[8:])
	fh.Type, fh.Ncmd, fh.Cmdsz, fh.Flags = macho.Type(bo.Uint32(hb[12:])), bo.Uint32(hb[16:]), bo.Uint32(hb[20:]), bo.Uint32(hb[24:])
	machine := objfile.SliceName(fh.Cpu, fh.SubCpu)
	if p.wantArch != "" && p.arch == "" && machine != p.wantArch {
		return nil, &loader.FileError{Path: p.path, Format: format, What: what, Offset: -1, Class: loader.ErrNoArch,
			Err: fmt.Errorf("the file is a thin %s image, not %s", machine, p.wantArch)}
	}
	var kind loader.ImageKind
	switch fh.Type {
	case macho.TypeExec:
		kind = loader.KindExecutable
	case machoTypeDylinker:
		kind = loader.KindLoader
	case macho.TypeDylib, macho.TypeBundle:
		kind = loader.KindLibrary
	default:
		return nil, p.failf(what, 12, "file type %s is not an image dyld loads; vasim reads MH_EXECUTE, MH_DYLIB, MH_BUNDLE and MH_DYLINKER", machoTypeName(fh.Type))
	}
	if end := hdrSize + uint64(fh.Cmdsz); end > size {
		return nil, p.failf("load commands", hdrSize, "truncated: sizeofcmds %#x ends at %#x, past the end of the image (%#x bytes)", fh.Cmdsz, end, size)
	}
	cmds, err := p.walkCommands(sr, &fh, hdrSize, size, is64)
	if err != nil {
		return nil, err
	}

	f, err := macho.NewFile(sr)
	if err != nil {
		if off != 0 {
			err = fmt.Errorf("%w (byte offsets within the slice at %#x)", err, off)
		}
		return nil, p.fail("load commands (debug/macho)", -1, err)
	}
	if len(f.Loads) != len(cmds) {
		return nil, p.fail("load commands (debug/macho)", -1, fmt.Errorf("debug/macho found %d load commands, the table walk %d", len(f.Loads), len(cmds)))
	}

	info := &loader.MachOInfo{
		FileType:    f.Type,
		CPU:         f.Cpu,
		SubCPU:      f.SubCpu,
		Flags:       f.Flags,
		FileSize:    p.size,
		SliceOffset: off,
		SliceSize:   size,
	}
	spec := &loader.ImageSpec{
		Name:   objfile.BaseName(p.path),
		Path:   p.path,
		Format: loader.FormatMachO,
		Kind:   kind,
		Arch:   archOf(f.Cpu),
		MachO:  info,
	}
	entries := 0
	for i := range cmds {
		c := &cmds[i]
		if !bytes.Equal(f.Loads[i].Raw(), c.data) {
			return nil, p.failf(c.what(i), c.off, "debug/macho and the table walk disagree about this command")
		}
		switch c.cmd {
		case macho.LoadCmdSegment, macho.LoadCmdSegment64:
			seg, ok := f.Loads[i].(*macho.Segment)
			if !ok {
				return nil, p.failf(c.what(i), c.off, "debug/macho did not decode it as a segment (%T)", f.Loads[i])
			}
			s, err := p.segment(seg, c, i, size, is64)
			if err != nil {
				return nil, err
			}
			spec.Segments = append(spec.Segments, s)
		case macho.LoadCmdDylib, machoLCLoadWeakDylib, machoLCReexportDylib, machoLCLazyLoadDylib, machoLCLoadUpwardDylib, machoLCIDDylib:
			name, err := p.lcStr(c, i, 8)
			if err != nil {
				return nil, err
			}
			if c.cmd == machoLCIDDylib {
				if info.InstallName == "" && fh.Type == macho.TypeDylib {
					info.InstallName = name
				}
				continue
			}
			d := loader.MachODylib{
				Path:           name,
				Kind:           machoDylibKinds[c.cmd],
				Timestamp:      bo.Uint32(c.data[12:]),
				CurrentVersion: bo.Uint32(c.data[16:]),
				CompatVersion:  bo.Uint32(c.data[20:]),
			}
			info.Dependencies = append(info.Dependencies, d)
			spec.Needed = append(spec.Needed, name)
		case macho.LoadCmdRpath:
			path, err := p.lcStr(c, i, 8)
			if err != nil {
				return nil, err
			}
			info.RPaths = append(info.RPaths, path)
		case machoLCLoadDylinker:
			path, err := p.lcStr(c, i, 8)
			if err != nil {
				return nil, err
			}
			info.Dylinker = path
		case machoLCUUID:
			copy(info.UUID[:], c.data[8:24])
		case machoLCCodeSignature:
			if bo.Uint32(c.data[12:]) != 0 {
				info.CodeSigned = true
			}
		case machoLCMain, macho.LoadCmdUnixThread:
			entries++
			// dyld-1378 MachOAnalyzer.cpp: "only one LC_MAIN or
			// LC_UNIXTHREAD is allowed".
			if entries > 1 && fh.Type == macho.TypeExec {
				return nil, p.failf(c.what(i), c.off, "a second LC_MAIN or LC_UNIXTHREAD; dyld allows only one")
			}
			if c.cmd == machoLCMain {
				info.HasMain = true
				info.EntryOffset = bo.Uint64(c.data[8:])
				info.StackSize = bo.Uint64(c.data[16:])
			}
		}
	}
	if fh.Type == macho.TypeDylib && info.InstallName != "" {
		spec.Name = info.InstallName
	}
	if err := objfile.Validate(spec, p.path, format, p.arch); err != nil {
		return nil, err
	}
	return spec, nil
}

// walkCommands checks the load command table the way dyld-1378
// MachOFile::forEachLoadCommand and validSegments do, and the fixed
// sizes of the commands read here or by debug/macho, so that every
// structural error names its command.
func (p *machoParser) walkCommands(sr *io.SectionReader, fh *macho.FileHeader, hdrSize, size uint64, is64 bool) ([]machoCmd, error) {
	bo := p.bo
	table := make([]byte, fh.Cmdsz)
	if _, err := sr.ReadAt(table, int64(hdrSize)); err != nil {
		return nil, p.failf("load commands", hdrSize, "%v", err)
	}
	var cmds []machoCmd
	rest, off := table, hdrSize
	for i := uint32(0); i < fh.Ncmd; i++ {
		if len(rest) < 8 {
			return nil, p.failf(fmt.Sprintf("load command %d of %d", i, fh.Ncmd), off, "starts %d bytes before the end of sizeofcmds (%#x); a command needs 8", len(rest), fh.Cmdsz)
		}
		c := machoCmd{cmd: macho.LoadCmd(bo.Uint32(rest)), off: off}
		cmdsize := bo.Uint32(rest[4:])
		bad := func(format string, args ...any) error { return p.failf(c.what(int(i)), c.off, format, args...) }
		switch {
		case cmdsize < 8:
			return nil, bad("cmdsize %#x is smaller than 8", cmdsize)
		case cmdsize%4 != 0:
			return nil, bad("cmdsize %#x is not a multiple of 4", cmdsize)
		case uint64(cmdsize) > uint64(len(rest)):
			return nil, bad("cmdsize %#x runs past the end of the load commands (sizeofcmds %#x ends at offset %#x)", cmdsize, fh.Cmdsz, hdrSize+uint64(fh.Cmdsz))
		}
		c.data, rest = rest[:cmdsize], rest[cmdsize:]
		if min, ok := machoMinCmdSize[c.cmd]; ok && cmdsize < min {
			return nil, bad("cmdsize %#x is smaller than the command's fixed part (%d bytes)", cmdsize, min)
		}
		switch c.cmd {
		case macho.LoadCmdSegment, macho.LoadCmdSegment64:
			// dyld-1378 MachOFile::validSegments: the sections fill the
			// rest of the command exactly.
			fixed, sect := uint64(machoSegCmdSize32), uint64(machoSectSize32)
			if c.cmd == macho.LoadCmdSegment64 {
				fixed, sect = machoSegCmdSize64, machoSectSize64
			}
			if uint64(cmdsize) < fixed {
				return nil, bad("cmdsize %#x is smaller than the command's fixed part (%d bytes)", cmdsize, fixed)
			}
			nsects := uint64(bo.Uint32(c.data[fixed-8:]))
			if uint64(cmdsize)-fixed != nsects*sect {
				return nil, bad("cmdsize %#x does not match nsects %d (%d + %d × %d bytes)", cmdsize, nsects, fixed, nsects, sect)
			}
		case macho.LoadCmdSymtab:
			// What debug/macho reads for the symbol table must be in
			// the image.
			entSize := uint64(12)
			if is64 {
				entSize = 16
			}
			symoff, nsyms := uint64(bo.Uint32(c.data[8:])), uint64(bo.Uint32(c.data[12:]))
			stroff, strsize := uint64(bo.Uint32(c.data[16:])), uint64(bo.Uint32(c.data[20:]))
			if symoff+nsyms*entSize > size {
				return nil, bad("symbol table [%#x, +%d × %d) extends past the end of the image (%#x bytes)", symoff, nsyms, entSize, size)
			}
			if stroff+strsize > size {
				return nil, bad("string table [%#x, +%#x) extends past the end of the image (%#x bytes)", stroff, strsize, size)
			}
		case macho.LoadCmdDylib, machoLCLoadWeakDylib, machoLCReexportDylib, machoLCLazyLoadDylib,
			machoLCLoadUpwardDylib, machoLCIDDylib, macho.LoadCmdRpath, machoLCLoadDylinker, machoLCIDDylinker:
			// debug/macho checks LC_LOAD_DYLIB and LC_RPATH names too,
			// without naming the command; check them all here first.
			if _, err := p.lcStr(&c, int(i), 8); err != nil {
				return nil, err
			}
		case macho.LoadCmdDysymtab:
			indoff, nind := uint64(bo.Uint32(c.data[56:])), uint64(bo.Uint32(c.data[60:]))
			if indoff+nind*4 > size {
				return nil, bad("indirect symbol table [%#x, +%d × 4) extends past the end of the image (%#x bytes)", indoff, nind, size)
			}
		}
		cmds = append(cmds, c)
		off += uint64(cmdsize)
	}
	return cmds, nil
}

// lcStr decodes the lc_str at byte at of command c: an offset from the
// start of the command to a NUL-terminated string that must end inside
// the command (dyld-1378 MachOFile::validEmbeddedPaths).
func (p *machoParser) lcStr(c *machoCmd, i int, at int) (string, error) {
	strOff := p.bo.Uint32(c.data[at:])
	if uint64(strOff) >= uint64(len(c.data)) {
		return "", p.failf(c.what(i), c.off, "string offset %#x is outside the command (cmdsize %#x)", strOff, len(c.data))
	}
	s := c.data[strOff:]
	n := bytes.IndexByte(s, 0)
	if n < 0 {
		return "", p.failf(c.what(i), c.off, "the string at offset %#x is not NUL-terminated within the command (cmdsize %#x)", strOff, len(c.data))
	}
	return string(s[:n]), nil
}

// segment converts one LC_SEGMENT(_64) with dyld-1378
// MachOFile::validSegments's per-segment checks.
func (p *machoParser) segment(seg *macho.Segment, c *machoCmd, i int, size uint64, is64 bool) (loader.Segment, error) {
	bad := func(format string, args ...any) error {
		return p.failf(fmt.Sprintf("%s %q", c.what(i), seg.Name), c.off, format, args...)
	}
	if seg.Prot&^machoVMProtAll != 0 {
		return loader.Segment{}, bad("initprot %#x has bits other than VM_PROT_READ, VM_PROT_WRITE and VM_PROT_EXECUTE", uint32(seg.Prot))
	}
	end, ok := vaspace.Addr(seg.Addr).Add(seg.Memsz)
	if !ok || (!is64 && uint64(end) > 1<<32) {
		return loader.Segment{}, bad("vmaddr %#x + vmsize %#x wraps around the %d-bit address space", seg.Addr, seg.Memsz, map[bool]int{false: 32, true: 64}[is64])
	}
	if fend, ok := vaspace.Addr(seg.Offset).Add(seg.Filesz); !ok || uint64(fend) > size {
		return loader.Segment{}, bad("file range [%#x, +%#x) extends past the end of the image (%#x bytes)", seg.Offset, seg.Filesz, size)
	}
	fileSize := seg.Filesz
	if fileSize > seg.Memsz {
		// dyld accepts a non-allocatable segment (vmsize 0 with
		// SG_NORELOC, such as __LLVM); it takes no address space.
		if seg.Memsz != 0 || seg.Flag&machoSGNoReloc == 0 {
			return loader.Segment{}, bad("filesize %#x exceeds vmsize %#x", seg.Filesz, seg.Memsz)
		}
		fileSize = 0
	}
	return loader.Segment{
		Name:     seg.Name,
		VMAddr:   seg.Addr,
		VMSize:   seg.Memsz,
		FileOff:  seg.Offset,
		FileSize: fileSize,
		Prot:     vaspace.Prot(seg.Prot),
	}, nil
}

// archOf returns the loader.Arch of a Mach-O cputype.
func archOf(cpu macho.Cpu) loader.Arch {
	switch cpu {
	case macho.CpuArm64:
		return loader.ArchAArch64
	case macho.CpuAmd64:
		return loader.ArchX86_64
	case macho.Cpu386:
		return loader.ArchI386
	case machoCPUARM64_32:
		return loader.ArchARM64_32
	case macho.CpuArm:
		return loader.ArchARM
	case macho.CpuPpc:
		return loader.ArchPPC
	case macho.CpuPpc64:
		return loader.ArchPPC64
	}
	return loader.ArchUnknown
}
