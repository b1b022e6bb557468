package dora

import (
	"math/bits"
	"slices"
	"strings"
	"testing"
	"time"
)

// Full SHAs of the tests of abbreviated commits.
const (
	shaX1 = "1111111aaaa1111111111111111111111111111a"
	shaX2 = "2222222bbbb2222222222222222222222222222b"
	shaX3 = "3333333cccc3333333333333333333333333333c"
)

// TestAbbreviatedSHAs: a CI job records its deployment with the SHA it
// printed, abbreviated (valueloop deploy record --sha 1111111, as the docs
// show), while the webhooks recorded the changes with full SHAs (and the
// other way round). An abbreviation is the commit it abbreviates, as for
// git: the deployment of x1 delivers x1, not x2 that landed after it, and a
// deployment of an older commit by its abbreviation is a rollback.
func TestAbbreviatedSHAs(t *testing.T) {
	f := newFixture(t).
		commit("o/r", shaX1, "2026-03-02 08:00", "2026-03-02 09:00").
		commit("o/r", shaX2, "2026-03-02 10:00", "2026-03-02 11:00").
		commit("o/r", shaX3[:9], "2026-03-03 08:00", "2026-03-03 09:00"). // recorded abbreviated
		deploy("d1", "o/r", shaX1[:7], StatusSuccess, "2026-03-02 12:00").
		deploy("d2", "o/r", shaX2, StatusSuccess, "2026-03-02 14:00").
		deploy("d3", "o/r", shaX1[:7], StatusSuccess, "2026-03-02 16:00"). // back to x1
		deploy("d4", "o/r", shaX3, StatusSuccess, "2026-03-03 12:00")
	tl := f.timeline()
	got := delivered(tl, "o/r")
	for id, want := range map[string][]string{"d1": {shaX1}, "d2": {shaX2}, "d3": {}, "d4": {shaX3[:9]}} {
		if !slices.Equal(got[id], want) {
			t.Errorf("%s delivered %v, want %v", id, got[id], want)
		}
	}
	if lt := leadTimes(tl, "o/r")[shaX2]; lt != 4*time.Hour {
		t.Errorf("lead time of x2: got %v, want 4h (10:00 → d2 at 14:00)", lt)
	}
	for _, d := range tl.Deployments("o/r") {
		if want := d.ID == "d3"; d.Rollback != want {
			t.Errorf("%s: rollback %v, want %v", d.ID, d.Rollback, want)
		}
		if want := d.ID == "d2"; d.RolledBack != want {
			t.Errorf("%s: rolled back %v, want %v", d.ID, d.RolledBack, want)
		}
	}
	// A rollback recorded by hand to x1, abbreviated, restores what d1 ran.
	rb := Deployment{ID: "r", Repo: "o/r", Environment: "prod", Production: true, SHA: shaX1[:7],
		Status: StatusSuccess, At: at(t, "2026-03-04 12:00"), Rollback: true}
	if err := tl.CheckRollback(rb); err != nil {
		t.Errorf("CheckRollback(%s): %v", rb.SHA, err)
	}
	rb.SHA = shaX2[:8] // d2's, recorded in full
	if err := tl.CheckRollback(rb); err != nil {
		t.Errorf("CheckRollback(%s): %v", rb.SHA, err)
	}
}

// TestAbbreviatedRollback: production ran x1 then x2, both deployed by
// webhooks with full SHAs; a deployment of x1 by its abbreviation takes x2
// out of production.
func TestAbbreviatedRollback(t *testing.T) {
	f := newFixture(t).
		commit("o/r", shaX1, "2026-03-02 08:00", "2026-03-02 09:00").
		commit("o/r", shaX2, "2026-03-02 10:00", "2026-03-02 11:00").
		deploy("d1", "o/r", shaX1, StatusSuccess, "2026-03-02 12:00").
		deploy("d2", "o/r", shaX2, StatusSuccess, "2026-03-02 14:00").
		deploy("d3", "o/r", shaX1[:7], StatusSuccess, "2026-03-02 16:00")
	for _, d := range f.timeline().Deployments("o/r") {
		if want := d.ID == "d3"; d.Rollback != want {
			t.Errorf("%s: rollback %v, want %v", d.ID, d.Rollback, want)
		}
		if want := d.ID == "d2"; d.RolledBack != want || (d.ID == "d2" && d.RecoveredAt.IsZero()) {
			t.Errorf("%s: rolled back %v (recovered at %v), want %v", d.ID, d.RolledBack, d.RecoveredAt, want)
		}
	}
}

