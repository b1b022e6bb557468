package storetest

import (
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/github"
)

// testDeliveryReplayed: a signed body a source already delivered is a
// duplicate under any delivery ID (X-GitHub-Delivery is not signed: anyone
// who saw one body could have it recorded again under a new ID), and
// stores nothing; but a body that was ignored and is not now is read
// again and stored in its place, whatever ID it comes with. The same body
// from another source, and API calls alike under other keys, are stored.
// Failed before the fix: the replayed push was stored a second time.
func testDeliveryReplayed(t *testing.T, db DeliveryStore, _ *Clock) {
	ctx := t.Context()
	s := delivery.New(db)
	const secret = "github-webhook-secret-replayed"
	src := delivery.Source{Name: "gh", Kind: delivery.KindGitHub, Secret: []byte(secret)}
	for _, name := range []string{"gh", "gh2"} {
		src.Name = name
		if _, _, err := s.PutSource(ctx, src, "test"); err != nil {
			t.Fatal(err)
		}
	}
	hook := func(source, event, id string, body []byte) delivery.Hook {
		return delivery.Hook{Source: source, Event: event, DeliveryID: id, Credential: github.Sign([]byte(secret), body), Body: body}
	}
	push := []byte(`{"ref": "refs/heads/main", "after": "abcdef1", "repository": {"full_name": "acme/shop", "default_branch": "main"},
		"commits": [{"id": "abcdef1", "timestamp": "2025-05-01T10:00:00Z"}]}`)
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook("gh", "push", "guid-1", push)); err != nil || r.Duplicate || r.Changes != 1 {
		t.Fatalf("push: %+v, %v; want its change stored", r, err)
	}
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook("gh", "push", "guid-2", push)); err != nil || !r.Duplicate {
		t.Errorf("the push replayed under a new delivery ID: %+v, %v; want a duplicate", r, err)
	}
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook("gh2", "push", "guid-2", push)); err != nil || r.Duplicate {
		t.Errorf("the push from another source: %+v, %v; want it stored", r, err)
	}
	release := []byte(`{"action": "published", "release": {"id": 7, "tag_name": "v1.0.0", "target_commitish": "main",
		"created_at": "2025-05-01T10:00:00Z", "published_at": "2025-05-01T10:00:00Z", "draft": false, "prerelease": false},
		"repository": {"full_name": "acme/app", "default_branch": "main"}}`)
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook("gh", "release", "rel-1", release)); err != nil || r.Ignored == "" {
		t.Fatalf("release without a release environment: %+v, %v; want it ignored", r, err)
	}
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook("gh", "release", "rel-2", release)); err != nil || r.Ignored == "" || r.Deployments != 0 {
		t.Errorf("the release under a new ID, still unconfigured: %+v, %v; want it ignored", r, err)
	}
	src.Name, src.ReleaseEnvironment, src.Secret = "gh", "app-store", nil
	if _, _, err := s.PutSource(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Receive(ctx, delivery.KindGitHub, hook("gh", "release", "rel-3", release)); err != nil || r.Duplicate || r.Deployments != 1 {
		t.Errorf("the release under a new ID once configured: %+v, %v; want its deployment stored", r, err)
	}
	for _, id := range []string{"rel-1", "rel-4"} {
		if r, err := s.Receive(ctx, delivery.KindGitHub, hook("gh", "release", id, release)); err != nil || !r.Duplicate {
			t.Errorf("the stored release again as %s: %+v, %v; want a duplicate", id, r, err)
		}
	}
	at, prod := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC), true
	for _, key := range []string{"k-1", "k-2"} {
		in := delivery.DeploymentInput{Service: "shop", Environment: "prod", Production: &prod, Status: "success", At: &at}
		if _, r, err := s.RecordDeployment(ctx, in, key); err != nil || r.Duplicate {
			t.Errorf("API deployment under key %s: %+v, %v; want it stored", key, r, err)
		}
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil || len(data.Changes) != 2 || len(data.Deployments) != 3 {
		t.Errorf("stored %d changes and %d deployments, %v; want 2 (one a source) and 3 (one release, two API calls)", len(data.Changes), len(data.Deployments), err)
	}
	if log, err := s.Deliveries(ctx, "gh", 10); err != nil || len(log) != 2 || log[0].Ignored != "" {
		t.Errorf("delivery log of gh %+v, %v; want 2: the push, and the release stored in place of the ignored one", log, err)
	}
}
