package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDemoCheckoutSRMChecked: the demo's one-page checkout serves shoppers
// in New Zealand and Ireland, and staff, one-page by a rule beside its
// split. Their exposures are recorded outside the split, so its randomised
// shoppers are checked against the split (period by period, as the rollout
// moves it) and pass, rather than the check not applying.
func TestDemoCheckoutSRMChecked(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	res := getResultsSRM(t, srv, "checkout-flow")
	if res.OutsideSplit == 0 || res.SRM.Status != "ok" || res.SRM.Mismatch {
		t.Errorf("checkout-flow: %d outside the split, SRM %+v; want the rule's shoppers outside and the split's checked, passing", res.OutsideSplit, res.SRM)
	}
	code, out, stderr := srv.cli(t, srv.Admin, "experiment", "results", "checkout-flow", "--env", "production")
	if code != 0 || !strings.Contains(out, "SRM: ok") {
		t.Errorf("valueloop experiment results checkout-flow: exit %d %s, want SRM ok:\n%s", code, stderr, out)
	}
}

// resultsSRM is what the tests of the sample-ratio check read of a flag's
// results in production.
type resultsSRM struct {
	OutsideSplit int64 `json:"outsideSplit"`
	SRM          struct {
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		Mismatch bool   `json:"mismatch"`
	} `json:"srm"`
}

func getResultsSRM(t *testing.T, srv *testServer, flag string) resultsSRM {
	t.Helper()
	resp, body := get(t, srv.URL+"/api/v1/environments/production/flags/"+flag+"/results", srv.Admin)
	var res resultsSRM
	if err := json.Unmarshal([]byte(body), &res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("results of %s: %d %v %s", flag, resp.StatusCode, err, body)
	}
	return res
}
