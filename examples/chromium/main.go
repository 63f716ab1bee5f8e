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

	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
	"github.com/vasim/vasim/xzone/fix"
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
	// fix.Search moves whole dylibs, last loaded first: moving only the
	// images above 16 GiB is not enough, as the ones loaded after them
	// slide up into the freed space. It finds the count with ASLR off and
	// at the extreme slides, then, if exact, verifies it over every slide.
	r, err := fix.Search(sc.Set, sc.Model, p, exact, nil)
	if err != nil {
		return err
	}
	how := "with ASLR off and at the extreme slides"
	if exact {
		how = fmt.Sprintf("at every slide (exact; %d sums)", r.Sums)
	}
	fmt.Fprintf(w, "  loading the last %d dylibs with dlopen after launch (after __malloc_init) gives 0%% %s; %s moved:\n", len(r.Moved), how, vaspace.Size(r.Bytes))
	for _, img := range r.Moved {
		span, _ := img.VMSpan()
		fmt.Fprintf(w, "    %-9s %s\n", vaspace.Size(span.Len()), img.Name)
	}
	return nil
}
