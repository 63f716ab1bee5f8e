package macos

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vasim/vasim/vaspace"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// Platform is the macOS arm64 user address space as XNU builds it at
// exec, before dyld runs. Values are from xnu-11417 (macOS 15.5; no macOS
// 26 XNU is published).
type Platform struct {
	Name string
	// PageSize is 16 KiB (ARM_PGSHIFT 14 under __ARM_16K_PG__;
	// osfmk/arm64/proc_reg.h).
	PageSize uint64
	// VATop is the end of the user map: 0x7FFFFE000000 on macOS/DriverKit
	// (osfmk/mach/arm/vm_param.h; vm_map.c vm_compute_max_offset).
	VATop vaspace.Addr
	// Reserved are the PROT_NONE regions XNU enters into every 64-bit arm64
	// user map at exec (osfmk/arm64/machine_routines.c vm_reserved_regions):
	// the commpage nesting region [63, 64) GiB and the GPU carveout
	// [64, 448) GiB.
	Reserved []vaspace.Mapping
	// HardPageZero is the least __PAGEZERO a 64-bit arm64 executable must
	// have: load_machfile fails the exec with LOAD_BADMACHO unless the map
	// minimum it raises is at least 4 GiB
	// (bsd/kern/mach_loader.c, vm_map_has_hard_pagezero(map, 0x100000000)).
	// The kernel checks the slid end; the model checks the unslid size, as
	// the slide is 0 when ASLR is disabled.
	HardPageZero uint64
	// SharedRegion is where the dyld shared cache is nested: base and size
	// both 0x180000000, so [6, 12) GiB (osfmk/mach/shared_region.h). An
	// empty range leaves it out of the modelled space; see
	// the chromium-browser-tests scenario for why a preset may do that.
	SharedRegion vaspace.Range
	// StackTop is the default top of the main thread's stack, USRSTACK64
	// 0x16FE00000 (bsd/arm/vmparam.h); the stack slides down by the
	// executable's slide (bsd/kern/mach_loader.c load_main).
	StackTop vaspace.Addr
	// StackSize is the stack allocation, MAXSSIZ = 64 MiB, used when
	// LC_MAIN gives no stack size (bsd/arm/vmparam.h; mach_loader.c
	// load_main). If the default place is taken, create_unix_stack
	// (bsd/kern/kern_exec.c) retries ANYWHERE.
	StackSize uint64
	// ExeSlideSections and ExeSlideSectionSize give the coarse part of the
	// executable's slide, (random() % 3) × ARM_TT_TWIG_SIZE (32 MiB), and
	// ExeSlidePages the fine part, ((random() % (1024-1)) + 1) pages
	// (osfmk/vm/vm_map.c vm_map_get_max_aslr_slide_section and
	// vm_map_get_max_aslr_slide_pages: 1 << (24 - 14)).
	ExeSlideSections    int64
	ExeSlideSectionSize uint64
	ExeSlidePages       int64
	// DyldSlidePages gives dyld's slide, ((random() % (256-1)) + 1) pages
	// after the executable's page-rounded end (vm_map.c
	// vm_map_get_max_loader_aslr_slide_pages: 1 << (22 - 14);
	// mach_loader.c parse_machfile).
	DyldSlidePages int64
}

// MacOS15 is macOS 15 arm64 as xnu-11417 (macOS 15.5, the newest XNU
// published) builds it: every value from that source.
var MacOS15 = Platform{
	Name:     "macos-15",
	PageSize: 16 * kib,
	VATop:    0x7FFFFE000000,
	Reserved: []vaspace.Mapping{
		{Range: vaspace.Range{Start: 63 * gib, End: 64 * gib}, Name: "commpage nesting", Kind: vaspace.KindPlatform},
		{Range: vaspace.Range{Start: 64 * gib, End: 448 * gib}, Name: "GPU carveout", Kind: vaspace.KindPlatform},
	},
	HardPageZero:        4 * gib,
	SharedRegion:        vaspace.Range{Start: 6 * gib, End: 12 * gib},
	StackTop:            0x16FE00000,
	StackSize:           64 * mib,
	ExeSlideSections:    3,
	ExeSlideSectionSize: 32 * mib,
	ExeSlidePages:       1024,
	DyldSlidePages:      256,
}

