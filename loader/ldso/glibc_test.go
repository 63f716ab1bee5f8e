package ldso

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDetectGlibcVersionMatchesLdd compares the version read from this
// machine's libc.so.6 with what "ldd --version" (glibc's own) prints.
func TestDetectGlibcVersionMatchesLdd(t *testing.T) {
	const libc = "/lib/x86_64-linux-gnu/libc.so.6"
	if _, err := os.Stat(libc); err != nil {
		t.Skip("no glibc x86_64 libc.so.6 here")
	}
	out, err := exec.Command("ldd", "--version").Output()
	if err != nil {
		t.Skip("ldd --version failed")
	}
	first := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
	want, err := ParseGlibcVersion(first[len(first)-1])
	require.NoError(t, err)
	d, err := DetectGlibcVersion(libc)
	require.NoError(t, err)
	assert.Equal(t, want, d.Version)
	assert.Equal(t, "banner", d.Source)

	r, err := NewResolver("")
	require.NoError(t, err)
	p, err := r.LoadProgram("/bin/ls")
	require.NoError(t, err)
	d2, ok, err := p.DetectGlibc()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, want, d2.Version)
}

func TestDetectGlibcVersionFallback(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "libc.so.6")
	require.NoError(t, os.WriteFile(p, []byte("\x00GLIBC_2.2.5\x00GLIBC_2.34\x00GLIBC_PRIVATE\x00GLIBC_2.9\x00"), 0o644))
	d, err := DetectGlibcVersion(p)
	require.NoError(t, err)
	assert.Equal(t, GlibcVersion{2, 34}, d.Version)
	assert.Equal(t, "symbol versions", d.Source)
	require.NoError(t, os.WriteFile(p, []byte("nothing here"), 0o644))
	_, err = DetectGlibcVersion(p)
	assert.ErrorContains(t, err, p)
}

func TestParseGlibcVersion(t *testing.T) {
	v, err := ParseGlibcVersion("2.31")
	require.NoError(t, err)
	assert.Equal(t, GlibcVersion{2, 31}, v)
	assert.True(t, v.Less(GlibcVersion{2, 32}))
	assert.True(t, v.AtLeast(2, 31))
	for _, bad := range []string{"", "2", "two.x", "1.9", "2.-1"} {
		_, err := ParseGlibcVersion(bad)
		assert.Error(t, err, bad)
	}
}

// TestDetectGlibcVersionRodata: reading only .rodata finds what reading
// the whole file found, for every glibc and musl libc and ld.so on this
// machine (the native ones, a cross toolchain's).
func TestDetectGlibcVersionRodata(t *testing.T) {
	candidates := []string{
		"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2",
		"/usr/aarch64-linux-gnu/lib/libc.so.6", "/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1",
		"/usr/lib/x86_64-linux-musl/libc.so", "/lib/ld-musl-x86_64.so.1",
	}
	seen := 0
	for _, p := range candidates {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		seen++
		got, err := DetectGlibcVersion(p)
		m := findBanner(data)
		if m == nil {
			// No banner anywhere (musl): the fallback reads the whole file.
			assert.Nil(t, rodataBanner(p), p)
			continue
		}
		require.NoError(t, err, p)
		assert.Equal(t, bannerDetection(GlibcDetection{Path: p}, m), got, p)
		assert.NotNil(t, rodataBanner(p), "%s: the banner is in .rodata", p)
	}
	if seen == 0 {
		t.Skip("no libc here")
	}
}

// TestDetectGlibcVersionBannerOutsideRodata: a banner that is not in
// .rodata (here: a file that is not ELF at all) is still found.
func TestDetectGlibcVersionBannerOutsideRodata(t *testing.T) {
	p := filepath.Join(t.TempDir(), "libc.so.6")
	require.NoError(t, os.WriteFile(p, []byte("\x7fELF junk\x00GNU C Library (Test) stable release version 2.31.\n\x00"), 0o644))
	d, err := DetectGlibcVersion(p)
	require.NoError(t, err)
	assert.Equal(t, GlibcDetection{Version: GlibcVersion{2, 31}, Path: p, Source: "banner", Banner: "GNU C Library (Test) stable release version 2.31"}, d)
}
