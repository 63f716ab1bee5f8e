package ldso

import (
	"bufio"
	"fmt"
	"strings"
	"sync"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
)

// CPU is what glibc's ld.so reads of the processor to choose the
// subdirectories it searches: the vendor and the features, named as
// Linux names them in /proc/cpuinfo.
type CPU struct {
	// Vendor is the vendor_id ("GenuineIntel", "AuthenticAMD"); ld.so
	// picks a "haswell" or "xeon_phi" platform only on Intel.
	Vendor string
	// Flags are the feature flags ("avx2", "abm", "lahf_lm", ...) on
	// x86_64, the Features ("atomics", ...) on aarch64.
	Flags map[string]bool
}

// maxCPUInfoBytes bounds what HostCPU reads of /proc/cpuinfo (a few KiB
// per CPU).
const maxCPUInfoBytes = 16 << 20

// HostCPU reads /proc/cpuinfo. The kernel lists a feature only when it
// supports it (it clears avx, avx2 and the avx512 flags when it does not
// enable their register state), which is what glibc's "usable" check of
// XCR0 decides (sysdeps/x86/cpu-features.c update_active).
func HostCPU() (CPU, error) {
	data, err := input.ReadFile("/proc/cpuinfo", maxCPUInfoBytes, "the CPU description")
	if err != nil {
		// /proc files report size 0: ReadFile reads them to the limit.
		return CPU{}, err
	}
	return ParseCPUInfo(string(data)), nil
}

// ParseCPUInfo reads the first processor's vendor and flags from the text
// of /proc/cpuinfo.
func ParseCPUInfo(text string) CPU {
	c := CPU{Flags: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if strings.TrimSpace(k) == "" && len(c.Flags) > 0 {
				break // the end of the first processor
			}
			continue
		}
		switch strings.TrimSpace(k) {
		case "vendor_id":
			c.Vendor = strings.TrimSpace(v)
		case "flags", "Features":
			for _, f := range strings.Fields(v) {
				c.Flags[f] = true
			}
		}
	}
	return c
}

func (c CPU) has(flags ...string) bool {
	for _, f := range flags {
		if !c.Flags[f] {
			return false
		}
	}
	return true
}

// The x86-64 micro-architecture levels, as /proc/cpuinfo flags (glibc
// sysdeps/x86/get-isa-level.h; SSE3 is "pni", LZCNT "abm", LAHF/SAHF in
// 64-bit mode "lahf_lm", CMPXCHG16B "cx16").
var (
	x86Baseline = []string{"cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"}
	x86V2       = []string{"cx16", "lahf_lm", "popcnt", "pni", "ssse3", "sse4_1", "sse4_2"}
	x86V3       = []string{"avx", "avx2", "f16c", "fma", "abm", "movbe"}
	x86V3BMI    = []string{"bmi1", "bmi2"}
	x86V4       = []string{"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
)

// HWCaps is the part of ld.so's library search that depends on the
// processor and the glibc release: the subdirectories it tries inside
// every search directory, and the glibc-hwcaps levels ld.so.cache entries
// may carry.
type HWCaps struct {
	// GlibcHWCaps are the supported glibc-hwcaps levels, best first
	// ("x86-64-v3", "x86-64-v2"); glibc 2.33 and later.
	GlibcHWCaps []string
	// Platform is the legacy platform subdirectory ("x86_64", "haswell",
	// "xeon_phi", "aarch64"); Legacy the other legacy hwcap names
	// ("x86_64", "avx512_1", "atomics"), highest bit first. Both are
	// searched only before glibc 2.37.
	Platform string
	Legacy   []string
	// NoLegacy marks glibc 2.37 and later, which search no legacy
	// subdirectories (commit 6099908fb8).
	NoLegacy bool
}

// V3NeedsBMI says whether x86-64-v3 requires BMI1 and BMI2 for glibc
// release v. The requirement came with glibc 2.37 (commit b80f16adbd) and
// was backported to the 2.36 branch (18bec23cbb, 2022-10-03), which
// Debian 12's 2.36-9 follows; earlier 2.36 builds and 2.33-2.35 do not
// check them. Whether a given distribution's 2.35 has the backport is
// not known here: vasim assumes it has not.
func V3NeedsBMI(v GlibcVersion) bool { return v.AtLeast(2, 36) }

// DetectHWCaps returns what ld.so of glibc release v on arch searches on
// cpu (glibc 2.36 sysdeps/x86/cpu-features.c init_cpu_features,
// sysdeps/x86_64/dl-hwcaps-subdirs.c, sysdeps/x86/dl-hwcap.h
// HWCAP_IMPORTANT; sysdeps/unix/sysv/linux/aarch64/dl-procinfo.h).
func DetectHWCaps(v GlibcVersion, arch loader.Arch, cpu CPU) HWCaps {
	h := HWCaps{NoLegacy: v.AtLeast(2, 37)}
	switch arch {
	case loader.ArchX86_64:
		if v.AtLeast(2, 33) && cpu.has(x86Baseline...) && cpu.has(x86V2...) {
			levels := []string{"x86-64-v2"}
			v3 := cpu.has(x86V3...) && (!V3NeedsBMI(v) || cpu.has(x86V3BMI...))
			if v3 {
				levels = append([]string{"x86-64-v3"}, levels...)
				if cpu.has(x86V4...) {
					levels = append([]string{"x86-64-v4"}, levels...)
				}
			}
			h.GlibcHWCaps = levels
		}
		h.Platform = "x86_64"
		h.Legacy = []string{"x86_64"}
		if cpu.Vendor == "GenuineIntel" {
			switch {
			case cpu.has("avx512cd", "avx512er", "avx512pf"):
				h.Platform = "xeon_phi"
			case cpu.has("avx512cd", "avx512bw", "avx512dq", "avx512vl"):
				h.Legacy = []string{"avx512_1", "x86_64"}
			}
			if h.Platform == "x86_64" && cpu.has("avx2", "fma", "bmi1", "bmi2", "abm", "movbe", "popcnt") {
				h.Platform = "haswell"
			}
		}
	case loader.ArchAArch64:
		h.Platform = "aarch64"
		if cpu.Flags["atomics"] {
			h.Legacy = []string{"atomics"}
		}
	}
	return h
}

// Subdirs returns the subdirectories ld.so tries, in order, inside each
// search directory, "" standing for the directory itself: the
// glibc-hwcaps levels, then (before glibc 2.37) every combination of
// "tls", the platform and the legacy hwcap names, from all of them down
// to none (glibc 2.36 elf/dl-hwcaps.c _dl_important_hwcaps).
func (h HWCaps) Subdirs() []string {
	var out []string
	for _, l := range h.GlibcHWCaps {
		out = append(out, "glibc-hwcaps/"+l)
	}
	if h.NoLegacy {
		return append(out, "")
	}
	comps := []string{"tls"}
	if h.Platform != "" {
		comps = append(comps, h.Platform)
	}
	comps = append(comps, h.Legacy...)
	n := len(comps)
	for mask := (1 << n) - 1; mask >= 0; mask-- {
		var parts []string
		for i, c := range comps {
			if mask&(1<<(n-1-i)) != 0 {
				parts = append(parts, c)
			}
		}
		out = append(out, strings.Join(parts, "/"))
	}
	return out
}

// String renders the subdirectories for messages.
func (h HWCaps) String() string {
	return fmt.Sprintf("glibc-hwcaps %v, platform %q, legacy %v", h.GlibcHWCaps, h.Platform, h.Legacy)
}

// hostCPU is HostCPU, read once.
var hostCPU = sync.OnceValues(HostCPU)
