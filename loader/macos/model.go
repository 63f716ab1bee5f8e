package macos

import (
	"fmt"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/place"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
)

// Model is the placement model of a macOS arm64 launch: XNU's exec (the
// executable, dyld, the stack) followed by dyld4 mapping every launch-time
// image with first-fit ANYWHERE reservations, and the ANYWHERE allocations
// libmalloc makes in __malloc_init before its XZone reservation. Every
// launch-time image is mapped before that reservation: dyld runs
// libSystem's initializer, which calls __malloc_init, only after loading
// all dependents (dyld-1378 dyldMain.cpp; Libsystem-1356 init.c).
//
// Its input is a dyld.LoadOrder: the model places what resolution
// produced and never resolves again.
type Model struct {
	Platform Platform
	Dyld     DyldConfig
	Malloc   MallocConfig
}

// NewModel returns the model with the xnu-11417, dyld-1378 and
// libmalloc-792.41.1 defaults.
func NewModel() *Model {
	return &Model{Platform: DefaultPlatform, Dyld: DefaultDyld, Malloc: DefaultMalloc}
}

// The random inputs of a macOS arm64 launch, as slide.Vars.
const (
	// VarExeSlide is the main executable's ASLR slide in bytes.
	VarExeSlide slide.Var = iota
	// VarDyldSlide is dyld's own slide, added after the executable's end.
	VarDyldSlide
	// VarGuardTail is the random tail of libmalloc's guarded range.
	VarGuardTail
)

// inputNames names the Vars in reports.
var inputNames = [...]string{VarExeSlide: "exe_slide", VarDyldSlide: "dyld_slide", VarGuardTail: "guard_tail"}

// Randomness is one draw of a launch's random inputs, in bytes.
type Randomness struct {
	// ExeSlide is the executable's slide (one of Platform.ExeSlides(), or 0
	// with ASLR disabled).
	ExeSlide uint64
	// DyldSlide is dyld's slide (one of Platform.DyldSlides(), or 0).
	DyldSlide uint64
	// GuardTail is libmalloc's guarded-range tail (0..GuardedTailMax,
	// page-aligned).
	GuardTail uint64
}

// Draw returns r as a slide.Draw over the model's Vars.
func (r Randomness) Draw() slide.Draw {
	var d slide.Draw
	d[VarExeSlide], d[VarDyldSlide], d[VarGuardTail] = int64(r.ExeSlide), int64(r.DyldSlide), int64(r.GuardTail)
	return d
}

// randomnessOf is the inverse of Randomness.Draw.
func randomnessOf(d slide.Draw) Randomness {
	return Randomness{ExeSlide: uint64(d[VarExeSlide]), DyldSlide: uint64(d[VarDyldSlide]), GuardTail: uint64(d[VarGuardTail])}
}

// Process is one simulated macOS launch, up to the moment libmalloc makes
// its XZone reservation.
type Process struct {
	Draw   Randomness
	Space  *vaspace.Space
	Images []loader.PlacedImage
	// Stack is the main thread's stack; StackMoved reports that its
	// default place was taken and XNU placed it ANYWHERE.
	Stack      vaspace.Range
	StackMoved bool
	// Guarded, Arena (with its guard pages), Zone and Reclaim are
	// libmalloc's allocations before the XZone reservation (empty when not
	// made).
	Guarded, Arena, Zone, Reclaim vaspace.Range
}

