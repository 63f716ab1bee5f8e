// Package input opens and reads the files vasim is given, so that no
// input can hang it or make it read without bound: only regular files are
// opened (a FIFO would block in open(2), a device or /proc file could be
// endless), whole-file reads have a size limit, and "-" reads standard
// input where a command allows it, under the same limit.
package input

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is the class of errors for a path that names something
// other than a regular file: a directory, a FIFO, a socket or a device.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is the class of errors for input larger than its limit.
var ErrTooLarge = errors.New("input too large")

// Stdin is what "-" reads; tests replace it.
var Stdin io.Reader = os.Stdin

// kindError says what a non-regular file is, wrapping ErrNotRegular.
type kindError struct{ what string }

func (e *kindError) Error() string { return "is " + e.what + ", not a regular file" }
func (e *kindError) Unwrap() error { return ErrNotRegular }

// Kind names a file mode for messages: "a directory", "a named pipe
// (FIFO)", "a character device", ...
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsRegular():
		return "a regular file"
	}
	return fmt.Sprintf("a special file (%v)", m.Type())
}

// Regular returns path's FileInfo (following symbolic links) when it is a
// regular file, and otherwise an *fs.PathError that says what it is,
// wrapping ErrNotRegular (or the stat error).
func Regular(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return fi, &fs.PathError{Op: "open", Path: path, Err: &kindError{Kind(fi.Mode())}}
	}
	return fi, nil
}

// Open opens path for reading if it is a regular file; anything else is
// refused before open(2) is called, so a FIFO cannot block it.
func Open(path string) (*os.File, error) {
	if _, err := Regular(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// The file may have been replaced between the two calls: check what
	// was opened.
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: path, Err: &kindError{Kind(fi.Mode())}}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads the regular file at path, or standard input when path is
// "-", refusing more than limit bytes with an error that names the input,
// what it is meant to be (what, e.g. "an image set document") and the
// limit.
func ReadFile(path string, limit int64, what string) ([]byte, error) {
	var r io.Reader
	name := path
	if path == "-" {
		r, name = Stdin, "standard input"
	} else {
		f, err := Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Size() > limit {
			return nil, tooLarge(name, what, limit, fi.Size())
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(name, what, limit, -1)
	}
	return data, nil
}

func tooLarge(name, what string, limit, size int64) error {
	got := "more"
	if size >= 0 {
		got = fmt.Sprintf("%d bytes", size)
	}
	return fmt.Errorf("%s: %w: %s for %s; vasim reads at most %d bytes", name, ErrTooLarge, got, what, limit)
}
