package tls_test

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/tls"
)

// A program whose only start-up TLS is glibc 2.36's libc (144 bytes)
// dlopens a library with a 2000-byte initial-exec block.
func ExampleStartGlibc() {
	prof, _ := tls.GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64)
	libc := &tls.Module{Name: "libc.so.6", Path: "/lib/x86_64-linux-gnu/libc.so.6",
		TLS:    &loader.TLSBlock{MemSize: 144, Align: 8},
		Relocs: []tls.Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}}
	prog := &tls.Module{Name: "prog", Main: true, Deps: []*tls.Module{libc}}
	g, _ := tls.StartGlibc(prof, []*tls.Module{prog, libc}, tls.StartOptions{})
	st := g.Static()
	fmt.Println("static size", st.Size, "align", st.Align, "free", st.Free)

	plugin := &tls.Module{Name: "plugin.so", Path: "/opt/app/plugin.so",
		TLS:    &loader.TLSBlock{MemSize: 2000, Align: 16},
		Relocs: []tls.Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}}
	out := g.Dlopen(&tls.DlopenRequest{Name: plugin.Path, Root: plugin, SearchList: []*tls.Module{plugin, libc}})
	fmt.Println(out.OK, out.Error)
	// Output:
	// static size 4224 align 64 free 1712
	// false /opt/app/plugin.so: cannot allocate memory in static TLS block
}

func ExampleParseTunables() {
	t, err := tls.ParseTunables("glibc.rtld.optional_static_tls=0x1000:glibc.rtld.nns=20")
	fmt.Println(t.OptionalStaticTLS, t.NNS)
	fmt.Println(err)
	// Output:
	// 4096 4
	// GLIBC_TUNABLES="glibc.rtld.optional_static_tls=0x1000:glibc.rtld.nns=20": "glibc.rtld.nns=20": 20 is outside 1..16: glibc keeps 4
}

// The initial thread's static TLS pages for a 4224-byte static block whose
// minimal-malloc allocation starts at 0x7f0000001010: 4224+64+8 = 4296
// bytes allocated, the blocks 64-aligned at 0x...1040, tp 1856 bytes
// above, the 2368-byte TCB after it.
func ExampleProfile_InitialThreadBlock() {
	prof, _ := tls.GlibcProfile(ldso.GlibcVersion{Major: 2, Minor: 36}, loader.ArchX86_64)
	b, _ := prof.InitialThreadBlock(tls.StaticInfo{Size: 4224, Align: 64}, 0x7f0000001010, 4096)
	fmt.Println("alloc", b.Alloc, "tp", b.TP)
	fmt.Println("static", b.Static, "tcb", b.TCB)
	fmt.Println("pages", b.Pages)
	// Output:
	// alloc [0x7f0000001010, 0x7f00000020d8) tp 0x7f0000001780
	// static [0x7f0000001040, 0x7f0000001780) tcb [0x7f0000001780, 0x7f00000020c0)
	// pages [0x7f0000001000, 0x7f0000003000)
}

// From files to an answer, as a Go test of a Linux product would do it:
// the ELF files a build produced (written here into a sysroot), resolved
// as glibc's ld.so resolves them, and the static TLS a dlopen needs. The
// program starts with glibc's libc (144 bytes of TLS); the plugin it
// dlopens has 2000 bytes of initial-exec TLS.
func ExampleCheck() {
	root, _ := os.MkdirTemp("", "sysroot")
	defer os.RemoveAll(root)
	write := func(path string, f objtest.ELF) {
		p := filepath.Join(root, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, f.Bytes(), 0o755)
	}
	ie := []objtest.Rel{{Type: elf.R_X86_64_TPOFF64}} // initial-exec, the object's own block
	write("/app/bin/app", objtest.ELF{Interp: "/lib64/ld-linux-x86-64.so.2", Needed: []string{"libc.so.6"}})
	write("/lib/x86_64-linux-gnu/libc.so.6", objtest.ELF{SOName: "libc.so.6", TLS: []elf.ProgHeader{{Memsz: 144, Align: 8}}, Rela: ie})
	write("/app/lib/plugin.so", objtest.ELF{SOName: "plugin.so", Needed: []string{"libc.so.6"}, TLS: []elf.ProgHeader{{Memsz: 2000, Align: 16}}, Rela: ie})

	rep, err := tls.Check(tls.Setup{Exe: "/app/bin/app", Dlopens: []string{"/app/lib/plugin.so"}, Sysroot: root, Glibc: "2.36"})
	if err != nil {
		fmt.Println(err)
		return
	}
	st := rep.Result.Static
	fmt.Println(rep.Result.Loader, "static TLS", st.Size, "bytes,", st.Free, "free")
	for i, s := range rep.Result.Steps {
		fmt.Println("dlopen", s.Path, "ok:", s.OK, s.Error)
		if x, ok := rep.Explanations[i]; ok {
			fmt.Println("fix:", x.FixTunables)
		}
	}
	// Output:
	// glibc 2.36 x86_64 static TLS 4224 bytes, 1712 free
	// dlopen /app/lib/plugin.so ok: false /app/lib/plugin.so: cannot allocate memory in static TLS block
	// fix: glibc.rtld.optional_static_tls=817
}
