package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/loader/objtest"
)

// runWith runs vasim with the environment variables vars (getenv) and
// environ as the launch's inherited environment.
func runWith(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }, environ: func() []string { return environ }}
	code := run(e, args)
	return code, out.String(), errb.String()
}

// x86_64Profile writes a kernel profile that makes the tests' kernel an
// x86_64 one whatever the host.
func x86_64Profile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x86_64.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"arch": "x86_64"}`), 0o644))
	return p
}

// Every error of layout and reserve exits with the status of its kind
// (2 a bad command line, 3 bad input, 1 a predicted failure) and, under
// --json, prints the error document on standard output as well.
func TestLinuxCommandExitStatus(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"mmap_rnd_bits": "many"}`), 0o644))
	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("just text\n"), 0o755))
	prof := x86_64Profile(t)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"layout"}, exitUsage, "--exe is required"},
		{[]string{"layout", "--exe", "/bin/true", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"layout", "--exe", "/bin/true", "stray"}, exitUsage, `unexpected argument "stray"`},
		{[]string{"layout", "--exe", "/bin/true", "--seed", "x"}, exitUsage, `--seed "x": want a non-negative integer`},
		{[]string{"layout", "--exe", "/bin/true", "--seed", "-1"}, exitUsage, `--seed "-1": want a non-negative integer`},
		{[]string{"layout", "--exe", "/bin/true", "--seed", "1", "--no-aslr"}, exitUsage, "exclude each other"},
		{[]string{"layout", "--exe", "/bin/true", "--stack-limit", "lots"}, exitUsage, `--stack-limit "lots"`},
		{[]string{"layout", "--exe", "/bin/true", "--env", "NOEQUALS"}, exitUsage, `--env "NOEQUALS": want K=V`},
		{[]string{"layout", "--exe", filepath.Join(dir, "missing"), "--kernel", prof}, exitInput, "--exe " + filepath.Join(dir, "missing") + ": does not exist"},
		{[]string{"layout", "--exe", "vasim-no-such-command", "--kernel", prof}, exitInput, "--exe vasim-no-such-command: not found in PATH (" + dir + "); give its path instead"},
		{[]string{"layout", "--exe", fifo, "--kernel", prof}, exitInput, "is a named pipe (FIFO), not a regular file"},
		{[]string{"layout", "--exe", dir, "--kernel", prof}, exitInput, "is a directory, not a regular file"},
		{[]string{"layout", "--exe", text, "--kernel", prof}, exitInput, "pass --exe /bin/sh --arg " + text},
		{[]string{"layout", "--exe", "/bin/true", "--kernel", filepath.Join(dir, "nokernel.json")}, exitInput, "--kernel " + filepath.Join(dir, "nokernel.json") + ": no such file"},
		{[]string{"layout", "--exe", "/bin/true", "--kernel", fifo}, exitInput, "not a regular file"},
		{[]string{"layout", "--exe", "/bin/true", "--kernel", bad}, exitInput, "bad.json"},
		{[]string{"reserve", "--exe", "/bin/true"}, exitUsage, "give --preset NAME, --range START-END or --allow START-END"},
		{[]string{"reserve", "--exe", "/bin/true", "--preset", "nope"}, exitUsage, `no preset "nope" (have`},
		{[]string{"reserve", "--exe", "/bin/true", "--range", "0x2000-0x1000"}, exitUsage, "empty or reversed"},
		{[]string{"reserve", "--exe", "/bin/true", "--allow", "none"}, exitUsage, `--allow "none"`},
		{[]string{"reserve", "--exe", "/bin/true", "--preset", "tsan-x86_64", "--fail-above", "2"}, exitUsage, "want a probability from 0 to 1"},
		{[]string{"reserve", "--exe", "/bin/true", "--preset", "tsan-x86_64", "--fail-above", "-1"}, exitUsage, "want a probability from 0 to 1"},
		{[]string{"reserve", "--exe", "/bin/true", "--preset", "tsan-x86_64", "--mmap-rnd-bits", "0"}, exitUsage, "--mmap-rnd-bits 0"},
		{[]string{"reserve", "--exe", "/bin/true", "--preset", "tsan-x86_64", "--kernel", prof, "--mmap-rnd-bits", "40"}, exitUsage, "x86_64 accepts 28 to 32"},
		{[]string{"reserve", "--exe", "/bin/true", "--preset", "tsan-aarch64-48", "--kernel", prof}, exitUsage, "--preset tsan-aarch64-48 is for aarch64, the kernel profile is x86_64"},
		{[]string{"reserve", "--exe", filepath.Join(dir, "missing"), "--preset", "tsan-x86_64", "--kernel", prof}, exitInput, "does not exist"},
	} {
		code, stdout, stderr := runWith(t, map[string]string{"PATH": dir}, c.args...)
		assert.Equal(t, c.code, code, "%q: %s", c.args, stderr)
		assert.Contains(t, stderr, c.msg, "%q", c.args)
		assert.Empty(t, stdout, "%q", c.args)

		// Under --json, the same error as a document.
		args := append(append([]string{}, c.args...), "--json")
		code, stdout, _ = runWith(t, map[string]string{"PATH": dir}, args...)
		assert.Equal(t, c.code, code, "%q", args)
		var doc errorJSON
		require.NoError(t, json.Unmarshal([]byte(stdout), &doc), "%q: %s", args, stdout)
		assert.Equal(t, errorJSON{Schema: schemaError, Command: c.args[0], Exit: c.code, Kind: exitNames[c.code], Message: doc.Message}, doc, "%q", args)
		assert.Contains(t, doc.Message, c.msg, "%q", args)
	}
}

