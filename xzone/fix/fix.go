// Package fix searches for the dylibs a macOS arm64 program should load
// with dlopen once it runs, instead of at launch, so that libmalloc's
// XZone reservation never collides: dylibs loaded after __malloc_init
// cannot be in the way of the reservation it makes (libmalloc-792.41.1,
// xzm_main_malloc_zone_init_range_groups; see package xzone).
//
// Moving the images that reach the window is not enough: dyld maps every
// launch-time image first fit, so the dylibs loaded after them slide up
// into the freed space. Search moves whole dylibs from the end of dyld's
// load order, the last loaded first, and verifies the result.
package fix

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/xzone"
)

// Result is the dylibs to move and what moving them gives.
type Result struct {
	// Moved are the dylibs to load with dlopen instead, in load order;
	// Bytes their VM spans in total.
	Moved []*loader.ImageSpec
	Bytes uint64
	// Before and After are the crash probabilities without and with the
	// move: over every slide when Exact, else with ASLR off.
	Before, After *big.Rat
	Exact         bool
	// Sums is how many exact sums over every slide the search made.
	Sums int
}

// ErrNoFix is returned when moving every movable dylib still leaves a
// collision (the executable or memory other than images reaches the
// window).
var ErrNoFix = errors.New("fix: moving every dylib does not clear the XZone window")

// Search returns the fewest last-loaded dylibs of set whose removal from
// the launch gives a crash probability of 0: checked with ASLR off and at
// the extreme slides to find the count (by bisection), then, if exact,
// verified with the exact sum over every slide, adding one dylib at a
// time until that sum is 0. Removing a dylib removes every reference to
// it from the launch's images, as loading it with dlopen would. progress,
// if set, is passed to each exact sum (macos.Layouts.Progress).
func Search(set *loader.ImageSet, m *macos.Model, p xzone.Profile, exact bool, progress func(done, total int)) (*Result, error) {
	order, err := dyld.Resolve(set)
	if err != nil {
		return nil, err
	}
	var movable []*loader.ImageSpec
	for _, img := range order.Images[1:] {
		if !img.InSharedCache {
			movable = append(movable, img)
		}
	}
	res := &Result{Exact: exact}
	without := func(n int) (*dyld.LoadOrder, error) {
		return dyld.Resolve(Without(set, movable[len(movable)-n:]))
	}
	joint := func(o *dyld.LoadOrder) (*big.Rat, error) {
		l, err := m.Layouts(o)
		if err != nil {
			return nil, err
		}
		l.Progress = progress
		res.Sums++
		j, err := xzone.JointAnalyze(l, p)
		if err != nil {
			return nil, err
		}
		return j.Crash, nil
	}
	if exact {
		if res.Before, err = joint(order); err != nil {
			return nil, err
		}
	} else {
		proc, err := m.Launch(order, macos.Randomness{})
		if err != nil {
			return nil, err
		}
		r, err := xzone.Analyze(proc.Space, p)
		if err != nil {
			return nil, err
		}
		res.Before = r.Crash
	}
	if res.Before.Sign() == 0 {
		res.After = res.Before
		return res, nil
	}
	// The cheap check: ASLR off and the corners of the slides.
	pl := m.Platform
	xs, ds := pl.ExeSlides(), pl.DyldSlides()
	tail := m.Malloc.GuardedTailMax
	draws := []macos.Randomness{{}}
	if !m.Dyld.DisableASLR {
		hiX, hiD := uint64(xs[len(xs)-1]), uint64(ds[len(ds)-1])
		draws = append(draws, macos.Randomness{ExeSlide: hiX, DyldSlide: hiD, GuardTail: tail},
			macos.Randomness{ExeSlide: hiX, DyldSlide: uint64(ds[0])},
			macos.Randomness{ExeSlide: uint64(xs[0]), DyldSlide: hiD, GuardTail: tail})
	}
	var checkErr error
	clear := func(n int) bool {
		o, err := without(n)
		if err != nil {
			checkErr = err
			return true
		}
		for _, r := range draws {
			proc, err := m.Launch(o, r)
			if err != nil {
				checkErr = err
				return true
			}
			a, err := xzone.Analyze(proc.Space, p)
			if err != nil {
				checkErr = err
				return true
			}
			if len(a.Colliding) > 0 {
				return false
			}
		}
		return true
	}
	n := sort.Search(len(movable)+1, clear)
	if checkErr != nil {
		return nil, checkErr
	}
	if n > len(movable) {
		return nil, ErrNoFix
	}
	after := new(big.Rat)
	for ; exact; n++ {
		if n > len(movable) {
			return nil, ErrNoFix
		}
		o, err := without(n)
		if err != nil {
			return nil, err
		}
		if after, err = joint(o); err != nil {
			return nil, err
		}
		if after.Sign() == 0 {
			break
		}
	}
	res.Moved, res.After = movable[len(movable)-n:], after
	for _, img := range res.Moved {
		span, err := img.VMSpan()
		if err != nil {
			return nil, fmt.Errorf("fix: %w", err)
		}
		res.Bytes += span.Len()
	}
	return res, nil
}

// Without returns a copy of set whose images no longer reference the
// moved ones (the images themselves stay in the set, for dlopen).
func Without(set *loader.ImageSet, moved []*loader.ImageSpec) *loader.ImageSet {
	gone := func(dep string) bool {
		return slices.ContainsFunc(moved, func(img *loader.ImageSpec) bool { return img.Name == dep || img.Path == dep })
	}
	c := *set
	strip := func(img *loader.ImageSpec) *loader.ImageSpec {
		if !slices.ContainsFunc(img.Needed, gone) {
			return img
		}
		cp := *img
		cp.Needed = slices.DeleteFunc(slices.Clone(img.Needed), gone)
		return &cp
	}
	c.Main = strip(set.Main)
	c.Images = make([]*loader.ImageSpec, len(set.Images))
	for i, img := range set.Images {
		c.Images[i] = strip(img)
	}
	return &c
}
