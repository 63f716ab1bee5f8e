package tls

import (
	"fmt"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
)

// Variant is the ELF TLS data-structure variant (Drepper, "ELF Handling
// For Thread-Local Storage" §3.4; glibc TLS_TCB_AT_TP vs TLS_DTV_AT_TP).
type Variant uint8

// Variants.
const (
	// VariantI puts the TCB at the thread pointer and the blocks above it
	// (glibc TLS_DTV_AT_TP: aarch64, powerpc, riscv...).
	VariantI Variant = 1
	// VariantII puts the blocks below the thread pointer and the TCB at
	// it (glibc TLS_TCB_AT_TP: x86_64, i386, s390).
	VariantII Variant = 2
)

func (v Variant) String() string {
	switch v {
	case VariantI:
		return "variant I (blocks above tp)"
	case VariantII:
		return "variant II (blocks below tp)"
	}
	return fmt.Sprintf("Variant(%d)", uint8(v))
}

// Profile holds every parameter of glibc's static TLS handling for one
// release era and architecture (one known gap: the object sort of
// releases before 2.35, see Glibc.sortMaps). GlibcProfile fills one in from the sources
// (glibc elf/dl-tls.c, elf/dl-reloc.c, elf/dl-close.c, elf/dl-open.c and
// the sysdeps tls.h files, tags glibc-2.16 .. glibc-2.41); a user can
// build one for a release or vendor build the defaults do not cover.
type Profile struct {
	// Name is a label, e.g. "glibc 2.36 x86_64".
	Name string
	// Glibc is the release the profile models.
	Glibc ldso.GlibcVersion
	Arch  loader.Arch
	// Variant follows from Arch.
	Variant Variant
	// TCBSize is TLS_TCB_SIZE. x86_64: sizeof(struct pthread), 2368 bytes
	// measured on Debian glibc 2.36 (4224 static size from
	// _dl_get_tls_static_info minus roundup(144 + 1664, 64)); not measured
	// for other releases, where the default is the same figure. aarch64:
	// sizeof(tcbhead_t) = 16 (sysdeps/aarch64/nptl/tls.h).
	TCBSize uint64
	// TCBAlign is TCB_ALIGNMENT, the starting static alignment: 64 on x86
	// (sysdeps/x86/nptl/pthreaddef.h); on aarch64 16 before glibc 2.35
	// (sysdeps/aarch64/nptl/pthreaddef.h) and 32 from it (nptl/descr.h).
	TCBAlign uint64
	// PreTCBSize is aarch64 TLS_PRE_TCB_SIZE (sizeof(struct pthread)),
	// only used for the initial thread's page range; not measured: the
	// default 1792 is a placeholder to be overridden for exact pages.
	PreTCBSize uint64

	// Tunables reports glibc.rtld.nns and glibc.rtld.optional_static_tls
	// (2.32+, commits ffb17e7ba3, 0c7b002fac). Without them the surplus is
	// FixedSurplus.
	Tunables bool
	// OptionalCap reports the optional budget that caps what TLS
	// descriptors may take (2.32+); before, they could use the whole
	// surplus (BZ #25051).
	OptionalCap bool
	// FixedSurplus is TLS_STATIC_SURPLUS before 2.32: 64 + DL_NNS*100 =
	// 1664.
	FixedSurplus uint64
	// LibcIETLS, OtherIETLS and LegacyTLS are the 2.32+ surplus terms
	// (144, 144, and 1664 - surplus(4, 512) = 144): surplus =
	// (nns-1)*LibcIETLS + nns*OtherIETLS + optional + LegacyTLS.
	LibcIETLS, OtherIETLS, LegacyTLS uint64
	// MaxNamespaces is DL_NNS (16): nns is capped to it, and audit
	// modules must fit in what is left.
	MaxNamespaces uint64

	// ExtraTLS reports the 2.41+ extra (rseq) block placed after the
	// start-up modules (elf/dl-tls.c, sysdeps/unix/sysv/linux/
	// dl-extra_tls.h). ExtraTLSSize and ExtraTLSAlign are its size and
	// alignment with glibc.pthread.rseq=1: roundup(max(AT_RSEQ_FEATURE_SIZE,
	// 32), AT_RSEQ_ALIGN) and AT_RSEQ_ALIGN, kernel-dependent; the
	// defaults (32, 32) are the ABI minimum, also what rseq=0 gives.
	ExtraTLS                    bool
	ExtraTLSSize, ExtraTLSAlign uint64

	// DTVSurplus, when non-zero, is the <= 2.21 limit: in a
	// multi-threaded process dlopen fails with "cannot load any more
	// object with static TLS" when a module given static TLS has a module
	// ID above it (DTV_SURPLUS = 14; removed in 2.22).
	DTVSurplus int
	// ForcedDynamicOffset is FORCED_DYNAMIC_TLS_OFFSET: 1 up to 2.16,
	// where a module placed at static offset 1 was mistaken for
	// forced-dynamic (BZ #14898), -1 from 2.17 (include/link.h).
	ForcedDynamicOffset int64
	// LazyTLSDesc reports that TLS descriptors in DT_JMPREL were resolved
	// lazily, at first use, so their optional static TLS was tried then
	// (x86_64 before 2.34, commit 8f7e09f4db; aarch64 before 2.27, commit
	// b7cf203b5c). That happens only when the object is relocated lazily:
	// RTLD_LAZY (DlopenRequest.Now false) or start-up, without LD_BIND_NOW
	// (StartOptions.BindNow) and without BIND_NOW in the object
	// (Module.BindNow); otherwise they are resolved with the other
	// relocations. vasim applies lazy ones at the module's first Access.
	LazyTLSDesc bool
}

