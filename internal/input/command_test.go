package input

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// elfStub writes a file that starts as an ELF program does: resolution
// reads no further than the magic.
func elfStub(t *testing.T, path string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 57)...), 0o755))
	return path
}

// script writes an executable file with the given content.
func script(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o755))
	return path
}

func commandError(t *testing.T, err error) *CommandError {
	t.Helper()
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	return ce
}

// A name without a slash is looked for in PATH in order, as execvp does:
// the first regular file with an execute bit wins; a directory or a file
// without one is passed over.
func TestResolvePATHSearch(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	require.NoError(t, os.MkdirAll(filepath.Join(a, "tool"), 0o755)) // a directory named tool
	elfStub(t, filepath.Join(b, "tool"))
	require.NoError(t, os.Chmod(filepath.Join(b, "tool"), 0o644)) // not executable
	elfStub(t, filepath.Join(c, "tool"))
	elfStub(t, filepath.Join(c, "other"))

	r := Resolver{PATH: a + ":" + b + ":" + c}
	cmd, err := r.Resolve("tool", []string{"-v"})
	require.NoError(t, err)
	assert.Equal(t, c+"/tool", cmd.Path)
	assert.Equal(t, c+"/tool", cmd.Filename, "execvp builds entry/name")
	assert.Equal(t, []string{"tool", "-v"}, cmd.Argv, "argv[0] is the name as typed")
	assert.Equal(t, []Step{{Kind: StepPath, Name: "tool", File: c + "/tool", Dir: c}}, cmd.Steps)

	_, err = Resolver{PATH: a + ":" + b}.resolve("tool")
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.Equal(t, "tool: not found in PATH ("+a+":"+b+") but as "+b+"/tool, which has no execute permission", err.Error())

	_, err = Resolver{PATH: a}.resolve("other")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, "other: not found in PATH ("+a+")", err.Error())

	// PATH unset: execvp's default.
	_, err = Resolver{}.resolve("vasim-no-such-command")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "PATH (/bin:/usr/bin, execvp's default with PATH unset)")

	// A name with a slash is not searched.
	_, err = Resolver{PATH: c}.resolve("./tool")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, "./tool: does not exist", err.Error())
}

// resolve is Resolve with no arguments.
func (r Resolver) resolve(name string) (*Command, error) { return r.Resolve(name, nil) }

// An empty PATH entry is the current directory: of the caller for the
// command, of the process started (Dir) for env(1).
func TestResolveEmptyPATHEntry(t *testing.T) {
	dir := t.TempDir()
	elfStub(t, filepath.Join(dir, "tool"))
	t.Chdir(dir)
	cmd, err := Resolver{PATH: "/nonexistent:"}.resolve("tool")
	require.NoError(t, err)
	assert.Equal(t, "tool", cmd.Path)
	assert.Equal(t, "", cmd.Steps[0].Dir)
}

// A #! script is placed as its interpreter: argv becomes the interpreter,
// the line's one argument, the script's name, then the arguments; the
// execve file name stays the script's.
func TestResolveScript(t *testing.T) {
	dir := t.TempDir()
	py := elfStub(t, filepath.Join(dir, "bin/python3"))
	s := script(t, filepath.Join(dir, "hello.py"), "#! \t"+py+"  -u -X dev \t\nprint('hi')\n")
	cmd, err := Resolver{}.Resolve(s, []string{"a", "b"})
	require.NoError(t, err)
	assert.Equal(t, py, cmd.Path)
	assert.Equal(t, s, cmd.Filename)
	assert.Equal(t, []string{py, "-u -X dev", s, "a", "b"}, cmd.Argv, "the rest of the line is one argument")
	assert.Equal(t, []Step{{Kind: StepScript, Name: s, File: py, Arg: "-u -X dev"}}, cmd.Steps)

	// Found in PATH, and nested: each interpreter replaces argv[0] by the
	// name it was opened under.
	inner := script(t, filepath.Join(dir, "bin/inner"), "#!"+py+"\n")
	script(t, filepath.Join(dir, "bin/outer"), "#!"+inner+" x\n")
	cmd, err = Resolver{PATH: filepath.Join(dir, "bin")}.Resolve("outer", []string{"arg"})
	require.NoError(t, err)
	outer := filepath.Join(dir, "bin") + "/outer"
	assert.Equal(t, py, cmd.Path)
	assert.Equal(t, outer, cmd.Filename)
	assert.Equal(t, []string{py, inner, "x", outer, "arg"}, cmd.Argv)
	require.Len(t, cmd.Scripts(), 2)
	assert.Equal(t, StepPath, cmd.Steps[0].Kind)
}

