package experiment

import (
	"math"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// rolloutPeriod is one step of a simulated rollout: its split and arms.
type rolloutPeriod struct {
	start int64
	split map[string]float64
	arms  []arm
}

// rolloutAggregates simulates each period's users on their own and files
// their cells under the period, as the ingestion does with split changes.
func rolloutAggregates(t *testing.T, ms []metric.Metric, periods []rolloutPeriod) ([]metric.Aggregate, []SplitPeriod) {
	t.Helper()
	var aggs []metric.Aggregate
	var splits []SplitPeriod
	for i, p := range periods {
		var arms []arm
		for _, a := range p.arms {
			if a.users > 0 {
				arms = append(arms, a)
			}
		}
		for _, a := range simulate(t, uint64(10+i), "onboarding", ms, arms) {
			if a.Variant == "" {
				continue // the excluded count: none here
			}
			a.Period = p.start
			aggs = append(aggs, a)
		}
		splits = append(splits, SplitPeriod{Start: p.start, Weights: p.split})
	}
	return aggs, splits
}

func rolloutFlag() *valueloop.Flag {
	f := testFlag()
	f.Targeting = []byte(`{"fractional":[["treatment",100],["control",0]]}`)
	return f
}

// TestResultsByPeriod: a rollout 0% → 5% → 50% → 100% is analysed period by
// period: the 0% and 100% periods get no weight, each period's SRM is
// checked against its own split, and the effect counts as evidence.
func TestResultsByPeriod(t *testing.T) {
	ms := testMetrics()
	t1, t2, t3 := int64(1_767_300_000_000), int64(1_767_400_000_000), int64(1_767_500_000_000)
	aggs, splits := rolloutAggregates(t, ms, []rolloutPeriod{
		{0, map[string]float64{"control": 1}, []arm{{name: "control", users: 300, signup: 0.3}}},
		{t1, map[string]float64{"control": 95, "treatment": 5}, []arm{{name: "control", users: 1900, signup: 0.3}, {name: "treatment", users: 100, signup: 0.45}}},
		{t2, map[string]float64{"control": 50, "treatment": 50}, []arm{{name: "control", users: 1000, signup: 0.3}, {name: "treatment", users: 1000, signup: 0.45}}},
		{t3, map[string]float64{"treatment": 100}, []arm{{name: "treatment", users: 1500, signup: 0.45}}},
	})
	h := &Hypothesis{Statement: "s", PrimaryMetric: "signup", MinimumEffect: 0.05}
	res, err := Analyze(Input{Flag: "onboarding", Definition: rolloutFlag(), Metrics: ms, Aggregates: aggs, Splits: splits, Hypothesis: h, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Periods) != 4 {
		t.Fatalf("periods = %+v, want 4", res.Periods)
	}
	if res.Periods[0].Start != nil || res.Periods[1].Start == nil || !res.Periods[1].Start.Equal(time.UnixMilli(t1)) {
		t.Errorf("period starts = %v, %v", res.Periods[0].Start, res.Periods[1].Start)
	}
	// W_p ∝ U_c U_t / (U_c + U_t): 1900·100/2000 = 95 and 1000·1000/2000 = 500.
	want := []float64{0, 95.0 / 595, 500.0 / 595, 0}
	for i, p := range res.Periods {
		if math.Abs(p.Weight-want[i]) > 1e-12 {
			t.Errorf("period %d weight = %v, want %v", i, p.Weight, want[i])
		}
	}
	if s := res.Periods[1].SRM; s.Status != "ok" || s.Mismatch || s.DF != 1 {
		t.Errorf("period 1 SRM = %+v, want checked against 95/5 and ok", s)
	}
	if s := res.Periods[3].SRM; s.Status == "ok" {
		t.Errorf("100%% period SRM = %+v, want not checked (one variant)", s)
	}
	if res.SRM.Mismatch || res.Settings.Weights != nil {
		t.Errorf("SRM = %+v, weights = %v: want no mismatch, no fixed weights", res.SRM, res.Settings.Weights)
	}
	lift := res.Metrics[0].Variants[1].Lift
	if lift == nil || lift.Relative == nil || !(lift.Relative.Estimate > 0.25 && lift.Relative.Estimate < 0.75) || lift.AdjustedSequentialPValue >= 0.05 {
		t.Fatalf("signup lift = %+v, want about +50%%, significant", lift)
	}
	if res.Verdict == nil || res.Verdict.Decision != Validated {
		t.Errorf("verdict = %+v, want validated", res.Verdict)
	}
	// A broken split in one period is a mismatch overall.
	for i := range aggs {
		if aggs[i].Period == t1 && aggs[i].Variant == "treatment" && aggs[i].Metric == "" {
			aggs[i].Sums.N = 400
		}
	}
	res, err = Analyze(Input{Flag: "onboarding", Definition: rolloutFlag(), Metrics: ms, Aggregates: aggs, Splits: splits, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.SRM.Mismatch || !res.Periods[1].SRM.Mismatch || res.Periods[2].SRM.Mismatch {
		t.Errorf("SRM = %+v, periods %+v / %+v: want the 5%% period's mismatch to show", res.SRM, res.Periods[1].SRM, res.Periods[2].SRM)
	}
}

// TestResultsByPeriodRemoveTimeConfounding: the conversion rate rises over
// time for everyone while the treatment's share grows with the rollout.
// Pooled (weights forced) the treatment looks better; by period it is not.
func TestResultsByPeriodRemoveTimeConfounding(t *testing.T) {
	ms := testMetrics()
	t1, t2 := int64(1_767_300_000_000), int64(1_767_400_000_000)
	aggs, splits := rolloutAggregates(t, ms, []rolloutPeriod{
		{t1, map[string]float64{"control": 90, "treatment": 10}, []arm{{name: "control", users: 3600, signup: 0.2}, {name: "treatment", users: 400, signup: 0.2}}},
		{t2, map[string]float64{"control": 10, "treatment": 90}, []arm{{name: "control", users: 400, signup: 0.5}, {name: "treatment", users: 3600, signup: 0.5}}},
	})
	splits = append([]SplitPeriod{{Start: 0, Weights: map[string]float64{"control": 1}}}, splits...)
	in := Input{Flag: "onboarding", Definition: rolloutFlag(), Metrics: ms, Aggregates: aggs, Splits: splits, Settings: DefaultSettings(), Only: []string{"signup"}}
	byPeriod, err := Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Settings.Weights = map[string]float64{"control": 50, "treatment": 50}
	pooled, err := Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	p := pooled.Metrics[0].Variants[1].Lift
	s := byPeriod.Metrics[0].Variants[1].Lift
	if p.Relative.Interval.Lower <= 0 {
		t.Errorf("pooled interval %v: want the spurious lift the time trend makes", p.Relative.Interval)
	}
	if !s.Relative.Interval.Contains(0) || math.Abs(s.Absolute.Estimate) > 0.03 {
		t.Errorf("by period: %+v %v, want no effect", s.Absolute.Estimate, s.Relative.Interval)
	}
}

// TestSplitHistory: a period starts when the split's shares change, not for
// other edits, and a flag without a split serves its default variant.
func TestSplitHistory(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	f := func(targeting string, desc string) *valueloop.Flag {
		fl := testFlag()
		fl.Targeting = []byte(targeting)
		if targeting == "" {
			fl.Targeting = nil
		}
		fl.Metadata = map[string]any{"description": desc}
		return fl
	}
	got := SplitHistory([]FlagVersion{
		{at(10), f("", "a")},
		{at(20), f(`{"fractional":[["treatment",500],["control",9500]]}`, "a")},
		{at(30), f(`{"fractional":[["treatment",5],["control",95]]}`, "b")}, // same shares
		{at(40), f(`{"fractional":[["treatment",100],["control",0]]}`, "b")},
		{at(50), nil},
	})
	wantStarts := []int64{0, 20_000, 40_000, 50_000}
	if len(got) != len(wantStarts) {
		t.Fatalf("history = %+v, want starts %v", got, wantStarts)
	}
	for i, p := range got {
		if p.Start != wantStarts[i] {
			t.Errorf("period %d starts %d, want %d", i, p.Start, wantStarts[i])
		}
	}
	if w := got[0].Weights; len(w) != 1 || w["control"] != 1 {
		t.Errorf("first split = %v, want the default variant", w)
	}
	if w := got[2].Weights; len(w) != 1 || w["treatment"] != 100 {
		t.Errorf("100%% split = %v, want treatment only", w)
	}
	if got[3].Weights != nil {
		t.Errorf("deleted flag serves %v, want nobody", got[3].Weights)
	}
	if ch := SplitChanges(got); len(ch) != 3 || ch[0] != 20_000 {
		t.Errorf("changes = %v", ch)
	}
}
