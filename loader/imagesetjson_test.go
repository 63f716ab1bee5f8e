package loader_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
)

// The embedded scenario survives a trip through its JSON form and places
// identically.
func TestImageSetJSONRoundTrip(t *testing.T) {
	sc, err := loader.LoadScenario(loader.DefaultScenario)
	require.NoError(t, err)
	data, err := loader.MarshalImageSetJSON(sc.Set)
	require.NoError(t, err)
	back, err := loader.ParseImageSetJSON(data, "chromium.json")
	require.NoError(t, err)
	assert.Equal(t, sc.Set.Name, back.Name)
	r := loader.Randomness{ExeSlide: 32<<20 + 5<<14, DyldSlide: 7 << 14, GuardTail: 3 << 14}
	a, err := sc.Model.Launch(sc.Set, r)
	require.NoError(t, err)
	b, err := sc.Model.Launch(back, r)
	require.NoError(t, err)
	var ra, rb []string
	for m := range a.Space.All() {
		ra = append(ra, m.String())
	}
	for m := range b.Space.All() {
		rb = append(rb, m.String())
	}
	assert.Equal(t, ra, rb)
}

func TestImageSetJSONErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"images": [{"name": "a", "kind": "library", "segments": []}]}`, `no image has "kind": "executable"`},
		{`{"images": [{"name": "a", "kind": "executable"}, {"name": "b", "kind": "executable"}]}`, `images[1].kind`},
		{`{"imagez": []}`, `unknown`},
		{`{"name": "x"}`, `images: missing`},
		{``, `the document is empty`},
		{`{"images": [`, `the JSON ends early, at byte 12`},
	} {
		_, err := loader.ParseImageSetJSON([]byte(c.doc), "s.json")
		require.Error(t, err, c.doc)
		assert.Contains(t, err.Error(), c.want, c.doc)
		assert.Contains(t, err.Error(), "s.json", c.doc)
	}
	_, err := loader.ReadMachOSet(t.TempDir(), "")
	assert.ErrorContains(t, err, "is a directory, not a Mach-O file")
}

// FuzzImageSetPlacement feeds any image set document the parser accepts
// to the Dyld model, as vasim xzone --images does: placing it, and
// covering its (here tiny) support, may fail with an error but must not
// panic, and a placed layout must be consistent.
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
		set, err := loader.ParseImageSetJSON(data, "fuzz.json")
		if err != nil {
			return
		}
		d := loader.NewDyld()
		d.Platform.ExeSlideSections, d.Platform.ExeSlidePages, d.Platform.DyldSlidePages = 1, 3, 2
		d.Malloc.GuardedTailMax = 16 << 10
		p, err := d.Launch(set, loader.Randomness{ExeSlide: 16 << 10, DyldSlide: 16 << 10})
		if err != nil {
			return
		}
		require.NoError(t, p.Space.Check())
		_, _ = d.Cover(set, func(loader.Cell) error { return nil })
	})
}
