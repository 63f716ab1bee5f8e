package vaspace_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/vaspace"
	"github.com/vasim/vasim/vaspace/vaspacetest"
	"pgregory.net/rapid"
)

// machineConfig is a small, crowded space: 128 pages, mappings up to 12
// pages, so that overlaps, splits, exact fits and exhaustion all happen
// often.
var machineConfig = vaspacetest.Config{
	Bounds:   vaspace.Range{Start: 0x40000, End: 0x40000 + 128*0x1000},
	PageSize: 0x1000,
	MaxPages: 12,
	MaxCount: 24,
}

// pair is a Space and the reference model it must agree with.
type pair struct {
	s   *vaspace.Space
	ref *refSpace
}

type machine struct {
	cur    pair
	clones []pair // earlier branches; each must stay as it was
	cfg    vaspacetest.Config
}

// near returns the addresses from slack bytes below the bounds to slack
// bytes above them, saturating at the ends of the 64-bit space.
func (m *machine) near(slack uint64) (uint64, uint64) {
	lo, ok := m.cfg.Bounds.Start.Sub(slack)
	if !ok {
		lo = 0
	}
	hi, ok := m.cfg.Bounds.End.Add(slack)
	if !ok {
		hi = ^vaspace.Addr(0)
	}
	return uint64(lo), uint64(hi)
}

// wildRange draws either a well-formed range from the generators or an
// arbitrary one near the bounds, which may be empty, reversed, unaligned
// or out of bounds.
func (m *machine) wildRange(t *rapid.T, label string) vaspace.Range {
	if rapid.IntRange(0, 9).Draw(t, label+" wild") > 0 {
		return vaspacetest.Range(m.cfg).Draw(t, label)
	}
	lo, hi := m.near(2 * m.cfg.PageSize)
	a := rapid.Uint64Range(lo, hi).Draw(t, label+" start")
	b := rapid.Uint64Range(lo, hi).Draw(t, label+" end")
	if rapid.Bool().Draw(t, label+" page-aligned") {
		a &^= m.cfg.PageSize - 1
		b &^= m.cfg.PageSize - 1
	}
	return vaspace.Range{Start: vaspace.Addr(a), End: vaspace.Addr(b)}
}

func (m *machine) mapping(t *rapid.T) vaspace.Mapping {
	mp := vaspacetest.Mapping(m.cfg).Draw(t, "mapping")
	mp.Range = m.wildRange(t, "range")
	return mp
}

// sameError checks that got and want agree on the error class and on the
// details a caller relies on: the mapping hit and the hole.
func sameError(t require.TestingT, got, want error, what string) {
	if want == nil {
		require.NoError(t, got, what)
		return
	}
	require.Error(t, got, what)
	var g, w *vaspace.Error
	require.True(t, errors.As(got, &g), "%s: %T is not a *vaspace.Error", what, got)
	require.True(t, errors.As(want, &w))
	require.ErrorIs(t, got, w.Err, what)
	if w.Hit != nil {
		require.NotNil(t, g.Hit, "%s: error names no mapping", what)
		require.Equal(t, *w.Hit, *g.Hit, what)
	}
	if errors.Is(want, vaspace.ErrNotMapped) {
		require.Equal(t, w.Hole, g.Hole, what)
	}
}

func (m *machine) Map(t *rapid.T) {
	mp := m.mapping(t)
	sameError(t, m.cur.s.Map(mp), m.cur.ref.Map(mp), "Map "+mp.String())
}

func (m *machine) MapReplace(t *rapid.T) {
	mp := m.mapping(t)
	sameError(t, m.cur.s.MapReplace(mp), m.cur.ref.MapReplace(mp), "MapReplace "+mp.String())
}

func (m *machine) Unmap(t *rapid.T) {
	r := m.wildRange(t, "range")
	sameError(t, m.cur.s.Unmap(r), m.cur.ref.Unmap(r), "Unmap "+r.String())
}

func (m *machine) Protect(t *rapid.T) {
	r := m.wildRange(t, "range")
	p := rapid.SampledFrom([]vaspace.Prot{vaspace.ProtNone, vaspace.ProtRead, vaspace.ProtRW, vaspace.ProtRX}).Draw(t, "prot")
	sameError(t, m.cur.s.Protect(r, p), m.cur.ref.Protect(r, p), "Protect "+r.String())
}

