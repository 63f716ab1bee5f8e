package tls

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/loader/objtest"
)

// The differential test: real libraries built with a C compiler, a real
// host program that dlopens them under a real loader, and the model asked
// to predict every line the host prints. It runs for every loader this
// machine can run (diffTargets): glibc x86_64 natively, glibc aarch64
// under qemu-user from Debian's cross packages, and musl x86_64.

// diffTarget is one real loader the differential test runs.
type diffTarget struct {
	name string
	cc   string   // the C compiler that builds for it
	run  []string // a command prefix that runs its programs (qemu-user), or nil
	// sysroot holds its libraries (qemu's -L); "" for this machine's.
	sysroot string
	arch    loader.Arch
	ldso    string // its dynamic loader, as the target sees it
	musl    bool
	// tp is the inline assembly that reads the thread pointer into %0.
	tp string
	// descFlags compile a TLS-descriptor library.
	descFlags []string
	// gdFlags compile a general-dynamic library.
	gdFlags []string
}

var diffTargets = []*diffTarget{
	{name: "glibc-x86_64", cc: "gcc", arch: loader.ArchX86_64, ldso: "/lib64/ld-linux-x86-64.so.2",
		tp: "mov %%fs:0,%0", descFlags: []string{"-ftls-model=global-dynamic", "-mtls-dialect=gnu2"}, gdFlags: []string{"-ftls-model=global-dynamic"}},
	{name: "glibc-aarch64-qemu", cc: "aarch64-linux-gnu-gcc", run: []string{"qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"},
		sysroot: "/usr/aarch64-linux-gnu", arch: loader.ArchAArch64, ldso: "/lib/ld-linux-aarch64.so.1",
		tp: "mrs %0, tpidr_el0", descFlags: []string{"-ftls-model=global-dynamic", "-mtls-dialect=desc"}, gdFlags: []string{"-ftls-model=global-dynamic", "-mtls-dialect=trad"}},
	{name: "musl-x86_64", cc: "musl-gcc", arch: loader.ArchX86_64, ldso: "/lib/ld-musl-x86_64.so.1", musl: true,
		tp: "mov %%fs:0,%0", descFlags: []string{"-ftls-model=global-dynamic", "-mtls-dialect=gnu2"}, gdFlags: []string{"-ftls-model=global-dynamic"}},
}

// require skips the test, saying what is missing, unless the target can
// run here.
func (tg *diffTarget) require(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("%s: the differential test runs on linux/amd64", tg.name)
	}
	if _, err := exec.LookPath(tg.cc); err != nil {
		t.Skipf("%s: %s is not installed (.ci/run installs it): %v", tg.name, tg.cc, err)
	}
	if len(tg.run) > 0 {
		if _, err := exec.LookPath(tg.run[0]); err != nil {
			t.Skipf("%s: %s is not installed (.ci/run installs it): %v", tg.name, tg.run[0], err)
		}
	}
	if _, err := os.Stat(filepath.Join(tg.sysroot, tg.ldso)); err != nil {
		t.Skipf("%s: no loader: %v", tg.name, err)
	}
}

// profile returns the glibc profile of the target's glibc (glibc only).
func (tg *diffTarget) profile(t testing.TB) Profile {
	d, err := ldso.DetectGlibcVersion(filepath.Join(tg.sysroot, tg.ldso))
	require.NoError(t, err)
	p, err := GlibcProfile(d.Version, tg.arch)
	require.NoError(t, err)
	return p
}

// model returns the target's loader model.
func (tg *diffTarget) model(t testing.TB) Loader {
	if tg.musl {
		return MuslLoader{Arch: tg.arch}
	}
	return GlibcLoader{Profile: tg.profile(t)}
}

type poolLib struct {
	id          int
	model       string // "ie", "gd", "desc", "ref" (IE access to another lib's variable), "dep" (no TLS, only DT_NEEDED)
	size, align int
	refs        int   // for "ref": the pool id whose variable it reads
	deps        []int // for "dep": the pool ids it links, in DT_NEEDED order
	path        string
}

func (l poolLib) soname() string { return fmt.Sprintf("libp%d.so", l.id) }

type pool struct {
	target *diffTarget
	dir    string
	libs   []poolLib
	hosts  []poolHost
	err    error
}