// MacOS26 is macOS 26 arm64, whose XNU is not published: xnu-11417's
// values, except that the shared region is not in the low address space.
// That one choice is fitted to the only public evidence, the Chromium
// browser_tests crash on macOS 26.3.1 (Apple Developer Forums thread
// 821081): its images span 4 GiB to 16.46 GiB and about 2% of launches
// crash, which first fit reproduces only if nothing occupies [6, 12) GiB
// (with it there, the same images end near 21.8 GiB and about 25% crash).
// The shared cache is still mapped somewhere; it is just not modelled in
// this span.
var MacOS26 = func() Platform {
	p := MacOS15
	p.Name = "macos-26"
	p.SharedRegion = vaspace.Range{}
	return p
}()

// DefaultPlatform is the platform models use unless told otherwise: the
// newest release, macOS 26.
var DefaultPlatform = MacOS26

var platforms = map[string]*Platform{MacOS15.Name: &MacOS15, MacOS26.Name: &MacOS26}

// PlatformNames lists the built-in platforms.
func PlatformNames() []string { return []string{MacOS15.Name, MacOS26.Name} }

// LookupPlatform returns the built-in platform called name.
func LookupPlatform(name string) (Platform, error) {
	p, ok := platforms[name]
	if !ok {
		return Platform{}, fmt.Errorf("unknown platform %q (built in: %s)", name, strings.Join(PlatformNames(), ", "))
	}
	return *p, nil
}

// ModelFor returns the model with the defaults of NewModel on the named
// platform ("" for DefaultPlatform): what an image set that names its
// platform is placed with.
func ModelFor(platform string) (*Model, error) {
	m := NewModel()
	if platform != "" {
		p, err := LookupPlatform(platform)
		if err != nil {
			return nil, err
		}
		m.Platform = p
	}
	return m, nil
}

// Validate checks that the platform can hold a process.
func (p *Platform) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("platform %q: %s", p.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case !vaspace.IsPow2(p.PageSize):
		return bad("page size %#x is not a power of two", p.PageSize)
	case !p.VATop.IsAligned(p.PageSize) || p.VATop == 0:
		return bad("VA top %v is not a page-aligned address", p.VATop)
	case !p.StackTop.IsAligned(p.PageSize) || p.StackSize%p.PageSize != 0 || p.StackSize == 0:
		return bad("stack [top %v, size %#x) is not page-aligned", p.StackTop, p.StackSize)
	case p.ExeSlideSections < 1 || p.ExeSlidePages < 2 || p.DyldSlidePages < 2:
		return bad("slide ranges (%d sections, %d pages, %d dyld pages) are empty", p.ExeSlideSections, p.ExeSlidePages, p.DyldSlidePages)
	case p.ExeSlideSectionSize%p.PageSize != 0:
		return bad("slide section %#x is not page-aligned", p.ExeSlideSectionSize)
	case p.VATop > maxVATop:
		return bad("VA top %v is above %#x, beyond the model's 64-bit signed arithmetic", p.VATop, uint64(maxVATop))
	case p.ExeSlideSections*(p.ExeSlidePages-1) > maxSupport || p.DyldSlidePages-1 > maxSupport:
		return bad("more than %d slides to enumerate", maxSupport)
	case p.ExeSlideSectionSize > uint64(p.VATop) || p.ExeSlidePages > int64(p.VATop/vaspace.Addr(p.PageSize)) || p.DyldSlidePages > int64(p.VATop/vaspace.Addr(p.PageSize)):
		return bad("slides reach beyond the VA top %v", p.VATop)
	case p.StackTop > p.VATop || uint64(p.StackTop) < p.StackSize+p.MaxExeSlide():
		return bad("stack [top %v, size %#x) does not fit below its top at every executable slide (up to %#x)", p.StackTop, p.StackSize, p.MaxExeSlide())
	}
	return nil
}

// maxVATop bounds the VA top so that addresses, sizes and slides add up
// in int64 (slide.Affine) without overflow; maxSupport bounds how many values a
// random input may take, since Cover enumerates them.
const (
	maxVATop   = vaspace.Addr(1) << 62
	maxSupport = 1 << 20
)

// MaxExeSlide returns the largest executable slide the kernel can draw.
func (p *Platform) MaxExeSlide() uint64 {
	return uint64(p.ExeSlideSections-1)*p.ExeSlideSectionSize + uint64(p.ExeSlidePages-1)*p.PageSize
}

