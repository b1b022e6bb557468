package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/valuelooptest"
	"github.com/valueloop/valueloop/webhook"
)

// checkMetadataSaysNoShare advances the demo's rollout: the flag's
// metadata, in every evaluation's answer, says no share, since the engine
// moves the split and leaves the metadata as written ("one-page checkout
// at 5%" was still answered at 25%).
func checkMetadataSaysNoShare(t *testing.T, s *testServer) {
	t.Helper()
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "advance", "checkout-flow", "--env", "production"); code != 0 {
		t.Fatalf("advance: exit %d, %s", code, stderr)
	}
	code, stdout, _ := s.cli(t, s.Admin, "flags", "get", "checkout-flow", "--env", "production", "--output", "json")
	var fl struct{ Metadata map[string]any }
	if err := json.Unmarshal([]byte(stdout), &fl); code != 0 || err != nil {
		t.Fatalf("flags get: exit %d, %v", code, err)
	}
	for k, v := range fl.Metadata {
		if strings.Contains(fmt.Sprint(v), "%") {
			t.Errorf("checkout-flow's metadata %s = %q at 25%%: a share the rollout does not keep up to date", k, v)
		}
	}
}

// TestDemoRolloutUnderWay: serve --demo puts checkout-flow's 5% under a
// real rollout plan, with figures to show, audited when it started.
func TestDemoRolloutUnderWay(t *testing.T) {
	s := MustServe(t, "", "--demo")
	code, stdout, stderr := s.cli(t, s.Admin, "rollout", "status", "checkout-flow", "--env", "production")
	if code != 0 {
		t.Fatalf("rollout status: exit %d: %s", code, stderr)
	}
	// The demo's staff and NZ/IE users get one-page by rule, outside the
	// split: the status says so once, briefly, as a note on the rule, not
	// a warning (a newcomer read the long WARNING as something broken).
	for _, want := range []string{"Rollout 1 of checkout-flow in production: running, step 1 of 4", "5% one-page", "●5% 1d ≥1,000 users → 25% 1d ≥2,000 users", "checkout-errors", "┃", "├", "no harm detected", "step min  1,000 new users of one-page (the step's minimum)", "HISTORY", "demo: release the one-page checkout",
		`note      the flag's targeting serves "one-page" to the users a rule picks, outside the split:`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "WARNING") {
		t.Errorf("the demo rollout's status warns:\n%s", stdout)
	}
	code, stdout, _ = s.cli(t, s.Admin, "rollout", "status", "checkout-flow", "--env", "production", "--output", "json")
	var st rollout.Status
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil {
		t.Fatalf("status as JSON: exit %d, %v:\n%s", code, err, stdout)
	}
	if st.State != rollout.Running || st.Percent != 5 || st.Users["one-page"] < 100 || st.Users["classic"] < 1000 || len(st.Guardrails) != 1 || st.Guardrails[0].Status != rollout.GuardrailNoHarmDetected {
		t.Errorf("demo rollout: %+v users %v guardrails %+v", st.Rollout, st.Users, st.Guardrails)
	}
	// A newcomer sees a step that waits for its day only: the demo's traffic
	// has the step's minimum of users. Without one, it waited for the
	// 175,000 that detect a 5% harm, more than the demo ever sends.
	if !strings.Contains(st.Waiting, "more at 5%") || strings.Contains(st.Waiting, "users") || st.StepMinUsers != 1000 {
		t.Errorf("demo rollout waits for %q (step minimum %d), want the step's time only", st.Waiting, st.StepMinUsers)
	}
	if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "left out of the guardrails when their exposures say so") || len(st.Notes[0]) > 320 {
		t.Errorf("demo rollout's notes: %q, want one brief note of the users outside the split", st.Notes)
	}
	// The demo's 800 New Zealand shoppers (one in 25) were served one-page
	// by rule, and their exposures say so: among its users, not in its
	// guardrail.
	if len(st.Guardrails) == 1 && st.Users["one-page"]-st.Guardrails[0].VariantUsers != 800 {
		t.Errorf("one-page: %d users, %d in the guardrail; want the 800 shoppers served by rule left out of it", st.Users["one-page"], st.Guardrails[0].VariantUsers)
	}
	checkDemoRolloutAudited(t, s, st.StartedAt)
	admin := mustSignIn(t, s.URL, s.Admin)
	if _, page := admin.get("/rollouts/production/checkout-flow"); !strings.Contains(page, `<p class="hint">Note: the flag&#39;s targeting serves &#34;one-page&#34; to the users a rule picks`) || strings.Contains(page, `class="notice"`) {
		t.Errorf("the rollout page shows no note, or a warning:\n%s", valuelooptest.GrepLines(page, "targeting serves"))
	}
	code, _, stderr = s.cli(t, s.Admin, "rollout", "start", "checkout-flow", "--env", "production", "--variant", "one-page", "--baseline", "classic", "--steps", "10%:1h,100%")
	if code != exitConflict || !strings.Contains(stderr, "already has an active rollout") {
		t.Errorf("second start: exit %d, %q; want %d", code, stderr, exitConflict)
	}
	checkMetadataSaysNoShare(t, s)
	// A restart with --demo does not start another one, nor says it loaded
	// what it left alone.
	if log := s.Stderr.String(); !strings.Contains(log, "demo data loaded") || !strings.Contains(log, "demo rollout under way") {
		t.Errorf("first start's log does not say the demo was loaded:\n%s", log)
	}
	s.Stop(t)
	s = MustServe(t, s.DataDir, "--demo")
	code, stdout, _ = s.cli(t, s.Admin, "rollout", "list", "--env", "production")
	if code != 0 || strings.Count(stdout, "checkout-flow") != 1 {
		t.Errorf("rollouts after a restart (exit %d):\n%s", code, stdout)
	}
	if log := s.Stderr.String(); strings.Contains(log, "demo data loaded") {
		t.Errorf("a restart on the demo's data logs a demo load:\n%s", log)
	}
}

