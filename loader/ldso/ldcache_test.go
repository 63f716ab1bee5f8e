package ldso

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
)

// TestLDCacheMatchesLdconfig parses this machine's /etc/ld.so.cache and
// renders every entry the way "ldconfig -p" does; the two listings must be
// identical, line for line.
func TestLDCacheMatchesLdconfig(t *testing.T) {
	const path = "/etc/ld.so.cache"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s on this machine", path)
	}
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		ldconfig = "/sbin/ldconfig"
	}
	out, err := exec.Command(ldconfig, "-p", "-C", path).Output()
	if err != nil {
		t.Skipf("ldconfig -p: %v", err)
	}
	c, err := ReadLDCache(path)
	require.NoError(t, err)
	var want []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "\t") {
			want = append(want, l)
		}
	}
	var got []string
	for _, e := range c.Entries {
		got = append(got, fmt.Sprintf("\t%s (%s) => %s", e.Name, e.FlagsString(), e.Path))
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, got)
	assert.Contains(t, string(out), fmt.Sprintf("%d libs found", len(c.Entries)))
	if c.Generator != "" {
		assert.Contains(t, string(out), c.Generator)
	}
	// Lookup returns the first entry for a name, as ld.so does.
	p, ok := c.Lookup("libc.so.6", CacheLookupOptions{Machine: elf.EM_X86_64})
	if ok {
		assert.True(t, strings.HasSuffix(p, "/libc.so.6"), p)
	}
}

// buildNewCache builds a minimal new-format cache with the given entries
// (name, path, flags, hwcap) and optional hwcaps names.
func buildNewCache(entries [][4]any, hwcaps []string) []byte {
	le := binary.LittleEndian
	n := len(entries)
	strOff := newHeaderSize + n*newEntrySize
	var strs []byte
	add := func(s string) uint32 {
		off := uint32(strOff + len(strs))
		strs = append(strs, s...)
		strs = append(strs, 0)
		return off
	}
	type ent struct {
		flags      int32
		key, value uint32
		hw         uint64
	}
	var es []ent
	for _, e := range entries {
		es = append(es, ent{e[2].(int32), add(e[0].(string)), add(e[1].(string)), e[3].(uint64)})
	}
	var hwIdx []uint32
	for _, h := range hwcaps {
		hwIdx = append(hwIdx, add(h))
	}
	for (strOff+len(strs))%4 != 0 {
		strs = append(strs, 0)
	}
	extOff := 0
	var ext []byte
	if len(hwcaps) > 0 {
		extOff = strOff + len(strs)
		dataOff := extOff + 8 + 16
		ext = le.AppendUint32(ext, cacheExtensionMagic)
		ext = le.AppendUint32(ext, 1)
		ext = le.AppendUint32(ext, cacheExtGlibcHWCaps)
		ext = le.AppendUint32(ext, 0)
		ext = le.AppendUint32(ext, uint32(dataOff))
		ext = le.AppendUint32(ext, uint32(4*len(hwIdx)))
		for _, x := range hwIdx {
			ext = le.AppendUint32(ext, x)
		}
	}
	b := []byte(LDCacheMagicNew)
	b = le.AppendUint32(b, uint32(n))
	b = le.AppendUint32(b, uint32(len(strs)))
	b = append(b, 2, 0, 0, 0)
	b = le.AppendUint32(b, uint32(extOff))
	b = append(b, make([]byte, 12)...)
	for _, e := range es {
		b = le.AppendUint32(b, uint32(e.flags))
		b = le.AppendUint32(b, e.key)
		b = le.AppendUint32(b, e.value)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint64(b, e.hw)
	}
	b = append(b, strs...)
	b = append(b, ext...)
	return b
}

