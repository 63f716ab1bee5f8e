package loader

import (
	"fmt"
	"strings"
)

// Arch is a machine architecture, named as Linux names it. Apple's arm64
// and arm64e are ArchAArch64; the Mach-O subtype that tells them apart is
// kept in MachOInfo.
type Arch uint8

// Architectures.
const (
	// ArchUnknown is an architecture vasim has no name for, or a synthetic
	// image that does not say (ELFInfo.Machine and MachOInfo.CPU keep the
	// file's own value).
	ArchUnknown Arch = iota
	ArchX86_64
	ArchAArch64
	ArchI386
	ArchARM
	ArchARM64_32
	ArchPPC
	ArchPPC64
	ArchRISCV64
)

var archNames = [...]string{
	ArchUnknown:  "unknown",
	ArchX86_64:   "x86_64",
	ArchAArch64:  "aarch64",
	ArchI386:     "i386",
	ArchARM:      "arm",
	ArchARM64_32: "arm64_32",
	ArchPPC:      "ppc",
	ArchPPC64:    "ppc64",
	ArchRISCV64:  "riscv64",
}

// String returns the Linux name: "x86_64", "aarch64", "i386", ...
func (a Arch) String() string {
	if int(a) < len(archNames) {
		return archNames[a]
	}
	return fmt.Sprintf("Arch(%d)", uint8(a))
}

// AppleName returns the name Apple's tools use: "arm64" for ArchAArch64,
// otherwise String.
func (a Arch) AppleName() string {
	if a == ArchAArch64 {
		return "arm64"
	}
	return a.String()
}

// ParseArch accepts the Linux and Apple names of an architecture and the
// common aliases: "x86_64", "amd64", "x86_64h"; "aarch64", "arm64",
// "arm64e"; "i386", "i686", "x86"; "arm"; "arm64_32"; "ppc"; "ppc64";
// "riscv64".
func ParseArch(s string) (Arch, error) {
	switch strings.ToLower(s) {
	case "x86_64", "amd64", "x86_64h", "x86-64":
		return ArchX86_64, nil
	case "aarch64", "arm64", "arm64e":
		return ArchAArch64, nil
	case "i386", "i686", "x86":
		return ArchI386, nil
	case "arm":
		return ArchARM, nil
	case "arm64_32":
		return ArchARM64_32, nil
	case "ppc":
		return ArchPPC, nil
	case "ppc64":
		return ArchPPC64, nil
	case "riscv64":
		return ArchRISCV64, nil
	}
	return ArchUnknown, fmt.Errorf("architecture %q: want x86_64, aarch64 (arm64, arm64e), i386, arm, arm64_32, ppc, ppc64 or riscv64", s)
}
