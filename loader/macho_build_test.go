package loader

import (
	"encoding/binary"
)

// machoBuilder writes small synthetic Mach-O images for the tests: a
// header, the load commands added in order, and zero padding up to
// fileSize. Every load command kind the reader decodes has a method, so
// the tests can cover each one, and raw lets a test add a hand-broken
// command.
type machoBuilder struct {
	bo       binary.ByteOrder
	is64     bool
	cpu      uint32
	subCPU   uint32
	fileType uint32
	flags    uint32
	fileSize int
	cmds     [][]byte
	// ncmds, when non-zero, replaces the command count in the header.
	ncmds uint32
	// patch is applied to the finished image.
	patch func(b []byte)
}

// Values from xnu-11417 EXTERNAL_HEADERS/mach-o/loader.h and
// osfmk/mach/machine.h.
const (
	moCPUARM64   = 0x0100000c
	moCPUX86_64  = 0x01000007
	moCPU386     = 7
	moMHExecute  = 2
	moMHDylib    = 6
	moMHBundle   = 8
	moMHDylinker = 7
	moMHObject   = 1
)

func newMachOBuilder(cpu, sub, fileType uint32) *machoBuilder {
	return &machoBuilder{bo: binary.LittleEndian, is64: true, cpu: cpu, subCPU: sub, fileType: fileType}
}

func (b *machoBuilder) headerSize() int {
	if b.is64 {
		return 32
	}
	return 28
}

// offsetOf returns the file offset load command i will have.
func (b *machoBuilder) offsetOf(i int) int {
	off := b.headerSize()
	for _, c := range b.cmds[:i] {
		off += len(c)
	}
	return off
}

func (b *machoBuilder) u32(v ...uint32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		b.bo.PutUint32(out[4*i:], x)
	}
	return out
}

func (b *machoBuilder) u64(v uint64) []byte {
	out := make([]byte, 8)
	b.bo.PutUint64(out, v)
	return out
}

func machoName16(s string) []byte {
	out := make([]byte, 16)
	copy(out, s)
	return out
}

// add appends a command, filling in cmdsize (the second word).
func (b *machoBuilder) add(cmd []byte) int {
	b.bo.PutUint32(cmd[4:], uint32(len(cmd)))
	b.cmds = append(b.cmds, cmd)
	return len(b.cmds) - 1
}

// raw appends a command exactly as given.
func (b *machoBuilder) raw(cmd []byte) int {
	b.cmds = append(b.cmds, cmd)
	return len(b.cmds) - 1
}

func (b *machoBuilder) pad(c []byte) []byte {
	align := 4
	if b.is64 {
		align = 8
	}
	for len(c)%align != 0 {
		c = append(c, 0)
	}
	return c
}

// segment adds LC_SEGMENT_64 (or LC_SEGMENT) with nsects empty sections
// named __s0, __s1, ...
func (b *machoBuilder) segment(name string, vmaddr, vmsize, fileoff, filesize uint64, prot uint32, nsects int) int {
	var c []byte
	if b.is64 {
		c = append(b.u32(0x19, 0), machoName16(name)...)
		c = append(c, b.u64(vmaddr)...)
		c = append(c, b.u64(vmsize)...)
		c = append(c, b.u64(fileoff)...)
		c = append(c, b.u64(filesize)...)
		c = append(c, b.u32(7, prot, uint32(nsects), 0)...)
		for i := 0; i < nsects; i++ {
			s := append(machoName16("__s"+string(rune('0'+i))), machoName16(name)...)
			s = append(s, b.u64(vmaddr)...)     // addr
			s = append(s, b.u64(0)...)          // size
			s = append(s, b.u32(0, 0, 0, 0)...) // offset, align, reloff, nreloc
			s = append(s, b.u32(0, 0, 0, 0)...) // flags, reserved1-3
			c = append(c, s...)
		}
	} else {
		c = append(b.u32(0x1, 0), machoName16(name)...)
		c = append(c, b.u32(uint32(vmaddr), uint32(vmsize), uint32(fileoff), uint32(filesize), 7, prot, uint32(nsects), 0)...)
		for i := 0; i < nsects; i++ {
			s := append(machoName16("__s"+string(rune('0'+i))), machoName16(name)...)
			s = append(s, b.u32(uint32(vmaddr), 0, 0, 0, 0, 0, 0, 0, 0)...)
			c = append(c, s...)
		}
	}
	return b.add(c)
}