// jsonAsked finds --json in every form the flag package accepts, before
// the flags are parsed.
func TestJSONAsked(t *testing.T) {
	for args, want := range map[string]bool{
		"--json": true, "-json": true, "--json=true": true, "--json=1": true,
		"--json=false": false, "--exe x": false, "-- --json": false, "--json --json=0": false,
	} {
		assert.Equal(t, want, jsonAsked(strings.Fields(args)), args)
	}
}

// --exe NAME is looked up in PATH, a #! script is placed as its
// interpreter (also through #!/usr/bin/env), and the real kernel,
// started the same way under setarch -R, has the same maps: the script's
// argv and file name size the stack.
func TestLayoutFollowsCommandsAsTheKernelRunsThem(t *testing.T) {
	exe := mapsProgram(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	maps := filepath.Join(bin, "maps")
	require.NoError(t, os.Rename(exe, maps))
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
		return p
	}
	s := write("run.sh", "#!"+maps+" --from-script\n")
	cases := []struct {
		name, exe string
		argv      []string
		steps     []string
	}{
		{"PATH search", "maps", []string{"maps", "a"}, []string{"path-search"}},
		{"script", s, []string{maps, "--from-script", s, "a"}, []string{"script"}},
	}
	if envPath, err := exec.LookPath("env"); err == nil {
		e := write("run-env.sh", "#!"+envPath+" maps\n")
		cases = append(cases, struct {
			name, exe string
			argv      []string
			steps     []string
		}{"env", e, []string{"maps", e, "a"}, []string{"script", "env"}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]string{"PATH": bin}
			code, out, errs := runWith(t, vars, "layout", "--exe", c.exe, "--arg", "a", "--no-aslr", "--clean-env", "--env", "PATH="+bin, "--cwd", dir, "--json")
			require.Equal(t, exitOK, code, errs)
			var o struct {
				Schema  string `json:"schema"`
				Program struct {
					Given string   `json:"given"`
					Path  string   `json:"path"`
					Argv  []string `json:"argv"`
					Steps []struct {
						Kind string `json:"kind"`
					} `json:"steps"`
				} `json:"program"`
				Notes    []string                `json:"notes"`
				Images   []struct{ Path string } `json:"images"`
				Mappings []struct {
					Start, End, Path string
				} `json:"mappings"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &o))
			assert.Equal(t, schemaLayout, o.Schema)
			assert.Equal(t, c.exe, o.Program.Given)
			assert.Equal(t, maps, o.Program.Path)
			assert.Equal(t, c.argv, o.Program.Argv)
			var kinds []string
			for _, s := range o.Program.Steps {
				kinds = append(kinds, s.Kind)
			}
			assert.Equal(t, c.steps, kinds)
			assert.Equal(t, maps, o.Images[0].Path)
			if c.steps[0] == "script" {
				require.NotEmpty(t, o.Notes)
				assert.Contains(t, o.Notes[0], "a script: placing its interpreter "+maps+" as the kernel runs it")
			}

			// The real process, started by execvp with the same PATH.
			cmd := exec.Command("setarch", "-R", c.exe, "a")
			cmd.Env = []string{"PATH=" + bin}
			cmd.Dir = dir
			real, err := cmd.Output()
			if err != nil {
				t.Skipf("setarch -R cannot run the program here: %v", err)
			}
			lines, err := linux.ParseMaps(bytes.NewReader(real), maps)
			require.NoError(t, err)
			require.Len(t, o.Mappings, len(lines))
			for i, l := range lines {
				assert.Equal(t, l.Start.String(), o.Mappings[i].Start, "mapping %d %s", i, l.Path)
				assert.Equal(t, l.End.String(), o.Mappings[i].End, "mapping %d %s", i, l.Path)
			}

			// The text names the file placed and the note.
			code, text, errs := runWith(t, vars, "layout", "--exe", c.exe, "--no-aslr", "--clean-env", "--env", "PATH="+bin, "--cwd", dir)
			require.Equal(t, exitOK, code, errs)
			assert.Contains(t, text, maps+" (--exe "+c.exe+") on Linux")
		})
	}
}

// A script that cannot be followed says why and what to pass instead.
func TestLayoutScriptErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
		return p
	}
	prof := x86_64Profile(t)
	missing := write("a.py", "#!/nonexistent/python9\n")
	code, _, errs := runWith(t, nil, "layout", "--exe", missing, "--kernel", prof)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errs, `its #! line names the interpreter "/nonexistent/python9", which does not exist; the exec fails ("bad interpreter")`)

	env := write("env", "not run: only its name matters\n")
	unsplit := write("b.py", "#!"+env+" python3 -u\n")
	code, _, errs = runWith(t, nil, "layout", "--exe", unsplit, "--kernel", prof)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errs, "the kernel passes the rest of the #! line as one word")
	assert.Contains(t, errs, "pass --exe python3 --arg -u --arg "+unsplit)

	opt := write("c.py", "#!"+env+" -S --chdir=/ python3\n")
	code, _, errs = runWith(t, nil, "layout", "--exe", opt, "--kernel", prof)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errs, "pass the interpreter instead: --exe INTERPRETER --arg SCRIPT")
}

// The reserve document: the schema first, the program, the ranges
// checked, enums for what moves a mapping and how it is in the way, and
// the gate's verdict with the figure it compares.
func TestReserveDocument(t *testing.T) {
	exe := mapsProgram(t)
	args := []string{"reserve", "--exe", exe, "--preset", "tsan-x86_64-old", "--clean-env", "--mmap-rnd-bits", "32", "--json"}
	code, out, errs := runCmd(t, append(args, "--fail-above", "0.5")...)
	require.Equal(t, exitFailure, code, errs)
	assert.Contains(t, errs, "above --fail-above 50.00%")
	assert.True(t, strings.HasPrefix(out, "{\n  \"schema\": \"vasim/reserve/v1\",\n"), out[:60])
	var o struct {
		Program struct {
			Given, Path string
		} `json:"program"`
		Preset *struct {
			Name    string `json:"name"`
			Message string `json:"runtime_message"`
		} `json:"preset"`
		Free        []struct{ Name, Start, End string } `json:"free"`
		Allowed     []struct{ Name string }             `json:"allowed"`
		Bits        int                                 `json:"mmap_rnd_bits"`
		BitsFrom    string                              `json:"mmap_rnd_bits_from"`
		Probability float64                             `json:"probability"`
		Gate        *gateJSON                           `json:"gate"`
		Groups      []struct {
			MovedBy     string  `json:"moved_by"`
			Probability float64 `json:"probability"`
		} `json:"groups"`
		Culprits []struct {
			MovedBy  string `json:"moved_by"`
			Conflict string `json:"conflict"`
			Range    string `json:"range"`
		} `json:"culprits"`
		ByBits []struct {
			Bits int `json:"mmap_rnd_bits"`
		} `json:"by_mmap_rnd_bits"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	documented(t, out)
	assert.Equal(t, exe, o.Program.Path)
	require.NotNil(t, o.Preset)
	assert.Equal(t, "tsan-x86_64-old", o.Preset.Name)
	assert.Equal(t, "FATAL: ThreadSanitizer: unexpected memory mapping", o.Preset.Message)
	assert.Equal(t, "TSan shadow", o.Free[0].Name)
	assert.NotEmpty(t, o.Allowed)
	assert.Equal(t, 32, o.Bits)
	assert.Equal(t, "flag", o.BitsFrom)
	assert.Equal(t, &gateJSON{FailAbove: 0.5, Compares: "probability", Exceeded: true}, o.Gate)
	survive := 1.0
	for _, g := range o.Groups {
		assert.Contains(t, []string{"pie", "mmap", "stack", "none"}, g.MovedBy)
		survive *= 1 - g.Probability
	}
	assert.InDelta(t, o.Probability, 1-survive, 1e-12, "the draws are independent")
	require.NotEmpty(t, o.Culprits)
	for _, c := range o.Culprits {
		assert.Contains(t, []string{"pie", "mmap", "stack", "none"}, c.MovedBy)
		assert.Contains(t, []string{"overlaps", "outside-allowed"}, c.Conflict)
		assert.Equal(t, c.Conflict == "overlaps", c.Range != "", "only an overlap names a range")
	}
	assert.Equal(t, 28, o.ByBits[0].Bits)

	// Below the gate, and without it: no "gate".
	code, out, _ = runCmd(t, append(args, "--fail-above", "1")...)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, `"exceeded": false`)
	code, out, _ = runCmd(t, args...)
	assert.Equal(t, exitOK, code)
	assert.NotContains(t, out, `"gate"`)

	// The text says what was checked, how often it fails and by what.
	code, text, _ := runCmd(t, "reserve", "--exe", exe, "--preset", "tsan-x86_64-old", "--clean-env", "--mmap-rnd-bits", "32", "--fail-above", "0.5")
	assert.Equal(t, exitFailure, code)
	for _, want := range []string{
		"preset tsan-x86_64-old: ThreadSanitizer",
		"no mapping may overlap:",
		"At vm.mmap_rnd_bits 32 (--mmap-rnd-bits), ",
		"Such a launch stops with: FATAL: ThreadSanitizer: unexpected memory mapping",
		"--fail-above 50.00%: exceeded: exit status 1",
		"32    ", "← analysed above",
		"Launches start failing at mmap_rnd_bits 29.",
	} {
		assert.Contains(t, text, want)
	}
}

// The layout document: the schema first, the launch's ASLR state and
// draw as parts, what moves each image as an enum.
func TestLayoutDocument(t *testing.T) {
	exe := mapsProgram(t)
	code, out, errs := runCmd(t, "layout", "--exe", exe, "--clean-env", "--seed", "7", "--json")
	require.Equal(t, exitOK, code, errs)
	assert.True(t, strings.HasPrefix(out, "{\n  \"schema\": \"vasim/layout/v1\",\n"), out[:60])
	var o struct {
		ASLR  string    `json:"aslr"`
		Draw  *drawJSON `json:"draw"`
		Image []struct {
			Path    string `json:"path"`
			MovedBy string `json:"moved_by"`
		} `json:"images"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	documented(t, out)
	if o.ASLR == "off" {
		t.Skip("this machine's kernel does not randomise (kernel.randomize_va_space 0)")
	}
	require.NotNil(t, o.Draw)
	assert.Equal(t, "seed", o.Draw.Source)
	require.NotNil(t, o.Draw.Seed)
	assert.EqualValues(t, 7, *o.Draw.Seed)
	f, err := elf.Open(exe)
	require.NoError(t, err)
	defer f.Close()
	want := map[elf.Type]string{elf.ET_DYN: "pie", elf.ET_EXEC: "none"}[f.Type]
	assert.Equal(t, want, o.Image[0].MovedBy, "a PIE moves with the PIE draw, a fixed executable not at all")
	for _, img := range o.Image[1:] {
		if img.Path != "linux-vdso.so.1" {
			assert.Equal(t, "mmap", img.MovedBy, img.Path)
		}
	}

	code, out, _ = runCmd(t, "layout", "--exe", exe, "--clean-env", "--no-aslr", "--json")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, `"aslr": "off",`)
	assert.Contains(t, out, `"aslr_off_by": "no-aslr",`)
	assert.NotContains(t, out, `"draw"`)
}

// documented requires every field of a document and of its program to
// be named in vasim help json.
func documented(t *testing.T, doc string) {
	t.Helper()
	var o map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(doc), &o))
	var prog map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(o["program"], &prog))
	for _, m := range []map[string]json.RawMessage{o, prog} {
		for k := range m {
			assert.Contains(t, jsonHelp, k, "vasim help json does not name %q", k)
		}
	}
}

