package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
)

func init() {
	register(&command{
		name:    "help",
		summary: "show the commands, or one command's flags",
		usage:   "vasim help [command | json | exit]",
		example: `vasim help xzone      # the flags of vasim xzone, with an example
vasim help json       # the JSON every command prints under --json
vasim help exit       # what each exit status means`,
		run: runHelp,
	})
	register(&command{
		name:    "version",
		summary: "print the vasim version and the Go toolchain it was built with",
		usage:   "vasim version [--json]",
		example: `vasim version --json  # {"schema": "vasim/version/v1", "version": "...", "go": "go1.26..."}`,
		run:     runVersion,
	})
}

// subcommands documents commands that are run through another (vasim tls
// pages), for their -h.
var subcommands = map[string]*command{}

// docs returns the command (or subcommand) called name, or nil.
func docs(name string) *command {
	if c, ok := commands[name]; ok {
		return c
	}
	return subcommands[name]
}

// topics are help pages that are not commands.
var topics = map[string]string{
	"json": jsonHelp,
	"exit": exitHelp,
}

const exitHelp = `Exit status, the same for every command:

  0  ran, and predicts no failure past its gate (with no --fail-above, a
     probability is reported and the exit status is 0)
  1  failure predicted: a dlopen that fails (vasim tls, layout, reserve,
     tls pages), a program the kernel would not start (E2BIG), a
     probability above --fail-above (vasim xzone, vasim reserve), an
     allocator instance that reads another's heap or gets NULL (vasim tsd)
  2  bad command line: an unknown command or flag, a bad or conflicting
     flag value
  3  bad input: a file or program that is not found, unreadable or
     malformed, or that the model cannot place

In CI, gate on 1 and treat 2 and 3 as broken jobs: a mistyped path is 3,
never 1. Under --json every error is also printed on standard output as
{"schema": "vasim/error/v1", "command", "exit", "kind", "message"}.
`

