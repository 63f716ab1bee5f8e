package machospec

import (
	"bytes"
	"debug/macho"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/internal/objfile"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/vaspace"
)

var updateMachOFixtures = flag.Bool("update-macho", false, "rewrite loader/machospec/testdata from the test builders")

// goMachOTestdata returns the files of Go's own debug/macho testdata,
// decoded (Go 1.24 and later store them base64-encoded), keyed by name
// without the .base64 suffix.
func goMachOTestdata(t testing.TB) map[string][]byte {
	dir := filepath.Join(runtime.GOROOT(), "src", "debug", "macho", "testdata")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no debug/macho testdata: %v", err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		name := e.Name()
		if s, ok := strings.CutSuffix(name, ".base64"); ok {
			b, err = base64.StdEncoding.DecodeString(string(b))
			require.NoError(t, err, name)
			name = s
		}
		out[name] = b
	}
	return out
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// segmentsFromDebugMachO is what debug/macho says the segments are.
func segmentsFromDebugMachO(f *macho.File) []loader.Segment {
	var out []loader.Segment
	for _, l := range f.Loads {
		if s, ok := l.(*macho.Segment); ok {
			out = append(out, loader.Segment{Name: s.Name, VMAddr: s.Addr, VMSize: s.Memsz, FileOff: s.Offset,
				FileSize: s.Filesz, Prot: vaspace.Prot(s.Prot)})
		}
	}
	return out
}

// TestReadMachOMatchesDebugMachO reads every executable in Go's
// debug/macho testdata and checks segments, dependencies and rpaths
// against what debug/macho decodes from the same bytes.
func TestReadMachOMatchesDebugMachO(t *testing.T) {
	files := goMachOTestdata(t)
	seen := 0
	for _, name := range sortedKeys(files) {
		data := files[name]
		f, err := macho.NewFile(bytes.NewReader(data))
		if err != nil || f.Type != macho.TypeExec {
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			spec, err := Parse(bytes.NewReader(data), name)
			require.NoError(t, err)
			require.NotNil(t, spec.MachO)
			assert.Equal(t, loader.FormatMachO, spec.Format)
			assert.Equal(t, loader.KindExecutable, spec.Kind)
			assert.Equal(t, name, spec.Name)
			assert.Nil(t, spec.TLS)
			assert.Nil(t, spec.ELF)
			switch {
			case strings.Contains(name, "386"):
				assert.Equal(t, "i386", objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU))
			case strings.Contains(name, "amd64"):
				assert.Equal(t, "x86_64", objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU))
			}
			assert.Equal(t, segmentsFromDebugMachO(f), spec.Segments)

			libs, err := f.ImportedLibraries()
			require.NoError(t, err)
			assert.Equal(t, libs, spec.Needed)
			var deps []loader.MachODylib
			var rpaths []string
			var uuid [16]byte
			for _, l := range f.Loads {
				switch l := l.(type) {
				case *macho.Dylib:
					deps = append(deps, loader.MachODylib{Path: l.Name, Kind: loader.DylibRegular, Timestamp: l.Time,
						CurrentVersion: l.CurrentVersion, CompatVersion: l.CompatVersion})
				case *macho.Rpath:
					rpaths = append(rpaths, l.Path)
				case macho.LoadBytes:
					if f.ByteOrder.Uint32(l) == 0x1b {
						copy(uuid[:], l[8:24])
					}
				}
			}
			mi := spec.MachO
			assert.Equal(t, deps, mi.Dependencies)
			assert.Equal(t, rpaths, mi.RPaths)
			assert.Equal(t, uuid, mi.UUID)
			assert.NotEqual(t, [16]byte{}, mi.UUID, "every test executable has an LC_UUID")
			assert.Equal(t, macho.TypeExec, mi.FileType)
			assert.Equal(t, f.Cpu, mi.CPU)
			assert.Equal(t, f.SubCpu, mi.SubCPU)
			assert.Equal(t, f.Flags, mi.Flags)
			assert.Equal(t, "/usr/lib/dyld", mi.Dylinker)
			assert.Equal(t, strings.HasPrefix(name, "clang-"), mi.HasMain, "clang emits LC_MAIN, old gcc LC_UNIXTHREAD")
			assert.Equal(t, strings.HasPrefix(name, "clang-"), mi.PIE())
			assert.False(t, mi.CodeSigned)
			assert.Equal(t, uint64(len(data)), mi.FileSize)
			assert.Equal(t, uint64(0), mi.SliceOffset)
			assert.Equal(t, uint64(len(data)), mi.SliceSize)
		})
	}
	assert.GreaterOrEqual(t, seen, 4, "Go ships four thin test executables")
}

