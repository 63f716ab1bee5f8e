package ldso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/internal/objfile"
)

// The /etc/ld.so.cache reader: the binary file ldconfig writes and glibc's
// ld.so consults before the default directories (glibc 2.36
// sysdeps/generic/dl-cache.h for the layout, elf/dl-cache.c
// _dl_load_cache_lookup and search_cache for the lookup, elf/cache.c
// print_entry for the "ldconfig -p" rendering).

// Cache file magics (sysdeps/generic/dl-cache.h).
const (
	// LDCacheMagicOld is CACHEMAGIC, the libc5/glibc 2.0-2.1 format.
	LDCacheMagicOld = "ld.so-1.7.0"
	// LDCacheMagicNew is CACHEMAGIC_VERSION_NEW, the glibc 2.2+ format.
	LDCacheMagicNew = "glibc-ld.so.cache1.1"
)

// Cache entry flags (sysdeps/generic/ldconfig.h).
const (
	CacheFlagTypeMask     = 0x00ff
	CacheFlagELF          = 0x0001
	CacheFlagELFLibc6     = 0x0003
	CacheFlagRequiredMask = 0xff00
	CacheFlagX8664Lib64   = 0x0300
	CacheFlagAArch64Lib64 = 0x0a00
)

// dlCacheHWCapExtension is DL_CACHE_HWCAP_EXTENSION: the hwcap field's low
// 32 bits index the glibc-hwcaps extension section.
const dlCacheHWCapExtension = uint64(1) << 62

// cacheExtensionMagic is cache_extension_magic ((uint32_t) -358342284).
const cacheExtensionMagic = uint32(0xeaa42174)

// Extension section tags.
const (
	cacheExtGenerator   = 0
	cacheExtGlibcHWCaps = 1
)

// LDCacheEntry is one library in the cache.
type LDCacheEntry struct {
	// Name is the key: the SONAME (or file name) ld.so looks up.
	Name string
	// Path is where the library is.
	Path string
	// Flags holds the type and required-ABI bits (see CacheFlag*).
	Flags int32
	// HWCap is the hwcap word of the new format (0 in the old one).
	HWCap uint64
	// HWCapSubdir is the glibc-hwcaps subdirectory name (e.g. "x86-64-v3")
	// when HWCap uses the extension, else "".
	HWCapSubdir string
}

// UsesHWCapsExtension reports dl_cache_hwcap_extension: only the extension
// bit is set in the upper half, ignoring the ISA-level bits.
func (e LDCacheEntry) UsesHWCapsExtension() bool {
	const isaLevelMask = (1 << 10) - 1
	return ((e.HWCap >> 32) &^ isaLevelMask) == (dlCacheHWCapExtension >> 32)
}

// FlagsString renders the flags the way "ldconfig -p" does
// (elf/cache.c print_entry), e.g. "libc6,x86-64".
func (e LDCacheEntry) FlagsString() string {
	var b strings.Builder
	switch e.Flags & CacheFlagTypeMask {
	case 0:
		b.WriteString("libc4")
	case 1:
		b.WriteString("ELF")
	case 2:
		b.WriteString("libc5")
	case 3:
		b.WriteString("libc6")
	default:
		b.WriteString("unknown")
	}
	switch e.Flags & CacheFlagRequiredMask {
	case 0x0100, 0x0400, 0x0500, 0x0700:
		b.WriteString(",64bit")
	case 0x0200:
		b.WriteString(",IA-64")
	case 0x0300:
		b.WriteString(",x86-64")
	case 0x0600:
		b.WriteString(",N32")
	case 0x0800:
		b.WriteString(",x32")
	case 0x0900:
		b.WriteString(",hard-float")
	case 0x0a00:
		b.WriteString(",AArch64")
	case 0x0b00, 0x0f00:
		b.WriteString(",soft-float")
	case 0x0c00:
		b.WriteString(",nan2008")
	case 0x0d00:
		b.WriteString(",N32,nan2008")
	case 0x0e00:
		b.WriteString(",64bit,nan2008")
	case 0x1000:
		b.WriteString(",double-float")
	case 0:
	default:
		fmt.Fprintf(&b, ",%d", e.Flags&CacheFlagRequiredMask)
	}
	if e.HWCapSubdir != "" {
		fmt.Fprintf(&b, ", hwcap: %q", e.HWCapSubdir)
	} else if e.HWCap != 0 {
		fmt.Fprintf(&b, ", hwcap: %#016x", e.HWCap)
	}
	return b.String()
}

