// Package dyld resolves a macOS program's dependencies the way dyld4 does
// (dyld-1378): install names through @rpath, @loader_path and
// @executable_path, weak and lazy dependencies, and the order in which
// dyld maps the images at launch. Resolve works on an image set already in
// memory; ReadSet builds one from a build tree on disk. Neither changes
// its input.
package dyld

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/machospec"
)

// ErrNotLoaded is the class of dependency-resolution failures.
var ErrNotLoaded = errors.New("library not loaded")

// NotLoadedError is dyld's "Library not loaded" failure: a dependency that
// resolves to no image in the set.
type NotLoadedError struct {
	Path         string // the dependency as written (install name)
	ReferencedBy string // the image that needs it
	Tried        []string
}

func (e *NotLoadedError) Error() string {
	s := fmt.Sprintf("dyld: Library not loaded: %s\n  Referenced from: %s\n  Reason: no image in the set matches", e.Path, e.ReferencedBy)
	if len(e.Tried) > 0 {
		s += " (tried " + strings.Join(e.Tried, ", ") + ")"
	}
	return s
}

// Unwrap returns ErrNotLoaded.
func (e *NotLoadedError) Unwrap() error { return ErrNotLoaded }

// LoadOrder is what dyld4 loads at launch, in the order it maps the
// images: the input of the macOS placement model.
type LoadOrder struct {
	// Images holds the main executable first, then every image loaded at
	// launch in mapping order. Shared-cache images are listed (they count
	// towards dyld's allocations) but not mapped one by one.
	Images []*loader.ImageSpec
	// Loader is dyld's own image (Kind KindLoader) when the set
	// describes it, or nil.
	Loader *loader.ImageSpec
}

// Main returns the executable.
func (o *LoadOrder) Main() *loader.ImageSpec { return o.Images[0] }

// sharedCachePrefixes are the directories whose libraries macOS ships only
// inside the dyld shared cache (since macOS 11 the files are absent from
// disk). A dependency there that the set does not describe is taken to be
// a cache image.
var sharedCachePrefixes = []string{"/usr/lib/", "/System/Library/"}

// resolver finds the image a dependency names, following dyld4's rules for
// @rpath, @loader_path and @executable_path (dyld-1378 dyld/Loader.cpp
// Loader::forEachPath, expandAtLoaderPath, expandAtExecutablePath).
type resolver struct {
	main    *loader.ImageSpec
	byPath  map[string]*loader.ImageSpec
	byName  map[string]*loader.ImageSpec
	implied map[string]*loader.ImageSpec // synthesized shared-cache images
	// open, when set, reads a file the set does not hold (nil, nil if
	// there is none); what it reads is kept in opened, in the order read.
	open   func(path string) (*loader.ImageSpec, error)
	opened []*loader.ImageSpec
}

func newResolver(set *loader.ImageSet) *resolver {
	r := &resolver{main: set.Main, byPath: map[string]*loader.ImageSpec{}, byName: map[string]*loader.ImageSpec{}, implied: map[string]*loader.ImageSpec{}}
	for _, img := range append([]*loader.ImageSpec{set.Main}, set.Images...) {
		if img.Path != "" {
			r.byPath[path.Clean(img.Path)] = img
		}
		if img.Name != "" {
			if _, dup := r.byName[img.Name]; !dup {
				r.byName[img.Name] = img
			}
		}
	}
	return r
}

func dir(p string) string {
	if p == "" {
		return ""
	}
	return path.Dir(p)
}

// substitute replaces a leading @executable_path or @loader_path in p.
func (r *resolver) substitute(p string, from *loader.ImageSpec) string {
	switch {
	case strings.HasPrefix(p, "@executable_path/"):
		if d := dir(r.main.Path); d != "" {
			return path.Join(d, strings.TrimPrefix(p, "@executable_path/"))
		}
	case strings.HasPrefix(p, "@loader_path/"):
		if d := dir(from.Path); d != "" {
			return path.Join(d, strings.TrimPrefix(p, "@loader_path/"))
		}
	}
	return p
}

// resolve returns the image dep names when loaded by chain[len-1], whose
// load chain (requestors back to the executable) supplies the LC_RPATH
// search list.
func (r *resolver) resolve(dep string, kind loader.DylibKind, chain []*loader.ImageSpec) (*loader.ImageSpec, error) {
	from := chain[len(chain)-1]
	var tried []string
	var openErr error
	lookup := func(p string) *loader.ImageSpec {
		p = path.Clean(p)
		tried = append(tried, p)
		if img := r.byPath[p]; img != nil {
			return img
		}
		if r.open != nil && !strings.HasPrefix(p, "@") && openErr == nil {
			img, err := r.open(p)
			if err != nil {
				openErr = err
				return nil
			}
			if img != nil {
				r.opened = append(r.opened, img)
				r.byPath[p] = img
				return img
			}
		}
		return nil
	}
	if tail, ok := strings.CutPrefix(dep, "@rpath/"); ok {
		for i := len(chain) - 1; i >= 0 && openErr == nil; i-- {
			for _, rp := range rpathsOf(chain[i]) {
				if img := lookup(path.Join(r.substitute(rp, chain[i]), tail)); img != nil {
					return img, nil
				}
			}
		}
	} else if img := lookup(r.substitute(dep, from)); img != nil {
		return img, nil
	}
	if openErr != nil {
		// Name who asked for the file: the error names only the file.
		return nil, fmt.Errorf("%s: %s %s: %w", from.Label(), kind.CommandName(), dep, openErr)
	}
	// Images described without paths (synthetic sets, JSON) are matched by
	// install name.
	if img := r.byName[dep]; img != nil {
		return img, nil
	}
	for _, pre := range sharedCachePrefixes {
		if strings.HasPrefix(dep, pre) {
			img := r.implied[dep]
			if img == nil {
				img = &loader.ImageSpec{Name: dep, Path: dep, Format: loader.FormatMachO, Kind: loader.KindLibrary, InSharedCache: true}
				r.implied[dep] = img
			}
			return img, nil
		}
	}
	return nil, &NotLoadedError{Path: dep, ReferencedBy: from.Label(), Tried: tried}
}

