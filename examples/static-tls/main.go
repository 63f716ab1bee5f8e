// Command static-tls replays "the static TLS block murder mystery": a
// Node/Electron addon (index.node) built from Rust, Go and C whose PT_TLS
// block is 0x1270 = 4720 bytes (align 0x20), 0x1098 = 4248 of them the
// thread-local state of one random number generator (rand 0.6's
// THREAD_RNG_KEY), reached with initial-exec TLS. The program that
// dlopens it has only libc's 144-byte block (0x90, as in the write-up) at
// start-up; Electron's own TLS is not in the write-up, so it is left out.
//
// The model (glibc 2.36 x86_64, the release measured on the machine the
// tests run on) shows the dlopen failing with glibc's message, finds the
// smallest GLIBC_TUNABLES value that fixes it, and shows that dropping
// the 4248-byte variable makes the addon fit.
package main

import (
	"fmt"
	"os"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/tls"
)

const (
	addonPath  = "/home/amos/work/valet/artifacts/linux-x86_64/index.node"
	addonTLS   = 0x1270 // readelf -Wl: TLS MemSiz
	addonAlign = 0x20   // readelf -Wl: TLS Align
	rngState   = 0x1098 // .tbss THREAD_RNG_KEY size
)

// process starts the host and dlopens an addon with an IE block of size
// bytes, returning the outcome and the process.
func process(prof tls.Profile, t tls.Tunables, size uint64) (*tls.DlopenOutcome, tls.StaticInfo, error) {
	ldso := &tls.Module{Name: "ld-linux-x86-64.so.2", Path: "/lib64/ld-linux-x86-64.so.2"}
	libc := &tls.Module{Name: "libc.so.6", Path: "/usr/lib/libc.so.6",
		TLS:    &loader.TLSBlock{MemSize: 0x90, FileSize: 0x10, Align: 8, VAddr: 0x1bd440},
		Relocs: []tls.Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}, Deps: []*tls.Module{ldso}}
	host := &tls.Module{Name: "electron", Main: true, Deps: []*tls.Module{libc}}
	g, err := tls.StartGlibc(prof, []*tls.Module{host, libc, ldso}, tls.StartOptions{Tunables: t})
	if err != nil {
		return nil, tls.StaticInfo{}, err
	}
	st := g.Static()
	addon := &tls.Module{Name: "index.node", Path: addonPath,
		TLS:    &loader.TLSBlock{MemSize: size, FileSize: 5, Align: addonAlign, VAddr: 0x137abe0},
		Relocs: []tls.Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}, Deps: []*tls.Module{libc}}
	out := g.Dlopen(&tls.DlopenRequest{Name: addonPath, Root: addon, SearchList: []*tls.Module{addon, libc, ldso}})
	return out, st, nil
}

func main() {
	prof, err := tls.GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	def := tls.DefaultTunables()
	out, st, err := process(prof, def, addonTLS)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("%s: %d-byte initial-exec TLS block (align %d), %d bytes of it THREAD_RNG_KEY\n", "index.node", addonTLS, addonAlign, rngState)
	fmt.Printf("default surplus %d: static TLS %d bytes, %d used at start-up, %d free\n", st.Surplus, st.Size, st.Used, st.Free)
	if out.OK {
		fmt.Println("dlopen: ok")
	} else {
		fmt.Printf("dlopen: %s (needs %d, %d free)\n", out.Error, out.Failure.Need, out.Failure.Free)
	}

	ok := func(t tls.Tunables) bool {
		o, _, err := process(prof, t, addonTLS)
		return err == nil && o.OK
	}
	opt, nns := tls.MinimalTunables(def, addonTLS+addonAlign, ok)
	fix := def
	fix.OptionalStaticTLS = opt
	fmt.Printf("smallest fix: GLIBC_TUNABLES=%s (one byte less still fails: %v); glibc.rtld.nns alone: %d\n",
		fix, !ok(tls.Tunables{NNS: def.NNS, OptionalStaticTLS: opt - 1, Rseq: true}), nns)
	if o, _, _ := process(prof, fix, addonTLS); o.OK {
		fmt.Println("with the fix: dlopen ok")
	}

	small := uint64(addonTLS - rngState)
	if o, _, _ := process(prof, def, small); o.OK {
		fmt.Printf("without THREAD_RNG_KEY the block is %d bytes: dlopen ok under the default surplus\n", small)
	} else {
		fmt.Printf("without THREAD_RNG_KEY: %s\n", o.Error)
	}
}
