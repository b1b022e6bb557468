package dora

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
)

// TestCheckRollback: the case. Production runs aaa (day 1) then bbb
// (day 2); a rollback to aaa or to version v1 is accepted, a rollback to
// ccc (merged after, never deployed) or to bbb recorded before bbb was
// deployed is refused naming the field, and records that are not production
// rollbacks are not checked.
func TestCheckRollback(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	tl, err := NewTimeline(Data{
		Changes: []Change{
			{Repo: "acme/shop", SHA: "aaa", AuthoredAt: day(1).Add(-time.Hour), MergedAt: day(1).Add(-time.Hour)},
			{Repo: "acme/shop", SHA: "bbb", AuthoredAt: day(2).Add(-time.Hour), MergedAt: day(2).Add(-time.Hour)},
			{Repo: "acme/shop", SHA: "ccc", AuthoredAt: day(3), MergedAt: day(3)},
		},
		Deployments: []Deployment{
			{ID: "d1", Service: "shop", Repo: "acme/shop", Environment: "prod", Production: true, SHA: "aaa", Version: "v1", Status: StatusSuccess, At: day(1)},
			{ID: "d2", Service: "shop", Repo: "acme/shop", Environment: "prod", Production: true, SHA: "bbb", Version: "v2", Status: StatusSuccess, At: day(2)},
			{ID: "d3", Service: "shop", Repo: "acme/shop", Environment: "prod", Production: true, SHA: "ddd", Status: StatusFailure, At: day(2).Add(time.Hour)},
			{ID: "s1", Service: "shop", Repo: "acme/shop", Environment: "staging", Production: false, SHA: "eee", Status: StatusSuccess, At: day(2)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rb := func(sha, version string, at time.Time) Deployment {
		return Deployment{ID: "r", Service: "shop", Environment: "prod", Production: true, SHA: sha, Version: version, Status: StatusSuccess, At: at, Rollback: true}
	}
	for _, c := range []struct {
		name  string
		d     Deployment
		field string // "" accepted
	}{
		{"to the previous production commit", rb("aaa", "", day(4)), ""},
		{"to the previous version, no sha", rb("", "v1", day(4)), ""},
		{"to a newer commit never deployed", rb("ccc", "", day(4)), "sha"},
		{"to a commit only failed in production", rb("ddd", "", day(4)), "sha"},
		{"to a commit only on staging", rb("eee", "", day(4)), "sha"},
		{"to a version not deployed", rb("", "v9", day(4)), "version"},
		{"to a commit deployed only later", rb("bbb", "", day(1).Add(time.Hour)), "sha"},
		{"naming nothing", rb("", "", day(4)), "sha"},
		{"of a service without deployments", Deployment{ID: "r", Service: "cart", Production: true, SHA: "aaa", Status: StatusSuccess, At: day(4), Rollback: true}, "sha"},
		{"to itself (an earlier status of the same ID)", Deployment{ID: "d2", Service: "shop", Production: true, SHA: "bbb", Status: StatusSuccess, At: day(4), Rollback: true}, "sha"},
		{"not a rollback", Deployment{ID: "x", Service: "shop", Production: true, SHA: "ccc", Status: StatusSuccess, At: day(4)}, ""},
		{"not production", Deployment{ID: "x", Service: "shop", SHA: "ccc", Status: StatusSuccess, At: day(4), Rollback: true}, ""},
		{"canceled", Deployment{ID: "x", Service: "shop", Production: true, SHA: "ccc", Status: StatusCanceled, At: day(4), Rollback: true}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tl.CheckRollback(c.d)
			if c.field == "" {
				if err != nil {
					t.Fatalf("CheckRollback = %v, want accepted", err)
				}
				return
			}
			e, ok := err.(*valueloop.Error)
			if !ok || e.Field != c.field {
				t.Fatalf("CheckRollback = %v, want an error on field %s", err, c.field)
			}
			if c.d.Service == "shop" && c.field == "sha" && c.d.SHA != "" && !strings.Contains(err.Error(), "force") {
				t.Errorf("error %q does not say it can be forced", err)
			}
		})
	}
	// The message names what production runs, so the user sees the mistake.
	err = tl.CheckRollback(rb("ccc", "", day(4)))
	if !strings.Contains(err.Error(), "latest is bbb") {
		t.Errorf("error %q does not name the latest production deployment bbb", err)
	}
}

// TestCheckRollbackEnvironment: a rollback restores what its own
// environment ran, as the timeline judges rollbacks within one
// environment (a region, a cell). eu ran aaa then bbb, us only ccc: a
// rollback of us to aaa restores nothing us ever ran and is refused, naming
// us's latest deployment; a rollback of eu to aaa is accepted.
func TestCheckRollbackEnvironment(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	dep := func(id, env, sha string, d int) Deployment {
		return Deployment{ID: id, Service: "shop", Repo: "acme/shop", Environment: env, Production: true, SHA: sha, Status: StatusSuccess, At: day(d)}
	}
	tl, err := NewTimeline(Data{Deployments: []Deployment{
		dep("e1", "eu", "aaa", 1), dep("e2", "eu", "bbb", 2), dep("u1", "us", "ccc", 3),
	}})
	if err != nil {
		t.Fatal(err)
	}
	rb := dep("r", "us", "aaa", 4)
	rb.Rollback = true
	err = tl.CheckRollback(rb)
	if e, ok := err.(*valueloop.Error); !ok || e.Field != "sha" || !strings.Contains(err.Error(), "latest is ccc") {
		t.Errorf("rollback of us to aaa (run in eu only): %v, want refused on sha naming us's latest, ccc", err)
	}
	rb.Environment = "eu"
	if err := tl.CheckRollback(rb); err != nil {
		t.Errorf("rollback of eu to aaa: %v, want accepted", err)
	}
}