// TestAbbreviatedSHAAmbiguous: an abbreviation that two commits share
// names neither (git refuses it too): the deployment's commit is unknown.
func TestAbbreviatedSHAAmbiguous(t *testing.T) {
	f := newFixture(t).
		commit("o/r", "abcdef01"+shaX1[8:], "2026-03-02 08:00", "2026-03-02 09:00").
		commit("o/r", "abcdef02"+shaX1[8:], "2026-03-02 10:00", "2026-03-02 11:00").
		deploy("d1", "o/r", "abcdef0", StatusSuccess, "2026-03-02 12:00")
	if got := delivered(f.timeline(), "o/r")["d1"]; len(got) != 2 {
		t.Errorf("d1 delivered %v, want both (its commit unknown, what landed before it)", got)
	}
}

// TestDeploymentNamingItsService: a deployment recorded by CI with its
// service and commit but no repository ('deploy record --service shop
// --sha …', as the docs show) deploys that commit of the service's
// repository: it delivers the changes up to it, not every change merged
// before the deployment's time, and one of an older commit is a rollback.
func TestDeploymentNamingItsService(t *testing.T) {
	f := newFixture(t, Service{Name: "shop", Sources: []Source{{Repo: "o/r"}}}).
		commit("o/r", shaX1, "2026-03-02 08:00", "2026-03-02 09:00").
		commit("o/r", shaX2, "2026-03-02 10:00", "2026-03-02 11:00")
	for _, d := range []struct{ id, sha, when string }{{"d1", shaX1[:7], "2026-03-02 12:00"}, {"d2", shaX2, "2026-03-02 14:00"}, {"d3", shaX1, "2026-03-02 16:00"}} {
		f.deploy(d.id, "", d.sha, StatusSuccess, d.when)
		f.data.Deployments[len(f.data.Deployments)-1].Service = "shop"
	}
	tl := f.timeline()
	got := delivered(tl, "shop")
	for id, want := range map[string][]string{"d1": {shaX1}, "d2": {shaX2}, "d3": {}} {
		if !slices.Equal(got[id], want) {
			t.Errorf("%s delivered %v, want %v", id, got[id], want)
		}
	}
	for _, d := range tl.Deployments("shop") {
		if want := d.ID == "d3"; d.Rollback != want {
			t.Errorf("%s: rollback %v, want %v", d.ID, d.Rollback, want)
		}
	}
}

// TestIncidentCauseNamingItsService: an incident opened by hand for a
// service ('incident open --service shop --cause-sha …') is caused by the
// deployment that delivered that commit of the service's repository, not
// by the latest deployment before it opened.
func TestIncidentCauseNamingItsService(t *testing.T) {
	f := newFixture(t, Service{Name: "shop", Sources: []Source{{Repo: "o/r"}}}).
		commit("o/r", shaX1, "2026-03-02 08:00", "2026-03-02 09:00").
		commit("o/r", shaX2, "2026-03-02 10:00", "2026-03-02 11:00").
		deploy("d1", "o/r", shaX1, StatusSuccess, "2026-03-02 12:00").
		deploy("d2", "o/r", shaX2, StatusSuccess, "2026-03-02 14:00")
	for _, cause := range []string{shaX1, shaX1[:7]} {
		f.data.Incidents = []Incident{{ID: "i", Service: "shop", OpenedAt: at(t, "2026-03-02 15:00"), CauseSHA: cause}}
		for _, d := range f.timeline().Deployments("shop") {
			if want := d.ID == "d1"; (len(d.Incidents) > 0) != want {
				t.Errorf("cause %s: %s caused %v, want the incident on d1 only", cause, d.ID, d.Incidents)
			}
		}
	}
}

