package vaspace

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestGapIndexRandomOrder inserts, removes and replaces gaps in random
// order against a sorted slice, on trees several levels deep, and checks
// every structural invariant and every query after each step. Forks are
// kept and re-checked: later writes must not show through.
func TestGapIndexRandomOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Gaps live on a grid: slot k may hold [k*16, k*16+len) with len in
		// 1..8 pages, so gaps never touch.
		const slots = 2000
		x := gapIndex{owner: new(gapOwner)}
		x.root = &gnode{owner: x.owner, leaf: true}
		var ref []Range
		type snap struct {
			idx gapIndex
			ref []Range
		}
		var snaps []snap
		steps := rapid.IntRange(1, 3000).Draw(t, "steps")
		for step := 0; step < steps; step++ {
			k := Addr(rapid.IntRange(0, slots-1).Draw(t, "slot"))
			g := Range{k * 16 * 0x1000, (k*16 + Addr(rapid.IntRange(1, 8).Draw(t, "pages"))) * 0x1000}
			i, found := slices.BinarySearchFunc(ref, g.Start, func(r Range, a Addr) int { return int(r.Start>>12) - int(a>>12) })
			switch {
			case !found:
				x.insert(g)
				ref = slices.Insert(ref, i, g)
			case rapid.Bool().Draw(t, "remove"):
				x.remove(g.Start)
				ref = slices.Delete(ref, i, i+1)
			default:
				x.replace(g)
				ref[i] = g
			}
			if step%97 == 0 {
				snaps = append(snaps, snap{x.fork(), slices.Clone(ref)})
			}
			got, err := x.check()
			require.NoError(t, err, "step %d", step)
			require.Equal(t, len(ref), len(got), "step %d", step)
			if len(ref) > 0 {
				require.Equal(t, ref, got, "step %d", step)
			}
			a := Addr(rapid.Uint64Range(0, slots*16*0x1000).Draw(t, "probe"))
			want, wantOK := Range{}, false
			for _, r := range ref {
				if r.Start <= a {
					want, wantOK = r, true
				}
			}
			fl, ok := x.floor(a)
			require.Equal(t, wantOK, ok)
			require.Equal(t, want, fl)
		}
		for _, s := range snaps {
			got, err := s.idx.check()
			require.NoError(t, err)
			if len(s.ref) > 0 {
				require.Equal(t, s.ref, got, "persistent snapshot changed")
			}
		}
	})
}
