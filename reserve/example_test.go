package reserve_test

import (
	"fmt"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/reserve"
)

// Where a position-independent executable can land for each
// vm.mmap_rnd_bits, against the application range old ThreadSanitizer
// keeps for it: from 29 random bits on, some launches put the program
// outside it ("unexpected memory mapping").
func ExampleLookupPreset() {
	p, _ := reserve.LookupPreset("tsan-x86_64-old")
	mid := p.Spec.Allowed[1]
	fmt.Printf("%s: %s %v\n", p.Name, mid.Name, mid.Range)
	k, _ := linux.DefaultKernel(loader.ArchX86_64)
	lo, hi := k.RndBitsRange()
	for bits := lo; bits <= hi; bits++ {
		highest := k.ETDynBase()&^0xfff + (1<<bits-1)*k.PageSize
		fmt.Printf("%d bits: PIE up to %#x, inside: %v\n", bits, highest, highest < uint64(mid.End))
	}
	// Output:
	// tsan-x86_64-old: mid app (PIE) [0x550000000000, 0x568000000000)
	// 28 bits: PIE up to 0x565555553000, inside: true
	// 29 bits: PIE up to 0x575555553000, inside: false
	// 30 bits: PIE up to 0x595555553000, inside: false
	// 31 bits: PIE up to 0x5d5555553000, inside: false
	// 32 bits: PIE up to 0x655555553000, inside: false
}
