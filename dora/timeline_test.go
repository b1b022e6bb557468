package dora

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// at parses "2006-01-02 15:04" as UTC.
func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

type fixture struct {
	tb   testing.TB
	data Data
}

func newFixture(tb testing.TB, services ...Service) *fixture {
	return &fixture{tb: tb, data: Data{Catalog: Catalog{Services: services}}}
}

// commit adds a change landed on the default branch ("" merged: pushed to a
// branch only).
func (f *fixture) commit(repo, sha, authored, merged string, paths ...string) *fixture {
	c := Change{Repo: repo, SHA: sha, AuthoredAt: at(f.tb, authored), Paths: paths}
	if merged != "" {
		c.MergedAt = at(f.tb, merged)
	}
	f.data.Changes = append(f.data.Changes, c)
	return f
}

func (f *fixture) deploy(id, repo, sha, status, when string) *fixture {
	f.data.Deployments = append(f.data.Deployments, Deployment{
		ID: id, Repo: repo, SHA: sha, Status: status, At: at(f.tb, when), Environment: "prod", Production: true,
	})
	return f
}

func (f *fixture) incident(id, repo, opened, resolved string) *fixture {
	i := Incident{ID: id, Repo: repo, OpenedAt: at(f.tb, opened)}
	if resolved != "" {
		r := at(f.tb, resolved)
		i.ResolvedAt = &r
	}
	f.data.Incidents = append(f.data.Incidents, i)
	return f
}

func (f *fixture) timeline() *Timeline {
	f.tb.Helper()
	t, err := NewTimeline(f.data)
	if err != nil {
		f.tb.Fatal(err)
	}
	return t
}

// delivered returns, per deployment ID of the service, the SHAs it delivered.
func delivered(t *Timeline, service string) map[string][]string {
	out := map[string][]string{}
	for _, d := range t.Deployments(service) {
		out[d.ID] = []string{}
		for _, c := range d.Changes {
			out[d.ID] = append(out[d.ID], c.SHA)
		}
	}
	return out
}

func leadTimes(t *Timeline, service string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, d := range t.Deployments(service) {
		for _, c := range d.Changes {
			out[c.SHA] = max(d.At.Sub(c.AuthoredAt), 0)
		}
	}
	return out
}

func TestSquashMerge(t *testing.T) {
	tests := []struct {
		name string
		add  func(f *fixture)
		want time.Duration // lead time of the squash commit
	}{
		// From the first commit on the branch: 01-05 18:00 - 01-01 09:00 = 4d 9h.
		{"branch commits seen", func(f *fixture) {
			f.commit("o/r", "c1", "2025-01-01 09:00", "")
			f.commit("o/r", "c2", "2025-01-02 09:00", "")
		}, 105 * time.Hour},
		// From the pull request's opening: 01-05 18:00 - 01-02 18:00 = 3d.
		{"only the pull request", func(f *fixture) {}, 72 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.add(f)
			// The pull request, opened 01-02 18:00 and squash-merged 01-04
			// 12:00 as commit s1, whose own timestamp is the merge.
			f.data.Changes = append(f.data.Changes,
				Change{Repo: "o/r", SHA: "s1", PR: "5", Branch: "feature", AuthoredAt: at(t, "2025-01-02 18:00"), MergedAt: at(t, "2025-01-04 12:00")},
				Change{Repo: "o/r", SHA: "s1", Branch: "main", AuthoredAt: at(t, "2025-01-04 12:00"), MergedAt: at(t, "2025-01-04 12:00")},
			)
			for i := range f.data.Changes {
				if f.data.Changes[i].MergedAt.IsZero() {
					f.data.Changes[i].Branch = "feature"
				}
			}
			f.deploy("d1", "o/r", "s1", StatusSuccess, "2025-01-05 18:00")
			tl := f.timeline()
			if got, want := delivered(tl, "o/r")["d1"], []string{"s1"}; !slices.Equal(got, want) {
				t.Fatalf("delivered: got %v, want %v (branch commits are not changes of their own)", got, want)
			}
			if got := leadTimes(tl, "o/r")["s1"]; got != tt.want {
				t.Errorf("lead time: got %v, want %v", got, tt.want)
			}
		})
	}
}

