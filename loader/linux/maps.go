package linux

import (
	"strings"

	"github.com/vasim/vasim/vaspace"
)

// kernelNames are the special mappings /proc/PID/maps names in brackets.
var kernelNames = map[string]bool{
	"[stack]": true, "[heap]": true, "[vdso]": true, "[vvar]": true,
	"[vvar_vclock]": true, "[vsyscall]": true,
}

// isFile reports whether a model mapping is backed by a file: its name is
// the file's absolute path.
func isFile(m vaspace.Mapping) bool { return strings.HasPrefix(m.Name, "/") }

// MapsOf renders a space as /proc/PID/maps would show it (fs/proc/task_mmu.c
// show_map_vma): file mappings by path and offset, the kernel's special
// mappings by their bracketed names, other anonymous memory unnamed, and an
// anonymous mapping overlapping [startBrk, brk) named "[heap]"
// (vma_is_initial_heap; there is none at exec, when brk = startBrk). Adjacent
// mappings the kernel would have merged into one VMA (mm/vma.c
// vma_merge_new_range: equal protection and flags, and either both
// anonymous or the same file at contiguous offsets) are shown as one line.
// Devices and inodes are left zero.
func MapsOf(s *vaspace.Space, startBrk, brk uint64) []MapsLine {
	var out []MapsLine
	for m := range s.All() {
		l := MapsLine{Range: m.Range, Prot: m.Prot, flags: m.Flags}
		switch {
		case isFile(m):
			l.Path, l.Offset = m.Name, m.Offset
		case kernelNames[m.Name]:
			l.Path = m.Name
		}
		if n := len(out); n > 0 && mergeable(out[n-1], l) {
			out[n-1].End = l.End
			continue
		}
		out = append(out, l)
	}
	for i := range out {
		l := &out[i]
		if l.Path == "" && uint64(l.Start) < brk && uint64(l.End) > startBrk {
			l.Path = "[heap]"
		}
	}
	return out
}

func mergeable(a, b MapsLine) bool {
	if a.End != b.Start || a.Prot != b.Prot || a.Shared != b.Shared || a.Path != b.Path || a.flags != b.flags {
		return false
	}
	switch {
	case a.Path == "":
		return true
	case kernelNames[a.Path]:
		return false
	default:
		return a.Offset+a.Len() == b.Offset
	}
}
