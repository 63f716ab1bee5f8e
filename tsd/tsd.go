// Package tsd models the thread-specific data of macOS threads and the
// memory allocators that keep their per-thread state there, so that a
// process with several statically linked allocator instances (Node
// addons each carrying its own mimalloc) can be checked for the instance
// that reads another's heap pointer.
//
// A thread's TSD is an array of 768 slots (libpthread-539
// src/types_internal.h): 0-9 for libsyscall (slot 0 is the thread's
// pthread_t, which mimalloc uses as its thread id), 10-255 static keys
// reserved by name (private/pthread/tsd_private.h: Swift 100-109,
// libmalloc 110-114, shared-cache __thread 125-209, ...), 256-767
// dynamic pthread keys, handed out lowest free first (pthread_key_create,
// EAGAIN when none is left). dyld gives each image with thread-local
// variables one dynamic key and, on a thread's first access, allocates the
// image's block with the process's malloc and stores it there
// (dyld-1378 libdyld/ThreadLocalVariables.cpp).
//
// mimalloc v3's three ways of keeping the thread's heap on Apple
// (microsoft/mimalloc v3.3.2 include/mimalloc/prim.h, src/init.c):
//   - FixedSlot (the v3.3.2 default): raw reads and writes of slots 108
//     and 109 through the thread register, with no owner check: a second
//     instance on a thread where the first installed its heap adopts it,
//     and its constructor overwrites the slot on the loading thread;
//   - DynamicPthreads: two pthread keys per instance, created at process
//     init and deleted by mi_process_done, after which a thread still
//     running gets NULL from malloc (the SIGABRT of napi-rs/mimalloc-safe
//     PR #71's "Mode B");
//   - ThreadLocal: per-image __thread variables in dyld's storage, with
//     MI_TLS_RECURSE_GUARD skipping them until the instance's process init
//     has started, which only matters when the instance is the process's
//     malloc (dyld's first-touch malloc would re-enter it).
//
// The simulation is deterministic: a schedule says which instance runs on
// which thread in which order. Races between threads are out of its
// reach; what it reports follows from the order given.
package tsd

import (
	"fmt"
	"slices"
	"sort"
)

// Platform is a TSD layout.
type Platform struct {
	Name string
	// Slots is the number of TSD slots per thread; FirstDynamic the first
	// dynamic pthread key (so Slots-FirstDynamic keys exist).
	Slots, FirstDynamic int
	// Reserved names the static slots' owners.
	Reserved []Reservation
}

// Reservation is a range of reserved static slots, inclusive.
type Reservation struct {
	Lo, Hi int
	Owner  string
}

// MacOS is the macOS layout of libpthread-539 (private/pthread/tsd_private.h,
// src/pthread_tsd.c): 768 slots, dynamic keys from 256.
var MacOS = Platform{
	Name: "macOS (libpthread-539)", Slots: 768, FirstDynamic: 256,
	Reserved: []Reservation{
		{0, 9, "libsyscall (0 pthread_t, 1 errno, 3 mach thread port)"},
		{10, 29, "Libc/libSystem and libdispatch"},
		{30, 39, "OpenGL"}, {40, 49, "ObjC"}, {50, 59, "CoreFoundation"}, {60, 69, "Foundation"},
		{70, 79, "QuartzCore"}, {80, 89, "CoreData"}, {90, 94, "JavaScriptCore"}, {95, 95, "CoreText"},
		{100, 109, "the Swift runtime (__PTK_FRAMEWORK_SWIFT_KEY0-9)"},
		{110, 114, "libmalloc"}, {115, 119, "libdispatch workgroups"}, {120, 124, "libdispatch"},
		{125, 209, "shared-cache dylibs' __thread variables (freed at thread exit)"},
		{210, 229, "iOS Simulator libSystem"}, {230, 230, "perf utilities"}, {231, 232, "libsanitizers"},
	},
}

// Owner returns who reserves static slot s ("" if nobody).
func (p Platform) Owner(s int) string {
	for _, r := range p.Reserved {
		if r.Lo <= s && s <= r.Hi {
			return r.Owner
		}
	}
	return ""
}

// Model is how an allocator instance keeps its per-thread heap.
type Model uint8

// Models.
const (
	FixedSlot Model = iota
	DynamicPthreads
	ThreadLocal
)