// A branch reused by a later pull request gives its commits to that one.
func TestSquashMergeReusedBranch(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "b1", "2025-01-01 09:00", "").
		commit("o/r", "b2", "2025-01-10 09:00", "")
	for i := range f.data.Changes {
		f.data.Changes[i].Branch = "fix"
	}
	f.data.Changes = append(f.data.Changes,
		Change{Repo: "o/r", SHA: "s1", PR: "1", Branch: "fix", AuthoredAt: at(t, "2025-01-02 09:00"), MergedAt: at(t, "2025-01-02 10:00")},
		Change{Repo: "o/r", SHA: "s2", PR: "2", Branch: "fix", AuthoredAt: at(t, "2025-01-11 09:00"), MergedAt: at(t, "2025-01-11 10:00")},
	)
	f.deploy("d1", "o/r", "s2", StatusSuccess, "2025-01-12 09:00")
	lt := leadTimes(f.timeline(), "o/r")
	if got, want := lt["s1"], 11*24*time.Hour; got != want { // 01-12 09:00 - b1 01-01 09:00
		t.Errorf("s1: got %v, want %v", got, want)
	}
	if got, want := lt["s2"], 2*24*time.Hour; got != want { // 01-12 09:00 - b2 01-10 09:00
		t.Errorf("s2: got %v, want %v", got, want)
	}
}

// A merge-commit pull request lands its commits and the merge commit; each is
// one change however many records name it.
func TestMergeCommitNotDoubleCounted(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2025-01-01 09:00", "").                 // pushed to the branch
		commit("o/r", "c1", "2025-01-01 09:00", "2025-01-02 10:00"). // then landed with the merge
		commit("o/r", "m1", "2025-01-02 10:00", "2025-01-02 10:00")
	f.data.Changes = append(f.data.Changes,
		Change{Repo: "o/r", SHA: "m1", PR: "3", Branch: "feat", AuthoredAt: at(t, "2025-01-01 12:00"), MergedAt: at(t, "2025-01-02 10:00")})
	f.deploy("d1", "o/r", "m1", StatusSuccess, "2025-01-03 10:00")
	tl := f.timeline()
	if got, want := delivered(tl, "o/r")["d1"], []string{"c1", "m1"}; !slices.Equal(got, want) {
		t.Errorf("delivered: got %v, want %v", got, want)
	}
	lt := leadTimes(tl, "o/r")
	if got, want := lt["m1"], 46*time.Hour; got != want { // from the pull request's opening, 01-01 12:00
		t.Errorf("m1: got %v, want %v", got, want)
	}
}

func TestFirstDeploymentAndNoNewCommits(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2025-01-01 09:00", "2025-01-01 10:00").
		commit("o/r", "c2", "2025-01-02 09:00", "2025-01-02 10:00").
		commit("o/r", "c3", "2025-01-03 09:00", "2025-01-03 10:00").
		// First deployment, SHA unknown as a change: everything landed
		// before it is delivered.
		deploy("d1", "o/r", "", StatusSuccess, "2025-01-02 12:00").
		// Same content again, and a deployment whose SHA is unknown but made
		// before anything new landed: no new commits.
		deploy("d2", "o/r", "c2", StatusSuccess, "2025-01-02 13:00").
		deploy("d3", "o/r", "", StatusSuccess, "2025-01-02 14:00").
		deploy("d4", "o/r", "c3", StatusSuccess, "2025-01-04 09:00")
	tl := f.timeline()
	want := map[string][]string{"d1": {"c1", "c2"}, "d2": {}, "d3": {}, "d4": {"c3"}}
	got := delivered(tl, "o/r")
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("%s delivered %v, want %v", id, got[id], w)
		}
	}
	for _, d := range tl.Deployments("o/r") {
		if d.Rollback || d.Failed || d.Rework {
			t.Errorf("%s: rollback %v failed %v rework %v, want none", d.ID, d.Rollback, d.Failed, d.Rework)
		}
	}
	r, err := tl.Report(Query{From: at(t, "2025-01-01 00:00"), To: at(t, "2025-01-05 00:00")})
	if err != nil {
		t.Fatal(err)
	}
	// All four count as deployments; lead times: c1 27h, c2 3h, c3 24h.
	m := r.Overall.Total
	if m.Deployments != 4 || m.LeadTime != (Durations{3, 24 * time.Hour, 26*time.Hour + 24*time.Minute}) {
		t.Errorf("got %d deployments, lead %+v; want 4, {3 24h 26h24m}", m.Deployments, m.LeadTime)
	}
}

