// Package jsonspec reads and writes image specs and image sets as JSON:
// how a user without the real files describes a set of images, and how
// vasim's scenarios are dumped and read back.
package jsonspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/internal/jsonkeys"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/internal/objfile"
	"github.com/vasim/vasim/vaspace"
)

// The form. A document is an object with one field,
// "images", a list of image objects:
//
//	{"images": [
//	  {"name": "@rpath/libdemo.dylib", "format": "Mach-O", "kind": "library",
//	   "machine": "arm64",
//	   "segments": [
//	     {"name": "__TEXT", "vmaddr": "0x0", "vmsize": "0x4000",
//	      "fileoff": "0x0", "filesize": "0x1000", "prot": "r-x"}],
//	   "needed": ["/usr/lib/libSystem.B.dylib", "@rpath/libweak.dylib"],
//	   "dependency_kinds": ["regular", "weak"],
//	   "rpaths": ["@loader_path/../lib"],
//	   "file_size": "0x1800", "code_signed": true}]}
//
// Image fields: name, path (at least one of the two), format
// ("synthetic" (default), "ELF", "Mach-O"), kind ("library" (default),
// "executable", "loader"), machine, segments, needed, in_shared_cache,
// tls ({memsz, filesz, align, vaddr}), and for Mach-O images only:
// file_size (the whole file's size, which dyld maps while loading it; 0
// or absent: unknown), code_signed, rpaths, and dependency_kinds (one of
// "regular", "weak", "reexport", "lazy", "upward" per needed entry;
// absent: all regular). Segment fields: name, vmaddr, vmsize, prot
// (required; "r-x", "rw-", "---"), fileoff, filesize, align.
//
// Numbers may be JSON integers or "0x…" hex strings; output uses hex
// strings for addresses and sizes. Unknown fields are errors. What the
// form does not hold (ELFInfo, and MachOInfo beyond the fields above) is
// dropped on output and absent after input.

// fieldError is what is wrong in a document, before the boundary of the
// package turns it into a *loader.FileError (toFileError): the field, as
// a path from the document root ("images[3].segments[1].vmsize"), the
// value as written, and why.
type fieldError struct {
	Path  string // the document's file name, or ""
	Field string // e.g. "images[3].segments[1].vmsize"; "" for the whole document
	Value string // the offending value as written, or ""
	Err   error
}

func (e *fieldError) Error() string { return toFileError(e).Error() }

func (e *fieldError) Unwrap() error { return e.Err }

// format names the format in errors.
const format = "JSON"

// toFileError turns a *fieldError anywhere in err's chain into a
// *loader.FileError naming the document, the field and the value; other
// errors pass through.
func toFileError(err error) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return err
	}
	what := fe.Field
	if fe.Value != "" {
		what += " = " + fe.Value
	}
	return &loader.FileError{Path: fe.Path, Format: format, What: what, Offset: -1, Err: fe.Err}
}

// The JSON shapes. Numbers are kept raw so that each can be checked, and
// reported, with its own field path.
type (
	specsDocJSON struct {
		Images ImageSpecs `json:"images"`
	}
	imageJSON struct {
		Name            string            `json:"name,omitempty"`
		Path            string            `json:"path,omitempty"`
		Format          string            `json:"format,omitempty"`
		Kind            string            `json:"kind,omitempty"`
		Machine         string            `json:"machine,omitempty"`
		Segments        []json.RawMessage `json:"segments,omitempty"`
		Needed          []string          `json:"needed,omitempty"`
		InSharedCache   bool              `json:"in_shared_cache,omitempty"`
		TLS             json.RawMessage   `json:"tls,omitempty"`
		FileSize        json.RawMessage   `json:"file_size,omitempty"`
		CodeSigned      *bool             `json:"code_signed,omitempty"`
		RPaths          []string          `json:"rpaths,omitempty"`
		DependencyKinds []string          `json:"dependency_kinds,omitempty"`
	}
	segmentJSON struct {
		Name     string          `json:"name,omitempty"`
		VMAddr   json.RawMessage `json:"vmaddr"`
		VMSize   json.RawMessage `json:"vmsize"`
		FileOff  json.RawMessage `json:"fileoff,omitempty"`
		FileSize json.RawMessage `json:"filesize,omitempty"`
		Prot     *string         `json:"prot"`
		Align    json.RawMessage `json:"align,omitempty"`
	}
	tlsJSON struct {
		MemSize  json.RawMessage `json:"memsz"`
		FileSize json.RawMessage `json:"filesz,omitempty"`
		Align    json.RawMessage `json:"align,omitempty"`
		VAddr    json.RawMessage `json:"vaddr,omitempty"`
	}
)

