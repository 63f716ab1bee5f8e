package linux

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
)

// Variation is how a randomised launch's layout depends on the kernel's
// random draws. The draws are independent and each moves one group of
// mappings rigidly (fs/binfmt_elf.c, mm/util.c, arch/x86/mm/mmap.c):
//
//   - the PIE draw moves the executable (Exec);
//   - the mmap draw moves everything mmap placed: ld.so, the vDSO, the
//     libraries, ld.so's own allocations (Mmap). Alignment to 2 MiB (THP)
//     or a library's p_align makes the layout depend on the draw modulo
//     the alignment too, so Mmap holds one layout per residue;
//   - the stack draws move the stack (Stack).
//
// Mappings that never move (a non-PIE executable, the vsyscall page) are
// in Fixed. Because the groups are independent, the probability that some
// mapping hits a fixed range is computed per group and combined exactly
// (package reserve). A launch that is not randomised (randomize_va_space
// 0, or the personality) has one layout: every mapping is in Fixed and
// the groups are nil.
type Variation struct {
	Kernel Kernel
	Launch Launch
	Fixed  []vaspace.Mapping
	Exec   *ExecGroup
	Mmap   *MmapGroup
	Stack  *StackGroup
	// Apart are the mappings of the zero draw no group holds: the brk
	// heap libc's malloc creates (at the first dlopen), which the brk
	// draw (arch_randomize_brk) moves above the executable's end, so it
	// is neither rigid with a PIE executable nor independent of it.
	Apart []vaspace.Mapping
}

// ExecGroup is a position-independent executable, moved by the PIE draw.
type ExecGroup struct {
	// Mappings are the executable's mappings at PIE draw 0.
	Mappings []vaspace.Mapping
	// Draws is the number of PIE draws (2^mmap_rnd_bits).
	Draws uint64
	// the bias at draw p is alignDown(base + p·page, align) − vaddr.
	base, align, vaddr, page uint64
}

// Shift returns how far the executable is above its draw-0 place at PIE
// draw p (load_elf_binary: ELF_ET_DYN_BASE + p pages, rounded down to the
// largest p_align).
func (g *ExecGroup) Shift(p uint64) uint64 {
	return alignDown(g.base+p*g.page, g.align) - alignDown(g.base, g.align)
}

// Align returns the alignment the executable's base is rounded down to.
func (g *ExecGroup) Align() uint64 { return g.align }

// Page returns the page size: the PIE draw's unit.
func (g *ExecGroup) Page() uint64 { return g.page }

// MmapGroup is what the mmap draw moves. At draw q·Period + r the
// mappings are Residues[r] moved by q·Period pages: down (top-down
// layout) or up (legacy).
type MmapGroup struct {
	Period   uint64
	Residues [][]vaspace.Mapping
	Down     bool
	// Draws is the number of mmap draws (2^mmap_rnd_bits).
	Draws    uint64
	PageSize uint64
}

// StackGroup is the initial stack. Its top moves down by s + a pages: s
// uniform over StackDraws values (randomize_stack_top), a one of 0, 1, 2
// with AlignWeights out of 8192 (arch_align_stack rounded to a page). The
// stack's extent below its top depends on a further sub-page draw only
// when the pointer block is large; Extents lists the distinct extents
// with how many of SPDraws values give each.
type StackGroup struct {
	// Top is the stack's end at the zero draw.
	Top          uint64
	StackDraws   uint64
	AlignWeights [3]uint64
	SPDraws      uint64
	Extents      []StackExtent
	PageSize     uint64
	Name         string
	Prot         vaspace.Prot
}

// StackExtent is one possible size of the stack VMA below its top.
type StackExtent struct {
	Size  uint64
	Count uint64
}

// ErrNotSeparable says a layout's groups interact (the mmap region
// reaches the executable or the stack at some draw), so their draws do
// not move them independently and the exact analysis does not apply.
var ErrNotSeparable = errors.New("the randomised groups of the layout interact")

