// Package elfspec reads ELF objects into loader.ImageSpecs: what glibc's
// ld.so reads from an object before it maps it, and the dynamic
// relocations it processes that touch static TLS.
package elfspec

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"unsafe"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/internal/objfile"
	"github.com/vasim/vasim/vaspace"
)

// What is read: as glibc's ld.so reads it before it maps the object
// (elf/dl-load.c _dl_map_object_from_fd, elf/get-dynamic-info.h) and the
// dynamic relocations it processes that touch static TLS (elf/dl-reloc.c,
// sysdeps/x86_64/dl-machine.h, sysdeps/aarch64/dl-machine.h; glibc 2.36).
//
// How it is read: only the tables the spec needs, each once, decoded with
// debug/elf's layouts (Header64, Prog64, Section64, Dyn64, Sym64, Rela64,
// Chdr64 and their 32-bit forms, taken with unsafe.Offsetof) and
// constants:
//
//   - the ELF header and the program headers;
//   - the section headers, through which the dynamic section, the dynamic
//     symbol table and the GNU version sections are found, as debug/elf's
//     File finds them (the first section of each type);
//   - the dynamic section, in one pass for every tag;
//   - the DT_RELA and DT_JMPREL ranges ld.so walks (debug/elf has no
//     reader for dynamic relocation tables);
//   - of the dynamic symbol table, only the entries a TLS relocation names
//     and, for an image with a TLS block, the STT_TLS entries; of the
//     string tables, only the strings those entries and the dynamic
//     section name;
//   - of the version sections, only the version indexes.
//
// What it costs: Read takes a file of less than 64 KiB whole with one
// pread into a reused buffer, and maps a larger one (mmap, where the
// platform has it), so that a table costs only the pages it touches: a
// stat, open, pread and close in the first case, and stat, open, fstat,
// mmap, close and munmap in the second, whatever the file holds
// (ReadRegular spares the stat, and the fstat of a small file). Parse
// reads the same ranges from its io.ReaderAt. The parse allocates the
// spec and its strings, and little else. The files accepted, and the specs made of them, are those
// of the debug/elf-based reader this one replaced (File.Progs, DynString,
// DynValue, DynamicSymbols, DynamicVersions, DynamicVersionNeeds): the
// differential tests hold the two together on this machine's objects and
// under the fuzzer. The one difference is deliberate: a section vasim
// reads (the dynamic section, the dynamic symbol table, their string
// tables, the section-name string table) that is SHF_COMPRESSED is an
// error, where debug/elf would have inflated it; ld.so reads those tables
// through the program headers, raw, and no link editor compresses them.

// Read reads the ELF file at path into an ImageSpec with its ELF field
// set. Only a regular file is opened (see input.Regular): a FIFO or a
// device is refused before it is opened. A large file is mapped rather
// than read where the platform has mmap, and a file truncated while it
// is mapped is reported as an error, not a crash. Errors are
// *loader.FileError values naming the file and what was wrong, or the
// *fs.PathError of a file that cannot be opened.
func Read(path string) (*loader.ImageSpec, error) {
	return readFile(path, nil)
}

// ReadRegular is Read for a caller that has just found path, with
// os.Stat, to be a regular file: fi is what os.Stat returned. It spares
// Read's own stat, and for a small file (fi.Size) the fstat after the
// open too, which counts when a program's hundreds of libraries are
// read. A nil fi, or one that is not a regular file, makes it Read.
func ReadRegular(path string, fi fs.FileInfo) (*loader.ImageSpec, error) {
	return readFile(path, fi)
}

// Parse reads an ELF image from r; path names it in the spec and in
// errors. It never panics. The size of the input is taken from a Size
// method (bytes.Reader, io.SectionReader), a Stat method (os.File), or
// found by probing; every table is checked against it before it is
// read, so a truncated or corrupted file is reported with the table and
// offset at fault.
func Parse(r io.ReaderAt, path string) (spec *loader.ImageSpec, err error) {
	defer objfile.Recover(path, format, "the ELF reader", &spec, &err)
	size, err := objfile.Size(r)
	if err != nil {
		return nil, &loader.FileError{Path: path, Format: format, Offset: -1, Err: err}
	}
	p := &elfParser{path: path, src: readerSource{r}, size: uint64(size)}
	return p.parse()
}

// parseMapped parses an image held in memory (a mapped file). A memory
// fault while reading it, which a file truncated under the mapping
// causes, is reported as an error about the file.
func parseMapped(data []byte, path string) (spec *loader.ImageSpec, err error) {
	defer func() {
		if r := recover(); r != nil {
			spec = nil
			err = mappedPanic(data, path, r)
		}
	}()
	p := &elfParser{path: path, src: memSource(data), size: uint64(len(data))}
	return p.parse()
}

// mappedPanic turns a panic while reading mapped data into an error:
// a memory fault (runtime.Error with an Addr method, under
// debug.SetPanicOnFault) names the file offset that could not be read.
func mappedPanic(data []byte, path string, r any) error {
	if f, ok := r.(interface{ Addr() uintptr }); ok && len(data) > 0 {
		base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
		off := int64(-1)
		if a := f.Addr(); a >= base && a-base < uintptr(len(data)) {
			off = int64(a - base)
		}
		return &loader.FileError{Path: path, Format: format, What: "file data", Offset: off,
			Err: fmt.Errorf("cannot be read: the file was truncated or changed while vasim read it (%v)", r)}
	}
	return &loader.FileError{Path: path, Format: format, What: "the ELF reader failed on malformed input", Offset: -1, Err: fmt.Errorf("%v", r)}
}

// format names the format in errors.
const format = "ELF"

// source gives the bytes of the file; the parser checks every range
// against the file size before it asks.
type source interface {
	// read returns the n bytes at off. The slice is valid while the
	// parse runs, and must not be kept in the spec.
	read(off, n uint64) ([]byte, error)
}

// memSource is a file in memory (mapped): reads are slices of it.
type memSource []byte

func (m memSource) read(off, n uint64) ([]byte, error) {
	if off > uint64(len(m)) || n > uint64(len(m))-off {
		return nil, io.ErrUnexpectedEOF
	}
	return m[off : off+n : off+n], nil
}

// readerSource reads each range from an io.ReaderAt into a new buffer.
type readerSource struct{ r io.ReaderAt }

// readerChunk bounds what readerSource allocates before the reader has
// shown it has the data (as internal/saferio does for debug/elf): a
// reader whose Size overstates what it holds fails after one chunk.
const readerChunk = 10 << 20

func (s readerSource) read(off, n uint64) ([]byte, error) {
	if off > math.MaxInt64 || n > math.MaxInt64-off || n != uint64(int(n)) {
		return nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, min(n, readerChunk))
	for done := uint64(0); ; {
		k, err := s.r.ReadAt(b[done:], int64(off+done))
		done += uint64(k)
		if done < uint64(len(b)) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if done == n {
			return b, nil
		}
		b = append(b, make([]byte, min(n-done, readerChunk))...)
	}
}

// section is a section header, as debug/elf's SectionHeader holds it.
type section struct {
	nameOff  uint32
	typ      elf.SectionType
	flags    elf.SectionFlag
	off      uint64 // sh_offset
	fileSize uint64 // sh_size
	// size is sh_size, or for an SHF_COMPRESSED section the size its
	// compression header gives (debug/elf Section.Size).
	size uint64
	link uint32
	hdr  uint64 // file offset of the header, for errors
}

