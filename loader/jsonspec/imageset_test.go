package jsonspec_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/jsonspec"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
)

// The built-in scenario survives a trip through its JSON form and places
// identically.
func TestImageSetJSONRoundTrip(t *testing.T) {
	sc, err := scenario.Load(scenario.Default)
	require.NoError(t, err)
	data, err := jsonspec.MarshalImageSet(sc.Set)
	require.NoError(t, err)
	back, err := jsonspec.ParseImageSet(data, "chromium.json")
	require.NoError(t, err)
	assert.Equal(t, sc.Set.Name, back.Name)
	again, err := jsonspec.MarshalImageSet(back)
	require.NoError(t, err)
	assert.Equal(t, string(data), string(again), "the document reads back to itself")
	r := macos.Randomness{ExeSlide: 32<<20 + 5<<14, DyldSlide: 7 << 14, GuardTail: 3 << 14}
	place := func(set *loader.ImageSet) []string {
		order, err := dyld.Resolve(set)
		require.NoError(t, err)
		p, err := sc.Model.Launch(order, r)
		require.NoError(t, err)
		var out []string
		for m := range p.Space.All() {
			out = append(out, m.String())
		}
		return out
	}
	assert.Equal(t, place(sc.Set), place(back))
}

func TestImageSetJSONErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"images": [{"name": "a", "kind": "library", "segments": []}]}`, `no image has "kind": "executable"`},
		{`{"images": [{"name": "a", "kind": "executable"}, {"name": "b", "kind": "executable"}]}`, `images[1].kind`},
		{`{"imagez": []}`, `imagez: unknown field; an image set has only: name, description, platform, images`},
		{`{"name": "x", "summary": "s", "images": []}`, `summary: unknown field; an image set has only: name, description, platform, images`},
		{`{"name": "x"}`, `images: missing`},
		{``, `the document is empty`},
		{`{"images": [`, `the JSON ends early, at byte 12`},
	} {
		_, err := jsonspec.ParseImageSet([]byte(c.doc), "s.json")
		require.Error(t, err, c.doc)
		assert.Contains(t, err.Error(), c.want, c.doc)
		assert.Contains(t, err.Error(), "s.json", c.doc)
	}
}

// FuzzImageSetPlacement feeds any image set document the parser accepts
// to the macOS model, as vasim xzone --images does: resolving, placing it
// and covering its (here tiny) support may fail with an error but must
// not panic, and a placed layout must be consistent.
func FuzzImageSetPlacement(f *testing.F) {
	f.Add([]byte(`{"images": [
	  {"name": "app", "kind": "executable", "format": "Mach-O", "needed": ["@rpath/libA.dylib"], "segments": [
	    {"name": "__PAGEZERO", "vmaddr": 0, "vmsize": "0x100000000", "prot": "---"},
	    {"name": "__TEXT", "vmaddr": "0x100000000", "vmsize": "0x40000", "filesize": "0x4000", "prot": "r-x"}]},
	  {"name": "@rpath/libA.dylib", "kind": "library", "format": "Mach-O", "file_size": "0x9000", "needed": ["@rpath/libB.dylib"], "segments": [
	    {"name": "__TEXT", "vmaddr": 0, "vmsize": "0x10000", "filesize": "0x4000", "prot": "r-x"},
	    {"name": "__DATA", "vmaddr": "0x10000", "vmsize": "0x8000", "fileoff": "0x4000", "filesize": "0x1000", "prot": "rw-"}]},
	  {"name": "@rpath/libB.dylib", "kind": "library", "format": "Mach-O", "in_shared_cache": true}
	]}`))
	f.Add([]byte(`{"images": [{"name": "a", "kind": "executable", "format": "Mach-O", "segments": [{"name": "__TEXT", "vmaddr": "0x0", "vmsize": "0x4000", "prot": "r-x"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := jsonspec.ParseImageSet(data, "fuzz.json")
		if err != nil {
			return
		}
		order, err := dyld.Resolve(set)
		if err != nil {
			return
		}
		d := macos.NewModel()
		d.Platform.ExeSlideSections, d.Platform.ExeSlidePages, d.Platform.DyldSlidePages = 1, 3, 2
		d.Malloc.GuardedTailMax = 16 << 10
		p, err := d.Launch(order, macos.Randomness{ExeSlide: 16 << 10, DyldSlide: 16 << 10})
		if err != nil {
			return
		}
		require.NoError(t, p.Space.Check())
		l, err := d.Layouts(order)
		require.NoError(t, err)
		_, _ = l.Cover(vaspace.Range{}, 1, func(int) func(slide.Cell) error { return func(slide.Cell) error { return nil } })
	})
}
