package dora

import (
	"slices"
	"sort"
	"time"

	"github.com/valueloop/valueloop"
)

// Bucket is the width of the periods a Report is broken into.
type Bucket string

// Buckets. Days start at midnight in the query's zone (UTC unless
// Query.Location says otherwise), weeks on Monday (ISO 8601), months on the
// first. A day across a change to or from daylight saving time is 23 or 25
// hours long, and still one day.
const (
	BucketNone  Bucket = ""
	BucketDay   Bucket = "day"
	BucketWeek  Bucket = "week"
	BucketMonth Bucket = "month"
)

// MaxBuckets bounds the periods of one report.
const MaxBuckets = 5000

// Query selects what a Report covers.
type Query struct {
	// From and To bound the range, From included, To excluded.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Bucket breaks the range into periods; BucketNone reports totals only.
	Bucket Bucket `json:"bucket,omitempty"`
	// Services and Teams restrict the report (and its overall figures) to
	// these services and the services of these teams; empty means all.
	Services []string `json:"services,omitempty"`
	Teams    []string `json:"teams,omitempty"`
	// Location is the time zone whose midnights cut the buckets; nil is
	// UTC. A team in Auckland deploying on its Monday morning deploys on
	// Sunday in UTC: its buckets must follow its own calendar.
	Location *time.Location `json:"-"`
}

// location is q's zone, UTC when none is set.
func (q *Query) location() *time.Location {
	if q.Location == nil {
		return time.UTC
	}
	return q.Location
}

// Report holds the metrics of every selected service, of their teams and of
// all of them together.
type Report struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Bucket Bucket    `json:"bucket,omitempty"`
	// TimeZone names the zone of the buckets (an IANA name, or "UTC");
	// From, To and every period's Start and End are given in it.
	TimeZone string   `json:"timeZone"`
	Overall  Series   `json:"overall"`
	Teams    []Series `json:"teams"`
	Services []Series `json:"services"`
}

// DeploymentsPerDay lists the deployment frequencies of the report's
// series over the whole range, overall first: what a view writing them in
// one unit chooses it from.
func (r *Report) DeploymentsPerDay() []float64 {
	vs := []float64{r.Overall.Total.DeploymentsPerDay}
	for _, s := range r.Teams {
		vs = append(vs, s.Total.DeploymentsPerDay)
	}
	for _, s := range r.Services {
		vs = append(vs, s.Total.DeploymentsPerDay)
	}
	return vs
}

// Series is the metrics of one service, team, or everything, over the whole
// range and per bucket.
type Series struct {
	Name    string    `json:"name"` // "" for overall
	Team    string    `json:"team,omitempty"`
	Total   Metrics   `json:"total"`
	Buckets []Metrics `json:"buckets,omitempty"`
}

