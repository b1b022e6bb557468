package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/httpapi"
)

// rolloutStep moves the onboarding flag's split, as a rollout step does (the
// rollout engine writes its splits as flag updates), then sends the users
// first exposed under it: conv of them convert in each variant.
func rolloutStep(t *testing.T, e *env, step int, split string, users, conv map[string]int) {
	t.Helper()
	flag := `{"state":"ENABLED","variants":{"control":false,"treatment":true},"defaultVariant":"control","targeting":{"fractional":` + split + `}}`
	if resp, body := e.do(t, call{method: "PUT", path: "/api/v1/environments/production/flags/onboarding", token: adminSecret, body: flag}); resp.StatusCode != 200 {
		t.Fatalf("PUT flag: %d %s", resp.StatusCode, body)
	}
	time.Sleep(2 * time.Millisecond) // the exposures come after the change, to the millisecond
	at := time.Now().UTC().Format(time.RFC3339Nano)
	var evs []string
	for _, v := range []string{"control", "treatment"} {
		for i := range users[v] {
			key := fmt.Sprintf("s%d-%s-%d", step, v, i)
			evs = append(evs, fmt.Sprintf(`{"type":"exposure","flag":"onboarding","variant":%q,"targetingKey":%q,"time":%q}`, v, key, at))
			if i < conv[v] {
				evs = append(evs, fmt.Sprintf(`{"type":"tracking","name":"signup","targetingKey":%q,"time":%q}`, key, at))
			}
		}
	}
	resp, body := e.do(t, call{method: "POST", path: "/api/v1/events", token: adminSecret, body: "[" + strings.Join(evs, ",") + "]",
		headers: map[string]string{httpapi.EnvironmentHeader: "production"}})
	if resp.StatusCode != 200 || !strings.Contains(body, `"rejected": 0`) {
		t.Fatalf("events: %d %s", resp.StatusCode, body)
	}
	time.Sleep(2 * time.Millisecond)
}

// TestResultsAfterRolloutEndToEnd: a rollout 5% → 50% → 100% through the
// flag and event APIs. The results route analyses it by period of first
// exposure (it used to answer 400, "the split gives 1 variant"): each
// period's SRM against its own split, the 100% step without weight, and the
// treatment's effect shown. Forcing fixed weights pools the periods, and the
// SRM check then rejects that assumption.
func TestResultsAfterRolloutEndToEnd(t *testing.T) {
	e := experimentServer(t)
	rolloutStep(t, e, 1, `[["treatment",500],["control",9500]]`, map[string]int{"control": 1900, "treatment": 100}, map[string]int{"control": 570, "treatment": 45})
	rolloutStep(t, e, 2, `[["treatment",5000],["control",5000]]`, map[string]int{"control": 1000, "treatment": 1000}, map[string]int{"control": 300, "treatment": 450})
	rolloutStep(t, e, 3, `[["treatment",10000],["control",0]]`, map[string]int{"treatment": 1500}, map[string]int{"treatment": 675})

	resp, body := e.do(t, call{method: "GET", path: resultsPath + "?metric=signup", token: adminSecret})
	var res experiment.Result
	if err := json.Unmarshal([]byte(body), &res); resp.StatusCode != 200 || err != nil {
		t.Fatalf("results: %d %v %s", resp.StatusCode, err, body)
	}
	if len(res.Periods) != 3 {
		t.Fatalf("periods = %+v, want the three steps", res.Periods)
	}
	wantW := []float64{95.0 / 595, 500.0 / 595, 0}
	for i, p := range res.Periods {
		if p.Start == nil || p.Weight < wantW[i]-1e-9 || p.Weight > wantW[i]+1e-9 {
			t.Errorf("period %d: start %v weight %v, want %v", i, p.Start, p.Weight, wantW[i])
		}
	}
	if p := res.Periods[0]; p.Users["control"] != 1900 || p.Users["treatment"] != 100 || p.Weights["treatment"] != 500 || p.SRM.Status != "ok" || p.SRM.Mismatch {
		t.Errorf("5%% step: %+v", p)
	}
	if res.SRM.Mismatch || res.Users != 5500 {
		t.Errorf("SRM %+v, users %d", res.SRM, res.Users)
	}
	lift := res.Metrics[0].Variants[1].Lift
	// Per period +15 points on 30%: the combined difference is exactly 0.15.
	if lift == nil || lift.Absolute.Estimate < 0.15-1e-9 || lift.Absolute.Estimate > 0.15+1e-9 || lift.PValue >= 0.001 {
		t.Fatalf("signup lift = %+v, want +0.15, significant", lift)
	}

	resp, body = e.do(t, call{method: "GET", path: resultsPath + "?metric=signup&weights=control:50,treatment:50", token: adminSecret})
	var pooled experiment.Result
	if err := json.Unmarshal([]byte(body), &pooled); resp.StatusCode != 200 || err != nil {
		t.Fatalf("results with weights: %d %v %s", resp.StatusCode, err, body)
	}
	if pooled.Periods != nil || !pooled.SRM.Mismatch {
		t.Errorf("forced weights: periods %v, SRM %+v: want pooled, a mismatch", pooled.Periods, pooled.SRM)
	}
}
