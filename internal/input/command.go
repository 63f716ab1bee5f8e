package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Command resolution: from a command as a shell is given it to the ELF
// program the kernel maps for it. The rules are those of
//
//   - execvp(3) (POSIX; glibc posix/execvpe.c): a name without a slash is
//     looked for in each PATH entry in order, an empty entry meaning the
//     current directory, and the first regular file with execute
//     permission is run; with PATH unset the search path is _CS_PATH;
//   - the kernel's binfmt_script (Linux fs/binfmt_script.c, fs/exec.c): a
//     file starting with "#!" is run by starting the interpreter its first
//     line names, with the line's optional argument and the script's name
//     as arguments, and that interpreter may itself be a script, up to
//     MaxScriptDepth scripts in one execve;
//   - env(1) (GNU coreutils), for "#!/usr/bin/env NAME": env finds NAME in
//     PATH and execs it, a new execve; -S splits the rest of the line into
//     words, -i, -u NAME and NAME=VALUE change the environment first.
//
// The kernel's own checks at exec (execute permission of the interpreter,
// binfmt_misc handlers such as qemu-user or Wine) are not modelled.

// MaxScriptDepth is how many #! scripts the kernel follows in one
// execve(2) before it fails with ELOOP: fs/exec.c exec_binprm runs the
// binary handlers at depths 0 to 5, so five scripts and then an ELF
// program. Measured on Linux 6.18 x86_64: a chain of five scripts ending
// in /bin/echo runs, six fail with "Too many levels of symbolic links".
// (Kernels before 5.8 count the same way with BINPRM_MAX_RECURSION 4,
// checked before a script's depth is raised.)
const MaxScriptDepth = 5

// ScriptHeaderBytes is how much of a file the kernel reads to recognise
// it, and so the longest #! line it sees: BINPRM_BUF_SIZE, 256 bytes
// since Linux 5.1 (include/uapi/linux/binfmts.h; 128 before).
const ScriptHeaderBytes = 256

// DefaultPath is the search path execvp(3) uses when PATH is unset:
// glibc's _CS_PATH on Linux.
const DefaultPath = "/bin:/usr/bin"

// maxExecs bounds the execve calls one resolution follows (env(1)
// starting a script that starts env again, and so on): the real chain
// would never end.
const maxExecs = 8

// ErrNotProgram is the class of errors for a file that is neither an ELF
// program nor a #! script: the kernel refuses it (ENOEXEC).
var ErrNotProgram = errors.New("not an ELF program or a #! script")

// ErrMachO is the part of ErrNotProgram for a Mach-O file (a macOS or
// iOS program or library, thin or universal): the Linux kernel refuses it
// like any file that is not ELF, and no shell runs it either.
var ErrMachO = fmt.Errorf("%w: a Mach-O file", ErrNotProgram)

// ErrScript is the class of errors for a #! line the kernel or env(1)
// would not run, or that resolution does not follow.
var ErrScript = errors.New("cannot follow the #! line")

// CommandError says why a command cannot be followed to an ELF program.
// Its Err is the class: fs.ErrNotExist (a command, script or interpreter
// not found), fs.ErrPermission (found only without execute permission),
// ErrNotRegular, ErrNotProgram or ErrScript.
type CommandError struct {
	// Path is the file or name the error is about: the command, a script,
	// an interpreter.
	Path string
	// Msg says what is wrong and what the real exec would do.
	Msg string
	// Err is the class of the error.
	Err error
	// Instead, when not nil, is a command line (argv, program first) that
	// runs what the command would and that can be followed: the
	// interpreter with the script as its argument.
	Instead []string
}

func (e *CommandError) Error() string { return e.Path + ": " + e.Msg }

// Unwrap returns the class of the error.
func (e *CommandError) Unwrap() error { return e.Err }

// StepKind says how one step of a resolution went from a name to a file.
type StepKind string

// The steps of a resolution.
const (
	// StepPath is a name without a slash found in PATH (execvp, a shell).
	StepPath StepKind = "path-search"
	// StepScript is a #! script: the kernel runs the interpreter its first
	// line names (binfmt_script).
	StepScript StepKind = "script"
	// StepEnv is "#!/usr/bin/env NAME": env(1) looks NAME up in PATH and
	// execs it.
	StepEnv StepKind = "env"
)

