package elfspec

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/objtest"
)

// TestSynthELFIngest reads a synthetic object whose every field is known,
// and cross-checks it with readelf when binutils is installed.
func TestSynthELFIngest(t *testing.T) {
	data := objtest.SampleELF().Bytes()
	spec, err := Parse(bytes.NewReader(data), "synth.so")
	require.NoError(t, err)
	e := spec.ELF
	assert.Equal(t, &loader.TLSBlock{MemSize: 0x1270, FileSize: 5, Align: 0x20, VAddr: 0x137abe8}, spec.TLS)
	assert.Equal(t, uint64(8), spec.TLS.FirstByteOffset())
	assert.Equal(t, []string{"libc.so.6", "libm.so.6"}, spec.Needed)
	assert.Equal(t, "libsynth.so.1", spec.Name)
	assert.Equal(t, loader.KindLibrary, spec.Kind)
	assert.True(t, e.HasRPath)
	assert.True(t, e.HasRunPath)
	assert.Equal(t, "$ORIGIN/../lib", e.RPath)
	assert.Equal(t, "/opt/x", e.RunPath)
	assert.True(t, e.StaticTLS())
	assert.True(t, e.HasStaticTLSAccess())
	assert.True(t, e.NoDelete())
	assert.Equal(t, []loader.TLSSymbol{{Name: "own", Value: 0x20, Size: 0x1098, Bind: elf.STB_GLOBAL}}, e.TLSSymbols,
		"hidden and undefined symbols are not exported")
	type rr struct {
		typ     elf.R_X86_64
		sym     string
		count   int
		plt     bool
		local   bool
		defined bool
	}
	var got []rr
	for _, r := range e.TLSRelocs {
		got = append(got, rr{elf.R_X86_64(r.Type), r.Symbol, r.Count, r.PLT, r.BindsLocally(), r.Defined})
	}
	assert.Equal(t, []rr{
		{elf.R_X86_64_TPOFF64, "", 2, false, true, false}, // two identical relocations fold into one run
		{elf.R_X86_64_DTPMOD64, "ext", 1, false, false, false},
		{elf.R_X86_64_TPOFF64, "own", 1, false, false, true},
		{elf.R_X86_64_TPOFF32, "wk", 1, false, false, false},
		{elf.R_X86_64_TLSDESC, "hid", 1, true, true, true},
	}, got)

	if _, err := exec.LookPath("readelf"); err == nil {
		p := filepath.Join(t.TempDir(), "synth.so")
		require.NoError(t, os.WriteFile(p, data, 0o644))
		want := runReadelf(t, p)
		assert.Equal(t, want.tls, spec.TLS)
		assert.Equal(t, want.needed, spec.Needed)
		assert.Equal(t, want.rpath, e.RPath)
		assert.Equal(t, want.runpath, e.RunPath)
		n := 0
		for _, c := range want.relocs {
			n += c
		}
		assert.Equal(t, 6, n, "readelf sees the same six TLS relocations: %v", want.relocs)
	}
}

// TestSynthELFTLSHeaders: glibc ignores an empty PT_TLS, and with several
// the last non-empty one wins (elf/dl-load.c _dl_map_object_from_fd).
func TestSynthELFTLSHeaders(t *testing.T) {
	s := objtest.ELF{TLS: []elf.ProgHeader{{Memsz: 16, Align: 8}, {Memsz: 32, Filesz: 4, Align: 16, Vaddr: 0x40}, {Memsz: 0, Align: 64}}}
	spec, err := Parse(bytes.NewReader(s.Bytes()), "tls.so")
	require.NoError(t, err)
	assert.Equal(t, &loader.TLSBlock{MemSize: 32, FileSize: 4, Align: 16, VAddr: 0x40}, spec.TLS)

	assert.False(t, spec.ELF.HasStaticTLSAccess(), "no relocations at all")
	s.TLS = []elf.ProgHeader{{Memsz: 0, Align: 8}}
	spec, err = Parse(bytes.NewReader(s.Bytes()), "tls0.so")
	require.NoError(t, err)
	assert.Nil(t, spec.TLS, "an empty PT_TLS is no TLS block")
}

// TestSynthELFRelaszCoversPLT: when DT_RELASZ also spans .rela.plt (the
// two end together), ld.so takes the PLT part off the first range
// (elf/dynamic-link.h _ELF_DYNAMIC_DO_RELOC), so each relocation is seen
// once, the PLT ones as PLT.
func TestSynthELFRelaszCoversPLT(t *testing.T) {
	s := objtest.ELF{
		Syms:            []objtest.Sym{{Name: "a", Bind: elf.STB_GLOBAL}},
		Rela:            []objtest.Rel{{Type: elf.R_X86_64_TPOFF64, Sym: 1}},
		PLT:             []objtest.Rel{{Type: elf.R_X86_64_TLSDESC, Sym: 1}},
		RelaszCoversPLT: true,
	}
	spec, err := Parse(bytes.NewReader(s.Bytes()), "relasz.so")
	require.NoError(t, err)
	rs := spec.ELF.TLSRelocs
	require.Len(t, rs, 2)
	assert.Equal(t, uint32(elf.R_X86_64_TPOFF64), rs[0].Type)
	assert.False(t, rs[0].PLT)
	assert.Equal(t, uint32(elf.R_X86_64_TLSDESC), rs[1].Type)
	assert.True(t, rs[1].PLT)
	assert.Equal(t, 1, rs[1].Count)
}

