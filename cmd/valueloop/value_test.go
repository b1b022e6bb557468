package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/value"
)

// call makes one API request with the admin token and decodes the answer
// into out (when not nil); it returns the status and the body.
func (s *testServer) call(t *testing.T, method, path, body string, out any) (int, string) {
	t.Helper()
	header := map[string]string{"Authorization": "Bearer " + s.Admin}
	if body != "" {
		header["Content-Type"] = "application/json"
	}
	resp, b := request(t, method, s.URL+path, body, header)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode, b
}

type shownFeature struct {
	Record struct {
		Stage       string `json:"stage"`
		Transitions []struct {
			From, To, Cause, Event string
			At                     time.Time
			Manual                 bool
		} `json:"transitions"`
		Timeline []struct {
			Kind, Cause string
		} `json:"timeline"`
		LeadTimeToCustomer      *float64 `json:"leadTimeToCustomer"`
		TimeToValidatedLearning *float64 `json:"timeToValidatedLearning"`
		FirstCommit             time.Time
		ReleasedAt              time.Time
		FirstExposure           time.Time
		VerdictAt               time.Time
		Missing                 []string
	} `json:"record"`
}

// TestValueLoopEndToEnd follows one feature from idea to cleanup through
// the real HTTP endpoints: created (bad input refused first), made ready
// by hand, a pushed commit with a "Feature:" trailer through the GitHub
// webhook, a production deployment recorded, a rollout started, exposures
// and purchases sent, the verdict recorded by the results route, the
// rollout completed and the flag deleted. At each step the feature's stage
// follows the evidence; at the end both loop figures are filled in and
// every transition is in the audit trail.
func TestValueLoopEndToEnd(t *testing.T) {
	s := MustServe(t, "")
	loopSetUp(t, s)
	loopCreate(t, s)
	s.show(t, "idea")
	if code, body := s.call(t, "POST", "/api/v1/features/guided-checkout/move", `{"stage":"building"}`, nil); code != 400 || !strings.Contains(body, `"field": "stage"`) {
		t.Errorf("move to building by hand: %d %s, want 400: evidence moves it", code, body)
	}
	if code, body := s.call(t, "POST", "/api/v1/features/guided-checkout/move", `{"stage":"ready","reason":"estimated"}`, nil); code != 200 {
		t.Fatalf("move: %d %s", code, body)
	}
	s.show(t, "ready")
	loopBuild(t, s)
	loopRelease(t, s)
	loopLearn(t, s)
	f := s.show(t, "validated")
	loopFigures(t, f)
	// The loop ends when the flag is cleaned up.
	if code, _, stderr := s.cli(t, s.Admin, "flags", "delete", "guided-checkout", "--env", "production"); code != 0 {
		t.Fatalf("flags delete: %s", stderr)
	}
	loopDone(t, s, s.show(t, "done"))
}

// show reads the feature of the end-to-end test and checks its stage.
func (s *testServer) show(t *testing.T, want string) shownFeature {
	t.Helper()
	var f shownFeature
	if code, body := s.call(t, "GET", "/api/v1/features/guided-checkout", "", &f); code != 200 {
		t.Fatalf("show: %d %s", code, body)
	}
	if f.Record.Stage != want {
		t.Fatalf("stage %q, want %q; transitions %+v", f.Record.Stage, want, f.Record.Transitions)
	}
	return f
}