// Variation computes how the program's layout moves with the draws. It
// places the program once per residue of the mmap draw (with 4 KiB pages
// and THP, 512 times; a few hundred microseconds each) and checks, at the
// extremes of the highest mmap_rnd_bits the architecture accepts, that
// the groups stay rigid and apart, so that the same Variation serves
// every mmap_rnd_bits. A launch that is not randomised is placed once,
// every mapping Fixed.
func (pr *Program) Variation() (*Variation, error) {
	k := pr.k
	if !k.Randomized(pr.launch) {
		p, err := pr.Layout(Draw{})
		if err != nil {
			return nil, err
		}
		v := &Variation{Kernel: k, Launch: pr.launch}
		for m := range p.Space().All() {
			v.Fixed = append(v.Fixed, m)
		}
		return v, nil
	}
	if !k.VDSOTopDown {
		return nil, fmt.Errorf("linux: the profile puts the vDSO at a random page above the stack (x86_64 before 6.9), which the exact analysis does not model")
	}
	page := k.PageSize
	base, err := pr.Layout(Draw{})
	if err != nil {
		return nil, err
	}
	v := &Variation{Kernel: k, Launch: pr.launch}
	exe := base.Images[0]
	isExec := func(m vaspace.Mapping) bool { return exe.Span.ContainsRange(m.Range) }
	pie := exe.Group == GroupExec
	for m := range base.Space().All() {
		switch {
		case m.Kind == vaspace.KindStack:
		case isBrkHeap(m):
			v.Apart = append(v.Apart, m)
		case m.Name == "[vsyscall]", isExec(m) && !pie && exe.Group == GroupFixed:
			v.Fixed = append(v.Fixed, m)
		}
	}
	in := k.Inputs(pr.launch)
	if pie {
		g := &ExecGroup{Draws: in.PIE, base: k.ETDynBase(), align: maxAlign(pr.in.Exe, page), page: page}
		for m := range base.Space().All() {
			if isExec(m) {
				g.Mappings = append(g.Mappings, m)
			}
		}
		v.Exec = g
	}
	// The stack: its extents over the sub-page draw.
	if v.Stack, err = pr.stackGroup(base); err != nil {
		return nil, err
	}
	// The mmap region, residue by residue.
	period := pr.mmapPeriod()
	lo, hi := k.RndBitsRange()
	_ = lo
	if uint64(1)<<k.MmapRndBits < period {
		return nil, fmt.Errorf("linux: %d random bits give fewer mmap draws than the %d residues of the %s alignment", k.MmapRndBits, period, vaspace.Size(period*page))
	}
	g := &MmapGroup{Period: period, Down: !k.Legacy(pr.launch), Draws: in.Mmap, PageSize: page}
	inMmap := func(m vaspace.Mapping) bool {
		return m.Kind != vaspace.KindStack && m.Name != "[vsyscall]" && !isExec(m) && !isBrkHeap(m)
	}
	// The extremes are checked with the most random bits allowed.
	wide := *pr
	wide.k.MmapRndBits = hi
	maxQ := (uint64(1)<<hi)/period - 1
	execTop := uint64(0)
	if pie {
		execTop = uint64(exe.Span.End) + v.Exec.Shift(uint64(1)<<hi-1)
	} else if exe.Group == GroupFixed {
		execTop = uint64(exe.Span.End)
	}
	stackLow := v.Stack.Top - (v.Stack.StackDraws+1)*page - v.Stack.maxSize() - k.StackGuardGap
	for r := uint64(0); r < period; r++ {
		p, err := pr.Layout(Draw{Mmap: r})
		if err != nil {
			return nil, err
		}
		var ms []vaspace.Mapping
		for m := range p.Space().All() {
			if inMmap(m) {
				ms = append(ms, m)
			}
		}
		if len(ms) == 0 {
			return nil, fmt.Errorf("linux: the mmap region is empty")
		}
		far, err := wide.Layout(Draw{Mmap: r + maxQ*period})
		if err != nil {
			return nil, fmt.Errorf("linux: at the largest mmap draw: %w", err)
		}
		var fs []vaspace.Mapping
		for m := range far.Space().All() {
			if inMmap(m) {
				fs = append(fs, m)
			}
		}
		shift := maxQ * period * page
		if !sameShifted(ms, fs, shift, g.Down) {
			return nil, fmt.Errorf("linux: %w: the mmap region's layout at draw %d differs from that at draw %d moved by %s (it meets another mapping or the search floor)", ErrNotSeparable, r+maxQ*period, r, vaspace.Size(shift))
		}
		lowest, highest := uint64(fs[0].Start), uint64(fs[len(fs)-1].End)
		if g.Down && lowest <= execTop {
			return nil, fmt.Errorf("linux: %w: at the lowest mmap base the mmap region reaches %#x, below the executable's highest end %#x", ErrNotSeparable, lowest, execTop)
		}
		if !g.Down && highest >= stackLow {
			return nil, fmt.Errorf("linux: %w: at the highest legacy mmap base the mmap region reaches %#x, into the stack's range", ErrNotSeparable, highest)
		}
		g.Residues = append(g.Residues, ms)
	}
	v.Mmap = g
	return v, nil
}

