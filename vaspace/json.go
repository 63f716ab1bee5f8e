package vaspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vasim/vasim/internal/jsonkeys"
)

// ParseJSONUint reads a JSON number token that is either a non-negative
// integer or a "0x…" hex string, the two ways layouts and image specs
// write addresses and sizes.
func ParseJSONUint(raw json.RawMessage) (uint64, error) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal([]byte(s), &str); err != nil {
			return 0, err
		}
		hex, ok := strings.CutPrefix(strings.ToLower(str), "0x")
		if !ok || hex == "" {
			return 0, errors.New(`a string must be a "0x…" hex number`)
		}
		v, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return 0, errors.New("does not fit in 64 bits")
			}
			return 0, errors.New(`not a "0x…" hex number`)
		}
		return v, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, errors.New("does not fit in 64 bits")
		}
		return 0, errors.New(`want a non-negative integer or a "0x…" hex string`)
	}
	return v, nil
}

// MarshalJSON writes the address as a "0x…" string.
func (a Addr) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf(`"%#x"`, uint64(a))), nil }

// UnmarshalJSON reads an integer or a "0x…" string.
func (a *Addr) UnmarshalJSON(b []byte) error {
	v, err := ParseJSONUint(b)
	if err != nil {
		return err
	}
	*a = Addr(v)
	return nil
}

// LayoutError reports what is wrong with a layout document and where.
type LayoutError struct {
	Source string // file name, or "layout"
	Field  string // "mappings[3].end"
	Value  string // the offending JSON, if any
	Err    error
}

func (e *LayoutError) Error() string {
	s := e.Source + ": " + e.Field
	if e.Value != "" {
		s += " = " + e.Value
	}
	return s + ": " + e.Err.Error()
}

func (e *LayoutError) Unwrap() error { return e.Err }

// DefaultLayoutPageSize and DefaultLayoutBounds are the page size and
// bounds of a layout document that gives none, under LayoutOptions{}:
// macOS arm64's 16 KiB pages and its user address space [0,
// 0x7ffffe000000) (xnu-11417 osfmk/mach/arm/vm_param.h), the platform
// vasim xzone analyses.
const DefaultLayoutPageSize = 16 << 10

var DefaultLayoutBounds = Range{Start: 0, End: 0x7FFFFE000000}

// LayoutOptions are the defaults for a layout document that does not say.
type LayoutOptions struct {
	// Bounds and PageSize of the space; a document's "bounds" and
	// "page_size" override them. Zero values take DefaultLayoutBounds
	// and DefaultLayoutPageSize, what vasim xzone --layout uses.
	Bounds   Range
	PageSize uint64
	// MaxBytes bounds how much of the reader is read; 0 means
	// DefaultMaxLayoutBytes.
	MaxBytes int64
}

// DefaultMaxLayoutBytes is the largest layout document DecodeLayout reads
// unless told otherwise: 64 MiB, about 500,000 mappings.
const DefaultMaxLayoutBytes = 64 << 20

type layoutJSON struct {
	PageSize json.RawMessage   `json:"page_size"`
	Bounds   *layoutRangeJSON  `json:"bounds"`
	Mappings []json.RawMessage `json:"mappings"`
}

type layoutRangeJSON struct {
	Start json.RawMessage `json:"start"`
	End   json.RawMessage `json:"end"`
}

type mappingJSON struct {
	Name  string          `json:"name"`
	Start json.RawMessage `json:"start"`
	End   json.RawMessage `json:"end"`
	Size  json.RawMessage `json:"size"`
	Prot  string          `json:"prot"`
	Kind  string          `json:"kind"`
	Owner string          `json:"owner"`
	// Offset is the file offset of start, for file mappings.
	Offset json.RawMessage `json:"offset"`
}

