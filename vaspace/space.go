package vaspace

import (
	"fmt"
	"iter"

	"github.com/google/btree"
)

// btreeDegree is the google/btree degree. 32 gives nodes of up to 63
// mappings, about the size gVisor and the maple tree settle on for cache
// behaviour; BenchmarkLookup compares it with a raw tree of the same degree.
const btreeDegree = 32

// Space is one process's virtual address space: bounds [Min, Max), a page
// size, and a set of non-overlapping, non-empty mappings.
//
// The mappings live in a google/btree BTreeG ordered by start address;
// beside it a persistent B+tree indexes the free ranges by address with the
// largest free length per subtree (see gaps.go), so placement searches are
// O(log n) rather than a walk over every gap.
//
// A Space is not safe for concurrent mutation. Reads may run concurrently
// with each other. Clone returns an independent copy in O(1).
type Space struct {
	bounds   Range
	pageSize uint64
	tree     *btree.BTreeG[entry]
	gaps     gapIndex
	mapped   uint64
}

// entry is a mapping as the tree stores it: its range and a pointer to its
// attributes, 24 bytes instead of a Mapping's 56, so a B-tree node spans
// fewer cache lines. Attributes are immutable once stored; pieces of a
// split mapping share them and Protect gives the changed piece a new copy.
type entry struct {
	Range
	attr *attrs
}

type attrs struct {
	name, owner string
	prot        Prot
	kind        Kind
	flags       uint32
	// offBias is Start − Offset (mod 2^64) of the mapping as stored, so
	// that every piece of a split mapping, sharing these attributes, has
	// the file offset of its own start, as Linux adjusts vm_pgoff when it
	// splits a VMA.
	offBias uint64
}

func newEntry(m Mapping) entry {
	return entry{m.Range, &attrs{name: m.Name, owner: m.Owner, prot: m.Prot, kind: m.Kind, flags: m.Flags, offBias: uint64(m.Start) - m.Offset}}
}

func (e entry) mapping() Mapping {
	return Mapping{Range: e.Range, Name: e.attr.name, Prot: e.attr.prot, Kind: e.attr.kind, Owner: e.attr.owner, Flags: e.attr.flags, Offset: uint64(e.Start) - e.attr.offBias}
}

// key is the probe used to search the tree for a start address.
func key(a Addr) entry { return entry{Range: Range{Start: a}} }

func lessStart(a, b entry) bool { return a.Start < b.Start }

// New returns an empty address space covering bounds with the given page
// size (a power of two). Both ends of bounds must be page-aligned and the
// range non-empty.
//
// Typical bounds: Linux x86_64 [0x1000, 0x7ffffffff000) with 4 KiB pages
// (mmap_min_addr to TASK_SIZE_MAX, arch/x86/include/asm/page_64_types.h);
// macOS arm64 [0, 0x7ffffe000000) with 16 KiB pages (xnu-11417
// osfmk/mach/arm/vm_param.h).
func New(bounds Range, pageSize uint64) (*Space, error) {
	fail := func(err error, detail string, args ...any) (*Space, error) {
		return nil, &Error{Op: "new", Range: bounds, Err: err, Detail: fmt.Sprintf(detail, args...)}
	}
	if !IsPow2(pageSize) {
		return fail(ErrBadAlignment, "page size %#x is not a power of two", pageSize)
	}
	if bounds.IsEmpty() {
		return fail(ErrBadRange, "bounds are empty or reversed")
	}
	if !bounds.Start.IsAligned(pageSize) || !bounds.End.IsAligned(pageSize) {
		return fail(ErrBadAlignment, "bounds are not aligned to the page size %#x", pageSize)
	}
	return &Space{
		bounds:   bounds,
		pageSize: pageSize,
		tree:     btree.NewG(btreeDegree, lessStart),
		gaps:     newGapIndex(bounds),
	}, nil
}

// MustNew is New for bounds known to be valid at compile time; it panics on
// error and is meant for package-level presets and tests.
func MustNew(bounds Range, pageSize uint64) *Space {
	s, err := New(bounds, pageSize)
	if err != nil {
		panic(err)
	}
	return s
}

// Bounds returns [Min, Max).
func (s *Space) Bounds() Range { return s.bounds }

// PageSize returns the page size in bytes.
func (s *Space) PageSize() uint64 { return s.pageSize }

// Len returns the number of mappings.
func (s *Space) Len() int { return s.tree.Len() }

// MappedBytes returns the total length of all mappings.
func (s *Space) MappedBytes() uint64 { return s.mapped }

