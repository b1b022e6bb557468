package value

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Item is one feature with its lifecycle, what flow and next read.
type Item struct {
	Feature   *Feature
	Lifecycle *Lifecycle
	// SampleRatioMismatch says the experiment whose verdict stands (on
	// the verdict's flag) now shows a sample ratio mismatch: its
	// assignment or logging is broken, no number of it can be trusted,
	// and its verdict counts in no record of bets (ObjectiveBets).
	SampleRatioMismatch bool
}

// DefaultStuckAfter is how long a feature may stay in a stage before flow
// flags it as stuck. Ideas and finished features are never stuck; a
// decided feature is stuck when its flag has not been cleaned up in two
// weeks.
var DefaultStuckAfter = map[Stage]time.Duration{
	Ready:       60 * 24 * time.Hour,
	Building:    30 * 24 * time.Hour,
	Releasing:   14 * 24 * time.Hour,
	Measuring:   42 * 24 * time.Hour,
	Validated:   14 * 24 * time.Hour,
	Invalidated: 14 * 24 * time.Hour,
}

// FlowOptions set the window and the limits of a flow report.
type FlowOptions struct {
	Now time.Time
	// Since starts the window of throughput, flow times and the validated
	// share; work in progress is counted as of Now whatever its age.
	Since time.Time
	// StuckAfter per stage; nil means DefaultStuckAfter. A stage missing
	// (or zero) is never stuck.
	StuckAfter map[Stage]time.Duration
	// Oldest is how many of the oldest features each stage lists; 0 means 3.
	Oldest int
}

// Flow is the flow of value across features.
type Flow struct {
	Since  time.Time   `json:"since"`
	Until  time.Time   `json:"until"`
	Stages []StageFlow `json:"stages"`
	// Throughput: features reaching their first verdict, per week (weeks
	// start on Monday, UTC).
	Throughput []Week `json:"throughput"`
	// Shipped counts the features that entered measuring or beyond in the
	// window, by evidence or by hand (an idea invalidated by hand counts,
	// released or not); Validated those of them whose verdict stands
	// validated, Invalidated likewise.
	Shipped     int `json:"shipped"`
	Validated   int `json:"validated"`
	Invalidated int `json:"invalidated"`
	// ValidatedShare = Validated / Shipped; nil when nothing shipped. A
	// shipped feature without a verdict counts against it: shipping without
	// learning is not validated.
	ValidatedShare *float64 `json:"validatedShare,omitempty"`
	// Mismatched counts the features whose first verdict falls in the
	// window but whose standing verdict is not counted, as in next's
	// record of bets (Item.SampleRatioMismatch): neither in the throughput
	// nor as validated or invalidated. ShippedMismatched counts those of
	// them shipped in the window, which count as undecided: nothing that
	// can be trusted was learnt from them.
	Mismatched        int `json:"mismatched,omitempty"`
	ShippedMismatched int `json:"shippedMismatched,omitempty"`
	// Progress is the objective's progress toward its target, when the
	// flow is one objective's.
	Progress *Progress `json:"progress,omitempty"`
}

// Mismatches says how many verdicts a sample ratio mismatch left out, in
// the words of next and the objective's progress; empty when none.
func (f *Flow) Mismatches() string {
	if f.Mismatched == 0 {
		return ""
	}
	return mismatchedWords(f.Mismatched)
}

// UndecidedMismatched says, after the count of undecided features, how
// many of them have a verdict not counted (" (1 of them with a verdict
// not counted: sample ratio mismatch)"); empty when none.
func (f *Flow) UndecidedMismatched() string {
	if f.ShippedMismatched == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d of them with a verdict not counted: sample ratio mismatch)", f.ShippedMismatched)
}

// Undecided counts the shipped features without a standing verdict.
func (f *Flow) Undecided() int { return f.Shipped - f.Validated - f.Invalidated }

// StageFlow is one stage's work in progress and flow time.
type StageFlow struct {
	Stage Stage `json:"stage"`
	// WIP is how many features are in the stage now.
	WIP    int   `json:"wip"`
	Stuck  int   `json:"stuck"`
	Oldest []Age `json:"oldest"`
	// FlowTime summarises the time spent in the stage by features that left
	// it within the window.
	FlowTime Summary `json:"flowTime"`
}

// Age is how long one feature has been in its stage.
type Age struct {
	Feature string    `json:"feature"`
	Since   time.Time `json:"since"`
	Age     Seconds   `json:"age"`
	Stuck   bool      `json:"stuck,omitempty"`
}

// Summary is the median and 85th percentile of durations, by linear
// interpolation between the closest ranks (h = p·(n−1), as numpy's default
// and the DORA lead time do).
type Summary struct {
	Count  int     `json:"count"`
	Median Seconds `json:"median"`
	P85    Seconds `json:"p85"`
}

