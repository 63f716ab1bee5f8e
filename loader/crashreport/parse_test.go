package crashreport_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/crashreport"
	"github.com/vasim/vasim/vaspace"
)

func readSeed(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

func parseSeed(t testing.TB, name string) *crashreport.Report {
	t.Helper()
	r, err := crashreport.Parse(bytes.NewReader(readSeed(t, name)), name)
	require.NoError(t, err)
	return r
}

func rng(start, end uint64) vaspace.Range {
	return vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(end)}
}

// TestParseSeeds reads every report in testdata and checks what each
// says, field by field.
func TestParseSeeds(t *testing.T) {
	tests := []struct {
		file                          string
		form, bug, process, osv, cpu  string
		exception, termination, frame string
		appSpecific                   []string
		images                        int
		first, last                   crashreport.Image
		sharedCache                   vaspace.Range
		xzone                         bool
		notes                         []string // substrings, one per note, in order
	}{{
		file: "xcodesapp-macos12.6-x86_64.crash", form: crashreport.FormIPS, bug: "309",
		process: "Xcodes", osv: "macOS 12.6 (21G115)", cpu: "X86-64",
		exception:   "EXC_CRASH (SIGABRT), codes 0x0000000000000000, 0x0000000000000000",
		frame:       "libsystem_kernel.dylib: __pthread_kill + 10",
		appSpecific: []string{"abort() called"},
		images:      15,
		first: crashreport.Image{Range: rng(0x105361000, 0x105361000+1933312), Name: "Xcodes",
			Path: "/Applications/Xcodes.app/Contents/MacOS/Xcodes", UUID: "910f86fa-9767-33a5-a170-248c0c6493f2", Arch: "x86_64", Version: "1.8.0"},
		last: crashreport.Image{Range: rng(140707954987008, 140707954987008+225280), Name: "AttributeGraph",
			Path: "/System/Library/PrivateFrameworks/AttributeGraph.framework/Versions/A/AttributeGraph",
			UUID: "06f5a511-e357-3dad-83c8-74bd8fc16b91", Arch: "x86_64", Version: "3.2.1"},
		sharedCache: rng(140703451049984, 140703451049984+19331678208),
		notes:       []string{"Full Report (JSON) that follows the translated report at line 104", "ignored 193 bytes after the report body, from line 318"},
	}, {
		file: "handmade-macos12-x86_64.ips", form: crashreport.FormIPS, bug: "309",
		process: "imgscale", osv: "macOS 12.1 (21C52)", cpu: "X86-64",
		exception:   "EXC_BAD_ACCESS (SIGSEGV), codes 0x0000000000000001, 0x0000000000000000, KERN_INVALID_ADDRESS at 0x0000000000000000",
		termination: "Namespace SIGNAL, Code 11 Segmentation fault: 11",
		frame:       "???: 0x0 + 0", // the process jumped to address 0, in the absent image
		images:      5,
		first: crashreport.Image{Range: rng(0x10c6d1000, 0x10c6d1000+36864), Name: "imgscale", Path: "/usr/local/bin/imgscale",
			UUID: "4e1b7c2a-d3f8-3a5e-9c07-61b2f84d0e13", Arch: "x86_64"},
		last: crashreport.Image{Range: rng(0x7ff80bd08000, 0x7ff80bd08000+45056), Name: "libsystem_pthread.dylib",
			Path: "/usr/lib/system/libsystem_pthread.dylib", UUID: "c8e2a5d1-7f34-3b0c-9e6a-1d4f82b7c035", Arch: "x86_64"},
		sharedCache: rng(0x7ff80b9e4000, 0x7ff80b9e4000+15207350272),
		notes:       []string{`usedImages[0]: skipped an unnamed image (base 0x0, uuid 00000000-0000-0000-0000-000000000000, source "A"): size 0`},
	}, {
		file: "handmade-ios14-arm64e.ips", form: crashreport.FormText, bug: "109",
		process: "TrailLog", osv: "iPhone OS 14.7.1 (18G82)", cpu: "ARM-64",
		exception:   "EXC_CRASH (SIGABRT), codes 0x0000000000000000, 0x0000000000000000",
		frame:       "libsystem_kernel.dylib: 0x1c1f37000 + 31260",
		appSpecific: []string{"abort() called"},
		images:      49,
		first: crashreport.Image{Range: rng(0x1004a0000, 0x100898000), Name: "TrailLog",
			Path: "/private/var/containers/Bundle/Application/8D3F0C2A-6B1E-4F7A-9C55-2E81B04D7A39/TrailLog.app/TrailLog",
			UUID: "95581adc-bd51-31ec-9baf-20c6b872409e", Arch: "arm64"},
		last: crashreport.Image{Range: rng(0x1e47b1000, 0x1e47e0000), Name: "WeatherFoundation",
			Path: "/System/Library/PrivateFrameworks/WeatherFoundation.framework/WeatherFoundation",
			UUID: "5b7de39f-de4f-3780-95e1-b68823dd316c", Arch: "arm64e"},
	}, {
		file: "xzone-macos26-arm64.ips", form: crashreport.FormIPS, bug: "309",
		process: "browser_tests", osv: "macOS 26.3.1 (25D2128)", cpu: "ARM-64",
		exception:   "EXC_BREAKPOINT (SIGTRAP), codes 0x0000000000000001, 0x000000018c3b2f44",
		termination: "Namespace SIGNAL, Code 5 Trace/BPT trap: 5",
		frame:       "libsystem_malloc.dylib: xzm_main_malloc_zone_init_range_groups.cold.1 + 12",
		appSpecific: []string{"BUG IN LIBMALLOC: pointer range initial reservation failed", "Abort Cause 3"},
		images:      10,
		first: crashreport.Image{Range: rng(0x100000000, 0x120500000), Name: "browser_tests",
			Path: "/Users/USER/chromium/src/out/Default/browser_tests", UUID: "5c1e8a2b-93d4-3f60-8b7a-2e4c6d1f0a97", Arch: "arm64"},
		last: crashreport.Image{Range: rng(0x41d3a0000, 0x41d76c000), Name: "libv8.dylib",
			Path: "/Users/USER/chromium/src/out/Default/libv8.dylib", UUID: "b8f1d6a3-4c0e-3a72-9d5b-2e7f8c1a6b03", Arch: "arm64"},
		sharedCache: rng(0x1863c4000, 0x1863c4000+0x1287c0000),
		xzone:       true,
		notes:       []string{"usedImages[3]: skipped an unnamed image"},
	}, {
		file: "xzone-macos26-arm64.crash", form: crashreport.FormText,
		process: "browser_tests", osv: "macOS 26.3.1 (25D2128)", cpu: "ARM-64",
		exception:   "EXC_BREAKPOINT (SIGTRAP), codes 0x0000000000000001, 0x000000018c3b2f44",
		termination: "Namespace SIGNAL, Code 5 Trace/BPT trap: 5",
		frame:       "libsystem_malloc.dylib: xzm_main_malloc_zone_init_range_groups.cold.1 + 12",
		appSpecific: []string{"BUG IN LIBMALLOC: pointer range initial reservation failed", "Abort Cause 3"},
		images:      10,
		first: crashreport.Image{Range: rng(0x100000000, 0x120500000), Name: "browser_tests",
			Path: "/Users/USER/chromium/src/out/Default/browser_tests", UUID: "5c1e8a2b-93d4-3f60-8b7a-2e4c6d1f0a97"},
		last: crashreport.Image{Range: rng(0x41d3a0000, 0x41d76c000), Name: "libv8.dylib",
			Path: "/Users/USER/chromium/src/out/Default/libv8.dylib", UUID: "b8f1d6a3-4c0e-3a72-9d5b-2e7f8c1a6b03"},
		xzone: true,
		notes: []string{"line 43: skipped the placeholder 0x0 - 0xffffffffffffffff"},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := parseSeed(t, tt.file)
			assert.Equal(t, tt.file, r.Source)
			assert.Equal(t, tt.form, r.Form)
			assert.Equal(t, tt.bug, r.BugType)
			assert.Equal(t, tt.process, r.Process)
			assert.Equal(t, tt.osv, r.OSVersion)
			assert.Equal(t, tt.cpu, r.CPUType)
			assert.False(t, r.Translated)
			assert.Equal(t, tt.exception, r.Exception)
			assert.Equal(t, tt.termination, r.Termination)
			assert.Equal(t, tt.frame, r.AbortingFrame)
			assert.Equal(t, tt.appSpecific, r.AppSpecific)
			require.Len(t, r.Images, tt.images)
			assert.Equal(t, tt.first, r.Images[0])
			assert.Equal(t, tt.last, r.Images[len(r.Images)-1])
			assert.Equal(t, tt.sharedCache, r.SharedCache)
			assert.Equal(t, tt.xzone, r.MentionsXZone())
			require.Len(t, r.Notes, len(tt.notes), "notes: %q", r.Notes)
			for i, n := range tt.notes {
				assert.Contains(t, r.Notes[i], n)
			}
			for i := 1; i < len(r.Images); i++ {
				assert.LessOrEqual(t, r.Images[i-1].Range.End, r.Images[i].Range.Start, "images sorted and disjoint")
			}
		})
	}
}

