package dora

import (
	"testing"
	"time"
)

// TestRecoveryTimeDefinition pins the failed-deployment recovery time as
// documented (Metrics.Recovery, docs/delivery.md), computed by hand: from
// the failed deployment to when production was restored, the earliest of
// the rollback that took it out and the resolution of its incidents; for a
// run that failed (never reached production), the next successful
// deployment. A fix-forward deployment made while its incident is open
// does not end the failure: the incident's resolution does (the docs' table
// said "the earliest of the next successful deployment, …" for every failed
// deployment, which would give B2 30 minutes).
//
//	o/a  A2 failed run 10:00; A3 succeeds 10:20                      → 20m
//	o/b  B2 10:00, incident 10:10–12:00; fix-forward B3 10:30          → 2h
//	o/c  C2 10:00, incident 10:10–11:30; C3 rolls back to c1 at 10:45 → 45m
//	o/d  D2 10:00, incident 10:10 still open; D3 (newer) 11:00        → not recovered
func TestRecoveryTimeDefinition(t *testing.T) {
	f := newFixture(t)
	for _, r := range []string{"o/a", "o/b", "o/c", "o/d"} {
		f.commit(r, r+"1", "2026-01-05 08:00", "2026-01-05 08:00").
			commit(r, r+"2", "2026-01-05 09:30", "2026-01-05 09:30").
			commit(r, r+"3", "2026-01-05 10:15", "2026-01-05 10:15").
			deploy(r+"-1", r, r+"1", StatusSuccess, "2026-01-05 09:00")
	}
	f.deploy("o/a-2", "o/a", "o/a2", StatusFailure, "2026-01-05 10:00").
		deploy("o/a-3", "o/a", "o/a2", StatusSuccess, "2026-01-05 10:20").
		deploy("o/b-2", "o/b", "o/b2", StatusSuccess, "2026-01-05 10:00").
		incident("inc-b", "o/b", "2026-01-05 10:10", "2026-01-05 12:00").
		deploy("o/b-3", "o/b", "o/b3", StatusSuccess, "2026-01-05 10:30").
		deploy("o/c-2", "o/c", "o/c2", StatusSuccess, "2026-01-05 10:00").
		incident("inc-c", "o/c", "2026-01-05 10:10", "2026-01-05 11:30").
		deploy("o/c-3", "o/c", "o/c1", StatusSuccess, "2026-01-05 10:45").
		deploy("o/d-2", "o/d", "o/d2", StatusSuccess, "2026-01-05 10:00").
		incident("inc-d", "o/d", "2026-01-05 10:10", "").
		deploy("o/d-3", "o/d", "o/d3", StatusSuccess, "2026-01-05 11:00")
	tl := f.timeline()
	for _, tt := range []struct {
		service, id string
		recovery    time.Duration // 0: failed, not recovered
	}{
		{"o/a", "o/a-2", 20 * time.Minute},
		{"o/b", "o/b-2", 2 * time.Hour},
		{"o/c", "o/c-2", 45 * time.Minute},
		{"o/d", "o/d-2", 0},
	} {
		var facts *DeploymentFacts
		deps := tl.Deployments(tt.service)
		for i := range deps {
			if deps[i].ID == tt.id {
				facts = &deps[i]
			}
		}
		if facts == nil || !facts.Failed {
			t.Errorf("%s: %+v; want a failed deployment", tt.id, facts)
			continue
		}
		var got time.Duration
		if !facts.RecoveredAt.IsZero() {
			got = facts.RecoveredAt.Sub(facts.At)
		}
		if got != tt.recovery {
			t.Errorf("%s recovered after %v, want %v (0: not yet)", tt.id, got, tt.recovery)
		}
	}
	r, err := tl.Report(Query{From: at(t, "2026-01-05 00:00"), To: at(t, "2026-01-06 00:00")})
	if err != nil {
		t.Fatal(err)
	}
	// Overall: recoveries 20m, 45m, 2h → median 45m; one not recovered.
	if m := r.Overall.Total; m.Recovery.Count != 3 || m.Recovery.Median != 45*time.Minute || m.Unrecovered != 1 {
		t.Errorf("overall recovery %+v, %d unrecovered; want 3 with median 45m, 1 unrecovered", m.Recovery, m.Unrecovered)
	}
}