// Validate checks the model's parameters.
func (d *Model) Validate() error {
	if err := d.Platform.Validate(); err != nil {
		return err
	}
	pg := d.Platform.PageSize
	for _, v := range []struct {
		name string
		n    uint64
	}{{"dyld pool", d.Dyld.Pool}, {"dyld size", d.Dyld.Size}, {"guarded range", d.Malloc.GuardedRange}, {"carveout", d.Malloc.Carveout}} {
		if v.n == 0 || v.n%pg != 0 {
			return fmt.Errorf("%s %#x is not a positive multiple of the page size %#x", v.name, v.n, pg)
		}
	}
	top := uint64(d.Platform.VATop)
	for _, v := range []struct {
		name string
		n    uint64
	}{{"dyld static pool", d.Dyld.StaticPool}, {"dyld pool", d.Dyld.Pool}, {"dyld protected stack", d.Dyld.ProtectedStack}, {"dyld pool hint", uint64(d.Dyld.PoolHint)}, {"dyld size", d.Dyld.Size},
		{"guarded range", d.Malloc.GuardedRange}, {"guarded range tail", d.Malloc.GuardedTailMax}, {"early arena", d.Malloc.EarlyArena},
		{"early arena guard", d.Malloc.EarlyArenaGuard}, {"main zone", d.Malloc.MainZone}, {"reclaim ring", d.Malloc.ReclaimRing}} {
		if v.n > top {
			return fmt.Errorf("%s %#x is beyond the VA top %#x", v.name, v.n, top)
		}
	}
	if d.Malloc.GuardedTailMax/pg > maxSupport {
		return fmt.Errorf("guarded range tail of up to %#x bytes: more than %d values to enumerate", d.Malloc.GuardedTailMax, maxSupport)
	}
	if !d.Dyld.PoolHint.IsAligned(pg) {
		return fmt.Errorf("dyld pool hint %v is not page-aligned", d.Dyld.PoolHint)
	}
	if d.Dyld.ProtectedStack%pg != 0 {
		return fmt.Errorf("dyld protected stack %#x is not a multiple of the page size %#x", d.Dyld.ProtectedStack, pg)
	}
	if d.Malloc.EarlyArenaGuard%pg != 0 {
		return fmt.Errorf("early arena guard %#x is not a multiple of the page size %#x", d.Malloc.EarlyArenaGuard, pg)
	}
	if d.Malloc.Carveout+2*pg > d.Malloc.GuardedRange {
		return fmt.Errorf("carveout %#x does not fit in the guarded range %#x", d.Malloc.Carveout, d.Malloc.GuardedRange)
	}
	return nil
}

// Launch simulates one launch of the images in order with the given
// random inputs. Randomness{} is a launch with ASLR disabled.
func (d *Model) Launch(order *dyld.LoadOrder, r Randomness) (*Process, error) {
	return d.launch(order, r.Draw())
}

func pageUp(n, page uint64) uint64 { return (n + page - 1) &^ (page - 1) }

// pages returns n bytes rounded up to the page, the size of a mapping of
// them, or an error naming what when they could not fit in the address
// space at all.
func (d *Model) pages(what string, n uint64) (uint64, error) {
	if top := uint64(d.Platform.VATop); n > top {
		return 0, fmt.Errorf("%s of %#x bytes does not fit in the %#x-byte address space", what, n, top)
	}
	return pageUp(n, d.Platform.PageSize), nil
}

// fileExtent is the size of the bytes dyld maps temporarily: the whole
// file when known (dyld-1378 mapFileReadOnly maps st_size), else the end
// of the last segment's file bytes.
func fileExtent(img *loader.ImageSpec) uint64 {
	if img.MachO != nil && img.MachO.FileSize > 0 {
		return img.MachO.FileSize
	}
	var n uint64
	for _, s := range img.Segments {
		n = max(n, s.FileOff+s.FileSize)
	}
	return n
}

// launch places a whole launch in a vaspace.Space.
func (d *Model) launch(order *dyld.LoadOrder, draw slide.Draw) (*Process, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	s, err := vaspace.New(vaspace.Range{Start: 0, End: d.Platform.VATop}, d.Platform.PageSize)
	if err != nil {
		return nil, err
	}
	t := place.NewTracker(s, draw)
	proc := &Process{Space: s}
	if err := d.placeImages(t, order, proc); err != nil {
		return nil, err
	}
	if d.Malloc.Enabled {
		if err := d.mallocInit(t, proc); err != nil {
			return nil, err
		}
	}
	return proc, nil
}

// placeImages runs exec and dyld's loading of every launch-time image.
func (d *Model) placeImages(t place.Placer, order *dyld.LoadOrder, proc *Process) error {
	plans, err := d.plan(order.Images)
	if err != nil {
		return err
	}
	if err := d.exec(t, order, proc); err != nil {
		return err
	}
	if err := d.dyldStart(t); err != nil {
		return err
	}
	return d.loadImages(t, order.Images, plans, 0, proc, nil)
}