// TestReadMachOClangExecWithRpath pins one file's values as written out
// by hand from the file itself (otool -l style), not through debug/macho.
func TestReadMachOClangExecWithRpath(t *testing.T) {
	files := goMachOTestdata(t)
	data, ok := files["clang-amd64-darwin-exec-with-rpath"]
	if !ok {
		t.Skip("clang-amd64-darwin-exec-with-rpath is not in this Go's testdata")
	}
	path := filepath.Join(t.TempDir(), "clang-amd64-darwin-exec-with-rpath")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	spec, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, "clang-amd64-darwin-exec-with-rpath", spec.Name)
	assert.Equal(t, path, spec.Path)
	assert.Equal(t, []loader.Segment{
		{Name: "__PAGEZERO", VMAddr: 0, VMSize: 0x100000000, Prot: vaspace.ProtNone},
		{Name: "__TEXT", VMAddr: 0x100000000, VMSize: 0x1000, FileOff: 0, FileSize: 0x1000, Prot: vaspace.ProtRX},
		{Name: "__DATA", VMAddr: 0x100001000, VMSize: 0x1000, FileOff: 0x1000, FileSize: 0x1000, Prot: vaspace.ProtRW},
		{Name: "__LINKEDIT", VMAddr: 0x100002000, VMSize: 0x1000, FileOff: 0x2000, FileSize: 0xf0, Prot: vaspace.ProtRead},
	}, spec.Segments)
	assert.Equal(t, []string{"/usr/lib/libSystem.B.dylib"}, spec.Needed)
	assert.Equal(t, []string{"/my/rpath"}, spec.MachO.RPaths)
	require.Len(t, spec.MachO.Dependencies, 1)
	assert.Equal(t, "1238.60.2", loader.FormatDylibVersion(spec.MachO.Dependencies[0].CurrentVersion))
	assert.Equal(t, "1.0.0", loader.FormatDylibVersion(spec.MachO.Dependencies[0].CompatVersion))
	assert.Equal(t, uint64(0x100000000), spec.PageZero())
	span, err := spec.VMSpan()
	require.NoError(t, err)
	assert.Equal(t, vaspace.Range{Start: 0x100000000, End: 0x100003000}, span)
	assert.Equal(t, uint64(len(data)), spec.MachO.FileSize)
	assert.True(t, spec.MachO.HasMain)
}

// TestReadMachOGoTestdataRejected: the non-image files in Go's testdata
// are refused with an error that says why.
func TestReadMachOGoTestdataRejected(t *testing.T) {
	files := goMachOTestdata(t)
	cases := map[string]struct {
		class error
		says  []string
	}{
		"clang-386-darwin.obj":                 {loader.ErrMalformed, []string{"MH_OBJECT", "not an image dyld loads"}},
		"clang-amd64-darwin.obj":               {loader.ErrMalformed, []string{"MH_OBJECT"}},
		"clang-amd64-darwin-ld-r.obj":          {loader.ErrMalformed, []string{"MH_OBJECT"}},
		"gcc-amd64-darwin-exec-debug":          {loader.ErrMalformed, []string{"MH_DSYM"}},
		"gcc-amd64-darwin-exec-with-bad-dysym": {loader.ErrMalformed, []string{"debug/macho", "dynamic symbol table"}},
		"hello.c":                              {loader.ErrWrongFormat, []string{"magic"}},
		"fat-gcc-386-amd64-darwin-exec":        {loader.ErrNoArch, []string{"i386, x86_64", "none is arm64e or arm64"}},
	}
	for name, c := range cases {
		data, ok := files[name]
		if !ok {
			continue
		}
		spec, err := Parse(bytes.NewReader(data), name)
		require.Error(t, err, name)
		assert.Nil(t, spec)
		assert.True(t, errors.Is(err, c.class), "%s: %v", name, err)
		var me *loader.FileError
		require.True(t, errors.As(err, &me), name)
		assert.Equal(t, name, me.Path)
		for _, s := range c.says {
			assert.Contains(t, err.Error(), s, name)
		}
	}
}

// TestReadMachOGoFat reads both slices of Go's universal test file and
// checks them against macho.NewFatFile.
func TestReadMachOGoFat(t *testing.T) {
	files := goMachOTestdata(t)
	data, ok := files["fat-gcc-386-amd64-darwin-exec"]
	if !ok {
		t.Skip("no fat test file")
	}
	ff, err := macho.NewFatFile(bytes.NewReader(data))
	require.NoError(t, err)
	require.Len(t, ff.Arches, 2)
	for _, a := range ff.Arches {
		arch := objfile.SliceName(a.Cpu, a.SubCpu)
		spec, err := ParseArch(bytes.NewReader(data), "fat", arch)
		require.NoError(t, err, arch)
		assert.Equal(t, arch, objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU))
		assert.Equal(t, segmentsFromDebugMachO(a.File), spec.Segments, arch)
		libs, err := a.File.ImportedLibraries()
		require.NoError(t, err)
		assert.Equal(t, libs, spec.Needed, arch)
		assert.Equal(t, uint64(len(data)), spec.MachO.FileSize, "dyld maps the whole universal file")
		assert.Equal(t, uint64(a.Offset), spec.MachO.SliceOffset)
		assert.Equal(t, uint64(a.Size), spec.MachO.SliceSize)
	}
	_, err = ParseArch(bytes.NewReader(data), "fat", "arm64")
	require.Error(t, err)
	assert.True(t, errors.Is(err, loader.ErrNoArch))
	assert.Contains(t, err.Error(), "no arm64 slice; the file has i386, x86_64")
}