// waitStored waits until the stored stage (the list, which reads what the
// sync stored, without syncing) is want: a sync the server ran by itself.
func (s *testServer) waitStored(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list struct{ Features []struct{ Key, Stage string } }
		s.call(t, "GET", "/api/v1/features", "", &list)
		if len(list.Features) == 1 && list.Features[0].Stage == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored stage %+v, want %s", list.Features, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loopSetUp makes the flag, the metric, the service and the objective.
func loopSetUp(t *testing.T, s *testServer) {
	def := writeFile(t, `{"state":"ENABLED","variants":{"control":false,"treatment":true},"defaultVariant":"control"}`)
	s.mustRun(t,
		[]string{"flags", "set", "guided-checkout", "--env", "production", "-f", def},
		[]string{"metrics", "create", "--env", "production", "--key", "purchased", "--kind", "conversion", "--event", "purchase"},
		[]string{"delivery", "service", "set", "shop", "--repo", "acme/shop"},
	)
	objective := `{"key":"conversion","title":"More visitors buy","metric":"purchased","target":{"direction":"increase","value":0.1},"horizon":"2027-06-30"}`
	if code, body := s.call(t, "POST", "/api/v1/objectives", objective, nil); code != 201 {
		t.Fatalf("objective: %d %s", code, body)
	}
}

const loopFeature = `{"key":"guided-checkout","title":"Guided checkout","objective":"conversion",
	"hypothesis":{"change":"a guided checkout","for":"first-time buyers","outcome":"more purchases","metric":"purchased","minimumEffect":0.1},
	"estimate":{"costOfDelay":{"userValue":8,"timeCriticality":3,"riskReduction":2},"size":3},
	"links":{"flags":[{"environment":"production","flag":"guided-checkout","variant":"treatment"}],"services":["shop"]}}`

// loopCreate refuses bad features, naming the field and storing nothing,
// then creates the good one.
func loopCreate(t *testing.T, s *testServer) {
	for _, tc := range []struct{ from, to, field string }{
		{`"objective":"conversion"`, `"objective":"growth"`, "objective"},
		{`"objective":"conversion"`, `"objective":"conversion","dependsOn":["guided-checkout"]`, "dependsOn[0]"},
		{`"flag":"guided-checkout"`, `"flag":"guided"`, "links.flags[0].flag"},
		{`"userValue":8`, `"userValue":800`, "estimate.costOfDelay.userValue"},
		{`"metric":"purchased","minimumEffect"`, `"metric":"bought","minimumEffect"`, "hypothesis.metric"},
	} {
		code, body := s.call(t, "POST", "/api/v1/features", strings.Replace(loopFeature, tc.from, tc.to, 1), nil)
		if code != 400 || !strings.Contains(body, `"field": "`+tc.field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.to, code, body, tc.field)
		}
	}
	var list struct{ Features []any }
	if s.call(t, "GET", "/api/v1/features", "", &list); len(list.Features) != 0 {
		t.Fatalf("refused features were stored: %+v", list.Features)
	}
	if code, body := s.call(t, "POST", "/api/v1/features", loopFeature, nil); code != 201 {
		t.Fatalf("feature: %d %s", code, body)
	}
}

const loopSHA = "4c1e9a0b7d2f3e6a8b9c0d1e2f3a4b5c6d7e8f90"

// loopBuild pushes a commit with the trailer to main through the GitHub
// webhook: building.
func loopBuild(t *testing.T, s *testServer) {
	code, out, errOut := s.cli(t, s.Admin, "delivery", "source", "add", "acme", "--kind", "github", "--output", "json")
	if code != 0 {
		t.Fatalf("source add: %s%s", out, errOut)
	}
	var src struct{ Secret string }
	json.Unmarshal([]byte(out), &src)
	// Committed an hour ago, before the feature was written down: the idea
	// and ready stages then date from the commit (the earliest evidence of a
	// stage or a later one counts), and the audit records their new times.
	authored := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	push := fmt.Sprintf(`{"ref":"refs/heads/main","repository":{"full_name":"acme/shop","default_branch":"main","pushed_at":%d},
		"commits":[{"id":%q,"timestamp":%q,"message":"Guide first-time buyers through checkout\n\nFeature: guided-checkout\n"}]}`,
		authored.Unix(), loopSHA, authored.Format(time.RFC3339))
	if code, body := postHook(t, s.URL+"/hooks/github?source=acme", push, map[string]string{
		github.EventHeader: "push", github.DeliveryHeader: "push-1", github.SignatureHeader: github.Sign([]byte(src.Secret), []byte(push))}); code != 200 {
		t.Fatalf("push: %d %s", code, body)
	}
	if f := s.show(t, "building"); !f.Record.FirstCommit.Equal(authored) {
		t.Errorf("first commit %v, want the commit's time %v", f.Record.FirstCommit, authored)
	}
}

// loopRelease deploys the commit to production, then starts a rollout at
// half the users: releasing throughout.
func loopRelease(t *testing.T, s *testServer) {
	if code, _, stderr := s.cli(t, s.Admin, "deploy", "record", "--service", "shop", "--repo", "acme/shop", "--env", "production", "--sha", loopSHA, "--status", "success"); code != 0 {
		t.Fatalf("deploy record: %s", stderr)
	}
	s.show(t, "releasing")
	if code, _, stderr := s.cli(t, s.Admin, "rollout", "start", "guided-checkout", "--env", "production", "--variant", "treatment", "--baseline", "control", "--steps", "50%:1h,100%"); code != 0 {
		t.Fatalf("rollout start: %s", stderr)
	}
	s.show(t, "releasing")
}

