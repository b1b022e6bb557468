package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// TestDeliveryRecordCLI corrects records with the CLI: a rollback to a
// commit never deployed is refused naming --sha's field and stored with
// --force; it is then listed and deleted; a change's authored time is
// edited with --set, which moves lead time from 660 to 600 minutes; both
// are in the audit trail.
func TestDeliveryRecordCLI(t *testing.T) {
	s := MustServe(t, "")
	run := adminCLI(t, s)
	run(0, "change", "record", "--service", "shop", "--sha", "aaaaaaa", "--authored-at", "2026-02-02T00:00:00Z", "--merged-at", "2026-02-02T01:00:00Z")
	run(0, "change", "record", "--service", "shop", "--sha", "ccccccc", "--authored-at", "2026-02-03T00:00:00Z", "--merged-at", "2026-02-03T01:00:00Z")
	run(0, "deploy", "record", "--service", "shop", "--env", "production", "--sha", "aaaaaaa", "--status", "success", "--at", "2026-02-02T11:00:00Z")
	rollback := []string{"deploy", "record", "--service", "shop", "--env", "production", "--sha", "ccccccc", "--status", "success", "--at", "2026-02-03T12:00:00Z", "--rollback"}
	if out := run(3, rollback...); !strings.Contains(out, "sha") || !strings.Contains(out, "not an earlier successful production deployment") {
		t.Errorf("wrong rollback: %s", out)
	}
	run(0, append(rollback, "--force")...)

	var list []delivery.Record
	if err := json.Unmarshal([]byte(run(0, "delivery", "record", "list", "deployments", "--service", "shop", "--output", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].Deployment.Rollback || list[0].Deployment.SHA != "ccccccc" {
		t.Fatalf("deployment records: %+v, want the forced rollback first", list)
	}
	if out := run(0, "delivery", "record", "list", "deployments", "--service", "shop"); !strings.Contains(out, "production (production)") || !strings.Contains(out, "RECORD") {
		t.Errorf("deployment table:\n%s", out)
	}
	// A page at a time: the next page's cursor is said on stderr.
	code, stdout, stderr := s.cli(t, s.Admin, "delivery", "record", "list", "deployments", "--service", "shop", "--limit", "1", "--output", "json")
	var first []delivery.Record
	if err := json.Unmarshal([]byte(stdout), &first); code != 0 || err != nil || len(first) != 1 || first[0].Record != list[0].Record {
		t.Fatalf("first page of 1: exit %d, %+v %v; want record %d", code, first, err, list[0].Record)
	}
	cursor := strings.Fields(strings.TrimPrefix(stderr, "More records: add --cursor "))[0]
	if !strings.Contains(stderr, "--cursor") || cursor == "" {
		t.Fatalf("first page of 1: stderr %q, want the next page's cursor", stderr)
	}
	code, stdout, stderr = s.cli(t, s.Admin, "delivery", "record", "list", "deployments", "--service", "shop", "--limit", "1", "--cursor", cursor, "--output", "json")
	if err := json.Unmarshal([]byte(stdout), &first); code != 0 || err != nil || len(first) != 1 || first[0].Record != list[1].Record || stderr != "" {
		t.Fatalf("last page: exit %d, %+v %v, stderr %q; want record %d and no cursor", code, first, err, stderr, list[1].Record)
	}
	rb := strconv.FormatInt(list[0].Record, 10)
	run(0, "delivery", "record", "delete", "deployments", rb, "--reason", "wrong target\n\tsee incident 4") // the client folds it into one line
	run(4, "delivery", "record", "delete", "deployments", rb)

	if err := json.Unmarshal([]byte(run(0, "delivery", "record", "list", "changes", "--id", "aaaaaaa", "--output", "json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("change records of aaa: %+v %v", list, err)
	}
	ch := strconv.FormatInt(list[0].Record, 10)
	if out := run(2, "delivery", "record", "edit", "changes", ch, "--set", "colour=red"); !strings.Contains(out, `unknown field "colour"`) {
		t.Errorf("edit of an unknown field: %s", out)
	}
	// A year mistyped in an edit is refused as when recording (400).
	if out := run(3, "delivery", "record", "edit", "changes", ch, "--set", "mergedAt=2062-02-02T01:00:00Z"); !strings.Contains(out, "change.mergedAt: 2062-02-02T01:00:00Z is ahead of the server's clock") {
		t.Errorf("edit to a time ahead: %s", out)
	}
	run(0, "delivery", "record", "edit", "changes", ch, "--set", "authoredAt=2026-02-02T01:00:00Z", "--set", "pr=17", "--reason", "authored at the merge")
	if out := run(0, "delivery", "record", "show", "changes", ch); !strings.Contains(out, `"authoredAt": "2026-02-02T01:00:00Z"`) || !strings.Contains(out, `"pr": "17"`) {
		t.Errorf("after edit: %s", out)
	}
	var rep delivery.Report
	if err := json.Unmarshal([]byte(run(0, "dora", "--service", "shop", "--from", "2026-02-02", "--to", "2026-02-05", "--output", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if lt := rep.Services[0].Total.LeadTime; lt.Count != 1 || lt.Median.Minutes() != 600 {
		t.Errorf("lead time after the edit: %d changes, median %v; want 1, 600 min", lt.Count, lt.Median)
	}
	// One failed run beside the deployment: the default counts it, Four Keys
	// does not.
	run(0, "deploy", "record", "--service", "shop", "--env", "production", "--sha", "ccccccc", "--status", "failure", "--at", "2026-02-03T13:00:00Z")
	out := strings.Join(strings.Fields(run(0, "dora", "--service", "shop", "--from", "2026-02-02", "--to", "2026-02-05")), " ")
	for _, want := range []string{"change failure rate 50.0% low", "1 of 2 attempts failed", "as Four Keys counts it 0.0% elite", "0 of 1 deployment failed; failed runs not counted",
		"deploy (→ production) 10h00m █·· p85 10h00m, 1 change", "coding (commit → opened) – ··· no pull request data"} {
		if !strings.Contains(out, want) {
			t.Errorf("dora output lacks %q:\n%s", want, out)
		}
	}
	if out := run(0, "audit", "--flag", "deployment/"+rb); !strings.Contains(out, "delivery.deployment.delete") || !strings.Contains(out, "wrong target see incident 4") {
		t.Errorf("audit of the deletion: %s", out)
	}
	if out := run(0, "audit", "--flag", "change/"+ch); !strings.Contains(out, "delivery.change.edit") {
		t.Errorf("audit of the edit: %s", out)
	}
	run(2, "delivery", "record", "show", "commits", "1")
}

// TestChangeRecordBreakdown: a change recorded with its pull request's
// opening and first review (commit 00:00, opened 01:00, reviewed 03:00,
// merged 04:00, deployed 06:00) gives coding 1h, pickup 2h, review 1h and
// deploy 2h; a review time without the pull request is refused.
func TestChangeRecordBreakdown(t *testing.T) {
	s := MustServe(t, "")
	run := adminCLI(t, s)
	if out := run(3, "change", "record", "--service", "cart", "--sha", "c500000", "--reviewed-at", "2026-02-02T03:00:00Z"); !strings.Contains(out, "--reviewed-at: needs the pull request") {
		t.Errorf("review without a pull request: %s", out)
	}
	run(0, "change", "record", "--service", "cart", "--repo", "acme/cart", "--pr", "5", "--sha", "c500000", "--authored-at", "2026-02-02T00:00:00Z",
		"--opened-at", "2026-02-02T01:00:00Z", "--reviewed-at", "2026-02-02T03:00:00Z", "--merged-at", "2026-02-02T04:00:00Z")
	run(0, "deploy", "record", "--service", "cart", "--env", "production", "--sha", "c500000", "--status", "success", "--at", "2026-02-02T06:00:00Z")
	var rep delivery.Report
	if err := json.Unmarshal([]byte(run(0, "dora", "--service", "cart", "--from", "2026-02-02", "--to", "2026-02-03", "--output", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	b := rep.Services[0].Total.LeadTimeBreakdown
	for _, c := range []struct {
		name string
		got  dora.Stage
		want time.Duration
	}{{"coding", b.Coding, time.Hour}, {"pickup", b.Pickup, 2 * time.Hour}, {"review", b.Review, time.Hour}, {"deploy", b.Deploy, 2 * time.Hour}} {
		if c.got.Count != 1 || c.got.Median != c.want || c.got.P85 != c.want {
			t.Errorf("%s: %+v, want one change of %v", c.name, c.got, c.want)
		}
	}
}

// TestReviewRecordCLI corrects the review of a pull request with the CLI:
// listed by repository and pull request in a table, its time edited with
// --set (pickup 2h → 1h), then deleted (no pickup stage left), both in the
// audit trail.
func TestReviewRecordCLI(t *testing.T) {
	s := MustServe(t, "")
	run := adminCLI(t, s)
	run(0, "change", "record", "--service", "cart", "--repo", "acme/cart", "--sha", "c700000", "--pr", "7", "--authored-at", "2026-02-02T00:00:00Z",
		"--opened-at", "2026-02-02T01:00:00Z", "--reviewed-at", "2026-02-02T03:00:00Z", "--merged-at", "2026-02-02T04:00:00Z")
	run(0, "deploy", "record", "--service", "cart", "--repo", "acme/cart", "--env", "production", "--sha", "c700000", "--status", "success", "--at", "2026-02-02T06:00:00Z")
	pickup := func() dora.Stage {
		t.Helper()
		var rep delivery.Report
		if err := json.Unmarshal([]byte(run(0, "dora", "--service", "cart", "--from", "2026-02-02", "--to", "2026-02-03", "--output", "json")), &rep); err != nil {
			t.Fatal(err)
		}
		return rep.Services[0].Total.LeadTimeBreakdown.Pickup
	}
	if p := pickup(); p.Count != 1 || p.Median != 2*time.Hour {
		t.Fatalf("pickup before: %+v, want 2h", p)
	}
	if out := run(0, "delivery", "record", "list", "reviews", "--repo", "acme/cart", "--id", "7"); !strings.Contains(out, "REPO") ||
		!strings.Contains(out, "acme/cart") || !strings.Contains(out, "2026-02-02 03:00:00") {
		t.Errorf("review table:\n%s", out)
	}
	var list []delivery.Record
	if err := json.Unmarshal([]byte(run(0, "delivery", "record", "list", "reviews", "--repo", "acme/cart", "--output", "json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("review records: %+v %v", list, err)
	}
	n := strconv.FormatInt(list[0].Record, 10)
	run(0, "delivery", "record", "edit", "reviews", n, "--set", "at=2026-02-02T02:00:00Z", "--reason", "first review was at 02:00")
	if p := pickup(); p.Median != time.Hour {
		t.Errorf("pickup after the edit: %+v, want 1h", p)
	}
	run(0, "delivery", "record", "delete", "reviews", n, "--reason", "bot approval")
	if p := pickup(); p.Count != 0 {
		t.Errorf("pickup after the deletion: %+v, want none", p)
	}
	out := run(0, "audit", "--flag", "review/"+n)
	for _, want := range []string{"delivery.review.edit", "delivery.review.delete", "bot approval"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit of review/%s lacks %q:\n%s", n, want, out)
		}
	}
}

// TestDeployRecordProductionFlag: --production alone means true (it was a
// string flag, so `--production --sha X` took "--sha" as its value and
// refused X as an argument); --production=false still marks an
// environment as not production, and a bad value or a value after a space
// is a usage error naming the flag.
func TestDeployRecordProductionFlag(t *testing.T) {
	s := MustServe(t, "")
	run := adminCLI(t, s)
	base := []string{"deploy", "record", "--service", "shop", "--env", "live-eu", "--status", "success", "--at", "2026-02-02T11:00:00Z"}
	if out := run(0, append(base, "--production", "--sha", "aaaaaaa")...); !strings.Contains(out, "(production)") {
		t.Errorf("--production alone: %s; want the deployment counted as production", out)
	}
	if out := run(0, append(base, "--production=false", "--sha", "bbbbbbb", "--env", "staging-eu")...); !strings.Contains(out, "is not production") {
		t.Errorf("--production=false: %s; want the deployment not counted", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--production=maybe"}, `invalid boolean value "maybe" for -production`},
		{[]string{"--production", "false"}, "--production=false"},
		{[]string{"--rollback", "true"}, "--rollback=true"},
	} {
		if out := run(exitUsage, append(base, tc.args...)...); !strings.Contains(out, tc.want) {
			t.Errorf("%v: %s; want a usage error with %q", tc.args, out, tc.want)
		}
	}
}

// TestRecordEditTimes: --set of a time field reads the value as --at reads
// a time (RFC 3339 with any offset, or a date), and refuses anything else
// naming the field, the value and the forms, not with Go's parse error
// ('parsing time "yesterday" as "2006-01-02T15:04:05Z07:00"').
func TestRecordEditTimes(t *testing.T) {
	for _, c := range []struct {
		set, want, err string
	}{
		{"at=2026-03-01T09:30:00+01:00", "2026-03-01T08:30:00Z", ""},
		{"at=2026-03-01", "2026-03-01T00:00:00Z", ""},
		{"at=yesterday", "", `delivery record edit: --set at: want a time such as 2026-03-01T14:30:00+01:00 or a date such as 2026-03-01, not "yesterday"`},
	} {
		r := delivery.Record{Record: 1, Kind: "reviews", Review: &dora.Review{Repo: "acme/shop", PR: "1", At: time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)}}
		err := applySets(&r, []string{c.set})
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("--set %s: %v, want %q", c.set, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("--set %s: %v", c.set, err)
		case c.err == "" && r.Review.At.Format(time.RFC3339) != c.want:
			t.Errorf("--set %s: at %s, want %s", c.set, r.Review.At.Format(time.RFC3339), c.want)
		}
	}
}

// TestAmbiguousSHACLI: 'deploy record --sha abcdef0', an abbreviation two
// recorded commits share, is stored with a warning on stderr naming both
// (the CI job's log shows it; exit 0), and deploy list notes the
// deployment's SHA as ambiguous: it names neither commit.
func TestAmbiguousSHACLI(t *testing.T) {
	s, run := serveAmbiguousShop(t)
	code, stdout, stderr := s.cli(t, s.Admin, "deploy", "record", "--service", "shop", "--env", "production", "--sha", "abcdef0", "--status", "success", "--at", "2026-02-02T11:00:00Z")
	if code != 0 || !strings.Contains(stdout, "Recorded deployment") || !strings.Contains(stderr, "warning: --sha \"abcdef0\" is ambiguous") || !strings.Contains(stderr, "abcdef020000") {
		t.Errorf("deploy record --sha abcdef0: exit %d, stdout %q, stderr %q; want stored, warned naming both commits", code, stdout, stderr)
	}
	if out := run(0, "deploy", "list", "--service", "shop", "--from", "2026-02-01", "--to", "2026-02-03"); !strings.Contains(out, "ambiguous sha") {
		t.Errorf("deploy list does not note the ambiguous sha:\n%s", out)
	}
	// A change recorded so counts as one of its own: warned too.
	if code, _, cerr := s.cli(t, s.Admin, "change", "record", "--service", "shop", "--sha", "abcdef0", "--merged-at", "2026-02-02T03:00:00Z"); code != 0 || !strings.Contains(cerr, "warning: --sha \"abcdef0\" is ambiguous") || !strings.Contains(cerr, "delivery record list changes") {
		t.Errorf("change record --sha abcdef0: exit %d, stderr %q; want stored, warned with how to correct it", code, cerr)
	}
	// The warning says how to name the commit: record it again under its
	// --id and --at (recorded again without them, it would be a second
	// deployment). Doing so leaves one deployment, of abcdef02….
	id, _, _ := strings.Cut(strings.TrimPrefix(stdout, "Recorded deployment "), " ")
	if !strings.Contains(stderr, "--id ("+id+")") || !strings.Contains(stderr, "--at (2026-02-02T11:00:00Z)") {
		t.Fatalf("warning %q does not say to record it again under --id (%s) and --at", stderr, id)
	}
	run(0, "deploy", "record", "--service", "shop", "--env", "production", "--sha", "abcdef02", "--status", "success", "--at", "2026-02-02T11:00:00Z", "--id", id)
	out := run(0, "deploy", "list", "--service", "shop", "--from", "2026-02-01", "--to", "2026-02-03")
	if strings.Contains(out, "ambiguous sha") || strings.Count(out, "production") != 1 {
		t.Errorf("deploy list after recording it again as the warning says, want one deployment, not ambiguous:\n%s", out)
	}
}

// TestIncidentResolveWarnsAmbiguous: every recording command prints the
// receipt's warning. 'incident resolve' stores a new snapshot of an
// incident whose --cause-sha names no commit, and its receipt said so, but
// the CLI printed nothing, unlike 'incident open' and 'deploy record'.
func TestIncidentResolveWarnsAmbiguous(t *testing.T) {
	s, _ := serveAmbiguousShop(t)
	for _, args := range [][]string{
		{"incident", "open", "--service", "shop", "--id", "inc-1", "--cause-sha", "abcdef0", "--at", "2026-02-02T12:00:00Z"},
		{"incident", "resolve", "inc-1", "--at", "2026-02-02T13:00:00Z"},
	} {
		code, stdout, stderr := s.cli(t, s.Admin, args...)
		if code != 0 || stdout == "" || !strings.Contains(stderr, "warning: --cause-sha \"abcdef0\" is ambiguous") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want stored, warned of --cause-sha", strings.Join(args[:2], " "), code, stdout, stderr)
		}
	}
}

// TestRecordEditWarnsAmbiguous: 'delivery record edit' stores a record
// whose SHA it sets to an abbreviation several recorded commits share,
// and warns on stderr as the recording commands do, naming the field by
// what the user typed (--set sha). Before, the edit was stored silently.
func TestRecordEditWarnsAmbiguous(t *testing.T) {
	s, run := serveAmbiguousShop(t)
	run(0, "deploy", "record", "--service", "shop", "--env", "production", "--sha", "abcdef01", "--status", "success", "--at", "2026-02-02T11:00:00Z")
	run(0, "incident", "open", "--service", "shop", "--id", "inc-1", "--cause-sha", "abcdef01", "--at", "2026-02-02T12:00:00Z")
	for _, kind := range []string{"deployments", "incidents"} {
		var list []delivery.Record
		if err := json.Unmarshal([]byte(run(0, "delivery", "record", "list", kind, "--service", "shop", "--output", "json")), &list); err != nil || len(list) == 0 {
			t.Fatalf("%s records: %+v %v", kind, list, err)
		}
		field := map[string]string{"deployments": "sha", "incidents": "causeSha"}[kind]
		n := strconv.FormatInt(list[0].Record, 10)
		code, _, stderr := s.cli(t, s.Admin, "delivery", "record", "edit", kind, n, "--set", field+"=abcdef0", "--reason", "typo")
		if code != 0 || !strings.Contains(stderr, "warning: --set "+field+" \"abcdef0\" is ambiguous") || !strings.Contains(stderr, "abcdef020000") || !strings.Contains(stderr, "edit it again") {
			t.Errorf("record edit %s %s --set %s=abcdef0: exit %d, stderr %q; want stored, warned naming both commits", kind, n, field, code, stderr)
		}
		if code, _, stderr := s.cli(t, s.Admin, "delivery", "record", "edit", kind, n, "--set", field+"=abcdef02", "--reason", "typo"); code != 0 || strings.Contains(stderr, "warning") {
			t.Errorf("record edit %s %s --set %s=abcdef02: exit %d, stderr %q; want no warning", kind, n, field, code, stderr)
		}
	}
	run(0, "change", "record", "--service", "shop", "--sha", "1234567", "--authored-at", "2026-02-02T00:00:00Z", "--merged-at", "2026-02-02T03:00:00Z")
	var list []delivery.Record
	if err := json.Unmarshal([]byte(run(0, "delivery", "record", "list", "changes", "--service", "shop", "--id", "1234567", "--output", "json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("change records: %+v %v", list, err)
	}
	n := strconv.FormatInt(list[0].Record, 10)
	if code, _, stderr := s.cli(t, s.Admin, "delivery", "record", "edit", "changes", n, "--set", "sha=abcdef0", "--reason", "typo"); code != 0 || !strings.Contains(stderr, "warning: --set sha \"abcdef0\" is ambiguous") || !strings.Contains(stderr, "change of its own") {
		t.Errorf("record edit changes %s --set sha=abcdef0: exit %d, stderr %q; want stored, warned", n, code, stderr)
	}
}

// serveAmbiguousShop serves two changes of service shop whose SHAs start
// with abcdef0, so that the abbreviation names neither.
func serveAmbiguousShop(t *testing.T) (*testServer, func(want int, args ...string) string) {
	s := MustServe(t, "")
	run := adminCLI(t, s)
	tail := strings.Repeat("0", 32)
	run(0, "change", "record", "--service", "shop", "--sha", "abcdef01"+tail, "--authored-at", "2026-02-02T00:00:00Z", "--merged-at", "2026-02-02T01:00:00Z")
	run(0, "change", "record", "--service", "shop", "--sha", "abcdef02"+tail, "--authored-at", "2026-02-02T00:00:00Z", "--merged-at", "2026-02-02T02:00:00Z")
	return s, run
}

// TestChangeRecordObscuresWarned: a change recorded late makes an earlier
// deployment's abbreviation name no commit; 'change record' warns, naming
// the deployment's fields as 'deploy record' takes them, since the
// deployment is what to record again, not the change whose --sha was full.
func TestChangeRecordObscuresWarned(t *testing.T) {
	s := MustServe(t, "")
	run := adminCLI(t, s)
	tail := strings.Repeat("0", 32)
	run(0, "change", "record", "--service", "shop", "--sha", "abcdef01"+tail, "--authored-at", "2026-02-02T00:00:00Z", "--merged-at", "2026-02-02T01:00:00Z")
	run(0, "deploy", "record", "--service", "shop", "--env", "production", "--id", "dep-1", "--sha", "abcdef0", "--status", "success", "--at", "2026-02-02T11:00:00Z")
	run(0, "dora", "--service", "shop")
	code, _, stderr := s.cli(t, s.Admin, "change", "record", "--service", "shop", "--sha", "abcdef02"+tail, "--authored-at", "2026-02-01T00:00:00Z", "--merged-at", "2026-02-02T02:00:00Z")
	if code != 0 || !strings.Contains(stderr, `warning: sha "abcdef0" of deployment dep-1 of shop is ambiguous now`) ||
		!strings.Contains(stderr, "the same --id (dep-1) and --at (2026-02-02T11:00:00Z), with valueloop deploy record") {
		t.Errorf("change record of a commit authored before deployment dep-1 of abcdef0: exit %d, stderr %q; want a warning naming the deployment's fields by deploy record's flags", code, stderr)
	}
}