// place runs a placement on both, checks they agree, and maps the result so
// placements build up the layout as a loader's would.
func (m *machine) place(t *rapid.T, op string, got, want vaspace.Addr, gotErr, wantErr error, req vaspace.Request) {
	if wantErr != nil {
		require.Error(t, gotErr, "%s %+v: reference found no fit", op, req)
		require.ErrorIs(t, gotErr, errors.Unwrap(wantErr), "%s %+v", op, req)
		return
	}
	require.NoError(t, gotErr, "%s %+v", op, req)
	require.Equal(t, want, got, "%s %+v", op, req)
	mp := vaspace.Mapping{Range: vaspace.Range{Start: got, End: got + vaspace.Addr(req.Size)}, Name: op}
	require.NoError(t, m.cur.s.Map(mp), "placing the result of %s", op)
	require.NoError(t, m.cur.ref.Map(mp))
}

func (m *machine) FirstFit(t *rapid.T) {
	req := vaspacetest.Request(m.cfg).Draw(t, "request")
	hint := vaspace.Addr(0)
	switch rapid.IntRange(0, 3).Draw(t, "hinted") {
	case 1, 2:
		hint = vaspacetest.Addr(m.cfg).Draw(t, "hint")
	case 3: // anywhere near the bounds, aligned or not
		lo, hi := m.near(2 * m.cfg.PageSize)
		hint = vaspace.Addr(rapid.Uint64Range(lo, hi).Draw(t, "wild hint"))
	}
	got, gotErr := m.cur.s.FirstFit(hint, req)
	want, wantErr := m.cur.ref.FirstFit(hint, req)
	m.place(t, "first-fit", got, want, gotErr, wantErr, req)
}

func (m *machine) HighestFit(t *rapid.T) {
	req := vaspacetest.Request(m.cfg).Draw(t, "request")
	got, gotErr := m.cur.s.HighestFit(req)
	want, wantErr := m.cur.ref.HighestFit(req)
	m.place(t, "highest-fit", got, want, gotErr, wantErr, req)
}

// BadRequest feeds requests that must be rejected before any search.
func (m *machine) BadRequest(t *rapid.T) {
	req := vaspace.Request{
		Size:   rapid.Uint64Range(0, 3*m.cfg.PageSize).Draw(t, "size"),
		Align:  rapid.Uint64Range(0, 1<<20).Draw(t, "align"),
		Offset: rapid.Uint64Range(0, 1<<20).Draw(t, "offset"),
		Window: m.wildRange(t, "window"),
	}
	_, gotErr := m.cur.s.HighestFit(req)
	_, wantErr := m.cur.ref.HighestFit(req)
	if wantErr != nil {
		require.ErrorIs(t, gotErr, errors.Unwrap(wantErr), "HighestFit %+v", req)
	} else {
		require.NoError(t, gotErr)
	}
	_, gotErr = m.cur.s.FirstFit(0, req)
	_, wantErr = m.cur.ref.FirstFit(0, req)
	if wantErr != nil {
		require.ErrorIs(t, gotErr, errors.Unwrap(wantErr), "FirstFit %+v", req)
	} else {
		require.NoError(t, gotErr)
	}
}

func (m *machine) Query(t *rapid.T) {
	r := m.wildRange(t, "range")
	lo, hi := m.near(2 * m.cfg.PageSize)
	a := vaspace.Addr(rapid.Uint64Range(lo, hi).Draw(t, "addr"))
	if ms := m.cur.ref.mappings(); len(ms) > 0 && rapid.Bool().Draw(t, "at a boundary") {
		// Exactly at a mapping's start or end, where At, Before and After
		// must each pick the right neighbour.
		mp := rapid.SampledFrom(ms).Draw(t, "boundary mapping")
		a = mp.Start
		if rapid.Bool().Draw(t, "end") {
			a = mp.End
		}
	}
	got, ok := m.cur.s.At(a)
	want, wantOK := m.cur.ref.mappingAt(a)
	require.Equal(t, wantOK, ok, "At(%v)", a)
	require.Equal(t, want, got, "At(%v)", a)
	got, ok = m.cur.s.Before(a)
	want, wantOK = m.cur.ref.before(a)
	require.Equal(t, wantOK, ok, "Before(%v)", a)
	require.Equal(t, want, got, "Before(%v)", a)
	got, ok = m.cur.s.After(a)
	want, wantOK = m.cur.ref.after(a)
	require.Equal(t, wantOK, ok, "After(%v)", a)
	require.Equal(t, want, got, "After(%v)", a)
	require.Equal(t, m.cur.ref.overlapping(r), slices.Collect(m.cur.s.Overlapping(r)), "Overlapping(%v)", r)
	require.Equal(t, r.IsEmpty() || len(m.cur.ref.overlapping(r)) == 0 && m.cfg.Bounds.ContainsRange(r), m.cur.s.IsFree(r), "IsFree(%v)", r)
	var want2 []vaspace.Range
	for _, g := range m.cur.ref.gaps() {
		if c := g.Intersect(r); !c.IsEmpty() {
			want2 = append(want2, c)
		}
	}
	require.Equal(t, want2, slices.Collect(m.cur.s.Gaps(r)), "Gaps(%v)", r)
}