// Metrics are the delivery figures of one period [Start, End). A service's
// figures count production deployments only; a team's and the overall
// figures add up their services' (a monorepo deployment that ships two
// services counts twice, once for each).
type Metrics struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`

	// Deployments counts successful production deployments made in the
	// period, rollbacks and redeployments included; DeploymentsPerDay divides
	// them by the period's length.
	Deployments       int     `json:"deployments"`
	DeploymentsPerDay float64 `json:"deploymentsPerDay"`

	// LeadTime is the time from commit (Change.AuthoredAt, the first commit
	// of a squash-merged pull request) to the successful production
	// deployment that first delivered the change, for the changes delivered
	// in the period. Undeployed counts changes that landed in the period and
	// were not in production when it ended.
	LeadTime   Durations `json:"leadTime"`
	Undeployed int       `json:"undeployed"`
	// LeadTimeBreakdown splits the lead time of the same changes into
	// coding, pickup, review and deploy (see Breakdown).
	LeadTimeBreakdown Breakdown `json:"leadTimeBreakdown"`

	// ChangeFailureRate is Failed over Attempts: Attempts are the production
	// deployments made in the period that succeeded or failed; Failed those
	// that failed, were rolled back, or caused an incident.
	Attempts          int  `json:"attempts"`
	Failed            int  `json:"failed"`
	ChangeFailureRate Rate `json:"changeFailureRate"`

	// ChangeFailureRateFourKeys is the definition of Google's Four Keys and
	// Apache DevLake, beside the default so the two can be compared:
	// FailedDeployments over Deployments. Only successful production
	// deployments count; FailedDeployments are those rolled back or that
	// caused an incident. A failed pipeline run that never reached
	// production is not counted at all (the default counts it as a failed
	// attempt).
	FailedDeployments         int  `json:"failedDeployments"`
	ChangeFailureRateFourKeys Rate `json:"changeFailureRateFourKeys"`

	// Recovery is the failed-deployment recovery time of the deployments
	// made in the period that failed and have recovered: from the deployment
	// to the earliest of the next successful deployment to its environment
	// (after a failed one), the rollback that took it out, and the resolution of the last of
	// the incidents it caused. Unrecovered counts those not recovered yet.
	Recovery    Durations `json:"recovery"`
	Unrecovered int       `json:"unrecovered"`

	// ReworkRate is Rework over Deployments: rework deployments are
	// rollbacks and deployments made while an incident of the service was
	// open, other than the deployment that caused it.
	Rework     int  `json:"rework"`
	ReworkRate Rate `json:"reworkRate"`

	// Incidents opened in the period; Unlinked of them are linked to no
	// deployment.
	Incidents int `json:"incidents"`
	Unlinked  int `json:"unlinkedIncidents"`

	Levels Levels `json:"levels"`
}

// Durations summarises a set of durations (in JSON, Median and P90 are
// seconds: see json.go). Quantiles interpolate linearly
// between the closest ranks (the default of numpy and R, type 7): with the
// durations sorted as x[0..n-1], the q-quantile is x[h] for integer h =
// q·(n-1), and between x[⌊h⌋] and x[⌊h⌋+1] otherwise.
type Durations struct {
	Count  int           `json:"count"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
}

// Rate is a ratio of counts; Den 0 means there is nothing to rate.
type Rate struct {
	Num int `json:"num"`
	Den int `json:"den"`
}

// Value returns the ratio and whether it is defined.
func (r Rate) Value() (float64, bool) {
	if r.Den == 0 {
		return 0, false
	}
	return float64(r.Num) / float64(r.Den), true
}

// Compute resolves in and reports on q. To answer many queries over the same
// data, build a Timeline once and call its Report method instead.
func Compute(in Data, q Query) (Report, error) {
	t, err := NewTimeline(in)
	if err != nil {
		return Report{}, err
	}
	return t.Report(q)
}

// period is one [start, end) of a report, in Unix nanoseconds, and its
// length in days: calendar days for a whole day, week or month (a day
// across a daylight saving change is one day, though 23 or 25 hours long),
// else its duration over 24 hours.
type period struct {
	start, end int64
	days       float64
}

// tally is one line's figures for one period before durations are summarised.
type tally struct {
	deployments, attempts, failed, rework, unrecovered int
	failedDeployments                                  int
	undeployed, incidents, unlinked                    int
	leadLo, leadHi                                     int // delivered changes [leadLo, leadHi)
	recovery                                           []int64
}

// Report computes the metrics of q.
func (t *Timeline) Report(q Query) (Report, error) {
	periods, err := q.periods()
	if err != nil {
		return Report{}, err
	}
	lines, err := t.selectLines(q)
	if err != nil {
		return Report{}, err
	}
	total := period{nanos(q.From), nanos(q.To), calendarDays(q.From, q.To, q.location())}
	tallies := make([][]tally, len(lines)) // [line][0: total, 1..: buckets]
	for i, l := range lines {
		tallies[i] = make([]tally, 1+len(periods))
		tallies[i][0] = l.tally(total)
		for b, p := range periods {
			tallies[i][1+b] = l.tally(p)
		}
	}
	s := summariser{periods: append([]period{total}, periods...), loc: q.location()}
	most := 0 // the largest set of durations: all lead times of the selection
	for _, l := range lines {
		most += l.delivered
	}
	s.scratch = make([]int64, 0, most)
	s.stages.deploy = make([]int64, 0, most)
	r := Report{From: q.From.In(s.loc), To: q.To.In(s.loc), Bucket: q.Bucket, TimeZone: s.loc.String()}
	all := make([]int, len(lines))
	teams := map[string][]int{}
	for i, l := range lines {
		all[i] = i
		if l.team != "" {
			teams[l.team] = append(teams[l.team], i)
		}
		r.Services = append(r.Services, s.series(l.name, l.team, lines, tallies, []int{i}))
	}
	r.Overall = s.series("", "", lines, tallies, all)
	names := make([]string, 0, len(teams))
	for name := range teams {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		r.Teams = append(r.Teams, s.series(name, "", lines, tallies, teams[name]))
	}
	if r.Services == nil {
		r.Services = []Series{}
	}
	if r.Teams == nil {
		r.Teams = []Series{}
	}
	return r, nil
}

