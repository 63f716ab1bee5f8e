package tsd

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func kinds(es []Event) map[EventKind]int { return Summary(es) }

// The PR's Mode A: under FIXED_SLOT the second addon adopts the first's
// heap on threads where the first got there first, and its constructor
// overwrites the first's pointer on the main thread.
func TestFixedSlotCorruptsAcrossAddons(t *testing.T) {
	es, err := Run(TwoAddons(FixedSlot))
	require.NoError(t, err)
	k := kinds(es)
	require.Positive(t, k[Corruption])
	require.Positive(t, k[Overwrite])
	// Every thread two addons run on is affected.
	threads := map[string]bool{}
	for _, e := range es {
		if e.Kind.Failure() {
			threads[e.Thread] = true
		}
	}
	for _, th := range []string{"main", "uv-worker-1", "uv-worker-2"} {
		require.True(t, threads[th], "thread %s: %v", th, es)
	}
	require.False(t, threads["tsfn-dispatcher"], "only one addon runs on the dispatcher")
	require.Equal(t, []string{"addon-a.node", "addon-b.node"}, Culprits(es))
	// The slots are Swift's reserved ones.
	require.Equal(t, 2*2, k[ReservedSlot])
}

// THREAD_LOCAL (what the PR switches to) keeps each instance in its own
// dyld storage: no corruption, no overwrite; without override no
// recursion either.
func TestThreadLocalIsolatesAddons(t *testing.T) {
	es, err := Run(TwoAddons(ThreadLocal))
	require.NoError(t, err)
	for _, e := range es {
		require.False(t, e.Kind.Failure(), "%v", e)
	}
	es, err = Run(TwoAddons(DynamicPthreads))
	require.NoError(t, err)
	for _, e := range es {
		require.False(t, e.Kind.Failure(), "%v", e)
	}
}

// Mode B as the sources explain it: DYNAMIC_PTHREADS deletes its keys in
// mi_process_done; a worker still allocating gets NULL.
func TestDynamicPthreadsAfterProcessDone(t *testing.T) {
	es, err := Run(RayonAfterExit())
	require.NoError(t, err)
	require.Equal(t, 1, kinds(es)[NullMalloc])
	require.Equal(t, 3, es[len(es)-1].Step)
}

// An overriding THREAD_LOCAL instance re-enters itself from dyld's
// first-touch malloc; the guard holds only until its process init.
func TestOverrideRecursion(t *testing.T) {
	sc := Scenario{Platform: MacOS, Instances: []Instance{{Name: "app", Model: ThreadLocal, Override: true, RecurseGuard: true}},
		Schedule: []Step{{Thread: "worker", Instance: "app"}}}
	es, err := Run(sc)
	require.NoError(t, err)
	require.Positive(t, kinds(es)[Recursion])
	sc.Instances[0].Model = FixedSlot
	sc.Instances[0].Slots = DefaultSlots
	es, err = Run(sc)
	require.NoError(t, err)
	require.Zero(t, kinds(es)[Recursion], "a fixed slot needs no thread-local storage")
}

// Keys run out after 512 dynamic keys: 170 DYNAMIC_PTHREADS instances
// (one dyld key and three of their own each) exhaust them.
func TestKeysExhausted(t *testing.T) {
	sc := Scenario{Platform: MacOS}
	for i := 0; i < 130; i++ {
		sc.Instances = append(sc.Instances, Instance{Name: "lib" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Model: DynamicPthreads})
	}
	es, err := Run(sc)
	require.NoError(t, err)
	require.Positive(t, kinds(es)[KeysExhausted])
}

// With a single instance nothing can go wrong in any model but the
// key-deletion case, whatever the schedule: a property over random
// schedules.
func TestSingleInstanceNeverCorrupts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := Model(rapid.IntRange(0, 2).Draw(t, "model"))
		sc := Scenario{Platform: MacOS, Instances: []Instance{{Name: "x", Model: m, Slots: DefaultSlots, RecurseGuard: true}}}
		n := rapid.IntRange(0, 30).Draw(t, "steps")
		for range n {
			th := rapid.SampledFrom([]string{"main", "t1", "t2", "t3"}).Draw(t, "thread")
			sc.Schedule = append(sc.Schedule, Step{Thread: th, Instance: "x", Op: Malloc})
		}
		es, err := Run(sc)
		require.NoError(t, err)
		for _, e := range es {
			require.True(t, !e.Kind.Failure(), "%v", e)
		}
	})
}

func TestParseScenario(t *testing.T) {
	sc, err := ParseScenario([]byte(`{"instances": [{"name": "a", "model": "fixed-slot"}, {"name": "b", "model": "fixed-slot", "slots": [126, 127]}],
		"schedule": [{"thread": "main", "instance": "a"}, {"thread": "w", "instance": "b", "op": "malloc"}]}`), "s.json")
	require.NoError(t, err)
	require.Equal(t, [2]int{126, 127}, sc.Instances[1].Slots)
	es, err := Run(sc)
	require.NoError(t, err)
	// Different slots: no corruption, but 126/127 are the shared cache's
	// __thread slots, freed by libpthread at thread exit.
	require.Zero(t, kinds(es)[Corruption])
	require.Positive(t, kinds(es)[ReservedSlot])

	for doc, want := range map[string]string{
		`{"instances": [{"name": "a", "model": "fixed"}]}`:                                                           "instances[0].model",
		`{"instances": [{"name": "a", "model": "fixed-slot", "slots": [1]}]}`:                                        "two slots",
		`{"instances": [{"name": "a", "model": "fixed-slot", "slots": [300, 301]}]}`:                                 "not a static slot",
		`{"instances": [{"name": "a", "model": "thread-local"}], "schedule": [{"thread": "main", "instance": "b"}]}`: `no instance "b"`,
		`{"instances": [], "x": 1}`: "x",
		`{"instances": [{"name": "a", "model": "thread-local"}, {"name": "a", "model": "thread-local"}]}`: "repeated",
		`{"name": "n", "name": "m"}`: "name",
	} {
		_, err := ParseScenario([]byte(doc), "s.json")
		require.ErrorContains(t, err, want, doc)
		require.ErrorContains(t, err, "s.json", doc)
	}
}

// Every built-in scenario is named as it is listed, so that what a
// report names is the scenario that ran.
func TestScenarioNames(t *testing.T) {
	for name, mk := range Scenarios() {
		require.Equal(t, name, mk().Name)
	}
	require.Equal(t, ThreadLocal, Scenarios()["two-napi-addons-thread-local"]().Instances[0].Model)
}

// Every kind has a code usable as a JSON key, distinct from the others.
func TestEventKindCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range EventKinds() {
		c := k.Code()
		require.Regexp(t, `^[a-z]+(_[a-z]+)*$`, c, "kind %v", k)
		require.False(t, seen[c], c)
		seen[c] = true
	}
	require.Len(t, seen, int(ReservedSlot))
	require.Equal(t, "reserved_slot", ReservedSlot.Code())
}
