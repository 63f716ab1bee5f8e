package ldso

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/objtest"
)

const realLDSO = "/lib64/ld-linux-x86-64.so.2"

// ldsoList runs the real loader in list mode (it maps the program's
// dependencies and prints them; the program itself does not run) and
// returns the loaded objects in link-map order, without the vDSO, as
// "name => path" or the bare path for the interpreter.
func ldsoList(t testing.TB, prog string, env []string) []string {
	cmd := exec.Command(realLDSO, "--list", prog)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// A missing library is fatal in list mode: "error while loading
		// shared libraries: NAME: cannot open shared object file".
		s := string(out)
		const marker = "error while loading shared libraries: "
		if i := strings.Index(s, marker); i >= 0 {
			name := s[i+len(marker):]
			name = name[:strings.Index(name, ":")]
			return []string{name + " => not found"}
		}
		require.NoError(t, err, "%s --list %s: %s", realLDSO, prog, out)
	}
	var objs []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "linux-vdso") {
			continue
		}
		if i := strings.LastIndex(l, " ("); i >= 0 {
			l = l[:i]
		}
		objs = append(objs, l)
	}
	return objs
}

func modelList(p *Namespace) []string {
	var objs []string
	for _, o := range p.Objects {
		if o.IsMain() {
			continue
		}
		if o == p.Interp {
			objs = append(objs, o.Path)
			continue
		}
		objs = append(objs, o.Names[0]+" => "+o.Path)
	}
	for _, m := range p.Missing {
		objs = append(objs, m.Name+" => not found")
	}
	return objs
}

func requireRealLoader(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(realLDSO); err != nil {
		t.Skipf("no %s: the real-loader comparison needs glibc x86_64", realLDSO)
	}
	if _, err := os.Stat("/etc/ld.so.cache"); err != nil {
		t.Skip("no /etc/ld.so.cache")
	}
}

// realPrograms returns named programs that exist plus a deterministic
// sample of dynamically linked executables from /usr/bin.
func realPrograms(t testing.TB, n int) []string {
	var out []string
	for _, p := range []string{"/bin/ls", "/usr/bin/python3", "/usr/bin/perl", "/usr/bin/git", "/usr/bin/gdb", "/usr/bin/ssh", "/usr/bin/valgrind", "/usr/bin/psql"} {
		if f, err := elf.Open(p); err == nil {
			f.Close()
			out = append(out, p)
		}
	}
	ents, _ := os.ReadDir("/usr/bin")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	step := len(names)/n + 1
	for i := 0; i < len(names); i += step {
		p := filepath.Join("/usr/bin", names[i])
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		dyn := false
		for _, pr := range f.Progs {
			if pr.Type == elf.PT_INTERP {
				dyn = true
			}
		}
		f.Close()
		if dyn && f.Machine == elf.EM_X86_64 {
			out = append(out, p)
		}
	}
	return out
}

// TestResolveMatchesRealLoader compares the resolved load order of real
// programs with what the real ld.so maps for them.
func TestResolveMatchesRealLoader(t *testing.T) {
	requireRealLoader(t)
	for _, prog := range realPrograms(t, 40) {
		t.Run(filepath.Base(prog), func(t *testing.T) {
			r, err := NewResolver("")
			require.NoError(t, err)
			p, err := r.LoadProgram(prog)
			require.NoError(t, err)
			// Run as "ld.so --list", the loader takes $ORIGIN of the main
			// program from the path given; the kernel (which the model
			// follows) uses the resolved path. Give ld.so the resolved
			// path so both see the same origin.
			real, err := filepath.EvalSymlinks(prog)
			require.NoError(t, err)
			assert.Equal(t, ldsoList(t, real, nil), modelList(p))
		})
	}
}

