package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

func init() {
	register(&command{
		name:    "help",
		summary: "show the commands, or one command's flags",
		usage:   "vasim help [command]",
		run:     runHelp,
	})
	register(&command{
		name:    "version",
		summary: "print the vasim version and the Go toolchain it was built with",
		usage:   "vasim version",
		run:     runVersion,
	})
}

func runHelp(e *env, args []string) int {
	switch len(args) {
	case 0:
		usage(e.stdout)
		return exitOK
	case 1:
		c, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(e.stderr, "vasim help: unknown command %q\n", args[0])
			return exitUsage
		}
		fmt.Fprintf(e.stdout, "Usage: %s\n\n%s.\n", c.usage, c.summary)
		// Every command parses its flags with newFlags; asking it for -h
		// prints them.
		if c.name != "help" && c.name != "version" {
			fmt.Fprintln(e.stdout)
			c.run(&env{stdout: e.stdout, stderr: e.stdout, getenv: e.getenv}, []string{"-h"})
		}
		return exitOK
	default:
		fmt.Fprintln(e.stderr, "vasim help: want at most one command name")
		return exitUsage
	}
}

// version is the module version for release builds; development builds
// report the VCS revision when the toolchain recorded one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			v = "(devel) " + s.Value
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v + " " + bi.GoVersion
}

func runVersion(e *env, args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(e.stderr, "vasim version: takes no arguments")
		return exitUsage
	}
	fmt.Fprintln(e.stdout, "vasim", version())
	return exitOK
}

// newFlags returns a flag set for a subcommand that writes its messages to
// e.stderr and reports errors instead of exiting.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("vasim "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseFlags parses args and maps -h and bad flags to an exit code; ok is
// false when the command should return code immediately.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}

// usageErr returns a function that prints "vasim NAME: message" to
// e.stderr and returns exitUsage, for a command's bad flags and input.
func usageErr(e *env, name string) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "vasim "+name+": "+format+"\n", a...)
		return exitUsage
	}
}

// writeJSON prints v as indented JSON, the form every --json flag uses.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
