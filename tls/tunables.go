package tls

import (
	"fmt"
	"strings"
)

// Tunables are the GLIBC_TUNABLES settings that shape static TLS
// (elf/dl-tunables.list; glibc 2.32+ for the two rtld ones).
type Tunables struct {
	// NNS is glibc.rtld.nns (1..16, default 4).
	NNS uint64
	// OptionalStaticTLS is glibc.rtld.optional_static_tls (default 512).
	OptionalStaticTLS uint64
	// Rseq is glibc.pthread.rseq (default 1); it sizes the 2.41+ extra
	// block.
	Rseq bool
}

// String renders the tunables as a GLIBC_TUNABLES value, listing only
// those that differ from the defaults.
func (t Tunables) String() string {
	d := DefaultTunables()
	var parts []string
	if t.NNS != d.NNS {
		parts = append(parts, fmt.Sprintf("glibc.rtld.nns=%d", t.NNS))
	}
	if t.OptionalStaticTLS != d.OptionalStaticTLS {
		parts = append(parts, fmt.Sprintf("glibc.rtld.optional_static_tls=%d", t.OptionalStaticTLS))
	}
	if t.Rseq != d.Rseq {
		parts = append(parts, "glibc.pthread.rseq=0")
	}
	return strings.Join(parts, ":")
}

// TunableIssue is one part of a GLIBC_TUNABLES string glibc ignores or
// reads differently from what it looks like.
type TunableIssue struct {
	Item   string // the name=value item as written
	Detail string
	// UnknownName marks a name outside glibc 2.36's list: a typo there,
	// but possibly a real tunable of another release.
	UnknownName bool
}

// TunablesError lists every issue in a GLIBC_TUNABLES string. glibc itself
// is silent about all of them; vasim reports them so a typo does not go
// unnoticed.
type TunablesError struct {
	Value  string
	Issues []TunableIssue
}

// Without returns the error less the issues drop reports, or nil when
// none are left.
func (e *TunablesError) Without(drop func(TunableIssue) bool) *TunablesError {
	var kept []TunableIssue
	for _, is := range e.Issues {
		if !drop(is) {
			kept = append(kept, is)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &TunablesError{Value: e.Value, Issues: kept}
}

func (e *TunablesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "GLIBC_TUNABLES=%q:", e.Value)
	for _, is := range e.Issues {
		fmt.Fprintf(&b, " %q: %s;", is.Item, is.Detail)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// glibc236Tunables are the tunable names of Debian glibc 2.36 x86_64
// ("ld.so --list-tunables"); a name outside this list is ignored by glibc.
var glibc236Tunables = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`glibc.rtld.nns glibc.elision.skip_lock_after_retries
		glibc.malloc.trim_threshold glibc.malloc.perturb glibc.cpu.x86_shared_cache_size
		glibc.pthread.rseq glibc.mem.tagging glibc.elision.tries glibc.elision.enable
		glibc.malloc.hugetlb glibc.cpu.x86_rep_movsb_threshold glibc.malloc.mxfast
		glibc.rtld.dynamic_sort glibc.elision.skip_lock_busy glibc.malloc.top_pad
		glibc.cpu.x86_rep_stosb_threshold glibc.cpu.x86_non_temporal_threshold
		glibc.cpu.x86_shstk glibc.pthread.stack_cache_size glibc.gmon.minarcs
		glibc.cpu.hwcap_mask glibc.malloc.mmap_max glibc.elision.skip_trylock_internal_abort
		glibc.malloc.tcache_unsorted_limit glibc.cpu.x86_ibt glibc.cpu.hwcaps
		glibc.elision.skip_lock_internal_abort glibc.malloc.arena_max glibc.malloc.mmap_threshold
		glibc.cpu.x86_data_cache_size glibc.malloc.tcache_count glibc.malloc.arena_test
		glibc.pthread.mutex_spin_count glibc.gmon.maxarcs glibc.rtld.optional_static_tls
		glibc.malloc.tcache_max glibc.malloc.check`) {
		glibc236Tunables[n] = true
	}
}

// strtoul reads a number as glibc's _dl_strtoul (elf/dl-misc.c, used for
// every numeric tunable in 2.36): blanks and tabs are skipped, a sign is
// accepted (a minus negates modulo 2^64), "0x" selects hex and a leading
// 0 octal, then digits are read as far as they go. On overflow it stops
// and returns 2^64-1 (without applying the sign). digits is false when no
// digit was read (glibc then reads 0); rest is what follows the number.
func strtoul(s string) (v uint64, rest string, digits, overflow, negative bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		negative = s[i] == '-'
		i++
	}
	if i >= len(s) || s[i] < '0' || s[i] > '9' {
		return 0, s[i:], false, false, negative
	}
	base, maxDigit := uint64(10), byte('9')
	if s[i] == '0' {
		if i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') {
			base, i = 16, i+2
		} else {
			base, maxDigit = 8, '7'
		}
	}
	start := i
	for ; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= maxDigit:
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			d = base // not a digit of this base
		}
		if d >= base {
			break
		}
		if v >= (^uint64(0)-d)/base {
			return ^uint64(0), s[i:], true, true, negative
		}
		v = v*base + d
	}
	if negative {
		v = -v
	}
	return v, s[i:], i > start, false, negative
}

