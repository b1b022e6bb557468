package ui

import (
	"html/template"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/termchart"
)

// weeks is how far back the delivery views look.
const weeks = 6

// doraKey is one DORA key of a series: its value now, level and trend.
type doraKey struct {
	Name, Value, Level string
	Trend              template.HTML
}

type doraRow struct {
	Name, Team string
	Keys       []doraKey
}

// doraKeys summarises a series over the whole range with a weekly trend;
// fourKeys adds Four Keys' change failure rate beside the default one.
// Deployment frequencies are written in unit, their column's.
func doraKeys(s dora.Series, fourKeys bool, unit termchart.RateUnit) []doraKey {
	name := s.Name
	if name == "" {
		name = "all services"
	}
	t := s.Total
	trend := func(key string, f func(m dora.Metrics) (float64, bool), show func(float64) string) template.HTML {
		var vals []sparkPoint
		var words []string
		for _, b := range s.Buckets {
			v, ok := f(b)
			vals = append(vals, sparkPoint{V: v, OK: ok})
			if ok {
				words = append(words, b.Start.Format(dayLayout)+": "+show(v))
			} else {
				words = append(words, b.Start.Format(dayLayout)+": none")
			}
		}
		return sparkline("weekly "+key+" of "+name+": "+strings.Join(words, ", "), vals, show)
	}
	hours := func(d time.Duration) float64 { return d.Hours() }
	showH := func(h float64) string { return humanDuration(time.Duration(h * float64(time.Hour))) }
	var keys []doraKey
	add := func(k doraKey, f func(m dora.Metrics) (float64, bool), show func(float64) string) {
		k.Trend = trend(strings.ToLower(k.Name), f, show)
		keys = append(keys, k)
	}
	add(doraKey{Name: "Deployment frequency", Value: unit.Format(t.DeploymentsPerDay), Level: string(t.Levels.DeploymentFrequency)},
		func(m dora.Metrics) (float64, bool) { return m.DeploymentsPerDay, true }, unit.Format)
	// A figure with no deployments or changes behind it shows as a dash.
	rate := func(r dora.Rate) string {
		if v, ok := r.Value(); ok {
			return pct(v)
		}
		return "–"
	}
	median := func(d dora.Durations) string {
		if d.Count > 0 {
			return humanDuration(d.Median) + " median"
		}
		return "–"
	}
	add(doraKey{Name: "Lead time for changes", Value: median(t.LeadTime), Level: string(t.Levels.LeadTime)},
		func(m dora.Metrics) (float64, bool) { return hours(m.LeadTime.Median), m.LeadTime.Count > 0 }, showH)
	add(doraKey{Name: "Change failure rate", Value: rate(t.ChangeFailureRate), Level: string(t.Levels.ChangeFailureRate)},
		func(m dora.Metrics) (float64, bool) { return m.ChangeFailureRate.Value() }, pct)
	if fourKeys {
		add(doraKey{Name: "Change failure rate (Four Keys)", Value: rate(t.ChangeFailureRateFourKeys), Level: string(t.Levels.ChangeFailureRateFourKeys)},
			func(m dora.Metrics) (float64, bool) { return m.ChangeFailureRateFourKeys.Value() }, pct)
	}
	add(doraKey{Name: "Failed deployment recovery time", Value: median(t.Recovery), Level: string(t.Levels.RecoveryTime)},
		func(m dora.Metrics) (float64, bool) { return hours(m.Recovery.Median), m.Recovery.Count > 0 }, showH)
	add(doraKey{Name: "Rework rate", Value: rate(t.ReworkRate)},
		func(m dora.Metrics) (float64, bool) { return m.ReworkRate.Value() }, pct)
	return keys
}

// stageCell is one stage of the lead-time breakdown as the report has it.
type stageCell struct {
	Name, Median, P85 string
	Count             int
}

// breakdownRow is the lead-time breakdown of a series.
type breakdownRow struct {
	Name, Team string
	Stages     []stageCell
}

func breakdownOf(name, team string, b dora.Breakdown) breakdownRow {
	row := breakdownRow{Name: name, Team: team}
	for _, st := range []struct {
		name string
		s    dora.Stage
	}{{"coding", b.Coding}, {"pickup", b.Pickup}, {"review", b.Review}, {"deploy", b.Deploy}} {
		c := stageCell{Name: st.name, Count: st.s.Count}
		if c.Count > 0 {
			c.Median, c.P85 = humanDuration(st.s.Median), humanDuration(st.s.P85)
		}
		row.Stages = append(row.Stages, c)
	}
	return row
}

type deploymentRow struct {
	dora.DeploymentFacts
}

type incidentRow struct {
	dora.Incident
	// OpenFor is opened → resolved ("open" while it is): how long the
	// incident stayed open, not DORA's recovery time, which starts at the
	// failed deployment (DeployRecovery).
	OpenFor string
	// Cause is the deployment the timeline links the incident to (named
	// by the incident, or else its service's latest before it opened), as
	// the change failure rate counts it; nil when there is none.
	Cause *dora.DeploymentFacts
	// DeployRecovery is the cause's failed-deployment recovery time as
	// DORA defines it and the key counts it (deployed → recovered, the
	// earliest of the next success, the rollback and its incidents'
	// resolution), "not yet", or "" without a cause.
	DeployRecovery string
}

type deliveryData struct {
	From, To    time.Time
	Zone        string // of From, To and the weeks: the server's zone of reports
	Days        int    // days in [From, To), as valueloop dora's heading counts them (rangeDays)
	Overall     []doraKey
	Rows        []doraRow      // teams, then services
	Breakdown   []breakdownRow // all services, teams, then services
	Deployments []deploymentRow
	Pager       pager // the page of the range's deployments shown, the latest first
	Incidents   []incidentRow
}

