package linux_test

import (
	"fmt"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/linux"
)

// The mmap base, where ld.so and then every library are placed downwards,
// with randomisation off (as setarch -R runs a program) and on, for the
// x86_64 defaults and an 8 MiB stack limit.
func ExampleKernel_MmapBaseMax() {
	k, _ := linux.DefaultKernel(loader.ArchX86_64)
	off := linux.Launch{StackLimit: 8 << 20, NoRandomize: true}
	on := linux.Launch{StackLimit: 8 << 20}
	fmt.Printf("ASLR off: %#x\n", k.MmapBaseMax(off))
	top := k.MmapBaseMax(on)
	draws := k.Inputs(on).Mmap
	fmt.Printf("ASLR on:  %#x down to %#x (%d draws)\n", top, top-(draws-1)*k.PageSize, draws)
	fmt.Printf("PIE base: %#x up to %#x\n", k.ETDynBase()&^0xfff, (k.ETDynBase()&^0xfff)+(draws-1)*k.PageSize)
	// Output:
	// ASLR off: 0x7ffff7fff000
	// ASLR on:  0x7ffbff700000 down to 0x7efbff701000 (268435456 draws)
	// PIE base: 0x555555554000 up to 0x565555553000
}
