package vasim_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/elfspec"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/tls"
)

// BenchmarkTLSModel: glibc 2.36 x86_64 start-up of 500 modules with TLS
// blocks of assorted sizes and alignments (gap reuse exercised), then 100
// dlopens mixing initial-exec and TLS-descriptor modules.
func BenchmarkTLSModel(b *testing.B) {
	prof, err := tls.GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64)
	if err != nil {
		b.Fatal(err)
	}
	aligns := []uint64{1, 8, 16, 32, 64}
	mk := func(i int, acc loader.TLSAccess) *tls.Module {
		return &tls.Module{Name: fmt.Sprintf("lib%d.so", i), Path: fmt.Sprintf("/lib/lib%d.so", i),
			TLS:    &loader.TLSBlock{MemSize: uint64(8 + (i*37)%200), Align: aligns[i%len(aligns)], VAddr: uint64(i*24) % 64},
			Relocs: []tls.Reloc{{Access: acc, Local: true}}}
	}
	startup := []*tls.Module{{Name: "main", Main: true}}
	for i := 1; i < 500; i++ {
		m := mk(i, loader.TLSAccessInitialExec)
		startup[0].Deps = append(startup[0].Deps, m)
		startup = append(startup, m)
	}
	var opens []*tls.Module
	for i := 0; i < 100; i++ {
		acc := loader.TLSAccessInitialExec
		if i%3 == 0 {
			acc = loader.TLSAccessDescriptor
		}
		m := mk(1000+i, acc)
		m.TLS.MemSize = uint64(1 + i%24)
		opens = append(opens, m)
	}
	b.Run("startup=500/dlopen=100", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			g, err := tls.StartGlibc(prof, startup, tls.StartOptions{Tunables: tls.Tunables{NNS: 4, OptionalStaticTLS: 4096, Rseq: true}})
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range opens {
				g.Dlopen(&tls.DlopenRequest{Name: m.Path, Root: m, SearchList: []*tls.Module{m}})
			}
		}
	})
}

// elfObjects lists every regular ELF file under /usr/lib/x86_64-linux-gnu
// (recursively), sorted.
func elfObjects(b *testing.B) []string {
	const root = "/usr/lib/x86_64-linux-gnu"
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		var magic [4]byte
		_, err = io.ReadFull(f, magic[:])
		f.Close()
		if err == nil && string(magic[:]) == elf.ELFMAG {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	if len(files) == 0 {
		b.Skip("no ELF objects under " + root)
	}
	return files
}

// BenchmarkELFIngest reads the TLS segment, dynamic section and
// relocations of every ELF object under /usr/lib/x86_64-linux-gnu, with
// vasim's reader and with "readelf -lWdr" over the same files; compare
// the two as a ratio of wall time.
func BenchmarkELFIngest(b *testing.B) {
	files := elfObjects(b)
	b.Run("impl=vasim", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tlsObjs := 0
			for _, p := range files {
				s, err := elfspec.Read(p)
				if err == nil && s.TLS != nil {
					tlsObjs++
				}
			}
			b.ReportMetric(float64(len(files)), "files/op")
		}
	})
	b.Run("impl=readelf", func(b *testing.B) {
		if _, err := exec.LookPath("readelf"); err != nil {
			b.Skip("readelf not installed")
		}
		for i := 0; i < b.N; i++ {
			for _, p := range files {
				cmd := exec.Command("readelf", "-lWdr", p)
				var out bytes.Buffer
				cmd.Stdout = &out
				cmd.Run()
			}
			b.ReportMetric(float64(len(files)), "files/op")
		}
	})
}