// The synopsis of layout and reserve names every flag, and each has a
// worked example whose lines say what they show.
func TestLinuxUsageListsEveryFlag(t *testing.T) {
	for _, name := range []string{"layout", "reserve"} {
		code, help, _ := runCmd(t, "help", name)
		require.Equal(t, exitOK, code)
		usage := commands[name].usage
		assert.Contains(t, help, "Usage: "+usage)
		flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(help, -1)
		require.NotEmpty(t, flags)
		for _, f := range flags {
			assert.Regexp(t, `--`+regexp.QuoteMeta(f[1])+`\b`, usage, "%s: --%s is not in the synopsis", name, f[1])
		}
		assert.NotContains(t, help, "(default -1)")
		require.NotEmpty(t, commands[name].example)
		for _, line := range strings.Split(commands[name].example, "\n") {
			assert.Regexp(t, `^vasim `+name+` .+  # \S`, line)
			assert.Contains(t, help, "  "+line)
		}
	}
}

// --env K=V replaces K from vasim's environment (getenv returns the
// first, so appending would not), and a #!/usr/bin/env line's changes
// come last.
func TestLaunchEnvironment(t *testing.T) {
	e := &env{environ: func() []string { return []string{"A=1", "PATH=/x", "B=2"} }}
	lf := launchFlags{envs: listFlag{"A=3", "C=4"}}
	assert.Equal(t, []string{"PATH=/x", "B=2", "A=3", "C=4"}, lf.environment(e))
	lf.cleanEnv = true
	assert.Equal(t, []string{"A=3", "C=4"}, lf.environment(e))
}

