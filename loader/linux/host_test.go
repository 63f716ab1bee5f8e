package linux_test

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/linux"
)

func TestParseMapsPathsWithSpaces(t *testing.T) {
	text := "7ffff7fb8000-7ffff7fbf000 r--s 00000000 fe:00 325737                     /usr/lib/a b/gconv-modules.cache\n" +
		"7ffff7fc2000-7ffff7fc6000 r--p 00000000 00:00 0                          [vvar]\n" +
		"555555560000-555555581000 rw-p 00000000 00:00 0 \n"
	lines, err := linux.ParseMaps(strings.NewReader(text), "maps")
	require.NoError(t, err)
	require.Len(t, lines, 3)
	require.Equal(t, "/usr/lib/a b/gconv-modules.cache", lines[0].Path)
	require.True(t, lines[0].Shared)
	require.Equal(t, uint64(325737), lines[0].Inode)
	require.Equal(t, "[vvar]", lines[1].Path)
	require.Equal(t, "", lines[2].Path)
	require.Equal(t, "555555560000-555555581000 rw-p 00000000 00:00 0", lines[2].String())

	_, err = linux.ParseMaps(strings.NewReader("zz-10 r--p 0 0 0\n"), "bad")
	require.ErrorContains(t, err, "bad line 1")
}

// TestHostKernelMatchesThisMachine reads the profile of the machine the
// test runs on and checks it against what the machine says directly.
func TestHostKernelMatchesThisMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc: Linux only")
	}
	k, err := linux.HostKernel()
	require.NoError(t, err)
	require.Equal(t, uint64(os.Getpagesize()), k.PageSize)
	b, err := os.ReadFile("/proc/sys/vm/mmap_rnd_bits")
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(string(b)), itoa(k.MmapRndBits))
	require.NoError(t, k.Validate())
	maps, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	for _, v := range k.VDSO {
		require.Contains(t, string(maps), v.Name)
	}
	require.Equal(t, strings.Contains(string(maps), "[vsyscall]"), k.Vsyscall)
	t.Logf("host kernel: %+v", k)
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}
