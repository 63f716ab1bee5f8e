package reserve

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
)

// Preset is a published fixed layout: a sanitizer's shadow and
// application ranges for one architecture and LLVM era.
type Preset struct {
	Name    string
	Summary string
	Arch    loader.Arch
	// VABits is the user address width the layout is for.
	VABits int
	Spec   Spec
	// Source names the file and version the ranges come from.
	Source string
	// Message is what the runtime prints when the layout is in the way.
	Message string
}

func rng(name string, start, end uint64) Range {
	return Range{Range: vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(end)}, Name: name}
}

// presets are the layouts of compiler-rt (llvm/llvm-project
// compiler-rt/lib/{tsan/rtl/tsan_platform.h, msan/msan.h,
// asan/asan_mapping.h, asan/asan_allocator.h}).
var presets = []Preset{
	{
		Name:    "tsan-x86_64",
		Summary: "ThreadSanitizer, x86_64, current LLVM (6 TB high app range, heap at 0x72…; supports 30 random bits)",
		Arch:    loader.ArchX86_64, VABits: 47,
		Spec: Spec{
			Free: []Range{
				rng("TSan shadow", 0x100000000000, 0x300000000000),
				rng("TSan meta shadow", 0x300000000000, 0x380000000000),
				rng("TSan heap", 0x720000000000, 0x730000000000),
			},
			Allowed: []Range{
				rng("low app", 0x000000001000, 0x020000000000),
				rng("mid app (PIE)", 0x550000000000, 0x5a0000000000),
				rng("high app (modules, stack)", 0x7a0000000000, 0x800000000000),
			},
		},
		Source:  "compiler-rt/lib/tsan/rtl/tsan_platform.h Mapping48AddressSpace (after commit 7d039eff, LLVM 18.1+ per boostorg/math#1149)",
		Message: "FATAL: ThreadSanitizer: unexpected memory mapping",
	},
	{
		Name:    "tsan-x86_64-llvm18",
		Summary: "ThreadSanitizer, x86_64, after PR #70517 (Oct 2023): 2/5/4 TB app ranges, heap at 0x7a…",
		Arch:    loader.ArchX86_64, VABits: 47,
		Spec: Spec{
			Free: []Range{
				rng("TSan shadow", 0x100000000000, 0x300000000000),
				rng("TSan meta shadow", 0x300000000000, 0x380000000000),
				rng("TSan heap", 0x7a0000000000, 0x7b0000000000),
			},
			Allowed: []Range{
				rng("low app", 0x000000001000, 0x020000000000),
				rng("mid app (PIE)", 0x550000000000, 0x5a0000000000),
				rng("high app (modules, stack)", 0x7c0000000000, 0x800000000000),
			},
		},
		Source:  "compiler-rt/lib/tsan/rtl/tsan_platform.h Mapping48AddressSpace at commit 0535a5d (llvm/llvm-project PR #70517)",
		Message: "FATAL: ThreadSanitizer: unexpected memory mapping",
	},
	{
		Name:    "tsan-x86_64-old",
		Summary: "ThreadSanitizer, x86_64, before PR #70517: 0.5/1.5/1.5 TB app ranges (fails on hosts with 32 random bits)",
		Arch:    loader.ArchX86_64, VABits: 47,
		Spec: Spec{
			Free: []Range{
				rng("TSan shadow", 0x010000000000, 0x200000000000),
				rng("TSan meta shadow", 0x300000000000, 0x400000000000),
				rng("TSan traces", 0x600000000000, 0x620000000000),
				rng("TSan heap", 0x7b0000000000, 0x7c0000000000),
			},
			Allowed: []Range{
				rng("low app", 0x000000001000, 0x008000000000),
				rng("mid app (PIE)", 0x550000000000, 0x568000000000),
				rng("high app (modules, stack)", 0x7e8000000000, 0x800000000000),
			},
		},
		Source:  "compiler-rt/lib/tsan/rtl/tsan_platform.h (x86_64 layout comment before PR #70517); google/sanitizers#1716",
		Message: "FATAL: ThreadSanitizer: unexpected memory mapping",
	},
	{
		Name:    "msan-x86_64",
		Summary: "MemorySanitizer, x86_64 (kMemoryLayout with the allocator range of PR #85153)",
		Arch:    loader.ArchX86_64, VABits: 47,
		Spec: Spec{
			Free: []Range{
				rng("MSan shadow-2", 0x010000000000, 0x100000000000),
				rng("MSan origin-2", 0x110000000000, 0x200000000000),
				rng("MSan shadow-3", 0x200000000000, 0x300000000000),
				rng("MSan origin-3", 0x300000000000, 0x400000000000),
				rng("MSan shadow-1", 0x500000000000, 0x510000000000),
				rng("MSan origin-1", 0x600000000000, 0x610000000000),
				rng("MSan allocator", 0x700000000000, 0x740000000000),
			},
			Allowed: []Range{
				rng("app-1", 0x000000000000, 0x010000000000),
				rng("app-2", 0x510000000000, 0x600000000000),
				rng("app-3", 0x740000000000, 0x800000000000),
			},
		},
		Source:  "compiler-rt/lib/msan/msan.h kMemoryLayout (Linux x86_64); google/sanitizers#1614",
		Message: "FATAL: Code 0x… is out of application range. Non-PIE build?",
	},
	{
		Name:    "asan-x86_64",
		Summary: "AddressSanitizer, x86_64: shadow at offset 0x7fff8000, allocator at 0x500000000000",
		Arch:    loader.ArchX86_64, VABits: 47,
		Spec: Spec{
			Free: []Range{
				rng("ASan low shadow", 0x00007fff8000, 0x00008fff7000),
				rng("ASan shadow gap", 0x00008fff7000, 0x02008fff7000),
				rng("ASan high shadow", 0x02008fff7000, 0x10007fff8000),
				rng("ASan allocator", 0x500000000000, 0x540000000000),
			},
		},
		Source:  "compiler-rt/lib/asan/asan_mapping.h, asan_allocator.h kAllocatorSpace (llvm/llvm-project PR #85834)",
		Message: "Shadow memory range interleaves with an existing memory mapping. ASan cannot proceed correctly. ABORTING.",
	},
	{
		Name:    "asan-x86_64-old-allocator",
		Summary: "AddressSanitizer, x86_64, allocator at 0x600000000000 (before PR #85834; PIE plus 32 random bits reaches it)",
		Arch:    loader.ArchX86_64, VABits: 47,
		Spec: Spec{
			Free: []Range{
				rng("ASan low shadow", 0x00007fff8000, 0x00008fff7000),
				rng("ASan shadow gap", 0x00008fff7000, 0x02008fff7000),
				rng("ASan high shadow", 0x02008fff7000, 0x10007fff8000),
				rng("ASan allocator", 0x600000000000, 0x640000000000),
			},
		},
		Source:  "compiler-rt/lib/asan/asan_allocator.h kAllocatorSpace before llvm/llvm-project PR #85834",
		Message: "AddressSanitizer: CHECK failed … (allocator reservation)",
	},
	{
		Name:    "tsan-aarch64-48",
		Summary: "ThreadSanitizer, aarch64 with 48-bit VA",
		Arch:    loader.ArchAArch64, VABits: 48,
		Spec: Spec{
			Free: []Range{
				rng("TSan shadow", 0x155400000000, 0x540000000000),
				rng("TSan meta shadow", 0x800000000000, 0xa00000000000),
			},
			Allowed: []Range{
				rng("low app", 0x000000001000, 0x0a0000000000),
				rng("mid app (PIE)", 0xaaaa00000000, 0xac0000000000),
				rng("high app (modules, stack)", 0xfc0000000000, 0x1000000000000),
			},
		},
		Source:  "compiler-rt/lib/tsan/rtl/tsan_platform.h MappingAarch64_48",
		Message: "FATAL: ThreadSanitizer: unexpected memory mapping",
	},
	{
		Name:    "tsan-aarch64-39",
		Summary: "ThreadSanitizer, aarch64 with 39-bit VA",
		Arch:    loader.ArchAArch64, VABits: 39,
		Spec: Spec{
			Free: []Range{
				rng("TSan shadow", 0x2000000000, 0x4000000000),
				rng("TSan meta shadow", 0x4000000000, 0x4800000000),
				rng("TSan heap", 0x7a00000000, 0x7d00000000),
			},
			Allowed: []Range{
				rng("low app", 0x0000001000, 0x0500000000),
				rng("mid app (PIE)", 0x5500000000, 0x5a00000000),
				rng("high app (modules, stack)", 0x7d00000000, 0x8000000000),
			},
		},
		Source:  "compiler-rt/lib/tsan/rtl/tsan_platform.h MappingAarch64_39",
		Message: "FATAL: ThreadSanitizer: unexpected memory mapping",
	},
	{
		Name:    "asan-aarch64-48",
		Summary: "AddressSanitizer, aarch64 with 48-bit VA: shadow at offset 0x1000000000",
		Arch:    loader.ArchAArch64, VABits: 48,
		Spec: Spec{
			Free: []Range{
				rng("ASan low shadow", 0x1000000000, 0x1200000000),
				rng("ASan shadow gap", 0x1200000000, 0x41200000000),
				rng("ASan high shadow", 0x41200000000, 0x201000000000),
			},
		},
		Source:  "compiler-rt/lib/asan/asan_mapping.h (aarch64, 48-bit)",
		Message: "Shadow memory range interleaves with an existing memory mapping. ASan cannot proceed correctly. ABORTING.",
	},
}

// Presets returns the built-in layouts, by name.
func Presets() []Preset {
	out := append([]Preset(nil), presets...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupPreset returns the preset named name.
func LookupPreset(name string) (Preset, error) {
	for _, p := range presets {
		if p.Name == name {
			return p, nil
		}
	}
	var names []string
	for _, p := range Presets() {
		names = append(names, p.Name)
	}
	return Preset{}, fmt.Errorf("%w: no preset %q (have %s)", ErrSpec, name, strings.Join(names, ", "))
}