func TestLDCacheLookupHWCaps(t *testing.T) {
	const x = int32(0x303)
	data := buildNewCache([][4]any{
		{"libfoo.so.1", "/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", x, dlCacheHWCapExtension | 1},
		{"libfoo.so.1", "/usr/lib/glibc-hwcaps/x86-64-v2/libfoo.so.1", x, dlCacheHWCapExtension | 0},
		{"libfoo.so.1", "/usr/lib/libfoo.so.1", x, uint64(0)},
		{"libbar.so.2", "/usr/lib32/libbar.so.2", int32(0x3), uint64(0)},
		{"libbar.so.2", "/usr/lib/libbar.so.2", x, uint64(0)},
	}, []string{"x86-64-v2", "x86-64-v3"})
	c, err := ParseLDCache(data, "test-cache")
	require.NoError(t, err)
	require.Len(t, c.Entries, 5)
	assert.Equal(t, []string{"x86-64-v2", "x86-64-v3"}, c.HWCapsSubdirs)
	assert.Equal(t, "x86-64-v3", c.Entries[0].HWCapSubdir)
	assert.Equal(t, `libc6,x86-64, hwcap: "x86-64-v3"`, c.Entries[0].FlagsString())

	look := func(name string, sub ...string) string {
		p, _ := c.Lookup(name, CacheLookupOptions{Machine: elf.EM_X86_64, HWCapsSubdirs: sub})
		return p
	}
	assert.Equal(t, "/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", look("libfoo.so.1", "x86-64-v3", "x86-64-v2"))
	assert.Equal(t, "/usr/lib/glibc-hwcaps/x86-64-v2/libfoo.so.1", look("libfoo.so.1", "x86-64-v2"))
	assert.Equal(t, "/usr/lib/libfoo.so.1", look("libfoo.so.1"))
	// The 32-bit entry (flags 3) does not match x86_64's 0x303.
	assert.Equal(t, "/usr/lib/libbar.so.2", look("libbar.so.2"))
	// Digit runs compare numerically, as _dl_cache_libcmp does.
	assert.Equal(t, "/usr/lib/libbar.so.2", look("libbar.so.02"))
	assert.Equal(t, "", look("libbar.so.3"))
}

func TestLDCacheMalformed(t *testing.T) {
	good := buildNewCache([][4]any{{"liba.so.1", "/lib/liba.so.1", int32(0x303), uint64(0)}}, []string{"x86-64-v2"})
	_, err := ParseLDCache(good, "c")
	require.NoError(t, err)
	for n := 0; n < len(good); n++ {
		_, err := ParseLDCache(good[:n], "truncated-cache")
		if err != nil {
			assert.True(t, errors.Is(err, loader.ErrMalformed), "length %d: %v", n, err)
			assert.Contains(t, err.Error(), "truncated-cache")
		}
	}
	_, err = ParseLDCache([]byte("hello world, not a cache"), "junk")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "junk")
	// A big-endian cache is refused, as glibc ignores it.
	be := append([]byte(nil), good...)
	be[28] = 3
	_, err = ParseLDCache(be, "be")
	assert.ErrorContains(t, err, "little-endian")
}

func TestCacheLibCmp(t *testing.T) {
	assert.Zero(t, cacheLibCmp("libc.so.6", "libc.so.6"))
	assert.Zero(t, cacheLibCmp("libx.so.01", "libx.so.1"))
	assert.Negative(t, cacheLibCmp("libx.so.2", "libx.so.10"))
	assert.Positive(t, cacheLibCmp("libx.so.10", "libx.so.9"))
	assert.NotZero(t, cacheLibCmp("libx.so", "libx.so.1"))
	assert.NotZero(t, cacheLibCmp("libx.so.1", "libx.so"))
}

// buildOldCache builds an old-format (libc5/glibc 2.0-2.1) cache, with a
// new-format cache embedded after it when inner is not nil (the layout
// glibc 2.2-2.31 ldconfig wrote by default).
func buildOldCache(entries [][2]string, flags int32, inner []byte) []byte {
	le := binary.LittleEndian
	b := append([]byte(LDCacheMagicOld), 0)
	b = le.AppendUint32(b, uint32(len(entries)))
	var strs []byte
	add := func(s string) uint32 {
		off := uint32(len(strs))
		strs = append(append(strs, s...), 0)
		return off
	}
	for _, e := range entries {
		b = le.AppendUint32(b, uint32(flags))
		b = le.AppendUint32(b, add(e[0]))
		b = le.AppendUint32(b, add(e[1]))
	}
	if inner == nil {
		return append(b, strs...)
	}
	// The new header follows at the next 8-byte boundary, and the old
	// entries' string indices count from there, as ldconfig writes them.
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return append(b, inner...)
}