// exec is XNU's part of a launch: platform regions, the executable, dyld
// and the main thread's stack.
func (d *Model) exec(t place.Placer, order *dyld.LoadOrder, proc *Process) error {
	p := &d.Platform
	pg := p.PageSize
	draw := t.At()
	proc.Draw = randomnessOf(draw)
	fixedConst := func(m vaspace.Mapping) error {
		return t.Fixed(m, slide.Const(int64(m.Start)), slide.Const(int64(m.End)))
	}

	// Exec: platform regions, the shared region.
	for _, m := range p.Reserved {
		if err := fixedConst(m); err != nil {
			return fmt.Errorf("platform region: %w", err)
		}
	}
	if !p.SharedRegion.IsEmpty() {
		if err := fixedConst(vaspace.Mapping{Range: p.SharedRegion, Name: "dyld shared region", Kind: vaspace.KindSharedRegion}); err != nil {
			return fmt.Errorf("shared region: %w", err)
		}
	}

	// The executable, slid as a whole; __PAGEZERO raises the map minimum
	// to its slid end (mach_loader.c load_segment, vm_map_raise_min_offset).
	exe := order.Main()
	if exe.Kind != loader.KindExecutable {
		return fmt.Errorf("%s is a %v, not an executable", exe.Label(), exe.Kind)
	}
	if err := exe.Validate(); err != nil {
		return err
	}
	exeSlide := slide.Affine{K: [slide.MaxVars]int64{VarExeSlide: 1}}
	pz := exe.PageZero()
	if pz < p.HardPageZero || pz == 0 || pz%pg != 0 {
		return fmt.Errorf("%s: __PAGEZERO of %#x bytes: a 64-bit arm64 executable needs a page-aligned hard page zero of at least %#x bytes (XNU fails the exec with LOAD_BADMACHO)", exe.Label(), pz, p.HardPageZero)
	}
	pzEnd := exeSlide.Plus(int64(pz))
	if err := t.Fixed(vaspace.Mapping{Range: vaspace.Range{Start: 0, End: vaspace.Addr(pzEnd.At(draw))}, Name: "__PAGEZERO", Kind: vaspace.KindGuard, Owner: exe.Name}, slide.Const(0), pzEnd); err != nil {
		return fmt.Errorf("%s: __PAGEZERO: %w", exe.Label(), err)
	}
	exeRes, exeStart, err := d.mapRigid(t, exe, exeSlide)
	if err != nil {
		return err
	}
	proc.Images = append(proc.Images, loader.PlacedImage{Spec: exe, Order: 0, Reservation: exeRes, Slide: draw[VarExeSlide]})

	// dyld goes right after the executable's page-rounded end plus its own
	// slide (mach_loader.c parse_machfile: slide + max_vm_addr, rounded).
	dyldSpec := order.Loader
	if dyldSpec == nil {
		dyldSpec = &loader.ImageSpec{Name: "/usr/lib/dyld", Path: "/usr/lib/dyld", Format: loader.FormatMachO, Kind: loader.KindLoader,
			Segments: []loader.Segment{{Name: "dyld (size not given)", VMAddr: 0, VMSize: d.Dyld.Size, FileSize: d.Dyld.Size, Prot: vaspace.ProtRX}}}
	}
	span, err := dyldSpec.VMSpan()
	if err != nil {
		return err
	}
	exeEnd := exeStart.Plus(int64(exeRes.Len()))
	dyldBase := exeEnd.Add(slide.Affine{K: [slide.MaxVars]int64{VarDyldSlide: 1}})
	dyldRes, _, err := d.mapRigid(t, dyldSpec, dyldBase.Plus(-int64(span.Start)))
	if err != nil {
		return err
	}
	proc.Images = append(proc.Images, loader.PlacedImage{Spec: dyldSpec, Order: -1, Reservation: dyldRes, Slide: dyldBase.At(draw) - int64(span.Start)})

	// The stack: its default place slides down with the executable; if
	// that is taken, create_unix_stack retries ANYWHERE.
	stackSize := p.StackSize
	if exe.MachO != nil && exe.MachO.StackSize > 0 {
		n := exe.MachO.StackSize
		// LC_MAIN stacksize plus a guard page (mach_loader.c load_main).
		if stackSize, err = d.pages(exe.Label()+": LC_MAIN stack size", n); err != nil {
			return err
		}
		stackSize += pg
		if stackSize+p.MaxExeSlide() > uint64(p.StackTop) {
			// XNU would underflow below address 0 and retry ANYWHERE at
			// some slides; that corner is not modelled.
			return fmt.Errorf("%s: LC_MAIN stack size %#x does not fit below the stack top %v at every slide", exe.Label(), n, p.StackTop)
		}
	}
	top := slide.Const(int64(p.StackTop)).Sub(exeSlide)
	stack := vaspace.Mapping{Name: "stack (main thread)", Kind: vaspace.KindStack, Prot: vaspace.ProtRW}
	stack.Range = vaspace.Range{Start: vaspace.Addr(top.At(draw) - int64(stackSize)), End: vaspace.Addr(top.At(draw))}
	if err := t.Fixed(stack, top.Plus(-int64(stackSize)), top); err != nil {
		stack, _, err = t.FirstFit(stack, slide.Const(0), slide.Const(int64(stackSize)))
		if err != nil {
			return fmt.Errorf("no room for the main thread's stack: %w", err)
		}
		proc.StackMoved = true
	}
	proc.Stack = stack.Range
	return nil
}