type poolHost struct {
	path   string
	linked []int // pool ids linked in (DT_NEEDED)
}

// hostSrc is the host program: "static SIZE ALIGN" from glibc's
// _dl_get_tls_static_info (0 0 elsewhere), then one line per argument.
// Offsets are from the thread pointer to the block: below it on x86_64
// (tp - v), above it on aarch64 (v - tp).
func hostSrc(tg *diffTarget) string {
	off := "(long)(tp() - (char *)(v))"
	if tg.arch == loader.ArchAArch64 {
		off = "(long)((char *)(v) - tp())"
	}
	return `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
static char *tp(void) { char *p; __asm__ volatile("` + tg.tp + `" : "=r"(p)); return p; }
#define OFF(v) ` + off + `
int main(int argc, char **argv) {
	size_t sz = 0, al = 0;
#ifdef __GLIBC__
	void (*info)(size_t *, size_t *) = (void (*)(size_t *, size_t *))dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
	if (info) info(&sz, &al);
#endif
	printf("static %zu %zu\n", sz, al);
	void *h[512];
	int nh = 0;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (a[0] == 's') { /* s:PATH  a start-up module's static offset */
			void *x = dlopen(a + 2, RTLD_NOW | RTLD_NOLOAD);
			void *(*f)(void) = x ? (void *(*)(void))dlsym(x, "tls_addr") : 0;
			char *v = f ? (char *)f() : 0; /* ref libraries have no TLS of their own: 0 */
			if (v) printf("start %ld\n", OFF(v)); else printf("start none\n");
		} else if (a[0] == 'o' || a[0] == 'O' || a[0] == 'P') {
			/* o:PATH dlopen; O: also print the IE offset; P: also say
			   where the block is (static offset or dynamic), which for a
			   dynamic block fixes it as dynamic, like a: does */
			void *x = dlopen(a + 2, RTLD_NOW);
			h[nh++] = x;
			if (!x) { printf("err %s\n", dlerror()); continue; }
			void *(*f)(void) = (void *(*)(void))dlsym(x, "tls_addr");
			if (a[0] == 'O') {
				printf("ok %ld\n", OFF(f()));
			} else if (a[0] == 'P') {
				long off = OFF(f());
				if (off > 0 && (size_t)off <= sz) printf("ok static %ld\n", off); else printf("ok dynamic\n");
			} else printf("ok\n");
		} else if (!h[atoi(a + 2)]) { printf("skip\n"); /* its dlopen failed */
		} else if (a[0] == 'c') { dlclose(h[atoi(a + 2)]); printf("closed\n"); }
		else if (a[0] == 'a') { void (*f)(void) = (void (*)(void))dlsym(h[atoi(a + 2)], "tls_touch"); f(); printf("touched\n"); }
	}
	return 0;
}
`
}

func libSrc(l poolLib) string {
	if l.model == "dep" {
		return "void *tls_addr(void) { return 0; }\nvoid tls_touch(void) {}\n"
	}
	if l.model == "ref" {
		return fmt.Sprintf(`extern __thread char v%d[%d];
void *tls_addr(void) { return 0; }
void tls_touch(void) { v%d[0]++; }
`, l.refs, 1, l.refs)
	}
	return fmt.Sprintf(`__thread char v%d[%d] __attribute__((aligned(%d)));
void *tls_addr(void) { return &v%d; }
void tls_touch(void) { v%d[0]++; }
`, l.id, l.size, l.align, l.id, l.id)
}

var (
	poolMu sync.Mutex
	pools  = map[*diffTarget]*pool{}
)

// buildPool compiles the library variants and hosts once per target and
// test binary, in parallel.
func buildPool(t *testing.T, tg *diffTarget) *pool {
	tg.require(t)
	poolMu.Lock()
	defer poolMu.Unlock()
	if p := pools[tg]; p != nil {
		if p.err != nil {
			t.Fatalf("building the library pool for %s: %v", tg.name, p.err)
		}
		return p
	}
	p := &pool{target: tg}
	pools[tg] = p
	p.build()
	if p.err != nil {
		t.Fatalf("building the library pool for %s: %v", tg.name, p.err)
	}
	return p
}

