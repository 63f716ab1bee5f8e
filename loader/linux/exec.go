package linux

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
)

// Draw is one choice of the kernel's random inputs at exec, each in
// pages (see Kernel.Inputs for their ranges). With randomisation off
// every input is ignored.
type Draw struct {
	// Mmap moves the mmap base: down for the top-down layout, up for the
	// legacy one (arch_mmap_rnd: mmap_rnd_bits bits).
	Mmap uint64
	// PIE is added to ELF_ET_DYN_BASE for a position-independent
	// executable (a second, independent arch_mmap_rnd draw).
	PIE uint64
	// Stack moves the stack top down (randomize_stack_top: STACK_RND_MASK).
	Stack uint64
	// StackAlign is the further 0, 1 or 2 pages the stack top moves when
	// setup_arg_pages rounds the sub-page random offset of
	// arch_align_stack (x86_64: a draw below 8192 bytes) up to a page; see
	// StackAlignWeights.
	StackAlign uint64
	// SP is the sub-page offset (0..8191 bytes on x86_64) create_elf_tables
	// takes off the stack pointer before it pushes auxv, envp and argv
	// (arch_align_stack); it moves the stack's start only when that block
	// reaches below the 128 KiB given at exec.
	SP uint64
	// Brk moves the heap start up (arch_randomize_brk).
	Brk uint64
}

// Image is one ELF object as placed: the executable, the interpreter, a
// library or the vDSO.
type Image struct {
	// Path is the name the dynamic loader reports (dl_iterate_phdr's
	// dlpi_name, link_map l_name): "" for the executable, as glibc has it;
	// the path the library was opened under; "linux-vdso.so.1" for the
	// vDSO.
	Path string
	// File is the file mapped (its real path, as /proc/PID/maps names
	// it); "" for the vDSO.
	File string
	// Bias is the load bias: the difference between run-time and link-time
	// addresses (dlpi_addr, l_addr); 0 for a fixed-address executable.
	Bias uint64
	// Span is the range the image's segments cover.
	Span vaspace.Range
	// Spec is the parsed file (nil for the vDSO).
	Spec *loader.ImageSpec
	// Group says which random input moves the image (see Group).
	Group Group
}

// Group is a set of mappings that one random input moves rigidly.
type Group uint8

// Groups.
const (
	// GroupFixed mappings never move: a non-PIE executable, vsyscall.
	GroupFixed Group = iota
	// GroupExec moves with Draw.PIE: a PIE executable and its bss.
	GroupExec
	// GroupMmap moves with Draw.Mmap: everything mmap placed, the
	// interpreter, the vDSO (top-down kernels), libraries.
	GroupMmap
	// GroupStack moves with Draw.Stack and Draw.StackAlign.
	GroupStack
)

func (g Group) String() string {
	switch g {
	case GroupFixed:
		return "fixed"
	case GroupExec:
		return "executable (PIE draw)"
	case GroupMmap:
		return "mmap region (mmap draw)"
	case GroupStack:
		return "stack (stack draw)"
	}
	return fmt.Sprintf("Group(%d)", uint8(g))
}

// ExecInput is what execve(2) is given and finds.
type ExecInput struct {
	// Exe is the program and ExeFile its file; Interp and InterpFile the
	// interpreter named by its PT_INTERP (nil for a static program).
	Exe        *loader.ImageSpec
	ExeFile    File
	Interp     *loader.ImageSpec
	InterpFile File
	// Filename is the path execve was called with; Args and Env are argv
	// and envp. Their bytes decide the size of the initial stack.
	Filename string
	Args     []string
	Env      []string
	Launch   Launch
}

// Exec is the process as the kernel hands it to the interpreter.
type Exec struct {
	MM *MM
	// Exe and Interp are the executable and the interpreter (Interp nil
	// for a static program), VDSO the vDSO image.
	Exe, Interp, VDSO *Image
	// Stack is the initial stack VMA and SP the stack pointer the program
	// starts with.
	Stack vaspace.Range
	SP    uint64
	// BrkStart is mm->start_brk.
	BrkStart uint64
}

