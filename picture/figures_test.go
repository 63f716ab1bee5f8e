package picture

import (
	"bytes"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/reserve"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
)

// -out DIR writes the realistic figures there as SVG, for
// scripts/render-svg: go test ./picture -run Figures -args -out /tmp/pic
var outDir = flag.String("out", "", "write the realistic figures' SVGs to this directory")

// xzoneFigure is the figure vasim xzone draws for the built-in Chromium
// scenario with ASLR off: 1543 images, 15 of 736 slots colliding with 8
// culprits.
func xzoneFigure(t testing.TB) (*Figure, *xzone.Result) {
	t.Helper()
	sc, err := scenario.Load("chromium-browser-tests")
	require.NoError(t, err)
	order, err := dyld.Resolve(sc.Set)
	require.NoError(t, err)
	proc, err := sc.Model.Launch(order, macos.Randomness{})
	require.NoError(t, err)
	p := xzone.Libmalloc792
	res, err := xzone.Analyze(proc.Space, p)
	require.NoError(t, err)
	return xzoneFigureOf("chromium-browser-tests", proc.Space, res), res
}

// xzoneFigureOf builds the figure of an xzone analysis, as vasim xzone
// --svg would.
func xzoneFigureOf(name string, s *vaspace.Space, res *xzone.Result) *Figure {
	p := res.Profile
	f := &Figure{
		Title:    fmt.Sprintf("%s: libmalloc XZone reservation vs the launch's layout (%s)", name, p.Name),
		Bounds:   s.Bounds(),
		Mappings: slices.Collect(s.All()),
		Notes: []string{
			fmt.Sprintf("P(crash) = %.2f%%: %s slots collide. __malloc_init maps %s FIXED at %s + k × %s, k = entropy mod %d, and aborts if anything is mapped there.",
				100*res.Probability, res.Fraction(), vaspace.Size(p.Reservation()), vaspace.Size(uint64(p.RangesStart)), vaspace.Size(p.Granule), p.Slots()),
		},
		Bands: []Band{
			{Name: fmt.Sprintf("XZone window [%s, %s)", vaspace.Size(uint64(p.RangesStart)), vaspace.Size(uint64(p.RangesEnd))), Range: p.Window(), Style: BandNote},
			{Name: "slot 0's reservation (24 GiB)", Range: p.SlotRange(0), Style: BandKeepFree},
		},
		Slots: &Slots{Name: "slot starts", Start: p.RangesStart, Granule: p.Granule, Count: p.Slots(), Reach: p.Reservation()},
	}
	if res.Excess > 0 {
		f.Notes = append(f.Notes, fmt.Sprintf("The images reach %s past %s: that much must leave the launch for no slot to collide.", vaspace.Size(res.Excess), vaspace.Size(uint64(p.RangesStart))))
	}
	for _, k := range res.Colliding {
		h := res.Slots[k].Hit
		name := h.Owner
		if name == "" {
			name = h.Name
		}
		f.Slots.Colliding = append(f.Slots.Colliding, Collision{Slot: k, Culprit: name})
	}
	for _, c := range res.CulpritImages() {
		label := c.Name
		if len(c.FirstHit) > 0 {
			label += fmt.Sprintf(" (%d)", len(c.FirstHit))
		}
		f.Highlights = append(f.Highlights, Highlight{Label: label, Range: c.Range})
	}
	return f
}

// linuxProgram prepares a program of this machine for the Linux model
// with the default x86_64 kernel at 32 random bits, or skips.
func linuxProgram(t testing.TB) (string, *linux.Program) {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("places a Linux x86_64 program")
	}
	exe := "/usr/bin/env"
	if _, err := os.Stat(exe); err != nil {
		t.Skip("no /usr/bin/env")
	}
	k, err := linux.DefaultKernel(loader.ArchX86_64)
	require.NoError(t, err)
	k.MmapRndBits = 32
	l := linux.Launch{StackLimit: 8 << 20}
	pr, err := linux.Prepare(exe, linux.Options{Kernel: &k, Launch: &l, Env: []string{"A=1"}, WorkDir: "/"})
	if err != nil {
		t.Skipf("cannot place %s: %v", exe, err)
	}
	return exe, pr
}

// reserveFigure is the figure vasim reserve draws for /usr/bin/env under
// ThreadSanitizer's x86_64 layout at mmap_rnd_bits 32.
func reserveFigure(t testing.TB) *Figure {
	t.Helper()
	exe, pr := linuxProgram(t)
	v, err := pr.Variation()
	require.NoError(t, err)
	preset, err := reserve.LookupPreset("tsan-x86_64")
	require.NoError(t, err)
	res, err := reserve.Analyze(v, preset.Spec)
	require.NoError(t, err)
	proc, err := pr.Layout(linux.Draw{})
	require.NoError(t, err)
	return reserveFigureOf(exe, preset, v, proc.Space(), res)
}