// "#!/usr/bin/env NAME" runs NAME from the started program's PATH, a new
// execve; -S splits the line, -i, -u and NAME=VALUE change the
// environment and the PATH env searches.
func TestResolveEnv(t *testing.T) {
	dir := t.TempDir()
	envBin := elfStub(t, filepath.Join(dir, "usr/bin/env"))
	bin := filepath.Join(dir, "bin")
	py := elfStub(t, filepath.Join(bin, "python3"))
	s := script(t, filepath.Join(dir, "s.py"), "#!"+envBin+" python3\n")
	r := Resolver{PATH: "/nonexistent", EnvPATH: bin}
	cmd, err := r.Resolve(s, []string{"a"})
	require.NoError(t, err)
	assert.Equal(t, py, cmd.Path)
	assert.Equal(t, bin+"/python3", cmd.Filename, "env's execvp starts a new execve")
	assert.Equal(t, []string{"python3", s, "a"}, cmd.Argv)
	assert.Equal(t, []Step{
		{Kind: StepScript, Name: s, File: envBin, Arg: "python3"},
		{Kind: StepEnv, Name: "python3", File: bin + "/python3", Dir: bin},
	}, cmd.Steps)

	// Not in the started program's PATH: say where env looked.
	_, err = Resolver{PATH: bin, EnvPATH: "/nonexistent"}.resolve(s)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, "python3: not found in PATH (/nonexistent), where env(1) looks for the command of "+s+"'s #! line", err.Error())

	// -S: words; -i clears the environment (and PATH), PATH=... sets it.
	s2 := script(t, filepath.Join(dir, "s2.py"), "#!"+envBin+" -S -i -u HOME PATH="+bin+" LC_ALL=C python3 -u -B\n")
	cmd, err = Resolver{EnvPATH: "/nonexistent"}.resolve(s2)
	require.NoError(t, err)
	assert.Equal(t, py, cmd.Path)
	assert.Equal(t, []string{"python3", "-u", "-B", s2}, cmd.Argv)
	assert.True(t, cmd.ClearEnv)
	assert.Equal(t, []string{"HOME"}, cmd.Unset)
	assert.Equal(t, []string{"PATH=" + bin, "LC_ALL=C"}, cmd.Set)

	// Without -S the kernel's one argument is one word to env: there is
	// no command "python3 -u", and the words are what to run instead.
	s3 := script(t, filepath.Join(dir, "s3.py"), "#!"+envBin+" python3 -u\n")
	_, err = Resolver{EnvPATH: bin}.Resolve(s3, []string{"a"})
	ce := commandError(t, err)
	assert.ErrorIs(t, err, ErrScript)
	assert.Contains(t, ce.Msg, `env receives "python3 -u" as one argument`)
	assert.Equal(t, []string{"python3", "-u", s3, "a"}, ce.Instead)

	for line, want := range map[string]string{
		"":                  "names no command",
		"-S -i":             "names no command",
		"-S --chdir=/ x":    "env option --chdir=/ is not followed",
		`-S python3 "a b"`:  "quotes, escapes and ${VAR}",
		"-i python3":        "an option the model does not follow",
		"-S -u":             "no variable named",
		"--split-string=-x": "env option -x is not followed",
	} {
		s := script(t, filepath.Join(dir, "bad.py"), "#!"+envBin+" "+line+"\n")
		_, err := Resolver{EnvPATH: bin}.resolve(s)
		assert.ErrorIs(t, err, ErrScript, "%q", line)
		assert.ErrorContains(t, err, want, "%q", line)
	}

	// env starting a script that starts env again, without end.
	loop := filepath.Join(dir, "loop")
	script(t, filepath.Join(loop, "again"), "#!"+envBin+" again\n")
	_, err = Resolver{EnvPATH: loop}.resolve(filepath.Join(loop, "again"))
	assert.ErrorIs(t, err, ErrScript)
	assert.ErrorContains(t, err, "more than 8 execs through env(1)")
}

