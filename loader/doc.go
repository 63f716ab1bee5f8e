// Package loader turns object files into image specs and places them the
// way a dynamic loader and kernel would.
//
// An ImageSpec is what a file says (segments, dependencies, TLS template),
// read from ELF, Mach-O or JSON. A placement model (Dyld for macOS arm64
// dyld4 + XNU; the Linux ld.so + kernel model) feeds specs into a
// vaspace.Space in the loader's own order and returns placed images: what
// the loader made of each spec in one process.
package loader