// LDCache is a parsed ld.so.cache.
type LDCache struct {
	// Path is the file it was read from.
	Path string
	// Size is the file's length: what ld.so maps at its first lookup
	// (elf/dl-cache.c _dl_load_cache_lookup).
	Size uint64
	// Format is "new", "old" or "old+new" (the old format with the new one
	// embedded, as glibc 2.2-2.31 ldconfig wrote by default).
	Format string
	// Entries are in file order (sorted by ldconfig so that the
	// preferred entry for a name comes first).
	Entries []LDCacheEntry
	// HWCapsSubdirs lists the glibc-hwcaps extension names by index.
	HWCapsSubdirs []string
	// Generator is the generator extension (e.g. "ldconfig (GNU libc)
	// stable release version 2.36"), or "".
	Generator string
}

// MaxLDCacheBytes bounds the cache files ReadLDCache reads: 64 MiB
// (Debian's holds about 2,000 entries in 100 KiB).
const MaxLDCacheBytes = 64 << 20

// ReadLDCache reads and parses the cache file at path, a regular file of
// at most MaxLDCacheBytes.
func ReadLDCache(path string) (*LDCache, error) {
	data, err := input.ReadFile(path, MaxLDCacheBytes, "an ld.so.cache")
	if err != nil {
		return nil, err
	}
	return ParseLDCache(data, path)
}

const (
	oldHeaderSize = 11 + 1 + 4 // magic (11), padding to 4, nlibs
	oldEntrySize  = 12
	newHeaderSize = 48
	newEntrySize  = 24
)

// ParseLDCache parses cache file contents. Like glibc, it accepts the new
// format alone, the old one alone, or the old one with the new embedded
// after it (then the new part is used). Only little-endian caches (the
// byte order of every machine vasim models) are read; a new-format header
// that declares big-endian data is an error.
func ParseLDCache(data []byte, path string) (*LDCache, error) {
	bad := func(off int64, format string, args ...any) error {
		return &loader.FileError{Path: path, Format: "ld.so.cache", Offset: off, Err: fmt.Errorf(format, args...)}
	}
	le := binary.LittleEndian
	c := &LDCache{Path: path, Size: uint64(len(data))}
	switch {
	case bytes.HasPrefix(data, []byte(LDCacheMagicNew)):
		c.Format = "new"
		return c, c.parseNew(data, 0, bad)
	case bytes.HasPrefix(data, []byte(LDCacheMagicOld)):
		if len(data) < oldHeaderSize {
			return nil, bad(0, "old-format header truncated (%d bytes)", len(data))
		}
		// struct cache_file: char magic[11]; unsigned nlibs (aligned to 4:
		// at offset 12); struct file_entry libs[].
		nlibs := uint64(le.Uint32(data[12:]))
		if (uint64(len(data))-oldHeaderSize)/oldEntrySize < nlibs {
			return nil, bad(12, "old format claims %d entries but the file has room for %d", nlibs, (uint64(len(data))-oldHeaderSize)/oldEntrySize)
		}
		end := oldHeaderSize + nlibs*oldEntrySize
		// ALIGN_CACHE: 8-byte alignment for the embedded new header.
		newOff := (end + 7) &^ 7
		if uint64(len(data)) > newOff+newHeaderSize && bytes.HasPrefix(data[newOff:], []byte(LDCacheMagicNew)) {
			c.Format = "old+new"
			return c, c.parseNew(data, newOff, bad)
		}
		c.Format = "old"
		strtab := data[end:]
		for i := uint64(0); i < nlibs; i++ {
			o := oldHeaderSize + i*oldEntrySize
			flags := int32(le.Uint32(data[o:]))
			key, val := le.Uint32(data[o+4:]), le.Uint32(data[o+8:])
			k, ok1 := objfile.CString(strtab, uint64(key))
			v, ok2 := objfile.CString(strtab, uint64(val))
			if !ok1 || !ok2 {
				return nil, bad(int64(o), "entry %d: string index out of range", i)
			}
			c.Entries = append(c.Entries, LDCacheEntry{Name: k, Path: v, Flags: flags})
		}
		return c, nil
	}
	n := min(len(data), 20)
	return nil, bad(0, "magic %q is neither %q nor %q", data[:n], LDCacheMagicNew, LDCacheMagicOld)
}

