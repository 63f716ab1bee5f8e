package linux

import (
	"errors"
	"fmt"

	"github.com/vasim/vasim/vaspace"
)

// MM is one process's address space as the kernel manages it (struct
// mm_struct): the mappings, the mmap base and direction, the stack and the
// brk. Its Mmap is the kernel's get_unmapped_area followed by the mapping;
// ld.so and the exec model call it in the order the real ones do.
type MM struct {
	k      *Kernel
	space  *vaspace.Space
	legacy bool
	// base is mm->mmap_base (top-down) and legacyBase mm->mmap_legacy_base
	// (the bottom-up start, also the fallback of a failed top-down search).
	base, legacyBase uint64
	// stack is the grows-down initial stack VMA; searches keep the guard
	// gap below it.
	stack vaspace.Range
	// startBrk and brk are mm->start_brk and mm->brk.
	startBrk, brk uint64
}

// VMA flags the model keeps in vaspace.Mapping.Flags: the ones that
// decide which neighbouring VMAs the kernel merges into one.
const (
	// FlagAccount is VM_ACCOUNT: the mapping is private and was writable
	// when made (mm/mmap.c accountable_mapping); it stays set when
	// mprotect takes write access away, which is why a RELRO range never
	// merges with the read-only segment before it.
	FlagAccount uint32 = 1 << iota
)

// vmaFlags returns the flags a new private mapping with protection p gets.
func vmaFlags(p vaspace.Prot) uint32 {
	if p&vaspace.ProtWrite != 0 {
		return FlagAccount
	}
	return 0
}

// ErrNoMemory is ENOMEM from mmap: no free range can hold the request.
var ErrNoMemory = errors.New("cannot allocate memory (ENOMEM)")

// newMM returns an empty address space for k: bounds from 0 to the task
// size (or the vsyscall page's end on x86_64).
func newMM(k *Kernel, legacy bool, base, legacyBase uint64) (*MM, error) {
	end := k.TaskSize()
	if k.Vsyscall {
		end = uint64(vsyscallPage.End)
	}
	s, err := vaspace.New(vaspace.Range{Start: 0, End: vaspace.Addr(end)}, k.PageSize)
	if err != nil {
		return nil, err
	}
	return &MM{k: k, space: s, legacy: legacy, base: base, legacyBase: legacyBase}, nil
}

// vsyscallPage is x86_64's fixed legacy vsyscall page.
var vsyscallPage = vaspace.Range{Start: 0xffffffffff600000, End: 0xffffffffff601000}

// Space returns the mappings.
func (mm *MM) Space() *vaspace.Space { return mm.space }

// MmapBase returns mm->mmap_base for top-down placement, or the legacy
// base for bottom-up.
func (mm *MM) MmapBase() uint64 {
	if mm.legacy {
		return mm.legacyBase
	}
	return mm.base
}

// Brk returns mm->start_brk: where the heap begins when the program first
// calls brk.
func (mm *MM) Brk() uint64 { return mm.startBrk }

// File is what the kernel's placement needs to know about a mapped file.
type File struct {
	// Path names the mapping, as /proc/PID/maps prints it.
	Path string
	// FS is the file system type ("ext4", "tmpfs", ...), which decides the
	// 2 MiB alignment of large mappings.
	FS string
}

// MmapRequest is an mmap(2) call without MAP_FIXED.
type MmapRequest struct {
	// Len is the length in bytes, rounded up to pages.
	Len uint64
	// File is the file mapped, nil for anonymous memory; Offset is the
	// file offset (page-aligned).
	File   *File
	Offset uint64
	// Hint is the address argument (0: none).
	Hint uint64
	// Mapping gives the name, protection, kind and owner of the result.
	Mapping vaspace.Mapping
}

// Mmap places and maps req as Linux 6.18 does (mm/mmap.c
// __get_unmapped_area, mm/huge_memory.c __thp_get_unmapped_area,
// arch/x86/kernel/sys_x86_64.c arch_get_unmapped_area_topdown, mm/vma.c
// unmapped_area_topdown): an honoured hint, else a 2 MiB-padded search
// for files on THP file systems and 2 MiB-multiple anonymous lengths,
// else the plain search; top-down from the mmap base falling back to
// bottom-up, or bottom-up from the legacy base. It returns the mapping
// as placed.
func (mm *MM) Mmap(req MmapRequest) (vaspace.Mapping, error) {
	k := mm.k
	n := alignUp(req.Len, k.PageSize)
	m := req.Mapping
	if n == 0 || n < req.Len || n > k.TaskSize()-k.SearchFloor() {
		return m, fmt.Errorf("mmap %q length %#x: %w", m.Name, req.Len, ErrNoMemory)
	}
	var a uint64
	var err error
	switch {
	case req.File != nil && mm.thpFile(req.File):
		a, err = mm.thpArea(req.Hint, n, req.Offset)
	case req.File == nil && k.THP && k.THPAnon && req.Hint == 0 && n%k.HugePageSize == 0:
		a, err = mm.thpArea(0, n, 0)
	default:
		a, err = mm.area(req.Hint, n)
	}
	if err != nil {
		return m, fmt.Errorf("mmap %q length %#x: %w", m.Name, n, err)
	}
	m.Range = vaspace.Range{Start: vaspace.Addr(a), End: vaspace.Addr(a + n)}
	if req.File != nil {
		m.Offset = req.Offset
	}
	m.Flags |= vmaFlags(m.Prot)
	return m, mm.space.Map(m)
}

