package vasim_test

// Side-by-side benchmarks: each operation runs on vasim's implementation
// and on baselines in the same run, so ratios can be read off one
// `go test -bench` output. Nothing here asserts on time.
//
//	go test -run '^$' -bench . -benchmem
//
// vaspace baselines:
//   - btree: raw google/btree of intervals (same degree), with the
//     obvious gap walk for placement and no free-space index;
//   - slice: a sorted slice with binary search.

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"sort"
	"testing"

	"github.com/google/btree"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/reserve"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
	"github.com/vasim/vasim/xzone/fix"
)

const benchPage = 0x1000

// intervalSet is the operation set every implementation offers for the
// benchmarks. Ranges are page-aligned and half-open.
type intervalSet interface {
	lookup(a uint64) bool
	countOverlapping(lo, hi uint64) int
	insert(lo, hi uint64) bool // fails on overlap
	remove(lo, hi uint64)      // removes exactly [lo, hi), which is mapped
	placeTopDown(size, floor, ceiling uint64) (uint64, bool)
	cloneInsert(lo, hi uint64) intervalSet
}

// --- vaspace --------------------------------------------------------------

type spaceSet struct{ s *vaspace.Space }

func (v spaceSet) lookup(a uint64) bool {
	_, ok := v.s.At(vaspace.Addr(a))
	return ok
}
func (v spaceSet) countOverlapping(lo, hi uint64) int {
	n := 0
	for range v.s.Overlapping(vaspace.Range{Start: vaspace.Addr(lo), End: vaspace.Addr(hi)}) {
		n++
	}
	return n
}
func (v spaceSet) insert(lo, hi uint64) bool {
	return v.s.Map(vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(lo), End: vaspace.Addr(hi)}}) == nil
}
func (v spaceSet) remove(lo, hi uint64) {
	_ = v.s.Unmap(vaspace.Range{Start: vaspace.Addr(lo), End: vaspace.Addr(hi)})
}
func (v spaceSet) placeTopDown(size, floor, ceiling uint64) (uint64, bool) {
	a, err := v.s.HighestFit(vaspace.Request{Size: size, Window: vaspace.Range{Start: vaspace.Addr(floor), End: vaspace.Addr(ceiling)}})
	return uint64(a), err == nil
}
func (v spaceSet) cloneInsert(lo, hi uint64) intervalSet {
	c := spaceSet{v.s.Clone()}
	c.insert(lo, hi)
	return c
}

// --- raw google/btree -----------------------------------------------------

type ival struct{ lo, hi uint64 }

type btreeSet struct{ t *btree.BTreeG[ival] }

func newBtreeSet() btreeSet {
	return btreeSet{btree.NewG(32, func(a, b ival) bool { return a.lo < b.lo })}
}

func (b btreeSet) lookup(a uint64) bool {
	ok := false
	b.t.DescendLessOrEqual(ival{lo: a}, func(i ival) bool {
		ok = i.hi > a
		return false
	})
	return ok
}
func (b btreeSet) countOverlapping(lo, hi uint64) int {
	n := 0
	start := lo
	b.t.DescendLessOrEqual(ival{lo: lo}, func(i ival) bool {
		if i.hi > lo {
			n++
			start = i.lo + 1
		}
		return false
	})
	b.t.AscendRange(ival{lo: start}, ival{lo: hi}, func(ival) bool { n++; return true })
	return n
}
func (b btreeSet) insert(lo, hi uint64) bool {
	if b.countOverlapping(lo, hi) > 0 {
		return false
	}
	b.t.ReplaceOrInsert(ival{lo, hi})
	return true
}
func (b btreeSet) remove(lo, hi uint64) { b.t.Delete(ival{lo: lo}) }

// placeTopDown walks the gaps downward from the ceiling until one is large
// enough: what a search without a gap index has to do.
func (b btreeSet) placeTopDown(size, floor, ceiling uint64) (uint64, bool) {
	top := ceiling
	var at uint64
	found := false
	b.t.DescendLessOrEqual(ival{lo: ceiling - 1}, func(i ival) bool {
		if i.hi < top && top-i.hi >= size {
			at, found = top-size, true
			return false
		}
		top = min(top, i.lo)
		return true
	})
	if !found && top >= floor+size {
		return top - size, true
	}
	return at, found
}
func (b btreeSet) cloneInsert(lo, hi uint64) intervalSet {
	c := btreeSet{b.t.Clone()}
	c.insert(lo, hi)
	return c
}

// --- sorted slice ---------------------------------------------------------

