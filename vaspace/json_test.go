package vaspace_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/vaspace/vaspacetest"
	"pgregory.net/rapid"
)

var macOpts = vaspace.LayoutOptions{Bounds: vaspace.Range{Start: 0, End: 0x7ffffe000000}, PageSize: 0x4000}

func TestLayoutRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := vaspacetest.Layout(vaspacetest.Config{MaxCount: 50}).Draw(t, "layout")
		var buf bytes.Buffer
		require.NoError(t, vaspace.EncodeLayout(&buf, s))
		got, err := vaspace.DecodeLayout(&buf, "t.json", macOpts)
		require.NoError(t, err)
		require.Equal(t, slices.Collect(s.All()), slices.Collect(got.All()))
		require.Equal(t, s.Bounds(), got.Bounds())
		require.Equal(t, s.PageSize(), got.PageSize())
	})
}

func TestDecodeLayoutForms(t *testing.T) {
	doc := `{"mappings": [
		{"name": "a", "start": "0x400000000", "end": "0x400004000"},
		{"name": "b", "start": 17179901952, "size": "0x8000", "prot": "r-x", "kind": "reservation", "owner": "libb"}
	]}`
	s, err := vaspace.DecodeLayout(strings.NewReader(doc), "x.json", macOpts)
	require.NoError(t, err)
	ms := slices.Collect(s.All())
	require.Len(t, ms, 2)
	assert.Equal(t, vaspace.Mapping{Range: vaspace.Range{Start: 0x400000000, End: 0x400004000}, Name: "a", Prot: vaspace.ProtRead, Kind: vaspace.KindImage}, ms[0])
	assert.Equal(t, vaspace.Mapping{Range: vaspace.Range{Start: 0x400008000, End: 0x400010000}, Name: "b", Prot: vaspace.ProtRX, Kind: vaspace.KindReservation, Owner: "libb"}, ms[1])
}