// MapFixed is mmap with MAP_FIXED: m replaces whatever it covers.
func (mm *MM) MapFixed(m vaspace.Mapping) error {
	if uint64(m.Start) < mm.k.MmapMinAddr {
		return fmt.Errorf("mmap %q at %v: below vm.mmap_min_addr %#x (EPERM)", m.Name, m.Range, mm.k.MmapMinAddr)
	}
	m.Flags |= vmaFlags(m.Prot)
	return mm.space.MapReplace(m)
}

// MapNoReplace is mmap with MAP_FIXED_NOREPLACE: it fails with EEXIST if
// any of m is mapped.
func (mm *MM) MapNoReplace(m vaspace.Mapping) error {
	if uint64(m.Start) < mm.k.MmapMinAddr {
		return fmt.Errorf("mmap %q at %v: below vm.mmap_min_addr %#x (EPERM)", m.Name, m.Range, mm.k.MmapMinAddr)
	}
	m.Flags |= vmaFlags(m.Prot)
	return mm.space.Map(m)
}

// Munmap is munmap(2).
func (mm *MM) Munmap(r vaspace.Range) error { return mm.space.Unmap(r) }

// Mprotect is mprotect(2).
func (mm *MM) Mprotect(r vaspace.Range, p vaspace.Prot) error { return mm.space.Protect(r, p) }

func (mm *MM) thpFile(f *File) bool {
	if !mm.k.THP {
		return false
	}
	for _, fs := range mm.k.THPFileSystems {
		if fs == f.FS {
			return true
		}
	}
	return false
}

// thpArea is __thp_get_unmapped_area with the PMD size, falling back to
// the unpadded search when the mapping is too short or the padded search
// fails.
func (mm *MM) thpArea(hint, n, off uint64) (uint64, error) {
	size := mm.k.HugePageSize
	offEnd := off + n
	offAlign := alignUp(off, size)
	if offEnd > offAlign && offEnd-offAlign >= size {
		padded := n + size
		if padded > n {
			if ret, err := mm.area(hint, padded); err == nil {
				if ret == hint {
					return ret, nil
				}
				sub := (off - ret) & (size - 1)
				if !mm.legacy && sub == 0 && mm.k.THPTopDownBump {
					return ret + size, nil
				}
				return ret + sub, nil
			}
		}
	}
	return mm.area(hint, n)
}

// area is the architecture's get_unmapped_area for n bytes with no
// alignment mask (Linux uses none for ordinary files and anonymous
// memory): the hint if it is free, else top-down below the mmap base
// falling back to bottom-up, or bottom-up from the legacy base.
func (mm *MM) area(hint, n uint64) (uint64, error) {
	k := mm.k
	low := k.SearchFloor()
	if h := alignDown(hint, k.PageSize); h != 0 {
		h = max(h, low) // hints are raised to the floor
		if h <= k.TaskSize()-n && mm.hintFits(h, n) {
			return h, nil
		}
	}
	if !mm.legacy {
		if a, ok := mm.topDown(low, mm.base, n); ok {
			return a, nil
		}
	}
	if a, ok := mm.bottomUp(mm.legacyBase, k.TaskSize(), n); ok {
		return a, nil
	}
	return 0, ErrNoMemory
}

// hintFits is the hint check: [h, h+n) ends at or below the start gap of
// the next mapping and does not start inside a mapping.
func (mm *MM) hintFits(h, n uint64) bool {
	if _, ok := mm.space.At(vaspace.Addr(h)); ok {
		return false
	}
	next, ok := mm.space.After(vaspace.Addr(h))
	if !ok {
		return true
	}
	return h+n <= mm.startGap(next)
}

// startGap is vm_start_gap: a grows-down stack's start less the guard
// gap.
func (mm *MM) startGap(m vaspace.Mapping) uint64 {
	s := uint64(m.Start)
	if m.Range == mm.stack && m.Kind == vaspace.KindStack {
		if s > mm.k.StackGuardGap {
			return s - mm.k.StackGuardGap
		}
		return 0
	}
	return s
}

// topDown is unmapped_area_topdown: the highest free range in [low,
// high) holding n bytes, placed at its top; if the mapping above it is the
// stack and its guard gap reaches into the placement, lower high to the
// gap and search again.
func (mm *MM) topDown(low, high, n uint64) (uint64, bool) {
	for high > low && high-low >= n {
		a, err := mm.space.HighestFit(vaspace.Request{Size: n, Window: vaspace.Range{Start: vaspace.Addr(low), End: vaspace.Addr(high)}})
		if err != nil {
			return 0, false
		}
		// The mapping above the chosen free range (vma_next): if it is
		// the stack, its guard gap must not reach below the top.
		top := uint64(a) + n
		if next, ok := mm.space.After(vaspace.Addr(top)); ok {
			if g := mm.startGap(next); g < top {
				high = g
				continue
			}
		}
		return uint64(a), true
	}
	return 0, false
}

// bottomUp is unmapped_area: the lowest free range in [low, high) holding
// n bytes, placed at its bottom, keeping below the guard gap of a stack
// that follows.
func (mm *MM) bottomUp(low, high, n uint64) (uint64, bool) {
	for high > low && high-low >= n {
		a, err := mm.space.FirstFit(vaspace.Addr(low), vaspace.Request{Size: n, Window: vaspace.Range{Start: vaspace.Addr(low), End: vaspace.Addr(high)}})
		if err != nil {
			return 0, false
		}
		if next, ok := mm.space.After(a); ok {
			if g := mm.startGap(next); g < uint64(a)+n {
				low = uint64(next.End)
				continue
			}
		}
		return uint64(a), true
	}
	return 0, false
}
