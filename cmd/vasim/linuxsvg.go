package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/picture"
	"github.com/vasim/vasim/reserve"
	"github.com/vasim/vasim/vaspace"
)

// writeSVG draws f into the file path.
func writeSVG(path string, f *picture.Figure) error {
	var buf bytes.Buffer
	if err := f.WriteSVG(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// belowTask drops what lies above the task size (x86_64's vsyscall
// page), which would stretch the axis to 16 EiB for one page.
func belowTask(s *vaspace.Space, k *linux.Kernel) []vaspace.Mapping {
	return slices.DeleteFunc(slices.Collect(s.All()), func(m vaspace.Mapping) bool { return uint64(m.End) > k.TaskSize() })
}

// layoutFigure is what vasim layout --svg draws: every mapping of the
// process when main starts.
func layoutFigure(title string, notes []string, p *linux.Process) *picture.Figure {
	return &picture.Figure{
		Title:    title,
		Notes:    notes,
		Bounds:   vaspace.Range{Start: 0, End: vaspace.Addr(p.Kernel.TaskSize())},
		Mappings: belowTask(p.Space(), &p.Kernel),
	}
}

// reserveFigure is what vasim reserve --svg draws: the ranges that must
// stay free (or hold everything) over the band each randomised group can
// land in, the layout at the zero draw, and each mapping in the way with
// how often it is.
func reserveFigure(exe string, spec reserve.Spec, v *linux.Variation, s *vaspace.Space, res *reserve.Result) *picture.Figure {
	k := v.Kernel
	f := &picture.Figure{
		Title:    fmt.Sprintf("%s at mmap_rnd_bits %d", exe, res.Bits),
		Bounds:   vaspace.Range{Start: 0, End: vaspace.Addr(k.TaskSize())},
		Mappings: belowTask(s, &k),
		Notes: []string{fmt.Sprintf("%s of launches fail. Mappings are drawn where the zero draw puts them; the blue bands show where each randomised group can land.",
			share(res.Float()))},
	}
	for _, r := range spec.Free {
		f.Bands = append(f.Bands, picture.Band{Name: r.Name, Range: r.Range, Style: picture.BandKeepFree})
	}
	for _, r := range spec.Allowed {
		f.Bands = append(f.Bands, picture.Band{Name: r.Name, Range: r.Range, Style: picture.BandAllowed})
	}
	page := k.PageSize
	if g := v.Exec; g != nil && len(g.Mappings) > 0 {
		lo, hi := g.Mappings[0].Start, g.Mappings[len(g.Mappings)-1].End
		f.Bands = append(f.Bands, picture.Band{Name: "where the executable lands", Range: vaspace.Range{Start: lo, End: hi + vaspace.Addr(g.Shift(g.Draws-1))}, Style: picture.BandReach})
	}
	if g := v.Mmap; g != nil && len(g.Residues) > 0 && g.Down {
		var lo, hi vaspace.Addr
		first := true
		for _, r := range g.Residues {
			for _, m := range r {
				if first || m.Start < lo {
					lo, first = m.Start, false
				}
				hi = max(hi, m.End)
			}
		}
		move := vaspace.Addr((g.Draws - 1) / g.Period * g.Period * page)
		if move <= lo {
			f.Bands = append(f.Bands, picture.Band{Name: "where the mmap region lands", Range: vaspace.Range{Start: lo - move, End: hi}, Style: picture.BandReach})
		}
	}
	type way struct {
		m     vaspace.Mapping
		parts []string
	}
	var ways []*way
	for _, c := range res.Culprits {
		i := slices.IndexFunc(ways, func(w *way) bool { return w.m.Range == c.Mapping.Range && w.m.Name == c.Mapping.Name })
		if i < 0 {
			ways = append(ways, &way{m: c.Mapping})
			i = len(ways) - 1
		}
		where := "in " + c.Range
		if c.Outside {
			where = "outside"
		}
		ways[i].parts = append(ways[i].parts, share(ratFloat(c.Probability))+" "+where)
	}
	for _, w := range ways {
		// An image by its file; anything else (ld.so's malloc pieces,
		// the stack) by what it is, not by the image that made it.
		name := w.m.Name
		if w.m.Kind == vaspace.KindImage && w.m.Owner != "" {
			name = w.m.Owner
		}
		f.Highlights = append(f.Highlights, picture.Highlight{Label: name + ": " + strings.Join(w.parts, ", "), Range: w.m.Range})
	}
	return f
}