// TestResolveSearchOrder builds libraries with gcc to exercise RPATH
// inheritance, RUNPATH (not inherited), LD_LIBRARY_PATH, $ORIGIN and
// missing libraries, and compares with the real loader each time.
func TestResolveSearchOrder(t *testing.T) {
	requireRealLoader(t)
	gcc := objtest.RequireCC(t, "gcc")
	dir := t.TempDir()
	run := func(args ...string) {
		out, err := exec.Command(gcc, args...).CombinedOutput()
		require.NoError(t, err, "gcc %v: %s", args, out)
	}
	mk := func(sub, name, src string, extra ...string) string {
		d := filepath.Join(dir, sub)
		require.NoError(t, os.MkdirAll(d, 0o755))
		out, err := objtest.Compile(gcc, d, name, src, []string{"-shared", "-fPIC"}, extra)
		require.NoError(t, err)
		return out
	}
	// Two copies of libleaf in different dirs tell which search found it.
	mk("a", "libleaf.so", "int leaf(void){return 1;}")
	mk("b", "libleaf.so", "int leaf(void){return 2;}")
	mk("c", "libleaf.so", "int leaf(void){return 3;}")
	// libmid (in m/) needs libleaf without any path of its own: found
	// through the executable's inherited RPATH, or LD_LIBRARY_PATH.
	mk("m", "libmid.so", "int leaf(void); int mid(void){return leaf();}", "-L"+filepath.Join(dir, "a"), "-lleaf")
	// librun has DT_RUNPATH=$ORIGIN/../c: its own deps come from c/.
	mk("r", "librun.so", "int leaf(void); int run(void){return leaf();}", "-L"+filepath.Join(dir, "a"), "-lleaf",
		"-Wl,--enable-new-dtags,-rpath,$ORIGIN/../c")
	mainSrc := filepath.Join(dir, "main.c")
	require.NoError(t, os.WriteFile(mainSrc, []byte("int mid(void); int main(void){return mid();}"), 0o644))
	exeRPath := filepath.Join(dir, "exe-rpath")
	rpl := "-Wl,-rpath-link," + filepath.Join(dir, "a")
	run("-o", exeRPath, mainSrc, rpl, "-L"+filepath.Join(dir, "m"), "-lmid", "-L"+filepath.Join(dir, "a"),
		"-Wl,--disable-new-dtags,-rpath,$ORIGIN/m:$ORIGIN/b")
	exeRunPath := filepath.Join(dir, "exe-runpath")
	run("-o", exeRunPath, mainSrc, rpl, "-L"+filepath.Join(dir, "m"), "-lmid", "-L"+filepath.Join(dir, "a"),
		"-Wl,--enable-new-dtags,-rpath,$ORIGIN/m:$ORIGIN/b")
	runSrc := filepath.Join(dir, "mainrun.c")
	require.NoError(t, os.WriteFile(runSrc, []byte("int run(void); int main(void){return run();}"), 0o644))
	exeRun := filepath.Join(dir, "exe-run")
	run("-o", exeRun, runSrc, rpl, "-L"+filepath.Join(dir, "r"), "-lrun", "-Wl,--disable-new-dtags,-rpath,"+filepath.Join(dir, "r")+":"+filepath.Join(dir, "b"))

	// A DT_RPATH is inherited down the whole chain of loaders: libdeep is
	// found for libbx (no path of its own) through the RPATH of libax,
	// libbx's loader, not the executable's.
	x := filepath.Join(dir, "x")
	mk("x", "libdeep.so", "int deep(void){return 4;}")
	mk("x", "libbx.so", "int deep(void); int bx(void){return deep();}", "-L"+x, "-ldeep")
	mk("ax", "libax.so", "int bx(void); int ax(void){return bx();}", "-L"+x, "-lbx", "-Wl,--disable-new-dtags,-rpath,"+x)
	chainSrc := filepath.Join(dir, "mainchain.c")
	require.NoError(t, os.WriteFile(chainSrc, []byte("int ax(void); int main(void){return ax();}"), 0o644))
	exeChain := filepath.Join(dir, "exe-chain")
	run("-o", exeChain, chainSrc, "-Wl,-rpath-link,"+x, "-L"+filepath.Join(dir, "ax"), "-lax",
		"-Wl,--disable-new-dtags,-rpath,"+filepath.Join(dir, "ax"))

	cases := []struct {
		name, exe, llp string
	}{
		{"rpath inherited through two loaders", exeChain, ""},
		{"rpath inherited to libmid", exeRPath, ""},
		{"rpath before LD_LIBRARY_PATH", exeRPath, filepath.Join(dir, "a")},
		{"runpath not inherited: libleaf missing", exeRunPath, ""},
		{"runpath after LD_LIBRARY_PATH", exeRunPath, filepath.Join(dir, "c") + ":" + filepath.Join(dir, "m")},
		{"empty LD_LIBRARY_PATH element", exeRunPath, ":" + filepath.Join(dir, "c")},
		{"dependency RUNPATH disables the exe RPATH for its deps", exeRun, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var env []string
			if c.llp != "" {
				env = append(env, "LD_LIBRARY_PATH="+c.llp)
			}
			want := ldsoList(t, c.exe, env)
			r, err := NewResolver("")
			require.NoError(t, err)
			r.LibraryPath = c.llp
			p, err := r.LoadProgram(c.exe)
			require.NoError(t, err)
			got := modelList(p)
			if len(want) == 1 && strings.HasSuffix(want[0], "=> not found") {
				// The real loader stops at the first missing library.
				require.NotEmpty(t, p.Missing)
				got = []string{p.Missing[0].Name + " => not found"}
			}
			assert.Equal(t, want, got)
		})
	}

	t.Run("missing libraries name who needed them", func(t *testing.T) {
		r, err := NewResolver("")
		require.NoError(t, err)
		p, err := r.LoadProgram(exeRunPath)
		require.NoError(t, err)
		require.Len(t, p.Missing, 1)
		assert.Equal(t, "libleaf.so", p.Missing[0].Name)
		assert.Equal(t, filepath.Join(dir, "m", "libmid.so"), p.Missing[0].NeededBy)
		assert.Contains(t, p.Missing[0].String(), "needed by "+filepath.Join(dir, "m", "libmid.so"))
	})

	t.Run("sysroot", func(t *testing.T) {
		// The same tree under a sysroot resolves to the same target paths.
		root := t.TempDir()
		target := filepath.Join(root, dir)
		require.NoError(t, os.MkdirAll(filepath.Dir(target), 0o755))
		require.NoError(t, exec.Command("cp", "-a", dir, target).Run())
		r1, err := NewResolver("")
		require.NoError(t, err)
		p1, err := r1.LoadProgram(exeRPath)
		require.NoError(t, err)
		r2, err := NewResolver(root)
		require.NoError(t, err)
		r2.Cache = r1.Cache // the sysroot has no /etc/ld.so.cache of its own
		r2.SystemDirs = nil
		// libc comes from the cache: give the sysroot this machine's.
		for _, d := range []string{"/lib", "/usr"} {
			require.NoError(t, os.Symlink(d, filepath.Join(root, d)))
		}
		p2, err := r2.LoadProgram(exeRPath)
		require.NoError(t, err)
		var a, b []string
		for _, o := range p1.Objects {
			if strings.HasPrefix(o.Path, dir) {
				a = append(a, o.Path)
			}
		}
		for _, o := range p2.Objects {
			if strings.HasPrefix(o.Path, dir) {
				b = append(b, o.Path)
				assert.True(t, strings.HasPrefix(o.HostPath, root), o.HostPath)
			}
		}
		assert.Equal(t, a, b)
		assert.NotEmpty(t, a)
	})
}

