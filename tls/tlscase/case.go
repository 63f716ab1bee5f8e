// Package tlscase holds static-TLS cases taken from published failure
// reports: each a program described by its modules' TLS (sizes,
// alignment, how they are reached) rather than by files, with the glibc
// release and architecture of the report, the load order that failed,
// the fixes reported to work, and the sources. The cases run on package
// tls's glibc model, which covers releases that no longer run here (the
// reports are the evidence for those eras). A case round-trips through
// JSON (Marshal, Parse), so a user can edit one and run it again.
package tlscase

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vasim/vasim/internal/jsonkeys"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/tls"
)

// Case is one program from a report.
type Case struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	// Glibc and Arch are the release and machine the report ran on.
	Glibc string `json:"glibc"`
	Arch  string `json:"arch"`
	// Tunables is GLIBC_TUNABLES.
	Tunables string `json:"tunables,omitempty"`
	// Audit lists the LD_AUDIT modules: each is loaded with its
	// dependencies into a namespace of its own (a second copy of libc,
	// say) before the program's libraries are relocated.
	Audit []string `json:"audit,omitempty"`
	// Modules are the objects involved; exactly one is the program.
	Modules []Module `json:"modules"`
	// Preload lists LD_PRELOAD modules, Dlopens the modules the program
	// opens, in order.
	Preload []string `json:"preload,omitempty"`
	Dlopens []string `json:"dlopens"`
	// Expect is the published outcome of each dlopen (true: it loads).
	Expect []bool `json:"expect"`
	// StartFails says the report's program does not even start (a
	// start-up library's initial-exec TLS does not fit).
	StartFails bool `json:"start_fails,omitempty"`
	// Fixes are the changes reported (or derived) to make it load.
	Fixes []Fix `json:"fixes,omitempty"`
	// Published lists the figures the case reproduces with their source;
	// Notes say what was chosen because the report does not give it.
	Published []string `json:"published"`
	Notes     []string `json:"notes,omitempty"`
}

// Module is one object: its TLS block and how it is reached.
type Module struct {
	Name  string   `json:"name"`
	Main  bool     `json:"main,omitempty"`
	Needs []string `json:"needs,omitempty"`
	// TLS is the PT_TLS block, nil for none.
	TLS *Block `json:"tls,omitempty"`
	// Access is how the module's code reaches its own TLS:
	// "initial-exec" (static TLS or the dlopen fails), "descriptor"
	// (TLS descriptors: static TLS when the loader allows it, else
	// dynamic), "dynamic" (__tls_get_addr only).
	Access string `json:"access,omitempty"`
}

// Block is a PT_TLS header's size, alignment and address.
type Block struct {
	Size  uint64 `json:"size"`
	Align uint64 `json:"align"`
	VAddr uint64 `json:"vaddr,omitempty"`
}

// Fix is a changed case: another load order, preloads, tunables, or
// module TLS sizes.
type Fix struct {
	Name     string            `json:"name"`
	Preload  []string          `json:"preload,omitempty"`
	Dlopens  []string          `json:"dlopens,omitempty"`
	Tunables string            `json:"tunables,omitempty"`
	Resize   map[string]uint64 `json:"resize,omitempty"`
	// Dynamic lists modules rebuilt to reach their TLS dynamically
	// (global-dynamic, as jemalloc's --disable-initial-exec-tls does).
	Dynamic []string `json:"dynamic,omitempty"`
	// Works is the reported (or derived) effect: every dlopen loads.
	Works bool `json:"works"`
	// Source says where the fix comes from.
	Source string `json:"source,omitempty"`
}

// Outcome is one dlopen's result.
type Outcome struct {
	Name  string
	OK    bool
	Error string
	// Need and Free are what the failing placement needed and had.
	Need, Free uint64
	// Took is the static TLS the dlopen's placements consumed (alignment
	// padding included), FreeAfter the room left after it.
	Took, FreeAfter uint64
}

// Result is a case's run.
type Result struct {
	Profile tls.Profile
	Static  tls.StaticInfo
	// StartError is ld.so's message when the program does not start.
	StartError string
	Outcomes   []Outcome
}

// Loads reports whether the program starts and every dlopen succeeded.
func (r *Result) Loads() bool {
	if r.StartError != "" {
		return false
	}
	for _, o := range r.Outcomes {
		if !o.OK {
			return false
		}
	}
	return true
}

// Run plays the case as it is.
func (c *Case) Run() (*Result, error) { return c.run(c.Preload, c.Dlopens, c.Tunables, nil, nil) }

// RunFix plays the case with fix applied.
func (c *Case) RunFix(f Fix) (*Result, error) {
	pre, dl, tun := c.fixInputs(f)
	return c.run(pre, dl, tun, f.Resize, f.Dynamic)
}

// fixInputs returns the preloads, dlopens and tunables with fix f.
func (c *Case) fixInputs(f Fix) (preload, dlopens []string, tunables string) {
	preload, dlopens, tunables = c.Preload, c.Dlopens, c.Tunables
	if f.Preload != nil {
		preload = f.Preload
	}
	if f.Dlopens != nil {
		dlopens = f.Dlopens
	}
	if f.Tunables != "" {
		tunables = f.Tunables
	}
	return preload, dlopens, tunables
}