// sameImages compares what both forms of a report give for every image.
// The names differ by design (the text form names frameworks by bundle
// identifier, "com.apple.SwiftUI" for "SwiftUI") and macOS 12+ text
// gives no architecture.
func sameImages(t *testing.T, a, b []crashreport.Image) {
	t.Helper()
	require.Len(t, b, len(a))
	for i := range a {
		assert.Equal(t, a[i].Range, b[i].Range, "image %d", i)
		assert.Equal(t, a[i].Path, b[i].Path, "image %d", i)
		assert.Equal(t, a[i].UUID, b[i].UUID, "image %d", i)
		assert.Equal(t, a[i].Version, b[i].Version, "image %d", i)
	}
}

// TestTranslatedAgreesWithFullReport parses the two halves of a real
// combined report on their own: the text a person would paste and the
// JSON the crash reporter wrote must describe the same crash.
func TestTranslatedAgreesWithFullReport(t *testing.T) {
	data := readSeed(t, "xcodesapp-macos12.6-x86_64.crash")
	cut := bytes.Index(data, []byte("-----------\nFull Report"))
	require.Positive(t, cut)
	jsonAt := bytes.Index(data, []byte(`{"app_name"`))
	require.Positive(t, jsonAt)

	text, err := crashreport.Parse(bytes.NewReader(data[:cut]), "translated")
	require.NoError(t, err)
	full, err := crashreport.Parse(bytes.NewReader(data[jsonAt:]), "full")
	require.NoError(t, err)
	combined := parseSeed(t, "xcodesapp-macos12.6-x86_64.crash")

	assert.Equal(t, crashreport.FormText, text.Form)
	assert.Equal(t, crashreport.FormIPS, full.Form)
	for _, r := range []*crashreport.Report{text, combined} {
		assert.Equal(t, full.Process, r.Process)
		assert.Equal(t, full.OSVersion, r.OSVersion)
		assert.Equal(t, full.CPUType, r.CPUType)
		assert.Equal(t, full.Exception, r.Exception)
		assert.Equal(t, full.AppSpecific, r.AppSpecific)
		assert.Equal(t, full.AbortingFrame, r.AbortingFrame)
		sameImages(t, full.Images, r.Images)
	}
	assert.Equal(t, "com.apple.SwiftUI", text.Images[len(text.Images)-2].Name)
	assert.Equal(t, "SwiftUI", full.Images[len(full.Images)-2].Name)
}

