// Package scenario holds vasim's built-in cases: image sets built from
// published figures, each with the placement model it was calibrated for
// and the figures it reproduces.
package scenario

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/macos"
)

// Scenario is a named image set built into vasim, with the placement
// model of the platform it names (Set.Platform).
type Scenario struct {
	Name        string
	Description string
	// Set is the image set; Model the macOS placement model (platform,
	// dyld and malloc parameters) to place it with.
	Set   *loader.ImageSet
	Model *macos.Model
	// Published lists the figures the scenario reproduces, with their
	// source, for reports.
	Published []string
	// Notes say how the synthetic parts were chosen and where the
	// published figures conflict.
	Notes []string
	// Observed is a published crash count to compare with, if any.
	Observed *Observation
	// XZoneOn says how we know XZone is on for the scenario's process
	// ("" when it is only assumed): every probability is conditional on
	// it, and Apple's shipped feature flags, which decide it, are not
	// public (libmalloc-792.41.1 malloc.c _malloc_init_featureflags).
	XZoneOn string
}

// Observation is a crash count seen in real launches.
type Observation struct {
	Launches int
	Lo, Hi   int // crashes seen, as a range over repeated runs
	Source   string
}

var scenarios = map[string]func() *Scenario{
	"chromium-browser-tests": chromiumScenario,
}

// Names lists the built-in scenarios.
func Names() []string {
	var out []string
	for n := range scenarios {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Default is the scenario `vasim xzone` runs with no input.
const Default = "chromium-browser-tests"

// Load builds the named scenario. Each call returns a fresh copy that the
// caller may modify.
func Load(name string) (*Scenario, error) {
	f, ok := scenarios[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (built in: %s)", name, strings.Join(Names(), ", "))
	}
	return f(), nil
}

func chromiumScenario() *Scenario {
	set := chromiumSet(chromiumCal)
	m, err := macos.ModelFor(set.Platform)
	if err != nil {
		panic("scenario: " + err.Error()) // a built-in set names a built-in platform
	}
	return &Scenario{
		Name:        "chromium-browser-tests",
		Description: "Chromium component-build browser_tests, macOS 26.3.1 (25D2128) arm64: 1543 images, 516 Chromium dylibs, crashing in xzm_main_malloc_zone_init_range_groups ~2% of launches",
		Set:         set,
		Model:       m,
		Published: []string{
			"1543 images; 516 Chromium dylibs (527 in the opening post)",
			"executable: 5.54 GiB VA = 4 GiB __PAGEZERO + 517 MiB __TEXT + 1.04 GiB __LINKEDIT, ~1.5 GiB on disk",
			"dylibs: 10.19 GiB VM in all, 2.26 GiB __TEXT, 3.86 GiB __LINKEDIT",
			"images span 4 GiB to 16.46 GiB; 7 dylibs past 16 GiB",
			"slots 0-14 collide: 15/736 = 2.04%; observed 2-5 crashes in 200 spawns",
			"lldb (ASLR off): entropy % 736 = 1, ptr_start 0x402000000 hit a dylib loaded at 0x401d04000",
			"source: Apple Developer Forums thread 821081",
		},
		Notes: []string{
			"Dylib sizes are synthetic: a seeded log-normal spread (sigma 0.8) per segment class, scaled so __TEXT, __LINKEDIT and data segments add up to the published totals to the page; names are placeholders.",
			"The set is placed on the macos-26 platform, whose shared region is not in the low address space: with xnu-11417's [6, 12) GiB region (macos-15), first fit would end near 21.8 GiB (P ~ 25%), contradicting the published span and rate.",
			"Executable, dylibs and the model's own holes (dyld's temporary file mappings, allocator pools, the stack) end near 16.1 GiB; the report reaches 16.46 GiB 'combined with system libraries', so 300 MiB of system images outside the shared cache (6 placeholders) fill the difference.",
			"The load order is a seeded shuffle (seed 33) and one dylib's __LINKEDIT is 105 pages smaller, the first choices found that put 7 dylibs past 16 GiB, the image top at 16.46 GiB and a dylib at exactly 0x401d04000; the figures are the facts, these choices are not.",
			"The published addresses come from an lldb run, which disables ASLR: the scenario reproduces them with both slides at 0. With ASLR on, the slides move the images and the rate rises slightly; vasim sums over every slide exactly.",
			"1026 system libraries are loaded from the shared cache and not mapped one by one; they count towards dyld's allocator use.",
		},
		Observed: &Observation{Launches: 200, Lo: 2, Hi: 5, Source: "Apple Developer Forums thread 821081: 2-5 crashes per 200 posix_spawn launches, with or without ASLR"},
		XZoneOn:  "its published crashes are the XZone reservation failure (\"BUG IN LIBMALLOC: pointer range initial reservation failed\", Apple Developer Forums thread 821081)",
	}
}