// Step is one step from the command to the program placed.
type Step struct {
	Kind StepKind
	// Name is what was resolved: the command name (StepPath, StepEnv) or
	// the script's file (StepScript).
	Name string
	// File is what it led to: the file found (StepPath, StepEnv) or the
	// interpreter as the #! line names it (StepScript).
	File string
	// Arg is a #! line's optional argument, one string however many
	// words it has, as the kernel passes it (StepScript).
	Arg string
	// Dir is the PATH entry the name was found in (StepPath, StepEnv;
	// "" for the current directory).
	Dir string
}

// Command is a command as the kernel runs it: the ELF program it ends in
// and the execve(2) that starts that program.
type Command struct {
	// Given is the command as given.
	Given string
	// Path is the ELF program the kernel maps: the command's file, or the
	// last interpreter. It is a path in the Resolver's tree (under its
	// Root), relative paths taken in the caller's directory.
	Path string
	// Filename is the path the last execve(2) was called with, whose
	// string the kernel puts at the top of the new stack (AT_EXECFN); an
	// interpreter run for a script keeps the script's.
	Filename string
	// Argv is the argument vector the program starts with.
	Argv []string
	// ClearEnv, Unset and Set are what env(1) did to the environment on
	// the way ("#!/usr/bin/env -S -i NAME=VALUE ..."), to apply in that
	// order.
	ClearEnv bool
	Unset    []string
	Set      []string
	// Steps say how Given led to Path, in order; none for an ELF program
	// given by its path.
	Steps []Step
}

// Scripts returns the #! scripts followed, in order.
func (c *Command) Scripts() []Step {
	var out []Step
	for _, s := range c.Steps {
		if s.Kind == StepScript {
			out = append(out, s)
		}
	}
	return out
}

// Resolver resolves commands in one file tree and environment.
type Resolver struct {
	// PATH is the search path for a command name without a slash, as
	// the PATH environment variable holds it; "" means unset
	// (DefaultPath).
	PATH string
	// EnvPATH is the PATH of the started program's environment, where
	// env(1) looks for the command of a "#!/usr/bin/env NAME" line; ""
	// means unset.
	EnvPATH string
	// Root is the directory absolute paths are taken under, as a sysroot
	// ("" for /).
	Root string
	// Dir is the working directory of the process started: the kernel
	// opens a relative interpreter, and env(1) searches a relative PATH
	// entry, in it ("" for the caller's). The command itself is resolved
	// in the caller's directory, as the caller's shell would.
	Dir string
}

// at returns the host path of p, named in directory dir ("" for the
// caller's): under Root when absolute.
func (r Resolver) at(p, dir string) string {
	if !filepath.IsAbs(p) && dir != "" {
		p = filepath.Join(dir, p)
	}
	if filepath.IsAbs(p) && r.Root != "" {
		return filepath.Join(r.Root, p)
	}
	return p
}

// inTree returns p as a path in the tree, absolute when dir is given.
func inTree(p, dir string) string {
	if !filepath.IsAbs(p) && dir != "" {
		return filepath.Join(dir, p)
	}
	return p
}

// Resolve follows the command name, run with the arguments args (after
// argv[0]), to the ELF program the kernel maps. A name without a slash is
// looked for in PATH; #! scripts are followed to their interpreters, and
// "#!/usr/bin/env NAME" to NAME in PATH. Errors are *CommandError values.
func (r Resolver) Resolve(name string, args []string) (*Command, error) {
	c, err := r.follow(name, args, MaxScriptDepth)
	var ce *CommandError
	if errors.As(err, &ce) && ce.Msg == deepMsg {
		var parts []string
		for _, s := range c.Scripts() {
			parts = append(parts, s.Name)
		}
		ce.Msg = fmt.Sprintf("more than %d #! scripts in one exec (%s → %s): the kernel fails it with ELOOP (\"Too many levels of symbolic links\")", MaxScriptDepth, strings.Join(parts, " → "), ce.Path)
		ce.Path = name
		// Follow the chain past the kernel's limit to say what could be
		// placed instead.
		if deep, err := r.follow(name, args, 8*MaxScriptDepth); err == nil {
			ce.Instead = append([]string{deep.Path}, deep.Argv[1:]...)
		}
	}
	return c, err
}

// deepMsg marks the error for a chain deeper than follow's limit.
const deepMsg = "too deep"

