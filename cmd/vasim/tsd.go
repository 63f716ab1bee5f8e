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
		example: `vasim tsd    # two Node addons, each with its own mimalloc, on one thread: who reads whose heap
vasim tsd --scenario two-napi-addons --model thread-local   # the same with thread-local heaps: no failure
vasim tsd --file mine.json --json   # your own instances and schedule, as a vasim/tsd/v1 document`,
		run: runTSD,
	})
}

type tsdEvent struct {
	Kind     string `json:"kind"`
	Step     int    `json:"step"`
	Thread   string `json:"thread"`
	Instance string `json:"instance"`
	Other    string `json:"other,omitempty"`
	Detail   string `json:"detail"`
	Failure  bool   `json:"failure"`
}

type tsdJSON struct {
	Schema    string         `json:"schema"`
	Scenario  string         `json:"scenario"`
	Platform  string         `json:"platform"`
	Instances []string       `json:"instances"`
	Threads   []string       `json:"threads"`
	Failures  int            `json:"failures"`
	Counts    map[string]int `json:"counts"`
	Culprits  []string       `json:"culprits"`
	Events    []tsdEvent     `json:"events"`
}

func runTSD(e *env, args []string) int {
	fs := newFlags(e, "tsd")
	name := fs.String("scenario", "two-napi-addons", "built-in scenario: "+strings.Join(tsd.ScenarioNames(), ", "))
	file := fs.String("file", "", "scenario JSON: {\"instances\": [{\"name\", \"model\"}], \"schedule\": [{\"thread\", \"instance\", \"op\"}]} (- reads standard input)")
	model := fs.String("model", "", "run every instance with this model instead: fixed-slot, dynamic-pthreads or thread-local")
	asJSON := fs.Bool("json", false, "print a vasim/tsd/v1 document (vasim help json)")
	r := reporter{e: e, name: "tsd"}
	if code, ok := parseCmdFlags(fs, &r, args); !ok {
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
	out := tsdJSON{Schema: schemaTSD, Scenario: sc.Name, Platform: sc.Platform.Name, Threads: sc.Threads(), Counts: map[string]int{}, Culprits: tsd.Culprits(events)}
	for _, in := range sc.Instances {
		out.Instances = append(out.Instances, in.Name+" ("+in.Model.String()+")")
	}
	for _, ev := range events {
		out.Events = append(out.Events, tsdEvent{Kind: ev.Kind.String(), Step: ev.Step, Thread: ev.Thread, Instance: ev.Instance, Other: ev.Other, Detail: ev.Detail, Failure: ev.Kind.Failure()})
		out.Counts[ev.Kind.String()]++
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
	fmt.Fprintf(w, "%s on %s: %s; threads %s\n", shown(o.Scenario), o.Platform, strings.Join(o.Instances, ", "), strings.Join(o.Threads, ", "))
	for _, ev := range o.Events {
		at := "start-up"
		if ev.Step >= 0 {
			at = fmt.Sprintf("step %d", ev.Step)
		}
		fmt.Fprintf(w, "  %-10s %-16s %-22s %s\n", at, ev.Thread, ev.Kind, ev.Detail)
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
