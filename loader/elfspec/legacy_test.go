package elfspec

// This file keeps the debug/elf-based reader vasim used before the
// targeted one in read.go, unchanged but for its names: legacyParse is
// the reference the differential tests (diff_test.go) hold Parse to.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/internal/objfile"
)

// What is read: as glibc's ld.so reads it before it maps the object
// (elf/dl-load.c _dl_map_object_from_fd, elf/get-dynamic-info.h) and the
// dynamic relocations it processes that touch static TLS (elf/dl-reloc.c,
// sysdeps/x86_64/dl-machine.h, sysdeps/aarch64/dl-machine.h; glibc 2.36).
//
// The file is read with the standard library's debug/elf: program headers
// through File.Progs, the dynamic section through DynString and DynValue,
// symbols through DynamicSymbols. debug/elf has no reader for dynamic
// relocation tables, so those are decoded here from the DT_RELA and
// DT_JMPREL ranges that ld.so itself walks, using debug/elf's Rela64 and
// R_SYM64/R_TYPE64 definitions.

// Parse reads an ELF image from r; path names it in the spec and in
// errors. It never panics: a panic inside debug/elf on hostile input is
// converted into a *loader.FileError. When r has a Size method
// (bytes.Reader, io.SectionReader; Read passes one), the header tables are checked
// against the file size first, so a truncated or corrupted file is
// reported with the table and offset at fault rather than debug/elf's
// bare "EOF".
func legacyParse(r io.ReaderAt, path string) (spec *loader.ImageSpec, err error) {
	defer objfile.Recover(path, format, "debug/elf", &spec, &err)
	p := &legacyParser{path: path, r: r}
	return p.parse()
}

type legacyParser struct {
	path       string
	r          io.ReaderAt
	size       int64 // file size, or -1 when r does not tell
	f          *elf.File
	info       *loader.ELFInfo
	syms       []elf.Symbol // dynamic symbols without the null symbol, loaded lazily
	symErr     error
	symsLoaded bool
}

func (p *legacyParser) fail(what string, off int64, err error) error {
	return &loader.FileError{Path: p.path, Format: format, What: what, Offset: off, Err: err}
}

