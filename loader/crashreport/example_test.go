package crashreport_test

import (
	"fmt"
	"strings"

	"github.com/vasim/vasim/loader/crashreport"
)

// A shortened report of libmalloc's XZone reservation failure on macOS 26
// (made by hand after Apple Developer Forums thread 821081): the metadata
// line, then the body with three images, one of them absent.
const xzoneReport = `{"app_name":"browser_tests","bug_type":"309","os_version":"macOS 26.3.1 (25D2128)","name":"browser_tests"}
{
  "procName" : "browser_tests",
  "cpuType" : "ARM-64",
  "exception" : {"codes":"0x0000000000000001, 0x000000018c3b2f44","type":"EXC_BREAKPOINT","signal":"SIGTRAP"},
  "termination" : {"code":5,"namespace":"SIGNAL","indicator":"Trace\/BPT trap: 5"},
  "asi" : {"libsystem_malloc.dylib":["BUG IN LIBMALLOC: pointer range initial reservation failed","Abort Cause 3"]},
  "faultingThread" : 0,
  "threads" : [{"triggered":true,"frames":[{"imageOffset":73540,"symbol":"xzm_main_malloc_zone_init_range_groups.cold.1","symbolLocation":12,"imageIndex":0}]}],
  "usedImages" : [
    {"source":"P","arch":"arm64e","base":6647582720,"size":325320,"uuid":"3f9c0e1a-7b2d-3c55-9e41-0a6d2b7c8e13","path":"\/usr\/lib\/system\/libsystem_malloc.dylib","name":"libsystem_malloc.dylib"},
    {"size":0,"source":"A","base":0,"uuid":"00000000-0000-0000-0000-000000000000"},
    {"source":"P","arch":"arm64","base":17670209536,"size":3981312,"uuid":"b8f1d6a3-4c0e-3a72-9d5b-2e7f8c1a6b03","path":"\/Users\/USER\/out\/libv8.dylib","name":"libv8.dylib"}
  ]
}`

func ExampleParse() {
	r, err := crashreport.Parse(strings.NewReader(xzoneReport), "browser_tests.ips")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Process, "on", r.OSVersion, r.CPUType)
	fmt.Println(r.Exception)
	fmt.Println(r.Termination)
	fmt.Println(r.AbortingFrame)
	fmt.Println("XZone reservation failure:", r.MentionsXZone())
	for _, im := range r.Images {
		fmt.Println(im)
	}
	for _, n := range r.Notes {
		fmt.Println("note:", n)
	}

	s, err := r.Space(crashreport.SpaceOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for m := range s.All() {
		fmt.Println(m)
	}
	// Output:
	// browser_tests on macOS 26.3.1 (25D2128) ARM-64
	// EXC_BREAKPOINT (SIGTRAP), codes 0x0000000000000001, 0x000000018c3b2f44
	// Namespace SIGNAL, Code 5 Trace/BPT trap: 5
	// libsystem_malloc.dylib: xzm_main_malloc_zone_init_range_groups.cold.1 + 12
	// XZone reservation failure: true
	// "libsystem_malloc.dylib" [0x18c3a1000, 0x18c3f06c8)
	// "libv8.dylib" [0x41d3a0000, 0x41d76c000)
	// note: usedImages[1]: skipped an unnamed image (base 0x0, uuid 00000000-0000-0000-0000-000000000000, source "A"): size 0, an image the report names but does not place
	// [0x18c3a0000, 0x18c3f4000) r-x image "libsystem_malloc.dylib" (owner "/usr/lib/system/libsystem_malloc.dylib")
	// [0x41d3a0000, 0x41d76c000) r-x image "libv8.dylib" (owner "/Users/USER/out/libv8.dylib")
}

// Images of the dyld shared cache are packed without page alignment, so
// on 16 KiB pages neighbours can share a page; MergeSharedPages maps them
// as one.
func ExampleReport_Space() {
	r, err := crashreport.Parse(strings.NewReader(`Process:    t [1]
Code Type:  ARM-64 (Native)

Binary Images:
       0x18c3a1000 -        0x18c3f06c7 libsystem_malloc.dylib (*) <3f9c0e1a-7b2d-3c55-9e41-0a6d2b7c8e13> /usr/lib/system/libsystem_malloc.dylib
       0x18c3f1000 -        0x18c3f9ffb libsystem_platform.dylib (*) <e2b5a9c4-0d71-3c8e-9f36-b1a4c7e2d058> /usr/lib/system/libsystem_platform.dylib
`), "t.crash")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := r.Space(crashreport.SpaceOptions{}); err != nil {
		fmt.Println(err)
	}
	s, err := r.Space(crashreport.SpaceOptions{MergeSharedPages: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for m := range s.All() {
		fmt.Println(m)
	}
	// Output:
	// crashreport: t.crash: images overlap: "libsystem_malloc.dylib" [0x18c3a1000, 0x18c3f06c8) and "libsystem_platform.dylib" [0x18c3f1000, 0x18c3f9ffc): once rounded out to 16384-byte pages they share [0x18c3f0000, 0x18c3f4000); set SpaceOptions.MergeSharedPages to map such images as one
	// [0x18c3a0000, 0x18c3fc000) r-x image "libsystem_malloc.dylib + libsystem_platform.dylib" (owner "/usr/lib/system/libsystem_malloc.dylib")
}