// stackExpand is the room setup_arg_pages gives the new stack below the
// argument strings (fs/exec.c: 128 KiB).
const stackExpand = 128 << 10

// stackVMA is setup_arg_pages and create_elf_tables (fs/exec.c,
// fs/binfmt_elf.c): the argument strings (the exec file name, envp,
// argv, and an 8-byte slot) fill pages down from the top, the VMA gets
// 128 KiB more below them (less if the stack rlimit is smaller), and it
// grows further if the block of auxv, envp and argv pointers the kernel
// pushes below the strings reaches lower. It returns the VMA and the
// initial stack pointer. spAlign is create_elf_tables' random offset.
func (k *Kernel) stackVMA(top uint64, in ExecInput, spAlign uint64) (vaspace.Range, uint64, error) {
	page := k.PageSize
	strs := uint64(8) + uint64(len(in.Filename)) + 1
	for _, s := range in.Args {
		strs += uint64(len(s)) + 1
	}
	for _, s := range in.Env {
		strs += uint64(len(s)) + 1
	}
	if strs >= top/2 {
		return vaspace.Range{}, 0, fmt.Errorf("exec: the arguments and environment (%d bytes) do not fit under the stack top %#x (E2BIG)", strs, top)
	}
	used := alignUp(strs, page)
	limit := in.Launch.StackLimit &^ (page - 1)
	size := max(used, min(limit, used+stackExpand))
	start := top - size
	// create_elf_tables: below the strings, the platform string, 16
	// random bytes, then argc, argv, envp and auxv, 16-byte aligned.
	p := (top - strs - spAlign) &^ 0xf
	p -= uint64(len(k.Platform)) + 1
	p -= 16
	words := uint64(2*k.AuxvEntries) + uint64(len(in.Args)+len(in.Env)+3)
	sp := (p - 8*words) &^ 0xf
	start = min(start, alignDown(sp, page))
	if start < k.SearchFloor() {
		return vaspace.Range{}, 0, fmt.Errorf("exec: a stack of %#x bytes does not fit under %#x", top-start, top)
	}
	return vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(top)}, sp, nil
}

// StackAlignWeights returns, for x86_64 with randomisation on, how many of
// the 8192 equally likely sub-page offsets of arch_align_stack move the
// stack top down by 0, 1 and 2 pages once setup_arg_pages rounds it up to
// a page (arch/x86/kernel/process.c arch_align_stack: sp −=
// get_random_u32_below(8192), then sp &= ~0xf). Other architectures draw
// no such offset: {1, 0, 0}.
func (k *Kernel) StackAlignWeights(l Launch) [3]uint64 {
	if k.Arch != loader.ArchX86_64 || !k.Randomized(l) {
		return [3]uint64{1, 0, 0}
	}
	var w [3]uint64
	const page, top = 4096, 4 * 4096 // any page-aligned top above 8 KiB
	for x := uint64(0); x < 8192; x++ {
		v := (top - x) &^ 0xf
		w[(top-alignUp(v, page))/page]++
	}
	return w
}

// ArgMax is ARG_MAX (include/uapi/linux/limits.h): the bytes of argument
// and environment strings execve(2) accepts whatever the stack limit.
const ArgMax = 128 << 10

// stkLim is _STK_LIM (include/uapi/linux/resource.h), the default stack
// rlimit: the strings may take at most three quarters of it.
const stkLim = 8 << 20

// ErrArgListTooLong is execve(2) failing with E2BIG ("Argument list too
// long") before the new program exists: the strings are more than
// Kernel.ArgLimit allows, or one is longer than MAX_ARG_STRLEN (fs/exec.c
// bprm_stack_limits, copy_strings, valid_arg_len).
var ErrArgListTooLong = errors.New("execve: Argument list too long (E2BIG)")

