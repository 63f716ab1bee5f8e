// Package objfile holds what the object-file readers (elfspec, machospec,
// jsonspec) and the ld.so.cache reader share: sizing a reader, turning a
// decoder's panic into an error, C strings, and reporting an invalid spec
// as an error about the file.
package objfile

import (
	"bytes"
	"debug/macho"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/vasim/vasim/loader"
)

// Size returns the size of r's data: from a Size method (bytes.Reader,
// io.SectionReader), a Stat method (os.File), or else by probing with
// one-byte reads.
func Size(r io.ReaderAt) (int64, error) {
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return v.Size(), nil
	case interface{ Stat() (fs.FileInfo, error) }:
		fi, err := v.Stat()
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	}
	var b [1]byte
	has := func(off int64) bool { n, _ := r.ReadAt(b[:], off); return n == 1 }
	// Invariant: byte lo-1 exists (or lo is 0), byte hi-1 does not.
	lo, hi := int64(0), int64(1)
	for has(hi - 1) {
		if hi >= 1<<62 {
			return 0, errors.New("cannot determine the size of the input")
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if has(mid - 1) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// Recover, deferred directly by a reader, turns a panic inside the
// standard library's decoder (debug/elf, debug/macho) on hostile input
// into a *loader.FileError, and clears the reader's other result.
func Recover[T any](path, format, decoder string, result *T, err *error) {
	if p := recover(); p != nil {
		var zero T
		*result = zero
		*err = &loader.FileError{Path: path, Format: format, What: decoder + " failed on malformed input", Offset: -1, Err: fmt.Errorf("%v", p)}
	}
}

// CString returns the NUL-terminated string at b[off:], and false when
// off is outside b or no NUL ends the string inside b.
func CString(b []byte, off uint64) (string, bool) {
	if off >= uint64(len(b)) {
		return "", false
	}
	n := bytes.IndexByte(b[off:], 0)
	if n < 0 {
		return "", false
	}
	return string(b[off : off+uint64(n)]), true
}

// BaseName returns the last element of a slash-separated path.
func BaseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// SpecDetail wraps a spec validation error for an error that already
// names the image (a *loader.FileError about its file): it prints only
// the detail, and errors.Is and errors.As still reach the SpecError.
func SpecDetail(se *loader.SpecError) error { return specDetail{se} }

type specDetail struct{ *loader.SpecError }

func (e specDetail) Error() string { return e.Detail }
func (e specDetail) Unwrap() error { return e.SpecError }

// Validate runs spec.Validate and reports a failure as a
// *loader.FileError about path, naming the segment at fault once.
func Validate(spec *loader.ImageSpec, path, format, slice string) error {
	err := spec.Validate()
	if err == nil {
		return nil
	}
	fe := &loader.FileError{Path: path, Format: format, Slice: slice, What: "segments", Offset: -1, Err: err}
	var se *loader.SpecError
	if errors.As(err, &se) {
		if se.Segment != "" {
			fe.What = "segment " + se.Segment
		}
		fe.Err = SpecDetail(se)
	}
	return fe
}

// Mach-O cpu values debug/macho does not define (xnu-11417
// osfmk/mach/machine.h).
const (
	subtypeMask    = 0xff000000 // CPU_SUBTYPE_MASK: capability bits
	subtypeARM64E  = 2          // CPU_SUBTYPE_ARM64E
	subtypeX86_64H = 8          // CPU_SUBTYPE_X86_64_H
	cpuARM64_32    = 0x0200000c // CPU_TYPE_ARM64_32
)

// SliceName returns the name of a Mach-O cputype/cpusubtype pair, as Apple's tools spell them: "arm64e"
// (CPU_SUBTYPE_ARM64E under CPU_TYPE_ARM64, capability bits ignored),
// "arm64", "x86_64h" (CPU_SUBTYPE_X86_64_H), "x86_64", "i386",
// "arm64_32", "arm", "ppc", "ppc64", the lower-cased debug/macho name of
// another cpu type, or "cpu0x..." for a cpu type debug/macho cannot name.
func SliceName(cpu macho.Cpu, subCPU uint32) string {
	sub := subCPU &^ subtypeMask
	switch cpu {
	case macho.CpuArm64:
		if sub == subtypeARM64E {
			return "arm64e"
		}
		return "arm64"
	case macho.CpuAmd64:
		if sub == subtypeX86_64H {
			return "x86_64h"
		}
		return "x86_64"
	case macho.Cpu386:
		return "i386"
	case cpuARM64_32:
		return "arm64_32"
	case macho.CpuArm:
		return "arm"
	case macho.CpuPpc:
		return "ppc"
	case macho.CpuPpc64:
		return "ppc64"
	}
	if name, ok := strings.CutPrefix(cpu.String(), "Cpu"); ok {
		return strings.ToLower(name)
	}
	return fmt.Sprintf("cpu%#x", uint32(cpu))
}

// ParseSliceName is the inverse of SliceName for the names it gives
// architectures vasim knows; ok is false for others.
func ParseSliceName(name string) (cpu macho.Cpu, subCPU uint32, ok bool) {
	switch name {
	case "arm64e":
		return macho.CpuArm64, subtypeARM64E, true
	case "arm64", "aarch64":
		return macho.CpuArm64, 0, true
	case "x86_64h":
		return macho.CpuAmd64, subtypeX86_64H, true
	case "x86_64":
		return macho.CpuAmd64, 0, true
	case "i386":
		return macho.Cpu386, 0, true
	case "arm64_32":
		return cpuARM64_32, 0, true
	case "arm":
		return macho.CpuArm, 0, true
	case "ppc":
		return macho.CpuPpc, 0, true
	case "ppc64":
		return macho.CpuPpc64, 0, true
	}
	return 0, 0, false
}