// TestBranchCommitDeployed: a deployment of a commit known only on
// another branch (a hotfix or release branch, a pull request deployed
// before it merges) delivers the default branch's changes made up to that
// commit, not those up to the deployment. Before, d1 of the hotfix h1 was
// credited with c2, which landed on main after the hotfix branch's commit
// and was not in it; d2, which shipped c2, delivered nothing, and c2's
// lead time read 5h instead of 23h.
func TestBranchCommitDeployed(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2025-01-01 09:00", "2025-01-01 10:00").
		commit("o/r", "h1", "2025-01-01 12:00", ""). // pushed to branch hotfix
		commit("o/r", "c2", "2025-01-01 13:00", "2025-01-01 14:00").
		deploy("d1", "o/r", "h1", StatusSuccess, "2025-01-01 18:00").
		deploy("d2", "o/r", "c2", StatusSuccess, "2025-01-02 12:00")
	f.data.ClockSkew = 5 * time.Minute
	tl := f.timeline()
	want := map[string][]string{"d1": {"c1"}, "d2": {"c2"}}
	got := delivered(tl, "o/r")
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("%s delivered %v, want %v", id, got[id], w)
		}
	}
	if lt := leadTimes(tl, "o/r"); lt["c2"] != 23*time.Hour {
		t.Errorf("lead time of c2 %v, want 23h (to d2)", lt["c2"])
	}
	for _, d := range tl.Deployments("o/r") {
		if d.Rollback || d.Failed || d.Rework {
			t.Errorf("%s: rollback %v failed %v rework %v, want none", d.ID, d.Rollback, d.Failed, d.Rework)
		}
	}
}

func TestRollbacks(t *testing.T) {
	base := func(t *testing.T) *fixture {
		return newFixture(t).
			commit("o/r", "v1", "2025-01-01 09:00", "2025-01-01 10:00").
			commit("o/r", "v2", "2025-01-02 09:00", "2025-01-02 10:00").
			commit("o/r", "v3", "2025-01-03 09:00", "2025-01-03 10:00").
			deploy("d1", "o/r", "v1", StatusSuccess, "2025-01-01 12:00").
			deploy("d2", "o/r", "v2", StatusSuccess, "2025-01-02 12:00").
			deploy("d3", "o/r", "v3", StatusSuccess, "2025-01-03 12:00")
	}
	tests := []struct {
		name       string
		rollback   Deployment
		rolledBack []string
	}{
		{"to a version deployed before", Deployment{SHA: "v1"}, []string{"d2", "d3"}},
		{"to the version before", Deployment{SHA: "v2"}, []string{"d3"}},
		// v1b landed after d1 and went out with d2: d2 and d3 are undone.
		{"to a commit never deployed by itself", Deployment{SHA: "v1b"}, []string{"d2", "d3"}},
		{"declared, content unknown", Deployment{Rollback: true}, []string{"d3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base(t)
			f.commit("o/r", "v1b", "2025-01-01 14:00", "2025-01-01 15:00")
			r := tt.rollback
			r.ID, r.Repo, r.Status, r.At, r.Environment, r.Production = "r", "o/r", StatusSuccess, at(t, "2025-01-03 13:00"), "prod", true
			f.data.Deployments = append(f.data.Deployments, r)
			var rolledBack []string
			var rollback DeploymentFacts
			for _, d := range f.timeline().Deployments("o/r") {
				if d.RolledBack {
					rolledBack = append(rolledBack, d.ID)
					if !d.Failed || !d.RecoveredAt.Equal(r.At) {
						t.Errorf("%s: failed %v recovered %v; want failed, recovered at the rollback", d.ID, d.Failed, d.RecoveredAt)
					}
				}
				if d.ID == "r" {
					rollback = d
				}
			}
			if !slices.Equal(rolledBack, tt.rolledBack) {
				t.Errorf("rolled back: got %v, want %v", rolledBack, tt.rolledBack)
			}
			if !rollback.Rollback || !rollback.Rework || len(rollback.Changes) != 0 {
				t.Errorf("rollback: got rollback %v rework %v changes %d; want a rework rollback delivering nothing",
					rollback.Rollback, rollback.Rework, len(rollback.Changes))
			}
		})
	}
}

