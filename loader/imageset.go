package loader

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
)

// ImageSet is everything one program can load at launch: the main
// executable and the images its dependencies resolve to. It is the input
// to a placement model.
type ImageSet struct {
	// Name and Description identify the set in reports.
	Name        string
	Description string
	// Main is the executable.
	Main *ImageSpec
	// Images holds every other image: libraries, frameworks, the dynamic
	// loader itself (Kind KindLoader) when known, and the system libraries
	// that live in the shared cache (InSharedCache), which are loaded but
	// not mapped one by one.
	Images []*ImageSpec
}

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

func (e *NotLoadedError) Unwrap() error { return ErrNotLoaded }

// sharedCachePrefixes are the directories whose libraries macOS ships only
// inside the dyld shared cache (since macOS 11 the files are absent from
// disk). A dependency there that the set does not describe is taken to be
// a cache image.
var sharedCachePrefixes = []string{"/usr/lib/", "/System/Library/"}

// resolver finds the image a dependency names, following dyld4's rules for
// @rpath, @loader_path and @executable_path (dyld-1378 dyld/Loader.cpp
// Loader::forEachPath, expandAtLoaderPath, expandAtExecutablePath).
type resolver struct {
	set     *ImageSet
	byPath  map[string]*ImageSpec
	byName  map[string]*ImageSpec
	implied map[string]*ImageSpec // synthesized shared-cache images
	// open, when set, reads a file the set does not hold yet (nil, nil if
	// there is none); what it reads joins the set.
	open func(path string) (*ImageSpec, error)
}

func newResolver(set *ImageSet) *resolver {
	r := &resolver{set: set, byPath: map[string]*ImageSpec{}, byName: map[string]*ImageSpec{}, implied: map[string]*ImageSpec{}}
	for _, img := range append([]*ImageSpec{set.Main}, set.Images...) {
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

// expand replaces @executable_path and @loader_path in p.
func (r *resolver) expand(p string, loader *ImageSpec) string {
	switch {
	case strings.HasPrefix(p, "@executable_path/"):
		if d := dir(r.set.Main.Path); d != "" {
			return path.Join(d, strings.TrimPrefix(p, "@executable_path/"))
		}
	case strings.HasPrefix(p, "@loader_path/"):
		if d := dir(loader.Path); d != "" {
			return path.Join(d, strings.TrimPrefix(p, "@loader_path/"))
		}
	}
	return p
}

// resolve returns the image dep names when loaded by chain[len-1], whose
// load chain (requestors back to the executable) supplies the LC_RPATH
// search list.
func (r *resolver) resolve(dep string, chain []*ImageSpec) (*ImageSpec, error) {
	loader := chain[len(chain)-1]
	var tried []string
	var openErr error
	lookup := func(p string) *ImageSpec {
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
				r.set.Images = append(r.set.Images, img)
				r.byPath[p] = img
				return img
			}
		}
		return nil
	}
	if tail, ok := strings.CutPrefix(dep, "@rpath/"); ok {
		for i := len(chain) - 1; i >= 0 && openErr == nil; i-- {
			for _, rp := range rpathsOf(chain[i]) {
				if img := lookup(path.Join(r.expand(rp, chain[i]), tail)); img != nil {
					return img, nil
				}
			}
		}
	} else if img := lookup(r.expand(dep, loader)); img != nil {
		return img, nil
	}
	if openErr != nil {
		return nil, openErr
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
				img = &ImageSpec{Name: dep, Path: dep, Format: FormatMachO, Kind: KindLibrary, InSharedCache: true}
				r.implied[dep] = img
			}
			return img, nil
		}
	}
	return nil, &NotLoadedError{Path: dep, ReferencedBy: loader.label(), Tried: tried}
}

func rpathsOf(img *ImageSpec) []string {
	if img.MachO == nil {
		return nil
	}
	return img.MachO.RPaths
}

// machoFileSize is the size of the whole file dyld maps temporarily (every
// slice of a universal file), or 0 when unknown.
func machoFileSize(img *ImageSpec) uint64 {
	if img.MachO == nil {
		return 0
	}
	return img.MachO.FileSize
}