const (
	imageJSONFields   = "name, path, format, kind, machine, segments, needed, in_shared_cache, tls, file_size, code_signed, rpaths, dependency_kinds"
	segmentJSONFields = "name, vmaddr, vmsize, fileoff, filesize, prot, align"
	tlsJSONFields     = "memsz, filesz, align, vaddr"
)

// ImageSpecs is a list of image specs with the JSON form described
// above: a JSON array of image objects. Embed it in a larger document
// under the key "images" so that error paths ("images[3].kind") match
// the document.
type ImageSpecs []*loader.ImageSpec

// MarshalJSON encodes the specs (see MarshalSpecs).
func (s ImageSpecs) MarshalJSON() ([]byte, error) {
	out := make([]imageJSON, len(s))
	for i, spec := range s {
		img, err := encodeImageJSON(spec, fmt.Sprintf("images[%d]", i))
		if err != nil {
			return nil, toFileError(err)
		}
		out[i] = img
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes and validates the specs (see ParseSpecs).
// Errors are *loader.FileError values whose What starts with "images[i]".
func (s *ImageSpecs) UnmarshalJSON(data []byte) error {
	if err := duplicateKey(data, "images"); err != nil {
		return toFileError(err)
	}
	if err := s.unmarshal(data); err != nil {
		return toFileError(err)
	}
	return nil
}

func (s *ImageSpecs) unmarshal(data []byte) error {
	var raws []json.RawMessage
	if err := strictUnmarshal(data, &raws); err != nil {
		return jsonDecodeError(err, "images", "", "", data) // an array: no field can be unknown
	}
	out := make(ImageSpecs, len(raws))
	for i, raw := range raws {
		spec, err := decodeImageJSON(raw, fmt.Sprintf("images[%d]", i))
		if err != nil {
			return err
		}
		out[i] = spec
	}
	*s = out
	return nil
}

// MarshalSpecs encodes specs as an indented JSON document
// {"images": [...]}. It fails on a nil spec, a Format, Kind or Prot that
// has no name, MachO info on a spec whose Format is not Mach-O, and
// MachO.Dependencies that do not match Needed.
func MarshalSpecs(specs []*loader.ImageSpec) ([]byte, error) {
	b, err := json.MarshalIndent(specsDocJSON{Images: ImageSpecs(specs)}, "", "  ")
	if err != nil {
		var fe *loader.FileError
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, err
	}
	return append(b, '\n'), nil
}

// MaxDocumentBytes bounds the documents ReadSpecs and ReadImageSet read:
// 64 MiB, about 100,000 images.
const MaxDocumentBytes = 64 << 20

// ReadSpecs reads a JSON image spec document from path, or from standard
// input when path is "-" (see ParseSpecs). Only a regular file is read, of
// at most MaxDocumentBytes.
func ReadSpecs(path string) ([]*loader.ImageSpec, error) {
	data, err := input.ReadFile(path, MaxDocumentBytes, "an image spec document")
	if err != nil {
		return nil, err
	}
	return ParseSpecs(data, path)
}

// ParseSpecs decodes a JSON document {"images": [...]} into image specs
// and validates each (ImageSpec.Validate); path names the document in
// errors. Errors are *loader.FileError values naming the field
// ("images[3].segments[1].vmsize") and the value; errors.Is(err,
// loader.ErrBadSpec) holds for a spec that fails validation and
// errors.Is(err, loader.ErrMalformed) for the rest.
func ParseSpecs(data []byte, path string) ([]*loader.ImageSpec, error) {
	specs, err := parseSpecs(data, path)
	if err != nil {
		return nil, toFileError(err)
	}
	return specs, nil
}

func parseSpecs(data []byte, path string) ([]*loader.ImageSpec, error) {
	if err := duplicateKey(data, ""); err != nil {
		return nil, withPath(err, path)
	}
	var doc struct {
		Images json.RawMessage `json:"images"`
	}
	if err := strictUnmarshal(data, &doc); err != nil {
		return nil, withPath(jsonDecodeError(err, "", "an image spec document", "images", data), path)
	}
	if len(doc.Images) == 0 {
		return nil, &fieldError{Path: path, Field: "images", Err: errors.New("missing: the document is {\"images\": [...]}")}
	}
	var specs ImageSpecs
	if err := specs.unmarshal(doc.Images); err != nil {
		return nil, withPath(err, path)
	}
	return specs, nil
}

// duplicateKey reports a key repeated within one object of data (which
// sits at field in its document), which encoding/json would silently
// collapse.
func duplicateKey(data []byte, field string) error {
	err := jsonkeys.Check(data)
	var de *jsonkeys.DuplicateError
	if !errors.As(err, &de) {
		return nil
	}
	where := de.Object
	switch {
	case field == "":
	case de.Object == "":
		where = field
	case strings.HasPrefix(de.Object, "["):
		where = field + de.Object
	default:
		where = field + "." + de.Object
	}
	return &fieldError{Field: where, Err: fmt.Errorf("key %q appears more than once", de.Key)}
}

func withPath(err error, path string) error {
	var je *fieldError
	if errors.As(err, &je) {
		je.Path = path
		return je
	}
	return &fieldError{Path: path, Err: err}
}

// strictUnmarshal decodes one JSON value with unknown fields refused and
// nothing after it.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("unexpected data after the JSON value at byte offset %d", dec.InputOffset())
	}
	return nil
}

