package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/client"
)

// TestOutsideSplitEndToEnd: a flag whose targeting rule serves staff
// "treatment" and splits everyone else 50/50. Staff, evaluated over OFREP,
// were never randomised: the experiment's results count the split's users
// only per variant (and their conversions only), while the aggregates'
// reach (users + outsideSplit) counts every user the flag served. Staff
// all convert: counted in treatment, they would lift it.
func TestOutsideSplitEndToEnd(t *testing.T) {
	s := MustServe(t, "")
	setStaffRule(t, s)
	s.mustRun(t,
		[]string{"metrics", "create", "--env", "production", "--key", "purchased", "--kind", "conversion", "--event", "purchase"},
	)
	const staff, others = 30, 200
	split := map[string]int64{}     // the split's users per variant
	converted := map[string]int64{} // of them, those who buy
	var purchases []map[string]any
	evaluate := func(user, email string) string {
		var got struct{ Variant string }
		body := s.ofrep(t, "production", "pricing", fmt.Sprintf(`{"context":{"targetingKey":%q,"email":%q}}`, user, email))
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.Variant == "" {
			t.Fatalf("evaluate %s: %v: %s", user, err, body)
		}
		return got.Variant
	}
	for i := range staff {
		user := fmt.Sprintf("staff-%d", i)
		if v := evaluate(user, user+"@staff"); v != "treatment" {
			t.Fatalf("staff served %q, want treatment", v)
		}
		purchases = append(purchases, map[string]any{"type": "tracking", "name": "purchase", "targetingKey": user})
	}
	for i := range others {
		user := fmt.Sprintf("user-%d", i)
		v := evaluate(user, user+"@example.com")
		split[v]++
		if i%4 == 0 {
			converted[v]++
			purchases = append(purchases, map[string]any{"type": "tracking", "name": "purchase", "targetingKey": user})
		}
	}
	if split["control"] == 0 || split["treatment"] == 0 {
		t.Fatalf("split %v: want users in both variants", split)
	}
	c := client.New(s.URL, s.Admin)
	reach := waitReach(t, c, staff+others)
	s.mustSendEvents(t, s.mustToken(t, "--env", "production", "--scope", "evaluate"), purchases)

	if want := map[string]int64{"control": split["control"], "treatment": split["treatment"] + staff}; reach["control"] != want["control"] || reach["treatment"] != want["treatment"] {
		t.Errorf("reach (users + outsideSplit) %v, want %v", reach, want)
	}
	res, err := c.Results(context.Background(), "production", "pricing", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Users != others || res.OutsideSplit != staff {
		t.Errorf("results: %d users, %d outside the split; want the %d of the split, the %d staff outside", res.Users, res.OutsideSplit, others, staff)
	}
	code, table, stderr := s.cli(t, s.Admin, "experiment", "results", "pricing", "--env", "production")
	if want := "30 served outside the split, not counted"; code != 0 || !strings.Contains(table, want) {
		t.Errorf("results table: exit %d %s, lacks %q:\n%s", code, stderr, want, table)
	}
	var arms []string // checked below: no variants would pass this loop
	for _, m := range res.Metrics {
		for _, v := range m.Variants {
			arms = append(arms, m.Metric+"/"+v.Variant)
			want := float64(converted[v.Variant]) / float64(split[v.Variant])
			if v.Mean == nil {
				t.Fatalf("%s/%s: no mean", m.Metric, v.Variant)
			}
			if v.Users != split[v.Variant] || *v.Mean != want {
				t.Errorf("%s/%s: %d users, mean %v; want the split's %d, %v", m.Metric, v.Variant, v.Users, *v.Mean, split[v.Variant], want)
			}
		}
	}
	if want := []string{"purchased/control", "purchased/treatment"}; !slices.Equal(arms, want) {
		t.Errorf("results give metric/variants %v, want %v", arms, want)
	}
	// Staff are outside, so the split's 50/50 is the randomised users'
	// expected ratio: the check applies despite the rule, and passes.
	if res.SRM.Status != "ok" || res.SRM.Mismatch {
		t.Errorf("SRM = %+v, want checked against the split's 50/50 and passing", res.SRM)
	}
	if want := "SRM: ok"; !strings.Contains(table, want) {
		t.Errorf("results table lacks %q:\n%s", want, table)
	}
}

// TestRuleUsersSentAsRandomisedFailSRM: the flag of TestOutsideSplitEndToEnd,
// but staff's exposures come from an SDK that sends no reason, so they
// count as randomised, all in treatment: the sample-ratio check fails and
// says that users of the rule recorded as randomised are the likely cause,
// in the API's reason, the CLI's table and the dashboard's banner.
func TestRuleUsersSentAsRandomisedFailSRM(t *testing.T) {
	s := MustServe(t, "")
	setStaffRule(t, s)
	const staff, others = 120, 200
	var events []map[string]any
	for i := range others {
		events = append(events, map[string]any{"id": fmt.Sprint("u", i), "type": "exposure", "flag": "pricing", "variant": []string{"control", "treatment"}[i%2], "targetingKey": fmt.Sprint("user-", i), "reason": "SPLIT"})
	}
	for i := range staff { // no reason, no split: as randomised
		events = append(events, map[string]any{"id": fmt.Sprint("s", i), "type": "exposure", "flag": "pricing", "variant": "treatment", "targetingKey": fmt.Sprint("staff-", i)})
	}
	s.mustSendEvents(t, s.mustToken(t, "--env", "production", "--scope", "evaluate"), events)
	c := client.New(s.URL, s.Admin)
	waitReach(t, c, staff+others)
	res, err := c.Results(context.Background(), "production", "pricing", nil)
	if err != nil {
		t.Fatal(err)
	}
	const cause = "a targeting rule may serve a variant of the split"
	if res.Users != staff+others || res.OutsideSplit != 0 || !res.SRM.Mismatch || !strings.Contains(res.SRM.Reason, cause) {
		t.Errorf("results: %d users, %d outside, SRM %+v; want all %d randomised, a mismatch blaming the rule", res.Users, res.OutsideSplit, res.SRM, staff+others)
	}
	code, table, stderr := s.cli(t, s.Admin, "experiment", "results", "pricing", "--env", "production")
	if want := "Likely cause: " + cause; code != 0 || !strings.Contains(table, "SRM: MISMATCH") || !strings.Contains(table, want) {
		t.Errorf("results table: exit %d %s, lacks the mismatch and %q:\n%s", code, stderr, want, table)
	}
	_, page := mustSignIn(t, s.URL, s.Admin).get("/experiments/production/pricing")
	if banner := section(t, page, `<div class="banner bad" role="alert"><strong>Sample ratio mismatch.`, "</div>"); !strings.Contains(banner, "Likely cause: "+cause) {
		t.Errorf("the dashboard's mismatch banner does not give the likely cause:\n%s", banner)
	}
}

// setStaffRule sets flag pricing in production: staff (an email ending in
// @staff) get treatment by a rule, everyone else a 50/50 split.
func setStaffRule(t *testing.T, s *testServer) {
	t.Helper()
	flagFile := filepath.Join(t.TempDir(), "flag.json")
	if err := os.WriteFile(flagFile, []byte(`{"state":"ENABLED","variants":{"control":"a","treatment":"b"},"defaultVariant":"control",
		"targeting":{"if":[{"ends_with":[{"var":"email"},"@staff"]},"treatment",{"fractional":[["control",50],["treatment",50]]}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s.mustRun(t, []string{"flags", "set", "pricing", "--env", "production", "-f", flagFile})
}

// waitReach waits until the aggregates of pricing count n users in all
// (the server stores its exposures off the request path) and returns them
// per variant: the split's users plus those served outside it.
func waitReach(t *testing.T, c *client.Client, n int) map[string]int64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		raw, err := c.Aggregates(context.Background(), "production", "pricing")
		if err != nil {
			t.Fatal(err)
		}
		var aggs struct {
			Flags []struct {
				Variants []struct {
					Variant             string
					Users, OutsideSplit int64
				}
			}
		}
		if err := json.Unmarshal(raw, &aggs); err != nil {
			t.Fatal(err)
		}
		reach, total := map[string]int64{}, 0
		for _, f := range aggs.Flags {
			for _, v := range f.Variants {
				reach[v.Variant] += v.Users + v.OutsideSplit
				total += int(v.Users + v.OutsideSplit)
			}
		}
		if total == n {
			return reach
		}
		if time.Now().After(deadline) {
			t.Fatalf("aggregates count %d users, want %d: %s", total, n, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