func (c *LDCache) parseNew(data []byte, base uint64, bad func(int64, string, ...any) error) error {
	le := binary.LittleEndian
	if uint64(len(data)) < base+newHeaderSize {
		return bad(int64(base), "new-format header truncated")
	}
	h := data[base:]
	nlibs := uint64(le.Uint32(h[20:]))
	flags := h[28]
	extOff := uint64(le.Uint32(h[32:]))
	if flags != 0 && flags&3 != 2 {
		return bad(int64(base+28), "cache flags %#x: not a little-endian cache (glibc ignores such a cache)", flags)
	}
	if (uint64(len(data))-base-newHeaderSize)/newEntrySize < nlibs {
		return bad(int64(base+20), "new format claims %d entries but the file has room for %d", nlibs, (uint64(len(data))-base-newHeaderSize)/newEntrySize)
	}
	// Extensions: offsets are from the start of the file; the hwcaps
	// strings are indices from the start of the file too
	// (elf/cache.c glibc_hwcaps_string).
	if extOff != 0 {
		if extOff%4 != 0 || extOff+8 > uint64(len(data)) {
			return bad(int64(base+32), "extension offset %#x misaligned or beyond the file", extOff)
		}
		if le.Uint32(data[extOff:]) != cacheExtensionMagic {
			return bad(int64(extOff), "extension directory magic %#x, want %#x", le.Uint32(data[extOff:]), cacheExtensionMagic)
		}
		count := uint64(le.Uint32(data[extOff+4:]))
		if extOff+8+count*16 > uint64(len(data)) {
			return bad(int64(extOff+4), "extension directory of %d sections runs past the end of the file", count)
		}
		for i := uint64(0); i < count; i++ {
			s := data[extOff+8+i*16:]
			tag, off, size := le.Uint32(s), uint64(le.Uint32(s[8:])), uint64(le.Uint32(s[12:]))
			if off+size > uint64(len(data)) {
				return bad(int64(extOff+8+i*16), "extension section %d [%#x, +%#x) runs past the end of the file", i, off, size)
			}
			switch tag {
			case cacheExtGenerator:
				c.Generator = string(data[off : off+size])
			case cacheExtGlibcHWCaps:
				if size == 0 || off%4 != 0 || size%4 != 0 {
					continue // glibc drops an invalid hwcaps section
				}
				for j := uint64(0); j < size; j += 4 {
					idx := uint64(le.Uint32(data[off+j:]))
					name, ok := objfile.CString(data, idx)
					if !ok {
						return bad(int64(off+j), "glibc-hwcaps name index %#x out of range", idx)
					}
					c.HWCapsSubdirs = append(c.HWCapsSubdirs, name)
				}
			}
		}
	}
	strtab := data[base:] // string indices are relative to the new header
	for i := uint64(0); i < nlibs; i++ {
		o := newHeaderSize + i*newEntrySize
		e := h[o:]
		flags := int32(le.Uint32(e))
		key, val := le.Uint32(e[4:]), le.Uint32(e[8:])
		hw := le.Uint64(e[16:])
		k, ok1 := objfile.CString(strtab, uint64(key))
		v, ok2 := objfile.CString(strtab, uint64(val))
		if !ok1 || !ok2 {
			return bad(int64(base+o), "entry %d: string index out of range (key %#x, value %#x)", i, key, val)
		}
		ent := LDCacheEntry{Name: k, Path: v, Flags: flags, HWCap: hw}
		if ent.UsesHWCapsExtension() {
			if idx := uint32(hw); int(idx) < len(c.HWCapsSubdirs) {
				ent.HWCapSubdir = c.HWCapsSubdirs[idx]
			}
		}
		c.Entries = append(c.Entries, ent)
	}
	return nil
}

