package fix_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
	"github.com/vasim/vasim/xzone/fix"
)

// On the Chromium scenario with ASLR off, the fix moves at least the
// seven dylibs past 16 GiB (those loaded after them slide up), clears
// every slot, and one dylib fewer does not.
func TestSearchChromiumASLROff(t *testing.T) {
	sc, err := scenario.Load(scenario.Default)
	require.NoError(t, err)
	m := *sc.Model
	m.Dyld.DisableASLR = true
	r, err := fix.Search(sc.Set, &m, xzone.Libmalloc792, false, nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(r.Moved), 7)
	assert.Zero(t, r.After.Sign())
	assert.Positive(t, r.Before.Sign())

	crash := func(n int) int {
		o, err := dyld.Resolve(fix.Without(sc.Set, r.Moved[len(r.Moved)-n:]))
		require.NoError(t, err)
		p, err := m.Launch(o, macos.Randomness{})
		require.NoError(t, err)
		a, err := xzone.Analyze(p.Space, xzone.Libmalloc792)
		require.NoError(t, err)
		return len(a.Colliding)
	}
	assert.Zero(t, crash(len(r.Moved)))
	assert.Positive(t, crash(len(r.Moved)-1), "one dylib fewer still collides")
}

// Over every slide, the fix is verified with the exact sum.
func TestSearchExact(t *testing.T) {
	lib := func(name string, size uint64) *loader.ImageSpec {
		return &loader.ImageSpec{Name: name, Kind: loader.KindLibrary, Format: loader.FormatMachO,
			Segments: []loader.Segment{{Name: "__TEXT", VMSize: size, FileSize: 16 << 10, Prot: vaspace.ProtRX}}}
	}
	set := &loader.ImageSet{Main: &loader.ImageSpec{Name: "app", Kind: loader.KindExecutable, Format: loader.FormatMachO,
		Needed: []string{"a", "b", "c"},
		Segments: []loader.Segment{
			{Name: "__PAGEZERO", VMSize: 4 << 30},
			{Name: "__TEXT", VMAddr: 4 << 30, VMSize: 1 << 20, FileSize: 1 << 20, Prot: vaspace.ProtRX},
		}}, Images: []*loader.ImageSpec{lib("a", 8<<30), lib("b", 1<<30), lib("c", 3<<30)}}
	m := macos.NewModel()
	r, err := fix.Search(set, m, xzone.Libmalloc792, true, nil)
	require.NoError(t, err)
	assert.True(t, r.Exact)
	assert.Positive(t, r.Before.Sign())
	assert.Zero(t, r.After.Sign())
	assert.GreaterOrEqual(t, r.Sums, 2, "the sum before, and one verifying the fix")
	var names []string
	for _, img := range r.Moved {
		names = append(names, img.Name)
	}
	assert.Equal(t, []string{"c"}, names, "a goes above the stack and c past 16 GiB after it; b fits below the stack")
}

// Without drops every reference to the moved images, keeping the images.
func TestWithout(t *testing.T) {
	a := &loader.ImageSpec{Name: "a", Needed: []string{"b", "c"}}
	set := &loader.ImageSet{Main: &loader.ImageSpec{Name: "app", Needed: []string{"a", "b"}}, Images: []*loader.ImageSpec{a, {Name: "b"}, {Name: "c"}}}
	got := fix.Without(set, []*loader.ImageSpec{{Name: "b"}})
	assert.Equal(t, []string{"a"}, got.Main.Needed)
	assert.Equal(t, []string{"c"}, got.Images[0].Needed)
	assert.Equal(t, []string{"b", "c"}, a.Needed, "the input is not changed")
	assert.Len(t, got.Images, 3)
}