func TestExpandDST(t *testing.T) {
	r := &Resolver{Lib: "lib/x86_64-linux-gnu", Platform: "x86_64"}
	o := &Object{origin: "/opt/app/lib"}
	assert.Equal(t, "/opt/app/lib/../plugins", r.expand("$ORIGIN/../plugins", o))
	assert.Equal(t, "/opt/app/lib/x", r.expand("${ORIGIN}/x", o))
	assert.Equal(t, "/usr/lib/x86_64-linux-gnu/x86_64", r.expand("/usr/$LIB/${PLATFORM}", o))
	assert.Equal(t, "/a/$ORIGINAL", r.expand("/a/$ORIGINAL", o), "not a token")
	assert.Contains(t, r.expand("$ORIGIN/x", &Object{}), "\x00", "unknown origin drops the element")
	assert.Equal(t, []string{"", "/a", "/b"}, r.pathList(":/a/:/b:/a", ":", o))
	assert.Equal(t, []string{"/a", "/b", "/c"}, r.pathList("/a;/b:/c", ":;", o), "LD_LIBRARY_PATH also splits at ';' (elf/dl-load.c _dl_init_paths)")
	assert.Equal(t, []string{"/opt/app/lib"}, r.pathList("$ORIGIN/", ":", o))
}

// The subdirectories and system directories vasim detects for this
// machine are the ones its ld.so reports: "ld.so --help" lists the
// glibc-hwcaps levels it supports, the legacy platform and hwcap
// subdirectories it searches, and the system search path. The
// expectation comes from this machine's loader, whatever its CPU.
func TestHostDetectionMatchesThisLoader(t *testing.T) {
	requireRealLoader(t)
	out, err := exec.Command(realLDSO, "--help").Output()
	require.NoError(t, err)
	help := string(out)
	cpu, err := HostCPU()
	require.NoError(t, err)
	d, err := DetectGlibcVersion(realLDSO)
	require.NoError(t, err)
	h := DetectHWCaps(d.Version, loader.ArchX86_64, cpu)

	var levels, legacy []string
	platform := ""
	section := ""
	for _, l := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(l, "Subdirectories of glibc-hwcaps"):
			section = "hwcaps"
			continue
		case strings.HasPrefix(l, "Legacy HWCAP subdirectories"):
			section = "legacy"
			continue
		case !strings.HasPrefix(l, "  "):
			section = ""
		}
		f := strings.Fields(l)
		if section == "" || len(f) == 0 || !strings.Contains(l, "supported, searched") {
			continue
		}
		switch {
		case section == "hwcaps":
			levels = append(levels, f[0])
		case strings.Contains(l, "AT_PLATFORM"):
			platform = f[0]
		case f[0] != "tls":
			legacy = append(legacy, f[0])
		}
	}
	assert.Equal(t, levels, h.GlibcHWCaps, "glibc-hwcaps levels (CPU %s)", cpu.Vendor)
	if !h.NoLegacy {
		assert.Equal(t, platform, h.Platform, "legacy platform")
		assert.ElementsMatch(t, legacy, h.Legacy, "legacy hwcap subdirectories")
	}
	for _, dir := range GlibcSystemDirs(elf.EM_X86_64) {
		assert.Contains(t, help, "  "+dir+" (system search path)")
	}

	// A Resolver with Detect comes to the same, and searches the
	// subdirectories in the order LD_DEBUG=libs shows.
	r, err := NewResolver("")
	require.NoError(t, err)
	_, err = r.LoadProgram("/bin/true")
	require.NoError(t, err)
	assert.Equal(t, h.Subdirs(), r.Subdirs)
	cmd := exec.Command(realLDSO, "--list", "/bin/true")
	cmd.Env = []string{"LD_DEBUG=libs", "LD_LIBRARY_PATH=/nonexistent-vasim"}
	dbg, _ := cmd.CombinedOutput()
	var tried []string
	for _, l := range strings.Split(string(dbg), "\n") {
		if i := strings.Index(l, "search path="); i >= 0 && len(tried) == 0 {
			for _, p := range strings.Split(strings.Fields(l[i+len("search path="):])[0], ":") {
				tried = append(tried, strings.TrimPrefix(strings.TrimPrefix(p, "/nonexistent-vasim"), "/"))
			}
		}
	}
	if len(tried) > 0 {
		assert.Equal(t, r.Subdirs, tried, "LD_DEBUG=libs search path for LD_LIBRARY_PATH")
	}
}

