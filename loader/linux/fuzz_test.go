package linux_test

import (
	"strings"
	"testing"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/linux"
)

// FuzzDecodeKernel: any document is either a valid profile or an error
// naming the source; never a panic.
func FuzzDecodeKernel(f *testing.F) {
	for _, s := range []string{`{}`, `{"mmap_rnd_bits": 32}`, `{"arch": "aarch64", "page_size": 65536, "va_bits": 42}`,
		`{"vdso": [{"name": "[vdso]", "size": 8192, "prot": "r-x"}]}`, `{"thp_file_systems": ["ext4"]}`, `[`, `{"huge_page_size": 1}`} {
		f.Add([]byte(s))
	}
	base, err := linux.DefaultKernel(loader.ArchX86_64)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := linux.DecodeKernel(data, "fuzz.json", base)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("error does not name the source: %v", err)
			}
			return
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("accepted an invalid profile: %v", err)
		}
	})
}

// FuzzParseMaps: any text parses or fails naming the line; what parses
// prints back to a line that parses to the same thing.
func FuzzParseMaps(f *testing.F) {
	f.Add("555555554000-555555556000 r--p 00000000 fe:00 247026                     /usr/bin/cat\n")
	f.Add("7ffff7fc2000-7ffff7fc6000 r--p 00000000 00:00 0                          [vvar]\n")
	f.Add("1-0 r--p 0 0 0\n")
	f.Fuzz(func(t *testing.T, text string) {
		ls, err := linux.ParseMaps(strings.NewReader(text), "fuzz")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz") {
				t.Fatalf("error does not name the source: %v", err)
			}
			return
		}
		for _, l := range ls {
			back, err := linux.ParseMaps(strings.NewReader(l.String()), "again")
			if err != nil || len(back) != 1 {
				t.Fatalf("%q printed as %q does not parse back: %v", text, l.String(), err)
			}
			if strings.TrimSpace(back[0].Path) != strings.TrimSpace(l.Path) || back[0].Range != l.Range || back[0].Offset != l.Offset {
				t.Fatalf("%q: round trip %+v -> %+v", text, l, back[0])
			}
		}
	})
}