// TestParseMachODemoDylib covers every dependency kind, LC_ID_DYLIB,
// LC_RPATH, LC_UUID and LC_CODE_SIGNATURE on a synthetic arm64 dylib.
func TestParseMachODemoDylib(t *testing.T) {
	data := objtest.DemoDylib().Bytes()
	spec, err := Parse(bytes.NewReader(data), "/tmp/libdemo.dylib")
	require.NoError(t, err)
	assert.Equal(t, "@rpath/libdemo.dylib", spec.Name, "a dylib is known by its install name")
	assert.Equal(t, "/tmp/libdemo.dylib", spec.Path)
	assert.Equal(t, loader.KindLibrary, spec.Kind)
	assert.Equal(t, "arm64", objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU))
	assert.Equal(t, loader.ArchAArch64, spec.Arch, "arm64 is aarch64")
	assert.Equal(t, []loader.Segment{
		{Name: "__TEXT", VMAddr: 0, VMSize: 0x4000, FileOff: 0, FileSize: 0x1000, Prot: vaspace.ProtRX},
		{Name: "__DATA_CONST", VMAddr: 0x4000, VMSize: 0x4000, FileOff: 0x1000, FileSize: 0x400, Prot: vaspace.ProtRW},
		{Name: "__DATA", VMAddr: 0x8000, VMSize: 0x8000, FileOff: 0x1400, FileSize: 0x200, Prot: vaspace.ProtRW},
		{Name: "__LINKEDIT", VMAddr: 0x10000, VMSize: 0x4000, FileOff: 0x1600, FileSize: 0x200, Prot: vaspace.ProtRead},
	}, spec.Segments)
	assert.Equal(t, []string{
		"/usr/lib/libSystem.B.dylib", "@rpath/libweak.dylib", "@rpath/libreexported.dylib",
		"/usr/lib/liblazy.dylib", "@loader_path/libupward.dylib",
	}, spec.Needed)
	mi := spec.MachO
	require.NotNil(t, mi)
	assert.Equal(t, []loader.MachODylib{
		{Path: "/usr/lib/libSystem.B.dylib", Kind: loader.DylibRegular, Timestamp: 2, CurrentVersion: 0x05276403, CompatVersion: 0x10000},
		{Path: "@rpath/libweak.dylib", Kind: loader.DylibWeak, Timestamp: 2, CurrentVersion: 0x10000, CompatVersion: 0x10000},
		{Path: "@rpath/libreexported.dylib", Kind: loader.DylibReexport, Timestamp: 2, CurrentVersion: 0x20000, CompatVersion: 0x10000},
		{Path: "/usr/lib/liblazy.dylib", Kind: loader.DylibLazy, Timestamp: 2, CurrentVersion: 0x10000, CompatVersion: 0x10000},
		{Path: "@loader_path/libupward.dylib", Kind: loader.DylibUpward, Timestamp: 2, CurrentVersion: 0x10000, CompatVersion: 0x10000},
	}, mi.Dependencies)
	assert.Equal(t, "@rpath/libdemo.dylib", mi.InstallName)
	assert.Equal(t, []string{"@loader_path/../lib", "/opt/demo/lib"}, mi.RPaths)
	assert.Equal(t, objtest.DemoUUID, mi.UUID)
	assert.True(t, mi.CodeSigned)
	assert.Equal(t, macho.TypeDylib, mi.FileType)
	assert.Equal(t, macho.CpuArm64, mi.CPU)
	assert.False(t, mi.PIE())
	assert.False(t, mi.HasMain)
	assert.Equal(t, "", mi.Dylinker)
	assert.Equal(t, uint64(0x1800), mi.FileSize)
	assert.True(t, mi.Weak(1))
	assert.False(t, mi.Weak(0))
	assert.False(t, mi.Weak(99))
	for i, d := range mi.Dependencies {
		assert.Equal(t, d.Kind != loader.DylibLazy, d.Kind.LoadedAtLaunch(), i)
		k, err := loader.ParseDylibKind(d.Kind.String())
		require.NoError(t, err)
		assert.Equal(t, d.Kind, k)
	}
	assert.Equal(t, "1.2.3", loader.FormatDylibVersion(0x10203))
	span, err := spec.VMSpan()
	require.NoError(t, err)
	assert.Equal(t, vaspace.Range{Start: 0, End: 0x14000}, span)

	// The same image as a bundle is a library without an install name.
	b := objtest.DemoDylib()
	b.FileType = objtest.MHBundle
	b.Cmds = append(b.Cmds[:4], b.Cmds[5:]...) // drop LC_ID_DYLIB
	spec, err = Parse(bytes.NewReader(b.Bytes()), "dir/demo.bundle")
	require.NoError(t, err)
	assert.Equal(t, loader.KindLibrary, spec.Kind)
	assert.Equal(t, "demo.bundle", spec.Name)
	assert.Equal(t, "", spec.MachO.InstallName)

	// MH_DYLINKER is the loader.
	b = objtest.DemoDylib()
	b.FileType = objtest.MHDylinker
	b.Cmds = append(b.Cmds[:4], b.Cmds[5:]...)
	spec, err = Parse(bytes.NewReader(b.Bytes()), "/usr/lib/dyld")
	require.NoError(t, err)
	assert.Equal(t, loader.KindLoader, spec.Kind)
	assert.Equal(t, "dyld", spec.Name)
}