// The subdirectory lists of glibc 2.36's _dl_important_hwcaps for the
// CPUs it tells apart, and glibc 2.37's without the legacy ones.
func TestHWCapsSubdirs(t *testing.T) {
	flags := func(fs ...string) map[string]bool {
		m := map[string]bool{}
		for _, list := range [][]string{x86Baseline, x86V2} {
			for _, f := range list {
				m[f] = true
			}
		}
		for _, f := range fs {
			m[f] = true
		}
		return m
	}
	v236 := GlibcVersion{Major: 2, Minor: 36}
	amd := DetectHWCaps(v236, loader.ArchX86_64, CPU{Vendor: "AuthenticAMD", Flags: flags("avx", "avx2", "f16c", "fma", "abm", "movbe", "bmi1", "bmi2")})
	assert.Equal(t, []string{"glibc-hwcaps/x86-64-v3", "glibc-hwcaps/x86-64-v2",
		"tls/x86_64/x86_64", "tls/x86_64", "tls/x86_64", "tls", "x86_64/x86_64", "x86_64", "x86_64", ""}, amd.Subdirs())
	haswell := DetectHWCaps(v236, loader.ArchX86_64, CPU{Vendor: "GenuineIntel", Flags: flags("avx", "avx2", "f16c", "fma", "abm", "movbe", "bmi1", "bmi2")})
	assert.Equal(t, []string{"glibc-hwcaps/x86-64-v3", "glibc-hwcaps/x86-64-v2",
		"tls/haswell/x86_64", "tls/haswell", "tls/x86_64", "tls", "haswell/x86_64", "haswell", "x86_64", ""}, haswell.Subdirs())
	skylake := DetectHWCaps(v236, loader.ArchX86_64, CPU{Vendor: "GenuineIntel", Flags: flags("avx", "avx2", "f16c", "fma", "abm", "movbe", "bmi1", "bmi2",
		"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")})
	assert.Equal(t, []string{"glibc-hwcaps/x86-64-v4", "glibc-hwcaps/x86-64-v3", "glibc-hwcaps/x86-64-v2",
		"tls/haswell/avx512_1/x86_64", "tls/haswell/avx512_1", "tls/haswell/x86_64", "tls/haswell",
		"tls/avx512_1/x86_64", "tls/avx512_1", "tls/x86_64", "tls",
		"haswell/avx512_1/x86_64", "haswell/avx512_1", "haswell/x86_64", "haswell",
		"avx512_1/x86_64", "avx512_1", "x86_64", ""}, skylake.Subdirs())
	noBMI := DetectHWCaps(v236, loader.ArchX86_64, CPU{Vendor: "AuthenticAMD", Flags: flags("avx", "avx2", "f16c", "fma", "abm", "movbe")})
	assert.Equal(t, []string{"x86-64-v2"}, noBMI.GlibcHWCaps, "2.36 as Debian builds it needs BMI1 and BMI2 for v3")
	assert.Equal(t, []string{"x86-64-v3", "x86-64-v2"}, DetectHWCaps(GlibcVersion{Major: 2, Minor: 35}, loader.ArchX86_64, CPU{Vendor: "AuthenticAMD", Flags: flags("avx", "avx2", "f16c", "fma", "abm", "movbe")}).GlibcHWCaps)
	assert.Empty(t, DetectHWCaps(GlibcVersion{Major: 2, Minor: 32}, loader.ArchX86_64, CPU{Flags: flags()}).GlibcHWCaps, "glibc-hwcaps came with 2.33")
	assert.Equal(t, []string{"glibc-hwcaps/x86-64-v3", "glibc-hwcaps/x86-64-v2", ""},
		DetectHWCaps(GlibcVersion{Major: 2, Minor: 37}, loader.ArchX86_64, CPU{Vendor: "GenuineIntel", Flags: flags("avx", "avx2", "f16c", "fma", "abm", "movbe", "bmi1", "bmi2")}).Subdirs(),
		"2.37 dropped the legacy subdirectories")
	arm := DetectHWCaps(v236, loader.ArchAArch64, CPU{Flags: map[string]bool{"fp": true, "asimd": true, "atomics": true}})
	assert.Equal(t, []string{"tls/aarch64/atomics", "tls/aarch64", "tls/atomics", "tls", "aarch64/atomics", "aarch64", "atomics", ""}, arm.Subdirs())
	assert.Equal(t, []string{"tls/aarch64", "tls", "aarch64", ""}, DetectHWCaps(v236, loader.ArchAArch64, CPU{Flags: map[string]bool{}}).Subdirs())
}

