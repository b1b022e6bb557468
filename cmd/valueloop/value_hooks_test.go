package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/github"
)

// TestValueMergedPullRequest: a merged pull request delivered as GitHub
// sends it (testdata/github_pull_request_merged.json is a trimmed copy of a
// real delivery), signed with the source's secret, moves the feature it
// names to building, however it names it: a "Feature: KEY" trailer in the
// description, a label, a branch prefix. The record says how.
func TestValueMergedPullRequest(t *testing.T) {
	s := MustServe(t, "")
	if code, _, stderr := s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "purchased", "--kind", "conversion", "--event", "purchase"); code != 0 {
		t.Fatal(stderr)
	}
	objective := `{"key":"conversion","title":"More buy","metric":"purchased","target":{"direction":"increase","value":0.1},"horizon":"2027-06-30"}`
	if code, body := s.call(t, "POST", "/api/v1/objectives", objective, nil); code != 201 {
		t.Fatalf("objective: %d %s", code, body)
	}
	code, out, errOut := s.cli(t, s.Admin, "delivery", "source", "add", "acme", "--kind", "github", "--output", "json")
	if code != 0 {
		t.Fatalf("source add: %s%s", out, errOut)
	}
	var src struct{ Secret string }
	json.Unmarshal([]byte(out), &src)
	raw, err := os.ReadFile("testdata/github_pull_request_merged.json")
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		key, links, body, label, branch, by string
	}{
		{"by-trailer", `{}`, "Saves the cart between visits.\n\nFeature: by-trailer\n", "", "fix/carts", "trailer"},
		{"by-label", `{"changes":{"labels":["wishlist"]}}`, "Adds a wishlist.", "Wishlist", "topic/wish", "label"},
		{"by-branch", `{"changes":{"branchPrefixes":["reorder/"]}}`, "One-click reorder.", "", "reorder/button", "branch"},
	} {
		t.Run(tc.by, func(t *testing.T) {
			f := fmt.Sprintf(`{"key":%q,"title":"T","objective":"conversion","hypothesis":{"change":"c"},"links":%s}`, tc.key, tc.links)
			if code, body := s.call(t, "POST", "/api/v1/features", f, nil); code != 201 {
				t.Fatalf("feature: %d %s", code, body)
			}
			hook := mergedPullRequest(t, raw, i, tc.body, tc.label, tc.branch)
			if code, body := postHook(t, s.URL+"/hooks/github?source=acme", hook, map[string]string{
				github.EventHeader: "pull_request", github.DeliveryHeader: fmt.Sprintf("pr-%d", i),
				github.SignatureHeader: github.Sign([]byte(src.Secret), []byte(hook))}); code != 200 {
				t.Fatalf("webhook: %d %s", code, body)
			}
			var shown shownFeature
			if code, body := s.call(t, "GET", "/api/v1/features/"+tc.key, "", &shown); code != 200 || shown.Record.Stage != "building" {
				t.Fatalf("%d: stage %q, want building; %s", code, shown.Record.Stage, body)
			}
			merged, _ := time.Parse(time.RFC3339, "2022-10-12T08:33:55Z")
			if !shown.Record.FirstCommit.Before(merged) || !strings.Contains(recordCauses(shown), "("+tc.by+")") {
				t.Errorf("first commit %v, causes %s: want the pull request's, recognised by %s", shown.Record.FirstCommit, recordCauses(shown), tc.by)
			}
		})
	}
	// A signature made with another secret is refused, and moves nothing.
	hook := mergedPullRequest(t, raw, 9, "Feature: by-trailer", "", "x")
	if code, _ := postHook(t, s.URL+"/hooks/github?source=acme", hook, map[string]string{
		github.EventHeader: "pull_request", github.DeliveryHeader: "pr-bad", github.SignatureHeader: github.Sign([]byte("not the secret"), []byte(hook))}); code != 401 {
		t.Errorf("a bad signature: %d, want 401", code)
	}
}

// mergedPullRequest is the testdata delivery as pull request n of acme/shop,
// with the description, label and head branch given.
func mergedPullRequest(t *testing.T, raw []byte, n int, body, label, branch string) string {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	pr := p["pull_request"].(map[string]any)
	pr["number"], p["number"] = 100+n, 100+n
	pr["body"] = body
	pr["merge_commit_sha"] = fmt.Sprintf("%040x", 0xabc000+n)
	pr["head"].(map[string]any)["ref"] = branch
	pr["labels"] = []any{}
	if label != "" {
		pr["labels"] = []any{map[string]any{"id": 1, "name": label, "color": "ededed"}}
	}
	p["repository"].(map[string]any)["full_name"] = "acme/shop"
	b, _ := json.Marshal(p)
	return string(b)
}

func recordCauses(f shownFeature) string {
	var out []string
	for _, e := range f.Record.Timeline {
		out = append(out, e.Cause)
	}
	return strings.Join(out, "; ")
}

