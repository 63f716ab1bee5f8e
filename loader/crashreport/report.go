package crashreport

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/vasim/vasim/vaspace"
)

// MaxReportBytes is the largest report Parse reads: 64 MiB. Real crash
// reports are well under 1 MiB (a report with 1,500 images and every
// thread is a few MiB); the limit keeps a wrong file from being read
// without bound.
const MaxReportBytes = 64 << 20

// The forms of report Parse reads, as Report.Form names them.
const (
	// FormIPS is the JSON form of macOS 12 and later.
	FormIPS = "ips"
	// FormText is the older text form, alone or under a JSON metadata
	// line (bug_type 109).
	FormText = "text"
)

// Report is what a crash report says about one crashed process: where
// its images were, and what killed it.
type Report struct {
	// Source names the report, as given to Parse.
	Source string
	// Form is FormIPS or FormText.
	Form string
	// BugType is the metadata's bug_type ("309" for a crash; "109" for
	// the iOS 14 text form), or "" for a text report without metadata.
	BugType string
	// Process is the process name (procName; the text form's "Process:"
	// without its [pid]).
	Process string
	// OSVersion is the metadata's os_version ("macOS 26.3.1 (25D2128)"),
	// or the text form's "OS Version:".
	OSVersion string
	// CPUType is the process's architecture as the report names it:
	// "ARM-64", "X86-64" (cpuType; the text form's "Code Type:" without
	// its "(Native)").
	CPUType string
	// Translated is true for a process that ran under Rosetta
	// ("translated": true; "Code Type: X86-64 (Translated)").
	Translated bool
	// Exception is the exception type with its signal, codes and subtype:
	// "EXC_BREAKPOINT (SIGTRAP), codes 0x0000000000000001, 0x000000018c3b2f44".
	Exception string
	// Termination is the termination reason:
	// "Namespace SIGNAL, Code 5 Trace/BPT trap: 5".
	Termination string
	// AppSpecific holds the application-specific information lines: the
	// messages of the JSON form's asi object (ordered by the name of the
	// image that set them), or the lines of the text form's "Application
	// Specific Information:" section. libmalloc's XZone reservation
	// failure puts "BUG IN LIBMALLOC: pointer range initial reservation
	// failed" here.
	AppSpecific []string
	// AbortingFrame is the top frame of the crashed thread as
	// "IMAGE: SYMBOL + OFFSET"
	// ("libsystem_malloc.dylib: xzm_main_malloc_zone_init_range_groups.cold.1 + 12"),
	// or "IMAGE: 0xBASE + OFFSET" when the frame is not symbolicated; ""
	// when the report has no crashed thread.
	AbortingFrame string
	// Images are the loaded images with a usable range, sorted by start
	// address; no two overlap.
	Images []Image
	// SharedCache is the range of the dyld shared cache (the JSON form's
	// sharedCache base and size), or the empty range when the report does
	// not give it. The cache's images are also in Images, one by one.
	SharedCache vaspace.Range
	// Notes say what was skipped or could not be read, and why.
	Notes []string
}

// Image is one loaded image as a crash report lists it.
type Image struct {
	// Range is the image's range, [base, base+size) from the JSON form or
	// [START, END+1) from the text form, whose END is inclusive. In the
	// reports checked this is the image's __TEXT segment (see the package
	// documentation).
	Range vaspace.Range
	// Name is the image's name as the report gives it: the usedImages
	// name (or, when there is none, the last element of its path); in the
	// text form the name or bundle identifier before the version, with a
	// leading "+" (not part of the OS) removed. It may be "???".
	Name string
	// Path is the image's file, or "" when the report does not give it.
	Path string
	// UUID is the image's LC_UUID in lowercase 8-4-4-4-12 form.
	UUID string
	// Arch is the image's architecture ("arm64e", "x86_64"), or "" when
	// the report does not give it (macOS 12+ translated text omits it).
	Arch string
	// Version is the image's version: CFBundleShortVersionString (else
	// CFBundleVersion) in the JSON form, the text inside "(...)" in the
	// text form; "" when unknown ("(*)", "(???)").
	Version string
}

// String formats the image as `"NAME" [START, END)`.
func (im Image) String() string {
	return fmt.Sprintf("%q %v", im.label(), im.Range)
}

// label is the image's name for messages and mappings: its Name, else the
// last element of its path, else "???".
func (im Image) label() string {
	switch {
	case im.Name != "":
		return im.Name
	case im.Path != "":
		return path.Base(im.Path)
	}
	return "???"
}

// owner is what a mapping of the image names as its owner: its path,
// else its name.
func (im Image) owner() string {
	if im.Path != "" {
		return im.Path
	}
	return im.label()
}

// located is an image with where the report gives it.
type located struct {
	Image
	where string
}

// Parse reads one crash report from r, in either form (see the package
// documentation), and returns what it says. source names the report in
// errors and in Report.Source. At most MaxReportBytes are read.
//
// Errors are *ParseError (the input cannot be read as a report) or
// *ImageError (its image ranges are unusable).
func Parse(r io.Reader, source string) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReportBytes+1))
	if err != nil {
		return nil, &ParseError{Source: source, Offset: -1, Detail: "reading the report", Err: err}
	}
	if len(data) > MaxReportBytes {
		return nil, &ParseError{Source: source, Offset: -1, Err: ErrTooLarge,
			Detail: fmt.Sprintf("more than %d bytes; crash reports are far smaller, so this is probably not one", MaxReportBytes)}
	}
	return parse(data, source)
}

// parser holds the whole input, so that any offset in it can be turned
// into a line number.
type parser struct {
	src  string
	data []byte
	rep  *Report
}

func (p *parser) note(format string, args ...any) {
	p.rep.Notes = append(p.rep.Notes, fmt.Sprintf(format, args...))
}