// treeWriter returns a function that writes a file at a target path under
// root, creating its directories.
func treeWriter(t *testing.T, root string) func(p string, b []byte) {
	return func(p string, b []byte) {
		hp := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(hp), 0o755))
		require.NoError(t, os.WriteFile(hp, b, 0o755))
	}
}

// TestNoDefaultLib: with DF_1_NODEFLIB on the loader, a cache entry in a
// system directory is not used, but one that merely starts with the same
// characters (/usr/lib64 against /usr/lib) is (elf/dl-load.c compares the
// directory with its trailing slash), and the default directories are not
// searched.
func TestNoDefaultLib(t *testing.T) {
	root := t.TempDir()
	write := treeWriter(t, root)
	write("/usr/lib64/libq.so.1", objtest.ELF{SOName: "libq.so.1"}.Bytes())
	write("/usr/lib/libr.so.1", objtest.ELF{SOName: "libr.so.1"}.Bytes())
	write("/usr/lib/libs.so.1", objtest.ELF{SOName: "libs.so.1"}.Bytes())
	prog := objtest.ELF{Needed: []string{"libq.so.1", "libr.so.1", "libs.so.1"}, Flags1: uint64(elf.DF_1_PIE | elf.DF_1_NODEFLIB)}
	write("/bin/prog", prog.Bytes())
	cache, err := ParseLDCache(buildNewCache([][4]any{
		{"libq.so.1", "/usr/lib64/libq.so.1", int32(0x303), uint64(0)},
		{"libr.so.1", "/usr/lib/libr.so.1", int32(0x303), uint64(0)},
	}, nil), "cache")
	require.NoError(t, err)
	r := &Resolver{Sysroot: root, Cache: cache, SystemDirs: []string{"/usr/lib"}}
	p, err := r.LoadProgram("/bin/prog")
	require.NoError(t, err)
	var found []string
	for _, o := range p.Objects[1:] {
		found = append(found, o.Path+" via "+o.Via)
	}
	assert.Equal(t, []string{"/usr/lib64/libq.so.1 via ld.so.cache"}, found)
	var missing []string
	for _, m := range p.Missing {
		missing = append(missing, m.Name)
	}
	assert.Equal(t, []string{"libr.so.1"}, missing, "the first library ld.so cannot load ends the start-up")

	// Without the flag both come from the cache and libs from /usr/lib.
	prog.Flags1 = uint64(elf.DF_1_PIE)
	write("/bin/prog2", prog.Bytes())
	r = &Resolver{Sysroot: root, Cache: cache, SystemDirs: []string{"/usr/lib"}}
	p, err = r.LoadProgram("/bin/prog2")
	require.NoError(t, err)
	assert.Empty(t, p.Missing)
	assert.Len(t, p.Objects, 4)
}