// loopLearn sends exposures and purchases (treatment buys twice as often),
// states the flag's hypothesis (measuring), reads the results (their
// verdict is recorded: validated) and completes the rollout.
func loopLearn(t *testing.T, s *testServer) {
	token := s.mustToken(t, "--env", "production", "--scope", "evaluate")
	r := rand.New(rand.NewPCG(1, 2))
	var events []map[string]any
	for i := range 4000 {
		user, variant := fmt.Sprintf("u%d", i), []string{"control", "treatment"}[i%2]
		events = append(events, map[string]any{"id": fmt.Sprint(len(events)), "type": "exposure", "flag": "guided-checkout", "variant": variant, "targetingKey": user})
		if buy := map[string]float64{"control": 0.1, "treatment": 0.2}[variant]; r.Float64() < buy {
			events = append(events, map[string]any{"id": fmt.Sprint(len(events)), "type": "tracking", "name": "purchase", "targetingKey": user})
		}
	}
	s.mustSendEvents(t, token, events)
	s.show(t, "releasing") // users see it, but no experiment measures it yet
	if code, _, stderr := s.cli(t, s.Admin, "experiment", "hypothesis", "set", "guided-checkout", "--env", "production", "--primary", "purchased", "--min-effect", "10%"); code != 0 {
		t.Fatalf("hypothesis: %s", stderr)
	}
	s.show(t, "measuring") // users are in an experiment now that it has a hypothesis
	if code, body := s.call(t, "GET", "/api/v1/environments/production/flags/guided-checkout/results", "", nil); code != 200 || !strings.Contains(body, `"validated"`) {
		t.Fatalf("results: %d %s", code, body)
	}
	s.waitStored(t, "validated") // the recorded verdict moved it, nobody asked
	s.show(t, "validated")
	for range 2 { // validated: released to everyone
		if code, _, stderr := s.cli(t, s.Admin, "rollout", "advance", "guided-checkout", "--env", "production"); code != 0 {
			t.Fatalf("rollout advance: %s", stderr)
		}
	}
}

// loopFigures checks both loop figures against their definitions: lead
// time = the rollout reaching everyone − the first commit; time to
// validated learning = the verdict − the first exposure (the rollout's
// start).
func loopFigures(t *testing.T, f shownFeature) {
	r := f.Record
	if r.LeadTimeToCustomer == nil || r.TimeToValidatedLearning == nil {
		t.Fatalf("figures missing: %q", r.Missing)
	}
	if want := r.ReleasedAt.Sub(r.FirstCommit).Seconds(); *r.LeadTimeToCustomer != want || want <= 0 {
		t.Errorf("lead time to customer %v s, want %v s", *r.LeadTimeToCustomer, want)
	}
	if want := r.VerdictAt.Sub(r.FirstExposure).Seconds(); *r.TimeToValidatedLearning != want || want < 0 {
		t.Errorf("time to validated learning %v s, want %v s", *r.TimeToValidatedLearning, want)
	}
}

// loopDone checks the path taken, that every transition is in the audit
// trail, and that flow and next see the feature.
func loopDone(t *testing.T, s *testServer, f shownFeature) {
	var stages []string
	for i, tr := range f.Record.Transitions {
		stages = append(stages, tr.To)
		if i > 0 && tr.At.Before(f.Record.Transitions[i-1].At) {
			t.Errorf("transition %d to %s at %v, before the previous at %v", i, tr.To, tr.At, f.Record.Transitions[i-1].At)
		}
	}
	if got, want := strings.Join(stages, " "), "idea ready building releasing measuring validated done"; got != want {
		t.Errorf("transitions: got %s, want %s", got, want)
	}
	var audit struct {
		Entries []struct {
			Action, Target string
			After          json.RawMessage
		}
	}
	s.call(t, "GET", "/api/v1/audit?limit=1000", "", &audit)
	audited := map[string]bool{}
	for _, a := range audit.Entries {
		var tr struct{ To, Event string }
		if a.Action == "feature.transition" && a.Target == "feature:guided-checkout" && json.Unmarshal(a.After, &tr) == nil {
			audited[tr.To+" "+tr.Event] = true
		}
	}
	for _, tr := range f.Record.Transitions {
		if !audited[tr.To+" "+tr.Event] {
			t.Errorf("transition to %s (%s) is not in the audit trail", tr.To, tr.Event)
		}
	}
	var flow struct{ Shipped, Validated int }
	if code, body := s.call(t, "GET", "/api/v1/value/flow", "", &flow); code != 200 || flow.Shipped != 1 || flow.Validated != 1 {
		t.Errorf("flow: %d %s", code, body)
	}
	var next struct {
		Bets []struct {
			Objective string
			Validated int
		}
	}
	if code, body := s.call(t, "GET", "/api/v1/value/next", "", &next); code != 200 || len(next.Bets) != 1 || next.Bets[0].Validated != 1 {
		t.Errorf("next: %d %s", code, body)
	}
}

// checkNextQuietObjective: an objective nothing bets on yet is known to
// next --objective: an empty backlog, not an error.
func checkNextQuietObjective(t *testing.T, s *testServer) {
	t.Helper()
	if code, _, errOut := s.cli(t, s.Admin, "objective", "set", "quiet", "--title", "Quiet", "--metric", "revenue", "--target", "+5%", "--horizon", "2027-06-30"); code != 0 {
		t.Fatalf("objective set quiet: %d %s", code, errOut)
	}
	code, quiet, errOut := s.cli(t, s.Admin, "next", "--objective", "quiet")
	if code != 0 || !strings.Contains(quiet, "Nothing to rank") || strings.Contains(quiet, "onboarding-checklist") {
		t.Errorf("next --objective quiet (%d %s):\n%s", code, errOut, quiet)
	}
}

