package linux_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/tls"
	"github.com/vasim/vasim/vaspace"
	"pgregory.net/rapid"
)

// probeSrc is a program that prints its memory map and every loaded
// image's load bias (dl_iterate_phdr) as main starts, before anything
// could allocate, then dlopens each argument and prints them again,
// after dlerror()'s text when the dlopen fails. It writes with write(2)
// from static buffers so that printing maps nothing.
const probeSrc = `#define _GNU_SOURCE
#include <link.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <stdio.h>
%s
static char buf[1 << 20];
static void dump(void) {
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n, t = 0;
	while ((n = read(fd, buf + t, sizeof buf - t)) > 0) t += n;
	close(fd);
	write(1, "MAPS\n", 5); write(1, buf, t); write(1, "END\n", 4);
}
static int image(struct dl_phdr_info *i, size_t s, void *d) {
	char line[4200];
	int n = snprintf(line, sizeof line, "IMAGE %%lx %%s\n", (unsigned long)i->dlpi_addr, i->dlpi_name);
	write(1, line, n);
	return 0;
}
volatile int never;
int main(int argc, char **argv) {
	dump(); dl_iterate_phdr(image, 0);
	{
		char line[64];
		unsigned long dtv;
		__asm__("mov %%%%fs:8, %%0" : "=r"(dtv));
		int n = snprintf(line, sizeof line, "TP %%lx %%lx\n", (unsigned long)__builtin_thread_pointer(), dtv);
		write(1, line, n);
	}
	if (never) { %s }
	for (int i = 1; i < argc; i++) {
		if (!dlopen(argv[i], RTLD_NOW)) {
			const char *e = dlerror();
			write(1, "DLERR ", 6); write(1, e, strlen(e)); write(1, "\n", 1);
		}
		dump(); dl_iterate_phdr(image, 0);
	}
	return 0;
}
`

// phase is what the probe printed at one point: the maps (without device
// and inode) and the images.
type phase struct {
	Maps   []string
	Images []string
	// TP is the initial thread's thread pointer (start-up phase only).
	TP string
	// Err is dlerror()'s text when the dlopen before the phase failed.
	Err string
}

func parsePhases(t testing.TB, out []byte) []phase {
	t.Helper()
	var phases []phase
	var cur *phase
	inMaps := false
	var dlerr string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "MAPS":
			phases = append(phases, phase{Err: dlerr})
			cur, inMaps, dlerr = &phases[len(phases)-1], true, ""
		case line == "END":
			inMaps = false
		case strings.HasPrefix(line, "DLERR "):
			dlerr = strings.TrimPrefix(line, "DLERR ")
		case inMaps:
			ls, err := linux.ParseMaps(strings.NewReader(line), "probe")
			require.NoError(t, err)
			l := ls[0]
			cur.Maps = append(cur.Maps, fmt.Sprintf("%x-%x %v %08x %s", uint64(l.Start), uint64(l.End), permString(l), l.Offset, l.Path))
		case strings.HasPrefix(line, "IMAGE "):
			cur.Images = append(cur.Images, strings.TrimPrefix(line, "IMAGE "))
		case strings.HasPrefix(line, "TP "):
			cur.TP = strings.TrimPrefix(line, "TP ")
		}
	}
	return phases
}

func permString(l linux.MapsLine) string {
	if l.Shared {
		return l.Prot.String() + "s"
	}
	return l.Prot.String() + "p"
}

// requireNoASLRRuns skips unless setarch can turn randomisation off here
// (containers may forbid the personality change).
func requireNoASLRRuns(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs Linux x86_64 programs (the model's ld.so is glibc's for x86_64)")
	}
	d, err := ldso.DetectGlibcVersion("/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		t.Skipf("no glibc found: %v", err)
	}
	if s, err := ldso.GlibcSizesFor(d.Version, loader.ArchX86_64); err != nil || !s.Measured {
		t.Skipf("glibc %v: ld.so's allocation sizes are not measured for this release (only computed), so an exact match is not expected", d.Version)
	}
	if _, err := exec.LookPath("setarch"); err != nil {
		t.Skip("setarch (util-linux) is not installed")
	}
	out, err := exec.Command("setarch", "-R", "cat", "/proc/self/personality").CombinedOutput()
	if err != nil {
		t.Skipf("setarch -R cannot change the personality here: %v: %s", err, out)
	}
}

