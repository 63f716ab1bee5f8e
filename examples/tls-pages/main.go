// Command tls-pages replays the IA2 loader change "rtld: share exactly the
// initial thread's static TLS pages": a compartmentalising loader tags
// memory with protection keys and must share the pages holding the
// initial thread's static TLS, its TCB and its DTV with every
// compartment. A program whose libraries hold about 18 KiB of
// initial-exec TLS puts PartitionAlloc's per-thread bookkeeping at
// tp − 0x4018, five pages below the TCB page. The rules the change went
// through are run side by side on that layout:
//
//   - a fixed window of the TCB page and 8 pages below it: covers the
//     bookkeeping but shares pages that hold no TLS, and one
//     pkey_mprotect over the window fails with ENOMEM where it runs past
//     the minimal-malloc mapping into unmapped memory;
//   - a probe of one page below: misses the bookkeeping (the regression
//     the write-up saw in dav1d's decode);
//   - the exact range from dl_tls_static_size: every page needed, no other.
//
// The layout is glibc 2.36's on x86_64: the TLS block did not fit in the
// minimal malloc's current chunk, so ld.so mapped a fresh one just below
// the lowest mapping (libc here), as the Linux model places it; the
// program later mapped two pages below that.
package main

import (
	"fmt"
	"os"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/tls"
	"github.com/vasim/vasim/vaspace"
)

const (
	page        = 0x1000
	libcStart   = 0x7ffff7dd5000 // libc's lowest address under setarch -R (Debian 12)
	libcEnd     = 0x7ffff7fb7000
	bookkeeping = 0x4018 // PartitionAlloc's per-thread state below tp
)

// layout returns the process's initial TLS block, its DTV allocation and
// the mappings around them.
func layout() (tls.InitialBlock, vaspace.Range, *vaspace.Space, error) {
	prof, err := tls.GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64)
	if err != nil {
		return tls.InitialBlock{}, vaspace.Range{}, nil, err
	}
	libc := &tls.Module{Name: "libc.so.6", TLS: &loader.TLSBlock{MemSize: 144, Align: 8}}
	pa := &tls.Module{Name: "libpartition_alloc.so", TLS: &loader.TLSBlock{MemSize: 18592, Align: 64},
		Relocs: []tls.Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}}
	main := &tls.Module{Name: "dav1d", Main: true, Deps: []*tls.Module{libc, pa}}
	g, err := tls.StartGlibc(prof, []*tls.Module{main, pa, libc}, tls.StartOptions{Tunables: tls.DefaultTunables()})
	if err != nil {
		return tls.InitialBlock{}, vaspace.Range{}, nil, err
	}
	st := g.Static()
	probe, err := prof.InitialThreadBlock(st, 0, page)
	if err != nil {
		return tls.InitialBlock{}, vaspace.Range{}, nil, err
	}
	// ld.so's minimal malloc: the block does not fit the current chunk,
	// so a chunk of its size rounded up plus a page is mapped top-down,
	// right below libc; the DTV (16 bytes per slot, 2 + 14 surplus + one
	// per module) follows the block, 16-byte aligned.
	n := probe.Alloc.Len()
	chunk := (n+page-1)/page*page + page
	start := vaspace.Addr(libcStart - chunk)
	space := vaspace.MustNew(vaspace.Range{Start: 0x10000, End: 0x7ffffffff000}, page)
	// After start-up the program maps two more pages (an mmap'd buffer)
	// right below, top-down; below those nothing is mapped.
	buffer := vaspace.Range{Start: start - 2*page, End: start}
	for _, m := range []vaspace.Mapping{
		{Range: vaspace.Range{Start: libcStart, End: libcEnd}, Name: "libc.so.6", Prot: vaspace.ProtRX, Kind: vaspace.KindImage},
		{Range: vaspace.Range{Start: start, End: libcStart}, Name: "ld.so malloc", Prot: vaspace.ProtRW, Kind: vaspace.KindHeap},
		{Range: buffer, Name: "a later mmap", Prot: vaspace.ProtRW, Kind: vaspace.KindAnon},
	} {
		if err := space.Map(m); err != nil {
			return tls.InitialBlock{}, vaspace.Range{}, nil, err
		}
	}
	b, err := prof.InitialThreadBlock(st, start, page)
	if err != nil {
		return tls.InitialBlock{}, vaspace.Range{}, nil, err
	}
	dtvStart := (b.Alloc.End + 15) &^ 15
	dtv := vaspace.Range{Start: dtvStart, End: dtvStart + 16*(2+14+2)}
	return b, dtv, space, nil
}

func main() {
	b, dtv, space, err := layout()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls-pages:", err)
		os.Exit(1)
	}
	bk := b.TP - bookkeeping
	fmt.Printf("thread pointer %v; static TLS %v (%s); TCB %v; DTV %v\n", b.TP, b.Static, vaspace.Size(b.Static.Len()), b.TCB, dtv)
	fmt.Printf("PartitionAlloc's bookkeeping at tp-%#x = %v, %d pages below the TCB page\n\n", bookkeeping, bk, (b.TP.RoundDown(page)-bk.RoundDown(page))/page)
	for _, r := range tls.ComparePages(b, dtv, space, []vaspace.Addr{bk}, tls.Strategies) {
		cover := "misses the bookkeeping"
		if r.Covers[bk] {
			cover = "covers the bookkeeping"
		}
		fmt.Printf("%-40s %2d pages, %d shared for no reason, %d missed; %s\n", r.Strategy.Name+":", len(r.Pages), len(r.Extra), len(r.Missed), cover)
		if r.OneCall != nil {
			fmt.Printf("%-40s one pkey_mprotect over the interval fails with ENOMEM (%v is unmapped); page by page, %d pages cannot be tagged\n", "", holeOf(r.OneCall), len(r.Unmapped))
		}
	}
}

func holeOf(err error) vaspace.Range {
	if e, ok := err.(*vaspace.Error); ok {
		return e.Hole
	}
	return vaspace.Range{}
}
