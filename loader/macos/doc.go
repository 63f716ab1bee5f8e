// Package macos is the placement model of a macOS arm64 launch, up to the
// moment libmalloc makes its XZone reservation: XNU's exec (the
// executable and __PAGEZERO, dyld, the main thread's stack, the reserved
// regions and the shared region), dyld4 mapping every launch-time image
// first fit, and the ANYWHERE allocations libmalloc makes in
// __malloc_init before the reservation. Model.Launch places one launch in
// a vaspace.Space; Model.Layouts describes every launch as a function of
// its random slides, for sums over all of them (package xzone).
//
// # One model per release
//
// A Platform is one macOS release's address space: MacOS15 as xnu-11417
// builds it, and MacOS26, the default, whose kernel is not published. An
// image set names its platform ("platform" in its JSON, as vasim
// scenarios --dump writes it); ModelFor gives its model, so built-in
// scenarios, dumped image sets, vasim xzone --images and --exe and the
// library place alike.
//
// # Which facts come from which source release
//
//	Fact                                          Source release                  Status on macOS 26
//	reservation: 24 GiB at 16 GiB + k × 32 MiB,   libmalloc-792.41.1              792.41.1 is the source; which
//	  k = low 32 bits of entropy mod 736            xzone_segment.c                 26.x ships it is unknown
//	XZone on or off per process                   libmalloc-792.41.1 malloc.c     shipped feature flags not public:
//	                                                                                every answer is conditional on it
//	guarded range, early arena, main zone,        libmalloc-792.41.1 vm.c,        main zone size not recorded
//	  deferred-reclaim ring                         early_malloc.c, xzone_malloc.c  (MallocConfig.MainZone); ring
//	                                                                                granted by 26's kernel unconfirmed
//	reclaim ID cache (not placed; see             libmalloc-792.41.1              cannot reach the window unless no
//	  Alternatives)                                 xzone_segment.c, vm.c           page is free below it (checked)
//	load order, per-image mapping sequence,       dyld-1378 JustInTimeLoader.cpp, PrebuiltLoader path unconfirmed
//	  temporary whole-file mapping                  Loader.cpp                      (DyldConfig.TemporaryFileMapping)
//	allocator pools (128 KiB, hinted at 4 GiB)    dyld-1378 lsl/Allocator.cpp     bytes per image have no source
//	protected (TPRO) stack                        dyld-1378 lsl/Allocator.cpp     which Macs and SDKs: not public
//	                                                                                (DyldConfig.ProtectedStack, off)
//	dyld's own size (when no dyld Mach-O given)   not measured                    DyldConfig.Size
//	ANYWHERE first fit from the map minimum,      xnu-11417 vm_map.c,             xnu for 26 not published
//	  __PAGEZERO raising it, slides, stack          mach_loader.c, bsd/arm/vmparam.h
//	reserved regions [63, 64) and [64, 448) GiB   xnu-11417 machine_routines.c    as 15
//	shared region [6, 12) GiB                     xnu-11417 shared_region.h       fitted: outside the image span
//	                                                                                (MacOS26), the one choice the
//	                                                                                Chromium figures decide
//	libSystem's initializer runs __malloc_init    Libsystem-1356 init.c,          as 15
//	  after every launch-time image is mapped       dyld-1378 dyldMain.cpp
//
// Model.Alternatives lists every parameter the sources leave open with
// the values it could take; vasim xzone reports the answer under each.
package macos
