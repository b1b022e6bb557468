package dora

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The scenario in testdata/scenario.json, computed by hand. Three weeks,
// Monday 2025-03-03 to Monday 2025-03-24 (UTC), weekly buckets:
//
//	W1 [03-03, 03-10)   W2 [03-10, 03-17)   W3 [03-17, 03-24)
//
// Service api (team platform, repo acme/api). Production deployments:
//
//	D1 03-04 16:00 ok   sha a2  delivers a1 (authored 03-03 09:00 → 31h), a2 (03-04 10:00 → 6h)
//	                            (a pending record of D1 at 15:50 and a staging deployment are ignored)
//	D2 03-06 12:00 ok   sha a3  delivers a3 (03-05 08:00 → 28h)
//	D3 03-11 14:00 ok   sha a5  delivers a4 (03-10 09:00 → 29h), a5 (03-11 09:00 → 5h)
//	   incident I1 opens 03-11 15:00 (linked: latest deployment before it), resolved 18:00
//	D4 03-11 16:00 ok   sha a3  a rollback: a3 ran before (D2) and is older than a5.
//	                            Takes D3 out of production; delivers nothing; rework.
//	   D3 failed (incident, rolled back); recovered at min(rollback 16:00, resolved 18:00) → 2h
//	D5 03-12 10:00 ok   sha a8  delivers a8 (03-12 08:00 → 2h); after I1 resolved: not rework
//	D6 03-18 14:00 FAILED       recovered by the next successful deployment D7 → 1h30m
//	D7 03-18 15:30 ok   sha a6  delivers a6 (03-18 10:00 → 5h30m)
//	a7 landed 03-20 10:00, never deployed.
//
// Service web (team storefront, monorepo acme/shop under web/):
//
//	s7 is a squash merge of PR 7 (opened 03-03 11:00, merged 03-04 10:00) whose
//	branch feat-cart had commits w1a (03-02 15:00) and w1b (03-03 10:00): its
//	work starts at 03-02 15:00, not at the squash commit's 03-04 10:00.
//	W-D1 03-05 10:00 ok  sha s7  delivers s7 (03-02 15:00 → 67h)
//	W-D2 03-13 09:00 ok  sha w2  delivers w2 (03-12 09:00 → 24h)
//	W-D3 03-19 12:00 ok  sha w2  the same commit again: no new changes
//	   incident I2 opens 03-19 11:59:30, 30s before W-D3 by the other source's
//	   clock; with 5 minutes of allowed skew it is linked to W-D3, resolved 03-21 08:00.
//	   W-D3 failed; recovered at 03-21 08:00 → 44h. It is inside I2's window but
//	   caused it, so it is not rework.
//	W-D4 03-20 10:00 ok  sha w3  delivers w3 (03-20 09:00 → 1h); made while I2
//	   was open: rework.
//	w4 landed 03-21 11:00, never deployed (only to a review environment).
//	Incident gl:issue:10 was withdrawn (void) and counts nowhere.
func TestScenario(t *testing.T) {
	data := mustReadData(t, "testdata/scenario.json")
	from := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 21)
	r, err := Compute(data, Query{From: from, To: to, Bucket: BucketWeek})
	if err != nil {
		t.Fatal(err)
	}

	h := func(hours float64) time.Duration { return time.Duration(hours * float64(time.Hour)) }
	type want struct {
		deployments, attempts, failed, rework, unrecovered, undeployed, incidents int
		perDay                                                                    float64
		lead, recovery                                                            Durations
		levels                                                                    Levels
	}
	const (
		elite  = LevelElite
		high   = LevelHigh
		medium = LevelMedium
		low    = LevelLow
	)
	tests := []struct {
		series string // service, "team:" name, or "overall"
		period int    // 0: total, 1..3: week
		want   want
	}{
		// ---- api ----
		// W1: D1, D2. Lead [6, 28, 31]h: median x[1] = 28h; p90 h = 0.9·2 = 1.8
		// → 28 + 0.8·(31−28) = 30.4h. 2 deploys / 7 days = 0.2857/day: high
		// (≥ once a week). Median 28h ≥ 1 day: high. CFR 0/2: elite.
		{"api", 1, want{deployments: 2, attempts: 2, perDay: 2.0 / 7,
			lead:   Durations{3, h(28), h(30.4)},
			levels: Levels{DeploymentFrequency: high, LeadTime: high, ChangeFailureRate: elite}}},
		// W2: D3 (failed), D4 (rollback, rework), D5. Lead [2, 5, 29]h: median
		// 5h (elite); p90 = 5 + 0.8·(29−5) = 24.2h. CFR 1/3 = 33%: low.
		// Recovery [2h]: high (≥ 1h, < 1 day). 3/7 per day: high.
		{"api", 2, want{deployments: 3, attempts: 3, failed: 1, rework: 1, incidents: 1, perDay: 3.0 / 7,
			lead:     Durations{3, h(5), h(24.2)},
			recovery: Durations{1, h(2), h(2)},
			levels:   Levels{DeploymentFrequency: high, LeadTime: elite, ChangeFailureRate: low, RecoveryTime: high}}},
		// W3: D6 (failed), D7. 1 deploy / 7 days is exactly once a week: high.
		// Lead [5.5h]. CFR 1/2: low. Recovery [1.5h]: high. a7 undeployed.
		{"api", 3, want{deployments: 1, attempts: 2, failed: 1, undeployed: 1, perDay: 1.0 / 7,
			lead:     Durations{1, h(5.5), h(5.5)},
			recovery: Durations{1, h(1.5), h(1.5)},
			levels:   Levels{DeploymentFrequency: high, LeadTime: elite, ChangeFailureRate: low, RecoveryTime: high}}},
		// Total: 6 successes of 7 attempts, failed D3 and D6: CFR 2/7 = 28.6%: low.
		// Lead sorted [2, 5, 5.5, 6, 28, 29, 31]h: median x[3] = 6h (elite);
		// p90 h = 0.9·6 = 5.4 → 29 + 0.4·(31−29) = 29.8h.
		// Recovery [1.5, 2]h: median h = 0.5 → 1.75h (high); p90 h = 0.9 → 1.5 + 0.9·0.5 = 1.95h.
		// Rework 1/6. 6 deploys / 21 days = 0.2857/day: high.
		{"api", 0, want{deployments: 6, attempts: 7, failed: 2, rework: 1, undeployed: 1, incidents: 1, perDay: 6.0 / 21,
			lead:     Durations{7, h(6), h(29.8)},
			recovery: Durations{2, h(1.75), h(1.95)},
			levels:   Levels{DeploymentFrequency: high, LeadTime: elite, ChangeFailureRate: low, RecoveryTime: high}}},

		// ---- web ----
		// W1: W-D1 delivers s7 after 67h (the squash merge dated from its first
		// branch commit): high (between one day and one week).
		{"web", 1, want{deployments: 1, attempts: 1, perDay: 1.0 / 7,
			lead:   Durations{1, h(67), h(67)},
			levels: Levels{DeploymentFrequency: high, LeadTime: high, ChangeFailureRate: elite}}},
		// W2: W-D2 delivers w2 after exactly 24h: not "less than one day", so high.
		// The withdrawn incident of 03-15 counts nowhere.
		{"web", 2, want{deployments: 1, attempts: 1, perDay: 1.0 / 7,
			lead:   Durations{1, h(24), h(24)},
			levels: Levels{DeploymentFrequency: high, LeadTime: high, ChangeFailureRate: elite}}},
		// W3: W-D3 (no new commits, caused I2), W-D4 (rework). CFR 1/2: low.
		// Recovery 44h: medium (between one day and one week). w4 undeployed.
		{"web", 3, want{deployments: 2, attempts: 2, failed: 1, rework: 1, undeployed: 1, incidents: 1, perDay: 2.0 / 7,
			lead:     Durations{1, h(1), h(1)},
			recovery: Durations{1, h(44), h(44)},
			levels:   Levels{DeploymentFrequency: high, LeadTime: elite, ChangeFailureRate: low, RecoveryTime: medium}}},
		// Total: CFR 1/4 = 25%: low. Lead [1, 24, 67]h: median 24h (high);
		// p90 = 24 + 0.8·(67−24) = 58.4h. 4/21 per day: high.
		{"web", 0, want{deployments: 4, attempts: 4, failed: 1, rework: 1, undeployed: 1, incidents: 1, perDay: 4.0 / 21,
			lead:     Durations{3, h(24), h(58.4)},
			recovery: Durations{1, h(44), h(44)},
			levels:   Levels{DeploymentFrequency: high, LeadTime: high, ChangeFailureRate: low, RecoveryTime: medium}}},

		// ---- overall ----
		// W1: D1, D2, W-D1. Lead [6, 28, 31, 67]h: median (28+31)/2 = 29.5h
		// (high); p90 h = 0.9·3 = 2.7 → 31 + 0.7·(67−31) = 56.2h. 3/7 per day.
		{"overall", 1, want{deployments: 3, attempts: 3, perDay: 3.0 / 7,
			lead:   Durations{4, h(29.5), h(56.2)},
			levels: Levels{DeploymentFrequency: high, LeadTime: high, ChangeFailureRate: elite}}},
		// W2: D3, D4, D5, W-D2. Lead [2, 5, 24, 29]h: median (5+24)/2 = 14.5h;
		// p90 = 24 + 0.7·(29−24) = 27.5h. CFR 1/4 = 25%: low.
		{"overall", 2, want{deployments: 4, attempts: 4, failed: 1, rework: 1, incidents: 1, perDay: 4.0 / 7,
			lead:     Durations{4, h(14.5), h(27.5)},
			recovery: Durations{1, h(2), h(2)},
			levels:   Levels{DeploymentFrequency: high, LeadTime: elite, ChangeFailureRate: low, RecoveryTime: high}}},
		// W3: D6, D7, W-D3, W-D4: 3 successes of 4 attempts, failed D6 and W-D3:
		// CFR 2/4. Lead [1, 5.5]h: median 3.25h; p90 = 1 + 0.9·4.5 = 5.05h.
		// Recovery [1.5, 44]h: median 22.75h (high); p90 = 1.5 + 0.9·42.5 = 39.75h.
		{"overall", 3, want{deployments: 3, attempts: 4, failed: 2, rework: 1, undeployed: 2, incidents: 1, perDay: 3.0 / 7,
			lead:     Durations{2, h(3.25), h(5.05)},
			recovery: Durations{2, h(22.75), h(39.75)},
			levels:   Levels{DeploymentFrequency: high, LeadTime: elite, ChangeFailureRate: low, RecoveryTime: high}}},
		// Total: 10 successes of 11 attempts, 3 failed: CFR 3/11 = 27%: low.
		// Lead sorted [1, 2, 5, 5.5, 6, 24, 28, 29, 31, 67]h: median h = 4.5 →
		// (6+24)/2 = 15h (elite); p90 h = 8.1 → 31 + 0.1·(67−31) = 34.6h.
		// Recovery [1.5, 2, 44]h: median 2h (high); p90 h = 1.8 → 2 + 0.8·42 = 35.6h.
		// Rework 2 (D4, W-D4) of 10. 10/21 per day: high.
		{"overall", 0, want{deployments: 10, attempts: 11, failed: 3, rework: 2, undeployed: 2, incidents: 2, perDay: 10.0 / 21,
			lead:     Durations{10, h(15), h(34.6)},
			recovery: Durations{3, h(2), h(35.6)},
			levels:   Levels{DeploymentFrequency: high, LeadTime: elite, ChangeFailureRate: low, RecoveryTime: high}}},
	}
	for _, tt := range tests {
		name := tt.series
		if tt.period > 0 {
			name += "/week" + string(rune('0'+tt.period))
		}
		t.Run(name, func(t *testing.T) {
			s := findSeries(t, r, tt.series)
			var m Metrics
			if tt.period == 0 {
				m = s.Total
			} else {
				if len(s.Buckets) != 3 {
					t.Fatalf("got %d buckets, want 3", len(s.Buckets))
				}
				m = s.Buckets[tt.period-1]
			}
			w := tt.want
			got := want{m.Deployments, m.Attempts, m.Failed, m.Rework, m.Unrecovered, m.Undeployed, m.Incidents,
				m.DeploymentsPerDay, m.LeadTime, m.Recovery, m.Levels}
			if diff := got.perDay - w.perDay; diff > 1e-12 || diff < -1e-12 {
				t.Errorf("deployments per day: got %v, want %v", got.perDay, w.perDay)
			}
			got.perDay = w.perDay
			got.levels.ChangeFailureRateFourKeys = "" // TestFourKeysChangeFailureRate
			if got != w {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
			if m.ChangeFailureRate != (Rate{w.failed, w.attempts}) {
				t.Errorf("change failure rate: got %+v, want %d/%d", m.ChangeFailureRate, w.failed, w.attempts)
			}
			if m.ReworkRate != (Rate{w.rework, w.deployments}) {
				t.Errorf("rework rate: got %+v, want %d/%d", m.ReworkRate, w.rework, w.deployments)
			}
			if m.Unlinked != 0 {
				t.Errorf("unlinked incidents: got %d, want 0", m.Unlinked)
			}
		})
	}

	// Teams: one service each, so the same figures in every period.
	for team, service := range map[string]string{"platform": "api", "storefront": "web"} {
		t.Run("team:"+team, func(t *testing.T) {
			ts, ss := findSeries(t, r, "team:"+team), findSeries(t, r, service)
			if !reflect.DeepEqual(ts.Total, ss.Total) || !reflect.DeepEqual(ts.Buckets, ss.Buckets) {
				t.Errorf("got  %+v\nwant the figures of %s: %+v", ts, service, ss)
			}
		})
	}

	t.Run("bucket bounds", func(t *testing.T) {
		for i, b := range r.Overall.Buckets {
			start := from.AddDate(0, 0, 7*i)
			if !b.Start.Equal(start) || !b.End.Equal(start.AddDate(0, 0, 7)) {
				t.Errorf("bucket %d: got [%v, %v), want a week from %v", i, b.Start, b.End, start)
			}
		}
	})
}

