package vaspace_test

import (
	"errors"
	"fmt"

	"github.com/vasim/vasim/vaspace"
)

func ExampleRange() {
	r := vaspace.Range{Start: 0x1000, End: 0x3000}
	o := vaspace.Range{Start: 0x2000, End: 0x5000}
	fmt.Println(r, r.Len(), r.Contains(0x2fff), r.Contains(0x3000))
	fmt.Println(r.Overlaps(o), r.Intersect(o))
	_, ok := vaspace.RangeOf(0xffffffffffff0000, 0x20000)
	fmt.Println("fits in 64 bits:", ok)
	// Output:
	// [0x1000, 0x3000) 8192 true false
	// true [0x2000, 0x3000)
	// fits in 64 bits: false
}

func ExampleAddr_RoundUp() {
	a := vaspace.Addr(0x401d04000)
	up, _ := a.RoundUp(32 << 20)
	fmt.Println(a.RoundDown(32<<20), up)
	_, ok := vaspace.Addr(0xfffffffffffff001).RoundUp(0x1000)
	fmt.Println("overflow-free:", ok)
	// Output:
	// 0x400000000 0x402000000
	// overflow-free: false
}

// Map is MAP_FIXED_NOREPLACE / VM_FLAGS_FIXED: it fails on any overlap and
// names the first mapping hit.
func ExampleSpace_Map() {
	s := vaspace.MustNew(vaspace.Range{Start: 0, End: 0x7ffffe000000}, 0x4000)
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x400000000, End: 0x402100000}, Name: "libbig.dylib", Kind: vaspace.KindImage})

	err := s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x402000000, End: 0xa02000000}, Name: "xzone", Kind: vaspace.KindReservation})
	fmt.Println(err)
	var e *vaspace.Error
	if errors.Is(err, vaspace.ErrOverlap) && errors.As(err, &e) {
		fmt.Println("blame:", e.Hit.Name)
	}
	// Output:
	// vaspace: map [0x402000000, 0xa02000000) "xzone": address range overlaps an existing mapping: first hit [0x400000000, 0x402100000) --- image "libbig.dylib"
	// blame: libbig.dylib
}

// HighestFit is Linux's top-down search: the highest free range below the
// ceiling that is long enough, with the mapping flush against its top.
func ExampleSpace_HighestFit() {
	s := vaspace.MustNew(vaspace.Range{Start: 0x1000, End: 0x7ffffffff000}, 0x1000)
	base := vaspace.Range{Start: 0x1000, End: 0x7ffff7fff000} // below mmap_base
	for _, m := range []struct {
		name string
		size uint64
	}{{"ld.so", 0x2b000}, {"minimal malloc", 0x2000}, {"ld.so.cache", 0x9000}, {"libc.so.6", 0x1e2000}} {
		a, err := s.HighestFit(vaspace.Request{Size: m.size, Window: base})
		if err != nil {
			panic(err)
		}
		_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: a, End: a + vaspace.Addr(m.size)}, Name: m.name})
	}
	for m := range s.All() {
		fmt.Println(m.Range, m.Name)
	}
	// Output:
	// [0x7ffff7de7000, 0x7ffff7fc9000) libc.so.6
	// [0x7ffff7fc9000, 0x7ffff7fd2000) ld.so.cache
	// [0x7ffff7fd2000, 0x7ffff7fd4000) minimal malloc
	// [0x7ffff7fd4000, 0x7ffff7fff000) ld.so
}

// FirstFit is XNU's ANYWHERE placement: the lowest hole at or above the
// hint that holds the request.
func ExampleSpace_FirstFit() {
	s := vaspace.MustNew(vaspace.Range{Start: 0x100000000, End: 0x7ffffe000000}, 0x4000)
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x100000000, End: 0x100400000}, Name: "exe"})
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x100408000, End: 0x100500000}, Name: "dyld"})
	small, _ := s.FirstFit(0, vaspace.Request{Size: 0x4000})
	large, _ := s.FirstFit(0, vaspace.Request{Size: 0x10000})
	aligned, _ := s.FirstFit(0, vaspace.Request{Size: 0x4000, Align: 32 << 20})
	fmt.Println(small, large, aligned)
	// Output: 0x100400000 0x100500000 0x102000000
}

// Protect follows mprotect: all or nothing, failing over a hole.
func ExampleSpace_Protect() {
	s := vaspace.MustNew(vaspace.Range{Start: 0x10000, End: 0x100000}, 0x1000)
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x20000, End: 0x24000}, Name: "a", Prot: vaspace.ProtRW})
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x25000, End: 0x26000}, Name: "b", Prot: vaspace.ProtRW})
	fmt.Println(s.Protect(vaspace.Range{Start: 0x22000, End: 0x26000}, vaspace.ProtRead))
	fmt.Println(s.Protect(vaspace.Range{Start: 0x22000, End: 0x23000}, vaspace.ProtRead))
	for m := range s.All() {
		fmt.Println(m)
	}
	// Output:
	// vaspace: protect [0x22000, 0x26000): address range is not fully mapped: [0x24000, 0x25000) is unmapped
	// <nil>
	// [0x20000, 0x22000) rw- anon "a"
	// [0x22000, 0x23000) r-- anon "a"
	// [0x23000, 0x24000) rw- anon "a"
	// [0x25000, 0x26000) rw- anon "b"
}

// Clone is O(1): a simulation branches from a base layout and each branch
// changes only itself.
func ExampleSpace_Clone() {
	base := vaspace.MustNew(vaspace.Range{Start: 0x10000, End: 0x100000}, 0x1000)
	_ = base.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x20000, End: 0x30000}, Name: "image"})
	branch := base.Clone()
	_ = branch.Unmap(vaspace.Range{Start: 0x20000, End: 0x28000})
	fmt.Println(base.MappedBytes(), branch.MappedBytes())
	// Output: 65536 32768
}

func ExampleSpace_Gaps() {
	s := vaspace.MustNew(vaspace.Range{Start: 0x10000, End: 0x100000}, 0x1000)
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x20000, End: 0x30000}})
	_ = s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 0x40000, End: 0x50000}})
	for g := range s.Gaps(vaspace.Range{Start: 0x18000, End: 0x60000}) {
		fmt.Println(g)
	}
	// Output:
	// [0x18000, 0x20000)
	// [0x30000, 0x40000)
	// [0x50000, 0x60000)
}

func ExampleSize() {
	for _, n := range []uint64{512, 32 << 20, 0x41d8a8000, 0x1000b8000, 1<<40 + 1<<39} {
		fmt.Println(vaspace.Size(n))
	}
	// Output:
	// 512 B
	// 32 MiB
	// 16.46 GiB
	// 4 GiB
	// 1.5 TiB
}
