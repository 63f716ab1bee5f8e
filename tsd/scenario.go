package tsd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/vasim/vasim/internal/jsonkeys"
)

// TwoAddons is the napi-rs/mimalloc-safe PR #71 "Mode A" process: two
// Node addons, each statically linking mimalloc v3 with the given model,
// called from the main JavaScript thread, two libuv worker-pool threads
// and a thread-safe-function dispatcher thread.
func TwoAddons(m Model) Scenario {
	a, b := "addon-a.node", "addon-b.node"
	return Scenario{
		Name:     "two-napi-addons",
		Platform: MacOS,
		Instances: []Instance{
			{Name: a, Model: m, Slots: DefaultSlots, RecurseGuard: true},
			{Name: b, Model: m, Slots: DefaultSlots, RecurseGuard: true},
		},
		Schedule: []Step{
			{Thread: "main", Instance: a, Op: Malloc},
			{Thread: "main", Instance: b, Op: Malloc},
			{Thread: "uv-worker-1", Instance: a, Op: Malloc},
			{Thread: "uv-worker-1", Instance: b, Op: Malloc},
			{Thread: "uv-worker-2", Instance: b, Op: Malloc},
			{Thread: "uv-worker-2", Instance: a, Op: Malloc},
			{Thread: "tsfn-dispatcher", Instance: a, Op: Malloc},
			{Thread: "main", Instance: a, Op: Malloc},
		},
	}
}

// RayonAfterExit is PR #71's "Mode B" as the sources explain it: one
// addon with mimalloc in DynamicPthreads, a rayon worker still allocating
// after the instance's mi_process_done deleted its keys.
func RayonAfterExit() Scenario {
	a := "rolldown.node"
	return Scenario{
		Name:      "rayon-after-exit",
		Platform:  MacOS,
		Instances: []Instance{{Name: a, Model: DynamicPthreads}},
		Schedule: []Step{
			{Thread: "main", Instance: a, Op: Malloc},
			{Thread: "rayon-worker", Instance: a, Op: Malloc},
			{Thread: "main", Instance: a, Op: ProcessExit},
			{Thread: "rayon-worker", Instance: a, Op: Malloc},
		},
	}
}

// Scenarios are the built-in scenarios by name; each scenario's Name is
// the name it is listed under.
func Scenarios() map[string]func() Scenario {
	return map[string]func() Scenario{
		"two-napi-addons": func() Scenario { return TwoAddons(FixedSlot) },
		"two-napi-addons-thread-local": func() Scenario {
			sc := TwoAddons(ThreadLocal)
			sc.Name += "-thread-local"
			return sc
		},
		"rayon-after-exit": RayonAfterExit,
	}
}

// ScenarioNames lists the built-in scenarios.
func ScenarioNames() []string {
	var out []string
	for n := range Scenarios() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MaxScenarioBytes bounds a scenario document.
const MaxScenarioBytes = 4 << 20

type scenarioJSON struct {
	Name      string `json:"name"`
	Instances []struct {
		Name         string `json:"name"`
		Model        string `json:"model"`
		Slots        []int  `json:"slots"`
		RecurseGuard *bool  `json:"recurse_guard"`
		Override     bool   `json:"override"`
	} `json:"instances"`
	Schedule []struct {
		Thread   string `json:"thread"`
		Instance string `json:"instance"`
		Op       string `json:"op"`
	} `json:"schedule"`
}

// ParseScenario reads a scenario document:
//
//	{"instances": [{"name": "a.node", "model": "fixed-slot"}, ...],
//	 "schedule": [{"thread": "main", "instance": "a.node", "op": "malloc"}, ...]}
//
// with optional "slots" ([108, 109] by default), "recurse_guard" (true
// by default) and "override" per instance, and "op" defaulting to
// "malloc". The platform is MacOS. Errors name the source and field.
func ParseScenario(data []byte, source string) (Scenario, error) {
	fail := func(format string, args ...any) (Scenario, error) {
		return Scenario{}, fmt.Errorf("tsd: %s: "+format, append([]any{source}, args...)...)
	}
	if len(data) > MaxScenarioBytes {
		return fail("larger than %d bytes", MaxScenarioBytes)
	}
	if err := jsonkeys.Check(data); err != nil {
		return fail("%v", err)
	}
	var doc scenarioJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fail("%v", err)
	}
	sc := Scenario{Name: doc.Name, Platform: MacOS}
	if sc.Name == "" {
		sc.Name = source
	}
	for i, in := range doc.Instances {
		m, err := ParseModel(in.Model)
		if err != nil {
			return fail("instances[%d].model: %v", i, err)
		}
		inst := Instance{Name: in.Name, Model: m, Slots: DefaultSlots, RecurseGuard: true, Override: in.Override}
		if in.RecurseGuard != nil {
			inst.RecurseGuard = *in.RecurseGuard
		}
		if in.Slots != nil {
			if len(in.Slots) != 2 {
				return fail("instances[%d].slots: want two slots (default heap, cached heap), got %d", i, len(in.Slots))
			}
			inst.Slots = [2]int{in.Slots[0], in.Slots[1]}
		}
		sc.Instances = append(sc.Instances, inst)
	}
	for i, st := range doc.Schedule {
		op := Malloc
		if st.Op != "" {
			var err error
			if op, err = ParseOp(st.Op); err != nil {
				return fail("schedule[%d].op: %v", i, err)
			}
		}
		sc.Schedule = append(sc.Schedule, Step{Thread: st.Thread, Instance: st.Instance, Op: op})
	}
	if len(sc.Instances) == 0 {
		return fail("no instances")
	}
	if err := sc.Validate(); err != nil {
		return fail("%v", err)
	}
	return sc, nil
}
