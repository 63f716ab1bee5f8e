package tls

import (
	"fmt"

	"github.com/vasim/vasim/vaspace"
)

// InitialBlock is where the initial thread's static TLS lives, as glibc's
// init_tls allocates it (elf/rtld.c init_tls, elf/dl-tls.c
// _dl_allocate_tls_storage, elf/dl-tls_block_align.h): one allocation of
// AllocSize bytes from the loader's minimal malloc at Alloc.Start.
type InitialBlock struct {
	// Alloc is the minimal-malloc allocation [p, p+n), n = block +
	// static_align + 8 (block = static_size; plus TLS_PRE_TCB_SIZE on
	// variant I).
	Alloc vaspace.Range
	// TP is the thread pointer.
	TP vaspace.Addr
	// Static is the static TLS area: [tp-(static_size-TLS_TCB_SIZE), tp)
	// on variant II, [tp, tp+static_size) on variant I.
	Static vaspace.Range
	// TCB is the thread control block: [tp, tp+TLS_TCB_SIZE) on variant II
	// (struct pthread), [tp-TLS_PRE_TCB_SIZE, tp+16) on variant I
	// (struct pthread before tp, tcbhead_t after).
	TCB vaspace.Range
	// Pages is the page-aligned range covering static TLS and TCB: what a
	// loader must share with a compartment that touches the initial
	// thread's TLS (the IA2 rtld change).
	Pages vaspace.Range
}

// InitialThreadBlock computes the initial thread's TLS placement for a
// minimal-malloc result p (the address init_tls's allocation returned) and
// a page size, from the profile and the static TLS state after start-up.
// The variant II layout follows the measured Debian 2.36 figures (a 4224
// byte static size gives 4224+64+8 = 4296 bytes); variant I uses
// Profile.PreTCBSize, which is not measured.
func (p Profile) InitialThreadBlock(st StaticInfo, malloc vaspace.Addr, pageSize uint64) (InitialBlock, error) {
	if pageSize == 0 || pageSize&(pageSize-1) != 0 {
		return InitialBlock{}, fmt.Errorf("tls: page size %d is not a power of two", pageSize)
	}
	if st.Align == 0 || st.Align&(st.Align-1) != 0 {
		return InitialBlock{}, fmt.Errorf("tls: static TLS alignment %d is not a power of two", st.Align)
	}
	block := st.Size
	if p.Variant == VariantI {
		block += p.PreTCBSize
	}
	n := block + st.Align + 8
	alloc, ok := vaspace.RangeOf(malloc, n)
	if !ok {
		return InitialBlock{}, fmt.Errorf("tls: allocation of %d bytes at %v overflows", n, malloc)
	}
	var b InitialBlock
	b.Alloc = alloc
	if p.Variant == VariantII {
		a := vaspace.Addr(roundUp(uint64(malloc), st.Align))
		b.TP = a + vaspace.Addr(st.Size-p.TCBSize)
		b.Static = vaspace.Range{Start: a, End: b.TP}
		b.TCB = vaspace.Range{Start: b.TP, End: b.TP + vaspace.Addr(p.TCBSize)}
		b.Pages = vaspace.Range{Start: a.RoundDown(pageSize), End: vaspace.Addr(roundUp(uint64(a)+st.Size, pageSize))}
	} else {
		b.TP = vaspace.Addr(roundUp(uint64(malloc)+8+p.PreTCBSize, st.Align))
		b.Static = vaspace.Range{Start: b.TP, End: b.TP + vaspace.Addr(st.Size)}
		b.TCB = vaspace.Range{Start: b.TP - vaspace.Addr(p.PreTCBSize), End: b.TP + 16}
		start := b.TP - vaspace.Addr(p.PreTCBSize)
		b.Pages = vaspace.Range{Start: start.RoundDown(pageSize), End: vaspace.Addr(roundUp(uint64(b.Static.End), pageSize))}
	}
	if !alloc.ContainsRange(vaspace.Range{Start: b.Static.Start, End: b.Static.End}) {
		return InitialBlock{}, fmt.Errorf("tls: static area %v outside the allocation %v", b.Static, alloc)
	}
	return b, nil
}