// Clone branches the layout. The branch is kept and checked after every
// later step; the current side carries on, so writes to one must never
// show in the other.
func (m *machine) Clone(t *rapid.T) {
	if len(m.clones) >= 4 {
		t.Skip("enough branches")
	}
	m.clones = append(m.clones, pair{m.cur.s.Clone(), m.cur.ref.clone()})
}

// Switch makes a kept branch current and keeps the current one, so both
// sides of a clone get written.
func (m *machine) Switch(t *rapid.T) {
	if len(m.clones) == 0 {
		t.Skip("no branch")
	}
	i := rapid.IntRange(0, len(m.clones)-1).Draw(t, "branch")
	m.cur, m.clones[i] = m.clones[i], m.cur
}

func checkPair(t *rapid.T, p pair, what string) {
	require.NoError(t, p.s.Check(), what)
	want := p.ref.mappings()
	got := slices.Collect(p.s.All())
	require.Equal(t, want, got, "%s: mappings", what)
	require.Equal(t, p.ref.gaps(), slices.Collect(p.s.Gaps(p.s.Bounds())), "%s: gaps", what)
	require.Equal(t, len(want), p.s.Len(), what)
	require.Equal(t, p.ref.mapped(), p.s.MappedBytes(), what)
	lo, okLo := p.s.Lowest()
	hi, okHi := p.s.Highest()
	require.Equal(t, len(want) > 0, okLo, what)
	require.Equal(t, len(want) > 0, okHi, what)
	if len(want) > 0 {
		require.Equal(t, want[0], lo, what)
		require.Equal(t, want[len(want)-1], hi, what)
	}
}

func (m *machine) Check(t *rapid.T) {
	checkPair(t, m.cur, "current")
	for i, c := range m.clones {
		checkPair(t, c, "branch "+string(rune('0'+i)))
	}
}

func runMachine(t *rapid.T, cfg vaspacetest.Config) {
	m := &machine{cfg: cfg}
	m.cur.s = vaspacetest.Layout(cfg).Draw(t, "layout")
	m.cur.ref = newRef(cfg.Bounds, cfg.PageSize)
	for mp := range m.cur.s.All() {
		require.NoError(t, m.cur.ref.Map(mp))
	}
	t.Repeat(rapid.StateMachineActions(m))
}

// TestSpaceMachine drives every operation at random against the reference
// model and checks all invariants, the layout, the free ranges and every
// kept clone after each step.
func TestSpaceMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { runMachine(t, machineConfig) })
}

// TestSpaceMachineAligned runs the same machine with 4-page-aligned
// layouts and large-page alignment requests, where alignment offsets and
// the Linux search-length rule matter most.
func TestSpaceMachineAligned(t *testing.T) {
	cfg := machineConfig
	cfg.Align = 4 * cfg.PageSize
	cfg.Density = 0.3
	rapid.Check(t, func(t *rapid.T) { runMachine(t, cfg) })
}

// TestSpaceMachineDeep runs the machine on layouts of hundreds of small
// mappings, so the free-space index is several levels deep and splits,
// merges and rebalances on most steps.
func TestSpaceMachineDeep(t *testing.T) {
	cfg := vaspacetest.Config{
		Bounds:   vaspace.Range{Start: 0x100000, End: 0x100000 + 2048*0x1000},
		PageSize: 0x1000,
		MaxPages: 3,
		MinCount: 200,
		MaxCount: 500,
		Density:  0.6,
	}
	rapid.Check(t, func(t *rapid.T) { runMachine(t, cfg) })
}

// TestSpaceMachineTopOfSpace runs the machine on bounds that end one page
// below 2^64, where every end+size, alignment round-up and search length
// can overflow.
func TestSpaceMachineTopOfSpace(t *testing.T) {
	cfg := machineConfig
	cfg.Bounds = vaspace.Range{Start: ^vaspace.Addr(0) - 130*0x1000 + 1, End: ^vaspace.Addr(0) - 0x1000 + 1}
	rapid.Check(t, func(t *rapid.T) { runMachine(t, cfg) })
}