func (p *legacyParser) parse() (*loader.ImageSpec, error) {
	var magic [4]byte
	if _, err := p.r.ReadAt(magic[:], 0); err != nil {
		return nil, p.fail("ELF header", 0, fmt.Errorf("cannot read the magic number: %w", err))
	}
	if string(magic[:]) != elf.ELFMAG {
		return nil, &loader.FileError{Path: p.path, Format: format, What: "ELF header", Offset: 0,
			Err: fmt.Errorf("magic %q is not \\x7fELF", magic[:]), Class: loader.ErrWrongFormat}
	}
	p.size = -1
	if sz, ok := p.r.(interface{ Size() int64 }); ok {
		p.size = sz.Size()
		if err := p.checkTables(p.size); err != nil {
			return nil, err
		}
	}
	f, err := elf.NewFile(p.r)
	if err != nil {
		return nil, p.fail("ELF headers", -1, err)
	}
	p.f = f
	info := &loader.ELFInfo{Class: f.Class, Machine: f.Machine, Type: f.Type}
	p.info = info
	spec := &loader.ImageSpec{
		Name:   objfile.BaseName(p.path),
		Path:   p.path,
		Format: loader.FormatELF,
		Arch:   Arch(f.Machine),
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
	case f.Type == elf.ET_EXEC:
		spec.Kind = loader.KindExecutable
	case f.Type == elf.ET_DYN && info.Flags1&elf.DF_1_PIE != 0:
		spec.Kind = loader.KindExecutable
	case f.Type == elf.ET_DYN && info.Interp != "" && info.SOName == "":
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
// inside a file of size bytes, before debug/elf reads them (it allocates
// a buffer of the declared size, up to 10 MiB, before it finds the file
// too short, and then reports only "EOF"). Headers it cannot decode (bad
// class or byte order) and the extended-numbering escapes (e_phnum
// PN_XNUM, e_shnum 0, e_shstrndx SHN_XINDEX) are left to debug/elf. The
// field offsets are the ELF header's (elf.h Elf32_Ehdr, Elf64_Ehdr).
func (p *legacyParser) checkTables(size int64) error {
	var id [elf.EI_NIDENT]byte
	if _, err := p.r.ReadAt(id[:], 0); err != nil {
		return p.fail("ELF header", 0, fmt.Errorf("file is %d bytes, too short for the ELF identification (%d bytes)", size, elf.EI_NIDENT))
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
	hdr := make([]byte, l.hdrSize)
	if size < l.hdrSize {
		return p.fail("ELF header", 0, fmt.Errorf("file is %d bytes, too short for the %d-byte ELF header", size, l.hdrSize))
	}
	if _, err := p.r.ReadAt(hdr, 0); err != nil {
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
	inFile := func(off, n uint64) bool { return off <= uint64(size) && n <= uint64(size)-off }
	const pnXNum = 0xffff
	if phnum != pnXNum && !inFile(phoff, phnum*phentsize) {
		return p.fail("program header table declared by the ELF header (e_phoff, e_phnum, e_phentsize)", l.phoff,
			fmt.Errorf("[%#x, %#x) runs past the end of the file (%#x bytes)", phoff, phoff+phnum*phentsize, size))
	}
	if shnum == 0 {
		return nil
	}
	if !inFile(shoff, shnum*shentsize) {
		return p.fail("section header table declared by the ELF header (e_shoff, e_shnum, e_shentsize)", l.shoff,
			fmt.Errorf("[%#x, %#x) runs past the end of the file (%#x bytes)", shoff, shoff+shnum*shentsize, size))
	}
	if shstrndx == uint64(elf.SHN_UNDEF) || shstrndx >= shnum || shentsize < uint64(l.shdrSize+l.shoffSize) {
		return nil
	}
	sh := make([]byte, l.shdrSize+l.shoffSize)
	at := shoff + shstrndx*shentsize
	if _, err := p.r.ReadAt(sh, int64(at)); err != nil {
		return p.fail(fmt.Sprintf("section header %d (e_shstrndx)", shstrndx), int64(at), err)
	}
	if elf.SectionType(bo.Uint32(sh[4:])) == elf.SHT_NOBITS {
		return nil
	}
	off, n := word(sh[l.shdrOff:], l.shoffSize), word(sh[l.shdrSize:], l.shoffSize)
	if !inFile(off, n) {
		return p.fail(fmt.Sprintf("section-name string table (section %d)", shstrndx), int64(at),
			fmt.Errorf("[%#x, %#x) runs past the end of the file (%#x bytes)", off, off+n, size))
	}
	return nil
}

// phoff returns the file offset of program header i, for error messages.
func (p *legacyParser) phoff(i int) int64 {
	var phoff, entsize uint64
	switch p.f.Class {
	case elf.ELFCLASS64:
		var h elf.Header64
		if err := binary.Read(io.NewSectionReader(p.r, 0, int64(binary.Size(h))), p.f.ByteOrder, &h); err != nil {
			return -1
		}
		phoff, entsize = h.Phoff, uint64(h.Phentsize)
	case elf.ELFCLASS32:
		var h elf.Header32
		if err := binary.Read(io.NewSectionReader(p.r, 0, int64(binary.Size(h))), p.f.ByteOrder, &h); err != nil {
			return -1
		}
		phoff, entsize = uint64(h.Phoff), uint64(h.Phentsize)
	}
	return int64(phoff + uint64(i)*entsize)
}

func (p *legacyParser) readProgs(spec *loader.ImageSpec) error {
	for i, pr := range p.f.Progs {
		switch pr.Type {
		case elf.PT_LOAD:
			spec.Segments = append(spec.Segments, loader.Segment{
				Name:     fmt.Sprintf("LOAD%d", i),
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
				return p.fail(fmt.Sprintf("PT_TLS (program header %d)", i), p.phoff(i),
					fmt.Errorf("p_filesz %#x exceeds p_memsz %#x", pr.Filesz, pr.Memsz))
			}
			if pr.Align > 1 && pr.Align&(pr.Align-1) != 0 {
				return p.fail(fmt.Sprintf("PT_TLS (program header %d)", i), p.phoff(i),
					fmt.Errorf("p_align %#x is not a power of two", pr.Align))
			}
			spec.TLS = &loader.TLSBlock{MemSize: pr.Memsz, FileSize: pr.Filesz, Align: pr.Align, VAddr: pr.Vaddr}
		case elf.PT_INTERP:
			// Linux refuses a PT_INTERP longer than PATH_MAX (4096) or
			// shorter than 2 bytes (fs/binfmt_elf.c load_elf_binary).
			const maxInterp = 4096
			if pr.Filesz < 2 || pr.Filesz > maxInterp {
				return p.fail(fmt.Sprintf("PT_INTERP (program header %d)", i), p.phoff(i),
					fmt.Errorf("p_filesz %#x is not a path length Linux accepts (2..%d)", pr.Filesz, maxInterp))
			}
			buf := make([]byte, pr.Filesz)
			if _, err := pr.ReadAt(buf, 0); err != nil {
				return p.fail(fmt.Sprintf("PT_INTERP (program header %d)", i), int64(pr.Off), err)
			}
			if j := bytes.IndexByte(buf, 0); j >= 0 {
				buf = buf[:j]
			}
			p.info.Interp = string(buf)
		case elf.PT_DYNAMIC:
			p.info.Dynamic = true
			entsize := uint64(16)
			if p.f.Class == elf.ELFCLASS32 {
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
	p.info.PhNum = len(p.f.Progs)
	if !p.info.PhdrMapped && len(p.f.Progs) > 0 {
		// ld.so finds the headers in the first PT_LOAD whose mapped file
		// range holds them (elf/dl-load.c).
		phoff := uint64(p.phoff(0))
		need := uint64(len(p.f.Progs)) * 56 // sizeof(Elf64_Phdr)
		if p.f.Class == elf.ELFCLASS32 {
			need = uint64(len(p.f.Progs)) * 32
		}
		for _, pr := range p.f.Progs {
			if pr.Type == elf.PT_LOAD && pr.Off <= phoff && phoff+need <= pr.Off+pr.Filesz {
				p.info.PhdrMapped = true
				break
			}
		}
	}
	return nil
}

// checkSection checks that a section debug/elf is about to read, and the
// string table it links to, lie inside the file (see checkTables). The
// error does not name the file: callers wrap it.
func (p *legacyParser) checkSection(s *elf.Section) error {
	for i, sec := range []*elf.Section{s, nil} {
		if i == 1 {
			if s.Link == 0 || int(s.Link) >= len(p.f.Sections) {
				return nil
			}
			sec = p.f.Sections[s.Link]
		}
		if p.size < 0 || sec.Type == elf.SHT_NOBITS {
			continue
		}
		if sec.Offset > uint64(p.size) || sec.Size > uint64(p.size)-sec.Offset {
			return fmt.Errorf("section %s (%v) [%#x, %#x) runs past the end of the file (%#x bytes)",
				sec.Name, sec.Type, sec.Offset, sec.Offset+sec.Size, p.size)
		}
	}
	return nil
}

func (p *legacyParser) readDynamic(spec *loader.ImageSpec) error {
	f := p.f
	ds := f.SectionByType(elf.SHT_DYNAMIC)
	if ds == nil {
		return p.fail("dynamic section", -1,
			errors.New("PT_DYNAMIC is present but there is no SHT_DYNAMIC section header (vasim reads the dynamic section through the section headers)"))
	}
	if err := p.checkSection(ds); err != nil {
		return p.fail("dynamic section", int64(ds.Offset), err)
	}
	str := func(tag elf.DynTag) ([]string, error) {
		v, err := f.DynString(tag)
		if err != nil {
			return nil, p.fail("dynamic section "+tag.String(), -1, err)
		}
		return v, nil
	}
	val := func(tag elf.DynTag) ([]uint64, error) {
		v, err := f.DynValue(tag)
		if err != nil {
			return nil, p.fail("dynamic section "+tag.String(), -1, err)
		}
		return v, nil
	}
	needed, err := str(elf.DT_NEEDED)
	if err != nil {
		return err
	}
	spec.Needed = needed
	if v, err := str(elf.DT_SONAME); err != nil {
		return err
	} else if len(v) > 0 {
		p.info.SOName = v[len(v)-1]
	}
	if v, err := str(elf.DT_RPATH); err != nil {
		return err
	} else if len(v) > 0 {
		p.info.RPath, p.info.HasRPath = v[len(v)-1], true
	}
	if v, err := str(elf.DT_RUNPATH); err != nil {
		return err
	} else if len(v) > 0 {
		p.info.RunPath, p.info.HasRunPath = v[len(v)-1], true
	}
	if v, err := val(elf.DT_FLAGS); err != nil {
		return err
	} else if len(v) > 0 {
		p.info.Flags = elf.DynFlag(v[len(v)-1])
	}
	if v, err := val(elf.DT_FLAGS_1); err != nil {
		return err
	} else if len(v) > 0 {
		p.info.Flags1 = elf.DynFlag1(v[len(v)-1])
	}
	if v, err := val(elf.DT_BIND_NOW); err != nil {
		return err
	} else {
		p.info.HasBindNow = len(v) > 0
	}
	if err := p.readTLSRelocs(val); err != nil {
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
// "hidden").
func (p *legacyParser) readVersionIndexes() error {
	for _, t := range []elf.SectionType{elf.SHT_GNU_VERDEF, elf.SHT_GNU_VERNEED} {
		if s := p.f.SectionByType(t); s != nil {
			if err := p.checkSection(s); err != nil {
				return p.fail("version section "+s.Name, int64(s.Offset), err)
			}
		}
	}
	defs, err := p.f.DynamicVersions()
	if err != nil && p.f.SectionByType(elf.SHT_GNU_VERDEF) != nil {
		return p.fail("version definitions (DT_VERDEF)", -1, err)
	}
	for _, d := range defs {
		p.info.VersionIndexMax = max(p.info.VersionIndexMax, int(d.Index&0x7fff))
	}
	needs, err := p.f.DynamicVersionNeeds()
	if err != nil && p.f.SectionByType(elf.SHT_GNU_VERNEED) != nil {
		return p.fail("version needs (DT_VERNEED)", -1, err)
	}
	for _, n := range needs {
		for _, d := range n.Needs {
			p.info.VersionIndexMax = max(p.info.VersionIndexMax, int(d.Index&0x7fff))
		}
	}
	return nil
}

// legacyRelaRange is a run of Elf64_Rela entries at a link-time address.
type legacyRelaRange struct {
	name       string
	addr, size uint64
	plt        bool
}

func (p *legacyParser) readTLSRelocs(val func(elf.DynTag) ([]uint64, error)) error {
	f := p.f
	if f.Class != elf.ELFCLASS64 || (f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_AARCH64) {
		// Only the RELA-based 64-bit machines vasim models carry TLS
		// relocations it interprets.
		return nil
	}
	get := func(tag elf.DynTag) (uint64, bool, error) {
		v, err := val(tag)
		if err != nil {
			return 0, false, err
		}
		x, ok := legacyLast(v)
		return x, ok, nil
	}
	rela, hasRela, err := get(elf.DT_RELA)
	if err != nil {
		return err
	}
	relasz, _, err := get(elf.DT_RELASZ)
	if err != nil {
		return err
	}
	if relaent, ok, err := get(elf.DT_RELAENT); err != nil {
		return err
	} else if ok && relaent != 24 {
		return p.fail("dynamic section DT_RELAENT", -1, fmt.Errorf("entry size %d, want 24 for Elf64_Rela", relaent))
	}
	jmprel, hasJmprel, err := get(elf.DT_JMPREL)
	if err != nil {
		return err
	}
	pltrelsz, _, err := get(elf.DT_PLTRELSZ)
	if err != nil {
		return err
	}
	pltrel, hasPltrel, err := get(elf.DT_PLTREL)
	if err != nil {
		return err
	}
	// The two ranges as elf/dynamic-link.h computes them: when DT_RELASZ
	// also covers the PLT relocations (they end together), the PLT part is
	// taken off the first range.
	var ranges []legacyRelaRange
	r0 := legacyRelaRange{name: ".rela.dyn (DT_RELA)", addr: rela, size: relasz}
	if !hasRela || rela == 0 {
		r0 = legacyRelaRange{name: ".rela.dyn (DT_RELA)"}
	}
	if hasPltrel && hasJmprel && elf.DynTag(pltrel) == elf.DT_RELA {
		if r0.addr == 0 {
			r0.addr = jmprel
		}
		if r0.addr+r0.size == jmprel+pltrelsz && r0.size >= pltrelsz {
			r0.size -= pltrelsz
		}
		ranges = append(ranges, r0, legacyRelaRange{name: ".rela.plt (DT_JMPREL)", addr: jmprel, size: pltrelsz, plt: true})
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
func (p *legacyParser) vaddrToProg(addr, size uint64) (*elf.Prog, uint64, bool) {
	for _, pr := range p.f.Progs {
		if pr.Type != elf.PT_LOAD {
			continue
		}
		if addr >= pr.Vaddr && addr-pr.Vaddr <= pr.Filesz && size <= pr.Filesz-(addr-pr.Vaddr) {
			return pr, addr - pr.Vaddr, true
		}
	}
	return nil, 0, false
}

func (p *legacyParser) scanRela(rr legacyRelaRange) error {
	const entSize = 24
	if rr.size%entSize != 0 {
		return p.fail(rr.name, -1, fmt.Errorf("size %#x is not a multiple of %d", rr.size, entSize))
	}
	pr, off, ok := p.vaddrToProg(rr.addr, rr.size)
	if !ok {
		return p.fail(rr.name, -1, fmt.Errorf("address range [%#x, %#x) is not inside the file part of any PT_LOAD segment", rr.addr, rr.addr+rr.size))
	}
	const chunk = 4096 * entSize
	buf := make([]byte, min(rr.size, chunk))
	bo := p.f.ByteOrder
	var runs []loader.TLSReloc
	for done := uint64(0); done < rr.size; {
		n := min(rr.size-done, chunk)
		b := buf[:n]
		if _, err := pr.ReadAt(b, int64(off+done)); err != nil {
			return p.fail(rr.name, int64(pr.Off+off+done), err)
		}
		for i := uint64(0); i < n; i += entSize {
			info := bo.Uint64(b[i+8:])
			typ := elf.R_TYPE64(info)
			acc := tlsAccess(p.f.Machine, typ)
			if acc == 0 {
				continue
			}
			symIdx := elf.R_SYM64(info)
			roff := bo.Uint64(b[i:])
			if k := len(runs) - 1; k >= 0 && runs[k].Type == typ && runs[k].SymIndex == symIdx {
				runs[k].Count++
				continue
			}
			rel := loader.TLSReloc{Access: acc, Type: typ, Offset: roff, Count: 1, PLT: rr.plt, SymIndex: symIdx}
			if symIdx != 0 {
				sym, err := p.symbol(symIdx)
				if err != nil {
					return p.fail(fmt.Sprintf("%s entry %d (%s)", rr.name, (done+i)/entSize, rel.TypeName(p.f.Machine)),
						int64(pr.Off+off+done+i), err)
				}
				rel.Symbol = sym.Name
				rel.Bind = elf.ST_BIND(sym.Info)
				rel.Visibility = elf.ST_VISIBILITY(sym.Other)
				rel.Defined = sym.Section != elf.SHN_UNDEF
			}
			runs = append(runs, rel)
		}
		done += n
	}
	p.info.TLSRelocs = append(p.info.TLSRelocs, runs...)
	return nil
}

func (p *legacyParser) loadSyms() error {
	if !p.symsLoaded {
		p.symsLoaded = true
		if ss := p.f.SectionByType(elf.SHT_DYNSYM); ss != nil {
			if p.symErr = p.checkSection(ss); p.symErr != nil {
				return p.symErr
			}
		}
		p.syms, p.symErr = p.f.DynamicSymbols()
		if errors.Is(p.symErr, elf.ErrNoSymbols) {
			p.syms, p.symErr = nil, nil
		}
	}
	return p.symErr
}

// symbol returns dynamic symbol idx (idx >= 1).
func (p *legacyParser) symbol(idx uint32) (elf.Symbol, error) {
	if err := p.loadSyms(); err != nil {
		return elf.Symbol{}, fmt.Errorf("reading the dynamic symbol table: %w", err)
	}
	if int(idx) > len(p.syms) {
		return elf.Symbol{}, fmt.Errorf("symbol index %d is beyond the dynamic symbol table (%d entries)", idx, len(p.syms)+1)
	}
	return p.syms[idx-1], nil
}

func (p *legacyParser) readTLSSymbols() error {
	if err := p.loadSyms(); err != nil {
		return p.fail("dynamic symbol table", -1, err)
	}
	for _, s := range p.syms {
		if elf.ST_TYPE(s.Info) != elf.STT_TLS || s.Section == elf.SHN_UNDEF {
			continue
		}
		b, v := elf.ST_BIND(s.Info), elf.ST_VISIBILITY(s.Other)
		if b == elf.STB_LOCAL || v == elf.STV_HIDDEN || v == elf.STV_INTERNAL {
			continue
		}
		p.info.TLSSymbols = append(p.info.TLSSymbols, loader.TLSSymbol{Name: s.Name, Value: s.Value, Size: s.Size, Bind: b, Visibility: v})
	}
	return nil
}

func legacyLast(v []uint64) (uint64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	return v[len(v)-1], true
}
