//go:build unix

package ldso

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// readHead reads at most n bytes from the start of a device file without
// waiting: a device with nothing to read now (a terminal) is an error,
// not a hang.
func readHead(path string, n int) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	buf := make([]byte, n)
	k, err := io.ReadFull(f, buf)
	switch {
	case errors.Is(err, syscall.EAGAIN):
		return nil, fmt.Errorf("%s: the device has nothing to read now; vasim does not wait for devices", path)
	case err == io.EOF, err == io.ErrUnexpectedEOF:
		return buf[:k], nil
	case err != nil:
		return nil, err
	}
	return buf, nil
}