type sliceSet struct{ s *[]ival }

func newSliceSet() sliceSet { return sliceSet{new([]ival)} }

// at returns the index of the first interval ending after a.
func (l sliceSet) at(a uint64) int {
	return sort.Search(len(*l.s), func(i int) bool { return (*l.s)[i].hi > a })
}
func (l sliceSet) lookup(a uint64) bool {
	i := l.at(a)
	return i < len(*l.s) && (*l.s)[i].lo <= a
}
func (l sliceSet) countOverlapping(lo, hi uint64) int {
	n := 0
	for i := l.at(lo); i < len(*l.s) && (*l.s)[i].lo < hi; i++ {
		n++
	}
	return n
}
func (l sliceSet) insert(lo, hi uint64) bool {
	i := l.at(lo)
	if i < len(*l.s) && (*l.s)[i].lo < hi {
		return false
	}
	*l.s = slices.Insert(*l.s, i, ival{lo, hi})
	return true
}
func (l sliceSet) remove(lo, hi uint64) {
	if i := l.at(lo); i < len(*l.s) && (*l.s)[i].lo == lo {
		*l.s = slices.Delete(*l.s, i, i+1)
	}
}
func (l sliceSet) placeTopDown(size, floor, ceiling uint64) (uint64, bool) {
	top := ceiling
	below := sort.Search(len(*l.s), func(i int) bool { return (*l.s)[i].lo >= ceiling })
	for i := below - 1; i >= 0; i-- {
		if iv := (*l.s)[i]; iv.hi < top && top-iv.hi >= size {
			return top - size, true
		} else {
			top = min(top, iv.lo)
		}
	}
	if top >= floor+size {
		return top - size, true
	}
	return 0, false
}
func (l sliceSet) cloneInsert(lo, hi uint64) intervalSet {
	c := sliceSet{new([]ival)}
	*c.s = slices.Clone(*l.s)
	c.insert(lo, hi)
	return c
}

// --- layouts --------------------------------------------------------------

// Layout for the benchmarks: n two-page mappings separated by one-page
// holes, packed below the ceiling, like a long-running process's mmap
// area. The holes are too small for a two-page request, so a top-down
// placement has to get past all of them.
const (
	benchFloor   = 0x10000
	benchCeiling = 0x7f0000000000
)

func benchLayout(n int) []ival {
	out := make([]ival, n)
	top := uint64(benchCeiling)
	for i := n - 1; i >= 0; i-- {
		out[i] = ival{top - 2*benchPage, top}
		top -= 3 * benchPage
	}
	return out
}

var impls = []struct {
	name string
	make func() intervalSet
}{
	{"vaspace", func() intervalSet {
		return spaceSet{vaspace.MustNew(vaspace.Range{Start: benchFloor, End: 0x7ffffffff000}, benchPage)}
	}},
	{"btree", func() intervalSet { return newBtreeSet() }},
	{"slice", func() intervalSet { return newSliceSet() }},
}

var benchSizes = []int{1000, 100000}

