package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(&env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, args)
	return code, out.String(), errb.String()
}

// The default job reproduces the published Chromium figures.
func TestXZoneDefaultScenario(t *testing.T) {
	code, out, errs := runCmd(t, "xzone", "--aslr", "off")
	require.Equal(t, exitOK, code, errs)
	for _, want := range []string{"15/736 slots collide (0-14)", "P(crash) = 2.04%", "slot 1: ptr_start 0x402000000 runs into", "at 0x401d04000", "images to blame (7)", "2-5 observed"} {
		assert.Contains(t, out, want)
	}
}

func TestXZoneJSON(t *testing.T) {
	code, out, errs := runCmd(t, "xzone", "--aslr", "off", "--json")
	require.Equal(t, exitOK, code, errs)
	var doc struct {
		Schema   string `json:"schema"`
		Headline string `json:"headline"`
		Slots    int    `json:"slots"`
		XZone    struct {
			State string `json:"state"`
		} `json:"xzone"`
		Off   json.RawMessage  `json:"aslr_off"`
		Joint *json.RawMessage `json:"aslr_on"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, "vasim/xzone/v1", doc.Schema)
	assert.Equal(t, "aslr_off", doc.Headline)
	assert.Equal(t, "known", doc.XZone.State, "the scenario's crashes are the XZone abort")
	assert.Nil(t, doc.Joint, "--aslr off computes no joint probability")
	var o struct {
		CollidingSlots []int   `json:"colliding_slots"`
		Probability    float64 `json:"probability"`
		Hits           []struct {
			Slot     int    `json:"slot"`
			PtrStart string `json:"ptr_start"`
			Mapping  struct {
				Name  string `json:"name"`
				Start string `json:"start"`
			} `json:"mapping"`
		} `json:"hits"`
		Culprits []struct {
			Image   string `json:"image"`
			IsImage bool   `json:"is_image"`
		} `json:"culprits"`
	}
	require.NoError(t, json.Unmarshal(doc.Off, &o))
	assert.Equal(t, 736, doc.Slots)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, o.CollidingSlots)
	assert.InDelta(t, 15.0/736, o.Probability, 1e-6)
	require.Len(t, o.Hits, 15)
	assert.Equal(t, "0x402000000", o.Hits[1].PtrStart)
	assert.Equal(t, "0x401d04000", o.Hits[1].Mapping.Start)
	images := 0
	for _, c := range o.Culprits {
		if c.IsImage {
			images++
		} else {
			assert.Equal(t, "libsystem_malloc.dylib", c.Image, "the deferred-reclaim ring fills a hole in the window")
		}
	}
	assert.Equal(t, 7, images)
}

const smallLayout = `{"mappings": [
  {"name": "exe", "start": "0x100000000", "end": "0x180000000"},
  {"name": "libbig.dylib", "start": "0x3f0000000", "size": "0x20000000"}
]}`

func TestXZoneLayoutAndFailAbove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "layout.json")
	require.NoError(t, os.WriteFile(path, []byte(smallLayout), 0o644))
	// libbig ends at 0x410000000 = 16 GiB + 256 MiB: slots 0-7 collide.
	code, out, errs := runCmd(t, "xzone", "--layout", path)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, "8/736 slots collide (0-7)")
	code, out, errs = runCmd(t, "xzone", "--layout", path, "--fail-above", "0.01", "--json")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "exceeds --fail-above")
	var gate struct {
		Headline string `json:"headline"`
		Gate     struct {
			FailAbove float64 `json:"fail_above"`
			Exceeded  bool    `json:"exceeded"`
		} `json:"gate"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &gate))
	assert.Equal(t, "aslr_off", gate.Headline, "a given layout has no ASLR-on figure")
	assert.True(t, gate.Gate.Exceeded)
	assert.Equal(t, 0.01, gate.Gate.FailAbove)
	code, _, _ = runCmd(t, "xzone", "--layout", path, "--fail-above", "0.02")
	assert.Equal(t, exitOK, code)
}

