package dyld_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
)

func lib(name, path string, needed ...string) *loader.ImageSpec {
	return &loader.ImageSpec{Name: name, Path: path, Format: loader.FormatMachO, Kind: loader.KindLibrary, Needed: needed,
		MachO: &loader.MachOInfo{InstallName: name}}
}

func names(order *dyld.LoadOrder) []string {
	var out []string
	for _, img := range order.Images {
		out = append(out, img.Name)
	}
	return out
}

// dyld4 maps an image's direct dependencies first, in load-command order,
// then recurses into each (dyld-1378 JustInTimeLoader::loadDependents).
func TestLoadOrderDyld4(t *testing.T) {
	exe := &loader.ImageSpec{Name: "app", Path: "/build/out/app", Kind: loader.KindExecutable, Format: loader.FormatMachO,
		Needed: []string{"@rpath/libA.dylib", "@rpath/libB.dylib", "/usr/lib/libSystem.B.dylib"},
		MachO:  &loader.MachOInfo{RPaths: []string{"@executable_path/lib"}}}
	a := lib("@rpath/libA.dylib", "/build/out/lib/libA.dylib", "@rpath/libC.dylib", "@loader_path/libD.dylib")
	b := lib("@rpath/libB.dylib", "/build/out/lib/libB.dylib", "@rpath/libC.dylib", "@rpath/libE.dylib")
	c := lib("@rpath/libC.dylib", "/build/out/lib/libC.dylib")
	d := lib("libD", "/build/out/lib/libD.dylib")
	// libE is found through libB's own LC_RPATH.
	b.MachO.RPaths = []string{"@loader_path/../extra"}
	e := lib("@rpath/libE.dylib", "/build/out/extra/libE.dylib")
	set := &loader.ImageSet{Main: exe, Images: []*loader.ImageSpec{e, d, c, b, a}}
	before := *set
	order, err := dyld.Resolve(set)
	require.NoError(t, err)
	assert.Equal(t, []string{"app", "@rpath/libA.dylib", "@rpath/libB.dylib", "/usr/lib/libSystem.B.dylib",
		"@rpath/libC.dylib", "libD", "@rpath/libE.dylib"}, names(order))
	assert.True(t, order.Images[3].InSharedCache, "an undescribed /usr/lib library is taken from the shared cache")
	assert.Equal(t, before, *set, "resolution does not change its input")
}

func TestLoadOrderMissingWeakLazy(t *testing.T) {
	exe := &loader.ImageSpec{Name: "app", Path: "/x/app", Kind: loader.KindExecutable, Format: loader.FormatMachO,
		Needed: []string{"@rpath/libWeak.dylib", "@rpath/libLazy.dylib", "@rpath/libGone.dylib"},
		MachO: &loader.MachOInfo{Dependencies: []loader.MachODylib{
			{Path: "@rpath/libWeak.dylib", Kind: loader.DylibWeak},
			{Path: "@rpath/libLazy.dylib", Kind: loader.DylibLazy},
			{Path: "@rpath/libGone.dylib", Kind: loader.DylibRegular},
		}}}
	_, err := dyld.Resolve(&loader.ImageSet{Main: exe})
	require.Error(t, err)
	assert.True(t, errors.Is(err, dyld.ErrNotLoaded))
	var nl *dyld.NotLoadedError
	require.True(t, errors.As(err, &nl))
	assert.Equal(t, "@rpath/libGone.dylib", nl.Path)
	assert.Equal(t, "/x/app", nl.ReferencedBy)
	assert.Contains(t, err.Error(), "Library not loaded: @rpath/libGone.dylib")

	exe.Needed = exe.Needed[:2]
	exe.MachO.Dependencies = exe.MachO.Dependencies[:2]
	order, err := dyld.Resolve(&loader.ImageSet{Main: exe})
	require.NoError(t, err, "a missing weak dependency is skipped and a lazy one is not loaded at launch")
	assert.Equal(t, []string{"app"}, names(order))
}

// A dependency chain thousands of images deep resolves without copying
// the chain at every level (the chain is shared through parent links).
func TestLoadOrderDeepChain(t *testing.T) {
	const n = 10000
	name := func(i int) string { return fmt.Sprintf("@rpath/lib%d.dylib", i) }
	exe := &loader.ImageSpec{Name: "app", Path: "/x/app", Kind: loader.KindExecutable, Format: loader.FormatMachO,
		Needed: []string{name(0)}, MachO: &loader.MachOInfo{RPaths: []string{"@executable_path"}}}
	set := &loader.ImageSet{Main: exe}
	for i := 0; i < n; i++ {
		l := lib(name(i), fmt.Sprintf("/x/lib%d.dylib", i))
		if i+1 < n {
			l.Needed = []string{name(i + 1)}
		}
		set.Images = append(set.Images, l)
	}
	order, err := dyld.Resolve(set)
	require.NoError(t, err)
	require.Len(t, order.Images, n+1)
	assert.Equal(t, name(n-1), order.Images[n].Name)
}
