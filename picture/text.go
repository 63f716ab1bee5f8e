package picture

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vasim/vasim/vaspace"
)

// advance holds the advance widths of DejaVu Sans Book for ASCII 0x20 to
// 0x7e in units of 1/2048 em (the font's units per em), so that label
// widths can be estimated without a font at hand. Verdana, the fallback,
// has nearly the same metrics.
var advance = [95]uint16{
	651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, // ' ' to '/'
	1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, // '0' to '9'
	690, 690, 1716, 1716, 1716, 1087, 2048, // ':' to '@'
	1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, // 'A' to 'M'
	1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, // 'N' to 'Z'
	799, 690, 799, 1716, 1024, 1024, // '[' to '`'
	1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, // 'a' to 'm'
	1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, // 'n' to 'z'
	1303, 690, 1303, 1716, // '{' to '~'
}

// textWidth estimates the width in pixels of s set in DejaVu Sans at size
// px (bold 10% wider), erring wide by 3%.
func textWidth(s string, size float64, bold bool) float64 {
	var units float64
	for _, r := range s {
		switch {
		case r >= 0x20 && r <= 0x7e:
			units += float64(advance[r-0x20])
		case r == '·' || r == '’':
			units += 651
		case r == '–':
			units += 1024
		case r == '—' || r == '…':
			units += 2048
		case r < 0x3000:
			units += 1716
		default:
			units += 2048 // CJK and wider
		}
	}
	w := units / 2048 * size * 1.03
	if bold {
		w *= 1.1
	}
	return w
}

// clean makes s safe and tidy for one line of text: invalid UTF-8 and
// control characters become U+FFFD or spaces, runs of space collapse.
func clean(s string) string {
	if len(s) > 4096 {
		s = s[:4096]
	}
	var b strings.Builder
	space := false
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				r = '\uFFFD'
			}
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if !unicode.IsPrint(r) {
			r = '\uFFFD'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// elide shortens s to at most width pixels at size px by cutting its
// middle, which keeps both a path's start and a library's name.
func elide(s string, width, size float64, bold bool) string {
	if textWidth(s, size, bold) <= width {
		return s
	}
	rs := []rune(s)
	for n := len(rs) - 1; n > 0; n-- {
		head := (n + 1) / 2
		tail := n - head
		t := string(rs[:head]) + "…" + string(rs[len(rs)-tail:])
		if textWidth(t, size, bold) <= width {
			return t
		}
	}
	return ""
}

// display returns the short form of a name for a label: the leading
// path-like word ("/usr/lib/x86_64-linux-gnu/libc.so.6",
// "@rpath/libfoo.dylib") is cut to its last element.
func display(s string) string {
	s = clean(s)
	word, rest, _ := strings.Cut(s, " ")
	if i := strings.LastIndexByte(word, '/'); i >= 0 && i < len(word)-1 {
		word = word[i+1:]
	}
	if rest == "" {
		return word
	}
	return word + " " + rest
}

// esc escapes s for XML character data and attribute values. Characters
// XML cannot hold become U+FFFD.
func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // a bytes.Buffer never fails
	return b.String()
}

// num formats a coordinate with one decimal, never as "-0".
func num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = 0
	}
	x = math.Round(x*10) / 10
	if x == 0 {
		return "0"
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// hex formats an address as %#x.
func hex(a vaspace.Addr) string { return fmt.Sprintf("%#x", uint64(a)) }

// rangeText formats r as "[%#x, %#x)".
func rangeText(r vaspace.Range) string {
	return fmt.Sprintf("[%#x, %#x)", uint64(r.Start), uint64(r.End))
}

var unitNames = [...]string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// unitOf returns the exponent (0 for bytes, 1 for KiB, ...) of the largest
// binary unit not above n, 0 for n < 1024.
func unitOf(n uint64) int {
	u := 0
	for u < len(unitNames)-1 && n>>(10*(u+1)) > 0 {
		u++
	}
	return u
}

// approx formats a byte count with three significant figures: "127.6 TiB",
// "384 GiB", "16 EiB".
func approx(n uint64) string {
	u := unitOf(n)
	v := float64(n) / math.Exp2(float64(10*u))
	var s string
	switch {
	case u == 0:
		s = strconv.FormatUint(n, 10)
	case v >= 99.95:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 9.995:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + " " + unitNames[u]
}

// exact formats an address for an axis label: in the largest binary unit
// with at most two decimals when that is exact ("64 GiB", "16.5 GiB"),
// otherwise in hexadecimal.
func exact(a vaspace.Addr) string {
	n := uint64(a)
	if n == 0 {
		return "0"
	}
	u := unitOf(n)
	if u == 0 {
		return hex(a)
	}
	unit := uint64(1) << (10 * u)
	// n/unit with two decimals is exact when n*100 is a multiple of unit.
	whole, frac := n/unit, n%unit
	if frac > math.MaxUint64/100 {
		return hex(a)
	}
	hundredths, rem := frac*100/unit, frac*100%unit
	if rem != 0 {
		return hex(a)
	}
	s := strconv.FormatUint(whole, 10)
	if hundredths != 0 {
		d := fmt.Sprintf("%02d", hundredths)
		s += "." + strings.TrimRight(d, "0")
	}
	return s + " " + unitNames[u]
}
