package objtest

import (
	"encoding/binary"
)

// MachO writes small synthetic Mach-O images for the tests: a
// header, the load commands added in order, and zero padding up to
// FileSize. Every load command kind the reader decodes has a method, so
// the tests can cover each one, and raw lets a test add a hand-broken
// command.
type MachO struct {
	BO       binary.ByteOrder
	Is64     bool
	CPU      uint32
	SubCPU   uint32
	FileType uint32
	Flags    uint32
	// FileSize pads the image with zeros up to this size.
	FileSize int
	Cmds     [][]byte
	// NCmds, when non-zero, replaces the command count in the header.
	NCmds uint32
	// Patch is applied to the finished image.
	Patch func(b []byte)
}

// Header values from xnu-11417 EXTERNAL_HEADERS/mach-o/loader.h and
// osfmk/mach/machine.h.
const (
	CPUARM64   = 0x0100000c
	CPUX86_64  = 0x01000007
	CPU386     = 7
	MHExecute  = 2
	MHDylib    = 6
	MHBundle   = 8
	MHDylinker = 7
	MHObject   = 1
)

// NewMachO returns a little-endian 64-bit image of the given cputype,
// cpusubtype and filetype, with no load commands.
func NewMachO(cpu, sub, fileType uint32) *MachO {
	return &MachO{BO: binary.LittleEndian, Is64: true, CPU: cpu, SubCPU: sub, FileType: fileType}
}

// HeaderSize is the size of the mach_header(_64).
func (b *MachO) HeaderSize() int {
	if b.Is64 {
		return 32
	}
	return 28
}

// OffsetOf returns the file offset load command i will have.
func (b *MachO) OffsetOf(i int) int {
	off := b.HeaderSize()
	for _, c := range b.Cmds[:i] {
		off += len(c)
	}
	return off
}

// U32 encodes words in the image's byte order.
func (b *MachO) U32(v ...uint32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		b.BO.PutUint32(out[4*i:], x)
	}
	return out
}

// U64 encodes a 64-bit word in the image's byte order.
func (b *MachO) U64(v uint64) []byte {
	out := make([]byte, 8)
	b.BO.PutUint64(out, v)
	return out
}

// Name16 pads a segment or section name to its 16-byte field.
func Name16(s string) []byte {
	out := make([]byte, 16)
	copy(out, s)
	return out
}

// Add appends a command, filling in cmdsize (the second word).
func (b *MachO) Add(cmd []byte) int {
	b.BO.PutUint32(cmd[4:], uint32(len(cmd)))
	b.Cmds = append(b.Cmds, cmd)
	return len(b.Cmds) - 1
}

// Raw appends a command exactly as given.
func (b *MachO) Raw(cmd []byte) int {
	b.Cmds = append(b.Cmds, cmd)
	return len(b.Cmds) - 1
}

// Pad pads a command to the pointer size.
func (b *MachO) Pad(c []byte) []byte {
	align := 4
	if b.Is64 {
		align = 8
	}
	for len(c)%align != 0 {
		c = append(c, 0)
	}
	return c
}

// Segment adds LC_SEGMENT_64 (or LC_SEGMENT) with nsects empty sections
// named __s0, __s1, ...
func (b *MachO) Segment(name string, vmaddr, vmsize, fileoff, filesize uint64, prot uint32, nsects int) int {
	var c []byte
	if b.Is64 {
		c = append(b.U32(0x19, 0), Name16(name)...)
		c = append(c, b.U64(vmaddr)...)
		c = append(c, b.U64(vmsize)...)
		c = append(c, b.U64(fileoff)...)
		c = append(c, b.U64(filesize)...)
		c = append(c, b.U32(7, prot, uint32(nsects), 0)...)
		for i := 0; i < nsects; i++ {
			s := append(Name16("__s"+string(rune('0'+i))), Name16(name)...)
			s = append(s, b.U64(vmaddr)...)     // addr
			s = append(s, b.U64(0)...)          // size
			s = append(s, b.U32(0, 0, 0, 0)...) // offset, align, reloff, nreloc
			s = append(s, b.U32(0, 0, 0, 0)...) // flags, reserved1-3
			c = append(c, s...)
		}
	} else {
		c = append(b.U32(0x1, 0), Name16(name)...)
		c = append(c, b.U32(uint32(vmaddr), uint32(vmsize), uint32(fileoff), uint32(filesize), 7, prot, uint32(nsects), 0)...)
		for i := 0; i < nsects; i++ {
			s := append(Name16("__s"+string(rune('0'+i))), Name16(name)...)
			s = append(s, b.U32(uint32(vmaddr), 0, 0, 0, 0, 0, 0, 0, 0)...)
			c = append(c, s...)
		}
	}
	return b.Add(c)
}