func (p *pool) build() {
	tg := p.target
	dir, err := os.MkdirTemp("", "vasim-tls-diff-"+tg.name+"-")
	if err != nil {
		p.err = err
		return
	}
	p.dir = dir
	specs := []struct {
		model       string
		size, align int
		refs        int
		deps        []int
	}{
		{"ie", 8, 8, 0, nil}, {"ie", 24, 32, 0, nil}, {"ie", 100, 16, 0, nil}, {"ie", 300, 64, 0, nil}, {"ie", 500, 8, 0, nil},
		{"ie", 700, 16, 0, nil}, {"ie", 900, 32, 0, nil}, {"ie", 1200, 8, 0, nil}, {"ie", 1500, 16, 0, nil}, {"ie", 1700, 64, 0, nil},
		{"ie", 60, 128, 0, nil}, {"ie", 1, 1, 0, nil}, {"ie", 3000, 8, 0, nil},
		{"gd", 64, 8, 0, nil}, {"gd", 400, 16, 0, nil}, {"gd", 1000, 32, 0, nil}, {"gd", 200, 128, 0, nil},
		{"desc", 100, 8, 0, nil}, {"desc", 300, 16, 0, nil}, {"desc", 500, 32, 0, nil}, {"desc", 120, 64, 0, nil}, {"desc", 600, 8, 0, nil},
		{"ref", 0, 0, 13, nil}, {"ref", 0, 0, 14, nil}, {"ref", 0, 0, 18, nil},
		// 25: two IE libraries that cannot both fit by default; 26:
		// three that can, unloaded together by one dlclose; 29: two
		// whose blocks leave no alignment slack, so freed blocks meet.
		{"dep", 0, 0, 0, []int{7, 5}}, {"dep", 0, 0, 0, []int{2, 4, 0}},
		{"ie", 16, 8, 0, nil}, {"ie", 32, 8, 0, nil}, {"dep", 0, 0, 0, []int{27, 28}},
	}
	for i, s := range specs {
		p.libs = append(p.libs, poolLib{id: i, model: s.model, size: s.size, align: s.align, refs: s.refs, deps: s.deps})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, runtime.NumCPU())
	compile := func(name, src string, args, libs []string) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		if _, err := objtest.Compile(tg.cc, dir, name, src, args, libs); err != nil {
			mu.Lock()
			p.err = err
			mu.Unlock()
		}
	}
	// Plain libraries first (ref libraries link against them).
	for pass := 0; pass < 2; pass++ {
		for i := range p.libs {
			l := &p.libs[i]
			if (l.model == "ref" || l.model == "dep") != (pass == 1) {
				continue
			}
			l.path = filepath.Join(dir, l.soname())
			args := []string{"-shared", "-fPIC", "-O1", "-Wl,-soname," + l.soname()}
			var libs []string
			switch l.model {
			case "ie", "ref":
				args = append(args, "-ftls-model=initial-exec")
			case "gd":
				args = append(args, tg.gdFlags...)
			case "desc":
				args = append(args, tg.descFlags...)
			}
			if l.model == "ref" {
				libs = append(libs, "-L"+dir, fmt.Sprintf("-lp%d", l.refs))
			}
			if l.model == "dep" {
				libs = append(libs, "-L"+dir, "-Wl,--no-as-needed")
				for _, d := range l.deps {
					libs = append(libs, fmt.Sprintf("-lp%d", d))
				}
			}
			wg.Add(1)
			go compile(l.soname(), libSrc(*l), args, libs)
		}
		wg.Wait()
		if p.err != nil {
			return
		}
	}
	for i, linked := range [][]int{{}, {1, 13, 17}, {4, 11, 22}, {9, 0, 14}} {
		name := fmt.Sprintf("host%d", i)
		h := poolHost{path: filepath.Join(dir, name), linked: linked}
		libs := []string{"-ldl", "-L" + dir, "-Wl,--disable-new-dtags,-rpath," + dir}
		for _, id := range linked {
			libs = append(libs, "-Wl,--no-as-needed", fmt.Sprintf("-lp%d", id))
		}
		p.hosts = append(p.hosts, h)
		wg.Add(1)
		go compile(name, hostSrc(tg), []string{"-O1"}, libs)
	}
	wg.Wait()
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range pools {
		if p.dir != "" {
			os.RemoveAll(p.dir)
		}
	}
	os.Exit(code)
}

