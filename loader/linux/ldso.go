package linux

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/vaspace"
)

// rtld is glibc's ld.so at work in one process: its minimal malloc
// (elf/dl-minimal-malloc.c) and its mappings (elf/dl-map-segments.h,
// elf/dl-cache.c), over the process's MM. It implements ldso.Memory.
type rtld struct {
	mm *MM
	// allocPtr, allocEnd and last are the minimal malloc's alloc_ptr,
	// alloc_end and alloc_last_block; allocEnd 0 means not started.
	allocPtr, allocEnd, last uint64
	// end is ld.so's _end: the first allocations use the rest of its
	// last page.
	end uint64
	// owner is ld.so's file, the owner of the minimal malloc's chunks.
	owner string
	// cache is ld.so.cache's mapping while it is mapped.
	cache     vaspace.Range
	cachePath string
	// images collects what MapObject placed, by object.
	images map[*ldso.Object]*Image
	order  []*ldso.Object
	// realPath maps a host path to the path /proc/PID/maps shows.
	realPath func(host string) string
	fsOf     func(host string) string
	// record, when set, receives every operation (see Program), and
	// blocks maps an address to the op that allocated it.
	record *[]op
	blocks map[uint64]int
}

// log records an operation when recording.
func (r *rtld) log(o op) {
	if r.record != nil {
		*r.record = append(*r.record, o)
	}
}

// refOf is the op that allocated block p (-1 when none did).
func (r *rtld) refOf(p uint64) int {
	if i, ok := r.blocks[p]; ok && p != 0 {
		return i
	}
	return -1
}

// noteBlock remembers that the op just logged allocated p.
func (r *rtld) noteBlock(p uint64) {
	if r.record != nil {
		if r.blocks == nil {
			r.blocks = map[uint64]int{}
		}
		r.blocks[p] = len(*r.record) - 1
	}
}

// mallocAlignment is MALLOC_ALIGNMENT on x86_64 (and aarch64):
// 2 × sizeof(size_t) = 16.
const mallocAlignment = 16

// Malloc is __minimal_malloc: bump allocation from the current chunk,
// which starts as the tail of ld.so's last page; an allocation that does
// not fit (or fits exactly) maps a new chunk of its size rounded up to a
// page plus one page, abandoning the old chunk unless the new one lies
// just above it.
func (r *rtld) Malloc(n uint64) (uint64, error) {
	r.log(op{kind: opMalloc, n: n})
	p, err := r.malloc(n)
	r.noteBlock(p)
	return p, err
}

func (r *rtld) malloc(n uint64) (uint64, error) {
	page := r.mm.k.PageSize
	if r.allocEnd == 0 {
		r.allocPtr = r.end
		r.allocEnd = alignUp(r.end, page)
	}
	r.allocPtr = alignUp(r.allocPtr, mallocAlignment)
	if r.allocPtr+n >= r.allocEnd || n >= -r.allocPtr {
		nup := alignUp(n, page)
		if nup < n {
			return 0, fmt.Errorf("ld.so: malloc(%d): %w", n, ErrNoMemory)
		}
		nup += page
		m, err := r.mm.Mmap(MmapRequest{Len: nup, Mapping: vaspace.Mapping{Name: "ld.so malloc", Owner: r.owner, Prot: vaspace.ProtRW, Kind: vaspace.KindHeap}})
		if err != nil {
			return 0, fmt.Errorf("ld.so: malloc(%d): %w", n, err)
		}
		if uint64(m.Start) != r.allocEnd {
			r.allocPtr = uint64(m.Start)
		}
		r.allocEnd = uint64(m.End)
	}
	r.last = r.allocPtr
	r.allocPtr += n
	return r.last, nil
}

// Free is __minimal_free: only the last block is given back.
func (r *rtld) Free(p uint64) {
	r.log(op{kind: opFree, ref: r.refOf(p)})
	if p == r.last && p != 0 {
		r.allocPtr = r.last
	}
}

// Realloc is __minimal_realloc, which only ever grows the last block.
func (r *rtld) Realloc(p, n uint64) (uint64, error) {
	r.log(op{kind: opRealloc, n: n, ref: r.refOf(p)})
	if p != 0 {
		if p != r.last {
			return 0, fmt.Errorf("ld.so: realloc of %#x, which is not the last block %#x", p, r.last)
		}
		r.allocPtr = r.last
	}
	q, err := r.malloc(n)
	r.noteBlock(q)
	return q, err
}

