package scenario_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/vaspace"
)

// The scenario's image set matches the published figures, before any
// placement.
func TestChromiumSetFigures(t *testing.T) {
	sc, err := scenario.Load("chromium-browser-tests")
	require.NoError(t, err)
	set := sc.Set
	order, err := dyld.Resolve(set)
	require.NoError(t, err)
	assert.Len(t, order.Images, 1543, "images loaded")

	var exeVM, exeText, exeLink uint64
	for _, s := range set.Main.Segments {
		exeVM += s.VMSize
		switch s.Name {
		case "__TEXT":
			exeText = s.VMSize
		case "__LINKEDIT":
			exeLink = s.VMSize
		}
	}
	assert.Equal(t, "5.54 GiB", vaspace.Size(exeVM))
	assert.Equal(t, "517 MiB", vaspace.Size(exeText))
	assert.Equal(t, "1.04 GiB", vaspace.Size(exeLink))
	assert.Equal(t, uint64(4<<30), set.Main.PageZero())

	var n int
	var vm, text, link uint64
	for _, img := range set.Images {
		if !strings.Contains(img.Name, "chromium_component") {
			continue
		}
		n++
		for _, s := range img.Segments {
			vm += s.VMSize
			switch s.Name {
			case "__TEXT":
				text += s.VMSize
			case "__LINKEDIT":
				link += s.VMSize
			}
		}
	}
	assert.Equal(t, 516, n)
	assert.Equal(t, "10.19 GiB", vaspace.Size(vm))
	assert.Equal(t, "2.26 GiB", vaspace.Size(text))
	assert.Equal(t, "3.86 GiB", vaspace.Size(link))
}

// Placed by the macOS model with ASLR off (lldb), the set spans 4 GiB to
// 16.46 GiB with 7 dylibs past 16 GiB, one of them at 0x401d04000 across
// 0x402000000.
func TestChromiumPlacement(t *testing.T) {
	sc, err := scenario.Load(scenario.Default)
	require.NoError(t, err)
	order, err := dyld.Resolve(sc.Set)
	require.NoError(t, err)
	for _, tail := range sc.Model.Malloc.GuardTails(sc.Model.Platform.PageSize) {
		p, err := sc.Model.Launch(order, macos.Randomness{GuardTail: uint64(tail)})
		require.NoError(t, err)
		require.NoError(t, p.Space.Check())
		var top vaspace.Addr
		var past []loader.PlacedImage
		for _, im := range p.Images {
			if im.Reservation.End < 63<<30 {
				top = max(top, im.Reservation.End)
			}
			if im.Reservation.End > 16<<30 && strings.Contains(im.Spec.Name, "chromium") {
				past = append(past, im)
			}
		}
		lo, _ := p.Space.After(4 << 30)
		assert.Equal(t, vaspace.Addr(4<<30), lo.Start, "the span starts at 4 GiB")
		assert.Equal(t, "16.46 GiB", vaspace.Size(uint64(top)), "image span top")
		require.Len(t, past, 7, "dylibs past 16 GiB")
		found := false
		for _, im := range past {
			if im.Reservation.Start == 0x401d04000 {
				found = true
				assert.Greater(t, im.Reservation.End, vaspace.Addr(0x402000000))
			}
		}
		assert.True(t, found, "a dylib loaded at 0x401d04000")
	}
}
