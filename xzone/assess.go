package xzone

import (
	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
)

// Assessment is everything vasim says about one program's launches: the
// slots of one layout (as lldb sees it, ASLR off, or a layout as given),
// and, when the placement model is at hand, the exact probability over
// every launch with ASLR on; each with the crashes to expect in a number
// of launches.
type Assessment struct {
	Profile Profile
	// Layout is the one layout analysed slot by slot, and Result its
	// analysis.
	Layout *vaspace.Space
	Result *Result
	// ImageTop is the end of the highest image mapping (a segment or an
	// image's reservation) below the profile's RangesEnd, or 0.
	ImageTop vaspace.Addr
	// Launches is the crash count over Launches.N launches at Result's
	// probability.
	Launches Launches
	// Joint is the exact probability over every launch (nil without a
	// placement model), and JointLaunches its crash count.
	Joint         *Joint
	JointLaunches Launches
}

// Probability is the headline: the probability over every launch when it
// was computed, else the one layout's. A CI gate compares it with its
// threshold.
func (a *Assessment) Probability() float64 {
	if a.Joint != nil {
		return a.Joint.Probability
	}
	return a.Result.Probability
}

// Assess analyses layout slot by slot and, when layouts is not nil, sums
// over every launch of the placement model; launches is the number of
// launches to count crashes over (at level 0.95).
func Assess(layout *vaspace.Space, layouts slide.Layouts, p Profile, launches int) (*Assessment, error) {
	res, err := Analyze(layout, p)
	if err != nil {
		return nil, err
	}
	a := &Assessment{Profile: p, Layout: layout, Result: res, ImageTop: ImageTop(layout, p)}
	if a.Launches, err = Expect(launches, res.Probability, 0.95); err != nil {
		return nil, err
	}
	if layouts == nil {
		return a, nil
	}
	if a.Joint, err = JointAnalyze(layouts, p); err != nil {
		return nil, err
	}
	if a.JointLaunches, err = Expect(launches, a.Joint.Probability, 0.95); err != nil {
		return nil, err
	}
	return a, nil
}

// ImageTop returns the end of the highest image mapping (a segment or an
// image's reservation) that ends at or below the profile's RangesEnd, or
// 0 when there is none.
func ImageTop(s *vaspace.Space, p Profile) vaspace.Addr {
	var top vaspace.Addr
	for m := range s.Overlapping(vaspace.Range{Start: s.Bounds().Start, End: p.RangesEnd}) {
		if (m.Kind == vaspace.KindImage || m.Kind == vaspace.KindReservation) && m.End <= p.RangesEnd {
			top = max(top, m.End)
		}
	}
	return top
}