// Without the allowed clock skew, I2 (opened 30s before W-D3 by its source's
// clock) is blamed on W-D2, and W-D3, made while I2 was open, becomes rework.
func TestScenarioWithoutSkew(t *testing.T) {
	data := mustReadData(t, "testdata/scenario.json")
	data.ClockSkew = 0
	tl, err := NewTimeline(data)
	if err != nil {
		t.Fatal(err)
	}
	var failed, rework []string
	for _, d := range tl.Deployments("web") {
		if d.Failed {
			failed = append(failed, d.ID)
		}
		if d.Rework {
			rework = append(rework, d.ID)
		}
	}
	if got, want := failed, []string{"gl:202"}; !slices.Equal(got, want) {
		t.Errorf("failed: got %v, want %v", got, want)
	}
	if got, want := rework, []string{"gl:203", "gl:204"}; !slices.Equal(got, want) {
		t.Errorf("rework: got %v, want %v", got, want)
	}
}

// The drill-down view names what each deployment delivered.
func TestScenarioDeployments(t *testing.T) {
	tl, err := NewTimeline(mustReadData(t, "testdata/scenario.json"))
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		id                                   string
		changes                              []string
		rollback, rolledBack, failed, rework bool
		recovered                            string
	}
	want := []view{
		{id: "gh:101", changes: []string{"a1", "a2"}},
		{id: "gh:102", changes: []string{"a3"}},
		{id: "gh:103", changes: []string{"a4", "a5"}, rolledBack: true, failed: true, recovered: "2025-03-11T16:00:00Z"},
		{id: "gh:104", rollback: true, rework: true},
		{id: "gh:105", changes: []string{"a8"}},
		{id: "gh:106", failed: true, recovered: "2025-03-18T15:30:00Z"},
		{id: "gh:107", changes: []string{"a6"}},
	}
	got := tl.Deployments("api")
	if len(got) != len(want) {
		t.Fatalf("got %d deployments, want %d", len(got), len(want))
	}
	for i, d := range got {
		v := view{id: d.ID, rollback: d.Rollback, rolledBack: d.RolledBack, failed: d.Failed, rework: d.Rework}
		for _, c := range d.Changes {
			v.changes = append(v.changes, c.SHA)
		}
		if !d.RecoveredAt.IsZero() {
			v.recovered = d.RecoveredAt.Format(time.RFC3339)
		}
		w := want[i]
		if v.id != w.id || !slices.Equal(v.changes, w.changes) || v.rollback != w.rollback || v.rolledBack != w.rolledBack ||
			v.failed != w.failed || v.rework != w.rework || v.recovered != w.recovered {
			t.Errorf("deployment %d:\ngot  %+v\nwant %+v", i, v, w)
		}
	}
	if ids := got[2].Incidents; !slices.Equal(ids, []string{"gh:issue:1"}) {
		t.Errorf("incidents of gh:103: got %v, want [gh:issue:1]", ids)
	}
}

func mustReadData(tb testing.TB, path string) Data {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var d Data
	if err := json.Unmarshal(b, &d); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return d
}

func findSeries(tb testing.TB, r Report, name string) Series {
	tb.Helper()
	if name == "overall" {
		return r.Overall
	}
	list, n := r.Services, name
	if len(name) > 5 && name[:5] == "team:" {
		list, n = r.Teams, name[5:]
	}
	for _, s := range list {
		if s.Name == n {
			return s
		}
	}
	tb.Fatalf("no series %q in the report", name)
	return Series{}
}
