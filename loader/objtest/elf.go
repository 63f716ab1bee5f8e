package objtest

import (
	"debug/elf"
	"encoding/binary"
)

// ELF describes a small ELF64 little-endian x86_64 shared object,
// written byte by byte by Bytes: what the ingest tests need to control
// exactly (PT_TLS headers, dynamic tags, TLS relocations and the symbols
// they name) in a few hundred bytes, small enough to seed the fuzzer. One
// PT_LOAD maps the whole file at address 0, so every address is also a
// file offset.
type ELF struct {
	// Interp, when set, adds a PT_INTERP naming the program interpreter
	// (with no SONAME, the object then reads as an executable).
	Interp          string
	TLS             []elf.ProgHeader // PT_TLS headers (Memsz, Filesz, Align, Vaddr)
	Needed          []string
	SOName          string
	RPath, RunPath  *string
	Flags, Flags1   uint64
	Syms            []Sym
	Rela, PLT       []Rel
	RelaszCoversPLT bool // DT_RELASZ also counts .rela.plt (the ranges end together)
	BindNow         bool // a DT_BIND_NOW tag
}

// Sym is a dynamic symbol of an ELF.
type Sym struct {
	Name        string
	Bind        elf.SymBind
	Vis         elf.SymVis
	Defined     bool
	Value, Size uint64
}

// Rel is a dynamic relocation of an ELF.
type Rel struct {
	Type elf.R_X86_64
	Sym  uint32 // dynamic symbol index (0: none)
}