// eachImpl runs fn for every implementation and size on a fresh layout.
func eachImpl(b *testing.B, fn func(b *testing.B, set intervalSet, layout []ival)) {
	for _, impl := range impls {
		for _, n := range benchSizes {
			layout := benchLayout(n)
			set := impl.make()
			for _, iv := range layout {
				if !set.insert(iv.lo, iv.hi) {
					b.Fatalf("%s: layout insert %#x failed", impl.name, iv.lo)
				}
			}
			b.Run(fmt.Sprintf("impl=%s/n=%d", impl.name, n), func(b *testing.B) {
				b.ReportAllocs()
				fn(b, set, layout)
			})
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	eachImpl(b, func(b *testing.B, set intervalSet, layout []ival) {
		r := rand.New(rand.NewPCG(1, 2))
		lo, hi := layout[0].lo, layout[len(layout)-1].hi
		addrs := make([]uint64, 4096)
		for i := range addrs {
			addrs[i] = lo + r.Uint64N(hi-lo)
		}
		hits := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if set.lookup(addrs[i%len(addrs)]) {
				hits++
			}
		}
		if hits == 0 {
			b.Fatal("no lookup hit anything")
		}
	})
}

func BenchmarkOverlapQuery(b *testing.B) {
	eachImpl(b, func(b *testing.B, set intervalSet, layout []ival) {
		r := rand.New(rand.NewPCG(3, 4))
		starts := make([]int, 4096)
		for i := range starts {
			starts[i] = r.IntN(len(layout) - 8)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := starts[i%len(starts)]
			// A query spanning four mappings, starting inside one.
			if got := set.countOverlapping(layout[k].lo+benchPage, layout[k+3].hi); got != 4 {
				b.Fatalf("overlap query found %d mappings, want 4", got)
			}
		}
	})
}

// BenchmarkChurn maps a fixed range into a one-page hole and unmaps it
// again: the insert must check for overlap, the remove must update any
// index.
func BenchmarkChurn(b *testing.B) {
	eachImpl(b, func(b *testing.B, set intervalSet, layout []ival) {
		r := rand.New(rand.NewPCG(5, 6))
		holes := make([]uint64, 4096)
		for i := range holes {
			holes[i] = layout[1+r.IntN(len(layout)-1)].lo - benchPage
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			h := holes[i%len(holes)]
			if !set.insert(h, h+benchPage) {
				b.Fatalf("insert into hole %#x failed", h)
			}
			set.remove(h, h+benchPage)
		}
	})
}

// BenchmarkPlaceTopDown places one two-page mapping top-down below the
// ceiling (it lands below the whole layout, past every one-page hole) and
// removes it again.
func BenchmarkPlaceTopDown(b *testing.B) {
	eachImpl(b, func(b *testing.B, set intervalSet, layout []ival) {
		want := layout[0].lo - 2*benchPage
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			a, ok := set.placeTopDown(2*benchPage, benchFloor, benchCeiling)
			if !ok || a != want {
				b.Fatalf("placed at %#x (ok %v), want %#x", a, ok, want)
			}
			set.insert(a, a+2*benchPage)
			set.remove(a, a+2*benchPage)
		}
	})
}

// BenchmarkCloneInsert branches the layout and writes one mapping into the
// branch, as a simulation exploring one more image does.
func BenchmarkCloneInsert(b *testing.B) {
	eachImpl(b, func(b *testing.B, set intervalSet, layout []ival) {
		h := layout[len(layout)/2].lo - benchPage
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if c := set.cloneInsert(h, h+benchPage); !c.lookup(h) {
				b.Fatal("clone lost the insert")
			}
		}
	})
}

// BenchmarkPlaceMaxMapCount places vm.max_map_count (65,530) mappings
// top-down one after another into an empty space, the way a process fills
// its map. Each op is the whole sequence. The baselines re-walk every
// (empty) gap below the ceiling on each placement, so they are quadratic;
// they run at a tenth of the count to keep the run short, and their per-op
// time should be multiplied by ~100 to compare.
func BenchmarkPlaceMaxMapCount(b *testing.B) {
	for _, c := range []struct {
		impl string
		n    int
		make func() intervalSet
	}{
		{"vaspace", 65530, impls[0].make},
		{"btree", 6553, impls[1].make},
		{"slice", 6553, impls[2].make},
	} {
		b.Run(fmt.Sprintf("impl=%s/n=%d", c.impl, c.n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				set := c.make()
				for k := 0; k < c.n; k++ {
					size := uint64(1+k%3) * benchPage
					a, ok := set.placeTopDown(size, benchFloor, benchCeiling)
					if !ok || !set.insert(a, a+size) {
						b.Fatalf("placement %d failed", k)
					}
				}
			}
		})
	}
}

// --- xzone ------------------------------------------------------------------

