package linux

import (
	"bufio"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
)

// HostSources are the files HostKernel reads; tests point them at
// fixtures.
type HostSources struct {
	// Root prefixes /proc and /sys ("" for this machine).
	Root string
	// Release and Machine are uname's; empty means this machine's.
	Release, Machine string
	// PageSize is the page size; 0 means this machine's.
	PageSize uint64
}

// HostKernel returns this machine's kernel profile: uname, the page size,
// /proc/sys/vm/{mmap_rnd_bits,mmap_min_addr,legacy_va_layout},
// /proc/sys/kernel/randomize_va_space, stack_guard_gap= on the kernel
// command line, the vDSO and vsyscall mappings of this very process
// (/proc/self/maps), and the transparent-huge-page settings under
// /sys/kernel/mm/transparent_hugepage. Rules that changed between
// releases are set from the release: the vDSO placed top-down from 6.9 on
// x86_64, anonymous THP alignment from 6.7, the top-down THP bump from 6.8,
// the 1 GiB brk range from 6.9 on x86_64.
func HostKernel() (Kernel, error) { return ReadHostKernel(HostSources{}) }

// ReadHostKernel is HostKernel reading from src.
func ReadHostKernel(src HostSources) (Kernel, error) {
	if src.Release == "" || src.Machine == "" {
		rel, mach, err := uname()
		if err != nil {
			return Kernel{}, fmt.Errorf("linux: host kernel: %w", err)
		}
		if src.Release == "" {
			src.Release = rel
		}
		if src.Machine == "" {
			src.Machine = mach
		}
	}
	arch, err := loader.ParseArch(src.Machine)
	if err != nil {
		return Kernel{}, fmt.Errorf("linux: host kernel: machine %q: %w", src.Machine, err)
	}
	k, err := DefaultKernel(arch)
	if err != nil {
		return Kernel{}, fmt.Errorf("linux: host kernel: %w", err)
	}
	k.Release = src.Release
	major, minor, err := parseRelease(src.Release)
	if err != nil {
		return Kernel{}, fmt.Errorf("linux: host kernel: %w", err)
	}
	atLeast := func(ma, mi int) bool { return major > ma || major == ma && minor >= mi }
	k.PageSize = src.PageSize
	if k.PageSize == 0 {
		k.PageSize = uint64(os.Getpagesize())
	}
	k.StackGuardGap = 256 * k.PageSize
	if arch == loader.ArchX86_64 {
		k.VDSOTopDown = atLeast(6, 9)
		if !atLeast(6, 9) {
			k.BrkRandomRange = 32 << 20
		}
	}
	k.THPAnon = atLeast(6, 7)
	k.THPTopDownBump = atLeast(6, 8)

	root := src.Root
	readInt := func(path string, dst *int) error {
		b, err := os.ReadFile(root + path)
		if err != nil {
			return fmt.Errorf("linux: host kernel: %w", err)
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("linux: host kernel: %s: %q is not a number", path, strings.TrimSpace(string(b)))
		}
		*dst = v
		return nil
	}
	var minAddr, legacy int
	for _, r := range []struct {
		path string
		dst  *int
	}{
		{"/proc/sys/vm/mmap_rnd_bits", &k.MmapRndBits},
		{"/proc/sys/vm/mmap_min_addr", &minAddr},
		{"/proc/sys/vm/legacy_va_layout", &legacy},
		{"/proc/sys/kernel/randomize_va_space", &k.RandomizeVASpace},
	} {
		if err := readInt(r.path, r.dst); err != nil {
			return Kernel{}, err
		}
	}
	k.MmapMinAddr, k.LegacyVALayout = uint64(minAddr), legacy != 0
	if b, err := os.ReadFile(root + "/proc/cmdline"); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if v, ok := strings.CutPrefix(f, "stack_guard_gap="); ok {
				n, err := strconv.ParseUint(v, 0, 64)
				if err != nil {
					return Kernel{}, fmt.Errorf("linux: host kernel: /proc/cmdline: stack_guard_gap=%q is not a number", v)
				}
				k.StackGuardGap = n * k.PageSize
			}
		}
	}
	if b, err := os.ReadFile(root + "/proc/self/auxv"); err == nil && len(b)%16 == 0 && len(b) > 0 {
		k.AuxvEntries = len(b) / 16
	}
	if err := readSpecialMappings(root+"/proc/self/maps", &k); err != nil {
		return Kernel{}, err
	}
	thp := root + "/sys/kernel/mm/transparent_hugepage"
	if _, err := os.Stat(thp); err != nil {
		k.THP = false
	} else if b, err := os.ReadFile(thp + "/hpage_pmd_size"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			k.HugePageSize = n
		}
	}
	if k.VABits, err = vaBitsFromMaps(root+"/proc/self/maps", k); err != nil {
		return Kernel{}, err
	}
	if err := k.Validate(); err != nil {
		return Kernel{}, fmt.Errorf("linux: host kernel: %w", err)
	}
	return k, nil
}

