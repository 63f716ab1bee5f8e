//go:build !unix

package elfspec

import (
	"io/fs"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
)

// readFile opens the regular file at path and parses it with pread; fi
// is not needed here.
func readFile(path string, fi fs.FileInfo) (*loader.ImageSpec, error) {
	f, err := input.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}