// TestUnknownSHAProbesNoAbbreviations: a deployment of a commit recorded
// as no change (a service whose pushes are not recorded, history deployed
// before Valueloop listened) looks for a change recorded under an
// abbreviation of its SHA only at the lengths some change was recorded
// with: when every change has its full SHA, at none. It probed every
// length from 39 down to 7, 33 random reads of the index per deployment
// (100,000 such deployments over the benchmark's million changes: 2.6 s of
// CPU to build the timeline instead of 1.0 to 1.5 s).
func TestUnknownSHAProbesNoAbbreviations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change string // SHA the change was recorded with
		probes int
	}{
		{"every change in full", shaX1, 0},
		{"one recorded with 9 digits", shaX1[:9], 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := newFixture(t).
				commit("o/r", tc.change, "2026-03-02 08:00", "2026-03-02 09:00").
				deploy("d1", "o/r", shaX2, StatusSuccess, "2026-03-02 12:00").
				timeline()
			if got := bits.OnesCount64(tl.abbrevLengths(shaX2)); got != tc.probes {
				t.Errorf("probes for an abbreviation of %s: %d, want %d", shaX2, got, tc.probes)
			}
		})
	}
}

// TestAbbreviatedRollbackUnrecordedCommit: commits recorded as no change
// (a repository whose pushes Valueloop does not receive) are compared as
// git would too: a redeploy of x1 by its abbreviation after x2 is a
// rollback taking x2 out, as CheckRollback accepts it, whichever of the
// two deployments of x1 was abbreviated.
func TestAbbreviatedRollbackUnrecordedCommit(t *testing.T) {
	for _, tc := range []struct{ first, again string }{
		{shaX1, shaX1[:7]},
		{shaX1[:8], shaX1},
	} {
		tl := newFixture(t).
			deploy("d1", "o/r", tc.first, StatusSuccess, "2026-03-02 12:00").
			deploy("d2", "o/r", shaX2, StatusSuccess, "2026-03-02 14:00").
			deploy("d3", "o/r", tc.again, StatusSuccess, "2026-03-02 16:00").
			timeline()
		for _, d := range tl.Deployments("o/r") {
			if want := d.ID == "d3"; d.Rollback != want {
				t.Errorf("%s then %s: %s rollback %v, want %v", tc.first, tc.again, d.ID, d.Rollback, want)
			}
			if want := d.ID == "d2"; d.RolledBack != want {
				t.Errorf("%s then %s: %s rolled back %v, want %v", tc.first, tc.again, d.ID, d.RolledBack, want)
			}
		}
	}
}

// TestIncidentCauseUnrecordedCommit: an incident whose cause is a commit
// recorded as no change is caused by the deployment of that commit, named
// in full or abbreviated, by its repository or only by its service, not
// by the latest deployment before it opened.
func TestIncidentCauseUnrecordedCommit(t *testing.T) {
	for _, tc := range []struct{ deployed, cause, repo string }{
		{shaX1, shaX1[:7], "o/r"},
		{shaX1[:8], shaX1, "o/r"},
		{shaX1, shaX1, ""},
		{shaX1, shaX1[:9], ""},
	} {
		f := newFixture(t, Service{Name: "shop", Sources: []Source{{Repo: "o/r"}}}).
			deploy("d1", "o/r", tc.deployed, StatusSuccess, "2026-03-02 12:00").
			deploy("d2", "o/r", shaX2, StatusSuccess, "2026-03-02 14:00")
		f.data.Incidents = []Incident{{ID: "i", Service: "shop", Repo: tc.repo, OpenedAt: at(t, "2026-03-02 15:00"), CauseSHA: tc.cause}}
		for _, d := range f.timeline().Deployments("shop") {
			if want := d.ID == "d1"; (len(d.Incidents) > 0) != want {
				t.Errorf("d1 of %s, cause %s of %q: %s caused %v, want the incident on d1 only", tc.deployed, tc.cause, tc.repo, d.ID, d.Incidents)
			}
		}
	}
}