// deliveryReport reports the last weeks by week, starting on a Monday at
// midnight in the server's zone of reports.
func (u *UI) deliveryReport(r *http.Request) (*dora.Report, error) {
	loc := u.Delivery.Zone()
	to := u.Now().In(loc)
	y, m, d := to.Date()
	d -= 7 * weeks
	d += (8 - int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday())) % 7 // on to a Monday
	from := dora.DayStart(y, m, d, loc)
	rep, err := u.Delivery.Report(r.Context(), dora.Query{From: from, To: to, Bucket: dora.BucketWeek, Location: loc})
	if err != nil {
		return nil, err
	}
	return &rep.Report, nil
}

func (u *UI) handleDelivery(w http.ResponseWriter, r *http.Request) error {
	if u.Delivery == nil {
		u.render(w, r, http.StatusOK, "delivery", page{Title: "Delivery", Nav: "delivery"})
		return nil
	}
	rep, err := u.deliveryReport(r)
	if err != nil {
		return err
	}
	// One unit for the report's deployment frequencies, the slowest's,
	// as 'valueloop dora' writes them (a quiet week of a trend does not
	// choose it: it reads 0.7/week, not every row per month).
	unit := termchart.RateUnitFor(rep.DeploymentsPerDay()...)
	d := deliveryData{From: rep.From, To: rep.To, Zone: rep.TimeZone, Days: rangeDays(rep.From, rep.To), Overall: doraKeys(rep.Overall, true, unit)}
	if len(rep.Teams)+len(rep.Services) == 0 {
		u.render(w, r, http.StatusOK, "delivery", page{Title: "Delivery", Nav: "delivery"})
		return nil
	}
	d.Breakdown = append(d.Breakdown, breakdownOf("All services", "", rep.Overall.Total.LeadTimeBreakdown))
	for _, s := range rep.Teams {
		d.Rows = append(d.Rows, doraRow{Name: "Team " + s.Name, Keys: doraKeys(s, true, unit)})
		d.Breakdown = append(d.Breakdown, breakdownOf("Team "+s.Name, "", s.Total.LeadTimeBreakdown))
	}
	// An incident of the range may have been caused by a deployment
	// before it: the causes are looked up among all deployments.
	causes := map[string]*dora.DeploymentFacts{}
	for _, s := range rep.Services {
		d.Rows = append(d.Rows, doraRow{Name: s.Name, Team: s.Team, Keys: doraKeys(s, true, unit)})
		d.Breakdown = append(d.Breakdown, breakdownOf(s.Name, s.Team, s.Total.LeadTimeBreakdown))
		deps, err := u.Delivery.Deployments(r.Context(), s.Name, time.Time{}, rep.To)
		if err != nil {
			return err
		}
		for i := range deps {
			for _, id := range deps[i].Incidents {
				causes[id] = &deps[i]
			}
			if !deps[i].At.Before(rep.From) {
				d.Deployments = append(d.Deployments, deploymentRow{DeploymentFacts: deps[i]})
			}
		}
	}
	sort.Slice(d.Deployments, func(i, j int) bool { return d.Deployments[i].At.After(d.Deployments[j].At) })
	pg, lo, hi, err := paginate(r, len(d.Deployments), deploymentsPage, "deployment")
	if err != nil {
		return err
	}
	d.Pager, d.Deployments = pg, d.Deployments[lo:hi]
	if u.Incidents != nil {
		data, _, err := u.Incidents.DeliveryData(r.Context())
		if err != nil {
			return err
		}
		d.Incidents = latestIncidents(data.Incidents, rep.From)
		for i := range d.Incidents {
			in := &d.Incidents[i]
			if in.Cause = causes[in.ID]; in.Cause != nil {
				in.DeployRecovery = "not yet"
				if !in.Cause.RecoveredAt.IsZero() {
					in.DeployRecovery = humanDuration(in.Cause.RecoveredAt.Sub(in.Cause.At))
				}
			}
		}
	}
	u.render(w, r, http.StatusOK, "delivery", page{Title: "Delivery", Nav: "delivery", Data: d})
	return nil
}

// deploymentsPage is how many deployments a page lists, the latest first.
const deploymentsPage = 15

// latestIncidents keeps the latest snapshot of each incident opened since
// from, newest first, with how long it was open.
func latestIncidents(all []dora.Incident, from time.Time) []incidentRow {
	latest := map[string]dora.Incident{}
	for _, in := range all {
		if cur, ok := latest[in.ID]; !ok || !in.UpdatedAt.Before(cur.UpdatedAt) {
			latest[in.ID] = in
		}
	}
	var out []incidentRow
	for _, in := range latest {
		if in.Void || in.OpenedAt.Before(from) {
			continue
		}
		row := incidentRow{Incident: in, OpenFor: "open"}
		if in.ResolvedAt != nil {
			row.OpenFor = humanDuration(in.ResolvedAt.Sub(in.OpenedAt))
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b incidentRow) int { return b.OpenedAt.Compare(a.OpenedAt) })
	return out
}

// rangeDays is the length of [from, to) in days, to the nearest, as
// valueloop dora's heading writes it: the page names the dora command that
// gives its figures, and a range from Monday's midnight to now read "42
// days" here and "43 days" there.
func rangeDays(from, to time.Time) int {
	return int(math.Round(to.Sub(from).Hours() / 24))
}
