package linux

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
)

// Kernel is a kernel profile: every setting of the Linux kernel that
// decides where exec and mmap put things. HostKernel reads this machine's;
// DefaultKernel gives an architecture's defaults. Every field can be
// overridden, in Go or through the JSON form (see ParseKernel).
//
// The rules are those of Linux 6.18 (mm/mmap.c, mm/util.c,
// arch/x86/mm/mmap.c, fs/binfmt_elf.c, mm/huge_memory.c); where a rule
// changed between releases the profile has a field for it, so an older
// kernel is described by setting it, not by a version check.
type Kernel struct {
	// Release is the kernel release ("6.18.44"), for reports only.
	Release string `json:"release,omitempty"`
	// Arch is the machine: x86_64 or aarch64.
	Arch loader.Arch `json:"-"`
	// PageSize is the base page size: 4 KiB on x86_64; 4, 16 or 64 KiB on
	// arm64.
	PageSize uint64 `json:"page_size"`
	// VABits is the number of user virtual address bits of the default
	// map window: 47 on x86_64 (DEFAULT_MAP_WINDOW = 2^47 − page, also
	// with 5-level paging, which only hands out higher addresses to a
	// hint above the window), and CONFIG_ARM64_VA_BITS capped at 48 on
	// arm64 (DEFAULT_MAP_WINDOW_64).
	VABits int `json:"va_bits"`
	// MmapRndBits is vm.mmap_rnd_bits: the mmap base and the PIE base are
	// each moved by an independent uniform draw of this many bits, in
	// pages.
	MmapRndBits int `json:"mmap_rnd_bits"`
	// MmapMinAddr is vm.mmap_min_addr (the DAC value the sysctl shows):
	// MAP_FIXED below it fails for unprivileged processes.
	MmapMinAddr uint64 `json:"mmap_min_addr"`
	// LSMMmapMinAddr is CONFIG_LSM_MMAP_MIN_ADDR: with security modules
	// built in, the kernel's effective mmap_min_addr is the larger of the
	// two, and that is the floor of every search and of hints (Debian:
	// 65536; measured on Linux 6.18 with the sysctl at 4096: mmap(NULL)
	// never goes below 0x10000).
	LSMMmapMinAddr uint64 `json:"lsm_mmap_min_addr"`
	// RandomizeVASpace is kernel.randomize_va_space: 0 none, 1 stack,
	// mmap, PIE and vDSO, 2 also brk.
	RandomizeVASpace int `json:"randomize_va_space"`
	// LegacyVALayout is vm.legacy_va_layout: mmap bottom-up from
	// TASK_UNMAPPED_BASE.
	LegacyVALayout bool `json:"legacy_va_layout"`
	// StackGuardGap is the gap kept below a grows-down stack by top-down
	// placement (stack_guard_gap=, 256 pages by default).
	StackGuardGap uint64 `json:"stack_guard_gap"`
	// BrkRandomRange is the range arch_randomize_brk draws the heap start
	// from: 1 GiB on x86_64 since Linux 6.9 (and in stable backports of
	// commit 44c76825d6ee) and on arm64; 32 MiB on older x86_64 kernels.
	BrkRandomRange uint64 `json:"brk_random_range"`
	// VDSO lists the special mappings the kernel adds at exec, from low
	// to high address: on x86_64 6.18 "[vvar]" 16 KiB, "[vvar_vclock]"
	// 8 KiB and "[vdso]" 8 KiB.
	VDSO []SpecialMapping `json:"vdso"`
	// VDSOTopDown says the vDSO block is an ordinary top-down mmap placed
	// right after the interpreter (arm64; x86_64 from Linux 6.9, commit
	// 3c6539b4c177). Otherwise (x86_64 before 6.9) it is put at a random
	// page in the 2 MiB above the stack, which this model does not
	// enumerate: Layout refuses such a profile with ASLR on.
	VDSOTopDown bool `json:"vdso_top_down"`
	// Vsyscall is the fixed legacy vsyscall page (x86_64
	// [0xffffffffff600000, 0xffffffffff601000)), when the kernel offers
	// it. It lies above the user address space and never collides.
	Vsyscall bool `json:"vsyscall"`
	// THP says the kernel is built with transparent huge pages, which
	// turns on the 2 MiB alignment rules below whatever the runtime
	// policy is.
	THP bool `json:"thp"`
	// THPFileSystems are the file systems whose get_unmapped_area is
	// thp_get_unmapped_area, so a file mapping covering 2 MiB beyond its
	// first 2 MiB-aligned offset gets a 2 MiB-congruent address: ext4,
	// xfs and btrfs (fs/ext4/file.c, fs/xfs/xfs_file.c, fs/btrfs/file.c).
	THPFileSystems []string `json:"thp_file_systems"`
	// THPAnon says anonymous mappings with no hint whose length is a
	// multiple of 2 MiB are 2 MiB-aligned (mm/mmap.c __get_unmapped_area,
	// Linux 6.7 and later).
	THPAnon bool `json:"thp_anon"`
	// THPTopDownBump is the later refinement of __thp_get_unmapped_area:
	// in top-down mode, when the padded search's result is already
	// congruent, the mapping moves up by 2 MiB to sit flush with the top
	// of its window.
	THPTopDownBump bool `json:"thp_top_down_bump"`
	// Platform is the AT_PLATFORM string exec copies onto the stack
	// ("x86_64", "aarch64"), and AuxvEntries the number of auxiliary
	// vector entries including AT_NULL (23 on x86_64 6.18, measured):
	// both decide how far the initial stack pointer is below the
	// argument strings.
	Platform    string `json:"platform"`
	AuxvEntries int    `json:"auxv_entries"`
	// HugePageSize is the PMD size those rules align to (2 MiB with 4 KiB
	// pages; 32 MiB with 16 KiB; 512 MiB with 64 KiB).
	HugePageSize uint64 `json:"huge_page_size"`
}

