package dora

import (
	"testing"
	"time"
)

// TestFourKeysChangeFailureRate: five production attempts of one service.
// D1 succeeds; D2's pipeline fails and never reaches production; D3
// succeeds and causes an incident; D4 succeeds and is rolled back by D5
// (which restores D3's commit). Default: 3 failed (D2, D3, D4) of 5
// attempts = 60%. Four Keys: 2 failed (D3, D4) of 4 successful deployments
// = 50%; D2 is not counted. Week 1 (D1, D2): default 1/2, Four Keys 0/1.
func TestFourKeysChangeFailureRate(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, 2+d, 12, 0, 0, 0, time.UTC) } // day(0) is Monday
	dep := func(id, sha, status string, at time.Time, rollback bool) Deployment {
		return Deployment{ID: id, Service: "shop", Environment: "prod", Production: true, SHA: sha, Status: status, At: at, Rollback: rollback}
	}
	resolved := day(9).Add(2 * time.Hour)
	r, err := Compute(Data{
		Deployments: []Deployment{
			dep("D1", "c1", StatusSuccess, day(0), false),
			dep("D2", "c2", StatusFailure, day(1), false),
			dep("D3", "c3", StatusSuccess, day(9), false),
			dep("D4", "c4", StatusSuccess, day(10), false),
			dep("D5", "c3", StatusSuccess, day(11), true),
		},
		Incidents: []Incident{{ID: "I1", Service: "shop", OpenedAt: day(9).Add(time.Hour), ResolvedAt: &resolved, DeploymentID: "D3"}},
	}, Query{From: day(0).Add(-12 * time.Hour), To: day(14).Add(-12 * time.Hour), Bucket: BucketWeek})
	if err != nil {
		t.Fatal(err)
	}
	s := findSeries(t, r, "shop")
	for _, c := range []struct {
		name                    string
		m                       Metrics
		def, fourKeys           Rate
		defLevel, fourKeysLevel Level
	}{
		{"total", s.Total, Rate{3, 5}, Rate{2, 4}, LevelLow, LevelLow},
		{"week 1", s.Buckets[0], Rate{1, 2}, Rate{0, 1}, LevelLow, LevelElite},
		{"week 2", s.Buckets[1], Rate{2, 3}, Rate{2, 3}, LevelLow, LevelLow},
	} {
		if c.m.ChangeFailureRate != c.def || c.m.ChangeFailureRateFourKeys != c.fourKeys || c.m.FailedDeployments != c.fourKeys.Num {
			t.Errorf("%s: default %+v, Four Keys %+v (failed deployments %d); want %+v and %+v",
				c.name, c.m.ChangeFailureRate, c.m.ChangeFailureRateFourKeys, c.m.FailedDeployments, c.def, c.fourKeys)
		}
		if c.m.Levels.ChangeFailureRate != c.defLevel || c.m.Levels.ChangeFailureRateFourKeys != c.fourKeysLevel {
			t.Errorf("%s: levels %s and %s, want %s and %s", c.name, c.m.Levels.ChangeFailureRate, c.m.Levels.ChangeFailureRateFourKeys, c.defLevel, c.fourKeysLevel)
		}
	}
}
