package scenario

import (
	"debug/macho"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/vaspace"
)

// The chromium-browser-tests scenario: a synthetic image set built from
// the figures published for Chromium's browser_tests on macOS 26.3.1
// (Apple Developer Forums thread 821081). The real
// binaries are not available, so the set is generated: the executable's
// segments are the published ones, and 516 dylibs get sizes drawn from a
// fixed, seeded log-normal spread and scaled so each segment class adds up
// to the published aggregate exactly. How the remaining free choices were
// calibrated is documented on chromiumCalibration.

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// Published figures.
const (
	chromiumImageCount = 1543 // images loaded
	chromiumDylibCount = 516  // Chromium dylibs (the opening post says 527)

	// The executable: 5.54 GiB VA = 4 GiB __PAGEZERO + 517 MiB __TEXT +
	// 1.04 GiB __LINKEDIT (+ data segments small enough to keep the total
	// at 5.54 GiB); ~1.5 GiB on disk.
	chromiumExeText     = 517 * mib
	chromiumExeLinkedit = 1062 * mib // 1.037 GiB, printed as 1.04
	chromiumExeDataCon  = 2 * mib    // not published; keeps VA at 5.54 GiB
	chromiumExeData     = 1 * mib    // not published

	// The dylibs' aggregate VM: 10.19 GiB, of which 2.26 GiB __TEXT and
	// 3.86 GiB __LINKEDIT; the other 4.07 GiB is data segments.
	chromiumDylibVM       = 10.19 * gib
	chromiumDylibText     = 2.26 * gib
	chromiumDylibLinkedit = 3.86 * gib
)

// chromiumCalibration holds the choices the published figures leave open,
// fixed so that the macOS placement model, placing the set with ASLR disabled (as
// lldb launches, where the colliding address was read) reproduces the
// published outcome: images spanning 4 GiB to 16.46 GiB, 7 dylibs past
// 16 GiB, one of them loaded at 0x401d04000 across slot 1's start
// 0x402000000, and slots 0-14 colliding (15/736). TestChromiumScenario
// checks all of it.
type chromiumCalibration struct {
	// Seed drives the log-normal size spread; Sigma is its width.
	Seed  uint64
	Sigma float64
	// DataConstShare is the part of a dylib's data VM in __DATA_CONST (file
	// backed); the rest is __DATA, of which ZeroFillShare is zero-fill.
	DataConstShare, ZeroFillShare float64
	// LateLargest puts the N largest dylibs last in load order (component
	// builds link the big targets last; their temporary file mappings are
	// what leaves holes near the top of the span).
	LateLargest int
	// OrderSeed, when non-zero, shuffles the load order with this seed.
	OrderSeed uint64
	// Unaccounted is VA the published span holds beyond the executable and
	// the 516 dylibs: exe + dylibs + the model's own holes and allocations
	// end near 16.05-16.15 GiB, 0.3-0.4 GiB short of 16.46 GiB. The report
	// says the span is reached "combined with system libraries", so this
	// VA is modelled as UnaccountedImages system images outside the shared
	// cache, loaded right after libSystem, of Unaccounted bytes in all.
	Unaccounted       uint64
	UnaccountedImages int
	// TuneImage is the load-order position (among the Chromium dylibs) of
	// the dylib that must load at exactly 0x401d04000, the published
	// address; TunePages adds pages to its __LINKEDIT. dyld maps an image's
	// file just before reserving its span, so at the frontier the image's
	// own file size sets where it lands.
	TuneImage int
	TunePages int64
}

// chromiumCal was found by a search over the free choices (spread,
// load-order shuffle, unaccounted VA), keeping the first combination that
// reproduces every published figure; TunePages then moves the dylib that
// crosses slot 1's start onto the published address. Any of the hits is as
// good as another: only the published figures are facts.
var chromiumCal = chromiumCalibration{
	Seed:              20260311,
	Sigma:             0.8,
	DataConstShare:    0.75,
	ZeroFillShare:     0.5,
	OrderSeed:         33,
	Unaccounted:       300 * mib,
	UnaccountedImages: 6,
	TuneImage:         504,
	TunePages:         -105,
}