// periods validates q and returns its buckets.
func (q *Query) periods() ([]period, error) {
	switch {
	case q.From.IsZero():
		return nil, valueloop.FieldErrorf("from", "is required")
	case q.To.IsZero():
		return nil, valueloop.FieldErrorf("to", "is required")
	case !q.From.Before(q.To):
		return nil, valueloop.FieldErrorf("to", "must be after from")
	}
	if err := checkTime("from", q.From); err != nil {
		return nil, err
	}
	if err := checkTime("to", q.To); err != nil {
		return nil, err
	}
	from, to := q.From.In(q.location()), q.To.In(q.location())
	// Boundaries are counted in calendar days from the first one, each
	// found afresh (DayStart), never by adding hours: days across daylight
	// saving changes are 23 or 25 hours long.
	y, m, d := from.Date()
	var boundary func(k int) time.Time
	var days func(k int) float64
	switch q.Bucket {
	case BucketNone:
		return nil, nil
	case BucketDay:
		boundary = func(k int) time.Time { return DayStart(y, m, d+k, from.Location()) }
		days = func(int) float64 { return 1 }
	case BucketWeek:
		d -= (int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()) + 6) % 7
		boundary = func(k int) time.Time { return DayStart(y, m, d+7*k, from.Location()) }
		days = func(int) float64 { return 7 }
	case BucketMonth:
		boundary = func(k int) time.Time { return DayStart(y, m+time.Month(k), 1, from.Location()) }
		days = func(k int) float64 {
			return float64(time.Date(y, m+time.Month(k)+1, 0, 0, 0, 0, 0, time.UTC).Day())
		}
	default:
		return nil, valueloop.FieldErrorf("bucket", "must be day, week or month, not %q", q.Bucket)
	}
	var out []period
	for k, s := 0, boundary(0); s.Before(to); k++ {
		if len(out) == MaxBuckets {
			return nil, valueloop.FieldErrorf("bucket", "the range holds more than %d %ss; choose a wider bucket or a shorter range", MaxBuckets, q.Bucket)
		}
		e := boundary(k + 1)
		p := period{nanos(latest(s, from)), nanos(earlier(e, to)), days(k)}
		if s.Before(from) || to.Before(e) {
			// A partial bucket at either end of the range: its own days.
			p.days = calendarDays(latest(s, from), earlier(e, to), from.Location())
		}
		out = append(out, p)
		s = e
	}
	return out, nil
}

// calendarDays is the length in days of [from, to) in loc, as buckets
// count them: the calendar days wholly inside, however many hours each
// has, and the parts of a day at either end by their hours over 24. The
// whole range's deployments a day then agree with its buckets' across a
// daylight saving change.
func calendarDays(from, to time.Time, loc *time.Location) float64 {
	from, to = from.In(loc), to.In(loc)
	if !from.Before(to) {
		return 0
	}
	y, m, d := from.Date()
	first := DayStart(y, m, d, loc) // the first midnight at or after from
	if first.Before(from) {
		first = DayStart(y, m, d+1, loc)
	}
	y, m, d = to.Date()
	last := DayStart(y, m, d, loc) // the last midnight at or before to
	if !first.Before(last) {
		return float64(to.Sub(from)) / float64(day)
	}
	fy, fm, fd := first.Date()
	ly, lm, ld := last.Date()
	whole := time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC).Sub(time.Date(fy, fm, fd, 0, 0, 0, 0, time.UTC)) / day
	return float64(whole) + float64(first.Sub(from)+to.Sub(last))/float64(day)
}

