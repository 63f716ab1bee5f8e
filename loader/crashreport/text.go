package crashreport

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/vasim/vasim/vaspace"
)

var (
	// imageLineRE matches a Binary Images line: "0xSTART - 0xEND REST",
	// END inclusive.
	imageLineRE = regexp.MustCompile(`^(0x[0-9A-Fa-f]+)\s*-\s*(0x[0-9A-Fa-f]+)(?:\s+(.*))?$`)
	// uuidRE matches the "<UUID>" of a Binary Images line: 32 hex digits,
	// with or without the dashes of the 8-4-4-4-12 form.
	uuidRE = regexp.MustCompile(`<([0-9A-Fa-f-]{32,36})>`)
	// crashedRE matches the heading of the crashed thread's backtrace:
	// "Thread 0 Crashed:" (and "Thread 0 Crashed::  Dispatch queue: ...").
	crashedRE = regexp.MustCompile(`^Thread \d+ Crashed:`)
	// frameRE matches a backtrace line:
	// "0   libsystem_malloc.dylib   0x18c3b2f44 SYMBOL + 12".
	frameRE = regexp.MustCompile(`^\d+\s+(.+?)\s+(0x[0-9A-Fa-f]+)(?:\s+(.*))?$`)
	// pidRE matches the " [pid]" after the process name.
	pidRE = regexp.MustCompile(`\s*\[\d+\]$`)
)

// archNames are the architecture tokens Binary Images lines carry
// between the name (or version) and the UUID.
var archNames = map[string]bool{
	"arm64": true, "arm64e": true, "arm64_32": true, "armv7": true, "armv7s": true, "armv7k": true,
	"x86_64": true, "x86_64h": true, "i386": true, "ppc": true, "ppc64": true,
}

// parseText reads the text form from data[start:].
func (p *parser) parseText(start int) ([]located, error) {
	rep := p.rep
	rep.Form = FormText
	var (
		imgs                       []located
		recognised, sawImages      bool
		inImages, inASI, wantFrame bool
		imagesInSection            int
		// imagesAt is the line of the last Binary Images heading and
		// lastImageAt that of its last image line; tailSeen says a
		// non-blank line other than an image line came after it.
		imagesAt, lastImageAt  int
		tailSeen               bool
		excType, excSubtype    string
		excCodes               []string
		termReason, termSignal string
	)
	off := start
	lineNo := p.lineAt(int64(start))
	for off < len(p.data) {
		end := bytes.IndexByte(p.data[off:], '\n')
		next := len(p.data)
		if end >= 0 {
			next = off + end + 1
			end += off
		} else {
			end = len(p.data)
		}
		line := strings.TrimRight(string(p.data[off:end]), "\r")
		lineOff, ln := off, lineNo
		off, lineNo = next, lineNo+1
		t := strings.TrimSpace(line)

		if inImages {
			if strings.HasPrefix(t, "0x") {
				im, ok, err := p.imageLine(t, ln, lineOff)
				if err != nil {
					return nil, err
				}
				if ok {
					imgs = append(imgs, im)
				}
				imagesInSection, lastImageAt = imagesInSection+1, ln
				continue
			}
			if t == "" && imagesInSection == 0 {
				continue
			}
			inImages = false
			if t == "" {
				continue
			}
		}
		if t != "" {
			tailSeen = true
		}
		if inASI {
			if t == "" {
				inASI = false
				continue
			}
			rep.AppSpecific = append(rep.AppSpecific, t)
			continue
		}
		if wantFrame {
			wantFrame = false
			if m := frameRE.FindStringSubmatch(t); m != nil {
				sym := strings.TrimSpace(m[3])
				if sym == "" {
					sym = m[2]
				}
				rep.AbortingFrame = strings.TrimSpace(m[1]) + ": " + sym
				continue
			}
		}
		if strings.HasPrefix(t, "Binary Images") && strings.HasSuffix(t, ":") {
			if sawImages {
				p.note("line %d: another Binary Images section; its images are read too", ln)
			}
			recognised, sawImages, inImages, imagesInSection = true, true, true, 0
			imagesAt, tailSeen = ln, false
			continue
		}
		if rep.AbortingFrame == "" && crashedRE.MatchString(t) {
			recognised, wantFrame = true, true
			continue
		}
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "Incident Identifier", "Crashed Thread", "Triggered by Thread":
			recognised = true
		case "Process":
			recognised = true
			rep.Process = pidRE.ReplaceAllString(val, "")
		case "Code Type":
			recognised = true
			cpu, rest, _ := strings.Cut(val, " ")
			rep.CPUType = cpu
			rep.Translated = strings.Contains(rest, "Translated")
		case "OS Version":
			rep.OSVersion = val
		case "Exception Type":
			recognised = true
			excType = val
		case "Exception Codes":
			excCodes = append(excCodes, val)
		case "Exception Subtype":
			excSubtype = val
		case "Termination Reason":
			termReason = val
		case "Termination Signal":
			termSignal = val
		case "Application Specific Information":
			recognised, inASI = true, true
			if val != "" {
				rep.AppSpecific = append(rep.AppSpecific, val)
			}
		}
	}
	if !recognised {
		first, _, _ := strings.Cut(strings.TrimSpace(string(p.data[start:])), "\n")
		if len(first) > 60 {
			first = first[:60] + "..."
		}
		return nil, &ParseError{Source: p.src, Line: p.lineAt(int64(start)), Offset: int64(start), Err: ErrWrongFormat,
			Detail: fmt.Sprintf("neither a JSON crash report (which starts with '{') nor a text one (no Process:, Exception Type: or Binary Images: line); it starts %q", first)}
	}
	if !sawImages {
		return nil, &ParseError{Source: p.src, Offset: -1, Field: "Binary Images", Err: ErrNoImages,
			Detail: "the text report has no Binary Images section (was it cut short, or copied without it?)"}
	}
	if !tailSeen && imagesInSection > 0 {
		// Complete reports go on after the list: iOS ones end with an
		// "EOF" line, macOS ones with "External Modification Summary:",
		// "VM Region Summary:" and more (see testdata). A report cut at a
		// line boundary inside the list reads as a shorter list; some
		// copies do end there, so this is a note, not an error.
		p.note("line %d: the Binary Images section runs to the end of the report (%d image lines) with nothing after it: no EOF line, no External Modification Summary or other section; the report may have been cut short, and images after line %d would then be missing",
			imagesAt, imagesInSection, lastImageAt)
	}
	s := excType
	if len(excCodes) > 0 {
		s += ", codes " + strings.Join(excCodes, "; ")
	}
	if excSubtype != "" {
		s += ", " + excSubtype
	}
	rep.Exception = strings.TrimSpace(s)
	if termSignal != "" && !strings.Contains(termReason, termSignal) {
		if termReason == "" {
			termReason = termSignal
		} else {
			termReason += " (" + termSignal + ")"
		}
	}
	rep.Termination = termReason
	return imgs, nil
}