// TestDemoValueLoop: a fresh serve --demo has the loop closed: features in
// every stage, a ranked backlog with its arithmetic, a stale flag and a
// treatment to turn off, a flow with throughput, and new-onboarding's
// record with both loop figures. The team's file exports, applies back
// unchanged, and a bad file is refused naming the field.
func TestDemoValueLoop(t *testing.T) {
	s := MustServe(t, "", "--demo")
	code, out, errOut := s.cli(t, s.Admin, "feature", "list", "--output", "json")
	if code != 0 {
		t.Fatalf("feature list: %d %s", code, errOut)
	}
	var list []struct{ Key, Stage string }
	json.Unmarshal([]byte(out), &list)
	stages := map[string]int{}
	for _, f := range list {
		stages[f.Stage]++
	}
	for _, st := range []string{"idea", "ready", "building", "releasing", "measuring", "validated", "invalidated", "done", "abandoned"} {
		if stages[st] == 0 {
			t.Errorf("no demo feature is %s: %v", st, stages)
		}
	}
	if len(list) < 8 || len(list) > 12 || stages["idea"] < 2 {
		t.Errorf("demo features: %d, %d ideas; want 8 to 12 with several ideas", len(list), stages["idea"])
	}

	code, next, errOut := s.cli(t, s.Admin, "next")
	if code != 0 {
		t.Fatalf("next: %d %s", code, errOut)
	}
	for _, want := range []string{"1.  onboarding-checklist", "= WSJF cost of delay", "confidence", "not estimated: set estimate.costOfDelay",
		"clean up  twenty-results: validated 30d ago", "last exposed a new user", "turn off  dark-mode"} {
		if !strings.Contains(next, want) {
			t.Errorf("next lacks %q:\n%s", want, next)
		}
	}
	// --objective keeps one objective's bets, as the /value page does.
	code, only, errOut := s.cli(t, s.Admin, "next", "--objective", "activation")
	if code != 0 || !strings.Contains(only, "onboarding-checklist") || strings.Contains(only, "wishlist") || strings.Contains(only, "twenty-results") {
		t.Errorf("next --objective activation (%d %s):\n%s", code, errOut, only)
	}
	checkNextQuietObjective(t, s)
	if code, _, errOut := s.cli(t, s.Admin, "next", "--objective", "growth"); code == 0 || !strings.Contains(errOut, "objective") || !strings.Contains(errOut, `"growth"`) {
		t.Errorf("next --objective growth: exit %d, %s; want an error naming the field and the objective", code, errOut)
	}
	code, flow, errOut := s.cli(t, s.Admin, "flow", "--since", "90d")
	if code != 0 || !strings.Contains(flow, "twenty-results 30d STUCK") || !strings.Contains(flow, "validated share") {
		t.Errorf("flow (%d %s):\n%s", code, errOut, flow)
	}
	// new-onboarding's verdict measured +21.9 % on activation's metric:
	// (1 + 0.219) − 1 = 0.219 of a +10 % target, 219 %: reached.
	for _, args := range [][]string{{"objective", "show", "activation"}, {"flow", "--objective", "activation"}} {
		code, out, errOut := s.cli(t, s.Admin, args...)
		if code != 0 || !strings.Contains(out, "progress: +21.9% of +10% measured ((1+0.219)−1 from 1 validated) = 219% of the target: reached") {
			t.Errorf("%v: %d %s\n%s", args, code, errOut, out)
		}
	}
	code, show, errOut := s.cli(t, s.Admin, "feature", "show", "new-onboarding", "--output", "json")
	if code != 0 {
		t.Fatalf("feature show: %d %s", code, errOut)
	}
	var sh shownFeature
	json.Unmarshal([]byte(show), &sh)
	if sh.Record.Stage != "validated" || sh.Record.LeadTimeToCustomer == nil || sh.Record.TimeToValidatedLearning == nil || *sh.Record.TimeToValidatedLearning <= 0 {
		t.Errorf("new-onboarding: stage %s, lead %v, learning %v; missing %q", sh.Record.Stage, sh.Record.LeadTimeToCustomer, sh.Record.TimeToValidatedLearning, sh.Record.Missing)
	}
	if code, table, _ := s.cli(t, s.Admin, "feature", "show", "new-onboarding"); code != 0 || !strings.Contains(table, "(trailer)") ||
		!strings.Contains(table, "lead time to customer (first commit → released to its audience)") || !strings.Contains(table, "stage: VALIDATED") {
		// "released to everyone" alone misread an experiment's 50/50 split,
		// released at its first exposure (docs/value.md)
		t.Errorf("feature show table:\n%s", table)
	}

	edited := demoFileRoundTrip(t, s)
	// A restart with --demo adds nothing.
	dir := s.DataDir
	s.Stop(t)
	s = MustServe(t, dir, "--demo")
	if code, out, _ := s.cli(t, s.Admin, "value", "apply", "-f", edited, "--dry-run"); code != 0 || !strings.Contains(out, "Nothing to change") {
		t.Errorf("after a restart: %s", out)
	}
	checkMoveReasonFolded(t, s)
}