const jsonHelp = `Every command prints one JSON document under --json. Its "schema" names
the command and the version of its form, e.g. "vasim/xzone/v1"; a field
is only ever added within a version, never renamed or given another
meaning. Addresses are hexadecimal strings ("0x401d04000"); sizes and
counts are numbers (sizes in bytes); ranges are {"start", "end"}, end
excluded; probabilities are numbers in [0, 1] with an exact fraction
beside them as a string ("probability_exact").

vasim/xzone/v1 (vasim xzone):
  input           {"kind": scenario|images|exe|layout|crash-report, "name",
                   "platform"} ("platform" is the macOS model's: macos-26, ...)
  profile         the libmalloc profile ("libmalloc-792.41.1")
  xzone           {"state": assumed|known|off, "why"}: every probability is
                  conditional on XZone being on for the process
  slots           the number of reservation slots (736)
  headline        which figure "probability" is: "aslr_on" or "aslr_off"
  probability     the headline figure; the gate compares it
  gate            {"fail_above", "exceeded"} when --fail-above is given
  aslr_off        the layout with both slides 0 (or as given): "probability",
                  "probability_exact", "colliding_slots", "colliding", "hits",
                  "culprits", "image_top", "headroom_bytes", "excess_bytes",
                  "launches", "id_cache_may_reach", "advice"
  aslr_on         every launch (absent with --aslr off or a given layout):
                  "probability", "probability_exact", "placement_draws",
                  "layouts" (the distinct layouts found; with two workers
                  one may be found twice, so it can differ between runs;
                  every probability is exact and does not),
                  "fewest_colliding", "most_colliding",
                  "colliding_distribution", "launches"
  depends         the answer under each alternative of the parameters no
                  published source fixes: "outcomes" [{"parameter", "value",
                  "aslr_off", "aslr_on"}], "aslr_off_range", "aslr_on_range",
                  "apart" (the shared region, reported on its own),
                  "most_moved_by"
  crash_report    for --crash-report: what the report says ("bug_type",
                  "os_version", "process", "exception", "termination",
                  "aborting_frame", "mentions_xzone", "images"),
                  "layout_collides" (whether its own layout makes a slot
                  collide) and "consistent" (whether that agrees with what
                  it reports)
  fix             for --fix: the dylibs to load with dlopen instead, and the
                  probability with them moved
  notes           sentences the text output prints

vasim/scenarios/v1: "scenarios" [{"name", "kind": xzone|tls, "platform",
  "description"}].

vasim/layout/v1 (vasim layout):
  program         the program placed: "given" (--exe), "path" (the ELF file:
                  a script's interpreter), "execfn" (the file name the last
                  execve got), "argv", "steps" [{"kind": path-search|script|
                  env, "name", "file", "arg", "path_entry"}], and what a
                  #!/usr/bin/env -S line did: "env_cleared", "env_unset",
                  "env_set"
  kernel          the kernel profile used (the form --kernel reads)
  aslr            on|off; "aslr_off_by": no-aslr|randomize_va_space
  draw            with ASLR on: "source" (zero|seed), "seed", and the draws
                  "mmap", "pie", "stack", "stack_align", "brk" (pages), "sp"
                  (bytes)
  mmap_base, stack, brk_start, thread_pointer, initial_tls_pages
  images          in dl_iterate_phdr order: "path", "file", "dlpi_name",
                  "load_bias", "start", "end", "moved_by": pie|mmap|stack|none
  mappings        as /proc/PID/maps: "start", "end", "perms", "offset", "path"
  dlopen          each --dlopen in order [{"name", "path", "outcome":
                  fits|fails, "reason", "message"}]; a failed one is
                  unmapped again, as glibc does, and exits 1
  svg             the --svg file written
  notes           sentences the text output prints

vasim/reserve/v1 (vasim reserve):
  program         as in vasim/layout/v1
  aslr            on|off (off: the one layout fails or not, 0 or 1)
  dlopen          as in vasim/layout/v1
  svg             the --svg file written
  preset          "name", "summary", "arch", "source", "runtime_message"
  free, allowed   the ranges checked [{"name", "start", "end"}]: no mapping
                  may overlap a free range, every mapping must lie in the
                  allowed ones
  mmap_rnd_bits   the value analysed; "mmap_rnd_bits_from": host|
                  kernel-profile|flag
  probability     the share of launches that fail there; the gate compares it
  gate            {"fail_above", "compares": "probability", "exceeded"} when
                  --fail-above is given
  groups          each random draw alone [{"moved_by", "probability",
                  "probability_exact"}]; they are independent: 1 − probability
                  is the product of their 1 − probability
  culprits        the mappings in the way, most often first: "name", "owner",
                  "start", "end" (at draw 0), "moved_by", "conflict":
                  overlaps|outside-allowed, "range" (the free range
                  overlapped), "probability", "probability_exact"
  by_mmap_rnd_bits  every value the architecture accepts: [{"mmap_rnd_bits",
                  "probability", "probability_exact"}]; "first_failing_bits"
  notes           sentences the text output prints

vasim/tls/v1 (vasim tls --exe):
  outcome         "fits" (the program starts and every dlopen succeeds) or
                  "fails" (exit 1)
  loader, arch, glibc_version, glibc_version_source, exe, tunables
  offset_from     "thread_pointer": every "offset" (the loader's own figure,
                  glibc's l_tls_offset) is a distance from the thread pointer
                  in "offset_direction": "below" (x86_64: the block starts at
                  tp - offset) or "above" (aarch64: tp + offset); every
                  "tp_offset" is the block's start minus tp, signed
  static_size     bytes per thread after start-up = static_used + surplus +
                  alignment_padding + tcb_size (x86_64; on aarch64 the 16-byte
                  TCB is inside static_used and tcb_size is 0); static_align
  free            surplus + alignment_padding: the room for libraries
                  dlopened later; optional_left of it may go to TLS-descriptor
                  blocks (glibc.rtld.optional_static_tls)
  startup_tls     [{"path", "tls_size", "tls_align", "offset", "tp_offset"}]
  start_failure   when the program does not start: "reason", "message", and
                  the fields of a failed dlopen's explanation below
  dlopen          in order: "path", "outcome": fits|fails, "reason" (a
                  failure's kind: static-tls-exhausted, alignment-too-large,
                  already-dynamic, not-found, not-an-object, undefined-symbol,
                  unsupported-relocation, dtv-surplus-exceeded,
                  initial-exec-to-dlopened-module, invalid-tls-segment),
                  "message" (the loader's text; "ok" and "error" say the
                  same), "tp_offset", "placed" [{"path", "offset",
                  "tp_offset", "bytes" = "block_size" + "padding",
                  "optional"}], "free_after"; for a failure "module",
                  "bytes_needed", "bytes_free", "bytes_short", "consumed_by",
                  "optional_static_tls" and "nns" (every value: "current",
                  "works_from" (every value from it up works), "also_works"
                  and "fails" ([lo, hi] ranges below it), "smallest",
                  "checked_up_to"), "fix_tunables", "fix_verified",
                  "preload_fixes", "notes", "explanation"
  warnings        what the loader would print without failing

vasim/tls-case/v1 (vasim tls --scenario, --case): "outcome", "case",
  "summary", "glibc", "arch", "start_error", the static block as in
  vasim/tls/v1 ("static_size", "static_align", "static_used", "surplus",
  "alignment_padding", "tcb_size", "optional_left", "free"; all 0 when
  the program does not start), "dlopens" [{"dlopen", "outcome", "reason",
  "message" ("ok" and "error" say the same), "need", "free", "short",
  "took", "free_after", "published_ok"}], "reproduces_report", "fixes"
  [{"name", "works", "reported_works", "source"}], "optional_static_tls"
  (as in vasim/tls/v1), "minimal_optional_static_tls" (the least working
  value; it may lie in a gap), "published", "notes".

vasim/tls-pages/v1 (vasim tls pages): "program" (as in vasim/layout/v1),
  "aslr": on|off, "moved_by": mmap|none (the draw that moves the block),
  "tp", "static_tls", "tcb", "allocation", "dtv", "dtv_page", "pages" (to
  share), "strategies" [{"name", "pages", "extra_pages", "missed_pages",
  "unmapped_pages", "covers" (by --probe offset), "one_call_error"}],
  "dlopen" [{"name", "path", "outcome": fits|fails, "reason", "message"}]
  (exit 1 when one fails), "notes".

vasim/tsd/v1 (vasim tsd): "scenario" (the name of the scenario run),
  "platform", "instances" [{"name", "model", "slots" (fixed-slot),
  "recurse_guard" (thread-local), "override"}] (the form --file reads),
  "threads", "failures" (exit 1 when any), "counts" (every kind, 0 when
  not seen: corruption, overwrite, recursion, malloc_returned_null and
  pthread_keys_exhausted are failures; guard_held and reserved_slot are
  not), "culprits", "events" [{"kind" (a key of "counts"), "step" (-1:
  start-up), "thread", "instance", "other", "detail", "failure"}]; empty
  lists are [].

vasim/version/v1: "version", "go".

vasim/error/v1: "command", "exit" (see vasim help exit), "kind"
  (usage|input), "message".
`

