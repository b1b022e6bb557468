package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

const (
	ghSecret = "github-webhook-secret-0123"
	glSecret = "gitlab-webhook-token-0123"
	ogSecret = "opsgenie-webhook-secret-0123"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// mustService opens a service on a fresh SQLite store with environments
// prod-eu (production) and staging, and one GitHub and one GitLab source.
func mustService(tb testing.TB) (*delivery.Service, *sqlite.DB, *clock) {
	tb.Helper()
	db := sqlitetest.Open(tb, nil)
	c := &clock{t: time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC)}
	s := delivery.New(db)
	s.Now = c.Now
	s.Environments = func() []valueloop.Environment {
		return []valueloop.Environment{{Key: "prod-eu", Name: "Production EU", Production: true}, {Key: "staging", Name: "Staging"}}
	}
	ctx := context.Background()
	for _, src := range []delivery.Source{
		{Name: "acme-gh", Kind: delivery.KindGitHub, Secret: []byte(ghSecret)},
		{Name: "acme-gl", Kind: delivery.KindGitLab, Secret: []byte(glSecret)},
		{Name: "acme-og", Kind: delivery.KindOpsgenie, Secret: []byte(ogSecret)},
	} {
		if _, _, err := s.PutSource(ctx, src, "test"); err != nil {
			tb.Fatal(err)
		}
	}
	return s, db, c
}