// Clone returns an independent copy of s in O(1): the mapping tree is
// cloned lazily with google/btree's copy-on-write Clone and the free-space
// index is forked the same way, so the first writes to either copy pay for
// copying the O(log n) nodes they touch. Clone writes to s (it splits the
// copy-on-write context), so it must not run concurrently with other uses
// of s; afterwards both copies may be used from different goroutines.
func (s *Space) Clone() *Space {
	c := *s
	c.tree = s.tree.Clone()
	c.gaps = s.gaps.fork()
	return &c
}

// validate checks that r is a non-empty, page-aligned range inside the
// bounds.
func (s *Space) validate(op string, r Range, name string) error {
	fail := func(err error, detail string, args ...any) error {
		return &Error{Op: op, Range: r, Name: name, Err: err, Detail: fmt.Sprintf(detail, args...)}
	}
	if r.End < r.Start {
		return fail(ErrBadRange, "end is below start")
	}
	if r.IsEmpty() {
		return fail(ErrBadRange, "range is empty")
	}
	if !r.Start.IsAligned(s.pageSize) || !r.End.IsAligned(s.pageSize) {
		return fail(ErrBadAlignment, "not aligned to the page size %#x", s.pageSize)
	}
	if !s.bounds.ContainsRange(r) {
		return fail(ErrOutOfBounds, "the space is %v", s.bounds)
	}
	return nil
}

// At returns the mapping that contains a.
func (s *Space) At(a Addr) (Mapping, bool) {
	if e, ok := s.entryAt(a); ok {
		return e.mapping(), true
	}
	return Mapping{}, false
}

func (s *Space) entryAt(a Addr) (entry, bool) {
	var found entry
	ok := false
	s.tree.DescendLessOrEqual(key(a), func(e entry) bool {
		if e.End > a {
			found, ok = e, true
		}
		return false
	})
	return found, ok
}

// Before returns the mapping with the highest start below a: the one
// containing a-1, or else the nearest one entirely below a.
func (s *Space) Before(a Addr) (Mapping, bool) {
	var found entry
	ok := false
	if a == 0 {
		return Mapping{}, false
	}
	s.tree.DescendLessOrEqual(key(a-1), func(e entry) bool {
		found, ok = e, true
		return false
	})
	if !ok {
		return Mapping{}, false
	}
	return found.mapping(), true
}

// After returns the mapping with the lowest start at or above a.
func (s *Space) After(a Addr) (Mapping, bool) {
	var found entry
	ok := false
	s.tree.AscendGreaterOrEqual(key(a), func(e entry) bool {
		found, ok = e, true
		return false
	})
	if !ok {
		return Mapping{}, false
	}
	return found.mapping(), true
}

// Overlapping returns the mappings that share at least one address with r,
// in address order. The sequence must not be used across a mutation of s.
func (s *Space) Overlapping(r Range) iter.Seq[Mapping] {
	return func(yield func(Mapping) bool) {
		s.overlapping(r, func(e entry) bool { return yield(e.mapping()) })
	}
}

func (s *Space) overlapping(r Range, yield func(entry) bool) {
	if r.IsEmpty() {
		return
	}
	start := r.Start
	if e, ok := s.entryAt(r.Start); ok {
		if !yield(e) {
			return
		}
		start = e.End
	}
	if start < r.End {
		s.tree.AscendRange(key(start), key(r.End), yield)
	}
}

// IsFree reports whether every address of r lies inside the bounds and in
// no mapping, that is whether Map could place a mapping over r (alignment
// aside). The empty range is free. It consults only the free-space index:
// O(log n).
func (s *Space) IsFree(r Range) bool {
	if r.IsEmpty() {
		return true
	}
	g, ok := s.gaps.floor(r.Start)
	return ok && g.ContainsRange(r)
}

// All returns every mapping in address order.
func (s *Space) All() iter.Seq[Mapping] {
	return func(yield func(Mapping) bool) {
		s.tree.Ascend(func(e entry) bool { return yield(e.mapping()) })
	}
}

// Gaps returns the free ranges inside r, clipped to r, in address order.
// Addresses outside the bounds are never free. It uses the free-space index
// and costs O(log n + k) for k gaps.
func (s *Space) Gaps(r Range) iter.Seq[Range] {
	return func(yield func(Range) bool) {
		w := r.Intersect(s.bounds)
		if w.IsEmpty() {
			return
		}
		s.gaps.root.each(w, yield)
	}
}