// checkDemoRolloutAudited: the demo rollout's one audit entry is dated as
// its start, six hours ago, not the moment the demo was loaded.
func checkDemoRolloutAudited(t *testing.T, s *testServer, startedAt time.Time) {
	t.Helper()
	code, stdout, _ := s.cli(t, s.Admin, "audit", "--env", "production", "--flag", "checkout-flow", "--output", "json")
	var audit []valueloop.AuditEntry
	if err := json.Unmarshal([]byte(stdout), &audit); code != 0 || err != nil {
		t.Fatalf("audit: exit %d, %v:\n%s", code, err, stdout)
	}
	started := 0
	for _, a := range audit {
		if a.Action == "rollout.start" {
			started++
			if !a.At.Equal(startedAt) {
				t.Errorf("the demo rollout's start is audited at %s, started at %s", a.At, startedAt)
			}
		}
	}
	if started != 1 {
		t.Errorf("%d rollout.start entries in the audit trail, want 1", started)
	}
}

// TestRolloutCLI walks a rollout through the CLI against a server whose
// engine ticks every 50ms: bad input, start, pause, resume, completion by
// the engine announced to a Slack-compatible webhook, and a conflict.
func TestRolloutCLI(t *testing.T) {
	s, hooks := greetServer(t)
	start := []string{"rollout", "start", "greet", "--env", "production", "--variant", "on", "--baseline", "off"}
	checkRolloutBadPlans(t, s, start)
	code, _, stderr := s.cli(t, s.Admin, "rollout", "start", "greet", "--env", "production", "--variant", "maybe", "--baseline", "off", "--steps", "10%")
	if code != exitInvalid || !strings.Contains(stderr, `flag "greet" has no variant "maybe"`) {
		t.Errorf("unknown variant: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := s.cli(t, s.Admin, "rollout", "list", "--env", "production"); code != 0 || strings.Contains(stdout, "greet") {
		t.Errorf("bad plans left a rollout behind (exit %d):\n%s", code, stdout)
	}

	// Held for an hour at 10% while we pause and resume it by hand.
	// No guardrail: without traffic a guardrail would hold each step for
	// the users that size it.
	code, stdout, stderr := s.cli(t, s.Admin, append(start, "--steps", "10%:1h,50%:1s,100%", "--reason", "try it")...)
	if code != 0 || !strings.Contains(stdout, "running, step 1 of 3") || !strings.Contains(stdout, "[████····") {
		t.Fatalf("start: exit %d %s\n%s", code, stderr, stdout)
	}
	// A reason typed over two lines is one line, as flags' --reason: the
	// server keeps reasons to one line and refused it (400).
	code, stdout, stderr = s.cli(t, s.Admin, "rollout", "pause", "greet", "--env", "production", "--reason", "lunch\nbreak")
	if code != 0 || !strings.Contains(stdout, "paused") || !strings.Contains(stdout, "reason: lunch break") {
		t.Errorf("pause: exit %d %s\n%s", code, stderr, stdout)
	}
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "pause", "greet", "--env", "production"); code != exitConflict || !strings.Contains(stderr, "only a running rollout can be paused") {
		t.Errorf("pause twice: exit %d %q", code, stderr)
	}
	if code, _, _ := s.cli(t, s.Admin, "rollout", "resume", "greet", "--env", "production"); code != 0 {
		t.Errorf("resume: exit %d", code)
	}
	if code, _, _ := s.cli(t, s.Admin, "rollout", "advance", "greet", "--env", "production"); code != 0 {
		t.Errorf("advance: exit %d", code)
	}
	// The engine does the rest: 50% for a second, then 100% and done.
	deadline := time.Now().Add(20 * time.Second)
	var st rollout.Status
	for {
		_, stdout, _ = s.cli(t, s.Admin, "rollout", "status", "greet", "--env", "production", "--output", "json")
		json.Unmarshal([]byte(stdout), &st)
		if st.State == rollout.Completed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not completed within 20s: %+v\n%s", st.Rollout, s.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, stdout, _ = s.cli(t, s.Admin, "rollout", "status", "greet", "--env", "production")
	if code != 0 {
		t.Errorf("rollout status after completion: exit %d, want 0", code)
	}
	for _, want := range []string{"completed, step 3 of 3", "100% on", "✓10% 1h → ✓50% 1s → ✓100%", "complete", "advance", "release-manager"} {
		if want == "release-manager" {
			want = "try it"
		}
		if !strings.Contains(stdout, want) {
			t.Errorf("final status lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "rollback", "greet", "--env", "production"); code != exitConflict || !strings.Contains(stderr, "is completed") {
		t.Errorf("rollback after completion: exit %d %q", code, stderr)
	}
	checkRolloutWebhooks(t, hooks)
}

// greetServer starts a server whose rollout engine checks every 50ms and
// posts to a Slack-compatible receiver (the bodies it gets come on the
// channel), with flag greet (off, on) and metric errors in production.
func greetServer(t *testing.T) (*testServer, chan []byte) {
	t.Helper()
	hooks := make(chan []byte, 32)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- b
	}))
	t.Cleanup(recv.Close)
	s := MustServe(t, "", "--rollout-interval", "50ms", "--slack-webhook", recv.URL+"/services/T0/B0/x")
	def := filepath.Join(t.TempDir(), "greet.json")
	mustWrite(t, def, `{"state":"ENABLED","variants":{"off":false,"on":true},"defaultVariant":"off"}`)
	if code, _, stderr := s.cli(t, s.Admin, "flags", "set", "greet", "--env", "production", "-f", def); code != 0 {
		t.Fatalf("flags set: %d %s", code, stderr)
	}
	if code, _, stderr := s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "errors", "--kind", "conversion", "--event", "error", "--direction", "lower"); code != 0 {
		t.Fatalf("metrics create: %d %s", code, stderr)
	}
	return s, hooks
}

