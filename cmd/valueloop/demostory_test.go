package main

import (
	"encoding/json"
	"testing"
	"time"

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