// runReal starts exe under setarch -R with exactly env and args and
// returns what it printed.
func runReal(t testing.TB, exe string, args, env []string) []phase {
	t.Helper()
	cmd := exec.Command("setarch", append([]string{"-R", exe}, args...)...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(exe)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %v: %v\n%s%s", exe, args, err, out, stderr)
	}
	return parsePhases(t, out)
}

// runModel predicts the same phases.
func runModel(t testing.TB, exe string, args, env []string) []phase {
	t.Helper()
	launch, err := linux.HostLaunch()
	require.NoError(t, err)
	launch.NoRandomize = true
	var out []phase
	for i := 0; i <= len(args); i++ {
		p, err := linux.Layout(exe, linux.Draw{}, linux.Options{Launch: &launch, Filename: exe, Args: append([]string{exe}, args...), Env: env, Dlopen: args[:i], WorkDir: filepath.Dir(exe)})
		require.NoError(t, err)
		var ph phase
		for _, l := range p.Maps() {
			ph.Maps = append(ph.Maps, fmt.Sprintf("%x-%x %v %08x %s", uint64(l.Start), uint64(l.End), permString(l), l.Offset, l.Path))
		}
		for _, img := range p.Images {
			ph.Images = append(ph.Images, fmt.Sprintf("%x %s", img.Bias, img.Path))
		}
		if i == 0 {
			ph.TP = fmt.Sprintf("%x %x", uint64(p.TLS.TP), p.DTV)
		} else if d := p.Dlopens[i-1]; !d.OK {
			ph.Err = d.Message
		}
		out = append(out, ph)
	}
	return out
}

// requireSameLayout compares the model with the real run, phase by phase.
func requireSameLayout(t testing.TB, exe string, args, env []string) {
	t.Helper()
	real := runReal(t, exe, args, env)
	model := runModel(t, exe, args, env)
	require.Len(t, model, len(real))
	for i := range real {
		what := "at main"
		if i > 0 {
			what = "after dlopen " + args[i-1]
		}
		require.Equal(t, strings.Join(real[i].Maps, "\n"), strings.Join(model[i].Maps, "\n"), "maps %s (env %q)", what, env)
		require.Equal(t, real[i].Images, model[i].Images, "images %s", what)
		require.Equal(t, real[i].TP, model[i].TP, "thread pointer %s", what)
		require.Equal(t, real[i].Err, model[i].Err, "dlerror() %s", what)
	}
}

// lib describes one generated shared library.
type lib struct {
	name     string   // libNAME.so
	deps     []string // names of libraries it links against
	tls      int      // bytes of __thread data (0: none)
	tlsAlign int
	ie       bool   // the TLS is initial-exec: it must fit in static TLS
	rodata   int    // bytes of constant data (file size)
	bss      int    // bytes of zero-fill data
	flags    string // extra link flags
	soname   bool
}

func (l lib) src() string {
	var b strings.Builder
	for _, d := range l.deps {
		fmt.Fprintf(&b, "extern int f_%s(void);\n", d)
	}
	expr := "0"
	for _, d := range l.deps {
		expr += fmt.Sprintf(" + f_%s()", d)
	}
	if l.tls > 0 {
		model := ""
		if l.ie {
			model = `, tls_model("initial-exec")`
		}
		fmt.Fprintf(&b, "__thread char tls_%s[%d] __attribute__((aligned(%d)%s)) = {1};\n", l.name, l.tls, l.tlsAlign, model)
		expr += fmt.Sprintf(" + tls_%s[0]", l.name)
	}
	if l.rodata > 0 {
		fmt.Fprintf(&b, "const char ro_%s[%d] = {1};\n", l.name, l.rodata)
		expr += fmt.Sprintf(" + ro_%s[%d]", l.name, l.rodata-1)
	}
	if l.bss > 0 {
		fmt.Fprintf(&b, "char bss_%s[%d];\n", l.name, l.bss)
		expr += fmt.Sprintf(" + bss_%s[%d]", l.name, l.bss-1)
	}
	fmt.Fprintf(&b, "int f_%s(void) { return %s; }\n", l.name, expr)
	return b.String()
}