// checkRolloutBadPlans checks that plans the server or the CLI refuses say why.
func checkRolloutBadPlans(t *testing.T, s *testServer, start []string) {
	t.Helper()
	bad := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--steps", "50%:1h,10%"}, exitInvalid, "--steps 10%: steps must increase: 10% follows 50%"},
		{[]string{"--steps", "10%,150%"}, exitInvalid, "--steps 150%: must be more than 0 and at most 100"},
		{[]string{"--steps", "10%,100%", "--guardrail", "latency:2%"}, exitInvalid, `no metric "latency"`},
		{[]string{"--steps", "10%:soon,100%"}, exitUsage, "invalid duration"},
		{[]string{"--steps", "10%,100%", "--guardrail", "errors:up"}, exitUsage, "neither a direction"},
	}
	for _, b := range bad {
		code, _, stderr := s.cli(t, s.Admin, append(append([]string{}, start...), b.args...)...)
		if code != b.code || !strings.Contains(stderr, b.want) {
			t.Errorf("start %v: exit %d, %q; want %d with %q", b.args, code, stderr, b.code, b.want)
		}
	}
}

// checkRolloutWebhooks checks that every transition reached the Slack-compatible webhook.
func checkRolloutWebhooks(t *testing.T, hooks chan []byte) {
	t.Helper()
	// Every transition reached the Slack-compatible webhook, the last one
	// being the completion.
	var texts []string
	timeout := time.After(10 * time.Second)
	for len(texts) == 0 || !strings.Contains(texts[len(texts)-1], "completed") {
		select {
		case b := <-hooks:
			var p webhook.SlackPayload
			if err := json.Unmarshal(b, &p); err != nil || len(p.Blocks) == 0 {
				t.Fatalf("webhook body %s: %v", b, err)
			}
			texts = append(texts, p.Text)
		case <-timeout:
			t.Fatalf("webhooks so far: %q", texts)
		}
	}
	if !strings.HasPrefix(texts[0], "Rollout 1 started: on of greet in production at 10%") || len(texts) != 6 {
		t.Errorf("webhook texts: %q", texts)
	}
}

func TestRolloutUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"rollout"}, "want a subcommand"},
		{[]string{"rollout", "status", "--env", "production"}, "want one flag key"},
		{[]string{"rollout", "start", "x", "--env", "production"}, "--variant, --baseline and --steps"},
		{[]string{"rollout", "jump", "x"}, "unknown subcommand"},
		{[]string{"serve", "--webhook", "https://hooks.example.com/x"}, "VALUELOOP_WEBHOOK_SECRET"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), c.args, strings.NewReader(""), &stdout, &stderr, environ(nil))
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d with %q", c.args, code, stderr.String(), exitUsage, c.want)
		}
	}
}

