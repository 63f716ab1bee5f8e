package vaspace

import (
	"fmt"
	"strings"
)

// Prot is a page protection: a combination of ProtRead, ProtWrite and
// ProtExec. The zero value is no access (PROT_NONE, VM_PROT_NONE).
type Prot uint8

// Protection bits, with the values of Linux PROT_* and XNU VM_PROT_*
// (both use 1, 2, 4).
const (
	ProtRead  Prot = 1 << 0
	ProtWrite Prot = 1 << 1
	ProtExec  Prot = 1 << 2

	ProtNone Prot = 0
	ProtRW        = ProtRead | ProtWrite
	ProtRX        = ProtRead | ProtExec
	ProtRWX       = ProtRead | ProtWrite | ProtExec
)

// String formats the protection as in /proc/PID/maps: "r-x", "---".
func (p Prot) String() string {
	b := []byte("---")
	if p&ProtRead != 0 {
		b[0] = 'r'
	}
	if p&ProtWrite != 0 {
		b[1] = 'w'
	}
	if p&ProtExec != 0 {
		b[2] = 'x'
	}
	if p&^ProtRWX != 0 {
		return fmt.Sprintf("%s+%#x", b, uint8(p&^ProtRWX))
	}
	return string(b)
}

// ParseProt parses "r-x", "rw-", "---" (and the four-letter /proc/PID/maps
// form "r-xp", whose sharing flag is ignored).
func ParseProt(s string) (Prot, error) {
	if len(s) == 4 && (s[3] == 'p' || s[3] == 's') {
		s = s[:3]
	}
	if len(s) != 3 {
		return 0, fmt.Errorf("vaspace: protection %q: want three characters like \"r-x\"", s)
	}
	var p Prot
	for i, want := range []byte("rwx") {
		switch s[i] {
		case want:
			p |= 1 << i
		case '-':
		default:
			return 0, fmt.Errorf("vaspace: protection %q: character %d is %q, want %q or '-'", s, i+1, s[i], want)
		}
	}
	return p, nil
}

// Kind says what a mapping is for. Analyses use it to tell images from the
// memory around them; the Space itself treats every kind alike.
type Kind uint8

// Mapping kinds.
const (
	// KindAnon is anonymous memory: malloc arenas, mmap(NULL, MAP_ANON),
	// vm_allocate. It is the zero value.
	KindAnon Kind = iota
	// KindImage is a segment (or the whole-span reservation) of a loaded
	// executable or shared library.
	KindImage
	// KindReservation is address space held with no access so that nothing
	// else is placed there: dyld's per-image vm_allocate, libmalloc's XZone
	// range group, glibc's PROT_NONE span reservation.
	KindReservation
	// KindGuard is a no-access guard band or hole protecting other memory.
	KindGuard
	// KindStack is a thread stack (Linux VM_GROWSDOWN for the main thread).
	KindStack
	// KindSharedRegion is the dyld shared region (the shared cache submap on
	// macOS), holding system libraries that are not placed one by one.
	KindSharedRegion
	// KindHeap is the brk heap or an allocator's own region.
	KindHeap
	// KindVDSO is the vDSO/vvar (Linux) or commpage (XNU).
	KindVDSO
	// KindPlatform is a platform-reserved region created at exec that user
	// code cannot map over (XNU's commpage nesting and GPU carveout).
	KindPlatform
	// KindFile is a file mapping that is not an image (ld.so.cache, locale
	// archives, dyld's temporary whole-file mapping).
	KindFile

	numKinds
)

var kindNames = [numKinds]string{
	KindAnon:         "anon",
	KindImage:        "image",
	KindReservation:  "reservation",
	KindGuard:        "guard",
	KindStack:        "stack",
	KindSharedRegion: "shared-region",
	KindHeap:         "heap",
	KindVDSO:         "vdso",
	KindPlatform:     "platform",
	KindFile:         "file",
}

// String returns the kind's short name ("image", "shared-region", ...).
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("vaspace: unknown mapping kind %q (want one of %s)", s, strings.Join(kindNames[:], ", "))
}

// Mapping is one entry of an address space: the analogue of a Linux VMA or
// an XNU vm_map_entry. Mappings in a Space never overlap and are never
// empty.
type Mapping struct {
	Range
	// Name identifies the mapping in reports: an image segment
	// ("libfoo.dylib __TEXT"), "[stack]", "xzone pointer range", ...
	Name string
	// Prot is the current protection.
	Prot Prot
	// Kind says what the mapping is for.
	Kind Kind
	// Owner is the image (path or install name) this mapping belongs to, or
	// empty when it belongs to none.
	Owner string
	// Offset is the file offset backing Start for a mapping of a file
	// (Linux vm_pgoff × page size, as /proc/PID/maps prints it); 0 for
	// anonymous memory. The pieces a split leaves keep the offsets of
	// their own starts.
	Offset uint64
	// Flags are a placement model's own bits for the mapping (package
	// linux keeps Linux VMA flags such as VM_ACCOUNT there, which decide
	// what the kernel merges); the Space stores them and never reads
	// them.
	Flags uint32
}

// String formats the mapping as `[0x1000, 0x2000) r-x image "name"`.
func (m Mapping) String() string {
	s := fmt.Sprintf("%v %v %v %q", m.Range, m.Prot, m.Kind, m.Name)
	if m.Owner != "" && m.Owner != m.Name {
		s += fmt.Sprintf(" (owner %q)", m.Owner)
	}
	return s
}