// Week is one week of throughput.
type Week struct {
	Start       Date `json:"start"`
	Validated   int  `json:"validated"`
	Invalidated int  `json:"invalidated"`
}

// Total is the features decided in the week.
func (w Week) Total() int { return w.Validated + w.Invalidated }

// ComputeFlow measures the flow of value across items.
func ComputeFlow(items []Item, o FlowOptions) *Flow {
	stuckAfter := o.StuckAfter
	if stuckAfter == nil {
		stuckAfter = DefaultStuckAfter
	}
	oldest := o.Oldest
	if oldest <= 0 {
		oldest = 3
	}
	f := &Flow{Since: o.Since, Until: o.Now}
	idx := map[Stage]int{}
	for i, s := range Stages {
		idx[s] = i
		f.Stages = append(f.Stages, StageFlow{Stage: s, Oldest: []Age{}})
	}
	ages := make([][]Age, len(Stages))
	times := make([][]time.Duration, len(Stages))
	in := func(t time.Time) bool { return !t.Before(o.Since) && !t.After(o.Now) }

	weekOf := func(t time.Time) time.Time {
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	}
	first, last := weekOf(o.Since.UTC()), weekOf(o.Now.UTC())
	for w := first; !w.After(last); w = w.AddDate(0, 0, 7) {
		f.Throughput = append(f.Throughput, Week{Start: Date{w}})
	}

	for _, it := range items {
		l := it.Lifecycle
		i := idx[l.Stage]
		f.Stages[i].WIP++
		if l.Stage != Idea || len(l.Transitions) > 0 {
			age := max(o.Now.Sub(l.Since), 0)
			limit := stuckAfter[l.Stage]
			stuck := limit > 0 && age > limit
			if stuck {
				f.Stages[i].Stuck++
			}
			ages[i] = append(ages[i], Age{Feature: it.Feature.Key, Since: l.Since, Age: Seconds(age), Stuck: stuck})
		}
		for k, t := range l.Transitions {
			if k+1 < len(l.Transitions) && in(l.Transitions[k+1].At) {
				j := idx[t.To]
				times[j] = append(times[j], l.Transitions[k+1].At.Sub(t.At))
			}
		}
		// First verdict in the window: throughput.
		for _, t := range l.Transitions {
			if t.To.Decided() {
				if in(t.At) {
					w := int(weekOf(t.At.UTC()).Sub(first) / (7 * 24 * time.Hour))
					switch {
					case it.SampleRatioMismatch:
						f.Mismatched++
					case w >= 0 && w < len(f.Throughput):
						if l.Decision() == Validated {
							f.Throughput[w].Validated++
						} else {
							f.Throughput[w].Invalidated++
						}
					}
				}
				break
			}
		}
		// Shipped: entered measuring or beyond in the window.
		for _, t := range l.Transitions {
			if r := t.To.rank(); r >= Measuring.rank() {
				if in(t.At) {
					f.Shipped++
					switch d := l.Decision(); {
					case it.SampleRatioMismatch && d.Decided():
						f.ShippedMismatched++
					case d == Validated:
						f.Validated++
					case d == Invalidated:
						f.Invalidated++
					}
				}
				break
			}
		}
	}
	for i := range f.Stages {
		a := ages[i]
		slices.SortFunc(a, func(x, y Age) int {
			if c := cmp.Compare(y.Age, x.Age); c != 0 {
				return c
			}
			return cmp.Compare(x.Feature, y.Feature)
		})
		if len(a) > oldest {
			a = a[:oldest]
		}
		if a != nil {
			f.Stages[i].Oldest = a
		}
		f.Stages[i].FlowTime = summarize(times[i])
	}
	if f.Shipped > 0 {
		s := float64(f.Validated) / float64(f.Shipped)
		f.ValidatedShare = &s
	}
	return f
}

// summarize returns the median and 85th percentile of ds (reordered).
func summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	slices.Sort(ds)
	return Summary{Count: len(ds), Median: Seconds(quantile(ds, 0.5)), P85: Seconds(quantile(ds, 0.85))}
}

// quantile interpolates linearly between the closest ranks of sorted ds:
// h = p·(n−1), q = ds[⌊h⌋] + (h−⌊h⌋)·(ds[⌊h⌋+1] − ds[⌊h⌋]).
func quantile(ds []time.Duration, p float64) time.Duration {
	h := p * float64(len(ds)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(ds) {
		return ds[len(ds)-1]
	}
	frac := h - float64(lo)
	return ds[lo] + time.Duration(math.Round(frac*float64(ds[lo+1]-ds[lo])))
}
