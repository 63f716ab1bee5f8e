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
// Musl, FreeBSD rtld and Android bionic implement the same Process
// interface with their own rules and error texts.
//
// Run ties it to real files: it resolves a program's libraries with
// package loader, reads their ELF TLS data, and plays a sequence of
// dlopens, reporting each outcome with an explanation (bytes needed and
// free, alignment, which modules used the surplus, the smallest
// GLIBC_TUNABLES value that fixes it, and whether preloading would).
package tls
