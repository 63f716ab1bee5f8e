//go:build unix

package elfspec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/objtest"
)

// TestReadPaths: the ways Read and ReadRegular take a file (one pread,
// a mapping) give the same spec, and what is not a regular file is
// refused without blocking, even when the caller's stat is stale.
func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	small := objtest.SampleELF().Bytes()
	require.Less(t, len(small), smallFile)
	big := sampleELF(t)
	require.Greater(t, len(big), smallFile, "the sample should be mapped")
	for name, data := range map[string][]byte{"small.so": small, "big.so": big} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		want, err := Parse(bytes.NewReader(data), p)
		require.NoError(t, err)
		got, err := Read(p)
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
		fi, err := os.Stat(p)
		require.NoError(t, err)
		got, err = ReadRegular(p, fi)
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
	}

	// A stale stat: the file was small and is now big, or the reverse.
	smallFI, err := os.Stat(filepath.Join(dir, "small.so"))
	require.NoError(t, err)
	bigFI, err := os.Stat(filepath.Join(dir, "big.so"))
	require.NoError(t, err)
	got, err := ReadRegular(filepath.Join(dir, "big.so"), smallFI)
	require.NoError(t, err)
	assert.NotNil(t, got.TLS)
	_, err = ReadRegular(filepath.Join(dir, "small.so"), bigFI)
	require.NoError(t, err)

	// Empty and truncated files are errors about the file.
	empty := filepath.Join(dir, "empty.so")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = Read(empty)
	var fe *loader.FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, empty, fe.Path)

	// A FIFO and a directory are refused; with a stale stat that calls
	// them regular files, still refused, and the open does not wait for
	// a writer.
	fifo := filepath.Join(dir, "fifo.so")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	for _, p := range []string{fifo, dir} {
		_, err = Read(p)
		assert.ErrorIs(t, err, input.ErrNotRegular, p)
		_, err = ReadRegular(p, smallFI)
		assert.ErrorIs(t, err, input.ErrNotRegular, p)
		assert.ErrorContains(t, err, p)
	}
	_, err = Read(filepath.Join(dir, "missing.so"))
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

// TestReadTruncatedWhileMapped: a mapped file cut short under the
// reader faults (SIGBUS) when a page past its new end is touched; the
// reader reports that as an error about the file instead of crashing.
func TestReadTruncatedWhileMapped(t *testing.T) {
	data := sampleELF(t)
	p := filepath.Join(t.TempDir(), "cut.so")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, len(data), syscall.PROT_READ, syscall.MAP_SHARED)
	require.NoError(t, err)
	defer syscall.Munmap(m)
	require.NoError(t, os.Truncate(p, 0))
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	spec, err := parseMapped(m, p)
	assert.Nil(t, spec)
	var fe *loader.FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, p, fe.Path)
	assert.Equal(t, int64(0), fe.Offset, "the first byte read faults")
	assert.ErrorContains(t, err, "truncated or changed while vasim read it")
}