// ArgLimit returns how many bytes of strings (the file name given to
// execve, envp and argv, each with its NUL) execve accepts under the
// stack limit of l with argc arguments and envc environment variables
// (Linux 4.13 to 6.18 fs/exec.c bprm_stack_limits): a quarter of the
// stack rlimit, at most three quarters of _STK_LIM (6 MiB), at least
// ARG_MAX (128 KiB), less 8 bytes for each argv and envp pointer (argc
// counted as at least 1). ok is false when the pointers alone take it
// all.
func (k *Kernel) ArgLimit(l Launch, argc, envc int) (limit uint64, ok bool) {
	limit = min(uint64(stkLim/4*3), l.StackLimit/4)
	limit = max(limit, ArgMax)
	ptrs := 8 * uint64(max(argc, 1)+envc)
	if limit <= ptrs {
		return 0, false
	}
	return limit - ptrs, true
}

// MaxArgStrlen returns MAX_ARG_STRLEN (include/uapi/linux/binfmts.h):
// 32 pages, the longest string (with its NUL) execve accepts.
func (k *Kernel) MaxArgStrlen() uint64 { return 32 * k.PageSize }

// checkArgs is execve's E2BIG check of in's strings (see ArgLimit).
func (k *Kernel) checkArgs(in ExecInput) error {
	strlen := k.MaxArgStrlen()
	one := func(what string, s string) error {
		if n := uint64(len(s)) + 1; n > strlen {
			return fmt.Errorf("%w: %s is %d bytes with its NUL, more than MAX_ARG_STRLEN (%d: 32 pages)", ErrArgListTooLong, what, n, strlen)
		}
		return nil
	}
	total := uint64(len(in.Filename)) + 1
	if err := one("the file name", in.Filename); err != nil {
		return err
	}
	for i, s := range in.Env {
		if err := one(fmt.Sprintf("envp[%d]", i), s); err != nil {
			return err
		}
		total += uint64(len(s)) + 1
	}
	for i, s := range in.Args {
		if err := one(fmt.Sprintf("argv[%d]", i), s); err != nil {
			return err
		}
		total += uint64(len(s)) + 1
	}
	limit, ok := k.ArgLimit(in.Launch, len(in.Args), len(in.Env))
	if !ok || total > limit {
		return fmt.Errorf("%w: the strings of the file name, argv (%d) and envp (%d) take %d bytes; with a stack limit of %s the kernel allows %d (a quarter of the limit, at least ARG_MAX 128 KiB and at most 6 MiB, less 8 bytes per argv and envp pointer; fs/exec.c bprm_stack_limits)",
			ErrArgListTooLong, len(in.Args), len(in.Env), total, stackLimitWords(in.Launch.StackLimit), limit)
	}
	return nil
}

// stackLimitWords prints a stack rlimit.
func stackLimitWords(l uint64) string {
	if l == Unlimited {
		return "unlimited"
	}
	return fmt.Sprintf("%d bytes (%s)", l, vaspace.Size(l))
}

