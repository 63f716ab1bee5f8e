// Package loader is the vocabulary the loader packages share: what an
// object file says about itself (ImageSpec, with its Segments, TLSBlock
// and the format's own ELFInfo or MachOInfo), the images of one program
// (ImageSet), what a loader made of an image in one process
// (PlacedImage), and the errors every reader reports (FileError,
// SpecError).
//
// The work is done in subpackages, and data flows one way through them:
//
//   - Readers turn files into specs: elfspec (ELF, as glibc's ld.so reads
//     it), machospec (Mach-O and universal files, as dyld4 reads them) and
//     jsonspec (specs and image sets written as JSON).
//   - Resolution turns specs into the order a loader loads them: ldso
//     (glibc's ld.so search rules, ld.so.cache, dlopen and dlmopen) and
//     dyld (dyld4's @rpath rules and load order).
//   - Placement turns a load order into a layout: macos (XNU exec, dyld4
//     and libmalloc's early allocations on arm64) writes a vaspace.Space
//     for one launch, and describes every launch at once as a
//     slide.Layouts. It is built on place (a first-fit and top-down
//     placer over a Space, and a lean one that records every decision as
//     a function of the random draws) and slide (random inputs, affine
//     boundaries, regions of draws).
//   - scenario holds the built-in cases; loadertest and objtest help
//     tests (rapid generators; gcc and synthetic ELF and Mach-O builders).
//
// The analyses (packages xzone and tls) read the placement's output.
package loader