// TestXZoneFormsAgree checks the hand-made XZone report in its two forms.
func TestXZoneFormsAgree(t *testing.T) {
	ips := parseSeed(t, "xzone-macos26-arm64.ips")
	text := parseSeed(t, "xzone-macos26-arm64.crash")
	sameImages(t, ips.Images, text.Images)
	for i := range ips.Images {
		assert.Equal(t, ips.Images[i].Name, text.Images[i].Name)
	}
	assert.Equal(t, ips.Exception, text.Exception)
	assert.Equal(t, ips.Termination, text.Termination)
	assert.Equal(t, ips.AppSpecific, text.AppSpecific)
	assert.Equal(t, ips.AbortingFrame, text.AbortingFrame)
}

// minimalText wraps Binary Images lines in the least a complete text
// report needs: the header lines, and the "EOF" line iOS reports end
// with.
func minimalText(lines ...string) string {
	return "Process:         t [1]\nCode Type:       ARM-64 (Native)\n\nBinary Images:\n" + strings.Join(lines, "\n") + "\n\nEOF\n"
}

// TestTextCutInBinaryImages checks that a text report cut at a line
// boundary inside its Binary Images section, which reads as a shorter
// list, is read with a note saying it may be cut short; and that the
// complete forms (an EOF line, or macOS's sections after the list) give
// no such note.
func TestTextCutInBinaryImages(t *testing.T) {
	full := string(readSeed(t, "xzone-macos26-arm64.crash"))
	lines := strings.SplitAfter(full, "\n")
	require.Equal(t, "Binary Images:\n", lines[38], "line 39 of the seed")
	upTo := func(n int) string { return strings.Join(lines[:n], "") } // lines 1..n
	const cutNote = "the report may have been cut short"
	placeholder := "line 43: skipped the placeholder"
	tests := []struct {
		name   string
		in     string
		images int
		notes  []string // substrings, one per note, in order
	}{
		{name: "cut after 3 of 10 images", in: upTo(42), images: 3,
			notes: []string{"line 39: the Binary Images section runs to the end of the report (3 image lines) with nothing after it: no EOF line"}},
		{name: "cut after the placeholder", in: upTo(45), images: 5, notes: []string{placeholder, "(6 image lines)"}},
		{name: "cut with CRLF line ends", in: strings.ReplaceAll(upTo(42), "\n", "\r\n"), images: 3, notes: []string{"images after line 42 would then be missing"}},
		{name: "cut after the list's blank line", in: upTo(51), images: 10, notes: []string{placeholder, "(11 image lines)"}},
		{name: "cut after the list, no newline", in: strings.TrimSuffix(upTo(50), "\n"), images: 10, notes: []string{placeholder, "images after line 50"}},
		{name: "complete, ends with EOF", in: full, images: 10, notes: []string{placeholder}},
		{name: "complete, macOS sections after the list", in: upTo(51) + "External Modification Summary:\n  Calls made by other processes targeting this process:\n    task_for_pid: 0\n\nVM Region Summary:\nReadOnly portion of Libraries: Total=1.1G\n",
			images: 10, notes: []string{placeholder}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := crashreport.Parse(strings.NewReader(tt.in), "cut.crash")
			require.NoError(t, err, "a report that may be complete is read, with a note")
			assert.Len(t, r.Images, tt.images)
			require.Len(t, r.Notes, len(tt.notes), "notes: %q", r.Notes)
			for i, n := range tt.notes {
				assert.Contains(t, r.Notes[i], n)
			}
			cut := !strings.HasPrefix(tt.name, "complete")
			assert.Equal(t, cut, strings.Contains(r.Notes[len(r.Notes)-1], cutNote), "notes: %q", r.Notes)
		})
	}

	// The Translated Report of a real macOS 12 report, which goes on
	// with External Modification Summary: and VM Region Summary:.
	data := readSeed(t, "xcodesapp-macos12.6-x86_64.crash")
	cut := bytes.Index(data, []byte("-----------\nFull Report"))
	require.Positive(t, cut)
	r, err := crashreport.Parse(bytes.NewReader(data[:cut]), "translated")
	require.NoError(t, err)
	assert.Empty(t, r.Notes)
	// The same cut after its fifth image.
	at := bytes.Index(data, []byte("Binary Images:\n"))
	require.Positive(t, at)
	end := at
	for range 6 {
		end += bytes.IndexByte(data[end:], '\n') + 1
	}
	r, err = crashreport.Parse(bytes.NewReader(data[:end]), "translated")
	require.NoError(t, err)
	assert.Len(t, r.Images, 5)
	require.Len(t, r.Notes, 1)
	assert.Contains(t, r.Notes[0], cutNote)
}