// MapCache maps ld.so.cache read-only, anywhere.
func (r *rtld) MapCache(size uint64) error {
	r.log(op{kind: opMapCache, n: size})
	f := &File{Path: r.cachePath, FS: r.fsOf(r.cachePath)}
	m, err := r.mm.Mmap(MmapRequest{Len: size, File: f, Mapping: vaspace.Mapping{Name: r.cachePath, Prot: vaspace.ProtRead, Kind: vaspace.KindFile}})
	if err != nil {
		return fmt.Errorf("ld.so: mapping %s: %w", r.cachePath, err)
	}
	r.cache = m.Range
	return nil
}

// unmapCache is _dl_unload_cache.
func (r *rtld) unmapCache() error {
	r.log(op{kind: opUnmapCache})
	if r.cache.IsEmpty() {
		return nil
	}
	err := r.mm.Munmap(r.cache)
	r.cache = vaspace.Range{}
	return err
}

// MapObject is _dl_map_segments (glibc 2.36 elf/dl-map-segments.h) for a
// new object: one mapping of the whole span with the first segment's file
// and protection (or, when a segment asks for more than page alignment,
// an anonymous reservation of the span plus the alignment, the file mapped
// at the first aligned address in it, and the rest unmapped), the holes
// between segments made inaccessible, each later segment mapped over its
// place, and each segment's zero-fill pages beyond its file part mapped
// anonymous.
func (r *rtld) MapObject(o *ldso.Object) error {
	r.log(op{kind: opMapObject, obj: o})
	img, err := r.mapSegments(o.Spec, o.HostPath)
	if err != nil {
		return fmt.Errorf("ld.so: mapping %s: %w", o.Path, err)
	}
	img.Path = o.Path
	r.images[o] = img
	r.order = append(r.order, o)
	return nil
}

// unmapObject is _dl_unmap (elf/dl-unmap-segments.h) for an object a
// failed dlopen loaded: _dl_close_worker unmaps its whole span, from
// l_map_start to l_map_end.
func (r *rtld) unmapObject(o *ldso.Object) error {
	r.log(op{kind: opUnmapObject, obj: o})
	img := r.images[o]
	if img == nil {
		return fmt.Errorf("linux: %s was loaded but not mapped", o.Label())
	}
	delete(r.images, o)
	return r.mm.Munmap(img.Span)
}

type loadCmd struct {
	mapStart, mapEnd, dataEnd, allocEnd, mapOff uint64
	prot                                        vaspace.Prot
}

func (r *rtld) mapSegments(s *loader.ImageSpec, host string) (*Image, error) {
	mm := r.mm
	page := mm.k.PageSize
	if len(s.Segments) == 0 {
		return nil, fmt.Errorf("no PT_LOAD segments")
	}
	var cmds []loadCmd
	var align uint64
	holes := false
	for _, seg := range s.Segments {
		c := loadCmd{
			mapStart: alignDown(seg.VMAddr, page),
			mapEnd:   alignUp(seg.VMAddr+seg.FileSize, page),
			dataEnd:  seg.VMAddr + seg.FileSize,
			allocEnd: seg.VMAddr + seg.VMSize,
			mapOff:   alignDown(seg.FileOff, page),
			prot:     seg.Prot,
		}
		if n := len(cmds); n > 0 && cmds[n-1].mapEnd != c.mapStart {
			holes = true
		}
		cmds = append(cmds, c)
		if vaspace.IsPow2(seg.Align) && seg.Align > align {
			align = seg.Align
		}
	}
	first, last := cmds[0], cmds[len(cmds)-1]
	if last.allocEnd < first.mapStart {
		return nil, fmt.Errorf("segments out of order: the last ends at %#x, below the first's start %#x", last.allocEnd, first.mapStart)
	}
	maplength := last.allocEnd - first.mapStart
	path := r.realPath(host)
	f := &File{Path: path, FS: r.fsOf(host)}
	seg := func(start, end, off uint64, p vaspace.Prot) vaspace.Mapping {
		return vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(end)}, Name: path, Owner: path, Prot: p, Kind: vaspace.KindImage, Offset: off}
	}
	var start uint64
	if align <= page {
		m, err := mm.Mmap(MmapRequest{Len: maplength, File: f, Offset: first.mapOff, Mapping: seg(0, 0, 0, first.prot)})
		if err != nil {
			return nil, err
		}
		start = uint64(m.Start)
	} else {
		resLen := 2 * align
		if maplength >= align {
			resLen = maplength + align
		}
		res, err := mm.Mmap(MmapRequest{Len: resLen, Mapping: vaspace.Mapping{Name: "reservation for " + path, Kind: vaspace.KindReservation}})
		if err != nil {
			return nil, err
		}
		start = alignUp(uint64(res.Start), align)
		if err := mm.MapFixed(seg(start, start+alignUp(maplength, page), first.mapOff, first.prot)); err != nil {
			return nil, err
		}
		if start > uint64(res.Start) {
			if err := mm.Munmap(vaspace.Range{Start: res.Start, End: vaspace.Addr(start)}); err != nil {
				return nil, err
			}
		}
		if e := alignUp(start+maplength, page); e < uint64(res.End) {
			if err := mm.Munmap(vaspace.Range{Start: vaspace.Addr(e), End: res.End}); err != nil {
				return nil, err
			}
		}
	}
	base := start - first.mapStart
	if holes {
		if err := mm.Mprotect(vaspace.Range{Start: vaspace.Addr(base + first.mapEnd), End: vaspace.Addr(base + last.mapStart)}, vaspace.ProtNone); err != nil {
			return nil, err
		}
	}
	for i, c := range cmds {
		if i > 0 && c.mapEnd > c.mapStart {
			if err := mm.MapFixed(seg(base+c.mapStart, base+c.mapEnd, c.mapOff, c.prot)); err != nil {
				return nil, err
			}
		}
		if c.allocEnd > c.dataEnd {
			zero, zeroEnd := base+c.dataEnd, base+c.allocEnd
			zeroPage := min(alignUp(zero, page), zeroEnd)
			if zeroEnd > zeroPage {
				bss := vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(zeroPage), End: vaspace.Addr(alignUp(zeroEnd, page))},
					Name: "bss of " + path, Owner: path, Prot: c.prot, Kind: vaspace.KindImage}
				if err := mm.MapFixed(bss); err != nil {
					return nil, err
				}
			}
		}
	}
	return &Image{File: path, Bias: base, Span: vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(alignUp(start+maplength, page))}, Spec: s, Group: GroupMmap}, nil
}