// TestValueStopExperiment: an experiment that cannot reach its sample
// before its objective's horizon is on next's stop list, with the
// estimate. The rollout started today (running counts as one day); 400
// users were exposed, so the pace is 400 users/day; the verdict's
// remaining users R give R / 400 days needed, past a horizon ten days
// away since a 1 % effect on a 10 % conversion needs tens of thousands.
func TestValueStopExperiment(t *testing.T) {
	t.Run("released today", func(t *testing.T) { testStopExperiment(t, false, false) })
	// Shipped dark 60 days before: the code was deployed behind its flag,
	// which exposed nobody until today's rollout. The experiment's pace is
	// its users over the days it has run, not over the 60 days since the
	// deployment: 400 users a day, not 400 in 60 days (6.7 a day), which
	// put on the stop list experiments that had just begun.
	t.Run("deployed 60 days before", func(t *testing.T) { testStopExperiment(t, true, false) })
	// The flag linked in development too, with an experiment on its test
	// traffic: the stop list listed it beside production's ("needs ...
	// more users: at 40 users/day"), while the record and the verdicts
	// count production's exposures only. It lists production's alone.
	t.Run("linked in development too", func(t *testing.T) { testStopExperiment(t, false, true) })
}

func testStopExperiment(t *testing.T, deployedBefore, development bool) {
	s := MustServe(t, "")
	loopSetUp(t, s)
	feature := strings.Replace(loopFeature, `"minimumEffect":0.1`, `"minimumEffect":0.01`, 1)
	if development {
		def := writeFile(t, `{"state":"ENABLED","variants":{"control":false,"treatment":true},"defaultVariant":"control"}`)
		s.mustRun(t,
			[]string{"flags", "set", "guided-checkout", "--env", "development", "-f", def},
			[]string{"metrics", "create", "--env", "development", "--key", "purchased", "--kind", "conversion", "--event", "purchase"},
			[]string{"experiment", "hypothesis", "set", "guided-checkout", "--env", "development", "--primary", "purchased", "--min-effect", "1%"},
		)
		feature = strings.Replace(feature, `"flags":[`, `"flags":[{"environment":"development","flag":"guided-checkout","variant":"treatment"},`, 1)
		s.mustSendEvents(t, s.mustToken(t, "--env", "development", "--scope", "evaluate"), stopTraffic(40))
	}
	horizon := time.Now().UTC().AddDate(0, 0, 10).Format("2006-01-02")
	objective := `{"key":"conversion","title":"More visitors buy","metric":"purchased","target":{"direction":"increase","value":0.1},"horizon":"` + horizon + `"}`
	if code, body := s.call(t, "PUT", "/api/v1/objectives/conversion", objective, nil); code != 200 {
		t.Fatalf("objective: %d %s", code, body)
	}
	if code, body := s.call(t, "POST", "/api/v1/features", feature, nil); code != 201 {
		t.Fatalf("feature: %d %s", code, body)
	}
	if deployedBefore {
		at := time.Now().UTC().AddDate(0, 0, -60).Format(time.RFC3339)
		s.mustRun(t,
			[]string{"change", "record", "--repo", "acme/shop", "--sha", loopSHA, "--merged-at", at, "--message", "Guided checkout\n\nFeature: guided-checkout"},
			[]string{"deploy", "record", "--service", "shop", "--repo", "acme/shop", "--env", "production", "--sha", loopSHA, "--status", "success", "--at", at},
		)
	}
	s.mustRun(t,
		[]string{"rollout", "start", "guided-checkout", "--env", "production", "--variant", "treatment", "--baseline", "control", "--steps", "50%:1h,100%"},
		[]string{"experiment", "hypothesis", "set", "guided-checkout", "--env", "production", "--primary", "purchased", "--min-effect", "1%"},
	)
	s.mustSendEvents(t, s.mustToken(t, "--env", "production", "--scope", "evaluate"), stopTraffic(400))
	s.show(t, "measuring")
	var next struct {
		Stop []struct {
			Kind, Feature, Flag, Environment, Reason string
			RemainingUsers                           int64
			UsersPerDay, DaysNeeded                  float64
		}
	}
	if code, body := s.call(t, "GET", "/api/v1/value/next", "", &next); code != 200 || len(next.Stop) != 1 {
		_, res := s.call(t, "GET", "/api/v1/environments/production/flags/guided-checkout/results", "", nil)
		t.Fatalf("next: %d %.2000s\nresults %.3000s", code, body, res)
	}
	a := next.Stop[0]
	if a.Environment != "production" {
		t.Errorf("stop: %+v, want production's experiment", a)
	}
	if a.Kind != "stop_experiment" || a.Feature != "guided-checkout" || a.Flag != "guided-checkout" || a.UsersPerDay != 400 {
		t.Errorf("stop: %+v, want guided-checkout's experiment at 400 users/day", a)
	}
	if a.RemainingUsers < 10000 || math.Abs(a.DaysNeeded-float64(a.RemainingUsers)/400) > 1e-9 || a.DaysNeeded <= 11 {
		t.Errorf("estimate: %d users remaining, %v days needed; want remaining/400 days, past the horizon", a.RemainingUsers, a.DaysNeeded)
	}
	if !strings.Contains(a.Reason, "past the horizon "+horizon) || !strings.Contains(a.Reason, "400 users/day") {
		t.Errorf("reason: %s", a.Reason)
	}
}

// stopTraffic is n users exposed half to control, half to treatment, one
// in five of each buying.
func stopTraffic(n int) []map[string]any {
	return traffic{flag: "guided-checkout", users: n, buy: [2]float64{0.2, 0.2}}.events()
}