// imageLine reads one Binary Images line (t, trimmed). ok is false for
// the placeholder of an image the report did not locate, which is skipped
// with a note.
func (p *parser) imageLine(t string, ln, lineOff int) (im located, ok bool, err error) {
	where := fmt.Sprintf("line %d", ln)
	m := imageLineRE.FindStringSubmatch(t)
	if m == nil {
		return im, false, p.errAt(int64(lineOff), "Binary Images", ErrMalformed,
			"cannot read the image line %q: want \"0xSTART - 0xEND name <UUID> path\"; the line may be cut short", clip(t))
	}
	rest := strings.TrimSpace(m[3])
	loc := uuidRE.FindStringSubmatchIndex(rest)
	if loc == nil {
		return im, false, p.errAt(int64(lineOff), "Binary Images", ErrMalformed,
			"the image line %q has no <UUID>; the line may be cut short", clip(t))
	}
	img := Image{UUID: normUUID(rest[loc[2]:loc[3]]), Path: strings.TrimSpace(rest[loc[1]:])}
	if img.Path == "???" {
		img.Path = ""
	}
	pre := strings.TrimSpace(rest[:loc[0]])
	if f := strings.Fields(pre); len(f) > 0 && archNames[f[len(f)-1]] {
		img.Arch = f[len(f)-1]
		pre = strings.TrimSpace(strings.TrimSuffix(pre, img.Arch))
	}
	if strings.HasSuffix(pre, ")") {
		if i := strings.LastIndex(pre, "("); i >= 0 {
			img.Version = strings.TrimSpace(pre[i+1 : len(pre)-1])
			pre = strings.TrimSpace(pre[:i])
		}
	}
	if img.Version == "*" || img.Version == "???" {
		img.Version = ""
	}
	img.Name = strings.TrimSpace(strings.TrimPrefix(pre, "+"))
	if img.Name == "" && img.Path != "" {
		img.Name = img.label()
	}
	start, err1 := strconv.ParseUint(m[1][2:], 16, 64)
	last, err2 := strconv.ParseUint(m[2][2:], 16, 64)
	img.Range = vaspace.Range{Start: vaspace.Addr(start), End: vaspace.Addr(start)}
	bad := func(detail string) (located, bool, error) {
		return im, false, &ImageError{Source: p.src, Images: []Image{img}, Where: []string{where}, Err: ErrBadImage, Detail: detail}
	}
	switch {
	case err1 != nil || err2 != nil:
		return bad(fmt.Sprintf("%s - %s: an address does not fit in 64 bits", m[1], m[2]))
	case start == 0 && last == math.MaxUint64:
		p.note("%s: skipped the placeholder %s - %s (%s, uuid %s): an image the report names but does not place", where, m[1], m[2], img.label(), img.UUID)
		return im, false, nil
	case last < start:
		return bad(fmt.Sprintf("%s - %s ends before it starts", m[1], m[2]))
	case last == math.MaxUint64:
		return bad(fmt.Sprintf("%s - %s: the end is inclusive, so the range ends at 2^64, past the 64-bit address space", m[1], m[2]))
	}
	img.Range.End = vaspace.Addr(last + 1)
	return located{img, where}, true, nil
}

// clip shortens a line for a message.
func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