// TestRollForward: after a rollback from v2 to v1, deploying v2 again rolls
// forward: it is neither a rollback (rework) nor does it mark the rollback
// deployment as rolled back (failed), whether the commits are known as
// changes or not. Going back to v1 afterwards is a rollback again.
func TestRollForward(t *testing.T) {
	type want struct{ rollback, rolledBack, failed, rework bool }
	for _, tc := range []struct {
		name   string
		known  bool // the commits are recorded changes
		extra  bool // a last deployment of v1 after the roll forward
		expect map[string]want
	}{
		{"known commits", true, false, map[string]want{
			"d1": {}, "d2": {rolledBack: true, failed: true}, "r": {rollback: true, rework: true}, "d4": {},
		}},
		{"unknown commits", false, false, map[string]want{
			"d1": {}, "d2": {rolledBack: true, failed: true}, "r": {rollback: true, rework: true}, "d4": {},
		}},
		{"known commits, rolled back again", true, true, map[string]want{
			"d1": {}, "d2": {rolledBack: true, failed: true}, "r": {rollback: true, rework: true},
			"d4": {rolledBack: true, failed: true}, "r2": {rollback: true, rework: true},
		}},
		{"unknown commits, rolled back again", false, true, map[string]want{
			"d1": {}, "d2": {rolledBack: true, failed: true}, "r": {rollback: true, rework: true},
			"d4": {rolledBack: true, failed: true}, "r2": {rollback: true, rework: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.known {
				f.commit("o/r", "a1", "2025-01-01 09:00", "2025-01-01 10:00").
					commit("o/r", "b2", "2025-01-02 09:00", "2025-01-02 10:00")
			}
			f.deploy("d1", "o/r", "a1", StatusSuccess, "2025-01-01 12:00").
				deploy("d2", "o/r", "b2", StatusSuccess, "2025-01-02 12:00").
				deploy("r", "o/r", "a1", StatusSuccess, "2025-01-02 13:00").
				deploy("d4", "o/r", "b2", StatusSuccess, "2025-01-02 15:00")
			if tc.extra {
				f.deploy("r2", "o/r", "a1", StatusSuccess, "2025-01-02 16:00")
			}
			for _, d := range f.timeline().Deployments("o/r") {
				got := want{d.Rollback, d.RolledBack, d.Failed, d.Rework}
				if got != tc.expect[d.ID] {
					t.Errorf("%s: got %+v, want %+v", d.ID, got, tc.expect[d.ID])
				}
			}
		})
	}
}

func TestDeploymentStatuses(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2025-01-01 09:00", "2025-01-01 10:00").
		deploy("d1", "o/r", "c1", StatusPending, "2025-01-01 11:00").
		deploy("d1", "o/r", "c1", StatusSuccess, "2025-01-01 11:05").
		deploy("d1", "o/r", "c1", StatusPending, "2025-01-01 11:05"). // same time: the outcome wins
		deploy("d2", "o/r", "c1", StatusPending, "2025-01-01 12:00"). // never finished: not counted
		deploy("d3", "o/r", "c1", StatusCanceled, "2025-01-01 13:00")
	f.data.Deployments = append(f.data.Deployments,
		Deployment{ID: "s1", Repo: "o/r", SHA: "c1", Status: StatusSuccess, At: at(t, "2025-01-01 10:30"), Environment: "production"})
	got := f.timeline().Deployments("o/r")
	if len(got) != 1 || got[0].ID != "d1" || got[0].Status != StatusSuccess || !got[0].At.Equal(at(t, "2025-01-01 11:05")) {
		t.Fatalf("got %+v; want d1 alone, successful at 11:05 (\"production\" by name only is not production)", got)
	}
}

func TestIncidentLinks(t *testing.T) {
	base := func(t *testing.T) *fixture {
		return newFixture(t).
			commit("o/r", "c1", "2025-01-01 09:00", "2025-01-01 10:00").
			commit("o/r", "c2", "2025-01-02 09:00", "2025-01-02 10:00").
			deploy("d1", "o/r", "c1", StatusSuccess, "2025-01-01 12:00").
			deploy("d2", "o/r", "c2", StatusSuccess, "2025-01-02 12:00")
	}
	tests := []struct {
		name  string
		inc   Incident
		cause string // "" none
	}{
		{"latest deployment before it", Incident{OpenedAt: at(t, "2025-01-02 13:00")}, "d2"},
		{"explicit deployment", Incident{OpenedAt: at(t, "2025-01-02 13:00"), DeploymentID: "d1"}, "d1"},
		{"cause commit", Incident{OpenedAt: at(t, "2025-01-02 13:00"), CauseSHA: "C1"}, "d1"},
		{"cause commit unknown: latest", Incident{OpenedAt: at(t, "2025-01-02 13:00"), CauseSHA: "ffff"}, "d2"},
		{"before any deployment", Incident{OpenedAt: at(t, "2024-12-31 13:00")}, ""},
		{"skew within tolerance", Incident{OpenedAt: at(t, "2025-01-02 11:58")}, "d2"},
		{"earlier than the tolerance", Incident{OpenedAt: at(t, "2025-01-02 11:50")}, "d1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base(t)
			f.data.ClockSkew = 5 * time.Minute
			inc := tt.inc
			inc.ID, inc.Repo = "i1", "o/r"
			resolved := inc.OpenedAt.Add(time.Hour)
			inc.ResolvedAt = &resolved
			f.data.Incidents = []Incident{inc}
			tl := f.timeline()
			cause := ""
			for _, d := range tl.Deployments("o/r") {
				if len(d.Incidents) > 0 {
					cause = d.ID
					if !d.Failed || !d.RecoveredAt.Equal(resolved) {
						t.Errorf("%s: failed %v, recovered %v; want failed, recovered %v", d.ID, d.Failed, d.RecoveredAt, resolved)
					}
				} else if d.Failed {
					t.Errorf("%s failed without a cause", d.ID)
				}
			}
			if cause != tt.cause {
				t.Errorf("cause: got %q, want %q", cause, tt.cause)
			}
			r, err := tl.Report(Query{From: at(t, "2024-12-01 00:00"), To: at(t, "2025-02-01 00:00")})
			if err != nil {
				t.Fatal(err)
			}
			m := r.Overall.Total
			wantUnlinked, wantFailed := 0, 1
			if tt.cause == "" {
				wantUnlinked, wantFailed = 1, 0
			}
			if m.Incidents != 1 || m.Unlinked != wantUnlinked || m.Failed != wantFailed {
				t.Errorf("incidents %d unlinked %d failed %d; want 1, %d, %d", m.Incidents, m.Unlinked, m.Failed, wantUnlinked, wantFailed)
			}
		})
	}
}

