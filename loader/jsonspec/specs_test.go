package jsonspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/elfspec"
	"github.com/vasim/vasim/loader/internal/objfile"
	"github.com/vasim/vasim/loader/machospec"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/vaspace"
)

// jsonView is the part of a spec the JSON form holds.
func jsonView(s *loader.ImageSpec) *loader.ImageSpec {
	v := &loader.ImageSpec{Name: s.Name, Path: s.Path, Format: s.Format, Kind: s.Kind, Arch: s.Arch,
		Segments: s.Segments, Needed: s.Needed, TLS: s.TLS, InSharedCache: s.InSharedCache}
	if mi := s.MachO; mi != nil {
		v.MachO = &loader.MachOInfo{FileSize: mi.FileSize, CodeSigned: mi.CodeSigned, RPaths: mi.RPaths}
		// The form names the slice (arm64e): capability bits and the
		// ALL subtypes read back as the name's canonical values.
		v.MachO.CPU, v.MachO.SubCPU, _ = objfile.ParseSliceName(objfile.SliceName(mi.CPU, mi.SubCPU))
		for _, d := range mi.Dependencies {
			v.MachO.Dependencies = append(v.MachO.Dependencies, loader.MachODylib{Path: d.Path, Kind: d.Kind})
		}
	}
	return v
}

// TestSpecsJSONRoundTripFiles: specs read from a Mach-O and an ELF file
// survive MarshalSpecs and ParseSpecs in everything the form
// holds.
func TestSpecsJSONRoundTripFiles(t *testing.T) {
	dylib, err := machospec.Read(filepath.Join("..", "machospec", "testdata", "libdemo.dylib"))
	require.NoError(t, err)
	exec, err := machospec.Parse(bytes.NewReader(objtest.DemoExec().Bytes()), "bin/demo")
	require.NoError(t, err)
	specs := []*loader.ImageSpec{exec, dylib}
	if elfSpec, err := elfspec.Read(sampleELFPath(t)); err == nil {
		specs = append(specs, elfSpec)
	}
	out, err := MarshalSpecs(specs)
	require.NoError(t, err)
	back, err := ParseSpecs(out, "roundtrip.json")
	require.NoError(t, err)
	require.Len(t, back, len(specs))
	for i := range specs {
		assert.Equal(t, jsonView(specs[i]), back[i], "image %d", i)
		assert.Nil(t, back[i].ELF)
	}
	// The Mach-O fields are in the text, with hex numbers.
	s := string(out)
	for _, want := range []string{
		`"format": "Mach-O"`, `"vmaddr": "0x100000000"`, `"prot": "r-x"`, `"file_size": "0x1800"`,
		`"code_signed": true`, `"dependency_kinds": [`, `"weak"`, `"rpaths": [`,
	} {
		assert.Contains(t, s, want)
	}
	// Re-encoding the decoded specs gives the same text.
	again, err := MarshalSpecs(back)
	require.NoError(t, err)
	assert.Equal(t, s, string(again))
}

// sampleELFPath returns a small ELF file on this machine.
func sampleELFPath(t *testing.T) string {
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no ELF sample")
	return ""
}