// reserveFigureOf builds the figure of a reserve analysis, as vasim
// reserve --svg would.
func reserveFigureOf(exe string, preset reserve.Preset, v *linux.Variation, s *vaspace.Space, res *reserve.Result) *Figure {
	f := &Figure{
		Title:    fmt.Sprintf("%s against %s at mmap_rnd_bits %d", exe, preset.Name, res.Bits),
		Bounds:   vaspace.Range{Start: 0, End: vaspace.Addr(v.Kernel.TaskSize())},
		Mappings: slices.DeleteFunc(slices.Collect(s.All()), func(m vaspace.Mapping) bool { return uint64(m.End) > v.Kernel.TaskSize() }),
		Notes: []string{
			fmt.Sprintf("%.2f%% of launches fail (%s). Mappings are drawn where the zero draw puts them; the blue bands show where each randomised group can land.", 100*res.Float(), preset.Message),
		},
	}
	for _, r := range preset.Spec.Free {
		f.Bands = append(f.Bands, Band{Name: r.Name, Range: r.Range, Style: BandKeepFree})
	}
	for _, r := range preset.Spec.Allowed {
		f.Bands = append(f.Bands, Band{Name: r.Name, Range: r.Range, Style: BandAllowed})
	}
	page := v.Kernel.PageSize
	if g := v.Exec; g != nil && len(g.Mappings) > 0 {
		lo, hi := g.Mappings[0].Start, g.Mappings[len(g.Mappings)-1].End
		top := hi + vaspace.Addr(g.Shift(g.Draws-1))
		f.Bands = append(f.Bands, Band{Name: "where the executable lands", Range: vaspace.Range{Start: lo, End: top}, Style: BandReach})
	}
	if g := v.Mmap; g != nil && len(g.Residues) > 0 && g.Down {
		var lo, hi vaspace.Addr
		for i, r := range g.Residues {
			for j, m := range r {
				if (i == 0 && j == 0) || m.Start < lo {
					lo = m.Start
				}
				hi = max(hi, m.End)
			}
		}
		move := vaspace.Addr((g.Draws - 1) / g.Period * g.Period * page)
		f.Bands = append(f.Bands, Band{Name: "where the mmap region lands", Range: vaspace.Range{Start: lo - move, End: hi}, Style: BandReach})
	}
	// One highlight per mapping in the way, with every way it is.
	type way struct {
		m     vaspace.Mapping
		parts []string
		p     *big.Rat
	}
	var ways []*way
	for _, c := range res.Culprits {
		i := slices.IndexFunc(ways, func(w *way) bool { return w.m.Range == c.Mapping.Range && w.m.Name == c.Mapping.Name })
		if i < 0 {
			ways = append(ways, &way{m: c.Mapping, p: new(big.Rat)})
			i = len(ways) - 1
		}
		f, _ := c.Probability.Float64()
		where := "in " + c.Range
		if c.Outside {
			where = "outside"
		}
		ways[i].parts = append(ways[i].parts, fmt.Sprintf("%.1f%% %s", 100*f, where))
	}
	for _, w := range ways {
		name := w.m.Owner
		if name == "" {
			name = w.m.Name
		}
		f.Highlights = append(f.Highlights, Highlight{Label: name + ": " + strings.Join(w.parts, ", "), Range: w.m.Range})
	}
	return f
}

// layoutFigure is the figure vasim layout draws for /usr/bin/env with
// randomisation off.
func layoutFigure(t testing.TB) *Figure {
	t.Helper()
	exe, pr := linuxProgram(t)
	proc, err := pr.Layout(linux.Draw{})
	require.NoError(t, err)
	s := proc.Space()
	return &Figure{
		Title:    exe + " when main starts (Linux " + proc.Kernel.Arch.String() + ", zero draw)",
		Notes:    []string{"mmap base " + strconv.FormatUint(proc.MmapBase, 16) + ", stack " + proc.Stack.String()},
		Bounds:   s.Bounds(),
		Mappings: slices.Collect(s.All()),
	}
}

// TestFigures draws the realistic figures, checks them like any other,
// and writes them to -out.
func TestFigures(t *testing.T) {
	figs := map[string]func(testing.TB) *Figure{
		"xzone":   func(t testing.TB) *Figure { f, _ := xzoneFigure(t); return f },
		"reserve": reserveFigure,
		"layout":  layoutFigure,
	}
	for _, name := range []string{"xzone", "reserve", "layout"} {
		t.Run(name, func(t *testing.T) {
			f := figs[name](t)
			var b bytes.Buffer
			require.NoError(t, f.WriteSVG(&b))
			checkSVG(t, f, b.Bytes())
			if *outDir != "" {
				require.NoError(t, os.WriteFile(filepath.Join(*outDir, name+".svg"), b.Bytes(), 0o644))
			}
		})
	}
}