// TestAbbrevIndexReleased: the index of SHA prefixes serves lookups, which
// are made while the timeline is built only; a timeline kept for reports
// does not hold it (16 bytes per change) after.
func TestAbbrevIndexReleased(t *testing.T) {
	tl := newFixture(t).
		commit("o/r", shaX1, "2026-03-02 08:00", "2026-03-02 09:00").
		deploy("d1", "o/r", shaX1[:7], StatusSuccess, "2026-03-02 12:00").
		timeline()
	if tl.abbrev != nil {
		t.Errorf("abbreviation index of %d entries kept after the timeline was built", len(tl.abbrev))
	}
}

// TestAbbreviatedChangeIsOne: one commit recorded twice, once in full (the
// push webhook) and once abbreviated ('change record --sha 1111111' by a CI
// job), is one change, as git takes the abbreviation for the commit it
// abbreviates: one delivered change of the deployment, its lead time from
// the earliest commit time either record gives. An abbreviation that two
// recorded commits share names neither, and stays a change of its own.
func TestAbbreviatedChangeIsOne(t *testing.T) {
	tl := newFixture(t).
		commit("o/r", shaX1, "2026-03-02 08:00", "2026-03-02 09:00").
		commit("o/r", shaX1[:7], "2026-03-02 07:00", "2026-03-02 10:00"). // by hand, later
		commit("o/r", shaX2[:9], "2026-03-02 10:00", "2026-03-02 11:00"). // abbreviated first
		commit("o/r", shaX2, "2026-03-02 10:30", "2026-03-02 11:00").
		commit("o/r", "abcdef01"+shaX1[8:], "2026-03-02 11:00", "2026-03-02 11:30").
		commit("o/r", "abcdef02"+shaX1[8:], "2026-03-02 11:00", "2026-03-02 11:30").
		commit("o/r", "abcdef0", "2026-03-02 11:00", "2026-03-02 11:30"). // ambiguous
		deploy("d1", "o/r", shaX2, StatusSuccess, "2026-03-02 12:00").
		deploy("d2", "o/r", "abcdef02"+shaX1[8:], StatusSuccess, "2026-03-02 13:00").
		timeline()
	got := delivered(tl, "o/r")
	if want := []string{shaX1, shaX2}; !slices.Equal(got["d1"], want) {
		t.Errorf("d1 delivered %v, want %v: each commit once, by its full SHA", got["d1"], want)
	}
	if len(got["d2"]) != 3 {
		t.Errorf("d2 delivered %v, want the two abcdef0… commits and the ambiguous abcdef0", got["d2"])
	}
	if lt := leadTimes(tl, "o/r")[shaX1]; lt != 5*time.Hour {
		t.Errorf("lead time of x1: got %v, want 5h (07:00, the abbreviated record's, → d1 at 12:00)", lt)
	}
}

