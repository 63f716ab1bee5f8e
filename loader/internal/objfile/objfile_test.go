package objfile

import (
	"bytes"
	"debug/macho"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSize(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 1000, 4096, 12345} {
		data := make([]byte, n)
		got, err := Size(bytes.NewReader(data))
		require.NoError(t, err)
		assert.Equal(t, int64(n), got)
		// A reader with no Size or Stat method is probed.
		got, err = Size(struct{ io.ReaderAt }{bytes.NewReader(data)})
		require.NoError(t, err)
		assert.Equal(t, int64(n), got, "probed")
	}
}

func TestCString(t *testing.T) {
	b := []byte("ab\x00cd\x00ef")
	s, ok := CString(b, 0)
	assert.True(t, ok)
	assert.Equal(t, "ab", s)
	s, ok = CString(b, 3)
	assert.True(t, ok)
	assert.Equal(t, "cd", s)
	_, ok = CString(b, 6)
	assert.False(t, ok, "no NUL before the end")
	_, ok = CString(b, 100)
	assert.False(t, ok, "out of range")
}

func TestSliceNames(t *testing.T) {
	for _, name := range []string{"arm64e", "arm64", "x86_64h", "x86_64", "i386", "arm64_32", "arm", "ppc", "ppc64"} {
		cpu, sub, ok := ParseSliceName(name)
		require.True(t, ok, name)
		assert.Equal(t, name, SliceName(cpu, sub), "round trip")
	}
	assert.Equal(t, "arm64e", SliceName(macho.CpuArm64, 0x80000002), "capability bits are ignored")
	_, _, ok := ParseSliceName("mips")
	assert.False(t, ok)
}