// dyldStart is what dyld maps before its first dependent: the protected
// stack, when it makes one.
func (d *Model) dyldStart(t place.Placer) error {
	if d.Dyld.ProtectedStack == 0 {
		return nil
	}
	m := vaspace.Mapping{Name: "dyld protected stack", Kind: vaspace.KindStack, Prot: vaspace.ProtRW, Owner: "/usr/lib/dyld"}
	if _, _, err := t.FirstFit(m, slide.Const(0), slide.Const(int64(d.Dyld.ProtectedStack))); err != nil {
		return fmt.Errorf("dyld protected stack: %w", err)
	}
	return nil
}

// poolsBefore returns how many bytes of allocator pools dyld holds before
// loading image i: the static pool plus every pool mapped so far.
func (d *Model) poolsBefore(i int) uint64 {
	used := uint64(i) * d.Dyld.BytesPerImage
	pool := d.Dyld.StaticPool
	if used > pool {
		pool += (used - pool + d.Dyld.Pool - 1) / d.Dyld.Pool * d.Dyld.Pool
	}
	return pool
}

// loadImages is dyld loading images order[from:] in turn: each image
// mapped, then its Loader object allocated, with a new allocator pool
// whenever the ones so far are used up. after, if set, is called after
// every image with the index of the next one.
func (d *Model) loadImages(t place.Placer, order []*loader.ImageSpec, plans []imagePlan, from int, proc *Process, after func(next int)) error {
	pool := d.poolsBefore(from)
	used := uint64(from) * d.Dyld.BytesPerImage
	allocate := func() error {
		used += d.Dyld.BytesPerImage
		for used > pool {
			m := vaspace.Mapping{Name: "dyld allocator pool", Kind: vaspace.KindAnon, Prot: vaspace.ProtRW}
			if _, _, err := t.FirstFit(m, slide.Const(int64(d.Dyld.PoolHint)), slide.Const(int64(d.Dyld.Pool))); err != nil {
				return fmt.Errorf("dyld allocator pool: %w", err)
			}
			pool += d.Dyld.Pool
		}
		return nil
	}
	for i := from; i < len(order); i++ {
		img := order[i]
		pi := loader.PlacedImage{Spec: img, Order: i}
		if i == 0 || img.InSharedCache {
			// The executable is mapped by the kernel, cache images are
			// in the shared region: only their Loader is allocated.
			if err := allocate(); err != nil {
				return err
			}
		} else {
			res, slide, err := d.mapImage(t, img, plans[i], allocate)
			if err != nil {
				return err
			}
			pi.Reservation, pi.Slide = res, slide
		}
		if i > 0 && t.Detailed() {
			proc.Images = append(proc.Images, pi)
		}
		if after != nil {
			after(i + 1)
		}
	}
	return nil
}