// CacheDefaultFlags returns the entry flags glibc's ld.so accepts for a
// machine (_dl_cache_check_flags): x86_64 0x303 (libc6,x86-64), aarch64
// 0xa03 (libc6,AArch64) (sysdeps/unix/sysv/linux/{x86_64,aarch64}/
// dl-cache.h); other machines the generic 1 or 3.
func CacheDefaultFlags(m elf.Machine) []int32 {
	switch m {
	case elf.EM_X86_64:
		return []int32{CacheFlagELFLibc6 | CacheFlagX8664Lib64}
	case elf.EM_AARCH64:
		return []int32{CacheFlagELFLibc6 | CacheFlagAArch64Lib64}
	}
	return []int32{CacheFlagELF, CacheFlagELFLibc6}
}

// CacheLookupOptions are the machine facts a cache lookup depends on.
type CacheLookupOptions struct {
	// Machine selects the accepted entry flags (CacheDefaultFlags).
	Machine elf.Machine
	// HWCapsSubdirs lists the glibc-hwcaps subdirectories the CPU
	// supports, best first (what "ld.so --help" prints as "supported");
	// entries for other subdirectories are skipped.
	HWCapsSubdirs []string
	// LegacyHWCap is the set of legacy hwcap bits the process has
	// (GLRO(dl_hwcap) & hwcap_mask, plus the platform bit); an entry
	// with any other legacy bit is skipped. Debian 12's cache has no
	// legacy-hwcap entries.
	LegacyHWCap uint64
}

// Lookup returns the path glibc's ld.so would take from the cache for
// name, following search_cache: among the entries whose key compares
// equal (_dl_cache_libcmp, which compares digit runs numerically) and
// whose flags match, the glibc-hwcaps entries come first and the one with
// the best priority wins; otherwise the first usable plain entry.
func (c *LDCache) Lookup(name string, opt CacheLookupOptions) (string, bool) {
	if c == nil {
		return "", false
	}
	accept := CacheDefaultFlags(opt.Machine)
	okFlags := func(f int32) bool {
		for _, a := range accept {
			if f == a {
				return true
			}
		}
		return false
	}
	const tlsMask = uint64(1) << 63
	exclude := ^(opt.LegacyHWCap | tlsMask)
	best, bestPrio := "", 0
	for _, e := range c.Entries {
		if cacheLibCmp(name, e.Name) != 0 {
			continue
		}
		if !okFlags(e.Flags) {
			continue
		}
		if e.UsesHWCapsExtension() {
			prio := 0
			for i, s := range opt.HWCapsSubdirs {
				if s == e.HWCapSubdir {
					prio = i + 1
					break
				}
			}
			if prio == 0 {
				continue
			}
			if best == "" || prio < bestPrio {
				best, bestPrio = e.Path, prio
			}
			continue
		}
		if best != "" {
			break
		}
		if e.HWCap&exclude != 0 {
			continue
		}
		return e.Path, true
	}
	return best, best != ""
}

// cacheLibCmp is _dl_cache_libcmp: byte comparison except that runs of
// digits compare as numbers.
func cacheLibCmp(a, b string) int {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	i, j := 0, 0
	for i < len(a) {
		switch {
		case isDigit(a[i]):
			if j >= len(b) || !isDigit(b[j]) {
				return 1
			}
			v1, v2 := 0, 0
			for i < len(a) && isDigit(a[i]) {
				v1 = v1*10 + int(a[i]-'0')
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				v2 = v2*10 + int(b[j]-'0')
				j++
			}
			if v1 != v2 {
				return v1 - v2
			}
		case j < len(b) && isDigit(b[j]):
			return -1
		case j >= len(b):
			return int(a[i])
		case a[i] != b[j]:
			return int(a[i]) - int(b[j])
		default:
			i++
			j++
		}
	}
	if j < len(b) {
		return -int(b[j])
	}
	return 0
}