// build compiles the libraries (dependencies first) and the probe linked
// against mainDeps, into dir; it returns the probe's path.
func build(t testing.TB, dir string, libs []lib, mainDeps []string, mainFlags string) string {
	t.Helper()
	cc := objtest.RequireCC(t, "gcc")
	built := map[string]bool{}
	var mu sync.Mutex
	var pending []lib
	pending = append(pending, libs...)
	for len(pending) > 0 {
		// Build every library whose dependencies exist, two at a time.
		var ready, rest []lib
		for _, l := range pending {
			ok := true
			for _, d := range l.deps {
				if !built[d] {
					ok = false
				}
			}
			if ok {
				ready = append(ready, l)
			} else {
				rest = append(rest, l)
			}
		}
		require.NotEmpty(t, ready, "dependency cycle among %v", pending)
		var wg sync.WaitGroup
		errs := make([]error, len(ready))
		sem := make(chan struct{}, 2)
		for i, l := range ready {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				args := []string{"-shared", "-fPIC", "-O1", "-Wl,--no-as-needed"}
				if len(l.deps) > 0 && !strings.Contains(l.flags, "-rpath") {
					args = append(args, "-Wl,-rpath,"+dir)
				}
				if l.soname {
					args = append(args, "-Wl,-soname,lib"+l.name+".so")
				}
				args = append(args, strings.Fields(l.flags)...)
				libsArgs := []string{"-L" + dir}
				for _, d := range l.deps {
					libsArgs = append(libsArgs, "-l"+d)
				}
				_, errs[i] = objtest.Compile(cc, dir, "lib"+l.name+".so", l.src(), args, libsArgs)
			}()
		}
		wg.Wait()
		for i, l := range ready {
			require.NoError(t, errs[i])
			mu.Lock()
			built[l.name] = true
			mu.Unlock()
		}
		pending = rest
	}
	var decls, calls strings.Builder
	for _, d := range mainDeps {
		fmt.Fprintf(&decls, "extern int f_%s(void);\n", d)
		fmt.Fprintf(&calls, "f_%s(); ", d)
	}
	src := fmt.Sprintf(probeSrc, decls.String(), calls.String())
	libsArgs := []string{"-L" + dir, "-Wl,--no-as-needed"}
	for _, d := range mainDeps {
		libsArgs = append(libsArgs, "-l"+d)
	}
	libsArgs = append(libsArgs, "-ldl")
	exe, err := objtest.Compile(cc, dir, "probe", src, append([]string{"-O1"}, strings.Fields(mainFlags)...), libsArgs)
	require.NoError(t, err)
	return exe
}