// Snapshots of one incident: the latest wins, so a reopened incident is open
// again until closed again, and its recovery uses the last close.
func TestIncidentReopened(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2025-01-01 09:00", "2025-01-01 10:00").
		deploy("d1", "o/r", "c1", StatusSuccess, "2025-01-01 12:00").
		incident("i1", "o/r", "2025-01-01 13:00", "2025-01-01 14:00")
	reopened := f.data.Incidents[0]
	reopened.ResolvedAt, reopened.UpdatedAt = nil, at(t, "2025-01-01 15:00")
	f.data.Incidents = append(f.data.Incidents, reopened)
	d := f.timeline().Deployments("o/r")[0]
	if !d.Failed || !d.RecoveredAt.IsZero() {
		t.Fatalf("after reopening: failed %v recovered %v; want failed, not recovered", d.Failed, d.RecoveredAt)
	}
	closed := reopened
	closed.ResolvedAt, closed.UpdatedAt = new(at(t, "2025-01-01 18:00")), at(t, "2025-01-01 18:00")
	f.data.Incidents = append(f.data.Incidents, closed)
	d = f.timeline().Deployments("o/r")[0]
	if !d.RecoveredAt.Equal(at(t, "2025-01-01 18:00")) {
		t.Errorf("recovered at %v; want 18:00, the last close", d.RecoveredAt)
	}
}

