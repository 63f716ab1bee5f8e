// Package xzone replays libmalloc's XZone range-group reservation on
// macOS arm64 over a process's layout: during __malloc_init, libmalloc
// (libmalloc-792.41.1 src/xzone_malloc/xzone_segment.c,
// xzm_main_malloc_zone_init_range_groups) maps a fixed 24 GiB range at
// 16 GiB + (entropy % 736) × 32 MiB, and the process aborts before main
// ("BUG IN LIBMALLOC: pointer range initial reservation failed") when
// anything is already mapped there.
//
// Analyze takes one layout (a vaspace.Space, from a crash report, lldb or
// the macOS placement model with ASLR off) and says which slots collide,
// with what, and the exact probability over the entropy. JointAnalyze
// takes the placement model bound to a program's images (a
// slide.Layouts, such as macos.Layouts) and sums that probability exactly
// over every launch's random slides. Assess does both, with the crash
// counts to expect in a number of launches. Profile holds the
// reservation's parameters, for libmalloc releases other than the one
// read.
//
// Every probability is conditional on XZone being on for the process.
// libmalloc-792.41.1 decides that per process from feature flags
// (malloc.c _malloc_init_featureflags) whose shipped values Apple does not
// publish: with the source's defaults, an ordinary process that gets the
// Nano allocator (the macOS default) would not use XZone, while the range
// setup itself is on by default. A crash report that shows the
// reservation failing proves it was on (Chromium's did); vasim xzone
// --xzone off models a process without it, where nothing is reserved and
// nothing can collide.
//
// Depends gives the answer under each alternative value of the placement
// model's unconfirmed parameters (macos.Model.Alternatives), so a report
// can say what it depends on; package xzone/fix searches the dylibs to
// load with dlopen for no launch to collide.
package xzone