// TestAmbiguousDeployedSHA: a deployment naming an abbreviation that two
// recorded commits share (abcdef0: abcdef01… and abcdef02…) names neither,
// as git refuses it: its commit is unknown to every comparison, not only
// to the lookup of changes. A rollback to it restores an unknown version
// (only the deployment it replaced is rolled back, not every one back to
// d1 of abcdef01…), an incident caused by abcdef0 is not d1's, and the
// deployment says its SHA was ambiguous, where the user reads it.
func TestAmbiguousDeployedSHA(t *testing.T) {
	shaA, shaB := "abcdef01"+shaX1[8:], "abcdef02"+shaX1[8:]
	f := newFixture(t).
		commit("o/r", shaA, "2026-03-02 08:00", "2026-03-02 09:00").
		commit("o/r", shaB, "2026-03-02 09:00", "2026-03-02 10:00").
		commit("o/r", shaX2, "2026-03-02 10:00", "2026-03-02 11:00").
		deploy("d1", "o/r", shaA, StatusSuccess, "2026-03-02 12:00").
		deploy("d2", "o/r", shaX2, StatusSuccess, "2026-03-02 13:00").
		deploy("d3", "o/r", shaX3, StatusSuccess, "2026-03-02 14:00").
		deploy("d4", "o/r", "abcdef0", StatusSuccess, "2026-03-02 15:00")
	f.data.Deployments[3].Rollback = true
	f.data.Incidents = []Incident{{ID: "i", Repo: "o/r", OpenedAt: at(t, "2026-03-02 16:00"), CauseSHA: "abcdef0"}}
	for _, d := range f.timeline().Deployments("o/r") {
		if want := d.ID == "d3"; d.RolledBack != want {
			t.Errorf("%s: rolled back %v, want %v (the rollback's version is unknown)", d.ID, d.RolledBack, want)
		}
		if d.ID == "d1" && len(d.Incidents) > 0 {
			t.Errorf("d1 caused %v, want no incident: abcdef0 is not abcdef01…", d.Incidents)
		}
		if want := d.ID == "d4"; d.AmbiguousSHA != want {
			t.Errorf("%s: ambiguous SHA %v, want %v", d.ID, d.AmbiguousSHA, want)
		}
	}
}

// TestAmbiguousAcrossRepositories: a deployment naming its service only
// looks for its commit in each of the service's repositories; an
// abbreviation that names abcdef01… in o/a and abcdef02… in o/b names
// neither, as CheckAbbreviation (the receipt's warning, the rollback
// check) already says. The timeline took o/a's, the first repository
// found, so the warning said "placed by its time alone" of a deployment
// the metrics placed at abcdef01…. An abbreviation found in one
// repository only still names its commit.
func TestAmbiguousAcrossRepositories(t *testing.T) {
	shaA, shaB := "abcdef01"+shaX1[8:], "abcdef02"+shaX1[8:]
	f := newFixture(t, Service{Name: "shop", Sources: []Source{{Repo: "o/a"}, {Repo: "o/b"}}}).
		commit("o/a", shaA, "2026-03-02 08:00", "2026-03-02 09:00").
		commit("o/b", shaB, "2026-03-02 09:00", "2026-03-02 10:00").
		commit("o/a", shaX2, "2026-03-02 10:00", "2026-03-02 11:00")
	for _, d := range []struct{ id, sha, when string }{{"d1", shaX2[:7], "2026-03-02 12:00"}, {"d2", "abcdef0", "2026-03-02 13:00"}} {
		f.deploy(d.id, "", d.sha, StatusSuccess, d.when)
		f.data.Deployments[len(f.data.Deployments)-1].Service = "shop"
	}
	tl := f.timeline()
	for _, d := range tl.Deployments("shop") {
		if want := d.ID == "d2"; d.AmbiguousSHA != want {
			t.Errorf("%s (%s): ambiguous SHA %v, want %v", d.ID, d.SHA, d.AmbiguousSHA, want)
		}
	}
	if err := tl.CheckAbbreviation("sha", "shop", "", "abcdef0", time.Time{}, ""); err == nil {
		t.Errorf("CheckAbbreviation of abcdef0 across o/a and o/b: nil, want ambiguous")
	}
}

