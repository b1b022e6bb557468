package value

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
)

// Progress is an objective's measured movement toward its target: the
// effects its validated features measured, combined, against the target,
// within the horizon.
type Progress struct {
	Objective string `json:"objective"`
	Target    Target `json:"target"`
	Horizon   Date   `json:"horizon"`
	// Counted are the validated features whose measured effect counts: on
	// the objective's metric (or a hypothesis naming none), in the target's
	// units (relative or absolute), decided by the horizon.
	Counted []string `json:"counted"`
	// Uncounted are the validated features whose effect cannot count, each
	// with why ("feature-x: measured on signups, not activation").
	Uncounted []string `json:"uncounted,omitempty"`
	// Measured is the counted effects combined and turned to the target's
	// direction (a fall counts as progress toward a decrease): relative
	// effects compound, ∏(1 + effect) − 1, absolute ones add.
	Measured float64 `json:"measured"`
	// Share = Measured / Target.Value: 1 means the target is reached.
	Share float64 `json:"share"`
	// DaysLeft to the end of the horizon's day; negative once past.
	DaysLeft float64 `json:"daysLeft"`
	// Summary says it in one line with its arithmetic, and how many
	// verdicts a sample ratio mismatch leaves out, as next's line does.
	Summary string `json:"summary"`
	// mismatched counts the Uncounted left out for a sample ratio mismatch.
	mismatched int
}

// ShownObjective is an objective with its progress toward its target: what
// GET /api/v1/objectives/{key} answers and `valueloop objective show` reads.
type ShownObjective struct {
	Objective
	// Version is the objective's Version (also the ETag): a PUT with it as
	// If-Match writes only over what was read.
	Version  string    `json:"version"`
	Progress *Progress `json:"progress"`
}

// ObjectiveProgress measures o's progress from its features' verdicts (the
// items of other objectives are ignored). A verdict whose experiment shows
// a sample ratio mismatch (Item.SampleRatioMismatch) does not count, and
// the summary says how many were left out so.
func ObjectiveProgress(o *Objective, items []Item, now time.Time) Progress {
	p := Progress{Objective: o.Key, Target: o.Target, Horizon: o.Horizon, Counted: []string{}}
	relative := !o.Target.Absolute
	combined := 0.0
	if relative {
		combined = 1
	}
	var terms []string
	for _, it := range items {
		f, v := it.Feature, it.Lifecycle.Verdict
		if f.Objective != o.Key || v == nil || v.Stage != Validated {
			continue
		}
		why := ""
		metric, absolute := measuredOn(v, f.Hypothesis)
		switch {
		case it.SampleRatioMismatch:
			why = "its experiment now shows a sample ratio mismatch"
			p.mismatched++
		case v.Effect == nil:
			why = "no effect measured"
		case metric != "" && metric != o.Metric:
			why = fmt.Sprintf("measured on %s, not %s", metric, o.Metric)
		case absolute != o.Target.Absolute:
			why = "measured in other units (relative vs absolute)"
		case !o.Horizon.IsZero() && v.At.After(o.Horizon.End()):
			why = "validated after the horizon " + o.Horizon.String()
		}
		if why != "" {
			p.Uncounted = append(p.Uncounted, f.Key+": "+why)
			continue
		}
		p.Counted = append(p.Counted, f.Key)
		if relative {
			combined *= 1 + *v.Effect
			terms = append(terms, "(1"+fmtEffect(*v.Effect, false)+")")
		} else {
			combined += *v.Effect
			terms = append(terms, fmtEffect(*v.Effect, false))
		}
	}
	if relative {
		combined--
	}
	p.Measured = o.Target.Direction.Sign() * combined
	if o.Target.Value != 0 {
		p.Share = p.Measured / o.Target.Value
	}
	if !o.Horizon.IsZero() {
		p.DaysLeft = o.Horizon.End().Sub(now).Hours() / 24
	}
	slices.Sort(p.Counted)
	p.Summary = p.summary(terms, relative)
	return p
}

func (p *Progress) summary(terms []string, relative bool) string {
	// Both in the metric's own direction: a fall reads as a fall.
	sign := p.Target.Direction.Sign()
	target := fmtEffect(sign*p.Target.Value, relative)
	var b strings.Builder
	if len(p.Counted) == 0 {
		fmt.Fprintf(&b, "no validated effect yet toward %s", target)
	} else {
		arith := strings.Join(terms, " + ")
		if relative {
			arith = strings.Join(terms, "×") + "−1"
		}
		fmt.Fprintf(&b, "%s of %s measured (%s from %d validated) = %s of the target", fmtEffect(sign*p.Measured, relative), target, arith, len(p.Counted), share(p.Share))
	}
	switch {
	case p.Horizon.IsZero():
	case p.Share >= 1:
		b.WriteString(": reached")
	case p.DaysLeft < 0:
		fmt.Fprintf(&b, ": the horizon %s has passed", p.Horizon)
	case p.DaysLeft < 1:
		fmt.Fprintf(&b, ", less than a day left to the horizon %s", p.Horizon)
	default:
		// Whole days: a fraction of a day reads as false precision here.
		// The horizon's day ends a nanosecond before midnight: count to
		// the second, so that midnight to its end is a whole day.
		fmt.Fprintf(&b, ", %s left to the horizon %s", valueloop.Count(int64(math.Round(p.DaysLeft*86400))/86400, "day"), p.Horizon)
	}
	if p.mismatched > 0 {
		b.WriteString("; " + mismatchedWords(p.mismatched))
	}
	return b.String()
}

// mismatchedWords says that n verdicts were left out of a figure for their
// experiments' sample ratio mismatch: in next's line and the progress alike.
func mismatchedWords(n int) string {
	return valueloop.Count(int64(n), "verdict") + " not counted: sample ratio mismatch"
}

// share writes x as a percentage as precisely as the effects it is
// computed from are written (three significant digits, fmtEffect): +21.9 %
// of +10 % is 219 %, not 218.95 %. Large shares keep their whole digits,
// never an exponent.
func share(x float64) string {
	pct := 100 * x
	if pct == 0 || math.IsInf(pct, 0) || math.IsNaN(pct) {
		return num(pct) + "%"
	}
	decimals := max(0, 2-int(math.Floor(math.Log10(math.Abs(pct)))))
	s := strconv.FormatFloat(pct, 'f', decimals, 64)
	if decimals > 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + "%"
}
