package loader

import (
	"errors"
	"fmt"
	"strings"
)

// Errors every reader of the loader packages reports, grouped by what the
// caller can do about them (ErrBadSpec, for a spec that cannot be laid
// out, is beside Validate). Match them with errors.Is; get the details
// with errors.As into *FileError (or *SpecError).
var (
	// ErrWrongFormat is the class of errors for input that is not in the
	// format it was read as at all: an ELF reader given a file without
	// \x7fELF, a Mach-O reader given neither a Mach-O nor a universal
	// magic. glibc reports such a library as "invalid ELF header".
	ErrWrongFormat = errors.New("not in the expected format")
	// ErrMalformed is the class of errors for input in the right format
	// that is truncated, inconsistent or otherwise unusable: an object
	// file, an ld.so.cache, a JSON document.
	ErrMalformed = errors.New("malformed input")
	// ErrNoArch is the class of errors for a universal Mach-O file (or a
	// thin one) with no slice for the requested architecture, or several
	// slices and no rule to choose between them.
	ErrNoArch = errors.New("no slice for the architecture")
)

// FileError reports input that could not be read: which file, in which
// format, what was being read, and where (a byte offset, or a field path
// for a document). Its Error method names the file once, whatever the
// cause wraps.
type FileError struct {
	Path   string // the file as given; "" for input that is not a file
	Format string // "ELF", "Mach-O", "ld.so.cache", "JSON", ...
	// Slice names the slice of a universal Mach-O file ("arm64"), or "".
	Slice string
	// What is what was being read: "PT_INTERP (program header 3)", "load
	// command 7 (LC_LOAD_WEAK_DYLIB)", "images[3].segments[1].vmsize"; ""
	// for the whole file.
	What string
	// Offset is the byte offset of the problem, or -1 when it has no
	// single location.
	Offset int64
	// Err is the cause.
	Err error
	// Class is ErrWrongFormat, ErrMalformed or ErrNoArch; nil means
	// ErrMalformed.
	Class error
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Slice != "" {
		b.WriteString(" (" + e.Slice + " slice)")
	}
	if e.What != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.What)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at offset %#x", e.Offset)
	}
	if e.Err != nil {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, e.Class) true (ErrMalformed when Class is nil).
func (e *FileError) Is(target error) bool {
	if e.Class == nil {
		return target == ErrMalformed
	}
	return target == e.Class
}
