package crashreport_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasim/vasim/loader/crashreport"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/vaspace"
)

// TestDefaultsMatchMacOSModel keeps the arm64 defaults equal to the
// placement model's platform.
func TestDefaultsMatchMacOSModel(t *testing.T) {
	assert.Equal(t, macos.DefaultPlatform.VATop, crashreport.ARM64VATop)
	assert.Equal(t, macos.DefaultPlatform.PageSize, uint64(crashreport.ARM64PageSize))
}

func TestSpaceXZone(t *testing.T) {
	for _, file := range []string{"xzone-macos26-arm64.ips", "xzone-macos26-arm64.crash"} {
		t.Run(file, func(t *testing.T) {
			r := parseSeed(t, file)

			_, err := r.Space(crashreport.SpaceOptions{})
			require.ErrorIs(t, err, crashreport.ErrOverlap)
			var ie *crashreport.ImageError
			require.ErrorAs(t, err, &ie)
			require.Len(t, ie.Images, 2)
			assert.Equal(t, "libsystem_malloc.dylib", ie.Images[0].Name)
			assert.Equal(t, "libsystem_platform.dylib", ie.Images[1].Name)
			assert.Contains(t, err.Error(), "share [0x18c3f0000, 0x18c3f4000)")
			assert.Contains(t, err.Error(), "MergeSharedPages")

			s, err := r.Space(crashreport.SpaceOptions{MergeSharedPages: true})
			require.NoError(t, err)
			require.NoError(t, s.Check())
			assert.Equal(t, uint64(16<<10), s.PageSize())
			assert.Equal(t, vaspace.Range{Start: 0, End: 0x7FFFFE000000}, s.Bounds())
			assert.Equal(t, 9, s.Len())

			m, ok := s.At(0x18c3f2000)
			require.True(t, ok)
			assert.Equal(t, rng(0x18c3a0000, 0x18c3fc000), m.Range)
			assert.Equal(t, "libsystem_malloc.dylib + libsystem_platform.dylib", m.Name)
			assert.Equal(t, "/usr/lib/system/libsystem_malloc.dylib", m.Owner)

			m, ok = s.Highest()
			require.True(t, ok)
			assert.Equal(t, rng(0x41d3a0000, 0x41d76c000), m.Range, "the highest image ends near 16.46 GiB")
			assert.Equal(t, "libv8.dylib", m.Name)
			assert.Equal(t, vaspace.KindImage, m.Kind)
			assert.Equal(t, vaspace.ProtRX, m.Prot)

			m, ok = s.At(0x401d04000)
			require.True(t, ok)
			assert.Equal(t, "libui_base.dylib", m.Name)

			// The reservation slot k = 1 of the forum's lldb run,
			// [16 GiB + 32 MiB, +24 GiB), is not free in this layout.
			assert.False(t, s.IsFree(rng(0x402000000, 0x402000000+24<<30)))
		})
	}
}

func TestSpaceX86(t *testing.T) {
	r := parseSeed(t, "xcodesapp-macos12.6-x86_64.crash")
	s, err := r.Space(crashreport.SpaceOptions{})
	require.NoError(t, err)
	require.NoError(t, s.Check())
	assert.Equal(t, uint64(4<<10), s.PageSize())
	assert.Equal(t, crashreport.X86VATop, s.Bounds().End)
	assert.Equal(t, 15, s.Len())
	m, ok := s.Lowest()
	require.True(t, ok)
	assert.Equal(t, "Xcodes", m.Name)
	assert.Equal(t, "/Applications/Xcodes.app/Contents/MacOS/Xcodes", m.Owner)
}