// tlsShimSrc is an LD_PRELOAD library whose constructor dlopens each
// library of the ':'-separated $VASIM_DLOPEN with RTLD_NOW, prints "ok"
// or dlerror's text for each and exits before the program's main: one
// real trial of a program's dlopens.
const tlsShimSrc = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
__attribute__((constructor)) static void vasim_shim(void) {
	const char *p = getenv("VASIM_DLOPEN");
	if (!p) return;
	char *list = strdup(p), *save = NULL;
	for (char *lib = strtok_r(list, ":", &save); lib; lib = strtok_r(NULL, ":", &save)) {
		void *h = dlopen(lib, RTLD_NOW);
		if (h) printf("ok\\n"); else printf("err %s\\n", dlerror());
	}
	fflush(stdout);
	_exit(0);
}
`

// tlsFixProgram is a program, the libraries it dlopens (the last one's
// initial-exec TLS does not fit) and the shim to try them for real.
type tlsFixProgram struct {
	name, exe, shim string
	dlopens         []string
}

// tlsFixPrograms builds the programs BenchmarkTLSFix compares on:
// /usr/bin/gdb (when installed) and a synthetic program that links 500
// libraries with TLS blocks of assorted sizes and alignments, each
// dlopening a library with a 4000-byte initial-exec block, which does
// not fit the default surplus.
func tlsFixPrograms(b *testing.B) []tlsFixProgram {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		b.Skip("runs x86_64 Linux programs under the real glibc")
	}
	cc := objtest.RequireCC(b, "gcc")
	dir := b.TempDir()
	shim := objtest.Shared(b, dir, "libvasimshim.so", tlsShimSrc, "-ldl")
	big := objtest.Shared(b, dir, "libbig.so", "__thread char big[4000] __attribute__((tls_model(\"initial-exec\"))) = {1};\nint touch_big(void) { return big[3999]; }\n")
	var out []tlsFixProgram
	if _, err := os.Stat("/usr/bin/gdb"); err == nil {
		out = append(out, tlsFixProgram{"gdb", "/usr/bin/gdb", shim, []string{big}})
	}
	// Five library variants, copied to 500 paths (no SONAME: each path
	// is its own object to ld.so).
	libs := filepath.Join(dir, "libs")
	if err := os.MkdirAll(libs, 0o755); err != nil {
		b.Fatal(err)
	}
	var variants [][]byte
	for i, v := range []struct{ size, align int }{{8, 8}, {24, 16}, {40, 32}, {4, 4}, {16, 64}} {
		src := fmt.Sprintf("__thread char t[%d] __attribute__((aligned(%d), tls_model(\"initial-exec\"))) = {1};\nint touch_%d(void) { return t[%d]; }\n", v.size, v.align, i, v.size-1)
		p := objtest.Shared(b, dir, fmt.Sprintf("libv%d.so", i), src)
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		variants = append(variants, data)
	}
	args := []string{"-Wl,--no-as-needed", "-L" + libs, "-Wl,-rpath," + libs}
	for i := 0; i < 500; i++ {
		name := fmt.Sprintf("libs%03d.so", i)
		if err := os.WriteFile(filepath.Join(libs, name), variants[i%len(variants)], 0o755); err != nil {
			b.Fatal(err)
		}
		args = append(args, "-l:"+name)
	}
	exe, err := objtest.Compile(cc, dir, "prog500", "int main(void) { return 0; }\n", args, nil)
	if err != nil {
		b.Fatal(err)
	}
	return append(out, tlsFixProgram{"synthetic500", exe, shim, []string{big}})
}

// BenchmarkTLSFix: a program whose dlopen fails for want of static TLS,
// answered by vasim with the fix (every value of optional_static_tls and
// nns decided, the suggestion verified by a full re-run, LD_PRELOAD
// checked) beside one real trial of the same dlopens under the real
// glibc, in the same run:
//
//   - impl=vasim: tls.Check from the files: resolve and read every
//     library, lay out static TLS, play the dlopens, explain and fix;
//   - impl=vasim-read: only resolving the program's libraries and reading
//     every one (ldso.Resolver.LoadProgram, LD_PRELOAD included), the
//     part of impl=vasim that reads files;
//   - impl=vasim-fix: only the explanation and fix (tls.Explain on a run
//     already made), the part that once re-ran the program for every
//     candidate value;
//   - impl=real-trial: start the program with the dlopens preloaded
//     (LD_PRELOAD shim), as a user checking one value would.
//
// Read the ratios vasim/real-trial and vasim-fix/real-trial.
func BenchmarkTLSFix(b *testing.B) {
	for _, p := range tlsFixPrograms(b) {
		setup := tls.Setup{Exe: p.exe, Dlopens: p.dlopens, Env: tls.Env{Preload: p.shim}}
		rep, err := tls.Check(setup)
		if err != nil || !rep.Result.Failed() || len(rep.Explanations) == 0 {
			b.Fatalf("%s: the dlopen should fail: %v", p.name, err)
		}
		b.Run("prog="+p.name+"/impl=vasim", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rep, err := tls.Check(setup)
				if err != nil || rep.Explanations[len(rep.Result.Steps)-1].FixTunables == "" {
					b.Fatal("no fix", err)
				}
			}
		})
		b.Run("prog="+p.name+"/impl=vasim-read", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r, err := ldso.NewResolver("")
				if err != nil {
					b.Fatal(err)
				}
				r.Preload = []string{p.shim}
				ns, err := r.LoadProgram(p.exe)
				if err != nil || len(ns.Missing) > 0 {
					b.Fatalf("%s: %v %v", p.exe, err, ns)
				}
				b.ReportMetric(float64(len(ns.Objects)), "objects/op")
			}
		})
		b.Run("prog="+p.name+"/impl=vasim-fix", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				xs := tls.Explain(rep.Plan.Program, rep.Result)
				if len(xs) == 0 || !xs[0].FixVerified {
					b.Fatal("no verified fix")
				}
			}
		})
		b.Run("prog="+p.name+"/impl=real-trial", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(p.exe)
				cmd.Env = []string{"PATH=/usr/bin:/bin", "LD_PRELOAD=" + p.shim, "VASIM_DLOPEN=" + strings.Join(p.dlopens, ":")}
				out, err := cmd.Output()
				if err != nil || !strings.Contains(string(out), "cannot allocate memory in static TLS block") {
					b.Fatalf("%s: %v: %s", p.exe, err, out)
				}
			}
		})
	}
}

// BenchmarkTLSFixModel: deciding every glibc.rtld.optional_static_tls
// value on the glibc model alone (no files), for the start-up of
// BenchmarkTLSModel (500 modules) and a dlopen whose 3000-byte
// initial-exec block does not fit: the sweep over the intervals of
// values that take the same decisions (impl=sweep) beside the search
// that tries values one by one (impl=try-values, MinimalTunables, which
// finds only the least working value).
func BenchmarkTLSFixModel(b *testing.B) {
	prof, err := tls.GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64)
	if err != nil {
		b.Fatal(err)
	}
	aligns := []uint64{1, 8, 16, 32, 64}
	startup := []*tls.Module{{Name: "main", Main: true}}
	for i := 1; i < 500; i++ {
		m := &tls.Module{Name: fmt.Sprintf("lib%d.so", i), Path: fmt.Sprintf("/lib/lib%d.so", i),
			TLS:    &loader.TLSBlock{MemSize: uint64(8 + (i*37)%200), Align: aligns[i%len(aligns)], VAddr: uint64(i*24) % 64},
			Relocs: []tls.Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}}
		startup[0].Deps = append(startup[0].Deps, m)
		startup = append(startup, m)
	}
	desc := &tls.Module{Name: "libdesc.so", Path: "/opt/libdesc.so", TLS: &loader.TLSBlock{MemSize: 400, Align: 16},
		Relocs: []tls.Reloc{{Access: loader.TLSAccessDescriptor, Local: true}}}
	big := &tls.Module{Name: "libbig.so", Path: "/opt/libbig.so", TLS: &loader.TLSBlock{MemSize: 3000, Align: 16},
		Relocs: []tls.Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}}
	loads := func(t tls.Tunables, sw *tls.Sweep) bool {
		g, err := tls.StartGlibc(prof, startup, tls.StartOptions{Tunables: t, Sweep: sw})
		if err != nil {
			return false
		}
		for _, m := range []*tls.Module{desc, big} {
			if !g.Dlopen(&tls.DlopenRequest{Name: m.Path, Root: m, SearchList: []*tls.Module{m}, Now: true}).OK {
				return false
			}
		}
		return true
	}
	base := tls.DefaultTunables()
	limit := prof.OptionalStaticTLSLimit(base.NNS, 0)
	b.Run("startup=500/impl=sweep", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			set := tls.OptionalStaticTLSSet(limit, func(v uint64, sw *tls.Sweep) bool {
				t := base
				t.OptionalStaticTLS = v
				return loads(t, sw)
			})
			if _, ok := set.WorksFrom(); !ok {
				b.Fatal(set)
			}
			b.ReportMetric(float64(set.Runs), "runs/op")
		}
	})
	b.Run("startup=500/impl=try-values", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			runs := 0
			opt, _ := tls.MinimalTunables(base, 3400+400+16, func(t tls.Tunables) bool { runs++; return loads(t, nil) })
			if opt == 0 {
				b.Fatal("no fix")
			}
			b.ReportMetric(float64(runs), "runs/op")
		}
	})
}