// SpecialMapping is a mapping the kernel makes itself at exec: one part
// of the vDSO block.
type SpecialMapping struct {
	Name string       `json:"name"`
	Size uint64       `json:"size"`
	Prot vaspace.Prot `json:"-"`
}

// ErrKernel classifies a kernel profile that cannot describe a real
// kernel (see KernelError).
var ErrKernel = errors.New("invalid kernel profile")

// KernelError says which setting of a profile is wrong and why.
type KernelError struct {
	Field  string
	Detail string
}

func (e *KernelError) Error() string {
	return fmt.Sprintf("linux: kernel profile: %s: %s", e.Field, e.Detail)
}

// Unwrap returns ErrKernel.
func (e *KernelError) Unwrap() error { return ErrKernel }

// DefaultKernel returns the defaults of an architecture's Linux 6.18
// kernel with 4 KiB pages: x86_64 with 47-bit VA and 28 random bits (the
// Kconfig minimum and Debian's value), or arm64 with 48-bit VA and 18 bits
// (the Kconfig minimum; which distributions raise it is unconfirmed). The
// arm64 vDSO sizes ("[vvar]" 4 pages, "[vdso]" 2 pages) are unconfirmed:
// set VDSO from a target's /proc/self/maps.
func DefaultKernel(arch loader.Arch) (Kernel, error) {
	k := Kernel{
		Arch:             arch,
		PageSize:         4096,
		MmapMinAddr:      4096,
		LSMMmapMinAddr:   65536,
		RandomizeVASpace: 2,
		StackGuardGap:    256 * 4096,
		BrkRandomRange:   1 << 30,
		VDSOTopDown:      true,
		THP:              true,
		THPFileSystems:   []string{"ext4", "xfs", "btrfs"},
		THPAnon:          true,
		THPTopDownBump:   true,
		HugePageSize:     2 << 20,
	}
	switch arch {
	case loader.ArchX86_64:
		k.VABits = 47
		k.MmapRndBits = 28
		k.Vsyscall = true
		k.Platform, k.AuxvEntries = "x86_64", 23
		k.VDSO = []SpecialMapping{
			{Name: "[vvar]", Size: 0x4000, Prot: vaspace.ProtRead},
			{Name: "[vvar_vclock]", Size: 0x2000, Prot: vaspace.ProtRead},
			{Name: "[vdso]", Size: 0x2000, Prot: vaspace.ProtRX},
		}
	case loader.ArchAArch64:
		k.VABits = 48
		k.MmapRndBits = 18
		// Unconfirmed: arm64's auxv count varies with HWCAP3/4 and
		// AT_MINSIGSTKSZ support.
		k.Platform, k.AuxvEntries = "aarch64", 22
		k.VDSO = []SpecialMapping{
			{Name: "[vvar]", Size: 0x4000, Prot: vaspace.ProtRead},
			{Name: "[vdso]", Size: 0x2000, Prot: vaspace.ProtRX},
		}
	default:
		return Kernel{}, &KernelError{Field: "arch", Detail: fmt.Sprintf("%v is not modelled (x86_64 and aarch64 are)", arch)}
	}
	return k, nil
}

