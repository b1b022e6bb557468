package dora

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
)

// Review is a review of a pull request (GitHub pull_request_review) or an
// approval of a merge request (GitLab): the first one of a request ends
// its pickup and starts its review.
type Review struct {
	Repo string    `json:"repo"`
	PR   string    `json:"pr"`
	At   time.Time `json:"at"`
}

// Validate reports what makes r unusable, naming the field.
func (r *Review) Validate() error {
	switch {
	case r.Repo == "":
		return valueloop.FieldErrorf("repo", "is required")
	case r.PR == "":
		return valueloop.FieldErrorf("pr", "is required")
	case r.At.IsZero():
		return valueloop.FieldErrorf("at", "is required")
	}
	if err := CheckRepo("repo", r.Repo, false); err != nil {
		return err
	}
	return checkTime("at", r.At)
}

// Breakdown splits the lead time of the changes delivered in a period into
// where the time went:
//
//	coding: first commit → pull request opened
//	pickup: opened → first review (or approval)
//	review: first review → merge
//	deploy: merge → the production deployment that delivered it
//
// A stage counts only the changes whose two ends are known: a commit pushed
// without a pull request has a deploy stage only; a pull request nobody
// reviewed before it merged (beyond Data.ClockSkew) has no pickup or review
// stage. Clock skew that makes a stage negative counts as 0.
type Breakdown struct {
	Coding Stage `json:"coding"`
	Pickup Stage `json:"pickup"`
	Review Stage `json:"review"`
	Deploy Stage `json:"deploy"`
}

// Stage summarises one stage: its median and 85th percentile (type 7
// interpolation, as Durations), in JSON as seconds.
type Stage struct {
	Count  int
	Median time.Duration
	P85    time.Duration
}

type stageJSON struct {
	Count  int               `json:"count"`
	Median valueloop.Seconds `json:"median"`
	P85    valueloop.Seconds `json:"p85"`
}

// MarshalJSON writes the median and 85th percentile in seconds.
func (s Stage) MarshalJSON() ([]byte, error) {
	return json.Marshal(stageJSON{s.Count, valueloop.Seconds(s.Median), valueloop.Seconds(s.P85)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Stage) UnmarshalJSON(b []byte) error {
	var j stageJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Stage{Count: j.Count, Median: time.Duration(j.Median), P85: time.Duration(j.P85)}
	return nil
}

// summariseStage reorders xs and returns its median and 85th percentile.
func summariseStage(xs []int64) Stage {
	med, p85 := medianAnd(xs, 17, 20)
	return Stage{Count: len(xs), Median: time.Duration(med), P85: time.Duration(p85)}
}

// stamps are the pull request times of each change (Unix ns; 0 unknown).
type stamps struct{ opened, reviewed int64 }

// indexReviews notes when each change's pull request was opened and first
// reviewed.
func (t *Timeline) indexReviews(reviews []Review) {
	first := map[string]int64{}
	for i := range reviews {
		r := &reviews[i]
		if r.Validate() != nil {
			t.Skipped++
			continue
		}
		k := strings.ToLower(r.Repo) + "#" + r.PR
		if at, ok := first[k]; !ok || nanos(r.At) < at {
			first[k] = nanos(r.At)
		}
	}
	if len(first) == 0 && !t.anyOpened() {
		return // no pull request data: deploy stages only
	}
	t.stamps = make([]stamps, len(t.ch))
	for j := range t.ch {
		c := t.record(int32(j))
		if c.PR == "" {
			continue
		}
		s := &t.stamps[j]
		if !c.OpenedAt.IsZero() {
			s.opened = nanos(c.OpenedAt)
		}
		if at, ok := first[strings.ToLower(c.Repo)+"#"+c.PR]; ok {
			s.reviewed = at
		}
	}
}

func (t *Timeline) anyOpened() bool {
	for j := range t.ch {
		if c := t.record(int32(j)); c.PR != "" && !c.OpenedAt.IsZero() {
			return true
		}
	}
	return false
}

// lineStamps gives each line the stamps of its changes in landing order,
// so that reports read them in sequence.
func (t *Timeline) lineStamps() {
	if t.stamps == nil {
		return
	}
	for _, l := range t.lines {
		l.stamps = make([]stamps, len(l.changes))
		for k, c := range l.changes {
			l.stamps[k] = t.stamps[c.j]
		}
	}
	t.stamps = nil
}

// stageTimes are one stage's durations, in Unix nanoseconds, of a line's
// delivered changes in delivery order, for the changes whose stage is
// known: the delivered changes [lo, hi) have vals[at[lo]:at[hi]].
type stageTimes struct {
	vals []int64
	at   []int32
}

func (s *stageTimes) add(known bool, v int64) {
	if known {
		s.vals = append(s.vals, max(v, 0))
	}
	s.at = append(s.at, int32(len(s.vals)))
}

func (s *stageTimes) of(lo, hi int) []int64 { return s.vals[s.at[lo]:s.at[hi]] }

// leadTimes works out, once when the timeline is built, the lead time and
// the stages of each change l delivered, so that a report, whatever its
// series and periods, only copies the ranges it needs. Clock skew that
// makes a duration negative counts as 0. A pull request first reviewed more
// than skew after it merged was merged unreviewed: no pickup or review.
func (l *line) leadTimes(skew int64) {
	n := l.delivered
	l.lead, l.deploy = make([]int64, n), make([]int64, n)
	for k := range n {
		c := l.changes[k]
		l.lead[k] = max(l.delivAt[k]-c.authored, 0)
		l.deploy[k] = max(l.delivAt[k]-c.at, 0)
	}
	if l.stamps == nil {
		return
	}
	for _, st := range []*stageTimes{&l.coding, &l.pickup, &l.review} {
		st.at = make([]int32, 1, n+1)
	}
	for k := range n {
		c, s := l.changes[k], l.stamps[k]
		reviewed := s.reviewed != 0 && s.reviewed <= c.at+skew
		l.coding.add(s.opened != 0, s.opened-c.authored)
		l.pickup.add(s.opened != 0 && reviewed, s.reviewed-s.opened)
		l.review.add(reviewed, c.at-s.reviewed)
	}
	l.stamps = nil
}

// breakdown adds the stages of the changes l delivered in [lo, hi) to b.
func (l *line) breakdown(lo, hi int, b *stageScratch) {
	b.deploy = append(b.deploy, l.deploy[lo:hi]...)
	if l.coding.at == nil {
		return
	}
	b.coding = append(b.coding, l.coding.of(lo, hi)...)
	b.pickup = append(b.pickup, l.pickup.of(lo, hi)...)
	b.review = append(b.review, l.review.of(lo, hi)...)
}

// stageScratch collects stage durations for one period.
type stageScratch struct{ coding, pickup, review, deploy []int64 }

func (b *stageScratch) reset() {
	b.coding, b.pickup, b.review, b.deploy = b.coding[:0], b.pickup[:0], b.review[:0], b.deploy[:0]
}

func (b *stageScratch) summarise() Breakdown {
	return Breakdown{summariseStage(b.coding), summariseStage(b.pickup), summariseStage(b.review), summariseStage(b.deploy)}
}