func fixture(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func ghHook(body []byte, event, id string) delivery.Hook {
	return delivery.Hook{Event: event, DeliveryID: id, Credential: github.Sign([]byte(ghSecret), body), Body: body}
}

func TestReceiveGitHub(t *testing.T) {
	ctx := t.Context()
	s, db, _ := mustService(t)
	push := fixture(t, "github/testdata/push.json")
	push2 := append(bytes.Clone(push), '\n') // another body: distinct pushes always differ in theirs
	cases := []struct {
		name string
		hook delivery.Hook
		code string // error kind; "" for success
		want delivery.Receipt
	}{
		{"push", ghHook(push, "push", "d-1"), "", delivery.Receipt{Source: "acme-gh", Delivery: "d-1", Kind: "push", Changes: 2}},
		{"redelivery", ghHook(push, "push", "d-1"), "", delivery.Receipt{Source: "acme-gh", Delivery: "d-1", Kind: "push", Changes: 2, Duplicate: true}},
		// The same body under another ID (X-GitHub-Delivery is not signed:
		// a replay) is a duplicate too.
		{"replayed", ghHook(push, "push", "d-r"), "", delivery.Receipt{Source: "acme-gh", Delivery: "d-r", Kind: "push", Changes: 2, Duplicate: true}},
		{"named source", func() delivery.Hook { h := ghHook(push2, "push", "d-2"); h.Source = "acme-gh"; return h }(), "",
			delivery.Receipt{Source: "acme-gh", Delivery: "d-2", Kind: "push", Changes: 2}},
		{"unknown source name", func() delivery.Hook { h := ghHook(push, "push", "d-3"); h.Source = "nope"; return h }(), valueloop.EUNAUTHORIZED, delivery.Receipt{}},
		{"forged", delivery.Hook{Event: "push", DeliveryID: "d-4", Credential: github.Sign([]byte("wrong-secret-0123456"), push), Body: push}, valueloop.EUNAUTHORIZED, delivery.Receipt{}},
		{"altered body", delivery.Hook{Event: "push", DeliveryID: "d-5", Credential: github.Sign([]byte(ghSecret), push), Body: bytes.Replace(push, []byte("acme-shop"), []byte("evil-shop"), 1)}, valueloop.EUNAUTHORIZED, delivery.Receipt{}},
		{"unsigned", delivery.Hook{Event: "push", DeliveryID: "d-6", Body: push}, valueloop.EUNAUTHORIZED, delivery.Receipt{}},
		{"malformed", ghHook([]byte(`{"ref": 7}`), "push", "d-7"), valueloop.EINVALID, delivery.Receipt{}},
		{"ignored", ghHook(fixture(t, "github/testdata/workflow_run.completed.json"), "workflow_run", "d-8"), "",
			delivery.Receipt{Source: "acme-gh", Delivery: "d-8", Kind: "workflow_run", Ignored: "workflow_run events are not used for delivery metrics"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Receive(ctx, delivery.KindGitHub, c.hook)
			if code := valueloop.ErrorCode(err); code != c.code {
				t.Fatalf("error %v (%q), want kind %q", err, code, c.code)
			}
			if got != c.want {
				t.Errorf("receipt\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(data.Changes) != 4 { // d-1 and d-2
		t.Errorf("stored %d changes, want 4 (two deliveries of two commits)", len(data.Changes))
	}
	log, _ := s.Deliveries(ctx, "acme-gh", 0)
	if len(log) != 3 || log[0].Ignored == "" {
		t.Errorf("delivery log: %+v; want d-8 (ignored), d-2, d-1", log)
	}
}

func TestReceiveGitLab(t *testing.T) {
	ctx := t.Context()
	s, _, _ := mustService(t)
	body := fixture(t, "gitlab/testdata/push.json")
	r, err := s.Receive(ctx, delivery.KindGitLab, delivery.Hook{Event: "Push Hook", DeliveryID: "uuid-1", Credential: glSecret, Body: body})
	if err != nil || r.Changes != 2 || r.Source != "acme-gl" {
		t.Fatalf("push: %+v, %v", r, err)
	}
	if _, err := s.Receive(ctx, delivery.KindGitLab, delivery.Hook{Event: "Push Hook", DeliveryID: "uuid-2", Credential: ghSecret, Body: body}); valueloop.ErrorCode(err) != valueloop.EUNAUTHORIZED {
		t.Errorf("the GitHub secret as GitLab token: %v, want unauthorized", err)
	}
	// Without a delivery ID, the body identifies the delivery. (The same
	// body under another ID is a duplicate too: another body here.)
	body = append(body, '\n')
	r1, err1 := s.Receive(ctx, delivery.KindGitLab, delivery.Hook{Event: "Push Hook", Credential: glSecret, Body: body})
	r2, err2 := s.Receive(ctx, delivery.KindGitLab, delivery.Hook{Event: "Push Hook", Credential: glSecret, Body: body})
	if err1 != nil || err2 != nil || r1.Duplicate || !r2.Duplicate || !strings.HasPrefix(r1.Delivery, "sha256:") {
		t.Errorf("deliveries without ID: %+v %v, %+v %v; want the second a duplicate", r1, err1, r2, err2)
	}
}

// TestFlagLinks: trailers in commit messages link those commits; the
// description and labels of a pull or merge request link its changes.
func TestFlagLinks(t *testing.T) {
	ctx := t.Context()
	s, db, _ := mustService(t)
	push := bytes.Replace(fixture(t, "github/testdata/push.json"), []byte(`"Validate cart totals before charging`),
		[]byte(`"Validate cart totals before charging\n\nvalueloop-flag: cart-checks\nValueloop-Flag: audit-log`), 1)
	if r, err := s.Receive(ctx, delivery.KindGitHub, ghHook(push, "push", "p-1")); err != nil || r.FlagLinks != 2 {
		t.Fatalf("push with trailers: %+v, %v; want 2 links", r, err)
	}
	pr := bytes.Replace(fixture(t, "github/testdata/pull_request.closed.merged.json"), []byte(`"name": "performance"`), []byte(`"name": "valueloop-flag:quote-cache"`), 1)
	if r, err := s.Receive(ctx, delivery.KindGitHub, ghHook(pr, "pull_request", "p-2")); err != nil || r.FlagLinks != 1 {
		t.Fatalf("pull request with a flag label: %+v, %v; want 1 link", r, err)
	}
	mr := bytes.Replace(fixture(t, "gitlab/testdata/merge_request.merge.json"), []byte(`"Adds facets to search.`), []byte(`"Adds facets to search.\n\nvalueloop-flag: facets`), 1)
	if r, err := s.Receive(ctx, delivery.KindGitLab, delivery.Hook{Event: "Merge Request Hook", DeliveryID: "m-1", Credential: glSecret, Body: mr}); err != nil || r.FlagLinks == 0 {
		t.Fatalf("merge request with a trailer: %+v, %v; want links", r, err)
	}
	for flag, want := range map[string]string{"cart-checks": "4c1e9a0b", "audit-log": "4c1e9a0b", "quote-cache": "9d8c7b6a", "facets": ""} {
		got, err := db.FlagChanges(ctx, flag)
		if err != nil || len(got) == 0 || !strings.HasPrefix(got[0].SHA, want) {
			t.Errorf("changes of %s: %+v, %v; want %s…", flag, got, err, want)
		}
	}
	if got, _ := db.FlagChanges(ctx, "performance"); len(got) != 0 {
		t.Errorf("an ordinary label linked %d changes", len(got))
	}
}

func TestRecordAPI(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	at := time.Date(2025, 5, 20, 14, 0, 0, 0, time.FixedZone("+02", 7200))
	yes := true
	cases := []struct {
		name  string
		in    delivery.DeploymentInput
		field string // of the error; "" for success
		prod  bool
	}{
		{"known production", delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: "ABCDEF0", Status: "success", At: &at}, "", true},
		{"known by name", delivery.DeploymentInput{Service: "shop", Environment: "Production EU", Status: "success"}, "", true},
		{"attribute beats hint", delivery.DeploymentInput{Service: "shop", Environment: "staging", Status: "success", Production: &yes}, "", false},
		{"unknown with hint", delivery.DeploymentInput{Service: "shop", Environment: "prod-us", Status: "failure", Production: &yes}, "", true},
		{"unknown without hint", delivery.DeploymentInput{Service: "shop", Environment: "prod-us", Status: "success"}, "production", false},
		{"bad status", delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", Status: "done"}, "deployments[0].status", false},
		{"no service", delivery.DeploymentInput{Environment: "prod-eu", Status: "success"}, "service", false},
		{"no SHA", delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", Status: "success"}, "", true},
		{"SHA too short", delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: "ABC", Status: "success"}, "sha", false},
		{"SHA not hexadecimal", delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: "v1.2.3-rc", Status: "success"}, "sha", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _, err := s.RecordDeployment(ctx, tc.in, "")
			var e *valueloop.Error
			switch {
			case tc.field == "" && err != nil:
				t.Fatal(err)
			case tc.field != "" && (!asError(err, &e) || e.Field != tc.field):
				t.Fatalf("error %v, want one naming %q", err, tc.field)
			case tc.field == "" && d.Production != tc.prod:
				t.Errorf("production %v, want %v", d.Production, tc.prod)
			}
		})
	}
	d, _, _ := s.RecordDeployment(ctx, cases[0].in, "")
	if !d.At.Equal(at) || d.At.Location() != time.UTC || d.SHA != "abcdef0" || !strings.HasPrefix(d.ID, "api:deployment:") {
		t.Errorf("stored deployment %+v; want the time in UTC, the SHA in lower case and an ID", d)
	}
	// Idempotency keys.
	_, r1, _ := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: "abcdef0"}, "key-1")
	_, r2, _ := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: "abcdef0"}, "key-1")
	if r1.Duplicate || !r2.Duplicate {
		t.Errorf("same idempotency key twice: %+v, %+v", r1, r2)
	}
	if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: "abcdef1", AuthoredAt: ptr(c.t.Add(time.Hour))}, ""); err == nil {
		t.Error("a change authored after it merged was stored")
	}
	// What cannot be a commit is refused naming the field, for the API and
	// the CLI alike: a change's SHA, a deployment's and an incident's
	// cause, and nothing is stored.
	const want = ": want a commit SHA of 7 to 64 hexadecimal digits"
	for _, bad := range []string{"zz", "abc123", "xyz1234", strings.Repeat("a", 65), "abc-def0"} {
		if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: bad}, ""); valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.HasPrefix(valueloop.ErrorMessage(err), "sha"+want) {
			t.Errorf("change with SHA %q: %v; want invalid, naming sha", bad, err)
		}
		dep := delivery.DeploymentInput{ID: "dep-bad", Service: "shop", Environment: "prod-eu", SHA: bad, Status: "success"}
		if _, _, err := s.RecordDeployment(ctx, dep, ""); valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.HasPrefix(valueloop.ErrorMessage(err), "sha"+want) {
			t.Errorf("deployment with SHA %q: %v; want invalid, naming sha", bad, err)
		}
		inc := delivery.IncidentInput{ID: "inc-bad", Service: "shop", CauseSHA: bad}
		if _, _, err := s.OpenIncident(ctx, inc, ""); valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.HasPrefix(valueloop.ErrorMessage(err), "causeSha"+want) {
			t.Errorf("incident caused by SHA %q: %v; want invalid, naming causeSha", bad, err)
		}
	}
	if _, _, err := s.ResolveIncident(ctx, "inc-bad", nil, ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("the incident refused for its cause's SHA: %v, want not found (not stored)", err)
	}
	for _, good := range []string{"ABCDEF2", strings.Repeat("0123456789abcdef", 4)} {
		if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: good}, ""); err != nil {
			t.Errorf("change with SHA %q: %v", good, err)
		}
		if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: good, Status: "success"}, ""); err != nil {
			t.Errorf("deployment with SHA %q: %v", good, err)
		}
		if _, _, err := s.OpenIncident(ctx, delivery.IncidentInput{Service: "shop", CauseSHA: good}, ""); err != nil {
			t.Errorf("incident caused by SHA %q: %v", good, err)
		}
	}
	if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: "abcdef1", Flags: []string{"bad key!"}}, ""); err == nil {
		t.Error("a link to an invalid flag key was stored")
	}

	inc, _, err := s.OpenIncident(ctx, delivery.IncidentInput{Service: "shop", Title: "down"}, "")
	if err != nil || !strings.HasPrefix(inc.ID, "inc-") {
		t.Fatalf("open: %+v, %v", inc, err)
	}
	if _, _, err := s.ResolveIncident(ctx, inc.ID, ptr(inc.OpenedAt.Add(-time.Hour)), ""); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("resolving before it opened: %v, want invalid", err)
	}
	c.t = c.t.Add(time.Hour) // resolved half an hour after it opened, half an hour ago
	res, _, err := s.ResolveIncident(ctx, inc.ID, ptr(inc.OpenedAt.Add(30*time.Minute)), "")
	if err != nil || res.ResolvedAt == nil || !res.ResolvedAt.Equal(inc.OpenedAt.Add(30*time.Minute)) || res.Title != "down" {
		t.Errorf("resolve: %+v, %v", res, err)
	}
	if _, _, err := s.ResolveIncident(ctx, "inc-none", nil, ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("resolving an unknown incident: %v, want not found", err)
	}
}

