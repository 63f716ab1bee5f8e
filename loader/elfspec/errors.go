package elfspec

import "github.com/vasim/vasim/internal/input"

// notRegularError is what a path that turned out not to be a regular file
// once opened reports, as input.Open words it; it matches
// input.ErrNotRegular.
type notRegularError string

func (e notRegularError) Error() string { return "is " + string(e) + ", not a regular file" }
func (e notRegularError) Unwrap() error { return input.ErrNotRegular }
