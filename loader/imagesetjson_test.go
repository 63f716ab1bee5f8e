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
	} {
		_, err := loader.ParseImageSetJSON([]byte(c.doc), "s.json")
		require.Error(t, err, c.doc)
		assert.Contains(t, err.Error(), c.want, c.doc)
		assert.Contains(t, err.Error(), "s.json", c.doc)
	}
}