// ExeSlides returns every executable slide the kernel can draw, one entry
// per equally likely (section, page) pair, sorted; a value appears twice if
// two pairs give it (not with the xnu-11417 values, where a 32 MiB section
// exceeds 1023 pages). The random() % n bias is below 10^-6 and ignored.
func (p *Platform) ExeSlides() []int64 {
	var out []int64
	for sec := int64(0); sec < p.ExeSlideSections; sec++ {
		for pg := int64(1); pg < p.ExeSlidePages; pg++ {
			out = append(out, sec*int64(p.ExeSlideSectionSize)+pg*int64(p.PageSize))
		}
	}
	slices.Sort(out)
	return out
}

// DyldSlides returns every dyld slide, in increasing order, each equally
// likely.
func (p *Platform) DyldSlides() []int64 {
	var out []int64
	for pg := int64(1); pg < p.DyldSlidePages; pg++ {
		out = append(out, pg*int64(p.PageSize))
	}
	return out
}

// DyldConfig holds dyld4's placement behaviour (dyld-1378).
type DyldConfig struct {
	// TemporaryFileMapping maps each image's whole file read-only ANYWHERE
	// before reserving its VM span, and unmaps it after the segments are
	// in place, leaving a file-sized hole (dyld/JustInTimeLoader.cpp
	// makeJustInTimeLoaderDisk, dyld/DyldDelegates.cpp mapFileReadOnly).
	// A code-signed file is mapped, unmapped and mapped again the same
	// way, which lands at the same place, so signing does not change the
	// layout. Whether the PrebuiltLoader path also makes this mapping is
	// unconfirmed; default true (the JustInTimeLoader path).
	TemporaryFileMapping bool
	// StaticPool is the allocator's first pool, inside dyld's own data
	// (ALLOCATOR_DEFAULT_POOL_SIZE, 128 KiB; dyld-1378 common/Defines.h,
	// lsl/Allocator.cpp).
	StaticPool uint64
	// Pool is the size of each further pool, mapped ANYWHERE with hint
	// PoolHint (lsl/Allocator.cpp MemoryManager::vm_allocate_bytes).
	Pool uint64
	// PoolHint is the address the pools are searched upward from: 4 GiB,
	// "the first eligible address" above a 64-bit __PAGEZERO
	// (lsl/Allocator.cpp MemoryManager::vm_allocate_bytes).
	PoolHint vaspace.Addr
	// BytesPerImage is how much allocator memory dyld uses per loaded image
	// (the Loader object, its dependents array, path copies), taken when
	// the Loader is made: for an image dyld maps, after its segments and
	// before its temporary file mapping goes (dyld-1378 JustInTimeLoader.cpp
	// makeJustInTimeLoaderDisk calls JustInTimeLoader::make before
	// unmapFile). Not measured; default 640 bytes, which puts a 1543-image
	// launch at about 1 MiB.
	BytesPerImage uint64
	// Size is dyld's own VM span when the image set does not include
	// dyld's Mach-O: not measured, default 672 KiB (about what macOS 14-15
	// dyld maps: __TEXT, __DATA_CONST, __DATA, __LINKEDIT). Give the real
	// file for an exact layout.
	Size uint64
	// ProtectedStack is the size of dyld's protected (TPRO) stack with its
	// guard page, allocated ANYWHERE with no hint when dyld's runtime state
	// is built, before any dependent is mapped (dyld-1378
	// lsl/Allocator.cpp ProtectedStack::allocateStack: 512 KiB + one 16 KiB
	// guard page; DyldRuntimeState.h constructs it from
	// config.process.enableProtectedStack). dyld makes it only when the
	// kernel passes the dyld_hw_tpro apple parameter (hardware with TPRO)
	// and the executable's platform and SDK policy asks for it
	// (DyldProcessConfig.cpp defaultTproStack); which Macs and which
	// binaries get it is not public, so the default is 0 (not made) and
	// ProtectedStackSize is the alternative.
	ProtectedStack uint64
	// DisableASLR models posix_spawn with _POSIX_SPAWN_DISABLE_ASLR (and
	// lldb's default): both slides are 0 (mach_loader.c load_machfile).
	DisableASLR bool
}

// ProtectedStackSize is dyld-1378's protected stack with its guard page:
// 512 KiB + 16 KiB (see DyldConfig.ProtectedStack).
const ProtectedStackSize = 512*kib + 16*kib

// DefaultDyld is dyld-1378's behaviour with the documented defaults.
var DefaultDyld = DyldConfig{
	TemporaryFileMapping: true,
	StaticPool:           128 * kib,
	Pool:                 128 * kib,
	PoolHint:             4 * gib,
	BytesPerImage:        640,
	Size:                 672 * kib,
}

