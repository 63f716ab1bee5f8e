package loader

import "github.com/vasim/vasim/vaspace"

// ImageSet is everything one program can load at launch: the main
// executable and the images its dependencies resolve to. It is the input
// to resolution (package dyld orders it as dyld4 loads it).
type ImageSet struct {
	// Name and Description identify the set in reports.
	Name        string
	Description string
	// Platform names the platform the set is placed on (a built-in one
	// of the placement model, "macos-26"); "" leaves it to the caller.
	Platform string
	// Main is the executable.
	Main *ImageSpec
	// Images holds every other image: libraries, frameworks, the dynamic
	// loader itself (Kind KindLoader) when known, and the system libraries
	// that live in the shared cache (InSharedCache), which are loaded but
	// not mapped one by one.
	Images []*ImageSpec
}

// PlacedImage is what a loader made of one image in one process: the
// object that a spec became.
type PlacedImage struct {
	Spec *ImageSpec
	// Order is the position in the loader's load order (0 is the
	// executable; -1 the loader itself when the kernel maps it).
	Order int
	// Reservation is the image's VM span in this process; empty for
	// images that are not mapped one by one (dyld shared-cache images).
	Reservation vaspace.Range
	// Slide is the load address minus the link-time address (ld.so's load
	// bias, dl_iterate_phdr's dlpi_addr).
	Slide int64
}