// lockedBuffer is a bytes.Buffer safe for a writer goroutine and a
// reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The stage line appears after its delay, is rewritten by each stage and
// cleared at the end; off a terminal there is none.
func TestStageLine(t *testing.T) {
	var w lockedBuffer
	p := newStageLine(&w, "reserve", 0)
	p.set("reading")
	require.Eventually(t, func() bool { return strings.Contains(w.String(), "vasim reserve: reading…") }, 10*time.Second, time.Millisecond)
	p.set("counting")
	p.stop()
	p.set("after the end")
	assert.True(t, strings.HasSuffix(w.String(), "\r\x1b[Kvasim reserve: reading…\r\x1b[Kvasim reserve: counting…\r\x1b[K"), "%q", w.String())

	var quiet *stageLine
	quiet.set("x")
	quiet.stop()
	assert.Nil(t, startStages(&env{stderr: &bytes.Buffer{}}, "layout", false), "not a terminal")

	// No line before the delay.
	var w2 lockedBuffer
	p = newStageLine(&w2, "layout", time.Hour)
	p.set("placing")
	p.stop()
	assert.Empty(t, w2.String())
}

// bigTLSLib builds a library whose 6000 bytes of initial-exec TLS do not
// fit in what glibc's start-up leaves of the static TLS block.
func bigTLSLib(t *testing.T, dir string) string {
	t.Helper()
	return objtest.Shared(t, dir, "libbigtls.so", `__thread char big[6000] __attribute__((tls_model("initial-exec"))) = {1};
int f(void) { return big[5999]; }
`)
}