// Up to MaxScriptDepth scripts in one execve are followed; one more is
// the kernel's ELOOP, and the error says what to place instead.
func TestResolveScriptDepth(t *testing.T) {
	dir := t.TempDir()
	prev := elfStub(t, filepath.Join(dir, "prog"))
	var chain []string
	for i := MaxScriptDepth + 1; i >= 1; i-- {
		prev = script(t, filepath.Join(dir, "s"+string(rune('0'+i))), "#!"+prev+"\n")
		chain = append([]string{prev}, chain...)
	}
	cmd, err := Resolver{}.Resolve(chain[1], nil)
	require.NoError(t, err, "five scripts run")
	assert.Len(t, cmd.Scripts(), MaxScriptDepth)

	_, err = Resolver{}.Resolve(chain[0], []string{"x"})
	ce := commandError(t, err)
	assert.ErrorIs(t, err, ErrScript)
	assert.Equal(t, chain[0], ce.Path)
	assert.Contains(t, ce.Msg, "more than 5 #! scripts in one exec ("+strings.Join(chain[:5], " → ")+" → "+chain[5]+")")
	assert.Contains(t, ce.Msg, "ELOOP")
	// Each script's interpreter put it before the arguments it was given.
	assert.Equal(t, []string{filepath.Join(dir, "prog"), chain[5], chain[4], chain[3], chain[2], chain[1], chain[0], "x"}, ce.Instead)

	// A script that names itself can never be placed.
	self := filepath.Join(dir, "self")
	script(t, self, "#!"+self+"\n")
	_, err = Resolver{}.resolve(self)
	ce = commandError(t, err)
	assert.Contains(t, ce.Msg, "ELOOP")
	assert.Nil(t, ce.Instead)
}

// What cannot be followed says what and where, and what would run.
func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	text := script(t, filepath.Join(dir, "text"), "echo hi\n")
	_, err := Resolver{}.Resolve(text, []string{"a"})
	ce := commandError(t, err)
	assert.ErrorIs(t, err, ErrNotProgram)
	assert.Equal(t, text+`: starts with "echo": not an ELF program (\x7fELF) or a #! script: the kernel refuses it (ENOEXEC); a shell runs it as a shell script`, err.Error())
	assert.Equal(t, []string{"/bin/sh", text, "a"}, ce.Instead)

	empty := script(t, filepath.Join(dir, "empty"), "")
	_, err = Resolver{}.resolve(empty)
	assert.ErrorIs(t, err, ErrNotProgram)
	assert.ErrorContains(t, err, "is empty")

	missing := script(t, filepath.Join(dir, "missing.py"), "#!/nonexistent/python9\n")
	_, err = Resolver{}.resolve(missing)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, missing+`: its #! line names the interpreter "/nonexistent/python9", which does not exist; the exec fails ("bad interpreter")`, err.Error())

	crlf := script(t, filepath.Join(dir, "dos.sh"), "#!/bin/sh\r\necho hi\r\n")
	_, err = Resolver{}.resolve(crlf)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, "DOS line endings")

	isDir := script(t, filepath.Join(dir, "d.sh"), "#!"+dir+"\n")
	_, err = Resolver{}.resolve(isDir)
	assert.ErrorIs(t, err, ErrNotRegular)
	assert.ErrorContains(t, err, "which is a directory, not a regular file")

	_, err = Resolver{}.resolve(dir)
	assert.ErrorIs(t, err, ErrNotRegular)

	notProg := script(t, filepath.Join(dir, "np.sh"), "#!"+text+"\n")
	_, err = Resolver{}.resolve(notProg)
	ce = commandError(t, err)
	assert.ErrorIs(t, err, ErrNotProgram)
	assert.Contains(t, ce.Msg, "the interpreter of "+notProg)
	assert.Nil(t, ce.Instead)

	_, err = Resolver{}.resolve("")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	long := script(t, filepath.Join(dir, "long"), "#!/"+strings.Repeat("x", 300)+"\n")
	_, err = Resolver{}.resolve(long)
	assert.ErrorIs(t, err, ErrScript)
	assert.ErrorContains(t, err, "longer than the 256 bytes the kernel reads")
}

// Under Root, absolute paths (the command, PATH entries, interpreters)
// are taken in the root; the paths reported are the tree's. Dir is where
// a relative interpreter is opened.
func TestResolveRootAndDir(t *testing.T) {
	root := t.TempDir()
	elfStub(t, filepath.Join(root, "usr/bin/python3"))
	script(t, filepath.Join(root, "opt/app/run"), "#!/usr/bin/python3\n")
	cmd, err := Resolver{Root: root, PATH: "/opt/app:/usr/bin"}.resolve("run")
	require.NoError(t, err)
	assert.Equal(t, "/usr/bin/python3", cmd.Path)
	assert.Equal(t, "/opt/app/run", cmd.Filename)

	work := t.TempDir()
	elfStub(t, filepath.Join(work, "tools/interp"))
	s := script(t, filepath.Join(t.TempDir(), "s"), "#!tools/interp\n")
	cmd, err = Resolver{Dir: work}.resolve(s)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(work, "tools/interp"), cmd.Path, "opened in the process's directory")
	assert.Equal(t, []string{"tools/interp", s}, cmd.Argv)
}