// readSpecialMappings takes the vDSO block and the vsyscall page from a
// maps file: the run of "[vvar…]"/"[vdso]" mappings in address order.
func readSpecialMappings(path string, k *Kernel) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("linux: host kernel: %w", err)
	}
	defer f.Close()
	lines, err := ParseMaps(f, path)
	if err != nil {
		return err
	}
	k.VDSO, k.Vsyscall = nil, false
	for _, l := range lines {
		switch {
		case l.Path == "[vsyscall]":
			k.Vsyscall = true
		case strings.HasPrefix(l.Path, "[vvar") || l.Path == "[vdso]":
			k.VDSO = append(k.VDSO, SpecialMapping{Name: l.Path, Size: l.Len(), Prot: l.Prot})
		}
	}
	return nil
}

// vaBitsFromMaps infers the user VA bits from the stack's end: the stack
// top is the map window's top (2^bits, less a page on x86_64).
func vaBitsFromMaps(path string, k Kernel) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("linux: host kernel: %w", err)
	}
	defer f.Close()
	lines, err := ParseMaps(f, path)
	if err != nil {
		return 0, err
	}
	for _, l := range lines {
		if l.Path == "[stack]" {
			return bits.Len64(uint64(l.End) + k.PageSize - 1), nil
		}
	}
	return k.VABits, nil
}

// MapsLine is one line of /proc/PID/maps.
type MapsLine struct {
	vaspace.Range
	Prot   vaspace.Prot
	Shared bool
	Offset uint64
	// Dev and Inode are the device ("fe:00") and inode of a file mapping.
	Dev   string
	Inode uint64
	// Path is the file or the special name ("[stack]"); "" for anonymous
	// memory.
	Path string
	// flags are the model's VMA flags, for merging.
	flags uint32
}

// String formats the line as the kernel does (fs/proc/task_mmu.c
// show_vma_header_prefix and show_map_vma): the fields, then the path
// padded to column 74.
func (l MapsLine) String() string {
	share := 'p'
	if l.Shared {
		share = 's'
	}
	dev := l.Dev
	if dev == "" {
		dev = "00:00"
	}
	s := fmt.Sprintf("%08x-%08x %s%c %08x %s %d ", uint64(l.Start), uint64(l.End), l.Prot, share, l.Offset, dev, l.Inode)
	if l.Path != "" {
		if pad := 73 - len(s); pad > 0 {
			s += strings.Repeat(" ", pad)
		}
		s += l.Path
	}
	return s
}

// ParseMaps reads /proc/PID/maps text. Errors name the source and line.
func ParseMaps(r io.Reader, source string) ([]MapsLine, error) {
	var out []MapsLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		l, err := parseMapsLine(text)
		if err != nil {
			return nil, fmt.Errorf("linux: %s line %d: %w", source, n, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("linux: %s: %w", source, err)
	}
	return out, nil
}

func parseMapsLine(text string) (MapsLine, error) {
	var l MapsLine
	f := strings.Fields(text)
	if len(f) < 5 {
		return l, fmt.Errorf("%q: want start-end perms offset dev inode [path]", text)
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return l, fmt.Errorf("%q: range %q has no '-'", text, f[0])
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return l, fmt.Errorf("%q: bad range %q", text, f[0])
	}
	l.Range = vaspace.Range{Start: vaspace.Addr(s), End: vaspace.Addr(e)}
	if len(f[1]) != 4 {
		return l, fmt.Errorf("%q: bad permissions %q", text, f[1])
	}
	p, err := vaspace.ParseProt(f[1][:3])
	if err != nil {
		return l, err
	}
	l.Prot, l.Shared = p, f[1][3] == 's'
	if l.Offset, err = strconv.ParseUint(f[2], 16, 64); err != nil {
		return l, fmt.Errorf("%q: bad offset %q", text, f[2])
	}
	l.Dev = f[3]
	if l.Inode, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return l, fmt.Errorf("%q: bad inode %q", text, f[4])
	}
	if len(f) > 5 {
		// The path is the rest of the line after the fifth field and its
		// padding (a path may hold spaces).
		rest := text
		for range 5 {
			rest = strings.TrimLeft(rest, " \t")
			rest = rest[strings.IndexAny(rest+" ", " \t"):]
		}
		l.Path = strings.TrimLeft(rest, " \t")
	}
	return l, nil
}