// execute models load_elf_binary (fs/binfmt_elf.c, Linux 6.18) for one
// draw: the mmap layout, the stack, the executable, the interpreter, brk
// and the vDSO, in that order, after execve's check of the argument
// strings (fs/exec.c).
func execute(k *Kernel, in ExecInput, d Draw) (*Exec, error) {
	if err := k.checkArgs(in); err != nil {
		return nil, err
	}
	rnd := k.Randomized(in.Launch)
	if !rnd {
		d = Draw{}
	}
	if err := k.checkDraw(in.Launch, d); err != nil {
		return nil, err
	}
	legacy := k.Legacy(in.Launch)
	page := k.PageSize
	mmapRnd := d.Mmap * page
	base := k.MmapBaseMax(in.Launch) - mmapRnd
	legacyBase := k.UnmappedBase() + mmapRnd
	mm, err := newMM(k, legacy, base, legacyBase)
	if err != nil {
		return nil, err
	}
	x := &Exec{MM: mm}

	// setup_arg_pages: the stack, below the randomised top.
	top := k.StackTop() - (d.Stack+d.StackAlign)*page
	stack, rsp0, err := k.stackVMA(top, in, d.SP)
	if err != nil {
		return nil, err
	}
	x.Stack, x.SP = stack, rsp0
	stackProt := vaspace.ProtRW
	if e := in.Exe.ELF; e != nil && e.HasGNUStack && e.StackFlags&elf.PF_X != 0 {
		stackProt = vaspace.ProtRWX
	}
	if err := mm.space.Map(vaspace.Mapping{Range: x.Stack, Name: "[stack]", Prot: stackProt, Kind: vaspace.KindStack}); err != nil {
		return nil, fmt.Errorf("exec: stack: %w", err)
	}
	mm.stack = x.Stack
	if k.Vsyscall && k.Arch == loader.ArchX86_64 {
		// The legacy vsyscall page (execute-only emulation).
		if err := mm.space.Map(vaspace.Mapping{Range: vsyscallPage, Name: "[vsyscall]", Prot: vaspace.ProtExec, Kind: vaspace.KindVDSO}); err != nil {
			return nil, fmt.Errorf("exec: vsyscall: %w", err)
		}
	}

	// The executable.
	exe, brk, err := mm.loadExecutable(in, d)
	if err != nil {
		return nil, err
	}
	x.Exe = exe

	// The interpreter: a top-down (or bottom-up) mapping of its span.
	if in.Interp != nil {
		hint := uint64(0)
		if in.Exe.ELF.Type != elf.ET_DYN {
			hint = firstLoad(in.Interp).VMAddr
		}
		if in.Interp.ELF.Type == elf.ET_EXEC {
			return nil, fmt.Errorf("exec: interpreter %s is ET_EXEC, which this model does not place", in.InterpFile.Path)
		}
		interp, err := mm.mapELF(in.Interp, &in.InterpFile, hint, 0, mapAnywhere)
		if err != nil {
			return nil, fmt.Errorf("exec: interpreter %s: %w", in.InterpFile.Path, err)
		}
		interp.Group = GroupMmap
		x.Interp = interp
	}

	// brk (set before the interpreter is mapped in the kernel; the order
	// does not matter, brk is no mapping yet). A program with no
	// interpreter that is ET_DYN (static-pie, ld.so run directly) has its
	// heap moved to ELF_ET_DYN_BASE, with randomisation or without
	// (measured on 6.18); otherwise randomisation leaves a page's gap.
	moved := in.Exe.ELF.Type == elf.ET_DYN && in.Interp == nil
	if moved {
		brk = alignUp(k.ETDynBase(), page)
	}
	if rnd && k.RandomizeVASpace > 1 {
		if !moved {
			brk += page
		}
		brk += d.Brk * page
	}
	mm.startBrk, mm.brk = brk, brk
	x.BrkStart = brk

	// The vDSO block: one top-down mapping of all its parts.
	if len(k.VDSO) > 0 {
		if !k.VDSOTopDown && rnd {
			return nil, fmt.Errorf("exec: the profile puts the vDSO near the stack at a random page (x86_64 before Linux 6.9), which this model does not place; set vdso_top_down or turn randomisation off")
		}
		var n uint64
		for _, v := range k.VDSO {
			n += v.Size
		}
		first := k.VDSO[0]
		m, err := mm.Mmap(MmapRequest{Len: n, Mapping: vaspace.Mapping{Name: first.Name, Prot: first.Prot, Kind: vaspace.KindVDSO}})
		if err != nil {
			return nil, fmt.Errorf("exec: vDSO: %w", err)
		}
		a := m.Start
		for _, v := range k.VDSO {
			part := vaspace.Mapping{Range: vaspace.Range{Start: a, End: a + vaspace.Addr(v.Size)}, Name: v.Name, Prot: v.Prot, Kind: vaspace.KindVDSO}
			if err := mm.space.MapReplace(part); err != nil {
				return nil, err
			}
			a = part.End
		}
		x.VDSO = &Image{Path: "linux-vdso.so.1", Span: vaspace.Range{Start: m.Start, End: a}, Group: GroupMmap}
		// The vDSO image is the last part; its link-time base is 0.
		x.VDSO.Bias = uint64(a) - k.VDSO[len(k.VDSO)-1].Size
	}
	return x, nil
}