// relro records and applies RELRO for obj (nil: the program, interp:
// ld.so, else a mapped library).
func (r *rtld) relro(obj *ldso.Object, x *Exec, interp *ldso.Object) error {
	r.log(op{kind: opRELRO, obj: obj})
	var img *Image
	switch {
	case obj == nil:
		img = x.Exe
	case obj == interp:
		img = x.Interp
	default:
		img = r.images[obj]
	}
	if img == nil {
		return fmt.Errorf("linux: %s was loaded but not mapped", obj.Label())
	}
	return protectRELRO(r.mm, img)
}

// heap records and performs libc malloc's first brk.
func (r *rtld) heap() error {
	r.log(op{kind: opHeap})
	return createHeap(r.mm)
}

// protectRELRO is _dl_protect_relro: after relocation the PT_GNU_RELRO
// range, shrunk to whole pages, becomes read-only.
func protectRELRO(mm *MM, img *Image) error {
	e := img.Spec.ELF
	if e == nil || e.RELROSize == 0 {
		return nil
	}
	page := mm.k.PageSize
	start := alignDown(img.Bias+e.RELROAddr, page)
	end := alignDown(img.Bias+e.RELROAddr+e.RELROSize, page)
	if end <= start {
		return nil
	}
	return mm.Mprotect(vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(end)}, vaspace.ProtRead)
}

