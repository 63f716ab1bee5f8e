package crashreport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/vasim/vasim/vaspace"
)

// bugTypeCrash is the bug_type of a crash report in the JSON form: "If the
// bug_type property of the metadata object is 309, the log type for crash
// reports, ..." (Apple, "Interpreting the JSON format of a crash report").
const bugTypeCrash = "309"

// bugTypeNames names the bug types a user is likely to hand over by
// mistake, for messages. The numbers are the log types of OSAnalytics'
// submissionConfig.plist as pycrashreport lists them
// (doronz88/pycrashreport, crash_report.py BugType).
var bugTypeNames = map[string]string{
	"109": "crash report (text form)",
	"309": "crash report",
	"151": "force-reset report",
	"210": "kernel panic",
	"288": "stackshot",
	"298": "jetsam (memory pressure) report",
	"385": "resource exception (EXC_RESOURCE) report",
	"509": "terminating stackshot",
}

func bugTypeLabel(t string) string {
	if n, ok := bugTypeNames[t]; ok {
		return fmt.Sprintf("bug type %s (%s)", t, n)
	}
	if t == "" {
		return "a report without a bug_type"
	}
	return fmt.Sprintf("bug type %s", t)
}

// rawImage is one usedImages entry as read, before it is checked.
type rawImage struct {
	Base, Size                 json.RawMessage
	Name                       string `json:"name"`
	Path                       string `json:"path"`
	UUID                       string `json:"uuid"`
	Arch                       string `json:"arch"`
	Source                     string `json:"source"`
	CFBundleShortVersionString string `json:"CFBundleShortVersionString"`
	CFBundleVersion            string `json:"CFBundleVersion"`

	base, size uint64 // parsed Base and Size
}

func (im *rawImage) label() string {
	return Image{Name: im.Name, Path: im.Path}.label()
}

// body collects the fields of the report body (or of a single-object
// report) that are read.
type body struct {
	bugType, procName, cpuType, osVersion string
	translated                            bool
	usedImages                            json.RawMessage
	usedImagesAt                          int
	threads                               json.RawMessage
	faultingThread                        json.RawMessage
	// otherImages names a member that lists images some other way
	// (binaryImages of panic and stackshot reports), for messages.
	otherImages string
}

// readValue decodes the JSON value at data[off:] and returns it with the
// offset just past it. field names the value in errors.
func (p *parser) readValue(off int, field string) (json.RawMessage, int, error) {
	dec := json.NewDecoder(bytes.NewReader(p.data[off:]))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			return nil, 0, p.errAt(int64(off)+syn.Offset, field, ErrMalformed, "not valid JSON: %v", syn)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, 0, p.errAt(int64(len(p.data)), field, ErrMalformed,
				"the input ends inside the JSON %s, which starts at line %d: the report is cut short (truncated)", field, p.lineAt(int64(off)))
		}
		return nil, 0, p.errAt(int64(off), field, ErrMalformed, "%v", err)
	}
	return raw, off + int(dec.InputOffset()), nil
}

// walkObject calls fn for each member of the JSON object raw (already
// known to be valid JSON), which starts at byte base of the input, with
// the member's key, the offset of its value and the value.
func (p *parser) walkObject(raw json.RawMessage, base int, field string, fn func(key string, at int, v json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return p.errAt(int64(base), field, ErrMalformed, "want a JSON object, found %s", kindOf(raw))
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return p.errAt(int64(base)+dec.InputOffset(), field, ErrMalformed, "%v", err)
		}
		key, _ := t.(string)
		at := int(dec.InputOffset())
		for at < len(raw) && (isSpace(raw[at]) || raw[at] == ':') {
			at++
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return p.errAt(int64(base+at), field, ErrMalformed, "%v", err)
		}
		if err := fn(key, base+at, v); err != nil {
			return err
		}
	}
	return nil
}

// walkArray calls fn for each element of the JSON array raw (already
// known to be valid JSON), which starts at byte base, with its index,
// offset and value.
func (p *parser) walkArray(raw json.RawMessage, base int, field string, fn func(i, at int, v json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return p.errAt(int64(base), field, ErrMalformed, "want a JSON array, found %s", kindOf(raw))
	}
	for i := 0; dec.More(); i++ {
		at := int(dec.InputOffset())
		for at < len(raw) && (isSpace(raw[at]) || raw[at] == ',') {
			at++
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return p.errAt(int64(base+at), field, ErrMalformed, "%v", err)
		}
		if err := fn(i, base+at, v); err != nil {
			return err
		}
	}
	return nil
}