// A dlopen that fails in the model (its initial-exec TLS does not fit,
// decided as vasim tls decides it) is a predicted failure: layout, reserve
// and tls pages print their result with the failure in it, without the
// library's mappings (glibc unmaps them), and exit 1; vasim tls agrees.
func TestFailedDlopenIsAPredictedFailure(t *testing.T) {
	exe := mapsProgram(t)
	lib := bigTLSLib(t, filepath.Dir(exe))
	type doc struct {
		Dlopen []struct {
			Name, Path, Outcome, Reason, Message string
		} `json:"dlopen"`
		Mappings []struct{ Path string } `json:"mappings"`
	}
	want := lib + ": cannot allocate memory in static TLS block"
	for _, cmd := range [][]string{
		{"layout", "--exe", exe, "--clean-env", "--dlopen", lib, "--dlopen", "libm.so.6"},
		{"reserve", "--exe", exe, "--clean-env", "--dlopen", lib, "--dlopen", "libm.so.6", "--preset", "tsan-x86_64"},
		{"tls", "pages", "--exe", exe, "--clean-env", "--dlopen", lib, "--dlopen", "libm.so.6"},
	} {
		name := strings.Join(cmd[:len(cmd)-8], " ")
		code, out, errs := runCmd(t, append(cmd, "--json")...)
		require.Equal(t, exitFailure, code, "%s: %s", name, errs)
		assert.Contains(t, errs, "predicted failure: dlopen "+lib+" fails: "+want, name)
		var o doc
		require.NoError(t, json.Unmarshal([]byte(out), &o), "%s: the result document, not an error document", name)
		documented(t, out)
		require.Len(t, o.Dlopen, 2, name)
		assert.Equal(t, "fails", o.Dlopen[0].Outcome, name)
		assert.Equal(t, "static-tls-exhausted", o.Dlopen[0].Reason, name)
		assert.Equal(t, want, o.Dlopen[0].Message, name)
		assert.Equal(t, "fits", o.Dlopen[1].Outcome, "%s: the program goes on after the failure", name)
		for _, m := range o.Mappings {
			assert.NotEqual(t, lib, m.Path, "%s: the failed dlopen's mapping is in the layout", name)
		}

		code, text, _ := runCmd(t, cmd...)
		assert.Equal(t, exitFailure, code, name)
		assert.Contains(t, text, "dlopen "+lib+": FAILS (static-tls-exhausted): "+want, name)
	}
	code, _, _ := runCmd(t, "tls", "--exe", exe, "--dlopen", lib)
	assert.Equal(t, exitFailure, code, "vasim tls says the same")
}