// mapRigid maps img's segments (without __PAGEZERO) at link address +
// by, as the kernel maps the executable and dyld, and returns the span.
func (d *Model) mapRigid(t place.Placer, img *loader.ImageSpec, by slide.Affine) (vaspace.Range, slide.Affine, error) {
	span, err := img.VMSpan()
	if err != nil {
		return vaspace.Range{}, slide.Affine{}, err
	}
	pg := d.Platform.PageSize
	length, err := d.pages(img.Label()+": span", span.Len())
	if err != nil {
		return vaspace.Range{}, slide.Affine{}, err
	}
	if span.Start > d.Platform.VATop {
		return vaspace.Range{}, slide.Affine{}, fmt.Errorf("%s is linked at %v, above the top of the address space %v", img.Label(), span.Start, d.Platform.VATop)
	}
	start := by.Plus(int64(span.Start))
	res := vaspace.Mapping{Name: img.Label() + " (span)", Kind: vaspace.KindReservation, Owner: img.Label()}
	a := start.At(t.At())
	if a < 0 || uint64(a)%pg != 0 {
		return vaspace.Range{}, slide.Affine{}, fmt.Errorf("%s: load address %#x is not page-aligned", img.Label(), a)
	}
	res.Range = vaspace.Range{Start: vaspace.Addr(a), End: vaspace.Addr(a) + vaspace.Addr(length)}
	if err := t.Fixed(res, start, start.Plus(int64(length))); err != nil {
		return vaspace.Range{}, slide.Affine{}, fmt.Errorf("%s does not fit at %v: %w", img.Label(), res.Range, err)
	}
	if err := d.mapSegments(t, img, res, start, span.Start); err != nil {
		return vaspace.Range{}, slide.Affine{}, err
	}
	return res.Range, start, nil
}

// mapSegments lays img's segments inside its reservation, each at
// reservation start + (vmaddr - span start), page-rounded.
func (d *Model) mapSegments(t place.Placer, img *loader.ImageSpec, res vaspace.Mapping, resStart slide.Affine, linkBase vaspace.Addr) error {
	if !t.Detailed() {
		return nil // segments never change a placement
	}
	pg := d.Platform.PageSize
	for _, seg := range img.Segments {
		if seg.IsPageZero() || seg.VMSize == 0 {
			continue
		}
		off := seg.VMAddr - uint64(linkBase)
		m := vaspace.Mapping{
			Range: vaspace.Range{Start: res.Start + vaspace.Addr(off), End: res.Start + vaspace.Addr(off+pageUp(seg.VMSize, pg))},
			Name:  img.Label() + " " + seg.Name, Prot: seg.Prot, Kind: vaspace.KindImage, Owner: img.Label(),
		}
		if m.End > res.End {
			m.End = res.End
		}
		if err := t.Within(res, resStart, m); err != nil {
			return fmt.Errorf("%s segment %s: %w", img.Label(), seg.Name, err)
		}
	}
	return nil
}

// named returns the mapping name for img with suffix, or just the image's
// label on a placer that keeps no names (building one per mapping shows in
// profiles of enumeration).
func named(t place.Placer, img *loader.ImageSpec, suffix string) string {
	if !t.Detailed() {
		return img.Label()
	}
	return img.Label() + suffix
}

// imagePlan is what mapping one image needs, worked out once per load
// order (Model.plan): the enumeration of every slide maps each image
// thousands of times, and checking its segments or naming it in a message
// each time showed in profiles.
type imagePlan struct {
	span      vaspace.Range // the link-time VM span
	temp, res uint64        // page-rounded sizes of the temporary file mapping and of the reservation
}

// plan checks the images dyld maps (every one but the executable and
// those in the shared cache) and returns their plans, indexed like order.
func (d *Model) plan(order []*loader.ImageSpec) ([]imagePlan, error) {
	plans := make([]imagePlan, len(order))
	for i, img := range order {
		if i == 0 || img.InSharedCache {
			continue
		}
		if err := img.Validate(); err != nil {
			return nil, err
		}
		span, err := img.VMSpan()
		if err != nil {
			return nil, err
		}
		if span.IsEmpty() {
			return nil, &loader.SpecError{Image: img.Label(), Detail: "no loadable segment"}
		}
		temp, err := d.pages(img.Label()+": file", fileExtent(img))
		if err != nil {
			return nil, err
		}
		res, err := d.pages(img.Label()+": span", span.Len())
		if err != nil {
			return nil, err
		}
		plans[i] = imagePlan{span: span, temp: temp, res: res}
	}
	return plans, nil
}