func TestLayoutMatchesTheKernelAndLdSo(t *testing.T) {
	requireNoASLRRuns(t)
	cases := []struct {
		name      string
		libs      []lib
		main      []string
		mainFlags string
		env       func(dir string) []string
		dlopen    []string
	}{
		{name: "libc only"},
		{
			name: "chain and diamond with RPATH",
			libs: []lib{
				{name: "qa", deps: []string{"qb", "qc"}, soname: true},
				{name: "qb", deps: []string{"qd"}},
				{name: "qc", deps: []string{"qd"}, tls: 100, tlsAlign: 32},
				{name: "qd", bss: 100000},
			},
			main:      []string{"qa"},
			mainFlags: "-Wl,-rpath,DIR -Wl,--disable-new-dtags",
		},
		{
			name: "RUNPATH with $ORIGIN, empty and repeated elements",
			libs: []lib{
				{name: "r1", deps: []string{"r2"}, flags: "-Wl,-rpath,$ORIGIN -Wl,--enable-new-dtags"},
				{name: "r2", flags: "-Wl,-rpath,/nonexistent:$ORIGIN -Wl,--disable-new-dtags"},
			},
			main:      []string{"r1"},
			mainFlags: "-Wl,-rpath,$ORIGIN::DIR:$ORIGIN/ -Wl,--enable-new-dtags",
		},
		{
			name: "LD_LIBRARY_PATH, LD_PRELOAD and GLIBC_TUNABLES",
			libs: []lib{
				{name: "p1", tls: 64, tlsAlign: 64},
				{name: "p2"},
				{name: "qm", deps: []string{"p2"}},
			},
			main: []string{"qm"},
			env: func(dir string) []string {
				return []string{"LD_LIBRARY_PATH=" + dir + ":/nonexistent:" + dir, "LD_PRELOAD=" + dir + "/libp1.so libp2.so", "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=1024"}
			},
		},
		{
			name: "large libraries: THP alignment and 2 MiB p_align",
			libs: []lib{
				{name: "big", rodata: 3 << 20},
				{name: "aligned", flags: "-Wl,-z,max-page-size=0x200000", bss: 1 << 20},
				{name: "small", deps: []string{"big", "aligned"}},
			},
			main:      []string{"small"},
			mainFlags: "-Wl,-rpath,DIR",
		},
		{
			name: "non-PIE program with dlopens",
			libs: []lib{
				{name: "qx", deps: []string{"qy"}, rodata: 5000},
				{name: "qy", tls: 40, tlsAlign: 8},
				{name: "qz", bss: 3 << 20},
			},
			mainFlags: "-no-pie -Wl,-rpath,DIR",
			dlopen:    []string{"libqx.so", "DIR/libqz.so"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tempDir(t)
			for i := range c.libs {
				c.libs[i].flags = strings.ReplaceAll(c.libs[i].flags, "DIR", dir)
			}
			exe := build(t, dir, c.libs, c.main, strings.ReplaceAll(c.mainFlags, "DIR", dir))
			env := []string{"PATH=/usr/bin:/bin"}
			if c.env != nil {
				env = append(env, c.env(dir)...)
			}
			var args []string
			for _, d := range c.dlopen {
				args = append(args, strings.ReplaceAll(d, "DIR", dir))
			}
			requireSameLayout(t, exe, args, env)
		})
	}
}

// A dlopen that fails leaves nothing behind, as glibc's _dl_open unmaps
// what it loaded (_dl_close_worker): a library whose initial-exec TLS
// does not fit in the static TLS left ("cannot allocate memory in static
// TLS block", decided by package tls as vasim tls decides it), with a
// dependency of its own; a library whose dependency is missing. The
// probe goes on after each failure; the maps after every dlopen, the
// images and dlerror()'s text must be the real loader's.
func TestFailedDlopenMatchesLdSo(t *testing.T) {
	requireNoASLRRuns(t)
	dir := tempDir(t)
	libs := []lib{
		{name: "st", deps: []string{"sd"}, tls: 6000, tlsAlign: 16, ie: true},
		{name: "sd", bss: 100000},
		{name: "ok", rodata: 5000, tls: 100, tlsAlign: 8, ie: true},
		{name: "md", deps: []string{"gone"}},
		{name: "gone"},
	}
	exe := build(t, dir, libs, nil, "-Wl,-rpath,"+dir)
	require.NoError(t, os.Remove(filepath.Join(dir, "libgone.so")))
	st := filepath.Join(dir, "libst.so")
	args := []string{st, "libok.so", filepath.Join(dir, "libmd.so"), st}
	env := []string{"PATH=/usr/bin:/bin"}
	requireSameLayout(t, exe, args, env)

	launch, err := linux.HostLaunch()
	require.NoError(t, err)
	launch.NoRandomize = true
	p, err := linux.Layout(exe, linux.Draw{}, linux.Options{Launch: &launch, Filename: exe, Args: append([]string{exe}, args...), Env: env, Dlopen: args, WorkDir: dir})
	require.NoError(t, err)
	require.Len(t, p.Dlopens, 4)
	var kinds []string
	for _, d := range p.Dlopens {
		k := "ok"
		if !d.OK {
			require.NotNil(t, d.Failure, d.Name)
			k = d.Failure.Kind.Code()
		}
		kinds = append(kinds, k)
	}
	require.Equal(t, []string{"static-tls-exhausted", "ok", "not-found", "static-tls-exhausted"}, kinds)
	require.Equal(t, st+": cannot allocate memory in static TLS block", p.Dlopens[0].Message)
	for _, l := range p.Maps() {
		require.NotContains(t, []string{st, filepath.Join(dir, "libsd.so"), filepath.Join(dir, "libmd.so")}, l.Path, "a failed dlopen's mapping is left: %v", l)
	}
}