func runHelp(e *env, args []string) int {
	if len(args) == 2 {
		// "vasim help tls pages": a subcommand.
		if _, ok := subcommands[args[0]+" "+args[1]]; ok {
			commands[args[0]].run(&env{stdout: e.stdout, stderr: e.stdout, getenv: e.getenv}, []string{args[1], "-h"})
			return exitOK
		}
	}
	switch len(args) {
	case 0:
		usage(e.stdout)
		return exitOK
	case 1:
		switch args[0] {
		case "-h", "-help", "--help":
			args[0] = "help"
		}
		if args[0] == "help" {
			c := commands["help"]
			fmt.Fprintf(e.stdout, "Usage: %s\n\nShow the commands, one command's flags, or a topic (json, exit).\n\nExample:\n", c.usage)
			for _, line := range strings.Split(c.example, "\n") {
				fmt.Fprintln(e.stdout, "  "+line)
			}
			return exitOK
		}
		if t, ok := topics[args[0]]; ok {
			fmt.Fprint(e.stdout, t)
			return exitOK
		}
		c, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(e.stderr, "vasim help: unknown command or topic %q (topics: json, exit)\n", args[0])
			return exitUsage
		}
		// Every command parses its flags with newFlags; asking it for -h
		// prints the usage, the flags and the example.
		c.run(&env{stdout: e.stdout, stderr: e.stdout, getenv: e.getenv}, []string{"-h"})
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
	fs := newFlags(e, "version")
	asJSON := fs.Bool("json", false, "print a machine-readable result")
	r := reporter{e: e, name: "version"}
	if code, ok := parseArgs(fs, &r, args); !ok {
		return code
	}
	if *asJSON {
		v, goV := versionParts()
		writeJSON(e.stdout, struct {
			Schema  string `json:"schema"`
			Version string `json:"version"`
			Go      string `json:"go"`
		}{schemaVersion, v, goV})
		return exitOK
	}
	fmt.Fprintln(e.stdout, "vasim", version())
	return exitOK
}

