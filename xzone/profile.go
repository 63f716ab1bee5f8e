package xzone

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/vasim/vasim/vaspace"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

// Profile holds every parameter of libmalloc's macOS range-group
// reservation (the CONFIG_MACOS_RANGES branch of
// xzm_main_malloc_zone_init_range_groups). Users can build one for another
// libmalloc release; Libmalloc792 is the only release whose XZone source is
// published.
//
// The reservation made during __malloc_init is
//
//	R         = Separation + PointerRange + Separation
//	slots     = (RangesEnd - R - RangesStart) / Granule      (integer division)
//	k         = (low EntropyBits bits of malloc_entropy[1]) mod slots
//	ptr_start = RangesStart + k*Granule
//
// mapped with mach_vm_map(VM_FLAGS_FIXED) over [ptr_start, ptr_start+R). Any
// existing VM entry in that range makes it fail with KERN_NO_SPACE, and
// libmalloc aborts ("BUG IN LIBMALLOC: pointer range initial reservation
// failed", Abort Cause 3) before main.
type Profile struct {
	// Name identifies the profile ("libmalloc-792.41.1").
	Name string
	// Source says where the values come from.
	Source string
	// RangesStart is the lowest candidate reservation start
	// (XZM_MACOS_RANGES_START, 16 GiB).
	RangesStart vaspace.Addr
	// RangesEnd bounds the reservation from above (XZM_MACOS_RANGES_END,
	// 63 GiB, below the commpage nesting region).
	RangesEnd vaspace.Addr
	// Granule is the slot spacing (XZM_PAGE_TABLE_GRANULE, 32 MiB: one L2
	// "twig" block with 16 KiB pages).
	Granule uint64
	// Separation is the guard band on each side of the pointer range
	// (XZM_RANGE_SEPARATION, 4 GiB).
	Separation uint64
	// PointerRange is the size of the pointer range between the guards
	// (XZM_POINTER_RANGE_SIZE, 16 GiB).
	PointerRange uint64
	// DataRange is the size used to place the data-range hint
	// (XZM_DATA_RANGE_SIZE, 10 GiB). The data range is only a hint for
	// ANYWHERE allocations and never fails the launch.
	DataRange uint64
	// EntropyBits is how many low bits of malloc_entropy[1] choose the slot
	// (32: the code casts to uint32_t). The data hint uses the next 32 bits.
	EntropyBits uint
	// ZeroEntropy models a boot on which libmalloc's own image slide (the
	// shared cache slide) is 0: mvm_aslr_init then zeroes malloc_entropy,
	// so every launch uses slot 0 (libmalloc-792.41.1 src/vm.c). The cache
	// slide is chosen once per boot, so this is a per-boot mode, not a
	// per-launch chance; whether a zero slide can occur is unconfirmed.
	// Default false.
	ZeroEntropy bool
	// IDCacheSize and IDCacheHintTop describe libmalloc's reclaim ID cache,
	// a small ANYWHERE allocation made before the reservation and hinted
	// at 0x16FE00000 - 64 MiB - (malloc_entropy[1] & 127) × 8 MiB -
	// 256 MiB (libmalloc-792.41.1 xzone_segment.c ~138-186, vm.c ~76-104
	// and ~309-345): IDCacheHintTop is the highest such hint. The models
	// do not place it (its hint shares the slot's entropy); it lands in
	// the first free IDCacheSize bytes above its hint, so it can reach the
	// window only when nothing that size is free between IDCacheHintTop
	// and RangesStart, which Analyze checks (Result.IDCacheMayReach). 0
	// turns the check off.
	IDCacheSize    uint64
	IDCacheHintTop vaspace.Addr
}

// Libmalloc792 is the reservation of libmalloc-792.41.1 (tag authored
// 2025-11-18), src/xzone_malloc/xzone_segment.c. The libmalloc in macOS 26.3.1, the OS of the public
// Chromium crash, is not published; the crash matches these values.
var Libmalloc792 = Profile{
	Name:         "libmalloc-792.41.1",
	Source:       "libmalloc-792.41.1 src/xzone_malloc/xzone_segment.c, xzm_main_malloc_zone_init_range_groups (CONFIG_MACOS_RANGES)",
	RangesStart:  16 * gib,
	RangesEnd:    63 * gib,
	Granule:      32 * mib,
	Separation:   4 * gib,
	PointerRange: 16 * gib,
	DataRange:    10 * gib,
	EntropyBits:  32,
	// 16 KiB at most 0x16FE00000 - 64 MiB - 256 MiB.
	IDCacheSize:    16 << 10,
	IDCacheHintTop: 0x16FE00000 - 64*mib - 256*mib,
}

// DefaultProfile is the profile used when none is named.
var DefaultProfile = Libmalloc792

var profiles = map[string]Profile{
	Libmalloc792.Name: Libmalloc792,
}

// ProfileNames lists the built-in profiles.
func ProfileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupProfile returns the built-in profile with the given name.
func LookupProfile(name string) (Profile, error) {
	if p, ok := profiles[name]; ok {
		return p, nil
	}
	return Profile{}, fmt.Errorf("xzone: unknown profile %q (built in: %s)", name, strings.Join(ProfileNames(), ", "))
}

// ErrBadProfile is the class of Profile validation errors.
var ErrBadProfile = errors.New("xzone: invalid profile")