// checkMoveReasonFolded moves a feature with a reason typed over two lines:
// the client folds it into one, which the server takes
// (valueloop.CheckReason).
func checkMoveReasonFolded(t *testing.T, s *testServer) {
	t.Helper()
	if code, _, errOut := s.cli(t, s.Admin, "feature", "move", "wishlist", "--to", "abandoned", "--reason", "superseded\nby the new checkout"); code != 0 {
		t.Errorf("feature move with a reason over two lines: exit %d, %s", code, errOut)
	}
}

// demoFileRoundTrip exports the demo's file and applies it back (nothing to
// change), edited (one update, dry run first), and broken (refused, naming
// the field, nothing changed). It returns the edited file.
func demoFileRoundTrip(t *testing.T, s *testServer) string {
	code, exported, errOut := s.cli(t, s.Admin, "value", "export")
	if code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	file := writeFile(t, exported)
	if code, out, errOut := s.cli(t, s.Admin, "value", "apply", "-f", file); code != 0 || !strings.Contains(out, "Nothing to change") {
		t.Errorf("apply the export: %d %s%s", code, out, errOut)
	}
	edited := writeFile(t, strings.Replace(exported, "title: Wishlists", "title: Wishlists to share", 1))
	if code, out, _ := s.cli(t, s.Admin, "value", "apply", "-f", edited, "--dry-run"); code != 0 || !strings.Contains(out, "Would apply (dry run) 1 change(s):\n  update feature wishlist (title)") {
		t.Errorf("dry run: %d %s", code, out)
	}
	if code, out, _ := s.cli(t, s.Admin, "value", "apply", "-f", edited); code != 0 || !strings.Contains(out, "Applied 1 change(s)") {
		t.Errorf("apply: %d %s", code, out)
	}
	bad := writeFile(t, strings.Replace(exported, "flag: theme", "flag: themes", 1))
	code, _, errOut = s.cli(t, s.Admin, "value", "apply", "-f", bad)
	if code != exitInvalid || !strings.Contains(errOut, "links.flags[0].flag") || !strings.Contains(errOut, `no flag "themes"`) {
		t.Errorf("bad file: exit %d, %s", code, errOut)
	}
	huge := writeFile(t, exported+strings.Repeat("#", value.MaxFileTextBytes))
	code, _, errOut = s.cli(t, s.Admin, "value", "apply", "-f", huge)
	if code != exitInvalid || !strings.Contains(errOut, "larger than") {
		t.Errorf("a file past value.MaxFileTextBytes: exit %d, %s", code, errOut)
	}
	if code, out, _ := s.cli(t, s.Admin, "value", "apply", "-f", edited, "--dry-run"); code != 0 || !strings.Contains(out, "Nothing to change") {
		t.Errorf("a refused file changed something: %s", out)
	}
	return edited
}

