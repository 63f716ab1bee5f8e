package xzone

import (
	"fmt"
	"math/big"

	"github.com/vasim/vasim/loader/slide"
	"github.com/vasim/vasim/vaspace"
)

// Variant is a launch under one alternative value of a model parameter no
// published source fixes (macos.Model.Alternatives lists them for the
// macOS model).
type Variant struct {
	// Parameter names what is varied, Value the alternative in words.
	Parameter, Value string
	// Fixed is the layout with ASLR off under the alternative.
	Fixed *vaspace.Space
	// Layouts is every launch under the alternative; nil leaves the exact
	// sum over every slide out.
	Layouts slide.Layouts
}

// Outcome is the crash probability under one Variant.
type Outcome struct {
	Parameter, Value string
	// Fixed is the probability with ASLR off; Joint over every slide (nil
	// when not summed). FixedP and JointP are the same as float64s.
	Fixed, Joint   *big.Rat
	FixedP, JointP float64
}

// Dependence is how an answer depends on the parameters no published
// source fixes: the answer under each alternative, exact like the answer
// itself.
type Dependence struct {
	Outcomes []Outcome
	// Spread is the range of the answer over the model's own values and
	// every alternative except those of Apart; Apart's alternatives are
	// reported on their own (the macOS shared region, a platform choice
	// that moves the answer by tens of points).
	Apart            string
	FixedLo, FixedHi float64
	JointLo, JointHi float64
	// MostFixed and MostJoint name the parameter, among those not Apart,
	// whose alternatives move the answer most ("" when none moves it).
	MostFixed, MostJoint string
	// Joint reports that the exact sum over every slide was made for
	// every variant.
	Joint bool
}

// Depends computes the answer under every variant, beside the base
// assessment's (whose joint figure, if any, is the base of the joint
// spread). The exact sum is made for a variant that has Layouts, one per
// variant: expect as many times the cost of the base's.
func Depends(base *Assessment, variants []Variant, p Profile, apart string) (*Dependence, error) {
	d := &Dependence{Apart: apart, Joint: base.Joint != nil}
	d.FixedLo, d.FixedHi = base.Result.Probability, base.Result.Probability
	if base.Joint != nil {
		d.JointLo, d.JointHi = base.Joint.Probability, base.Joint.Probability
	}
	moveFixed, moveJoint := map[string]float64{}, map[string]float64{}
	for _, v := range variants {
		if v.Fixed == nil {
			return nil, fmt.Errorf("xzone: variant %s = %s has no layout", v.Parameter, v.Value)
		}
		r, err := Analyze(v.Fixed, p)
		if err != nil {
			return nil, fmt.Errorf("%s = %s: %w", v.Parameter, v.Value, err)
		}
		o := Outcome{Parameter: v.Parameter, Value: v.Value, Fixed: r.Crash, FixedP: r.Probability}
		if base.Joint != nil {
			if v.Layouts == nil {
				d.Joint = false
			} else {
				j, err := JointAnalyze(v.Layouts, p)
				if err != nil {
					return nil, fmt.Errorf("%s = %s: %w", v.Parameter, v.Value, err)
				}
				o.Joint, o.JointP = j.Crash, j.Probability
			}
		}
		d.Outcomes = append(d.Outcomes, o)
		if v.Parameter == apart {
			continue
		}
		d.FixedLo, d.FixedHi = min(d.FixedLo, o.FixedP), max(d.FixedHi, o.FixedP)
		moveFixed[v.Parameter] = max(moveFixed[v.Parameter], abs(o.FixedP-base.Result.Probability))
		if o.Joint != nil {
			d.JointLo, d.JointHi = min(d.JointLo, o.JointP), max(d.JointHi, o.JointP)
			moveJoint[v.Parameter] = max(moveJoint[v.Parameter], abs(o.JointP-base.Joint.Probability))
		}
	}
	d.MostFixed, d.MostJoint = most(moveFixed, variants), most(moveJoint, variants)
	return d, nil
}

func abs(x float64) float64 { return max(x, -x) }

// most returns the parameter with the largest move, the first listed on a
// tie, or "" when none moves the answer.
func most(move map[string]float64, variants []Variant) string {
	best, name := 0.0, ""
	for _, v := range variants {
		if m := move[v.Parameter]; m > best {
			best, name = m, v.Parameter
		}
	}
	return name
}