type elfParser struct {
	path string
	src  source
	size uint64 // file size

	class     elf.Class
	bo        binary.ByteOrder
	phoff     uint64 // e_phoff
	phentsize uint64
	progs     []elf.ProgHeader
	progArr   [16]elf.ProgHeader // progs' storage, when they fit
	// The section header table, valid while the parse runs, and the
	// first section of each of firstTypes (typ SHT_NULL: none).
	shdata                  []byte
	shoff, shentsize, shnum uint64
	first                   [len(firstTypes)]section
	shstrtab                []byte
	info                    *loader.ELFInfo

	// The dynamic symbol table (without the null symbol) and its string
	// table, loaded on first use.
	symsLoaded bool
	symErr     error
	symtab     []byte
	symstr     []byte
}

func (p *elfParser) fail(what string, off int64, err error) error {
	return &loader.FileError{Path: p.path, Format: format, What: what, Offset: off, Err: err}
}

// inFile reports whether [off, off+n) lies inside the file.
func (p *elfParser) inFile(off, n uint64) bool { return off <= p.size && n <= p.size-off }

// pastEnd is the error for a range that runs past the end of the file.
func (p *elfParser) pastEnd(off, n uint64) error {
	return fmt.Errorf("[%#x, %#x) runs past the end of the file (%#x bytes)", off, off+n, p.size)
}

// readIn reads [off, off+n) after checking it lies inside the file.
func (p *elfParser) readIn(off, n uint64) ([]byte, error) {
	if !p.inFile(off, n) {
		return nil, p.pastEnd(off, n)
	}
	return p.src.read(off, n)
}

func (p *elfParser) parse() (*loader.ImageSpec, error) {
	if p.size < 4 {
		return nil, p.fail("ELF header", 0, fmt.Errorf("cannot read the magic number: the file is %d bytes", p.size))
	}
	magic, err := p.src.read(0, 4)
	if err != nil {
		return nil, p.fail("ELF header", 0, fmt.Errorf("cannot read the magic number: %w", err))
	}
	if string(magic) != elf.ELFMAG {
		return nil, &loader.FileError{Path: p.path, Format: format, What: "ELF header", Offset: 0,
			Err: fmt.Errorf("magic %q is not \\x7fELF", magic), Class: loader.ErrWrongFormat}
	}
	if err := p.checkTables(); err != nil {
		return nil, err
	}
	hdr, err := p.readHeaders()
	if err != nil {
		return nil, err
	}
	info := &loader.ELFInfo{Class: p.class, Machine: hdr.machine, Type: hdr.typ}
	p.info = info
	spec := &loader.ImageSpec{
		Name:   objfile.BaseName(p.path),
		Path:   p.path,
		Format: loader.FormatELF,
		Arch:   Arch(hdr.machine),
		ELF:    info,
	}
	if err := p.readProgs(spec); err != nil {
		return nil, err
	}
	if info.Dynamic {
		if err := p.readDynamic(spec); err != nil {
			return nil, err
		}
	}
	switch {
	case hdr.typ == elf.ET_EXEC:
		spec.Kind = loader.KindExecutable
	case hdr.typ == elf.ET_DYN && info.Flags1&elf.DF_1_PIE != 0:
		spec.Kind = loader.KindExecutable
	case hdr.typ == elf.ET_DYN && info.Interp != "" && info.SOName == "":
		spec.Kind = loader.KindExecutable
	default:
		spec.Kind = loader.KindLibrary
	}
	if info.SOName != "" {
		spec.Name = info.SOName
	}
	if err := objfile.Validate(spec, p.path, format, ""); err != nil {
		return nil, err
	}
	return spec, nil
}