// jsonDecodeError turns an encoding/json error met while decoding the
// object at field into a *fieldError. For an unknown-field error, object
// names what the object is ("an image") and known lists the fields it
// accepts: "unknown field; an image has only: name, path, ...".
func jsonDecodeError(err error, field, object, known string, data []byte) error {
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "." + b
	}
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return &fieldError{Field: field, Err: errors.New("the document is empty: want a JSON object")}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &fieldError{Field: field, Err: fmt.Errorf("the JSON ends early, at byte %d: truncated?", len(data))}
	case errors.As(err, &ute):
		f := field
		if ute.Field != "" {
			f = join(field, ute.Field)
		}
		return &fieldError{Field: f, Value: "a JSON " + ute.Value, Err: fmt.Errorf("want %s", jsonKindName(ute.Type.String()))}
	case errors.As(err, &se):
		line, col := 1, 1
		// Offset counts the bytes read, the offending one included.
		for _, c := range data[:max(0, min(int(se.Offset)-1, len(data)))] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return &fieldError{Field: field, Err: fmt.Errorf("line %d, column %d: %v", line, col, err)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &fieldError{Field: join(field, strings.Trim(name, `"`)), Err: fmt.Errorf("unknown field; %s has only: %s", object, known)}
	}
	return &fieldError{Field: field, Err: err}
}

func jsonKindName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "*") || strings.HasPrefix(goType, "struct") || strings.Contains(goType, "JSON"):
		return "an object"
	}
	return goType
}

// parseJSONUint reads a JSON integer or a "0x…" hex string.
func parseJSONUint(raw json.RawMessage) (uint64, error) { return vaspace.ParseJSONUint(raw) }

// hexRaw encodes v as the JSON string "0x…".
func hexRaw(v uint64) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`"%#x"`, v))
}

