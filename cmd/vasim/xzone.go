package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader"
	"github.com/vasim/vasim/loader/dyld"
	"github.com/vasim/vasim/loader/jsonspec"
	"github.com/vasim/vasim/loader/macos"
	"github.com/vasim/vasim/loader/scenario"
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/tls/tlscase"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/xzone"
)

func init() {
	register(&command{
		name:    "xzone",
		summary: "how often a macOS arm64 launch aborts in __malloc_init (libmalloc XZone), and the images to blame",
		usage:   "vasim xzone [--scenario NAME | --layout FILE | --images FILE | --exe PATH] [--profile NAME] [--aslr on|off|both] [--launches N] [--observed LO-HI] [--fail-above P] [--json]",
		run:     runXZone,
	})
	register(&command{
		name:    "scenarios",
		summary: "list the built-in scenarios, or print one as an image set document",
		usage:   "vasim scenarios [--dump NAME]",
		run:     runScenarios,
	})
}

// xzoneInput is what to analyse, resolved from the flags.
type xzoneInput struct {
	label    string
	scenario *scenario.Scenario // for --scenario (and the default)
	order    *dyld.LoadOrder    // placed by model
	model    *macos.Model
	layout   *vaspace.Space // for --layout: analysed as is
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

type xzoneJSON struct {
	Input          string         `json:"input"`
	Profile        string         `json:"profile"`
	Layout         string         `json:"layout"`
	Slots          int            `json:"slots"`
	CollidingSlots []int          `json:"colliding_slots"`
	Colliding      int            `json:"colliding"`
	Probability    float64        `json:"probability"`
	Exact          string         `json:"probability_exact"`
	Hits           []xzoneHit     `json:"hits"`
	Culprits       []xzoneCulprit `json:"culprits"`
	ImageTop       vaspace.Addr   `json:"image_top"`
	HeadroomBytes  uint64         `json:"headroom_bytes"`
	ExcessBytes    uint64         `json:"excess_bytes"`
	Launches       xzoneLaunches  `json:"launches"`
	Joint          *xzoneJoint    `json:"joint,omitempty"`
	Notes          []string       `json:"notes,omitempty"`
}

func runXZone(e *env, args []string) int {
	fs := newFlags(e, "xzone")
	scenarioName := fs.String("scenario", "", "built-in scenario to analyse (default "+scenario.Default+"; see vasim scenarios)")
	layoutFile := fs.String("layout", "", "placed layout JSON to analyse as is: {\"mappings\": [{\"name\", \"start\", \"end\" or \"size\"}]} (- reads standard input)")
	imagesFile := fs.String("images", "", "image set JSON (vasim scenarios --dump shows the form) to place with the dyld model (- reads standard input)")
	exe := fs.String("exe", "", "Mach-O executable to place with the dyld model; its dylibs are read from disk")
	arch := fs.String("arch", "", "slice of universal Mach-O files (default arm64e, then arm64)")
	profileName := fs.String("profile", xzone.DefaultProfile.Name, "libmalloc profile ("+strings.Join(xzone.ProfileNames(), ", ")+")")
	sharedRegion := fs.String("shared-region", "", "for --images and --exe: the shared region as START-END (hex), or none to leave it out of the span; default: that of the platform the image set names (\"platform\": macos-15 has [6, 12) GiB, as xnu-11417; macos-26 none in the low span), else macos-15's")
	aslr := fs.String("aslr", "both", "for placed inputs: off (slides 0, as lldb launches), on (exact over every slide), or both")
	launches := fs.Int("launches", 200, "number of launches for the expected crash count")
	observed := fs.String("observed", "", "crashes seen in --launches launches, as N or LO-HI, to compare with the model")
	zero := fs.Bool("zero-entropy", false, "model a boot whose shared-cache slide is 0: malloc entropy is zero and slot 0 is always used")
	failAbove := fs.Float64("fail-above", -1, "exit 1 when the crash probability (the ASLR-on one when computed) exceeds this fraction")
	asJSON := fs.Bool("json", false, "print a machine-readable result")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	bad := usageErr(e, "xzone")
	profile, err := xzone.LookupProfile(*profileName)
	if err != nil {
		return bad("--profile: %v", err)
	}
	profile.ZeroEntropy = *zero
	if *launches < 1 {
		return bad("--launches %d: want at least 1", *launches)
	}
	if *failAbove != -1 && !(*failAbove >= 0 && *failAbove <= 1) {
		return bad("--fail-above %v: want a probability between 0 and 1", *failAbove)
	}
	var obsLo, obsHi int
	if *observed != "" {
		if obsLo, obsHi, err = parseObserved(*observed, *launches); err != nil {
			return bad("--observed %q: %v", *observed, err)
		}
	}
	switch *aslr {
	case "on", "off", "both":
	default:
		return bad("--aslr %q: want on, off or both", *aslr)
	}

	in, err := xzoneResolveInput(*scenarioName, *layoutFile, *imagesFile, *exe, *arch)
	if err != nil {
		return bad("%v", err)
	}
	if *sharedRegion != "" {
		if in.model == nil || in.scenario != nil {
			return bad("--shared-region applies only to --images and --exe")
		}
		r, err := parseRegion(*sharedRegion)
		if err != nil {
			return bad("--shared-region %q: %v", *sharedRegion, err)
		}
		in.model.Platform.SharedRegion = r
	}
	out := xzoneJSON{Input: in.label, Profile: profile.Name, Slots: profile.Slots()}
	if in.scenario != nil {
		out.Notes = in.scenario.Notes
		if *observed == "" && in.scenario.Observed != nil && in.scenario.Observed.Launches == *launches {
			obsLo, obsHi = in.scenario.Observed.Lo, in.scenario.Observed.Hi
			*observed = fmt.Sprint(obsLo, "-", obsHi)
		}
	}

	// The fixed layout: the given one, or the model's with both slides 0
	// (as lldb launches); the model's every launch unless --aslr off.
	space := in.layout
	out.Layout = "as given"
	var layouts slide.Layouts
	if space == nil {
		proc, err := in.model.Launch(in.order, macos.Randomness{})
		if err != nil {
			return bad("placing %s: %v", in.label, err)
		}
		space = proc.Space
		out.Layout = "placed by the dyld model with ASLR off (both slides 0, guarded-range tail 0)"
		if *aslr != "off" {
			if layouts, err = in.model.Layouts(in.order); err != nil {
				return bad("placing %s: %v", in.label, err)
			}
		}
	}
	a, err := xzone.Assess(space, layouts, profile, *launches)
	if err != nil {
		return bad("%s: %v", in.label, err)
	}
	res := a.Result
	out.CollidingSlots = append([]int{}, res.Colliding...)
	out.Colliding = len(res.Colliding)
	out.Probability = res.Probability
	out.Exact = res.Crash.String()
	for _, k := range res.Colliding {
		s := res.Slots[k]
		out.Hits = append(out.Hits, xzoneHit{Slot: k, PtrStart: s.Reservation.Start, Mapping: jsonMapping(*s.Hit)})
	}
	for _, c := range res.CulpritImages() {
		out.Culprits = append(out.Culprits, xzoneCulprit{Image: c.Name, IsImage: c.Image, Start: c.Range.Start, End: c.Range.End, FirstHit: append([]int{}, c.FirstHit...)})
	}
	out.ImageTop = a.ImageTop
	out.HeadroomBytes, out.ExcessBytes = res.Headroom, res.Excess
	out.Launches = launchesJSON(a.Launches, *observed, obsLo, obsHi)
	if in.scenario != nil && in.scenario.Observed != nil && *observed != "" {
		out.Launches.ObservedBy = in.scenario.Observed.Source
	}
	if j := a.Joint; j != nil {
		jj := &xzoneJoint{Probability: j.Probability, Exact: j.Crash.String(), Draws: j.Draws, Pieces: j.Pieces, Fewest: j.Fewest, Most: j.Most, Colliding: map[string]float64{}}
		for n, q := range j.Colliding {
			f, _ := q.Float64()
			jj.Colliding[strconv.Itoa(n)] = f
		}
		jj.Launches = launchesJSON(a.JointLaunches, *observed, obsLo, obsHi)
		jj.Launches.ObservedBy = out.Launches.ObservedBy
		out.Joint = jj
		if *aslr == "on" {
			out.Layout += " (for the slots and images below; the headline is the ASLR-on probability)"
		}
	}
	headline := a.Probability()

	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return bad("%v", err)
		}
	} else {
		printXZone(e.stdout, out, res, in)
	}
	if *failAbove >= 0 && headline > *failAbove {
		fmt.Fprintf(e.stderr, "vasim xzone: crash probability %.4f%% exceeds --fail-above %.4f%%\n", 100*headline, 100**failAbove)
		return exitFailure
	}
	return exitOK
}