// uniqueSymbols counts the STB_GNU_UNIQUE symbols ld.so enters in its
// unique-symbol table while relocating the search list at start-up
// (elf/dl-lookup.c do_lookup_unique): names referenced by a dynamic
// relocation (PLT ones only when bound now) whose first definition in the
// search list is unique. C++ libraries (libstdc++) define them. The
// symbol tables are read raw and names compared without copying, since a
// large program's libraries hold hundreds of thousands of symbols.
func uniqueSymbols(objs []*ldso.Object) (int, error) {
	type table struct {
		f        *elf.File
		sym, str []byte
	}
	tabs := make([]table, len(objs))
	defer func() {
		for _, t := range tabs {
			if t.f != nil {
				t.f.Close()
			}
		}
	}()
	// The names some object defines as unique.
	unique := map[string]bool{}
	for i, o := range objs {
		f, err := elf.Open(o.HostPath)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", o.Label(), err)
		}
		tabs[i].f = f
		if f.Class != elf.ELFCLASS64 {
			return 0, fmt.Errorf("%s: only 64-bit objects are modelled", o.Label())
		}
		ds := f.SectionByType(elf.SHT_DYNSYM)
		if ds == nil || ds.Link == 0 || int(ds.Link) >= len(f.Sections) {
			continue
		}
		if tabs[i].sym, err = ds.Data(); err != nil {
			return 0, fmt.Errorf("%s: .dynsym: %w", o.Label(), err)
		}
		if tabs[i].str, err = f.Sections[ds.Link].Data(); err != nil {
			return 0, fmt.Errorf("%s: .dynstr: %w", o.Label(), err)
		}
		eachSym(f, tabs[i].sym, tabs[i].str, func(_ int, name []byte, bind elf.SymBind, defined bool) {
			if defined && bind == stbGNUUnique {
				unique[string(name)] = true
			}
		})
	}
	if len(unique) == 0 {
		return 0, nil
	}
	// Each object's first definition of those names.
	defs := make([]map[string]elf.SymBind, len(objs))
	for i, t := range tabs {
		defs[i] = map[string]elf.SymBind{}
		eachSym(t.f, t.sym, t.str, func(_ int, name []byte, bind elf.SymBind, defined bool) {
			if defined && unique[string(name)] {
				if _, ok := defs[i][string(name)]; !ok {
					defs[i][string(name)] = bind
				}
			}
		})
	}
	names := map[string]bool{}
	for i, o := range objs {
		t := tabs[i]
		// The candidates' symbol indexes in this object.
		cand := map[uint32]string{}
		eachSym(t.f, t.sym, t.str, func(idx int, name []byte, _ elf.SymBind, _ bool) {
			if unique[string(name)] {
				cand[uint32(idx)] = string(name)
			}
		})
		if len(cand) == 0 {
			continue
		}
		bindNow := o.Spec.ELF != nil && o.Spec.ELF.BindNow()
		for _, sec := range t.f.Sections {
			if sec.Type != elf.SHT_RELA || sec.Name == ".rela.plt" && !bindNow {
				continue
			}
			if int(sec.Link) >= len(t.f.Sections) || t.f.Sections[sec.Link].Type != elf.SHT_DYNSYM {
				continue
			}
			data, err := sec.Data()
			if err != nil {
				return 0, fmt.Errorf("%s: %s: %w", o.Label(), sec.Name, err)
			}
			for off := 0; off+24 <= len(data); off += 24 {
				name, ok := cand[uint32(t.f.ByteOrder.Uint64(data[off+8:])>>32)]
				if !ok {
					continue
				}
				for _, d := range defs {
					if b, ok := d[name]; ok {
						if b == stbGNUUnique {
							names[name] = true
						}
						break
					}
				}
			}
		}
	}
	return len(names), nil
}

// stbGNUUnique is STB_GNU_UNIQUE (10), which debug/elf does not name.
const stbGNUUnique elf.SymBind = 10

// eachSym walks raw Elf64_Sym entries (skipping the null symbol), giving
// each one's index, name (aliasing str, any "@version" cut), binding and
// whether it is defined.
func eachSym(f *elf.File, sym, str []byte, fn func(idx int, name []byte, bind elf.SymBind, defined bool)) {
	for idx, off := 1, 24; off+24 <= len(sym); idx, off = idx+1, off+24 {
		nameOff := f.ByteOrder.Uint32(sym[off:])
		if int(nameOff) >= len(str) {
			continue
		}
		name := str[nameOff:]
		if j := bytes.IndexByte(name, 0); j >= 0 {
			name = name[:j]
		}
		if j := bytes.IndexByte(name, '@'); j >= 0 {
			name = name[:j]
		}
		shndx := f.ByteOrder.Uint16(sym[off+6:])
		fn(idx, name, elf.SymBind(sym[off+4]>>4), shndx != uint16(elf.SHN_UNDEF))
	}
}

// uniqueTable replays the unique-symbol table's allocations for n
// insertions: 31 entries of 32 bytes at the first, then a larger prime
// size each time the table is three quarters full, the old table freed.
func uniqueTable(heap *rtld, n int) error {
	primes := []uint64{7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213}
	var size, table uint64
	for k := 0; k < n; k++ {
		switch {
		case size == 0:
			size = 31
		case size*3 <= uint64(k)*4:
			next := uint64(0)
			for _, p := range primes {
				if p >= size+1 {
					next = p
					break
				}
			}
			if next == 0 {
				return fmt.Errorf("ld.so: %d unique symbols: beyond the modelled table sizes", n)
			}
			size = next
		default:
			continue
		}
		p, err := heap.Malloc(32 * size)
		if err != nil {
			return err
		}
		if table != 0 {
			heap.Free(table)
		}
		table = p
	}
	return nil
}

// realPathIn returns a function giving the path the kernel shows for a
// host file: symlinks resolved, the sysroot taken off.
func realPathIn(sysroot string) func(string) string {
	return func(host string) string {
		p := host
		if r, err := filepath.EvalSymlinks(host); err == nil {
			p = r
		}
		if a, err := filepath.Abs(p); err == nil {
			p = a
		}
		if sysroot != "" {
			if root, err := filepath.Abs(sysroot); err == nil {
				if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
					return "/" + rel
				}
			}
		}
		return p
	}
}
