package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/crashreport"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/jsonspec"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/picture"
	"github.com/vasim/vasim/tls/tlscase"
	"github.com/vasim/vasim/tsd"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
	"github.com/vasim/vasim/xzone/fix"
)

func init() {
	register(&command{
		name:    "xzone",
		summary: "how often a macOS arm64 launch aborts in __malloc_init (libmalloc XZone), and the images to blame",
		usage: "vasim xzone [--scenario NAME | --images FILE | --exe PATH | --layout FILE | --crash-report FILE] [--arch ARCH]\n" +
			"            [--profile NAME] [--shared-region START-END|none] [--xzone on|off] [--aslr on|off|both] [--zero-entropy]\n" +
			"            [--launches N] [--observed LO-HI] [--spread] [--fix] [--svg FILE] [--fail-above P] [--json]",
		example: `vasim xzone                                  # the built-in Chromium browser_tests case: 2.27% of launches
vasim xzone --exe out/Release/browser_tests  # your Mach-O build, placed as dyld and XNU place it (macos-26)
vasim xzone --crash-report crash.ips         # the exact layout of a launch that crashed, and whether it collides
vasim xzone --spread                         # the answer under every unconfirmed model parameter, exactly
vasim xzone --fix                            # the fewest last-loaded dylibs to load with dlopen instead
vasim xzone --svg layout.svg                 # a picture: images to scale, the slot window, the culprits
vasim xzone --images set.json --fail-above 0.001 --json  # a CI gate: exit 1 above 0.1%`,
		run: runXZone,
	})
	register(&command{
		name:    "scenarios",
		summary: "list the built-in scenarios, or print one as a document vasim reads back",
		usage:   "vasim scenarios [--dump NAME] [--json]",
		example: `vasim scenarios                                          # every built-in case and what it reproduces
vasim scenarios --dump chromium-browser-tests > set.json # its image set, for vasim xzone --images set.json`,
		run: runScenarios,
	})
}

// xzoneInput is what to analyse, resolved from the flags.
type xzoneInput struct {
	kind     string // scenario, images, exe, layout, crash-report
	label    string
	scenario *scenario.Scenario // for --scenario (and the default)
	set      *loader.ImageSet   // for placed inputs
	order    *dyld.LoadOrder    // placed by model
	model    *macos.Model
	layout   *vaspace.Space      // for --layout and --crash-report: analysed as is
	report   *crashreport.Report // for --crash-report
}

type xzoneMapping struct {
	Name  string       `json:"name"`
	Owner string       `json:"owner,omitempty"`
	Start vaspace.Addr `json:"start"`
	End   vaspace.Addr `json:"end"`
	Kind  string       `json:"kind"`
}

type xzoneHit struct {
	Slot     int          `json:"slot"`
	PtrStart vaspace.Addr `json:"ptr_start"`
	Mapping  xzoneMapping `json:"mapping"`
}

type xzoneCulprit struct {
	Image    string       `json:"image"`
	IsImage  bool         `json:"is_image"`
	Start    vaspace.Addr `json:"start"`
	End      vaspace.Addr `json:"end"`
	FirstHit []int        `json:"first_hit_for_slots"`
}

type xzoneLaunches struct {
	N          int      `json:"n"`
	Mean       float64  `json:"mean"`
	Lo         int      `json:"lo"`
	Hi         int      `json:"hi"`
	Level      float64  `json:"level"`
	Observed   string   `json:"observed,omitempty"`
	PObserved  *float64 `json:"p_observed,omitempty"`
	ObservedBy string   `json:"observed_source,omitempty"`
}

// xzoneAdvice is what it takes for no slot to collide, from the layout.
type xzoneAdvice struct {
	// Kind is none (nothing collides), shrink-span (the images packed up
	// from below the window must end below it: Bytes must leave the
	// launch) or move-mappings (mappings that stand apart in the window
	// must move: Mappings, Bytes in all).
	Kind     string         `json:"kind"`
	Bytes    uint64         `json:"bytes"`
	EndBelow vaspace.Addr   `json:"end_below,omitempty"`
	Mappings []xzoneMapping `json:"mappings,omitempty"`
}

type xzoneFixed struct {
	// Layout is "placed" (the model's, both slides 0, as lldb launches)
	// or "given" (--layout, --crash-report).
	Layout          string         `json:"layout"`
	Probability     float64        `json:"probability"`
	Exact           string         `json:"probability_exact"`
	CollidingSlots  []int          `json:"colliding_slots"`
	Colliding       int            `json:"colliding"`
	Hits            []xzoneHit     `json:"hits"`
	Culprits        []xzoneCulprit `json:"culprits"`
	ImageTop        vaspace.Addr   `json:"image_top"`
	HeadroomBytes   uint64         `json:"headroom_bytes"`
	ExcessBytes     uint64         `json:"excess_bytes"`
	IDCacheMayReach bool           `json:"id_cache_may_reach"`
	Advice          xzoneAdvice    `json:"advice"`
	Launches        xzoneLaunches  `json:"launches"`
}

type xzoneJoint struct {
	Probability float64            `json:"probability"`
	Exact       string             `json:"probability_exact"`
	Draws       uint64             `json:"placement_draws"`
	Pieces      int                `json:"layouts"`
	Fewest      int                `json:"fewest_colliding"`
	Most        int                `json:"most_colliding"`
	Colliding   map[string]float64 `json:"colliding_distribution"`
	Launches    xzoneLaunches      `json:"launches"`
}

type xzoneInputJSON struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Platform string `json:"platform,omitempty"`
}

type xzoneState struct {
	State string `json:"state"` // assumed, known, off
	Why   string `json:"why"`
}

type xzoneGate struct {
	FailAbove float64 `json:"fail_above"`
	Exceeded  bool    `json:"exceeded"`
}

type xzoneOutcome struct {
	Parameter string   `json:"parameter"`
	Value     string   `json:"value"`
	ASLROff   float64  `json:"aslr_off"`
	ASLROn    *float64 `json:"aslr_on,omitempty"`
}

type xzoneDepends struct {
	Outcomes    []xzoneOutcome `json:"outcomes"`
	Apart       string         `json:"apart"`
	ASLROff     [2]float64     `json:"aslr_off_range"`
	ASLROn      *[2]float64    `json:"aslr_on_range,omitempty"`
	MostMovedBy string         `json:"most_moved_by"`
}