// TestAbbreviationLaterAmbiguous: an abbreviation that named one commit
// when it was used keeps naming it when a commit made afterwards starts
// with the same digits. Before, the later commit made the deployment's
// SHA ambiguous, so the past deployment was placed by its time alone: it
// delivered x2 (which it never ran) and changed x2's lead time, an
// incident blaming the abbreviation lost its deployment, and the change
// recorded abbreviated was counted twice. A commit made after the record
// cannot be what it named, so history does not move, whatever order the
// records arrive in.
func TestAbbreviationLaterAmbiguous(t *testing.T) {
	a := "abcdef01" + shaX1[8:]
	b := "abcdef02" + shaX2[8:] // made a day after d1, same 7 digits
	build := func(withB bool) *Timeline {
		f := newFixture(t).
			commit("o/r", "abcdef0", "2026-03-02 07:00", "2026-03-02 09:00"). // change record --sha abcdef0
			commit("o/r", a, "2026-03-02 08:00", "2026-03-02 09:00").
			commit("o/r", shaX2, "2026-03-02 09:30", "2026-03-02 10:00").
			deploy("d1", "o/r", "abcdef0", StatusSuccess, "2026-03-02 12:00").
			incident("i1", "o/r", "2026-03-02 13:00", "2026-03-02 14:00")
		f.data.Incidents[0].CauseSHA = "abcdef0"
		if withB {
			f.commit("o/r", b, "2026-03-03 08:00", "2026-03-03 09:00").
				deploy("d2", "o/r", b, StatusSuccess, "2026-03-03 12:00")
		}
		return f.timeline()
	}
	for _, withB := range []bool{false, true} {
		tl := build(withB)
		if got := delivered(tl, "o/r")["d1"]; !slices.Equal(got, []string{a}) {
			t.Errorf("with b %v: d1 delivered %v, want [%s]", withB, got, a)
		}
		if lt := leadTimes(tl, "o/r")[a]; lt != 5*time.Hour {
			t.Errorf("with b %v: lead time of a %v, want 5h (07:00 → d1 at 12:00)", withB, lt)
		}
		for _, d := range tl.Deployments("o/r") {
			if d.ID == "d1" && (d.AmbiguousSHA || !slices.Equal(d.Incidents, []string{"i1"})) {
				t.Errorf("with b %v: d1 ambiguous %v, incidents %v; want false, [i1]", withB, d.AmbiguousSHA, d.Incidents)
			}
		}
	}
	// Used now, after b was made, the abbreviation names neither.
	if err := build(true).CheckAbbreviation("sha", "", "o/r", "abcdef0", at(t, "2026-03-04 12:00"), "x"); err == nil {
		t.Error("CheckAbbreviation(abcdef0) after b: nil, want ambiguous")
	}
}

// TestAbbreviationAuthoredAfterRecord: a commit whose author's clock ran
// ahead (authored and pushed "after" the deployment by more than the
// clock skew) is still what a deployment naming it abbreviated ran, when
// it is the only commit with those digits, as it is under its full SHA.
// The time bound only tells apart commits that share the digits. Before,
// the abbreviation found nothing: the deployment delivered only what
// landed before its time, and the commit, deployed, was never delivered.
func TestAbbreviationAuthoredAfterRecord(t *testing.T) {
	a := "abcdef01" + shaX1[8:]
	for _, sha := range []string{a, "abcdef0", "abcdef01"} {
		f := newFixture(t).
			commit("o/r", shaX2, "2026-03-02 08:00", "2026-03-02 09:00").
			commit("o/r", a, "2026-03-02 12:40", "2026-03-02 12:40"). // the author's clock 45 minutes ahead
			deploy("d1", "o/r", sha, StatusSuccess, "2026-03-02 12:00").
			incident("i1", "o/r", "2026-03-02 13:00", "2026-03-02 14:00")
		f.data.ClockSkew = 5 * time.Minute
		f.data.Incidents[0].CauseSHA = sha
		tl := f.timeline()
		if got := delivered(tl, "o/r")["d1"]; !slices.Equal(got, []string{shaX2, a}) {
			t.Errorf("deployed as %s: d1 delivered %v, want [%s %s]", sha, got, shaX2, a)
		}
		for _, d := range tl.Deployments("o/r") {
			if d.ID == "d1" && !slices.Equal(d.Incidents, []string{"i1"}) {
				t.Errorf("deployed as %s: d1 incidents %v, want [i1]", sha, d.Incidents)
			}
		}
	}
	// Two such commits share the digits: the abbreviation names neither.
	tl := newFixture(t).
		commit("o/r", a, "2026-03-02 12:40", "2026-03-02 12:40").
		commit("o/r", "abcdef02"+shaX2[8:], "2026-03-02 12:50", "2026-03-02 12:50").timeline()
	if err := tl.CheckAbbreviation("sha", "", "o/r", "abcdef0", at(t, "2026-03-02 12:00"), "x"); err == nil {
		t.Error("CheckAbbreviation(abcdef0) of two commits authored after the record: nil, want ambiguous")
	}
}

