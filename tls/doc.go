// Package tls models static thread-local storage budgets: whether a
// dlopen succeeds when the object (or one it loads) is reached by
// initial-exec TLS, and why not.
//
// The glibc model (Glibc, built from a Profile chosen by release and
// architecture) follows glibc's dynamic loader byte for byte: the static
// block laid out at start-up (elf/dl-tls.c _dl_determine_tlsoffset), the
// surplus and its tunables, the fit test for initial-exec and TLS
// descriptor relocations at dlopen time (elf/dl-reloc.c), dlclose's
// partial reclaim (elf/dl-close.c) and the release quirks back to 2.16.
// It is checked against the real glibc of the machine the tests run on by
// a differential test that builds libraries with gcc and runs them.
//
// Musl, FreeBSD rtld and Android bionic implement the same State
// interface with their own rules and error texts.
//
// Run ties it to real files: it resolves a Program's libraries with
// package ldso (glibc's search rules), reads their ELF TLS data, and plays
// a sequence of dlopens; Explain says why each failed dlopen failed
// (bytes needed and free, alignment, which modules used the surplus) and
// what fixes it: every value of glibc.rtld.optional_static_tls and
// glibc.rtld.nns with which the program loads (a set, not a threshold:
// a larger budget can let a TLS-descriptor block take room an
// initial-exec block needs; see Sweep and OptionalStaticTLSSet, which
// decide every value in a few model runs), and whether preloading would.
// Check does all of it from what a user states (Setup: the program, its
// dlopens, the loader and its environment), choosing the release and
// loader model the way vasim tls does.
package tls
