package macos

import (
	"fmt"

	"github.com/vasim/vasim/vaspace"
)

// Alternative is one value a model parameter could take instead of the
// model's own, for a parameter no published source fixes: the answer
// under each alternative says how much a prediction depends on it.
type Alternative struct {
	// Parameter names what is varied, Value the alternative in words.
	Parameter, Value string
	// Apply sets the alternative on a model (a copy of the one
	// Alternatives was called on).
	Apply func(*Model)
}

// ParamSharedRegion is the Parameter of the shared-region alternative: the
// one platform choice fitted to evidence rather than read in a source,
// and the one that moves predictions most (see MacOS26).
const ParamSharedRegion = "shared region"

// Alternatives returns, for every parameter of m that the published
// sources (xnu-11417, dyld-1378, libmalloc-792.41.1) leave open for the
// platform, the values it could take instead of m's:
//
//   - the shared region: [6, 12) GiB as xnu-11417 maps it at every exec,
//     or outside the image span as fitted to the Chromium crash on macOS
//     26.3.1 (MacOS26);
//   - the 64 MiB deferred-reclaim ring: granted (xnu-11417 and
//     libmalloc-792.41.1 enable it on macOS) or not (macOS 26's kernel is
//     unpublished);
//   - dyld's allocator use per image (no source; 640 bytes by default):
//     half and double;
//   - dyld's own size when the image set has no dyld Mach-O (672 KiB,
//     not measured): 512 KiB and 1 MiB;
//   - libmalloc's main zone (size not recorded; 512 KiB fits in the
//     guarded range's carveout): 2 MiB, which does not;
//   - dyld's temporary whole-file mapping: made (JustInTimeLoader) or not
//     (a PrebuiltLoader; dyld-1378 saves prebuilt sets only for programs
//     Apple ships);
//   - dyld's protected stack: made (hardware with TPRO and an SDK policy
//     that asks for it) or not.
//
// Parameters whose alternative equals m's value are given the other one,
// so the list describes m wherever it was set. The malloc ones are left
// out when m models no malloc allocations.
//
// Two allocations the source audit found are not modelled, because
// neither can reach the XZone window in a launch the model accepts:
// libmalloc's reclaim ID cache (16 KiB, hinted at 0x16FE00000 - 64 MiB -
// (entropy & 127) × 8 MiB - 256 MiB, below 6 GiB) lands in the first free
// page above its hint, so it reaches 16 GiB only when no page is free
// between about 5.8 GiB and 16 GiB (xzone.Result reports a layout where
// that holds); the protected stack is an alternative above.
func (m *Model) Alternatives() []Alternative {
	var out []Alternative
	add := func(param, value string, apply func(*Model)) {
		out = append(out, Alternative{Parameter: param, Value: value, Apply: apply})
	}
	if m.Platform.SharedRegion.IsEmpty() {
		add(ParamSharedRegion, fmt.Sprintf("at [%d, %d) GiB, as xnu-11417 maps it (macOS 15)", MacOS15.SharedRegion.Start/gib, MacOS15.SharedRegion.End/gib),
			func(m *Model) { m.Platform.SharedRegion = MacOS15.SharedRegion })
	} else {
		add(ParamSharedRegion, "outside the image span, as fitted to the macOS 26.3.1 crash (macOS 26)",
			func(m *Model) { m.Platform.SharedRegion = MacOS26.SharedRegion })
	}
	if m.Malloc.Enabled {
		if m.Malloc.ReclaimRing != 0 {
			add("deferred-reclaim ring", "not granted", func(m *Model) { m.Malloc.ReclaimRing = 0 })
		} else {
			add("deferred-reclaim ring", fmt.Sprintf("granted (%d KiB)", ReclaimRingSize/kib), func(m *Model) { m.Malloc.ReclaimRing = ReclaimRingSize })
		}
	}
	if b := m.Dyld.BytesPerImage; b > 1 {
		add("dyld bytes per image", fmt.Sprintf("%d", b/2), func(m *Model) { m.Dyld.BytesPerImage = b / 2 })
	}
	if b := m.Dyld.BytesPerImage; b > 0 {
		add("dyld bytes per image", fmt.Sprintf("%d", 2*b), func(m *Model) { m.Dyld.BytesPerImage = 2 * b })
	}
	for _, n := range []uint64{512 * kib, 1 * mib} {
		if n != m.Dyld.Size {
			add("dyld size (no dyld Mach-O given)", fmt.Sprintf("%d KiB", n/kib), func(m *Model) { m.Dyld.Size = n })
		}
	}
	if m.Malloc.Enabled {
		for _, n := range []uint64{512 * kib, 2 * mib} {
			if n != m.Malloc.MainZone {
				add("libmalloc main zone", fmt.Sprintf("%d KiB", n/kib), func(m *Model) { m.Malloc.MainZone = n })
			}
		}
	}
	if m.Dyld.TemporaryFileMapping {
		add("dyld temporary file mapping", "not made (prebuilt loaders)", func(m *Model) { m.Dyld.TemporaryFileMapping = false })
	} else {
		add("dyld temporary file mapping", "made (JustInTimeLoader)", func(m *Model) { m.Dyld.TemporaryFileMapping = true })
	}
	if m.Dyld.ProtectedStack == 0 {
		add("dyld protected stack", fmt.Sprintf("made (%d KiB)", ProtectedStackSize/kib), func(m *Model) { m.Dyld.ProtectedStack = ProtectedStackSize })
	} else {
		add("dyld protected stack", "not made", func(m *Model) { m.Dyld.ProtectedStack = 0 })
	}
	return out
}

// With returns a copy of m with a applied.
func (m *Model) With(a Alternative) *Model {
	c := *m
	c.Platform.Reserved = append([]vaspace.Mapping(nil), m.Platform.Reserved...)
	a.Apply(&c)
	return &c
}
