package xzone_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/jsonspec"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
)

// Depends gives the exact answer under every alternative: each equals
// an Assess of the model with that alternative applied, the spread holds
// the base and every alternative but the apart one, and the parameter
// named as moving it most does move it.
func TestDependsAgreesWithEachModel(t *testing.T) {
	set, err := jsonspec.ParseImageSet([]byte(`{"images": [
	  {"name": "app", "kind": "executable", "format": "Mach-O", "needed": ["a", "b"], "segments": [
	    {"name": "__PAGEZERO", "vmaddr": 0, "vmsize": "0x100000000", "prot": "---"},
	    {"name": "__TEXT", "vmaddr": "0x100000000", "vmsize": "0x40000000", "filesize": "0x4000", "prot": "r-x"}]},
	  {"name": "a", "format": "Mach-O", "segments": [{"name": "__TEXT", "vmaddr": 0, "vmsize": "0x200000000", "filesize": "0x8000000", "prot": "r-x"}]},
	  {"name": "b", "format": "Mach-O", "segments": [{"name": "__TEXT", "vmaddr": 0, "vmsize": "0x100000000", "filesize": "0x8000000", "prot": "r-x"}]}
	]}`), "set.json")
	require.NoError(t, err)
	order, err := dyld.Resolve(set)
	require.NoError(t, err)
	m := macos.NewModel()
	p := xzone.Libmalloc792
	proc, err := m.Launch(order, macos.Randomness{})
	require.NoError(t, err)
	base, err := xzone.Assess(proc.Space, nil, p, 100)
	require.NoError(t, err)
	var variants []xzone.Variant
	alts := m.Alternatives()
	for _, alt := range alts {
		mv := m.With(alt)
		pv, err := mv.Launch(order, macos.Randomness{})
		require.NoError(t, err)
		variants = append(variants, xzone.Variant{Parameter: alt.Parameter, Value: alt.Value, Fixed: pv.Space})
	}
	d, err := xzone.Depends(base, variants, p, macos.ParamSharedRegion)
	require.NoError(t, err)
	require.Len(t, d.Outcomes, len(alts))
	assert.False(t, d.Joint)
	assert.LessOrEqual(t, d.FixedLo, base.Result.Probability)
	assert.GreaterOrEqual(t, d.FixedHi, base.Result.Probability)
	moved := false
	for i, o := range d.Outcomes {
		r, err := xzone.Analyze(variants[i].Fixed, p)
		require.NoError(t, err)
		assert.Zero(t, r.Crash.Cmp(o.Fixed), "%s = %s", o.Parameter, o.Value)
		if o.Parameter != macos.ParamSharedRegion {
			assert.True(t, d.FixedLo <= o.FixedP && o.FixedP <= d.FixedHi, "%s = %s: %v outside [%v, %v]", o.Parameter, o.Value, o.FixedP, d.FixedLo, d.FixedHi)
		}
		if o.Parameter == d.MostFixed && o.FixedP != base.Result.Probability {
			moved = true
		}
	}
	if d.MostFixed != "" {
		assert.True(t, moved, "the parameter named moves the answer")
	}
	// The shared region at [6, 12) GiB pushes the images far higher.
	assert.Equal(t, macos.ParamSharedRegion, d.Outcomes[0].Parameter)
	assert.Greater(t, d.Outcomes[0].FixedP, base.Result.Probability)
}

// The reclaim ID cache can only reach the window when nothing of its
// size is free between its highest hint and the window.
func TestIDCacheMayReach(t *testing.T) {
	p := xzone.Libmalloc792
	packed := func(gap bool) *vaspace.Space {
		s, err := vaspace.New(vaspace.Range{Start: 0, End: 0x7FFFFE000000}, 16<<10)
		require.NoError(t, err)
		require.NoError(t, s.Map(vaspace.Mapping{Range: vaspace.Range{Start: 4 << 30, End: p.RangesStart + 64<<20}, Name: "images", Kind: vaspace.KindImage}))
		if gap {
			require.NoError(t, s.Unmap(vaspace.Range{Start: 10 << 30, End: 10<<30 + 16<<10}))
		}
		return s
	}
	r, err := xzone.Analyze(packed(false), p)
	require.NoError(t, err)
	assert.True(t, r.IDCacheMayReach)
	r, err = xzone.Analyze(packed(true), p)
	require.NoError(t, err)
	assert.False(t, r.IDCacheMayReach, "one free page above the hint holds it")
	p.IDCacheSize = 0
	r, err = xzone.Analyze(packed(false), p)
	require.NoError(t, err)
	assert.False(t, r.IDCacheMayReach, "the check is off")
}