// glibcX86 is this machine's own glibc.
var glibcX86 = diffTargets[0]

func requireGlibcHost(t *testing.T) { glibcX86.require(t) }

// hostGlibcProfile returns the profile for this machine's glibc.
func hostGlibcProfile(t *testing.T) Profile { return glibcX86.profile(t) }

type diffCase struct {
	host     poolHost
	preload  []int
	tunables string
	args     []string
	events   []Event
}

// predict runs the model over a case and renders what the host would
// print.
func predict(t interface {
	Fatal(...any)
	Fatalf(string, ...any)
}, pl *pool, ld Loader, c diffCase) []string {
	r, err := ldso.NewResolver(pl.target.sysroot)
	if err != nil {
		t.Fatal(err)
	}
	r.SysrootFallback = pl.target.sysroot != "" // as qemu -L
	for _, id := range c.preload {
		r.Preload = append(r.Preload, pl.libs[id].path)
	}
	tun, err := ParseTunables(c.tunables)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(Program{Exe: c.host.path, Resolver: r, Loader: ld, Options: StartOptions{Tunables: tun}, Events: c.events})
	if errors.Is(err, ErrStart) {
		return []string{"start failed: " + strings.TrimPrefix(err.Error(), ErrStart.Error()+": ")}
	}
	if err != nil {
		t.Fatalf("model: %v", err)
	}
	out := []string{fmt.Sprintf("static %d %d", res.Static.Size, res.Static.Align)}
	if pl.target.musl {
		out[0] = "static 0 0" // musl has no _dl_get_tls_static_info
	}
	si := 0
	for _, a := range c.args {
		if a[0] == 'P' {
			// A dlopen, then the access its tls_addr call makes.
			st := res.Steps[si]
			si += 2
			switch {
			case !st.OK:
				out = append(out, "err "+st.Error)
			case st.RootStatic && !pl.target.musl: // a musl host cannot tell (no static size)
				out = append(out, fmt.Sprintf("ok static %d", st.RootOffset))
			default:
				out = append(out, "ok dynamic")
			}
			continue
		}
		if a[0] == 's' {
			// Start-up offsets are printed first, in the order asked.
			var m *Module
			for _, sm := range res.Startup {
				if sm.Path == a[2:] {
					m = sm
				}
			}
			if off, ok := res.State.Offset(m); ok && m != nil {
				out = append(out, fmt.Sprintf("start %d", off))
			} else {
				out = append(out, "start none")
			}
			continue
		}
		st := res.Steps[si]
		si++
		if st.Event.Kind != EventDlopen && st.Error != "" {
			out = append(out, "skip") // the handle's dlopen failed
			continue
		}
		switch st.Event.Kind {
		case EventDlopen:
			switch {
			case !st.OK:
				out = append(out, "err "+st.Error)
			case a[0] == 'O':
				off, ok := st.RootOffset, st.RootStatic
				if !ok {
					out = append(out, "ok (model: not static)")
				} else {
					out = append(out, fmt.Sprintf("ok %d", off))
				}
			default:
				out = append(out, "ok")
			}
		case EventDlclose:
			out = append(out, "closed")
		case EventAccess:
			out = append(out, "touched")
		}
	}
	return out
}

func TestDifferentialAgainstRealLoaders(t *testing.T) {
	for _, tg := range diffTargets {
		t.Run(tg.name, func(t *testing.T) { differential(t, tg) })
	}
}