// machoStackSize is LC_MAIN's stacksize, or 0.
func machoStackSize(img *ImageSpec) uint64 {
	if img.MachO == nil {
		return 0
	}
	return img.MachO.StackSize
}

// dependencyKind returns the kind of img's i-th dependency (regular when
// the file says nothing else).
func dependencyKind(img *ImageSpec, i int) DylibKind {
	if img.MachO == nil || i >= len(img.MachO.Dependencies) {
		return DylibRegular
	}
	return img.MachO.Dependencies[i].Kind
}

// LoadOrder returns the main executable followed by every image dyld4
// loads at launch, in the order it maps them. dyld-1378
// JustInTimeLoader::loadDependents first loads all of an image's direct
// dependencies in load-command order, then recurses into each of them in
// the same order; an image is mapped when first reached. Lazy dependencies
// are not loaded at launch and missing weak ones are skipped; any other
// missing dependency is a NotLoadedError, the launch failure dyld reports.
func (set *ImageSet) LoadOrder() ([]*ImageSpec, error) {
	return set.loadOrder(nil)
}

func (set *ImageSet) loadOrder(open func(string) (*ImageSpec, error)) ([]*ImageSpec, error) {
	if set.Main == nil {
		return nil, fmt.Errorf("loader: image set %q has no main executable", set.Name)
	}
	r := newResolver(set)
	r.open = open
	order := []*ImageSpec{set.Main}
	loaded := map[*ImageSpec]bool{set.Main: true}
	expanded := map[*ImageSpec]bool{}
	var load func(chain []*ImageSpec) error
	load = func(chain []*ImageSpec) error {
		img := chain[len(chain)-1]
		if expanded[img] {
			return nil
		}
		expanded[img] = true
		var deps []*ImageSpec
		for i, dep := range img.Needed {
			kind := dependencyKind(img, i)
			if !kind.LoadedAtLaunch() {
				continue // LC_LAZY_LOAD_DYLIB: dyld-1378 forEachDependentDylib skips it
			}
			d, err := r.resolve(dep, chain)
			if err != nil {
				if kind == DylibWeak && errors.Is(err, ErrNotLoaded) {
					continue
				}
				return err
			}
			if !loaded[d] {
				loaded[d] = true
				order = append(order, d)
			}
			deps = append(deps, d)
		}
		for _, d := range deps {
			if err := load(append(chain[:len(chain):len(chain)], d)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := load([]*ImageSpec{set.Main}); err != nil {
		return nil, err
	}
	return order, nil
}

// Dyld returns the set's dynamic loader image, if it holds one.
func (set *ImageSet) Dyld() *ImageSpec {
	for _, img := range set.Images {
		if img.Kind == KindLoader {
			return img
		}
	}
	return nil
}

// ReadMachOSet reads a Mach-O executable and every image it loads at
// launch from the file system, resolving install names as dyld4 does
// (@rpath through the LC_RPATH chain, @loader_path, @executable_path,
// absolute paths). Libraries under /usr/lib and /System/Library that are
// not on disk are taken to be in the shared cache, as on macOS 11 and
// later. arch picks the slice of universal files ("" prefers arm64e, then
// arm64). Run it on a build output directory to feed the Dyld model real
// segment sizes.
func ReadMachOSet(exe, arch string) (*ImageSet, error) {
	main, err := ReadMachOArch(exe, arch)
	if err != nil {
		return nil, err
	}
	if main.Kind != KindExecutable {
		return nil, fmt.Errorf("loader: %s is a %v, not an executable", exe, main.Kind)
	}
	main.Path = exe
	set := &ImageSet{Name: path.Base(exe), Description: "read from " + exe, Main: main}
	open := func(p string) (*ImageSpec, error) {
		if _, err := os.Stat(p); err != nil {
			return nil, nil // not there: try the next candidate
		}
		img, err := ReadMachOArch(p, arch)
		if err != nil {
			return nil, err
		}
		img.Path = p
		return img, nil
	}
	if _, err := set.loadOrder(open); err != nil {
		return nil, err
	}
	return set, nil
}