type xzoneCrash struct {
	Form          string   `json:"form"`
	BugType       string   `json:"bug_type,omitempty"`
	OSVersion     string   `json:"os_version,omitempty"`
	Process       string   `json:"process,omitempty"`
	CPU           string   `json:"cpu,omitempty"`
	Exception     string   `json:"exception,omitempty"`
	Termination   string   `json:"termination,omitempty"`
	AppSpecific   []string `json:"application_specific,omitempty"`
	AbortingFrame string   `json:"aborting_frame,omitempty"`
	MentionsXZone bool     `json:"mentions_xzone"`
	Images        int      `json:"images"`
	// LayoutCollides says whether the report's own layout makes some slot
	// collide; Consistent whether that agrees with what the report says
	// (it reports the XZone abort and its layout collides, or it does
	// not and the crash has another cause).
	LayoutCollides bool     `json:"layout_collides"`
	Consistent     bool     `json:"consistent"`
	Notes          []string `json:"notes,omitempty"`
}

type xzoneFixJSON struct {
	Moved  []string `json:"moved"`
	Bytes  uint64   `json:"bytes"`
	Before float64  `json:"before"`
	After  float64  `json:"after"`
	Exact  bool     `json:"verified_over_every_slide"`
	Sums   int      `json:"exact_sums"`
}

type xzoneJSON struct {
	Schema      string         `json:"schema"`
	Input       xzoneInputJSON `json:"input"`
	Profile     string         `json:"profile"`
	XZone       xzoneState     `json:"xzone"`
	Slots       int            `json:"slots"`
	Headline    string         `json:"headline"`
	Probability float64        `json:"probability"`
	Exact       string         `json:"probability_exact"`
	Gate        *xzoneGate     `json:"gate,omitempty"`
	ASLROff     xzoneFixed     `json:"aslr_off"`
	ASLROn      *xzoneJoint    `json:"aslr_on,omitempty"`
	Depends     *xzoneDepends  `json:"depends,omitempty"`
	CrashReport *xzoneCrash    `json:"crash_report,omitempty"`
	Fix         *xzoneFixJSON  `json:"fix,omitempty"`
	Notes       []string       `json:"notes,omitempty"`
	SVG         string         `json:"svg,omitempty"`
}