// Glibc profile defaults, each from the source named.
const (
	// glibcSurplusLegacy is the pre-2.32 TLS_STATIC_SURPLUS, 64 + DL_NNS *
	// 100 (elf/dl-tls.c).
	glibcSurplusLegacy = 64 + 16*100
	glibcLibcIETLS     = 144 // LIBC_IE_TLS, elf/dl-tls.c (2.32+)
	glibcOtherIETLS    = 144 // OTHER_IE_TLS
	glibcDefaultNNS    = 4   // DEFAULT_NNS, glibc.rtld.nns default
	glibcOptionalTLS   = 512 // OPTIONAL_TLS, glibc.rtld.optional_static_tls default
	glibcDLNNS         = 16  // DL_NNS
	glibcDTVSurplus    = 14  // DTV_SURPLUS, sysdeps/generic/ldsodefs.h
	// rseqAreaSizeInitial and rseqMinAlign are RSEQ_AREA_SIZE_INITIAL and
	// RSEQ_MIN_ALIGN (sysdeps/unix/sysv/linux/rseq-internal.h, 2.41): the
	// extra TLS block's size and alignment with glibc.pthread.rseq=0, and
	// the least they can be otherwise.
	rseqAreaSizeInitial = 32
	rseqMinAlign        = 32
	// MeasuredTCBSizeX86_64 is sizeof(struct pthread) on Debian glibc 2.36
	// x86_64: _dl_get_tls_static_info reports 4224 for a program whose
	// only TLS is libc's 144 bytes, 4224 - roundup(144+1664, 64) = 2368.
	MeasuredTCBSizeX86_64 = 2368
)

