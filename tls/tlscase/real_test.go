package tlscase

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/loader/objtest"
)

// TestCasesRunForReal replays each x86_64 case on this machine's glibc:
// a library per module with a TLS block of the case's size and
// alignment, reached as the case says, the program dlopening them in
// order under the case's LD_PRELOAD, LD_AUDIT and GLIBC_TUNABLES; and
// requires the real outcome of the start and of every dlopen, as-is and
// with each fix, to be the model's for this glibc release.
func TestCasesRunForReal(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs x86_64 Linux programs")
	}
	cc := objtest.RequireCC(t, "gcc")
	det, err := ldso.DetectGlibcVersion("/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		t.Skipf("no glibc here: %v", err)
	}
	for _, name := range Names() {
		c, err := Load(name)
		require.NoError(t, err)
		if c.Arch != "x86_64" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			c.Glibc = det.Version.String()
			dir := t.TempDir()
			paths := buildCase(t, cc, dir, c, nil, nil)
			check := func(label string, pre, dl []string, tun string, resize map[string]uint64, dynamic []string) {
				if resize != nil || dynamic != nil {
					paths = buildCase(t, cc, filepath.Join(dir, fmt.Sprint(len(label))), c, resize, dynamic)
				}
				model, err := c.run(pre, dl, tun, resize, dynamic)
				require.NoError(t, err)
				want := []string{}
				if model.StartError != "" {
					want = append(want, "start failed")
				} else {
					for _, o := range model.Outcomes {
						want = append(want, fmt.Sprintf("%s %v", o.Name, o.OK))
					}
				}
				require.Equal(t, want, runCase(t, paths, c, pre, dl, tun), "%s (glibc %s here)", label, c.Glibc)
			}
			check("as reported", c.Preload, c.Dlopens, c.Tunables, nil, nil)
			for _, f := range c.Fixes {
				pre, dl, tun := c.fixInputs(f)
				check("fix: "+f.Name, pre, dl, tun, f.Resize, f.Dynamic)
			}
		})
	}
}

// system names the modules the machine provides.
var system = map[string]bool{"libc.so.6": true, "ld-linux-x86-64.so.2": true}

// buildCase compiles every module but the system ones and the program;
// it returns each module's path.
func buildCase(t *testing.T, cc, dir string, c *Case, resize map[string]uint64, dynamic []string) map[string]string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	paths := map[string]string{}
	built := map[string]bool{}
	isDynamic := func(n string) bool {
		for _, d := range dynamic {
			if d == n {
				return true
			}
		}
		return false
	}
	var build func(m Module)
	build = func(m Module) {
		if built[m.Name] || system[m.Name] || m.Main {
			return
		}
		built[m.Name] = true
		var libs []string
		for _, n := range m.Needs {
			for _, d := range c.Modules {
				if d.Name == n {
					build(d)
				}
			}
			if !system[n] {
				libs = append(libs, paths[n])
			}
		}
		src := "int vasim_touch(void) { return 0; }\n"
		var flags []string
		if len(c.Audit) > 0 && m.Name == c.Audit[0] {
			src = "#define _GNU_SOURCE\n#include <link.h>\nunsigned int la_version(unsigned int v) { return LAV_CURRENT; }\n"
		}
		if m.TLS != nil {
			size := m.TLS.Size
			if s, ok := resize[m.Name]; ok {
				size = s
			}
			model := "initial-exec"
			if m.Access != "initial-exec" || isDynamic(m.Name) {
				model = "global-dynamic"
			}
			if m.Access == "descriptor" && !isDynamic(m.Name) {
				// TLS descriptors, which glibc may place in static TLS
				// (x86_64 uses __tls_get_addr unless asked).
				flags = append(flags, "-mtls-dialect=gnu2")
			}
			src = fmt.Sprintf("__thread char v[%d] __attribute__((aligned(%d), tls_model(%q))) = {1};\nint vasim_touch(void) { return v[%d]; }\n",
				size, max(m.TLS.Align, 1), model, size-1)
		}
		soname := m.Name
		p, err := objtest.Compile(cc, dir, soname, src, append([]string{"-shared", "-fPIC", "-O1", "-Wl,-soname," + soname, "-Wl,--no-as-needed"}, flags...), libs)
		require.NoError(t, err)
		paths[m.Name] = p
	}
	for _, m := range c.Modules {
		build(m)
	}
	var main Module
	for _, m := range c.Modules {
		if m.Main {
			main = m
		}
	}
	var libs []string
	for _, n := range main.Needs {
		if !system[n] {
			libs = append(libs, paths[n])
		}
	}
	prog := `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		void *h = dlopen(argv[i], RTLD_NOW);
		printf("%s\n", h ? "true" : "false");
	}
	return 0;
}
`
	p, err := objtest.Compile(cc, dir, "prog", prog, []string{"-O1", "-Wl,--no-as-needed", "-Wl,-rpath," + dir}, append(libs, "-ldl"))
	require.NoError(t, err)
	paths[main.Name] = p
	return paths
}

// runCase runs the built program and returns the outcomes as the model's
// are formatted.
func runCase(t *testing.T, paths map[string]string, c *Case, pre, dl []string, tun string) []string {
	t.Helper()
	var main string
	for _, m := range c.Modules {
		if m.Main {
			main = paths[m.Name]
		}
	}
	var args []string
	for _, n := range dl {
		args = append(args, paths[n])
	}
	cmd := exec.Command(main, args...)
	env := []string{}
	var preload []string
	for _, n := range pre {
		preload = append(preload, paths[n])
	}
	if len(preload) > 0 {
		env = append(env, "LD_PRELOAD="+strings.Join(preload, " "))
	}
	var audit []string
	for _, n := range c.Audit {
		audit = append(audit, paths[n])
	}
	if len(audit) > 0 {
		env = append(env, "LD_AUDIT="+strings.Join(audit, ":"))
	}
	if tun != "" {
		env = append(env, "GLIBC_TUNABLES="+tun)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "cannot allocate memory in static TLS block") {
			return []string{"start failed"}
		}
		t.Fatalf("%s: %v\n%s", main, err, out)
	}
	got := []string{}
	for i, line := range strings.Fields(string(out)) {
		got = append(got, fmt.Sprintf("%s %s", dl[i], line))
	}
	return got
}