// TestRecoveryTieOrder: a failed run and a successful deployment to the
// same environment at the same instant. Which came first is unknown, and
// the figures must not depend on the deployments' IDs (nor on the order
// the records arrived in): the success at that instant is what production
// runs, so the failed run is recovered at once. Before, deployments at one
// instant were ordered by ID, so a failure named "z…" stayed unrecovered
// until the next success (hours later here) and one named "a…" recovered
// in 0s.
func TestRecoveryTieOrder(t *testing.T) {
	for _, ids := range [][2]string{{"a-fail", "b-ok"}, {"z-fail", "b-ok"}} {
		for _, failFirst := range []bool{true, false} {
			f := newFixture(t).
				commit("o/r", "c1", "2026-01-05 08:00", "2026-01-05 08:00").
				commit("o/r", "c2", "2026-01-05 09:00", "2026-01-05 09:00")
			fail := func() { f.deploy(ids[0], "o/r", "c2", StatusFailure, "2026-01-05 10:00") }
			ok := func() { f.deploy(ids[1], "o/r", "c1", StatusSuccess, "2026-01-05 10:00") }
			if failFirst {
				fail()
				ok()
			} else {
				ok()
				fail()
			}
			f.deploy("c-later", "o/r", "c2", StatusSuccess, "2026-01-05 14:00")
			r, err := f.timeline().Report(Query{From: at(t, "2026-01-05 00:00"), To: at(t, "2026-01-06 00:00"), Bucket: BucketNone})
			if err != nil {
				t.Fatal(err)
			}
			m := r.Overall.Total
			if m.Failed != 1 || m.Attempts != 3 || m.Unrecovered != 0 || m.Recovery.Count != 1 || m.Recovery.Median != 0 {
				t.Errorf("ids %v, failure recorded first %v: failed %d of %d, recovered %d (median %v), unrecovered %d; want 1 of 3, recovered in 0s",
					ids, failFirst, m.Failed, m.Attempts, m.Recovery.Count, m.Recovery.Median, m.Unrecovered)
			}
		}
	}
}

// TestStatusTieOrder: two statuses of one deployment at one instant (a
// forge dates its statuses to the second; a deploy tool reports success
// and its health check fails it within that second). The figures must not
// depend on the order the records arrived in: the status that says most
// of what reached production wins, failure over success over canceled
// over pending. Before, the last to arrive won: the deployment counted as
// failed or not as the webhooks raced.
func TestStatusTieOrder(t *testing.T) {
	for _, pair := range [][2]string{
		{StatusSuccess, StatusFailure},
		{StatusFailure, StatusSuccess},
		{StatusCanceled, StatusFailure},
		{StatusFailure, StatusCanceled},
		{StatusPending, StatusFailure},
		{StatusFailure, StatusPending},
	} {
		f := newFixture(t).
			commit("o/r", "c1", "2026-01-05 08:00", "2026-01-05 08:00").
			deploy("d", "o/r", "c1", pair[0], "2026-01-05 10:00").
			deploy("d", "o/r", "c1", pair[1], "2026-01-05 10:00").
			deploy("later", "o/r", "c1", StatusSuccess, "2026-01-05 14:00")
		r, err := f.timeline().Report(Query{From: at(t, "2026-01-05 00:00"), To: at(t, "2026-01-06 00:00"), Bucket: BucketNone})
		if err != nil {
			t.Fatal(err)
		}
		if m := r.Overall.Total; m.Failed != 1 || m.Attempts != 2 {
			t.Errorf("statuses %v at one instant, in that order: failed %d of %d attempts, want 1 of 2 (the failure wins)", pair, m.Failed, m.Attempts)
		}
	}
	// Success over canceled: the deployment reached production.
	for _, pair := range [][2]string{{StatusSuccess, StatusCanceled}, {StatusCanceled, StatusSuccess}} {
		f := newFixture(t).
			commit("o/r", "c1", "2026-01-05 08:00", "2026-01-05 08:00").
			deploy("d", "o/r", "c1", pair[0], "2026-01-05 10:00").
			deploy("d", "o/r", "c1", pair[1], "2026-01-05 10:00")
		r, err := f.timeline().Report(Query{From: at(t, "2026-01-05 00:00"), To: at(t, "2026-01-06 00:00"), Bucket: BucketNone})
		if err != nil {
			t.Fatal(err)
		}
		if m := r.Overall.Total; m.Attempts != 1 || m.Failed != 0 {
			t.Errorf("statuses %v at one instant, in that order: %d attempts, %d failed; want 1 success", pair, m.Attempts, m.Failed)
		}
	}
}
