// Package vasim simulates a process's virtual address space and its dynamic
// loader, to predict loader and allocator failures before a binary ships.
//
// The packages, in the order data flows through them:
//
//   - [github.com/vasim/vasim/vaspace]: the address space itself, an
//     interval map of named mappings on github.com/google/btree with
//     placement searches (XNU first fit, Linux top-down) and O(1) clones.
//     Its subpackage vaspacetest exports pgregory.net/rapid generators for
//     property tests over layouts.
//   - [github.com/vasim/vasim/loader]: the vocabulary (image specs, image
//     sets, placed images, file errors) and, in its subpackages, readers
//     for ELF, Mach-O and JSON specs (elfspec, machospec, jsonspec),
//     library resolution as glibc's ld.so and dyld4 do it (ldso, dyld),
//     the macOS arm64 placement model (macos) that writes a
//     vaspace.Space and can also describe every layout the launch's random
//     slides produce (slide, place), and the Linux placement model (linux:
//     the kernel's exec and mmap, glibc ld.so's start-up, dlopen; the
//     groups the kernel's random draws move). Built-in cases such as
//     chromium-browser-tests live in loader/scenario.
//   - [github.com/vasim/vasim/xzone]: libmalloc's XZone range-group
//     reservation on macOS arm64; which entropy slots collide with a layout
//     and the exact probability of aborting in __malloc_init, for one
//     layout or summed over every slide of the placement model.
//   - [github.com/vasim/vasim/reserve]: the exact probability that a
//     randomised Linux layout is in the way of fixed ranges (sanitizer
//     shadow memory and application ranges, emulator reservations).
//   - [github.com/vasim/vasim/tls]: static TLS budgets of glibc (by
//     version and architecture), musl, FreeBSD rtld and bionic; whether
//     each dlopen fits, why not, and the smallest fix; the initial
//     thread's TLS pages and the rules for sharing them.
//   - [github.com/vasim/vasim/tsd]: macOS thread-specific data and the
//     allocators (mimalloc v3) that keep per-thread heaps in it, simulated
//     over a schedule to find instances reading each other's heap.
//
// The command line, cmd/vasim, only parses flags, calls these packages and
// prints. The examples directory holds one runnable program per real-world
// case. Benchmarks comparing each implementation with a baseline in the
// same run live in bench_test.go.
package vasim