// Lowest returns the mapping with the lowest address.
func (s *Space) Lowest() (Mapping, bool) {
	e, ok := s.tree.Min()
	if !ok {
		return Mapping{}, false
	}
	return e.mapping(), true
}

// Highest returns the mapping with the highest address.
func (s *Space) Highest() (Mapping, bool) {
	e, ok := s.tree.Max()
	if !ok {
		return Mapping{}, false
	}
	return e.mapping(), true
}

// firstOverlap returns the lowest mapping overlapping r.
func (s *Space) firstOverlap(r Range) (Mapping, bool) {
	var hit Mapping
	ok := false
	s.overlapping(r, func(e entry) bool {
		hit, ok = e.mapping(), true
		return false
	})
	return hit, ok
}

// Map adds m at exactly m.Range and fails, changing nothing, if any
// existing mapping overlaps it. It models XNU mach_vm_map with
// VM_FLAGS_FIXED (KERN_NO_SPACE; xnu-11417 osfmk/vm/vm_map.c
// vm_map_locate_space_fixed) and Linux mmap with MAP_FIXED_NOREPLACE
// (EEXIST; mm/mmap.c do_mmap). The error (class ErrOverlap) names the lowest
// mapping hit.
//
// m.Range must be non-empty, page-aligned and inside the bounds.
func (s *Space) Map(m Mapping) error {
	if err := s.validate("map", m.Range, m.Name); err != nil {
		return err
	}
	// The range is free exactly when the free range holding its start
	// also holds its end; the index answers that without touching the tree.
	g, ok := s.gaps.floor(m.Start)
	if !ok || g.End < m.End {
		hit, _ := s.firstOverlap(m.Range)
		return &Error{Op: "map", Range: m.Range, Name: m.Name, Hit: &hit, Err: ErrOverlap}
	}
	s.tree.ReplaceOrInsert(newEntry(m))
	s.mapped += m.Len()
	if below := (Range{g.Start, m.Start}); below.IsEmpty() {
		s.gaps.remove(g.Start)
	} else {
		s.gaps.replace(below)
	}
	if above := (Range{m.End, g.End}); !above.IsEmpty() {
		s.gaps.insert(above)
	}
	return nil
}

// MapReplace adds m at exactly m.Range, first removing whatever it
// overlaps; mappings partly covered are split and keep their attributes
// outside m. It models Linux mmap with MAP_FIXED and XNU mach_vm_map with
// VM_FLAGS_FIXED|VM_FLAGS_OVERWRITE. It fails only on a bad range.
func (s *Space) MapReplace(m Mapping) error {
	if err := s.validate("map-replace", m.Range, m.Name); err != nil {
		return err
	}
	s.remove(m.Range)
	s.tree.ReplaceOrInsert(newEntry(m))
	s.mapped += m.Len()
	s.refreshGaps(m.Range)
	return nil
}

// Unmap removes every mapped address in r, splitting mappings that
// straddle its ends. Unmapping free addresses is not an error, as with
// Linux munmap (mm/mmap.c do_vmi_munmap) and XNU mach_vm_deallocate. It
// fails only on a bad range.
func (s *Space) Unmap(r Range) error {
	if err := s.validate("unmap", r, ""); err != nil {
		return err
	}
	s.remove(r)
	s.refreshGaps(r)
	return nil
}

// remove deletes the mapped addresses in r from the tree (not from the gap
// index; callers refresh it).
func (s *Space) remove(r Range) {
	var hit []entry
	s.overlapping(r, func(e entry) bool {
		hit = append(hit, e)
		return true
	})
	for _, m := range hit {
		s.tree.Delete(m)
		s.mapped -= m.Len()
		if m.Start < r.Start {
			left := m
			left.End = r.Start
			s.tree.ReplaceOrInsert(left)
			s.mapped += left.Len()
		}
		if r.End < m.End {
			right := m
			right.Start = r.End
			s.tree.ReplaceOrInsert(right)
			s.mapped += right.Len()
		}
	}
}