// lineAt returns the 1-based line holding byte off.
func (p *parser) lineAt(off int64) int {
	if off < 0 {
		return 0
	}
	if off > int64(len(p.data)) {
		off = int64(len(p.data))
	}
	return 1 + bytes.Count(p.data[:off], []byte{'\n'})
}

// errAt returns a *ParseError at byte off.
func (p *parser) errAt(off int64, field string, class error, format string, args ...any) *ParseError {
	return &ParseError{Source: p.src, Line: p.lineAt(off), Offset: off, Field: field, Detail: fmt.Sprintf(format, args...), Err: class}
}

func parse(data []byte, source string) (*Report, error) {
	p := &parser{src: source, data: data, rep: &Report{Source: source}}
	start := 0
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		start = 3
	}
	for start < len(data) && isSpace(data[start]) {
		start++
	}
	if start == len(data) {
		return nil, &ParseError{Source: source, Offset: -1, Err: ErrWrongFormat, Detail: "the input is empty"}
	}
	var (
		imgs []located
		err  error
	)
	switch {
	case data[start] == '{':
		imgs, err = p.parseIPS(start)
	default:
		if off, line, ok := fullReportAt(data, start); ok {
			p.note("read the Full Report (JSON) that follows the translated report at line %d", line)
			imgs, err = p.parseIPS(off)
		} else {
			imgs, err = p.parseText(start)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := p.finish(imgs); err != nil {
		return nil, err
	}
	return p.rep, nil
}

// fullReportAt finds the JSON "Full Report" that Console and the crash
// reporter window put after a "Translated Report (Full Report Below)":
// a line "Full Report" between two lines of dashes, then the JSON. It
// returns the offset of the JSON's first '{' and the line of the
// "Full Report" heading.
func fullReportAt(data []byte, start int) (off int, line int, ok bool) {
	if !bytes.Contains(data[start:min(len(data), start+512)], []byte("Translated Report")) {
		return 0, 0, false
	}
	lines := bytes.SplitAfter(data, []byte{'\n'})
	pos := 0
	for i, l := range lines {
		if i > 0 && i+1 < len(lines) && string(bytes.TrimSpace(l)) == "Full Report" &&
			isDashes(lines[i-1]) && isDashes(lines[i+1]) {
			after := pos + len(l) + len(lines[i+1])
			for after < len(data) && isSpace(data[after]) {
				after++
			}
			if after < len(data) && data[after] == '{' {
				return after, i + 1, true
			}
			return 0, 0, false
		}
		pos += len(l)
	}
	return 0, 0, false
}

func isDashes(l []byte) bool {
	t := bytes.TrimSpace(l)
	return len(t) >= 3 && len(bytes.Trim(t, "-")) == 0
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// finish sorts the images, drops exact duplicates with a note, and
// rejects overlaps and an empty list.
func (p *parser) finish(imgs []located) error {
	slices.SortStableFunc(imgs, func(a, b located) int {
		if c := cmp.Compare(a.Range.Start, b.Range.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Range.End, b.Range.End)
	})
	out := make([]located, 0, len(imgs))
	for _, im := range imgs {
		if n := len(out); n > 0 {
			prev := out[n-1]
			if prev.Image == im.Image {
				p.note("%s: skipped %s, listed again (first at %s)", im.where, im.Image, prev.where)
				continue
			}
			if im.Range.Start < prev.Range.End {
				return &ImageError{Source: p.src, Images: []Image{prev.Image, im.Image}, Where: []string{prev.where, im.where}, Err: ErrOverlap,
					Detail: "two loaded images cannot share addresses; the report is inconsistent or was edited"}
			}
		}
		out = append(out, im)
	}
	if len(out) == 0 {
		detail := "the image list is empty"
		if len(p.rep.Notes) > 0 {
			detail = "every image listed was skipped (see the notes: " + strings.Join(p.rep.Notes, "; ") + ")"
		}
		return &ImageError{Source: p.src, Err: ErrNoImages, Detail: detail}
	}
	p.rep.Images = make([]Image, len(out))
	for i, im := range out {
		p.rep.Images[i] = im.Image
	}
	return nil
}

// normUUID writes a UUID in lowercase 8-4-4-4-12 form when it has 32 hex
// digits (with or without dashes), and lowercases it otherwise.
func normUUID(s string) string {
	h := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(h) != 32 || strings.Trim(h, "0123456789abcdef") != "" {
		return strings.ToLower(s)
	}
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// The messages and function that mark libmalloc's XZone pointer-range
// reservation failure: xzm_main_malloc_zone_init_range_groups calls
// xzm_abort_with_reason("pointer range initial reservation failed", kr)
// when its fixed mach_vm_map fails, and the report shows the message with
// libmalloc's "BUG IN LIBMALLOC: " prefix (libmalloc-792.41.1
// src/xzone_malloc/xzone_segment.c; the observed report is Apple
// Developer Forums thread 821081).
const (
	xzoneMessage  = "pointer range initial reservation failed"
	xzoneFunction = "xzm_main_malloc_zone_init_range_groups"
)

// MentionsXZone reports whether the report itself says that libmalloc's
// XZone pointer-range reservation failed: an application-specific line
// carries the message "pointer range initial reservation failed", or the
// aborting frame is in xzm_main_malloc_zone_init_range_groups (or its
// .cold.N outlined part). It reads only what the report says; whether the
// layout could have made the reservation fail is package xzone's
// question.
func (r *Report) MentionsXZone() bool {
	for _, l := range r.AppSpecific {
		if strings.Contains(l, xzoneMessage) {
			return true
		}
	}
	return strings.Contains(r.AbortingFrame, xzoneFunction)
}