// python3.11 cannot dlopen libjemalloc.so.2 (its initial-exec TLS does
// not fit in what the start-up left of the static TLS block): the model
// fails that dlopen with the message the real one gives, and leaves no
// mapping of it, as the real process has none after the failure.
func TestPythonJemallocDlopen(t *testing.T) {
	const python, jemalloc = "/usr/bin/python3.11", "libjemalloc.so.2"
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs a Linux x86_64 program")
	}
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is not installed", python)
	}
	// The real process: what dlopen says, and whether the library is
	// still mapped afterwards.
	script := `import ctypes, sys
try:
    ctypes.CDLL("` + jemalloc + `")
    print("OK")
except OSError as e:
    print("ERR " + str(e))
print("MAPPED" if "libjemalloc" in open("/proc/self/maps").read() else "UNMAPPED")
`
	cmd := exec.Command(python, "-c", script)
	cmd.Env = []string{}
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 2, "%s", out)
	if strings.Contains(lines[0], "cannot open shared object file") {
		t.Skipf("%s is not installed", jemalloc)
	}

	p, err := linux.Layout(python, linux.Draw{}, linux.Options{Env: []string{}, Dlopen: []string{jemalloc}})
	require.NoError(t, err)
	require.Len(t, p.Dlopens, 1)
	d := p.Dlopens[0]
	if lines[0] == "OK" {
		require.True(t, d.OK, "the real dlopen succeeds; the model says %s", d.Message)
		require.Equal(t, "MAPPED", lines[1])
		return
	}
	require.False(t, d.OK, "the real dlopen fails with %s", lines[0])
	require.Equal(t, strings.TrimPrefix(lines[0], "ERR "), d.Message)
	require.Equal(t, "UNMAPPED", lines[1])
	for _, l := range p.Maps() {
		require.NotContains(t, l.Path, "libjemalloc", "the failed dlopen's mappings stay in the layout")
	}
}

// tempDir is a fresh directory whose path has no characters that linker
// flags or search paths treat specially (t.TempDir's holds the test name).
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vasim-linux-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// mapsLines formats maps without devices and inodes, leaving out the brk
// heap, which the libraries' constructors create with malloc before the
// entry point and which the model does not run.
func mapsLines(ls []linux.MapsLine) []string {
	var out []string
	for _, l := range ls {
		if l.Path == "[heap]" {
			continue
		}
		out = append(out, fmt.Sprintf("%x-%x %v %08x %s", uint64(l.Start), uint64(l.End), permString(l), l.Offset, l.Path))
	}
	return out
}

// TestRealProgramsLayout compares the model with programs installed on
// this machine, stopped at their entry point with randomisation off: gdb
// (59 libraries, C++, libpython) when it is installed, and the first
// dynamically linked programs of /usr/bin that are not set-user-ID or
// set-group-ID (the kernel randomises those whatever the personality).
func TestRealProgramsLayout(t *testing.T) {
	requireNoASLRRuns(t)
	dir := tempDir(t)
	tracer, err := objtest.Compile(objtest.RequireCC(t, "gcc"), dir, "tracer", objtest.EntryTracerSrc, []string{"-O1"}, nil)
	require.NoError(t, err)
	var progs []string
	if p, err := exec.LookPath("gdb"); err == nil {
		progs = append(progs, p)
	}
	entries, err := os.ReadDir("/usr/bin")
	require.NoError(t, err)
	const sample = 40
	for _, e := range entries {
		if len(progs) > sample {
			break
		}
		p := filepath.Join("/usr/bin", e.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 || fi.Mode()&0o111 == 0 {
			continue
		}
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		interp := f.Progs != nil && hasInterp(f)
		f.Close()
		if interp {
			progs = append(progs, p)
		}
	}
	launch, err := linux.HostLaunch()
	require.NoError(t, err)
	launch.NoRandomize = true
	for _, p := range progs {
		cmd := exec.Command(tracer, p)
		cmd.Env = []string{}
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Logf("%s: the tracer could not stop it at its entry point (%v); skipped", p, err)
			continue
		}
		real, err := linux.ParseMaps(bytes.NewReader(out), p)
		require.NoError(t, err)
		proc, err := linux.Layout(p, linux.Draw{}, linux.Options{Launch: &launch, Env: []string{}, WorkDir: dir})
		require.NoError(t, err, p)
		require.Equal(t, strings.Join(mapsLines(real), "\n"), strings.Join(mapsLines(proc.Maps()), "\n"), "%s (%d libraries)", p, len(proc.Images)-2)
	}
	t.Logf("%d programs match", len(progs))
}

