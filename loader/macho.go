package loader

// MachOInfo is filled in by the Mach-O reader (ReadMachO).
type MachOInfo struct{}
