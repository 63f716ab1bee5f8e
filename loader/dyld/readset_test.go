package dyld_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/objtest"
)

// A build tree on disk: the executable finds libdemo through its
// LC_RPATH, libdemo finds its re-exported library through its own
// LC_RPATH and its upward one through @loader_path; the weak one is
// missing and skipped, the lazy one is not loaded at launch, libSystem
// comes from the shared cache.
func TestReadSet(t *testing.T) {
	root := t.TempDir()
	write := func(rel string, b *objtest.MachO) string {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b.Bytes(), 0o644))
		return p
	}
	exe := write("bin/app", objtest.DemoExec())
	write("Frameworks/libdemo.dylib", objtest.DemoDylib())
	small := func(id string) *objtest.MachO {
		b := objtest.NewMachO(objtest.CPUARM64, 0, objtest.MHDylib)
		b.FileSize = 0x1000
		b.Segment("__TEXT", 0, 0x4000, 0, 0x1000, 5, 0)
		b.Dylib(objtest.LCIDDylib, id, 0x10000, 0x10000)
		return b
	}
	write("lib/libreexported.dylib", small("@rpath/libreexported.dylib"))
	write("Frameworks/libupward.dylib", small("@rpath/libupward.dylib"))

	set, err := dyld.ReadSet(exe, "")
	require.NoError(t, err)
	order, err := dyld.Resolve(set)
	require.NoError(t, err)
	var got []string
	for _, img := range order.Images {
		if img.InSharedCache {
			got = append(got, "cache:"+img.Name)
		} else {
			rel, _ := filepath.Rel(root, img.Path)
			got = append(got, rel)
		}
	}
	assert.Equal(t, []string{"bin/app", "cache:/usr/lib/libSystem.B.dylib", "Frameworks/libdemo.dylib", "lib/libreexported.dylib", "Frameworks/libupward.dylib"}, got)

	p, err := macos.NewModel().Launch(order, macos.Randomness{ExeSlide: 16 << 10, DyldSlide: 16 << 10})
	require.NoError(t, err)
	require.NoError(t, p.Space.Check())
	require.Len(t, p.Images, 6) // exe, dyld, libSystem (in the cache: not mapped) and three dylibs
	assert.True(t, p.Images[2].Reservation.IsEmpty())

	// Remove a required library: the launch fails the way dyld does.
	require.NoError(t, os.Remove(filepath.Join(root, "lib/libreexported.dylib")))
	_, err = dyld.ReadSet(exe, "")
	require.Error(t, err)
	assert.True(t, errors.Is(err, dyld.ErrNotLoaded))
	assert.Contains(t, err.Error(), "Library not loaded: @rpath/libreexported.dylib")

	// A corrupt library is bad input, named.
	require.NoError(t, os.WriteFile(filepath.Join(root, "lib/libreexported.dylib"), []byte("\xcf\xfa\xed\xfe garbage"), 0o644))
	_, err = dyld.ReadSet(exe, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "libreexported.dylib")
	assert.False(t, errors.Is(err, dyld.ErrNotLoaded))
}

// A directory where the executable should be is refused, naming it; a
// dependency that is a directory, empty, a device or not Mach-O is
// refused naming the image and the load command that asked for it.
func TestReadSetNotAFile(t *testing.T) {
	dir := t.TempDir()
	_, err := dyld.ReadSet(dir, "")
	assert.EqualError(t, err, "open "+dir+": is a directory, not a regular file")

	for _, c := range []struct {
		name string
		make func(p string)
		want string
	}{
		{"directory", func(p string) { require.NoError(t, os.Mkdir(p, 0o755)) }, "is a directory, not a regular file"},
		{"empty", func(p string) { require.NoError(t, os.WriteFile(p, nil, 0o644)) }, "Mach-O header at offset 0x0: truncated"},
		{"device", func(p string) { require.NoError(t, os.Symlink("/dev/zero", p)) }, "is a character device, not a regular file"},
		{"ELF", func(p string) { require.NoError(t, os.Symlink("/proc/self/exe", p)) }, "is neither a Mach-O magic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			exe := filepath.Join(root, "bin/app")
			require.NoError(t, os.MkdirAll(filepath.Dir(exe), 0o755))
			require.NoError(t, os.WriteFile(exe, objtest.DemoExec().Bytes(), 0o755))
			require.NoError(t, os.MkdirAll(filepath.Join(root, "Frameworks"), 0o755))
			c.make(filepath.Join(root, "Frameworks/libdemo.dylib"))
			_, err := dyld.ReadSet(exe, "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), exe+": LC_LOAD_DYLIB @rpath/libdemo.dylib: ")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