// dylib adds a dylib_command (LC_LOAD_DYLIB and friends, LC_ID_DYLIB).
func (b *machoBuilder) dylib(cmd uint32, path string, cur, compat uint32) int {
	c := b.u32(cmd, 0, 24, 2, cur, compat)
	c = b.pad(append(append(c, path...), 0))
	return b.add(c)
}

// lcStr adds a command that is a single lc_str at offset 12 (LC_RPATH,
// LC_LOAD_DYLINKER).
func (b *machoBuilder) lcStr(cmd uint32, s string) int {
	c := b.u32(cmd, 0, 12)
	c = b.pad(append(append(c, s...), 0))
	return b.add(c)
}

func (b *machoBuilder) uuid(u [16]byte) int {
	return b.add(append(b.u32(0x1b, 0), u[:]...))
}

func (b *machoBuilder) codeSignature(off, size uint32) int {
	return b.add(b.u32(0x1d, 0, off, size))
}

func (b *machoBuilder) main(entry, stack uint64) int {
	c := append(b.u32(0x80000028, 0), b.u64(entry)...)
	return b.add(append(c, b.u64(stack)...))
}

func (b *machoBuilder) bytes() []byte {
	magic := uint32(0xfeedface)
	if b.is64 {
		magic = 0xfeedfacf
	}
	sizeofcmds := 0
	for _, c := range b.cmds {
		sizeofcmds += len(c)
	}
	ncmds := uint32(len(b.cmds))
	if b.ncmds != 0 {
		ncmds = b.ncmds
	}
	out := b.u32(magic, b.cpu, b.subCPU, b.fileType, ncmds, uint32(sizeofcmds), b.flags)
	if b.is64 {
		out = append(out, b.u32(0)...)
	}
	for _, c := range b.cmds {
		out = append(out, c...)
	}
	for len(out) < b.fileSize {
		out = append(out, 0)
	}
	if b.patch != nil {
		b.patch(out)
	}
	return out
}

// Dependency load commands (loader.h).
const (
	moLCLoadDylib       = 0xc
	moLCIDDylib         = 0xd
	moLCLoadDylinker    = 0xe
	moLCLoadWeakDylib   = 0x80000018
	moLCRpath           = 0x8000001c
	moLCReexportDylib   = 0x8000001f
	moLCLazyLoadDylib   = 0x20
	moLCLoadUpwardDylib = 0x80000023
)

var machoDemoUUID = [16]byte{0x5a, 0x1e, 0x0d, 0x3c, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}

// machoDemoDylib builds testdata/macho/libdemo.dylib: an arm64 dylib with one
// dependency of every kind, two LC_RPATHs, an LC_UUID and a code
// signature inside __LINKEDIT. Segments are 16 KiB-aligned in memory and
// packed in the file to keep the fixture small.
func machoDemoDylib() *machoBuilder {
	b := newMachOBuilder(moCPUARM64, 0, moMHDylib)
	b.flags = 0x00100085 // MH_NOUNDEFS|MH_DYLDLINK|MH_TWOLEVEL|MH_NO_REEXPORTED_DYLIBS
	b.fileSize = 0x1800
	b.segment("__TEXT", 0, 0x4000, 0, 0x1000, 5, 1)
	b.segment("__DATA_CONST", 0x4000, 0x4000, 0x1000, 0x400, 3, 0)
	b.segment("__DATA", 0x8000, 0x8000, 0x1400, 0x200, 3, 0)
	b.segment("__LINKEDIT", 0x10000, 0x4000, 0x1600, 0x200, 1, 0)
	b.dylib(moLCIDDylib, "@rpath/libdemo.dylib", 0x10203, 0x10000)
	b.dylib(moLCLoadDylib, "/usr/lib/libSystem.B.dylib", 0x05276403, 0x10000)
	b.dylib(moLCLoadWeakDylib, "@rpath/libweak.dylib", 0x10000, 0x10000)
	b.dylib(moLCReexportDylib, "@rpath/libreexported.dylib", 0x20000, 0x10000)
	b.dylib(moLCLazyLoadDylib, "/usr/lib/liblazy.dylib", 0x10000, 0x10000)
	b.dylib(moLCLoadUpwardDylib, "@loader_path/libupward.dylib", 0x10000, 0x10000)
	b.lcStr(moLCRpath, "@loader_path/../lib")
	b.lcStr(moLCRpath, "/opt/demo/lib")
	b.uuid(machoDemoUUID)
	b.codeSignature(0x1700, 0x100)
	return b
}