var modelNames = [...]string{FixedSlot: "fixed-slot", DynamicPthreads: "dynamic-pthreads", ThreadLocal: "thread-local"}

func (m Model) String() string {
	if int(m) < len(modelNames) {
		return modelNames[m]
	}
	return fmt.Sprintf("Model(%d)", uint8(m))
}

// ParseModel reads "fixed-slot", "dynamic-pthreads" or "thread-local".
func ParseModel(s string) (Model, error) {
	for i, n := range modelNames {
		if n == s {
			return Model(i), nil
		}
	}
	return 0, fmt.Errorf("tsd: model %q: want fixed-slot, dynamic-pthreads or thread-local", s)
}

// Instance is one allocator statically linked into one image.
type Instance struct {
	// Name is the image ("addon-a.node").
	Name  string
	Model Model
	// Slots are FixedSlot's default and cached heap slots: 108 and 109 in
	// mimalloc v3.2.6 to v3.3.2 and v3.4.2 on; 126 and 127 in v3.4.0 and
	// v3.4.1; 89 before v3.2.
	Slots [2]int
	// RecurseGuard is MI_TLS_RECURSE_GUARD (ThreadLocal).
	RecurseGuard bool
	// Override says the instance is the process's malloc (MI_OVERRIDE):
	// dyld's first-touch allocations of thread-local storage call it.
	Override bool
}

// DefaultSlots are mimalloc v3.3.2's fixed slots.
var DefaultSlots = [2]int{108, 109}

// Op is what a step does.
type Op uint8

// Ops.
const (
	// Malloc is an allocation by the instance on the thread.
	Malloc Op = iota
	// ThreadExit ends the thread: libpthread runs the key destructors.
	ThreadExit
	// ProcessExit runs the instance's mi_process_done (its exit-time
	// destructor) while other threads may still run.
	ProcessExit
)

