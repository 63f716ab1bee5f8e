package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/reserve"
)

// svgElements returns the data attributes of every element of an SVG
// file that has a data-kind.
func svgElements(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := xml.NewDecoder(f)
	var out []map[string]string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			attr := map[string]string{}
			for _, a := range se.Attr {
				attr[a.Name.Local] = a.Value
			}
			if attr["data-kind"] != "" {
				out = append(out, attr)
			}
		}
	}
}

// vasim layout --svg and vasim reserve --svg draw what they analysed:
// the layout's mappings; the preset's ranges with where the randomised
// groups land.
func TestLinuxSVG(t *testing.T) {
	exe := "/usr/bin/env"
	if _, err := os.Stat(exe); err != nil {
		t.Skip("no /usr/bin/env on this machine")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "l.svg")
	code, _, errs := runCmd(t, "layout", "--exe", exe, "--no-aslr", "--svg", path)
	require.Equal(t, exitOK, code, errs)
	mappings := 0
	for _, a := range svgElements(t, path) {
		if a["data-kind"] == "mapping" {
			mappings++
		}
	}
	assert.Positive(t, mappings)

	preset, err := reserve.LookupPreset("tsan-x86_64")
	require.NoError(t, err)
	path = filepath.Join(dir, "r.svg")
	code, _, errs = runCmd(t, "reserve", "--exe", exe, "--preset", preset.Name, "--svg", path)
	if code == exitUsage {
		t.Skipf("tsan-x86_64 does not apply to this machine: %s", errs)
	}
	require.Equal(t, exitOK, code, errs)
	styles := map[string]int{}
	for _, a := range svgElements(t, path) {
		if a["data-kind"] == "band" {
			styles[a["data-style"]]++
		}
	}
	assert.Equal(t, len(preset.Spec.Free), styles["keep-free"])
	assert.Equal(t, len(preset.Spec.Allowed), styles["allowed"])
	assert.Positive(t, styles["reach"], "where the randomised groups can land")
}