// Bytes writes the file.
func (s ELF) Bytes() []byte {
	le := binary.LittleEndian
	align := func(b []byte, n int) []byte {
		for len(b)%n != 0 {
			b = append(b, 0)
		}
		return b
	}
	// .dynstr
	dynstr := []byte{0}
	str := func(v string) uint64 {
		off := uint64(len(dynstr))
		dynstr = append(append(dynstr, v...), 0)
		return off
	}
	type dyn struct{ tag, val uint64 }
	var dyns []dyn
	for _, n := range s.Needed {
		dyns = append(dyns, dyn{uint64(elf.DT_NEEDED), str(n)})
	}
	if s.SOName != "" {
		dyns = append(dyns, dyn{uint64(elf.DT_SONAME), str(s.SOName)})
	}
	if s.RPath != nil {
		dyns = append(dyns, dyn{uint64(elf.DT_RPATH), str(*s.RPath)})
	}
	if s.RunPath != nil {
		dyns = append(dyns, dyn{uint64(elf.DT_RUNPATH), str(*s.RunPath)})
	}
	symName := make([]uint64, len(s.Syms))
	for i, sy := range s.Syms {
		symName[i] = str(sy.Name)
	}
	const ehSize, phSize, shSize, symSize, relaSize, dynSize = 64, 56, 64, 24, 24, 16
	nph := 2 + len(s.TLS)
	if s.Interp != "" {
		nph++
	}
	b := make([]byte, ehSize+nph*phSize)
	interpOff := len(b)
	if s.Interp != "" {
		b = append(append(b, s.Interp...), 0)
	}
	strOff := len(b)
	b = align(append(b, dynstr...), 8)
	symOff := len(b)
	b = append(b, make([]byte, symSize)...) // the null symbol
	for i, sy := range s.Syms {
		e := make([]byte, symSize)
		le.PutUint32(e, uint32(symName[i]))
		e[4] = byte(sy.Bind)<<4 | byte(elf.STT_TLS)
		e[5] = byte(sy.Vis)
		if sy.Defined {
			le.PutUint16(e[6:], 5) // any real section index
		}
		le.PutUint64(e[8:], sy.Value)
		le.PutUint64(e[16:], sy.Size)
		b = append(b, e...)
	}
	rel := func(rs []Rel) {
		for _, r := range rs {
			e := make([]byte, relaSize)
			le.PutUint64(e[8:], elf.R_INFO(r.Sym, uint32(r.Type)))
			b = append(b, e...)
		}
	}
	relaOff := len(b)
	rel(s.Rela)
	pltOff := len(b)
	rel(s.PLT)
	relasz := uint64(pltOff - relaOff)
	if s.RelaszCoversPLT {
		relasz = uint64(len(b) - relaOff)
	}
	if len(s.Rela) > 0 || s.RelaszCoversPLT {
		dyns = append(dyns, dyn{uint64(elf.DT_RELA), uint64(relaOff)}, dyn{uint64(elf.DT_RELASZ), relasz}, dyn{uint64(elf.DT_RELAENT), relaSize})
	}
	if len(s.PLT) > 0 {
		dyns = append(dyns, dyn{uint64(elf.DT_JMPREL), uint64(pltOff)}, dyn{uint64(elf.DT_PLTRELSZ), uint64(len(s.PLT) * relaSize)},
			dyn{uint64(elf.DT_PLTREL), uint64(elf.DT_RELA)})
	}
	if s.Flags != 0 {
		dyns = append(dyns, dyn{uint64(elf.DT_FLAGS), s.Flags})
	}
	if s.Flags1 != 0 {
		dyns = append(dyns, dyn{uint64(elf.DT_FLAGS_1), s.Flags1})
	}
	if s.BindNow {
		dyns = append(dyns, dyn{uint64(elf.DT_BIND_NOW), 0})
	}
	dyns = append(dyns, dyn{uint64(elf.DT_STRTAB), uint64(strOff)}, dyn{uint64(elf.DT_SYMTAB), uint64(symOff)},
		dyn{uint64(elf.DT_STRSZ), uint64(len(dynstr))}, dyn{uint64(elf.DT_SYMENT), symSize}, dyn{uint64(elf.DT_NULL), 0})
	b = align(b, 8)
	dynOff := len(b)
	for _, d := range dyns {
		b = le.AppendUint64(b, d.tag)
		b = le.AppendUint64(b, d.val)
	}
	shstr := []byte("\x00.dynstr\x00.dynsym\x00.rela.dyn\x00.rela.plt\x00.dynamic\x00.shstrtab\x00")
	shstrOff := len(b)
	b = align(append(b, shstr...), 8)
	shOff := len(b)
	type sec struct {
		name          uint32
		typ           elf.SectionType
		off, size     int
		link, info    uint32
		entsize, algn uint64
	}
	secs := []sec{
		{},
		{1, elf.SHT_STRTAB, strOff, len(dynstr), 0, 0, 0, 1},
		{9, elf.SHT_DYNSYM, symOff, relaOff - symOff, 1, 1, symSize, 8},
		{17, elf.SHT_RELA, relaOff, pltOff - relaOff, 2, 0, relaSize, 8},
		{27, elf.SHT_RELA, pltOff, len(s.PLT) * relaSize, 2, 0, relaSize, 8},
		{37, elf.SHT_DYNAMIC, dynOff, len(dyns) * dynSize, 1, 0, dynSize, 8},
		{46, elf.SHT_STRTAB, shstrOff, len(shstr), 0, 0, 0, 1},
	}
	for _, sc := range secs {
		e := make([]byte, shSize)
		le.PutUint32(e, sc.name)
		le.PutUint32(e[4:], uint32(sc.typ))
		le.PutUint64(e[0x10:], uint64(sc.off)) // sh_addr = offset
		le.PutUint64(e[0x18:], uint64(sc.off))
		le.PutUint64(e[0x20:], uint64(sc.size))
		le.PutUint32(e[0x28:], sc.link)
		le.PutUint32(e[0x2c:], sc.info)
		le.PutUint64(e[0x30:], sc.algn)
		le.PutUint64(e[0x38:], sc.entsize)
		b = append(b, e...)
	}
	// ELF header.
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(b[0x10:], uint16(elf.ET_DYN))
	le.PutUint16(b[0x12:], uint16(elf.EM_X86_64))
	le.PutUint32(b[0x14:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[0x20:], ehSize)
	le.PutUint64(b[0x28:], uint64(shOff))
	le.PutUint16(b[0x34:], ehSize)
	le.PutUint16(b[0x36:], phSize)
	le.PutUint16(b[0x38:], uint16(nph))
	le.PutUint16(b[0x3a:], shSize)
	le.PutUint16(b[0x3c:], uint16(len(secs)))
	le.PutUint16(b[0x3e:], 6)
	// Program headers.
	ph := func(i int, h elf.ProgHeader) {
		e := b[ehSize+i*phSize:]
		le.PutUint32(e, uint32(h.Type))
		le.PutUint32(e[4:], uint32(h.Flags))
		le.PutUint64(e[8:], h.Off)
		le.PutUint64(e[0x10:], h.Vaddr)
		le.PutUint64(e[0x18:], h.Vaddr)
		le.PutUint64(e[0x20:], h.Filesz)
		le.PutUint64(e[0x28:], h.Memsz)
		le.PutUint64(e[0x30:], h.Align)
	}
	ph(0, elf.ProgHeader{Type: elf.PT_LOAD, Flags: elf.PF_R | elf.PF_W, Filesz: uint64(len(b)), Memsz: uint64(len(b)), Align: 0x1000})
	ph(1, elf.ProgHeader{Type: elf.PT_DYNAMIC, Flags: elf.PF_R | elf.PF_W, Off: uint64(dynOff), Vaddr: uint64(dynOff),
		Filesz: uint64(len(dyns) * dynSize), Memsz: uint64(len(dyns) * dynSize), Align: 8})
	for i, t := range s.TLS {
		t.Type, t.Flags = elf.PT_TLS, elf.PF_R
		ph(2+i, t)
	}
	if s.Interp != "" {
		n := uint64(len(s.Interp) + 1)
		ph(2+len(s.TLS), elf.ProgHeader{Type: elf.PT_INTERP, Flags: elf.PF_R, Off: uint64(interpOff), Vaddr: uint64(interpOff), Filesz: n, Memsz: n, Align: 1})
	}
	return b
}

// SampleELF is a library with one of everything ingest reads.
func SampleELF() ELF {
	rp, rn := "$ORIGIN/../lib", "/opt/x"
	return ELF{
		TLS:    []elf.ProgHeader{{Memsz: 0x1270, Filesz: 5, Align: 0x20, Vaddr: 0x137abe8}},
		Needed: []string{"libc.so.6", "libm.so.6"}, SOName: "libsynth.so.1", RPath: &rp, RunPath: &rn,
		Flags: uint64(elf.DF_STATIC_TLS), Flags1: uint64(elf.DF_1_NODELETE),
		Syms: []Sym{
			{Name: "own", Bind: elf.STB_GLOBAL, Defined: true, Value: 0x20, Size: 0x1098},
			{Name: "ext", Bind: elf.STB_GLOBAL},
			{Name: "hid", Bind: elf.STB_GLOBAL, Vis: elf.STV_HIDDEN, Defined: true},
			{Name: "wk", Bind: elf.STB_WEAK},
		},
		Rela: []Rel{{Type: elf.R_X86_64_TPOFF64, Sym: 0}, {Type: elf.R_X86_64_TPOFF64, Sym: 0}, {Type: elf.R_X86_64_RELATIVE, Sym: 0},
			{Type: elf.R_X86_64_DTPMOD64, Sym: 2}, {Type: elf.R_X86_64_TPOFF64, Sym: 1}, {Type: elf.R_X86_64_TPOFF32, Sym: 4}},
		PLT: []Rel{{Type: elf.R_X86_64_TLSDESC, Sym: 3}, {Type: elf.R_X86_64_JMP_SLOT, Sym: 2}},
	}
}