// A commit dated after the deployment that delivered it (clocks disagree)
// counts with a lead time of 0, not a negative one.
func TestNegativeLeadTimeClamped(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2025-01-01 12:03", "2025-01-01 11:59").
		deploy("d1", "o/r", "c1", StatusSuccess, "2025-01-01 12:00")
	r, err := f.timeline().Report(Query{From: at(t, "2025-01-01 00:00"), To: at(t, "2025-01-02 00:00")})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Overall.Total.LeadTime; got != (Durations{Count: 1}) {
		t.Errorf("lead time: got %+v, want one change of 0", got)
	}
}

func TestMonorepoMapping(t *testing.T) {
	f := newFixture(t,
		Service{Name: "web", Team: "front", Sources: []Source{{Repo: "Acme/Mono", Path: "web/"}}},
		Service{Name: "web-admin", Team: "front", Sources: []Source{{Repo: "acme/mono", Path: "web/admin"}}},
		Service{Name: "worker", Team: "back", Sources: []Source{{Repo: "acme/mono", Path: "/worker"}, {Repo: "acme/worker-lib"}}},
	).
		commit("acme/mono", "c1", "2025-01-01 09:00", "2025-01-01 10:00", "web/a.go").
		commit("acme/mono", "c2", "2025-01-01 09:00", "2025-01-01 10:00", "web/admin/b.go", "worker/c.go").
		commit("acme/mono", "c3", "2025-01-01 09:00", "2025-01-01 10:00", "webby/x.go"). // matches no prefix
		commit("acme/mono", "c4", "2025-01-01 09:00", "2025-01-01 10:00").               // files unknown
		commit("ACME/worker-lib", "c5", "2025-01-01 09:00", "2025-01-01 10:00").
		commit("other/repo", "c6", "2025-01-01 09:00", "2025-01-01 10:00").
		deploy("d1", "acme/mono", "", StatusSuccess, "2025-01-01 12:00"). // the whole monorepo
		deploy("d2", "acme/worker-lib", "", StatusSuccess, "2025-01-01 12:00").
		deploy("d3", "other/repo", "", StatusSuccess, "2025-01-01 12:00")
	tl := f.timeline()
	want := map[string][]string{
		"web":        {"c1", "c3", "c4"},
		"web-admin":  {"c2", "c3", "c4"},
		"worker":     {"c2", "c3", "c4", "c5"},
		"other/repo": {"c6"},
	}
	for service, w := range want {
		var got []string
		for _, d := range tl.Deployments(service) {
			for _, c := range d.Changes {
				got = append(got, c.SHA)
			}
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s: got changes %v, want %v", service, got, w)
		}
	}
	if got, want := tl.Services(), []string{"other/repo", "web", "web-admin", "worker"}; !slices.Equal(got, want) {
		t.Errorf("services: got %v, want %v", got, want)
	}
	r, err := tl.Report(Query{From: at(t, "2025-01-01 00:00"), To: at(t, "2025-01-02 00:00"), Teams: []string{"front"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Services) != 2 || len(r.Teams) != 1 || r.Teams[0].Name != "front" || r.Overall.Total.Deployments != 2 {
		t.Errorf("team filter: got %d services, teams %+v, %d deployments; want web and web-admin only",
			len(r.Services), r.Teams, r.Overall.Total.Deployments)
	}
}

func TestRedeliveredRecordsAreIdempotent(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2025-01-01 09:00", "2025-01-01 10:00").
		deploy("d1", "o/r", "c1", StatusSuccess, "2025-01-01 12:00").
		incident("i1", "o/r", "2025-01-01 13:00", "2025-01-01 14:00")
	q := Query{From: at(t, "2025-01-01 00:00"), To: at(t, "2025-01-02 00:00")}
	once, err := f.timeline().Report(q)
	if err != nil {
		t.Fatal(err)
	}
	f.data.Changes = append(f.data.Changes, f.data.Changes...)
	f.data.Deployments = append(f.data.Deployments, f.data.Deployments...)
	f.data.Incidents = append(f.data.Incidents, f.data.Incidents...)
	twice, err := f.timeline().Report(q)
	if err != nil {
		t.Fatal(err)
	}
	if once.Overall.Total != twice.Overall.Total {
		t.Errorf("with every record twice:\ngot  %+v\nwant %+v", twice.Overall.Total, once.Overall.Total)
	}
}

func TestInvalidRecordsSkipped(t *testing.T) {
	f := newFixture(t).commit("o/r", "c1", "2025-01-01 09:00", "2025-01-01 10:00")
	f.data.Changes = append(f.data.Changes, Change{Repo: "o/r", SHA: "c2"}) // no time
	f.data.Deployments = append(f.data.Deployments, Deployment{ID: "d", Repo: "o/r", Status: "done", At: at(t, "2025-01-01 12:00")})
	f.data.Incidents = append(f.data.Incidents,
		Incident{ID: "i", Repo: "o/r", OpenedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		Incident{ID: "j", Repo: "o/r", OpenedAt: at(t, "2025-01-01 13:00"), ResolvedAt: new(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))},
		// Resolved before it opened, by another tool's clock: kept.
		Incident{ID: "k", Repo: "o/r", OpenedAt: at(t, "2025-01-01 13:00"), ResolvedAt: new(at(t, "2025-01-01 12:59"))},
	)
	tl := f.timeline()
	if got := tl.Skipped; got != 4 {
		t.Errorf("skipped %d records, want 4", got)
	}
	r, err := tl.Report(Query{From: at(t, "2025-01-01 00:00"), To: at(t, "2025-01-02 00:00")})
	if err != nil || r.Overall.Total.Incidents != 1 {
		t.Errorf("got %d incidents, %v; want the one resolved \"before\" it opened", r.Overall.Total.Incidents, err)
	}
}

func TestChangeIndex(t *testing.T) {
	const (
		a     = "0123456789abcdef1111111111111111111111aa" // a git SHA
		b     = "0123456789abcdef2222222222222222222222bb" // the same first 16 digits
		upper = "0123456789ABCDEF1111111111111111111111AA" // a's digits in upper case: another string
		tag   = "release-2025.05"                          // not a SHA at all
	)
	when := at(t, "2025-01-01 10:00")
	var recs []Change
	for _, c := range []struct{ repo, sha string }{
		{"o/r", a}, {"o/r", b}, {"o/r", upper}, {"o/r", tag}, {"O/R", a}, {"o/other", a}, {"o/r", tag},
	} {
		recs = append(recs, Change{Repo: c.repo, SHA: c.sha, AuthoredAt: when, MergedAt: when})
	}
	tl, err := NewTimeline(Data{Changes: recs})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tl.ch); got != 5 {
		t.Errorf("got %d changes, want 5: a, b, upper and tag in o/r (a and tag named twice), a in o/other", got)
	}
	seen := map[int32]string{}
	for _, q := range []struct{ repo, sha string }{{"o/r", a}, {"o/r", b}, {"o/r", upper}, {"o/r", tag}, {"o/other", a}} {
		j, ok := tl.lookupName(q.repo, q.sha, anyTime)
		if !ok {
			t.Errorf("%s %s not found", q.repo, q.sha)
			continue
		}
		if other, dup := seen[j]; dup {
			t.Errorf("%s %s found as %s", q.repo, q.sha, other)
		}
		seen[j] = q.repo + " " + q.sha
		if got := tl.recs[tl.ch[j].rec]; got.SHA != q.sha || !strings.EqualFold(got.Repo, q.repo) {
			t.Errorf("%s %s found as %s %s", q.repo, q.sha, got.Repo, got.SHA)
		}
	}
	for _, q := range []struct{ repo, sha string }{{"o/r", "0123456789abcdef3333333333333333333333cc"}, {"o/none", a}, {"o/r", ""}} {
		if _, ok := tl.lookupName(q.repo, q.sha, anyTime); ok {
			t.Errorf("%s %q found; want not", q.repo, q.sha)
		}
	}
}

// TestIndexSharedPrefixes: SHAs that share a long prefix (zero-padded
// counters, as a script might send) must still spread over the index, or
// building it turns quadratic. The test counts probes.
func TestIndexSharedPrefixes(t *testing.T) {
	const n = 50000
	changes := make([]Change, n)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range changes {
		changes[i] = Change{Repo: "acme/app", SHA: fmt.Sprintf("%040x", i), AuthoredAt: at, MergedAt: at}
	}
	tl, err := NewTimeline(Data{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	x := &tl.index
	probes := 0
	for i := range changes {
		k := keyOf(changes[i].SHA)
		for s := x.home(k); x.slots[s].id != 0; s = (s + 1) & (len(x.slots) - 1) {
			probes++
			if x.slots[s].shaKey == k {
				break
			}
		}
	}
	if avg := float64(probes) / n; avg > 4 {
		t.Errorf("average probes per lookup = %.1f, want a few: keys are not spread", avg)
	}
	if _, ok := tl.lookupName("acme/app", fmt.Sprintf("%040x", 4242), anyTime); !ok {
		t.Error("lookup of a stored SHA failed")
	}
}

// TestDeploymentLeadTimes: a deployment's changes' lead times are counted
// as the metrics count them, committed → deployed with a commit dated after
// its deployment at 0, and their median is interpolated between the two
// middle ones (what deploy list and the dashboard show).
func TestDeploymentLeadTimes(t *testing.T) {
	deployed := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	d := DeploymentFacts{Deployment: Deployment{At: deployed}}
	if _, ok := d.MedianLeadTime(); ok {
		t.Error("a deployment of no change has a median lead time")
	}
	for _, ago := range []time.Duration{4 * time.Hour, -time.Hour, time.Hour, 2 * time.Hour} {
		d.Changes = append(d.Changes, Change{AuthoredAt: deployed.Add(-ago)})
	}
	if got := d.LeadTime(d.Changes[1]); got != 0 {
		t.Errorf("lead time of a commit dated after its deployment: %v, want 0", got)
	}
	if got, ok := d.MedianLeadTime(); !ok || got != 90*time.Minute {
		t.Errorf("median lead time of 4h, 0, 1h, 2h: %v, %v; want 1h30m", got, ok)
	}
}

// TestForgePRWins: a commit recorded by a forge's webhook as pull request
// 12 and by hand ('change record --pr 99') is pull request 12, in whichever
// order the records arrived: the forge merged it, and the number typed by
// hand may be a typo. Before, the later record won, so the pull request
// (and with it the reviews and the branch its lead time breakdown reads)
// depended on arrival order.
func TestForgePRWins(t *testing.T) {
	forge := Change{Repo: "o/r", SHA: shaX1, PR: "12", Branch: "feature", AuthoredAt: at(t, "2026-03-02 08:00"), MergedAt: at(t, "2026-03-02 09:00")}
	hand := Change{Repo: "o/r", SHA: shaX1, PR: "99", AuthoredAt: at(t, "2026-03-02 08:00"), MergedAt: at(t, "2026-03-02 09:00"), ByHand: true}
	for _, tt := range []struct {
		name    string
		records []Change
		want    string
	}{
		{"forge first", []Change{forge, hand}, "12"},
		{"hand first", []Change{hand, forge}, "12"},
		{"hand only", []Change{hand}, "99"},
		{"forge, then another forge record", []Change{forge, func() Change { c := forge; c.PR = "13"; return c }()}, "13"},
	} {
		f := newFixture(t)
		f.data.Changes = tt.records
		f.deploy("d1", "o/r", shaX1, StatusSuccess, "2026-03-02 12:00")
		deps := f.timeline().Deployments("o/r")
		if len(deps) != 1 || len(deps[0].Changes) != 1 || deps[0].Changes[0].PR != tt.want {
			t.Errorf("%s: delivered %+v; want one change, pull request %s", tt.name, deps, tt.want)
		}
	}
}
