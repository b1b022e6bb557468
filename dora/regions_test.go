package dora

import "testing"

// TestRollbacksPerEnvironment: a service in two production regions, each
// deployed by its own pipeline. Commits c2 and c3 land five minutes apart;
// Europe's pipeline deploys both before America's deploys c2. America
// deploying c2 after Europe runs c3 is not a rollback: America never ran
// c3. It was taken for one, and Europe's c3 for a failed deployment rolled
// back (a change failure and rework that never happened). A deployment of
// an older commit to the same region still is a rollback, of that region's
// deployment only.
func TestRollbacksPerEnvironment(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2026-03-02 07:00", "2026-03-02 08:00").
		commit("o/r", "c2", "2026-03-02 08:30", "2026-03-02 09:00").
		commit("o/r", "c3", "2026-03-02 08:40", "2026-03-02 09:05")
	deploy := func(id, env, sha, when string) {
		f.deploy(id, "o/r", sha, StatusSuccess, when)
		f.data.Deployments[len(f.data.Deployments)-1].Environment = env
	}
	deploy("eu1", "production-eu", "c1", "2026-03-02 08:30")
	deploy("us1", "production-us", "c1", "2026-03-02 08:40")
	deploy("eu2", "production-eu", "c2", "2026-03-02 10:00")
	deploy("eu3", "production-eu", "c3", "2026-03-02 10:05")
	deploy("us2", "production-us", "c2", "2026-03-02 10:10")
	deploy("us3", "production-us", "c3", "2026-03-02 10:15")
	deploy("eu4", "production-eu", "c2", "2026-03-02 11:00") // Europe back to c2
	tl := f.timeline()
	for _, d := range tl.Deployments("o/r") {
		if want := d.ID == "eu4"; d.Rollback != want {
			t.Errorf("%s: rollback %v, want %v", d.ID, d.Rollback, want)
		}
		if want := d.ID == "eu3"; d.RolledBack != want || d.Failed != want {
			t.Errorf("%s: rolled back %v, failed %v; want %v", d.ID, d.RolledBack, d.Failed, want)
		}
	}
	r, err := tl.Report(Query{From: at(t, "2026-03-02 00:00"), To: at(t, "2026-03-03 00:00")})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Overall.Total
	if m.Deployments != 7 || m.Failed != 1 || m.Rework != 1 || m.LeadTime.Count != 3 {
		t.Errorf("deployments %d, failed %d, rework %d, lead times %d; want 7, 1 (eu3), 1 (eu4), 3", m.Deployments, m.Failed, m.Rework, m.LeadTime.Count)
	}
}

// TestFailedRunRecoveryPerEnvironment: a run that failed to deploy to one
// region is recovered by the next successful deployment to that region,
// not by another region's deployment meanwhile.
func TestFailedRunRecoveryPerEnvironment(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "c1", "2026-03-02 07:00", "2026-03-02 08:00").
		commit("o/r", "c2", "2026-03-02 08:30", "2026-03-02 09:00")
	deploy := func(id, env, sha, status, when string) {
		f.deploy(id, "o/r", sha, status, when)
		f.data.Deployments[len(f.data.Deployments)-1].Environment = env
	}
	deploy("eu1", "production-eu", "c1", StatusSuccess, "2026-03-02 08:30")
	deploy("us1", "production-us", "c1", StatusSuccess, "2026-03-02 08:40")
	deploy("eu2", "production-eu", "c2", StatusFailure, "2026-03-02 10:00")
	deploy("us2", "production-us", "c2", StatusSuccess, "2026-03-02 10:05")
	deploy("eu3", "production-eu", "c2", StatusSuccess, "2026-03-02 11:00")
	for _, d := range f.timeline().Deployments("o/r") {
		if d.ID == "eu2" && !d.RecoveredAt.Equal(at(t, "2026-03-02 11:00")) {
			t.Errorf("eu2 recovered at %v, want 11:00 (eu3), not us2's 10:05", d.RecoveredAt)
		}
	}
}