// checkDraw rejects draws outside the kernel's ranges.
func (k *Kernel) checkDraw(l Launch, d Draw) error {
	in := k.Inputs(l)
	for _, c := range []struct {
		name string
		v, n uint64
	}{
		{"mmap", d.Mmap, in.Mmap},
		{"pie", d.PIE, in.PIE},
		{"stack", d.Stack, in.Stack},
		{"brk", d.Brk, in.Brk},
		{"stack align", d.StackAlign, 3},
		{"sp", d.SP, in.SP},
	} {
		if c.v >= c.n {
			return fmt.Errorf("linux: draw: %s %d is out of range (the kernel draws 0..%d)", c.name, c.v, c.n-1)
		}
	}
	return nil
}

// Inputs gives how many values each random input takes (all 1 when the
// launch is not randomised).
type Inputs struct {
	Mmap, PIE, Stack, Brk, SP uint64
}

// Inputs returns the ranges of the random inputs for a launch.
func (k *Kernel) Inputs(l Launch) Inputs {
	if !k.Randomized(l) {
		return Inputs{1, 1, 1, 1, 1}
	}
	in := Inputs{
		Mmap:  1 << k.MmapRndBits,
		PIE:   1 << k.MmapRndBits,
		Stack: k.StackRndPages(),
		Brk:   1,
		SP:    1,
	}
	if k.Arch == loader.ArchX86_64 {
		in.SP = 8192
	}
	if k.RandomizeVASpace > 1 {
		in.Brk = max(k.BrkRandomRange/k.PageSize, 1)
	}
	return in
}

func firstLoad(s *loader.ImageSpec) loader.Segment {
	for _, seg := range s.Segments {
		return seg
	}
	return loader.Segment{}
}

// maxAlign is maximum_alignment (fs/binfmt_elf.c): the largest p_align
// among the PT_LOADs that is a power of two, at least the page size.
func maxAlign(s *loader.ImageSpec, page uint64) uint64 {
	a := page
	for _, seg := range s.Segments {
		if vaspace.IsPow2(seg.Align) && seg.Align > a {
			a = seg.Align
		}
	}
	return a
}

// totalMappingSize is total_mapping_size: from the first PT_LOAD's page to
// the end of the last one's memory.
func totalMappingSize(s *loader.ImageSpec, page uint64) uint64 {
	if len(s.Segments) == 0 {
		return 0
	}
	first, last := s.Segments[0], s.Segments[len(s.Segments)-1]
	return last.VMAddr + last.VMSize - alignDown(first.VMAddr, page)
}

type mapMode uint8

const (
	mapAnywhere mapMode = iota // no fixed flag: get_unmapped_area
	mapNoReplace
)

// loadExecutable maps the executable's PT_LOADs (fs/binfmt_elf.c
// load_elf_binary) and returns it with the end of its bss (elf_brk).
func (mm *MM) loadExecutable(in ExecInput, d Draw) (*Image, uint64, error) {
	k := mm.k
	s := in.Exe
	if s.ELF == nil || len(s.Segments) == 0 {
		return nil, 0, fmt.Errorf("exec: %s has no PT_LOAD segments", in.ExeFile.Path)
	}
	var img *Image
	var err error
	switch s.ELF.Type {
	case elf.ET_EXEC:
		img, err = mm.mapELF(s, &in.ExeFile, 0, 0, mapNoReplace)
		if img != nil {
			img.Group = GroupFixed
		}
	case elf.ET_DYN:
		if in.Interp != nil {
			bias := k.ETDynBase()
			if k.Randomized(in.Launch) {
				bias += d.PIE * k.PageSize
			}
			if a := maxAlign(s, k.PageSize); a > k.PageSize {
				bias &^= a - 1
			}
			bias = alignDown(bias-firstLoad(s).VMAddr, k.PageSize)
			img, err = mm.mapELF(s, &in.ExeFile, 0, bias, mapNoReplace)
			if img != nil {
				img.Group = GroupExec
			}
		} else {
			img, err = mm.mapELF(s, &in.ExeFile, 0, 0, mapAnywhere)
			if img != nil {
				img.Group = GroupMmap
			}
		}
	default:
		return nil, 0, fmt.Errorf("exec: %s is %v, not an executable (Exec format error)", in.ExeFile.Path, s.ELF.Type)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("exec: %s: %w", in.ExeFile.Path, err)
	}
	var end uint64
	for _, seg := range s.Segments {
		end = max(end, img.Bias+seg.VMAddr+seg.VMSize)
	}
	return img, alignUp(end, k.PageSize), nil
}