// TestPreloadSearchesTheProgramsRunpath: LD_PRELOAD names without a slash
// are searched with the main program as the loader, so its DT_RUNPATH
// applies (elf/rtld.c do_preload), and a malformed file on a search path
// stops the search with its error (elf/dl-load.c open_verify), which the
// Namespace reports.
func TestPreloadSearchesTheProgramsRunpath(t *testing.T) {
	root := t.TempDir()
	write := treeWriter(t, root)
	rp := "/opt/app/lib"
	write("/opt/app/lib/libpre.so", objtest.ELF{SOName: "libpre.so"}.Bytes())
	write("/bin/prog", objtest.ELF{Flags1: uint64(elf.DF_1_PIE), RunPath: &rp, Needed: []string{"libdep.so"}}.Bytes())
	write("/usr/lib/libdep.so", []byte("INPUT(-lc) /* a GNU ld script, as Debian's libc.so is; longer than an ELF header */"))
	write("/usr/lib64/libdep.so", objtest.ELF{SOName: "libdep.so"}.Bytes())
	r := &Resolver{Sysroot: root, Preload: []string{"libpre.so"}, SystemDirs: []string{"/usr/lib", "/usr/lib64"}}
	p, err := r.LoadProgram("/bin/prog")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(p.Objects), 2)
	assert.Equal(t, "/opt/app/lib/libpre.so", p.Objects[1].Path)
	assert.Equal(t, p.Main, p.Objects[1].Loader)
	require.Len(t, p.Missing, 1, "the search for libdep.so stops at the malformed /usr/lib/libdep.so")
	m := p.Missing[0]
	assert.Equal(t, "libdep.so", m.Name)
	var le *LoadError
	require.ErrorAs(t, m.Err, &le)
	assert.Equal(t, "/usr/lib/libdep.so: invalid ELF header", m.Message(), "glibc's message")
	assert.Contains(t, m.String(), "/usr/lib/libdep.so")
}