// xzoneResolveInput loads the one input the flags name.
func xzoneResolveInput(scenarioName, layoutFile, imagesFile, exe, arch string) (*xzoneInput, error) {
	n := 0
	for _, s := range []string{scenarioName, layoutFile, imagesFile, exe} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("give at most one of --scenario, --layout, --images, --exe")
	}
	if arch != "" && exe == "" {
		return nil, errors.New("--arch applies only to --exe")
	}
	switch {
	case layoutFile != "":
		data, err := input.ReadFile(layoutFile, vaspace.DefaultMaxLayoutBytes, "a layout document")
		if err != nil {
			return nil, fmt.Errorf("--layout: %w", err)
		}
		p := macos.DefaultPlatform
		s, err := vaspace.DecodeLayout(bytes.NewReader(data), layoutFile, vaspace.LayoutOptions{Bounds: vaspace.Range{Start: 0, End: p.VATop}, PageSize: p.PageSize})
		if err != nil {
			return nil, err
		}
		return &xzoneInput{label: layoutFile, layout: s}, nil
	case imagesFile != "":
		set, err := jsonspec.ReadImageSet(imagesFile)
		if err != nil {
			return nil, fmt.Errorf("--images: %w", err)
		}
		return resolvedInput(imagesFile, nil, set, nil)
	case exe != "":
		set, err := dyld.ReadSet(exe, arch)
		if err != nil {
			return nil, fmt.Errorf("--exe: %w", err)
		}
		return resolvedInput(exe, nil, set, nil)
	}
	if scenarioName == "" {
		scenarioName = scenario.Default
	}
	sc, err := scenario.Load(scenarioName)
	if err != nil {
		return nil, fmt.Errorf("--scenario: %w", err)
	}
	return resolvedInput("scenario "+sc.Name, sc, sc.Set, sc.Model)
}