// MallocConfig holds the ANYWHERE allocations libmalloc makes during
// __malloc_init before the XZone pointer-range reservation, in the order
// it makes them (libmalloc-792.41.1 src/malloc.c _malloc_initialize;
// src/vm.c mvm_guarded_range_init; src/early_malloc.c mfm_initialize;
// src/xzone_malloc/xzone_malloc.c xzm_main_malloc_zone_create, which
// calls xzm_main_malloc_zone_init_range_groups last).
type MallocConfig struct {
	// Enabled says the allocations happen (XZone on); false leaves them out.
	Enabled bool
	// GuardedRange is the fixed part of the PROT_NONE guarded range (4 MiB)
	// and GuardedTailMax the bound of its random tail: tail =
	// arc4random_uniform(GuardedTailMax/page + 1) pages, so 0..1 MiB. It is
	// mapped ANYWHERE with no hint.
	GuardedRange   uint64
	GuardedTailMax uint64
	// Carveout is the hole punched into the guarded range (1 MiB) at
	// base + one page + a random page offset. Only allocations that fit
	// in it can land in it, wherever it is, so its offset changes nothing
	// outside the range and is modelled as zero.
	Carveout uint64
	// EarlyArena is the early allocator's arena (MFM_ARENA_SIZE, 4 MiB;
	// 0 when MallocXzoneEarlyAlloc=0). mfm_initialize gets it from
	// mvm_allocate_pages_plat with DISABLE_ASLR and both guard-page flags:
	// an ANYWHERE search from vm_page_quanta_size, that is from the map
	// minimum, for the arena plus EarlyArenaGuard bytes on each side (one
	// large_vm_page_quanta_size page, 16 KiB on arm64; src/vm.c,
	// src/base.h), which stay mapped PROT_NONE.
	EarlyArena      uint64
	EarlyArenaGuard uint64
	// MainZone is the main zone structure (zone, xzones, slots, segment
	// table), allocated with MALLOC_GUARDED_METADATA: mvm_allocate_plat
	// passes the guarded range's base as the hint, so it lands in the
	// carveout when it fits. Its size is not recorded; default 512 KiB,
	// which fits.
	MainZone uint64
	// ReclaimRing is the deferred-reclamation ring buffer that
	// xzm_reclaim_init asks the kernel for after the main zone and before
	// the reservation. Deferred reclaim is on by default on macOS
	// (xzone_malloc.h XZM_DEFERRED_RECLAIM_ENABLED_DEFAULT; xnu-11417
	// osfmk/vm/vm_reclaim.c VM_RECLAIM_ENABLED_DEFAULT), and the kernel
	// maps room for the maximum capacity ANYWHERE with no hint: a 48-byte
	// header and mach_vm_reclaim_round_capacity(1 << 22) 16-byte entries,
	// page-rounded, ReclaimRingSize (libsyscall/mach/vm_reclaim.c;
	// vm_deferred_reclamation_buffer_allocate_internal). Default
	// ReclaimRingSize; whether the macOS 26 kernel grants it is
	// unconfirmed (its XNU is not published): 0 leaves it out. In the
	// chromium-browser-tests scenario it fills a hole inside the XZone
	// window, below the top image, so it changes no slot's outcome there.
	ReclaimRing uint64
}

// ReclaimRingSize is the deferred-reclamation ring libmalloc-792.41.1
// gets on macOS with xnu-11417: 64 MiB + 16 KiB (see ReclaimRing).
const ReclaimRingSize = 64*mib + 16*kib

// DefaultMalloc is libmalloc-792.41.1 with XZone enabled.
var DefaultMalloc = MallocConfig{
	Enabled:         true,
	GuardedRange:    4 * mib,
	GuardedTailMax:  1 * mib,
	Carveout:        1 * mib,
	EarlyArena:      4 * mib,
	EarlyArenaGuard: 16 * kib,
	MainZone:        512 * kib,
	ReclaimRing:     ReclaimRingSize,
}

// GuardTails returns every guarded-range tail, each equally likely.
func (m *MallocConfig) GuardTails(page uint64) []int64 {
	if !m.Enabled {
		return []int64{0}
	}
	var out []int64
	for pg := uint64(0); pg <= m.GuardedTailMax/page; pg++ {
		out = append(out, int64(pg*page))
	}
	return out
}
