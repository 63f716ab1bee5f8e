package vaspace

import (
	"fmt"
	"math/bits"
	"strings"
)

// Addr is a virtual address in a 64-bit process address space.
//
// All arithmetic that could wrap is done through methods that report
// overflow in the style of gVisor's pkg/hostarch: (value, ok). A false ok
// means the true result does not fit in 64 bits; the value is then
// meaningless and must not be used.
type Addr uint64

// String formats the address in hexadecimal with a 0x prefix.
func (a Addr) String() string { return fmt.Sprintf("%#x", uint64(a)) }

// Add returns a+n and whether the sum did not overflow.
func (a Addr) Add(n uint64) (Addr, bool) {
	s, carry := bits.Add64(uint64(a), n, 0)
	return Addr(s), carry == 0
}

// Sub returns a-n and whether the difference did not underflow.
func (a Addr) Sub(n uint64) (Addr, bool) {
	d, borrow := bits.Sub64(uint64(a), n, 0)
	return Addr(d), borrow == 0
}

// IsPow2 reports whether x is a power of two (x > 0). Alignments, page sizes
// and granules in this module must be powers of two.
func IsPow2(x uint64) bool { return x != 0 && x&(x-1) == 0 }

// RoundDown returns a rounded down to a multiple of align. align must be a
// power of two; 0 and 1 leave a unchanged.
func (a Addr) RoundDown(align uint64) Addr {
	if align <= 1 {
		return a
	}
	return a &^ Addr(align-1)
}

// RoundUp returns a rounded up to a multiple of align and whether that did
// not overflow. align must be a power of two; 0 and 1 leave a unchanged.
func (a Addr) RoundUp(align uint64) (Addr, bool) {
	if align <= 1 {
		return a, true
	}
	s, ok := a.Add(align - 1)
	if !ok {
		return 0, false
	}
	return s &^ Addr(align-1), true
}

// IsAligned reports whether a is a multiple of align (a power of two; 0 and 1
// accept every address).
func (a Addr) IsAligned(align uint64) bool {
	if align <= 1 {
		return true
	}
	return uint64(a)&(align-1) == 0
}

// Range is the half-open address range [Start, End). A Range with
// End < Start is malformed; operations that take a Range reject it with
// ErrBadRange. The empty range has Start == End.
type Range struct {
	Start Addr `json:"start"`
	End   Addr `json:"end"`
}

// RangeOf returns [start, start+size) and whether the end did not overflow.
func RangeOf(start Addr, size uint64) (Range, bool) {
	end, ok := start.Add(size)
	return Range{start, end}, ok
}

// String formats the range as "[0xstart, 0xend)".
func (r Range) String() string { return fmt.Sprintf("[%#x, %#x)", uint64(r.Start), uint64(r.End)) }

// WellFormed reports whether Start <= End.
func (r Range) WellFormed() bool { return r.Start <= r.End }

// Len returns End-Start, or 0 for a malformed range.
func (r Range) Len() uint64 {
	if r.End <= r.Start {
		return 0
	}
	return uint64(r.End - r.Start)
}

// IsEmpty reports whether the range holds no address.
func (r Range) IsEmpty() bool { return r.End <= r.Start }

// Contains reports whether a lies in r.
func (r Range) Contains(a Addr) bool { return r.Start <= a && a < r.End }

// ContainsRange reports whether o lies entirely in r. The empty range is
// contained in r if its Start lies in [r.Start, r.End].
func (r Range) ContainsRange(o Range) bool {
	return r.Start <= o.Start && o.End <= r.End && o.WellFormed()
}

// Overlaps reports whether r and o share at least one address. Empty ranges
// overlap nothing.
func (r Range) Overlaps(o Range) bool {
	return r.Start < o.End && o.Start < r.End && !r.IsEmpty() && !o.IsEmpty()
}

// Intersect returns the addresses common to r and o; the result is empty
// (Start == End) when they do not overlap.
func (r Range) Intersect(o Range) Range {
	s := max(r.Start, o.Start)
	e := min(r.End, o.End)
	if e < s {
		e = s
	}
	return Range{s, e}
}

// Size formats a byte count the way the reference sheets write it: exact
// bytes for small values, otherwise a binary unit with up to two decimals
// ("16.46 GiB", "32 MiB"). It is for reports; machine output should print
// the integer.
func Size(n uint64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
		tib = 1 << 40
	)
	unit, name := uint64(1), "B"
	switch {
	case n >= tib:
		unit, name = tib, "TiB"
	case n >= gib:
		unit, name = gib, "GiB"
	case n >= mib:
		unit, name = mib, "MiB"
	case n >= kib:
		unit, name = kib, "KiB"
	}
	if unit == 1 {
		return fmt.Sprintf("%d B", n)
	}
	if n%unit == 0 {
		return fmt.Sprintf("%d %s", n/unit, name)
	}
	// Trim trailing zeros so 16.50 prints as 16.5, and 4.00 (4 GiB and a
	// few pages) as 4.
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", float64(n)/float64(unit)), "0"), ".")
	return s + " " + name
}