// follow is Resolve with at most depth scripts per execve. On an error it
// returns the command as far as it was followed.
func (r Resolver) follow(name string, args []string, depth int) (*Command, error) {
	c := &Command{Given: name}
	if name == "" {
		return c, &CommandError{Path: `""`, Msg: "an empty command name", Err: fs.ErrNotExist}
	}
	// envPath is the PATH env(1) searches, as earlier env runs left it.
	envPath := r.EnvPATH
	// file is the name the current file was opened under and dir the
	// directory it is relative to; filename and argv are those of the
	// current execve.
	file, dir := name, ""
	if !strings.Contains(name, "/") {
		found, entry, err := r.lookPath(name, r.PATH, "")
		if err != nil {
			return c, err
		}
		c.Steps = append(c.Steps, Step{Kind: StepPath, Name: name, File: found, Dir: entry})
		file = found
	}
	filename := file
	argv := append([]string{name}, args...)
	scripts, execs := 0, 1
	for {
		hdr, err := r.header(file, dir)
		if err != nil {
			return c, err
		}
		if bytes.HasPrefix(hdr, []byte("\x7fELF")) {
			c.Path, c.Filename, c.Argv = inTree(file, dir), filename, argv
			return c, nil
		}
		if !bytes.HasPrefix(hdr, []byte("#!")) {
			if what := machO(hdr); what != "" {
				msg := "is " + what + ", not an ELF program: the Linux kernel refuses it (ENOEXEC)"
				if scripts > 0 {
					msg = fmt.Sprintf("the interpreter of %s %s", c.Steps[len(c.Steps)-1].Name, msg)
				}
				return c, &CommandError{Path: file, Msg: msg, Err: ErrMachO}
			}
			if scripts > 0 {
				return c, &CommandError{Path: file, Msg: fmt.Sprintf("the interpreter of %s %s: the kernel refuses the exec (ENOEXEC)", c.Steps[len(c.Steps)-1].Name, describe(hdr)), Err: ErrNotProgram}
			}
			// A shell runs such a file as a shell script itself (bash in
			// a subshell), execvp(3) with /bin/sh.
			msg := describe(hdr) + ": the kernel refuses it (ENOEXEC); a shell runs it as a shell script"
			return c, &CommandError{Path: file, Msg: msg, Err: ErrNotProgram, Instead: append([]string{"/bin/sh", filename}, argv[1:]...)}
		}
		if scripts == depth {
			return c, &CommandError{Path: inTree(file, dir), Msg: deepMsg, Err: ErrScript}
		}
		interp, arg, err := parseShebang(hdr)
		if err != nil {
			return c, &CommandError{Path: file, Msg: err.Error(), Err: ErrScript}
		}
		scripts++
		c.Steps = append(c.Steps, Step{Kind: StepScript, Name: inTree(file, dir), File: interp, Arg: arg})
		// The kernel replaces argv[0] by the name the script was opened
		// under, and puts the interpreter and its argument before it.
		next := []string{interp}
		if arg != "" {
			next = append(next, arg)
		}
		argv = append(append(next, file), argv[1:]...)
		file, dir = interp, r.Dir
		if _, err := Regular(r.at(file, dir)); err != nil {
			msg := fmt.Sprintf("its #! line names the interpreter %q, which %s", interp, notThere(err))
			if strings.HasSuffix(interp, "\r") {
				msg += " (the line ends in a carriage return: the file has DOS line endings)"
			}
			cls := fs.ErrNotExist
			if errors.Is(err, ErrNotRegular) {
				cls = ErrNotRegular
			}
			return c, &CommandError{Path: c.Steps[len(c.Steps)-1].Name, Msg: msg + `; the exec fails ("bad interpreter")`, Err: cls}
		}
		if filepath.Base(interp) != "env" {
			continue
		}
		// env(1) runs the command its arguments name: a new execve.
		if execs == maxExecs {
			return c, &CommandError{Path: filename, Msg: fmt.Sprintf("more than %d execs through env(1): the scripts start each other without end", maxExecs), Err: ErrScript}
		}
		cmd, cmdArgs, err := envCommand(c, arg, &envPath)
		if err != nil {
			ce := &CommandError{Path: c.Steps[len(c.Steps)-1].Name, Msg: err.Error(), Err: ErrScript}
			if words := strings.Fields(arg); len(words) > 1 && !strings.HasPrefix(arg, "-") {
				ce.Instead = append(words, argv[2:]...)
			}
			return c, ce
		}
		found, entry := cmd, ""
		if !strings.Contains(cmd, "/") {
			if found, entry, err = r.lookPath(cmd, envPath, r.Dir); err != nil {
				var ce *CommandError
				if errors.As(err, &ce) {
					ce.Msg = fmt.Sprintf("%s, where env(1) looks for the command of %s's #! line", ce.Msg, c.Steps[len(c.Steps)-1].Name)
				}
				return c, err
			}
		}
		c.Steps = append(c.Steps, Step{Kind: StepEnv, Name: cmd, File: found, Dir: entry})
		// env's argv is [env, arg, script, args...]: it execs the
		// command with the words after it and what follows arg.
		argv = append(append([]string{cmd}, cmdArgs...), argv[2:]...)
		file, filename, dir = found, found, r.Dir
		scripts = 0
		execs++
	}
}