func runXZone(e *env, args []string) int {
	fs := newFlags(e, "xzone")
	scenarioName := fs.String("scenario", "", "built-in scenario to analyse (default "+scenario.Default+"; see vasim scenarios)")
	layoutFile := fs.String("layout", "", "placed layout JSON to analyse as is: {\"mappings\": [{\"name\", \"start\", \"end\" or \"size\"}]}, addresses 16 KiB-aligned as on arm64 (- reads standard input)")
	imagesFile := fs.String("images", "", "image set JSON (vasim scenarios --dump shows the form) to place with the dyld model (- reads standard input)")
	exe := fs.String("exe", "", "Mach-O executable to place with the dyld model; its dylibs are read from disk")
	crashFile := fs.String("crash-report", "", "macOS crash report (.ips JSON or the text form with \"Binary Images:\") whose layout to analyse as is")
	arch := fs.String("arch", "", "slice of universal Mach-O files (default arm64e, then arm64)")
	profileName := fs.String("profile", xzone.DefaultProfile.Name, "libmalloc profile ("+strings.Join(xzone.ProfileNames(), ", ")+")")
	sharedRegion := fs.String("shared-region", "", "for --images and --exe: the shared region as START-END (hex), or none; default: that of the platform the image set names (macos-26: none in the low span; macos-15: [6, 12) GiB, as xnu-11417), else macos-26's")
	xzoneFlag := fs.String("xzone", "", "whether XZone is on for the process: on, or off (nothing to reserve, nothing to collide); default: assumed on, unless the input says")
	aslr := fs.String("aslr", "both", "for placed inputs: off (slides 0, as lldb launches), on (exact over every slide), or both")
	launches := fs.Int("launches", 200, "number of launches for the expected crash count")
	observed := fs.String("observed", "", "crashes seen in --launches launches, as N or LO-HI, to compare with the model")
	zero := fs.Bool("zero-entropy", false, "model a boot whose shared-cache slide is 0: malloc entropy is zero and slot 0 is always used")
	spread := fs.Bool("spread", false, "also make the exact sum over every slide under each unconfirmed parameter's alternatives (one more sum each; the ASLR-off answers are always given)")
	fixFlag := fs.Bool("fix", false, "for placed inputs: search the fewest last-loaded dylibs to load with dlopen instead, verified over every slide (with --aslr off: with ASLR off)")
	svgFile := fs.String("svg", "", "also draw the layout, the slot window and the culprits as an SVG picture in this file")
	failAbove := fs.Float64("fail-above", -1, "exit 1 when the headline probability (ASLR on when computed, else ASLR off) exceeds this fraction")
	asJSON := fs.Bool("json", false, "print a machine-readable result (vasim help json)")
	rep := reporter{e: e, name: "xzone"}
	if code, ok := parseArgs(fs, &rep, args); !ok {
		return code
	}
	profile, err := xzone.LookupProfile(*profileName)
	if err != nil {
		return rep.usage("--profile: %v", err)
	}
	profile.ZeroEntropy = *zero
	if *launches < 1 {
		return rep.usage("--launches %d: want at least 1", *launches)
	}
	if *failAbove != -1 && !(*failAbove >= 0 && *failAbove <= 1) {
		return rep.usage("--fail-above %v: want a probability between 0 and 1", *failAbove)
	}
	var obsLo, obsHi int
	if *observed != "" {
		if obsLo, obsHi, err = parseObserved(*observed, *launches); err != nil {
			return rep.usage("--observed %q: %v", *observed, err)
		}
	}
	switch *aslr {
	case "on", "off", "both":
	default:
		return rep.usage("--aslr %q: want on, off or both", *aslr)
	}
	switch *xzoneFlag {
	case "", "on", "off":
	default:
		return rep.usage("--xzone %q: want on or off", *xzoneFlag)
	}
	if *arch != "" {
		if _, err := loader.ParseArch(*arch); err != nil {
			return rep.usage("--arch %q: want a Mach-O architecture such as arm64e, arm64 or x86_64", *arch)
		}
	}
	// A layout as given is one launch: nothing to sum over slides, and no
	// model whose parameters could vary.
	if *layoutFile != "" || *crashFile != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, name := range []string{"aslr", "spread", "shared-region"} {
			if set[name] {
				return rep.usage("--%s applies to placed inputs (--scenario, --images, --exe), not to a layout as given", name)
			}
		}
	}

	if *fixFlag && (*layoutFile != "" || *crashFile != "") {
		return rep.usage("--fix applies to placed inputs (--scenario, --images, --exe), not to a layout as given")
	}
	in, code, msg := xzoneResolveInput(*scenarioName, *layoutFile, *imagesFile, *exe, *crashFile, *arch, e.getenv)
	if code != 0 {
		return rep.fail(code, "%s", msg)
	}
	if *sharedRegion != "" {
		if in.model == nil || in.scenario != nil {
			return rep.usage("--shared-region applies only to --images and --exe")
		}
		r, err := parseRegion(*sharedRegion)
		if err != nil {
			return rep.usage("--shared-region %q: %v", *sharedRegion, err)
		}
		in.model.Platform.SharedRegion = r
	}
	out := xzoneJSON{Schema: schemaXZone, Input: xzoneInputJSON{Kind: in.kind, Name: in.label}, Profile: profile.Name, Slots: profile.Slots()}
	if in.model != nil {
		out.Input.Platform = in.model.Platform.Name
	}
	out.XZone = xzoneStateOf(*xzoneFlag, in)
	if in.scenario != nil {
		out.Notes = in.scenario.Notes
		if *observed == "" && in.scenario.Observed != nil && in.scenario.Observed.Launches == *launches {
			obsLo, obsHi = in.scenario.Observed.Lo, in.scenario.Observed.Hi
			*observed = fmt.Sprint(obsLo, "-", obsHi)
		}
	}
	prog := newProgress(e, *asJSON)

	// The fixed layout: the given one, or the model's with both slides 0
	// (as lldb launches); the model's every launch unless --aslr off.
	space := in.layout
	out.ASLROff.Layout = "given"
	var layouts *macos.Layouts
	if space == nil {
		proc, err := in.model.Launch(in.order, macos.Randomness{})
		if err != nil {
			return rep.input("placing %s: %v", in.label, err)
		}
		space = proc.Space
		out.ASLROff.Layout = "placed"
		if *aslr != "off" {
			if layouts, err = in.model.Layouts(in.order); err != nil {
				return rep.input("placing %s: %v", in.label, err)
			}
			layouts.Progress = prog.step("exact sum over every slide")
		}
	}
	var sl slide.Layouts
	if layouts != nil {
		sl = layouts
	}
	a, err := xzone.Assess(space, sl, profile, *launches)
	prog.done()
	if err != nil {
		return rep.input("%s: %v", in.label, err)
	}
	if in.report != nil {
		out.CrashReport = crashJSON(in.report, a.Result)
		if out.XZone.State == "off" && *xzoneFlag == "off" && in.report.MentionsXZone() {
			out.Notes = append(out.Notes, "--xzone off, but the crash report shows the XZone reservation failing: it was on for this process")
		}
	}
	if out.XZone.State == "off" {
		zeroAssessment(a)
	}
	res := a.Result
	fillFixed(&out.ASLROff, a, *observed, obsLo, obsHi)
	if in.scenario != nil && in.scenario.Observed != nil && *observed != "" {
		out.ASLROff.Launches.ObservedBy = in.scenario.Observed.Source
	}
	out.Headline, out.Probability, out.Exact = "aslr_off", res.Probability, res.Crash.RatString()
	if j := a.Joint; j != nil {
		jj := &xzoneJoint{Probability: j.Probability, Exact: j.Crash.RatString(), Draws: j.Draws, Pieces: j.Pieces, Fewest: j.Fewest, Most: j.Most, Colliding: map[string]float64{}}
		for n, q := range j.Colliding {
			f, _ := q.Float64()
			jj.Colliding[strconv.Itoa(n)] = f
		}
		jj.Launches = launchesJSON(a.JointLaunches, *observed, obsLo, obsHi)
		jj.Launches.ObservedBy = out.ASLROff.Launches.ObservedBy
		out.ASLROn = jj
		out.Headline, out.Probability, out.Exact = "aslr_on", j.Probability, j.Crash.RatString()
	}

	// What the answer depends on: every unconfirmed parameter's
	// alternatives, exact; over every slide only with --spread.
	if in.model != nil && out.XZone.State != "off" {
		d, err := dependsOn(in, a, profile, *spread && a.Joint != nil, prog)
		if err != nil {
			return rep.input("%s: %v", in.label, err)
		}
		out.Depends = d
	}
	if *fixFlag && out.XZone.State != "off" {
		r, err := fix.Search(in.set, in.model, profile, *aslr != "off", prog.step("--fix: exact sum over every slide"))
		prog.done()
		if err != nil {
			return rep.input("--fix: %v", err)
		}
		fj := &xzoneFixJSON{Bytes: r.Bytes, Exact: r.Exact, Sums: r.Sums}
		fj.Before, _ = r.Before.Float64()
		fj.After, _ = r.After.Float64()
		for _, img := range r.Moved {
			fj.Moved = append(fj.Moved, img.Label())
		}
		out.Fix = fj
	}
	if *failAbove >= 0 {
		out.Gate = &xzoneGate{FailAbove: *failAbove, Exceeded: out.Probability > *failAbove}
	}
	if *svgFile != "" {
		if err := writeXZoneSVG(*svgFile, space, res, in, out); err != nil {
			return rep.input("--svg: %v", err)
		}
		out.SVG = *svgFile
	}

	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return rep.input("%v", err)
		}
	} else {
		printXZone(e.stdout, out, res, in)
	}
	if out.Gate != nil && out.Gate.Exceeded {
		fmt.Fprintf(e.stderr, "vasim xzone: crash probability %.4f%% (%s) exceeds --fail-above %.4f%%\n", 100*out.Probability, strings.ReplaceAll(out.Headline, "_", " "), 100**failAbove)
		return exitFailure
	}
	return exitOK
}

// xzoneStateOf says whether XZone is on for the process, and why.
func xzoneStateOf(flag string, in *xzoneInput) xzoneState {
	switch {
	case flag == "off":
		return xzoneState{"off", "--xzone off: no reservation is made, so none can fail"}
	case flag == "on":
		return xzoneState{"known", "--xzone on"}
	case in.report != nil && in.report.CPUType != "" && in.report.CPUType != "ARM-64":
		return xzoneState{"off", fmt.Sprintf("the crash report is of a %s process: libmalloc makes the fixed range reservation only on macOS arm64 (libmalloc-792.41.1 CONFIG_MACOS_RANGES)", in.report.CPUType)}
	case in.report != nil && in.report.OSVersion != "" && !strings.HasPrefix(in.report.OSVersion, "macOS") && !strings.HasPrefix(in.report.OSVersion, "Mac OS"):
		return xzoneState{"off", fmt.Sprintf("the crash report is from %s: the fixed range reservation is macOS arm64's (other platforms get their ranges from the kernel, libmalloc-792.41.1 CONFIG_VM_USER_RANGES)", in.report.OSVersion)}
	case in.report != nil && in.report.MentionsXZone():
		return xzoneState{"known", "the crash report shows the XZone reservation failing"}
	case in.scenario != nil && in.scenario.XZoneOn != "":
		return xzoneState{"known", in.scenario.XZoneOn}
	}
	return xzoneState{"assumed", "libmalloc-792.41.1 turns XZone on or off per process from feature flags Apple does not publish (with the source's defaults, a process that gets the Nano allocator, the macOS default, would not use it); give --xzone off if you know it is off"}
}