// genImageSpec draws a spec the JSON form can hold exactly and that
// validates.
func genImageSpec(t *rapid.T) *loader.ImageSpec {
	str := rapid.StringN(0, 24, -1)
	format := rapid.SampledFrom([]loader.Format{loader.FormatSynthetic, loader.FormatELF, loader.FormatMachO}).Draw(t, "format")
	s := &loader.ImageSpec{
		Name:          rapid.StringN(1, 24, -1).Draw(t, "name"),
		Path:          str.Draw(t, "path"),
		Format:        format,
		Kind:          rapid.SampledFrom([]loader.ImageKind{loader.KindLibrary, loader.KindExecutable, loader.KindLoader}).Draw(t, "kind"),
		InSharedCache: rapid.Bool().Draw(t, "in_shared_cache"),
	}
	// A Mach-O image's machine is its slice name, which records the
	// subtype; others have a Linux architecture name.
	slice := ""
	if format == loader.FormatMachO {
		slice = rapid.SampledFrom([]string{"", "arm64", "arm64e", "x86_64", "x86_64h", "i386"}).Draw(t, "slice")
		if slice != "" {
			s.Arch, _ = loader.ParseArch(slice)
		}
	} else {
		s.Arch = rapid.SampledFrom([]loader.Arch{loader.ArchUnknown, loader.ArchX86_64, loader.ArchAArch64, loader.ArchI386}).Draw(t, "arch")
	}
	addr := rapid.Uint64Range(0, 1<<47).Draw(t, "base")
	for i, n := 0, rapid.IntRange(0, 6).Draw(t, "nsegs"); i < n; i++ {
		addr += rapid.Uint64Range(0, 1<<32).Draw(t, "gap")
		size := rapid.Uint64Range(0, 1<<34).Draw(t, "vmsize")
		seg := loader.Segment{
			Name:     str.Draw(t, "segname"),
			VMAddr:   addr,
			VMSize:   size,
			FileOff:  rapid.Uint64Range(0, 1<<40).Draw(t, "fileoff"),
			FileSize: rapid.Uint64Range(0, size).Draw(t, "filesize"),
			Prot:     vaspace.Prot(rapid.IntRange(0, 7).Draw(t, "prot")),
		}
		if rapid.Bool().Draw(t, "aligned") {
			seg.Align = 1 << rapid.IntRange(0, 30).Draw(t, "alignshift")
		}
		s.Segments = append(s.Segments, seg)
		addr += size
	}
	if needed := rapid.SliceOfN(str, 0, 5).Draw(t, "needed"); len(needed) > 0 {
		s.Needed = needed
	}
	if rapid.Bool().Draw(t, "hastls") {
		mem := rapid.Uint64().Draw(t, "memsz")
		s.TLS = &loader.TLSBlock{MemSize: mem, FileSize: rapid.Uint64Range(0, mem).Draw(t, "filesz"),
			VAddr: rapid.Uint64().Draw(t, "vaddr")}
		if rapid.Bool().Draw(t, "tlsaligned") {
			s.TLS.Align = 1 << rapid.IntRange(0, 63).Draw(t, "tlsalign")
		}
	}
	if format == loader.FormatMachO {
		mi := &loader.MachOInfo{
			FileSize:   rapid.Uint64().Draw(t, "file_size"),
			CodeSigned: rapid.Bool().Draw(t, "code_signed"),
		}
		mi.CPU, mi.SubCPU, _ = objfile.ParseSliceName(slice)
		if rp := rapid.SliceOfN(str, 0, 3).Draw(t, "rpaths"); len(rp) > 0 {
			mi.RPaths = rp
		}
		for k, p := range s.Needed {
			_ = k
			mi.Dependencies = append(mi.Dependencies, loader.MachODylib{Path: p,
				Kind: rapid.SampledFrom([]loader.DylibKind{loader.DylibRegular, loader.DylibWeak, loader.DylibReexport, loader.DylibLazy, loader.DylibUpward}).Draw(t, "kind")})
		}
		s.MachO = mi
	}
	return s
}

// TestSpecsJSONRoundTripProperty: random specs → JSON → the same specs.
func TestSpecsJSONRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		specs := rapid.SliceOfN(rapid.Custom(genImageSpec), 0, 4).Draw(t, "specs")
		for _, s := range specs {
			require.NoError(t, s.Validate())
		}
		out, err := MarshalSpecs(specs)
		require.NoError(t, err)
		back, err := ParseSpecs(out, "prop.json")
		require.NoError(t, err, "%s", out)
		if len(specs) == 0 {
			assert.Empty(t, back)
			return
		}
		assert.Equal(t, specs, back)
	})
}