func pages(n float64, page uint64) uint64 {
	v := uint64(math.Round(n / float64(page)))
	return max(v, 1) * page
}

// chromiumSet builds the image set for a calibration.
func chromiumSet(cal chromiumCalibration) *loader.ImageSet {
	const page = 16 * kib
	exe := &loader.ImageSpec{
		Name: "browser_tests", Path: "/chromium/src/out/Component/browser_tests", Format: loader.FormatMachO, Kind: loader.KindExecutable, Arch: loader.ArchAArch64,
	}
	off := uint64(0)
	addr := uint64(4 * gib)
	exe.Segments = append(exe.Segments, loader.Segment{Name: "__PAGEZERO", VMSize: 4 * gib})
	for _, s := range []struct {
		name     string
		vm, file uint64
		prot     vaspace.Prot
	}{
		{"__TEXT", chromiumExeText, chromiumExeText, vaspace.ProtRX},
		{"__DATA_CONST", chromiumExeDataCon, chromiumExeDataCon, vaspace.ProtRW},
		{"__DATA", chromiumExeData, chromiumExeData / 2, vaspace.ProtRW},
		{"__LINKEDIT", chromiumExeLinkedit, chromiumExeLinkedit, vaspace.ProtRead},
	} {
		exe.Segments = append(exe.Segments, loader.Segment{Name: s.name, VMAddr: addr, VMSize: s.vm, FileOff: off, FileSize: s.file, Prot: s.prot})
		addr += s.vm
		off += s.file
	}
	set := &loader.ImageSet{
		Name:        "chromium-browser-tests",
		Platform:    macos.MacOS26.Name,
		Description: "Chromium component-build browser_tests on macOS 26.3.1 arm64 (synthetic sizes calibrated to the published figures)",
		Main:        exe,
	}

	// Sizes: one log-normal weight per dylib, shared by its segments with
	// a little independent noise, scaled to the published totals.
	rng := rand.New(rand.NewPCG(cal.Seed, 0x5eed))
	n := chromiumDylibCount
	type sizes struct{ text, data, link float64 }
	raw := make([]sizes, n)
	var st, sd, sl float64
	for i := range raw {
		w := math.Exp(cal.Sigma * rng.NormFloat64())
		raw[i] = sizes{w * math.Exp(0.3*rng.NormFloat64()), w * math.Exp(0.3*rng.NormFloat64()), w * math.Exp(0.3*rng.NormFloat64())}
		st, sd, sl = st+raw[i].text, sd+raw[i].data, sl+raw[i].link
	}
	dataTotal := float64(chromiumDylibVM - chromiumDylibText - chromiumDylibLinkedit)
	type dylib struct {
		text, dcon, data, dataFile, link uint64
	}
	libs := make([]dylib, n)
	var tt, td, tl uint64
	for i, r := range raw {
		d := r.data / sd * dataTotal
		libs[i] = dylib{
			text: pages(r.text/st*chromiumDylibText, page),
			dcon: pages(d*cal.DataConstShare, page),
			data: pages(d*(1-cal.DataConstShare), page),
			link: pages(r.link/sl*chromiumDylibLinkedit, page),
		}
		libs[i].dataFile = pages(float64(libs[i].data)*(1-cal.ZeroFillShare), page)
		tt, td, tl = tt+libs[i].text, td+libs[i].dcon+libs[i].data, tl+libs[i].link
	}
	// Put the rounding residue on the largest dylib so the totals are exact
	// to the page.
	big := 0
	for i := range libs {
		if libs[i].text+libs[i].link > libs[big].text+libs[big].link {
			big = i
		}
	}
	libs[big].text = uint64(int64(libs[big].text) + int64(pages(chromiumDylibText, page)) - int64(tt))
	libs[big].link = uint64(int64(libs[big].link) + int64(pages(chromiumDylibLinkedit, page)) - int64(tl))
	libs[big].dcon = uint64(int64(libs[big].dcon) + int64(pages(dataTotal, page)) - int64(td))

	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if cal.OrderSeed != 0 {
		orng := rand.New(rand.NewPCG(cal.OrderSeed, 0x07de7))
		orng.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
	}
	if cal.LateLargest > 0 {
		sort.SliceStable(order, func(a, b int) bool {
			return libs[order[a]].text+libs[order[a]].link < libs[order[b]].text+libs[order[b]].link
		})
		late := append([]int(nil), order[n-cal.LateLargest:]...)
		rest := append([]int(nil), order[:n-cal.LateLargest]...)
		sort.Ints(rest)
		order = append(rest, late...)
	}

	// libSystem first, then the unaccounted system images, then the
	// Chromium dylibs, then the rest of the shared cache.
	exe.Needed = append(exe.Needed, "/usr/lib/libSystem.B.dylib")
	set.Images = append(set.Images, systemImage("/usr/lib/libSystem.B.dylib", true))
	for i := 0; i < cal.UnaccountedImages; i++ {
		size := pages(float64(cal.Unaccounted)/float64(cal.UnaccountedImages), page)
		name := fmt.Sprintf("/usr/local/lib/unaccounted_system_image_%d.dylib", i)
		exe.Needed = append(exe.Needed, name)
		img := systemImage(name, false)
		img.Segments = []loader.Segment{
			{Name: "__TEXT", VMSize: size / 2 &^ (page - 1), FileSize: size / 2 &^ (page - 1), Prot: vaspace.ProtRX},
			{Name: "__LINKEDIT", VMAddr: size / 2 &^ (page - 1), VMSize: size - size/2&^(page-1), FileOff: size / 2 &^ (page - 1), FileSize: size - size/2&^(page-1), Prot: vaspace.ProtRead},
		}
		set.Images = append(set.Images, img)
	}

	if cal.TunePages != 0 {
		l := &libs[order[cal.TuneImage]]
		l.link = uint64(int64(l.link) + cal.TunePages*page)
	}
	for k, i := range order {
		l := libs[i]
		name := fmt.Sprintf("@rpath/libchromium_component_%03d.dylib", k)
		spec := &loader.ImageSpec{Name: name, Format: loader.FormatMachO, Kind: loader.KindLibrary, Arch: loader.ArchAArch64}
		var a, o uint64
		for _, s := range []struct {
			name     string
			vm, file uint64
			prot     vaspace.Prot
		}{
			{"__TEXT", l.text, l.text, vaspace.ProtRX},
			{"__DATA_CONST", l.dcon, l.dcon, vaspace.ProtRW},
			{"__DATA", l.data, l.dataFile, vaspace.ProtRW},
			{"__LINKEDIT", l.link, l.link, vaspace.ProtRead},
		} {
			spec.Segments = append(spec.Segments, loader.Segment{Name: s.name, VMAddr: a, VMSize: s.vm, FileOff: o, FileSize: s.file, Prot: s.prot})
			a += s.vm
			o += s.file
		}
		exe.Needed = append(exe.Needed, name)
		set.Images = append(set.Images, spec)
	}
	// System libraries come from the shared cache and are loaded but not
	// mapped one by one; they count towards the 1543 images and dyld's
	// allocator use. Their names are placeholders.
	for i := 1 + cal.UnaccountedImages; i < chromiumImageCount-1-chromiumDylibCount; i++ {
		name := fmt.Sprintf("/usr/lib/system/libsystem_placeholder_%04d.dylib", i)
		exe.Needed = append(exe.Needed, name)
		set.Images = append(set.Images, systemImage(name, true))
	}
	return set
}

// systemImage is an arm64e system library: in the shared cache, or one of
// the images the report's span needs outside it.
func systemImage(name string, inCache bool) *loader.ImageSpec {
	return &loader.ImageSpec{Name: name, Path: name, Format: loader.FormatMachO, Kind: loader.KindLibrary, Arch: loader.ArchAArch64,
		InSharedCache: inCache, MachO: &loader.MachOInfo{CPU: macho.CpuArm64, SubCPU: cpuSubtypeARM64E}}
}

// cpuSubtypeARM64E is CPU_SUBTYPE_ARM64E (xnu-11417 osfmk/mach/machine.h).
const cpuSubtypeARM64E = 2