// Dylib adds a dylib_command (LC_LOAD_DYLIB and friends, LC_ID_DYLIB).
func (b *MachO) Dylib(cmd uint32, path string, cur, compat uint32) int {
	c := b.U32(cmd, 0, 24, 2, cur, compat)
	c = b.Pad(append(append(c, path...), 0))
	return b.Add(c)
}

// LCStr adds a command that is a single lc_str at offset 12 (LC_RPATH,
// LC_LOAD_DYLINKER).
func (b *MachO) LCStr(cmd uint32, s string) int {
	c := b.U32(cmd, 0, 12)
	c = b.Pad(append(append(c, s...), 0))
	return b.Add(c)
}

// UUID adds LC_UUID.
func (b *MachO) UUID(u [16]byte) int {
	return b.Add(append(b.U32(0x1b, 0), u[:]...))
}

// CodeSignature adds LC_CODE_SIGNATURE for [off, off+size).
func (b *MachO) CodeSignature(off, size uint32) int {
	return b.Add(b.U32(0x1d, 0, off, size))
}

// Main adds LC_MAIN.
func (b *MachO) Main(entry, stack uint64) int {
	c := append(b.U32(0x80000028, 0), b.U64(entry)...)
	return b.Add(append(c, b.U64(stack)...))
}

// Bytes writes the image.
func (b *MachO) Bytes() []byte {
	magic := uint32(0xfeedface)
	if b.Is64 {
		magic = 0xfeedfacf
	}
	sizeofcmds := 0
	for _, c := range b.Cmds {
		sizeofcmds += len(c)
	}
	ncmds := uint32(len(b.Cmds))
	if b.NCmds != 0 {
		ncmds = b.NCmds
	}
	out := b.U32(magic, b.CPU, b.SubCPU, b.FileType, ncmds, uint32(sizeofcmds), b.Flags)
	if b.Is64 {
		out = append(out, b.U32(0)...)
	}
	for _, c := range b.Cmds {
		out = append(out, c...)
	}
	for len(out) < b.FileSize {
		out = append(out, 0)
	}
	if b.Patch != nil {
		b.Patch(out)
	}
	return out
}

// Load commands (loader.h).
const (
	LCLoadDylib       = 0xc
	LCIDDylib         = 0xd
	LCLoadDylinker    = 0xe
	LCLoadWeakDylib   = 0x80000018
	LCRpath           = 0x8000001c
	LCReexportDylib   = 0x8000001f
	LCLazyLoadDylib   = 0x20
	LCLoadUpwardDylib = 0x80000023
)

// DemoUUID is DemoDylib's LC_UUID.
var DemoUUID = [16]byte{0x5a, 0x1e, 0x0d, 0x3c, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}

// DemoDylib builds loader/machospec/testdata/libdemo.dylib: an arm64 dylib with one
// dependency of every kind, two LC_RPATHs, an LC_UUID and a code
// signature inside __LINKEDIT. Segments are 16 KiB-aligned in memory and
// packed in the file to keep the fixture small.
func DemoDylib() *MachO {
	b := NewMachO(CPUARM64, 0, MHDylib)
	b.Flags = 0x00100085 // MH_NOUNDEFS|MH_DYLDLINK|MH_TWOLEVEL|MH_NO_REEXPORTED_DYLIBS
	b.FileSize = 0x1800
	b.Segment("__TEXT", 0, 0x4000, 0, 0x1000, 5, 1)
	b.Segment("__DATA_CONST", 0x4000, 0x4000, 0x1000, 0x400, 3, 0)
	b.Segment("__DATA", 0x8000, 0x8000, 0x1400, 0x200, 3, 0)
	b.Segment("__LINKEDIT", 0x10000, 0x4000, 0x1600, 0x200, 1, 0)
	b.Dylib(LCIDDylib, "@rpath/libdemo.dylib", 0x10203, 0x10000)
	b.Dylib(LCLoadDylib, "/usr/lib/libSystem.B.dylib", 0x05276403, 0x10000)
	b.Dylib(LCLoadWeakDylib, "@rpath/libweak.dylib", 0x10000, 0x10000)
	b.Dylib(LCReexportDylib, "@rpath/libreexported.dylib", 0x20000, 0x10000)
	b.Dylib(LCLazyLoadDylib, "/usr/lib/liblazy.dylib", 0x10000, 0x10000)
	b.Dylib(LCLoadUpwardDylib, "@loader_path/libupward.dylib", 0x10000, 0x10000)
	b.LCStr(LCRpath, "@loader_path/../lib")
	b.LCStr(LCRpath, "/opt/demo/lib")
	b.UUID(DemoUUID)
	b.CodeSignature(0x1700, 0x100)
	return b
}

