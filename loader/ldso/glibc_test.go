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
