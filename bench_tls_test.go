package vasim_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/elfspec"
	"github.com/vasim/vasim/loader/ldso"
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