func differential(t *testing.T, tg *diffTarget) {
	pl := buildPool(t, tg)
	ld := tg.model(t)
	checks := "1000" // a few seconds natively
	if len(tg.run) > 0 {
		checks = "100" // each case starts qemu: about 10 s
	}
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		require.NoError(t, flag.Set("rapid.checks", checks))
		defer flag.Set("rapid.checks", "100")
	}
	rapid.Check(t, func(rt *rapid.T) {
		c := diffCase{host: rapid.SampledFrom(pl.hosts).Draw(rt, "host")}
		npre := rapid.IntRange(0, 2).Draw(rt, "npreload")
		for i := 0; i < npre; i++ {
			c.preload = append(c.preload, rapid.IntRange(0, len(pl.libs)-1).Draw(rt, "preload"))
		}
		opt := rapid.SampledFrom([]int{-1, 0, 64, 512, 1000, 3000}).Draw(rt, "optional_static_tls")
		nns := rapid.SampledFrom([]int{-1, 1, 4, 8}).Draw(rt, "nns")
		if tg.musl {
			opt, nns = -1, -1 // musl reads no GLIBC_TUNABLES
		}
		var tun []string
		if opt >= 0 {
			tun = append(tun, fmt.Sprintf("glibc.rtld.optional_static_tls=%d", opt))
		}
		if nns >= 0 {
			tun = append(tun, fmt.Sprintf("glibc.rtld.nns=%d", nns))
		}
		c.tunables = strings.Join(tun, ":")
		// Start-up offsets of the linked and preloaded libraries.
		for _, id := range append(append([]int(nil), c.host.linked...), c.preload...) {
			c.args = append(c.args, "s:"+pl.libs[id].path)
		}
		nev := rapid.IntRange(1, 8).Draw(rt, "nevents")
		type openRec struct {
			event int
			hidx  int
		}
		var open []openRec
		nh := 0
		for i := 0; i < nev; i++ {
			kind := rapid.IntRange(0, 9).Draw(rt, "kind")
			switch {
			case kind >= 3 || len(open) == 0:
				l := pl.libs[rapid.IntRange(0, len(pl.libs)-1).Draw(rt, "lib")]
				flagc := "o"
				switch {
				case l.model == "ie":
					flagc = "O"
				case l.model != "ref" && l.model != "dep" && rapid.Bool().Draw(rt, "locate"):
					flagc = "P"
				}
				c.args = append(c.args, flagc+":"+l.path)
				c.events = append(c.events, Event{Kind: EventDlopen, Name: l.path})
				open = append(open, openRec{len(c.events) - 1, nh})
				if flagc == "P" {
					c.events = append(c.events, Event{Kind: EventAccess, Of: len(c.events) - 1})
				}
				nh++
			case kind == 0:
				k := rapid.IntRange(0, len(open)-1).Draw(rt, "close")
				c.args = append(c.args, "c:"+strconv.Itoa(open[k].hidx))
				c.events = append(c.events, Event{Kind: EventDlclose, Of: open[k].event})
				open = append(open[:k], open[k+1:]...)
			default:
				k := rapid.IntRange(0, len(open)-1).Draw(rt, "touch")
				c.args = append(c.args, "a:"+strconv.Itoa(open[k].hidx))
				c.events = append(c.events, Event{Kind: EventAccess, Of: open[k].event})
			}
		}
		real := runHost(rt, pl, c)
		want := predict(rt, pl, ld, c)
		if strings.Join(want, "\n") != strings.Join(real.lines, "\n") {
			rt.Fatalf("%s: host %s, LD_PRELOAD=%v, GLIBC_TUNABLES=%q, args %q\nreal:\n  %s\nmodel:\n  %s",
				tg.name, c.host.path, c.preload, c.tunables, c.args, strings.Join(real.lines, "\n  "), strings.Join(want, "\n  "))
		}
	})
}

type hostRun struct {
	args  []string
	lines []string
}