// Validate checks that the profile describes a kernel that can exist: the
// page size, VA bits and random bits within what the architecture's
// Kconfig allows, and sizes that are page multiples.
func (k *Kernel) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &KernelError{Field: field, Detail: fmt.Sprintf(format, args...)}
	}
	switch k.Arch {
	case loader.ArchX86_64:
		if k.PageSize != 4096 {
			return bad("page_size", "%#x: x86_64 has 4 KiB pages", k.PageSize)
		}
		if k.VABits != 47 {
			return bad("va_bits", "%d: the x86_64 default map window is 47 bits (5-level paging only serves hints above it)", k.VABits)
		}
	case loader.ArchAArch64:
		switch k.PageSize {
		case 4096, 16384, 65536:
		default:
			return bad("page_size", "%#x: arm64 pages are 4, 16 or 64 KiB", k.PageSize)
		}
		switch k.VABits {
		case 36, 39, 42, 47, 48:
		default:
			return bad("va_bits", "%d: arm64 user VA is 36, 39, 42, 47 or 48 bits (52-bit VA serves only hints above 48)", k.VABits)
		}
	default:
		return bad("arch", "%v is not modelled (x86_64 and aarch64 are)", k.Arch)
	}
	lo, hi := k.RndBitsRange()
	if k.MmapRndBits < lo || k.MmapRndBits > hi {
		return bad("mmap_rnd_bits", "%d: %v with %d-bit VA and %s pages accepts %d..%d", k.MmapRndBits, k.Arch, k.VABits, vaspace.Size(k.PageSize), lo, hi)
	}
	if k.RandomizeVASpace < 0 || k.RandomizeVASpace > 2 {
		return bad("randomize_va_space", "%d: want 0, 1 or 2", k.RandomizeVASpace)
	}
	if k.MmapMinAddr >= k.TaskSize()/2 {
		return bad("mmap_min_addr", "%#x leaves no room below the mmap base", k.MmapMinAddr)
	}
	if k.LSMMmapMinAddr >= k.TaskSize()/2 {
		return bad("lsm_mmap_min_addr", "%#x leaves no room below the mmap base", k.LSMMmapMinAddr)
	}
	if k.StackGuardGap%k.PageSize != 0 || k.StackGuardGap > 1<<40 {
		return bad("stack_guard_gap", "%#x: want a page multiple below 1 TiB", k.StackGuardGap)
	}
	if k.BrkRandomRange%k.PageSize != 0 || k.BrkRandomRange > 1<<40 {
		return bad("brk_random_range", "%#x: want a page multiple below 1 TiB", k.BrkRandomRange)
	}
	if k.THP && (k.HugePageSize <= k.PageSize || !vaspace.IsPow2(k.HugePageSize) || k.HugePageSize > 1<<30) {
		return bad("huge_page_size", "%#x: want a power of two above the page size, at most 1 GiB", k.HugePageSize)
	}
	if k.AuxvEntries < 1 || k.AuxvEntries > 1024 || len(k.Platform) > 64 {
		return bad("auxv_entries", "%d entries with platform %q: want 1..1024 entries and a platform string below 64 bytes", k.AuxvEntries, k.Platform)
	}
	for i, v := range k.VDSO {
		if v.Size == 0 || v.Size%k.PageSize != 0 || v.Size > 1<<30 {
			return bad(fmt.Sprintf("vdso[%d].size", i), "%#x: want a non-zero page multiple below 1 GiB", v.Size)
		}
		if v.Name == "" {
			return bad(fmt.Sprintf("vdso[%d].name", i), "missing")
		}
	}
	return nil
}

// RndBitsRange returns the values vm.mmap_rnd_bits accepts on the
// profile's machine (arch/Kconfig ARCH_MMAP_RND_BITS_MIN/MAX): 28..32 on
// x86_64; on arm64 the minimum 18, 16 or 14 for 4, 16 or 64 KiB pages and
// the maximum VA_BITS − PAGE_SHIFT − 3 (33 for 48-bit VA with 4 KiB
// pages).
func (k *Kernel) RndBitsRange() (lo, hi int) {
	if k.Arch == loader.ArchX86_64 {
		return 28, 32
	}
	shift := bits.TrailingZeros64(k.PageSize)
	switch shift {
	case 14:
		lo = 16
	case 16:
		lo = 14
	default:
		lo = 18
	}
	return lo, k.VABits - shift - 3
}

// SearchFloor returns the lowest address mmap places anything at without
// MAP_FIXED: the page size or the effective mmap_min_addr, whichever is
// larger (mm/vma.c unmapped_area_topdown).
func (k *Kernel) SearchFloor() uint64 {
	return max(k.PageSize, k.MmapMinAddr, k.LSMMmapMinAddr)
}

// TaskSize returns the top of the default map window: DEFAULT_MAP_WINDOW
// (x86_64 2^47 − 4 KiB; arm64 2^VA_BITS). Nothing is placed at or above
// it without a hint above it.
func (k *Kernel) TaskSize() uint64 {
	w := uint64(1) << k.VABits
	if k.Arch == loader.ArchX86_64 {
		w -= k.PageSize
	}
	return w
}

// StackTop returns STACK_TOP, the end of the initial stack before
// randomisation: the task size on both architectures.
func (k *Kernel) StackTop() uint64 { return k.TaskSize() }

