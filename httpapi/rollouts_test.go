package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
)

// withRollouts gives the test server a rollout engine over its store.
func withRollouts(t *testing.T) *env {
	e := MustServer(t)
	e.srv.Rollouts = rollout.NewEngine(e.db, e.flags, e.db, nil)
	return e
}

const killPlan = `{"flag":"kill","variant":"off","baseline":"on","steps":[{"percent":10,"minDuration":"1h"},{"percent":100}],"reason":"%s"}`

func TestRolloutRoutes(t *testing.T) {
	e := withRollouts(t)
	post := func(path, body string, headers map[string]string) (*http.Response, string) {
		return e.do(t, call{method: "POST", path: path, token: adminSecret, body: body, headers: headers})
	}
	base := "/api/v1/environments/production/rollouts"

	// Bad input names the field and stores nothing.
	bad := []struct {
		name, body string
		status     int
		want       string
	}{
		{"no split to drive", `{"flag":"checkout","variant":"b","baseline":"a","steps":[{"percent":10}]}`, 400, `"field": "/flag"`},
		{"steps down", `{"flag":"kill","variant":"off","baseline":"on","steps":[{"percent":50},{"percent":10}]}`, 400, "steps must increase"},
		{"unknown field", `{"flag":"kill","variant":"off","baseline":"on","steps":[{"percent":50}],"speed":"fast"}`, 400, "speed"},
		{"bad duration", `{"flag":"kill","variant":"off","baseline":"on","steps":[{"percent":50,"minDuration":"soon"}]}`, 400, "invalid duration"},
	}
	for _, c := range bad {
		resp, body := post(base, c.body, nil)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s; want %d with %q", c.name, resp.StatusCode, body, c.status, c.want)
		}
	}
	if _, body := e.do(t, call{method: "GET", path: base, token: adminSecret}); !strings.Contains(body, `"rollouts": []`) {
		t.Errorf("rollouts after bad plans: %s", body)
	}

	resp, body := post(base, strings.Replace(killPlan, "%s", "first", 1), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("start: %d %s", resp.StatusCode, body)
	}
	var st rollout.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.State != rollout.Running || st.Percent != 10 || st.StartedBy != "root" || len(st.History) != 1 || st.History[0].Reason != "first" {
		t.Errorf("started: %+v", st)
	}
	if f := e.flags.Live("production").Snapshot.Set().Flags["kill"]; !strings.Contains(string(f.Targeting), `["off",1000]`) {
		t.Errorf("flag targeting after start: %s", f.Targeting)
	}
	if resp, body := post(base, strings.Replace(killPlan, "%s", "again", 1), nil); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already has an active rollout") {
		t.Errorf("second start: %d %s", resp.StatusCode, body)
	}

	// Actions take the reason from the body or the header.
	resp, body = post(base+"/kill/pause", `{"reason":"checking logs"}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"state": "paused"`) || !strings.Contains(body, "checking logs") {
		t.Errorf("pause: %d %s", resp.StatusCode, body)
	}
	resp, body = post(base+"/kill/resume", "", map[string]string{"Valueloop-Reason": "logs are clean"})
	if resp.StatusCode != 200 || !strings.Contains(body, `"state": "running"`) || !strings.Contains(body, "logs are clean") {
		t.Errorf("resume: %d %s", resp.StatusCode, body)
	}
	if resp, body := post(base+"/kill/resume", "", nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("resume a running rollout: %d %s", resp.StatusCode, body)
	}
	if resp, body := post(base+"/checkout/rollback", "", nil); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "has no rollout") {
		t.Errorf("rollback of a flag without rollout: %d %s", resp.StatusCode, body)
	}
	resp, body = post(base+"/kill/rollback", `{"reason":"enough"}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"state": "rolled_back"`) || !strings.Contains(body, `"livePercent": 0`) {
		t.Errorf("rollback: %d %s", resp.StatusCode, body)
	}
	entries, _ := e.db.Audit(context.Background(), valueloop.AuditFilter{Target: "kill"})
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action)
	}
	// A start writes the split before it stores the rollout (a write
	// refused leaves no rollout behind), so its flag.update comes first.
	if got := strings.Join(actions, " "); got != "flag.update rollout.rollback rollout.resume rollout.pause rollout.start flag.update flag.create" {
		t.Errorf("audit of kill: %s", got)
	}

	// Listing filters; a bad limit names the parameter.
	if _, body := e.do(t, call{method: "GET", path: base + "?active=true", token: adminSecret}); !strings.Contains(body, `"rollouts": []`) {
		t.Errorf("active rollouts after the rollback: %s", body)
	}
	if _, body := e.do(t, call{method: "GET", path: base + "?flag=kill", token: adminSecret}); !strings.Contains(body, `"state": "rolled_back"`) {
		t.Errorf("rollouts of kill: %s", body)
	}
	if resp, body := e.do(t, call{method: "GET", path: base + "?limit=0", token: adminSecret}); resp.StatusCode != 400 || !strings.Contains(body, `"field": "limit"`) {
		t.Errorf("limit=0: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(t, call{method: "GET", path: "/api/v1/environments/nowhere/rollouts", token: adminSecret}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("rollouts of a missing environment: %d", resp.StatusCode)
	}
}

func TestRolloutRoutesWithoutEngine(t *testing.T) {
	e := MustServer(t)
	resp, body := e.do(t, call{method: "GET", path: "/api/v1/environments/production/rollouts/kill", token: adminSecret})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "rollouts are not enabled") {
		t.Errorf("without an engine: %d %s", resp.StatusCode, body)
	}
}