// A small image set placed with ASLR on: the joint probability is
// reported and at least the ASLR-off one.
func TestXZoneImagesJoint(t *testing.T) {
	doc := `{"name": "tiny", "images": [
	  {"name": "app", "kind": "executable", "format": "Mach-O", "needed": ["@rpath/libA.dylib"], "segments": [
	    {"name": "__PAGEZERO", "vmaddr": 0, "vmsize": "0x100000000", "prot": "---"},
	    {"name": "__TEXT", "vmaddr": "0x100000000", "vmsize": "0x40000000", "filesize": "0x4000", "prot": "r-x"}]},
	  {"name": "@rpath/libA.dylib", "kind": "library", "format": "Mach-O", "segments": [
	    {"name": "__TEXT", "vmaddr": 0, "vmsize": "0x2c0000000", "filesize": "0x4000", "prot": "r-x"}]}
	]}`
	path := filepath.Join(t.TempDir(), "set.json")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
	code, out, errs := runCmd(t, "xzone", "--images", path, "--json")
	require.Equal(t, exitOK, code, errs)
	var o struct {
		Off struct {
			Probability float64 `json:"probability"`
		} `json:"aslr_off"`
		Joint struct {
			Probability float64 `json:"probability"`
			Draws       uint64  `json:"placement_draws"`
		} `json:"aslr_on"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	assert.Greater(t, o.Off.Probability, 0.0)
	assert.Equal(t, uint64(3069*255*65), o.Joint.Draws)
	// libA goes above the stack, which slides down by the executable's
	// slide: with ASLR on it ends lower than with ASLR off.
	assert.Greater(t, o.Joint.Probability, 0.0)
	assert.Less(t, o.Joint.Probability, o.Off.Probability)
}

func TestXZoneBadInput(t *testing.T) {
	dir := t.TempDir()
	badLayout := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(badLayout, []byte(`{"mappings": [{"name": "a", "start": "0x4000", "end": "zz"}]}`), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--layout", badLayout, "--exe", "/bin/true"}, "at most one of"},
		{[]string{"--aslr", "maybe"}, "--aslr \"maybe\""},
		{[]string{"--observed", "5-2"}, "--observed"},
		{[]string{"--profile", "libmalloc-1"}, "unknown profile"},
		{[]string{"--fail-above", "2"}, "--fail-above 2"},
		{[]string{"--scenario", "nope"}, "unknown scenario"},
		{[]string{"--launches", "0"}, "--launches 0"},
		{[]string{"--xzone", "maybe"}, "--xzone"},
		{[]string{"--exe", "x", "--arch", "mips"}, "--arch \"mips\""},
		{[]string{"--fix", "--layout", badLayout}, "--fix applies"},
		{[]string{"--arch", "arm64"}, "--arch applies only to --exe"},
		{[]string{"--shared-region", "none"}, "--shared-region applies only to"},
		{[]string{"stray"}, "unexpected argument"},
	} {
		code, _, errs := runCmd(t, append([]string{"xzone"}, c.args...)...)
		assert.Equal(t, exitUsage, code, "%v", c.args)
		assert.Contains(t, errs, c.want, "%v", c.args)
	}
	// Bad input is exit 3, apart from a bad command line (2) and a
	// predicted failure (1), and under --json it is a JSON error too.
	array := filepath.Join(dir, "array.json")
	require.NoError(t, os.WriteFile(array, []byte(`[{"name": "a"}]`), 0o644))
	set := filepath.Join(dir, "set.json")
	require.NoError(t, os.WriteFile(set, []byte(`{"images": [{"name": "a"}]}`), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--layout", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"--layout", badLayout}, `mappings[0].end = "zz"`},
		{[]string{"--exe", "/bin/true"}, "an ELF file: vasim xzone models macOS; for a Linux program use vasim layout"},
		{[]string{"--exe", "no-such-program-anywhere"}, "not found in PATH"},
		{[]string{"--layout", array}, `a JSON array; a layout is an object {"mappings"`},
		{[]string{"--layout", set}, "this is an image set"},
	} {
		code, out, errs := runCmd(t, append([]string{"xzone", "--json"}, c.args...)...)
		assert.Equal(t, exitInput, code, "%v", c.args)
		assert.Contains(t, errs, c.want, "%v", c.args)
		assert.NotContains(t, errs, "vaspace.", "%v: no internal type names", c.args)
		var e struct {
			Schema, Kind, Message string
			Exit                  int
		}
		require.NoError(t, json.Unmarshal([]byte(out), &e), "%v: a JSON error on stdout", c.args)
		assert.Equal(t, "vasim/error/v1", e.Schema)
		assert.Equal(t, exitInput, e.Exit)
		assert.Equal(t, "input", e.Kind)
		assert.Contains(t, e.Message, c.want)
	}
}

// Image sets that cannot be placed are bad input, named with the image
// and what does not fit, never a panic or a silently skipped mapping.
func TestXZoneImagesThatCannotBePlaced(t *testing.T) {
	exe := func(pagezero, textAddr, textSize string) string {
		return `{"name": "app", "kind": "executable", "format": "Mach-O", "needed": ["@rpath/libA.dylib"], "segments": [
		  {"name": "__PAGEZERO", "vmaddr": "0x0", "vmsize": "` + pagezero + `", "prot": "---"},
		  {"name": "__TEXT", "vmaddr": "` + textAddr + `", "vmsize": "` + textSize + `", "filesize": "0x4000", "prot": "r-x"}]}`
	}
	lib := func(size, extra string) string {
		return `{"name": "@rpath/libA.dylib", "kind": "library", "format": "Mach-O"` + extra + `, "segments": [
		  {"name": "__TEXT", "vmaddr": "0x0", "vmsize": "` + size + `", "filesize": "0x0", "prot": "r-x"}]}`
	}
	okExe, okLib := exe("0x100000000", "0x100000000", "0x4000"), lib("0x8000", "")
	dir := t.TempDir()
	for i, c := range []struct {
		exe, lib, want string
	}{
		{exe("0x4000", "0x4000", "0x4000"), okLib, "hard page zero of at least 0x100000000 bytes"},
		{exe("0x100000000", "0xffffffffffff0000", "0x4000"), okLib, "app is linked at 0xffffffffffff0000, above the top of the address space"},
		{exe("0x100000000", "0x100000000", "0x7fffffffffff0000"), okLib, "app: span of 0x7fffffffffff0000 bytes does not fit"},
		{okExe, lib("0xffffffffffff0000", ""), "@rpath/libA.dylib: span of 0xffffffffffff0000 bytes does not fit"},
		{okExe, lib("0x8000", `, "file_size": "0xffffffffffffffff"`), "@rpath/libA.dylib: file of 0xffffffffffffffff bytes does not fit"},
		{okExe, lib("0x8000", `, "file_size": "0x8000000000000001"`), "@rpath/libA.dylib: file of 0x8000000000000001 bytes does not fit"},
	} {
		path := filepath.Join(dir, fmt.Sprintf("set%d.json", i))
		require.NoError(t, os.WriteFile(path, []byte(`{"images": [`+c.exe+`, `+c.lib+`]}`), 0o644))
		code, _, errs := runCmd(t, "xzone", "--images", path)
		assert.Equal(t, exitInput, code, "case %d: %s", i, errs)
		assert.Contains(t, errs, c.want, "case %d", i)
	}
}

func TestScenarios(t *testing.T) {
	code, out, _ := runCmd(t, "scenarios")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "chromium-browser-tests")
	code, out, _ = runCmd(t, "scenarios", "--dump", "chromium-browser-tests")
	require.Equal(t, exitOK, code)
	path := filepath.Join(t.TempDir(), "chromium.json")
	require.NoError(t, os.WriteFile(path, []byte(out), 0o644))
	code, out, errs := runCmd(t, "xzone", "--images", path, "--aslr", "off")
	require.Equal(t, exitOK, code, errs)
	assert.True(t, strings.Contains(out, "15/736 slots collide"), "the dumped set names its platform and places identically")
	code, out, errs = runCmd(t, "xzone", "--images", path, "--aslr", "off", "--shared-region", "0x180000000-0x300000000")
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, "slots collide", "with the xnu-11417 shared region the images go much higher")
	assert.NotContains(t, out, "15/736")
	code, _, errs = runCmd(t, "scenarios", "--dump", "nope")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "no such scenario (dumpable: chromium-browser-tests, cef-119-x64")
}

// No file input can hang vasim or make it read without bound: a FIFO, a
// directory or an endless device given as a document, an executable or a
// sysroot's ld.so.cache is refused at once, naming it (exit 3).
func TestInputsThatAreNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	sysroot := filepath.Join(dir, "root")
	require.NoError(t, os.MkdirAll(filepath.Join(sysroot, "etc"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(sysroot, "etc/ld.so.cache"), 0o644))
	cases := [][]string{
		{"xzone", "--images", fifo}, {"xzone", "--layout", fifo}, {"xzone", "--exe", fifo},
		{"xzone", "--images", "/dev/zero"}, {"xzone", "--layout", "/dev/urandom"}, {"xzone", "--images", dir},
		{"tls", "--exe", fifo}, {"tls", "--exe", "/dev/zero"},
		{"tls", "--exe", "/bin/ls", "--sysroot", sysroot},
	}
	for _, args := range cases {
		done := make(chan struct{})
		var code int
		var stderr string
		go func() {
			defer close(done)
			code, _, stderr = runCmd(t, args...)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("vasim %q blocked", args)
		}
		assert.Equal(t, exitInput, code, "%q: %s", args, stderr)
		assert.Regexp(t, `is (a named pipe \(FIFO\)|a character device|a directory), not a regular file|ld.so would block`, stderr, "%q", args)
	}
}

// Names from a document are shown quoted when they hold characters that
// would act on a terminal.
func TestXZoneQuotesUnprintableNames(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "l.json")
	require.NoError(t, os.WriteFile(layout, []byte(`{"mappings": [{"name": "evil\u001b[2J\rname", "start": "0x400000000", "end": "0x404000000"}]}`), 0o644))
	code, stdout, _ := runCmd(t, "xzone", "--layout", layout)
	assert.Equal(t, exitOK, code)
	assert.NotContains(t, stdout, "\x1b")
	assert.NotContains(t, stdout, "\r")
	assert.Contains(t, stdout, `"evil\x1b[2J\rname"`)
}

// A dumped scenario names its platform, so fed back with --images it
// places and answers exactly as the scenario does.
func TestScenarioDumpRoundTrips(t *testing.T) {
	code, dump, _ := runCmd(t, "scenarios", "--dump", "chromium-browser-tests")
	require.Equal(t, exitOK, code)
	assert.Contains(t, dump, `"platform": "macos-26"`)
	path := filepath.Join(t.TempDir(), "dump.json")
	require.NoError(t, os.WriteFile(path, []byte(dump), 0o644))
	type off struct {
		Exact string `json:"probability_exact"`
		Slots []int  `json:"colliding_slots"`
	}
	var a, b struct {
		Off off `json:"aslr_off"`
	}
	code, out, errs := runCmd(t, "xzone", "--aslr", "off", "--json")
	require.Equal(t, exitOK, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &a))
	code, out, errs = runCmd(t, "xzone", "--aslr", "off", "--json", "--images", path)
	require.Equal(t, exitOK, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &b))
	assert.Equal(t, a, b)
	assert.Equal(t, "43766655/2147483648", a.Off.Exact, "15/736 with the 2^32 mod 736 bias")
}

// A crash report is analysed as given, beside what it says itself: the
// hand-made XZone crash collides (consistent) and proves XZone on; an
// x86_64 report has no range reservation to fail.
func TestXZoneCrashReport(t *testing.T) {
	for _, c := range []struct {
		file, state string
		collides    bool
		text        string
	}{
		{"xzone-macos26-arm64.ips", "known", true, "it reports the XZone reservation failure, and its own layout collides: consistent"},
		{"xzone-macos26-arm64.crash", "known", true, "BUG IN LIBMALLOC: pointer range initial reservation failed"},
		{"xcodesapp-macos12.6-x86_64.crash", "off", false, "this crash has another cause"},
	} {
		path := filepath.Join("..", "..", "loader", "crashreport", "testdata", c.file)
		code, out, errs := runCmd(t, "xzone", "--crash-report", path, "--json")
		require.Equal(t, exitOK, code, "%s: %s", c.file, errs)
		var o struct {
			Input struct{ Kind string }  `json:"input"`
			XZone struct{ State string } `json:"xzone"`
			Crash struct {
				Collides      bool `json:"layout_collides"`
				Consistent    bool `json:"consistent"`
				MentionsXZone bool `json:"mentions_xzone"`
			} `json:"crash_report"`
			Off struct {
				Colliding int    `json:"colliding"`
				Layout    string `json:"layout"`
			} `json:"aslr_off"`
			On *json.RawMessage `json:"aslr_on"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &o), c.file)
		assert.Equal(t, "crash-report", o.Input.Kind)
		assert.Equal(t, c.state, o.XZone.State, c.file)
		assert.Equal(t, c.collides, o.Crash.Collides, c.file)
		assert.True(t, o.Crash.Consistent, "%s: each report agrees with its layout", c.file)
		assert.Equal(t, "given", o.Off.Layout)
		assert.Nil(t, o.On, "a crash report is one launch: no sum over slides")
		code, out, _ = runCmd(t, "xzone", "--crash-report", path)
		require.Equal(t, exitOK, code)
		assert.Contains(t, out, c.text, c.file)
	}
	trunc := filepath.Join(t.TempDir(), "t.ips")
	data, err := os.ReadFile(filepath.Join("..", "..", "loader", "crashreport", "testdata", "xzone-macos26-arm64.ips"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(trunc, data[:len(data)/2], 0o644))
	code, _, errs := runCmd(t, "xzone", "--crash-report", trunc)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errs, trunc)
	// --xzone off against a report that shows XZone on: said, not hidden.
	path := filepath.Join("..", "..", "loader", "crashreport", "testdata", "xzone-macos26-arm64.ips")
	code, out, _ := runCmd(t, "xzone", "--crash-report", path, "--xzone", "off")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "but the crash report shows the XZone reservation failing")
	assert.Contains(t, out, "its own layout collides")
	for _, flag := range [][]string{{"--aslr", "on"}, {"--spread"}} {
		code, _, errs = runCmd(t, append([]string{"xzone", "--crash-report", path}, flag...)...)
		assert.Equal(t, exitUsage, code, "%v", flag)
		assert.Contains(t, errs, "not to a layout as given")
	}
}

