package vaspace_test

import (
	"github.com/vasim/vasim/vaspace"
)

// refSpace is the deliberately simple reference model the state-machine
// test runs beside Space: one cell per page, each naming the mapping that
// owns it. Every query is a linear scan and every placement is brute force,
// so its correctness can be read off directly.
type refSpace struct {
	bounds vaspace.Range
	page   uint64
	cells  []refCell
	nextID int
}

// refCell is one page. id 0 means free; pages with the same id in a
// contiguous run form one mapping, whose attributes are in m.
type refCell struct {
	id  int
	m   vaspace.Mapping // attributes only; Range and Offset are ignored
	off uint64          // the file offset of this page
}

func newRef(bounds vaspace.Range, page uint64) *refSpace {
	return &refSpace{bounds: bounds, page: page, cells: make([]refCell, bounds.Len()/page), nextID: 1}
}

func (r *refSpace) clone() *refSpace {
	c := *r
	c.cells = append([]refCell(nil), r.cells...)
	return &c
}

func (r *refSpace) index(a vaspace.Addr) int { return int(uint64(a-r.bounds.Start) / r.page) }
func (r *refSpace) addr(i int) vaspace.Addr  { return r.bounds.Start + vaspace.Addr(uint64(i)*r.page) }

// mappings returns the runs of equal, non-zero ids.
func (r *refSpace) mappings() []vaspace.Mapping {
	var out []vaspace.Mapping
	for i := 0; i < len(r.cells); {
		c := r.cells[i]
		j := i + 1
		for j < len(r.cells) && r.cells[j].id == c.id {
			j++
		}
		if c.id != 0 {
			m := c.m
			m.Range = vaspace.Range{Start: r.addr(i), End: r.addr(j)}
			m.Offset = c.off
			out = append(out, m)
		}
		i = j
	}
	return out
}

func (r *refSpace) gaps() []vaspace.Range {
	var out []vaspace.Range
	for i := 0; i < len(r.cells); {
		j := i
		for j < len(r.cells) && r.cells[j].id == 0 {
			j++
		}
		if j > i {
			out = append(out, vaspace.Range{Start: r.addr(i), End: r.addr(j)})
			i = j
		} else {
			i++
		}
	}
	return out
}

func (r *refSpace) mappingAt(a vaspace.Addr) (vaspace.Mapping, bool) {
	for _, m := range r.mappings() {
		if m.Contains(a) {
			return m, true
		}
	}
	return vaspace.Mapping{}, false
}

func (r *refSpace) before(a vaspace.Addr) (vaspace.Mapping, bool) {
	var best vaspace.Mapping
	ok := false
	for _, m := range r.mappings() {
		if m.Start < a {
			best, ok = m, true
		}
	}
	return best, ok
}

func (r *refSpace) after(a vaspace.Addr) (vaspace.Mapping, bool) {
	for _, m := range r.mappings() {
		if m.Start >= a {
			return m, true
		}
	}
	return vaspace.Mapping{}, false
}

func (r *refSpace) overlapping(q vaspace.Range) []vaspace.Mapping {
	var out []vaspace.Mapping
	for _, m := range r.mappings() {
		if m.Overlaps(q) {
			out = append(out, m)
		}
	}
	return out
}

func (r *refSpace) mapped() uint64 {
	var n uint64
	for _, c := range r.cells {
		if c.id != 0 {
			n += r.page
		}
	}
	return n
}

func (r *refSpace) validate(op string, q vaspace.Range, name string) error {
	e := &vaspace.Error{Op: op, Range: q, Name: name}
	switch {
	case q.End < q.Start, q.IsEmpty():
		e.Err = vaspace.ErrBadRange
	case !q.Start.IsAligned(r.page) || !q.End.IsAligned(r.page):
		e.Err = vaspace.ErrBadAlignment
	case !r.bounds.ContainsRange(q):
		e.Err = vaspace.ErrOutOfBounds
	default:
		return nil
	}
	return e
}

// fresh gives every page of the run [i, j) a new id, keeping attributes.
func (r *refSpace) fresh(i, j int) {
	id := r.nextID
	r.nextID++
	for k := i; k < j; k++ {
		r.cells[k].id = id
	}
}

// cut ends the runs at page boundary i, so pages on either side belong to
// different mappings.
func (r *refSpace) cut(i int) {
	if i <= 0 || i >= len(r.cells) || r.cells[i].id == 0 || r.cells[i].id != r.cells[i-1].id {
		return
	}
	j := i
	for j < len(r.cells) && r.cells[j].id == r.cells[i].id {
		j++
	}
	r.fresh(i, j)
}

func (r *refSpace) Map(m vaspace.Mapping) error {
	if err := r.validate("map", m.Range, m.Name); err != nil {
		return err
	}
	if hits := r.overlapping(m.Range); len(hits) > 0 {
		return &vaspace.Error{Op: "map", Range: m.Range, Name: m.Name, Hit: &hits[0], Err: vaspace.ErrOverlap}
	}
	r.place(m)
	return nil
}