// TestRecordsNotAhead: a time given by hand (API, CLI) that is ahead of
// the server's clock by more than the clock skew is refused naming the
// field, and nothing is stored. An incident "opened" in 2062 (a typo for
// 2026) was linked to today's latest deployment and counted it failed and
// unrecovered: the change failure rate went from 0/1 to 1/1.
func TestRecordsNotAhead(t *testing.T) {
	ctx := t.Context()
	s, c, typo, skewed := aheadService(t)
	inc, _, err := s.OpenIncident(ctx, delivery.IncidentInput{ID: "inc-now", Service: "cart", OpenedAt: ptr(c.t.Add(-time.Minute))}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		do    func() error
		field string // "" accepted
	}{
		{"incident opened", func() error {
			_, _, err := s.OpenIncident(ctx, delivery.IncidentInput{ID: "inc-typo", Service: "shop", OpenedAt: &typo}, "")
			return err
		}, "openedAt"},
		{"deployment", func() error {
			_, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "cart", Environment: "prod-eu", Status: "success", At: &typo}, "")
			return err
		}, "at"},
		{"deployment within the skew", func() error {
			_, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "staging", Status: "success", At: &skewed}, "")
			return err
		}, ""},
		{"change merged", func() error {
			_, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: "abcdef1", MergedAt: &typo}, "")
			return err
		}, "mergedAt"},
		{"change's pull request opened", func() error {
			_, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: "abcdef1", OpenedAt: &typo}, "")
			return err
		}, "openedAt"},
		{"change's pull request reviewed", func() error {
			_, _, err := s.RecordChange(ctx, delivery.ChangeInput{Repo: "acme/shop", PR: "7", SHA: "abcdef1", ReviewedAt: &typo}, "")
			return err
		}, "reviewedAt"},
		{"incident resolved", func() error {
			_, _, err := s.ResolveIncident(ctx, inc.ID, &typo, "")
			return err
		}, "at"},
	} {
		wantAhead(t, tc.name, tc.do(), tc.field)
	}
	wantShopUnfailed(t, s, c)
}

