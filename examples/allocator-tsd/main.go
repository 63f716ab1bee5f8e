// Command allocator-tsd replays napi-rs/mimalloc-safe PR #71: two Node
// addons, each statically linking its own mimalloc v3, called from the
// main JavaScript thread, the libuv worker pool and a thread-safe-function
// dispatcher, on macOS.
//
// Under FIXED_SLOT (mimalloc v3.3.2's Apple default) both instances keep
// the thread's heap pointer in TSD slots 108 and 109, with no owner
// check: the second addon's constructor overwrites the first's pointer on
// the main thread, and on every thread both run on, whichever came second
// allocates from the other's heap ("Mode A", heap corruption). Under
// THREAD_LOCAL, each image's heap pointer lives in its own dyld
// thread-local storage: no instance sees another's. Under
// DYNAMIC_PTHREADS (PR #67's workaround) the instances are isolated too,
// but a rayon worker still allocating after mi_process_done gets NULL
// ("Mode B"; the sources show the keys deleted at exit, which a
// deterministic schedule reproduces; races between threads are beyond
// the model).
package main

import (
	"fmt"

	"github.com/vasim/vasim/tsd"
)

func main() {
	for _, m := range []tsd.Model{tsd.FixedSlot, tsd.ThreadLocal, tsd.DynamicPthreads} {
		es, err := tsd.Run(tsd.TwoAddons(m))
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s\n", m, verdict(es))
		for _, e := range es {
			if e.Kind == tsd.Corruption || e.Kind == tsd.Overwrite {
				fmt.Println("   ", e)
			}
		}
	}
	es, err := tsd.Run(tsd.RayonAfterExit())
	if err != nil {
		panic(err)
	}
	fmt.Printf("dynamic-pthreads, a rayon worker after exit: %s\n", verdict(es))
}

func verdict(es []tsd.Event) string {
	c := tsd.Summary(es)
	if c[tsd.Corruption]+c[tsd.Overwrite]+c[tsd.NullMalloc]+c[tsd.Recursion] == 0 {
		return "no instance reads another's heap pointer"
	}
	return fmt.Sprintf("%d allocations from another instance's heap, %d heap pointers overwritten, %d NULL mallocs",
		c[tsd.Corruption], c[tsd.Overwrite], c[tsd.NullMalloc])
}