func TestParseMachODemoExec(t *testing.T) {
	spec, err := Parse(bytes.NewReader(objtest.DemoExec().Bytes()), "bin/demo")
	require.NoError(t, err)
	assert.Equal(t, "demo", spec.Name)
	assert.Equal(t, loader.KindExecutable, spec.Kind)
	assert.Equal(t, "arm64e", objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU), "capability bits 0x80000000 are ignored")
	mi := spec.MachO
	assert.True(t, mi.PIE())
	assert.True(t, mi.HasMain)
	assert.Equal(t, uint64(0x3f40), mi.EntryOffset)
	assert.Equal(t, uint64(0x800000), mi.StackSize)
	assert.Equal(t, "/usr/lib/dyld", mi.Dylinker)
	assert.False(t, mi.CodeSigned, "an LC_CODE_SIGNATURE of size 0 registers nothing")
	assert.Equal(t, []string{"@executable_path/../Frameworks"}, mi.RPaths)
	assert.Equal(t, []string{"/usr/lib/libSystem.B.dylib", "@rpath/libdemo.dylib"}, spec.Needed)
	assert.Equal(t, uint64(0x100000000), spec.PageZero())
	assert.True(t, spec.Segments[0].IsPageZero())
}

func TestMachOArchName(t *testing.T) {
	for _, c := range []struct {
		cpu  macho.Cpu
		sub  uint32
		want string
	}{
		{macho.CpuArm64, 0, "arm64"},
		{macho.CpuArm64, 1, "arm64"},
		{macho.CpuArm64, 2, "arm64e"},
		{macho.CpuArm64, 0x80000002, "arm64e"},
		{macho.CpuArm64, 0xff000002, "arm64e"},
		{macho.CpuAmd64, 3, "x86_64"},
		{macho.CpuAmd64, 0x80000003, "x86_64"},
		{macho.CpuAmd64, 8, "x86_64h"},
		{macho.Cpu386, 3, "i386"},
		{0x0200000c, 0, "arm64_32"},
		{macho.CpuArm, 9, "arm"},
		{macho.CpuPpc, 0, "ppc"},
		{macho.CpuPpc64, 0, "ppc64"},
		{0x1234, 0, "cpu0x1234"},
	} {
		assert.Equal(t, c.want, objfile.SliceName(c.cpu, c.sub), "%#x/%#x", uint32(c.cpu), c.sub)
	}
}

// machoX86Exec is objtest.DemoExec for x86_64.
func machoX86Exec() []byte {
	b := objtest.DemoExec()
	b.CPU, b.SubCPU = objtest.CPUX86_64, 0x80000003
	return b.Bytes()
}

func TestParseMachOUniversal(t *testing.T) {
	arm64 := objtest.DemoExec()
	arm64.SubCPU = 0
	slices := []objtest.FatSlice{
		{CPU: objtest.CPUX86_64, Sub: 0x80000003, Data: machoX86Exec()},
		{CPU: objtest.CPUARM64, Sub: 0, Data: arm64.Bytes()},
		{CPU: objtest.CPUARM64, Sub: 0x80000002, Data: objtest.DemoExec().Bytes()},
	}
	for _, fat64 := range []bool{false, true} {
		data := objtest.Fat(fat64, slices...)
		parse := func(arch string) (*loader.ImageSpec, error) {
			return ParseArch(bytes.NewReader(data), "universal", arch)
		}
		spec, err := parse("")
		require.NoError(t, err, "fat64=%v", fat64)
		assert.Equal(t, "arm64e", objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU), "arm64e is preferred")
		assert.Equal(t, uint64(0xc000), spec.MachO.SliceOffset)
		assert.Equal(t, uint64(len(slices[2].Data)), spec.MachO.SliceSize)
		assert.Equal(t, uint64(len(data)), spec.MachO.FileSize)
		for _, arch := range []string{"arm64", "x86_64", "arm64e"} {
			spec, err := parse(arch)
			require.NoError(t, err, arch)
			assert.Equal(t, arch, objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU))
			assert.Len(t, spec.Segments, 4)
		}
		_, err = parse("ppc")
		require.Error(t, err)
		assert.True(t, errors.Is(err, loader.ErrNoArch))
		assert.Contains(t, err.Error(), "no ppc slice; the file has x86_64, arm64, arm64e")

		// Without arm64e, arm64 is chosen.
		spec, err = Parse(bytes.NewReader(objtest.Fat(fat64, slices[:2]...)), "u2")
		require.NoError(t, err)
		assert.Equal(t, "arm64", objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU))
		// A single slice is taken whatever it is.
		spec, err = Parse(bytes.NewReader(objtest.Fat(fat64, slices[0])), "u1")
		require.NoError(t, err)
		assert.Equal(t, "x86_64", objfile.SliceName(spec.MachO.CPU, spec.MachO.SubCPU))
	}

	// Only the chosen slice is parsed: breaking the x86_64 slice's load
	// commands leaves arm64 readable, and reading x86_64 names the slice
	// and the absolute file offset.
	data := objtest.Fat(false, slices...)
	const x86Off = 0x4000
	ex := objtest.DemoExec()
	cmdOff := ex.OffsetOf(4) // LC_LOAD_DYLINKER
	binary.LittleEndian.PutUint32(data[x86Off+cmdOff+4:], 6)
	_, err := ParseArch(bytes.NewReader(data), "u", "arm64")
	require.NoError(t, err)
	_, err = ParseArch(bytes.NewReader(data), "u", "x86_64")
	require.Error(t, err)
	var me *loader.FileError
	require.True(t, errors.As(err, &me))
	assert.Equal(t, "x86_64", me.Slice)
	assert.Equal(t, int64(x86Off+cmdOff), me.Offset)
	assert.Contains(t, err.Error(), "u (x86_64 slice): load command 4 (LC_LOAD_DYLINKER) at offset 0x")
	assert.Contains(t, err.Error(), "cmdsize 0x6 is smaller than 8")

	// A thin file must match an explicit architecture.
	_, err = ParseArch(bytes.NewReader(objtest.DemoExec().Bytes()), "thin", "x86_64")
	require.Error(t, err)
	assert.True(t, errors.Is(err, loader.ErrNoArch))
	assert.Contains(t, err.Error(), "thin arm64e image, not x86_64")
}