// TestTextImageLines reads the Binary Images line forms of several
// releases. Lines marked real are copied from published reports.
func TestTextImageLines(t *testing.T) {
	tests := []struct {
		name, line string
		want       crashreport.Image
	}{{
		// macOS 11-era third-party image: "+", version with build, arch after it.
		name: "plus, version, arch after version",
		line: "0x104c8c000 - 0x104c8ffff +com.foo.bar (1.0 - 1) arm64e <6A7C5D1E-2B3F-3C4D-9E8F-1A2B3C4D5E6F> /Applications/Foo.app/Contents/MacOS/Foo",
		want: crashreport.Image{Range: rng(0x104c8c000, 0x104c90000), Name: "com.foo.bar", Version: "1.0 - 1", Arch: "arm64e",
			UUID: "6a7c5d1e-2b3f-3c4d-9e8f-1a2b3c4d5e6f", Path: "/Applications/Foo.app/Contents/MacOS/Foo"},
	}, {
		// real: github.com/PoomSmart/EmojiAttributes/issues/7 (iOS, arm64e)
		name: "iOS name arch, 32-digit UUID",
		line: "0x1a13a9000 - 0x1a13b5fff   libsystem_networkextension.dylib arm64e  <46bbd031eb083878bb4055119e621ec0> /usr/lib/system/libsystem_networkextension.dylib",
		want: crashreport.Image{Range: rng(0x1a13a9000, 0x1a13b6000), Name: "libsystem_networkextension.dylib", Arch: "arm64e",
			UUID: "46bbd031-eb08-3878-bb40-55119e621ec0", Path: "/usr/lib/system/libsystem_networkextension.dylib"},
	}, {
		// real: github.com/brave/brave-browser/issues/12819 (macOS 11, x86_64)
		name: "macOS 11 indented, version, uppercase UUID",
		line: "    0x7fff2a584000 -     0x7fff2a596fff  libz.1.dylib (76) <0AF4F195-1F20-3F59-B09F-31E7249890D5> /usr/lib/libz.1.dylib",
		want: crashreport.Image{Range: rng(0x7fff2a584000, 0x7fff2a597000), Name: "libz.1.dylib", Version: "76",
			UUID: "0af4f195-1f20-3f59-b09f-31e7249890d5", Path: "/usr/lib/libz.1.dylib"},
	}, {
		name: "unknown name and version, no path",
		line: "0x10d5f4000 - 0x10d5f7fff ??? (???) <12345678-9ABC-DEF0-1234-56789ABCDEF0>",
		want: crashreport.Image{Range: rng(0x10d5f4000, 0x10d5f8000), Name: "???", UUID: "12345678-9abc-def0-1234-56789abcdef0"},
	}, {
		name: "name with spaces, path with spaces",
		line: "0x10a000000 - 0x10b0fffff Google Chrome Framework arm64  <0123456789abcdef0123456789abcdef> /Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Google Chrome Framework",
		want: crashreport.Image{Range: rng(0x10a000000, 0x10b100000), Name: "Google Chrome Framework", Arch: "arm64",
			UUID: "01234567-89ab-cdef-0123-456789abcdef", Path: "/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Google Chrome Framework"},
	}, {
		name: "no name: the path's last element",
		line: "0x1000 - 0x1fff <0123456789abcdef0123456789abcdef> /usr/lib/libx.dylib",
		want: crashreport.Image{Range: rng(0x1000, 0x2000), Name: "libx.dylib", UUID: "01234567-89ab-cdef-0123-456789abcdef", Path: "/usr/lib/libx.dylib"},
	}, {
		name: "one-byte image",
		line: "0x5000 - 0x5000 tiny (*) <0123456789abcdef0123456789abcdef> /tiny",
		want: crashreport.Image{Range: rng(0x5000, 0x5001), Name: "tiny", UUID: "01234567-89ab-cdef-0123-456789abcdef", Path: "/tiny"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := crashreport.Parse(strings.NewReader(minimalText(tt.line)), "t.crash")
			require.NoError(t, err)
			require.Len(t, r.Images, 1)
			assert.Equal(t, tt.want, r.Images[0])
			assert.Equal(t, "t", r.Process)
			assert.Equal(t, "ARM-64", r.CPUType)
			assert.Empty(t, r.Notes)
		})
	}
}