func rpathsOf(img *loader.ImageSpec) []string {
	if img.MachO == nil {
		return nil
	}
	return img.MachO.RPaths
}

// dependencyKind returns the kind of img's i-th dependency (regular when
// the file says nothing else).
func dependencyKind(img *loader.ImageSpec, i int) loader.DylibKind {
	if img.MachO == nil || i >= len(img.MachO.Dependencies) {
		return loader.DylibRegular
	}
	return img.MachO.Dependencies[i].Kind
}

// Resolve returns the set's load order: the main executable followed by
// every image dyld4 loads at launch, in the order it maps them. dyld-1378
// JustInTimeLoader::loadDependents first loads all of an image's direct
// dependencies in load-command order, then recurses into each of them in
// the same order; an image is mapped when first reached. Lazy dependencies
// are not loaded at launch and missing weak ones are skipped; any other
// missing dependency is a NotLoadedError, the launch failure dyld reports.
// A dependency under /usr/lib or /System/Library that the set does not
// describe is taken to be a shared-cache image. The set is not changed.
func Resolve(set *loader.ImageSet) (*LoadOrder, error) {
	r, err := resolverFor(set)
	if err != nil {
		return nil, err
	}
	return r.loadOrder(set)
}

func resolverFor(set *loader.ImageSet) (*resolver, error) {
	if set.Main == nil {
		return nil, fmt.Errorf("image set %q has no main executable", set.Name)
	}
	return newResolver(set), nil
}

func (r *resolver) loadOrder(set *loader.ImageSet) (*LoadOrder, error) {
	order := []*loader.ImageSpec{set.Main}
	loaded := map[*loader.ImageSpec]bool{set.Main: true}
	expanded := map[*loader.ImageSpec]bool{}
	// Breadth of each level first, then depth: a stack of the chains
	// still to expand, so a deep dependency chain costs no Go stack and
	// shares its prefixes.
	type node struct {
		img    *loader.ImageSpec
		parent *node
	}
	chainOf := func(n *node, buf []*loader.ImageSpec) []*loader.ImageSpec {
		buf = buf[:0]
		for ; n != nil; n = n.parent {
			buf = append(buf, n.img)
		}
		for i, j := 0, len(buf)-1; i < j; i, j = i+1, j-1 {
			buf[i], buf[j] = buf[j], buf[i]
		}
		return buf
	}
	var chain []*loader.ImageSpec
	stack := []*node{{img: set.Main}}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if expanded[n.img] {
			continue
		}
		expanded[n.img] = true
		chain = chainOf(n, chain)
		var deps []*node
		for i, dep := range n.img.Needed {
			kind := dependencyKind(n.img, i)
			if !kind.LoadedAtLaunch() {
				continue // LC_LAZY_LOAD_DYLIB: dyld-1378 forEachDependentDylib skips it
			}
			d, err := r.resolve(dep, kind, chain)
			if err != nil {
				if kind == loader.DylibWeak && errors.Is(err, ErrNotLoaded) {
					continue
				}
				return nil, err
			}
			if !loaded[d] {
				loaded[d] = true
				order = append(order, d)
			}
			deps = append(deps, &node{img: d, parent: n})
		}
		for i := len(deps) - 1; i >= 0; i-- {
			stack = append(stack, deps[i])
		}
	}
	lo := &LoadOrder{Images: order}
	for _, img := range set.Images {
		if img.Kind == loader.KindLoader {
			lo.Loader = img
			break
		}
	}
	return lo, nil
}

// ReadSet reads a Mach-O executable and every image it loads at launch
// from the file system, resolving install names as Resolve does
// (@rpath through the LC_RPATH chain, @loader_path, @executable_path,
// absolute paths). Libraries under /usr/lib and /System/Library that are
// not on disk are taken to be in the shared cache, as on macOS 11 and
// later. arch picks the slice of universal files ("" prefers arm64e, then
// arm64). Run it on a build output directory to feed the placement model
// real segment sizes.
func ReadSet(exe, arch string) (*loader.ImageSet, error) {
	main, err := machospec.ReadArch(exe, arch)
	if err != nil {
		return nil, err
	}
	if main.Kind != loader.KindExecutable {
		return nil, fmt.Errorf("%s is a %v, not an executable", exe, main.Kind)
	}
	main.Path = exe
	set := &loader.ImageSet{Name: path.Base(exe), Description: "read from " + exe, Main: main}
	r, err := resolverFor(set)
	if err != nil {
		return nil, err
	}
	r.open = func(p string) (*loader.ImageSpec, error) {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil // not there: try the next candidate
		}
		img, err := machospec.ReadArch(p, arch)
		if err != nil {
			return nil, err
		}
		img.Path = p
		return img, nil
	}
	if _, err := r.loadOrder(set); err != nil {
		return nil, err
	}
	set.Images = r.opened
	return set, nil
}