var opNames = [...]string{Malloc: "malloc", ThreadExit: "thread-exit", ProcessExit: "process-exit"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// ParseOp reads "malloc", "thread-exit" or "process-exit".
func ParseOp(s string) (Op, error) {
	for i, n := range opNames {
		if n == s {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("tsd: op %q: want malloc, thread-exit or process-exit", s)
}

// Step is one event of a schedule.
type Step struct {
	Thread   string
	Instance string // the allocator (not used by ThreadExit)
	Op       Op
}

// Scenario is a process: its allocator instances in load order (each
// image's constructor runs on the main thread as it loads), its threads,
// and the schedule.
type Scenario struct {
	Name      string
	Platform  Platform
	Instances []Instance
	Schedule  []Step
}

// EventKind classifies what the simulation reports.
type EventKind uint8

// Events.
const (
	// Corruption: an instance allocates from another instance's heap.
	Corruption EventKind = iota + 1
	// Overwrite: an instance's constructor or thread init replaces
	// another instance's heap pointer in a shared slot.
	Overwrite
	// Recursion: dyld's first-touch malloc re-entered an instance whose
	// fast path reads its own thread-local storage: endless recursion.
	Recursion
	// GuardHeld: the recursion guard kept such a first touch from
	// re-entering.
	GuardHeld
	// NullMalloc: malloc returned NULL (the instance's keys are gone);
	// Rust's handle_alloc_error aborts.
	NullMalloc
	// KeysExhausted: pthread_key_create failed with EAGAIN.
	KeysExhausted
	// ReservedSlot: a fixed slot lies in a range the system reserves.
	ReservedSlot
)

var eventNames = [...]string{Corruption: "corruption", Overwrite: "overwrite", Recursion: "recursion", GuardHeld: "guard held",
	NullMalloc: "malloc returned NULL", KeysExhausted: "pthread keys exhausted", ReservedSlot: "reserved slot"}

var eventCodes = [...]string{Corruption: "corruption", Overwrite: "overwrite", Recursion: "recursion", GuardHeld: "guard_held",
	NullMalloc: "malloc_returned_null", KeysExhausted: "pthread_keys_exhausted", ReservedSlot: "reserved_slot"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Code is the kind as a stable identifier for machine-readable output,
// usable as a JSON key: "corruption", "overwrite", "recursion",
// "guard_held", "malloc_returned_null", "pthread_keys_exhausted" or
// "reserved_slot".
func (k EventKind) Code() string {
	if int(k) < len(eventCodes) && eventCodes[k] != "" {
		return eventCodes[k]
	}
	return fmt.Sprintf("event_kind_%d", uint8(k))
}

// EventKinds lists every kind of event, in the order of their constants.
func EventKinds() []EventKind {
	out := make([]EventKind, 0, len(eventCodes)-1)
	for k := Corruption; int(k) < len(eventCodes); k++ {
		out = append(out, k)
	}
	return out
}

// Failure reports whether the event breaks the process.
func (k EventKind) Failure() bool {
	return k == Corruption || k == Overwrite || k == Recursion || k == NullMalloc || k == KeysExhausted
}

// Event is one finding, at a step of the schedule (-1: process start).
type Event struct {
	Kind     EventKind
	Step     int
	Thread   string
	Instance string
	// Other is the other instance involved (whose heap was used or
	// overwritten).
	Other  string
	Detail string
}

func (e Event) String() string {
	at := "at start-up"
	if e.Step >= 0 {
		at = fmt.Sprintf("at step %d", e.Step)
	}
	return fmt.Sprintf("%s %s on thread %s: %s", e.Kind, at, e.Thread, e.Detail)
}

// value is what a TSD slot holds.
type value struct {
	heap  string // the instance whose heap pointer this is ("": none)
	block string // an image's thread-local block
}

type thread struct {
	name  string
	tsd   []value
	alive bool
}

type instanceState struct {
	Instance
	initialized bool // mi_process_init ran (and set the flag first)
	done        bool // mi_process_done ran
	tlvKey      int  // dyld's key for the image (-1: none)
	keys        []int
	keysOK      bool
}

type sim struct {
	sc      *Scenario
	threads map[string]*thread
	order   []string
	insts   map[string]*instanceState
	used    []bool // dynamic keys in use
	events  []Event
	step    int
}

// Run simulates the scenario and returns what it finds, in order.
func Run(sc Scenario) ([]Event, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	s := &sim{sc: &sc, threads: map[string]*thread{}, insts: map[string]*instanceState{}, used: make([]bool, sc.Platform.Slots-sc.Platform.FirstDynamic), step: -1}
	s.thread("main")
	for _, in := range sc.Instances {
		st := &instanceState{Instance: in, tlvKey: -1}
		s.insts[in.Name] = st
		if in.Model == FixedSlot {
			for _, slot := range in.Slots {
				if owner := sc.Platform.Owner(slot); owner != "" {
					s.report(Event{Kind: ReservedSlot, Thread: "main", Instance: in.Name, Detail: fmt.Sprintf("%s's fixed slot %d is reserved for %s", in.Name, slot, owner)})
				}
			}
		}
	}
	// Start-up: each image loads (dyld gives it a key for its
	// thread-local variables), then its constructor initialises the
	// instance on the main thread.
	for _, in := range sc.Instances {
		st := s.insts[in.Name]
		if k, ok := s.keyCreate(in.Name, "main", "dyld's thread-local variables key"); ok {
			st.tlvKey = k
		} else {
			continue
		}
		s.processInit(st, s.threads["main"])
	}
	for i, step := range sc.Schedule {
		s.step = i
		t := s.thread(step.Thread)
		if !t.alive {
			return nil, fmt.Errorf("tsd: step %d: thread %q has exited", i, step.Thread)
		}
		switch step.Op {
		case ThreadExit:
			s.threadExit(t)
		case ProcessExit:
			s.processDone(s.insts[step.Instance])
		case Malloc:
			s.malloc(s.insts[step.Instance], t)
		}
	}
	return s.events, nil
}

// Validate checks the scenario's names and slots.
func (sc Scenario) Validate() error {
	if sc.Platform.Slots <= sc.Platform.FirstDynamic || sc.Platform.FirstDynamic < 10 {
		return fmt.Errorf("tsd: platform %q: %d slots with dynamic keys from %d", sc.Platform.Name, sc.Platform.Slots, sc.Platform.FirstDynamic)
	}
	names := map[string]bool{}
	for i, in := range sc.Instances {
		if in.Name == "" || names[in.Name] {
			return fmt.Errorf("tsd: instance %d: name %q is empty or repeated", i, in.Name)
		}
		names[in.Name] = true
		if in.Model > ThreadLocal {
			return fmt.Errorf("tsd: instance %q: unknown model %d", in.Name, in.Model)
		}
		if in.Model == FixedSlot {
			for _, slot := range in.Slots {
				if slot < 1 || slot >= sc.Platform.FirstDynamic {
					return fmt.Errorf("tsd: instance %q: fixed slot %d is not a static slot (1..%d)", in.Name, slot, sc.Platform.FirstDynamic-1)
				}
			}
		}
	}
	for i, st := range sc.Schedule {
		if st.Thread == "" {
			return fmt.Errorf("tsd: step %d: no thread", i)
		}
		if st.Op > ProcessExit {
			return fmt.Errorf("tsd: step %d: unknown op %d", i, st.Op)
		}
		if st.Op != ThreadExit && !names[st.Instance] {
			return fmt.Errorf("tsd: step %d: no instance %q", i, st.Instance)
		}
	}
	return nil
}

func (s *sim) thread(name string) *thread {
	t, ok := s.threads[name]
	if !ok {
		t = &thread{name: name, tsd: make([]value, s.sc.Platform.Slots), alive: true}
		s.threads[name] = t
		s.order = append(s.order, name)
	}
	return t
}

func (s *sim) report(e Event) {
	e.Step = s.step
	s.events = append(s.events, e)
}

// keyCreate is pthread_key_create: the lowest free dynamic key.
func (s *sim) keyCreate(inst, thread, what string) (int, bool) {
	for i, u := range s.used {
		if !u {
			s.used[i] = true
			return s.sc.Platform.FirstDynamic + i, true
		}
	}
	s.report(Event{Kind: KeysExhausted, Thread: thread, Instance: inst, Detail: fmt.Sprintf("%s: no dynamic key left for %s (EAGAIN after %d keys)", inst, what, len(s.used))})
	return -1, false
}

func (s *sim) keyDelete(k int) {
	s.used[k-s.sc.Platform.FirstDynamic] = false
	for _, t := range s.threads {
		t.tsd[k] = value{} // pthread_key_delete zeroes it in every live thread
	}
}

// touchTLV is a read of the instance's own thread-local variables: on
// the thread's first access dyld allocates the image's block with the
// process's malloc before it stores it.
func (s *sim) touchTLV(st *instanceState, t *thread) {
	if st.tlvKey < 0 || t.tsd[st.tlvKey].block != "" {
		return
	}
	if m := s.processMalloc(); m != nil && m.Model == ThreadLocal {
		// dyld's ::malloc re-enters the overriding instance, whose fast
		// path reads its own thread-local storage.
		switch {
		case m.RecurseGuard && !m.initialized:
			s.report(Event{Kind: GuardHeld, Thread: t.name, Instance: m.Name, Detail: fmt.Sprintf("dyld's first-touch malloc for %s re-enters %s, whose recursion guard skips its thread-locals until its process init", st.Name, m.Name)})
		case m.tlvKey >= 0 && t.tsd[m.tlvKey].block == "":
			s.report(Event{Kind: Recursion, Thread: t.name, Instance: m.Name, Detail: fmt.Sprintf("dyld's first-touch malloc for %s re-enters %s, whose fast path touches its own thread-locals, not yet allocated on this thread: endless recursion", st.Name, m.Name)})
			return
		}
	}
	t.tsd[st.tlvKey] = value{block: st.Name}
}

// processMalloc is the instance that overrides malloc, if any.
func (s *sim) processMalloc() *instanceState {
	for _, in := range s.sc.Instances {
		if in.Override {
			return s.insts[in.Name]
		}
	}
	return nil
}

// processInit is the instance's constructor: mi_process_init on the
// loading thread, then the thread-exit key and the default heap set.
func (s *sim) processInit(st *instanceState, t *thread) {
	st.initialized = true // the first statement of mi_process_init_once
	if st.Model == DynamicPthreads {
		for _, what := range []string{"the default heap key", "the cached heap key"} {
			k, ok := s.keyCreate(st.Name, t.name, what)
			if !ok {
				return
			}
			st.keys = append(st.keys, k)
		}
		st.keysOK = true
	}
	s.threadInit(st, t)
	// mi_process_setup_auto_thread_done: a key whose destructor ends the
	// thread's heap, then the main heap set as the thread's default.
	if k, ok := s.keyCreate(st.Name, t.name, "the thread-exit key"); ok {
		st.keys = append(st.keys, k)
	}
	s.setDefault(st, t)
}

// heapOf returns whose heap the instance sees as the thread's default.
func (s *sim) heapOf(st *instanceState, t *thread) string {
	switch st.Model {
	case FixedSlot:
		return t.tsd[st.Slots[0]].heap
	case DynamicPthreads:
		if !st.keysOK {
			return ""
		}
		return t.tsd[st.keys[0]].heap
	default:
		if st.RecurseGuard && !st.initialized {
			return ""
		}
		s.touchTLV(st, t)
		if st.tlvKey >= 0 && t.tsd[st.tlvKey].block != "" {
			return t.tsd[st.tlvKey].heap
		}
		return ""
	}
}

// setDefault installs the instance's heap as the thread's default.
func (s *sim) setDefault(st *instanceState, t *thread) {
	switch st.Model {
	case FixedSlot:
		for _, slot := range st.Slots {
			if old := t.tsd[slot].heap; old != "" && old != st.Name {
				s.report(Event{Kind: Overwrite, Thread: t.name, Instance: st.Name, Other: old,
					Detail: fmt.Sprintf("%s writes its heap pointer over %s's in the shared slot %d; %s now allocates from %s's heap on this thread", st.Name, old, slot, old, st.Name)})
			}
			t.tsd[slot] = value{heap: st.Name}
		}
	case DynamicPthreads:
		if st.keysOK {
			for _, k := range st.keys[:2] {
				t.tsd[k] = value{heap: st.Name}
			}
		}
	default:
		s.touchTLV(st, t)
		if st.tlvKey >= 0 && t.tsd[st.tlvKey].block != "" {
			v := t.tsd[st.tlvKey]
			v.heap = st.Name
			t.tsd[st.tlvKey] = v
		}
	}
}

// threadInit is mi_thread_init: nothing when the thread's default heap
// is already set (whoever set it), else a new heap for the thread.
func (s *sim) threadInit(st *instanceState, t *thread) {
	if h := s.heapOf(st, t); h != "" {
		if h != st.Name {
			s.report(Event{Kind: Corruption, Thread: t.name, Instance: st.Name, Other: h,
				Detail: fmt.Sprintf("%s finds %s's heap in its slot and adopts it: its allocations come from %s's arenas", st.Name, h, h)})
		}
		return
	}
	s.setDefault(st, t)
}

func (s *sim) malloc(st *instanceState, t *thread) {
	if st.done && st.Model == DynamicPthreads {
		s.report(Event{Kind: NullMalloc, Thread: t.name, Instance: st.Name,
			Detail: fmt.Sprintf("%s's heap keys were deleted by its mi_process_done; the thread cannot get a heap and malloc returns NULL (Rust aborts in handle_alloc_error)", st.Name)})
		return
	}
	h := s.heapOf(st, t)
	switch {
	case h == "":
		s.threadInit(st, t)
	case h != st.Name:
		s.report(Event{Kind: Corruption, Thread: t.name, Instance: st.Name, Other: h,
			Detail: fmt.Sprintf("%s allocates from %s's heap (the pointer in its slot is %s's)", st.Name, h, h)})
	}
}

// threadExit runs the key destructors: dynamic keys in ascending order,
// then the process's, in up to four passes (libpthread
// _pthread_tsd_cleanup_new). Only their effect on the simulation is kept:
// the thread is gone.
func (s *sim) threadExit(t *thread) {
	t.alive = false
}

// processDone is mi_process_done: with DynamicPthreads the heap keys
// are deleted and never created again.
func (s *sim) processDone(st *instanceState) {
	st.done = true
	if st.Model == DynamicPthreads && st.keysOK {
		for _, k := range st.keys {
			s.keyDelete(k)
		}
		st.keysOK = false
	}
}

// Summary counts the failures by kind.
func Summary(events []Event) map[EventKind]int {
	m := map[EventKind]int{}
	for _, e := range events {
		m[e.Kind]++
	}
	return m
}

// Threads lists the threads a schedule names, main first.
func (sc Scenario) Threads() []string {
	seen := map[string]bool{"main": true}
	out := []string{"main"}
	for _, st := range sc.Schedule {
		if !seen[st.Thread] {
			seen[st.Thread] = true
			out = append(out, st.Thread)
		}
	}
	return out
}

// Culprits names the instances involved in failures, sorted.
func Culprits(events []Event) []string {
	set := map[string]bool{}
	for _, e := range events {
		if e.Kind.Failure() {
			set[e.Instance] = true
			if e.Other != "" {
				set[e.Other] = true
			}
		}
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return slices.Clip(out)
}
