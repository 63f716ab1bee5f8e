package crashreport

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
)

// Errors Parse and Report.Space return, grouped by what the caller can do
// about them. Every error about a report's content matches exactly one of
// them with errors.Is; get the details with errors.As into *ParseError or
// *ImageError. (A failing reader's error is passed on inside a
// *ParseError; invalid SpaceOptions give vaspace's error.)
var (
	// ErrWrongFormat is the class of errors for input that is neither
	// form of crash report: no JSON metadata line and none of the text
	// form's header lines. It is loader.ErrWrongFormat.
	ErrWrongFormat = loader.ErrWrongFormat
	// ErrMalformed is the class of errors for a report in one of the forms
	// that cannot be read: JSON cut short or not JSON, a Binary Images
	// line cut short, a field of the wrong type. It is
	// loader.ErrMalformed.
	ErrMalformed = loader.ErrMalformed
	// ErrTooLarge is the class of errors for a report larger than
	// MaxReportBytes.
	ErrTooLarge = input.ErrTooLarge
	// ErrNoImages is the class of errors for a report with no image list:
	// a bug type whose body has no usedImages (a panic, a stackshot
	// without one), a text report without a Binary Images section, or a
	// list whose every entry was skipped.
	ErrNoImages = errors.New("crash report lists no loaded images")
	// ErrBadImage is the class of errors for an image whose range cannot
	// be an address range: it ends before it starts, or runs past 2^64.
	ErrBadImage = errors.New("bad image address range")
	// ErrOverlap is the class of errors for two images whose ranges
	// overlap, as read or (Report.Space) once rounded out to pages.
	ErrOverlap = errors.New("images overlap")
	// ErrOutOfBounds is the class of errors Report.Space returns for an
	// image that lies above the top of the address space it builds.
	ErrOutOfBounds = errors.New("image lies outside the address space")
	// ErrUnknownCPU is the class of errors Report.Space returns when it is
	// left to choose the page size or top and the report's CPU type is
	// neither ARM-64 nor X86-64.
	ErrUnknownCPU = errors.New("no default page size and address-space top for the CPU type")
)

// ParseError reports a report that could not be read, and where.
type ParseError struct {
	// Source names the report, as given to Parse.
	Source string
	// Line is the 1-based line of the problem, or 0 when it has none.
	Line int
	// Offset is the byte offset of the problem in the input, or -1.
	Offset int64
	// Field is what was being read: a JSON path ("usedImages[3].base"),
	// a text section ("Binary Images"), or "".
	Field string
	// Detail says what was wrong and, where it helps, what would fix it.
	Detail string
	// Err is the class: ErrWrongFormat, ErrMalformed, ErrTooLarge or
	// ErrNoImages (or an I/O error from the reader).
	Err error
}

// Error formats the failure as
// "crashreport: SOURCE:LINE (byte OFFSET): FIELD: CLASS: DETAIL".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("crashreport: ")
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (byte %d)", e.Offset)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// Unwrap returns the class.
func (e *ParseError) Unwrap() error { return e.Err }

// ImageError reports images whose ranges are unusable: a bad range (one
// image), an overlap (two images), or no usable image at all (none).
type ImageError struct {
	// Source names the report, as given to Parse.
	Source string
	// Images are the images at fault. For ErrBadImage the Range holds
	// only the start (End == Start); Detail gives the numbers read.
	Images []Image
	// Where locates each image in the report, parallel to Images:
	// "line 412" (text form) or "usedImages[3]" (JSON form).
	Where []string
	// Detail says what was wrong and, where it helps, what would fix it.
	Detail string
	// Err is the class: ErrBadImage, ErrOverlap, ErrOutOfBounds or
	// ErrNoImages.
	Err error
}

// Error formats the failure as
// `crashreport: SOURCE: CLASS: image "NAME" [START, END) (WHERE) and ...: DETAIL`.
func (e *ImageError) Error() string {
	var b strings.Builder
	b.WriteString("crashreport: ")
	b.WriteString(e.Source)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	for i, im := range e.Images {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(" and ")
		}
		b.WriteString(im.String())
		if i < len(e.Where) && e.Where[i] != "" {
			b.WriteString(" (" + e.Where[i] + ")")
		}
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// Unwrap returns the class.
func (e *ImageError) Unwrap() error { return e.Err }