// zeroAssessment makes a the answer for a process without XZone.
func zeroAssessment(a *xzone.Assessment) {
	r := a.Result
	r.Colliding, r.Culprits, r.Crash, r.Probability, r.Excess = nil, nil, new(big.Rat), 0, 0
	for i := range r.Slots {
		r.Slots[i].Hit = nil
	}
	a.Launches = xzone.Launches{N: a.Launches.N, Level: a.Launches.Level}
	if a.Joint != nil {
		a.Joint.Crash, a.Joint.Probability = new(big.Rat), 0
		a.Joint.Colliding = map[int]*big.Rat{0: big.NewRat(1, 1)}
		a.Joint.Fewest, a.Joint.Most = 0, 0
		a.JointLaunches = xzone.Launches{N: a.JointLaunches.N, Level: a.JointLaunches.Level}
	}
}

// fillFixed fills the ASLR-off part from the assessment.
func fillFixed(f *xzoneFixed, a *xzone.Assessment, observed string, lo, hi int) {
	res := a.Result
	f.CollidingSlots = append([]int{}, res.Colliding...)
	f.Hits, f.Culprits = []xzoneHit{}, []xzoneCulprit{}
	f.Colliding = len(res.Colliding)
	f.Probability, f.Exact = res.Probability, res.Crash.RatString()
	for _, k := range res.Colliding {
		s := res.Slots[k]
		f.Hits = append(f.Hits, xzoneHit{Slot: k, PtrStart: s.Reservation.Start, Mapping: jsonMapping(*s.Hit)})
	}
	for _, c := range res.CulpritImages() {
		f.Culprits = append(f.Culprits, xzoneCulprit{Image: c.Name, IsImage: c.Image, Start: c.Range.Start, End: c.Range.End, FirstHit: append([]int{}, c.FirstHit...)})
	}
	f.ImageTop = a.ImageTop
	f.HeadroomBytes, f.ExcessBytes = res.Headroom, res.Excess
	f.IDCacheMayReach = res.IDCacheMayReach
	f.Advice = adviceFor(a.Layout, res)
	f.Launches = launchesJSON(a.Launches, observed, lo, hi)
}

// adviceFor says what must move for no slot to collide, from the layout
// itself: when the memory in the window runs unbroken from below its
// start (images packed up from 4 GiB), the span must end below the
// window; otherwise the mappings in the window must move.
func adviceFor(s *vaspace.Space, res *xzone.Result) xzoneAdvice {
	if len(res.Colliding) == 0 {
		return xzoneAdvice{Kind: "none"}
	}
	p := res.Profile
	w := p.Window()
	var in []vaspace.Mapping
	var bytes uint64
	for m := range s.Overlapping(w) {
		in = append(in, m)
		bytes += uint64(m.Len())
	}
	// Packed up from below: memory is mapped within a slot of the
	// window's start on both sides, as when first fit runs the images up
	// from 4 GiB into it; then every byte that leaves the launch lowers
	// the top. A mapping standing apart in the window must move instead.
	g := vaspace.Addr(p.Granule)
	packed := p.RangesStart >= g && !s.IsFree(vaspace.Range{Start: p.RangesStart - g, End: p.RangesStart}) &&
		!s.IsFree(vaspace.Range{Start: p.RangesStart, End: p.RangesStart + g})
	if packed {
		return xzoneAdvice{Kind: "shrink-span", Bytes: res.Excess, EndBelow: p.RangesStart}
	}
	adv := xzoneAdvice{Kind: "move-mappings", Bytes: bytes}
	for _, m := range in {
		adv.Mappings = append(adv.Mappings, jsonMapping(m))
	}
	return adv
}

// xzoneDepends computes the answer under every alternative of the
// model's unconfirmed parameters: with ASLR off always, over every slide
// when joint.
func dependsOn(in *xzoneInput, a *xzone.Assessment, p xzone.Profile, joint bool, prog *progress) (*xzoneDepends, error) {
	alts := in.model.Alternatives()
	var variants []xzone.Variant
	for i, alt := range alts {
		m := in.model.With(alt)
		proc, err := m.Launch(in.order, macos.Randomness{})
		if err != nil {
			return nil, fmt.Errorf("%s = %s: %w", alt.Parameter, alt.Value, err)
		}
		v := xzone.Variant{Parameter: alt.Parameter, Value: alt.Value, Fixed: proc.Space}
		if joint {
			l, err := m.Layouts(in.order)
			if err != nil {
				return nil, fmt.Errorf("%s = %s: %w", alt.Parameter, alt.Value, err)
			}
			l.Progress = prog.step(fmt.Sprintf("--spread: exact sum %d of %d (%s)", i+1, len(alts), alt.Parameter))
			v.Layouts = l
		}
		variants = append(variants, v)
	}
	base := *a
	if !joint {
		base.Joint = nil
	}
	d, err := xzone.Depends(&base, variants, p, macos.ParamSharedRegion)
	prog.done()
	if err != nil {
		return nil, err
	}
	out := &xzoneDepends{Apart: d.Apart, ASLROff: [2]float64{d.FixedLo, d.FixedHi}, MostMovedBy: d.MostFixed}
	if d.Joint {
		out.ASLROn = &[2]float64{d.JointLo, d.JointHi}
		out.MostMovedBy = d.MostJoint
	}
	for _, o := range d.Outcomes {
		xo := xzoneOutcome{Parameter: o.Parameter, Value: o.Value, ASLROff: o.FixedP}
		if o.Joint != nil {
			q := o.JointP
			xo.ASLROn = &q
		}
		out.Outcomes = append(out.Outcomes, xo)
	}
	return out, nil
}

// crashJSON is what a crash report says, beside whether its own layout
// collides.
func crashJSON(r *crashreport.Report, res *xzone.Result) *xzoneCrash {
	return &xzoneCrash{Form: r.Form, BugType: r.BugType, OSVersion: r.OSVersion, Process: r.Process, CPU: r.CPUType,
		Exception: r.Exception, Termination: r.Termination, AppSpecific: r.AppSpecific, AbortingFrame: r.AbortingFrame,
		MentionsXZone: r.MentionsXZone(), Images: len(r.Images), LayoutCollides: len(res.Colliding) > 0,
		Consistent: r.MentionsXZone() == (len(res.Colliding) > 0), Notes: r.Notes}
}