// Validate checks names, the program, and sizes.
func (c *Case) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tlscase %s: "+format, append([]any{c.Name}, args...)...)
	}
	if _, err := ldso.ParseGlibcVersion(c.Glibc); err != nil {
		return bad("glibc %q: %v", c.Glibc, err)
	}
	if _, err := loader.ParseArch(c.Arch); err != nil {
		return bad("arch: %v", err)
	}
	names := map[string]bool{}
	mains := 0
	for i, m := range c.Modules {
		if m.Name == "" || names[m.Name] {
			return bad("modules[%d]: name %q is empty or repeated", i, m.Name)
		}
		names[m.Name] = true
		if m.Main {
			mains++
		}
		switch m.Access {
		case "", "initial-exec", "descriptor", "dynamic":
		default:
			return bad("modules[%d].access %q: want initial-exec, descriptor or dynamic", i, m.Access)
		}
		if m.TLS != nil && (m.TLS.Size == 0 || m.TLS.Size > tls.MaxStaticTLS || m.TLS.Align != 0 && m.TLS.Align&(m.TLS.Align-1) != 0) {
			return bad("modules[%d].tls: size %d align %d: want a size in 1..2^47 and a power-of-two alignment", i, m.TLS.Size, m.TLS.Align)
		}
	}
	if mains != 1 {
		return bad("%d modules are marked main: want exactly one", mains)
	}
	for _, m := range c.Modules {
		for _, n := range m.Needs {
			if !names[n] {
				return bad("module %q needs %q, which is not among the modules", m.Name, n)
			}
		}
	}
	for _, list := range [][]string{c.Preload, c.Dlopens, c.Audit} {
		for _, n := range list {
			if !names[n] {
				return bad("%q is not among the modules", n)
			}
		}
	}
	if len(c.Expect) != 0 && len(c.Expect) != len(c.Dlopens) {
		return bad("%d expectations for %d dlopens", len(c.Expect), len(c.Dlopens))
	}
	for _, f := range c.Fixes {
		for _, list := range [][]string{f.Preload, f.Dlopens} {
			for _, n := range list {
				if !names[n] {
					return bad("fix %q: %q is not among the modules", f.Name, n)
				}
			}
		}
		for n := range f.Resize {
			if !names[n] {
				return bad("fix %q: resizes %q, which is not among the modules", f.Name, n)
			}
		}
		for _, n := range f.Dynamic {
			if !names[n] {
				return bad("fix %q: %q is not among the modules", f.Name, n)
			}
		}
	}
	return nil
}

func (c *Case) run(preload, dlopens []string, tunables string, resize map[string]uint64, dynamic []string) (*Result, error) {
	return c.runSweep(preload, dlopens, tunables, resize, dynamic, nil)
}