func TestParseMachOUniversalErrors(t *testing.T) {
	slices := []objtest.FatSlice{{CPU: objtest.CPUARM64, Sub: 0x80000002, Data: objtest.DemoExec().Bytes()}}
	good := objtest.Fat(false, slices...)
	be := binary.BigEndian
	cases := []struct {
		name   string
		data   func() []byte
		class  error
		offset int64
		says   string
	}{
		{"no slices", func() []byte { b := bytes.Clone(good); be.PutUint32(b[4:], 0); return b },
			loader.ErrMalformed, 4, "nfat_arch is 0"},
		{"too many slices", func() []byte { b := bytes.Clone(good); be.PutUint32(b[4:], 205); return b },
			loader.ErrMalformed, 4, "nfat_arch 205 is more than the 204 entries"},
		{"table past EOF", func() []byte { b := bytes.Clone(good[:30]); be.PutUint32(b[4:], 2); return b },
			loader.ErrMalformed, 8, "2 fat_arch entries end at 0x30, past the end of the file (0x1e bytes)"},
		{"header only", func() []byte { return good[:6] },
			loader.ErrMalformed, 0, "the fat_header needs 8"},
		{"slice past EOF", func() []byte { return good[:len(good)-1] },
			loader.ErrMalformed, 8, "extends past the end of the file"},
		{"cpu mismatch", func() []byte { b := bytes.Clone(good); be.PutUint32(b[8:], objtest.CPUX86_64); return b },
			loader.ErrMalformed, 8, "the slice's header says cputype 0x100000c"},
		{"slice not Mach-O", func() []byte { b := bytes.Clone(good); copy(b[0x4000:], "\x7fELF"); return b },
			loader.ErrWrongFormat, 0x4000, "is not a Mach-O magic"},
	}
	for _, c := range cases {
		_, err := Parse(bytes.NewReader(c.data()), "u")
		require.Error(t, err, c.name)
		assert.True(t, errors.Is(err, c.class), "%s: %v", c.name, err)
		var me *loader.FileError
		require.True(t, errors.As(err, &me), c.name)
		assert.Equal(t, c.offset, me.Offset, "%s: %v", c.name, err)
		assert.Contains(t, err.Error(), c.says, c.name)
	}
}

