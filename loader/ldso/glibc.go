package ldso

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/vasim/vasim/internal/input"
)

// GlibcVersion is a glibc release number, e.g. 2.36.
type GlibcVersion struct {
	Major, Minor int
}

func (v GlibcVersion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less reports whether v is an older release than w.
func (v GlibcVersion) Less(w GlibcVersion) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	return v.Minor < w.Minor
}

// AtLeast reports v >= major.minor.
func (v GlibcVersion) AtLeast(major, minor int) bool {
	return !v.Less(GlibcVersion{major, minor})
}

// IsZero reports an unset version.
func (v GlibcVersion) IsZero() bool { return v == GlibcVersion{} }

// ParseGlibcVersion parses "2.36" (also "2.36.9000", "glibc-2.36").
func ParseGlibcVersion(s string) (GlibcVersion, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "glibc-")
	parts := strings.Split(t, ".")
	if len(parts) < 2 {
		return GlibcVersion{}, fmt.Errorf("glibc version %q: want MAJOR.MINOR, e.g. 2.36", s)
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || ma < 2 || mi < 0 {
		return GlibcVersion{}, fmt.Errorf("glibc version %q: want MAJOR.MINOR, e.g. 2.36", s)
	}
	return GlibcVersion{ma, mi}, nil
}

// GlibcDetection says how a version was found.
type GlibcDetection struct {
	Version GlibcVersion
	// Path is the libc file read.
	Path string
	// Source is "banner" (the "... release version 2.36." string libc and
	// ld.so print when run, in .rodata) or "symbol versions" (the highest
	// GLIBC_2.N version name, a lower bound: not every release adds one).
	Source string
	// Banner is the banner text, when found.
	Banner string
}

var (
	bannerRe  = regexp.MustCompile(`(?:GNU C Library|ld\.so) [^\x00\n]*? version (\d+)\.(\d+)`)
	symverRe  = regexp.MustCompile(`GLIBC_(\d+)\.(\d+)(?:\.\d+)?\x00`)
	errNoLibc = errors.New("no glibc version string or GLIBC_2.N symbol version found")
)

// maxLibcBytes bounds the libc DetectGlibcVersion reads: Debian's
// libc.so.6 is 1.9 MiB.
const maxLibcBytes = 256 << 20

// DetectGlibcVersion reads a libc.so.6 (or glibc's ld.so) and returns its
// release: from the version banner when present, else from the highest
// GLIBC_2.N version name it holds. The banner is looked for first in the
// ELF file's .rodata section, where glibc keeps it (csu/version.c
// banner[], elf/rtld.c's --version text), which spares reading the whole
// file; then, and for the version names, in the whole file.
func DetectGlibcVersion(libcPath string) (GlibcDetection, error) {
	d := GlibcDetection{Path: libcPath}
	if m := rodataBanner(libcPath); m != nil {
		return bannerDetection(d, m), nil
	}
	data, err := input.ReadFile(libcPath, maxLibcBytes, "a libc.so.6")
	if err != nil {
		return GlibcDetection{}, err
	}
	if m := findBanner(data); m != nil {
		return bannerDetection(d, m), nil
	}
	best := GlibcVersion{}
	for _, m := range symverRe.FindAllSubmatch(data, -1) {
		ma, _ := strconv.Atoi(string(m[1]))
		mi, _ := strconv.Atoi(string(m[2]))
		if v := (GlibcVersion{ma, mi}); best.Less(v) {
			best = v
		}
	}
	if best.IsZero() {
		return GlibcDetection{}, fmt.Errorf("%s: %w", libcPath, errNoLibc)
	}
	d.Version, d.Source = best, "symbol versions"
	return d, nil
}

func bannerDetection(d GlibcDetection, m [][]byte) GlibcDetection {
	ma, _ := strconv.Atoi(string(m[1]))
	mi, _ := strconv.Atoi(string(m[2]))
	d.Version, d.Source, d.Banner = GlibcVersion{ma, mi}, "banner", string(bytes.TrimRight(m[0], "."))
	return d
}

// rodataBanner finds the version banner in the .rodata section of the
// ELF file at path, reading only the ELF and section headers and that
// section; nil when the file is not a regular ELF file within
// maxLibcBytes, has no such section, or no banner there.
func rodataBanner(path string) (m [][]byte) {
	defer func() {
		if recover() != nil { // debug/elf on a hostile file: read it whole
			m = nil
		}
	}()
	f, err := input.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() > maxLibcBytes {
		return nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil
	}
	s := ef.Section(".rodata")
	if s == nil || s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_COMPRESSED != 0 ||
		s.Offset > uint64(fi.Size()) || s.Size > uint64(fi.Size())-s.Offset {
		return nil
	}
	data, err := s.Data()
	if err != nil {
		return nil
	}
	return findBanner(data)
}

// findBanner finds the version banner: the regular expression is tried
// only where one of its literal prefixes occurs, which is what keeps
// reading a 2 MiB libc fast.
func findBanner(data []byte) [][]byte {
	for _, prefix := range [][]byte{[]byte("GNU C Library"), []byte("ld.so ")} {
		for off := 0; ; {
			i := bytes.Index(data[off:], prefix)
			if i < 0 {
				break
			}
			start := off + i
			end := min(len(data), start+512)
			if m := bannerRe.FindSubmatch(data[start:end]); m != nil && bytes.HasPrefix(m[0], prefix) {
				return m
			}
			off = start + 1
		}
	}
	return nil
}

// DetectGlibc finds libc.so.6 among the namespace's objects and returns its
// release; ok is false when the program does not load glibc's libc.
func (p *Namespace) DetectGlibc() (GlibcDetection, bool, error) {
	for _, o := range p.Objects {
		if o.Spec.ELF != nil && o.Spec.ELF.SOName == "libc.so.6" {
			d, err := DetectGlibcVersion(o.HostPath)
			return d, err == nil, err
		}
	}
	return GlibcDetection{}, false, nil
}