// TestSpecsJSONNumbers: integers and hex strings are the same number.
func TestSpecsJSONNumbers(t *testing.T) {
	doc := `{"images": [
	  {"name": "a", "format": "macho", "file_size": 6144, "segments": [
	    {"name": "__TEXT", "vmaddr": 4294967296, "vmsize": "0x4000", "fileoff": 0, "filesize": "0X1000", "prot": "r-x", "align": 16384},
	    {"name": "__DATA", "vmaddr": "0x100004000", "vmsize": 16384, "prot": "rw-"}]},
	  {"path": "/lib/x.so", "format": "ELF", "kind": "executable", "tls": {"memsz": 16, "align": "0x10"}}]}`
	specs, err := ParseSpecs([]byte(doc), "n.json")
	require.NoError(t, err)
	require.Len(t, specs, 2)
	assert.Equal(t, []loader.Segment{
		{Name: "__TEXT", VMAddr: 0x100000000, VMSize: 0x4000, FileSize: 0x1000, Prot: vaspace.ProtRX, Align: 0x4000},
		{Name: "__DATA", VMAddr: 0x100004000, VMSize: 0x4000, Prot: vaspace.ProtRW},
	}, specs[0].Segments)
	assert.Equal(t, loader.FormatMachO, specs[0].Format)
	assert.Equal(t, loader.KindLibrary, specs[0].Kind, "kind defaults to library")
	assert.Equal(t, uint64(6144), specs[0].MachO.FileSize)
	assert.Equal(t, loader.FormatELF, specs[1].Format)
	assert.Equal(t, loader.KindExecutable, specs[1].Kind)
	assert.Equal(t, &loader.TLSBlock{MemSize: 16, Align: 16}, specs[1].TLS)
	assert.Nil(t, specs[1].MachO)

	// Without dependency_kinds every dependency is regular.
	specs, err = ParseSpecs([]byte(`{"images":[{"name":"m","format":"Mach-O","needed":["/a","/b"]}]}`), "")
	require.NoError(t, err)
	assert.Equal(t, []loader.MachODylib{{Path: "/a"}, {Path: "/b"}}, specs[0].MachO.Dependencies)

	// The largest values.
	specs, err = ParseSpecs([]byte(`{"images":[{"name":"m","format":"Mach-O","file_size":18446744073709551615}]}`), "")
	require.NoError(t, err)
	assert.Equal(t, uint64(1<<64-1), specs[0].MachO.FileSize)

	// An empty list is fine.
	specs, err = ParseSpecs([]byte(`{"images": []}`), "")
	require.NoError(t, err)
	assert.Empty(t, specs)
}