// isBrkHeap reports whether m is the brk heap (see createHeap).
func isBrkHeap(m vaspace.Mapping) bool { return m.Kind == vaspace.KindHeap && m.Name == "[heap]" }

// mmapPeriod is the number of mmap draws after which the alignment
// decisions repeat: the largest alignment any placement uses (the THP
// size when the kernel has THP, a library's p_align), in pages.
func (pr *Program) mmapPeriod() uint64 {
	a := pr.k.PageSize
	if pr.k.THP {
		a = max(a, pr.k.HugePageSize)
	}
	specs := []*loader.ImageSpec{pr.in.Exe}
	if pr.in.Interp != nil {
		specs = append(specs, pr.in.Interp)
	}
	for _, o := range pr.order {
		specs = append(specs, o.Spec)
	}
	for _, s := range specs {
		a = max(a, maxAlign(s, pr.k.PageSize))
	}
	return a / pr.k.PageSize
}

// sameShifted reports whether b is a moved by shift (down or up).
func sameShifted(a, b []vaspace.Mapping, shift uint64, down bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		m := b[i]
		if down {
			m.Start, m.End = m.Start+vaspace.Addr(shift), m.End+vaspace.Addr(shift)
		} else {
			m.Start, m.End = m.Start-vaspace.Addr(shift), m.End-vaspace.Addr(shift)
		}
		if m != a[i] {
			return false
		}
	}
	return true
}

// stackGroup computes the stack's extents over the sub-page draw.
func (pr *Program) stackGroup(base *Process) (*StackGroup, error) {
	k := pr.k
	m, ok := base.Space().At(base.Stack.Start)
	if !ok {
		return nil, fmt.Errorf("linux: no stack mapping")
	}
	in := k.Inputs(pr.launch)
	g := &StackGroup{Top: uint64(base.Stack.End), StackDraws: in.Stack, AlignWeights: k.StackAlignWeights(pr.launch), SPDraws: in.SP, PageSize: k.PageSize, Name: m.Name, Prot: m.Prot}
	use := pr.opt.StackUse
	if use == 0 {
		use = DefaultStackUse
	}
	counts := map[uint64]uint64{}
	for sp := uint64(0); sp < in.SP; sp++ {
		r, spAddr, err := k.stackVMA(g.Top, pr.in, sp)
		if err != nil {
			return nil, err
		}
		start := uint64(r.Start)
		if pr.in.Interp != nil {
			start = min(start, alignDown(spAddr-use, k.PageSize))
		}
		counts[g.Top-start]++
	}
	for size, n := range counts {
		g.Extents = append(g.Extents, StackExtent{Size: size, Count: n})
	}
	slices.SortFunc(g.Extents, func(a, b StackExtent) int { return int(int64(a.Size - b.Size)) })
	return g, nil
}

func (g *StackGroup) maxSize() uint64 {
	var m uint64
	for _, e := range g.Extents {
		m = max(m, e.Size)
	}
	return m
}