// runSweep is run with sw as the start's Sweep (nil for none).
func (c *Case) runSweep(preload, dlopens []string, tunables string, resize map[string]uint64, dynamic []string, sw *tls.Sweep) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	v, _ := ldso.ParseGlibcVersion(c.Glibc)
	arch, _ := loader.ParseArch(c.Arch)
	prof, err := tls.GlibcProfile(v, arch)
	if err != nil {
		return nil, err
	}
	tun := tls.DefaultTunables()
	if tunables != "" {
		if tun, err = tls.ParseTunables(tunables); err != nil {
			return nil, fmt.Errorf("tlscase %s: %w", c.Name, err)
		}
	}
	// build makes a fresh set of modules: the program's namespace, or an
	// audit module's (which has its own copies of what it needs).
	build := func() (map[string]*tls.Module, *tls.Module) {
		mods := map[string]*tls.Module{}
		var main *tls.Module
		for _, m := range c.Modules {
			tm := &tls.Module{Name: m.Name, Main: m.Main}
			if m.TLS != nil {
				size := m.TLS.Size
				if s, ok := resize[m.Name]; ok {
					size = s
				}
				tm.TLS = &loader.TLSBlock{MemSize: size, Align: m.TLS.Align, VAddr: m.TLS.VAddr}
				access := m.Access
				for _, d := range dynamic {
					if d == m.Name {
						access = "dynamic"
					}
				}
				switch access {
				case "initial-exec":
					tm.Relocs = []tls.Reloc{{Access: loader.TLSAccessInitialExec, Local: true}}
				case "descriptor":
					tm.Relocs = []tls.Reloc{{Access: loader.TLSAccessDescriptor, Local: true}}
				case "dynamic":
					tm.Relocs = []tls.Reloc{{Access: loader.TLSAccessModuleID, Local: true}}
				}
			}
			mods[m.Name] = tm
			if m.Main {
				main = tm
			}
		}
		for _, m := range c.Modules {
			for _, n := range m.Needs {
				mods[m.Name].Deps = append(mods[m.Name].Deps, mods[n])
			}
		}
		return mods, main
	}
	mods, main := build()
	closure := func(roots ...*tls.Module) []*tls.Module {
		var out []*tls.Module
		seen := map[*tls.Module]bool{}
		for _, r := range roots {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
		for i := 0; i < len(out); i++ {
			for _, d := range out[i].Deps {
				if !seen[d] {
					seen[d] = true
					out = append(out, d)
				}
			}
		}
		return out
	}
	roots := []*tls.Module{main}
	for _, n := range preload {
		roots = append(roots, mods[n])
	}
	startup := closure(roots...)
	opt := tls.StartOptions{Tunables: tun, Audit: len(c.Audit), ProgramName: main.Name, Sweep: sw}
	for _, a := range c.Audit {
		amods, _ := build()
		opt.AuditModules = append(opt.AuditModules, closure(amods[a]))
	}
	g, err := tls.StartGlibc(prof, startup, opt)
	var se *tls.StartError
	if errors.As(err, &se) {
		return &Result{Profile: prof, StartError: se.Error()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tlscase %s: %w", c.Name, err)
	}
	res := &Result{Profile: prof, Static: g.Static()}
	for _, n := range dlopens {
		root := mods[n]
		list := closure(root)
		out := g.Dlopen(&tls.DlopenRequest{Name: n, Root: root, SearchList: list, Now: true})
		o := Outcome{Name: n, OK: out.OK, Error: out.Error, FreeAfter: g.Static().Free}
		if out.Failure != nil {
			o.Need, o.Free = out.Failure.Need, out.Failure.Free
		}
		for _, a := range out.Placed {
			o.Took += a.Use
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	return res, nil
}

// MinimalOptional returns the smallest glibc.rtld.optional_static_tls
// with which every dlopen of the case loads (other tunables as the
// case's), 0 when none does or the release has no tunables. It may lie
// in a gap below values that fail: OptionalSet gives them all.
func (c *Case) MinimalOptional() (uint64, error) {
	set, ok, err := c.OptionalSet()
	if err != nil || !ok {
		return 0, err
	}
	v, _ := set.Smallest()
	return v, nil
}

// OptionalSet decides, for every glibc.rtld.optional_static_tls from 0 to
// the largest glibc adds without wrapping (other tunables as the case's),
// whether the program starts and every dlopen loads, in one model run per
// interval of values that take the same decisions (tls.OptionalStaticTLSSet).
// ok is false for a release without the tunable (before 2.32).
func (c *Case) OptionalSet() (set tls.ValueSet, ok bool, err error) {
	if err := c.Validate(); err != nil {
		return set, false, err
	}
	v, _ := ldso.ParseGlibcVersion(c.Glibc)
	arch, _ := loader.ParseArch(c.Arch)
	prof, err := tls.GlibcProfile(v, arch)
	if err != nil {
		return set, false, err
	}
	if !prof.Tunables {
		return set, false, nil
	}
	base := tls.DefaultTunables()
	if c.Tunables != "" {
		if base, err = tls.ParseTunables(c.Tunables); err != nil {
			return set, false, err
		}
	}
	var runErr error
	set = tls.OptionalStaticTLSSet(prof.OptionalStaticTLSLimit(base.NNS, len(c.Audit)), func(v uint64, sw *tls.Sweep) bool {
		t := base
		t.OptionalStaticTLS = v
		r, err := c.runSweep(c.Preload, c.Dlopens, t.String(), nil, nil, sw)
		if err != nil {
			runErr = err
			return false
		}
		return r.Loads()
	})
	return set, runErr == nil, runErr
}

// Marshal writes the case as the JSON document Parse reads.
func (c *Case) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// MaxBytes bounds a case document.
const MaxBytes = 4 << 20

// Parse reads a case document. Unknown or repeated fields are errors
// naming the source.
func Parse(data []byte, source string) (*Case, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("tlscase: %s: larger than %d bytes", source, MaxBytes)
	}
	if err := jsonkeys.Check(data); err != nil {
		return nil, fmt.Errorf("tlscase: %s: %v", source, err)
	}
	var c Case
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("tlscase: %s: %v", source, err)
	}
	if c.Name == "" {
		c.Name = source
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("tlscase: %s: %w", source, err)
	}
	return &c, nil
}

// IsCase reports whether a JSON document looks like a case (it has
// "modules" and "dlopens"), to tell it from other documents.
func IsCase(data []byte) bool {
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil {
		return false
	}
	_, m := probe["modules"]
	_, d := probe["dlopens"]
	return m && d
}

var cases = map[string]func() *Case{}

func register(f func() *Case) {
	c := f()
	if _, dup := cases[c.Name]; dup {
		panic("tlscase: registered twice: " + c.Name)
	}
	cases[c.Name] = f
}

// Names lists the built-in cases.
func Names() []string {
	var out []string
	for n := range cases {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Load returns a fresh copy of the named built-in case.
func Load(name string) (*Case, error) {
	f, ok := cases[name]
	if !ok {
		return nil, fmt.Errorf("tlscase: no case %q (built in: %s)", name, strings.Join(Names(), ", "))
	}
	return f(), nil
}