// --svg draws the layout: the SVG parses, and its slot row marks exactly
// the colliding slots, each with its culprit.
func TestXZoneSVG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.svg")
	code, _, errs := runCmd(t, "xzone", "--aslr", "off", "--svg", path)
	require.Equal(t, exitOK, code, errs)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := xml.NewDecoder(f)
	colliding := map[string]string{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			attr := map[string]string{}
			for _, a := range se.Attr {
				attr[a.Name.Local] = a.Value
			}
			if attr["data-kind"] == "slot" && attr["data-colliding"] == "true" {
				colliding[attr["data-slot"]] = attr["data-culprit"]
			}
		}
	}
	assert.Len(t, colliding, 15, "slots 0-14")
	assert.Equal(t, "@rpath/libchromium_component_506.dylib", colliding["1"], "slot 1 runs into the dylib at 0x401d04000")
}

// Every report carries the answer under each unconfirmed parameter; the
// shared-region alternative agrees with placing the same images with
// that region given explicitly.
func TestXZoneDepends(t *testing.T) {
	code, out, errs := runCmd(t, "xzone", "--aslr", "off", "--json")
	require.Equal(t, exitOK, code, errs)
	var o struct {
		Depends struct {
			Outcomes []struct {
				Parameter string  `json:"parameter"`
				Value     string  `json:"value"`
				ASLROff   float64 `json:"aslr_off"`
			} `json:"outcomes"`
			Apart string     `json:"apart"`
			Range [2]float64 `json:"aslr_off_range"`
			Most  string     `json:"most_moved_by"`
		} `json:"depends"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	d := o.Depends
	assert.Equal(t, "shared region", d.Apart)
	assert.NotEmpty(t, d.Most)
	assert.LessOrEqual(t, d.Range[0], 15.0/736)
	assert.GreaterOrEqual(t, d.Range[1], 15.0/736)
	var shared float64
	for _, oc := range d.Outcomes {
		if oc.Parameter == d.Apart {
			shared = oc.ASLROff
		}
	}
	code, dump, _ := runCmd(t, "scenarios", "--dump", "chromium-browser-tests")
	require.Equal(t, exitOK, code)
	set := filepath.Join(t.TempDir(), "set.json")
	require.NoError(t, os.WriteFile(set, []byte(dump), 0o644))
	code, out, errs = runCmd(t, "xzone", "--aslr", "off", "--json", "--images", set, "--shared-region", "0x180000000-0x300000000")
	require.Equal(t, exitOK, code, errs)
	var with struct {
		Probability float64 `json:"probability"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &with))
	assert.Equal(t, with.Probability, shared)
	assert.Greater(t, shared, 0.2, "about 28% with the region at [6, 12) GiB")
}