// Bad documents are errors that name the field and the value, never a
// panic or a silently wrong layout.
func TestDecodeLayoutErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"mappings": [{"name": "a", "start": "0xZZ", "end": "0x4000"}]}`, `x.json: mappings[0].start = "0xZZ": not a "0x…" hex number`},
		{`{"mappings": [{"name": "a", "start": -5, "end": "0x4000"}]}`, `mappings[0].start = -5: want a non-negative integer`},
		{`{"mappings": [{"name": "a", "start": "0x4000", "end": "0x4000", "size": 1}]}`, `give "end" or "size", not both`},
		{`{"mappings": [{"name": "a", "start": "0x4000"}]}`, `missing "end" or "size"`},
		{`{"mappings": [{"start": "0x4000", "end": "0x8000"}]}`, `mappings[0].name: missing`},
		{`{"mappings": [{"name": "a", "start": "0x8000", "end": "0x4000"}]}`, `end is below start`},
		{`{"mappings": [{"name": "a", "start": "0x1000", "end": "0x4000"}]}`, `not aligned to the page size 0x4000`},
		{`{"mappings": [{"name": "a", "start": "0x4000", "end": "0xc000"}, {"name": "b", "start": "0x8000", "end": "0x10000"}]}`, `mappings[1] = "b": vaspace: map [0x8000, 0x10000) "b": address range overlaps an existing mapping: first hit [0x4000, 0xc000)`},
		{`{"mappings": [{"name": "a", "start": "0xffffffffffffc000", "size": "0x8000"}]}`, `overflows 64 bits`},
		{`{"mappings": [{"name": "a", "start": "0x7fffffff0000", "end": "0x800000000000"}]}`, `outside the address space`},
		{`{"mappings": [{"name": "a", "start": "0x4000", "end": "0x8000", "color": "red"}]}`, `unknown field "color"`},
		{`{"mappings": [{"name": "a", "start": "0x4000", "end": "0x8000", "prot": "rwz"}]}`, `mappings[0].prot = "rwz"`},
		{`{"maps": []}`, `unknown field "maps"`},
		{`{}`, `mappings: missing`},
		{`{"mappings": [}`, `invalid JSON at byte`},
		{``, `the document is empty`},
		{`{"mappings": [`, `the JSON ends early, at byte 14`},
		{`{"mappings": []} {}`, `trailing data`},
		{`{"page_size": 3000, "mappings": []}`, `x.json: page_size = 3000: page size 0xbb8 is not a power of two`},
		{`{"page_size": 0, "mappings": []}`, `x.json: page_size = 0: page size 0x0 is not a power of two`},
		{`{"bounds": {"start": "0x0"}, "mappings": []}`, `x.json: bounds.end: missing`},
		{`{"bounds": {"end": "0x10000"}, "mappings": []}`, `x.json: bounds.start: missing`},
		{`{"bounds": {"start": "0x10000", "end": "0x4000"}, "mappings": []}`, `x.json: bounds = [0x10000, 0x4000): vaspace: new [0x10000, 0x4000): bad address range: bounds are empty or reversed`},
		{`{"bounds": {"start": "0x0", "end": "0x6000"}, "mappings": []}`, `bounds are not aligned to the page size 0x4000`},
	} {
		_, err := vaspace.DecodeLayout(strings.NewReader(c.doc), "x.json", macOpts)
		require.Error(t, err, c.doc)
		assert.Contains(t, err.Error(), c.want, c.doc)
		var le *vaspace.LayoutError
		assert.True(t, errors.As(err, &le), c.doc)
	}
}

func FuzzDecodeLayout(f *testing.F) {
	f.Add([]byte(`{"mappings": [{"name": "a", "start": "0x400000000", "size": "0x4000"}]}`))
	f.Add([]byte(`{"page_size": 4096, "bounds": {"start": 0, "end": "0x10000"}, "mappings": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := vaspace.DecodeLayout(bytes.NewReader(data), "fuzz", macOpts)
		if err == nil {
			require.NoError(t, s.Check())
		}
	})
}

// A layout larger than the limit, or with a key written twice, is refused
// with a message that says so.
func TestDecodeLayoutLimits(t *testing.T) {
	opts := vaspace.LayoutOptions{Bounds: vaspace.Range{Start: 0, End: 1 << 40}, PageSize: 0x1000, MaxBytes: 64}
	_, err := vaspace.DecodeLayout(strings.NewReader(`{"mappings": [{"name": "a", "start": 0, "end": 4096}, {"name": "b", "start": 8192, "end": 12288}]}`), "big.json", opts)
	assert.ErrorContains(t, err, "big.json: (document): more than 64 bytes")
	_, err = vaspace.DecodeLayout(io.LimitReader(zeros{}, 1<<30), "zero", vaspace.LayoutOptions{Bounds: opts.Bounds, PageSize: 0x1000})
	assert.ErrorContains(t, err, "more than 67108864 bytes")
	opts.MaxBytes = 0
	_, err = vaspace.DecodeLayout(strings.NewReader(`{"mappings": [{"name": "a", "start": 0, "end": 4096, "end": 8192}]}`), "dup.json", opts)
	assert.EqualError(t, err, `dup.json: mappings[0]: key "end" appears more than once`)
}

// zeros is an endless reader, like /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// The zero LayoutOptions read a document with macOS arm64's defaults, and
// a JSON array is refused in words, with no Go type name.
func TestLayoutOptionsDefaults(t *testing.T) {
	s, err := vaspace.DecodeLayout(strings.NewReader(`{"mappings": [{"name": "a", "start": "0x400000000", "size": "0x4000"}]}`), "l.json", vaspace.LayoutOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(vaspace.DefaultLayoutPageSize), s.PageSize())
	assert.Equal(t, vaspace.DefaultLayoutBounds, s.Bounds())
	_, err = vaspace.DecodeLayout(strings.NewReader(`[{"name": "a"}]`), "l.json", vaspace.LayoutOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a JSON array: a layout is a JSON object")
	assert.NotContains(t, err.Error(), "layoutJSON")
}
