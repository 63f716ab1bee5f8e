package main

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/tsd"
)

func init() {
	register(&command{
		name:    "tsd",
		summary: "where statically linked allocators (mimalloc) in one macOS process read each other's heap through shared TSD slots",
		usage:   "vasim tsd [--scenario NAME | --file FILE] [--model fixed-slot|dynamic-pthreads|thread-local] [--json]",
		example: `vasim tsd
    # two Node addons, each with its own mimalloc, on one thread: who reads whose heap (exit 1: it finds failures)
vasim tsd --scenario two-napi-addons-thread-local    # the same with thread-local heaps: no failure, exit 0
vasim tsd --scenario rayon-after-exit --model thread-local    # a scenario with every instance switched to one model
vasim tsd --file mine.json --json
    # CI: your own instances and schedule, a vasim/tsd/v1 document; exit 1 when an instance reads or overwrites
    # another's heap, malloc fails or recurses, or pthread keys run out; 3 when the file is missing or malformed`,
		run: runTSD,
	})
}

// tsdInstance is an allocator instance in the form of the --file
// document's "instances", so that a printed instance reads back.
type tsdInstance struct {
	Name  string `json:"name"`
	Model string `json:"model"`
	// Slots are the fixed slots (fixed-slot only); RecurseGuard is
	// MI_TLS_RECURSE_GUARD (thread-local only).
	Slots        []int `json:"slots,omitempty"`
	RecurseGuard *bool `json:"recurse_guard,omitempty"`
	Override     bool  `json:"override"`
}

type tsdEvent struct {
	// Kind is one of the keys of "counts" (tsd.EventKind.Code).
	Kind     string `json:"kind"`
	Step     int    `json:"step"`
	Thread   string `json:"thread"`
	Instance string `json:"instance"`
	Other    string `json:"other,omitempty"`
	Detail   string `json:"detail"`
	Failure  bool   `json:"failure"`
	// words is the kind as the text output says it ("guard held").
	words string
}

type tsdJSON struct {
	Schema    string        `json:"schema"`
	Scenario  string        `json:"scenario"`
	Platform  string        `json:"platform"`
	Instances []tsdInstance `json:"instances"`
	Threads   []string      `json:"threads"`
	Failures  int           `json:"failures"`
	// Counts has every kind's code as a key, 0 for kinds not seen.
	Counts   map[string]int `json:"counts"`
	Culprits []string       `json:"culprits"`
	Events   []tsdEvent     `json:"events"`
}

func runTSD(e *env, args []string) int {
	fs := newFlags(e, "tsd")
	name := fs.String("scenario", "two-napi-addons", "built-in scenario: "+strings.Join(tsd.ScenarioNames(), ", "))
	file := fs.String("file", "", "scenario JSON: {\"instances\": [{\"name\", \"model\"}], \"schedule\": [{\"thread\", \"instance\", \"op\"}]} (- reads standard input)")
	model := fs.String("model", "", "run every instance with this model instead: fixed-slot, dynamic-pthreads or thread-local")
	asJSON := fs.Bool("json", false, "print a vasim/tsd/v1 document (vasim help json)")
	r := reporter{e: e, name: "tsd"}
	if code, ok := parseArgs(fs, &r, args); !ok {
		return code
	}
	r.asJSON = *asJSON
	var m tsd.Model
	if *model != "" {
		var err error
		if m, err = tsd.ParseModel(*model); err != nil {
			return r.usage("--model: %v", err)
		}
	}
	var sc tsd.Scenario
	if *file != "" {
		if flagSet(fs, "scenario") {
			return r.usage("give --scenario or --file, not both")
		}
		data, err := input.ReadFile(*file, tsd.MaxScenarioBytes, "a TSD scenario")
		if errors.Is(err, iofs.ErrNotExist) {
			return r.input("--file %s: no such file", *file)
		} else if err != nil {
			return r.input("--file: %v", err)
		}
		if sc, err = tsd.ParseScenario(data, *file); err != nil {
			return r.input("%v", err)
		}
	} else {
		mk, ok := tsd.Scenarios()[*name]
		if !ok {
			return r.usage("--scenario %q: want one of %s", *name, strings.Join(tsd.ScenarioNames(), ", "))
		}
		sc = mk()
	}
	if *model != "" {
		for i := range sc.Instances {
			sc.Instances[i].Model = m
		}
	}
	events, err := tsd.Run(sc)
	if err != nil {
		return r.input("%v", err)
	}
	out := tsdJSON{Schema: schemaTSD, Scenario: sc.Name, Platform: sc.Platform.Name, Threads: sc.Threads(), Counts: map[string]int{},
		Instances: []tsdInstance{}, Culprits: append([]string{}, tsd.Culprits(events)...), Events: []tsdEvent{}}
	for _, k := range tsd.EventKinds() {
		out.Counts[k.Code()] = 0
	}
	for _, in := range sc.Instances {
		j := tsdInstance{Name: in.Name, Model: in.Model.String(), Override: in.Override}
		switch in.Model {
		case tsd.FixedSlot:
			j.Slots = in.Slots[:]
		case tsd.ThreadLocal:
			j.RecurseGuard = &in.RecurseGuard
		}
		out.Instances = append(out.Instances, j)
	}
	for _, ev := range events {
		out.Events = append(out.Events, tsdEvent{Kind: ev.Kind.Code(), words: ev.Kind.String(), Step: ev.Step, Thread: ev.Thread, Instance: ev.Instance, Other: ev.Other, Detail: ev.Detail, Failure: ev.Kind.Failure()})
		out.Counts[ev.Kind.Code()]++
		if ev.Kind.Failure() {
			out.Failures++
		}
	}
	if *asJSON {
		writeJSON(e.stdout, out)
	} else {
		printTSD(e.stdout, out)
	}
	if out.Failures > 0 {
		return exitFailure
	}
	return exitOK
}

func printTSD(w io.Writer, o tsdJSON) {
	var insts []string
	for _, in := range o.Instances {
		insts = append(insts, in.Name+" ("+in.Model+")")
	}
	fmt.Fprintf(w, "%s on %s: %s; threads %s\n", shown(o.Scenario), o.Platform, strings.Join(insts, ", "), strings.Join(o.Threads, ", "))
	for _, ev := range o.Events {
		at := "start-up"
		if ev.Step >= 0 {
			at = fmt.Sprintf("step %d", ev.Step)
		}
		fmt.Fprintf(w, "  %-10s %-16s %-22s %s\n", at, ev.Thread, ev.words, ev.Detail)
	}
	if o.Failures == 0 {
		fmt.Fprintln(w, "no instance reads another's heap pointer")
		return
	}
	what := "failures"
	if o.Failures == 1 {
		what = "failure"
	}
	fmt.Fprintf(w, "%d %s; instances involved: %s\n", o.Failures, what, strings.Join(o.Culprits, ", "))
}