// TestPullRequestOfACommit: PullRequest finds the pull request of a commit
// by its full SHA (in the index) whether the forge recorded it in full or
// a CI job abbreviated, and by an abbreviation of it; of a service's
// repositories when the record names no repository.
func TestPullRequestOfACommit(t *testing.T) {
	f := newFixture(t)
	f.data.Changes = append(f.data.Changes,
		Change{Repo: "o/r", SHA: shaX1, PR: "12", AuthoredAt: at(t, "2026-03-02 08:00"), MergedAt: at(t, "2026-03-02 09:00")},
		Change{Repo: "o/r", SHA: shaX2[:9], PR: "13", ByHand: true, AuthoredAt: at(t, "2026-03-02 10:00"), MergedAt: at(t, "2026-03-02 11:00")},
		Change{Repo: "o/r", SHA: shaX3, AuthoredAt: at(t, "2026-03-02 12:00"), MergedAt: at(t, "2026-03-02 13:00")})
	tl := f.timeline()
	for _, tc := range []struct {
		service, repo, sha, pr string
		byHand                 bool
	}{
		{"", "o/r", shaX1, "12", false},
		{"", "O/R", shaX1[:8], "12", false},
		{"o/r", "", shaX1, "12", false}, // the service's repositories
		{"", "o/r", shaX2, "13", true},  // recorded abbreviated
		{"", "o/r", shaX3, "", false},   // no pull request
		{"", "o/other", shaX1, "", false},
	} {
		if pr, byHand := tl.PullRequest(tc.service, tc.repo, tc.sha); pr != tc.pr || byHand != tc.byHand {
			t.Errorf("PullRequest(%q, %q, %s) = %q, %v; want %q, %v", tc.service, tc.repo, tc.sha, pr, byHand, tc.pr, tc.byHand)
		}
	}
}

// TestObscures: the deployment and the incident's cause recorded as
// abcdef0 name abcdef01…, the one recorded commit starting so. A commit
// recorded late that existed then (authored before them) makes them name
// none; one authored after them, or abcdef01… recorded again, does not.
func TestObscures(t *testing.T) {
	tail := strings.Repeat("0", 32)
	f := newFixture(t).
		commit("o/r", "abcdef01"+tail, "2026-03-02 08:00", "2026-03-02 09:00").
		deploy("d1", "o/r", "abcdef0", StatusSuccess, "2026-03-02 12:00")
	f.data.Incidents = append(f.data.Incidents, Incident{ID: "i1", Repo: "o/r", CauseSHA: "abcdef0", OpenedAt: at(t, "2026-03-02 13:00")})
	tl := f.timeline()
	change := func(sha, authored string) Change {
		return Change{Repo: "o/r", SHA: sha, AuthoredAt: at(t, authored), MergedAt: at(t, "2026-03-05 09:00")}
	}
	for _, tc := range []struct {
		c    Change
		want []string
	}{
		{change("abcdef02"+tail, "2026-03-01 08:00"), []string{"deployment d1", "incident i1"}},
		{change("abcdef02"+tail, "2026-03-02 12:30"), []string{"incident i1"}}, // after the deployment, before the incident
		{change("abcdef02"+tail, "2026-03-04 08:00"), nil},
		{change("abcdef01"+tail, "2026-03-01 08:00"), nil},
		{change("1234567"+tail, "2026-03-01 08:00"), nil},
	} {
		var got []string
		for _, o := range tl.Obscures([]Change{tc.c}) {
			got = append(got, o.Kind+" "+o.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("recording %s authored %s obscures %v, want %v", tc.c.SHA[:8], tc.c.AuthoredAt.Format(time.DateTime), got, tc.want)
		}
	}
}