// num decodes a number field; a missing field is 0 unless required.
func num(raw json.RawMessage, field string, required bool) (uint64, error) {
	if len(raw) == 0 {
		if required {
			return 0, &fieldError{Field: field, Err: errors.New("missing (required)")}
		}
		return 0, nil
	}
	v, err := parseJSONUint(raw)
	if err != nil {
		return 0, &fieldError{Field: field, Value: string(raw), Err: err}
	}
	return v, nil
}

func parseFormatJSON(s string) (loader.Format, bool) {
	switch strings.ToLower(s) {
	case "", "synthetic":
		return loader.FormatSynthetic, true
	case "elf":
		return loader.FormatELF, true
	case "mach-o", "macho":
		return loader.FormatMachO, true
	}
	return 0, false
}

func parseKindJSON(s string) (loader.ImageKind, bool) {
	for _, k := range []loader.ImageKind{loader.KindLibrary, loader.KindExecutable, loader.KindLoader} {
		if s == k.String() || (s == "" && k == loader.KindLibrary) {
			return k, true
		}
	}
	return 0, false
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func decodeImageJSON(raw json.RawMessage, field string) (*loader.ImageSpec, error) {
	var img imageJSON
	if err := strictUnmarshal(raw, &img); err != nil {
		return nil, jsonDecodeError(err, field, "an image", imageJSONFields, raw)
	}
	bad := func(sub, value string, format string, args ...any) error {
		f := field
		if sub != "" {
			f += "." + sub
		}
		return &fieldError{Field: f, Value: value, Err: fmt.Errorf(format, args...)}
	}
	if img.Name == "" && img.Path == "" {
		return nil, bad("", "", "an image needs a name or a path")
	}
	format, ok := parseFormatJSON(img.Format)
	if !ok {
		return nil, bad("format", strconv.Quote(img.Format), `want "synthetic", "ELF" or "Mach-O"`)
	}
	kind, ok := parseKindJSON(img.Kind)
	if !ok {
		return nil, bad("kind", strconv.Quote(img.Kind), `want "library", "executable" or "loader"`)
	}
	spec := &loader.ImageSpec{
		Name:          img.Name,
		Path:          img.Path,
		Format:        format,
		Kind:          kind,
		Needed:        nilIfEmpty(img.Needed),
		InSharedCache: img.InSharedCache,
	}
	if img.Machine != "" {
		arch, err := loader.ParseArch(img.Machine)
		if err != nil {
			return nil, bad("machine", strconv.Quote(img.Machine), "%v", err)
		}
		spec.Arch = arch
	}
	for j, sraw := range img.Segments {
		seg, err := decodeSegmentJSON(sraw, fmt.Sprintf("%s.segments[%d]", field, j))
		if err != nil {
			return nil, err
		}
		spec.Segments = append(spec.Segments, seg)
	}
	if len(img.TLS) > 0 {
		tls, err := decodeTLSJSON(img.TLS, field+".tls")
		if err != nil {
			return nil, err
		}
		spec.TLS = tls
	}
	if format != loader.FormatMachO {
		for _, f := range []struct {
			name    string
			present bool
		}{
			{"file_size", len(img.FileSize) > 0}, {"code_signed", img.CodeSigned != nil},
			{"rpaths", img.RPaths != nil}, {"dependency_kinds", img.DependencyKinds != nil},
		} {
			if f.present {
				return nil, bad(f.name, "", "only Mach-O images have %s (format is %v)", f.name, format)
			}
		}
	} else {
		mi := &loader.MachOInfo{RPaths: nilIfEmpty(img.RPaths)}
		if img.Machine != "" {
			mi.CPU, mi.SubCPU, _ = objfile.ParseSliceName(img.Machine)
		}
		var err error
		if mi.FileSize, err = num(img.FileSize, field+".file_size", false); err != nil {
			return nil, err
		}
		if img.CodeSigned != nil {
			mi.CodeSigned = *img.CodeSigned
		}
		if img.DependencyKinds != nil && len(img.DependencyKinds) != len(img.Needed) {
			return nil, bad("dependency_kinds", "", "has %d entries and needed has %d; give one kind per needed entry, or none (all regular)",
				len(img.DependencyKinds), len(img.Needed))
		}
		for k, path := range spec.Needed {
			d := loader.MachODylib{Path: path}
			if img.DependencyKinds != nil {
				if d.Kind, err = loader.ParseDylibKind(img.DependencyKinds[k]); err != nil {
					return nil, bad(fmt.Sprintf("dependency_kinds[%d]", k), strconv.Quote(img.DependencyKinds[k]),
						"%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("dependency kind %q: ", img.DependencyKinds[k])))
				}
			}
			mi.Dependencies = append(mi.Dependencies, d)
		}
		spec.MachO = mi
	}
	if err := spec.Validate(); err != nil {
		f := field
		var se *loader.SpecError
		if errors.As(err, &se) && se.Segment != "" {
			for j, s := range spec.Segments {
				if s.Name == se.Segment {
					f = fmt.Sprintf("%s.segments[%d]", field, j)
				}
			}
			if se.Segment == "PT_TLS" {
				f = field + ".tls"
			}
		}
		if se != nil {
			err = objfile.SpecDetail(se)
		}
		return nil, &fieldError{Field: f, Err: err}
	}
	return spec, nil
}

func decodeSegmentJSON(raw json.RawMessage, field string) (loader.Segment, error) {
	var sj segmentJSON
	if err := strictUnmarshal(raw, &sj); err != nil {
		return loader.Segment{}, jsonDecodeError(err, field, "a segment", segmentJSONFields, raw)
	}
	seg := loader.Segment{Name: sj.Name}
	var err error
	if seg.VMAddr, err = num(sj.VMAddr, field+".vmaddr", true); err != nil {
		return loader.Segment{}, err
	}
	if seg.VMSize, err = num(sj.VMSize, field+".vmsize", true); err != nil {
		return loader.Segment{}, err
	}
	if seg.FileOff, err = num(sj.FileOff, field+".fileoff", false); err != nil {
		return loader.Segment{}, err
	}
	if seg.FileSize, err = num(sj.FileSize, field+".filesize", false); err != nil {
		return loader.Segment{}, err
	}
	if seg.Align, err = num(sj.Align, field+".align", false); err != nil {
		return loader.Segment{}, err
	}
	if sj.Prot == nil {
		return loader.Segment{}, &fieldError{Field: field + ".prot", Err: errors.New(`missing (required): "r-x", "rw-", "r--", "---", ...`)}
	}
	if seg.Prot, err = vaspace.ParseProt(*sj.Prot); err != nil {
		return loader.Segment{}, &fieldError{Field: field + ".prot", Value: strconv.Quote(*sj.Prot), Err: err}
	}
	return seg, nil
}

func decodeTLSJSON(raw json.RawMessage, field string) (*loader.TLSBlock, error) {
	var tj tlsJSON
	if err := strictUnmarshal(raw, &tj); err != nil {
		return nil, jsonDecodeError(err, field, "a tls object", tlsJSONFields, raw)
	}
	t := &loader.TLSBlock{}
	var err error
	for _, f := range []struct {
		raw      json.RawMessage
		name     string
		dst      *uint64
		required bool
	}{
		{tj.MemSize, "memsz", &t.MemSize, true},
		{tj.FileSize, "filesz", &t.FileSize, false},
		{tj.Align, "align", &t.Align, false},
		{tj.VAddr, "vaddr", &t.VAddr, false},
	} {
		if *f.dst, err = num(f.raw, field+"."+f.name, f.required); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func encodeImageJSON(s *loader.ImageSpec, field string) (imageJSON, error) {
	bad := func(sub, format string, args ...any) error {
		f := field
		if sub != "" {
			f += "." + sub
		}
		return &fieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if s == nil {
		return imageJSON{}, bad("", "nil image spec")
	}
	if _, ok := parseFormatJSON(s.Format.String()); !ok {
		return imageJSON{}, bad("format", "format %v has no JSON name", s.Format)
	}
	if _, ok := parseKindJSON(s.Kind.String()); !ok {
		return imageJSON{}, bad("kind", "kind %v has no JSON name", s.Kind)
	}
	img := imageJSON{
		Name:          s.Name,
		Path:          s.Path,
		Format:        s.Format.String(),
		Kind:          s.Kind.String(),
		Machine:       machineJSON(s),
		Needed:        s.Needed,
		InSharedCache: s.InSharedCache,
	}
	for j, seg := range s.Segments {
		if seg.Prot&^vaspace.ProtRWX != 0 {
			return imageJSON{}, bad(fmt.Sprintf("segments[%d].prot", j), "protection %v has bits other than r, w and x", seg.Prot)
		}
		prot := seg.Prot.String()
		sj := segmentJSON{
			Name:     seg.Name,
			VMAddr:   hexRaw(seg.VMAddr),
			VMSize:   hexRaw(seg.VMSize),
			FileOff:  hexRaw(seg.FileOff),
			FileSize: hexRaw(seg.FileSize),
			Prot:     &prot,
		}
		if seg.Align != 0 {
			sj.Align = hexRaw(seg.Align)
		}
		b, err := json.Marshal(sj)
		if err != nil {
			return imageJSON{}, err
		}
		img.Segments = append(img.Segments, b)
	}
	if t := s.TLS; t != nil {
		tj := tlsJSON{MemSize: hexRaw(t.MemSize), FileSize: hexRaw(t.FileSize), VAddr: hexRaw(t.VAddr)}
		if t.Align != 0 {
			tj.Align = hexRaw(t.Align)
		}
		b, err := json.Marshal(tj)
		if err != nil {
			return imageJSON{}, err
		}
		img.TLS = b
	}
	if mi := s.MachO; mi != nil {
		if s.Format != loader.FormatMachO {
			return imageJSON{}, bad("format", "the spec has Mach-O info but format %v", s.Format)
		}
		if mi.FileSize != 0 {
			img.FileSize = hexRaw(mi.FileSize)
		}
		if mi.CodeSigned {
			t := true
			img.CodeSigned = &t
		}
		img.RPaths = mi.RPaths
		if len(mi.Dependencies) > 0 {
			if len(mi.Dependencies) != len(s.Needed) {
				return imageJSON{}, bad("dependency_kinds", "MachO.Dependencies has %d entries and Needed %d", len(mi.Dependencies), len(s.Needed))
			}
			kinds := make([]string, len(mi.Dependencies))
			allRegular := true
			for k, d := range mi.Dependencies {
				if d.Path != s.Needed[k] {
					return imageJSON{}, bad(fmt.Sprintf("needed[%d]", k), "MachO.Dependencies[%d] is %q, Needed[%d] %q", k, d.Path, k, s.Needed[k])
				}
				if _, err := loader.ParseDylibKind(d.Kind.String()); err != nil {
					return imageJSON{}, bad(fmt.Sprintf("dependency_kinds[%d]", k), "dependency kind %v has no JSON name", d.Kind)
				}
				kinds[k] = d.Kind.String()
				allRegular = allRegular && d.Kind == loader.DylibRegular
			}
			if !allRegular {
				img.DependencyKinds = kinds
			}
		}
	}
	return img, nil
}

// machineJSON names an image's architecture: for a Mach-O image the name
// of its slice (arm64e, x86_64h) when the spec records the subtype, else
// Apple's name; for others the Linux name. An unknown architecture is "".
func machineJSON(s *loader.ImageSpec) string {
	if s.Format == loader.FormatMachO {
		if s.MachO != nil && s.MachO.CPU != 0 {
			return objfile.SliceName(s.MachO.CPU, s.MachO.SubCPU)
		}
		if s.Arch == loader.ArchUnknown {
			return ""
		}
		return s.Arch.AppleName()
	}
	if s.Arch == loader.ArchUnknown {
		return ""
	}
	return s.Arch.String()
}
