package elfspec

import (
	"io"
	"os"
	"testing"
)

// BenchmarkRead reads the sample of this machine's shared objects that
// TestReadMatchesLegacy starts with (those with a TLS block first) with
// Read, beside the debug/elf-based reader it replaced (legacyParse over
// the opened file), in the same run: compare the two as a ratio.
func BenchmarkRead(b *testing.B) {
	files := realELFFiles(b, 60)
	if len(files) == 0 {
		b.Skip("no ELF shared objects found on this machine")
	}
	b.Run("impl=elfspec", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, p := range files {
				if _, err := Read(p); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(len(files)), "files/op")
	})
	b.Run("impl=debug-elf", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, p := range files {
				f, err := os.Open(p)
				if err != nil {
					b.Fatal(err)
				}
				fi, err := f.Stat()
				if err != nil {
					b.Fatal(err)
				}
				_, err = legacyParse(io.NewSectionReader(f, 0, fi.Size()), p)
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(len(files)), "files/op")
	})
}
