package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestReasonControlCharacters: a reason is one line of the audit trail and
// a rollout's history, printed as the texts of features are; a control
// character in one (a tab, a C1 control: those a header can carry; any in
// a body) is refused naming the field, the character and its byte, and
// nothing changes.
func TestReasonControlCharacters(t *testing.T) {
	e := withRollouts(t)
	flags := "/api/v1/environments/production/flags"
	rollouts := "/api/v1/environments/production/rollouts"
	def := `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}`
	long := strings.Repeat("x", valueloop.MaxReason+1)
	for _, tc := range []struct {
		name, method, path, body, header, want string
	}{
		{"flag create, tab", "POST", flags, `{"key":"fresh",` + def[1:], "a\tb", `must not hold control character U+0009 at byte 2`},
		{"flag put, C1", "PUT", flags + "/kill", def, "a\u0085b", `must not hold control character U+0085 at byte 2`},
		{"flag delete, tab", "DELETE", flags + "/kill", "", "a\tb", `at byte 2`},
		{"flag disable, tab", "POST", flags + "/kill/disable", "", "ab\tc", `at byte 3`},
		{"flagd apply, tab", "PUT", "/api/v1/environments/production/flagd", `{"flags":{}}`, "a\tb", `U+0009`},
		{"rollout start, escape", "POST", rollouts, strings.Replace(killPlan, "%s", `a\u001b]0;x\u0007`, 1), "", `U+001B at byte 2`},
		{"rollout start, line break", "POST", rollouts, strings.Replace(killPlan, "%s", `two\nlines`, 1), "", `U+000A at byte 4`},
		{"rollout start, header tab", "POST", rollouts, strings.Replace(killPlan, `,"reason":"%s"`, "", 1), "a\tb", `U+0009`},
		{"flag put, too long", "PUT", flags + "/kill", def, long, `must be at most 1000 bytes long, got 1001`},
		{"flagd apply, too long", "PUT", "/api/v1/environments/production/flagd", `{"flags":{}}`, long, `got 1001`},
		{"rollout start, too long", "POST", rollouts, strings.Replace(killPlan, "%s", long, 1), "", `must be at most 1000 bytes long, got 1001`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.header != "" {
				h["Valueloop-Reason"] = tc.header
			}
			if strings.HasPrefix(tc.path, "/api/v1/environments/production/flagd") {
				h["Content-Type"] = "application/json"
			}
			resp, body := e.do(t, call{method: tc.method, path: tc.path, token: adminSecret, body: tc.body, headers: h})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, "eason") {
				t.Errorf("%d %s, want 400 naming the reason with %q", resp.StatusCode, body, tc.want)
			}
		})
	}
	set := e.flags.Live("production").Snapshot.Set()
	if f := set.Flags["kill"]; f == nil || f.Version != 1 || f.State != "ENABLED" || set.Flags["fresh"] != nil {
		t.Errorf("flags after refused writes: kill %+v, fresh %v", f, set.Flags["fresh"] != nil)
	}
	if _, body := e.do(t, call{method: "GET", path: rollouts, token: adminSecret}); !strings.Contains(body, `"rollouts": []`) {
		t.Errorf("rollouts after refused starts: %s", body)
	}

	// The actions of a running rollout refuse them too.
	if resp, body := e.do(t, call{method: "POST", path: rollouts, token: adminSecret, body: strings.Replace(killPlan, "%s", "first", 1)}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("start: %d %s", resp.StatusCode, body)
	}
	for _, action := range []string{"pause", "advance", "rollback"} {
		for reason, want := range map[string]string{`x\u001b[2Jy`: "U+001B at byte 2", long: "at most 1000 bytes long, got 1001"} {
			resp, body := e.do(t, call{method: "POST", path: rollouts + "/kill/" + action, token: adminSecret, body: `{"reason":"` + reason + `"}`})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"field": "reason"`) || !strings.Contains(body, want) {
				t.Errorf("%s: %d %.200s, want 400 naming reason: %s", action, resp.StatusCode, body, want)
			}
		}
	}
	if _, body := e.do(t, call{method: "GET", path: rollouts + "?flag=kill", token: adminSecret}); !strings.Contains(body, `"state": "running"`) {
		t.Errorf("rollout after refused actions: %s", body)
	}
}