// kindOf names the kind of a JSON value for messages.
func kindOf(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// unmarshal decodes v into dst, reporting a type error at the value's
// offset with its JSON path.
func (p *parser) unmarshal(v json.RawMessage, at int, field string, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			f := field
			if te.Field != "" {
				f += "." + te.Field
			}
			return p.errAt(int64(at)+te.Offset, f, ErrMalformed, "want %s, found a JSON %s", jsonKind(te.Type), te.Value)
		}
		return p.errAt(int64(at), field, ErrMalformed, "%v", err)
	}
	return nil
}

// jsonKind names the JSON kind a Go type decodes from, for messages.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "a JSON boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a JSON number"
	}
	return t.String()
}

// jsonString reads a JSON string, or the text of a JSON number (bug_type
// is a string in the metadata, but a number would mean the same).
func jsonString(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// parseIPS reads the JSON form: the metadata object at data[start:], then
// the body object, or (iOS 14 and earlier) a text report.
func (p *parser) parseIPS(start int) ([]located, error) {
	rep := p.rep
	rep.Form = FormIPS
	hdr, next, err := p.readValue(start, "metadata")
	if err != nil {
		return nil, err
	}
	var b body
	if err := p.walkObject(hdr, start, "metadata", func(key string, at int, v json.RawMessage) error {
		switch key {
		case "bug_type":
			rep.BugType, _ = jsonString(v)
		case "os_version":
			rep.OSVersion, _ = jsonString(v)
		case "name", "app_name":
			if rep.Process == "" {
				rep.Process, _ = jsonString(v)
			}
		}
		return p.readBodyField(&b, key, at, v)
	}); err != nil {
		return nil, err
	}
	for next < len(p.data) && isSpace(p.data[next]) {
		next++
	}
	switch {
	case next < len(p.data) && p.data[next] == '{':
		b = body{} // the metadata line is not the body
		raw, end, err := p.readValue(next, "report body")
		if err != nil {
			return nil, err
		}
		if err := p.walkObject(raw, next, "report body", func(key string, at int, v json.RawMessage) error {
			return p.readBodyField(&b, key, at, v)
		}); err != nil {
			return nil, err
		}
		if rest := bytes.TrimSpace(p.data[end:]); len(rest) > 0 {
			p.note("ignored %d bytes after the report body, from line %d", len(rest), p.lineAt(int64(end)))
		}
	case next < len(p.data):
		// iOS 14 and earlier: the metadata line heads a text report.
		rep.Form = FormText
		bug, osv, proc := rep.BugType, rep.OSVersion, rep.Process
		imgs, err := p.parseText(next)
		if err != nil {
			return nil, err
		}
		rep.BugType = bug
		if rep.OSVersion == "" {
			rep.OSVersion = osv
		}
		if rep.Process == "" {
			rep.Process = proc
		}
		return imgs, nil
	default:
		if b.usedImages == nil {
			return nil, p.errAt(int64(next), "", ErrNoImages,
				"%s: the metadata line is followed by no report body, so there is no image list", bugTypeLabel(rep.BugType))
		}
		p.note("the report is a single JSON object (metadata and body together)")
	}
	if rep.BugType == "" {
		rep.BugType = b.bugType
	}
	if rep.OSVersion == "" {
		rep.OSVersion = b.osVersion
	}
	if b.procName != "" {
		rep.Process = b.procName
	}
	rep.CPUType = b.cpuType
	rep.Translated = b.translated
	if b.usedImages == nil {
		other := ""
		if b.otherImages != "" {
			other = fmt.Sprintf(" (it has a %s member, the image list of a panic or stackshot, which this package does not read)", b.otherImages)
		}
		return nil, p.errAt(int64(next), "usedImages", ErrNoImages,
			"%s has no usedImages list%s; vasim reads the image list of crash reports (bug type %s)", bugTypeLabel(rep.BugType), other, bugTypeCrash)
	}
	if rep.BugType != bugTypeCrash {
		p.note("%s, not a crash report (bug type %s): read its usedImages; its other fields may be missing", bugTypeLabel(rep.BugType), bugTypeCrash)
	}
	all, err := p.readImages(b.usedImages, b.usedImagesAt)
	if err != nil {
		return nil, err
	}
	p.abortingFrameIPS(&b, all)
	var out []located
	for i := range all {
		im := &all[i]
		where := fmt.Sprintf("usedImages[%d]", i)
		if im.size == 0 {
			p.note("%s: skipped %s (base %#x, uuid %s, source %q): size 0, an image the report names but does not place",
				where, quoteOr(im.label()), im.base, normUUID(im.UUID), im.Source)
			continue
		}
		img := Image{Name: im.Name, Path: im.Path, UUID: normUUID(im.UUID), Arch: im.Arch, Version: im.CFBundleShortVersionString}
		if img.Name == "" && img.Path != "" {
			img.Name = img.label()
		}
		if img.Version == "" {
			img.Version = im.CFBundleVersion
		}
		r, ok := vaspace.RangeOf(vaspace.Addr(im.base), im.size)
		if !ok {
			img.Range = vaspace.Range{Start: vaspace.Addr(im.base), End: vaspace.Addr(im.base)}
			return nil, &ImageError{Source: p.src, Images: []Image{img}, Where: []string{where}, Err: ErrBadImage,
				Detail: fmt.Sprintf("base %#x + size %#x runs past the 64-bit address space", im.base, im.size)}
		}
		img.Range = r
		out = append(out, located{img, where})
	}
	return out, nil
}

func quoteOr(s string) string {
	if s == "???" {
		return "an unnamed image"
	}
	return fmt.Sprintf("%q", s)
}

// readBodyField reads one member of the body (or of the metadata, for a
// single-object report). The image list and the identification fields
// must be readable; the rest (exception, termination, asi) only describes
// the crash, so a member of the wrong shape there becomes a note.
func (p *parser) readBodyField(b *body, key string, at int, v json.RawMessage) error {
	rep := p.rep
	aux := func(err error) {
		if err != nil {
			p.note("could not read %s: %v", key, err)
		}
	}
	switch key {
	case "bug_type":
		b.bugType, _ = jsonString(v)
	case "procName":
		return p.unmarshal(v, at, key, &b.procName)
	case "cpuType":
		return p.unmarshal(v, at, key, &b.cpuType)
	case "translated":
		aux(p.unmarshal(v, at, key, &b.translated))
	case "osVersion":
		var o struct {
			Train string `json:"train"`
			Build string `json:"build"`
		}
		if err := p.unmarshal(v, at, key, &o); err != nil {
			aux(err)
			break
		}
		b.osVersion = strings.TrimSpace(o.Train)
		if o.Build != "" {
			b.osVersion += " (" + o.Build + ")"
		}
	case "usedImages":
		b.usedImages, b.usedImagesAt = v, at
	case "binaryImages", "processByPid":
		if b.otherImages == "" {
			b.otherImages = key
		}
	case "threads":
		b.threads = v
	case "faultingThread":
		b.faultingThread = v
	case "exception":
		var e struct {
			Type    string `json:"type"`
			Signal  string `json:"signal"`
			Codes   string `json:"codes"`
			Subtype string `json:"subtype"`
		}
		if err := p.unmarshal(v, at, key, &e); err != nil {
			aux(err)
			break
		}
		s := e.Type
		if e.Signal != "" {
			s += " (" + e.Signal + ")"
		}
		if e.Codes != "" {
			s += ", codes " + e.Codes
		}
		if e.Subtype != "" {
			s += ", " + e.Subtype
		}
		rep.Exception = strings.TrimSpace(s)
	case "termination":
		var t struct {
			Namespace string          `json:"namespace"`
			Code      json.RawMessage `json:"code"`
			Indicator string          `json:"indicator"`
			Reasons   []string        `json:"reasons"`
		}
		if err := p.unmarshal(v, at, key, &t); err != nil {
			aux(err)
			break
		}
		var parts []string
		if t.Namespace != "" {
			parts = append(parts, "Namespace "+t.Namespace)
		}
		code := strings.Trim(strings.TrimSpace(string(t.Code)), `"`)
		if code != "" && code != "null" {
			c := "Code " + code
			if t.Indicator != "" {
				c += " " + t.Indicator
			}
			parts = append(parts, c)
		} else if t.Indicator != "" {
			parts = append(parts, t.Indicator)
		}
		s := strings.Join(parts, ", ")
		if len(t.Reasons) > 0 {
			s += "; " + strings.Join(t.Reasons, "; ")
		}
		rep.Termination = s
	case "asi":
		var m map[string]json.RawMessage
		if err := p.unmarshal(v, at, key, &m); err != nil {
			aux(err)
			break
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		rep.AppSpecific = nil
		for _, k := range keys {
			var lines []string
			if json.Unmarshal(m[k], &lines) != nil {
				var one string
				if json.Unmarshal(m[k], &one) != nil {
					p.note("could not read asi[%q]: want a string or an array of strings, found %s", k, kindOf(m[k]))
					continue
				}
				lines = []string{one}
			}
			rep.AppSpecific = append(rep.AppSpecific, lines...)
		}
	case "sharedCache":
		var c struct{ Base, Size json.RawMessage }
		if err := p.unmarshal(v, at, key, &c); err != nil {
			aux(err)
			break
		}
		base, err1 := vaspace.ParseJSONUint(c.Base)
		size, err2 := vaspace.ParseJSONUint(c.Size)
		r, ok := vaspace.RangeOf(vaspace.Addr(base), size)
		if err := errors.Join(err1, err2); err != nil || !ok {
			p.note("could not read sharedCache (base %s, size %s)", strings.TrimSpace(string(c.Base)), strings.TrimSpace(string(c.Size)))
			break
		}
		rep.SharedCache = r
	}
	return nil
}

// readImages reads every usedImages entry, in order, with its base and
// size parsed.
func (p *parser) readImages(raw json.RawMessage, at int) ([]rawImage, error) {
	var all []rawImage
	err := p.walkArray(raw, at, "usedImages", func(i, at int, v json.RawMessage) error {
		field := fmt.Sprintf("usedImages[%d]", i)
		var im rawImage
		if err := p.unmarshal(v, at, field, &im); err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			raw  json.RawMessage
			dst  *uint64
		}{{"base", im.Base, &im.base}, {"size", im.Size, &im.size}} {
			if f.raw == nil {
				return p.errAt(int64(at), field, ErrMalformed, "%s has no %s", describe(&im), f.name)
			}
			n, err := vaspace.ParseJSONUint(f.raw)
			if err != nil {
				return p.errAt(int64(at), field+"."+f.name, ErrMalformed, "%s: %s %s: %v", describe(&im), f.name, strings.TrimSpace(string(f.raw)), err)
			}
			*f.dst = n
		}
		all = append(all, im)
		return nil
	})
	return all, err
}

func describe(im *rawImage) string {
	return fmt.Sprintf("image %q", im.label())
}

// ipsThread is the part of a threads entry that is read.
type ipsThread struct {
	Triggered bool              `json:"triggered"`
	Frames    []json.RawMessage `json:"frames"`
}

// abortingFrameIPS sets AbortingFrame from the top frame of the crashed
// thread: threads[faultingThread], else the thread marked "triggered".
func (p *parser) abortingFrameIPS(b *body, all []rawImage) {
	if b.threads == nil {
		return
	}
	var threads []ipsThread
	if err := json.Unmarshal(b.threads, &threads); err != nil {
		p.note("could not read threads: %v", err)
		return
	}
	idx := -1
	if b.faultingThread != nil {
		if n, err := vaspace.ParseJSONUint(b.faultingThread); err == nil && n < uint64(len(threads)) {
			idx = int(n)
		} else {
			p.note("faultingThread %s names no thread of the %d listed", strings.TrimSpace(string(b.faultingThread)), len(threads))
		}
	}
	if idx < 0 {
		idx = slices.IndexFunc(threads, func(t ipsThread) bool { return t.Triggered })
	}
	if idx < 0 || len(threads[idx].Frames) == 0 {
		return
	}
	var f struct {
		ImageIndex     json.RawMessage `json:"imageIndex"`
		ImageOffset    json.RawMessage `json:"imageOffset"`
		Symbol         string          `json:"symbol"`
		SymbolLocation json.RawMessage `json:"symbolLocation"`
	}
	if err := json.Unmarshal(threads[idx].Frames[0], &f); err != nil {
		p.note("could not read the top frame of thread %d: %v", idx, err)
		return
	}
	name := "???"
	var base uint64
	if n, err := vaspace.ParseJSONUint(f.ImageIndex); err == nil && n < uint64(len(all)) {
		name, base = all[n].label(), all[n].base
	} else {
		p.note("the top frame of thread %d names image %s, which usedImages does not list", idx, strings.TrimSpace(string(f.ImageIndex)))
	}
	if f.Symbol != "" {
		loc, _ := vaspace.ParseJSONUint(f.SymbolLocation)
		p.rep.AbortingFrame = fmt.Sprintf("%s: %s + %d", name, f.Symbol, loc)
		return
	}
	off, _ := vaspace.ParseJSONUint(f.ImageOffset)
	p.rep.AbortingFrame = fmt.Sprintf("%s: %#x + %d", name, base, off)
}