// envCommand reads env(1)'s arguments from a #! line's argument: the
// command to run and its arguments from the line. It records env's
// changes to the environment in c and to the search path in path.
func envCommand(c *Command, arg string, path *string) (string, []string, error) {
	if arg == "" {
		return "", nil, errors.New("#!/usr/bin/env names no command (env would print the environment)")
	}
	words := []string{arg}
	switch {
	case strings.HasPrefix(arg, "-S"), strings.HasPrefix(arg, "--split-string"):
		rest := strings.TrimPrefix(strings.TrimPrefix(arg, "--split-string"), "-S")
		rest = strings.TrimPrefix(rest, "=")
		words = strings.Fields(rest)
		if strings.ContainsAny(rest, `"'\$`) {
			return "", nil, fmt.Errorf("env -S %q: quotes, escapes and ${VAR} in a split string are not followed", rest)
		}
	case strings.HasPrefix(arg, "-"):
		return "", nil, fmt.Errorf("env receives %q as one argument (the kernel passes the rest of the #! line as one), an option the model does not follow", arg)
	case strings.ContainsAny(arg, " \t"):
		return "", nil, fmt.Errorf("env receives %q as one argument (the kernel passes the rest of the #! line as one word) and finds no command of that name: the script does not start; #!/usr/bin/env -S splits it", arg)
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-i" || w == "-" || w == "--ignore-environment":
			c.ClearEnv = true
			*path = ""
		case w == "-u" || w == "--unset":
			if i+1 == len(words) {
				return "", nil, fmt.Errorf("env %s: no variable named", w)
			}
			i++
			c.Unset = append(c.Unset, words[i])
			if words[i] == "PATH" {
				*path = ""
			}
		case strings.HasPrefix(w, "--unset="):
			c.Unset = append(c.Unset, strings.TrimPrefix(w, "--unset="))
		case strings.HasPrefix(w, "-"):
			return "", nil, fmt.Errorf("env option %s is not followed (only -S, -i and -u)", w)
		case strings.Contains(w, "="):
			c.Set = append(c.Set, w)
			if v, ok := strings.CutPrefix(w, "PATH="); ok {
				*path = v
			}
		default:
			return w, words[i+1:], nil
		}
	}
	return "", nil, fmt.Errorf("env %s names no command (env would print the environment)", arg)
}

// lookPath searches PATH (path; "" means DefaultPath) for name as
// execvp(3) does: entry + "/" + name, an empty entry meaning name itself
// in dir; the first regular file with an execute bit set. It returns the
// file's name as execvp builds it and the entry.
func (r Resolver) lookPath(name, path, dir string) (string, string, error) {
	shown := path
	if path == "" {
		path, shown = DefaultPath, DefaultPath+", execvp's default with PATH unset"
	}
	var denied string
	for _, entry := range strings.Split(path, ":") {
		cand := name
		if entry != "" {
			cand = entry + "/" + name
		}
		fi, err := os.Stat(r.at(cand, dir))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if fi.Mode().Perm()&0o111 == 0 {
			if denied == "" {
				denied = cand
			}
			continue
		}
		return cand, entry, nil
	}
	where := "PATH (" + shown + ")"
	if r.Root != "" {
		where += " under " + r.Root
	}
	if denied != "" {
		return "", "", &CommandError{Path: name, Msg: fmt.Sprintf("not found in %s but as %s, which has no execute permission", where, denied), Err: fs.ErrPermission}
	}
	return "", "", &CommandError{Path: name, Msg: "not found in " + where, Err: fs.ErrNotExist}
}

