package elfspec

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/objtest"
)

// readelfView is what "readelf -lWdr" says about a file, parsed from its
// text: the independent implementation Read is checked against.
type readelfView struct {
	tls                    *loader.TLSBlock
	interp                 string
	needed                 []string
	soname, rpath, runpath string
	hasRPath, hasRunPath   bool
	flagsStaticTLS         bool
	relocs                 map[string]int // "TYPE symbol" -> count, TLS types only
}

func runReadelf(t testing.TB, path string) readelfView {
	out, err := exec.Command("readelf", "-lWdr", path).Output()
	require.NoError(t, err, "readelf %s", path)
	v := readelfView{relocs: map[string]int{}}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 8 && f[0] == "TLS":
			memsz, _ := strconv.ParseUint(strings.TrimPrefix(f[5], "0x"), 16, 64)
			filesz, _ := strconv.ParseUint(strings.TrimPrefix(f[4], "0x"), 16, 64)
			vaddr, _ := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 64)
			align, _ := strconv.ParseUint(strings.TrimPrefix(f[len(f)-1], "0x"), 16, 64)
			if memsz > 0 {
				v.tls = &loader.TLSBlock{MemSize: memsz, FileSize: filesz, Align: align, VAddr: vaddr}
			}
		case strings.Contains(line, "[Requesting program interpreter: "):
			s := line[strings.Index(line, ": ")+2:]
			v.interp = strings.TrimSuffix(strings.TrimSpace(s), "]")
		case len(f) >= 3 && strings.HasPrefix(f[1], "(") && strings.HasSuffix(f[1], ")"):
			val := line[strings.Index(line, f[1])+len(f[1]):]
			br := func() string {
				i, j := strings.Index(val, "["), strings.LastIndex(val, "]")
				if i < 0 || j < i {
					return ""
				}
				return val[i+1 : j]
			}
			switch f[1] {
			case "(NEEDED)":
				v.needed = append(v.needed, br())
			case "(SONAME)":
				v.soname = br()
			case "(RPATH)":
				v.rpath, v.hasRPath = br(), true
			case "(RUNPATH)":
				v.runpath, v.hasRunPath = br(), true
			case "(FLAGS)":
				v.flagsStaticTLS = strings.Contains(val, "STATIC_TLS")
			}
		case len(f) >= 3 && (strings.Contains(f[2], "TPOFF") || strings.Contains(f[2], "TLSDESC") ||
			strings.Contains(f[2], "DTPMOD") || strings.Contains(f[2], "DTPOFF") ||
			strings.Contains(f[2], "TLS_TPREL") || strings.Contains(f[2], "TLS_DTPREL")):
			sym := ""
			if len(f) >= 5 && !strings.HasPrefix(f[3], "0") || len(f) >= 6 {
				// offset info type symvalue symname + addend
				if len(f) >= 7 {
					sym = f[4]
				}
			}
			if i := strings.Index(sym, "@"); i >= 0 {
				sym = sym[:i]
			}
			v.relocs[f[2]+" "+sym]++
		}
	}
	return v
}

// realELFFiles returns a deterministic sample of shared objects from this
// machine: every one with a PT_TLS block (those are the interesting ones)
// plus the first few others, up to max.
func realELFFiles(t testing.TB, max int) []string {
	dirs := []string{"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"}
	seen := map[string]bool{}
	var withTLS, other []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !strings.Contains(e.Name(), ".so") {
				continue
			}
			p := filepath.Join(d, e.Name())
			rp, err := filepath.EvalSymlinks(p)
			if err != nil || seen[rp] {
				continue
			}
			seen[rp] = true
			f, err := elf.Open(rp)
			if err != nil {
				continue
			}
			hasTLS := false
			for _, pr := range f.Progs {
				if pr.Type == elf.PT_TLS {
					hasTLS = true
				}
			}
			f.Close()
			if hasTLS {
				withTLS = append(withTLS, rp)
			} else {
				other = append(other, rp)
			}
		}
	}
	sort.Strings(withTLS)
	sort.Strings(other)
	out := append(withTLS, other...)
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// TestReadMatchesReadelf ingests real objects of this machine and checks
// every field against binutils readelf's reading of the same file.
func TestReadMatchesReadelf(t *testing.T) {
	if _, err := exec.LookPath("readelf"); err != nil {
		t.Skip("readelf (binutils) not installed")
	}
	files := realELFFiles(t, 60)
	for _, p := range []string{"/bin/ls", "/usr/bin/perl", "/bin/bash"} {
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Skip("no ELF shared objects found on this machine")
	}
	sawTLSReloc := false
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			spec, err := Read(p)
			require.NoError(t, err)
			want := runReadelf(t, p)
			assert.Equal(t, want.tls, spec.TLS, "PT_TLS")
			assert.Equal(t, want.interp, spec.ELF.Interp, "PT_INTERP")
			if len(want.needed) == 0 {
				assert.Empty(t, spec.Needed)
			} else {
				assert.Equal(t, want.needed, spec.Needed, "DT_NEEDED")
			}
			assert.Equal(t, want.soname, spec.ELF.SOName)
			assert.Equal(t, want.rpath, spec.ELF.RPath)
			assert.Equal(t, want.hasRPath, spec.ELF.HasRPath)
			assert.Equal(t, want.runpath, spec.ELF.RunPath)
			assert.Equal(t, want.hasRunPath, spec.ELF.HasRunPath)
			assert.Equal(t, want.flagsStaticTLS, spec.ELF.StaticTLS(), "DF_STATIC_TLS")
			got := map[string]int{}
			for _, r := range spec.ELF.TLSRelocs {
				got[r.TypeName(spec.ELF.Machine)+" "+r.Symbol] += r.Count
				sawTLSReloc = true
			}
			assert.Equal(t, want.relocs, got, "TLS relocations")
		})
	}
	assert.True(t, sawTLSReloc, "the sample should include objects with TLS relocations (libc has TPOFF64)")
}

func TestReadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.so")
	require.NoError(t, os.WriteFile(junk, []byte("#!/bin/sh\necho not elf\n"), 0o644))
	_, err := Read(junk)
	require.Error(t, err)
	assert.True(t, errors.Is(err, loader.ErrWrongFormat))
	assert.Contains(t, err.Error(), junk)

	short := filepath.Join(dir, "short.so")
	require.NoError(t, os.WriteFile(short, []byte("\x7fELF\x02\x01\x01"), 0o644))
	_, err = Read(short)
	require.Error(t, err)
	assert.True(t, errors.Is(err, loader.ErrMalformed))
	assert.Contains(t, err.Error(), short)
	var ee *loader.FileError
	require.True(t, errors.As(err, &ee))
	assert.Equal(t, short, ee.Path)
}

// sampleELF returns the bytes of a small real shared object with TLS
// relocations, for mutation tests.
func sampleELF(t testing.TB) []byte {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libgomp.so.1", "/lib/x86_64-linux-gnu/libc.so.6"} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(exe)
	require.NoError(t, err)
	return b
}

// TestParseHostile truncates and corrupts a real object in many ways:
// every outcome must be a spec or an *loader.FileError naming the file, never a
// panic.
func TestParseHostile(t *testing.T) {
	data := sampleELF(t)
	check := func(b []byte, what string) {
		spec, err := Parse(bytes.NewReader(b), "hostile.so")
		if err != nil {
			var ee *loader.FileError
			require.True(t, errors.As(err, &ee), "%s: %T %v", what, err, err)
			assert.Contains(t, err.Error(), "hostile.so", what)
			assert.Nil(t, spec)
		} else {
			require.NotNil(t, spec, what)
		}
	}
	// Truncations: all header-sized cuts, then coarser ones.
	for n := 0; n < 4096 && n < len(data); n += 7 {
		check(data[:n], fmt.Sprintf("truncated to %d", n))
	}
	for n := 4096; n < len(data); n += len(data)/97 + 1 {
		check(data[:n], fmt.Sprintf("truncated to %d", n))
	}
	// Byte corruption in the ELF and program headers and in the dynamic
	// section, deterministic pattern.
	for i := 0; i < 512 && i < len(data); i++ {
		for _, v := range []byte{0x00, 0xff, 0x80} {
			b := append([]byte(nil), data...)
			b[i] = v
			check(b, fmt.Sprintf("byte %d = %#x", i, v))
		}
	}
	if f, err := elf.NewFile(bytes.NewReader(data)); err == nil {
		if ds := f.SectionByType(elf.SHT_DYNAMIC); ds != nil {
			for i := uint64(0); i < ds.Size && i < 1024; i += 3 {
				b := append([]byte(nil), data...)
				b[ds.Offset+i] ^= 0xa5
				check(b, fmt.Sprintf("dynamic byte %d", i))
			}
		}
		if rs := f.Section(".rela.dyn"); rs != nil {
			for i := uint64(0); i < rs.Size && i < 2048; i += 5 {
				b := append([]byte(nil), data...)
				b[rs.Offset+i] = 0xff
				check(b, fmt.Sprintf("rela byte %d", i))
			}
		}
	}
}

// fuzzSeeds adds small synthetic objects (a few hundred bytes each). Real
// files make poor seeds: every input the fuzzer finds interesting is first
// minimised byte by byte, and with coverage instrumentation a 10 KiB seed
// costs tens of thousands of executions before fuzzing resumes, which
// looks like a fuzzer managing a few executions per second.
func fuzzSeeds(f *testing.F) {
	full := objtest.SampleELF()
	f.Add(full.Bytes())
	f.Add(objtest.ELF{TLS: []elf.ProgHeader{{Memsz: 8, Align: 8}}, Rela: []objtest.Rel{{Type: elf.R_X86_64_TPOFF64, Sym: 0}}}.Bytes())
	f.Add(objtest.ELF{PLT: []objtest.Rel{{Type: elf.R_X86_64_TLSDESC, Sym: 0}}, RelaszCoversPLT: true}.Bytes())
	f.Add([]byte("\x7fELF"))
}

// FuzzParse: Parse must never panic, and an error must be an
// *loader.FileError that names the file.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := Parse(bytes.NewReader(b), "fuzz.so")
		if err != nil {
			var ee *loader.FileError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), "fuzz.so") {
				t.Fatalf("error %T %q does not name the file", err, err)
			}
			return
		}
		if spec == nil || spec.ELF == nil {
			t.Fatal("nil spec without error")
		}
	})
}