// TestDemoFeatureHistoryTrue: the demo's audit trail tells each feature's
// story in the order it happened: every transition starts where the one
// before it ended, none goes back along the lifecycle (new-onboarding was
// once validated before its commits moved it from idea to building) and
// none restates a stage (express-shipping, twenty-results and
// winter-banner were once released twice: by the delivery history's first
// deployment after their merge, then by their own earlier one).
func TestDemoFeatureHistoryTrue(t *testing.T) {
	s := MustServe(t, "", "--demo")
	code, out, errOut := s.cli(t, s.Admin, "audit", "--limit", "1000", "--output", "json")
	if code != 0 {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	type transition struct {
		ID     int64
		Action string
		Target string
		After  struct{ From, To value.Stage }
	}
	var entries []transition
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(entries, func(a, b transition) int { return cmp.Compare(a.ID, b.ID) })
	last := map[string]value.Stage{}
	n := 0
	for _, e := range entries {
		if e.Action != "feature.transition" {
			continue
		}
		n++
		prev := last[e.Target]
		if e.After.From != prev || e.After.To == prev || slices.Index(value.Stages, e.After.To) < slices.Index(value.Stages, prev) {
			t.Errorf("%s #%d: %s → %s after it was %q", e.Target, e.ID, e.After.From, e.After.To, prev)
		}
		last[e.Target] = e.After.To
	}
	if n < 20 || last["feature:new-onboarding"] != value.Validated {
		t.Errorf("%d transitions, new-onboarding ends %s; want the demo's history ending validated", n, last["feature:new-onboarding"])
	}
}

// TestSetKeepsWhatItCannotRead: feature set and objective set change the
// fields given and keep the stored others, which they read first. When that
// read fails for another reason than "not found" (here a proxy in front of
// the server answers 503 to it, as an overloaded server does), they must
// stop: writing a value built from the flags alone would wipe the stored
// links, hypothesis and estimate.
func TestSetKeepsWhatItCannotRead(t *testing.T) {
	s := MustServe(t, "", "--demo")
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && (r.URL.Path == "/api/v1/features/new-onboarding" || r.URL.Path == "/api/v1/objectives/activation") {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"try again","code":"unavailable"}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	for _, tc := range []struct {
		name string
		path string // the stored value, read straight from the server
		args []string
	}{
		{"feature", "/api/v1/features/new-onboarding", []string{"feature", "set", "new-onboarding", "--title", "Renamed", "--objective", "activation", "--change", "x", "--for", "y", "--outcome", "z"}},
		{"objective", "/api/v1/objectives/activation", []string{"objective", "set", "activation", "--title", "Renamed", "--metric", "onboarding-completed", "--target", "+5%", "--horizon", "2027-06-30"}},
	} {
		// The stored definition: the feature without its record, the
		// objective without its progress (both computed as of now).
		stored := func() string {
			var v map[string]any
			s.call(t, "GET", tc.path, "", &v)
			if f, ok := v["feature"]; ok {
				v = map[string]any{"feature": f}
			}
			delete(v, "progress")
			b, _ := json.Marshal(v)
			return string(b)
		}
		before := stored()
		var stdout, stderr strings.Builder
		code := Run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr,
			environ(map[string]string{"VALUELOOP_SERVER": front.URL, "VALUELOOP_TOKEN": s.Admin}))
		if code == 0 || !strings.Contains(stderr.String(), "try again") {
			t.Errorf("%s set with its stored value unreadable: exit %d, stderr %q; want a failure saying why", tc.name, code, stderr.String())
		}
		if after := stored(); after != before {
			t.Errorf("%s set with its stored value unreadable changed it:\nbefore %s\nafter  %s", tc.name, before, after)
		}
	}
}

// TestValueSetNamesFlags: feature set and objective set build the API's
// JSON from flags; the server's refusal names the flag the user typed
// (--confidence), not the JSON field (estimate.confidence), and the item of
// a repeatable flag at fault. Nothing is stored.
func TestValueSetNamesFlags(t *testing.T) {
	s := MustServe(t, "", "--demo")
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"feature", "set", "new-onboarding", "--confidence", "2"}, "--confidence: must be a probability in (0, 1], got 2", "estimate."},
		// Taken as no opinion (0.5) although the help says (0, 1].
		{[]string{"feature", "set", "new-onboarding", "--confidence", "0"}, "--confidence: must be a probability in (0, 1], got 0", "estimate."},
		{[]string{"feature", "set", "new-onboarding", "--user-value", "800"}, "--user-value: must be between 0 and 100", "costOfDelay"},
		{[]string{"feature", "set", "new-onboarding", "--impact", "9"}, "--impact: must be between 0.25", "estimate."},
		{[]string{"feature", "set", "new-onboarding", "--flag", "production:new-onboarding", "--flag", "production:nope"}, `--flag production:nope: no flag "nope"`, "links."},
		{[]string{"feature", "set", "new-onboarding", "--objective", "nope"}, `--objective: no objective "nope"`, "valueloop: objective:"},
		{[]string{"objective", "set", "activation", "--metric", "nope"}, `--metric: no metric "nope"`, "valueloop: metric:"},
	} {
		code, _, errOut := s.cli(t, s.Admin, tc.args...)
		if code != exitInvalid || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, tc.not) {
			t.Errorf("%v: exit %d, %q; want %d with %q, without %q", tc.args, code, errOut, exitInvalid, tc.want, tc.not)
		}
	}
	code, out, _ := s.cli(t, s.Admin, "feature", "show", "new-onboarding", "--output", "json")
	if code != 0 || strings.Contains(out, "nope") || strings.Contains(out, `"confidence": 2`) {
		t.Errorf("a refused set changed the feature: %d\n%s", code, out)
	}
}

