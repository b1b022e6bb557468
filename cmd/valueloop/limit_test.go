package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/termchart"
	"github.com/valueloop/valueloop/value"
)

// TestLimitOutOfRange: --limit 0 or -1 was sent as no limit at all, and the
// server's default page came back (91 audit entries for 'at most this
// many'); 5000 was refused by the server as "limit" with exit 3. Each is now
// refused before anything is asked, naming --limit and its range.
func TestLimitOutOfRange(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "--limit", "0"},
		{"audit", "--limit", "-1"},
		{"audit", "--limit", "1001"},
		{"delivery", "deliveries", "--limit", "0"},
		{"delivery", "deliveries", "--limit", "5000"},
	} {
		code, _, stderr := runCLI(t, args...)
		want := "--limit: must be from 1 to 1000, got " + args[len(args)-1]
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("valueloop %s: exit %d, stderr %q; want exit %d with %q", strings.Join(args, " "), code, stderr, exitUsage, want)
		}
	}
}

// TestDORABucketRefused: a --bucket dora does not know was refused by the
// server as "bucket: must be day, week or month", leaving out none, which
// the help offers; it is now refused before asking, naming --bucket and
// all four.
func TestDORABucketRefused(t *testing.T) {
	code, _, stderr := runCLI(t, "dora", "--bucket", "weak")
	want := `--bucket: want day, week, month or none, not "weak"; did you mean "week"?`
	if code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("dora --bucket weak: exit %d, stderr %q; want exit %d with %q", code, stderr, exitUsage, want)
	}
}

// TestImportSummaryGroupsDigits: the summary of a large import grouped the
// events and duplicates but not the rest: "300,000 events: 300000 stored,
// 0 duplicates". Every count is grouped alike.
func TestImportSummaryGroupsDigits(t *testing.T) {
	var out, errOut strings.Builder
	im := &importer{e: &cliEnv{stdout: &out, stderr: &errOut}, bar: &termchart.Progress{Start: time.Now()}, shown: 20,
		sum: importSummary{File: "big.ndjson", Events: 300000, Stored: 297500, Duplicates: 1500, Rejected: 1000}}
	err := im.report(false)
	for _, want := range []string{"300,000 events: 297,500 stored, 1,500 duplicates, 1,000 rejected"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary %q lacks %q", out.String(), want)
		}
	}
	if want := "... and 980 more rejected events (1,000 rejected in all)"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q lacks %q", errOut.String(), want)
	}
	if err == nil || !strings.Contains(err.Error(), "1,000 events were rejected") {
		t.Errorf("error %v, want one saying 1,000 events were rejected", err)
	}
}

// TestNextNothingToRankSaysWhy: 'next --method rice' on the demo said "no
// idea or ready feature has an estimate" above four features listed with
// their WSJF estimates, lacking only RICE's; and said it too where there
// was no idea or ready feature at all.
func TestNextNothingToRankSaysWhy(t *testing.T) {
	for _, c := range []struct {
		n    value.Next
		want string
	}{
		{value.Next{Method: value.RICE, Unranked: []value.Unranked{{Feature: "wishlist", Stage: "idea", Reason: "not estimated"}}},
			"Nothing to rank: no idea or ready feature has the estimates RICE needs (see below)."},
		{value.Next{Method: value.WSJF}, "Nothing to rank: no feature is an idea or ready."},
	} {
		var b strings.Builder
		writeNext(&b, &c.n)
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("got:\n%s\nwant %q", b.String(), c.want)
		}
	}
}

// TestNextOfObjectiveNothingToRank: 'next --objective O' with nothing of O
// to rank said "no feature is an idea or ready", as if the whole backlog
// were empty; it says it of O. On the demo, objective activation's ideas
// and ready features are abandoned; revenue's stay.
func TestNextOfObjectiveNothingToRank(t *testing.T) {
	s := MustServe(t, "", "--demo")
	code, out, _ := s.cli(t, s.Admin, "next", "--objective", "activation", "--output", "json")
	var n value.Next
	if err := json.Unmarshal([]byte(out), &n); code != 0 || err != nil || len(n.Ranked)+len(n.Unranked) == 0 {
		t.Fatalf("next --objective activation: exit %d, %v\n%s\nwant a feature to rank", code, err, out)
	}
	var keys []string
	for _, r := range n.Ranked {
		keys = append(keys, r.Feature)
	}
	for _, u := range n.Unranked {
		keys = append(keys, u.Feature)
	}
	for _, key := range keys {
		if code, _, errOut := s.cli(t, s.Admin, "feature", "move", key, "--to", "abandoned"); code != 0 {
			t.Fatalf("feature move %s: exit %d, %s", key, code, errOut)
		}
	}
	code, out, _ = s.cli(t, s.Admin, "next", "--objective", "activation")
	if want := "Nothing to rank: no feature betting on objective activation is an idea or ready."; code != 0 || !strings.Contains(out, want) {
		t.Errorf("next --objective activation: exit %d\n%s\nwant %q", code, out, want)
	}
}

// TestNextSmallScoreShown: the table printed every score with two decimals,
// so a feature of cost of delay 1 and size 1000 (0.0005, as its line says)
// read 0.00 beside its own arithmetic.
func TestNextSmallScoreShown(t *testing.T) {
	row := nextTableRow(t, value.Rank{Position: 1, Feature: "tiny", Objective: "o", Stage: value.Idea, Score: 0.0005})
	if !strings.Contains(row, " 0.0005 ") {
		t.Errorf("table row %q, want the score 0.0005", row)
	}
}

