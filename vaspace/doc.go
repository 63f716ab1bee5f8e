// Package vaspace models a process's virtual address space: a set of
// non-overlapping, named mappings inside fixed bounds, with the operations
// kernels offer on it.
//
// The operations follow the system calls they model and say so in their
// doc comments:
//
//	Map         mmap MAP_FIXED_NOREPLACE (Linux), mach_vm_map VM_FLAGS_FIXED (XNU)
//	MapReplace  mmap MAP_FIXED, mach_vm_map VM_FLAGS_FIXED|VM_FLAGS_OVERWRITE
//	Unmap       munmap, mach_vm_deallocate
//	Protect     mprotect (all-or-nothing, ENOMEM over a hole)
//	FirstFit    XNU VM_FLAGS_ANYWHERE: first fit upward from a hint
//	HighestFit  Linux top-down get_unmapped_area: highest fitting gap, placed at its top
//
// Ranges are half-open, [Start, End), and print as "[%#x, %#x)". Address
// arithmetic that can overflow reports it instead of wrapping. No
// operation panics on bad arguments: each returns an *Error whose class
// (ErrOverlap, ErrNoSpace, ...) works with errors.Is.
//
// Mappings are kept in a github.com/google/btree BTreeG; a persistent
// B+tree of free ranges carrying the largest free length per subtree makes
// placement searches O(log n), in the spirit of the Linux maple tree and
// gVisor's pkg/segment. Clone is O(1) and copy-on-write, so a simulation can
// branch from a base layout cheaply.
//
// Package vaspacetest provides pgregory.net/rapid generators of ranges,
// mappings and layouts for property tests.
package vaspace
