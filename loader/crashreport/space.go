package crashreport

import (
	"fmt"
	"strings"

	"github.com/vasim/vasim/vaspace"
)

// Address-space defaults by CPU type, for the space Report.Space builds.
const (
	// ARM64PageSize is the page size of macOS on Apple silicon, 16 KiB
	// (ARM_PGSHIFT 14; xnu-11417 osfmk/arm64/proc_reg.h).
	ARM64PageSize = 16 << 10
	// ARM64VATop is the end of a macOS arm64 user address space,
	// 0x7FFFFE000000 (MACH_VM_MAX_ADDRESS; xnu-11417
	// osfmk/mach/arm/vm_param.h, vm_map.c vm_compute_max_offset). It
	// equals loader/macos DefaultPlatform.VATop. Other arm64 platforms
	// (iOS) have a lower top; this one bounds their images too.
	ARM64VATop vaspace.Addr = 0x7FFFFE000000
	// X86PageSize is the page size of macOS on Intel, 4 KiB
	// (I386_PGBYTES; xnu-11417 osfmk/mach/i386/vm_param.h).
	X86PageSize = 4 << 10
	// X86VATop is the end of a macOS x86_64 user address space,
	// 0x00007FFFFFE00000 (VM_MAX_PAGE_ADDRESS = MACH_VM_MAX_ADDRESS;
	// xnu-11417 osfmk/mach/i386/vm_param.h). The commpage lies above it.
	X86VATop vaspace.Addr = 0x00007FFFFFE00000
)

// SpaceOptions say how Report.Space lays the images out.
type SpaceOptions struct {
	// PageSize is the page size of the space, a power of two; 0 chooses
	// by the report's CPU type (ARM64PageSize for "ARM-64", X86PageSize
	// for "X86-64", including processes translated by Rosetta, whose
	// page size on Apple silicon is not confirmed here).
	PageSize uint64
	// Top is the end of the space, which is [0, Top); 0 chooses by CPU
	// type (ARM64VATop, X86VATop). It must be a multiple of the page size.
	Top vaspace.Addr
	// MergeSharedPages maps images that share a page once rounded out as
	// one mapping, named after all of them ("libA + libB", or "libA + N
	// more images sharing pages") and owned by the lowest. Without it such
	// images are an *ImageError (ErrOverlap). The dyld shared cache packs
	// its images on 4 KiB boundaries (in a published iOS 14.8 report, a
	// test file of doronz88/pycrashreport, libdyld.dylib ends and
	// libicucore.A.dylib starts at 0x195849000, inside one 16 KiB page;
	// testdata's hand-made iOS 14 report is packed the same way), so arm64
	// reports with cache images need it.
	MergeSharedPages bool
}

// Space lays the report's images out in a new address space [0, Top)
// with one vaspace.KindImage mapping per image: its range rounded out to
// the page (start down, end up), protection r-x (the ranges are __TEXT
// segments; see the package documentation), Name the image's name, Owner
// its path (or name). It is the layout the report records, not one a
// model predicts: images not listed (and the non-__TEXT segments of those
// listed) are absent, and nothing else (stack, shared region, heap) is
// mapped. SharedCache is not mapped either; its images are, one by one.
//
// Errors are *ImageError: ErrOverlap for images that share a page once
// rounded out (unless opts.MergeSharedPages), ErrOutOfBounds for an image
// that ends above the top, ErrBadImage for an image whose rounded end
// passes 2^64. ErrUnknownCPU is returned when opts leave the page size or
// top to choose and the report's CPU type has no default; an error from
// vaspace.New when they do not make a valid space.
func (r *Report) Space(opts SpaceOptions) (*vaspace.Space, error) {
	page, top := opts.PageSize, opts.Top
	if page == 0 || top == 0 {
		dp, dt, ok := defaultsFor(r.CPUType)
		if !ok {
			return nil, fmt.Errorf("crashreport: %s: CPU type %q: %w; set SpaceOptions.PageSize and Top", r.Source, r.CPUType, ErrUnknownCPU)
		}
		if page == 0 {
			page = dp
		}
		if top == 0 {
			top = dt
		}
	}
	s, err := vaspace.New(vaspace.Range{Start: 0, End: top}, page)
	if err != nil {
		return nil, fmt.Errorf("crashreport: %s: the address space [0, %#x) with %d-byte pages: %w", r.Source, uint64(top), page, err)
	}
	type group struct {
		r      vaspace.Range
		images []Image
	}
	var groups []group
	for _, im := range r.Images {
		start := im.Range.Start.RoundDown(page)
		end, ok := im.Range.End.RoundUp(page)
		if !ok {
			return nil, &ImageError{Source: r.Source, Images: []Image{im}, Err: ErrBadImage,
				Detail: fmt.Sprintf("its end rounded up to a %d-byte page passes 2^64", page)}
		}
		if end > top {
			return nil, &ImageError{Source: r.Source, Images: []Image{im}, Err: ErrOutOfBounds,
				Detail: fmt.Sprintf("it ends above the address-space top %#x; set SpaceOptions.Top for this platform", uint64(top))}
		}
		rr := vaspace.Range{Start: start, End: end}
		if n := len(groups); n > 0 && rr.Start < groups[n-1].r.End {
			g := &groups[n-1]
			if !opts.MergeSharedPages {
				prev := g.images[len(g.images)-1]
				shared := vaspace.Range{Start: rr.Start, End: min(rr.End, g.r.End)}
				return nil, &ImageError{Source: r.Source, Images: []Image{prev, im}, Err: ErrOverlap,
					Detail: fmt.Sprintf("once rounded out to %d-byte pages they share %v; set SpaceOptions.MergeSharedPages to map such images as one", page, shared)}
			}
			g.r.End = max(g.r.End, rr.End)
			g.images = append(g.images, im)
			continue
		}
		groups = append(groups, group{r: rr, images: []Image{im}})
	}
	for _, g := range groups {
		m := vaspace.Mapping{Range: g.r, Name: groupName(g.images), Prot: vaspace.ProtRX, Kind: vaspace.KindImage, Owner: g.images[0].owner()}
		if err := s.Map(m); err != nil {
			// Unreachable: the groups are disjoint, page-aligned and below
			// the top. Kept so that a broken invariant is an error, not a
			// wrong layout.
			return nil, fmt.Errorf("crashreport: %s: mapping %s: %w", r.Source, g.images[0], err)
		}
	}
	return s, nil
}

// groupName names a mapping that holds one image, or several that share
// pages.
func groupName(ims []Image) string {
	switch len(ims) {
	case 1:
		return ims[0].label()
	case 2, 3:
		names := make([]string, len(ims))
		for i, im := range ims {
			names[i] = im.label()
		}
		return strings.Join(names, " + ")
	}
	return fmt.Sprintf("%s + %d more images sharing pages", ims[0].label(), len(ims)-1)
}

// defaultsFor returns the page size and address-space top for a report's
// CPU type.
func defaultsFor(cpu string) (page uint64, top vaspace.Addr, ok bool) {
	switch strings.ToUpper(cpu) {
	case "ARM-64", "ARM64", "ARM64E":
		return ARM64PageSize, ARM64VATop, true
	case "X86-64", "X86_64":
		return X86PageSize, X86VATop, true
	}
	return 0, 0, false
}