func hasInterp(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// TestRandomProgramsLayout builds random programs (library graphs with
// TLS, large constant data, bss, 2 MiB alignment, RPATH or RUNPATH,
// SONAMEs; environments with LD_LIBRARY_PATH, LD_PRELOAD and
// GLIBC_TUNABLES; dlopens at run time) and requires the model to match the
// real run under setarch -R exactly: maps, biases, thread pointer, DTV.
func TestRandomProgramsLayout(t *testing.T) {
	requireNoASLRRuns(t)
	objtest.RequireCC(t, "gcc")
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		require.NoError(t, flag.Set("rapid.checks", "15")) // each case builds and runs a program
		defer flag.Set("rapid.checks", "100")
	}
	rapid.Check(t, func(rt *rapid.T) {
		dir := tempDir(t)
		n := rapid.IntRange(1, 9).Draw(rt, "libraries")
		libs := make([]lib, n)
		for i := range libs {
			l := lib{name: fmt.Sprintf("r%d", i), soname: rapid.Bool().Draw(rt, "soname")}
			for j := i + 1; j < n; j++ {
				if rapid.IntRange(0, 3).Draw(rt, "edge") == 0 {
					l.deps = append(l.deps, fmt.Sprintf("r%d", j))
				}
			}
			switch rapid.IntRange(0, 5).Draw(rt, "feature") {
			case 1:
				l.tls = rapid.IntRange(1, 3000).Draw(rt, "tls bytes")
				l.tlsAlign = 1 << rapid.IntRange(0, 7).Draw(rt, "tls align log2")
			case 2:
				l.rodata = rapid.IntRange(1, 5<<20).Draw(rt, "rodata bytes")
			case 3:
				l.bss = rapid.IntRange(1, 5<<20).Draw(rt, "bss bytes")
			case 4:
				l.flags = "-Wl,-z,max-page-size=0x" + rapid.SampledFrom([]string{"10000", "200000"}).Draw(rt, "p_align")
			}
			if len(l.deps) > 0 && rapid.Bool().Draw(rt, "runpath") {
				l.flags += " -Wl,-rpath,$ORIGIN -Wl,--enable-new-dtags"
			}
			libs[i] = l
		}
		var mainDeps, rest []string
		for _, l := range libs {
			if rapid.Bool().Draw(rt, "main needs") {
				mainDeps = append(mainDeps, l.name)
			} else {
				rest = append(rest, l.name)
			}
		}
		mainFlags := "-Wl,-rpath," + dir
		if rapid.Bool().Draw(rt, "no-pie") {
			mainFlags += " -no-pie"
		}
		exe := build(t, dir, libs, mainDeps, mainFlags)
		env := []string{"HOME=/" + strings.Repeat("h", rapid.IntRange(0, 300).Draw(rt, "env padding"))}
		if rapid.Bool().Draw(rt, "LD_LIBRARY_PATH") {
			env = append(env, "LD_LIBRARY_PATH=/nonexistent:"+dir)
		}
		if len(libs) > 0 && rapid.IntRange(0, 3).Draw(rt, "LD_PRELOAD") == 0 {
			env = append(env, "LD_PRELOAD=lib"+libs[len(libs)-1].name+".so")
		}
		if rapid.IntRange(0, 3).Draw(rt, "tunables") == 0 {
			env = append(env, fmt.Sprintf("GLIBC_TUNABLES=glibc.rtld.optional_static_tls=%d", rapid.IntRange(0, 100000).Draw(rt, "optional")))
		}
		var args []string
		for _, name := range rest {
			if rapid.Bool().Draw(rt, "dlopen") {
				args = append(args, filepath.Join(dir, "lib"+name+".so"))
			}
		}
		requireSameLayout(t, exe, args, env)
	})
}