// resolvedInput orders set as dyld loads it, for model (nil: the model of
// the platform the set names).
func resolvedInput(label string, sc *scenario.Scenario, set *loader.ImageSet, model *macos.Model) (*xzoneInput, error) {
	order, err := dyld.Resolve(set)
	if err != nil {
		return nil, err
	}
	if model == nil {
		if model, err = macos.ModelFor(set.Platform); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
	}
	return &xzoneInput{label: label, scenario: sc, order: order, model: model}, nil
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
	fmt.Fprintf(w, "vasim xzone: %s\n", o.Input)
	if in.scenario != nil {
		fmt.Fprintf(w, "  %s\n", in.scenario.Description)
	}
	fmt.Fprintf(w, "libmalloc profile %s: a %s FIXED reservation at %v + k × %s, k = entropy mod %d\n\n",
		p.Name, vaspace.Size(p.Reservation()), p.RangesStart, vaspace.Size(p.Granule), p.Slots())

	fmt.Fprintf(w, "Layout %s:\n", o.Layout)
	if o.ImageTop > 0 {
		fmt.Fprintf(w, "  images end at %v (%s)\n", o.ImageTop, vaspace.Size(uint64(o.ImageTop)))
	}
	if len(o.CollidingSlots) == 0 {
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
		fmt.Fprintf(w, "  %s slots collide (%s): P(crash) = %s (%s)\n", res.Fraction(), strings.Join(runs, ", "), pct(o.Probability), exact)
		for _, k := range o.CollidingSlots[:min(2, len(o.CollidingSlots))] {
			h := res.Slots[k].Hit
			fmt.Fprintf(w, "  slot %d: ptr_start %v runs into %s at %v\n", k, res.Slots[k].Reservation.Start, ownerOrName(*h), h.Start)
		}
		images, others := 0, 0
		for _, c := range o.Culprits {
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
			for _, c := range o.Culprits {
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
		fmt.Fprintf(w, "  to reach 0%%: the span must end below %v, so %s must leave the launch (smaller images, or dylibs loaded with dlopen once __malloc_init has made its reservation); moving only the %d images above may not do it, as dylibs loaded after them slide into the freed space (examples/chromium finds a set that does)\n",
			p.RangesStart, vaspace.Size(o.ExcessBytes), images)
	}
	if res.Below != nil {
		fmt.Fprintf(w, "  headroom: %s may grow %s before one more slot collides\n", ownerOrName(*res.Below), vaspace.Size(o.HeadroomBytes))
	}
	if !res.Slots[0].OK() && !p.ZeroEntropy {
		fmt.Fprintf(w, "  on a boot whose shared-cache slide is 0, malloc entropy is zeroed and slot 0 is always used: every launch would crash (a zero slide is 1 in 16384 boots if it can occur at all; unconfirmed; --zero-entropy models it)\n")
	}
	printLaunches(w, o.Launches)

	if j := o.Joint; j != nil {
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
	if len(o.Notes) > 0 {
		fmt.Fprintf(w, "\nHow this scenario was built:\n")
		for _, n := range o.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
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
	dump := fs.String("dump", "", "print the named scenario's image set as JSON (the form --images reads)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *dump != "" {
		if c, err := tlscase.Load(*dump); err == nil {
			b, err := c.Marshal()
			if err != nil {
				fmt.Fprintf(e.stderr, "vasim scenarios: %v\n", err)
				return exitUsage
			}
			e.stdout.Write(b)
			return exitOK
		}
		sc, err := scenario.Load(*dump)
		if err != nil {
			fmt.Fprintf(e.stderr, "vasim scenarios: %v\n", err)
			return exitUsage
		}
		b, err := jsonspec.MarshalImageSet(sc.Set)
		if err != nil {
			fmt.Fprintf(e.stderr, "vasim scenarios: %v\n", err)
			return exitUsage
		}
		e.stdout.Write(b)
		return exitOK
	}
	for _, n := range scenario.Names() {
		sc, _ := scenario.Load(n)
		fmt.Fprintf(e.stdout, "%s (vasim xzone --scenario)\n  %s\n", sc.Name, sc.Description)
		for _, p := range sc.Published {
			fmt.Fprintf(e.stdout, "  published: %s\n", p)
		}
	}
	for _, n := range tlscase.Names() {
		c, _ := tlscase.Load(n)
		fmt.Fprintf(e.stdout, "%s (vasim tls --scenario; glibc %s %s)\n  %s\n", c.Name, c.Glibc, c.Arch, c.Summary)
		for _, p := range c.Published {
			fmt.Fprintf(e.stdout, "  published: %s\n", p)
		}
	}
	return exitOK
}
