package jsonkeys

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheck(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a": 1, "b": 2}`: "",
		`{"a": 1, "a": 2}`: `the document: key "a" appears more than once`,
		`{"images": [{"name": "x"}, {"name": "y", "segments": [{"vmsize": 1}, {"vmsize": 2, "vmsize": 3}]}]}`: `images[1].segments[1]: key "vmsize" appears more than once`,
		`{"a": {"b": 1}, "c": {"b": 2}}`:                "",
		`{"a": [1, {"x": 1, "y": [{"z": 1, "z": 2}]}]}`: `a[1].y[0]: key "z" appears more than once`,
		`{"a": "a", "b": "a"}`:                          "",
		`[{"k": 1}, {"k": 2, "k": 3}]`:                  `[1]: key "k" appears more than once`,
		`{"a": `:                                        "",
		``:                                              "",
	} {
		err := Check([]byte(doc))
		if want == "" {
			assert.NoError(t, err, doc)
		} else {
			assert.EqualError(t, err, want, doc)
		}
	}
}