// TestParseMachOErrors breaks the synthetic images one way at a time.
// Each error must be a *loader.FileError of the right class that names the
// file, what was wrong and where.
func TestParseMachOErrors(t *testing.T) {
	le := binary.LittleEndian
	dy := objtest.DemoDylib()
	// Command indices in objtest.DemoDylib.
	const (
		cText, cDataConst, cData, cLinkedit = 0, 1, 2, 3
		cID, cSystem, cWeak, cReexport      = 4, 5, 6, 7
		cLazy, cUpward, cRpath0             = 8, 9, 10
	)
	at := func(i int) int { return dy.OffsetOf(i) }
	patch := func(f func(b []byte)) func() []byte {
		return func() []byte { b := objtest.DemoDylib().Bytes(); f(b); return b }
	}
	build := func(f func(b *objtest.MachO)) func() []byte {
		return func() []byte { b := objtest.DemoDylib(); f(b); return b.Bytes() }
	}
	type errCase struct {
		name   string
		data   func() []byte
		class  error
		offset int64 // -2: do not check
		says   []string
	}
	cases := []errCase{
		{"empty", func() []byte { return nil }, loader.ErrMalformed, 0, []string{"Mach-O header", "truncated", "0 bytes"}},
		{"truncated header", func() []byte { return objtest.DemoDylib().Bytes()[:20] }, loader.ErrMalformed, 0,
			[]string{"truncated: the image has 20 bytes, the 64-bit header needs 32"}},
		{"unknown magic", func() []byte { return []byte("#!/bin/sh\necho hi\n") }, loader.ErrWrongFormat, 0,
			[]string{"magic 0x23212f62 is neither a Mach-O magic"}},
		{"MH_OBJECT", build(func(b *objtest.MachO) { b.FileType = objtest.MHObject }), loader.ErrMalformed, 12,
			[]string{"file type MH_OBJECT (relocatable object file) is not an image dyld loads"}},
		{"unknown filetype", build(func(b *objtest.MachO) { b.FileType = 0x42 }), loader.ErrMalformed, 12,
			[]string{"unknown filetype 0x42"}},
		{"sizeofcmds past EOF", patch(func(b []byte) { le.PutUint32(b[20:], 0x10000) }), loader.ErrMalformed, 32,
			[]string{"load commands", "sizeofcmds 0x10000 ends at 0x10020, past the end of the image (0x1800 bytes)"}},
		{"fewer commands than ncmds", build(func(b *objtest.MachO) { b.NCmds = uint32(len(b.Cmds) + 1) }), loader.ErrMalformed, -2,
			[]string{"load command 14 of 15", "0 bytes before the end of sizeofcmds"}},
		{"cmdsize past the table", patch(func(b []byte) { le.PutUint32(b[at(cWeak)+4:], 0x1000) }), loader.ErrMalformed, int64(at(cWeak)),
			[]string{"load command 6 (LC_LOAD_WEAK_DYLIB)", "cmdsize 0x1000 runs past the end of the load commands"}},
		{"cmdsize too small", patch(func(b []byte) { le.PutUint32(b[at(cText)+4:], 4) }), loader.ErrMalformed, int64(at(cText)),
			[]string{"load command 0 (LC_SEGMENT_64)", "cmdsize 0x4 is smaller than 8"}},
		{"cmdsize not a multiple of 4", patch(func(b []byte) { le.PutUint32(b[at(cSystem)+4:], 0x2e) }), loader.ErrMalformed, int64(at(cSystem)),
			[]string{"load command 5 (LC_LOAD_DYLIB)", "cmdsize 0x2e is not a multiple of 4"}},
		{"dylib command too small", build(func(b *objtest.MachO) { b.Raw(b.U32(objtest.LCLoadUpwardDylib, 16, 12, 0)) }), loader.ErrMalformed, -2,
			[]string{"load command 14 (LC_LOAD_UPWARD_DYLIB)", "cmdsize 0x10 is smaller than the command's fixed part (24 bytes)"}},
		{"nsects mismatch", patch(func(b []byte) { le.PutUint32(b[at(cText)+64:], 3) }), loader.ErrMalformed, int64(at(cText)),
			[]string{"LC_SEGMENT_64", "does not match nsects 3"}},
		{"string not NUL-terminated", patch(func(b []byte) {
			for i := at(cReexport) + 24; i < at(cLazy); i++ {
				b[i] = 'A'
			}
		}), loader.ErrMalformed, int64(at(cReexport)),
			[]string{"load command 7 (LC_REEXPORT_DYLIB)", "not NUL-terminated within the command"}},
		{"segment wraps", build(func(b *objtest.MachO) {
			b.Cmds[cData] = nil
			b.Cmds = append(b.Cmds[:cData], b.Cmds[cData+1:]...)
			b.Segment("__HIGH", 0xffffffffffffc000, 0x8000, 0, 0, 3, 0)
		}), loader.ErrMalformed, -2,
			[]string{`LC_SEGMENT_64) "__HIGH"`, "vmaddr 0xffffffffffffc000 + vmsize 0x8000 wraps around the 64-bit address space"}},
		{"segment file range past EOF", patch(func(b []byte) { le.PutUint64(b[at(cLinkedit)+48:], 0x10000) }), loader.ErrMalformed, int64(at(cLinkedit)),
			[]string{`"__LINKEDIT"`, "file range [0x1600, +0x10000) extends past the end of the image (0x1800 bytes)"}},
		{"filesize exceeds vmsize", patch(func(b []byte) { le.PutUint64(b[at(cDataConst)+32:], 0x100) }), loader.ErrMalformed, int64(at(cDataConst)),
			[]string{`"__DATA_CONST"`, "filesize 0x400 exceeds vmsize 0x100"}},
		{"bad initprot", patch(func(b []byte) { le.PutUint32(b[at(cData)+60:], 0x13) }), loader.ErrMalformed, int64(at(cData)),
			[]string{`"__DATA"`, "initprot 0x13 has bits other than"}},
		{"overlapping segments", patch(func(b []byte) { le.PutUint64(b[at(cDataConst)+24:], 0x2000) }), loader.ErrMalformed, -1,
			[]string{"lib/broken.dylib: segment __DATA_CONST: range [0x2000, 0x6000) overlaps segment __TEXT [0x0, 0x4000)"}},
		{"symbol table past EOF", build(func(b *objtest.MachO) { b.Raw(b.U32(0x2, 24, 0x100000, 1, 0, 0)) }), loader.ErrMalformed, -2,
			[]string{"load command 14 (LC_SYMTAB)", "symbol table [0x100000, +1 × 16) extends past the end"}},
	}
	// Every command that holds an lc_str: an offset outside the command.
	for _, i := range []int{cID, cSystem, cWeak, cReexport, cLazy, cUpward, cRpath0, cRpath0 + 1} {
		name := machoCmdName(macho.LoadCmd(le.Uint32(dy.Cmds[i])))
		cases = append(cases, errCase{"lc_str outside " + name,
			patch(func(b []byte) {
				size := le.Uint32(b[at(i)+4:])
				le.PutUint32(b[at(i)+8:], size+4)
			}), loader.ErrMalformed, int64(at(i)),
			[]string{fmt.Sprintf("load command %d (%s)", i, name), "is outside the command (cmdsize"}})
	}
	ex := objtest.DemoExec()
	cases = append(cases, errCase{"two LC_MAIN", func() []byte { b := objtest.DemoExec(); b.Main(1, 2); return b.Bytes() },
		loader.ErrMalformed, int64(ex.OffsetOf(len(ex.Cmds))), []string{"LC_MAIN", "dyld allows only one"}})
	cases = append(cases, errCase{"32-bit segment wraps", func() []byte {
		b := objtest.NewMachO(objtest.CPU386, 3, objtest.MHExecute)
		b.Is64 = false
		b.FileSize = 0x100
		b.Segment("__TEXT", 0xfffff000, 0x2000, 0, 0x100, 5, 0)
		return b.Bytes()
	}, loader.ErrMalformed, 28, []string{"wraps around the 32-bit address space"}})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, err := Parse(bytes.NewReader(c.data()), "lib/broken.dylib")
			require.Error(t, err)
			assert.Nil(t, spec)
			assert.True(t, errors.Is(err, c.class), "want %v: %v", c.class, err)
			var me *loader.FileError
			require.True(t, errors.As(err, &me), "%T", err)
			assert.Equal(t, "lib/broken.dylib", me.Path)
			assert.True(t, strings.HasPrefix(err.Error(), "lib/broken.dylib"), err.Error())
			assert.Equal(t, 1, strings.Count(err.Error(), "lib/broken.dylib"), "the file is named once: %s", err.Error())
			if c.offset != -2 {
				assert.Equal(t, c.offset, me.Offset, err.Error())
			}
			for _, s := range c.says {
				assert.Contains(t, err.Error(), s)
			}
		})
	}

	// Overlapping segments are found by loader.ImageSpec.Validate, whose
	// *loader.SpecError stays reachable.
	_, err := Parse(bytes.NewReader(patch(func(b []byte) { le.PutUint64(b[at(cDataConst)+24:], 0x2000) })()), "x")
	assert.True(t, errors.Is(err, loader.ErrBadSpec))
	var se *loader.SpecError
	assert.True(t, errors.As(err, &se))
}