// TestSpecsJSONErrors: every decoding error names the field path, the
// value, and what is wrong.
func TestSpecsJSONErrors(t *testing.T) {
	seg := func(s string) string {
		return `{"images":[{"name":"ok"},{"name":"b","segments":[{"vmaddr":0,"vmsize":1,"prot":"r--"},` + s + `]}]}`
	}
	img := func(s string) string { return `{"images":[{"name":"ok"},` + s + `]}` }
	cases := []struct {
		doc, field, value, says string
	}{
		{seg(`{"vmaddr":"0x10","vmsize":"0xZZ","prot":"r-x"}`), "images[1].segments[1].vmsize", `"0xZZ"`, `not a "0x…" hex number`},
		{seg(`{"vmaddr":"0x10","vmsize":-1,"prot":"r-x"}`), "images[1].segments[1].vmsize", `-1`, "non-negative integer"},
		{seg(`{"vmaddr":"0x10","vmsize":1.5,"prot":"r-x"}`), "images[1].segments[1].vmsize", `1.5`, "non-negative integer"},
		{seg(`{"vmaddr":"0x10","vmsize":1e3,"prot":"r-x"}`), "images[1].segments[1].vmsize", `1e3`, "non-negative integer"},
		{seg(`{"vmaddr":"0x10","vmsize":18446744073709551616,"prot":"r-x"}`), "images[1].segments[1].vmsize", `18446744073709551616`, "does not fit in 64 bits"},
		{seg(`{"vmaddr":"0x10000000000000000","vmsize":1,"prot":"r-x"}`), "images[1].segments[1].vmaddr", `"0x10000000000000000"`, "does not fit in 64 bits"},
		{seg(`{"vmaddr":"16","vmsize":1,"prot":"r-x"}`), "images[1].segments[1].vmaddr", `"16"`, `a string must be a "0x…" hex number`},
		{seg(`{"vmaddr":true,"vmsize":1,"prot":"r-x"}`), "images[1].segments[1].vmaddr", `true`, "non-negative integer"},
		{seg(`{"vmaddr":null,"vmsize":1,"prot":"r-x"}`), "images[1].segments[1].vmaddr", `null`, "non-negative integer"},
		{seg(`{"vmsize":1,"prot":"r-x"}`), "images[1].segments[1].vmaddr", "", "missing (required)"},
		{seg(`{"vmaddr":16,"vmsize":1}`), "images[1].segments[1].prot", "", "missing (required)"},
		{seg(`{"vmaddr":16,"vmsize":1,"prot":"rwz"}`), "images[1].segments[1].prot", `"rwz"`, "character 3"},
		{seg(`{"vmaddr":16,"vmsize":1,"prot":"r-x","flags":1}`), "images[1].segments[1].flags", "", "unknown field; a segment has only: name, vmaddr"},
		{seg(`{"vmaddr":16,"vmsize":1,"prot":"r-x","name":7}`), "images[1].segments[1].name", "a JSON number", "want a string"},
		{seg(`{"vmaddr":0,"vmsize":2,"prot":"r-x","name":"__DATA"}`), "images[1].segments[1]", "", "overlaps segment"},
		{seg(`{"vmaddr":16,"vmsize":1,"filesize":2,"prot":"r-x","name":"__X"}`), "images[1].segments[1]", "", "file size 0x2 exceeds VM size 0x1"},
		{seg(`{"vmaddr":16,"vmsize":1,"align":3,"prot":"r-x","name":"__X"}`), "images[1].segments[1]", "", "not a power of two"},
		{img(`{"name":"b","nmae":"x"}`), "images[1].nmae", "", "unknown field; an image has only: name, path, format"},
		{img(`{"format":"ELF"}`), "images[1]", "", "needs a name or a path"},
		{img(`{"name":"b","format":"coff"}`), "images[1].format", `"coff"`, `want "synthetic", "ELF" or "Mach-O"`},
		{img(`{"name":"b","kind":"plugin"}`), "images[1].kind", `"plugin"`, `want "library", "executable" or "loader"`},
		{img(`{"name":"b","format":"ELF","rpaths":["/x"]}`), "images[1].rpaths", "", "only Mach-O images have rpaths (format is ELF)"},
		{img(`{"name":"b","file_size":1}`), "images[1].file_size", "", "only Mach-O images have file_size (format is synthetic)"},
		{img(`{"name":"b","format":"Mach-O","needed":["/a"],"dependency_kinds":["weak","weak"]}`), "images[1].dependency_kinds", "", "has 2 entries and needed has 1"},
		{img(`{"name":"b","format":"Mach-O","needed":["/a"],"dependency_kinds":["strong"]}`), "images[1].dependency_kinds[0]", `"strong"`, "want one of regular, weak, reexport, lazy, upward"},
		{img(`{"name":"b","format":"Mach-O","file_size":"big"}`), "images[1].file_size", `"big"`, `a string must be a "0x…" hex number`},
		{img(`{"name":"b","format":"Mach-O","code_signed":"yes"}`), "images[1].code_signed", "a JSON string", "want true or false"},
		{img(`{"name":"b","needed":"/a"}`), "images[1].needed", "a JSON string", "want an array"},
		{img(`{"name":"b","tls":{"memsz":1,"filesz":2}}`), "images[1].tls", "", "file size 0x2 exceeds memory size 0x1"},
		{img(`{"name":"b","tls":{"filesz":2}}`), "images[1].tls.memsz", "", "missing (required)"},
		{img(`{"name":"b","tls":{"memsz":1,"size":2}}`), "images[1].tls.size", "", "unknown field; a tls object has only: memsz"},
		{img(`7`), "images[1]", "a JSON number", "want an object"},
		{`{"imagez": []}`, "imagez", "", "unknown field; an image spec document has only: images"},
		{`{}`, "images", "", "missing"},
		{`{"images": {}}`, "images", "a JSON object", "want an array"},
		{`{"images": []} []`, "", "", "unexpected data after the JSON value"},
		{"{\"images\": [\n  {\"name\": \"a\",}\n]}", "", "", "line 2, column 16"},
		{``, "", "", "the document is empty"},
	}
	for _, c := range cases {
		_, err := ParseSpecs([]byte(c.doc), "scen.json")
		require.Error(t, err, c.doc)
		var je *loader.FileError
		require.True(t, errors.As(err, &je), "%T %v", err, err)
		assert.True(t, errors.Is(err, loader.ErrMalformed), c.doc)
		assert.Equal(t, "scen.json", je.Path, c.doc)
		what := c.field
		if c.value != "" {
			what += " = " + c.value
		}
		assert.Equal(t, what, je.What, "%s\n%v", c.doc, err)
		assert.Contains(t, err.Error(), c.says, c.doc)
		prefix := "scen.json: "
		if c.field != "" {
			prefix += c.field
		}
		assert.True(t, strings.HasPrefix(err.Error(), prefix), "%q does not start with %q", err.Error(), prefix)
		assert.Equal(t, 1, strings.Count(err.Error(), "scen.json"), err.Error())
	}
	// The format of one message in full.
	_, err := ParseSpecs([]byte(cases[0].doc), "scen.json")
	assert.EqualError(t, err, `scen.json: images[1].segments[1].vmsize = "0xZZ": not a "0x…" hex number`)
	_, err = ParseSpecs([]byte(seg(`{"vmaddr":0,"vmsize":2,"prot":"r-x","name":"__DATA"}`)), "scen.json")
	assert.EqualError(t, err, `scen.json: images[1].segments[1]: range [0x0, 0x2) overlaps segment  [0x0, 0x1)`)
	var se *loader.SpecError
	assert.True(t, errors.As(err, &se))
	assert.True(t, errors.Is(err, loader.ErrBadSpec), "a spec that fails validation is loader.ErrBadSpec too")
}