// TestNextTableSaysWaits: a feature waiting for a dependency ranked second
// in the table with nothing on its row to say it cannot be started yet.
func TestNextTableSaysWaits(t *testing.T) {
	row := nextTableRow(t, value.Rank{Position: 1, Feature: "big", Objective: "o", Stage: value.Idea, Score: 2.5, WaitsFor: []string{"exp", "x"},
		Abandoned: []string{"gone"}})
	for _, want := range []string{"waits for exp, x", "depends on abandoned gone"} {
		if !strings.Contains(row, want) {
			t.Errorf("table row %q, want %q", row, want)
		}
	}
}

// nextTableRow prints a backlog of r alone and returns its table row.
func nextTableRow(t *testing.T, r value.Rank) string {
	t.Helper()
	var b strings.Builder
	writeNext(&b, &value.Next{Method: value.WSJF, Ranked: []value.Rank{r}})
	prefix := fmt.Sprintf("%d.  %s ", r.Position, r.Feature)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), prefix) {
			return line
		}
	}
	t.Fatalf("no table row starts %q:\n%s", prefix, b.String())
	return ""
}

// TestFlowShippedWords: flow said "Shipped 1 (released to their users in
// the window)" of an idea invalidated by hand, which no user ever saw:
// shipped counts the features that entered measuring or a later stage,
// by evidence or by hand, and the line now says so.
func TestFlowShippedWords(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	l := value.Derive([]value.Event{{ID: "c", Kind: value.Created, At: now.AddDate(0, 0, -10)},
		{ID: "m", Kind: value.Moved, Stage: value.Invalidated, At: now.AddDate(0, 0, -5)}}, nil)
	f := value.ComputeFlow([]value.Item{{Feature: &value.Feature{Key: "a", Objective: "o"}, Lifecycle: &l}},
		value.FlowOptions{Now: now, Since: now.AddDate(0, 0, -90)})
	var b strings.Builder
	writeFlow(&b, f, "", 0)
	out := b.String()
	if want := "Shipped 1 (entered measuring or a later stage in the window, by evidence or by hand): 0 validated, 1 invalidated, 0 undecided"; !strings.Contains(out, want) {
		t.Errorf("flow does not say %q:\n%s", want, out)
	}
	if strings.Contains(out, "released") {
		t.Errorf("flow says a feature never released was released:\n%s", out)
	}
}

// TestFlowMismatchWords: flow says how many verdicts a sample ratio
// mismatch left out of its throughput and of the shipped features'
// validated and invalidated, as next and objective show say theirs.
func TestFlowMismatchWords(t *testing.T) {
	var b strings.Builder
	writeFlow(&b, &value.Flow{Shipped: 3, Validated: 1, Mismatched: 2, ShippedMismatched: 1}, "", 0)
	for _, want := range []string{"(0 validated, 0 invalidated); 2 verdicts not counted: sample ratio mismatch",
		"1 validated, 0 invalidated, 2 undecided (1 of them with a verdict not counted: sample ratio mismatch)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("flow does not say %q:\n%s", want, b.String())
		}
	}
}

// TestNextUnrankedCommand: a feature next cannot rank said "set
// estimate.size, estimate.reach", the value file's names, which no flag
// of the command line has; it now also gives the command that sets them.
func TestNextUnrankedCommand(t *testing.T) {
	for _, tc := range []struct {
		missing []string
		want    string
	}{
		{[]string{"estimate.size"}, "(valueloop feature set bulk-buy --size N)"},
		{[]string{"estimate.reach", "estimate.impact", "estimate.size"}, "(valueloop feature set bulk-buy --reach N --impact N --size N)"},
		{[]string{"estimate.costOfDelay"}, "(valueloop feature set bulk-buy --user-value N --time-criticality N --risk-reduction N)"},
	} {
		var b strings.Builder
		writeNext(&b, &value.Next{Method: value.WSJF, Unranked: []value.Unranked{{Feature: "bulk-buy", Stage: value.Idea, Reason: "not estimated", Missing: tc.missing}}})
		if !strings.Contains(b.String(), "- bulk-buy (idea): not estimated "+tc.want) {
			t.Errorf("%v: next does not say %q:\n%s", tc.missing, tc.want, b.String())
		}
	}
}

// TestNextBetsFigures: the record of bets writes its confidence and effect
// as the rank lines write theirs (value.Figure): a confidence of 0.004 is
// not "0.00".
func TestNextBetsFigures(t *testing.T) {
	var b strings.Builder
	writeNext(&b, &value.Next{Method: value.WSJF, Bets: []value.Bets{{Objective: "o", Invalidated: 9, Confidence: 0.004, Effect: 1.5, Measured: 1}}})
	for _, want := range []string{"confidence 0.004", "effect 1.5 (1 measured)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("record of bets lacks %q:\n%s", want, b.String())
		}
	}
}

// TestFlowTimeRounded: a stage's flow time is rounded as the CLI's other
// durations are (termchart.Duration), not truncated: 17.98s is 18s.
func TestFlowTimeRounded(t *testing.T) {
	var b strings.Builder
	writeFlowStages(&b, []value.StageFlow{{Stage: value.Measuring, FlowTime: value.Summary{Count: 2, Median: value.Seconds(17980 * time.Millisecond), P85: value.Seconds(59600 * time.Millisecond)}}}, 0)
	if !strings.Contains(b.String(), "18s / 1m (2)") {
		t.Errorf("flow time not rounded:\n%s", b.String())
	}
}