// TestInitialTLSPagesMatchRealProcess builds programs whose libraries
// hold initial-exec TLS from a few bytes to tens of KiB, runs them under
// setarch -R, and requires the thread pointer, the static TLS range
// (from _dl_get_tls_static_info), the DTV and the page set a
// compartmentalising loader must share to be exactly the model's.
func TestInitialTLSPagesMatchRealProcess(t *testing.T) {
	requireNoASLRRuns(t)
	cc := objtest.RequireCC(t, "gcc")
	for _, sizes := range [][]int{{8}, {1000, 24}, {5000}, {20000, 3000}, {60000}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			dir := tempDir(t)
			var names []string
			for i, n := range sizes {
				name := fmt.Sprintf("ie%d", i)
				src := fmt.Sprintf("__thread char v_%s[%d] __attribute__((tls_model(\"initial-exec\"))) = {1};\nint f_%s(void) { return v_%s[%d]; }\n", name, n, name, name, n-1)
				_, err := objtest.Compile(cc, dir, "lib"+name+".so", src, []string{"-shared", "-fPIC", "-O1"}, nil)
				require.NoError(t, err)
				names = append(names, name)
			}
			var decls, calls strings.Builder
			libs := []string{"-L" + dir, "-Wl,-rpath," + dir, "-Wl,--no-as-needed"}
			for _, n := range names {
				fmt.Fprintf(&decls, "extern int f_%s(void);\n", n)
				fmt.Fprintf(&calls, "f_%s(); ", n)
				libs = append(libs, "-l"+n)
			}
			src := fmt.Sprintf(`#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
%s
volatile int never;
int main(void) {
	unsigned long tp, dtv;
	__asm__("mov %%%%fs:0, %%0" : "=r"(tp));
	__asm__("mov %%%%fs:8, %%0" : "=r"(dtv));
	void (*info)(size_t *, size_t *) = (void (*)(size_t *, size_t *))dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
	size_t size, align;
	info(&size, &align);
	if (never) { %s }
	printf("%%lx %%lx %%zu %%zu\n", tp, dtv, size, align);
	return 0;
}
`, decls.String(), calls.String())
			exe, err := objtest.Compile(cc, dir, "tlsprobe", src, []string{"-O1"}, append(libs, "-ldl"))
			require.NoError(t, err)
			cmd := exec.Command("setarch", "-R", exe)
			cmd.Env = []string{}
			out, err := cmd.Output()
			require.NoError(t, err)
			var tp, dtv, size, align uint64
			_, err = fmt.Sscanf(string(out), "%x %x %d %d", &tp, &dtv, &size, &align)
			require.NoError(t, err, "%s", out)

			launch, err := linux.HostLaunch()
			require.NoError(t, err)
			launch.NoRandomize = true
			p, err := linux.Layout(exe, linux.Draw{}, linux.Options{Launch: &launch, Env: []string{}, WorkDir: dir})
			require.NoError(t, err)
			require.Equal(t, tp, uint64(p.TLS.TP), "thread pointer")
			tcb := uint64(p.TLS.TCB.Len())
			real := vaspace.Range{Start: vaspace.Addr(tp - (size - tcb)), End: vaspace.Addr(tp)}
			require.Equal(t, real, p.TLS.Static, "static TLS range (dl_tls_static_size %d, align %d)", size, align)
			require.Equal(t, dtv, p.DTV, "DTV")
			// The pages: the static range and TCB rounded outward, and the
			// DTV's pages.
			page := p.Kernel.PageSize
			want := map[vaspace.Addr]bool{}
			for a := real.Start.RoundDown(page); a < vaspace.Addr(tp+tcb); a += vaspace.Addr(page) {
				want[a] = true
			}
			for a := vaspace.Addr(dtv - 16).RoundDown(page); a < p.DTVAlloc.End; a += vaspace.Addr(page) {
				want[a] = true
			}
			got := map[vaspace.Addr]bool{}
			for _, a := range tls.ExactPages(p.TLS, p.DTVAlloc, page) {
				got[a] = true
			}
			require.Equal(t, want, got, "pages")
		})
	}
}