// mapImage is dyld4's mapping of one non-cache image (dyld-1378
// JustInTimeLoader::makeJustInTimeLoaderDisk, Loader::mapSegments): map the
// whole file read-only ANYWHERE, reserve the page-rounded VM span ANYWHERE,
// map the segments inside, make the image's Loader (JustInTimeLoader::make
// allocates it; allocate models that), and only then drop the temporary
// file mapping.
func (d *Model) mapImage(t place.Placer, img *loader.ImageSpec, pl imagePlan, allocate func() error) (vaspace.Range, int64, error) {
	var temp vaspace.Mapping
	var tempStart slide.Affine
	var err error
	haveTemp := false
	if d.Dyld.TemporaryFileMapping && pl.temp > 0 {
		temp, tempStart, err = t.FirstFit(vaspace.Mapping{Name: named(t, img, " (dyld temporary file mapping)"), Kind: vaspace.KindFile, Prot: vaspace.ProtRead, Owner: img.Label()}, slide.Const(0), slide.Const(int64(pl.temp)))
		if err != nil {
			return vaspace.Range{}, 0, fmt.Errorf("%s: mapping the file: %w", img.Label(), err)
		}
		haveTemp = true
	}
	res, resStart, err := t.FirstFit(vaspace.Mapping{Name: named(t, img, " (reservation)"), Kind: vaspace.KindReservation, Owner: img.Label()}, slide.Const(0), slide.Const(int64(pl.res)))
	if err != nil {
		return vaspace.Range{}, 0, fmt.Errorf("%s: reserving %#x bytes: %w", img.Label(), pl.span.Len(), err)
	}
	if err := d.mapSegments(t, img, res, resStart, pl.span.Start); err != nil {
		return vaspace.Range{}, 0, err
	}
	if err := allocate(); err != nil {
		return vaspace.Range{}, 0, err
	}
	if haveTemp {
		if err := t.Unmap(temp, tempStart, tempStart.Plus(int64(pl.temp))); err != nil {
			return vaspace.Range{}, 0, err
		}
	}
	return res.Range, int64(res.Start) - int64(pl.span.Start), nil
}

// mallocInit makes libmalloc's ANYWHERE allocations that precede the
// XZone reservation, in order: the guarded range with its carveout, the
// early arena between its guard pages (searched from the bottom), the main
// zone (hinted at the guarded range's base, so into the carveout) and the
// deferred-reclamation ring.
func (d *Model) mallocInit(t place.Placer, proc *Process) error {
	m := &d.Malloc
	pg := int64(d.Platform.PageSize)
	const owner = "libsystem_malloc.dylib"
	size := slide.Affine{C: int64(m.GuardedRange), K: [slide.MaxVars]int64{VarGuardTail: 1}}
	g, gStart, err := t.FirstFit(vaspace.Mapping{Name: "malloc guarded range", Kind: vaspace.KindGuard, Owner: owner}, slide.Const(0), size)
	if err != nil {
		return fmt.Errorf("libmalloc guarded range: %w", err)
	}
	proc.Guarded = g.Range
	carve := vaspace.Range{Start: g.Start + vaspace.Addr(pg), End: g.Start + vaspace.Addr(pg) + vaspace.Addr(m.Carveout)}
	if err := t.Punch(g, gStart, gStart.Add(size), carve); err != nil {
		return err
	}
	pgU := uint64(pg)
	for _, a := range []struct {
		name string
		kind vaspace.Kind
		hint slide.Affine
		size uint64 // 0: not made
		pad  uint64 // guard pages around it
		out  *vaspace.Range
	}{
		{"malloc early arena", vaspace.KindHeap, slide.Const(0), pageUp(m.EarlyArena, pgU), 2 * m.EarlyArenaGuard, &proc.Arena},
		{"malloc main zone", vaspace.KindHeap, gStart, pageUp(m.MainZone, pgU), 0, &proc.Zone},
		{"malloc deferred-reclaim ring", vaspace.KindAnon, slide.Const(0), pageUp(m.ReclaimRing, pgU), 0, &proc.Reclaim},
	} {
		if a.size == 0 {
			continue
		}
		r, _, err := t.FirstFit(vaspace.Mapping{Name: a.name, Kind: a.kind, Prot: vaspace.ProtRW, Owner: owner}, a.hint, slide.Const(int64(a.size+a.pad)))
		if err != nil {
			return fmt.Errorf("libmalloc %s: %w", a.name, err)
		}
		*a.out = r.Range
	}
	return nil
}