// TestSetLostUpdate: feature set and objective set read, change the
// fields given and write back over the version they read. Ana renames the
// feature (or objective) between ben's read and ben's write: ben's command
// fails saying so and writes nothing, and ana's title stays. Before, ben's
// write put back the title he had read.
func TestSetLostUpdate(t *testing.T) {
	s := MustServe(t, "", "--demo")
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	// stored is the definition at path, without what GET adds to it.
	stored := func(path string) map[string]any {
		var v map[string]any
		s.call(t, "GET", path, "", &v)
		if f, ok := v["feature"].(map[string]any); ok {
			v = f
		}
		delete(v, "progress")
		delete(v, "version")
		return v
	}
	for _, tc := range []struct {
		name, path string
		args       []string
		written    func(def map[string]any) bool // whether ben's change is stored
	}{
		{"feature", "/api/v1/features/wishlist", []string{"feature", "set", "wishlist", "--size", "3"},
			func(d map[string]any) bool { return d["estimate"].(map[string]any)["size"] == 3.0 }},
		{"objective", "/api/v1/objectives/revenue", []string{"objective", "set", "revenue", "--horizon", "2027-12-31"},
			func(d map[string]any) bool { return d["horizon"] == "2027-12-31" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := runBehind(t, s, target, tc.args, func(r *http.Request) {
				if r.Method == http.MethodPut && r.URL.Path == tc.path {
					def := stored(tc.path)
					def["title"] = "Renamed by ana"
					body, _ := json.Marshal(def)
					s.call(t, "PUT", tc.path, string(body), nil)
				}
			})
			if code == 0 || !strings.Contains(stderr, "changed since") {
				t.Errorf("set over a concurrent change: exit %d, stderr %q; want a failure saying it changed", code, stderr)
			}
			if after := stored(tc.path); after["title"] != "Renamed by ana" || tc.written(after) {
				t.Errorf("after: %v; want ana's title kept and ben's change not written", after)
			}
		})
	}
}

// TestSetCreatedMeanwhile: feature set and objective set of a key not
// stored when read create it. Ana creates the key between ben's read and
// ben's write: ben's command fails saying it exists and writes nothing,
// and ana's value stays. Before, ben's unconditional PUT replaced ana's
// feature (or objective) with one built from his flags alone.
func TestSetCreatedMeanwhile(t *testing.T) {
	s := MustServe(t, "", "--demo")
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, collection, key, ana string
		args                       []string
	}{
		{"feature", "/api/v1/features", "fresh-feature",
			`{"key":"fresh-feature","title":"Created by ana","objective":"activation","hypothesis":{"change":"a","for":"b","outcome":"c"}}`,
			[]string{"feature", "set", "fresh-feature", "--title", "Ben's", "--objective", "activation", "--change", "x", "--for", "y", "--outcome", "z"}},
		{"objective", "/api/v1/objectives", "fresh-objective",
			`{"key":"fresh-objective","title":"Created by ana","metric":"onboarding-completed","target":{"direction":"increase","value":0.05},"horizon":"2027-06-30"}`,
			[]string{"objective", "set", "fresh-objective", "--title", "Ben's", "--metric", "onboarding-completed", "--target", "+5%", "--horizon", "2027-06-30"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := runBehind(t, s, target, tc.args, func(r *http.Request) {
				if r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, tc.collection) {
					if code, body := s.call(t, "POST", tc.collection, tc.ana, nil); code != http.StatusCreated {
						t.Errorf("ana's creation: %d %s", code, body)
					}
				}
			})
			if code == 0 || !strings.Contains(stderr, "exists") {
				t.Errorf("set over a concurrent creation: exit %d, stderr %q; want a failure saying it exists", code, stderr)
			}
			var after map[string]any
			s.call(t, "GET", tc.collection+"/"+tc.key, "", &after)
			if f, ok := after["feature"].(map[string]any); ok {
				after = f
			}
			if after["title"] != "Created by ana" {
				t.Errorf("after: %v; want ana's value kept", after)
			}
		})
	}
}

// runBehind runs the CLI with args against s through a proxy that calls
// meanwhile on each request before passing it on (another user's write
// between the command's read and its write), and returns the exit code
// and stderr.
func runBehind(t *testing.T, s *testServer, target *url.URL, args []string, meanwhile func(*http.Request)) (int, string) {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		meanwhile(r)
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	var stdout, stderr strings.Builder
	code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr,
		environ(map[string]string{"VALUELOOP_SERVER": front.URL, "VALUELOOP_TOKEN": s.Admin}))
	return code, stderr.String()
}

// TestFeatureFlagLinkSpaces: --flag ENV:FLAG[:VARIANT] trims the spaces
// around each part, as --steps, --guardrail and --weights do; " checkout"
// was kept as the flag's key, and the link refused as naming no flag.
func TestFeatureFlagLinkSpaces(t *testing.T) {
	f := featureFlags{flags: listFlag{"production: checkout : treatment"}}
	var ft value.Feature
	if err := f.apply(&ft); err != nil {
		t.Fatal(err)
	}
	want := []value.FlagLink{{Environment: "production", Flag: "checkout", Variant: "treatment"}}
	if !slices.Equal(ft.Links.Flags, want) {
		t.Errorf("links %+v, want %+v", ft.Links.Flags, want)
	}
}