// DecodeLayout reads a placed layout:
//
//	{"mappings": [{"name": "libfoo.dylib", "start": "0x401d04000", "end": "0x402650000"}, ...]}
//
// with "size" allowed instead of "end", numbers as JSON integers or "0x…"
// strings, and optional "prot" ("r-x"), "kind" ("image"), "owner" and
// "offset" (the file offset of start) per mapping, and "page_size" and "bounds" ({"start", "end"}) at the top.
// Unknown fields, overlapping or misaligned mappings and ranges outside
// the bounds are errors naming the mapping, field and value. source names
// the document in errors.
func DecodeLayout(r io.Reader, source string, opts LayoutOptions) (*Space, error) {
	if source == "" {
		source = "layout"
	}
	fail := func(field, value string, err error) (*Space, error) {
		return nil, &LayoutError{Source: source, Field: field, Value: value, Err: err}
	}
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxLayoutBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fail("(document)", "", err)
	}
	if int64(len(data)) > limit {
		return fail("(document)", "", fmt.Errorf("more than %d bytes: vasim reads layouts of at most that size (LayoutOptions.MaxBytes)", limit))
	}
	var dup *jsonkeys.DuplicateError
	if errors.As(jsonkeys.Check(data), &dup) {
		field := dup.Object
		if field == "" {
			field = "(document)"
		}
		return fail(field, "", fmt.Errorf("key %q appears more than once", dup.Key))
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] != '{' {
		what := "a JSON array"
		if t[0] != '[' {
			what = fmt.Sprintf("text starting %q", string(t[:min(len(t), 16)]))
		}
		return fail("(document)", "", fmt.Errorf(`%s: a layout is a JSON object {"mappings": [{"name", "start", "end"}, ...]}`, what))
	}
	var doc layoutJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fail("(document)", "", jsonError(err, data))
	}
	if dec.More() {
		return fail("(document)", "", errors.New("trailing data after the layout object"))
	}
	if doc.Mappings == nil {
		return fail("mappings", "", errors.New(`missing: want {"mappings": [...]}`))
	}
	page, bounds := opts.PageSize, opts.Bounds
	if page == 0 {
		page = DefaultLayoutPageSize
	}
	if bounds.IsEmpty() {
		bounds = DefaultLayoutBounds
	}
	if len(doc.PageSize) > 0 {
		if page, err = ParseJSONUint(doc.PageSize); err != nil {
			return fail("page_size", string(doc.PageSize), err)
		}
	}
	if !IsPow2(page) {
		return fail("page_size", fmt.Sprint(page), fmt.Errorf("page size %#x is not a power of two", page))
	}
	if doc.Bounds != nil {
		var ends [2]uint64
		for i, f := range []struct {
			name string
			raw  json.RawMessage
		}{{"bounds.start", doc.Bounds.Start}, {"bounds.end", doc.Bounds.End}} {
			if len(f.raw) == 0 {
				return fail(f.name, "", errors.New(`missing: give both "start" and "end"`))
			}
			if ends[i], err = ParseJSONUint(f.raw); err != nil {
				return fail(f.name, string(f.raw), err)
			}
		}
		bounds = Range{Addr(ends[0]), Addr(ends[1])}
	}
	space, err := New(bounds, page)
	if err != nil {
		return fail("bounds", bounds.String(), err)
	}
	for i, raw := range doc.Mappings {
		field := fmt.Sprintf("mappings[%d]", i)
		var mj mappingJSON
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&mj); err != nil {
			return fail(field, "", jsonError(err, raw))
		}
		m := Mapping{Name: mj.Name, Owner: mj.Owner, Kind: KindImage, Prot: ProtRead}
		if mj.Name == "" {
			return fail(field+".name", "", errors.New("missing: every mapping needs a name for the report"))
		}
		if len(mj.Start) == 0 {
			return fail(field+".start", "", errors.New("missing"))
		}
		start, err := ParseJSONUint(mj.Start)
		if err != nil {
			return fail(field+".start", string(mj.Start), err)
		}
		var end uint64
		switch {
		case len(mj.End) > 0 && len(mj.Size) > 0:
			return fail(field, "", errors.New(`give "end" or "size", not both`))
		case len(mj.End) > 0:
			if end, err = ParseJSONUint(mj.End); err != nil {
				return fail(field+".end", string(mj.End), err)
			}
		case len(mj.Size) > 0:
			size, err := ParseJSONUint(mj.Size)
			if err != nil {
				return fail(field+".size", string(mj.Size), err)
			}
			e, ok := Addr(start).Add(size)
			if !ok {
				return fail(field+".size", string(mj.Size), fmt.Errorf("start %#x + size overflows 64 bits", start))
			}
			end = uint64(e)
		default:
			return fail(field, "", errors.New(`missing "end" or "size"`))
		}
		m.Range = Range{Addr(start), Addr(end)}
		if mj.Prot != "" {
			if m.Prot, err = ParseProt(mj.Prot); err != nil {
				return fail(field+".prot", strconv.Quote(mj.Prot), err)
			}
		}
		if mj.Kind != "" {
			if m.Kind, err = ParseKind(mj.Kind); err != nil {
				return fail(field+".kind", strconv.Quote(mj.Kind), err)
			}
		}
		if len(mj.Offset) > 0 {
			if m.Offset, err = ParseJSONUint(mj.Offset); err != nil {
				return fail(field+".offset", string(mj.Offset), err)
			}
		}
		if err := space.Map(m); err != nil {
			return fail(field, strconv.Quote(m.Name), err)
		}
	}
	return space, nil
}

// jsonError turns encoding/json errors into ones that say where.
func jsonError(err error, data []byte) error {
	switch {
	case errors.Is(err, io.EOF):
		return errors.New(`the document is empty: want {"mappings": [...]}`)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the JSON ends early, at byte %d: truncated?", len(data))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("invalid JSON at byte %d (line %d): %v", se.Offset, line, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q: want %v, got JSON %s", te.Field, te.Type, te.Value)
	}
	return err
}

// EncodeLayout writes s in the form DecodeLayout reads.
func EncodeLayout(w io.Writer, s *Space) error {
	type out struct {
		Name   string `json:"name"`
		Start  Addr   `json:"start"`
		End    Addr   `json:"end"`
		Prot   string `json:"prot"`
		Kind   string `json:"kind"`
		Owner  string `json:"owner,omitempty"`
		Offset *Addr  `json:"offset,omitempty"`
	}
	doc := struct {
		PageSize uint64 `json:"page_size"`
		Bounds   struct {
			Start Addr `json:"start"`
			End   Addr `json:"end"`
		} `json:"bounds"`
		Mappings []out `json:"mappings"`
	}{PageSize: s.PageSize()}
	doc.Bounds.Start, doc.Bounds.End = s.Bounds().Start, s.Bounds().End
	doc.Mappings = []out{}
	for m := range s.All() {
		o := out{Name: m.Name, Start: m.Start, End: m.End, Prot: m.Prot.String(), Kind: m.Kind.String(), Owner: m.Owner}
		if m.Offset != 0 {
			off := Addr(m.Offset)
			o.Offset = &off
		}
		doc.Mappings = append(doc.Mappings, o)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