// chromiumLayout is the chromium-browser-tests scenario placed with ASLR
// off: 1543 images, about 2,100 mappings.
func chromiumLayout(b *testing.B) (*macos.Layouts, *vaspace.Space) {
	sc, err := scenario.Load(scenario.Default)
	if err != nil {
		b.Fatal(err)
	}
	order, err := dyld.Resolve(sc.Set)
	if err != nil {
		b.Fatal(err)
	}
	p, err := sc.Model.Launch(order, macos.Randomness{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := sc.Model.Layouts(order)
	if err != nil {
		b.Fatal(err)
	}
	return l, p.Space
}

// BenchmarkXZoneAnalyze compares Analyze's single sweep with the 736 ×
// overlap-query brute force and with a 10^6-sample Monte Carlo estimate
// on the Chromium layout.
func BenchmarkXZoneAnalyze(b *testing.B) {
	_, s := chromiumLayout(b)
	p := xzone.Libmalloc792
	b.Run("impl=sweep", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if res, err := xzone.Analyze(s, p); err != nil || len(res.Colliding) != 15 {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=brute", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if res, err := xzone.AnalyzeBruteForce(s, p); err != nil || len(res.Colliding) != 15 {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=montecarlo/n=1e6", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(7, 8))
		for i := 0; i < b.N; i++ {
			xzone.MonteCarlo(s, p, 1_000_000, rng)
		}
	})
}

// BenchmarkXZoneJoint is the exact crash probability over every ASLR
// slide of the Chromium scenario (50,868,675 placement draws), beside a
// 100-launch Monte Carlo estimate of the same quantity (full simulated
// launches), the sampling approach the exact sum replaces.
func BenchmarkXZoneJoint(b *testing.B) {
	l, _ := chromiumLayout(b)
	p := xzone.Libmalloc792
	b.Run("impl=exact", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := xzone.JointAnalyze(l, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=montecarlo/n=100", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(9, 10))
		for i := 0; i < b.N; i++ {
			if _, err := xzone.JointMonteCarlo(l, p, 100, rng); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkXZoneJointScaling is the exact sum's cost against the number
// of images (the Chromium scenario without its last-loaded dylibs) and
// against the number of dyld slide pages (the platform's 256, fewer),
// with the distinct layouts it found and the cost per layout, on one
// worker so the figures do not depend on the scheduler.
func BenchmarkXZoneJointScaling(b *testing.B) {
	sc, err := scenario.Load(scenario.Default)
	if err != nil {
		b.Fatal(err)
	}
	full, err := dyld.Resolve(sc.Set)
	if err != nil {
		b.Fatal(err)
	}
	var movable []*loader.ImageSpec
	for _, img := range full.Images[1:] {
		if !img.InSharedCache {
			movable = append(movable, img)
		}
	}
	run := func(b *testing.B, m *macos.Model, order *dyld.LoadOrder) {
		l, err := m.Layouts(order)
		if err != nil {
			b.Fatal(err)
		}
		var pieces int
		for i := 0; i < b.N; i++ {
			j, err := xzone.JointAnalyzeWorkers(l, xzone.Libmalloc792, 1)
			if err != nil {
				b.Fatal(err)
			}
			pieces = j.Pieces
		}
		b.ReportMetric(float64(pieces), "layouts")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(max(pieces, 1)), "ns/layout")
	}
	for _, keep := range []int{len(movable) / 4, len(movable) / 2, 3 * len(movable) / 4, len(movable)} {
		order, err := dyld.Resolve(fix.Without(sc.Set, movable[keep:]))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("images=%d", len(order.Images)), func(b *testing.B) { run(b, sc.Model, order) })
	}
	for _, pages := range []int64{32, 64, 128, 256} {
		m := *sc.Model
		m.Platform.DyldSlidePages = pages
		b.Run(fmt.Sprintf("dyld_pages=%d", pages), func(b *testing.B) { run(b, &m, full) })
	}
}

// --- Linux placement ---------------------------------------------------------

// BenchmarkLinuxLayoutGDB predicts gdb's layout with randomisation off
// (59 libraries: resolve, read, replay ld.so) beside two ways of reading
// the real one: starting gdb under setarch -R and having it print its own
// maps, and stopping gdb at its entry point under ptrace (the fastest
// possible: the kernel and ld.so only). "replay" is one more layout of an
// already prepared program, what each draw of the exact analysis costs.
func BenchmarkLinuxLayoutGDB(b *testing.B) {
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		b.Skip("gdb is not installed")
	}
	if _, err := exec.LookPath("setarch"); err != nil {
		b.Skip("setarch is not installed")
	}
	launch, err := linux.HostLaunch()
	if err != nil {
		b.Fatal(err)
	}
	launch.NoRandomize = true
	opt := linux.Options{Launch: &launch, Env: []string{}, WorkDir: b.TempDir()}
	b.Run("impl=vasim-prepare+layout", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := linux.Layout(gdb, linux.Draw{}, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=vasim-replay", func(b *testing.B) {
		pr, err := linux.Prepare(gdb, opt)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := pr.Layout(linux.Draw{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=setarch-gdb-batch", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cmd := exec.Command("setarch", "-R", gdb, "-nx", "-batch", "-ex", "shell cat /proc/$PPID/maps")
			cmd.Env = []string{}
			if out, err := cmd.Output(); err != nil || len(out) == 0 {
				b.Fatalf("gdb: %v", err)
			}
		}
	})
	b.Run("impl=ptrace-at-entry", func(b *testing.B) {
		cc, err := exec.LookPath("gcc")
		if err != nil {
			b.Skip("gcc is not installed")
		}
		tracer, err := objtest.Compile(cc, b.TempDir(), "tracer", objtest.EntryTracerSrc, []string{"-O1"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			cmd := exec.Command(tracer, gdb)
			cmd.Env = []string{}
			if out, err := cmd.Output(); err != nil || len(out) == 0 {
				b.Fatalf("tracer: %v", err)
			}
		}
	})
}

// BenchmarkReserveTSan computes the exact probability that a launch of a
// small PIE fails under ThreadSanitizer's current layout at 32 random
// bits (every one of the 2^32 × 2^32 × 2^35 draws accounted for), beside
// the baseline a user without the model has: sampling 1,000 random
// launches through the same placement model, which only estimates it
// (±1.6 points at 1,000 samples).
func BenchmarkReserveTSan(b *testing.B) {
	dir, exe := benchHello(b)
	k, err := linux.HostKernel()
	if err != nil {
		b.Skip(err)
	}
	k.MmapRndBits, k.RandomizeVASpace = 32, 2
	launch, err := linux.HostLaunch()
	if err != nil {
		b.Fatal(err)
	}
	pr, err := linux.Prepare(exe, linux.Options{Kernel: &k, Launch: &launch, Env: []string{}, WorkDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	preset, err := reserve.LookupPreset("tsan-x86_64")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=exact", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			v, err := pr.Variation()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := reserve.Analyze(v, preset.Spec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=sample-1000", func(b *testing.B) {
		in := k.Inputs(launch)
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < b.N; i++ {
			fails := 0
			for range 1000 {
				d := linux.Draw{Mmap: r.Uint64N(in.Mmap), PIE: r.Uint64N(in.PIE), Stack: r.Uint64N(in.Stack), SP: r.Uint64N(in.SP), Brk: r.Uint64N(in.Brk)}
				p, err := pr.Layout(d)
				if err != nil {
					b.Fatal(err)
				}
				if inTheWay(p.Space(), preset.Spec) {
					fails++
				}
			}
			_ = fails
		}
	})
}

// benchHello builds a minimal C program with the host's gcc, or skips.
func benchHello(b *testing.B) (dir, exe string) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		b.Skip("gcc is not installed")
	}
	dir = b.TempDir()
	exe, err = objtest.Compile(cc, dir, "hello", "int main(void) { return 0; }\n", []string{"-O1"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return dir, exe
}

// inTheWay is the direct check of one layout against a specification.
func inTheWay(s *vaspace.Space, spec reserve.Spec) bool {
	for _, f := range spec.Free {
		for range s.Overlapping(f.Range) {
			return true
		}
	}
	if len(spec.Allowed) == 0 {
		return false
	}
	for m := range s.All() {
		if m.Name == "[vsyscall]" {
			continue
		}
		inside := false
		for _, a := range spec.Allowed {
			inside = inside || a.ContainsRange(m.Range)
		}
		if !inside {
			return true
		}
	}
	return false
}

// BenchmarkLinuxMaxMapCount fills a process with vm.max_map_count
// (65,530) more mappings through the Linux placement model (mmap(2):
// get_unmapped_area with its THP and guard-gap rules, then the map) beside
// the bare vaspace top-down search below the same mmap base.
func BenchmarkLinuxMaxMapCount(b *testing.B) {
	dir, exe := benchHello(b)
	launch, err := linux.HostLaunch()
	if err != nil {
		b.Fatal(err)
	}
	launch.NoRandomize = true
	base, err := linux.Layout(exe, linux.Draw{}, linux.Options{Launch: &launch, Env: []string{}, WorkDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	const n = 65530 - 32
	prots := []vaspace.Prot{vaspace.ProtRead, vaspace.ProtRW} // alternate so nothing merges
	b.Run("impl=linux-mmap", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p := base.Clone()
			for k := 0; k < n; k++ {
				m := vaspace.Mapping{Name: "anon", Prot: prots[k%2]}
				if _, err := p.Mmap(linux.MmapRequest{Len: uint64(1+k%3) * benchPage, Mapping: m}); err != nil {
					b.Fatalf("mmap %d: %v", k, err)
				}
			}
		}
	})
	b.Run("impl=vaspace-highestfit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s := base.Space().Clone()
			w := vaspace.Range{Start: 0x10000, End: vaspace.Addr(base.MmapBase)}
			for k := 0; k < n; k++ {
				size := uint64(1+k%3) * benchPage
				a, err := s.HighestFit(vaspace.Request{Size: size, Window: w})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Map(vaspace.Mapping{Range: vaspace.Range{Start: a, End: a + vaspace.Addr(size)}, Name: "anon", Prot: prots[k%2]}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
