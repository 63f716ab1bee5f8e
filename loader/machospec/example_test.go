package machospec_test

import (
	"fmt"

	"github.com/vasim/vasim/loader/machospec"
)

// Read a dylib and list what dyld would map: its segments with their
// link-time ranges and initial protections, and its dependencies.
func ExampleRead() {
	spec, err := machospec.Read("testdata/libdemo.dylib")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.Name, spec.Kind, spec.Arch.AppleName())
	for _, s := range spec.Segments {
		r, _ := s.Range()
		fmt.Printf("  %-12s %v %v file %#x+%#x\n", s.Name, r, s.Prot, s.FileOff, s.FileSize)
	}
	for i, d := range spec.MachO.Dependencies {
		fmt.Printf("  needs %-28s %s\n", spec.Needed[i], d.Kind)
	}
	fmt.Println("  rpaths", spec.MachO.RPaths, "signed", spec.MachO.CodeSigned)
	// Output:
	// @rpath/libdemo.dylib library arm64
	//   __TEXT       [0x0, 0x4000) r-x file 0x0+0x1000
	//   __DATA_CONST [0x4000, 0x8000) rw- file 0x1000+0x400
	//   __DATA       [0x8000, 0x10000) rw- file 0x1400+0x200
	//   __LINKEDIT   [0x10000, 0x14000) r-- file 0x1600+0x200
	//   needs /usr/lib/libSystem.B.dylib   regular
	//   needs @rpath/libweak.dylib         weak
	//   needs @rpath/libreexported.dylib   reexport
	//   needs /usr/lib/liblazy.dylib       lazy
	//   needs @loader_path/libupward.dylib upward
	//   rpaths [@loader_path/../lib /opt/demo/lib] signed true
}