// TestArgLimitMatchesTheKernel runs a program through sh under several
// "ulimit -s" values with argument strings that take exactly what the
// model's Kernel.ArgLimit allows, and one byte more, and a single
// argument at MAX_ARG_STRLEN and one byte over: exec must succeed and
// fail ("Argument list too long") exactly where Layout says.
func TestArgLimitMatchesTheKernel(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs Linux x86_64 programs")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	prog, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	var cur syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_STACK, &cur))
	dir := tempDir(t)
	// The environment sh hands the program (dash adds PWD).
	envOut, err := (&exec.Cmd{Path: sh, Args: []string{"sh", "-c", "exec env"}, Env: []string{}, Dir: dir}).Output()
	require.NoError(t, err)
	env := strings.Fields(string(envOut))
	k, err := linux.HostKernel()
	require.NoError(t, err)

	// realExec reports whether sh, with the stack limit set to limit, can
	// exec the program with the arguments exec (sh's words) makes of args.
	realExec := func(limit uint64, exec_ string, args []string) bool {
		cmd := exec.Command(sh, append([]string{"-c", fmt.Sprintf(`ulimit -s %d && exec "$0" %s`, limit/1024, exec_), prog}, args...)...)
		cmd.Env, cmd.Dir = []string{}, dir
		out, err := cmd.CombinedOutput()
		if err == nil {
			return true
		}
		require.Contains(t, string(out), "Argument list too long", "sh: %v", err)
		return false
	}
	real := func(limit uint64, args []string) bool { return realExec(limit, `"$@"`, args) }
	model := func(limit uint64, args []string) bool {
		_, err := linux.Layout(prog, linux.Draw{}, linux.Options{Kernel: &k, Launch: &linux.Launch{StackLimit: limit, NoRandomize: true}, Filename: prog, Args: append([]string{prog}, args...), Env: env, WorkDir: dir})
		if err == nil {
			return true
		}
		require.ErrorIs(t, err, linux.ErrArgListTooLong)
		require.ErrorIs(t, err, linux.ErrStart)
		return false
	}
	// fill returns arguments whose strings, with the file name, argv[0]
	// and the environment, take exactly n bytes.
	fill := func(n uint64) []string {
		used := 2 * (uint64(len(prog)) + 1)
		for _, kv := range env {
			used += uint64(len(kv)) + 1
		}
		var args []string
		for rest := n - used; rest > 0; {
			l := min(rest, 100000)
			args = append(args, strings.Repeat("a", int(l-1)))
			rest -= l
		}
		return args
	}
	tested := 0
	for _, limit := range []uint64{256 << 10, 1 << 20, 4 << 20} {
		if cur.Cur != linux.Unlimited && limit >= cur.Cur {
			continue // sh itself must exec with the strings under this process's limit
		}
		// The number of strings decides the pointers' share: fill to the
		// limit until the count no longer changes.
		at := fill(linux.ArgMax)
		for range 5 {
			lim, ok := k.ArgLimit(linux.Launch{StackLimit: limit}, len(at)+1, len(env))
			require.True(t, ok)
			next := fill(lim)
			done := len(next) == len(at)
			at = next
			if done {
				break
			}
		}
		over := append(append([]string{}, at[:len(at)-1]...), at[len(at)-1]+"a")
		for _, c := range []struct {
			name string
			args []string
		}{{"at the limit", at}, {"one byte over", over}} {
			r := real(limit, c.args)
			require.Equal(t, r, model(limit, c.args), "ulimit -s %d, %s: the real exec succeeds: %v", limit/1024, c.name, r)
			tested++
		}
		require.True(t, real(limit, at) && !real(limit, over), "the boundary is where the model puts it")
	}
	require.NotZero(t, tested, "the stack limit %d is too small to test below it", cur.Cur)
	// One string at MAX_ARG_STRLEN with its NUL, and one byte over (sh
	// joins two halves: it could not be exec'd with the whole).
	strlen := int(k.MaxArgStrlen())
	for _, n := range []int{strlen - 1, strlen} {
		r := realExec(1<<20, `"$1$2"`, []string{strings.Repeat("b", n/2), strings.Repeat("b", n-n/2)})
		require.Equal(t, r, model(1<<20, []string{strings.Repeat("b", n)}), "one argument of %d bytes: the real exec succeeds: %v", n, r)
		require.Equal(t, n < strlen, r, "one argument of %d bytes", n)
	}
}