func TestMarshalSpecsJSONErrors(t *testing.T) {
	good := func() *loader.ImageSpec {
		return &loader.ImageSpec{Name: "m", Format: loader.FormatMachO, Needed: []string{"/a"},
			MachO: &loader.MachOInfo{Dependencies: []loader.MachODylib{{Path: "/a", Kind: loader.DylibWeak}}}}
	}
	_, err := MarshalSpecs([]*loader.ImageSpec{good()})
	require.NoError(t, err)
	cases := []struct {
		name  string
		spec  func() *loader.ImageSpec
		field string
		says  string
	}{
		{"nil", func() *loader.ImageSpec { return nil }, "images[1]", "nil image spec"},
		{"bad format", func() *loader.ImageSpec { s := good(); s.Format = 9; return s }, "images[1].format", "Format(9) has no JSON name"},
		{"bad kind", func() *loader.ImageSpec { s := good(); s.Kind = 9; return s }, "images[1].kind", "ImageKind(9) has no JSON name"},
		{"bad prot", func() *loader.ImageSpec {
			s := good()
			s.Segments = []loader.Segment{{Name: "x", VMSize: 1, Prot: 0x9}}
			return s
		}, "images[1].segments[0].prot", "bits other than r, w and x"},
		{"Mach-O info on ELF", func() *loader.ImageSpec { s := good(); s.Format = loader.FormatELF; return s }, "images[1].format", "Mach-O info but format ELF"},
		{"dependency count", func() *loader.ImageSpec { s := good(); s.Needed = nil; return s }, "images[1].dependency_kinds", "has 1 entries and Needed 0"},
		{"dependency path", func() *loader.ImageSpec { s := good(); s.Needed = []string{"/b"}; return s }, "images[1].needed[0]", `"/a", Needed[0] "/b"`},
		{"dependency kind", func() *loader.ImageSpec { s := good(); s.MachO.Dependencies[0].Kind = 42; return s }, "images[1].dependency_kinds[0]", "DylibKind(42) has no JSON name"},
	}
	for _, c := range cases {
		_, err := MarshalSpecs([]*loader.ImageSpec{good(), c.spec()})
		require.Error(t, err, c.name)
		var je *loader.FileError
		require.True(t, errors.As(err, &je), "%s: %T %v", c.name, err, err)
		assert.Equal(t, c.field, je.What, c.name)
		assert.Contains(t, err.Error(), c.says, c.name)
	}
}