// --fix with ASLR off moves the last-loaded dylibs until no slot
// collides; a layout as given cannot be fixed by moving dylibs.
func TestXZoneFix(t *testing.T) {
	code, out, errs := runCmd(t, "xzone", "--aslr", "off", "--fix", "--json")
	require.Equal(t, exitOK, code, errs)
	var o struct {
		Fix struct {
			Moved  []string `json:"moved"`
			Before float64  `json:"before"`
			After  float64  `json:"after"`
			Exact  bool     `json:"verified_over_every_slide"`
		} `json:"fix"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	assert.GreaterOrEqual(t, len(o.Fix.Moved), 7)
	assert.InDelta(t, 15.0/736, o.Fix.Before, 1e-6)
	assert.Zero(t, o.Fix.After)
	assert.False(t, o.Fix.Exact, "with --aslr off the fix is checked with ASLR off and at the extreme slides")
}

// Help reaches a subcommand by its two words.
func TestHelpSubcommand(t *testing.T) {
	code, out, _ := runCmd(t, "help", "tls", "pages")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "Usage: vasim tls pages --exe PROGRAM")
	assert.Contains(t, out, "Example:")
}

// A bad flag under --json is a JSON error too, in every command.
func TestFlagErrorsUnderJSON(t *testing.T) {
	for _, args := range [][]string{
		{"xzone", "--json", "--nope"}, {"xzone", "--json", "--fail-above", "abc"},
		{"scenarios", "--json", "--nope"}, {"version", "--json", "stray"},
	} {
		code, out, _ := runCmd(t, args...)
		assert.Equal(t, exitUsage, code, "%v", args)
		var e struct{ Schema, Kind string }
		require.NoError(t, json.Unmarshal([]byte(out), &e), "%v: %s", args, out)
		assert.Equal(t, "vasim/error/v1", e.Schema)
		assert.Equal(t, "usage", e.Kind)
	}
}