// The #! line as the kernel reads it: blanks are spaces and tabs, the
// argument is one string, a NUL ends the name or the argument, a line
// longer than the buffer is cut after the name.
func TestParseShebang(t *testing.T) {
	for _, c := range []struct {
		line, interp, arg, err string
	}{
		{"#!/bin/sh\n", "/bin/sh", "", ""},
		{"#!/bin/sh", "/bin/sh", "", ""},
		{"#! /bin/sh -e \n", "/bin/sh", "-e", ""},
		{"#!\t/bin/sh\t-e  -x\t\n", "/bin/sh", "-e  -x", ""},
		{"#!/bin/sh\x00-e\n", "/bin/sh", "", ""},
		{"#!/bin/sh -e\x00x\n", "/bin/sh", "-e", ""},
		{"#!/bin/sh\r\n", "/bin/sh\r", "", ""},
		{"#!\n", "", "", "names no interpreter"},
		{"#!   \t \n", "", "", "names no interpreter"},
		{"#!", "", "", "names no interpreter"},
		{"#!" + strings.Repeat(" ", 300), "", "", "only blanks"},
		{"#!/" + strings.Repeat("x", 253), "", "", "longer than the 256 bytes"},
		// 255 bytes: the padding NUL ends the name, the buffer's last
		// byte is not part of the line.
		{"#!/" + strings.Repeat("x", 252), "/" + strings.Repeat("x", 252), "", ""},
		{"#!/bin/sh " + strings.Repeat("y", 300), "/bin/sh", strings.Repeat("y", 256-2-8-1), ""},
	} {
		hdr := []byte(c.line)
		if len(hdr) > ScriptHeaderBytes {
			hdr = hdr[:ScriptHeaderBytes]
		}
		interp, arg, err := parseShebang(hdr)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, "%q", c.line)
			continue
		}
		require.NoError(t, err, "%q", c.line)
		assert.Equal(t, c.interp, interp, "%q", c.line)
		assert.Equal(t, c.arg, arg, "%q", c.line)
	}
}

// A Mach-O file (thin, byte-swapped or universal) is named as one, with
// no shell offered to run it; a Java class file, whose magic a universal
// file shares, is not taken for one.
func TestResolveMachO(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, hdr []byte) string {
		return script(t, filepath.Join(dir, name), string(append(hdr, make([]byte, 64)...)))
	}
	for name, c := range map[string]struct {
		hdr  []byte
		what string
	}{
		"thin64":    {[]byte{0xcf, 0xfa, 0xed, 0xfe, 0x07, 0, 0, 0x01}, "is a Mach-O file (macOS)"},
		"thin32":    {[]byte{0xce, 0xfa, 0xed, 0xfe, 0x07, 0, 0, 0}, "is a 32-bit Mach-O file (macOS)"},
		"universal": {[]byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2}, "is a universal Mach-O file (macOS)"},
	} {
		p := write(name, c.hdr)
		_, err := Resolver{}.resolve(p)
		ce := commandError(t, err)
		assert.ErrorIs(t, err, ErrMachO, name)
		assert.ErrorIs(t, err, ErrNotProgram, name)
		assert.Equal(t, p, ce.Path)
		assert.Equal(t, c.what+", not an ELF program: the Linux kernel refuses it (ENOEXEC)", ce.Msg, name)
		assert.Nil(t, ce.Instead, "%s: no shell runs a Mach-O file", name)
	}
	class := write("Main.class", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61})
	_, err := Resolver{}.resolve(class)
	assert.ErrorIs(t, err, ErrNotProgram)
	assert.NotErrorIs(t, err, ErrMachO, "a Java class file")

	// As a script's interpreter.
	s := script(t, filepath.Join(dir, "run.sh"), "#!"+filepath.Join(dir, "thin64")+"\n")
	_, err = Resolver{}.resolve(s)
	assert.ErrorIs(t, err, ErrMachO)
	assert.Contains(t, err.Error(), "the interpreter of "+s+" is a Mach-O file (macOS)")
}
