package xzone_test

import (
	"fmt"

	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/jsonspec"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/xzone"
)

// From image specs to a crash rate, as a Go test of a macOS product would
// do it: an executable with a 1 GiB __TEXT and dylibs of 2 and 2.25 GiB,
// which first fit puts above the shared region at [6, 12) GiB of the
// macOS 15 platform the document names, described in JSON (dumped from a
// build with vasim, or written by hand); dyld4's
// load order; the placement XNU, dyld and libmalloc make with ASLR off (as
// lldb launches); and the XZone reservation over that layout and over
// every launch with ASLR on.
func ExampleAssess() {
	doc := `{"platform": "macos-15", "images": [
	  {"name": "app", "kind": "executable", "format": "Mach-O", "machine": "arm64",
	   "needed": ["@rpath/libbig.dylib", "@rpath/libhuge.dylib", "/usr/lib/libSystem.B.dylib"],
	   "rpaths": ["@executable_path"],
	   "segments": [
	     {"name": "__PAGEZERO", "vmaddr": 0, "vmsize": "0x100000000", "prot": "---"},
	     {"name": "__TEXT", "vmaddr": "0x100000000", "vmsize": "0x40000000", "filesize": "0x40000000", "prot": "r-x"}]},
	  {"name": "@rpath/libbig.dylib", "format": "Mach-O", "segments": [
	     {"name": "__TEXT", "vmaddr": 0, "vmsize": "0x80000000", "filesize": "0x4000", "prot": "r-x"}]},
	  {"name": "@rpath/libhuge.dylib", "format": "Mach-O", "segments": [
	     {"name": "__TEXT", "vmaddr": 0, "vmsize": "0x90000000", "filesize": "0x4000", "prot": "r-x"}]}
	]}`
	set, err := jsonspec.ParseImageSet([]byte(doc), "app.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	order, err := dyld.Resolve(set)
	if err != nil {
		fmt.Println(err)
		return
	}
	model, err := macos.ModelFor(set.Platform)
	if err != nil {
		fmt.Println(err)
		return
	}
	lldb, err := model.Launch(order, macos.Randomness{})
	if err != nil {
		fmt.Println(err)
		return
	}
	layouts, err := model.Layouts(order)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := xzone.Assess(lldb.Space, layouts, xzone.Libmalloc792, 200)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("images end at", a.ImageTop)
	fmt.Printf("ASLR off: %s slots collide (%.2f%%)\n", a.Result.Fraction(), 100*a.Result.Probability)
	for _, c := range a.Result.CulpritImages() {
		fmt.Println("culprit:", c.Name, c.Range)
	}
	fmt.Printf("ASLR on: %.2f%% over %d draws, %d-%d slots\n", 100*a.Joint.Probability, a.Joint.Draws, a.Joint.Fewest, a.Joint.Most)
	// Output:
	// images end at 0x410000000
	// ASLR off: 8/736 slots collide (1.09%)
	// culprit: @rpath/libhuge.dylib [0x380000000, 0x410000000)
	// ASLR on: 1.09% over 50868675 draws, 8-8 slots
}
