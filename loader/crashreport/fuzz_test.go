package crashreport_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vasim/vasim/loader/crashreport"
	"github.com/vasim/vasim/vaspace"
)

// maxSeed bounds the fuzz seeds taken from testdata. The fuzzer
// minimizes every new interesting input before it goes on, and its
// byte-slice minimizer tries removing every subrange (quadratic in the
// length), so seeds of tens of KiB stall "go test -fuzz" at 0 execs/sec
// for its whole -fuzzminimizetime. Larger reports are therefore cut to
// their first lines (a cut text report still parses, a cut JSON one
// exercises the truncation errors), and JSON ones are also added
// shortened by compactIPS. The parse tests read them whole.
const maxSeed = 2 << 10

// seeds adds the testdata reports whose names match.
func seeds(f *testing.F, match func(name string) bool) {
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, ".md") || !match(name) {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > maxSeed {
			if c, ok := compactIPS(data); ok {
				f.Add(c)
			}
			data = data[:bytes.LastIndexByte(data[:maxSeed], '\n')+1]
		}
		f.Add(data)
	}
}

// compactIPS shortens a JSON report for a fuzz seed: the metadata line,
// then the body members Parse reads, with at most 4 images and the first
// 2 frames of the first thread.
func compactIPS(data []byte) ([]byte, bool) {
	at := bytes.Index(data, []byte(`{"app_name"`))
	if at < 0 {
		at = 0
	}
	dec := json.NewDecoder(bytes.NewReader(data[at:]))
	dec.UseNumber()
	var hdr, body map[string]any
	if dec.Decode(&hdr) != nil || dec.Decode(&body) != nil {
		return nil, false
	}
	keep := map[string]any{}
	for _, k := range []string{"procName", "cpuType", "translated", "osVersion", "bug_type", "exception", "termination", "asi", "faultingThread", "sharedCache"} {
		if v, ok := body[k]; ok {
			keep[k] = v
		}
	}
	if ims, ok := body["usedImages"].([]any); ok {
		keep["usedImages"] = ims[:min(len(ims), 4)]
	}
	if ths, ok := body["threads"].([]any); ok && len(ths) > 0 {
		if th, ok := ths[0].(map[string]any); ok {
			if fr, ok := th["frames"].([]any); ok {
				th["frames"] = fr[:min(len(fr), 2)]
			}
			delete(th, "threadState")
			keep["threads"] = []any{th}
		}
	}
	h, err1 := json.Marshal(hdr)
	b, err2 := json.Marshal(keep)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return append(append(h, '\n'), b...), true
}

// checkParse is the property both fuzz targets check: Parse never
// panics; it fails with a *ParseError or *ImageError of one class, or
// returns a report whose images are non-empty, sorted and disjoint, and
// which Space lays out in a valid vaspace.Space (or refuses with an
// *ImageError).
func checkParse(t *testing.T, data []byte) {
	r, err := crashreport.Parse(bytes.NewReader(data), "fuzz")
	if err != nil {
		if r != nil {
			t.Fatalf("Parse returned a report and an error: %v", err)
		}
		var pe *crashreport.ParseError
		var ie *crashreport.ImageError
		if !errors.As(err, &pe) && !errors.As(err, &ie) {
			t.Fatalf("error %T is neither *ParseError nor *ImageError: %v", err, err)
		}
		n := 0
		for _, class := range []error{crashreport.ErrWrongFormat, crashreport.ErrMalformed, crashreport.ErrTooLarge,
			crashreport.ErrNoImages, crashreport.ErrBadImage, crashreport.ErrOverlap} {
			if errors.Is(err, class) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error matches %d classes, want 1: %v", n, err)
		}
		if pe != nil && pe.Offset > int64(len(data)) {
			t.Fatalf("offset %d past the end of %d bytes: %v", pe.Offset, len(data), err)
		}
		return
	}
	if r.Form != crashreport.FormIPS && r.Form != crashreport.FormText {
		t.Fatalf("form %q", r.Form)
	}
	if len(r.Images) == 0 {
		t.Fatal("a report without images")
	}
	for i, im := range r.Images {
		if im.Range.IsEmpty() || !im.Range.WellFormed() {
			t.Fatalf("image %d has range %v", i, im.Range)
		}
		if i > 0 && r.Images[i-1].Range.End > im.Range.Start {
			t.Fatalf("images %d and %d overlap or are out of order: %v, %v", i-1, i, r.Images[i-1], im)
		}
	}
	_ = r.MentionsXZone()
	for _, opts := range []crashreport.SpaceOptions{
		{PageSize: 16 << 10, Top: crashreport.ARM64VATop},
		{PageSize: 4 << 10, Top: 0xFFFFFFFFFFFFF000, MergeSharedPages: true},
		{PageSize: 16 << 10, Top: 0xFFFFFFFFFFFFC000, MergeSharedPages: true},
	} {
		s, err := r.Space(opts)
		if err != nil {
			var ie *crashreport.ImageError
			if !errors.As(err, &ie) {
				t.Fatalf("Space(%+v): error %T: %v", opts, err, err)
			}
			if opts.MergeSharedPages && errors.Is(err, crashreport.ErrOverlap) {
				t.Fatalf("Space(%+v) reported an overlap: %v", opts, err)
			}
			continue
		}
		if err := s.Check(); err != nil {
			t.Fatalf("Space(%+v): %v", opts, err)
		}
		for _, im := range r.Images {
			m, ok := s.At(im.Range.Start)
			if !ok || !m.ContainsRange(im.Range) || m.Kind != vaspace.KindImage {
				t.Fatalf("Space(%+v): image %v is not inside one image mapping (%v)", opts, im, m)
			}
		}
	}
}