// xzoneResolveInput loads the one input the flags name. It returns a
// non-zero exit code and a message when it cannot.
func xzoneResolveInput(scenarioName, layoutFile, imagesFile, exe, crashFile, arch string, getenv func(string) string) (*xzoneInput, int, string) {
	n := 0
	for _, s := range []string{scenarioName, layoutFile, imagesFile, exe, crashFile} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, exitUsage, "give at most one of --scenario, --layout, --images, --exe, --crash-report"
	}
	if arch != "" && exe == "" {
		return nil, exitUsage, "--arch applies only to --exe"
	}
	inputErr := func(flag string, err error) (*xzoneInput, int, string) {
		return nil, exitInput, fmt.Sprintf("%s: %v", flag, err)
	}
	switch {
	case layoutFile != "":
		data, err := input.ReadFile(layoutFile, vaspace.DefaultMaxLayoutBytes, "a layout document")
		if err != nil {
			return inputErr("--layout", err)
		}
		if hint := otherDocument(data, "--layout"); hint != "" {
			return nil, exitInput, fmt.Sprintf("--layout %s: %s", layoutFile, hint)
		}
		p := macos.DefaultPlatform
		s, err := vaspace.DecodeLayout(bytes.NewReader(data), layoutFile, vaspace.LayoutOptions{Bounds: vaspace.Range{Start: 0, End: p.VATop}, PageSize: p.PageSize})
		if err != nil {
			return inputErr("--layout", err)
		}
		return &xzoneInput{kind: "layout", label: layoutFile, layout: s}, 0, ""
	case crashFile != "":
		data, err := input.ReadFile(crashFile, crashreport.MaxReportBytes, "a crash report")
		if err != nil {
			return inputErr("--crash-report", err)
		}
		r, err := crashreport.Parse(bytes.NewReader(data), crashFile)
		if err != nil {
			return inputErr("--crash-report", err)
		}
		s, err := r.Space(crashreport.SpaceOptions{MergeSharedPages: true})
		if err != nil {
			return inputErr("--crash-report", err)
		}
		return &xzoneInput{kind: "crash-report", label: crashFile, layout: s, report: r}, 0, ""
	case imagesFile != "":
		data, err := input.ReadFile(imagesFile, jsonspec.MaxDocumentBytes, "an image set document")
		if err != nil {
			return inputErr("--images", err)
		}
		if hint := otherDocument(data, "--images"); hint != "" {
			return nil, exitInput, fmt.Sprintf("--images %s: %s", imagesFile, hint)
		}
		set, err := jsonspec.ParseImageSet(data, imagesFile)
		if err != nil {
			return inputErr("--images", err)
		}
		return resolvedInput("images", imagesFile, nil, set, nil)
	case exe != "":
		path, err := lookPath(exe, getenv)
		if err != nil {
			return inputErr("--exe", err)
		}
		if hint := notMachO(path); hint != "" {
			return nil, exitInput, fmt.Sprintf("--exe %s: %s", exe, hint)
		}
		set, err := dyld.ReadSet(path, arch)
		if err != nil {
			return inputErr("--exe", err)
		}
		return resolvedInput("exe", exe, nil, set, nil)
	}
	if scenarioName == "" {
		scenarioName = scenario.Default
	}
	sc, err := scenario.Load(scenarioName)
	if err != nil {
		return nil, exitUsage, fmt.Sprintf("--scenario: %v", err)
	}
	return resolvedInput("scenario", sc.Name, sc, sc.Set, sc.Model)
}

// resolvedInput orders set as dyld loads it, for model (nil: the model of
// the platform the set names).
func resolvedInput(kind, label string, sc *scenario.Scenario, set *loader.ImageSet, model *macos.Model) (*xzoneInput, int, string) {
	order, err := dyld.Resolve(set)
	if err != nil {
		return nil, exitInput, fmt.Sprintf("%s: %v", label, err)
	}
	if model == nil {
		if model, err = macos.ModelFor(set.Platform); err != nil {
			return nil, exitInput, fmt.Sprintf("%s: %v", label, err)
		}
	} else {
		mc := *model
		model = &mc
	}
	return &xzoneInput{kind: kind, label: label, scenario: sc, set: set, order: order, model: model}, 0, ""
}

// otherDocument recognises a document meant for another flag, for a
// message that names the right one.
func otherDocument(data []byte, flag string) string {
	t := bytes.TrimSpace(data)
	switch {
	case len(t) > 0 && t[0] == '[':
		if flag == "--layout" {
			return `a JSON array; a layout is an object {"mappings": [{"name", "start", "end"}, ...]}`
		}
		return `a JSON array; an image set is an object {"images": [...]} (vasim scenarios --dump shows one)`
	case bytes.Contains(t, []byte(`"usedImages"`)) || bytes.Contains(t, []byte("Binary Images:")):
		return "this is a macOS crash report: give it with --crash-report"
	case flag == "--layout" && bytes.Contains(t, []byte(`"images"`)) && !bytes.Contains(t, []byte(`"mappings"`)):
		return "this is an image set (it has \"images\", no \"mappings\"): give it with --images to place it"
	case flag == "--images" && bytes.Contains(t, []byte(`"mappings"`)) && !bytes.Contains(t, []byte(`"images"`)):
		return "this is a placed layout (it has \"mappings\", no \"images\"): give it with --layout"
	}
	return ""
}

// notMachO recognises an ELF file or a script given to --exe.
func notMachO(path string) string {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return "" // the reader names what is wrong with it
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var magic [4]byte
	if n, _ := io.ReadFull(f, magic[:]); n < 4 {
		return ""
	}
	switch {
	case string(magic[:]) == "\x7fELF":
		return "an ELF file: vasim xzone models macOS; for a Linux program use vasim layout --exe (or vasim reserve, vasim tls)"
	case magic[0] == '#' && magic[1] == '!':
		return "a script (#!): give the Mach-O executable it runs, as --exe PATH"
	}
	return ""
}

// lookPath resolves a command as a shell would: a name without a slash
// is searched in PATH.
func lookPath(name string, getenv func(string) string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if _, err := os.Stat(name); err == nil {
		return name, nil
	}
	return "", fmt.Errorf("%q: not found in PATH (give a path to run a file in this directory: ./%s)", name, name)
}