// TestSpaceRounding checks that ranges are rounded out, never in.
func TestSpaceRounding(t *testing.T) {
	r := crashreport.Report{Source: "r", CPUType: "ARM-64", Images: []crashreport.Image{
		{Range: rng(0x104001000, 0x104001001), Name: "a"},
		{Range: rng(0x104010000, 0x104014000), Path: "/b/libb.dylib"},
	}}
	s, err := r.Space(crashreport.SpaceOptions{})
	require.NoError(t, err)
	var got []vaspace.Mapping
	for m := range s.All() {
		got = append(got, m)
	}
	require.Len(t, got, 2)
	assert.Equal(t, rng(0x104000000, 0x104004000), got[0].Range)
	assert.Equal(t, "a", got[0].Owner)
	assert.Equal(t, rng(0x104010000, 0x104014000), got[1].Range)
	assert.Equal(t, "libb.dylib", got[1].Name)
	assert.Equal(t, "/b/libb.dylib", got[1].Owner)
}

func TestSpaceMergeNames(t *testing.T) {
	var ims []crashreport.Image
	for i := range 5 {
		ims = append(ims, crashreport.Image{Range: rng(0x180000000+uint64(i)*0x1000, 0x180000000+uint64(i)*0x1000+0x800), Name: string(rune('a' + i))})
	}
	r := crashreport.Report{Source: "r", CPUType: "ARM-64", Images: ims}
	s, err := r.Space(crashreport.SpaceOptions{MergeSharedPages: true})
	require.NoError(t, err)
	require.Equal(t, 2, s.Len())
	m, _ := s.Lowest()
	assert.Equal(t, "a + 3 more images sharing pages", m.Name)
	assert.Equal(t, rng(0x180000000, 0x180004000), m.Range)
	m, _ = s.Highest()
	assert.Equal(t, "e", m.Name)

	r.Images = ims[:3]
	s, err = r.Space(crashreport.SpaceOptions{MergeSharedPages: true})
	require.NoError(t, err)
	m, _ = s.Lowest()
	assert.Equal(t, "a + b + c", m.Name)
}

func TestSpaceErrors(t *testing.T) {
	img := crashreport.Image{Range: rng(0x7FFFFE000000, 0x7FFFFE001000), Name: "high"}
	tests := []struct {
		name  string
		r     crashreport.Report
		opts  crashreport.SpaceOptions
		class error
		msg   string
	}{
		{"unknown CPU", crashreport.Report{Source: "r", CPUType: "PPC", Images: []crashreport.Image{{Range: rng(0x1000, 0x2000)}}},
			crashreport.SpaceOptions{}, crashreport.ErrUnknownCPU, `CPU type "PPC"`},
		{"unknown CPU, page given", crashreport.Report{Source: "r", CPUType: "", Images: []crashreport.Image{{Range: rng(0x1000, 0x2000)}}},
			crashreport.SpaceOptions{PageSize: 4096}, crashreport.ErrUnknownCPU, "Top"},
		{"above the top", crashreport.Report{Source: "r", CPUType: "ARM-64", Images: []crashreport.Image{img}},
			crashreport.SpaceOptions{}, crashreport.ErrOutOfBounds, `"high" [0x7ffffe000000, 0x7ffffe001000): it ends above the address-space top 0x7ffffe000000`},
		{"rounding past 2^64", crashreport.Report{Source: "r", CPUType: "ARM-64", Images: []crashreport.Image{{Range: rng(0xFFFFFFFFFFFFF000, 0xFFFFFFFFFFFFF001), Name: "wrap"}}},
			crashreport.SpaceOptions{}, crashreport.ErrBadImage, `"wrap"`},
		{"bad page size", crashreport.Report{Source: "r", CPUType: "ARM-64", Images: []crashreport.Image{{Range: rng(0x1000, 0x2000)}}},
			crashreport.SpaceOptions{PageSize: 3000}, vaspace.ErrBadAlignment, "3000-byte pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.r.Space(tt.opts)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, tt.class)
			assert.Contains(t, err.Error(), tt.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "crashreport: r"), err.Error())
		})
	}

	// Explicit options serve any CPU type.
	r := crashreport.Report{Source: "r", CPUType: "PPC", Images: []crashreport.Image{{Range: rng(0x1000, 0x2000), Name: "x"}}}
	s, err := r.Space(crashreport.SpaceOptions{PageSize: 4096, Top: 1 << 32})
	require.NoError(t, err)
	assert.Equal(t, 1, s.Len())
}
