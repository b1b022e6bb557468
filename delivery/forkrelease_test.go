package delivery_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
)

// glTime writes t as GitLab's legacy webhook times are written.
func glTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// TestUpcomingGitLabReleaseNotDeployed: a release webhook whose released_at
// is ahead (a GitLab "upcoming release") is acknowledged as ignored and
// stores no deployment; an ordinary release dated a little ahead of this
// server's clock (GitLab's clock runs ahead) is still one. Built from the
// release fixture, which has the shape of GitLab's documented payload.
// Failed before the fix: the upcoming release was stored as a deployment
// dated a week ahead.
func TestUpcomingGitLabReleaseNotDeployed(t *testing.T) {
	ctx := t.Context()
	s, db, c := mustService(t)
	if _, _, err := s.PutSource(ctx, delivery.Source{Name: "acme-gl", Kind: delivery.KindGitLab, Secret: []byte(glSecret), ReleaseEnvironment: "prod-eu"}, "test"); err != nil {
		t.Fatal(err)
	}
	release := func(created, released time.Time) []byte {
		b := fixture(t, "gitlab/testdata/release.create.json")
		b = bytes.Replace(b, []byte(`"created_at": "2025-05-12 16:58:00 UTC"`), []byte(`"created_at": "`+glTime(created)+`"`), 1)
		b = bytes.Replace(b, []byte(`"released_at": "2025-05-12 17:00:00 UTC"`), []byte(`"released_at": "`+glTime(released)+`"`), 1)
		if !bytes.Contains(b, []byte(glTime(released))) {
			t.Fatal("the fixture's released_at was not replaced")
		}
		return b
	}
	hook := func(body []byte, key string) delivery.Hook {
		return delivery.Hook{Event: "Release Hook", DeliveryID: key, Credential: glSecret, Body: body}
	}
	r, err := s.Receive(ctx, delivery.KindGitLab, hook(release(c.t.Add(-time.Hour), c.t.Add(7*24*time.Hour)), "k-1"))
	if err != nil || r.Deployments != 0 || !strings.Contains(r.Ignored, "upcoming release") {
		t.Errorf("upcoming release: %+v, %v; want it ignored as upcoming", r, err)
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil || len(data.Deployments) != 0 {
		t.Fatalf("stored %+v, %v; want no deployment", data.Deployments, err)
	}
	ahead := c.t.Add(2 * time.Minute) // created and released at once, by a clock ahead
	r, err = s.Receive(ctx, delivery.KindGitLab, hook(release(ahead, ahead), "k-2"))
	if err != nil || r.Deployments != 1 || r.Ignored != "" {
		t.Errorf("release by a clock ahead: %+v, %v; want one deployment", r, err)
	}
}