// Protect sets the protection of every page in r to p, splitting mappings
// that straddle its ends. Like Linux mprotect (mm/mprotect.c,
// do_mprotect_pkey) it fails with ErrNotMapped, changing nothing, if any
// page of r is unmapped; the error names the first hole. Adjacent mappings
// are not merged: a mapping keeps its name and owner.
func (s *Space) Protect(r Range, p Prot) error {
	if err := s.validate("protect", r, ""); err != nil {
		return err
	}
	next := r.Start
	var hit []entry
	s.overlapping(r, func(e entry) bool {
		if e.Start > next {
			return false
		}
		hit = append(hit, e)
		next = e.End
		return true
	})
	if next < r.End {
		hole := Range{next, r.End}
		if m, ok := s.firstMappingFrom(next, r.End); ok {
			hole.End = m.Start
		}
		return &Error{Op: "protect", Range: r, Hole: hole, Err: ErrNotMapped}
	}
	for _, m := range hit {
		if m.attr.prot == p {
			continue
		}
		s.tree.Delete(m)
		changed := *m.attr
		changed.prot = p
		s.tree.ReplaceOrInsert(entry{m.Intersect(r), &changed})
		if m.Start < r.Start {
			left := m
			left.End = r.Start
			s.tree.ReplaceOrInsert(left)
		}
		if r.End < m.End {
			right := m
			right.Start = r.End
			s.tree.ReplaceOrInsert(right)
		}
	}
	return nil
}

// firstMappingFrom returns the lowest mapping starting in [a, end).
func (s *Space) firstMappingFrom(a, end Addr) (entry, bool) {
	var found entry
	ok := false
	s.tree.AscendRange(key(a), key(end), func(e entry) bool {
		found, ok = e, true
		return false
	})
	return found, ok
}

// refreshGaps brings the free-space index up to date after the mappings
// inside r changed. Gaps that neither overlap nor touch r are bounded by
// mappings outside r and stay valid. The ones that do are compared with the
// free ranges of [lo, hi), the union of r and those gaps, recomputed from
// the tree; only the differences are applied, each as one path copy.
func (s *Space) refreshGaps(r Range) {
	x := &s.gaps
	var old, fresh []Range
	x.root.touching(r, func(g Range) { old = append(old, g) })
	lo, hi := r.Start, r.End
	if len(old) > 0 {
		lo, hi = min(lo, old[0].Start), max(hi, old[len(old)-1].End)
	}
	next := lo
	s.overlapping(Range{lo, hi}, func(e entry) bool {
		if e.Start > next {
			fresh = append(fresh, Range{next, e.Start})
		}
		next = e.End
		return true
	})
	if next < hi {
		fresh = append(fresh, Range{next, hi})
	}
	for i, j := 0, 0; i < len(old) || j < len(fresh); {
		switch {
		case j == len(fresh) || i < len(old) && old[i].Start < fresh[j].Start:
			x.remove(old[i].Start)
			i++
		case i == len(old) || fresh[j].Start < old[i].Start:
			x.insert(fresh[j])
			j++
		default:
			if old[i] != fresh[j] {
				x.replace(fresh[j])
			}
			i++
			j++
		}
	}
}

// Request describes a placement search: Size bytes at an address A with
// A ≡ Offset (mod Align), inside Window.
type Request struct {
	// Size is the number of bytes to place: non-zero, a multiple of the
	// page size.
	Size uint64
	// Align is the alignment, a power of two; values below the page size
	// (including 0) mean the page size.
	Align uint64
	// Offset is the wanted start modulo Align (Linux align_offset); it must
	// be page-aligned. Most callers leave it 0.
	Offset uint64
	// Window bounds the placement; the zero Range means the whole space.
	Window Range
}

func (s *Space) fit(op string, req Request) (*fit, error) {
	fail := func(err error, detail string, args ...any) (*fit, error) {
		return nil, &Error{Op: op, Range: req.Window, Size: req.Size, Err: err, Detail: fmt.Sprintf(detail, args...)}
	}
	align := max(req.Align, s.pageSize)
	if !IsPow2(align) {
		return fail(ErrBadAlignment, "alignment %#x is not a power of two", req.Align)
	}
	if req.Size == 0 {
		return fail(ErrBadRange, "size is zero")
	}
	if req.Size%s.pageSize != 0 {
		return fail(ErrBadAlignment, "size %#x is not a multiple of the page size %#x", req.Size, s.pageSize)
	}
	if req.Offset%s.pageSize != 0 {
		return fail(ErrBadAlignment, "alignment offset %#x is not page-aligned", req.Offset)
	}
	w := req.Window
	if w == (Range{}) {
		w = s.bounds
	}
	if w.End < w.Start {
		return fail(ErrBadRange, "window %v is reversed", w)
	}
	w = w.Intersect(s.bounds)
	return &fit{size: req.Size, mask: align - 1, offset: req.Offset & (align - 1), window: w}, nil
}