// TestTranslated reads Rosetta's "Code Type: X86-64 (Translated)" and
// the JSON "translated": true.
func TestTranslated(t *testing.T) {
	r, err := crashreport.Parse(strings.NewReader(strings.Replace(minimalText("0x1000 - 0x1fff a (*) <0123456789abcdef0123456789abcdef> /a"),
		"ARM-64 (Native)", "X86-64 (Translated)", 1)), "t")
	require.NoError(t, err)
	assert.Equal(t, "X86-64", r.CPUType)
	assert.True(t, r.Translated)

	r, err = crashreport.Parse(strings.NewReader(`{"bug_type":"309"}
{"cpuType":"X86-64","translated":true,"usedImages":[{"base":4096,"size":4096,"uuid":"u","name":"a"}]}`), "t")
	require.NoError(t, err)
	assert.True(t, r.Translated)
}

const hdr309 = `{"bug_type":"309","os_version":"macOS 26.3.1 (25D2128)","name":"t"}` + "\n"

// TestParseErrors checks the class, type and location of every kind of
// failure.
func TestParseErrors(t *testing.T) {
	xzone := string(readSeed(t, "xzone-macos26-arm64.ips"))
	xzoneText := string(readSeed(t, "xzone-macos26-arm64.crash"))
	cutLine := strings.Index(xzoneText, "0x3c5c10000") + len("0x3c5c10000 -        0x3ca7")
	tests := []struct {
		name, in string
		class    error
		line     int // for *ParseError: want this line (-1: any)
		where    []string
		contains []string
	}{
		{name: "empty", in: "", class: crashreport.ErrWrongFormat, line: 0, contains: []string{"empty"}},
		{name: "blank", in: " \n\t\n", class: crashreport.ErrWrongFormat, line: 0},
		{name: "not a report", in: "hello\nworld\n", class: crashreport.ErrWrongFormat, line: 1, contains: []string{`"hello"`}},
		{name: "ips cut mid-body", in: xzone[:len(xzone)/2], class: crashreport.ErrMalformed, line: strings.Count(xzone[:len(xzone)/2], "\n") + 1,
			contains: []string{"truncated", "report body", "starts at line 2"}},
		{name: "ips cut in metadata", in: xzone[:100], class: crashreport.ErrMalformed, line: 1, contains: []string{"metadata", "truncated"}},
		{name: "ips syntax error", in: hdr309 + "{\n  \"usedImages\" : [ }\n", class: crashreport.ErrMalformed, line: 3, contains: []string{"not valid JSON"}},
		{name: "text image line cut after end", in: xzoneText[:cutLine], class: crashreport.ErrMalformed, line: 48, contains: []string{"0x3c5c10000 -        0x3ca7", "cut short"}},
		{name: "text image line cut after dash", in: minimalText("0x1000 - 0x1fff a (*) <0123456789abcdef0123456789abcdef> /a", "0x3000 -"), class: crashreport.ErrMalformed, line: 6},
		{name: "text image line cut before uuid", in: minimalText("0x1000 - 0x1fff libfoo.dyl"), class: crashreport.ErrMalformed, line: 5, contains: []string{"no <UUID>"}},
		{name: "text reversed range", in: minimalText("0x2000 - 0x1fff back (*) <0123456789abcdef0123456789abcdef> /back"),
			class: crashreport.ErrBadImage, where: []string{"line 5"}, contains: []string{`"back"`, "ends before it starts"}},
		{name: "text end at 2^64", in: minimalText("0x1000 - 0xffffffffffffffff huge (*) <0123456789abcdef0123456789abcdef> /huge"),
			class: crashreport.ErrBadImage, where: []string{"line 5"}, contains: []string{`"huge"`, "2^64"}},
		{name: "text address over 64 bits", in: minimalText("0x10000000000000000 - 0x10000000000000fff big (*) <0123456789abcdef0123456789abcdef> /big"),
			class: crashreport.ErrBadImage, where: []string{"line 5"}, contains: []string{"64 bits"}},
		{name: "text overlap", in: minimalText(
			"0x1000 - 0x2fff one (*) <0123456789abcdef0123456789abcdef> /one",
			"0x2000 - 0x3fff two (*) <fedcba9876543210fedcba9876543210> /two"),
			class: crashreport.ErrOverlap, where: []string{"line 5", "line 6"}, contains: []string{`"one" [0x1000, 0x3000)`, `"two" [0x2000, 0x4000)`}},
		{name: "text without Binary Images", in: "Process: t [1]\nException Type: EXC_CRASH (SIGABRT)\n", class: crashreport.ErrNoImages, line: 0, contains: []string{"no Binary Images section"}},
		{name: "text with empty Binary Images", in: minimalText(), class: crashreport.ErrNoImages, contains: []string{"empty"}},
		{name: "text with only the placeholder", in: minimalText("0x0 - 0xffffffffffffffff ??? (*) <00000000-0000-0000-0000-000000000000> ???"),
			class: crashreport.ErrNoImages, contains: []string{"every image listed was skipped", "placeholder"}},
		{name: "ips overlap", in: hdr309 + `{"usedImages":[{"base":8192,"size":8192,"uuid":"a","name":"a"},{"base":4096,"size":8192,"uuid":"b","name":"b"}]}`,
			class: crashreport.ErrOverlap, where: []string{"usedImages[1]", "usedImages[0]"}},
		{name: "ips range past 2^64", in: hdr309 + `{"usedImages":[{"base":18446744073709547520,"size":8192,"uuid":"a","name":"top"}]}`,
			class: crashreport.ErrBadImage, where: []string{"usedImages[0]"}, contains: []string{`"top"`, "past the 64-bit"}},
		{name: "ips base over 64 bits", in: hdr309 + `{"usedImages":[{"base":18446744073709551616,"size":1,"uuid":"a"}]}`,
			class: crashreport.ErrMalformed, line: 2, contains: []string{"usedImages[0].base", "64 bits"}},
		{name: "ips negative size", in: hdr309 + `{"usedImages":[{"base":4096,"size":-1,"uuid":"a","name":"neg"}]}`,
			class: crashreport.ErrMalformed, line: 2, contains: []string{"usedImages[0].size", `"neg"`}},
		{name: "ips base of the wrong type", in: hdr309 + "{\n\"usedImages\":[\n{\"base\":4096,\"size\":1,\"uuid\":\"a\"},\n{\"base\":\"abc\",\"size\":1,\"uuid\":\"b\"}]}",
			class: crashreport.ErrMalformed, line: 5, contains: []string{"usedImages[1].base"}},
		{name: "ips name of the wrong type", in: hdr309 + `{"usedImages":[{"base":4096,"size":1,"uuid":"a","name":7}]}`,
			class: crashreport.ErrMalformed, line: 2, contains: []string{"usedImages[0].name", "string"}},
		{name: "ips image not an object", in: hdr309 + `{"usedImages":[5]}`,
			class: crashreport.ErrMalformed, line: 2, contains: []string{"usedImages[0]", "want a JSON object, found a JSON number"}},
		{name: "ips image without base", in: hdr309 + `{"usedImages":[{"size":1,"uuid":"a","name":"nob"}]}`,
			class: crashreport.ErrMalformed, line: 2, contains: []string{`"nob" has no base`}},
		{name: "ips usedImages not an array", in: hdr309 + `{"usedImages":null}`, class: crashreport.ErrMalformed, line: 2, contains: []string{"want a JSON array, found null"}},
		{name: "ips empty usedImages", in: hdr309 + `{"usedImages":[]}`, class: crashreport.ErrNoImages, contains: []string{"empty"}},
		{name: "ips only absent images", in: hdr309 + `{"usedImages":[{"size":0,"source":"A","base":0,"uuid":"00000000-0000-0000-0000-000000000000"}]}`,
			class: crashreport.ErrNoImages, contains: []string{"every image listed was skipped"}},
		{name: "ips without usedImages", in: `{"bug_type":"288","name":"t"}` + "\n" + `{"procName":"t"}`, class: crashreport.ErrNoImages, line: 2,
			contains: []string{"bug type 288 (stackshot) has no usedImages list"}},
		{name: "ips metadata only", in: `{"bug_type":"210","os_version":"macOS 15.5"}` + "\n", class: crashreport.ErrNoImages, line: 2,
			contains: []string{"bug type 210 (kernel panic)", "no report body"}},
		{name: "ips bug type 151 seed", in: string(readSeed(t, "handmade-ios16-forcereset.ips")), class: crashreport.ErrNoImages, line: 2,
			contains: []string{"bug type 151 (force-reset report)", "binaryImages"}},
		{name: "ips procName of the wrong type", in: hdr309 + `{"procName":["x"],"usedImages":[]}`, class: crashreport.ErrMalformed, line: 2, contains: []string{"procName"}},
		{name: "legacy header, text without images", in: `{"bug_type":"109"}` + "\nIncident Identifier: X\nProcess: p [1]\n", class: crashreport.ErrNoImages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := crashreport.Parse(strings.NewReader(tt.in), "in.crash")
			require.Error(t, err)
			assert.Nil(t, r)
			assert.ErrorIs(t, err, tt.class)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "crashreport: in.crash"), msg)
			for _, c := range tt.contains {
				assert.Contains(t, msg, c)
			}
			var pe *crashreport.ParseError
			var ie *crashreport.ImageError
			switch {
			case errors.As(err, &pe):
				assert.Equal(t, "in.crash", pe.Source)
				assert.Nil(t, tt.where, "want an *ImageError, got %v", err)
				if tt.line >= 0 {
					assert.Equal(t, tt.line, pe.Line, msg)
				}
				if pe.Offset >= 0 {
					assert.LessOrEqual(t, pe.Offset, int64(len(tt.in)))
				}
			case errors.As(err, &ie):
				assert.Equal(t, "in.crash", ie.Source)
				assert.Equal(t, tt.where, ie.Where, msg)
				assert.Len(t, ie.Images, len(ie.Where))
			default:
				t.Fatalf("error %T is neither *ParseError nor *ImageError: %v", err, err)
			}
		})
	}
}