// DayStart returns the first instant of the calendar day y-m-d in loc (d
// may overflow the month, as for time.Date): where buckets start, and what
// a date given for a range means. That is midnight, except where
// a daylight saving change skips midnight itself (America/Santiago springs
// from 00:00 to 01:00): then it is the instant of the change, which
// time.Date does not promise to give.
func DayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	y, m, d = time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Date()
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if h, min, sec := t.Clock(); h == 0 && min == 0 && sec == 0 {
		return t
	}
	start, end := t.ZoneBounds()
	if _, _, td := t.Date(); td != d {
		return end // t fell back into the day before: the day starts when its zone ends
	}
	return start
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// selectLines returns the lines q asks for, by name.
func (t *Timeline) selectLines(q Query) ([]*line, error) {
	lines := t.sorted
	if len(q.Services) == 0 && len(q.Teams) == 0 {
		return lines, nil
	}
	want := map[string]bool{}
	for _, s := range q.Services {
		if t.byName[s] == nil && !t.cat.hasService(s) {
			return nil, &valueloop.Error{Code: valueloop.ENOTFOUND, Field: "services", Message: "no service named " + s}
		}
		want[s] = true
	}
	teams := map[string]bool{}
	for _, team := range q.Teams {
		if !t.cat.hasTeam(team) {
			return nil, &valueloop.Error{Code: valueloop.ENOTFOUND, Field: "teams", Message: "no team named " + team}
		}
		teams[team] = true
	}
	var out []*line
	for _, l := range lines {
		if want[l.name] || teams[l.team] {
			out = append(out, l)
		}
	}
	// Catalogued services without any data still get a (zero) series.
	for _, s := range q.Services {
		if t.byName[s] == nil {
			out = append(out, &line{name: s, team: t.cat.team(s)})
		}
	}
	for _, name := range t.cat.names {
		if teams[t.cat.team(name)] && t.byName[name] == nil && !want[name] {
			out = append(out, &line{name: name, team: t.cat.team(name)})
		}
	}
	slices.SortFunc(out, byLineName)
	return out, nil
}

func (c *catalog) hasService(name string) bool {
	_, ok := c.teams[name]
	return ok
}

func (c *catalog) hasTeam(team string) bool {
	for _, t := range c.teams {
		if t == team {
			return true
		}
	}
	return false
}

// tally counts one line's events in p.
func (l *line) tally(p period) tally {
	var t tally
	lo := sort.Search(len(l.deps), func(i int) bool { return l.deps[i].at >= p.start })
	for k := lo; k < len(l.deps) && l.deps[k].at < p.end; k++ {
		d := &l.deps[k]
		t.attempts++
		if d.success {
			t.deployments++
			if d.rework {
				t.rework++
			}
			if d.failed {
				t.failedDeployments++
			}
		}
		if d.failed {
			t.failed++
			if d.recoveredAt != 0 {
				t.recovery = append(t.recovery, d.recoveredAt-d.at)
			} else {
				t.unrecovered++
			}
		}
	}
	deliv := l.delivAt[:l.delivered]
	t.leadLo = sort.Search(len(deliv), func(i int) bool { return deliv[i] >= p.start })
	t.leadHi = sort.Search(len(deliv), func(i int) bool { return deliv[i] >= p.end })
	i := sort.Search(len(l.changes), func(i int) bool { return l.changes[i].at >= p.start })
	for ; i < len(l.changes) && l.changes[i].at < p.end; i++ {
		if l.delivAt[i] >= p.end {
			t.undeployed++
		}
	}
	i = sort.Search(len(l.incidents), func(i int) bool { return l.incidents[i].opened >= p.start })
	for ; i < len(l.incidents) && l.incidents[i].opened < p.end; i++ {
		t.incidents++
		if l.incidents[i].dep < 0 {
			t.unlinked++
		}
	}
	return t
}

// summariser combines tallies into Metrics, reusing one scratch buffer for
// the durations.
type summariser struct {
	periods []period
	loc     *time.Location
	scratch []int64
	stages  stageScratch
}

func (s *summariser) series(name, team string, lines []*line, tallies [][]tally, members []int) Series {
	out := Series{Name: name, Team: team}
	for p := range s.periods {
		m := s.metrics(p, lines, tallies, members)
		if p == 0 {
			out.Total = m
		} else {
			out.Buckets = append(out.Buckets, m)
		}
	}
	return out
}