// aheadService returns a service with one deployment of shop an hour ago,
// its clock, a time in 2062 (a typo for 2026) and one within the 5 minutes
// clocks may disagree.
func aheadService(t *testing.T) (s *delivery.Service, c *clock, typo, skewed time.Time) {
	t.Helper()
	s, _, c = mustService(t)
	if _, _, err := s.RecordDeployment(t.Context(), delivery.DeploymentInput{ID: "d1", Service: "shop", Environment: "prod-eu", SHA: "abcdef0", Status: "success", At: ptr(c.t.Add(-time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	return s, c, time.Date(2062, 5, 20, 11, 0, 0, 0, time.UTC), c.t.Add(4 * time.Minute)
}

// wantAhead checks that err refuses a time ahead of the server's clock
// naming field, or with field "" that there is no error.
func wantAhead(t *testing.T, name string, err error, field string) {
	t.Helper()
	var e *valueloop.Error
	switch {
	case field == "" && err != nil:
		t.Errorf("%s: %v, want it stored", name, err)
	case field != "" && (!asError(err, &e) || e.Field != field || !strings.Contains(e.Message, "ahead of the server's clock")):
		t.Errorf("%s: %v, want an error naming %q", name, err, field)
	}
}

// wantShopUnfailed checks that shop's one deployment of the last day is
// neither failed nor unrecovered: no incident dated ahead was stored.
func wantShopUnfailed(t *testing.T, s *delivery.Service, c *clock) {
	t.Helper()
	r, err := s.Report(t.Context(), dora.Query{From: c.t.Add(-24 * time.Hour), To: c.t.Add(time.Hour), Services: []string{"shop"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := r.Overall.Total; m.ChangeFailureRate != (dora.Rate{Num: 0, Den: 1}) || m.Unrecovered != 0 {
		t.Errorf("shop: change failure rate %+v, unrecovered %d; want 0/1 and 0", m.ChangeFailureRate, m.Unrecovered)
	}
}

// TestEditsNotAhead: an edit is a time given by hand too. A time an edit
// sets more than the clock skew ahead of the server's clock is refused
// naming the field (record.field), and nothing changes; a time the edit
// leaves as stored is not checked, so a record whose source's clock ran
// ahead can still be corrected. Before, every edit was stored, and the
// incident moved to 2062 counted shop's deployment failed (1/1).
func TestEditsNotAhead(t *testing.T) {
	ctx := t.Context()
	s, c, typo, skewed := aheadService(t)
	if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Repo: "acme/shop", Service: "shop", PR: "7", SHA: "abcdef0", AuthoredAt: ptr(c.t.Add(-3 * time.Hour)),
		MergedAt: ptr(c.t.Add(-2 * time.Hour)), ReviewedAt: ptr(c.t.Add(-150 * time.Minute))}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.OpenIncident(ctx, delivery.IncidentInput{ID: "inc-cart", Service: "cart", OpenedAt: ptr(c.t.Add(-time.Minute))}, ""); err != nil {
		t.Fatal(err)
	}
	stored := func(kind string) delivery.Record {
		t.Helper()
		p, err := s.Records(ctx, delivery.RecordFilter{Kind: kind, Limit: 1}, "")
		if err != nil || len(p.Records) != 1 {
			t.Fatalf("%s: %+v, %v", kind, p, err)
		}
		return p.Records[0]
	}
	for _, tc := range []struct {
		name  string
		kind  string
		edit  func(r *delivery.Record)
		field string // "" accepted
	}{
		{"deployment", delivery.RecordDeployments, func(r *delivery.Record) { r.Deployment.At = typo }, "deployment.at"},
		{"change authored", delivery.RecordChanges, func(r *delivery.Record) { r.Change.AuthoredAt, r.Change.MergedAt = typo, typo }, "change.authoredAt"},
		{"change merged", delivery.RecordChanges, func(r *delivery.Record) { r.Change.MergedAt = typo }, "change.mergedAt"},
		{"change's pull request opened", delivery.RecordChanges, func(r *delivery.Record) { r.Change.OpenedAt = typo }, "change.openedAt"},
		{"review", delivery.RecordReviews, func(r *delivery.Record) { r.Review.At = typo }, "review.at"},
		{"incident opened", delivery.RecordIncidents, func(r *delivery.Record) { r.Incident.Service, r.Incident.OpenedAt = "shop", typo }, "incident.openedAt"},
		{"incident resolved", delivery.RecordIncidents, func(r *delivery.Record) { r.Incident.ResolvedAt = &typo }, "incident.resolvedAt"},
		{"incident snapshot", delivery.RecordIncidents, func(r *delivery.Record) { r.Incident.UpdatedAt = typo }, "incident.updatedAt"},
		{"deployment within the skew", delivery.RecordDeployments, func(r *delivery.Record) { r.Deployment.At = skewed }, ""},
	} {
		r := stored(tc.kind)
		tc.edit(&r)
		_, _, err := s.EditRecord(ctx, delivery.Edit{Record: r, Actor: "test"})
		wantAhead(t, tc.name, err, tc.field)
	}
	wantShopUnfailed(t, s, c)

	// The clock goes back an hour: the deployment's stored time (set 4
	// minutes ahead above) is now ahead, but an edit of its status alone
	// leaves it and is stored.
	c.t = c.t.Add(-time.Hour)
	d := stored(delivery.RecordDeployments)
	d.Deployment.Status = "failure"
	if _, _, err := s.EditRecord(ctx, delivery.Edit{Record: d, Actor: "test"}); err != nil {
		t.Errorf("edit leaving a time ahead as stored: %v, want it stored", err)
	}
}

func ptr[T any](v T) *T { return &v }

func asError(err error, target **valueloop.Error) bool {
	e, ok := err.(*valueloop.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestReportFromRecords: what the API records shows in the report, at
// once: a small timeline is rebuilt before answering after every write.
func TestReportFromRecords(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	base := c.t.Add(-10 * 24 * time.Hour)
	q := dora.Query{From: c.t.Add(-30 * 24 * time.Hour), To: c.t.Add(time.Hour)}
	report := func() dora.Metrics {
		t.Helper()
		r, err := s.Report(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return r.Overall.Total
	}
	if m := report(); m.Deployments != 0 {
		t.Fatalf("empty store: %+v", m)
	}
	builds := s.Builds()
	report()
	if s.Builds() != builds {
		t.Errorf("a second report without writes rebuilt the timeline")
	}
	for i, sha := range []string{"a1000000", "a2000000", "a3000000"} {
		authored := base.Add(time.Duration(i) * 24 * time.Hour)
		if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: sha, AuthoredAt: &authored, MergedAt: ptr(authored.Add(time.Hour))}, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: sha, Status: "success", At: ptr(authored.Add(5 * time.Hour))}, ""); err != nil {
			t.Fatal(err)
		}
	}
	m := report()
	if m.Deployments != 3 || m.LeadTime.Count != 3 || m.LeadTime.Median != 5*time.Hour {
		t.Errorf("after three deployments: %d deployments, lead time %+v; want 3 and 5h", m.Deployments, m.LeadTime)
	}
	if _, _, err := s.OpenIncident(ctx, delivery.IncidentInput{Service: "shop", OpenedAt: ptr(base.Add(2*24*time.Hour + 6*time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	if m := report(); m.Failed != 1 || m.ChangeFailureRate != (dora.Rate{Num: 1, Den: 3}) {
		t.Errorf("after an incident: failed %d, rate %+v; want 1/3", m.Failed, m.ChangeFailureRate)
	}
	facts, err := s.Deployments(ctx, "shop", q.From, q.To)
	if err != nil || len(facts) != 3 || len(facts[0].Changes) != 1 || facts[0].Changes[0].SHA != "a1000000" || !facts[2].Failed {
		t.Errorf("deployments: %+v, %v", facts, err)
	}
	if _, err := s.Deployments(ctx, "nope", q.From, q.To); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("deployments of an unknown service: %v", err)
	}
}

// slowService is mustService whose every timeline build counts as slow
// (SlowBuild 0), so that after a write the cached timeline answers
// reports for an hour, with a first timeline built by a report on q.
func slowService(t *testing.T) (*delivery.Service, *clock, dora.Query) {
	t.Helper()
	s, _, c := mustService(t)
	s.SlowBuild = 0
	s.MaxStale = time.Hour
	t.Cleanup(func() { s.Close() })
	q := dora.Query{From: c.t.Add(-24 * time.Hour), To: c.t.Add(time.Hour)}
	if _, err := s.Report(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	return s, c, q
}

// TestSlowTimelineServesStale: a timeline slow to build keeps answering
// while a new one is built in the background, which then answers.
func TestSlowTimelineServesStale(t *testing.T) {
	ctx := t.Context()
	s, c, q := slowService(t)
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", Status: "success", At: ptr(c.t.Add(-time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	r, err := s.Report(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if r.Overall.Total.Deployments != 0 {
		t.Errorf("the first report after a write has %d deployments; want the stale 0", r.Overall.Total.Deployments)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := s.Report(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if r.Overall.Total.Deployments == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background rebuild never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRollbackReadsFreshTimeline: a rollback to a deployment recorded
// just before it is accepted however slow timelines are to build. The
// check read the cached timeline, which a slow build lets answer for up
// to MaxStale after a write, so it refused the rollback as "not an
// earlier successful production deployment" (the demo's, once, on a
// loaded machine). SlowBuild 0 makes every build slow, so the stale one
// would answer deterministically.
func TestRollbackReadsFreshTimeline(t *testing.T) {
	ctx := t.Context()
	s, c, _ := slowService(t)
	target := strings.Repeat("b", 40) // a full SHA: recording it reads no timeline
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: target, Status: "success", At: ptr(c.t.Add(-time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	rb := delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: target, Status: "success", At: ptr(c.t.Add(-time.Minute)), Rollback: true}
	if _, _, err := s.RecordDeployment(ctx, rb, ""); err != nil {
		t.Errorf("a rollback to the deployment recorded just before it: %v", err)
	}
}

// TestNewServiceFoundWhileStale: the deployments of a service recorded
// just before are listed however slow timelines are to build; the stale
// timeline did not know the service and answered that there is none
// (ENOTFOUND), where a stale answer may lag but not deny.
func TestNewServiceFoundWhileStale(t *testing.T) {
	ctx := t.Context()
	s, c, q := slowService(t)
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "basket", Environment: "prod-eu", SHA: strings.Repeat("c", 40), Status: "success", At: ptr(c.t.Add(-time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	if facts, err := s.Deployments(ctx, "basket", q.From, q.To); err != nil || len(facts) != 1 {
		t.Errorf("deployments of basket, recorded just before: %+v, %v; want its one deployment", facts, err)
	}
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "till", Environment: "prod-eu", SHA: strings.Repeat("d", 40), Status: "success", At: ptr(c.t.Add(-time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	sq := q
	sq.Services = []string{"till"}
	if r, err := s.Report(ctx, sq); err != nil || r.Overall.Total.Deployments != 1 {
		t.Errorf("report on till, recorded just before: %+v, %v; want its one deployment", r, err)
	}
	if _, err := s.Deployments(ctx, "nope", q.From, q.To); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("deployments of an unknown service: %v", err)
	}
}

// stallingStore is the real store whose DeliveryData, once stalled is
// closed, waits for its context to end (or a minute) and reports whether
// it ended.
type stallingStore struct {
	delivery.Store
	stalled  chan struct{} // closed to make DeliveryData wait
	canceled chan bool     // what each stalled DeliveryData saw
}

func (s *stallingStore) DeliveryData(ctx context.Context) (dora.Data, int64, error) {
	select {
	case <-s.stalled:
		select {
		case <-ctx.Done():
			s.canceled <- true
			return dora.Data{}, 0, ctx.Err()
		case <-time.After(time.Minute):
			s.canceled <- false
		}
	default:
	}
	return s.Store.DeliveryData(ctx)
}

// TestCloseEndsBackgroundBuild: a timeline built in the background after
// a request found the cached one stale runs under the service's life, so
// that Close ends it instead of waiting for it (it ran on
// context.Background, and Close waited out a build of any length).
func TestCloseEndsBackgroundBuild(t *testing.T) {
	ctx := t.Context()
	s, db, c := mustService(t)
	st := &stallingStore{Store: db, stalled: make(chan struct{}), canceled: make(chan bool, 1)}
	s.Store = st
	s.SlowBuild = 0 // every build counts as slow: the next is built in the background
	s.MaxStale = time.Hour
	s.GaugeInterval = time.Hour
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	q := dora.Query{From: c.t.Add(-24 * time.Hour), To: c.t.Add(time.Hour)}
	if _, err := s.Report(ctx, q); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", Status: "success", At: ptr(c.t.Add(-time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	close(st.stalled)
	if _, err := s.Report(ctx, q); err != nil { // stale: answered, rebuilt in the background
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if !<-st.canceled {
		t.Error("Close did not end the background build: it waited for it")
	}
	if err := <-closed; err != nil {
		t.Error(err)
	}
}

func TestGauges(t *testing.T) {
	s, _, c := mustService(t)
	s.GaugeInterval = time.Hour
	if _, _, err := s.RecordDeployment(t.Context(), delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", Status: "success", At: ptr(c.t.Add(-time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Gauges() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no gauges computed at Open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	g := s.Gauges()
	if len(g.Services) != 1 || g.Services[0].Name != "shop" || g.Services[0].Total.Deployments != 1 || g.Window != 30*24*time.Hour {
		t.Errorf("gauges: %+v", g)
	}
}

func TestLoop(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	commit := c.t.Add(-20 * 24 * time.Hour)
	loop, err := s.Loop(ctx, "prod-eu", "new-checkout")
	if err != nil || len(loop.Missing) != 3 || loop.LeadTimeToCustomer != nil {
		t.Fatalf("a flag without changes: %+v, %v; want 3 missing figures", loop, err)
	}
	for i, sha := range []string{"c1000000", "c2000000"} {
		at := commit.Add(time.Duration(i) * 24 * time.Hour)
		if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: sha, AuthoredAt: &at, MergedAt: ptr(at.Add(time.Hour)), Flags: []string{"new-checkout"}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	loop, _ = s.Loop(ctx, "prod-eu", "new-checkout")
	if loop.Undeployed != 2 || loop.CommitToProduction != nil || !loop.FirstCommit.Equal(commit) {
		t.Errorf("undeployed changes: %+v", loop)
	}
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: "c2000000", Status: "success", At: ptr(commit.Add(3 * 24 * time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	started, full, verdict := commit.Add(4*24*time.Hour), commit.Add(9*24*time.Hour), commit.Add(12*24*time.Hour)
	s.Rollouts = func(_ context.Context, env, flag string) (delivery.RolloutTimes, error) {
		if env != "prod-eu" || flag != "new-checkout" {
			return delivery.RolloutTimes{}, nil
		}
		return delivery.RolloutTimes{StartedAt: started, FullAt: full, Percent: 100, State: "completed"}, nil
	}
	s.Verdicts = func(context.Context, string, string) (string, time.Time, error) { return "validated", verdict, nil }
	loop, err = s.Loop(ctx, "prod-eu", "new-checkout")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*time.Duration{"commit to production": ptr(3 * 24 * time.Hour), "lead time to customer": ptr(9 * 24 * time.Hour), "time to validated learning": ptr(8 * 24 * time.Hour)}
	got := map[string]*time.Duration{"commit to production": loop.CommitToProduction, "lead time to customer": loop.LeadTimeToCustomer, "time to validated learning": loop.TimeToValidatedLearning}
	for k, w := range want {
		if got[k] == nil || *got[k] != *w {
			t.Errorf("%s: %v, want %v", k, got[k], *w)
		}
	}
	if len(loop.Missing) != 0 {
		t.Errorf("missing %q with every figure known", loop.Missing)
	}
	if _, err := s.Loop(ctx, "prod-eu", "bad key!"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("invalid flag key: %v", err)
	}
}

// TestLoopAbbreviatedLink: a CI job links its commit to a flag by the
// abbreviation it printed ('change record --sha c1000aa --flag …') while
// the webhook recorded the commit in full. The timeline makes them one
// change, delivered under its full SHA, so the loop matched the link's
// abbreviation against no deployed change: "1 linked change is not
// deployed to production yet" for a change in production for days.
func TestLoopAbbreviatedLink(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	commit := c.t.Add(-20 * 24 * time.Hour)
	full := "c1000aa" + strings.Repeat("b", 33)
	for _, in := range []delivery.ChangeInput{
		{Service: "shop", SHA: full, AuthoredAt: &commit, MergedAt: ptr(commit.Add(time.Hour))},
		{Service: "shop", SHA: full[:7], AuthoredAt: &commit, MergedAt: ptr(commit.Add(time.Hour)), Flags: []string{"new-checkout"}},
	} {
		if _, _, err := s.RecordChange(ctx, in, ""); err != nil {
			t.Fatal(err)
		}
	}
	deployed := commit.Add(24 * time.Hour)
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod-eu", SHA: full, Status: "success", At: &deployed}, ""); err != nil {
		t.Fatal(err)
	}
	loop, err := s.Loop(ctx, "prod-eu", "new-checkout")
	if err != nil {
		t.Fatal(err)
	}
	if loop.Undeployed != 0 || !loop.InProductionAt.Equal(deployed) || loop.CommitToProduction == nil || *loop.CommitToProduction != 24*time.Hour {
		t.Errorf("linked by its abbreviation: undeployed %d, in production at %v, commit to production %v; want 0, %v, 24h (missing %q)",
			loop.Undeployed, loop.InProductionAt, loop.CommitToProduction, deployed, loop.Missing)
	}
	// The value loop asks the same of a feature's changes.
	shipped, err := s.Shipped(ctx, loop.Changes)
	if err != nil || len(shipped) != 1 || shipped[0].Changes != 1 || !shipped[0].Deployment.At.Equal(deployed) {
		t.Errorf("Shipped(the abbreviated link): %+v, %v; want its deployment, 1 change", shipped, err)
	}
}

// TestForgePRWinsWarned: 'change record --pr 99' for a commit a forge's
// webhook recorded as pull request 12 is stored, but pull request 12 stays
// the commit's (the later record used to win), and the receipt says that
// its number is not used. Given by hand first, the forge's record still
// wins when it arrives.
func TestForgePRWinsWarned(t *testing.T) {
	ctx := t.Context()
	const shaPR = "c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"
	for _, handFirst := range []bool{false, true} {
		s, db, c := mustService(t)
		authored := c.t.Add(-48 * time.Hour)
		forge := func() {
			d := &delivery.Delivery{Source: "acme-gh", ID: "gh-1", Kind: "pull_request", ReceivedAt: c.t,
				Changes: []dora.Change{{Repo: "acme/shop", SHA: shaPR, PR: "12", AuthoredAt: authored, MergedAt: authored.Add(time.Hour)}}}
			if _, err := db.RecordDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		if !handFirst {
			forge()
		}
		_, r, err := s.RecordChange(ctx, delivery.ChangeInput{Repo: "acme/shop", SHA: shaPR[:7], PR: "99", AuthoredAt: &authored, MergedAt: ptr(authored.Add(time.Hour))}, "")
		if err != nil {
			t.Fatal(err)
		}
		if warned := strings.Contains(r.Warning.String(), `pr "99" is not used`) && strings.Contains(r.Warning.String(), "pull request 12"); warned == handFirst {
			t.Errorf("hand first %v: warning %q; want one only when the forge's record came first", handFirst, r.Warning.String())
		}
		if handFirst {
			forge()
		}
		if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "acme/shop", Repo: "acme/shop", Environment: "prod-eu", SHA: shaPR, Status: "success", At: ptr(authored.Add(2 * time.Hour))}, ""); err != nil {
			t.Fatal(err)
		}
		deps, err := s.Deployments(ctx, "acme/shop", authored, c.t)
		if err != nil || len(deps) != 1 || len(deps[0].Changes) != 1 || deps[0].Changes[0].PR != "12" {
			t.Errorf("hand first %v: deployments %+v, %v; want one change, pull request 12", handFirst, deps, err)
		}
	}
}

// TestAbbreviatedChangeWarnedAsFolded: a change recorded abbreviated
// names the commits made by its latest time (the timeline folds it so):
// one merged at 12:00 under an abbreviation of commits made at 07:00 and
// 10:00 names neither, and its receipt says so. The receipt compared only
// the commits made by its authoring time (08:00) and warned of nothing.
func TestAbbreviatedChangeWarnedAsFolded(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	day := c.t.Add(-48 * time.Hour).Truncate(24 * time.Hour)
	tail := strings.Repeat("0", 32)
	for _, x := range []struct {
		sha              string
		authored, merged time.Duration
	}{{"abcdef01" + tail, 7 * time.Hour, 7 * time.Hour}, {"abcdef02" + tail, 10 * time.Hour, 10 * time.Hour}} {
		if _, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: x.sha, AuthoredAt: ptr(day.Add(x.authored)), MergedAt: ptr(day.Add(x.merged))}, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, r, err := s.RecordChange(ctx, delivery.ChangeInput{Service: "shop", SHA: "abcdef0", AuthoredAt: ptr(day.Add(8 * time.Hour)), MergedAt: ptr(day.Add(12 * time.Hour))}, "")
	if err != nil || !strings.Contains(r.Warning.String(), "is ambiguous") {
		t.Errorf("change abcdef0 merged after both commits: warning %q, %v; want ambiguous", r.Warning.String(), err)
	}
}

func TestParseRange(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		since, from, to string
		wantFrom        time.Time
		wantTo          time.Time
		field           string
	}{
		{"", "", "", now.Add(-30 * 24 * time.Hour), now, ""},
		{"12w", "", "", now.Add(-84 * 24 * time.Hour), now, ""},
		{"36h", "", "", now.Add(-36 * time.Hour), now, ""},
		{"1h30m", "", "", now.Add(-90 * time.Minute), now, ""},
		{"", "2026-03-01", "2026-03-02T10:00:00+02:00", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), ""},
		{"7d", "", "2026-03-08", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), ""},
		{"7d", "2026-03-01", "", time.Time{}, time.Time{}, "since"},
		{"-3d", "", "", time.Time{}, time.Time{}, "since"},
		{"0d", "", "", time.Time{}, time.Time{}, "since"},
		{"d", "", "", time.Time{}, time.Time{}, "since"},
		{"99999999d", "", "", time.Time{}, time.Time{}, "since"},
		{"", "yesterday", "", time.Time{}, time.Time{}, "from"},
		{"", "", "03/01/2026", time.Time{}, time.Time{}, "to"},
	}
	for _, c := range cases {
		from, to, err := delivery.ParseRange(c.since, c.from, c.to, now)
		if c.field != "" {
			if e, ok := err.(*valueloop.Error); !ok || e.Field != c.field {
				t.Errorf("%q %q %q: error %v, want one naming %s", c.since, c.from, c.to, err, c.field)
			}
			continue
		}
		if err != nil || !from.Equal(c.wantFrom) || !to.Equal(c.wantTo) {
			t.Errorf("%q %q %q: %v – %v, %v; want %v – %v", c.since, c.from, c.to, from, to, err, c.wantFrom, c.wantTo)
		}
	}
}

func TestSources(t *testing.T) {
	ctx := t.Context()
	s, _, _ := mustService(t)
	src, secret, err := s.PutSource(ctx, delivery.Source{Name: "new", Kind: delivery.KindGitHub}, "t")
	if err != nil || len(secret) < delivery.MinSecret || src.Secret != nil {
		t.Fatalf("new source without secret: %+v, %q, %v; want a generated secret, returned once", src, secret, err)
	}
	_, again, err := s.PutSource(ctx, delivery.Source{Name: "new", Kind: delivery.KindGitHub, IncidentLabel: "sev1"}, "t")
	if err != nil || again != "" {
		t.Errorf("updating a source: secret %q, %v; want it kept, not regenerated", again, err)
	}
	body := []byte(`{"zen": "Keep it logically awesome.", "hook_id": 1}`)
	if r, err := s.Receive(ctx, delivery.KindGitHub, delivery.Hook{Source: "new", Event: "ping", DeliveryID: "x", Credential: github.Sign([]byte(secret), body), Body: body}); err != nil || r.Ignored == "" {
		t.Errorf("ping signed with the generated secret: %+v, %v", r, err)
	}
	list, _ := s.Sources(ctx)
	for _, l := range list {
		if l.Secret != nil {
			t.Errorf("Sources returned the secret of %s", l.Name)
		}
	}
	for _, bad := range []delivery.Source{
		{Name: "api", Kind: delivery.KindGitHub},
		{Name: "x y", Kind: delivery.KindGitHub},
		{Name: "x", Kind: "bitbucket"},
		{Name: "x", Kind: delivery.KindGitHub, Secret: []byte("short")},
	} {
		if _, _, err := s.PutSource(ctx, bad, "t"); valueloop.ErrorCode(err) != valueloop.EINVALID {
			t.Errorf("%+v: %v, want invalid", bad, err)
		}
	}
}

// TestShippedBy: a feature that links services is released only by their
// deployments. Change c1 of shop ships on day 3, change c9 of api on day 5:
// Shipped finds both, ShippedBy api only the day-5 deployment.
func TestShippedBy(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	commit := c.t.Add(-20 * 24 * time.Hour)
	var changes []dora.Change
	for _, x := range []struct{ service, sha string }{{"shop", "c1000000"}, {"api", "c9000000"}} {
		ch, _, err := s.RecordChange(ctx, delivery.ChangeInput{Service: x.service, SHA: x.sha, AuthoredAt: &commit, MergedAt: ptr(commit.Add(time.Hour))}, "")
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, ch)
	}
	for _, x := range []struct {
		service, sha string
		day          int
	}{{"shop", "c1000000", 3}, {"api", "c9000000", 5}} {
		if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: x.service, Environment: "prod-eu", SHA: x.sha, Status: "success", At: ptr(commit.Add(time.Duration(x.day) * 24 * time.Hour))}, ""); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Shipped(ctx, changes)
	if err != nil || len(all) != 2 || all[0].Deployment.Service != "shop" {
		t.Fatalf("Shipped: %+v, %v; want shop's then api's", all, err)
	}
	by, err := s.ShippedBy(ctx, changes, []string{"api"})
	if err != nil || len(by) != 1 || by[0].Deployment.Service != "api" || by[0].Changes != 1 || !by[0].Deployment.At.Equal(commit.Add(5*24*time.Hour)) {
		t.Errorf("ShippedBy api: %+v, %v; want api's day-5 deployment of one change", by, err)
	}
	if none, err := s.ShippedBy(ctx, changes, nil); err != nil || len(none) != 0 {
		t.Errorf("ShippedBy no service: %+v, %v", none, err)
	}
}

// TestSourceRepos: a source's secret vouches only for the repositories the
// source names. Before, any source's secret could post records for any
// repository: whoever held the webhook secret of acme-shop/lib could record
// deployments and incidents of acme-shop/checkout, whose metrics are another
// team's. A delivery naming a repository outside the source's is refused
// (403, naming the record's field) and nothing is stored; a source naming
// none keeps taking every repository of its forge.
func TestSourceRepos(t *testing.T) {
	ctx := t.Context()
	s, db, _ := mustService(t)
	const libSecret = "lib-webhook-secret-0123456"
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "lib-gh", Kind: delivery.KindGitHub, Secret: []byte(libSecret),
		Repos: []string{"acme-shop/lib", "other-org/*"}}, "t"); err != nil {
		t.Fatal(err)
	}
	const glLibSecret = "lib-gitlab-token-0123456789"
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "lib-gl", Kind: delivery.KindGitLab, Secret: []byte(glLibSecret),
		Repos: []string{"acme-shop/lib"}}, "t"); err != nil {
		t.Fatal(err)
	}
	signed := func(body []byte, event, id, source string) delivery.Hook {
		return delivery.Hook{Source: source, Event: event, DeliveryID: id, Credential: github.Sign([]byte(libSecret), body), Body: body}
	}
	push := fixture(t, "github/testdata/push.json") // acme-shop/checkout
	for _, c := range []struct {
		name, kind string
		hook       delivery.Hook
		field      string
	}{
		{"push, source named", delivery.KindGitHub, signed(push, "push", "x-1", "lib-gh"), "changes[0].repo"},
		{"push, source found by its secret", delivery.KindGitHub, signed(push, "push", "x-2", ""), "changes[0].repo"},
		{"deployment status", delivery.KindGitHub, signed(fixture(t, "github/testdata/deployment_status.success.json"), "deployment_status", "x-3", ""), "deployments[0].repo"},
		{"incident", delivery.KindGitHub, signed(fixture(t, "github/testdata/issues.opened.json"), "issues", "x-4", ""), "incidents[0].repo"},
		{"gitlab deployment", delivery.KindGitLab, delivery.Hook{Event: "Deployment Hook", DeliveryID: "x-5", Credential: glLibSecret, Body: fixture(t, "gitlab/testdata/deployment.success.json")}, "deployments[0].repo"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Receive(ctx, c.kind, c.hook)
			var e *valueloop.Error
			if !asError(err, &e) || e.Code != valueloop.EFORBIDDEN || e.Field != c.field {
				t.Fatalf("got %v, want forbidden naming %s", err, c.field)
			}
		})
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(data.Changes) + len(data.Deployments) + len(data.Incidents); n != 0 {
		t.Errorf("stored %d records of refused deliveries", n)
	}
	if log, _ := s.Deliveries(ctx, "", 0); len(log) != 0 {
		t.Errorf("refused deliveries logged as received: %+v", log)
	}
	// Its own repositories, and any under other-org, it may post for.
	own := bytes.ReplaceAll(push, []byte("acme-shop/checkout"), []byte("acme-shop/lib"))
	sub := bytes.ReplaceAll(push, []byte("acme-shop/checkout"), []byte("Other-Org/tools"))
	for i, body := range [][]byte{own, sub} {
		if r, err := s.Receive(ctx, delivery.KindGitHub, signed(body, "push", fmt.Sprint("z-", i), "")); err != nil || r.Changes != 2 {
			t.Errorf("push of a repository of the source: %+v, %v", r, err)
		}
	}
	// A source naming no repository takes every one, as before.
	if r, err := s.Receive(ctx, delivery.KindGitHub, ghHook(push, "push", "y-1")); err != nil || r.Changes != 2 {
		t.Errorf("push to the unscoped source: %+v, %v", r, err)
	}
	for _, bad := range []delivery.Source{
		{Name: "x", Kind: delivery.KindGitHub, Secret: []byte(libSecret), Repos: []string{""}},
		{Name: "x", Kind: delivery.KindGitHub, Secret: []byte(libSecret), Repos: []string{"acme/*/x"}},
		{Name: "x", Kind: delivery.KindOpsgenie, Secret: []byte(libSecret), Repos: []string{"acme/shop"}},
	} {
		if _, _, err := s.PutSource(ctx, bad, "t"); valueloop.ErrorCode(err) != valueloop.EINVALID {
			t.Errorf("%+v: %v, want invalid", bad.Repos, err)
		}
	}
	list, _ := s.Sources(ctx)
	for _, l := range list {
		if l.Name == "lib-gh" && strings.Join(l.Repos, ",") != "acme-shop/lib,other-org/*" {
			t.Errorf("stored repos %q", l.Repos)
		}
	}
}

// TestSharedSecretSourcesByRepos: two sources sharing one secret, each
// tied to its own repositories. Without ?source=, the first source (by
// name) whose secret matched was used even when its repos refused the
// delivery, so the second source's repository could not post at all; now
// the first matching source that admits the delivery takes it, and a
// delivery that none admits is refused with the first one's reason. For a
// signed (GitHub, read as a stream) and a token (GitLab) kind alike.
func TestSharedSecretSourcesByRepos(t *testing.T) {
	ctx := t.Context()
	s, _, _ := mustService(t)
	const secret = "shared-webhook-secret-0123456"
	for _, src := range []delivery.Source{
		{Name: "a-lib", Kind: delivery.KindGitHub, Repos: []string{"acme-shop/lib"}},
		{Name: "b-checkout", Kind: delivery.KindGitHub, Repos: []string{"acme-shop/checkout"}},
		{Name: "a-lib-gl", Kind: delivery.KindGitLab, Repos: []string{"acme-shop/lib"}},
		{Name: "b-checkout-gl", Kind: delivery.KindGitLab, Repos: []string{"acme-shop/storefront"}},
	} {
		src.Secret = []byte(secret)
		if _, _, err := s.PutSource(ctx, src, "t"); err != nil {
			t.Fatal(err)
		}
	}
	push := fixture(t, "github/testdata/push.json")                   // acme-shop/checkout
	glDeploy := fixture(t, "gitlab/testdata/deployment.success.json") // acme-shop/storefront
	signed := func(body []byte, id string) delivery.Hook {
		return delivery.Hook{Event: "push", DeliveryID: id, Credential: github.Sign([]byte(secret), body), Body: body}
	}
	lim := delivery.HookBody{Max: 1 << 20, Memory: 1 << 20}
	for _, c := range []struct {
		name, kind string
		hook       delivery.Hook
		source     string // the source the delivery is logged under; "" refused
	}{
		{"github, second source's repository", delivery.KindGitHub, signed(push, "s-1"), "b-checkout"},
		{"github, first source's repository", delivery.KindGitHub, signed(bytes.ReplaceAll(push, []byte("acme-shop/checkout"), []byte("acme-shop/lib")), "s-2"), "a-lib"},
		{"github, neither's repository", delivery.KindGitHub, signed(bytes.ReplaceAll(push, []byte("acme-shop/checkout"), []byte("acme-shop/other")), "s-3"), ""},
		{"gitlab, second source's repository", delivery.KindGitLab, delivery.Hook{Event: "Deployment Hook", DeliveryID: "s-4", Credential: secret, Body: glDeploy}, "b-checkout-gl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				h := c.hook
				h.DeliveryID += fmt.Sprint(stream)
				var err error
				if stream {
					// Another body: the same one again is a duplicate
					// whatever its ID, and logged under the first's.
					h.Body = append(bytes.Clone(h.Body), '\n')
					if c.kind == delivery.KindGitHub {
						h.Credential = github.Sign([]byte(secret), h.Body)
					}
					body := h.Body
					h.Body = nil
					_, err = s.ReceiveStream(ctx, c.kind, h, bytes.NewReader(body), lim)
				} else {
					_, err = s.Receive(ctx, c.kind, h)
				}
				if c.source == "" {
					if e := (*valueloop.Error)(nil); !asError(err, &e) || e.Code != valueloop.EFORBIDDEN || !strings.Contains(e.Message, `"a-lib"`) {
						t.Errorf("stream %v: %v, want forbidden by the first source, a-lib", stream, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("stream %v: %v, want it received by %s", stream, err, c.source)
				}
				log, _ := s.Deliveries(ctx, c.source, 0)
				if !slices.ContainsFunc(log, func(d delivery.DeliveryInfo) bool { return d.ID == h.DeliveryID }) {
					t.Errorf("stream %v: delivery %s not logged under %s: %+v", stream, h.DeliveryID, c.source, log)
				}
			}
		})
	}
}

// TestSourceReposNamedService: a record of a repository the source may
// post for can name its service (a service:NAME label, a deployment's
// payload.service), and that service must be one of those repositories'.
// Before, an issue of acme-shop/lib labelled service:checkout-api opened
// an incident of checkout-api, whose code is acme-shop/checkout, through
// the source tied to acme-shop/lib.
func TestSourceReposNamedService(t *testing.T) {
	ctx := t.Context()
	s, db, _ := mustService(t)
	const libSecret = "lib-webhook-secret-0123456"
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "lib-gh", Kind: delivery.KindGitHub, Secret: []byte(libSecret),
		Repos: []string{"acme-shop/lib"}}, "t"); err != nil {
		t.Fatal(err)
	}
	svc := dora.Service{Name: "checkout-api", Sources: []dora.Source{{Repo: "acme-shop/checkout"}}}
	if err := s.PutService(ctx, svc, "t"); err != nil {
		t.Fatal(err)
	}
	// issues.opened.json is labelled incident and service:checkout-api.
	issue := bytes.ReplaceAll(fixture(t, "github/testdata/issues.opened.json"), []byte("acme-shop/checkout"), []byte("acme-shop/lib"))
	hook := func(id string) delivery.Hook {
		return delivery.Hook{Event: "issues", DeliveryID: id, Credential: github.Sign([]byte(libSecret), issue), Body: issue}
	}
	_, err := s.Receive(ctx, delivery.KindGitHub, hook("i-1"))
	var e *valueloop.Error
	if !asError(err, &e) || e.Code != valueloop.EFORBIDDEN || e.Field != "incidents[0].service" {
		t.Fatalf("incident of checkout-api from acme-shop/lib's source: %v, want forbidden naming incidents[0].service", err)
	}
	if data, _, _ := db.DeliveryData(ctx); len(data.Incidents) != 0 {
		t.Errorf("stored %+v", data.Incidents)
	}
	// Once the service is (also) acme-shop/lib's, its issues may name it.
	svc.Sources = append(svc.Sources, dora.Source{Repo: "Acme-Shop/Lib", Path: "api/"})
	if err := s.PutService(ctx, svc, "t"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook("i-2")); err != nil || r.Incidents != 1 {
		t.Errorf("incident of a service of acme-shop/lib: %+v, %v", r, err)
	}
}

func TestParseRangeInZone(t *testing.T) {
	auckland, err := delivery.ParseZone("tz", "Pacific/Auckland")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	// A date is midnight in the zone: 2026-03-02 00:00 NZDT (+13) is
	// 2026-03-01 11:00 UTC; a time with an offset keeps its own.
	from, to, err := delivery.ParseRangeIn("", "2026-03-02", "2026-03-09T00:00:00Z", now, auckland)
	if err != nil || !from.Equal(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("got %v – %v, %v; want 2026-03-01T11:00Z – 2026-03-09T00:00Z", from, to, err)
	}
	// Santiago springs from Saturday 24:00 (-04) to Sunday 01:00 (-03):
	// Sunday 2026-09-06 starts at 04:00 UTC, not in the day before.
	santiago, _ := delivery.ParseZone("tz", "America/Santiago")
	if from, _, err := delivery.ParseRangeIn("", "2026-09-06", "2026-09-07", now.AddDate(1, 0, 0), santiago); err != nil || !from.Equal(time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("a day whose midnight is skipped starts at %v, %v; want 2026-09-06T04:00Z", from, err)
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd"} {
		var e *valueloop.Error
		if _, err := delivery.ParseZone("tz", bad); !errors.As(err, &e) || e.Code != valueloop.EINVALID || e.Field != "tz" {
			t.Errorf("ParseZone(%q): %v; want an EINVALID error naming tz", bad, err)
		}
	}
}

// TestParseRangeSinceCalendarDays: since in days or weeks is that many of
// the zone's calendar days back, not 24-hour multiples: Los Angeles springs
// from 2026-03-08 02:00 PST (-8) to 03:00 PDT (-7), so 30 days back from
// 2026-03-20 00:00 PDT (07:00Z) is 2026-02-18 00:00 PST (08:00Z), where
// 720 hours were 07:00Z, 23:00 the day before, and a daily report's first
// bucket an hour long. Hours stay hours.
func TestParseRangeSinceCalendarDays(t *testing.T) {
	la, err := delivery.ParseZone("tz", "America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		since string
		to    time.Time
		loc   *time.Location
		want  time.Time
	}{
		{"30d", time.Date(2026, 3, 20, 7, 0, 0, 0, time.UTC), la, time.Date(2026, 2, 18, 8, 0, 0, 0, time.UTC)},
		// 12:30 PDT two weeks back is 12:30 PST: 20:30Z, not 19:30Z.
		{"2w", time.Date(2026, 3, 20, 19, 30, 0, 0, time.UTC), la, time.Date(2026, 3, 6, 20, 30, 0, 0, time.UTC)},
		{"1d", time.Date(2026, 3, 9, 7, 0, 0, 0, time.UTC), la, time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC)},
		{"36h", time.Date(2026, 3, 20, 7, 0, 0, 0, time.UTC), la, time.Date(2026, 3, 18, 19, 0, 0, 0, time.UTC)},
		{"720h", time.Date(2026, 3, 20, 7, 0, 0, 0, time.UTC), la, time.Date(2026, 2, 18, 7, 0, 0, 0, time.UTC)},
		{"30d", time.Date(2026, 3, 20, 7, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 2, 18, 7, 0, 0, 0, time.UTC)},
	} {
		from, _, err := delivery.ParseRangeIn(c.since, "", c.to.Format(time.RFC3339), c.to, c.loc)
		if err != nil || !from.Equal(c.want) {
			t.Errorf("since %s to %s in %s: from %v, %v; want %v", c.since, c.to.Format(time.RFC3339), c.loc, from, err, c.want)
		}
	}
}