// parseRegion reads "none" or "0xSTART-0xEND".
func parseRegion(s string) (vaspace.Range, error) {
	if s == "none" {
		return vaspace.Range{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return vaspace.Range{}, errors.New("want none or START-END in hex, like 0x180000000-0x300000000")
	}
	var r vaspace.Range
	for i, part := range []string{a, b} {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(part)), "0x"), 16, 64)
		if err != nil {
			return vaspace.Range{}, fmt.Errorf("%q is not a hex address", part)
		}
		if i == 0 {
			r.Start = vaspace.Addr(v)
		} else {
			r.End = vaspace.Addr(v)
		}
	}
	if r.IsEmpty() {
		return vaspace.Range{}, errors.New("the range is empty or reversed")
	}
	return r, nil
}

func parseObserved(s string, launches int) (int, int, error) {
	lo, hi, found := strings.Cut(s, "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return 0, 0, errors.New("want a crash count N or a range LO-HI")
	}
	b := a
	if found {
		if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return 0, 0, errors.New("want a crash count N or a range LO-HI")
		}
	}
	if a < 0 || b < a || b > launches {
		return 0, 0, fmt.Errorf("want 0 <= LO <= HI <= --launches (%d)", launches)
	}
	return a, b, nil
}

func launchesJSON(l xzone.Launches, observed string, lo, hi int) xzoneLaunches {
	out := xzoneLaunches{N: l.N, Mean: l.Mean, Lo: l.Lo, Hi: l.Hi, Level: l.Level}
	if observed != "" {
		out.Observed = observed
		q := l.Between(lo, hi)
		out.PObserved = &q
	}
	return out
}

func jsonMapping(m vaspace.Mapping) xzoneMapping {
	return xzoneMapping{Name: m.Name, Owner: m.Owner, Start: m.Start, End: m.End, Kind: m.Kind.String()}
}

func pct(p float64) string { return strconv.FormatFloat(100*p, 'f', 2, 64) + "%" }

