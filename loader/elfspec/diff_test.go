package elfspec

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/objtest"
)

// The targeted reader (Parse, Read) against the debug/elf-based one it
// replaced (legacyParse): the same files accepted, the same specs made.

// compressedRead reports whether b has an SHF_COMPRESSED section among
// those the reader reads (see the package notes): there the two readers
// may differ on purpose, legacyParse inflating what Parse refuses.
func compressedRead(b []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return false
	}
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_COMPRESSED != 0 {
			return true
		}
	}
	return false
}

// sameOutcome checks that the two readers agree on data: both fail, or
// both succeed with equal specs; and that reading it mapped (parseMapped)
// agrees with reading it through an io.ReaderAt (Parse).
func sameOutcome(t testing.TB, b []byte, what string) {
	t.Helper()
	got, err := Parse(bytes.NewReader(b), "x.so")
	want, wantErr := legacyParse(bytes.NewReader(b), "x.so")
	mapped, mappedErr := parseMapped(b, "x.so")
	if (err == nil) != (mappedErr == nil) || !reflect.DeepEqual(got, mapped) {
		t.Fatalf("%s: Parse and parseMapped differ:\n%v %v\n%v %v", what, got, err, mapped, mappedErr)
	}
	if err != nil {
		var fe *loader.FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "x.so") {
			t.Fatalf("%s: error %T %q is not a *loader.FileError naming the file", what, err, err)
		}
	}
	if wantErr == nil && err == nil {
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: specs differ:\nlegacy %#v\n%#v\nnew    %#v\n%#v", what, want, want.ELF, got, got.ELF)
		}
		return
	}
	if (wantErr == nil) != (err == nil) && !compressedRead(b) {
		t.Fatalf("%s: legacy error %v, new error %v", what, wantErr, err)
	}
}

// machineELFFiles lists the ELF files of this machine's library and
// program directories (each file once), sorted.
func machineELFFiles(t testing.TB) []string {
	seen := map[string]bool{}
	var out []string
	for _, root := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/bin", "/usr/libexec"} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			rp, err := filepath.EvalSymlinks(p)
			if err != nil || seen[rp] {
				return nil
			}
			seen[rp] = true
			f, err := os.Open(rp)
			if err != nil {
				return nil
			}
			defer f.Close()
			var magic [4]byte
			if _, err := io.ReadFull(f, magic[:]); err == nil && string(magic[:]) == elf.ELFMAG {
				out = append(out, rp)
			}
			return nil
		})
	}
	sort.Strings(out)
	return out
}

// TestReadMatchesLegacy reads every ELF file of this machine's library
// and program directories with Read and ReadRegular (read whole or
// mapped, by size) and with the debug/elf-based reader, and wants the
// same spec or an error from all.
func TestReadMatchesLegacy(t *testing.T) {
	files := machineELFFiles(t)
	if len(files) == 0 {
		t.Skip("no ELF files found on this machine")
	}
	if testing.Short() && len(files) > 300 {
		files = files[:300]
	}
	agree, failed := 0, 0
	for _, p := range files {
		got, err := Read(p)
		st, serr := os.Stat(p)
		require.NoError(t, serr)
		got2, err2 := ReadRegular(p, st)
		assert.Equal(t, err == nil, err2 == nil, p)
		assert.Equal(t, got, got2, "%s: Read and ReadRegular", p)
		f, oerr := os.Open(p)
		require.NoError(t, oerr)
		fi, _ := f.Stat()
		want, wantErr := legacyParse(io.NewSectionReader(f, 0, fi.Size()), p)
		f.Close()
		if wantErr != nil || err != nil {
			assert.Equal(t, wantErr == nil, err == nil, "%s: legacy %v, new %v", p, wantErr, err)
			failed++
			continue
		}
		if assert.Equal(t, want, got, p) {
			agree++
		}
	}
	t.Logf("%d files: %d read alike, %d refused by both", len(files), agree, failed)
}

// TestParseHostileMatchesLegacy runs TestParseHostile's truncations and
// corruptions, and mutations of the section headers and the tables they
// locate, through both readers.
func TestParseHostileMatchesLegacy(t *testing.T) {
	for _, data := range [][]byte{sampleELF(t), objtest.SampleELF().Bytes()} {
		step := len(data)/400 + 1
		for n := 0; n < len(data); n += min(7, step) {
			sameOutcome(t, data[:n], fmt.Sprintf("truncated to %d", n))
			if n > 4096 {
				n += step
			}
		}
		for i := 0; i < 512 && i < len(data); i++ {
			for _, v := range []byte{0x00, 0xff, 0x80, 0x01} {
				b := append([]byte(nil), data...)
				b[i] = v
				sameOutcome(t, b, fmt.Sprintf("byte %d = %#x", i, v))
			}
		}
		f, err := elf.NewFile(bytes.NewReader(data))
		require.NoError(t, err)
		shoff := binary.LittleEndian.Uint64(data[0x28:])
		for i := range f.Sections {
			for field := uint64(0); field < 64; field += 4 {
				for _, v := range []byte{0x00, 0xff, 0x7f, 0x03} {
					b := append([]byte(nil), data...)
					b[shoff+uint64(i)*64+field] = v
					sameOutcome(t, b, fmt.Sprintf("section header %d byte %d = %#x", i, field, v))
				}
			}
		}
		for _, name := range []string{".dynamic", ".dynsym", ".dynstr", ".gnu.version_d", ".gnu.version_r", ".gnu.version", ".rela.dyn", ".rela.plt"} {
			s := f.Section(name)
			if s == nil || s.Type == elf.SHT_NOBITS {
				continue
			}
			for i := uint64(0); i < s.Size && i < 4096; i += 3 {
				b := append([]byte(nil), data...)
				b[s.Offset+i] ^= 0xa5
				sameOutcome(t, b, fmt.Sprintf("%s byte %d", name, i))
			}
		}
	}
}

// FuzzParseMatchesLegacy: on any input, Parse, parseMapped and the
// debug/elf-based reader agree (see sameOutcome), and nothing panics.
func FuzzParseMatchesLegacy(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		sameOutcome(t, b, "fuzz input")
	})
}

// lyingReader claims more bytes than it holds.
type lyingReader struct {
	*bytes.Reader
	size int64
}

func (r lyingReader) Size() int64 { return r.size }

// TestParseReaderSizes: a reader whose Size overstates its data gives an
// error about the file (after at most a chunk of allocation), and ranges
// larger than a chunk are read whole.
func TestParseReaderSizes(t *testing.T) {
	data := objtest.SampleELF().Bytes()
	b := append([]byte(nil), data...)
	binary.LittleEndian.PutUint64(b[0x28:], 1<<39) // e_shoff far past the data
	_, err := Parse(lyingReader{bytes.NewReader(b), 1 << 40}, "lying.so")
	var fe *loader.FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "lying.so", fe.Path)

	big := make([]byte, 2*readerChunk+12345)
	for i := range big {
		big[i] = byte(i * 7)
	}
	got, err := readerSource{bytes.NewReader(big)}.read(3, uint64(len(big)-3))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big[3:], got))
	_, err = readerSource{bytes.NewReader(big)}.read(3, uint64(len(big)))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}