// machoMiniDylib is machoDemoDylib squeezed into 1 KiB (the segments
// map only the header and load commands): a small fuzz seed, cheap for
// the fuzzer to minimise.
func machoMiniDylib() *machoBuilder {
	b := machoDemoDylib()
	b.fileSize = 0x400
	b.cmds = b.cmds[4:]
	i := 0
	for _, seg := range []struct {
		name                 string
		vmaddr, vmsize, size uint64
		prot                 uint32
	}{{"__TEXT", 0, 0x4000, 0x400, 5}, {"__DATA", 0x4000, 0x4000, 0, 3}, {"__LINKEDIT", 0x8000, 0x4000, 0, 1}} {
		n := len(b.cmds)
		b.segment(seg.name, seg.vmaddr, seg.vmsize, 0, seg.size, seg.prot, 0)
		c := b.cmds[n]
		b.cmds = append(b.cmds[:i], append([][]byte{c}, b.cmds[i:n]...)...)
		i++
	}
	b.cmds[len(b.cmds)-1] = b.u32(0x1d, 16, 0x3f0, 0x10)
	return b
}

// machoDemoExec builds an arm64e PIE executable with __PAGEZERO, LC_MAIN and
// LC_LOAD_DYLINKER.
func machoDemoExec() *machoBuilder {
	b := newMachOBuilder(moCPUARM64, 0x80000002, moMHExecute) // CPU_SUBTYPE_ARM64E | CPU_SUBTYPE_PTRAUTH_ABI
	b.flags = 0x00200085                                      // MH_PIE|MH_TWOLEVEL|MH_DYLDLINK|MH_NOUNDEFS
	b.fileSize = 0x2000
	b.segment("__PAGEZERO", 0, 0x100000000, 0, 0, 0, 0)
	b.segment("__TEXT", 0x100000000, 0x4000, 0, 0x1000, 5, 2)
	b.segment("__DATA", 0x100004000, 0x4000, 0x1000, 0x800, 3, 0)
	b.segment("__LINKEDIT", 0x100008000, 0x4000, 0x1800, 0x800, 1, 0)
	b.lcStr(moLCLoadDylinker, "/usr/lib/dyld")
	b.main(0x3f40, 0x800000)
	b.dylib(moLCLoadDylib, "/usr/lib/libSystem.B.dylib", 0x05276403, 0x10000)
	b.dylib(moLCLoadDylib, "@rpath/libdemo.dylib", 0x10203, 0x10000)
	b.lcStr(moLCRpath, "@executable_path/../Frameworks")
	b.codeSignature(0x1c00, 0) // present but empty: not signed
	return b
}

// machoFatSlice is one slice for machoBuildFat.
type machoFatSlice struct {
	cpu, sub uint32
	data     []byte
}

// machoBuildFat writes a universal file (FAT_MAGIC, or FAT_MAGIC_64 with
// fat64) with slices aligned to 16 KiB.
func machoBuildFat(fat64 bool, slices ...machoFatSlice) []byte {
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
		out = be.AppendUint32(out, s.cpu)
		out = be.AppendUint32(out, s.sub)
		if fat64 {
			out = be.AppendUint64(out, off)
			out = be.AppendUint64(out, uint64(len(s.data)))
			out = be.AppendUint32(out, 14)
			out = be.AppendUint32(out, 0)
		} else {
			out = be.AppendUint32(out, uint32(off))
			out = be.AppendUint32(out, uint32(len(s.data)))
			out = be.AppendUint32(out, 14)
		}
		off = (off + uint64(len(s.data)) + 0x3fff) &^ 0x3fff
	}
	for i, s := range slices {
		for uint64(len(out)) < offs[i] {
			out = append(out, 0)
		}
		out = append(out, s.data...)
	}
	return out
}