func TestParseStepAndGuardrail(t *testing.T) {
	steps := []struct {
		in   string
		want rollout.Step
	}{
		{"5%:1h", rollout.Step{Percent: 5, MinDuration: rollout.Duration(time.Hour)}},
		{"25:2d:5000", rollout.Step{Percent: 25, MinDuration: rollout.Duration(48 * time.Hour), MinUsers: 5000}},
		{"100%", rollout.Step{Percent: 100}},
		{"0.5%:30m", rollout.Step{Percent: 0.5, MinDuration: rollout.Duration(30 * time.Minute)}},
		// Spaces as people type them, as in --weights.
		{"25% : 2d: 5000", rollout.Step{Percent: 25, MinDuration: rollout.Duration(48 * time.Hour), MinUsers: 5000}},
	}
	for _, c := range steps {
		got, err := parseStep(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseStep(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "five%", "5%:1h:many", "5:1h:2:3", " :1h", "NaN%", "Inf:1h", "-inf%"} {
		if _, err := parseStep(in); err == nil {
			t.Errorf("parseStep(%q) accepted", in)
		}
	}
	guards := []struct {
		in   string
		want rollout.Guardrail
	}{
		{"error-rate:2%", rollout.Guardrail{Metric: "error-rate", Tolerance: 0.02}},
		{"conversion:higher:0.01", rollout.Guardrail{Metric: "conversion", Direction: metric.HigherIsBetter, Tolerance: 0.01}},
		{"latency:lower", rollout.Guardrail{Metric: "latency", Direction: metric.LowerIsBetter}},
		{"conversion : higher: 1%", rollout.Guardrail{Metric: "conversion", Direction: metric.HigherIsBetter, Tolerance: 0.01}},
	}
	for _, c := range guards {
		got, err := parseGuardrail(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseGuardrail(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestGuardrailBar(t *testing.T) {
	cases := []struct {
		name string
		g    rollout.GuardrailResult
		want string
	}{
		// Axis −10% … +10% over 21 cells: 1% a cell, zero in the middle.
		{"holds", rollout.GuardrailResult{Direction: metric.LowerIsBetter, Tolerance: 0.02, Change: -0.01, Interval: stats.Interval{Lower: -0.05, Upper: 0.03}},
			"     ├───●┼─┃┤       "},
		{"breached", rollout.GuardrailResult{Direction: metric.LowerIsBetter, Tolerance: 0.02, Change: 0.06, Interval: stats.Interval{Lower: 0.03, Upper: 0.09}},
			"          │ ┃├──●──┤ "},
		{"higher is better, off the axis", rollout.GuardrailResult{Direction: metric.HigherIsBetter, Tolerance: 0.05, Change: 0, Interval: stats.Interval{Lower: -0.3, Upper: 0.04}},
			"◄────┃────●───┤      "},
		// The estimate past the axis (which stops at ±100%) is not drawn at
		// its end, where it read as a change of +10% here, +100% in the
		// status: the arrow says the interval runs off it.
		{"breached beyond the axis", rollout.GuardrailResult{Direction: metric.LowerIsBetter, Tolerance: 0.02, Change: 2.31, Interval: stats.Interval{Lower: 1.435, Upper: 3.19}},
			"          │ ┃       ►"},
		{"limit off the axis: not drawn at its end", rollout.GuardrailResult{Direction: metric.LowerIsBetter, Tolerance: 0.5, Change: 0.01, Interval: stats.Interval{Lower: -0.02, Upper: 0.04}},
			"        ├─┼●──┤      "},
	}
	for _, c := range cases {
		if got := guardrailBar(c.g, -0.10, 0.10, 21); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// TestRolloutMessagesSayWhatIsTrue: a state conflict says the state, a
// negative duration names its field, and an unknown guardrail metric is
// one problem, not two.
func TestRolloutMessagesSayWhatIsTrue(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	code, _, stderr := srv.cli(t, srv.Admin, "rollout", "resume", "checkout-flow", "--env", "production")
	if code != exitConflict || !strings.Contains(stderr, "is running: only a paused rollout can be resumed") || strings.Contains(stderr, "Someone changed it first") {
		t.Errorf("resume a running rollout: exit %d, %q; want %d saying it is running, and nothing of a concurrent change", code, stderr, exitConflict)
	}
	url := srv.URL + "/api/v1/environments/production/rollouts"
	for _, c := range []struct{ name, body, want string }{
		{"negative duration", `{"flag":"checkout-flow","variant":"one-page","baseline":"classic","steps":[{"percent":5,"minDuration":"-1h"},{"percent":100}]}`,
			`"field": "steps[0].minDuration"`},
		{"unknown metric", `{"flag":"checkout-flow","variant":"one-page","baseline":"classic","steps":[{"percent":5},{"percent":100}],"guardrails":[{"metric":"nope","tolerance":0.05}]}`,
			`"field": "/guardrails/0/metric"`},
	} {
		resp, body := post(t, url, srv.Admin, c.body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, c.want) || strings.Count(body, `"field"`) != 1 {
			t.Errorf("%s: %d %s; want 400 with one problem, %s", c.name, resp.StatusCode, body, c.want)
		}
	}
}

// TestRolloutWebhookStandard: serve --webhook posts rollout events signed
// as Standard Webhooks with a whsec_ secret (verified by the receiver), and
// /metrics counts the delivery.
func TestRolloutWebhookStandard(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verified := make(chan string, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			verified <- "refused: " + err.Error()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		verified <- r.Header.Get(webhook.HeaderEvent)
	}))
	defer recv.Close()
	srv := MustServeEnv(t, "", map[string]string{"VALUELOOP_ADMIN_TOKEN": testAdminToken, "VALUELOOP_WEBHOOK_SECRET": secret},
		"--demo", "--webhook", recv.URL)
	select {
	case got := <-verified:
		if got != "rollout.start" {
			t.Fatalf("first delivery: %s, want a verified rollout.start", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivery within 30s")
	}
	want := `valueloop_rollout_webhook_deliveries_total{outcome="delivered"} 1`
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestParseGuardrail: --guardrail METRIC[:lower|higher][:TOLERANCE] reads a
// tolerance as a percentage with "%" and as a fraction without, and refuses
// what it would otherwise read silently: a direction or tolerance given
// twice (the last won), and a bare number of 1 or more (as --steps reads
// bare numbers as percentages, "errors:2" meant 2% but tolerated 200%).
func TestParseGuardrail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want rollout.Guardrail
		err  string // "" for accepted
	}{
		{"errors:2%", rollout.Guardrail{Metric: "errors", Tolerance: 0.02}, ""},
		{"errors:0.02", rollout.Guardrail{Metric: "errors", Tolerance: 0.02}, ""},
		{"errors:lower:5%", rollout.Guardrail{Metric: "errors", Direction: "lower", Tolerance: 0.05}, ""},
		{"revenue:10%:higher", rollout.Guardrail{Metric: "revenue", Direction: "higher", Tolerance: 0.1}, ""},
		{"errors:200%", rollout.Guardrail{Metric: "errors", Tolerance: 2}, ""},
		{"errors", rollout.Guardrail{Metric: "errors"}, ""},
		{"errors:2", rollout.Guardrail{}, "tolerance 2 is a fraction, 200%: write 2% for 2 percent, or 200% if that is meant"},
		{"errors:1", rollout.Guardrail{}, "write 1% for 1 percent, or 100%"},
		{"errors:2%:5%", rollout.Guardrail{}, "tolerance given twice (2%, then 5%)"},
		{"errors:lower:higher", rollout.Guardrail{}, "direction given twice (lower, then higher)"},
		{"errors:up", rollout.Guardrail{}, "neither a direction"},
	} {
		g, err := parseGuardrail(tc.in)
		switch {
		case tc.err == "" && (err != nil || g != tc.want):
			t.Errorf("parseGuardrail(%q) = %+v, %v; want %+v", tc.in, g, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseGuardrail(%q) = %+v, %v; want an error with %q", tc.in, g, err, tc.err)
		}
	}
}

// TestRolloutPlanFile: a plan file is read as the server reads the plan in
// a request (jsondecode): a key given twice, or one that names a field only
// ignoring case, is refused naming it, rather than read (the last of the
// two, or the field it resembles) and sent on as a valid plan.
func TestRolloutPlanFile(t *testing.T) {
	for _, tc := range []struct {
		name, plan string
		err        string // "" for accepted
	}{
		{"plain", `{"variant":"on","baseline":"off","steps":[{"percent":5,"minDuration":"1h"},{"percent":100}]}`, ""},
		{"onBreach twice", `{"variant":"on","baseline":"off","onBreach":"pause","steps":[{"percent":100}],"onBreach":"rollback"}`, "onBreach: appears more than once"},
		{"minDuration twice", `{"variant":"on","baseline":"off","steps":[{"percent":5,"minDuration":"1d","minDuration":"1h"},{"percent":100}]}`, "steps[0].minDuration: appears more than once"},
		{"field name in another case", `{"variant":"on","baseline":"off","steps":[{"percent":5,"minusers":5000},{"percent":100}]}`, "steps[0].minusers"},
		{"unknown field", `{"variant":"on","baseline":"off","steps":[{"percent":100}],"tolerance":0.1}`, "tolerance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "plan.json")
			if err := os.WriteFile(file, []byte(tc.plan), 0o600); err != nil {
				t.Fatal(err)
			}
			p, err := rolloutPlan(&cliEnv{}, "greet", file, "", "", "", nil, "", 0, 0)
			switch {
			case tc.err == "" && (err != nil || p.Flag != "greet" || p.Variant != "on"):
				t.Errorf("rolloutPlan = %+v, %v; want the plan of greet", p, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "valueloop: invalid")):
				// The error is the CLI's own: "valueloop: invalid:" of the
				// decoder's error inside it was printed after "valueloop:".
				t.Errorf("rolloutPlan = %+v, %v; want an error with %q", p, err, tc.err)
			}
		})
	}
}

// TestDemoBesideOwnFlags: --demo on a store whose production already holds
// flags of its own loads nothing into production (the demo loads into
// empty environments): no rollout, experiment data or value loop beside
// someone's flags. It used to ingest the demo experiment's events, record
// a verdict for a flag that is not there, and stop with exit 3: "no flag
// \"new-onboarding\" in environment production".
func TestDemoBesideOwnFlags(t *testing.T) {
	s := MustServe(t, "")
	def := filepath.Join(t.TempDir(), "mine.json")
	if err := os.WriteFile(def, []byte(`{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := s.cli(t, s.Admin, "flags", "set", "mine", "--env", "production", "-f", def); code != 0 {
		t.Fatalf("flags set: %d %s", code, errOut)
	}
	s.Stop(t)
	s = MustServe(t, s.DataDir, "--demo")
	if code, out, _ := s.cli(t, s.Admin, "flags", "list", "--env", "production", "--output", "json"); code != 0 || strings.Count(out, `"key"`) != 1 || !strings.Contains(out, `"mine"`) {
		t.Errorf("production after --demo (exit %d): want only its own flag:\n%s", code, out)
	}
	if code, out, _ := s.cli(t, s.Admin, "objective", "list", "--output", "json"); code != 0 || strings.Contains(out, "activation") {
		t.Errorf("objectives after --demo (exit %d): want none of the demo's:\n%s", code, out)
	}
	if code, out, _ := s.cli(t, s.Admin, "metrics", "list", "--env", "production", "--output", "json"); code != 0 || strings.Contains(out, "onboarding-completed") {
		t.Errorf("production's metrics after --demo (exit %d): want none of the demo's:\n%s", code, out)
	}
	if code, out, _ := s.cli(t, s.Admin, "flags", "list", "--env", "development"); code != 0 || !strings.Contains(out, "checkout-flow") {
		t.Errorf("development, empty before, gets the demo's flags (exit %d):\n%s", code, out)
	}
}

// TestRolloutStatusShowsAHold: rollout status says, in a line of its own,
// that a step is held past its time, since when and by which guardrail's
// users; a rollout not held has no such line.
func TestRolloutStatusShowsAHold(t *testing.T) {
	since := time.Date(2026, 11, 23, 10, 0, 0, 0, time.Local)
	st := &rollout.Status{Rollout: rollout.Rollout{ID: 3, Environment: "production", State: rollout.Running, Percent: 5,
		Plan: rollout.Plan{Flag: "checkout", Variant: "one-page", Baseline: "classic", Steps: []rollout.Step{{Percent: 5}, {Percent: 100}}}},
		Held: &rollout.Hold{Since: since, Reason: "step 1 of 2 (5%) has lasted its 1h but holds until each guardrail has 100 users in each variant: error-rate has 40 in classic and 3 in one-page",
			Guardrails: []rollout.HeldGuardrail{{Metric: "error-rate", BaselineUsers: 40, VariantUsers: 3, Needs: 100}}}}
	statusLine(t, st, "  HELD      since 2026-11-23 10:00 UTC: step 1 of 2 (5%) has lasted its 1h but holds until each guardrail has 100 users in each variant: error-rate has 40 in classic and 3 in one-page\n",
		func() { st.Held = nil }, "HELD")
}

// statusLine checks that rollout status of st writes want and, once
// undo has taken away what it shows, nothing holding absent.
func statusLine(t *testing.T, st *rollout.Status, want string, undo func(), absent string) {
	t.Helper()
	var out strings.Builder
	writeRolloutStatus(&out, st)
	if !strings.Contains(out.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, out.String())
	}
	undo()
	out.Reset()
	writeRolloutStatus(&out, st)
	if strings.Contains(out.String(), absent) {
		t.Errorf("status without it still shows %q:\n%s", absent, out.String())
	}
}

// TestRolloutStatusShowsWhatTheStepServed: rollout status says what the
// step's split served the users new since it took effect, against the
// step's percentage, and those served outside it; without the figures
// (the split changed by hand) there is no such line.
func TestRolloutStatusShowsWhatTheStepServed(t *testing.T) {
	pct := 9.8
	st := &rollout.Status{Rollout: rollout.Rollout{ID: 3, Environment: "production", State: rollout.Running, Percent: 10,
		Plan: rollout.Plan{Flag: "checkout", Variant: "one-page", Baseline: "classic", Steps: []rollout.Step{{Percent: 10}, {Percent: 100}}}},
		Served: &rollout.StepServed{Since: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), SplitUsers: 1000, VariantUsers: 98, Percent: &pct, OutsideUsers: 2}}
	statusLine(t, st, "  served    9.8% one-page of 1,000 new users drawn by the split since 2026-11-23 10:00 UTC (step: 10%); 2 users served outside it\n",
		func() { st.Served = nil }, "served ")
}

// TestHeldRolloutShownEverywhere: a real server whose rollout's 5% step
// has outlived its second without a user in its guardrail says so in the
// API's status, in rollout status and on the dashboard's rollout pages,
// and announces it to the webhook once; it does not advance.
func TestHeldRolloutShownEverywhere(t *testing.T) {
	s, hooks := greetServer(t)
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "start", "greet", "--env", "production", "--variant", "on", "--baseline", "off", "--steps", "5%:1s,100%", "--guardrail", "errors"); code != 0 {
		t.Fatalf("rollout start: %d %s", code, stderr)
	}
	var st rollout.Status
	waitUntil(t, "the step is held", 30*time.Second, func() bool {
		_, stdout, _ := s.cli(t, s.Admin, "rollout", "status", "greet", "--env", "production", "--output", "json")
		st = rollout.Status{}
		json.Unmarshal([]byte(stdout), &st)
		return st.Held != nil && slices.ContainsFunc(st.History, func(ev rollout.Event) bool { return ev.Kind == rollout.KindHold })
	})
	if st.State != rollout.Running || st.Percent != 5 || len(st.Held.Guardrails) != 1 || st.Held.Guardrails[0] != (rollout.HeldGuardrail{Metric: "errors", Needs: 100}) {
		t.Errorf("held status: %s at %v%%, %+v", st.State, st.Percent, st.Held)
	}
	_, text, _ := s.cli(t, s.Admin, "rollout", "status", "greet", "--env", "production")
	if !strings.Contains(text, "HELD      since") || !strings.Contains(text, "errors has 0 in off and 0 in on") {
		t.Errorf("rollout status does not show the hold:\n%s", text)
	}
	admin := mustSignIn(t, s.URL, s.Admin)
	_, page := admin.get("/rollouts/production/greet")
	if held := elementByID(t, page, "held"); held == "" || !strings.Contains(page, "errors has 0 in off and 0 in on") {
		t.Errorf("the rollout page shows no hold (#held %q)", held)
	}
	for _, p := range checkHTML(page) {
		t.Errorf("/rollouts/production/greet held: %s", p)
	}
	if _, list := admin.get("/rollouts"); !strings.Contains(list, `<strong class="held">held past its step's time</strong>`) {
		t.Errorf("the rollouts page does not say the rollout is held")
	}
	var texts []string
	for len(texts) < 2 { // the start, then the hold
		select {
		case b := <-hooks:
			var p webhook.SlackPayload
			json.Unmarshal(b, &p)
			texts = append(texts, p.Text)
		case <-time.After(10 * time.Second):
			t.Fatalf("webhooks so far: %q", texts)
		}
	}
	if !strings.HasPrefix(texts[1], "Rollout 1 held: on of greet in production stays at 5%") {
		t.Errorf("webhook texts %q: want the start, then the hold", texts)
	}
	// However many ticks it stays held, it is announced once.
	_, audit, _ := s.cli(t, s.Admin, "audit", "--output", "json")
	if n := strings.Count(audit, `"rollout.hold"`); n != 1 {
		t.Errorf("%d rollout.hold audit entries, want 1", n)
	}
}

// elementByID returns the text of the element of page with the id, or "".
func elementByID(t *testing.T, page, id string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var text func(n *html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var s string
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			s += text(c)
		}
		return s
	}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && attr(n, "id") == id {
			return text(n)
		}
	}
	return ""
}

// TestDashboardReasonLimit: the dashboard's forms hold a reason to what
// the API does, valueloop.MaxReason bytes: a longer one is refused next to
// the field, and neither the flag nor the rollout changes.
func TestDashboardReasonLimit(t *testing.T) {
	s, _ := greetServer(t)
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "start", "greet", "--env", "production", "--variant", "on", "--baseline", "off", "--steps", "5%:1d,100%", "--guardrail", "errors"); code != 0 {
		t.Fatalf("rollout start: %d %s", code, stderr)
	}
	long := strings.Repeat("x", valueloop.MaxReason+1)
	admin := mustSignIn(t, s.URL, s.Admin)
	for _, c := range []struct{ path, page string }{
		{"/flags/production/greet/state", "/flags/production/greet"},
		{"/rollouts/production/greet/pause", "/rollouts/production/greet/pause"},
	} {
		resp, page := admin.post(c.path, url.Values{"csrf": {admin.csrf(c.page)}, "to": {"DISABLED"}, "reason": {long}})
		// The confirm step again (422), the problem next to the field.
		if resp.StatusCode != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="reason-err">[^<]*must be at most 1000 bytes long, got 1001`).MatchString(page) {
			t.Errorf("POST %s with a reason of 1001 bytes: %d, want 422 saying next to the field that the reason is too long:\n%s", c.path, resp.StatusCode, valuelooptest.GrepLines(page, "reason-err"))
		}
	}
	// A flag that does not exist has no confirm step to show again: 404,
	// as its confirm step answers, not a page asking to disable it.
	if resp, page := admin.post("/flags/production/no-such-flag/state", url.Values{"csrf": {admin.csrf("/flags/production/greet")}, "to": {"DISABLED"}, "reason": {long}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST the state of a missing flag with a reason of 1001 bytes: %d, want 404:\n%s", resp.StatusCode, valuelooptest.GrepLines(page, "no-such-flag"))
	}
	_, stdout, _ := s.cli(t, s.Admin, "rollout", "status", "greet", "--env", "production", "--output", "json")
	var st rollout.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st.State != rollout.Running || len(st.History) != 1 {
		t.Errorf("rollout after the refused forms: %s with %d history entries (%v), want running with its start only", st.State, len(st.History), err)
	}
	if _, out, _ := s.cli(t, s.Admin, "flags", "get", "greet", "--env", "production"); !strings.Contains(out, "ENABLED") {
		t.Errorf("flag after the refused forms:\n%s", out)
	}
}

// TestRolloutWebhookLinksToTheDashboard: with public-url, a rollout's
// webhook messages link to its dashboard page there (the Slack message's
// context, the generic payload's link), for people reading them in a
// channel; without it they link nowhere, since nothing else says where
// people reach the server.
func TestRolloutWebhookLinksToTheDashboard(t *testing.T) {
	bodies := make(chan string, 64)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- r.URL.Path + " " + string(b)
	}))
	defer hook.Close()
	env := map[string]string{"VALUELOOP_ADMIN_TOKEN": testAdminToken, "VALUELOOP_WEBHOOK_SECRET": "whsec_c2VjcmV0LXNlY3JldA=="}
	s := MustServeEnv(t, "", env, "--demo", "--public-url", "https://example.com/flags/",
		"--slack-webhook", hook.URL+"/slack", "--webhook", hook.URL+"/generic")
	s.mustRun(t, []string{"rollout", "pause", "checkout-flow", "--env", "production", "--reason", "a look"})
	const page = "https://example.com/flags/rollouts/production/checkout-flow"
	want := map[string]string{
		"/slack":   "<" + page + "|open in Valueloop>",
		"/generic": `"link":"` + page + `"`,
	}
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case b := <-bodies:
			path, body, _ := strings.Cut(b, " ")
			// encoding/json writes < > & as \u escapes.
			body = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(body)
			if !strings.Contains(body, "pause") {
				continue
			}
			if !strings.Contains(body, want[path]) {
				t.Errorf("%s message lacks %s: %s", path, want[path], body)
			}
			delete(want, path)
		case <-deadline:
			t.Fatalf("no pause message to %v", want)
		}
	}
}

// TestRolloutListPages: rollout list reads a page at a time, --limit N of
// them, older pages with --before (the API's ?before=), and says how to
// read the next page when one is full, as audit does. It used to show the
// server's default 100 newest rollouts and no more, saying nothing.
func TestRolloutListPages(t *testing.T) {
	s := MustServe(t, "", "--demo")
	// The demo's rollout, rolled back, and a second one of the same flag.
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "rollback", "checkout-flow", "--env", "production"); code != 0 {
		t.Fatalf("rollback: exit %d, %s", code, stderr)
	}
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "start", "checkout-flow", "--env", "production", "--variant", "one-page", "--baseline", "classic", "--steps", "10%:1h,100%"); code != 0 {
		t.Fatalf("second start: exit %d, %s", code, stderr)
	}
	page := func(args ...string) []int64 {
		t.Helper()
		return pageIDs(t, s, append([]string{"rollout", "list", "--env", "production"}, args...)...)
	}
	all := page()
	if len(all) != 2 || all[0] <= all[1] {
		t.Fatalf("all rollouts: %v; want 2, newest first", all)
	}
	first := page("--limit", "1")
	if len(first) != 1 || first[0] != all[0] {
		t.Fatalf("--limit 1: %v, want [%d]", first, all[0])
	}
	next := page("--limit", "1", "--before", strconv.FormatInt(all[0], 10))
	if len(next) != 1 || next[0] != all[1] {
		t.Errorf("--before %d: %v, want [%d]", all[0], next, all[1])
	}
	code, stdout, stderr := s.cli(t, s.Admin, "rollout", "list", "--env", "production", "--limit", "1")
	want := fmt.Sprintf("Older rollouts: add --before %d for the next page.", all[0])
	if code != 0 || strings.Count(stdout, "checkout-flow") != 1 || !strings.Contains(stderr, want) {
		t.Errorf("text page: exit %d\n%s\nstderr %q, want %q", code, stdout, stderr, want)
	}
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "list", "--env", "production", "--limit", "0"); code != exitUsage || !strings.Contains(stderr, "--limit") {
		t.Errorf("--limit 0: exit %d, %q; want %d naming --limit", code, stderr, exitUsage)
	}
}