// versionParts returns the module version (or VCS revision) and the Go
// toolchain.
func versionParts() (string, string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)", ""
	}
	v, _, _ := strings.Cut(version(), " "+bi.GoVersion)
	return v, bi.GoVersion
}

// The schema of each JSON document ("vasim help json").
const (
	schemaError     = "vasim/error/v1"
	schemaVersion   = "vasim/version/v1"
	schemaXZone     = "vasim/xzone/v1"
	schemaScenarios = "vasim/scenarios/v1"
	schemaLayout    = "vasim/layout/v1"
	schemaReserve   = "vasim/reserve/v1"
	schemaTLS       = "vasim/tls/v1"
	schemaTLSPages  = "vasim/tls-pages/v1"
	schemaTSD       = "vasim/tsd/v1"
)

// newFlags returns a flag set for a subcommand that writes its messages to
// e.stderr and reports errors instead of exiting.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("vasim "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		c := docs(name)
		if c == nil {
			fmt.Fprintf(w, "Usage: vasim %s [flags]\n\nFlags:\n", name)
			fs.PrintDefaults()
			return
		}
		fmt.Fprintf(w, "Usage: %s\n\n%s%s.\n", c.usage, strings.ToUpper(c.summary[:1]), c.summary[1:])
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
		if c.example != "" {
			fmt.Fprintln(w, "\nExample:")
			for _, line := range strings.Split(c.example, "\n") {
				fmt.Fprintln(w, "  "+line)
			}
		}
	}
	return fs
}

// parseArgs parses a command's flags. A bad command line is reported
// through r (under --json also as an error document, so --json is looked
// for before the flags are parsed) with the synopsis; -h prints the help.
func parseArgs(fs *flag.FlagSet, r *reporter, args []string) (int, bool) {
	r.asJSON = jsonAsked(args)
	out := fs.Output()
	var msg bytes.Buffer
	fs.SetOutput(&msg)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == flag.ErrHelp:
		// Asked for: the help is the output, as vasim help CMD prints it.
		io.Copy(r.e.stdout, &msg)
		return exitOK, false
	case err != nil:
		line, _, _ := strings.Cut(msg.String(), "\n")
		code := r.usage("%s", line)
		if c := docs(r.name); c != nil {
			fmt.Fprintf(out, "Usage: %s\n", c.usage)
		}
		fmt.Fprintf(out, "Run \"vasim help %s\" for every flag and an example.\n", r.name)
		return code, false
	case fs.NArg() > 0:
		if fs.Lookup("arg") != nil {
			return r.usage("unexpected argument %q: the program's own arguments go in --arg ARG, one each", fs.Arg(0)), false
		}
		return r.usage("unexpected argument %q: every input is a flag (vasim %s -h)", fs.Arg(0), r.name), false
	}
	return 0, true
}

// jsonAsked reports whether args turn --json on.
func jsonAsked(args []string) bool {
	on := false
	for _, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "json" {
			continue
		}
		on = true
		if hasVal {
			on, _ = strconv.ParseBool(val)
		}
	}
	return on
}

// usageErr returns a function that prints "vasim NAME: message" to
// e.stderr and returns exitUsage, for a command's bad flags.
func usageErr(e *env, name string) func(format string, a ...any) int {
	return reporter{e: e, name: name}.usage
}

// reporter reports one command's errors: a line on stderr, and under
// --json also an error document on stdout, so a pipeline reading the
// JSON sees why there is no result.
type reporter struct {
	e      *env
	name   string
	asJSON bool
}

// errorJSON is the document printed on stdout for an error under --json.
type errorJSON struct {
	Schema  string `json:"schema"`
	Command string `json:"command"`
	Exit    int    `json:"exit"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (r reporter) fail(code int, format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintf(r.e.stderr, "vasim %s: %s\n", r.name, msg)
	if r.asJSON {
		writeJSON(r.e.stdout, errorJSON{Schema: schemaError, Command: r.name, Exit: code, Kind: exitNames[code], Message: msg})
	}
	return code
}

// usage reports a bad command line (exit 2).
func (r reporter) usage(format string, a ...any) int { return r.fail(exitUsage, format, a...) }

// input reports bad input (exit 3).
func (r reporter) input(format string, a ...any) int { return r.fail(exitInput, format, a...) }

// writeJSON prints v as indented JSON, the form every --json flag uses.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
