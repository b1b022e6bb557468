package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/postgres/pgtest"
)

// TestDORADefinitionsByHand checks the DORA keys of one small week, worked
// out by hand from their definitions (docs/delivery.md, dora.Metrics),
// through the real HTTP API on both stores. Service shop, production,
// the week of Monday 2026-11-02:
//
//	c1 authored 11-02 08:00   d1 success c1  11-02 12:00  delivers c1          lead 4h
//	c2 authored 11-02 10:00   d2 success c2  11-03 12:00  delivers c2          lead 26h
//	                          i1 on d2, opened 11-03 13:00, resolved 15:00     d2 failed, recovered in 3h
//	c3 authored 11-03 08:00   d3 failure c3  11-04 10:00  a failed run         recovered by d4 in 2h
//	c4 authored 11-04 08:00   d4 success c4  11-04 12:00  delivers c3, c4      leads 28h, 4h
//	                          d5 rollback to c2, 11-05 10:00                   d4 rolled back: recovered in 22h
//
//	deployment frequency   d1 d2 d4 d5 succeeded: 4 in 7 days = 0.571/day (high: once a week to once a day)
//	lead time              4h 4h 26h 28h: median (4h+26h)/2 = 15h; p90 at rank 2.7: 26h + 0.7·2h = 27h24m (elite: < 1 day)
//	change failure rate    d2 (incident), d3 (failed), d4 (rolled back) of 5 attempts = 60% (low)
//	  as Four Keys counts  d2, d4 of 4 successful deployments = 50% (low)
//	recovery time          2h 3h 22h: median 3h; p90 at rank 1.8: 3h + 0.8·19h = 18h12m (high: < 1 day)
//	rework rate            d5, a rollback, of 4 deployments = 25% (no deployment while i1 was open)
func TestDORADefinitionsByHand(t *testing.T) {
	stores := map[string]func(t *testing.T) *testServer{
		"sqlite":   func(t *testing.T) *testServer { return MustServe(t, "") },
		"postgres": func(t *testing.T) *testServer { return MustServe(t, "", "--database", pgtest.Schema(t)) },
	}
	for name, serve := range stores {
		t.Run(name, func(t *testing.T) {
			s := serve(t)
			sha := func(n string) string { return "c" + n + strings.Repeat("0", 38) }
			send := func(path, body string) {
				t.Helper()
				if resp, answer := post(t, s.URL+path, s.Admin, body); resp.StatusCode >= 300 {
					t.Fatalf("POST %s %s: %d %s", path, body, resp.StatusCode, answer)
				}
			}
			for _, c := range []struct{ n, authored, merged string }{
				{"1", "2026-11-02T08:00:00Z", "2026-11-02T09:00:00Z"}, {"2", "2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z"},
				{"3", "2026-11-03T08:00:00Z", "2026-11-03T09:00:00Z"}, {"4", "2026-11-04T08:00:00Z", "2026-11-04T09:00:00Z"},
			} {
				send("/api/v1/delivery/changes", `{"service":"shop","sha":"`+sha(c.n)+`","authoredAt":"`+c.authored+`","mergedAt":"`+c.merged+`"}`)
			}
			deploy := func(id, n, status, at, extra string) {
				send("/api/v1/delivery/deployments", `{"service":"shop","environment":"production","production":true,"id":"`+id+`","sha":"`+sha(n)+`","status":"`+status+`","at":"`+at+`"`+extra+`}`)
			}
			deploy("d1", "1", "success", "2026-11-02T12:00:00Z", "")
			deploy("d2", "2", "success", "2026-11-03T12:00:00Z", "")
			send("/api/v1/delivery/incidents", `{"service":"shop","id":"i1","title":"errors","openedAt":"2026-11-03T13:00:00Z","deploymentId":"d2"}`)
			send("/api/v1/delivery/incidents/i1/resolve", `{"at":"2026-11-03T15:00:00Z"}`)
			deploy("d3", "3", "failure", "2026-11-04T10:00:00Z", "")
			deploy("d4", "4", "success", "2026-11-04T12:00:00Z", "")
			deploy("d5", "2", "success", "2026-11-05T10:00:00Z", `,"rollback":true`)

			code, body := getWithToken(t, s.URL+"/api/v1/dora?service=shop&from=2026-11-02&to=2026-11-09&bucket=none&tz=UTC", s.Admin)
			var r dora.Report
			if err := json.Unmarshal([]byte(body), &r); code != http.StatusOK || err != nil || len(r.Services) != 1 {
				t.Fatalf("GET /api/v1/dora: %d %v %s", code, err, body)
			}
			m := r.Services[0].Total
			h := time.Hour
			for _, c := range []struct {
				key       string
				got, want any
			}{
				{"deployments", m.Deployments, 4},
				{"deploymentsPerDay", m.DeploymentsPerDay, 4.0 / 7},
				{"leadTime", m.LeadTime, dora.Durations{Count: 4, Median: 15 * h, P90: 27*h + 24*time.Minute}},
				{"undeployed", m.Undeployed, 0},
				{"changeFailureRate", m.ChangeFailureRate, dora.Rate{Num: 3, Den: 5}},
				{"changeFailureRateFourKeys", m.ChangeFailureRateFourKeys, dora.Rate{Num: 2, Den: 4}},
				{"recovery", m.Recovery, dora.Durations{Count: 3, Median: 3 * h, P90: 18*h + 12*time.Minute}},
				{"unrecovered", m.Unrecovered, 0},
				{"reworkRate", m.ReworkRate, dora.Rate{Num: 1, Den: 4}},
				{"incidents", [2]int{m.Incidents, m.Unlinked}, [2]int{1, 0}},
				{"levels", m.Levels, dora.Levels{DeploymentFrequency: dora.LevelHigh, LeadTime: dora.LevelElite,
					ChangeFailureRate: dora.LevelLow, ChangeFailureRateFourKeys: dora.LevelLow, RecoveryTime: dora.LevelHigh}},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %+v, want %+v", c.key, c.got, c.want)
				}
			}
		})
	}
}
