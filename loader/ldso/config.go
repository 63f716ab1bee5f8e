package ldso

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/elfspec"
)

// Flavor is the dynamic loader whose search rules a Resolver follows.
type Flavor uint8

// Flavors.
const (
	// FlavorAuto takes the flavor from the program's interpreter: musl
	// for an ld-musl-*.so.1, glibc otherwise.
	FlavorAuto Flavor = iota
	// FlavorGlibc is glibc's ld.so (elf/dl-load.c).
	FlavorGlibc
	// FlavorMusl is musl's dynamic linker (ldso/dynlink.c, musl 1.2.3 and
	// 1.2.4).
	FlavorMusl
)

func (f Flavor) String() string {
	switch f {
	case FlavorAuto:
		return "auto"
	case FlavorGlibc:
		return "glibc"
	case FlavorMusl:
		return "musl"
	}
	return fmt.Sprintf("Flavor(%d)", uint8(f))
}

// FlavorOf returns the flavor an interpreter path names: musl's loader is
// installed as ld-musl-ARCH.so.1 (musl Makefile, $(LDSO_PATHNAME)).
func FlavorOf(interp string) Flavor {
	if strings.HasPrefix(path.Base(interp), "ld-musl-") {
		return FlavorMusl
	}
	return FlavorGlibc
}

// multiarch returns Debian's multiarch triplet for a glibc program of
// machine m, or "".
func multiarch(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86_64-linux-gnu"
	case elf.EM_AARCH64:
		return "aarch64-linux-gnu"
	case elf.EM_386:
		return "i386-linux-gnu"
	}
	return ""
}

// muslArch returns musl's LDSO_ARCH for machine m, or "".
func muslArch(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86_64"
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_386:
		return "i386"
	}
	return ""
}

// GlibcSystemDirs returns glibc's default search directories for a
// Debian build for machine m: the multiarch directories, then /lib and
// /usr/lib (the "system search path" lines of "ld.so --help" on Debian
// glibc 2.36 x86_64 and aarch64).
func GlibcSystemDirs(m elf.Machine) []string {
	if t := multiarch(m); t != "" {
		return []string{"/lib/" + t, "/usr/lib/" + t, "/lib", "/usr/lib"}
	}
	return []string{"/lib", "/usr/lib"}
}

// muslDefaultPath is musl's built-in system path, used when the path file
// does not exist (ldso/dynlink.c, SYS_PATH_DFLT).
const muslDefaultPath = "/lib:/usr/local/lib:/usr/lib"

// maxMuslPathBytes bounds the path file read.
const maxMuslPathBytes = 1 << 20

// MuslSystemDirs returns musl's system path for a program whose
// interpreter is interp: the directories of the path file
// <prefix>/etc/ld-musl-ARCH.path, prefix being interp up to its
// second-to-last '/', split at ':' and newlines with empty entries
// skipped; "/lib:/usr/local/lib:/usr/lib" when the file does not exist;
// nothing when it exists but cannot be read (ldso/dynlink.c
// load_library). read is called with the file's path as the target sees
// it.
func MuslSystemDirs(interp string, m elf.Machine, read func(target string) ([]byte, error)) ([]string, error) {
	prefix := path.Dir(path.Dir(interp))
	if prefix == "/" || prefix == "." {
		prefix = ""
	}
	file := prefix + "/etc/ld-musl-" + muslArch(m) + ".path"
	data, err := read(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return splitMuslPath(muslDefaultPath), nil
	case err != nil:
		return nil, err
	}
	return splitMuslPath(string(data)), nil
}

func splitMuslPath(s string) []string {
	return strings.FieldsFunc(s, func(c rune) bool { return c == ':' || c == '\n' })
}

// configure settles the flavor and, with Detect, the defaults left unset,
// for a program with spec main; what cannot be detected is noted in p's
// warnings.
func (r *Resolver) configure(main *loader.ImageSpec, p *Namespace) {
	interp := main.ELF.Interp
	if r.Flavor == FlavorAuto {
		r.Flavor = FlavorOf(interp)
	}
	if !r.Detect {
		return
	}
	m := main.ELF.Machine
	if r.Flavor == FlavorMusl {
		if r.SystemDirs == nil {
			dirs, err := MuslSystemDirs(interp, m, func(target string) ([]byte, error) {
				return input.ReadFile(r.host(target), maxMuslPathBytes, "musl's path file")
			})
			if err != nil {
				p.warn(fmt.Sprintf("musl's path file: %v; musl then searches no system directories", err))
			}
			r.SystemDirs = dirs
		}
		r.Cache = nil // musl has no cache
		return
	}
	if r.SystemDirs == nil {
		r.SystemDirs = GlibcSystemDirs(m)
	}
	if r.Lib == "" {
		if t := multiarch(m); t != "" {
			r.Lib = "lib/" + t
		} else {
			r.Lib = "lib"
		}
	}
	if r.CacheOptions.Machine == 0 {
		r.CacheOptions.Machine = m
	}
	if r.Subdirs != nil && r.Platform != "" && r.Memory == nil {
		return
	}
	cpu := r.CPU
	if cpu == nil {
		c, err := hostCPU()
		if err != nil {
			p.warn(fmt.Sprintf("reading the CPU's features: %v; searching no hwcaps subdirectories", err))
			return
		}
		cpu = &c
	}
	v := GlibcVersion{Major: 2, Minor: 36}
	if interp != "" {
		if d, err := DetectGlibcVersion(r.host(interp)); err == nil {
			v = d.Version
		} else {
			p.warn(fmt.Sprintf("glibc release of %s: %v; assuming %v", interp, err, v))
		}
	}
	h := DetectHWCaps(v, elfspec.Arch(m), *cpu)
	r.hw, r.version = h, v
	if r.Subdirs == nil {
		r.Subdirs = h.Subdirs()
		if r.CacheOptions.HWCapsSubdirs == nil {
			r.CacheOptions.HWCapsSubdirs = h.GlibcHWCaps
		}
	}
	if r.Platform == "" {
		r.Platform = h.Platform
	}
}