// TestLibraryPathSeparators: LD_LIBRARY_PATH splits at ';' as well as ':'
// (elf/dl-load.c _dl_init_paths passes ":;" to fillin_rpath).
func TestLibraryPathSeparators(t *testing.T) {
	root := t.TempDir()
	write := treeWriter(t, root)
	write("/opt/b/libz.so.1", objtest.ELF{SOName: "libz.so.1"}.Bytes())
	write("/bin/prog", objtest.ELF{Flags1: uint64(elf.DF_1_PIE), Needed: []string{"libz.so.1"}}.Bytes())
	r := &Resolver{Sysroot: root, LibraryPath: "/opt/a;/opt/b"}
	p, err := r.LoadProgram("/bin/prog")
	require.NoError(t, err)
	require.Empty(t, p.Missing)
	assert.Equal(t, "/opt/b/libz.so.1", p.Objects[1].Path)
	assert.Equal(t, "LD_LIBRARY_PATH", p.Objects[1].Via)
}

// What ld.so does costs vasim what it costs ld.so: one search for the
// first library that is missing (ld.so stops there), each search
// directory checked once however many libraries are looked up in it, and
// no record of every failed path. Here a program needs 1,000 missing
// libraries through a 1,000-entry DT_RPATH, half of whose entries run
// through a regular file.
func TestResolveCostIsLinear(t *testing.T) {
	root := t.TempDir()
	write := treeWriter(t, root)
	write("/opt/file", []byte("a regular file, not a directory"))
	var rpath []string
	for i := range 1000 {
		if i%2 == 0 {
			rpath = append(rpath, fmt.Sprintf("/opt/file/sub%d", i))
		} else {
			rpath = append(rpath, fmt.Sprintf("/opt/none%d", i))
		}
	}
	rp := strings.Join(rpath, ":")
	var needed []string
	for i := range 1000 {
		needed = append(needed, fmt.Sprintf("libmissing%d.so", i))
	}
	write("/bin/prog", objtest.ELF{Interp: "/lib64/ld-linux-x86-64.so.2", Needed: needed, RPath: &rp}.Bytes())
	write("/lib64/ld-linux-x86-64.so.2", objtest.ELF{SOName: "ld-linux-x86-64.so.2"}.Bytes())
	subdirs := DetectHWCaps(GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64, CPU{Vendor: "AuthenticAMD"}).Subdirs()
	r := &Resolver{Sysroot: root, SystemDirs: []string{"/lib", "/usr/lib"}, Subdirs: subdirs}
	p, err := r.LoadProgram("/bin/prog")
	require.NoError(t, err)
	require.Len(t, p.Missing, 1, "ld.so stops at the first library it cannot find")
	assert.Equal(t, "libmissing0.so", p.Missing[0].Name)
	assert.Empty(t, p.Warnings)
	// Each of the 1,002 directories and its subdirectories is checked
	// once, plus the program and its interpreter.
	assert.LessOrEqual(t, r.lookups, 1002*len(subdirs)+10)

	// A chain of libraries each with DT_RPATH $ORIGIN/s, s a regular
	// file: every lookup inherits every ancestor's RPATH, all naming the
	// same missing directory, which is checked once.
	chain := func(n int) (*Resolver, *Namespace) {
		root := t.TempDir()
		write := treeWriter(t, root)
		origin := "$ORIGIN/s"
		for i := range n {
			f := objtest.ELF{SOName: fmt.Sprintf("lib%d.so", i), RPath: &origin}
			if i+1 < n {
				f.Needed = []string{fmt.Sprintf("lib%d.so", i+1)}
			}
			write(fmt.Sprintf("/lib/lib%d.so", i), f.Bytes())
		}
		write("/lib/s", []byte("a file"))
		write("/bin/prog", objtest.ELF{Interp: "/lib64/ld-linux-x86-64.so.2", Needed: []string{"lib0.so"}, RPath: &origin}.Bytes())
		write("/lib64/ld-linux-x86-64.so.2", objtest.ELF{SOName: "ld-linux-x86-64.so.2"}.Bytes())
		r := &Resolver{Sysroot: root, SystemDirs: []string{"/lib"}}
		p, err := r.LoadProgram("/bin/prog")
		require.NoError(t, err)
		require.Empty(t, p.Missing)
		require.Equal(t, n+2, len(p.Objects), "the program, the chain and the interpreter")
		assert.Empty(t, p.Warnings)
		return r, p
	}
	r1, _ := chain(500)
	r2, _ := chain(1000)
	assert.LessOrEqual(t, r2.lookups, 2*r1.lookups+10, "lookups grow with the chain, not its square: %d, %d", r1.lookups, r2.lookups)
}

// A FIFO on a search path stops the search with an error that says what
// it is, as ld.so's open(2) would block on it; one as the sysroot's
// ld.so.cache is refused by NewResolver, naming it.
func TestFIFOsAreRefused(t *testing.T) {
	root := t.TempDir()
	write := treeWriter(t, root)
	write("/bin/prog", objtest.ELF{Interp: "/lib64/ld-linux-x86-64.so.2", Needed: []string{"libf.so"}}.Bytes())
	require.NoError(t, os.MkdirAll(filepath.Join(root, "lib"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "lib/libf.so"), 0o644))
	r := &Resolver{Sysroot: root, SystemDirs: []string{"/lib"}}
	p, err := r.LoadProgram("/bin/prog")
	require.NoError(t, err)
	require.Len(t, p.Missing, 1)
	assert.ErrorContains(t, p.Missing[0].Err, "is a named pipe (FIFO): ld.so would block opening it")

	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "etc/ld.so.cache"), 0o644))
	_, err = NewResolver(root)
	assert.ErrorContains(t, err, "ld.so.cache: is a named pipe (FIFO), not a regular file")
}