// ParseTunables reads a GLIBC_TUNABLES value the way glibc 2.36 applies it
// (elf/dl-tunables.c parse_tunables and tunable_initialize, elf/dl-misc.c
// _dl_strtoul), measured against "ld.so --list-tunables" here: items are
// name=value separated by ':'; an item without '=' is skipped; numbers
// are read as far as they are digits (0x hex, leading-0 octal; "abc"
// reads as 0, "12abc" as 12, "-1" as 2^64-1, an overflow as 2^64-1); a
// value out of range (nns outside 1..16, rseq outside 0..1) leaves the
// default; an unknown name is ignored. The returned Tunables are what glibc would use;
// the error, a *TunablesError, lists everything glibc silently ignored or
// read as something else, or is nil.
func ParseTunables(s string) (Tunables, error) {
	t := DefaultTunables()
	if s == "" {
		return t, nil
	}
	var issues []TunableIssue
	for _, item := range strings.Split(s, ":") {
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, "=")
		if !ok {
			issues = append(issues, TunableIssue{Item: item, Detail: "no '=': glibc skips it"})
			continue
		}
		if !glibc236Tunables[name] {
			issues = append(issues, TunableIssue{Item: item, Detail: "not a glibc 2.36 tunable: glibc ignores it", UnknownName: true})
			continue
		}
		switch name {
		case "glibc.rtld.nns", "glibc.rtld.optional_static_tls", "glibc.pthread.rseq":
		default:
			continue // a real tunable that does not affect static TLS
		}
		v, rest, digits, overflow, negative := strtoul(val)
		num := strings.TrimLeft(val, " \t+-")
		switch {
		case !digits:
			issues = append(issues, TunableIssue{Item: item, Detail: fmt.Sprintf("%q is not a number: glibc reads it as 0", val)})
			v = 0
		case overflow:
			issues = append(issues, TunableIssue{Item: item, Detail: fmt.Sprintf("overflows 64 bits: glibc reads %d", v)})
		case negative:
			issues = append(issues, TunableIssue{Item: item, Detail: fmt.Sprintf("negative: glibc reads %d", v)})
		case rest != "":
			issues = append(issues, TunableIssue{Item: item, Detail: fmt.Sprintf("trailing %q: glibc reads only %d", rest, v)})
		case len(num) > 1 && num[0] == '0' && num[1] != 'x' && num[1] != 'X':
			issues = append(issues, TunableIssue{Item: item, Detail: fmt.Sprintf("a leading 0 means octal: glibc reads %d", v)})
		}
		switch name {
		case "glibc.rtld.nns":
			if v < 1 || v > glibcDLNNS {
				issues = append(issues, TunableIssue{Item: item, Detail: fmt.Sprintf("%d is outside 1..%d: glibc keeps %d", v, glibcDLNNS, t.NNS)})
				continue
			}
			t.NNS = v
		case "glibc.rtld.optional_static_tls":
			t.OptionalStaticTLS = v
		case "glibc.pthread.rseq":
			if v > 1 { // an int32 tunable: a negative value is below 0
				issues = append(issues, TunableIssue{Item: item, Detail: fmt.Sprintf("%d is outside 0..1: glibc keeps %v", v, b2i(t.Rseq))})
				continue
			}
			t.Rseq = v == 1
		}
	}
	if len(issues) > 0 {
		return t, &TunablesError{Value: s, Issues: issues}
	}
	return t, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