// MiniDylib is DemoDylib squeezed into 1 KiB (the segments
// map only the header and load commands): a small fuzz seed, cheap for
// the fuzzer to minimise.
func MiniDylib() *MachO {
	b := DemoDylib()
	b.FileSize = 0x400
	b.Cmds = b.Cmds[4:]
	i := 0
	for _, seg := range []struct {
		name                 string
		vmaddr, vmsize, size uint64
		prot                 uint32
	}{{"__TEXT", 0, 0x4000, 0x400, 5}, {"__DATA", 0x4000, 0x4000, 0, 3}, {"__LINKEDIT", 0x8000, 0x4000, 0, 1}} {
		n := len(b.Cmds)
		b.Segment(seg.name, seg.vmaddr, seg.vmsize, 0, seg.size, seg.prot, 0)
		c := b.Cmds[n]
		b.Cmds = append(b.Cmds[:i], append([][]byte{c}, b.Cmds[i:n]...)...)
		i++
	}
	b.Cmds[len(b.Cmds)-1] = b.U32(0x1d, 16, 0x3f0, 0x10)
	return b
}

// DemoExec builds an arm64e PIE executable with __PAGEZERO, LC_MAIN and
// LC_LOAD_DYLINKER.
func DemoExec() *MachO {
	b := NewMachO(CPUARM64, 0x80000002, MHExecute) // CPU_SUBTYPE_ARM64E | CPU_SUBTYPE_PTRAUTH_ABI
	b.Flags = 0x00200085                           // MH_PIE|MH_TWOLEVEL|MH_DYLDLINK|MH_NOUNDEFS
	b.FileSize = 0x2000
	b.Segment("__PAGEZERO", 0, 0x100000000, 0, 0, 0, 0)
	b.Segment("__TEXT", 0x100000000, 0x4000, 0, 0x1000, 5, 2)
	b.Segment("__DATA", 0x100004000, 0x4000, 0x1000, 0x800, 3, 0)
	b.Segment("__LINKEDIT", 0x100008000, 0x4000, 0x1800, 0x800, 1, 0)
	b.LCStr(LCLoadDylinker, "/usr/lib/dyld")
	b.Main(0x3f40, 0x800000)
	b.Dylib(LCLoadDylib, "/usr/lib/libSystem.B.dylib", 0x05276403, 0x10000)
	b.Dylib(LCLoadDylib, "@rpath/libdemo.dylib", 0x10203, 0x10000)
	b.LCStr(LCRpath, "@executable_path/../Frameworks")
	b.CodeSignature(0x1c00, 0) // present but empty: not signed
	return b
}

// FatSlice is one slice for Fat.
type FatSlice struct {
	CPU, Sub uint32
	Data     []byte
}

// Fat writes a universal file (FAT_MAGIC, or FAT_MAGIC_64 with
// fat64) with slices aligned to 16 KiB.
func Fat(fat64 bool, slices ...FatSlice) []byte {
	be := binary.BigEndian
	magic := uint32(0xcafebabe)
	if fat64 {
		magic = 0xcafebabf
	}
	out := be.AppendUint32(nil, magic)
	out = be.AppendUint32(out, uint32(len(slices)))
	off := uint64(0x4000)
	offs := make([]uint64, len(slices))
	for i, s := range slices {
		offs[i] = off
		out = be.AppendUint32(out, s.CPU)
		out = be.AppendUint32(out, s.Sub)
		if fat64 {
			out = be.AppendUint64(out, off)
			out = be.AppendUint64(out, uint64(len(s.Data)))
			out = be.AppendUint32(out, 14)
			out = be.AppendUint32(out, 0)
		} else {
			out = be.AppendUint32(out, uint32(off))
			out = be.AppendUint32(out, uint32(len(s.Data)))
			out = be.AppendUint32(out, 14)
		}
		off = (off + uint64(len(s.Data)) + 0x3fff) &^ 0x3fff
	}
	for i, s := range slices {
		for uint64(len(out)) < offs[i] {
			out = append(out, 0)
		}
		out = append(out, s.Data...)
	}
	return out
}
