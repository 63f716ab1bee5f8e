// Command vasim predicts loader and allocator failures from a process's
// address-space layout before the program ships.
//
// Usage:
//
//	vasim <command> [flags]
//
// Run "vasim help" for the list of commands and "vasim help <command>" for
// one command's flags. All modelling lives in the vasim packages; this
// command only parses flags, calls them, and prints.
//
// Exit status, the same for every command ("vasim help exit"): 0 when it
// ran and predicts no failure past its gate; 1 when it predicts a failure
// (a dlopen that fails, a probability above --fail-above); 2 on a bad
// command line; 3 on bad input (a file or program not found, unreadable,
// malformed, or that the model cannot place).
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1 // the model predicts a failure, or a --fail-above gate was crossed
	exitUsage   = 2 // bad command line: unknown command or flag, a bad or conflicting flag value
	exitInput   = 3 // bad input: not found, unreadable, malformed, or not placeable by the model
)

// exitNames are the exit codes as JSON documents name them.
var exitNames = map[int]string{exitOK: "ok", exitFailure: "failure-predicted", exitUsage: "usage", exitInput: "input"}

// env is what a subcommand may touch of the outside world, so tests can run
// commands in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// environ lists the environment (nil: os.Environ).
	environ func() []string
}

// command is one subcommand. Each lives in its own file and registers
// itself from init.
type command struct {
	name    string
	summary string // one line for "vasim help"
	usage   string // the synopsis, printed by "vasim help NAME" before the flags
	example string // a worked example: command lines with what they show
	run     func(e *env, args []string) int
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("vasim: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, environ: os.Environ}
	os.Exit(run(e, os.Args[1:]))
}

func run(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "vasim: unknown command %q\n\n", name)
		usage(e.stderr)
		return exitUsage
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "vasim simulates a process's address space and dynamic loader to predict")
	fmt.Fprintln(w, "loader and allocator failures before a binary ships.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: vasim <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "vasim help <command>" for a command's flags.`)
}
