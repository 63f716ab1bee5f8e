package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/tsd"
)

func init() {
	register(&command{
		name:    "tsd",
		summary: "macOS: where statically linked allocators (mimalloc) in one process read each other's heap through shared TSD slots",
		usage:   "vasim tsd [--scenario NAME | --file FILE] [--model fixed-slot|dynamic-pthreads|thread-local] [--json]",
		run:     runTSD,
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
	asJSON := fs.Bool("json", false, "print a machine-readable result")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	bad := usageErr(e, "tsd")
	var sc tsd.Scenario
	if *file != "" {
		data, err := input.ReadFile(*file, tsd.MaxScenarioBytes, "a TSD scenario")
		if err != nil {
			return bad("--file: %v", err)
		}
		if sc, err = tsd.ParseScenario(data, *file); err != nil {
			return bad("%v", err)
		}
	} else {
		mk, ok := tsd.Scenarios()[*name]
		if !ok {
			return bad("--scenario %q: want one of %s", *name, strings.Join(tsd.ScenarioNames(), ", "))
		}
		sc = mk()
	}
	if *model != "" {
		m, err := tsd.ParseModel(*model)
		if err != nil {
			return bad("--model: %v", err)
		}
		for i := range sc.Instances {
			sc.Instances[i].Model = m
		}
	}
	events, err := tsd.Run(sc)
	if err != nil {
		return bad("%v", err)
	}
	out := tsdJSON{Scenario: sc.Name, Platform: sc.Platform.Name, Threads: sc.Threads(), Counts: map[string]int{}, Culprits: tsd.Culprits(events)}
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
		if err := writeJSON(e.stdout, out); err != nil {
			return bad("%v", err)
		}
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
	fmt.Fprintf(w, "%d failures; instances involved: %s\n", o.Failures, strings.Join(o.Culprits, ", "))
}