// mapELF maps an ELF image's PT_LOADs as the kernel's elf_load does: the
// first with the total span (at bias + its address, or anywhere), the rest
// MAP_FIXED, each with its zero-fill tail as anonymous memory. With
// mapAnywhere the hint is used and bias is taken from the placement.
func (mm *MM) mapELF(s *loader.ImageSpec, f *File, hint, bias uint64, mode mapMode) (*Image, error) {
	k := mm.k
	page := k.PageSize
	total := alignUp(totalMappingSize(s, page), page)
	if s.ELF.Type == elf.ET_EXEC {
		total = 0 // load_elf_binary computes the span only for ET_DYN
	}
	img := &Image{File: f.Path, Spec: s}
	for i, seg := range s.Segments {
		prot := seg.Prot
		off := seg.FileOff - seg.VMAddr%page
		size := alignUp(seg.FileSize+seg.VMAddr%page, page)
		addr := alignDown(bias+seg.VMAddr, page)
		name := vaspace.Mapping{Name: f.Path, Owner: f.Path, Prot: prot, Kind: vaspace.KindImage}
		if seg.FileSize > 0 {
			n := size
			if i == 0 && total > 0 {
				n = total
			}
			m := name
			if i == 0 && mode == mapAnywhere {
				var err error
				m, err = mm.Mmap(MmapRequest{Len: n, File: f, Offset: off, Hint: hint, Mapping: name})
				if err != nil {
					return nil, err
				}
				bias = uint64(m.Start) - alignDown(seg.VMAddr, page)
				addr = uint64(m.Start)
			} else {
				m.Range = vaspace.Range{Start: vaspace.Addr(addr), End: vaspace.Addr(addr + n)}
				m.Offset = off
				var err error
				if i == 0 {
					err = mm.MapNoReplace(m)
				} else {
					err = mm.MapFixed(m)
				}
				if err != nil {
					return nil, err
				}
			}
			if n > size {
				if err := mm.Munmap(vaspace.Range{Start: vaspace.Addr(addr + size), End: vaspace.Addr(addr + n)}); err != nil {
					return nil, err
				}
			}
		} else if i == 0 {
			return nil, fmt.Errorf("first PT_LOAD has no file bytes, which this model does not place")
		}
		// elf_load: the zero-fill tail beyond the file's last page.
		if seg.VMSize > seg.FileSize {
			zs := alignUp(bias+seg.VMAddr+seg.FileSize, page)
			ze := alignUp(bias+seg.VMAddr+seg.VMSize, page)
			if seg.FileSize == 0 {
				zs = alignDown(bias+seg.VMAddr, page)
			}
			if ze > zs {
				// vm_brk_flags: read-write data, executable if the
				// segment is.
				bss := vaspace.Mapping{Range: vaspace.Range{Start: vaspace.Addr(zs), End: vaspace.Addr(ze)},
					Name: "bss of " + f.Path, Owner: f.Path, Prot: vaspace.ProtRW | prot&vaspace.ProtExec, Kind: vaspace.KindImage}
				if err := mm.MapFixed(bss); err != nil {
					return nil, err
				}
			}
		}
	}
	img.Bias = bias
	lo := alignDown(bias+s.Segments[0].VMAddr, page)
	var hi uint64
	for _, seg := range s.Segments {
		hi = max(hi, alignUp(bias+seg.VMAddr+seg.VMSize, page))
	}
	img.Span = vaspace.Range{Start: vaspace.Addr(lo), End: vaspace.Addr(hi)}
	return img, nil
}
