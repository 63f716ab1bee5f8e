package jsonspec

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
)

// imageSetJSON is the document form of an ImageSet: the image spec list
// of specjson.go plus a name and description. The executable is the one
// image whose kind is "executable".
type imageSetJSON struct {
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Platform    string          `json:"platform,omitempty"`
	Images      json.RawMessage `json:"images"`
}

// MarshalImageSet encodes set as an indented JSON document, the
// executable first.
func MarshalImageSet(set *loader.ImageSet) ([]byte, error) {
	specs := append(ImageSpecs{set.Main}, set.Images...)
	imgs, err := specs.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(imageSetJSON{Name: set.Name, Description: set.Description, Platform: set.Platform, Images: imgs}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseImageSet decodes an image set document; source names it in
// errors. Exactly one image must be an executable.
func ParseImageSet(data []byte, source string) (*loader.ImageSet, error) {
	set, err := parseImageSet(data, source)
	if err != nil {
		return nil, toFileError(err)
	}
	return set, nil
}

func parseImageSet(data []byte, source string) (*loader.ImageSet, error) {
	if err := duplicateKey(data, ""); err != nil {
		return nil, withPath(err, source)
	}
	var doc imageSetJSON
	if err := strictUnmarshal(data, &doc); err != nil {
		return nil, withPath(jsonDecodeError(err, "", "an image set", "name, description, platform, images", data), source)
	}
	if len(doc.Images) == 0 {
		return nil, &fieldError{Path: source, Field: "images", Err: errors.New(`missing: the document is {"name": ..., "images": [...]}`)}
	}
	var specs ImageSpecs
	if err := specs.unmarshal(doc.Images); err != nil {
		return nil, withPath(err, source)
	}
	set := &loader.ImageSet{Name: doc.Name, Description: doc.Description, Platform: doc.Platform}
	for i, s := range specs {
		if s.Kind != loader.KindExecutable {
			set.Images = append(set.Images, s)
			continue
		}
		if set.Main != nil {
			return nil, &fieldError{Path: source, Field: fmt.Sprintf("images[%d].kind", i), Value: `"executable"`, Err: fmt.Errorf("a second executable (the first is %s)", set.Main.Label())}
		}
		set.Main = s
	}
	if set.Main == nil {
		return nil, &fieldError{Path: source, Field: "images", Err: errors.New(`no image has "kind": "executable"`)}
	}
	if set.Name == "" {
		set.Name = set.Main.Label()
	}
	return set, nil
}

// ReadImageSet reads an image set document from path, or from standard
// input when path is "-". Only a regular file is read, of at most
// MaxDocumentBytes.
func ReadImageSet(path string) (*loader.ImageSet, error) {
	data, err := input.ReadFile(path, MaxDocumentBytes, "an image set document")
	if err != nil {
		return nil, err
	}
	return ParseImageSet(data, path)
}