// header returns the first ScriptHeaderBytes of the regular file named
// file in dir, as the kernel reads them.
func (r Resolver) header(file, dir string) ([]byte, error) {
	f, err := Open(r.at(file, dir))
	if err != nil {
		cls := fs.ErrNotExist
		switch {
		case errors.Is(err, ErrNotRegular):
			cls = ErrNotRegular
		case errors.Is(err, fs.ErrPermission):
			cls = fs.ErrPermission
		}
		return nil, &CommandError{Path: file, Msg: notThere(err), Err: cls}
	}
	defer f.Close()
	buf := make([]byte, ScriptHeaderBytes)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, &CommandError{Path: file, Msg: err.Error(), Err: err}
	}
	return buf[:n], nil
}

// notThere says why a path cannot be used, without repeating it.
func notThere(err error) string {
	var k *kindError
	switch {
	case errors.As(err, &k):
		return k.Error()
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "cannot be read (permission denied)"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// machO says what kind of Mach-O file hdr starts (mach-o/loader.h
// MH_MAGIC, MH_MAGIC_64 and their byte swaps; mach-o/fat.h FAT_MAGIC and
// FAT_MAGIC_64), or "" for another file. A universal file's magic is also
// a Java class file's: a universal file has few architectures, a class
// file a major version of 45 or more in the same bytes (as file(1)
// tells them apart).
func machO(hdr []byte) string {
	if len(hdr) < 8 {
		return ""
	}
	be := uint32(hdr[0])<<24 | uint32(hdr[1])<<16 | uint32(hdr[2])<<8 | uint32(hdr[3])
	switch be {
	case 0xfeedface, 0xcefaedfe:
		return "a 32-bit Mach-O file (macOS)"
	case 0xfeedfacf, 0xcffaedfe:
		return "a Mach-O file (macOS)"
	case 0xcafebabe, 0xcafebabf:
		if n := uint32(hdr[4])<<24 | uint32(hdr[5])<<16 | uint32(hdr[6])<<8 | uint32(hdr[7]); n > 0 && n < 45 {
			return "a universal Mach-O file (macOS)"
		}
	}
	return ""
}

// describe says what a file that is not a program is.
func describe(hdr []byte) string {
	switch {
	case len(hdr) == 0:
		return "is empty"
	case len(hdr) < 4:
		return fmt.Sprintf("has %d bytes: not an ELF program or a #! script", len(hdr))
	}
	return fmt.Sprintf("starts with %q: not an ELF program (\\x7fELF) or a #! script", hdr[:4])
}

// parseShebang reads a #! line as the kernel does (fs/binfmt_script.c):
// hdr is the file's first ScriptHeaderBytes (fewer for a shorter file,
// whose buffer the kernel pads with NUL bytes). The interpreter is the
// first word after "#!" and any blanks (spaces, tabs); the argument is
// the rest of the line with its outer blanks taken off, as one string. A
// line longer than the buffer is cut, but only after the interpreter's
// name: a name that does not end inside the buffer is refused (ENOEXEC).
func parseShebang(hdr []byte) (interp, arg string, err error) {
	buf := make([]byte, ScriptHeaderBytes)
	copy(buf, hdr)
	blank := func(c byte) bool { return c == ' ' || c == '\t' }
	end := bytes.IndexByte(buf, '\n')
	if end < 0 {
		i := 2
		for i < len(buf) && blank(buf[i]) {
			i++
		}
		if i == len(buf) {
			return "", "", errors.New("its #! line holds only blanks: the kernel refuses it (ENOEXEC)")
		}
		if bytes.IndexAny(buf[i:], " \t\x00") < 0 {
			return "", "", fmt.Errorf("its #! line names an interpreter longer than the %d bytes the kernel reads: the kernel refuses it (ENOEXEC)", ScriptHeaderBytes)
		}
		end = len(buf) - 1
	}
	for end > 2 && blank(buf[end-1]) {
		end--
	}
	line := buf[2:end]
	i := 0
	for i < len(line) && blank(line[i]) {
		i++
	}
	line = line[i:]
	name := line
	if j := bytes.IndexAny(line, " \t\x00"); j >= 0 {
		name = line[:j]
		if line[j] != 0 {
			rest := bytes.TrimLeft(line[j:], " \t")
			if k := bytes.IndexByte(rest, 0); k >= 0 {
				rest = rest[:k]
			}
			arg = string(rest)
		}
	}
	if len(name) == 0 {
		return "", "", errors.New("its #! line names no interpreter")
	}
	return string(name), arg, nil
}