// FuzzParseIPS fuzzes Parse from reports in the JSON form.
func FuzzParseIPS(f *testing.F) {
	seeds(f, func(name string) bool { return strings.HasSuffix(name, ".ips") })
	if c, ok := compactIPS(readSeed(f, "xcodesapp-macos12.6-x86_64.crash")); ok {
		f.Add(c) // the Full Report alone, shortened
	}
	f.Add([]byte(hdr309 + `{"usedImages":[{"base":4096,"size":4096,"uuid":"a","name":"a"}]}`))
	f.Add([]byte(`{"bug_type":"309","usedImages":[{"base":"0x1000","size":1,"uuid":"a"}],"threads":[{"triggered":true,"frames":[{"imageIndex":0}]}]}`))
	f.Add([]byte(hdr309 + `{"usedImages":[{"base":18446744073709547520,"size":4096,"uuid":"a"},{"base":0,"size":0,"uuid":"b"}],"asi":{"a":"x"}}`))
	f.Add([]byte(`{"bug_type":"109"}` + "\nProcess: p [1]\nBinary Images:\n0x1000 - 0x1fff a arm64e <0123456789abcdef0123456789abcdef> /a\n"))
	f.Fuzz(checkParse)
}

// FuzzParseText fuzzes Parse from reports in the text form.
func FuzzParseText(f *testing.F) {
	seeds(f, func(name string) bool { return strings.HasSuffix(name, ".crash") })
	f.Add(readSeed(f, "handmade-ios14-arm64e.ips")[:maxSeed/2]) // the text under the metadata line
	f.Add([]byte(minimalText(
		"0x104c8c000 - 0x104c8ffff +com.foo.bar (1.0 - 1) arm64e <6A7C5D1E-2B3F-3C4D-9E8F-1A2B3C4D5E6F> /Applications/Foo.app/Contents/MacOS/Foo",
		"0x0 - 0xffffffffffffffff ??? (*) <00000000-0000-0000-0000-000000000000> ???",
		"0x10d5f4000 - 0x10d5f7fff ??? (???) <12345678-9ABC-DEF0-1234-56789ABCDEF0>")))
	f.Add([]byte("Process: t [1]\nCode Type: X86-64 (Translated)\nException Type: EXC_BAD_ACCESS (SIGSEGV)\nException Codes: KERN_INVALID_ADDRESS at 0x0\n" +
		"Termination Signal: Segmentation fault: 11\nTermination Reason: Namespace SIGNAL, Code 0xb\n\nApplication Specific Information:\nabort() called\n\n" +
		"Thread 3 Crashed:\n0   libsystem_kernel.dylib  0x00007fff2cd1e33a __pthread_kill + 10\n\nBinary Images:\n    0x10a000000 - 0x10a0fffff a (1) <0123456789abcdef0123456789abcdef>\n"))
	f.Fuzz(checkParse)
}