func (r *refSpace) place(m vaspace.Mapping) {
	id := r.nextID
	r.nextID++
	for k := r.index(m.Start); k < r.index(m.End); k++ {
		r.cells[k] = refCell{id: id, m: m, off: m.Offset + uint64(r.addr(k)-m.Start)}
	}
}

func (r *refSpace) MapReplace(m vaspace.Mapping) error {
	if err := r.validate("map-replace", m.Range, m.Name); err != nil {
		return err
	}
	r.unmap(m.Range)
	r.place(m)
	return nil
}

func (r *refSpace) unmap(q vaspace.Range) {
	i, j := r.index(q.Start), r.index(q.End)
	r.cut(i)
	r.cut(j)
	for k := i; k < j; k++ {
		r.cells[k] = refCell{}
	}
}

func (r *refSpace) Unmap(q vaspace.Range) error {
	if err := r.validate("unmap", q, ""); err != nil {
		return err
	}
	r.unmap(q)
	return nil
}

func (r *refSpace) Protect(q vaspace.Range, p vaspace.Prot) error {
	if err := r.validate("protect", q, ""); err != nil {
		return err
	}
	i, j := r.index(q.Start), r.index(q.End)
	for k := i; k < j; k++ {
		if r.cells[k].id == 0 {
			h := k
			for h < j && r.cells[h].id == 0 {
				h++
			}
			return &vaspace.Error{Op: "protect", Range: q, Hole: vaspace.Range{Start: r.addr(k), End: r.addr(h)}, Err: vaspace.ErrNotMapped}
		}
	}
	// Mappings that already have protection p are left whole, as Space
	// does; the others are split at the ends of q and their middle changed.
	for _, m := range r.overlapping(q) {
		if m.Prot == p {
			continue
		}
		mi, mj := r.index(m.Start), r.index(m.End)
		lo, hi := max(mi, i), min(mj, j)
		if mi < lo {
			r.fresh(mi, lo)
		}
		if hi < mj {
			r.fresh(hi, mj)
		}
		r.fresh(lo, hi)
		for k := lo; k < hi; k++ {
			r.cells[k].m.Prot = p
		}
	}
	return nil
}

// fitWindow normalises a request exactly as the Space documents it and
// returns the window, alignment and offset, or the validation error.
func (r *refSpace) fitWindow(op string, req vaspace.Request) (w vaspace.Range, align, off uint64, err error) {
	e := &vaspace.Error{Op: op, Range: req.Window, Size: req.Size}
	align = max(req.Align, r.page)
	switch {
	case !vaspace.IsPow2(align):
		e.Err = vaspace.ErrBadAlignment
	case req.Size == 0:
		e.Err = vaspace.ErrBadRange
	case req.Size%r.page != 0, req.Offset%r.page != 0:
		e.Err = vaspace.ErrBadAlignment
	case req.Window.End < req.Window.Start:
		e.Err = vaspace.ErrBadRange
	}
	if e.Err != nil {
		return w, 0, 0, e
	}
	w = req.Window
	if w == (vaspace.Range{}) {
		w = r.bounds
	}
	return w.Intersect(r.bounds), align, req.Offset % align, nil
}

func (r *refSpace) free(q vaspace.Range) bool {
	for k := r.index(q.Start); k < r.index(q.End); k++ {
		if r.cells[k].id != 0 {
			return false
		}
	}
	return true
}

// FirstFit is brute force: the lowest address a >= max(hint, window start)
// with a ≡ offset (mod align) such that [a, a+size) is free and inside the
// window.
func (r *refSpace) FirstFit(hint vaspace.Addr, req vaspace.Request) (vaspace.Addr, error) {
	w, align, off, err := r.fitWindow("first-fit", req)
	if err != nil {
		return 0, err
	}
	start, ok := max(w.Start, hint).RoundUp(r.page)
	for a := start; ok && a < w.End; a += vaspace.Addr(r.page) {
		if (uint64(a)-off)%align != 0 {
			continue
		}
		q, ok := vaspace.RangeOf(a, req.Size)
		if ok && w.ContainsRange(q) && r.free(q) {
			return a, nil
		}
	}
	return 0, &vaspace.Error{Op: "first-fit", Err: vaspace.ErrNoSpace}
}

// HighestFit follows the Linux rule literally over the list of gaps: the
// highest gap whose part inside the window is at least size+align-page
// bytes, top-aligned.
func (r *refSpace) HighestFit(req vaspace.Request) (vaspace.Addr, error) {
	w, align, off, err := r.fitWindow("highest-fit", req)
	if err != nil {
		return 0, err
	}
	need := req.Size + align - r.page
	gaps := r.gaps()
	for i := len(gaps) - 1; i >= 0; i-- {
		c := gaps[i].Intersect(w)
		if c.Len() >= need {
			start := uint64(c.End) - req.Size
			start -= (start - off) % align
			return vaspace.Addr(start), nil
		}
	}
	return 0, &vaspace.Error{Op: "highest-fit", Err: vaspace.ErrNoSpace}
}