// GlibcProfile returns the profile for a glibc release on an architecture.
// Releases below 2.17 exist only for x86_64 here (glibc gained aarch64 in
// 2.17).
func GlibcProfile(v ldso.GlibcVersion, arch loader.Arch) (Profile, error) {
	if v.Major != 2 || v.Minor < 3 {
		return Profile{}, fmt.Errorf("%w: glibc %v: the model covers glibc 2.3 and later", ErrUnsupported, v)
	}
	p := Profile{
		Name:                fmt.Sprintf("glibc %v %v", v, arch),
		Glibc:               v,
		Arch:                arch,
		FixedSurplus:        glibcSurplusLegacy,
		LibcIETLS:           glibcLibcIETLS,
		OtherIETLS:          glibcOtherIETLS,
		MaxNamespaces:       glibcDLNNS,
		ForcedDynamicOffset: -1,
		ExtraTLSSize:        rseqAreaSizeInitial,
		ExtraTLSAlign:       rseqMinAlign,
	}
	p.LegacyTLS = glibcSurplusLegacy - ((glibcDefaultNNS-1)*glibcLibcIETLS + glibcDefaultNNS*glibcOtherIETLS + glibcOptionalTLS)
	switch arch {
	case loader.ArchX86_64:
		p.Variant = VariantII
		p.TCBSize = MeasuredTCBSizeX86_64
		p.TCBAlign = 64
		p.LazyTLSDesc = !v.AtLeast(2, 34)
	case loader.ArchAArch64:
		if !v.AtLeast(2, 17) {
			return Profile{}, fmt.Errorf("%w: glibc %v has no aarch64 port (added in 2.17)", ErrUnsupported, v)
		}
		p.Variant = VariantI
		p.TCBSize = 16
		// sysdeps/aarch64/nptl/pthreaddef.h: TCB_ALIGNMENT 16 until
		// glibc 2.35 raised the default to 32 (commit 23c77f6018).
		p.TCBAlign = 16
		if v.AtLeast(2, 35) {
			p.TCBAlign = 32
		}
		p.PreTCBSize = 1792
		p.LazyTLSDesc = !v.AtLeast(2, 27)
	default:
		return Profile{}, fmt.Errorf("%w: architecture %v", ErrUnsupported, arch)
	}
	if v.AtLeast(2, 32) {
		p.Tunables, p.OptionalCap = true, true
	}
	if v.AtLeast(2, 41) {
		p.ExtraTLS = true
	}
	if !v.AtLeast(2, 22) {
		p.DTVSurplus = glibcDTVSurplus
	}
	if !v.AtLeast(2, 17) {
		p.ForcedDynamicOffset = 1
	}
	return p, nil
}

// Surplus returns dl_tls_static_surplus for the tunables and the number of
// audit modules (elf/dl-tls.c _dl_tls_static_surplus_init), and the
// optional budget dl_tls_static_optional starts with. It fails, as glibc
// does at start-up, when the audit modules do not fit in the namespaces
// left.
//
// glibc adds the terms as C ints (tls_static_surplus takes int nns and
// int opt_tls, 2.32 to 2.43): optional_static_tls is cut to its low 32
// bits, the sum wraps, and a negative sum becomes a huge size_t, so start-up
// then fails to allocate the block. Below 2^31 minus the other terms this
// is the plain sum of the reference formula; above, measured on Debian
// 2.36: 0xffffffff and 0x100000000 behave like -1 and 0, 0x80000000 fails.
// The optional budget keeps the full value.
func (p Profile) Surplus(t Tunables, naudit int) (surplus, optional uint64, err error) {
	if !p.Tunables {
		return p.FixedSurplus, p.FixedSurplus, nil
	}
	nns := t.NNS
	if nns > p.MaxNamespaces {
		nns = p.MaxNamespaces
	}
	if p.MaxNamespaces-nns < uint64(naudit) {
		return 0, 0, fmt.Errorf("Failed loading %d audit modules, %d are supported.", naudit, p.MaxNamespaces-nns)
	}
	nns += uint64(naudit)
	sum := int32((nns-1)*p.LibcIETLS+nns*p.OtherIETLS) + int32(uint32(t.OptionalStaticTLS)) + int32(p.LegacyTLS)
	return uint64(int64(sum)), t.OptionalStaticTLS, nil
}

// DefaultTunables returns glibc's defaults (nns 4, optional 512, rseq 1).
func DefaultTunables() Tunables {
	return Tunables{NNS: glibcDefaultNNS, OptionalStaticTLS: glibcOptionalTLS, Rseq: true}
}
