// Command chromium answers, for Chromium's browser_tests on macOS 26.3.1
// arm64, the questions an engineer asks about the sporadic crash in
// xzm_main_malloc_zone_init_range_groups ("BUG IN LIBMALLOC: pointer
// range initial reservation failed", Apple Developer Forums thread 821081):
// how often it happens, which slots and images are to blame, whether the
// 2-5 crashes seen in 200 launches fit, and what it takes to get to 0%.
//
// It uses the built-in chromium-browser-tests scenario (synthetic sizes
// calibrated to the published figures; see vasim scenarios).
//
//	go run ./examples/chromium           # exact over every ASLR slide: about 10 s per sum, a few sums
//	go run ./examples/chromium -quick    # the lldb (ASLR-off) layout only, instant
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
)

func main() {
	quick := flag.Bool("quick", false, "skip the exact sums over every ASLR slide; use the lldb (ASLR-off) layout only")
	flag.Parse()
	if err := run(os.Stdout, !*quick); err != nil {
		fmt.Fprintln(os.Stderr, "chromium:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, exact bool) error {
	sc, err := scenario.Load("chromium-browser-tests")
	if err != nil {
		return err
	}
	order, err := dyld.Resolve(sc.Set)
	if err != nil {
		return err
	}
	p := xzone.Libmalloc792
	fmt.Fprintf(w, "%s\n\n", sc.Description)

	// 1. The layout lldb saw: ASLR off, as in the published investigation.
	proc, err := sc.Model.Launch(order, macos.Randomness{})
	if err != nil {
		return err
	}
	res, err := xzone.Analyze(proc.Space, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Crash rate\n")
	fmt.Fprintf(w, "  lldb layout (ASLR off): %s slots collide = %.2f%% (published: slots 0-14, 15/736 = 2.04%%)\n", res.Fraction(), 100*res.Probability)

	// 2. Every real launch: ASLR on, summed exactly over every slide.
	rates := []struct {
		name string
		p    float64
	}{{"ASLR off", res.Probability}}
	if exact {
		layouts, err := sc.Model.Layouts(order)
		if err != nil {
			return err
		}
		joint, err := xzone.JointAnalyze(layouts, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  every launch (ASLR on, exact over %d slide draws): %.2f%%, %d-%d slots colliding\n", joint.Draws, 100*joint.Probability, joint.Fewest, joint.Most)
		rates = append(rates, struct {
			name string
			p    float64
		}{"ASLR on", joint.Probability})
	}
	obs := sc.Observed
	for _, c := range rates {
		l, err := xzone.Expect(obs.Launches, c.p, 0.95)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %d launches, %s: %.1f crashes expected (95%%: %d-%d); the observed %d-%d has probability %.2f\n",
			obs.Launches, c.name, l.Mean, l.Lo, l.Hi, obs.Lo, obs.Hi, l.Between(obs.Lo, obs.Hi))
	}

	// 3. Who is to blame.
	s1 := res.Slots[1]
	fmt.Fprintf(w, "\nSlot 1 (ptr_start %v) runs into %s loaded at %v (published: a dylib loaded at 0x401d04000)\n", s1.Reservation.Start, s1.Hit.Owner, s1.Hit.Start)
	var images, others []xzone.Culprit
	for _, c := range res.CulpritImages() {
		if c.Image {
			images = append(images, c)
		} else {
			others = append(others, c)
		}
	}
	fmt.Fprintf(w, "Images in the reservation window (%d):\n", len(images))
	for _, c := range images {
		fmt.Fprintf(w, "  %v  %-9s %s\n", c.Range, vaspace.Size(uint64(c.Range.Len())), c.Name)
	}
	for _, c := range others {
		fmt.Fprintf(w, "  and %v  %-9s %s's own memory, which fills a hole below the top image\n", c.Range, vaspace.Size(uint64(c.Range.Len())), c.Name)
	}

	// 4. Getting to 0%: the layout must end below 16 GiB. Moving just the
	// images above 16 GiB is not enough: the ones loaded after them move
	// up. Move whole images, last loaded first, until the model says so.
	fmt.Fprintf(w, "\nTo reach 0%%\n")
	fmt.Fprintf(w, "  the layout reaches %s past %v; with ASLR on, the executable's slide adds up to %s\n",
		vaspace.Size(res.Excess), p.RangesStart, vaspace.Size(sc.Model.Platform.MaxExeSlide()))
	moved, err := moveUntilClear(w, sc, p, exact)
	if err != nil {
		return err
	}
	var bytes uint64
	for _, img := range moved {
		span, _ := img.VMSpan()
		bytes += span.Len()
	}
	how := "with ASLR off and at the extreme slides"
	if exact {
		how = "at every slide (exact)"
	}
	fmt.Fprintf(w, "  loading the last %d dylibs with dlopen after launch (after __malloc_init) gives 0%% %s; %s moved:\n", len(moved), how, vaspace.Size(bytes))
	for _, img := range moved {
		span, _ := img.VMSpan()
		fmt.Fprintf(w, "    %-9s %s\n", vaspace.Size(span.Len()), img.Name)
	}
	return nil
}

// moveUntilClear drops Chromium dylibs from the launch, last loaded first,
// until no slot collides: first with ASLR off and at the extreme slides
// (cheap), then, if exact, until the exact sum over every slide is 0.
// Images above 16 GiB are not enough to move: dylibs loaded after them
// slide up into the freed space.
func moveUntilClear(w io.Writer, sc *scenario.Scenario, p xzone.Profile, exact bool) ([]*loader.ImageSpec, error) {
	order, err := dyld.Resolve(sc.Set)
	if err != nil {
		return nil, err
	}
	var movable []*loader.ImageSpec
	for _, img := range order.Images[1:] {
		if !img.InSharedCache {
			movable = append(movable, img)
		}
	}
	without := func(n int) (*dyld.LoadOrder, error) {
		moved := movable[len(movable)-n:]
		set := *sc.Set
		exe := *set.Main
		exe.Needed = slices.DeleteFunc(slices.Clone(exe.Needed), func(dep string) bool {
			return slices.ContainsFunc(moved, func(img *loader.ImageSpec) bool { return img.Name == dep })
		})
		set.Main = &exe
		return dyld.Resolve(&set)
	}
	plat := sc.Model.Platform
	xs, ds := plat.ExeSlides(), plat.DyldSlides()
	tail := sc.Model.Malloc.GuardedTailMax
	draws := []macos.Randomness{
		{},
		{ExeSlide: uint64(xs[len(xs)-1]), DyldSlide: uint64(ds[len(ds)-1]), GuardTail: tail},
		{ExeSlide: uint64(xs[len(xs)-1]), DyldSlide: uint64(ds[0])},
		{ExeSlide: uint64(xs[0]), DyldSlide: uint64(ds[len(ds)-1]), GuardTail: tail},
	}
	n := 1
	for ; n <= len(movable); n++ {
		clear := true
		o, err := without(n)
		if err != nil {
			return nil, err
		}
		for _, r := range draws {
			proc, err := sc.Model.Launch(o, r)
			if err != nil {
				return nil, err
			}
			res, err := xzone.Analyze(proc.Space, p)
			if err != nil {
				return nil, err
			}
			if len(res.Colliding) > 0 {
				clear = false
				break
			}
		}
		if clear {
			break
		}
	}
	for ; exact && n <= len(movable); n++ {
		o, err := without(n)
		if err != nil {
			return nil, err
		}
		layouts, err := sc.Model.Layouts(o)
		if err != nil {
			return nil, err
		}
		j, err := xzone.JointAnalyze(layouts, p)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "  moving the last %d dylibs: P(crash) = %.4f%% over every slide\n", n, 100*j.Probability)
		if j.Crash.Sign() == 0 {
			break
		}
	}
	if n > len(movable) {
		return nil, fmt.Errorf("moving every dylib does not clear the window")
	}
	return movable[len(movable)-n:], nil
}
