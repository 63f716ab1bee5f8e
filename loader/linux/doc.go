// Package linux models where the Linux kernel and glibc's ld.so put a
// process's mappings: exec (fs/binfmt_elf.c load_elf_binary: the stack,
// the executable, the interpreter, the vDSO, brk), the kernel's mmap
// placement (mm/mmap.c: top-down or legacy bottom-up from the mmap base,
// the stack guard gap, the 2 MiB transparent-huge-page alignment), and
// ld.so's start-up mappings in its order (elf/rtld.c, elf/dl-load.c,
// elf/dl-map-segments.h, elf/dl-minimal-malloc.c), so that the layout a
// program has when main starts can be predicted address for address.
//
// A Kernel is the profile of the machine (HostKernel reads this one's);
// a Draw is one choice of the kernel's random inputs. Layout places one
// launch; the random inputs move three independent groups of mappings
// rigidly (the executable with its heap, the mmap region, the stack), which
// is what makes exact failure probabilities cheap (see package reserve).
//
// Dlopens after main (Options.Dlopen) map their objects as ld.so does;
// whether each succeeds is decided by package tls's glibc model, the one
// vasim tls runs: one whose initial-exec TLS does not fit in what is left
// of the static TLS block fails with glibc's "cannot allocate memory in
// static TLS block", and its objects are unmapped again, as glibc's
// _dl_open does (Process.Dlopens says which failed). An exec whose
// argument strings exceed what the stack limit allows fails with E2BIG
// (ErrArgListTooLong).
//
// The ld.so part models glibc 2.36 on x86_64 (Debian 12), checked against
// the real loader and kernel under setarch -R in this package's tests.
package linux