func runHost(t interface{ Fatalf(string, ...any) }, pl *pool, c diffCase) hostRun {
	var guest []string // the loader's environment
	if c.tunables != "" {
		guest = append(guest, "GLIBC_TUNABLES="+c.tunables)
	}
	if len(c.preload) > 0 {
		var pre []string
		for _, id := range c.preload {
			pre = append(pre, pl.libs[id].path)
		}
		guest = append(guest, "LD_PRELOAD="+strings.Join(pre, ":"))
	}
	env := []string{"PATH=/usr/bin:/bin"}
	argv := append([]string(nil), pl.target.run...)
	if len(argv) > 0 {
		// Under qemu-user the guest's environment goes through -E, so
		// that the host loader starting qemu does not read it.
		for _, e := range guest {
			argv = append(argv, "-E", e)
		}
	} else {
		env = append(env, guest...)
	}
	argv = append(append(argv, c.host.path), c.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 127 {
		// The loader refused to start the program: its first message.
		first, _, _ := strings.Cut(string(out), "\n")
		return hostRun{args: c.args, lines: []string{"start failed: " + first}}
	}
	if err != nil {
		t.Fatalf("host %s %q (env %q): %v\n%s", c.host.path, c.args, env, err, out)
	}
	return hostRun{args: c.args, lines: strings.Split(strings.TrimRight(string(out), "\n"), "\n")}
}

// TestDifferentialFixedCases replays, against the real glibc, sequences
// random cases seldom reach: a block fixed as dynamic by an access and
// then asked for by an initial-exec reference; one dlopen allocating two
// blocks (relocation order decides which fails); one dlclose unloading
// three blocks at once, at the end of the used area and not.
func TestDifferentialFixedCases(t *testing.T) {
	pl := buildPool(t, glibcX86)
	ld := glibcX86.model(t)
	path := func(id int) string { return pl.libs[id].path }
	type step struct {
		arg string
		ev  []Event
	}
	open := func(flag string, id int) step {
		s := step{arg: flag + ":" + path(id), ev: []Event{{Kind: EventDlopen, Name: path(id)}}}
		return s
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"access fixes a block as dynamic, then IE to it fails", []step{
			open("o", 13), {"a:0", []Event{{Kind: EventAccess, Of: 0}}}, open("o", 22), open("O", 2)}},
		{"IE to a block before any access takes static TLS", []step{open("o", 13), open("o", 22), open("O", 2)}},
		{"two IE dependencies, only one fits", []step{open("o", 25), open("O", 2), open("O", 11)}},
		{"two IE dependencies with room for both", []step{open("O", 3), open("o", 25), open("O", 1)}},
		{"one dlclose unloads three blocks at the end", []step{
			open("O", 1), open("o", 26), {"c:1", []Event{{Kind: EventDlclose, Of: 1}}}, open("O", 3)}},
		{"one dlclose unloads three blocks, not at the end", []step{
			open("o", 26), open("O", 11), {"c:0", []Event{{Kind: EventDlclose, Of: 0}}}, open("O", 3),
			{"c:1", []Event{{Kind: EventDlclose, Of: 1}}}, open("O", 0)}},
		{"blocks freed by one dlclose meet and come back whole", []step{
			open("O", 27), open("o", 29), {"c:0", []Event{{Kind: EventDlclose, Of: 0}}},
			{"c:1", []Event{{Kind: EventDlclose, Of: 1}}}, open("O", 0)}},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			c := diffCase{host: pl.hosts[0]}
			for _, s := range cs.steps {
				c.args = append(c.args, s.arg)
				c.events = append(c.events, s.ev...)
			}
			real := runHost(t, pl, c)
			want := predict(t, pl, ld, c)
			assert.Equal(t, real.lines, want, "args %q", c.args)
		})
	}
}

// TestHugeOptionalStaticTLS: glibc adds optional_static_tls to the surplus
// as a C int, so values of 2^31 and more wrap (Profile.Surplus). The model
// must report the real static size, or the real start-up failure.
func TestHugeOptionalStaticTLS(t *testing.T) {
	pl := buildPool(t, glibcX86)
	prof := hostGlibcProfile(t)
	for _, v := range []string{"0x10000000", "0x7fffffff", "0x80000000", "0xffffffff", "0x100000000", "0x100000200", "-1"} {
		tun := "glibc.rtld.optional_static_tls=" + v
		cmd := exec.Command(pl.hosts[0].path)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "GLIBC_TUNABLES=" + tun}
		out, _ := cmd.CombinedOutput()
		real := strings.TrimSpace(string(out))
		tu, _ := ParseTunables(tun)
		r, err := ldso.NewResolver("")
		require.NoError(t, err)
		res, err := Run(Program{Exe: pl.hosts[0].path, Resolver: r, Loader: GlibcLoader{prof}, Options: StartOptions{Tunables: tu}})
		var model string
		if err != nil {
			model = strings.TrimPrefix(err.Error(), ErrStart.Error()+": ")
		} else {
			model = fmt.Sprintf("static %d %d", res.Static.Size, res.Static.Align)
		}
		assert.Equal(t, real, model, tun)
	}
}