// StackRndPages returns how many pages the stack top can move down:
// STACK_RND_MASK + 1, 0x400000 on x86_64 (16 GiB) and 0x40000 >>
// (PAGE_SHIFT − 12) on arm64 (1 GiB with 4 KiB pages).
func (k *Kernel) StackRndPages() uint64 {
	if k.Arch == loader.ArchX86_64 {
		return 0x400000
	}
	return 0x40000 >> (bits.TrailingZeros64(k.PageSize) - 12)
}

// ETDynBase returns ELF_ET_DYN_BASE, where a PIE is loaded before
// randomisation: two thirds of the map window (x86_64
// DEFAULT_MAP_WINDOW / 3 * 2 = 0x555555554aaa; arm64
// 2 * DEFAULT_MAP_WINDOW_64 / 3). The kernel page-aligns it afterwards.
func (k *Kernel) ETDynBase() uint64 {
	if k.Arch == loader.ArchX86_64 {
		return k.TaskSize() / 3 * 2
	}
	return 2 * k.TaskSize() / 3
}

// UnmappedBase returns TASK_UNMAPPED_BASE, where the legacy bottom-up
// layout starts before randomisation: PAGE_ALIGN(TASK_SIZE / 3) on x86_64
// and PAGE_ALIGN(DEFAULT_MAP_WINDOW / 4) on arm64.
func (k *Kernel) UnmappedBase() uint64 {
	if k.Arch == loader.ArchX86_64 {
		return alignUp(k.TaskSize()/3, k.PageSize)
	}
	return alignUp(k.TaskSize()/4, k.PageSize)
}

// Launch are the per-process settings exec depends on besides the
// kernel's: the personality and the stack rlimit.
type Launch struct {
	// NoRandomize is personality ADDR_NO_RANDOMIZE (setarch -R).
	NoRandomize bool
	// CompatLayout is personality ADDR_COMPAT_LAYOUT (setarch -L): the
	// legacy bottom-up layout.
	CompatLayout bool
	// StackLimit is the RLIMIT_STACK soft limit in bytes; Unlimited for
	// "ulimit -s unlimited".
	StackLimit uint64
}

// Unlimited is RLIM_INFINITY.
const Unlimited = ^uint64(0)

// Randomized reports whether exec randomises the layout: the sysctl is
// non-zero and the personality does not forbid it.
func (k *Kernel) Randomized(l Launch) bool {
	return k.RandomizeVASpace > 0 && !l.NoRandomize
}

// Legacy reports whether mmap works bottom-up: the personality or
// vm.legacy_va_layout asks for it, or (the generic code arm64 uses, not
// x86_64) the stack is unlimited.
func (k *Kernel) Legacy(l Launch) bool {
	if l.CompatLayout || k.LegacyVALayout {
		return true
	}
	return k.Arch != loader.ArchX86_64 && l.StackLimit == Unlimited
}

// MmapBaseMax returns the mmap base at a zero draw; a draw of r pages
// lowers a top-down base (raises a legacy one) by r pages.
//
// Top-down (arch/x86/mm/mmap.c mmap_base, mm/util.c mmap_base): the gap
// below the stack top is the stack rlimit plus, when the layout is
// randomised, the stack's random range and the guard gap (unless that sum
// overflows), clamped to [128 MiB, 5/6 of the task size]; the base is
// PAGE_ALIGN(top − gap − rnd). Legacy: TASK_UNMAPPED_BASE + rnd.
func (k *Kernel) MmapBaseMax(l Launch) uint64 {
	if k.Legacy(l) {
		return k.UnmappedBase()
	}
	top := k.TaskSize()
	gap := l.StackLimit
	pad := k.StackGuardGap
	if k.Randomized(l) {
		pad += (k.StackRndPages() - 1) * k.PageSize // STACK_RND_MASK << PAGE_SHIFT
	}
	if gap+pad > gap { // values close to RLIM_INFINITY overflow
		gap += pad
	}
	gap = min(max(gap, 128<<20), top/6*5)
	return alignUp(top-gap, k.PageSize)
}

// parseRelease returns a kernel release's major and minor numbers
// ("6.18.44" gives 6, 18), or an error naming the release.
func parseRelease(r string) (major, minor int, err error) {
	f := strings.FieldsFunc(r, func(c rune) bool { return c == '.' || c == '-' || c == '+' })
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("kernel release %q: want major.minor", r)
	}
	if major, err = strconv.Atoi(f[0]); err != nil {
		return 0, 0, fmt.Errorf("kernel release %q: %v", r, err)
	}
	if minor, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, fmt.Errorf("kernel release %q: %v", r, err)
	}
	return major, minor, nil
}

func alignUp(x, a uint64) uint64   { return (x + a - 1) &^ (a - 1) }
func alignDown(x, a uint64) uint64 { return x &^ (a - 1) }
