package vaspacetest_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/vaspace/vaspacetest"
	"pgregory.net/rapid"
)

// The generators' outputs obey the Config they were given.
func TestGeneratorsRespectConfig(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		page := uint64(0x1000) << rapid.IntRange(0, 2).Draw(t, "page shift")
		cfg := vaspacetest.Config{
			Bounds:   vaspace.Range{Start: vaspace.Addr(page * 16), End: vaspace.Addr(page * (16 + rapid.Uint64Range(1, 4096).Draw(t, "pages")))},
			PageSize: page,
			MaxPages: rapid.Uint64Range(1, 64).Draw(t, "max pages"),
			MinCount: rapid.IntRange(0, 8).Draw(t, "min"),
			MaxCount: rapid.IntRange(8, 100).Draw(t, "max"),
			Align:    page << rapid.IntRange(0, 3).Draw(t, "align shift"),
			Density:  rapid.Float64Range(0.05, 1).Draw(t, "density"),
		}
		r := vaspacetest.Range(cfg).Draw(t, "range")
		require.True(t, cfg.Bounds.ContainsRange(r), "%v outside %v", r, cfg.Bounds)
		require.False(t, r.IsEmpty())
		require.LessOrEqual(t, r.Len(), cfg.MaxPages*page)
		a := vaspacetest.Addr(cfg).Draw(t, "addr")
		require.True(t, cfg.Bounds.Contains(a))
		require.True(t, a.IsAligned(page))

		s := vaspacetest.Layout(cfg).Draw(t, "layout")
		require.NoError(t, s.Check())
		require.LessOrEqual(t, s.Len(), cfg.MaxCount)
		for m := range s.All() {
			require.True(t, m.Start.IsAligned(cfg.Align), "mapping %v not aligned to %#x", m, cfg.Align)
			require.LessOrEqual(t, m.Len(), cfg.MaxPages*page)
		}
		req := vaspacetest.Request(cfg).Draw(t, "request")
		require.Zero(t, req.Size%page)
		require.True(t, vaspace.IsPow2(req.Align))
		require.Less(t, req.Offset, req.Align)
	})
}

// Density shapes the layouts: packed layouts have no holes between
// mappings, sparse ones have more free than mapped space.
func TestLayoutDensity(t *testing.T) {
	packed := vaspacetest.Config{Density: 1, MinCount: 10, MaxCount: 10}
	for seed := 0; seed < 20; seed++ {
		s := vaspacetest.Layout(packed).Example(seed)
		lo, _ := s.Lowest()
		hi, _ := s.Highest()
		assert.Equal(t, uint64(hi.End-lo.Start), s.MappedBytes(), "seed %d", seed)
	}
	sparse := vaspacetest.Config{Density: 0.1, MinCount: 20, MaxCount: 20, Bounds: vaspace.Range{Start: 0, End: 1 << 40}}
	var mapped, span uint64
	for seed := 0; seed < 20; seed++ {
		s := vaspacetest.Layout(sparse).Example(seed)
		lo, _ := s.Lowest()
		hi, _ := s.Highest()
		mapped += s.MappedBytes()
		span += uint64(hi.End - lo.Start)
	}
	assert.Less(t, float64(mapped)/float64(span), 0.3)
}

func TestConfigValidate(t *testing.T) {
	assert.NoError(t, vaspacetest.Config{}.Validate())
	assert.Error(t, vaspacetest.Config{PageSize: 3000}.Validate())
	assert.Error(t, vaspacetest.Config{Align: 0x3000}.Validate())
	assert.Error(t, vaspacetest.Config{MinCount: 5, MaxCount: 2}.Validate())
	assert.Error(t, vaspacetest.Config{Bounds: vaspace.Range{Start: 0x1000, End: 0x1800}}.Validate())
}

func ExampleRange() {
	cfg := vaspacetest.Config{Bounds: vaspace.Range{Start: 0x10000, End: 0x20000}, MaxPages: 4}
	r := vaspacetest.Range(cfg).Example(1)
	fmt.Println(cfg.Bounds.ContainsRange(r), r.Len() <= 4*0x1000)
	// Output: true true
}

func ExampleMapping() {
	cfg := vaspacetest.Config{Names: []string{"libc.so.6", "ld.so"}}
	m := vaspacetest.Mapping(cfg).Example(2)
	fmt.Println(m.Name == "libc.so.6" || m.Name == "ld.so", m.IsEmpty())
	// Output: true false
}

func ExampleRequest() {
	req := vaspacetest.Request(vaspacetest.Config{MaxPages: 8}).Example(3)
	fmt.Println(req.Size >= 0x1000 && req.Size <= 8*0x1000, vaspace.IsPow2(req.Align))
	// Output: true true
}

// A property test over generated layouts: every placement the space
// returns is free.
func ExampleLayout() {
	cfg := vaspacetest.Config{MinCount: 5, MaxCount: 50, Density: 0.8}
	s := vaspacetest.Layout(cfg).Example(4)
	a, err := s.HighestFit(vaspace.Request{Size: 0x1000})
	r, _ := vaspace.RangeOf(a, 0x1000)
	fmt.Println(err == nil && s.IsFree(r), s.Check())
	// Output: true <nil>
}

// MacOSXZone's layouts mostly reach the XZone window's start, where a
// Config with the same bounds but no Target never does.
func TestMacOSXZoneTargetsTheWindow(t *testing.T) {
	count := func(cfg vaspacetest.Config) int {
		hit := 0
		g := vaspacetest.Layout(cfg)
		for i := 0; i < 300; i++ {
			s := g.Example(i)
			if !s.IsFree(vaspace.Range{Start: 16 << 30, End: 17 << 30}) || !s.IsFree(vaspace.Range{Start: 15 << 30, End: 16 << 30}) {
				hit++
			}
		}
		return hit
	}
	n := count(vaspacetest.MacOSXZone)
	t.Logf("%d of 300 layouts reach [15, 17) GiB", n)
	assert.Greater(t, n, 150)
	plain := vaspacetest.MacOSXZone
	plain.Target = vaspace.Range{}
	assert.Zero(t, count(plain))
}