// TestErrorClassesAreLoaders checks that the classes shared with package
// loader are the same values.
func TestErrorClassesAreLoaders(t *testing.T) {
	_, err := crashreport.Parse(strings.NewReader(hdr309+`{"usedImages":`), "cut.ips")
	require.Error(t, err)
	assert.ErrorIs(t, err, loader.ErrMalformed)
	_, err = crashreport.Parse(strings.NewReader("plain text\n"), "x")
	assert.ErrorIs(t, err, loader.ErrWrongFormat)
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestParseTooLarge(t *testing.T) {
	_, err := crashreport.Parse(endless{}, "endless")
	require.Error(t, err)
	assert.ErrorIs(t, err, crashreport.ErrTooLarge)
	var pe *crashreport.ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "endless", pe.Source)
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestParseReadError(t *testing.T) {
	_, err := crashreport.Parse(failing{}, "pipe")
	assert.ErrorIs(t, err, io.ErrClosedPipe)
	var pe *crashreport.ParseError
	assert.ErrorAs(t, err, &pe)
}

// TestNotes checks that what is skipped is said, never dropped silently.
func TestNotes(t *testing.T) {
	dup := minimalText(
		"0x1000 - 0x1fff one (*) <0123456789abcdef0123456789abcdef> /one",
		"0x1000 - 0x1fff one (*) <0123456789abcdef0123456789abcdef> /one")
	r, err := crashreport.Parse(strings.NewReader(dup), "dup")
	require.NoError(t, err)
	assert.Len(t, r.Images, 1)
	require.Len(t, r.Notes, 1)
	assert.Contains(t, r.Notes[0], "line 6: skipped")
	assert.Contains(t, r.Notes[0], "listed again (first at line 5)")

	r, err = crashreport.Parse(strings.NewReader(`{"bug_type":"288"}`+"\n"+
		`{"usedImages":[{"base":4096,"size":4096,"uuid":"a","name":"a"}],"exception":7,"asi":{"x":["m"],"y":3}}`+"\ntrailing"), "stackshot")
	require.NoError(t, err)
	assert.Equal(t, []string{"m"}, r.AppSpecific)
	assert.Equal(t, "", r.Exception)
	joined := strings.Join(r.Notes, "\n")
	assert.Contains(t, joined, "could not read exception")
	assert.Contains(t, joined, `could not read asi["y"]`)
	assert.Contains(t, joined, "bug type 288 (stackshot), not a crash report")
	assert.Contains(t, joined, "ignored 8 bytes after the report body, from line 2")

	r, err = crashreport.Parse(strings.NewReader(`{"bug_type":"309","usedImages":[{"base":4096,"size":4096,"uuid":"a","name":"a"}],"faultingThread":9,"threads":[{"frames":[{"imageIndex":5,"imageOffset":16}]}]}`), "single")
	require.NoError(t, err)
	joined = strings.Join(r.Notes, "\n")
	assert.Contains(t, joined, "single JSON object")
	assert.Contains(t, joined, "faultingThread 9 names no thread of the 1 listed")
	assert.Equal(t, "", r.AbortingFrame, "no thread is marked triggered")
}

// TestAbortingFrame checks the crashed thread's choice and rendering.
func TestAbortingFrame(t *testing.T) {
	images := `"usedImages":[{"base":4096,"size":8192,"uuid":"a","name":"liba.dylib"},{"base":65536,"size":4096,"uuid":"b","path":"/usr/lib/libb.dylib"}]`
	tests := []struct {
		name, body, want string
	}{
		{"faultingThread", `"faultingThread":1,"threads":[{"frames":[{"imageIndex":0,"imageOffset":1}]},{"frames":[{"imageIndex":1,"imageOffset":32,"symbol":"f","symbolLocation":8}]}]`, "libb.dylib: f + 8"},
		{"triggered", `"threads":[{"frames":[]},{"triggered":true,"frames":[{"imageIndex":0,"imageOffset":256}]}]`, "liba.dylib: 0x1000 + 256"},
		{"unknown image", `"threads":[{"triggered":true,"frames":[{"imageIndex":7,"imageOffset":1,"symbol":"g"}]}]`, "???: g + 0"},
		{"no frames", `"threads":[{"triggered":true}]`, ""},
		{"threads not an array", `"threads":{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := crashreport.Parse(strings.NewReader(hdr309+"{"+images+","+tt.body+"}"), "t")
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.AbortingFrame)
		})
	}
}

func TestMentionsXZone(t *testing.T) {
	tests := []struct {
		name string
		r    crashreport.Report
		want bool
	}{
		{"message", crashreport.Report{AppSpecific: []string{"BUG IN LIBMALLOC: pointer range initial reservation failed"}}, true},
		{"message with cause", crashreport.Report{AppSpecific: []string{"x", "BUG IN LIBMALLOC: pointer range initial reservation failed, Abort Cause 3"}}, true},
		{"cold frame", crashreport.Report{AbortingFrame: "libsystem_malloc.dylib: xzm_main_malloc_zone_init_range_groups.cold.1 + 12"}, true},
		{"frame", crashreport.Report{AbortingFrame: "libsystem_malloc.dylib: xzm_main_malloc_zone_init_range_groups + 412"}, true},
		{"other libmalloc bug", crashreport.Report{AppSpecific: []string{"BUG IN LIBMALLOC: pointer range mach_vm_map() overwrite failed"},
			AbortingFrame: "libsystem_malloc.dylib: _xzm_range_group_bump_alloc_segment + 200"}, false},
		{"abort", crashreport.Report{AppSpecific: []string{"abort() called"}, AbortingFrame: "libsystem_kernel.dylib: __pthread_kill + 8"}, false},
		{"empty", crashreport.Report{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.MentionsXZone())
		})
	}
}
