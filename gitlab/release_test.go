package gitlab

import (
	"strings"
	"testing"
	"time"
)

// TestUpcomingRelease: the release webhook ignores an upcoming release
// (released_at after its creation and after now) and the REST list used by
// `delivery import gitlab` skips it while GitLab marks it upcoming, then
// reads it as a deployment at its release time once GitLab no longer does.
func TestUpcomingRelease(t *testing.T) {
	cfg := Config{ReleaseEnvironment: "production", Now: time.Date(2025, 5, 12, 17, 0, 0, 0, time.UTC)}
	body := strings.Replace(string(readFixture(t, "release.create.json")), `"released_at": "2025-05-12 17:00:00 UTC"`, `"released_at": "2025-06-01 09:00:00 UTC"`, 1)
	ev, err := Parse("Release Hook", "d", []byte(body), cfg)
	if err != nil || len(ev.Deployments) != 0 || !strings.Contains(ev.Ignored, "upcoming release") {
		t.Errorf("webhook: %+v, %v; want it ignored as upcoming", ev, err)
	}
	cfg.Now = time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC) // read after the release time, it is one
	if ev, err := Parse("Release Hook", "d", []byte(body), cfg); err != nil || len(ev.Deployments) != 1 {
		t.Errorf("webhook after the release time: %+v, %v; want a deployment", ev, err)
	}
	page := func(upcoming bool) []byte {
		u := "false"
		if upcoming {
			u = "true"
		}
		return []byte(`[{"tag_name": "v5.2.0", "created_at": "2025-05-12T16:58:00Z", "released_at": "2025-06-01T09:00:00Z", "upcoming_release": ` + u + `,
			"commit": {"id": "a19be4c7d03f58e62b1d9a7c4e8f3b05d6c2a91f"}}]`)
	}
	if ds, err := ReleasesPage(page(true), "acme-shop/storefront", cfg); err != nil || len(ds) != 0 {
		t.Errorf("import while upcoming: %+v, %v; want nothing", ds, err)
	}
	ds, err := ReleasesPage(page(false), "acme-shop/storefront", cfg)
	if err != nil || len(ds) != 1 || !ds[0].At.Equal(time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("import once released: %+v, %v; want one deployment at its release time", ds, err)
	}
}