func printXZone(w io.Writer, o xzoneJSON, res *xzone.Result, in *xzoneInput) {
	p := res.Profile
	if o.Input.Kind == "scenario" {
		fmt.Fprintf(w, "vasim xzone: scenario %s", o.Input.Name)
	} else {
		fmt.Fprintf(w, "vasim xzone: %s", o.Input.Name)
	}
	if o.Input.Platform != "" {
		fmt.Fprintf(w, " (platform %s)", o.Input.Platform)
	}
	fmt.Fprintln(w)
	if in.scenario != nil {
		fmt.Fprintf(w, "  %s\n", in.scenario.Description)
	}
	fmt.Fprintf(w, "libmalloc profile %s: a %s FIXED reservation at %v + k × %s, k = entropy mod %d\n",
		p.Name, vaspace.Size(p.Reservation()), p.RangesStart, vaspace.Size(p.Granule), p.Slots())
	fmt.Fprintf(w, "XZone %s: %s\n", map[string]string{"assumed": "assumed on", "known": "on", "off": "off"}[o.XZone.State], o.XZone.Why)
	if o.XZone.State != "off" {
		fmt.Fprintf(w, "Every probability is conditional on XZone being on for the process.\n")
	}
	if c := o.CrashReport; c != nil {
		printCrash(w, c)
	}
	fmt.Fprintln(w)

	f := o.ASLROff
	title := "The layout as given"
	if f.Layout == "placed" {
		title = "With ASLR off (both slides 0, as lldb launches)"
	}
	fmt.Fprintf(w, "%s:\n", title)
	if f.ImageTop > 0 {
		fmt.Fprintf(w, "  images end at %v (%s)\n", f.ImageTop, vaspace.Size(uint64(f.ImageTop)))
	}
	if len(f.CollidingSlots) == 0 {
		fmt.Fprintf(w, "  no slot collides: P(crash) = 0\n")
	} else {
		var runs []string
		for _, r := range res.CollidingRanges() {
			if r[0] == r[1] {
				runs = append(runs, strconv.Itoa(r[0]))
			} else {
				runs = append(runs, fmt.Sprintf("%d-%d", r[0], r[1]))
			}
		}
		var weight uint64
		for _, k := range res.Colliding {
			weight += p.SlotWeight(k)
		}
		exact := fmt.Sprintf("exactly %d of the 2^%d entropy values", weight, p.EntropyBits)
		if p.ZeroEntropy {
			exact = "zero entropy: slot 0 is always used"
		}
		fmt.Fprintf(w, "  %s slots collide (%s): P(crash) = %s (%s)\n", res.Fraction(), strings.Join(runs, ", "), pct(f.Probability), exact)
		for _, k := range f.CollidingSlots[:min(2, len(f.CollidingSlots))] {
			h := res.Slots[k].Hit
			fmt.Fprintf(w, "  slot %d: ptr_start %v runs into %s at %v\n", k, res.Slots[k].Reservation.Start, ownerOrName(*h), h.Start)
		}
		images, others := 0, 0
		for _, c := range f.Culprits {
			if c.IsImage {
				images++
			} else {
				others++
			}
		}
		for _, group := range []struct {
			title string
			n     int
			image bool
		}{{"images to blame", images, true}, {"other memory in the window", others, false}} {
			if group.n == 0 {
				continue
			}
			fmt.Fprintf(w, "  %s (%d):\n", group.title, group.n)
			for _, c := range f.Culprits {
				if c.IsImage != group.image {
					continue
				}
				first := ""
				if len(c.FirstHit) > 0 {
					first = fmt.Sprintf("  first hit for %d slot(s)", len(c.FirstHit))
				}
				fmt.Fprintf(w, "    [%v, %v) %-9s %s%s\n", c.Start, c.End, vaspace.Size(uint64(c.End-c.Start)), shown(c.Image), first)
			}
		}
		switch a := f.Advice; a.Kind {
		case "shrink-span":
			fmt.Fprintf(w, "  to reach 0%%: the images run from below %v up into the window, so the span must end below %v: %s must leave the launch (smaller images, or dylibs loaded with dlopen once __malloc_init has made its reservation); moving only the %d images above may not do it, as dylibs loaded after them slide into the freed space (--fix finds a set that does)\n",
				p.RangesStart, a.EndBelow, vaspace.Size(a.Bytes), images)
		case "move-mappings":
			fmt.Fprintf(w, "  to reach 0%%: the %d mapping(s) in the window [%v, %v) (%s in all) must move out of it, or be made after __malloc_init\n",
				len(a.Mappings), p.Window().Start, p.Window().End, vaspace.Size(a.Bytes))
		}
	}
	if res.Below != nil && o.XZone.State != "off" {
		fmt.Fprintf(w, "  headroom: %s may grow %s before one more slot collides\n", ownerOrName(*res.Below), vaspace.Size(f.HeadroomBytes))
	}
	if f.IDCacheMayReach {
		fmt.Fprintf(w, "  warning: nothing is free between %v and %v, so libmalloc's reclaim ID cache (16 KiB, not placed by the model) may land in the window and make more slots collide\n", p.IDCacheHintTop, p.RangesStart)
	}
	if len(f.CollidingSlots) > 0 && f.CollidingSlots[0] == 0 && !p.ZeroEntropy {
		fmt.Fprintf(w, "  slot 0 collides: on a boot whose shared-cache slide is 0, malloc entropy is zeroed and slot 0 is always used, so every launch would crash (a zero slide is 1 in 16384 boots if it can occur at all; unconfirmed; --zero-entropy models it)\n")
	}
	printLaunches(w, f.Launches)

	if j := o.ASLROn; j != nil {
		fmt.Fprintf(w, "\nEvery launch with ASLR on (exact over %d placement draws × 2^%d entropy values, %d distinct layouts):\n", j.Draws, p.EntropyBits, j.Pieces)
		fmt.Fprintf(w, "  P(crash) = %s\n", pct(j.Probability))
		var ns []int
		for k := range j.Colliding {
			n, _ := strconv.Atoi(k)
			ns = append(ns, n)
		}
		sort.Ints(ns)
		var parts []string
		for _, n := range ns {
			parts = append(parts, fmt.Sprintf("%d: %s", n, pct(j.Colliding[strconv.Itoa(n)])))
		}
		fmt.Fprintf(w, "  colliding slots by launch: %s\n", strings.Join(parts, ", "))
		printLaunches(w, j.Launches)
	}
	if d := o.Depends; d != nil {
		printDepends(w, o, d)
	} else if o.ASLROff.Layout == "given" {
		fmt.Fprintf(w, "\nWhat the answer depends on: the layout as given, and the libmalloc profile; no placement model parameter.\n")
	}
	if fx := o.Fix; fx != nil {
		how := "with ASLR off and at the extreme slides"
		if fx.Exact {
			how = fmt.Sprintf("verified over every slide (%d exact sums)", fx.Sums)
		}
		if len(fx.Moved) == 0 {
			fmt.Fprintf(w, "\nFix: nothing to move, no launch collides.\n")
		} else {
			fmt.Fprintf(w, "\nFix: load the last %d dylibs with dlopen once the program runs (after __malloc_init) instead of at launch: P(crash) %s -> %s, %s; %s move:\n",
				len(fx.Moved), pct(fx.Before), pct(fx.After), how, vaspace.Size(fx.Bytes))
			for _, m := range fx.Moved {
				fmt.Fprintf(w, "    %s\n", shown(m))
			}
		}
	}
	if o.SVG != "" {
		fmt.Fprintf(w, "\nPicture: %s\n", o.SVG)
	}
	if len(o.Notes) > 0 {
		title := "Notes"
		if in.scenario != nil {
			title = "How this scenario was built"
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, n := range o.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

// printCrash says what a crash report itself says.
func printCrash(w io.Writer, c *xzoneCrash) {
	fmt.Fprintf(w, "The crash report (%s form", c.Form)
	if c.BugType != "" {
		fmt.Fprintf(w, ", bug type %s", c.BugType)
	}
	fmt.Fprintf(w, "): %s", shown(c.Process))
	if c.OSVersion != "" {
		fmt.Fprintf(w, " on %s", shown(c.OSVersion))
	}
	fmt.Fprintf(w, ", %d images\n", c.Images)
	if c.Exception != "" {
		fmt.Fprintf(w, "  exception: %s\n", shown(c.Exception))
	}
	if c.Termination != "" {
		fmt.Fprintf(w, "  termination: %s\n", shown(c.Termination))
	}
	for _, a := range c.AppSpecific {
		fmt.Fprintf(w, "  application specific: %s\n", shown(a))
	}
	if c.AbortingFrame != "" {
		fmt.Fprintf(w, "  crashed in: %s\n", shown(c.AbortingFrame))
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "  note: %s\n", shown(n))
	}
	switch {
	case c.MentionsXZone && c.LayoutCollides:
		fmt.Fprintf(w, "  it reports the XZone reservation failure, and its own layout collides: consistent\n")
	case c.MentionsXZone:
		fmt.Fprintf(w, "  it reports the XZone reservation failure, but its layout leaves every slot free: the report lists only each image's __TEXT, so what collided may be memory it does not list (__DATA, __LINKEDIT, an allocation)\n")
	case c.LayoutCollides:
		fmt.Fprintf(w, "  it does not report the XZone reservation failure, but its layout collides: this launch got a free slot, or XZone is off for it; other launches of this layout would crash at the rate below\n")
	default:
		fmt.Fprintf(w, "  it does not report the XZone reservation failure, and its layout leaves every slot free: this crash has another cause\n")
	}
}

// printDepends prints the answer under each unconfirmed parameter.
func printDepends(w io.Writer, o xzoneJSON, d *xzoneDepends) {
	joint := d.ASLROn != nil
	base, lo, hi, part := o.ASLROff.Probability, d.ASLROff[0], d.ASLROff[1], "with ASLR off"
	if joint {
		base, lo, hi, part = o.ASLROn.Probability, d.ASLROn[0], d.ASLROn[1], "over every slide"
	}
	fmt.Fprintf(w, "\nWhat the answer depends on (parameters no published source fixes; exact, %s):\n", part)
	var apart []string
	for _, oc := range d.Outcomes {
		if oc.Parameter == d.Apart {
			q := oc.ASLROff
			if joint && oc.ASLROn != nil {
				q = *oc.ASLROn
			}
			apart = append(apart, fmt.Sprintf("%s with the %s %s", pct(q), oc.Parameter, oc.Value))
		}
	}
	fmt.Fprintf(w, "  %s (%s-%s over the others", pct(base), pct(lo), pct(hi))
	if len(apart) > 0 {
		fmt.Fprintf(w, "; %s", strings.Join(apart, "; "))
	}
	fmt.Fprintln(w, ")")
	if d.MostMovedBy != "" {
		fmt.Fprintf(w, "  moved most by: %s\n", d.MostMovedBy)
	}
	for _, oc := range d.Outcomes {
		fmt.Fprintf(w, "    %-34s %-58s %8s", oc.Parameter, oc.Value, pct(oc.ASLROff))
		if oc.ASLROn != nil {
			fmt.Fprintf(w, "  %8s over every slide", pct(*oc.ASLROn))
		} else {
			fmt.Fprintf(w, "  with ASLR off")
		}
		fmt.Fprintln(w)
	}
	if !joint && o.ASLROn != nil {
		fmt.Fprintf(w, "  (--spread gives each over every slide: one more exact sum each)\n")
	}
}

func printLaunches(w io.Writer, l xzoneLaunches) {
	fmt.Fprintf(w, "  in %d launches: %.2f crashes expected (95%%: %d-%d)", l.N, l.Mean, l.Lo, l.Hi)
	if l.PObserved != nil {
		fmt.Fprintf(w, "; %s observed has probability %.2f under this model", l.Observed, *l.PObserved)
	}
	fmt.Fprintln(w)
}

func ownerOrName(m vaspace.Mapping) string {
	if m.Owner != "" {
		return shown(m.Owner)
	}
	return shown(m.Name)
}

// shown returns s as it may go to a terminal: quoted, with escapes, when
// it holds a character that is not printable (a carriage return or an
// escape sequence in a mapping name from a document would otherwise act
// on the terminal).
func shown(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func runScenarios(e *env, args []string) int {
	fs := newFlags(e, "scenarios")
	dump := fs.String("dump", "", "print the named scenario as a document vasim reads back (an image set for xzone --images, a case for tls --case)")
	asJSON := fs.Bool("json", false, "list the scenarios as JSON (vasim help json)")
	rep := reporter{e: e, name: "scenarios"}
	if code, ok := parseArgs(fs, &rep, args); !ok {
		return code
	}
	if *dump != "" {
		if c, err := tlscase.Load(*dump); err == nil {
			b, err := c.Marshal()
			if err != nil {
				return rep.input("%v", err)
			}
			e.stdout.Write(b)
			return exitOK
		}
		sc, err := scenario.Load(*dump)
		if err != nil {
			names := append(scenario.Names(), tlscase.Names()...)
			return rep.usage("--dump %q: no such scenario (dumpable: %s; see vasim scenarios)", *dump, strings.Join(names, ", "))
		}
		b, err := jsonspec.MarshalImageSet(sc.Set)
		if err != nil {
			return rep.input("%v", err)
		}
		e.stdout.Write(b)
		return exitOK
	}
	type entry struct {
		Name        string   `json:"name"`
		Kind        string   `json:"kind"`
		Command     string   `json:"command"`
		Platform    string   `json:"platform"`
		Description string   `json:"description"`
		Published   []string `json:"published"`
	}
	var list []entry
	for _, n := range scenario.Names() {
		sc, _ := scenario.Load(n)
		list = append(list, entry{sc.Name, "xzone", "vasim xzone --scenario " + sc.Name, sc.Model.Platform.Name, sc.Description, sc.Published})
	}
	for _, n := range tlscase.Names() {
		c, _ := tlscase.Load(n)
		list = append(list, entry{c.Name, "tls", "vasim tls --scenario " + c.Name, fmt.Sprintf("glibc %s %s", c.Glibc, c.Arch), c.Summary, c.Published})
	}
	for _, n := range tsd.ScenarioNames() {
		sc := tsd.Scenarios()[n]()
		var parts []string
		for _, in := range sc.Instances {
			parts = append(parts, fmt.Sprintf("%s (%v)", in.Name, in.Model))
		}
		list = append(list, entry{n, "tsd", "vasim tsd --scenario " + n, "macOS (Apple TSD, mimalloc v3)",
			fmt.Sprintf("%d allocator instances in one process: %s; %d threads", len(sc.Instances), strings.Join(parts, ", "), len(sc.Threads())), nil})
	}
	if *asJSON {
		writeJSON(e.stdout, struct {
			Schema    string  `json:"schema"`
			Scenarios []entry `json:"scenarios"`
		}{schemaScenarios, list})
		return exitOK
	}
	for _, s := range list {
		fmt.Fprintf(e.stdout, "%s (%s; %s)\n  %s\n", s.Name, s.Command, s.Platform, s.Description)
		for _, p := range s.Published {
			fmt.Fprintf(e.stdout, "  published: %s\n", p)
		}
	}
	return exitOK
}

// writeXZoneSVG draws the analysed layout: the images to scale, the
// shared region, the XZone window with its slots (colliding ones marked
// with their culprits), and the culprits highlighted.
func writeXZoneSVG(path string, s *vaspace.Space, res *xzone.Result, in *xzoneInput, o xzoneJSON) error {
	p := res.Profile
	f := &picture.Figure{
		Title:  "vasim xzone: " + o.Input.Name,
		Bounds: s.Bounds(),
	}
	what := "as given"
	if o.ASLROff.Layout == "placed" {
		what = "with ASLR off (both slides 0)"
	}
	f.Notes = append(f.Notes, fmt.Sprintf("The layout %s: %s slots collide, P(crash) = %s", what, res.Fraction(), pct(res.Probability)))
	if o.ASLROn != nil {
		f.Notes = append(f.Notes, fmt.Sprintf("Every launch with ASLR on: P(crash) = %s (exact over %d draws)", pct(o.ASLROn.Probability), o.ASLROn.Draws))
	}
	for m := range s.All() {
		f.Mappings = append(f.Mappings, m)
	}
	if in.model != nil && !in.model.Platform.SharedRegion.IsEmpty() {
		f.Bands = append(f.Bands, picture.Band{Name: "shared region", Range: in.model.Platform.SharedRegion, Style: picture.BandNote})
	}
	f.Bands = append(f.Bands, picture.Band{Name: fmt.Sprintf("XZone window %s: the %s reservation starts in one of %d slots", gibRange(p.Window()), vaspace.Size(p.Reservation()), p.Slots()), Range: p.Window(), Style: picture.BandKeepFree})
	sl := &picture.Slots{Name: "slots", Start: p.RangesStart, Granule: p.Granule, Count: p.Slots(), Reach: p.Reservation()}
	for _, k := range res.Colliding {
		sl.Colliding = append(sl.Colliding, picture.Collision{Slot: k, Culprit: ownerOrName(*res.Slots[k].Hit)})
	}
	f.Slots = sl
	for _, c := range res.CulpritImages() {
		f.Highlights = append(f.Highlights, picture.Highlight{Label: c.Name, Range: c.Range})
	}
	var buf bytes.Buffer
	if err := f.WriteSVG(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// gibRange prints r in GiB, as "[16, 62.97) GiB".
func gibRange(r vaspace.Range) string {
	g := func(a vaspace.Addr) string {
		return strconv.FormatFloat(float64(a)/(1<<30), 'f', -1, 64)
	}
	if r.Start%(1<<30) == 0 && r.End%(1<<30) == 0 {
		return fmt.Sprintf("[%s, %s) GiB", g(r.Start), g(r.End))
	}
	return fmt.Sprintf("[%.2f, %.2f) GiB", float64(r.Start)/(1<<30), float64(r.End)/(1<<30))
}
