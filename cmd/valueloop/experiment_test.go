package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// TestExperimentEndToEnd: a real server, events sent through POST
// /api/v1/events, results via the API and the CLI, and both equal to
// stats.Analyze of the same aggregates.
func TestExperimentEndToEnd(t *testing.T) {
	s := MustServe(t, "")
	dir := t.TempDir()
	flagFile := filepath.Join(dir, "flag.json")
	os.WriteFile(flagFile, []byte(`{"state":"ENABLED","variants":{"control":"a","treatment":"b"},"defaultVariant":"control",
		"targeting":{"fractional":[["control",50],["treatment",50]]}}`), 0o600)
	s.mustRun(t,
		[]string{"flags", "set", "checkout-test", "--env", "production", "-f", flagFile},
		[]string{"metrics", "create", "--env", "production", "--key", "purchased", "--kind", "conversion", "--event", "purchase"},
		[]string{"metrics", "create", "--env", "production", "--key", "revenue", "--kind", "sum", "--event", "purchase"},
		[]string{"metrics", "create", "--env", "production", "--key", "errors", "--kind", "count", "--event", "error", "--direction", "lower"},
	)
	token := s.mustToken(t, "--env", "production", "--scope", "evaluate")

	// 500 users a variant, treatment buying more; purchases before the
	// exposure give CUPED a covariate.
	events := traffic{flag: "checkout-test", users: 1000, buy: [2]float64{0.2, 0.3}, seed: [2]uint64{3, 4}, covariate: true}.events()
	s.mustSendEvents(t, token, events)

	code, _, stderr := s.cli(t, s.Admin, "experiment", "hypothesis", "set", "checkout-test", "--env", "production",
		"--primary", "purchased", "--min-effect", "10%", "--guardrail", "errors:50%", "--statement", "a shorter checkout sells more", "--cuped", "on")
	if code != 0 {
		t.Fatalf("hypothesis set: exit %d: %s", code, stderr)
	}

	// API, CLI JSON and the analysis of the aggregates agree.
	c := client.New(s.URL, s.Admin)
	api, err := c.Results(context.Background(), "production", "checkout-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := s.cli(t, s.Admin, "experiment", "results", "checkout-test", "--env", "production", "--output", "json")
	if code != 0 {
		t.Fatalf("results --output json: exit %d: %s", code, stderr)
	}
	var cli experiment.Result
	if err := json.Unmarshal([]byte(out), &cli); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(api, &cli) {
		t.Errorf("CLI JSON differs from the API result")
	}
	want := analyzeAggregates(t, c, api.Settings, []string{"purchased", "errors", "revenue"})
	if api.SRM != want.SRM {
		t.Errorf("SRM = %+v, want %+v", api.SRM, want.SRM)
	}
	for i, m := range api.Metrics {
		w := want.Metrics[i]
		for j, v := range m.Variants {
			if v.Users != w.Arms[j].N || *v.Mean != w.Arms[j].Estimate || m.Theta != w.Theta {
				t.Errorf("%s/%s: users %d mean %v θ %v, want %d %v %v", m.Metric, v.Variant, v.Users, *v.Mean, m.Theta, w.Arms[j].N, w.Arms[j].Estimate, w.Theta)
			}
			if j == 0 {
				continue
			}
			wc := w.Comparisons[j-1]
			if v.Lift.Absolute != wc.Absolute || !reflect.DeepEqual(v.Lift.Relative, wc.Relative) || v.Lift.AdjustedPValue != wc.AdjustedPValue ||
				v.Lift.AdjustedSequentialPValue != wc.AdjustedSequentialPValue || v.Lift.ChanceToWin != wc.ChanceToBeat {
				t.Errorf("%s/%s: lift %+v, want %+v; relative %+v, want %+v", m.Metric, v.Variant, v.Lift, wc, v.Lift.Relative, wc.Relative)
			}
		}
	}
	if api.Verdict == nil || api.Hypothesis == nil || api.Hypothesis.Statement != "a shorter checkout sells more" {
		t.Fatalf("no verdict or hypothesis: %+v", api)
	}

	checkExperimentTable(t, s, api)
}

// checkExperimentTable checks the results table (bars, p-values, SRM,
// settings, verdict with its reason), overrides and the hypothesis as text.
func checkExperimentTable(t *testing.T, s *testServer, api *experiment.Result) {
	t.Helper()
	// The table: bars, p-values, SRM, settings, verdict with its reason.
	code, table, stderr := s.cli(t, s.Admin, "experiment", "results", "checkout-test", "--env", "production")
	if code != 0 {
		t.Fatalf("results: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"checkout-test in production: 2 variants, 1,000 users",
		"purchased (conversion, higher is better, primary, CUPED",
		"LIFT (95% sequential)", "ADJ P", "WIN", "●", "┤",
		"SRM: ok", "control 500 (50.0%, expected 50.0%)",
		"Settings: α = 0.05 two-sided, sequential intervals",
		"WIN Bayesian (flat prior; neither corrected nor safe to peek at)",
		"Verdict: " + strings.ToUpper(strings.ReplaceAll(string(api.Verdict.Decision), "_", " ")) + " — " + api.Verdict.Reason,
		"guardrail errors on treatment:",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	t.Logf("\n%s", table)

	// Overrides on the command line reach the analysis.
	code, out, _ := s.cli(t, s.Admin, "experiment", "results", "checkout-test", "--env", "production", "--output", "json", "--alpha", "0.1", "--cuped", "off", "--metric", "revenue")
	var over experiment.Result
	if err := json.Unmarshal([]byte(out), &over); code != 0 || err != nil || over.Settings.Alpha != 0.1 || over.Settings.CUPED || len(over.Metrics) != 3 {
		t.Errorf("overrides: exit %d, settings %+v, %d metrics", code, over.Settings, len(over.Metrics))
	}
	code, out, _ = s.cli(t, s.Admin, "experiment", "hypothesis", "get", "checkout-test", "--env", "production")
	if code != 0 || !strings.Contains(out, "purchased should increase by at least 10%") || !strings.Contains(out, "errors may get at most 50% worse") {
		t.Errorf("hypothesis get: exit %d:\n%s", code, out)
	}
}

// analyzeAggregates runs stats.Analyze on the aggregates the API serves.
func analyzeAggregates(t *testing.T, c *client.Client, s experiment.Settings, metrics []string) *stats.Result {
	t.Helper()
	raw, err := c.Aggregates(context.Background(), "production", "checkout-test")
	if err != nil {
		t.Fatal(err)
	}
	var aggs struct {
		Flags []struct {
			Variants []struct {
				Variant string `json:"variant"`
				Users   int64  `json:"users"`
				Metrics map[string]struct {
					Kind    stats.Kind    `json:"kind"`
					Summary stats.Summary `json:"summary"`
				} `json:"metrics"`
			} `json:"variants"`
		} `json:"flags"`
	}
	if err := json.Unmarshal(raw, &aggs); err != nil || len(aggs.Flags) != 1 || len(aggs.Flags[0].Variants) != 2 {
		t.Fatalf("aggregates: %v: %s", err, raw)
	}
	vs := aggs.Flags[0].Variants // control, treatment
	in := stats.Input{}
	for _, v := range vs {
		in.Variants = append(in.Variants, stats.Variant{Name: v.Variant, Weight: s.Weights[v.Variant], Units: v.Users})
	}
	for _, m := range metrics {
		// errors is a count, purchased a conversion: never negative.
		sm := stats.Metric{Name: m, Kind: vs[0].Metrics[m].Kind, LowerIsBetter: m == "errors", NonNegative: m != "revenue"}
		for _, v := range vs {
			sm.Summaries = append(sm.Summaries, v.Metrics[m].Summary)
		}
		in.Metrics = append(in.Metrics, sm)
	}
	res, err := stats.Analyze(s.Settings, in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestExperimentCLIBadInput(t *testing.T) {
	s := MustServe(t, "", "--demo")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"experiment", "results", "--env", "production"}, exitUsage, "want one flag key"},
		{[]string{"experiment", "results", "new-onboarding"}, exitUsage, "--env"},
		{[]string{"experiment", "frobnicate"}, exitUsage, "unknown subcommand"},
		{[]string{"experiment", "results", "new-onboarding", "--env", "production", "--alpha", "0.7"}, exitInvalid, "--alpha: must be in (0, 0.5]"},
		{[]string{"experiment", "results", "new-onboarding", "--env", "production", "--tuning", "0"}, exitInvalid, "--tuning: must be a positive number"},
		{[]string{"experiment", "results", "new-onboarding", "--env", "production", "--metric", "nope"}, exitInvalid, `--metric: no metric "nope"`},
		{[]string{"experiment", "results", "new-onboarding", "--env", "production", "--control", "nope"}, exitInvalid, `--control: the flag has no variant "nope"`},
		{[]string{"experiment", "results", "no-such-flag", "--env", "production"}, exitNotFound, "not found"},
		{[]string{"experiment", "hypothesis", "set", "new-onboarding", "--env", "production", "--primary", "nope", "--min-effect", "2%"}, exitInvalid, `--primary: no metric "nope"`},
		{[]string{"experiment", "hypothesis", "set", "new-onboarding", "--env", "production", "--primary", "orders", "--min-effect", "2%", "--guardrail", "nope:5%"}, exitInvalid, `--guardrail nope:5%: no metric "nope"`},
		{[]string{"experiment", "hypothesis", "set", "new-onboarding", "--env", "production", "--primary", "orders", "--min-effect", "x"}, exitUsage, "--min-effect"},
		{[]string{"experiment", "hypothesis", "set", "new-onboarding", "--env", "production", "--primary", "orders"}, exitUsage, "--min-effect"},
		// A bare number is a fraction, as for rollout start --guardrail:
		// "2" meant as 2% would be 200%, and the server takes tolerances
		// up to 10.
		{[]string{"experiment", "hypothesis", "set", "new-onboarding", "--env", "production", "--primary", "orders", "--min-effect", "2%", "--guardrail", "support-tickets:2"}, exitUsage,
			"--guardrail support-tickets:2: 2 is a fraction, 200%: write 2% for 2 percent, or 200% if that is meant"},
		{[]string{"experiment", "hypothesis", "set", "new-onboarding", "--env", "production", "--primary", "orders", "--min-effect", "5"}, exitUsage, "--min-effect: 5 is a fraction, 500%"},
	} {
		code, _, stderr := s.cli(t, s.Admin, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	// The rejected changes changed nothing: the demo hypothesis stands.
	code, out, _ := s.cli(t, s.Admin, "experiment", "hypothesis", "get", "new-onboarding", "--env", "production", "--output", "json")
	if code != 0 || !strings.Contains(out, `"primaryMetric": "onboarding-completed"`) || !strings.Contains(out, `"version": 1`) {
		t.Errorf("hypothesis after rejected sets: exit %d:\n%s", code, out)
	}
}

// TestDemoExperiment: serve --demo shows the onboarding experiment with
// results and a verdict.
func TestDemoExperiment(t *testing.T) {
	s := MustServe(t, "", "--demo")
	code, out, stderr := s.cli(t, s.Admin, "experiment", "results", "new-onboarding", "--env", "production")
	if code != 0 {
		t.Fatalf("results: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"4,000 users", "onboarding-completed", "support-tickets", "Verdict: VALIDATED", "(a mismatch is p < 0.001)", "CUPED on, unadjusted", "every guardrail is shown within its tolerance"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo results lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CUPED off") { // the settings line says on
		t.Errorf("a metric says CUPED off while the settings say on:\n%s", out)
	}
	t.Logf("\n%s", out)
}

// TestResultsEstimateColumn: the column beside USERS is named for what it
// holds, so a quantile's estimate is not shown under MEAN.
func TestResultsEstimateColumn(t *testing.T) {
	for _, tc := range []struct {
		kind             metric.MetricKind
		analysis         stats.Kind
		heading, notWant string
	}{
		{metric.Mean, stats.Mean, "USERS  MEAN ", "QUANTILE"},
		{metric.Conversion, stats.Proportion, "USERS  MEAN ", "QUANTILE"},
		{metric.Quantile, stats.Quantile, "USERS  QUANTILE ", "MEAN"},
		{metric.Ratio, stats.Ratio, "USERS  RATIO ", "MEAN"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			m := experiment.MetricResult{Metric: "m", Kind: tc.kind, Analysis: tc.analysis, Direction: "higher",
				Variants: []experiment.VariantResult{{Variant: "control", Control: true, Users: 1, Status: stats.OK, Mean: new(float64)}}}
			r := &experiment.Result{Flag: "f", Environment: "production", Metrics: []experiment.MetricResult{m}}
			r.Settings.Settings = stats.DefaultSettings()
			var b strings.Builder
			writeResults(&b, r)
			out := b.String()
			table := out[strings.Index(out, "VARIANT"):]
			if !strings.Contains(out, tc.heading) || strings.Contains(table[:strings.Index(table, "\n")], tc.notWant) {
				t.Errorf("want %q in the heading, not %q:\n%s", tc.heading, tc.notWant, out)
			}
		})
	}
}

// TestResultsCUPEDLabel: each metric's CUPED label agrees with the
// settings line and with what the engine did; a quantile, never adjusted,
// does not say "unadjusted" as if it could have been.
func TestResultsCUPEDLabel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		on      bool
		m       experiment.MetricResult
		want    string
		notWant string
	}{
		{"off", false, experiment.MetricResult{Metric: "m", Kind: "mean", Analysis: stats.Mean}, "(mean, higher is better, CUPED off)", "CUPED on"},
		{"applied", true, experiment.MetricResult{Metric: "m", Kind: "mean", Analysis: stats.Mean, CUPED: true, Theta: 0.5}, "(mean, higher is better, CUPED on)", "unadjusted"},
		{"no pre-exposure variation", true, experiment.MetricResult{Metric: "m", Kind: "mean", Analysis: stats.Mean}, "CUPED on, unadjusted: no pre-exposure data varies", ""},
		{"quantile", true, experiment.MetricResult{Metric: "p99", Kind: "quantile", Analysis: stats.Quantile}, "(quantile, higher is better, CUPED on, not applicable to a quantile)", "unadjusted"},
		{"quantile, off", false, experiment.MetricResult{Metric: "p99", Kind: "quantile", Analysis: stats.Quantile}, "(quantile, higher is better, CUPED off)", "CUPED on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Direction = "higher"
			r := &experiment.Result{Flag: "f", Environment: "production", Metrics: []experiment.MetricResult{tc.m}}
			r.Settings.Settings = stats.DefaultSettings()
			r.Settings.CUPED = tc.on
			var b strings.Builder
			writeResults(&b, r)
			out := b.String()
			settings := expIf(tc.on, "CUPED on", "CUPED off")
			if !strings.Contains(out, tc.want) || !strings.Contains(out, "Settings: ") || !strings.Contains(out[strings.Index(out, "Settings: "):], settings) {
				t.Errorf("want %q and settings with %q:\n%s", tc.want, settings, out)
			}
			if tc.notWant != "" && strings.Contains(out[:strings.Index(out, "Settings: ")], tc.notWant) {
				t.Errorf("metric line says %q:\n%s", tc.notWant, out)
			}
		})
	}
}

// TestParseShare: relative values on the command line are 2% or 0.02; a
// bare number of 1 or more is refused, as --steps reads bare numbers as
// percentages; an absolute value is a plain number of any size.
func TestParseShare(t *testing.T) {
	for _, tc := range []struct {
		in   string
		abs  bool
		want float64
		err  string // "" for accepted
	}{
		{"2%", false, 0.02, ""},
		{"0.02", false, 0.02, ""},
		{"-5%", false, -0.05, ""},
		{"200%", false, 2, ""},
		{"0.999", false, 0.999, ""},
		{"2", false, 0, "2 is a fraction, 200%: write 2% for 2 percent, or 200% if that is meant"},
		{"1", false, 0, "1 is a fraction, 100%"},
		{"-10", false, 0, "-10 is a fraction, -1000%: write -10% for -10 percent"},
		{"2", true, 2, ""},
		{"2%", true, 0, "cannot be a percentage"},
		{"two", false, 0, "want a number"},
		// The error quotes what was typed, its % included.
		{"two%", false, 0, `want a number, got "two%"`},
		// ParseFloat reads these, which JSON cannot carry: the request
		// failed with "json: unsupported value", naming no flag.
		{"NaN%", false, 0, `want a finite number, got "NaN%"`},
		{"Inf%", false, 0, "want a finite number"},
		{"-inf", true, 0, "want a finite number"},
	} {
		v, err := parseShare(tc.in, tc.abs)
		switch {
		case tc.err == "" && (err != nil || v != tc.want):
			t.Errorf("parseShare(%q, %v) = %v, %v; want %v", tc.in, tc.abs, v, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseShare(%q, %v) = %v, %v; want an error with %q", tc.in, tc.abs, v, err, tc.err)
		}
	}
}

// TestVerdictDetailBeforeHistory: the lines that explain a verdict (each
// treatment's decision, each guardrail) follow the Verdict line they
// belong to; the History line comes after them, not between.
func TestVerdictDetailBeforeHistory(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &experiment.Result{Flag: "f", Environment: "production",
		Verdict: &experiment.Verdict{Decision: experiment.Validated, Reason: "primary moved", Variants: []experiment.VariantVerdict{{
			Variant: "treatment", Decision: experiment.Validated, Reason: "primary moved",
			Guardrails: []experiment.GuardrailCheck{{Metric: "tickets", Status: experiment.GuardrailOK, Harm: &experiment.Bounds{Estimate: 0.01, Lower: -0.2, Upper: 0.2}, Tolerance: 0.3}},
		}}},
		VerdictHistory: []experiment.VerdictRecord{{Decision: experiment.Validated, At: at}},
	}
	var b strings.Builder
	writeVerdict(&b, r)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "Verdict: VALIDATED") ||
		!strings.HasPrefix(lines[1], "  guardrail tickets on treatment: ok") || !strings.HasPrefix(lines[2], "History: first validated 2026-12-01 10:00:00 UTC") {
		t.Errorf("verdict, its guardrail, then the history; got:\n%s", b.String())
	}
}

// TestVerdictGuardrailLevel: a guardrail decided on the interval corrected
// over two treatments (97.5%) says so, for its bounds are not the table's
// 95% ones; at the result's own level nothing is added.
func TestVerdictGuardrailLevel(t *testing.T) {
	for _, tc := range []struct {
		level float64
		want  string
	}{
		{0.975, ", harm +1.0% [-20.0%, +20.0%] (97.5% interval; tolerance 30%)"},
		{0.95, ", harm +1.0% [-20.0%, +20.0%] (tolerance 30%)"},
	} {
		r := &experiment.Result{Flag: "f", Environment: "production", Settings: experiment.DefaultSettings(),
			Verdict: &experiment.Verdict{Decision: experiment.KeepRunning, Reason: "not decided yet", Variants: []experiment.VariantVerdict{{
				Variant: "treatment", Decision: experiment.KeepRunning,
				Guardrails: []experiment.GuardrailCheck{{Metric: "tickets", Status: experiment.GuardrailOK, Harm: &experiment.Bounds{Estimate: 0.01, Lower: -0.2, Upper: 0.2, Level: tc.level}, Tolerance: 0.3}},
			}}}}
		var b strings.Builder
		writeVerdict(&b, r)
		if !strings.Contains(b.String(), "guardrail tickets on treatment: ok"+tc.want+"\n") {
			t.Errorf("level %g: want %q in:\n%s", tc.level, tc.want, b.String())
		}
	}
}

// TestResultsUsageNamesEveryChoice: the usage line of experiment results
// lists every value its enumerated settings accept; it left out
// bonferroni, the one correction with adjusted intervals.
func TestResultsUsageNamesEveryChoice(t *testing.T) {
	var args string
	for _, c := range experimentCommand().subs {
		if c.name == "results" {
			args = c.args
		}
	}
	for flag, values := range map[string][]string{
		"correction":  {string(stats.NoCorrection), string(stats.Holm), string(stats.BenjaminiHochberg), string(stats.Bonferroni)},
		"alternative": {string(stats.TwoSided), string(stats.Greater), string(stats.Less)},
		"inference":   {string(experiment.Sequential), string(experiment.Fixed)},
	} {
		if want := "[--" + flag + " " + strings.Join(values, "|") + "]"; !strings.Contains(args, want) {
			t.Errorf("usage %q lacks %s", args, want)
		}
	}
}

// TestSettingFlagsAreTheSettings: the commands' setting flags (expSettings)
// are exactly the settings experiment.Settings.Set knows, the list the
// results route takes its parameters from, so that a setting added there
// cannot be missing from the CLI, nor a flag name one Set refuses.
func TestSettingFlagsAreTheSettings(t *testing.T) {
	var flags []string
	for _, s := range expSettings {
		flags = append(flags, s.name)
	}
	want := experiment.SettingNames()
	sort.Strings(flags)
	sort.Strings(want)
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("the CLI's setting flags set %v; experiment.Settings.Set knows %v", flags, want)
	}
}