// TestHostileHeaderTables: header tables that run past the end of the
// file are reported with the table, the header field's offset and the
// file size, before debug/elf allocates a buffer for them.
func TestHostileHeaderTables(t *testing.T) {
	good := objtest.SampleELF().Bytes()
	le := binary.LittleEndian
	cases := []struct {
		name   string
		mutate func(b []byte)
		what   string
		offset int64
	}{
		{"e_phnum", func(b []byte) { le.PutUint16(b[0x38:], 0xfffe) }, "program header table", 0x20},
		{"e_phoff", func(b []byte) { le.PutUint64(b[0x20:], 1<<40) }, "program header table", 0x20},
		{"e_shoff", func(b []byte) { le.PutUint64(b[0x28:], uint64(len(b))-8) }, "section header table", 0x28},
		{"shstrtab size", func(b []byte) {
			sh := le.Uint64(b[0x28:]) + 6*64
			le.PutUint64(b[sh+0x20:], 1<<30)
		}, "section-name string table", int64(le.Uint64(good[0x28:]) + 6*64)},
	}
	for _, c := range cases {
		b := append([]byte(nil), good...)
		c.mutate(b)
		_, err := Parse(bytes.NewReader(b), "hostile.so")
		require.Error(t, err, c.name)
		var ee *loader.FileError
		require.True(t, errors.As(err, &ee), c.name)
		assert.True(t, errors.Is(err, loader.ErrMalformed), c.name)
		assert.Contains(t, ee.What, c.what, c.name)
		assert.Equal(t, c.offset, ee.Offset, c.name)
		assert.Contains(t, err.Error(), "runs past the end of the file", c.name)
	}
	// A dynamic section whose size runs past the end of the file.
	b := append([]byte(nil), good...)
	sh := le.Uint64(b[0x28:]) + 5*64
	le.PutUint64(b[sh+0x20:], 1<<33)
	_, err := Parse(bytes.NewReader(b), "dyn.so")
	assert.ErrorContains(t, err, "dyn.so: dynamic section")
	assert.ErrorContains(t, err, "runs past the end of the file")
	// Too short for the header.
	_, err = Parse(bytes.NewReader(good[:40]), "short.so")
	assert.ErrorContains(t, err, "short.so: ELF header at offset 0x0: file is 40 bytes, too short for the 64-byte ELF header")
}

// TestSynthELFBindNow: any of DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW makes
// ld.so relocate the object eagerly (elf/get-dynamic-info.h).
func TestSynthELFBindNow(t *testing.T) {
	for _, c := range []struct {
		s    objtest.ELF
		want bool
	}{
		{objtest.ELF{}, false},
		{objtest.ELF{BindNow: true}, true},
		{objtest.ELF{Flags: uint64(elf.DF_BIND_NOW)}, true},
		{objtest.ELF{Flags1: uint64(elf.DF_1_NOW)}, true},
		{objtest.ELF{Flags: uint64(elf.DF_STATIC_TLS), Flags1: uint64(elf.DF_1_NODELETE)}, false},
	} {
		spec, err := Parse(bytes.NewReader(c.s.Bytes()), "now.so")
		require.NoError(t, err)
		assert.Equal(t, c.want, spec.ELF.BindNow(), "%+v", c.s)
	}
}

// A file whose segments cannot be laid out (here PT_DYNAMIC turned into a
// second PT_LOAD overlapping the first) is one *loader.FileError that
// names the file once and the segment at fault, and is both malformed
// input and an invalid spec.
func TestOverlappingSegmentsNamedOnce(t *testing.T) {
	b := objtest.SampleELF().Bytes()
	const phoff, phentsize = 64, 56
	binary.LittleEndian.PutUint32(b[phoff+phentsize:], uint32(elf.PT_LOAD))
	_, err := Parse(bytes.NewReader(b), "lib/x.so")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "lib/x.so: segment LOAD1: range "), err.Error())
	assert.Contains(t, err.Error(), "overlaps segment LOAD0")
	assert.Equal(t, 1, strings.Count(err.Error(), "lib/x.so"), err.Error())
	assert.ErrorIs(t, err, loader.ErrMalformed)
	assert.ErrorIs(t, err, loader.ErrBadSpec)
	var se *loader.SpecError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "LOAD1", se.Segment)
}