// python3.11 cannot dlopen libjemalloc.so.2 (the reviewer's case); where
// both are installed, layout says so as the real process does.
func TestLayoutPythonJemalloc(t *testing.T) {
	const python = "/usr/bin/python3.11"
	if _, err := os.Stat(python); err != nil || runtime.GOARCH != "amd64" {
		t.Skip("needs /usr/bin/python3.11 on x86_64")
	}
	real, err := exec.Command(python, "-c", `import ctypes
try:
    ctypes.CDLL("libjemalloc.so.2"); print("ok")
except OSError as e:
    print(e)`).Output()
	require.NoError(t, err)
	msg := strings.TrimSpace(string(real))
	if strings.Contains(msg, "cannot open shared object file") {
		t.Skip("libjemalloc.so.2 is not installed")
	}
	code, out, errs := runCmd(t, "layout", "--exe", python, "--dlopen", "libjemalloc.so.2", "--clean-env")
	if msg == "ok" {
		require.Equal(t, exitOK, code, errs)
		return
	}
	require.Equal(t, exitFailure, code, "the real dlopen fails: %s", msg)
	assert.Contains(t, out, "FAILS (static-tls-exhausted): "+msg)
	assert.Contains(t, errs, msg)
	code, out, _ = runCmd(t, "layout", "--exe", python, "--dlopen", "libjemalloc.so.2", "--clean-env", "--json")
	require.Equal(t, exitFailure, code)
	var o struct {
		Mappings []struct{ Path string } `json:"mappings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	for _, m := range o.Mappings {
		assert.NotContains(t, m.Path, "libjemalloc", "no mapping of the library")
	}
}

// The dlopen and launch errors that are bad input (exit 3) or a bad
// command line (exit 2), in layout, reserve and tls pages alike.
func TestLaunchInputErrors(t *testing.T) {
	exe := mapsProgram(t)
	dir := t.TempDir()
	prof := x86_64Profile(t)
	macho := filepath.Join(dir, "macho")
	require.NoError(t, os.WriteFile(macho, append([]byte{0xcf, 0xfa, 0xed, 0xfe, 0x07, 0, 0, 0x01}, make([]byte, 64)...), 0o755))
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--dlopen", "libvasim-typo.so.1"}, exitInput, "--dlopen libvasim-typo.so.1: not found (the real dlopen fails with \"libvasim-typo.so.1: cannot open shared object file: No such file or directory\"; searched "},
		{[]string{"--dlopen", filepath.Join(dir, "libnope.so")}, exitInput, "--dlopen " + filepath.Join(dir, "libnope.so") + ": not found"},
		{[]string{"--dlopen", dir}, exitInput, "--dlopen " + dir + ": not a shared library (the real dlopen fails with \"" + dir + ": cannot read file data: Is a directory\")"},
		{[]string{"--sysroot", filepath.Join(dir, "noroot")}, exitInput, "--sysroot " + filepath.Join(dir, "noroot") + ": no such directory"},
		{[]string{"--sysroot", dir}, exitInput, "--exe " + exe + ": does not exist under --sysroot " + dir + " (looked for " + filepath.Join(dir, exe) + ")"},
		{[]string{"--cwd", filepath.Join(dir, "nodir")}, exitInput, "--cwd " + filepath.Join(dir, "nodir") + ": no such directory"},
		{[]string{"--cwd", file}, exitInput, "--cwd " + file + ": a regular file, not a directory"},
		{[]string{"--stack-limit", "0"}, exitUsage, "--stack-limit 0: want a number of bytes, at least a page"},
		{[]string{"--stack-limit", "100"}, exitUsage, "--stack-limit 100: below a page (4096 bytes)"},
	} {
		for _, cmd := range [][]string{{"layout"}, {"reserve", "--preset", "tsan-x86_64"}, {"tls", "pages"}} {
			args := append(append(append(cmd, "--exe", exe, "--clean-env", "--kernel", prof), c.args...), "--json")
			code, out, errs := runCmd(t, args...)
			assert.Equal(t, c.code, code, "%q: %s", args, errs)
			assert.Contains(t, errs, c.msg, "%q", args)
			var doc errorJSON
			require.NoError(t, json.Unmarshal([]byte(out), &doc), "%q", args)
			assert.Equal(t, exitNames[c.code], doc.Kind, "%q", args)
		}
	}
	// A Mach-O program: the command that places one.
	code, _, errs := runCmd(t, "layout", "--exe", macho, "--kernel", prof)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errs, "is a Mach-O file (macOS), not an ELF program")
	assert.Contains(t, errs, "vasim xzone --exe "+macho)
	assert.NotContains(t, errs, "/bin/sh")

	// reserve's own flags.
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--preset", "tsan-x86_64", "--preset", "msan-x86_64"}, "--preset given 2 times (tsan-x86_64, msan-x86_64)"},
		{[]string{"--range", "garbage"}, `--range "garbage": want START-END in hex, like 0x600000000000-0x640000000000`},
	} {
		code, _, errs := runCmd(t, append([]string{"reserve", "--exe", exe, "--kernel", prof}, c.args...)...)
		assert.Equal(t, exitUsage, code, "%q", c.args)
		assert.Contains(t, errs, c.msg)
		assert.NotContains(t, errs, "none")
	}
	code, help, _ := runCmd(t, "help", "reserve")
	require.Equal(t, exitOK, code)
	assert.Contains(t, help, "[--preset NAME] [--range START-END]... [--allow START-END]...", "the synopsis: one preset, ranges repeatable")
}

// vasim tls --exe follows a name in PATH as layout does, and says so.
func TestTLSExeInPATH(t *testing.T) {
	exe := mapsProgram(t)
	dir := filepath.Dir(exe)
	code, out, errs := runWith(t, map[string]string{"PATH": dir}, "tls", "--exe", "maps")
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, "--exe maps: found in PATH as "+exe)
	assert.Contains(t, out, exe+" under glibc")
	code, out, errs = runWith(t, map[string]string{"PATH": dir}, "tls", "--exe", "maps", "--json")
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, `"exe": "`+exe+`"`)
	code, _, errs = runWith(t, map[string]string{"PATH": dir}, "tls", "--exe", "vasim-no-such-command")
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errs, "--exe vasim-no-such-command: not found in PATH ("+dir+")")
	code, _, errs = runWith(t, nil, "tls", "--exe", "/usr/bin/true", "--sysroot", filepath.Join(dir, "noroot"))
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errs, "--sysroot "+filepath.Join(dir, "noroot")+": no such directory")
	code, _, errs = runWith(t, nil, "tls", "--exe", "/usr/bin/true", "--sysroot", dir)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errs, "--exe /usr/bin/true: no such file under --sysroot "+dir)
}

// Argument strings beyond what the kernel allows for the stack limit fail
// the exec with E2BIG: a predicted failure (the real-kernel check is in
// package linux).
func TestLayoutArgumentListTooLong(t *testing.T) {
	exe := mapsProgram(t)
	args := []string{"layout", "--exe", exe, "--clean-env", "--no-aslr", "--stack-limit", "1048576"}
	for range 10 {
		args = append(args, "--arg", strings.Repeat("a", 100000))
	}
	code, _, errs := runCmd(t, args...)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "predicted failure: "+exe+": execve: Argument list too long (E2BIG)")
	assert.Contains(t, errs, "with a stack limit of 1048576 bytes (1 MiB) the kernel allows")
	code, _, errs = runCmd(t, append(args[:7], "--stack-limit", "unlimited")...)
	assert.Equal(t, exitOK, code, "with no stack limit the strings may take 6 MiB: %s", errs)
}

// With ASLR off (a kernel profile with randomize_va_space 0) reserve
// answers for the one layout, 0 or 1 with what is in the way, and layout
// says that --seed changes nothing.
func TestASLROff(t *testing.T) {
	exe := mapsProgram(t)
	prof := filepath.Join(t.TempDir(), "off.json")
	require.NoError(t, os.WriteFile(prof, []byte(`{"arch": "x86_64", "randomize_va_space": 0}`), 0o644))
	code, out, errs := runCmd(t, "layout", "--exe", exe, "--clean-env", "--kernel", prof, "--json")
	require.Equal(t, exitOK, code, errs)
	var l struct {
		Mappings []struct{ Start, End, Path string } `json:"mappings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &l))
	top := l.Mappings[len(l.Mappings)-2] // below [vsyscall]: the stack
	rng := top.Start + "-" + top.End

	code, out, errs = runCmd(t, "reserve", "--exe", exe, "--clean-env", "--kernel", prof, "--range", rng, "--json")
	require.Equal(t, exitOK, code, errs)
	var o struct {
		ASLR        string  `json:"aslr"`
		Probability float64 `json:"probability"`
		Culprits    []struct {
			Name string `json:"name"`
		} `json:"culprits"`
		Notes []string `json:"notes"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	documented(t, out)
	assert.Equal(t, "off", o.ASLR)
	assert.Equal(t, 1.0, o.Probability, "the stack is in the way of every launch")
	require.NotEmpty(t, o.Culprits)
	assert.Equal(t, "[stack]", o.Culprits[0].Name)
	assert.Contains(t, strings.Join(o.Notes, "\n"), "ASLR is off (kernel.randomize_va_space is 0)")
	code, text, _ := runCmd(t, "reserve", "--exe", exe, "--clean-env", "--kernel", prof, "--range", rng)
	require.Equal(t, exitOK, code)
	assert.Contains(t, text, "With ASLR off every launch fails (100%)")
	code, text, _ = runCmd(t, "reserve", "--exe", exe, "--clean-env", "--kernel", prof, "--range", "0x100000000000-0x200000000000")
	require.Equal(t, exitOK, code)
	assert.Contains(t, text, "With ASLR off no launch fails (0%)")

	code, text, _ = runCmd(t, "layout", "--exe", exe, "--clean-env", "--kernel", prof, "--seed", "7")
	require.Equal(t, exitOK, code)
	assert.Contains(t, text, "note: --seed 7 has no effect: ASLR is off (kernel.randomize_va_space is 0)")
}

// ld.so's malloc is reported piece by piece, each with its own range and
// ld.so as its owner.
func TestReserveCulpritsArePieces(t *testing.T) {
	exe := mapsProgram(t)
	code, out, errs := runCmd(t, "reserve", "--exe", exe, "--clean-env", "--preset", "tsan-x86_64", "--mmap-rnd-bits", "32", "--json")
	require.Equal(t, exitOK, code, errs)
	var o struct {
		Culprits []struct {
			Name, Owner, Start, End, Range string
		} `json:"culprits"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	n := 0
	seen := map[string]bool{}
	for _, c := range o.Culprits {
		if c.Name != "ld.so malloc" {
			continue
		}
		n++
		assert.Contains(t, c.Owner, "ld-linux", "ld.so owns its malloc's pieces")
		start, err := strconv.ParseUint(c.Start, 0, 64)
		require.NoError(t, err)
		end, err := strconv.ParseUint(c.End, 0, 64)
		require.NoError(t, err)
		assert.Less(t, end-start, uint64(1<<20), "a piece, not a span over the libraries: %s-%s", c.Start, c.End)
		key := c.Start + c.Range
		assert.False(t, seen[key], "one culprit per piece and range")
		seen[key] = true
	}
	require.NotZero(t, n, "ld.so's malloc is in the way at 32 bits")
	code, text, _ := runCmd(t, "reserve", "--exe", exe, "--clean-env", "--preset", "tsan-x86_64", "--mmap-rnd-bits", "32")
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `ld\.so malloc \(/\S*ld-linux\S*\) \[0x`, text)
}

// tls pages: a --probe without a sign is above the thread pointer
// ("tp+0x10"); the document's program is layout's, its ASLR state and the
// draw that moves the block are layout's enums.
func TestTLSPagesDocument(t *testing.T) {
	exe := mapsProgram(t)
	code, text, errs := runCmd(t, "tls", "pages", "--exe", exe, "--clean-env", "--no-aslr", "--probe", "0x10", "--probe", "-0x4018")
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, text, "covers tp+0x10")
	assert.Contains(t, text, "cover tp-0x4018")
	assert.NotContains(t, text, "tp0x10")

	code, out, errs := runCmd(t, "tls", "pages", "--exe", exe, "--clean-env", "--no-aslr", "--json")
	require.Equal(t, exitOK, code, errs)
	var o struct {
		Program struct {
			Given, Path string
		} `json:"program"`
		ASLR    string `json:"aslr"`
		MovedBy string `json:"moved_by"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	documented(t, out)
	assert.Equal(t, exe, o.Program.Path)
	assert.Equal(t, "off", o.ASLR)
	assert.Equal(t, "none", o.MovedBy)
	assert.NotContains(t, out, `"randomized"`)
	code, out, _ = runCmd(t, "tls", "pages", "--exe", exe, "--clean-env", "--seed", "3", "--json")
	require.Equal(t, exitOK, code)
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	if o.ASLR == "on" {
		assert.Equal(t, "mmap", o.MovedBy)
	}
}