// TestParseMachONonAllocatableSegment: a vmsize-0 SG_NORELOC segment
// with file bytes (an __LLVM bitcode segment) is accepted, as dyld does,
// and takes no address space.
func TestParseMachONonAllocatableSegment(t *testing.T) {
	b := objtest.DemoDylib()
	i := b.Segment("__LLVM", 0x14000, 0, 0x1600, 0x100, 1, 0)
	data := b.Bytes()
	off := b.OffsetOf(i)
	binary.LittleEndian.PutUint32(data[off+68:], 0x4) // flags = SG_NORELOC
	spec, err := Parse(bytes.NewReader(data), "llvm.dylib")
	require.NoError(t, err)
	last := spec.Segments[len(spec.Segments)-1]
	assert.Equal(t, loader.Segment{Name: "__LLVM", VMAddr: 0x14000, FileOff: 0x1600, Prot: vaspace.ProtRead}, last)

	binary.LittleEndian.PutUint32(data[off+68:], 0)
	_, err = Parse(bytes.NewReader(data), "llvm.dylib")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "filesize 0x100 exceeds vmsize 0x0")
}

// machoTestInputs is every real and synthetic input the robustness tests
// use, with the architecture to ask for.
func machoTestInputs(t testing.TB) []struct {
	name, arch string
	data       []byte
} {
	var out []struct {
		name, arch string
		data       []byte
	}
	add := func(name, arch string, data []byte) {
		out = append(out, struct {
			name, arch string
			data       []byte
		}{name, arch, data})
	}
	files := goMachOTestdata(t)
	for _, name := range sortedKeys(files) {
		arch := ""
		if strings.HasPrefix(name, "fat-") {
			arch = "x86_64"
		}
		add(name, arch, files[name])
	}
	add("libdemo.dylib", "", objtest.DemoDylib().Bytes())
	add("demo-exec", "", objtest.DemoExec().Bytes())
	arm64 := objtest.DemoExec()
	arm64.SubCPU = 0
	add("universal", "arm64", objtest.Fat(false,
		objtest.FatSlice{CPU: objtest.CPUX86_64, Sub: 3, Data: machoX86Exec()}, objtest.FatSlice{CPU: objtest.CPUARM64, Sub: 0, Data: arm64.Bytes()}))
	add("universal64", "", objtest.Fat(true, objtest.FatSlice{CPU: objtest.CPUARM64, Sub: 0, Data: arm64.Bytes()}))
	return out
}

// checkMachOOutcome: a parse either fails with a *loader.FileError naming the
// file or returns a spec that validates.
func checkMachOOutcome(t testing.TB, spec *loader.ImageSpec, err error, path, what string) {
	t.Helper()
	if err != nil {
		var me *loader.FileError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), path) {
			t.Fatalf("%s: error %T %q is not a *loader.FileError naming %s", what, err, err, path)
		}
		if spec != nil {
			t.Fatalf("%s: spec and error both returned", what)
		}
		return
	}
	if spec == nil || spec.MachO == nil {
		t.Fatalf("%s: nil spec or MachO info without an error", what)
	}
	if verr := spec.Validate(); verr != nil {
		t.Fatalf("%s: returned spec does not validate: %v", what, verr)
	}
	if len(spec.Needed) != len(spec.MachO.Dependencies) {
		t.Fatalf("%s: %d Needed, %d Dependencies", what, len(spec.Needed), len(spec.MachO.Dependencies))
	}
	for _, s := range spec.Segments {
		if s.FileOff+s.FileSize > spec.MachO.SliceSize {
			t.Fatalf("%s: segment %s file range past the slice", what, s.Name)
		}
	}
}

// TestParseMachOTruncated parses every prefix of every test input.
func TestParseMachOTruncated(t *testing.T) {
	for _, in := range machoTestInputs(t) {
		full, fullErr := ParseArch(bytes.NewReader(in.data), in.name, in.arch)
		for n := 0; n < len(in.data); n++ {
			spec, err := ParseArch(bytes.NewReader(in.data[:n]), in.name, in.arch)
			checkMachOOutcome(t, spec, err, in.name, fmt.Sprintf("%s[:%d]", in.name, n))
			if err == nil && fullErr == nil {
				// A prefix that parses can only have lost bytes no
				// segment maps.
				assert.Equal(t, full.Segments, spec.Segments, "%s[:%d]", in.name, n)
			}
		}
	}
}

