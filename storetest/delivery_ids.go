package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/github"
)

// testDeliveryLongID: a delivery ID (an API call's Idempotency-Key, a
// webhook's X-GitHub-Delivery) longer than delivery.MaxDeliveryID is
// refused naming the header, and nothing is stored. Before, PostgreSQL
// failed to index a key of 9,000 bytes: an internal error (500) whose
// message quoted the whole key, and a signed webhook lost. The same for
// the values of a signed body that the store indexes (a commit's SHA).
func testDeliveryLongID(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := t.Context()
	s := delivery.New(db)
	// Not compressible: PostgreSQL compresses a repeated one to fit.
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for range 9000 {
		b.WriteByte(byte('a' + r.IntN(26)))
	}
	long := b.String()
	at := time.Now().Add(-time.Hour)
	prod := true
	_, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod", Production: &prod, Status: "success", At: &at}, long)
	if e, ok := err.(*valueloop.Error); !ok || e.Code != valueloop.EINVALID || e.Field != "Idempotency-Key" || len(e.Message) > 200 {
		t.Errorf("API record with a 9000-byte key: %v, want a short invalid error naming Idempotency-Key", err)
	}
	const secret = "github-webhook-secret-long-id"
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "gh", Kind: delivery.KindGitHub, Secret: []byte(secret)}, "test"); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"zen": "Keep it logically awesome.", "hook_id": 1}`)
	_, err = s.Receive(ctx, delivery.KindGitHub, delivery.Hook{Event: "ping", DeliveryID: long, Credential: github.Sign([]byte(secret), body), Body: body})
	if e, ok := err.(*valueloop.Error); !ok || e.Code != valueloop.EINVALID || e.Field != github.DeliveryHeader || len(e.Message) > 200 {
		t.Errorf("webhook with a 9000-byte delivery ID: %v, want a short invalid error naming %s", err, github.DeliveryHeader)
	}
	// The ID is refused before the body is read: one that does not parse
	// gets the same answer.
	junk := []byte(`{"ref": `)
	_, err = s.Receive(ctx, delivery.KindGitHub, delivery.Hook{Event: "push", DeliveryID: long, Credential: github.Sign([]byte(secret), junk), Body: junk})
	if e, ok := err.(*valueloop.Error); !ok || e.Field != github.DeliveryHeader {
		t.Errorf("unparsable webhook with a 9000-byte delivery ID: %v, want an invalid error naming %s", err, github.DeliveryHeader)
	}
	// A signed body's values the store indexes: a commit's SHA.
	push := []byte(`{"ref": "refs/heads/main", "after": "x", "repository": {"full_name": "acme/shop", "default_branch": "main"},
		"commits": [{"id": "` + long + `", "timestamp": "2025-05-01T10:00:00Z"}]}`)
	_, err = s.Receive(ctx, delivery.KindGitHub, delivery.Hook{Event: "push", DeliveryID: "d-1", Credential: github.Sign([]byte(secret), push), Body: push})
	if e, ok := err.(*valueloop.Error); !ok || e.Code != valueloop.EINVALID || e.Field != "changes[0].sha" || len(e.Message) > 200 {
		t.Errorf("push of a 9000-byte commit ID: %v, want a short invalid error naming changes[0].sha", err)
	}
	if log, err := s.Deliveries(ctx, "", 10); err != nil || len(log) != 0 {
		t.Errorf("stored %+v, %v; want nothing", log, err)
	}
	// At the limit, both are stored.
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{Service: "shop", Environment: "prod", Production: &prod, Status: "success", At: &at}, long[:delivery.MaxDeliveryID]); err != nil {
		t.Errorf("API record with a key at the limit: %v", err)
	}
	if _, err := s.Receive(ctx, delivery.KindGitHub, delivery.Hook{Event: "ping", DeliveryID: long[:delivery.MaxDeliveryID], Credential: github.Sign([]byte(secret), body), Body: body}); err != nil {
		t.Errorf("webhook with a delivery ID at the limit: %v", err)
	}
}

// testDeliveryText: text a store cannot hold (NUL, invalid UTF-8) is
// refused naming the field, or, in what Valueloop writes itself (the kind
// and the reason a delivery was ignored, which quote a header) and in free
// text (an incident's title), replaced; a source's incident label that
// holds a NUL is refused.
// Before, PostgreSQL refused both with an internal error (500): a signed
// push naming its repository "acme/sh\u0000op", and any signed body sent
// again with an X-GitHub-Event header that was cut inside a character.
func testDeliveryText(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := t.Context()
	s := delivery.New(db)
	const secret = "github-webhook-secret-text-0123"
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "gh", Kind: delivery.KindGitHub, Secret: []byte(secret)}, "test"); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.PutSource(ctx, delivery.Source{Name: "gh2", Kind: delivery.KindGitHub, Secret: []byte(secret), IncidentLabel: "sev\x001"}, "test")
	if e, ok := err.(*valueloop.Error); !ok || e.Code != valueloop.EINVALID || e.Field != "incidentLabel" {
		t.Errorf("an incident label with a NUL: %v, want invalid naming incidentLabel", err)
	}
	hook := func(event, id string, body []byte) delivery.Hook {
		return delivery.Hook{Event: event, DeliveryID: id, Credential: github.Sign([]byte(secret), body), Body: body}
	}
	push := []byte(`{"ref": "refs/heads/main", "after": "x", "repository": {"full_name": "acme/sh\u0000op", "default_branch": "main"},
		"commits": [{"id": "abcdef1", "timestamp": "2025-05-01T10:00:00Z"}]}`)
	_, err = s.Receive(ctx, delivery.KindGitHub, hook("push", "d-1", push))
	if e, ok := err.(*valueloop.Error); !ok || e.Code != valueloop.EINVALID || e.Field != "changes[0].repo" {
		t.Errorf("a repository with a NUL: %v, want invalid naming changes[0].repo", err)
	}
	// An incident's title is free text: a NUL in it is replaced, and the
	// incident kept (it was refused, naming incidents[0].title).
	issue := []byte(`{"action": "opened", "repository": {"full_name": "acme/shop", "default_branch": "main"},
		"issue": {"id": 7, "number": 7, "state": "open", "title": "checkout\u0000 down", "labels": [{"name": "incident"}],
		"created_at": "2025-05-01T10:00:00Z", "html_url": "https://github.com/acme/shop/issues/7"}}`)
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook("issues", "d-title", issue)); err != nil || r.Incidents != 1 {
		t.Errorf("an incident titled with a NUL: %+v, %v; want it stored", r, err)
	} else if data, _, err := db.DeliveryData(ctx); err != nil || len(data.Incidents) != 1 || data.Incidents[0].Title != "checkout\uFFFD down" {
		t.Errorf("the incident stored: %+v, %v; want its title with U+FFFD for the NUL", data.Incidents, err)
	}
	ping := []byte(`{"zen": "x"}`)
	for i, event := range []string{"a" + strings.Repeat("é", 30), "push\xff\xfe"} {
		r, err := s.Receive(ctx, delivery.KindGitHub, hook(event, fmt.Sprint("d-", i+2), ping))
		if err != nil || r.Ignored == "" || !utf8.ValidString(r.Ignored) || !utf8.ValidString(r.Kind) {
			t.Errorf("event header %q: %+v, %v; want it ignored, in valid text", event, r, err)
		}
	}
}

// testDeliveryIgnoredRedelivered: a delivery first ignored (releases were
// not configured as deployments for its source) and redelivered under the
// same ID once they are (GitHub's "Redeliver" keeps X-GitHub-Delivery) is
// read again and stored; a redelivery of a stored one, or of one ignored
// again, stores nothing. Failed before the fix: the redelivery was a
// duplicate, the release never counted.
func testDeliveryIgnoredRedelivered(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := t.Context()
	s := delivery.New(db)
	const secret = "github-webhook-secret-redeliver"
	src := delivery.Source{Name: "gh", Kind: delivery.KindGitHub, Secret: []byte(secret)}
	if _, _, err := s.PutSource(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	release := []byte(`{"action": "published", "release": {"id": 7, "tag_name": "v1.0.0", "target_commitish": "main",
		"created_at": "2025-05-01T10:00:00Z", "published_at": "2025-05-01T10:00:00Z", "draft": false, "prerelease": false},
		"repository": {"full_name": "acme/app", "default_branch": "main"}}`)
	hook := delivery.Hook{Event: "release", DeliveryID: "guid-1", Credential: github.Sign([]byte(secret), release), Body: release}
	r, err := s.Receive(ctx, delivery.KindGitHub, hook)
	if err != nil || r.Ignored == "" {
		t.Fatalf("release without a release environment: %+v, %v; want it ignored", r, err)
	}
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook); err != nil || r.Ignored == "" || r.Deployments != 0 {
		t.Errorf("redelivered, still unconfigured: %+v, %v; want it ignored", r, err)
	}
	src.ReleaseEnvironment, src.Secret = "app-store", nil
	if _, _, err := s.PutSource(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	r, err = s.Receive(ctx, delivery.KindGitHub, hook)
	if err != nil || r.Duplicate || r.Deployments != 1 {
		t.Errorf("redelivered once configured: %+v, %v; want its deployment stored", r, err)
	}
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook); err != nil || !r.Duplicate {
		t.Errorf("redelivered again: %+v, %v; want a duplicate", r, err)
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil || len(data.Deployments) != 1 {
		t.Errorf("stored %d deployments, %v; want 1", len(data.Deployments), err)
	}
	if log, err := s.Deliveries(ctx, "gh", 10); err != nil || len(log) != 1 || log[0].Ignored != "" {
		t.Errorf("delivery log %+v, %v; want the one delivery, no longer ignored", log, err)
	}
}