// Validate checks that the profile describes a reservation that can be
// made: a power-of-two granule, a window that holds at least one slot, and
// sizes that do not overflow.
func (p Profile) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadProfile, p.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case !vaspace.IsPow2(p.Granule):
		return bad("granule %#x is not a power of two", p.Granule)
	case !p.RangesStart.IsAligned(p.Granule):
		return bad("ranges start %v is not granule-aligned", p.RangesStart)
	case p.EntropyBits == 0 || p.EntropyBits > 32:
		return bad("entropy bits %d outside 1..32", p.EntropyBits)
	case p.PointerRange == 0:
		return bad("pointer range is empty")
	}
	r, ok := p.reservationOK()
	if !ok {
		return bad("separation %#x + pointer range %#x overflows", p.Separation, p.PointerRange)
	}
	if end, ok := p.RangesStart.Add(r); !ok || end > p.RangesEnd {
		return bad("a %#x-byte reservation from %v does not fit below %v", r, p.RangesStart, p.RangesEnd)
	}
	if p.Slots() == 0 {
		return bad("window [%v, %v) holds no slot", p.RangesStart, p.RangesEnd)
	}
	return nil
}

func (p Profile) reservationOK() (uint64, bool) {
	a := p.Separation + p.PointerRange
	b := a + p.Separation
	return b, a >= p.Separation && b >= a
}

// Reservation returns the size of the fixed reservation: guard, pointer
// range, guard (24 GiB for libmalloc-792.41.1).
func (p Profile) Reservation() uint64 {
	r, _ := p.reservationOK()
	return r
}

// Slots returns the number of candidate starts: 736 for libmalloc-792.41.1,
// (63 GiB - 24 GiB - 16 GiB) / 32 MiB.
func (p Profile) Slots() int {
	r := p.Reservation()
	if uint64(p.RangesEnd) < uint64(p.RangesStart)+r {
		return 0
	}
	return int((uint64(p.RangesEnd) - r - uint64(p.RangesStart)) / p.Granule)
}

// SlotStart returns ptr_start for slot k.
func (p Profile) SlotStart(k int) vaspace.Addr {
	return p.RangesStart + vaspace.Addr(uint64(k)*p.Granule)
}

// SlotRange returns the reservation of slot k: [ptr_start, ptr_start+R).
func (p Profile) SlotRange(k int) vaspace.Range {
	s := p.SlotStart(k)
	return vaspace.Range{Start: s, End: s + vaspace.Addr(p.Reservation())}
}

// PointerRangeOf returns the usable pointer range of slot k, between the
// two guard bands.
func (p Profile) PointerRangeOf(k int) vaspace.Range {
	s := p.SlotStart(k) + vaspace.Addr(p.Separation)
	return vaspace.Range{Start: s, End: s + vaspace.Addr(p.PointerRange)}
}

// Window returns the union of all slot reservations: a mapping outside it
// can never make the reservation fail.
func (p Profile) Window() vaspace.Range {
	return vaspace.Range{Start: p.RangesStart, End: p.SlotRange(p.Slots() - 1).End}
}

// SlotWeight returns how many of the 2^EntropyBits entropy values select
// slot k: the residues below 2^EntropyBits mod slots occur once more than
// the others (for 792.41.1, 2^32 = 736 × 5,835,553 + 288, so slots 0..287
// weigh 5,835,554 and 288..735 weigh 5,835,553).
func (p Profile) SlotWeight(k int) uint64 {
	n := uint64(p.Slots())
	total := uint64(1) << p.EntropyBits
	w := total / n
	if uint64(k) < total%n {
		w++
	}
	return w
}

// EntropyValues returns 2^EntropyBits, the denominator of every exact
// probability.
func (p Profile) EntropyValues() uint64 { return uint64(1) << p.EntropyBits }

// DataSlots returns the number of data-hint candidates: 416 for 792.41.1,
// (23 GiB - 10 GiB) / 32 MiB.
func (p Profile) DataSlots() int {
	span := uint64(p.RangesEnd) - p.Reservation() - uint64(p.RangesStart)
	if span < p.DataRange {
		return 0
	}
	return int((span - p.DataRange) / p.Granule)
}

// DataStart returns the data-range hint for pointer slot k and data draw j
// (the high 32 bits of malloc_entropy[1] mod DataSlots): below the pointer
// reservation when j < k, otherwise shifted past it by R/Granule slots.
// The data range is a hint for ANYWHERE allocations and never collides.
func (p Profile) DataStart(k, j int) vaspace.Addr {
	if j >= k {
		j += int(p.Reservation() / p.Granule)
	}
	return p.RangesStart + vaspace.Addr(uint64(j)*p.Granule)
}

// SlotsOverlapping returns the inclusive range [lo, hi] of slots whose
// reservation overlaps r, and false when none does.
func (p Profile) SlotsOverlapping(r vaspace.Range) (lo, hi int, ok bool) {
	n := p.Slots()
	base := uint64(p.RangesStart)
	if r.IsEmpty() || uint64(r.End) <= base {
		return 0, 0, false
	}
	// Slot k overlaps r iff base + k*g < r.End and base + k*g + R > r.Start.
	hi = int(min((uint64(r.End)-base+p.Granule-1)/p.Granule-1, uint64(n-1)))
	if uint64(r.Start) >= base+p.Reservation() {
		lo = int((uint64(r.Start)-base-p.Reservation())/p.Granule + 1)
	}
	return lo, hi, lo <= hi
}

// exactFraction returns weight / 2^EntropyBits.
func (p Profile) exactFraction(weight uint64) *big.Rat {
	return new(big.Rat).SetFrac(new(big.Int).SetUint64(weight), new(big.Int).SetUint64(p.EntropyValues()))
}
