package experiment

import (
	"reflect"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// TestSampleRatioIsAnalyze: the check read from the users' cells alone
// answers what Analyze answers on every cell, by period or not, forced
// weights, a split not known, and the errors (a hypothesis naming a metric
// the environment lost).
func TestSampleRatioIsAnalyze(t *testing.T) {
	ms := testMetrics()
	t1, t2 := int64(1_767_300_000_000), int64(1_767_400_000_000)
	rollout := func(treatment int) ([]metric.Aggregate, []SplitPeriod) {
		return rolloutAggregates(t, ms, []rolloutPeriod{
			{0, map[string]float64{"control": 1}, []arm{{name: "control", users: 300, signup: 0.3}}},
			{t1, map[string]float64{"control": 95, "treatment": 5}, []arm{{name: "control", users: 1900, signup: 0.3}, {name: "treatment", users: treatment, signup: 0.45}}},
			{t2, map[string]float64{"control": 50, "treatment": 50}, []arm{{name: "control", users: 1000, signup: 0.3}, {name: "treatment", users: 1000, signup: 0.45}}},
		})
	}
	fine, fineSplits := rollout(100)
	broken, brokenSplits := rollout(400)
	even := simulate(t, 1, "onboarding", ms, []arm{{name: "control", users: 1000, signup: 0.3}, {name: "treatment", users: 1000, signup: 0.33}})
	skewed := simulate(t, 2, "onboarding", ms, []arm{{name: "control", users: 1300, signup: 0.3}, {name: "treatment", users: 1000, signup: 0.33}})
	h := &Hypothesis{Statement: "s", PrimaryMetric: "signup", MinimumEffect: 0.05, Guardrails: []Guardrail{{Metric: "tickets"}}}
	lost := &Hypothesis{Statement: "s", PrimaryMetric: "gone", MinimumEffect: 0.05}
	disabled := testFlag()
	disabled.State = valueloop.StateDisabled
	forced := DefaultSettings()
	forced.Weights = map[string]float64{"control": 1, "treatment": 1}
	windowed := append(testMetrics(), metric.Metric{Key: "signup-1d", Kind: metric.Conversion, Event: "signup", Window: metric.Window(24 * time.Hour)})
	exclude := DefaultSettings()
	exclude.ExcludeOpenWindows = true
	for _, c := range []struct {
		name     string
		in       Input
		mismatch bool // Analyze's, so that the cases show both answers
	}{
		{"by period, fine", Input{Definition: rolloutFlag(), Metrics: ms, Aggregates: fine, Splits: fineSplits, Hypothesis: h, Settings: DefaultSettings()}, false},
		{"by period, one broken", Input{Definition: rolloutFlag(), Metrics: ms, Aggregates: broken, Splits: brokenSplits, Hypothesis: h, Settings: DefaultSettings()}, true},
		{"even", Input{Definition: testFlag(), Metrics: ms, Aggregates: even, Hypothesis: h, Settings: DefaultSettings()}, false},
		{"skewed", Input{Definition: testFlag(), Metrics: ms, Aggregates: skewed, Hypothesis: h, Settings: DefaultSettings()}, true},
		{"skewed, no hypothesis", Input{Definition: testFlag(), Metrics: ms, Aggregates: skewed, Settings: DefaultSettings()}, true},
		{"skewed, weights given", Input{Definition: testFlag(), Metrics: ms, Aggregates: skewed, Hypothesis: h, Settings: forced}, true},
		{"skewed, flag disabled", Input{Definition: disabled, Metrics: ms, Aggregates: skewed, Hypothesis: h, Settings: DefaultSettings()}, false},
		{"skewed, flag not defined", Input{Metrics: ms, Aggregates: skewed, Hypothesis: h, Settings: DefaultSettings()}, false},
		{"skewed, metric lost", Input{Definition: testFlag(), Metrics: ms, Aggregates: skewed, Hypothesis: lost, Settings: DefaultSettings()}, false},
		{"skewed, open windows excluded", Input{Definition: testFlag(), Metrics: windowed, Aggregates: skewed, Hypothesis: h, Settings: exclude, Now: time.UnixMilli(t2)}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.in.Flag = "onboarding"
			var want any
			res, err := Analyze(c.in)
			if err == nil {
				want = res.SRM
				if res.SRM.Mismatch != c.mismatch {
					t.Fatalf("setup: Analyze's SRM %+v, want mismatch %v", res.SRM, c.mismatch)
				}
			}
			users := c.in
			users.Aggregates = nil
			for _, a := range c.in.Aggregates {
				if a.Metric == "" && a.Dimension == "" {
					users.Aggregates = append(users.Aggregates, a)
				}
			}
			var got any
			srm, gotErr := SampleRatio(users)
			if gotErr == nil {
				got = srm
			}
			if (err == nil) != (gotErr == nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("SampleRatio = %+v, %v; Analyze's SRM %+v, %v", got, gotErr, want, err)
			}
		})
	}
}