// TestFlowFitsInColumns: on a terminal of 80 columns (COLUMNS=80) the
// stage table of flow fits: the columns of fixed width first, then as many
// of each stage's oldest features as fit, "+N more" for the rest, their
// count and how many are stuck when not one fits. It was 126 columns wide
// with the demo, every line wrapped. Without a width it lists them all.
func TestFlowFitsInColumns(t *testing.T) {
	s := MustServe(t, "", "--demo")
	flow := func(columns string) string {
		table, _, _ := strings.Cut(s.cliColumns(t, columns, "flow", "--since", "90d"), "\nThroughput")
		return table
	}
	narrow := flow("80")
	for line := range strings.Lines(narrow) {
		if n := len([]rune(strings.TrimRight(line, "\n"))); n > 80 {
			t.Errorf("a line of %d columns at COLUMNS=80: %q", n, line)
		}
	}
	for _, want := range []string{"  idea ", "wishlist 9d, +2 more", "2 features, 1 STUCK"} {
		if !strings.Contains(narrow, want) {
			t.Errorf("flow at COLUMNS=80 lacks %q:\n%s", want, narrow)
		}
	}
	// Narrower than the columns before OLDEST: the shortest form, the
	// count, not every feature (which the no-limit case prints).
	if tiny := flow("40"); strings.Contains(tiny, "wishlist") || !strings.Contains(tiny, "2 features, 1 STUCK") {
		t.Errorf("flow at COLUMNS=40 lists features, not their count:\n%s", tiny)
	}
	if wide := flow(""); !strings.Contains(wide, "wishlist 9d, onboarding-checklist 6d, one-click-reorder 4d") || !strings.Contains(wide, "twenty-results 30d STUCK") {
		t.Errorf("flow without a width left features out:\n%s", wide)
	}
}

// cliColumns runs a client command against s as the admin with COLUMNS set
// to columns ("": unset), as in a terminal that wide, and returns its
// output.
func (s *testServer) cliColumns(t *testing.T, columns string, args ...string) string {
	t.Helper()
	var out, errOut strings.Builder
	getenv := environ(map[string]string{"VALUELOOP_SERVER": s.URL, "VALUELOOP_TOKEN": s.Admin, "COLUMNS": columns})
	if code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut, getenv); code != 0 {
		t.Fatalf("valueloop %s with COLUMNS=%q: exit %d, %s", strings.Join(args, " "), columns, code, errOut.String())
	}
	return out.String()
}

// TestFeatureShowFitsInColumns: at COLUMNS=80 the bars of feature show's
// stages are 20 cells and each line's cause is cut to what is left,
// marked …; the lines were 116 to 169 columns wide and wrapped, the bars
// (40 cells) and the durations past column 80 already. The release record
// below them keeps every cause whole, and without a width nothing is cut.
func TestFeatureShowFitsInColumns(t *testing.T) {
	s := MustServe(t, "", "--demo")
	narrow := s.cliColumns(t, "80", "feature", "show", "new-onboarding")
	bars := 0
	for line := range strings.Lines(narrow) {
		line = strings.TrimRight(line, "\n")
		if !strings.ContainsAny(line, "█░") || strings.HasPrefix(line, "  (") {
			continue
		}
		bars++
		if n := len([]rune(line)); n > 80 || !strings.HasSuffix(line, "…") {
			t.Errorf("a bar's line of %d columns at COLUMNS=80, want at most 80 ending in …: %q", n, line)
		}
	}
	if bars != 5 || !strings.Contains(narrow, "shipped 1 linked change\n") {
		t.Errorf("feature show at COLUMNS=80: %d bars, want 5 and the release record's causes whole:\n%s", bars, narrow)
	}
	if wide := s.cliColumns(t, "", "feature", "show", "new-onboarding"); strings.Contains(wide, "…") {
		t.Errorf("feature show without a width cut a line:\n%s", wide)
	}
}

// TestOptFloat: a number flag of feature set takes finite numbers only;
// NaN and Inf, which ParseFloat reads, failed the request with "json:
// unsupported value", naming no flag.
func TestOptFloat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  string
	}{
		{"2.5", 2.5, ""},
		{"0", 0, ""},
		{"NaN", 0, "want a finite number"},
		{"Inf", 0, "want a finite number"},
		{"-infinity", 0, "want a finite number"},
		{"1e400", 0, "want a number"},
		{"x", 0, "want a number"},
	} {
		var o optFloat
		err := o.Set(tc.in)
		switch {
		case tc.err == "" && (err != nil || o.v != tc.want || !o.set):
			t.Errorf("Set(%q): %v, %v, %v; want %v", tc.in, o.v, o.set, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || o.set):
			t.Errorf("Set(%q): set %v, %v; want an error with %q", tc.in, o.set, err, tc.err)
		}
	}
}
