package loader_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/vasim/vasim/loader"
)

func TestParseArch(t *testing.T) {
	for in, want := range map[string]loader.Arch{
		"x86_64": loader.ArchX86_64, "amd64": loader.ArchX86_64, "x86_64h": loader.ArchX86_64,
		"aarch64": loader.ArchAArch64, "arm64": loader.ArchAArch64, "arm64e": loader.ArchAArch64, "ARM64": loader.ArchAArch64,
		"i386": loader.ArchI386, "arm64_32": loader.ArchARM64_32, "ppc64": loader.ArchPPC64,
	} {
		got, err := loader.ParseArch(in)
		assert.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := loader.ParseArch("mips")
	assert.ErrorContains(t, err, `architecture "mips"`)
	assert.Equal(t, "aarch64", loader.ArchAArch64.String())
	assert.Equal(t, "arm64", loader.ArchAArch64.AppleName())
	assert.Equal(t, "x86_64", loader.ArchX86_64.AppleName())
	for a := loader.ArchUnknown + 1; a <= loader.ArchRISCV64; a++ {
		back, err := loader.ParseArch(a.String())
		assert.NoError(t, err)
		assert.Equal(t, a, back, "String and ParseArch round-trip")
	}
}

// A FileError names the file once, then what was read and where; its
// class answers errors.Is, its cause errors.As.
func TestFileError(t *testing.T) {
	cause := fmt.Errorf("p_align 0x3 is not a power of two")
	e := &loader.FileError{Path: "lib.so", Format: "ELF", What: "PT_TLS (program header 3)", Offset: 0x40, Err: cause}
	assert.Equal(t, "lib.so: PT_TLS (program header 3) at offset 0x40: p_align 0x3 is not a power of two", e.Error())
	assert.ErrorIs(t, e, loader.ErrMalformed)
	assert.ErrorIs(t, e, cause)
	assert.False(t, errors.Is(e, loader.ErrBadSpec))
	assert.False(t, errors.Is(e, loader.ErrWrongFormat))
	wrong := &loader.FileError{Path: "f", Slice: "arm64", What: "Mach-O header", Offset: -1, Err: fmt.Errorf("magic"), Class: loader.ErrWrongFormat}
	assert.Equal(t, "f (arm64 slice): Mach-O header: magic", wrong.Error())
	assert.ErrorIs(t, wrong, loader.ErrWrongFormat)
	assert.False(t, errors.Is(wrong, loader.ErrMalformed))
	assert.Equal(t, "images[0].kind: want x", (&loader.FileError{What: "images[0].kind", Offset: -1, Err: fmt.Errorf("want x")}).Error())
}

// Validate refuses what cannot be laid out, naming the segment.
func TestValidate(t *testing.T) {
	s := &loader.ImageSpec{Name: "a", Segments: []loader.Segment{
		{Name: "A", VMAddr: 0, VMSize: 0x2000},
		{Name: "B", VMAddr: 0x1000, VMSize: 0x1000},
	}}
	err := s.Validate()
	var se *loader.SpecError
	if assert.ErrorAs(t, err, &se) {
		assert.Equal(t, "B", se.Segment)
		assert.Equal(t, "a segment B: range [0x1000, 0x2000) overlaps segment A [0x0, 0x2000)", err.Error())
	}
	s.Segments[1] = loader.Segment{Name: "B", VMAddr: ^uint64(0) - 10, VMSize: 100}
	assert.ErrorContains(t, s.Validate(), "overflows 64 bits")
	s.Segments = s.Segments[:1]
	s.TLS = &loader.TLSBlock{MemSize: 1, FileSize: 2}
	assert.ErrorContains(t, s.Validate(), "segment PT_TLS: file size 0x2 exceeds memory size 0x1")
}
