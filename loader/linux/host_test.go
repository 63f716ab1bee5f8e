package linux_test

import (
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
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
	require.Equal(t, "555555560000-555555581000 rw-p 00000000 00:00 0 ", lines[2].String())
	require.Equal(t, strings.SplitN(text, "\n", 2)[0], lines[0].String(), "the kernel's padding")

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
	require.Equal(t, strings.TrimSpace(string(b)), strconv.Itoa(k.MmapRndBits))
	require.NoError(t, k.Validate())
	maps, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	for _, v := range k.VDSO {
		require.Contains(t, string(maps), v.Name)
	}
	require.Equal(t, strings.Contains(string(maps), "[vsyscall]"), k.Vsyscall)
	t.Logf("host kernel: %+v", k)
}

func TestKernelProfileRoundTrips(t *testing.T) {
	k, err := linux.DefaultKernel(loader.ArchX86_64)
	require.NoError(t, err)
	data, err := json.Marshal(k)
	require.NoError(t, err)
	require.Contains(t, string(data), `"mmap_rnd_bits":28`)
	require.Contains(t, string(data), `"prot":"r-x"`)
	back, err := linux.DecodeKernel(data, "profile", linux.Kernel{})
	require.NoError(t, err)
	require.Equal(t, k, back)

	// A partial document overrides only what it names.
	k2, err := linux.DecodeKernel([]byte(`{"mmap_rnd_bits": 32}`), "p", k)
	require.NoError(t, err)
	require.Equal(t, 32, k2.MmapRndBits)
	require.Equal(t, k.VDSO, k2.VDSO)

	// An architecture change starts from that architecture's defaults.
	arm, err := linux.DecodeKernel([]byte(`{"arch": "arm64", "mmap_rnd_bits": 33}`), "p", k)
	require.NoError(t, err)
	require.Equal(t, loader.ArchAArch64, arm.Arch)
	require.Equal(t, 48, arm.VABits)

	for doc, want := range map[string]string{
		`{"mmap_rnd_bits": 40}`:                                       "mmap_rnd_bits: 40",
		`{"mmap_rnd_bits": 28, "mmap_rnd_bits": 29}`:                  "mmap_rnd_bits",
		`{"page_sise": 4096}`:                                         "page_sise",
		`{"vdso": [{"name": "[vdso]", "size": 4096, "prot": "rwz"}]}`: "vdso[0].prot",
		`{"arch": "sparc"}`:                                           "sparc",
		`{"va_bits": 52}`:                                             "va_bits",
		`[1]`:                                                         "profile",
	} {
		_, err := linux.DecodeKernel([]byte(doc), "profile.json", k)
		require.ErrorContains(t, err, want, doc)
		require.ErrorContains(t, err, "profile.json", doc)
	}
}
