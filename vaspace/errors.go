package vaspace

import (
	"errors"
	"fmt"
)

// Errors returned by Space operations. Every operation returns an *Error
// whose Unwrap yields exactly one of these, so callers test the class with
// errors.Is and get the details (range, mapping hit) with errors.As.
//
// The classes follow the system calls being modelled:
//
//	ErrOverlap      Linux MAP_FIXED_NOREPLACE -> EEXIST; XNU VM_FLAGS_FIXED -> KERN_NO_SPACE
//	ErrNoSpace      Linux get_unmapped_area -> ENOMEM; XNU ANYWHERE -> KERN_NO_SPACE
//	ErrNotMapped    Linux mprotect over a hole -> ENOMEM
//	ErrOutOfBounds  an address beyond TASK_SIZE / the map bounds -> EINVAL, KERN_INVALID_ADDRESS
//	ErrBadRange     empty, reversed or overflowing range -> EINVAL, KERN_INVALID_ARGUMENT
//	ErrBadAlignment unaligned address or non-power-of-two alignment -> EINVAL
var (
	ErrOverlap      = errors.New("address range overlaps an existing mapping")
	ErrNoSpace      = errors.New("no free range is large enough")
	ErrNotMapped    = errors.New("address range is not fully mapped")
	ErrOutOfBounds  = errors.New("address range lies outside the address space")
	ErrBadRange     = errors.New("bad address range")
	ErrBadAlignment = errors.New("bad alignment")
)

// Error describes a failed Space operation.
type Error struct {
	// Op names the operation: "map", "map-replace", "unmap", "protect",
	// "first-fit", "highest-fit" or "new".
	Op string
	// Range is the range the operation was asked about: the mapping's
	// range, or the search window for placements.
	Range Range
	// Name is the name of the mapping being placed, if any.
	Name string
	// Hit is the first (lowest) existing mapping that caused ErrOverlap.
	Hit *Mapping
	// Hole is the first unmapped range that caused ErrNotMapped.
	Hole Range
	// Size is the requested size for ErrNoSpace.
	Size uint64
	// Detail adds what exactly was wrong, for ErrBadRange, ErrBadAlignment
	// and ErrOutOfBounds.
	Detail string
	// Err is the error class, one of the Err* sentinels.
	Err error
}

// Error formats the failure as "vaspace: OP RANGE "NAME": CLASS: detail".
func (e *Error) Error() string {
	s := "vaspace: " + e.Op + " " + e.Range.String()
	if e.Name != "" {
		s += fmt.Sprintf(" %q", e.Name)
	}
	s += ": " + e.Err.Error()
	switch {
	case e.Hit != nil:
		s += fmt.Sprintf(": first hit %v", *e.Hit)
	case errors.Is(e.Err, ErrNotMapped):
		s += fmt.Sprintf(": %v is unmapped", e.Hole)
	case errors.Is(e.Err, ErrNoSpace):
		s += fmt.Sprintf(": need %#x bytes", e.Size)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the error class, so errors.Is(err, ErrOverlap) works.
func (e *Error) Unwrap() error { return e.Err }
