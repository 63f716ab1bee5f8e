package reserve_test

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/reserve"
	"github.com/vasim/vasim/vaspace"
)

const ldso = "/lib64/ld-linux-x86-64.so.2"

func mapping(name, owner string, kind vaspace.Kind, start, end uint64) vaspace.Mapping {
	return vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(end)}, Name: name, Owner: owner, Kind: kind, Prot: vaspace.ProtRW}
}

// Pieces of ld.so's malloc far apart are culprits of their own, each with
// its own range and ld.so as owner, not one range spanning the libraries
// between them; adjacent pieces (one line of /proc/PID/maps) are one; an
// image's segments are one culprit, its span.
func TestCulpritsArePieces(t *testing.T) {
	k, err := linux.DefaultKernel(loader.ArchX86_64)
	require.NoError(t, err)
	const page = 0x1000
	lib := "/usr/lib/libbig.so"
	ms := []vaspace.Mapping{
		mapping("ld.so malloc", ldso, vaspace.KindHeap, 0x7f0000000000, 0x7f0000008000),
		mapping("ld.so malloc", ldso, vaspace.KindHeap, 0x7f0000008000, 0x7f000000c000),
		mapping(lib, lib, vaspace.KindImage, 0x7f0000010000, 0x7f0004000000),
		mapping("bss of "+lib, lib, vaspace.KindImage, 0x7f0004000000, 0x7f0004100000),
		mapping("ld.so malloc", ldso, vaspace.KindHeap, 0x7f0004200000, 0x7f0004202000),
	}
	v := &linux.Variation{Kernel: k, Launch: linux.Launch{StackLimit: 8 << 20},
		Mmap: &linux.MmapGroup{Period: 1, Residues: [][]vaspace.Mapping{ms}, Down: true, Draws: 1 << 28, PageSize: page}}
	// Everything below 0x7f0000000000 + 1 TiB is in the way of nothing;
	// a free range the whole region slides into.
	free := reserve.Range{Name: "shadow", Range: vaspace.Range{Start: 0x7e0000000000, End: 0x7e8000000000}}
	res, err := reserve.AnalyzeBits(v, reserve.Spec{Free: []reserve.Range{free}}, 32)
	require.NoError(t, err)
	type got struct {
		name, owner string
		r           vaspace.Range
	}
	var cs []got
	for _, c := range res.Culprits {
		cs = append(cs, got{c.Mapping.Name, c.Mapping.Owner, c.Mapping.Range})
		assert.Equal(t, linux.GroupMmap, c.Group)
		assert.Equal(t, "shadow", c.Range)
		assert.Equal(t, 1, c.Probability.Sign())
	}
	assert.ElementsMatch(t, []got{
		{"ld.so malloc", ldso, vaspace.Range{Start: 0x7f0000000000, End: 0x7f000000c000}},
		{lib, lib, vaspace.Range{Start: 0x7f0000010000, End: 0x7f0004100000}},
		{"ld.so malloc", ldso, vaspace.Range{Start: 0x7f0004200000, End: 0x7f0004202000}},
	}, cs)
}

// A launch that is not randomised has one layout: the answer is 0 or 1,
// with the mappings in the way as culprits that never move.
func TestFixedLayout(t *testing.T) {
	k, err := linux.DefaultKernel(loader.ArchX86_64)
	require.NoError(t, err)
	k.RandomizeVASpace = 0
	v := &linux.Variation{Kernel: k, Launch: linux.Launch{StackLimit: 8 << 20}, Fixed: []vaspace.Mapping{
		mapping("/usr/bin/app", "/usr/bin/app", vaspace.KindImage, 0x555555554000, 0x555555560000),
		mapping("ld.so malloc", ldso, vaspace.KindHeap, 0x7ffff7fc0000, 0x7ffff7fc2000),
	}}
	in := reserve.Range{Name: "high", Range: vaspace.Range{Start: 0x7ff000000000, End: 0x800000000000}}
	res, err := reserve.Analyze(v, reserve.Spec{Free: []reserve.Range{in}})
	require.NoError(t, err)
	assert.Equal(t, 0, res.Probability.Cmp(big.NewRat(1, 1)), "every launch fails")
	require.Len(t, res.Culprits, 1)
	assert.Equal(t, "ld.so malloc", res.Culprits[0].Mapping.Name)
	assert.Equal(t, linux.GroupFixed, res.Culprits[0].Group)

	out := reserve.Range{Name: "low", Range: vaspace.Range{Start: 0x100000000000, End: 0x200000000000}}
	res, err = reserve.Analyze(v, reserve.Spec{Free: []reserve.Range{out}})
	require.NoError(t, err)
	assert.Equal(t, 0, res.Probability.Sign(), "no launch fails")
	assert.Empty(t, res.Culprits)
}