// TestImageSpecsEmbedded: ImageSpecs decodes as a field of a larger
// document (how scenarios store images), with the same error paths.
func TestImageSpecsEmbedded(t *testing.T) {
	var scen struct {
		Title  string     `json:"title"`
		Images ImageSpecs `json:"images"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"title":"t","images":[{"name":"a","format":"Mach-O","file_size":"0x10"}]}`), &scen))
	require.Len(t, scen.Images, 1)
	assert.Equal(t, uint64(0x10), scen.Images[0].MachO.FileSize)
	out, err := json.Marshal(scen)
	require.NoError(t, err)
	assert.JSONEq(t, `{"title":"t","images":[{"name":"a","format":"Mach-O","kind":"library","file_size":"0x10"}]}`, string(out))

	err = json.Unmarshal([]byte(`{"title":"t","images":[{"name":"a","kind":"x"}]}`), &scen)
	var je *loader.FileError
	require.True(t, errors.As(err, &je), "%T %v", err, err)
	assert.Equal(t, `images[0].kind = "x"`, je.What)
}

func TestReadSpecsJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "specs.json")
	dylib, err := machospec.Read(filepath.Join("..", "machospec", "testdata", "libdemo.dylib"))
	require.NoError(t, err)
	out, err := MarshalSpecs([]*loader.ImageSpec{dylib})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, out, 0o644))
	specs, err := ReadSpecs(path)
	require.NoError(t, err)
	assert.Equal(t, []*loader.ImageSpec{jsonView(dylib)}, specs)

	require.NoError(t, os.WriteFile(path, []byte(`{"images":[{"name":"x","kind":"?"}]}`), 0o644))
	_, err = ReadSpecs(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+": images[0].kind")
	_, err = ReadSpecs(filepath.Join(t.TempDir(), "absent.json"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

// FuzzParseSpecsJSON: ParseSpecs never panics, fails only with a
// *SpecJSONError, and what it accepts survives a round trip.
func FuzzParseSpecsJSON(f *testing.F) {
	f.Add([]byte(`{"images":[{"name":"a","format":"Mach-O","file_size":"0x10","needed":["/x"],"dependency_kinds":["weak"],` +
		`"segments":[{"name":"__TEXT","vmaddr":"0x0","vmsize":16384,"prot":"r-x"}],"tls":{"memsz":1}}]}`))
	f.Add([]byte(`{"images":[{"path":"/lib/x.so","format":"ELF","kind":"executable"}]}`))
	f.Add([]byte(`{"images": []}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		specs, err := ParseSpecs(b, "fuzz.json")
		if err != nil {
			var je *loader.FileError
			if !errors.As(err, &je) || je.Path != "fuzz.json" {
				t.Fatalf("error %T %q is not a *loader.FileError for fuzz.json", err, err)
			}
			return
		}
		out, err := MarshalSpecs(specs)
		if err != nil {
			t.Fatalf("accepted specs do not encode: %v", err)
		}
		back, err := ParseSpecs(out, "again.json")
		if err != nil {
			t.Fatalf("re-encoded specs do not decode: %v\n%s", err, out)
		}
		again, err := MarshalSpecs(back)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("encoding is not stable: %v\n%s\n%s", err, out, again)
		}
	})
}

// A key written twice in one object is refused, naming the object and the
// key: encoding/json would keep the last one without a word.
func TestDuplicateKeysRefused(t *testing.T) {
	for doc, want := range map[string]string{
		`{"images": [{"name": "a", "name": "b"}]}`:                                                          `d.json: images[0]: key "name" appears more than once`,
		`{"images": [{"name": "a", "segments": [{"vmaddr": 0, "vmsize": 1, "vmsize": 2, "prot": "r--"}]}]}`: `d.json: images[0].segments[0]: key "vmsize" appears more than once`,
		`{"images": [], "images": []}`:                                                                      `d.json: key "images" appears more than once`,
	} {
		_, err := ParseSpecs([]byte(doc), "d.json")
		assert.EqualError(t, err, want, doc)
		assert.ErrorIs(t, err, loader.ErrMalformed)
	}
	var emb struct {
		Images ImageSpecs `json:"images"`
	}
	err := json.Unmarshal([]byte(`{"images": [{"name": "a", "kind": "library", "kind": "executable"}]}`), &emb)
	assert.EqualError(t, err, `images[0]: key "kind" appears more than once`)
}
