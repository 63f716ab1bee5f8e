//go:build unix

package input

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A FIFO, a directory and an endless device are refused at once, naming
// what they are; nothing blocks or reads without bound.
func TestRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	cases := map[string]string{fifo: "a named pipe (FIFO)", dir: "a directory"}
	if _, err := os.Stat("/dev/zero"); err == nil {
		cases["/dev/zero"] = "a character device"
	}
	for path, kind := range cases {
		done := make(chan error, 2)
		go func() {
			_, err := Open(path)
			done <- err
			_, err = ReadFile(path, 1<<20, "a document")
			done <- err
		}()
		for range 2 {
			select {
			case err := <-done:
				require.Error(t, err, path)
				assert.True(t, errors.Is(err, ErrNotRegular), "%v", err)
				assert.Equal(t, "open "+path+": is "+kind+", not a regular file", err.Error())
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: blocked", path)
			}
		}
	}
}

func TestReadFileLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "doc.json")
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte("x"), 100), 0o644))
	b, err := ReadFile(p, 100, "a document")
	require.NoError(t, err)
	assert.Len(t, b, 100)
	_, err = ReadFile(p, 99, "a layout document")
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrTooLarge))
	assert.Equal(t, p+": input too large: 100 bytes for a layout document; vasim reads at most 99 bytes", err.Error())

	Stdin = strings.NewReader(strings.Repeat("y", 50))
	defer func() { Stdin = os.Stdin }()
	_, err = ReadFile("-", 10, "a document")
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "standard input")
	Stdin = strings.NewReader("{}")
	b, err = ReadFile("-", 10, "a document")
	require.NoError(t, err)
	assert.Equal(t, "{}", string(b))
}
