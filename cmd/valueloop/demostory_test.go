package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/rollout"
)

// TestDemoStoryConsistent: what serve --demo shows a newcomer agrees with
// itself. A feature being measured has been seen by users (winter-banner
// was once measuring behind a banner nobody had been served); a flag the
// stop list says was "last exposed" has exposures in its results (theme and
// search-results-per-page once had sightings and 0 users); and the rollout
// started before its traffic (it once started at the server's start, after
// six hours of checkouts served its variant).
func TestDemoStoryConsistent(t *testing.T) {
	s := MustServe(t, "", "--demo")
	started := time.Now()
	// users counts the users a flag's results show: analysed, or served
	// outside the split (the theme's: a rule serves it, no split).
	users := func(flag string) int64 {
		var res struct{ Users, OutsideSplit int64 }
		if code, body := s.call(t, "GET", "/api/v1/environments/production/flags/"+flag+"/results", "", &res); code != 200 {
			t.Fatalf("results of %s: %d %s", flag, code, body)
		}
		return res.Users + res.OutsideSplit
	}

	var list struct {
		Features []struct{ Key, Stage string }
	}
	if code, body := s.call(t, "GET", "/api/v1/features", "", &list); code != 200 || len(list.Features) == 0 {
		t.Fatalf("features: %d %s", code, body)
	}
	measuring := 0
	for _, f := range list.Features {
		var sh struct {
			Record struct {
				Timeline []struct{ Kind, Environment, Flag string }
			}
		}
		if code, body := s.call(t, "GET", "/api/v1/features/"+f.Key, "", &sh); code != 200 {
			t.Fatalf("feature %s: %d %s", f.Key, code, body)
		}
		seen := false
		for _, e := range sh.Record.Timeline {
			if e.Kind != "exposure" {
				continue
			}
			seen = true
			if n := users(e.Flag); n == 0 {
				t.Errorf("%s: its record has a first exposure of %s in %s, yet the flag's results show no users", f.Key, e.Flag, e.Environment)
			}
		}
		if f.Stage == "measuring" {
			measuring++
			if !seen {
				t.Errorf("%s is measuring, yet no user was ever exposed to its flags", f.Key)
			}
		}
	}
	if measuring == 0 {
		t.Errorf("no demo feature is measuring: %v", list.Features)
	}

	var next struct {
		Stop []struct {
			Feature, Flag string
			LastEvaluated *time.Time
		}
	}
	if code, body := s.call(t, "GET", "/api/v1/value/next", "", &next); code != 200 || len(next.Stop) == 0 {
		t.Fatalf("next: %d %s", code, body)
	}
	for _, a := range next.Stop {
		if a.LastEvaluated != nil && users(a.Flag) == 0 {
			t.Errorf("stop list: %s's flag %s was last exposed %s, yet its results show no users", a.Feature, a.Flag, a.LastEvaluated)
		}
	}

	// The demo's checkouts span the six hours before the server's start,
	// which came before started.
	code, out, errOut := s.cli(t, s.Admin, "rollout", "status", "checkout-flow", "--env", "production", "--output", "json")
	var st rollout.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("rollout status: %d %v %s", code, err, errOut)
	}
	if traffic := started.Add(-6 * time.Hour); st.StartedAt.After(traffic) {
		t.Errorf("the demo rollout started %s, after its traffic (from before %s)", st.StartedAt.Format(time.RFC3339), traffic.Format(time.RFC3339))
	}
}

// TestDemoFlagsBeforeTheirTraffic: the demo's audit trail dates each
// production flag's creation before the first user was served it, and the
// experiment's hypothesis before its first exposure, as the demo's
// rollout is dated before its traffic. They were dated at the server's
// start, after the two weeks of the experiment and the months of
// sightings the demo loads, so a feature's timeline showed its flag
// created, and its hypothesis stated, after the experiment ran.
func TestDemoFlagsBeforeTheirTraffic(t *testing.T) {
	s := MustServe(t, "", "--demo")
	code, out, errOut := s.cli(t, s.Admin, "audit", "--env", "production", "--limit", "1000", "--output", "json")
	if code != 0 {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	var entries []struct {
		Action, Target string
		At             time.Time
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err)
	}
	created, stated := map[string]time.Time{}, map[string]time.Time{}
	for _, e := range entries {
		switch e.Action {
		case "flag.create":
			created[e.Target] = e.At
		case "hypothesis.put":
			stated[e.Target] = e.At
		}
	}
	var list struct{ Features []struct{ Key string } }
	if code, body := s.call(t, "GET", "/api/v1/features", "", &list); code != 200 {
		t.Fatalf("features: %d %s", code, body)
	}
	exposed := 0
	for _, f := range list.Features {
		var sh struct {
			Record struct {
				Timeline []struct {
					Kind, Environment, Flag string
					At                      time.Time
				}
			}
		}
		if code, body := s.call(t, "GET", "/api/v1/features/"+f.Key, "", &sh); code != 200 {
			t.Fatalf("feature %s: %d %s", f.Key, code, body)
		}
		for _, e := range sh.Record.Timeline {
			if e.Environment != "production" || (e.Kind != "exposure" && e.Kind != "experiment_started") {
				continue
			}
			exposed++
			if c, ok := created[e.Flag]; !ok || !c.Before(e.At) {
				t.Errorf("%s: flag %s first served %s, created %s", f.Key, e.Flag, e.At.Format(time.RFC3339), c.Format(time.RFC3339))
			}
			if h, ok := stated[e.Flag]; ok && !h.Before(e.At) {
				t.Errorf("%s: flag %s first served %s, its hypothesis stated %s", f.Key, e.Flag, e.At.Format(time.RFC3339), h.Format(time.RFC3339))
			}
		}
	}
	if exposed == 0 || len(stated) == 0 {
		t.Fatalf("no first exposure in the demo's timelines (%d), or no hypothesis (%d)", exposed, len(stated))
	}
	code, out, errOut = s.cli(t, s.Admin, "rollout", "status", demo.RolloutFlag, "--env", "production", "--output", "json")
	var st rollout.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("rollout status: %d %v %s", code, err, errOut)
	}
	if c := created[demo.RolloutFlag]; !c.Before(st.StartedAt) {
		t.Errorf("flag %s created %s, after its rollout started (%s)", demo.RolloutFlag, c.Format(time.RFC3339), st.StartedAt.Format(time.RFC3339))
	}
}
