// Package jsonkeys finds a key that appears twice in one JSON object.
// encoding/json keeps the last of them without a word, so a document with
// "end" twice would be read as something its author did not write; the
// document readers refuse such input instead.
package jsonkeys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// DuplicateError names the repeated key and the object holding it, as a
// path from the document root ("images[3].segments[1]"; "" for the root).
type DuplicateError struct {
	Object string
	Key    string
}

func (e *DuplicateError) Error() string {
	where := e.Object
	if where == "" {
		where = "the document"
	}
	return fmt.Sprintf("%s: key %s appears more than once", where, strconv.Quote(e.Key))
}

type frame struct {
	object bool
	path   string
	keys   map[string]bool
	key    string // the key whose value comes next (objects)
	index  int    // the next element's index (arrays)
	want   bool   // objects: the next string token is a key
}

// Check returns a *DuplicateError for the first repeated key in data, or
// nil. Malformed JSON is left to the decoder that reads the document: Check
// returns nil when it cannot tokenize data.
func Check(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	// child returns the path of the value that starts now.
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			if f.path == "" {
				return f.key
			}
			return f.path + "." + f.key
		}
		p := fmt.Sprintf("%s[%d]", f.path, f.index)
		f.index++
		return p
	}
	value := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].want = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].want {
			if k, ok := tok.(string); ok {
				f := stack[n-1]
				if f.keys[k] {
					return &DuplicateError{Object: f.path, Key: k}
				}
				f.keys[k], f.key, f.want = true, k, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, path: child(), keys: map[string]bool{}, want: true})
		case json.Delim('['):
			stack = append(stack, &frame{path: child()})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			value()
		default:
			if n := len(stack); n > 0 && !stack[n-1].object {
				stack[n-1].index++
			}
			value()
		}
		if len(stack) == 0 {
			return nil
		}
	}
}