func FuzzParseLDCache(f *testing.F) {
	newc := buildNewCache([][4]any{
		{"libfoo.so.1", "/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", int32(0x303), dlCacheHWCapExtension | 0},
		{"libfoo.so.1", "/usr/lib/libfoo.so.1", int32(0x303), uint64(0)},
	}, []string{"x86-64-v3"})
	f.Add(newc)
	f.Add(buildOldCache([][2]string{{"libbar.so.2", "/lib/libbar.so.2"}}, 0x303, nil))
	f.Add(buildOldCache(nil, 0x303, newc))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseLDCache(b, "fuzz-cache")
		if err != nil {
			var ce *loader.FileError
			if !errors.As(err, &ce) || !errors.Is(err, loader.ErrMalformed) || !strings.Contains(err.Error(), "fuzz-cache") {
				t.Fatalf("error %T %q is not a *loader.FileError naming the file", err, err)
			}
			return
		}
		for _, e := range c.Entries {
			c.Lookup(e.Name, CacheLookupOptions{Machine: elf.EM_X86_64, HWCapsSubdirs: []string{"x86-64-v3", "x86-64-v2"}})
			_ = e.FlagsString()
		}
	})
}

// TestLDCacheOldFormats: the old format alone, and the old format with the
// new one embedded at the next 8-byte boundary (then only the new part is
// used, as in elf/dl-cache.c _dl_load_cache_lookup).
func TestLDCacheOldFormats(t *testing.T) {
	newc := buildNewCache([][4]any{{"libfoo.so.1", "/new/libfoo.so.1", int32(0x303), uint64(0)}}, nil)
	c, err := ParseLDCache(buildOldCache([][2]string{{"libfoo.so.1", "/old/libfoo.so.1"}}, 0x303, newc), "old+new")
	require.NoError(t, err)
	assert.Equal(t, "old+new", c.Format)
	p, ok := c.Lookup("libfoo.so.1", CacheLookupOptions{Machine: elf.EM_X86_64})
	assert.True(t, ok)
	assert.Equal(t, "/new/libfoo.so.1", p)

	c, err = ParseLDCache(buildOldCache([][2]string{{"libbar.so.2", "/lib/libbar.so.2"}, {"libfoo.so.1", "/lib/libfoo.so.1"}}, 0x303, nil), "old")
	require.NoError(t, err)
	assert.Equal(t, "old", c.Format)
	p, _ = c.Lookup("libfoo.so.1", CacheLookupOptions{Machine: elf.EM_X86_64})
	assert.Equal(t, "/lib/libfoo.so.1", p)
}

// TestLDCacheLegacyHWCap: an entry with a legacy hwcap bit the process
// lacks is skipped; the TLS bit (1<<63) never excludes an entry
// (elf/dl-cache.c search_cache, hwcap_exclude).
func TestLDCacheLegacyHWCap(t *testing.T) {
	const x = int32(0x303)
	c, err := ParseLDCache(buildNewCache([][4]any{
		{"libz.so.1", "/usr/lib/sse2/libz.so.1", x, uint64(1) << 5},
		{"libz.so.1", "/usr/lib/libz.so.1", x, uint64(0)},
		{"liby.so.1", "/usr/lib/tls/liby.so.1", x, uint64(1) << 63},
	}, nil), "legacy")
	require.NoError(t, err)
	look := func(name string, hw uint64) string {
		p, _ := c.Lookup(name, CacheLookupOptions{Machine: elf.EM_X86_64, LegacyHWCap: hw})
		return p
	}
	assert.Equal(t, "/usr/lib/libz.so.1", look("libz.so.1", 0))
	assert.Equal(t, "/usr/lib/sse2/libz.so.1", look("libz.so.1", 1<<5))
	assert.Equal(t, "/usr/lib/tls/liby.so.1", look("liby.so.1", 0))
}
