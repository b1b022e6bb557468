package experiment

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/valuelooptest"
)

// TestAnalyzeMatchesStats checks that a result is stats.Analyze of the same
// aggregates, mapped without loss: variants in order with their users and
// weights, every arm and comparison number as stats computed it.
func TestAnalyzeMatchesStats(t *testing.T) {
	ms := testMetrics()
	aggs := simulate(t, 1, "onboarding", ms, []arm{
		{name: "control", users: 600, signup: 0.30, spend: 0, tickets: 0.05},
		{name: "treatment", users: 610, signup: 0.36, spend: 2, tickets: 0.05},
		{name: "staff", users: 7, signup: 1},
	})
	s := DefaultSettings()
	res, err := Analyze(Input{Environment: "production", Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	// The fractional split decides the arms: staff takes no part.
	if got := []Variant{res.Variants[0], res.Variants[1]}; got[0].Name != "control" || !got[0].Control || got[1].Name != "treatment" || len(res.Variants) != 2 {
		t.Fatalf("variants = %+v, want control then treatment", res.Variants)
	}
	if res.Variants[0].Users != 600 || res.Variants[1].Users != 610 || res.Users != 1210 || res.OtherUsers != 7 {
		t.Errorf("users = %d/%d, total %d, other %d; want 600/610, 1210, 7", res.Variants[0].Users, res.Variants[1].Users, res.Users, res.OtherUsers)
	}
	if res.Settings.Control != "control" || !reflect.DeepEqual(res.Settings.Weights, map[string]float64{"control": 50, "treatment": 50}) {
		t.Errorf("settings recorded = %+v, want control and the 50/50 split resolved", res.Settings)
	}
	if res.Verdict != nil {
		t.Errorf("verdict without a hypothesis: %+v", res.Verdict)
	}

	// The same analysis straight from stats.
	in := stats.Input{Variants: []stats.Variant{{Name: "control", Weight: 50, Units: 600}, {Name: "treatment", Weight: 50, Units: 610}}}
	keys := []string{"order-value", "revenue", "revenue-per-session", "signup", "tickets"}
	byKey := map[string]metric.Metric{}
	for _, m := range ms {
		byKey[m.Key] = m
	}
	for _, k := range keys {
		m := byKey[k]
		sm := stats.Metric{Name: k, Kind: m.StatsKind(), NonNegative: m.Kind == metric.Conversion || m.Kind == metric.Count, LowerIsBetter: m.Direction == metric.LowerIsBetter}
		for _, v := range []string{"control", "treatment"} {
			var sum stats.Summary
			for _, a := range aggs {
				if a.Variant == v && a.Metric == k {
					sum = a.Sums.Summary()
				}
			}
			sm.Summaries = append(sm.Summaries, sum)
		}
		in.Metrics = append(in.Metrics, sm)
	}
	want, err := stats.Analyze(s.Settings, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.SRM != want.SRM {
		t.Errorf("SRM = %+v, want %+v", res.SRM, want.SRM)
	}
	if len(res.Metrics) != len(keys) {
		t.Fatalf("%d metrics, want %d", len(res.Metrics), len(keys))
	}
	for i, mr := range res.Metrics {
		w := want.Metrics[i]
		if mr.Metric != keys[i] || mr.Analysis != w.Kind || mr.Theta != w.Theta || mr.CUPED != (w.Theta != 0) {
			t.Errorf("metric %d = %s (%s, θ %v, cuped %v), want %s (%s, θ %v)", i, mr.Metric, mr.Analysis, mr.Theta, mr.CUPED, keys[i], w.Kind, w.Theta)
		}
		for j, v := range mr.Variants {
			a := w.Arms[j]
			if v.Variant != a.Variant || v.Users != a.N || *v.Mean != a.Estimate || *v.AdjustedMean != a.Adjusted || *v.SE != a.SE {
				t.Errorf("%s/%s = %+v, want arm %+v", mr.Metric, v.Variant, v, a)
			}
			if j == 0 {
				if v.Lift != nil {
					t.Errorf("%s: control has a lift", mr.Metric)
				}
				continue
			}
			c := w.Comparisons[j-1]
			l := v.Lift
			if l == nil || v.Status != c.Status {
				t.Fatalf("%s/%s: status %s lift %v, want %s", mr.Metric, v.Variant, v.Status, l, c.Status)
			}
			if l.Absolute != c.Absolute || !reflect.DeepEqual(l.Relative, c.Relative) || l.PValue != c.PValue || l.AdjustedPValue != c.AdjustedPValue ||
				l.SequentialPValue != c.SequentialPValue || l.AdjustedSequentialPValue != c.AdjustedSequentialPValue ||
				l.ChanceToWin != c.ChanceToBeat || l.ExpectedLoss != c.ExpectedLoss || l.Credible != c.Credible || l.DF != c.DF || l.Statistic != c.Statistic {
				t.Errorf("%s/%s lift = %+v, want comparison %+v", mr.Metric, v.Variant, l, c)
			}
		}
	}
	// Sanity of the simulation: signup rose, CUPED found the covariate.
	sig := res.Metrics[3]
	if sig.Metric != "signup" || sig.Variants[1].Lift.Absolute.Estimate <= 0 {
		t.Errorf("signup lift = %+v, want positive", sig.Variants[1].Lift)
	}
	if !res.Metrics[1].CUPED {
		t.Errorf("revenue: CUPED did not apply (θ = %v)", res.Metrics[1].Theta)
	}
}

func TestAnalyzeHonestAboutTooLittleData(t *testing.T) {
	ms := testMetrics()[:1]
	aggs := simulate(t, 2, "onboarding", ms, []arm{{name: "control", users: 1, signup: 1}, {name: "treatment", users: 5, signup: 0.5}})
	res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	c, tr := res.Metrics[0].Variants[0], res.Metrics[0].Variants[1]
	if c.Status != stats.NotEnoughData || !strings.Contains(c.Reason, "need at least 2 users, have 1") || c.Mean == nil || c.AdjustedMean != nil || c.SE != nil {
		t.Errorf("control = %+v; want not enough data with its reason, the observed mean and no adjusted mean", c)
	}
	if tr.Status != stats.NotEnoughData || tr.Lift != nil || !strings.Contains(tr.Reason, "control") {
		t.Errorf("treatment = %+v; want no lift and a reason naming control", tr)
	}
	buf, _ := json.Marshal(tr)
	if strings.Contains(string(buf), "pValue") || strings.Contains(string(buf), "lift") {
		t.Errorf("JSON of a comparison without data holds numbers: %s", buf)
	}

	// No exposures at all: the flag's variants, no users, SRM not computed.
	res, err = Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if res.SRM.Status != stats.NotEnoughData || res.Users != 0 || res.Metrics[0].Variants[0].Mean != nil {
		t.Errorf("empty experiment: SRM %+v, users %d, control %+v", res.SRM, res.Users, res.Metrics[0].Variants[0])
	}
}

func TestArms(t *testing.T) {
	ms := testMetrics()[:1]
	aggs := simulate(t, 3, "f", ms, []arm{{name: "a", users: 50}, {name: "b", users: 40}, {name: "c", users: 10}})
	plain := &testFlagT{variants: []string{"a", "b", "c"}, def: "b"}
	for _, tc := range []struct {
		name       string
		flag       *testFlagT
		settings   func(*Settings)
		want       []string // control first
		weights    []float64
		otherUsers int64
	}{
		{"exposed variants at equal weights, default variant as control", plain, nil, []string{"b", "a", "c"}, []float64{1, 1, 1}, 0},
		{"split in the targeting", &testFlagT{variants: []string{"a", "b", "c"}, def: "a", targeting: `{"fractional":[{"var":"email"},["a",10],["b"],["c",0]]}`}, nil, []string{"a", "b"}, []float64{10, 1}, 10},
		{"weights override the split", &testFlagT{variants: []string{"a", "b", "c"}, targeting: `{"fractional":[["a",1],["b",1]]}`}, func(s *Settings) { s.Weights = map[string]float64{"c": 1, "a": 3} }, []string{"a", "c"}, []float64{3, 1}, 40},
		{"explicit control", plain, func(s *Settings) { s.Control = "c" }, []string{"c", "a", "b"}, []float64{1, 1, 1}, 0},
		{"unknown flag: exposures only, variant named first as control", nil, nil, []string{"a", "b", "c"}, []float64{1, 1, 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			if tc.settings != nil {
				tc.settings(&s)
			}
			res, err := Analyze(Input{Flag: "f", Definition: tc.flag.flag(), Metrics: ms, Aggregates: aggs, Settings: s})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var w []float64
			for _, v := range res.Variants {
				got, w = append(got, v.Name), append(w, v.Weight)
			}
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(w, tc.weights) || res.OtherUsers != tc.otherUsers || res.Settings.Control != tc.want[0] {
				t.Errorf("arms %v weights %v other %d control %q; want %v %v %d", got, w, res.OtherUsers, res.Settings.Control, tc.want, tc.weights, tc.otherUsers)
			}
		})
	}
}

type testFlagT struct {
	variants  []string
	def       string
	targeting string
}

func (f *testFlagT) flag() *valueloop.Flag {
	if f == nil {
		return nil
	}
	fl := &valueloop.Flag{Variants: map[string]any{}}
	for _, v := range f.variants {
		fl.Variants[v] = v
	}
	if f.def != "" {
		fl.DefaultVariant = strp(f.def)
	}
	if f.targeting != "" {
		fl.Targeting = json.RawMessage(f.targeting)
	}
	return fl
}

func TestFractionalSplit(t *testing.T) {
	for _, tc := range []struct {
		targeting string
		want      map[string]float64
	}{
		{`{"fractional":[["a",50],["b",50]]}`, map[string]float64{"a": 50, "b": 50}},
		{`{"if":[{"==":[{"var":"x"},1]},"b",{"fractional":[{"cat":[{"var":"$flagd.flagKey"},{"var":"email"}]},["a",25],["b",75]]}]}`, map[string]float64{"a": 25, "b": 75}},
		{`{"fractional":[["a"],["b"],["c"]]}`, map[string]float64{"a": 1, "b": 1, "c": 1}},
		{`{"fractional":[[{"var":"v"},50],["b",50]]}`, nil},
		{`{"if":[true,"a","b"]}`, nil},
		{``, nil},
		{`not json`, nil},
	} {
		got, ok := FractionalSplit(json.RawMessage(tc.targeting))
		if ok != (tc.want != nil) || !reflect.DeepEqual(got, tc.want) && tc.want != nil {
			t.Errorf("FractionalSplit(%s) = %v, %v; want %v", tc.targeting, got, ok, tc.want)
		}
	}
}

// TestBadInput: settings out of range, unknown metrics and a hypothesis
// naming what does not exist are errors naming the field.
func TestBadInput(t *testing.T) {
	ms := testMetrics()
	aggs := simulate(t, 4, "onboarding", ms, []arm{{name: "control", users: 20, signup: .3}, {name: "treatment", users: 20, signup: .3}})
	hyp := func(edit func(*Hypothesis)) func(*Input) {
		return func(in *Input) {
			h := NewHypothesis()
			h.PrimaryMetric, h.MinimumEffect = "signup", 0.05
			h.Guardrails = []Guardrail{{Metric: "tickets", Tolerance: 0.1}}
			edit(h)
			in.Hypothesis = h
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Input)
		field string
	}{
		{"alpha zero", func(in *Input) { in.Settings.Alpha = 0 }, "settings.alpha"},
		{"alpha above 0.5", func(in *Input) { in.Settings.Alpha = 0.51 }, "settings.alpha"},
		{"alpha NaN", func(in *Input) { in.Settings.Alpha = math.NaN() }, "settings.alpha"},
		{"tuning zero", func(in *Input) { in.Settings.SequentialTuning = 0 }, "settings.sequentialTuning"},
		{"tuning negative", func(in *Input) { in.Settings.SequentialTuning = -10 }, "settings.sequentialTuning"},
		{"unknown alternative", func(in *Input) { in.Settings.Alternative = "bigger" }, "settings.alternative"},
		{"unknown correction", func(in *Input) { in.Settings.Correction = "sidak" }, "settings.correction"},
		{"unknown inference", func(in *Input) { in.Settings.Inference = "bayes" }, "settings.inference"},
		{"unknown control", func(in *Input) { in.Settings.Control = "nope" }, "settings.control"},
		{"weight of an unknown variant", func(in *Input) { in.Settings.Weights = map[string]float64{"control": 1, "nope": 1} }, "settings.weights.nope"},
		{"negative weight", func(in *Input) { in.Settings.Weights = map[string]float64{"control": 1, "treatment": -1} }, "settings.weights.treatment"},
		{"one weight", func(in *Input) { in.Settings.Weights = map[string]float64{"control": 1} }, "settings.weights"},
		{"unknown metric asked for", func(in *Input) { in.Only = []string{"signup", "nope"} }, "metric"},
		{"hypothesis without primary metric", hyp(func(h *Hypothesis) { h.PrimaryMetric = "" }), "hypothesis.primaryMetric"},
		{"hypothesis on an unknown metric", hyp(func(h *Hypothesis) { h.PrimaryMetric = "nope" }), "hypothesis.primaryMetric"},
		{"guardrail on an unknown metric", hyp(func(h *Hypothesis) { h.Guardrails[0].Metric = "nope" }), "hypothesis.guardrails[0].metric"},
		{"guardrail on the primary metric", hyp(func(h *Hypothesis) { h.Guardrails[0].Metric = "signup" }), "hypothesis.guardrails[0].metric"},
		{"negative tolerance", hyp(func(h *Hypothesis) { h.Guardrails[0].Tolerance = -0.1 }), "hypothesis.guardrails[0].tolerance"},
		{"zero minimum effect", hyp(func(h *Hypothesis) { h.MinimumEffect = 0 }), "hypothesis.minimumEffect"},
		{"unknown direction", hyp(func(h *Hypothesis) { h.Direction = "up" }), "hypothesis.direction"},
		{"power 1", hyp(func(h *Hypothesis) { h.Power = 1 }), "hypothesis.power"},
		{"one-sided test against the direction", func(in *Input) {
			hyp(func(h *Hypothesis) { h.Direction = Decrease })(in)
			in.Settings.Alternative = stats.Greater
		}, "settings.alternative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Settings: DefaultSettings()}
			tc.edit(&in)
			res, err := Analyze(in)
			if res != nil {
				t.Errorf("got a result along with the error")
			}
			valuelooptest.WantFieldError(t, err, tc.field)
		})
	}
}

func TestSettingsSet(t *testing.T) {
	s := DefaultSettings()
	for name, v := range map[string]string{"alpha": "0.1", "alternative": "greater", "sequentialTuning": "5000", "cuped": "off",
		"correction": "bh", "inference": "fixed", "control": " a", "weights": "a:1, b: 3 , c :0.5"} {
		if err := s.Set(name, v); err != nil {
			t.Fatalf("Set(%s, %s): %v", name, v, err)
		}
	}
	want := Settings{Settings: stats.Settings{Alpha: 0.1, Alternative: stats.Greater, SequentialTuning: 5000, CUPED: false, Correction: stats.BenjaminiHochberg},
		Inference: Fixed, Control: "a", Weights: map[string]float64{"a": 1, "b": 3, "c": 0.5}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("settings = %+v, want %+v", s, want)
	}
	for _, tc := range []struct{ name, value, field string }{
		{"alpha", "x", "settings.alpha"},
		{"cuped", "maybe", "settings.cuped"},
		{"weights", "a=1", "settings.weights"},
		{"weights", "a:1,b:x", "settings.weights.b"},
		// A variant named twice would keep its last weight silently, and
		// the SRM check then tests a split nobody meant.
		{"weights", "control:50,treatment:50,control:30", "settings.weights.control"},
		// Spaces are trimmed, so " control" is control named twice.
		{"weights", "control:50, control :30", "settings.weights.control"},
		{"weights", " :50,treatment:50", "settings.weights"},
		{"beta", "1", "beta"},
		// Given empty (?control=), a setting was set to "": the control
		// and CUPED's θ went back to their defaults silently, overriding
		// the hypothesis' own for one look.
		{"control", "", "settings.control"},
		{"cupedTheta", " ", "settings.cupedTheta"},
	} {
		before := s
		valuelooptest.WantFieldError(t, s.Set(tc.name, tc.value), tc.field)
		if !reflect.DeepEqual(s, before) {
			t.Errorf("Set(%s, %q) refused, but changed the settings to %+v", tc.name, tc.value, s)
		}
	}
}

func TestHypothesisDefaults(t *testing.T) {
	h := NewHypothesis()
	if err := json.Unmarshal([]byte(`{"primaryMetric":"tickets","minimumEffect":0.1,"settings":{"alpha":0.1}}`), h); err != nil {
		t.Fatal(err)
	}
	if err := h.Normalize(testMetrics(), []string{"control", "treatment"}); err != nil {
		t.Fatal(err)
	}
	// Direction from the metric (lower is better), default power, settings
	// not given keep their defaults.
	if h.Direction != Decrease || h.Power != DefaultPower || h.Settings.Alpha != 0.1 || !h.Settings.CUPED || h.Settings.Inference != Sequential || h.Settings.Correction != stats.Holm {
		t.Errorf("normalised hypothesis = %+v", h)
	}
}

// TestSplitSigned: a signed move splits into a non-negative size and its
// direction (−0 is no decrease), and Sign turns them back.
func TestSplitSigned(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		size float64
		d    Direction
	}{
		{0.05, 0.05, Increase},
		{-0.05, 0.05, Decrease},
		{0, 0, Increase},
		{math.Copysign(0, -1), 0, Increase},
		{-3, 3, Decrease},
	} {
		size, d := SplitSigned(tc.x)
		if size != tc.size || math.Signbit(size) || d != tc.d {
			t.Errorf("SplitSigned(%v) = %v, %s; want %v, %s", tc.x, size, d, tc.size, tc.d)
		}
		if back := d.Sign() * size; back != tc.x {
			t.Errorf("SplitSigned(%v): Sign × size = %v, want it back", tc.x, back)
		}
	}
	if s := Direction("").Sign(); s != 1 {
		t.Errorf("no direction: Sign = %v, want +1", s)
	}
}

// TestHypothesisStatementText: the statement is printed above every
// result: a control character other than a line break or a tab, or a
// bidirectional one, is refused naming the field (CheckText, which the
// API's write calls); it was stored as sent.
func TestHypothesisStatementText(t *testing.T) {
	for _, c := range []struct {
		statement, want string
	}{
		{"We believe\tthat\nit helps", ""},
		{"We believe \u202Esti", "statement: must not hold bidirectional control character U+202E at byte 12"},
		{"We believe\x1b[2J", "statement: must not hold control character U+001B at byte 11"},
	} {
		h := NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect, h.Statement = "tickets", 0.1, c.statement
		err := h.CheckText()
		if err == nil {
			err = h.Normalize(testMetrics(), []string{"control", "treatment"})
		}
		if c.want == "" && err != nil || c.want != "" && (valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.Contains(valueloop.ErrorMessage(err), c.want)) {
			t.Errorf("statement %+q: %v, want %q", c.statement, err, c.want)
		}
	}
}
