package loader

import (
	"errors"
	"fmt"

	"github.com/vasim/vasim/vaspace"
)

// Format is the object file format an ImageSpec was read from.
type Format uint8

// Formats.
const (
	// FormatSynthetic marks a spec built in code or read from JSON rather
	// than from an object file.
	FormatSynthetic Format = iota
	FormatELF
	FormatMachO
)

func (f Format) String() string {
	switch f {
	case FormatSynthetic:
		return "synthetic"
	case FormatELF:
		return "ELF"
	case FormatMachO:
		return "Mach-O"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ImageKind says what role an image plays in a process.
type ImageKind uint8

// Image kinds.
const (
	// KindLibrary is a shared library (ELF ET_DYN with no PT_INTERP, Mach-O
	// MH_DYLIB or MH_BUNDLE).
	KindLibrary ImageKind = iota
	// KindExecutable is the main program (ELF ET_EXEC or a PIE, Mach-O
	// MH_EXECUTE).
	KindExecutable
	// KindLoader is the dynamic loader itself (ld.so, dyld).
	KindLoader
)

func (k ImageKind) String() string {
	switch k {
	case KindLibrary:
		return "library"
	case KindExecutable:
		return "executable"
	case KindLoader:
		return "loader"
	}
	return fmt.Sprintf("ImageKind(%d)", uint8(k))
}

// Segment is one loadable segment as the file describes it: an ELF PT_LOAD
// program header or a Mach-O LC_SEGMENT_64 command. Addresses are link-time
// (unslid) virtual addresses.
type Segment struct {
	// Name is the Mach-O segment name (__TEXT, __DATA_CONST, __LINKEDIT,
	// __PAGEZERO) or, for ELF, "LOAD" followed by the program header index.
	Name string
	// VMAddr and VMSize give the segment's link-time address range (ELF
	// p_vaddr/p_memsz, Mach-O vmaddr/vmsize).
	VMAddr uint64
	VMSize uint64
	// FileOff and FileSize give the bytes backed by the file (p_offset/
	// p_filesz, fileoff/filesize); VMSize beyond FileSize is zero-fill.
	FileOff  uint64
	FileSize uint64
	// Prot is the initial protection (p_flags, initprot).
	Prot vaspace.Prot
	// Align is the segment's alignment (ELF p_align; 0 for Mach-O, where the
	// loader uses the page size).
	Align uint64
}

// Range returns the segment's link-time range [VMAddr, VMAddr+VMSize) and
// whether it did not overflow.
func (s Segment) Range() (vaspace.Range, bool) {
	return vaspace.RangeOf(vaspace.Addr(s.VMAddr), s.VMSize)
}

// IsPageZero reports whether the segment is a Mach-O __PAGEZERO: no access
// and no file bytes, reserving the low 4 GiB of a 64-bit process.
func (s Segment) IsPageZero() bool {
	return s.Name == "__PAGEZERO" || (s.Prot == vaspace.ProtNone && s.FileSize == 0 && s.VMAddr == 0 && s.VMSize > 0)
}

// TLSBlock is an image's thread-local storage template, from the ELF PT_TLS
// program header (glibc elf/dl-load.c reads these three values into the
// link map).
type TLSBlock struct {
	// MemSize is the block size (p_memsz, l_tls_blocksize).
	MemSize uint64
	// FileSize is the initialised part (p_filesz, .tdata).
	FileSize uint64
	// Align is the block alignment (p_align, l_tls_align); 0 means 1.
	Align uint64
	// VAddr is p_vaddr; VAddr mod Align is glibc's l_tls_firstbyte_offset.
	VAddr uint64
}

// FirstByteOffset returns VAddr mod Align (glibc l_tls_firstbyte_offset).
func (t TLSBlock) FirstByteOffset() uint64 {
	if t.Align <= 1 {
		return 0
	}
	return t.VAddr & (t.Align - 1)
}

// ImageSpec is what an object file says about itself: the deterministic
// input to resolution and placement. What a loader made of it in one
// process is a PlacedImage.
type ImageSpec struct {
	// Name is how the image is known to the loader: the ELF DT_SONAME, the
	// Mach-O LC_ID_DYLIB install name, or the file name.
	Name string
	// Path is the file the spec was read from, if any.
	Path string
	// Format is the object format.
	Format Format
	// Kind is the image's role.
	Kind ImageKind
	// Arch is the architecture the image is built for (ArchUnknown for
	// a synthetic image that does not say).
	Arch Arch
	// Segments lists the loadable segments in file order.
	Segments []Segment
	// Needed lists the direct dependencies in load-command order (ELF
	// DT_NEEDED, Mach-O LC_LOAD_DYLIB and friends), as written in the file.
	Needed []string
	// TLS is the thread-local storage template, or nil when the image has
	// none.
	TLS *TLSBlock
	// InSharedCache marks a Mach-O system library that lives in the dyld
	// shared cache and is therefore not mapped on its own.
	InSharedCache bool

	// ELF holds what only an ELF file says (interpreter, SONAME,
	// RPATH/RUNPATH, DT_FLAGS and the TLS relocations); nil for other
	// formats.
	ELF *ELFInfo

	// MachO holds what only a Mach-O file says (file type, install name,
	// the kind of each dependency, LC_RPATH, code signature); nil for other
	// formats.
	MachO *MachOInfo
}

// ErrBadSpec is the class of ImageSpec validation errors, whatever the
// spec was read from.
var ErrBadSpec = errors.New("invalid image spec")

// SpecError reports what is wrong with an ImageSpec and where.
type SpecError struct {
	Image   string // image label (path or name)
	Segment string // segment name ("PT_TLS" for the TLS block), if the problem is in one
	Detail  string
}

func (e *SpecError) Error() string {
	where := e.Image
	if e.Segment != "" {
		where += " segment " + e.Segment
	}
	return where + ": " + e.Detail
}

// Is makes errors.Is(err, ErrBadSpec) true.
func (e *SpecError) Is(target error) bool { return target == ErrBadSpec }

// Label returns how the image is named in messages: its path, else its
// name.
func (s *ImageSpec) Label() string {
	switch {
	case s.Path != "":
		return s.Path
	case s.Name != "":
		return s.Name
	}
	return "(unnamed image)"
}

// Validate checks that the segments can be laid out: each range fits in 64
// bits, file sizes do not exceed VM sizes, alignments are powers of two and
// no two non-empty segments overlap.
func (s *ImageSpec) Validate() error {
	bad := func(seg, format string, args ...any) error {
		return &SpecError{Image: s.Label(), Segment: seg, Detail: fmt.Sprintf(format, args...)}
	}
	var prev *Segment
	for i := range s.Segments {
		seg := &s.Segments[i]
		r, ok := seg.Range()
		if !ok {
			return bad(seg.Name, "vmaddr %#x + vmsize %#x overflows 64 bits", seg.VMAddr, seg.VMSize)
		}
		if seg.FileSize > seg.VMSize && !seg.IsPageZero() {
			return bad(seg.Name, "file size %#x exceeds VM size %#x", seg.FileSize, seg.VMSize)
		}
		if seg.Align > 1 && !vaspace.IsPow2(seg.Align) {
			return bad(seg.Name, "alignment %#x is not a power of two", seg.Align)
		}
		if _, ok := vaspace.Addr(seg.FileOff).Add(seg.FileSize); !ok {
			return bad(seg.Name, "file offset %#x + size %#x overflows 64 bits", seg.FileOff, seg.FileSize)
		}
		if r.IsEmpty() {
			continue
		}
		if prev != nil {
			pr, _ := prev.Range()
			if pr.Overlaps(r) {
				return bad(seg.Name, "range %v overlaps segment %s %v", r, prev.Name, pr)
			}
		}
		prev = seg
	}
	if t := s.TLS; t != nil {
		if t.Align > 1 && !vaspace.IsPow2(t.Align) {
			return bad("PT_TLS", "alignment %#x is not a power of two", t.Align)
		}
		if t.FileSize > t.MemSize {
			return bad("PT_TLS", "file size %#x exceeds memory size %#x", t.FileSize, t.MemSize)
		}
	}
	return nil
}

// VMSpan returns the link-time range covered by the loadable segments,
// excluding a Mach-O __PAGEZERO and empty segments: min(vmaddr) to
// max(vmaddr+vmsize). It is the unrounded span dyld reserves for an image
// (dyld-1378 common/MachOFile.cpp analyzeSegmentsLayout) and the span glibc
// maps for an object (elf/dl-load.c, before page rounding). An image with no
// such segment has an empty span.
func (s *ImageSpec) VMSpan() (vaspace.Range, error) {
	span := vaspace.Range{}
	first := true
	for _, seg := range s.Segments {
		if seg.IsPageZero() || seg.VMSize == 0 {
			continue
		}
		r, ok := seg.Range()
		if !ok {
			return vaspace.Range{}, &SpecError{Image: s.Label(), Segment: seg.Name,
				Detail: fmt.Sprintf("vmaddr %#x + vmsize %#x overflows 64 bits", seg.VMAddr, seg.VMSize)}
		}
		if first {
			span, first = r, false
			continue
		}
		span.Start = min(span.Start, r.Start)
		span.End = max(span.End, r.End)
	}
	return span, nil
}

// PageZero returns the size of the image's __PAGEZERO segment, or 0.
func (s *ImageSpec) PageZero() uint64 {
	for _, seg := range s.Segments {
		if seg.IsPageZero() {
			return seg.VMAddr + seg.VMSize
		}
	}
	return 0
}