func (s *summariser) metrics(p int, lines []*line, tallies [][]tally, members []int) Metrics {
	per := s.periods[p]
	m := Metrics{Start: time.Unix(0, per.start).In(s.loc), End: time.Unix(0, per.end).In(s.loc)}
	s.scratch = s.scratch[:0]
	for _, i := range members {
		t := &tallies[i][p]
		m.Deployments += t.deployments
		m.Attempts += t.attempts
		m.Failed += t.failed
		m.FailedDeployments += t.failedDeployments
		m.Rework += t.rework
		m.Unrecovered += t.unrecovered
		m.Undeployed += t.undeployed
		m.Incidents += t.incidents
		m.Unlinked += t.unlinked
		if t.leadHi > t.leadLo {
			s.scratch = append(s.scratch, lines[i].lead[t.leadLo:t.leadHi]...)
		}
	}
	m.LeadTime = summarise(s.scratch)
	s.stages.reset()
	for _, i := range members {
		t := &tallies[i][p]
		if t.leadHi > t.leadLo {
			lines[i].breakdown(t.leadLo, t.leadHi, &s.stages)
		}
	}
	m.LeadTimeBreakdown = s.stages.summarise()
	s.scratch = s.scratch[:0]
	for _, i := range members {
		s.scratch = append(s.scratch, tallies[i][p].recovery...)
	}
	m.Recovery = summarise(s.scratch)
	m.ChangeFailureRate = Rate{m.Failed, m.Attempts}
	m.ChangeFailureRateFourKeys = Rate{m.FailedDeployments, m.Deployments}
	m.ReworkRate = Rate{m.Rework, m.Deployments}

	m.DeploymentsPerDay = float64(m.Deployments) / per.days
	m.Levels.DeploymentFrequency = DeploymentFrequencyLevel(m.DeploymentsPerDay)
	if m.LeadTime.Count > 0 {
		m.Levels.LeadTime = LeadTimeLevel(m.LeadTime.Median)
	}
	if v, ok := m.ChangeFailureRate.Value(); ok {
		m.Levels.ChangeFailureRate = ChangeFailureRateLevel(v)
	}
	if v, ok := m.ChangeFailureRateFourKeys.Value(); ok {
		m.Levels.ChangeFailureRateFourKeys = ChangeFailureRateLevel(v)
	}
	if m.Recovery.Count > 0 {
		m.Levels.RecoveryTime = RecoveryTimeLevel(m.Recovery.Median)
	}
	return m
}

// summarise reorders xs.
func summarise(xs []int64) Durations {
	med, p90 := medianAnd(xs, 9, 10)
	return Durations{Count: len(xs), Median: time.Duration(med), P90: time.Duration(p90)}
}

// medianAnd reorders xs and returns its median and its num/den quantile
// (num/den ≥ ½), both linearly interpolated; 0, 0 when xs is empty.
// It selects ranks rather than sorting: a report over a million changes
// summarises several distributions per period.
func medianAnd(xs []int64, num, den int) (median, q int64) {
	n := len(xs)
	if n == 0 {
		return 0, 0
	}
	// Median: h = (n-1)/2. Quantile: h = num(n-1)/den. Select the lower
	// rank of each, then the next one up is the minimum of what lies above it.
	k1, r1 := (n-1)/2, (n-1)%2
	selectK(xs, k1)
	median = interpolate(xs, k1, int64(r1), 2)
	k2, r2 := num*(n-1)/den, num*(n-1)%den
	if k2 > k1 {
		selectK(xs[k1+1:], k2-k1-1)
	}
	q = interpolate(xs, k2, int64(r2), int64(den))
	return median, q
}

// interpolate returns xs[k] + (next-xs[k])·num/den, where next is the
// smallest element after k; xs must be partitioned around k.
func interpolate(xs []int64, k int, num, den int64) int64 {
	a := xs[k]
	if num == 0 {
		return a
	}
	b := slices.Min(xs[k+1:])
	d := b - a
	return a + d/den*num + d%den*num/den
}

// selectK reorders xs so that xs[k] is the k-th smallest, nothing before it
// is larger and nothing after it smaller (quickselect, Hoare partition,
// median-of-three pivot; falls back to sorting when partitions degrade).
func selectK(xs []int64, k int) {
	lo, hi := 0, len(xs)-1
	for budget := 64; hi > lo; budget-- {
		if hi-lo < 16 || budget == 0 {
			slices.Sort(xs[lo : hi+1])
			return
		}
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}
