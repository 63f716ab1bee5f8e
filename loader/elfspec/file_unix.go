//go:build unix

package elfspec

import (
	"io/fs"
	"os"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
)

// readFile opens the regular file at path (fi, when not nil, is what
// os.Stat just said of it) and parses it with as few system calls as the
// file allows, which is what reading hundreds of libraries costs:
//
//   - a file of at most smallFile bytes is read whole with one pread into
//     a reused buffer: open, pread, close;
//   - a larger one is mapped (open, fstat, mmap, close, munmap), and only
//     the pages the parse touches are read from the page cache;
//   - a file that cannot be mapped (a file system without mmap) is read
//     with a pread per table.
//
// Without fi, a stat comes first, so that what is not a regular file is
// refused before it is opened: opening a FIFO waits for a writer, and
// opening some devices acts on them.
func readFile(path string, fi fs.FileInfo) (*loader.ImageSpec, error) {
	if fi == nil || !fi.Mode().IsRegular() {
		var err error
		if fi, err = input.Regular(path); err != nil {
			return nil, err
		}
	}
	var fd int
	var err error
	for {
		// O_NONBLOCK: should the path have become a FIFO since the stat,
		// the open does not wait for a writer (the read or the fstat
		// then fails).
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if fi.Size() < smallFile {
		// One read of up to smallFile bytes: fewer mean the whole file.
		bp := smallBufs.Get().(*[]byte)
		defer smallBufs.Put(bp)
		if n, err := preadFull(fd, *bp, fi.Size()); err == nil && n < len(*bp) {
			syscall.Close(fd)
			return parseMapped((*bp)[:n], path)
		}
		// The file grew, or cannot be read: look at what was opened.
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if m := fileMode(uint32(st.Mode)); !m.IsRegular() {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: notRegularError(input.Kind(m))}
	}
	if size := st.Size; size > 0 && int64(int(size)) == size {
		data, err := syscall.Mmap(fd, 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
		if err == nil {
			syscall.Close(fd) // the mapping keeps the file
			defer syscall.Munmap(data)
			// A page the file no longer has (truncated since the fstat)
			// faults with SIGBUS: make that a panic parseMapped recovers.
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			return parseMapped(data, path)
		}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	return Parse(f, path)
}

// smallFile is the size below which a file is read whole rather than
// mapped: a pread of that much costs less than mmap and munmap (which
// must flush the TLBs of the CPUs the process's other threads ran on).
// The libraries of a typical program are larger; plugins and the
// thousands of small libraries of some programs are not.
const smallFile = 64 << 10

// smallBufs holds smallFile-byte buffers. The spec keeps nothing of
// a buffer: every string is copied out of it.
var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallFile); return &b }}

// preadFull reads from offset 0 until buf is full, the file ends, or
// it has the want bytes the caller's stat gave the file (which spares the
// read that would only find the end).
func preadFull(fd int, buf []byte, want int64) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := syscall.Pread(fd, buf[n:], int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += k
		if k == 0 || int64(n) >= want {
			break
		}
	}
	return n, nil
}

// fileMode converts a stat st_mode's file type to an fs.FileMode, as
// package os does.
func fileMode(mode uint32) fs.FileMode {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}