// TestParseMachOCorrupted overwrites each byte of the headers and load
// commands of the synthetic images and two real ones with a few values.
func TestParseMachOCorrupted(t *testing.T) {
	for _, in := range machoTestInputs(t) {
		if strings.HasPrefix(in.name, "gcc-") || strings.HasPrefix(in.name, "clang-386") || strings.HasSuffix(in.name, ".obj") {
			continue
		}
		limit := min(len(in.data), 0x700)
		for i := 0; i < limit; i++ {
			for _, v := range []byte{0x00, 0xff, 0x80} {
				if in.data[i] == v {
					continue
				}
				b := bytes.Clone(in.data)
				b[i] = v
				spec, err := ParseArch(bytes.NewReader(b), in.name, in.arch)
				checkMachOOutcome(t, spec, err, in.name, fmt.Sprintf("%s byte %#x = %#x", in.name, i, v))
			}
		}
	}
}

// panickingReader stands in for a debug/macho panic: it panics on every
// read after the first ok reads.
type panickingReader struct {
	r     *bytes.Reader
	ok, n int
}

func (p *panickingReader) ReadAt(b []byte, off int64) (int, error) {
	p.n++
	if p.n > p.ok {
		panic(fmt.Sprintf("read %d at %#x", p.n, off))
	}
	return p.r.ReadAt(b, off)
}

func (p *panickingReader) Size() int64 { return p.r.Size() }

// TestParseMachORecoversPanics: a panic anywhere under ParseMachO,
// including inside macho.NewFile, becomes a *loader.FileError.
func TestParseMachORecoversPanics(t *testing.T) {
	data := objtest.DemoDylib().Bytes()
	sawDebugMachO := false
	for ok := 0; ok < 64; ok++ {
		spec, err := Parse(&panickingReader{r: bytes.NewReader(data), ok: ok}, "panics.dylib")
		if err == nil {
			require.NotNil(t, spec)
			break
		}
		var me *loader.FileError
		require.True(t, errors.As(err, &me), "%T %v", err, err)
		assert.True(t, errors.Is(err, loader.ErrMalformed))
		assert.Contains(t, err.Error(), "panics.dylib: debug/macho failed on malformed input")
		// The table walk reads the header, the magic and the command
		// table (3 reads); later reads are debug/macho's.
		if ok > 4 {
			sawDebugMachO = true
		}
	}
	assert.True(t, sawDebugMachO, "some panics must come from inside macho.NewFile")
}

// sizelessReader hides bytes.Reader's Size method.
type sizelessReader struct{ r *bytes.Reader }

func (s sizelessReader) ReadAt(b []byte, off int64) (int, error) { return s.r.ReadAt(b, off) }

func TestMachOReaderSize(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 0x1800, 0x1801, 12345, 1 << 16} {
		got, err := objfile.Size(sizelessReader{bytes.NewReader(make([]byte, n))})
		require.NoError(t, err)
		assert.Equal(t, int64(n), got)
	}
	data := objtest.DemoDylib().Bytes()
	spec, err := Parse(sizelessReader{bytes.NewReader(data)}, "probed")
	require.NoError(t, err)
	assert.Equal(t, uint64(len(data)), spec.MachO.FileSize)
	var _ io.ReaderAt = sizelessReader{}
}

// TestMachOFixtures keeps testdata in step with the builders
// (go test ./loader -run TestMachOFixtures -update-macho rewrites them).
func TestMachOFixtures(t *testing.T) {
	fixtures := map[string][]byte{
		"libdemo.dylib": objtest.DemoDylib().Bytes(),
	}
	for name, want := range fixtures {
		path := filepath.Join("testdata", name)
		if *updateMachOFixtures {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, want, 0o644))
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "%s differs from its builder; rerun with -update-macho", path)
		spec, err := Read(path)
		require.NoError(t, err)
		assert.Equal(t, path, spec.Path)
	}
}

// machoFuzzSeeds adds Go's debug/macho test files and the synthetic
// images. The real files are 8-29 KiB, and the fuzzer spends its time
// minimising what it derives from them; run it with a short
// -fuzzminimizetime (3s) or rely on the 1 KiB synthetic seed.
func machoFuzzSeeds(f *testing.F) {
	mini := objtest.MiniDylib().Bytes()
	if _, err := Parse(bytes.NewReader(mini), "mini"); err != nil {
		f.Fatalf("the small seed does not parse: %v", err)
	}
	f.Add(mini)
	for _, in := range machoTestInputs(f) {
		if len(in.data) < 1<<20 {
			f.Add(in.data)
		}
	}
	f.Add([]byte("\xcf\xfa\xed\xfe"))
	f.Add([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x01"))
}

// FuzzParseMachO: ParseMachO must never panic; an error must be a
// *loader.FileError naming the file, and a spec must validate.
func FuzzParseMachO(f *testing.F) {
	machoFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := Parse(bytes.NewReader(b), "fuzz.dylib")
		checkMachOOutcome(t, spec, err, "fuzz.dylib", "fuzz input")
		spec, err = ParseArch(bytes.NewReader(b), "fuzz.dylib", "x86_64")
		checkMachOOutcome(t, spec, err, "fuzz.dylib", "fuzz input (x86_64)")
	})
}