// checkTables checks that the program header table, the section header
// table and the section-name string table declared by the ELF header lie
// inside the file, and reports the table and header field at fault when
// they do not. Headers it cannot decode (bad class or byte order) and the
// extended-numbering escapes (e_phnum PN_XNUM, e_shnum 0, e_shstrndx
// SHN_XINDEX) are left to readHeaders. The field offsets are the ELF
// header's (elf.h Elf32_Ehdr, Elf64_Ehdr).
func (p *elfParser) checkTables() error {
	size := int64(p.size)
	if p.size < elf.EI_NIDENT {
		return p.fail("ELF header", 0, fmt.Errorf("file is %d bytes, too short for the ELF identification (%d bytes)", size, elf.EI_NIDENT))
	}
	id, err := p.src.read(0, elf.EI_NIDENT)
	if err != nil {
		return p.fail("ELF header", 0, err)
	}
	var bo binary.ByteOrder
	switch elf.Data(id[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return nil
	}
	type layout struct {
		hdrSize, phoff, shoff, phentsize, shoffSize int64
		shdrOff, shdrSize                           int64 // sh_offset and sh_size in a section header
	}
	var l layout
	switch elf.Class(id[elf.EI_CLASS]) {
	case elf.ELFCLASS32:
		l = layout{hdrSize: 52, phoff: 0x1c, shoff: 0x20, phentsize: 0x2a, shoffSize: 4, shdrOff: 0x10, shdrSize: 0x14}
	case elf.ELFCLASS64:
		l = layout{hdrSize: 64, phoff: 0x20, shoff: 0x28, phentsize: 0x36, shoffSize: 8, shdrOff: 0x18, shdrSize: 0x20}
	default:
		return nil
	}
	if size < l.hdrSize {
		return p.fail("ELF header", 0, fmt.Errorf("file is %d bytes, too short for the %d-byte ELF header", size, l.hdrSize))
	}
	hdr, err := p.src.read(0, uint64(l.hdrSize))
	if err != nil {
		return p.fail("ELF header", 0, err)
	}
	word := func(b []byte, n int64) uint64 {
		if n == 4 {
			return uint64(bo.Uint32(b))
		}
		return bo.Uint64(b)
	}
	phoff, shoff := word(hdr[l.phoff:], l.shoffSize), word(hdr[l.shoff:], l.shoffSize)
	h16 := func(i int64) uint64 { return uint64(bo.Uint16(hdr[l.phentsize+2*i:])) }
	phentsize, phnum, shentsize, shnum, shstrndx := h16(0), h16(1), h16(2), h16(3), h16(4)
	const pnXNum = 0xffff
	if phnum != pnXNum && !p.inFile(phoff, phnum*phentsize) {
		return p.fail("program header table declared by the ELF header (e_phoff, e_phnum, e_phentsize)", l.phoff,
			p.pastEnd(phoff, phnum*phentsize))
	}
	if shnum == 0 {
		return nil
	}
	if !p.inFile(shoff, shnum*shentsize) {
		return p.fail("section header table declared by the ELF header (e_shoff, e_shnum, e_shentsize)", l.shoff,
			p.pastEnd(shoff, shnum*shentsize))
	}
	if shstrndx == uint64(elf.SHN_UNDEF) || shstrndx >= shnum || shentsize < uint64(l.shdrSize+l.shoffSize) {
		return nil
	}
	at := shoff + shstrndx*shentsize
	sh, err := p.src.read(at, uint64(l.shdrSize+l.shoffSize))
	if err != nil {
		return p.fail(fmt.Sprintf("section header %d (e_shstrndx)", shstrndx), int64(at), err)
	}
	if elf.SectionType(bo.Uint32(sh[4:])) == elf.SHT_NOBITS {
		return nil
	}
	off, n := word(sh[l.shdrOff:], l.shoffSize), word(sh[l.shdrSize:], l.shoffSize)
	if !p.inFile(off, n) {
		return p.fail(fmt.Sprintf("section-name string table (section %d)", shstrndx), int64(at), p.pastEnd(off, n))
	}
	return nil
}

// header is what the parse keeps of the ELF header beyond elfParser's
// fields.
type header struct {
	typ     elf.Type
	machine elf.Machine
}

// Zero values of debug/elf's on-disk structures: their unsafe.Sizeof and
// unsafe.Offsetof give the layouts the reader decodes (elf.h Elf64_Ehdr,
// Elf64_Phdr, Elf64_Shdr, Elf64_Chdr, Elf64_Sym and the 32-bit forms).
var (
	h32 elf.Header32
	h64 elf.Header64
	p32 elf.Prog32
	p64 elf.Prog64
	s32 elf.Section32
	s64 elf.Section64
	c32 elf.Chdr32
	c64 elf.Chdr64
	y32 elf.Sym32
	y64 elf.Sym64
)

// headersError is an error in the ELF, program or section headers, where
// debug/elf's NewFile would have failed.
func (p *elfParser) headersError(off int64, format string, args ...any) error {
	return p.fail("ELF headers", off, fmt.Errorf(format, args...))
}

// readHeaders decodes the ELF header, the program headers and the section
// headers with the checks debug/elf's NewFile makes (Go 1.26
// src/debug/elf/file.go), so that it accepts the files NewFile accepts.
func (p *elfParser) readHeaders() (header, error) {
	var h header
	id, err := p.src.read(0, elf.EI_NIDENT)
	if err != nil {
		return h, p.fail("ELF header", 0, err)
	}
	p.class = elf.Class(id[elf.EI_CLASS])
	if p.class != elf.ELFCLASS32 && p.class != elf.ELFCLASS64 {
		return h, p.headersError(elf.EI_CLASS, "unknown ELF class %v", p.class)
	}
	switch elf.Data(id[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		p.bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		p.bo = binary.BigEndian
	default:
		return h, p.headersError(elf.EI_DATA, "unknown ELF data encoding %v", elf.Data(id[elf.EI_DATA]))
	}
	version := elf.Version(id[elf.EI_VERSION])
	if version != elf.EV_CURRENT {
		return h, p.headersError(elf.EI_VERSION, "unknown ELF version %v", version)
	}
	bo, is64 := p.bo, p.class == elf.ELFCLASS64
	hdrSize := uint64(unsafe.Sizeof(h32))
	if is64 {
		hdrSize = uint64(unsafe.Sizeof(h64))
	}
	b, err := p.readIn(0, hdrSize)
	if err != nil {
		return h, p.fail("ELF header", 0, err)
	}
	var phnum, shoff, shentsize, shnum, shstrndx uint64
	if is64 {
		h.typ = elf.Type(bo.Uint16(b[unsafe.Offsetof(h64.Type):]))
		h.machine = elf.Machine(bo.Uint16(b[unsafe.Offsetof(h64.Machine):]))
		if v := elf.Version(bo.Uint32(b[unsafe.Offsetof(h64.Version):])); v != version {
			return h, p.headersError(int64(unsafe.Offsetof(h64.Version)), "mismatched ELF version %v", v)
		}
		p.phoff = bo.Uint64(b[unsafe.Offsetof(h64.Phoff):])
		p.phentsize = uint64(bo.Uint16(b[unsafe.Offsetof(h64.Phentsize):]))
		phnum = uint64(bo.Uint16(b[unsafe.Offsetof(h64.Phnum):]))
		shoff = bo.Uint64(b[unsafe.Offsetof(h64.Shoff):])
		shentsize = uint64(bo.Uint16(b[unsafe.Offsetof(h64.Shentsize):]))
		shnum = uint64(bo.Uint16(b[unsafe.Offsetof(h64.Shnum):]))
		shstrndx = uint64(bo.Uint16(b[unsafe.Offsetof(h64.Shstrndx):]))
	} else {
		h.typ = elf.Type(bo.Uint16(b[unsafe.Offsetof(h32.Type):]))
		h.machine = elf.Machine(bo.Uint16(b[unsafe.Offsetof(h32.Machine):]))
		if v := elf.Version(bo.Uint32(b[unsafe.Offsetof(h32.Version):])); v != version {
			return h, p.headersError(int64(unsafe.Offsetof(h32.Version)), "mismatched ELF version %v", v)
		}
		p.phoff = uint64(bo.Uint32(b[unsafe.Offsetof(h32.Phoff):]))
		p.phentsize = uint64(bo.Uint16(b[unsafe.Offsetof(h32.Phentsize):]))
		phnum = uint64(bo.Uint16(b[unsafe.Offsetof(h32.Phnum):]))
		shoff = uint64(bo.Uint32(b[unsafe.Offsetof(h32.Shoff):]))
		shentsize = uint64(bo.Uint16(b[unsafe.Offsetof(h32.Shentsize):]))
		shnum = uint64(bo.Uint16(b[unsafe.Offsetof(h32.Shnum):]))
		shstrndx = uint64(bo.Uint16(b[unsafe.Offsetof(h32.Shstrndx):]))
	}
	if shoff > math.MaxInt64 {
		return h, p.headersError(-1, "invalid e_shoff %#x", shoff)
	}
	if p.phoff > math.MaxInt64 {
		return h, p.headersError(-1, "invalid e_phoff %#x", p.phoff)
	}
	if shoff == 0 && shnum != 0 {
		return h, p.headersError(-1, "e_shnum is %d but e_shoff is 0", shnum)
	}
	if shnum > 0 && shstrndx >= shnum {
		return h, p.headersError(-1, "e_shstrndx %d is not below e_shnum %d", shstrndx, shnum)
	}
	wantPh, wantSh := uint64(unsafe.Sizeof(p32)), uint64(unsafe.Sizeof(s32))
	if is64 {
		wantPh, wantSh = uint64(unsafe.Sizeof(p64)), uint64(unsafe.Sizeof(s64))
	}
	if phnum > 0 && p.phentsize < wantPh {
		return h, p.headersError(-1, "e_phentsize %d is below the %d bytes of a program header", p.phentsize, wantPh)
	}
	if err := p.readProgHeaders(phnum); err != nil {
		return h, err
	}

	// With SHN_LORESERVE or more sections, e_shnum is 0 and section
	// header 0 holds the count in sh_size, and e_shstrndx SHN_XINDEX
	// defers to its sh_link (ELF gABI "Sections").
	if shoff > 0 && shnum == 0 {
		n := wantSh
		if !p.inFile(shoff, n) {
			return h, p.fail("section header 0", int64(shoff), p.pastEnd(shoff, n))
		}
		sh, err := p.src.read(shoff, n)
		if err != nil {
			return h, p.fail("section header 0", int64(shoff), err)
		}
		var typ, link uint32
		if is64 {
			typ = bo.Uint32(sh[unsafe.Offsetof(s64.Type):])
			link = bo.Uint32(sh[unsafe.Offsetof(s64.Link):])
			shnum = bo.Uint64(sh[unsafe.Offsetof(s64.Size):])
		} else {
			typ = bo.Uint32(sh[unsafe.Offsetof(s32.Type):])
			link = bo.Uint32(sh[unsafe.Offsetof(s32.Link):])
			shnum = uint64(bo.Uint32(sh[unsafe.Offsetof(s32.Size):]))
		}
		if elf.SectionType(typ) != elf.SHT_NULL {
			return h, p.headersError(int64(shoff), "initial section is %v, not SHT_NULL", elf.SectionType(typ))
		}
		if shnum < uint64(elf.SHN_LORESERVE) || shnum > math.MaxInt64 {
			return h, p.headersError(int64(shoff), "invalid section count %d in section header 0's sh_size", shnum)
		}
		if shstrndx == uint64(elf.SHN_XINDEX) {
			shstrndx = uint64(link)
			if shstrndx < uint64(elf.SHN_LORESERVE) {
				return h, p.headersError(int64(shoff), "invalid e_shstrndx %d in section header 0's sh_link", shstrndx)
			}
		}
	}
	if shnum > 0 && shentsize < wantSh {
		return h, p.headersError(-1, "e_shentsize %d is below the %d bytes of a section header", shentsize, wantSh)
	}
	if err := p.readSectionHeaders(shoff, shentsize, shnum); err != nil {
		return h, err
	}
	if p.shnum == 0 || shstrndx == uint64(elf.SHN_UNDEF) {
		return h, nil
	}
	if shstrndx >= p.shnum {
		return h, p.headersError(-1, "e_shstrndx %d is not below the %d sections", shstrndx, p.shnum)
	}
	shstr, _ := p.section(shstrndx) // checked by readSectionHeaders
	if shstr.typ != elf.SHT_STRTAB {
		return h, p.headersError(int64(shstr.hdr), "section-name string table (section %d) is %v, not SHT_STRTAB", shstrndx, shstr.typ)
	}
	if p.shstrtab, err = p.sectionData(&shstr); err != nil {
		return h, p.fail(fmt.Sprintf("section-name string table (section %d)", shstrndx), int64(shstr.hdr), err)
	}
	for i := uint64(0); i < p.shnum; i++ {
		at := i * p.shentsize // sh_name is the first field of both layouts
		if name := p.bo.Uint32(p.shdata[at:]); !isString(p.shstrtab, uint64(name)) {
			return h, p.headersError(int64(p.shoff+at), "section %d: sh_name %#x is not a string in the section-name string table", i, name)
		}
	}
	return h, nil
}

// readProgHeaders reads the phnum program headers at e_phoff.
func (p *elfParser) readProgHeaders(phnum uint64) error {
	if phnum == 0 {
		return nil
	}
	n := phnum * p.phentsize
	if !p.inFile(p.phoff, n) {
		return p.fail("program header table", int64(p.phoff), p.pastEnd(p.phoff, n))
	}
	data, err := p.src.read(p.phoff, n)
	if err != nil {
		return p.fail("program header table", int64(p.phoff), err)
	}
	bo := p.bo
	if phnum <= uint64(len(p.progArr)) {
		p.progs = p.progArr[:phnum]
	} else {
		p.progs = make([]elf.ProgHeader, phnum)
	}
	for i := range p.progs {
		b := data[uint64(i)*p.phentsize:]
		ph := &p.progs[i]
		if p.class == elf.ELFCLASS64 {
			*ph = elf.ProgHeader{
				Type:   elf.ProgType(bo.Uint32(b[unsafe.Offsetof(p64.Type):])),
				Flags:  elf.ProgFlag(bo.Uint32(b[unsafe.Offsetof(p64.Flags):])),
				Off:    bo.Uint64(b[unsafe.Offsetof(p64.Off):]),
				Vaddr:  bo.Uint64(b[unsafe.Offsetof(p64.Vaddr):]),
				Paddr:  bo.Uint64(b[unsafe.Offsetof(p64.Paddr):]),
				Filesz: bo.Uint64(b[unsafe.Offsetof(p64.Filesz):]),
				Memsz:  bo.Uint64(b[unsafe.Offsetof(p64.Memsz):]),
				Align:  bo.Uint64(b[unsafe.Offsetof(p64.Align):]),
			}
		} else {
			*ph = elf.ProgHeader{
				Type:   elf.ProgType(bo.Uint32(b[unsafe.Offsetof(p32.Type):])),
				Flags:  elf.ProgFlag(bo.Uint32(b[unsafe.Offsetof(p32.Flags):])),
				Off:    uint64(bo.Uint32(b[unsafe.Offsetof(p32.Off):])),
				Vaddr:  uint64(bo.Uint32(b[unsafe.Offsetof(p32.Vaddr):])),
				Paddr:  uint64(bo.Uint32(b[unsafe.Offsetof(p32.Paddr):])),
				Filesz: uint64(bo.Uint32(b[unsafe.Offsetof(p32.Filesz):])),
				Memsz:  uint64(bo.Uint32(b[unsafe.Offsetof(p32.Memsz):])),
				Align:  uint64(bo.Uint32(b[unsafe.Offsetof(p32.Align):])),
			}
		}
		if ph.Off > math.MaxInt64 {
			return p.headersError(p.phoffOf(i), "program header %d: invalid p_offset %#x", i, ph.Off)
		}
		if ph.Filesz > math.MaxInt64 {
			return p.headersError(p.phoffOf(i), "program header %d: invalid p_filesz %#x", i, ph.Filesz)
		}
	}
	return nil
}

// readSectionHeaders checks the shnum section headers at shoff as
// debug/elf's NewFile does, and notes the first section of each type the
// reader uses; other headers are decoded when a link names them.
func (p *elfParser) readSectionHeaders(shoff, shentsize, shnum uint64) error {
	if shnum == 0 {
		return nil
	}
	if shentsize != 0 && shnum > math.MaxUint64/shentsize {
		return p.headersError(-1, "section header table of %d entries of %d bytes overflows", shnum, shentsize)
	}
	n := shnum * shentsize
	if !p.inFile(shoff, n) {
		return p.fail("section header table", int64(shoff), p.pastEnd(shoff, n))
	}
	data, err := p.src.read(shoff, n)
	if err != nil {
		return p.fail("section header table", int64(shoff), err)
	}
	p.shdata, p.shoff, p.shentsize, p.shnum = data, shoff, shentsize, shnum
	for i := uint64(0); i < shnum; i++ {
		s, err := p.section(i)
		if err != nil {
			return err
		}
		for k, t := range firstTypes {
			if s.typ == t && p.first[k].typ == elf.SHT_NULL {
				p.first[k] = s
			}
		}
	}
	return nil
}

// firstTypes are the section types the reader looks up, as debug/elf's
// File.SectionByType does: the first section of the type.
var firstTypes = [...]elf.SectionType{elf.SHT_DYNAMIC, elf.SHT_DYNSYM, elf.SHT_GNU_VERDEF, elf.SHT_GNU_VERNEED, elf.SHT_GNU_VERSYM}

// section decodes section header i (i < shnum), with NewFile's checks.
func (p *elfParser) section(i uint64) (section, error) {
	var s section
	bo := p.bo
	b := p.shdata[i*p.shentsize:]
	s.hdr = p.shoff + i*p.shentsize
	if p.class == elf.ELFCLASS64 {
		s.nameOff = bo.Uint32(b[unsafe.Offsetof(s64.Name):])
		s.typ = elf.SectionType(bo.Uint32(b[unsafe.Offsetof(s64.Type):]))
		s.flags = elf.SectionFlag(bo.Uint64(b[unsafe.Offsetof(s64.Flags):]))
		s.off = bo.Uint64(b[unsafe.Offsetof(s64.Off):])
		s.fileSize = bo.Uint64(b[unsafe.Offsetof(s64.Size):])
		s.link = bo.Uint32(b[unsafe.Offsetof(s64.Link):])
	} else {
		s.nameOff = bo.Uint32(b[unsafe.Offsetof(s32.Name):])
		s.typ = elf.SectionType(bo.Uint32(b[unsafe.Offsetof(s32.Type):]))
		s.flags = elf.SectionFlag(bo.Uint32(b[unsafe.Offsetof(s32.Flags):]))
		s.off = uint64(bo.Uint32(b[unsafe.Offsetof(s32.Off):]))
		s.fileSize = uint64(bo.Uint32(b[unsafe.Offsetof(s32.Size):]))
		s.link = bo.Uint32(b[unsafe.Offsetof(s32.Link):])
	}
	if s.off > math.MaxInt64 {
		return s, p.headersError(int64(s.hdr), "section %d: invalid sh_offset %#x", i, s.off)
	}
	if s.fileSize > math.MaxInt64 {
		return s, p.headersError(int64(s.hdr), "section %d: invalid sh_size %#x", i, s.fileSize)
	}
	s.size = s.fileSize
	if s.flags&elf.SHF_COMPRESSED != 0 {
		// The compression header (Elf64_Chdr) gives the inflated size,
		// which is the size debug/elf checks the file against.
		n := uint64(unsafe.Sizeof(c32))
		if p.class == elf.ELFCLASS64 {
			n = uint64(unsafe.Sizeof(c64))
		}
		if s.fileSize < n || !p.inFile(s.off, n) {
			return s, p.headersError(int64(s.hdr), "section %d: SHF_COMPRESSED but no room for the compression header at %#x", i, s.off)
		}
		ch, err := p.src.read(s.off, n)
		if err != nil {
			return s, p.fail(fmt.Sprintf("section %d compression header", i), int64(s.off), err)
		}
		if p.class == elf.ELFCLASS64 {
			s.size = bo.Uint64(ch[unsafe.Offsetof(c64.Size):])
		} else {
			s.size = uint64(bo.Uint32(ch[unsafe.Offsetof(c32.Size):]))
		}
	}
	return s, nil
}

// linked returns the section a sh_link names, and false for 0 or an
// index past the table.
func (p *elfParser) linked(link uint32) (section, bool) {
	if link == 0 || uint64(link) >= p.shnum {
		return section{}, false
	}
	s, err := p.section(uint64(link)) // checked by readSectionHeaders
	return s, err == nil
}

// name returns the section's name, for messages.
func (p *elfParser) name(s *section) string {
	n, _ := cstring(p.shstrtab, uint64(s.nameOff))
	return n
}

// sectionByType returns the first section of type t (one of firstTypes),
// as debug/elf's File.SectionByType does, or nil.
func (p *elfParser) sectionByType(t elf.SectionType) *section {
	for k := range firstTypes {
		if p.first[k].typ == t {
			return &p.first[k]
		}
	}
	return nil
}

// sectionData returns a section's bytes, as debug/elf's Section.Data
// would, but refuses a compressed section (see the package notes).
func (p *elfParser) sectionData(s *section) ([]byte, error) {
	if s.typ == elf.SHT_NOBITS {
		if s.size == 0 {
			return nil, nil
		}
		return nil, errors.New("unexpected read from SHT_NOBITS section")
	}
	if s.flags&elf.SHF_COMPRESSED != 0 {
		return nil, fmt.Errorf("section %s is compressed (SHF_COMPRESSED); ld.so reads it raw, and vasim does not inflate it", p.name(s))
	}
	return p.readIn(s.off, s.fileSize)
}

// stringTable returns the data of the string table section link, as
// debug/elf's File.stringTable does.
func (p *elfParser) stringTable(link uint32) ([]byte, error) {
	s, ok := p.linked(link)
	if !ok {
		return nil, errors.New("section has invalid string table link")
	}
	return p.sectionData(&s)
}

// isString reports whether a NUL-terminated string starts at off in a
// string table (cstring's test, without the copy).
func isString(tab []byte, off uint64) bool {
	return off < uint64(len(tab)) && bytes.IndexByte(tab[off:], 0) >= 0
}

// cstring returns the NUL-terminated string at off in a string table,
// and false when there is none (debug/elf's getString).
func cstring(tab []byte, off uint64) (string, bool) {
	if off >= uint64(len(tab)) {
		return "", false
	}
	n := bytes.IndexByte(tab[off:], 0)
	if n < 0 {
		return "", false
	}
	return string(tab[off : off+uint64(n)]), true
}

func protOf(fl elf.ProgFlag) vaspace.Prot {
	var p vaspace.Prot
	if fl&elf.PF_R != 0 {
		p |= vaspace.ProtRead
	}
	if fl&elf.PF_W != 0 {
		p |= vaspace.ProtWrite
	}
	if fl&elf.PF_X != 0 {
		p |= vaspace.ProtExec
	}
	return p
}

// phoffOf returns the file offset of program header i, for error
// messages.
func (p *elfParser) phoffOf(i int) int64 {
	return int64(p.phoff + uint64(i)*p.phentsize)
}

func (p *elfParser) readProgs(spec *loader.ImageSpec) error {
	loads := 0
	for i := range p.progs {
		if p.progs[i].Type == elf.PT_LOAD {
			loads++
		}
	}
	if loads > 0 {
		spec.Segments = make([]loader.Segment, 0, loads)
	}
	for i := range p.progs {
		pr := &p.progs[i]
		switch pr.Type {
		case elf.PT_LOAD:
			spec.Segments = append(spec.Segments, loader.Segment{
				Name:     "LOAD" + strconv.Itoa(i),
				VMAddr:   pr.Vaddr,
				VMSize:   pr.Memsz,
				FileOff:  pr.Off,
				FileSize: pr.Filesz,
				Prot:     protOf(pr.Flags),
				Align:    pr.Align,
			})
		case elf.PT_TLS:
			// glibc ignores an empty PT_TLS; with several, the last
			// non-empty one wins (elf/dl-load.c).
			if pr.Memsz == 0 {
				continue
			}
			if pr.Filesz > pr.Memsz {
				return p.fail(fmt.Sprintf("PT_TLS (program header %d)", i), p.phoffOf(i),
					fmt.Errorf("p_filesz %#x exceeds p_memsz %#x", pr.Filesz, pr.Memsz))
			}
			if pr.Align > 1 && pr.Align&(pr.Align-1) != 0 {
				return p.fail(fmt.Sprintf("PT_TLS (program header %d)", i), p.phoffOf(i),
					fmt.Errorf("p_align %#x is not a power of two", pr.Align))
			}
			spec.TLS = &loader.TLSBlock{MemSize: pr.Memsz, FileSize: pr.Filesz, Align: pr.Align, VAddr: pr.Vaddr}
		case elf.PT_INTERP:
			// Linux refuses a PT_INTERP longer than PATH_MAX (4096) or
			// shorter than 2 bytes (fs/binfmt_elf.c load_elf_binary).
			const maxInterp = 4096
			if pr.Filesz < 2 || pr.Filesz > maxInterp {
				return p.fail(fmt.Sprintf("PT_INTERP (program header %d)", i), p.phoffOf(i),
					fmt.Errorf("p_filesz %#x is not a path length Linux accepts (2..%d)", pr.Filesz, maxInterp))
			}
			buf, err := p.readIn(pr.Off, pr.Filesz)
			if err != nil {
				return p.fail(fmt.Sprintf("PT_INTERP (program header %d)", i), int64(pr.Off), err)
			}
			if j := bytes.IndexByte(buf, 0); j >= 0 {
				buf = buf[:j]
			}
			p.info.Interp = string(buf)
		case elf.PT_DYNAMIC:
			p.info.Dynamic = true
			entsize := uint64(16)
			if p.class == elf.ELFCLASS32 {
				entsize = 8
			}
			p.info.DynamicEntries = pr.Memsz / entsize
		case elf.PT_GNU_RELRO:
			p.info.RELROAddr, p.info.RELROSize = pr.Vaddr, pr.Memsz
		case elf.PT_GNU_STACK:
			p.info.HasGNUStack, p.info.StackFlags = true, pr.Flags
		case elf.PT_PHDR:
			p.info.PhdrMapped = true
		}
	}
	p.info.PhNum = len(p.progs)
	if !p.info.PhdrMapped && len(p.progs) > 0 {
		// ld.so finds the headers in the first PT_LOAD whose mapped file
		// range holds them (elf/dl-load.c).
		phoff := p.phoff
		need := uint64(len(p.progs)) * 56 // sizeof(Elf64_Phdr)
		if p.class == elf.ELFCLASS32 {
			need = uint64(len(p.progs)) * 32
		}
		for _, pr := range p.progs {
			if pr.Type == elf.PT_LOAD && pr.Off <= phoff && phoff+need <= pr.Off+pr.Filesz {
				p.info.PhdrMapped = true
				break
			}
		}
	}
	return nil
}

// checkSection checks that a section about to be read, and the string
// table it links to, lie inside the file. The error does not name the
// file: callers wrap it.
func (p *elfParser) checkSection(s *section) error {
	for i, sec := range []*section{s, nil} {
		if i == 1 {
			l, ok := p.linked(s.link)
			if !ok {
				return nil
			}
			sec = &l
		}
		if sec.typ == elf.SHT_NOBITS {
			continue
		}
		if !p.inFile(sec.off, sec.size) {
			return fmt.Errorf("section %s (%v) [%#x, %#x) runs past the end of the file (%#x bytes)",
				p.name(sec), sec.typ, sec.off, sec.off+sec.size, p.size)
		}
	}
	return nil
}

// dynamic is what the dynamic section says about relocations: the last
// value of each tag, and whether it is present.
type dynamic struct {
	rela, relasz, relaent, jmprel, pltrelsz, pltrel uint64
	hasRela, hasRelaent, hasJmprel, hasPltrel       bool
}

func (p *elfParser) readDynamic(spec *loader.ImageSpec) error {
	ds := p.sectionByType(elf.SHT_DYNAMIC)
	if ds == nil {
		return p.fail("dynamic section", -1,
			errors.New("PT_DYNAMIC is present but there is no SHT_DYNAMIC section header (vasim reads the dynamic section through the section headers)"))
	}
	if err := p.checkSection(ds); err != nil {
		return p.fail("dynamic section", int64(ds.off), err)
	}
	d, err := p.sectionData(ds)
	if err != nil {
		return p.fail("dynamic section", int64(ds.off), err)
	}
	entsize := 16
	if p.class == elf.ELFCLASS32 {
		entsize = 8
	}
	if len(d)%entsize != 0 {
		return p.fail("dynamic section", int64(ds.off), fmt.Errorf("size %#x is not a multiple of the %d-byte dynamic entry", len(d), entsize))
	}
	str, err := p.stringTable(ds.link)
	if err != nil {
		return p.fail("dynamic section string table", -1, err)
	}
	// One pass over every entry (glibc stops at DT_NULL; debug/elf, whose
	// reading this matches, reads the whole section). A string tag whose
	// value is not a string in the table is skipped; with several tags
	// of one kind the last wins, as in glibc's l_info.
	var dv dynamic
	info, bo := p.info, p.bo
	for off := 0; off < len(d); off += entsize {
		var tag, val uint64
		if entsize == 16 {
			tag, val = bo.Uint64(d[off:]), bo.Uint64(d[off+8:])
		} else {
			tag, val = uint64(bo.Uint32(d[off:])), uint64(bo.Uint32(d[off+4:]))
		}
		switch elf.DynTag(tag) {
		case elf.DT_NEEDED:
			if s, ok := cstring(str, val); ok {
				spec.Needed = append(spec.Needed, s)
			}
		case elf.DT_SONAME:
			if s, ok := cstring(str, val); ok {
				info.SOName = s
			}
		case elf.DT_RPATH:
			if s, ok := cstring(str, val); ok {
				info.RPath, info.HasRPath = s, true
			}
		case elf.DT_RUNPATH:
			if s, ok := cstring(str, val); ok {
				info.RunPath, info.HasRunPath = s, true
			}
		case elf.DT_FLAGS:
			info.Flags = elf.DynFlag(val)
		case elf.DT_FLAGS_1:
			info.Flags1 = elf.DynFlag1(val)
		case elf.DT_BIND_NOW:
			info.HasBindNow = true
		case elf.DT_RELA:
			dv.rela, dv.hasRela = val, true
		case elf.DT_RELASZ:
			dv.relasz = val
		case elf.DT_RELAENT:
			dv.relaent, dv.hasRelaent = val, true
		case elf.DT_JMPREL:
			dv.jmprel, dv.hasJmprel = val, true
		case elf.DT_PLTRELSZ:
			dv.pltrelsz = val
		case elf.DT_PLTREL:
			dv.pltrel, dv.hasPltrel = val, true
		}
	}
	if err := p.readTLSRelocs(&dv); err != nil {
		return err
	}
	if err := p.readVersionIndexes(); err != nil {
		return err
	}
	if spec.TLS != nil {
		if err := p.readTLSSymbols(); err != nil {
			return err
		}
	}
	return nil
}

// readVersionIndexes records the largest version index among the
// versions the image defines and needs (the low 15 bits; the top bit is
// "hidden"). The sections are walked as debug/elf's DynamicVersions and
// DynamicVersionNeeds walk them, which also want a valid dynamic symbol
// table and an SHT_GNU_VERSYM section, reading only the indexes.
func (p *elfParser) readVersionIndexes() error {
	vd, vn := p.sectionByType(elf.SHT_GNU_VERDEF), p.sectionByType(elf.SHT_GNU_VERNEED)
	for _, s := range []*section{vd, vn} {
		if s != nil {
			if err := p.checkSection(s); err != nil {
				return p.fail("version section "+p.name(s), int64(s.off), err)
			}
		}
	}
	if vd == nil && vn == nil {
		return nil
	}
	_, _, err := p.dynsym()
	if err == nil && p.sectionByType(elf.SHT_GNU_VERSYM) == nil {
		err = errors.New("there is no SHT_GNU_VERSYM section (the symbol version table)")
	}
	var defMax, needMax int
	if err == nil {
		defMax, err = p.verdefMax(vd)
	}
	if err == nil {
		needMax, err = p.verneedMax(vn)
	}
	if err != nil {
		if vd != nil {
			return p.fail("version definitions (DT_VERDEF)", -1, err)
		}
		return p.fail("version needs (DT_VERNEED)", -1, err)
	}
	p.info.VersionIndexMax = max(defMax, needMax)
	return nil
}

// verdefMax walks the Elf_Verdef chain (vd_version, vd_flags, vd_ndx,
// vd_cnt, vd_hash, vd_aux, vd_next) and returns the largest vd_ndx.
func (p *elfParser) verdefMax(vd *section) (int, error) {
	if vd == nil {
		return 0, nil
	}
	d, _ := p.sectionData(vd) // unreadable: no entries, as in debug/elf
	bo, m := p.bo, 0
	for i := 0; i+20 <= len(d); {
		if v := bo.Uint16(d[i:]); v != 1 {
			return 0, fmt.Errorf("entry at offset %#x: vd_version %d, want 1", vd.off+uint64(i), v)
		}
		if bo.Uint16(d[i+6:]) == 0 {
			return 0, fmt.Errorf("entry at offset %#x: vd_cnt 0: the version has no name", vd.off+uint64(i))
		}
		m = max(m, int(bo.Uint16(d[i+4:])&0x7fff))
		next := bo.Uint32(d[i+16:])
		if next == 0 {
			break
		}
		i += int(next)
	}
	return m, nil
}

// verneedMax walks the Elf_Verneed chain (vn_version, vn_cnt, vn_file,
// vn_aux, vn_next) and each one's Elf_Vernaux entries (vna_hash,
// vna_flags, vna_other, vna_name, vna_next), and returns the largest
// vna_other.
func (p *elfParser) verneedMax(vn *section) (int, error) {
	if vn == nil {
		return 0, nil
	}
	d, _ := p.sectionData(vn)
	bo, m := p.bo, 0
	for i := 0; i+16 <= len(d); {
		if v := bo.Uint16(d[i:]); v != 1 {
			return 0, fmt.Errorf("entry at offset %#x: vn_version %d, want 1", vn.off+uint64(i), v)
		}
		cnt := int(bo.Uint16(d[i+2:]))
		j := i + int(bo.Uint32(d[i+8:]))
		for c := 0; c < cnt && j+16 <= len(d); c++ {
			m = max(m, int(bo.Uint16(d[j+6:])&0x7fff))
			next := bo.Uint32(d[j+12:])
			if next == 0 {
				break
			}
			j += int(next)
		}
		next := bo.Uint32(d[i+12:])
		if next == 0 {
			break
		}
		i += int(next)
	}
	return m, nil
}

// tlsAccess classifies a relocation type of machine m, or returns 0.
func tlsAccess(m elf.Machine, t uint32) loader.TLSAccess {
	switch m {
	case elf.EM_X86_64:
		switch elf.R_X86_64(t) {
		case elf.R_X86_64_TPOFF64:
			return loader.TLSAccessInitialExec
		case elf.R_X86_64_TPOFF32:
			return loader.TLSAccessInitialExec32
		case elf.R_X86_64_TLSDESC:
			return loader.TLSAccessDescriptor
		case elf.R_X86_64_DTPMOD64:
			return loader.TLSAccessModuleID
		case elf.R_X86_64_DTPOFF64:
			return loader.TLSAccessDTPOffset
		}
	case elf.EM_AARCH64:
		switch elf.R_AARCH64(t) {
		case elf.R_AARCH64_TLS_TPREL64:
			return loader.TLSAccessInitialExec
		case elf.R_AARCH64_TLSDESC:
			return loader.TLSAccessDescriptor
		case elf.R_AARCH64_TLS_DTPMOD64:
			return loader.TLSAccessModuleID
		case elf.R_AARCH64_TLS_DTPREL64:
			return loader.TLSAccessDTPOffset
		}
	}
	return 0
}

// relaRange is a run of Elf64_Rela entries at a link-time address.
type relaRange struct {
	name       string
	addr, size uint64
	plt        bool
}

func (p *elfParser) readTLSRelocs(dv *dynamic) error {
	if p.class != elf.ELFCLASS64 || (p.info.Machine != elf.EM_X86_64 && p.info.Machine != elf.EM_AARCH64) {
		// Only the RELA-based 64-bit machines vasim models carry TLS
		// relocations it interprets.
		return nil
	}
	if dv.hasRelaent && dv.relaent != 24 {
		return p.fail("dynamic section DT_RELAENT", -1, fmt.Errorf("entry size %d, want 24 for Elf64_Rela", dv.relaent))
	}
	// The two ranges as elf/dynamic-link.h computes them: when DT_RELASZ
	// also covers the PLT relocations (they end together), the PLT part is
	// taken off the first range.
	var ranges []relaRange
	r0 := relaRange{name: ".rela.dyn (DT_RELA)", addr: dv.rela, size: dv.relasz}
	if !dv.hasRela || dv.rela == 0 {
		r0 = relaRange{name: ".rela.dyn (DT_RELA)"}
	}
	if dv.hasPltrel && dv.hasJmprel && elf.DynTag(dv.pltrel) == elf.DT_RELA {
		if r0.addr == 0 {
			r0.addr = dv.jmprel
		}
		if r0.addr+r0.size == dv.jmprel+dv.pltrelsz && r0.size >= dv.pltrelsz {
			r0.size -= dv.pltrelsz
		}
		ranges = append(ranges, r0, relaRange{name: ".rela.plt (DT_JMPREL)", addr: dv.jmprel, size: dv.pltrelsz, plt: true})
	} else {
		ranges = append(ranges, r0)
	}
	for _, rr := range ranges {
		if rr.size == 0 {
			continue
		}
		if err := p.scanRela(rr); err != nil {
			return err
		}
	}
	return nil
}

// vaddrToProg finds the PT_LOAD segment holding [addr, addr+size) in the
// file.
func (p *elfParser) vaddrToProg(addr, size uint64) (*elf.ProgHeader, uint64, bool) {
	for i := range p.progs {
		pr := &p.progs[i]
		if pr.Type != elf.PT_LOAD {
			continue
		}
		if addr >= pr.Vaddr && addr-pr.Vaddr <= pr.Filesz && size <= pr.Filesz-(addr-pr.Vaddr) {
			return pr, addr - pr.Vaddr, true
		}
	}
	return nil, 0, false
}

func (p *elfParser) scanRela(rr relaRange) error {
	const entSize = 24 // sizeof(Elf64_Rela): r_offset, r_info, r_addend
	if rr.size%entSize != 0 {
		return p.fail(rr.name, -1, fmt.Errorf("size %#x is not a multiple of %d", rr.size, entSize))
	}
	pr, off, ok := p.vaddrToProg(rr.addr, rr.size)
	if !ok {
		return p.fail(rr.name, -1, fmt.Errorf("address range [%#x, %#x) is not inside the file part of any PT_LOAD segment", rr.addr, rr.addr+rr.size))
	}
	// Read in chunks: a reader-backed source then holds at most one
	// chunk; a mapped one reads nothing until the loop touches it.
	const chunk = 4096 * entSize
	bo, m := p.bo, p.info.Machine
	first := len(p.info.TLSRelocs) // this range's runs start here
	for done := uint64(0); done < rr.size; {
		n := min(rr.size-done, chunk)
		at := pr.Off + off + done
		b, err := p.readIn(at, n)
		if err != nil {
			return p.fail(rr.name, int64(at), err)
		}
		for i := uint64(0); i < n; i += entSize {
			info := bo.Uint64(b[i+8:])
			typ := elf.R_TYPE64(info)
			acc := tlsAccess(m, typ)
			if acc == 0 {
				continue
			}
			symIdx := elf.R_SYM64(info)
			roff := bo.Uint64(b[i:])
			if k := len(p.info.TLSRelocs) - 1; k >= first && p.info.TLSRelocs[k].Type == typ && p.info.TLSRelocs[k].SymIndex == symIdx {
				p.info.TLSRelocs[k].Count++
				continue
			}
			rel := loader.TLSReloc{Access: acc, Type: typ, Offset: roff, Count: 1, PLT: rr.plt, SymIndex: symIdx}
			if symIdx != 0 {
				sym, err := p.symbol(symIdx)
				if err != nil {
					return p.fail(fmt.Sprintf("%s entry %d (%s)", rr.name, (done+i)/entSize, rel.TypeName(m)),
						int64(at+i), err)
				}
				rel.Symbol = sym.Name
				rel.Bind = elf.ST_BIND(sym.Info)
				rel.Visibility = elf.ST_VISIBILITY(sym.Other)
				rel.Defined = sym.Section != elf.SHN_UNDEF
			}
			p.info.TLSRelocs = append(p.info.TLSRelocs, rel)
		}
		done += n
	}
	return nil
}

// dynsym returns the dynamic symbol table's entries after the null
// symbol and its string table, with the errors of debug/elf's
// getSymbols: elf.ErrNoSymbols when there is no table or it is empty.
func (p *elfParser) dynsym() (tab, str []byte, err error) {
	ss := p.sectionByType(elf.SHT_DYNSYM)
	if ss == nil {
		return nil, nil, elf.ErrNoSymbols
	}
	data, err := p.sectionData(ss)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot load symbol section: %w", err)
	}
	if len(data) == 0 {
		return nil, nil, elf.ErrNoSymbols
	}
	size := p.symSize()
	if len(data)%size != 0 {
		return nil, nil, fmt.Errorf("size %#x of the symbol section is not a multiple of the %d-byte symbol", len(data), size)
	}
	if str, err = p.stringTable(ss.link); err != nil {
		return nil, nil, fmt.Errorf("cannot load string table section: %w", err)
	}
	return data[size:], str, nil
}

func (p *elfParser) symSize() int {
	if p.class == elf.ELFCLASS64 {
		return int(unsafe.Sizeof(y64))
	}
	return int(unsafe.Sizeof(y32))
}

// loadSyms loads the dynamic symbol table once: none is no error.
func (p *elfParser) loadSyms() error {
	if !p.symsLoaded {
		p.symsLoaded = true
		if ss := p.sectionByType(elf.SHT_DYNSYM); ss != nil {
			if p.symErr = p.checkSection(ss); p.symErr != nil {
				return p.symErr
			}
		}
		p.symtab, p.symstr, p.symErr = p.dynsym()
		if errors.Is(p.symErr, elf.ErrNoSymbols) {
			p.symtab, p.symstr, p.symErr = nil, nil, nil
		}
	}
	return p.symErr
}

// sym decodes entry i of the table loaded by loadSyms (0 is the first
// after the null symbol). A name that is not a string of the table is "",
// as debug/elf reads it.
func (p *elfParser) sym(i int) elf.Symbol {
	bo := p.bo
	var s elf.Symbol
	var name uint32
	if p.class == elf.ELFCLASS64 {
		b := p.symtab[i*int(unsafe.Sizeof(y64)):]
		name = bo.Uint32(b[unsafe.Offsetof(y64.Name):])
		s.Info, s.Other = b[unsafe.Offsetof(y64.Info)], b[unsafe.Offsetof(y64.Other)]
		s.Section = elf.SectionIndex(bo.Uint16(b[unsafe.Offsetof(y64.Shndx):]))
		s.Value = bo.Uint64(b[unsafe.Offsetof(y64.Value):])
		s.Size = bo.Uint64(b[unsafe.Offsetof(y64.Size):])
	} else {
		b := p.symtab[i*int(unsafe.Sizeof(y32)):]
		name = bo.Uint32(b[unsafe.Offsetof(y32.Name):])
		s.Info, s.Other = b[unsafe.Offsetof(y32.Info)], b[unsafe.Offsetof(y32.Other)]
		s.Section = elf.SectionIndex(bo.Uint16(b[unsafe.Offsetof(y32.Shndx):]))
		s.Value = uint64(bo.Uint32(b[unsafe.Offsetof(y32.Value):]))
		s.Size = uint64(bo.Uint32(b[unsafe.Offsetof(y32.Size):]))
	}
	s.Name, _ = cstring(p.symstr, uint64(name))
	return s
}

// symbol returns dynamic symbol idx (idx >= 1).
func (p *elfParser) symbol(idx uint32) (elf.Symbol, error) {
	if err := p.loadSyms(); err != nil {
		return elf.Symbol{}, fmt.Errorf("reading the dynamic symbol table: %w", err)
	}
	n := len(p.symtab) / p.symSize()
	if uint64(idx) > uint64(n) {
		return elf.Symbol{}, fmt.Errorf("symbol index %d is beyond the dynamic symbol table (%d entries)", idx, n+1)
	}
	return p.sym(int(idx) - 1), nil
}

func (p *elfParser) readTLSSymbols() error {
	if err := p.loadSyms(); err != nil {
		return p.fail("dynamic symbol table", -1, err)
	}
	size := p.symSize()
	info := unsafe.Offsetof(y64.Info)
	shndx := unsafe.Offsetof(y64.Shndx)
	if p.class != elf.ELFCLASS64 {
		info, shndx = unsafe.Offsetof(y32.Info), unsafe.Offsetof(y32.Shndx)
	}
	for i, n := 0, len(p.symtab)/size; i < n; i++ {
		// Decode only the thread-local definitions.
		b := p.symtab[i*size:]
		if elf.ST_TYPE(b[info]) != elf.STT_TLS || elf.SectionIndex(p.bo.Uint16(b[shndx:])) == elf.SHN_UNDEF {
			continue
		}
		s := p.sym(i)
		bind, vis := elf.ST_BIND(s.Info), elf.ST_VISIBILITY(s.Other)
		if bind == elf.STB_LOCAL || vis == elf.STV_HIDDEN || vis == elf.STV_INTERNAL {
			continue
		}
		p.info.TLSSymbols = append(p.info.TLSSymbols, loader.TLSSymbol{Name: s.Name, Value: s.Value, Size: s.Size, Bind: bind, Visibility: vis})
	}
	return nil
}

// Arch returns the loader.Arch of an ELF machine (ArchUnknown for one
// vasim has no name for; ELFInfo.Machine keeps the value).
func Arch(m elf.Machine) loader.Arch {
	switch m {
	case elf.EM_X86_64:
		return loader.ArchX86_64
	case elf.EM_AARCH64:
		return loader.ArchAArch64
	case elf.EM_386:
		return loader.ArchI386
	case elf.EM_ARM:
		return loader.ArchARM
	case elf.EM_PPC:
		return loader.ArchPPC
	case elf.EM_PPC64:
		return loader.ArchPPC64
	}
	return loader.ArchUnknown
}