// FuzzSpaceOps runs the state machine on fuzzer-chosen bytes.
func FuzzSpaceOps(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) { runMachine(t, machineConfig) }))
}

// TestPlacementProperties checks the placement results on generated
// layouts against their definitions rather than against the reference:
// a result is free, aligned and inside the window; for FirstFit no lower
// aligned address fits.
func TestPlacementProperties(t *testing.T) {
	cfg := vaspacetest.Config{MaxCount: 64, Density: 0.7}
	rapid.Check(t, func(t *rapid.T) {
		s := vaspacetest.Layout(cfg).Draw(t, "layout")
		req := vaspacetest.Request(cfg).Draw(t, "request")
		w := req.Window
		if w == (vaspace.Range{}) {
			w = s.Bounds()
		}
		align := max(req.Align, s.PageSize())
		for _, op := range []string{"first", "highest"} {
			var a vaspace.Addr
			var err error
			if op == "first" {
				a, err = s.FirstFit(0, req)
			} else {
				a, err = s.HighestFit(req)
			}
			if errors.Is(err, vaspace.ErrNoSpace) {
				continue
			}
			require.NoError(t, err)
			r, ok := vaspace.RangeOf(a, req.Size)
			require.True(t, ok)
			assert.True(t, w.ContainsRange(r), "%s fit %v outside window %v", op, r, w)
			assert.True(t, s.IsFree(r), "%s fit %v is not free", op, r)
			assert.Equal(t, req.Offset%align, uint64(a)%align, "%s fit %v misaligned", op, r)
			if op == "first" {
				for b := w.Start; b < a; b += vaspace.Addr(s.PageSize()) {
					q, _ := vaspace.RangeOf(b, req.Size)
					if uint64(b)%align == req.Offset%align && w.ContainsRange(q) {
						require.False(t, s.IsFree(q), "first fit %v, but %v below it is free", r, q)
					}
				}
			}
		}
	})
}

func TestCloneIsIndependent(t *testing.T) {
	s := vaspace.MustNew(vaspace.Range{Start: 0, End: 1 << 30}, 0x1000)
	for i := vaspace.Addr(0); i < 100; i++ {
		require.NoError(t, s.Map(vaspace.Mapping{Range: vaspace.Range{Start: i * 0x10000, End: i*0x10000 + 0x1000}, Name: "base"}))
	}
	c := s.Clone()
	require.NoError(t, c.MapReplace(vaspace.Mapping{Range: vaspace.Range{Start: 0, End: 0x200000}, Name: "over"}))
	require.NoError(t, s.Unmap(vaspace.Range{Start: 0x500000, End: 0x600000}))
	assert.Equal(t, 100-16, s.Len())
	assert.Equal(t, 100-32+1, c.Len())
	require.NoError(t, s.Check())
	require.NoError(t, c.Check())
	m, ok := c.At(0x10000)
	require.True(t, ok)
	assert.Equal(t, "over", m.Name)
	m, ok = s.At(0x10000)
	require.True(t, ok)
	assert.Equal(t, "base", m.Name)
}

// TestTopDownAtScale places vm.max_map_count (65,530) mappings top-down one
// after another, as a Linux process filling its map would, and checks the
// layout packs flush below the ceiling with every invariant intact. Its
// speed is measured by BenchmarkPlaceTopDown, not asserted here.
func TestTopDownAtScale(t *testing.T) {
	const n = 65530
	bounds := vaspace.Range{Start: 0x10000, End: 0x7ffffffff000}
	s := vaspace.MustNew(bounds, 0x1000)
	ceiling := vaspace.Addr(0x7f0000000000)
	for i := 0; i < n; i++ {
		req := vaspace.Request{Size: 0x1000 * uint64(1+i%3), Window: vaspace.Range{Start: bounds.Start, End: ceiling}}
		a, err := s.HighestFit(req)
		require.NoError(t, err)
		require.NoError(t, s.Map(vaspace.Mapping{Range: vaspace.Range{Start: a, End: a + vaspace.Addr(req.Size)}}))
	}
	require.Equal(t, n, s.Len())
	require.NoError(t, s.Check())
	lo, _ := s.Lowest()
	hi, _ := s.Highest()
	assert.Equal(t, ceiling, hi.End)
	assert.Equal(t, uint64(hi.End-lo.Start), s.MappedBytes(), "top-down placement must pack with no holes")
}
