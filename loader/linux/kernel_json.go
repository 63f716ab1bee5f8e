package linux

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/vasim/vasim/internal/jsonkeys"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/vaspace"
)

// MaxKernelBytes bounds a kernel profile document.
const MaxKernelBytes = 1 << 20

// kernelJSON is the document form of a Kernel: every field optional, so a
// profile may override only some of a base's settings.
type kernelJSON struct {
	Release          *string        `json:"release"`
	Arch             *string        `json:"arch"`
	PageSize         *uint64        `json:"page_size"`
	VABits           *int           `json:"va_bits"`
	MmapRndBits      *int           `json:"mmap_rnd_bits"`
	MmapMinAddr      *uint64        `json:"mmap_min_addr"`
	LSMMmapMinAddr   *uint64        `json:"lsm_mmap_min_addr"`
	RandomizeVASpace *int           `json:"randomize_va_space"`
	LegacyVALayout   *bool          `json:"legacy_va_layout"`
	StackGuardGap    *uint64        `json:"stack_guard_gap"`
	BrkRandomRange   *uint64        `json:"brk_random_range"`
	VDSO             *[]specialJSON `json:"vdso"`
	VDSOTopDown      *bool          `json:"vdso_top_down"`
	Vsyscall         *bool          `json:"vsyscall"`
	THP              *bool          `json:"thp"`
	THPFileSystems   *[]string      `json:"thp_file_systems"`
	THPAnon          *bool          `json:"thp_anon"`
	THPTopDownBump   *bool          `json:"thp_top_down_bump"`
	Platform         *string        `json:"platform"`
	AuxvEntries      *int           `json:"auxv_entries"`
	HugePageSize     *uint64        `json:"huge_page_size"`
}

type specialJSON struct {
	Name string `json:"name"`
	Size uint64 `json:"size"`
	Prot string `json:"prot"`
}

// DecodeKernel reads a kernel profile document: a JSON object with any of
// the Kernel fields under their JSON names ("mmap_rnd_bits", "va_bits",
// "vdso": [{"name", "size", "prot"}], ...) plus "arch" ("x86_64",
// "aarch64"). Fields it does not name keep base's values; a document
// that changes "arch" starts from that architecture's defaults
// (DefaultKernel). The result is validated. Unknown or repeated fields
// are errors naming the source.
func DecodeKernel(data []byte, source string, base Kernel) (Kernel, error) {
	fail := func(format string, args ...any) (Kernel, error) {
		return Kernel{}, fmt.Errorf("linux: kernel profile %s: "+format, append([]any{source}, args...)...)
	}
	if len(data) > MaxKernelBytes {
		return fail("larger than %d bytes", MaxKernelBytes)
	}
	if err := jsonkeys.Check(data); err != nil {
		return fail("%v", err)
	}
	var doc kernelJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fail("%v", err)
	}
	k := base
	if doc.Arch != nil {
		a, err := loader.ParseArch(*doc.Arch)
		if err != nil {
			return fail("arch: %v", err)
		}
		if a != base.Arch {
			if k, err = DefaultKernel(a); err != nil {
				return fail("%v", err)
			}
		}
	}
	set := func(dst, src any) {
		switch d := dst.(type) {
		case *string:
			if s := src.(*string); s != nil {
				*d = *s
			}
		case *uint64:
			if s := src.(*uint64); s != nil {
				*d = *s
			}
		case *int:
			if s := src.(*int); s != nil {
				*d = *s
			}
		case *bool:
			if s := src.(*bool); s != nil {
				*d = *s
			}
		}
	}
	set(&k.Release, doc.Release)
	set(&k.PageSize, doc.PageSize)
	set(&k.VABits, doc.VABits)
	set(&k.MmapRndBits, doc.MmapRndBits)
	set(&k.MmapMinAddr, doc.MmapMinAddr)
	set(&k.LSMMmapMinAddr, doc.LSMMmapMinAddr)
	set(&k.RandomizeVASpace, doc.RandomizeVASpace)
	set(&k.LegacyVALayout, doc.LegacyVALayout)
	set(&k.StackGuardGap, doc.StackGuardGap)
	set(&k.BrkRandomRange, doc.BrkRandomRange)
	set(&k.VDSOTopDown, doc.VDSOTopDown)
	set(&k.Vsyscall, doc.Vsyscall)
	set(&k.THP, doc.THP)
	set(&k.THPAnon, doc.THPAnon)
	set(&k.THPTopDownBump, doc.THPTopDownBump)
	set(&k.Platform, doc.Platform)
	set(&k.AuxvEntries, doc.AuxvEntries)
	set(&k.HugePageSize, doc.HugePageSize)
	if doc.THPFileSystems != nil {
		k.THPFileSystems = append([]string(nil), (*doc.THPFileSystems)...)
	}
	if doc.VDSO != nil {
		k.VDSO = nil
		for i, v := range *doc.VDSO {
			p, err := vaspace.ParseProt(v.Prot)
			if err != nil {
				return fail("vdso[%d].prot: %v", i, err)
			}
			k.VDSO = append(k.VDSO, SpecialMapping{Name: v.Name, Size: v.Size, Prot: p})
		}
	}
	if err := k.Validate(); err != nil {
		return fail("%v", err)
	}
	return k, nil
}

// MarshalJSON writes the profile in the form DecodeKernel reads.
func (k Kernel) MarshalJSON() ([]byte, error) {
	type plain Kernel
	var vdso []specialJSON
	for _, v := range k.VDSO {
		vdso = append(vdso, specialJSON{Name: v.Name, Size: v.Size, Prot: v.Prot.String()})
	}
	return json.Marshal(struct {
		Arch string `json:"arch"`
		plain
		VDSO []specialJSON `json:"vdso"`
	}{k.Arch.String(), plain(k), vdso})
}