// FirstFit returns the lowest start address at or above hint where req
// fits. It models XNU's ANYWHERE placement (xnu-11417 osfmk/vm/vm_map.c
// vm_map_locate_space_anywhere and vm_map_store_find_space_forward): start
// at max(hint, window start), and in each free range upward align the
// candidate up and accept it if the whole request fits before the range
// ends. There is no wrap-around below the hint. The result is exact for any
// alignment (XNU checks each hole; it does not skip holes shorter than
// size+alignment).
//
// Cost: O(log n) expected for alignments up to the page size; larger
// alignments may also visit free ranges whose length is in
// [Size, Size+Align).
func (s *Space) FirstFit(hint Addr, req Request) (Addr, error) {
	f, err := s.fit("first-fit", req)
	if err != nil {
		return 0, err
	}
	f.window.Start = max(f.window.Start, hint)
	f.window.End = max(f.window.End, f.window.Start)
	if a, ok := f.firstFit(s.gaps.root); ok {
		return a, nil
	}
	return 0, &Error{Op: "first-fit", Range: f.window, Size: req.Size, Err: ErrNoSpace,
		Detail: fmt.Sprintf("alignment %#x, searching upward from %v", f.mask+1, f.window.Start)}
}

// HighestFit returns the start of the top-down placement of req. It models
// Linux unmapped_area_topdown (mm/mmap.c, Linux 6.1): the search length is
// Size + Align - page size (the worst-case alignment overhead), the highest
// free range whose part inside the window is at least that long is chosen,
// and the request is placed flush with the top of that part and then moved
// down to the nearest address ≡ Offset (mod Align). Like Linux, it skips a
// free range that could hold an aligned placement but is shorter than the
// search length. Guard gaps next to grows-down stacks are the caller's
// business (lower the window and retry, as the kernel does).
//
// Cost: O(log n) expected.
func (s *Space) HighestFit(req Request) (Addr, error) {
	f, err := s.fit("highest-fit", req)
	if err != nil {
		return 0, err
	}
	length, ok := addU64(f.size, f.mask+1-s.pageSize)
	if ok {
		if g, found := highestGap(s.gaps.root, f.window, length); found {
			start := g.End - Addr(f.size)
			start -= Addr((uint64(start) - f.offset) & f.mask)
			return start, nil
		}
	}
	return 0, &Error{Op: "highest-fit", Range: f.window, Size: req.Size, Err: ErrNoSpace,
		Detail: fmt.Sprintf("alignment %#x needs a free range of %#x bytes below %v", f.mask+1, length, f.window.End)}
}

func addU64(a, b uint64) (uint64, bool) {
	s := a + b
	return s, s >= a
}

// Check verifies every invariant of s and returns a description of the
// first violation: mappings sorted, non-empty, page-aligned, inside the
// bounds and non-overlapping; MappedBytes equal to their total; the
// free-space index equal to the complement of the mappings and internally
// consistent. It costs O(n) and is meant for tests, including users'
// property tests.
func (s *Space) Check() error {
	var (
		prev    *Mapping
		total   uint64
		complem []Range
		next    = s.bounds.Start
		err     error
	)
	s.tree.Ascend(func(e entry) bool {
		m := e.mapping()
		switch {
		case m.IsEmpty():
			err = errorf("mapping %v is empty", m)
		case !m.Start.IsAligned(s.pageSize) || !m.End.IsAligned(s.pageSize):
			err = errorf("mapping %v is not page-aligned", m)
		case !s.bounds.ContainsRange(m.Range):
			err = errorf("mapping %v lies outside the bounds %v", m, s.bounds)
		case prev != nil && prev.End > m.Start:
			err = errorf("mappings %v and %v overlap", *prev, m)
		}
		if err != nil {
			return false
		}
		if m.Start > next {
			complem = append(complem, Range{next, m.Start})
		}
		next = m.End
		total += m.Len()
		p := m
		prev = &p
		return true
	})
	if err != nil {
		return err
	}
	if next < s.bounds.End {
		complem = append(complem, Range{next, s.bounds.End})
	}
	if total != s.mapped {
		return errorf("MappedBytes is %#x, mappings add up to %#x", s.mapped, total)
	}
	gaps, err := s.gaps.check()
	if err != nil {
		return err
	}
	if len(gaps) != len(complem) {
		return errorf("gap index holds %d free ranges, the layout has %d", len(gaps), len(complem))
	}
	for i := range gaps {
		if gaps[i] != complem[i] {
			return errorf("gap index holds %v where the layout has free range %v", gaps[i], complem[i])
		}
	}
	return nil
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("vaspace: invariant broken: "+format, args...)
}
