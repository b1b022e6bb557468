package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/valueloop/valueloop/valuelooptest"
)

// golden mirrors testdata/golden.json, written by testdata/gen_golden.py from
// scipy, statsmodels, numpy and mpmath.
type golden struct {
	Distributions struct {
		NormalCDF      []struct{ X, Want float64 }     `json:"normal_cdf"`
		NormalQuantile []struct{ P, Want float64 }     `json:"normal_quantile"`
		TCDF           []struct{ X, DF, Want float64 } `json:"t_cdf"`
		TQuantile      []struct {
			P, DF, Want, Scipy float64
		} `json:"t_quantile"`
		Chi2SF []struct{ X, K, Want float64 } `json:"chi2_sf"`
	}
	Welch []struct {
		Control, Treatment struct {
			N        int64
			Mean, SD float64
		}
		Alternative Alternative
		Alpha       float64
		Want        wantTest
	}
	Proportions []struct {
		Control, Treatment [2]int64
		Alternative        Alternative
		Alpha              float64
		Want               wantTest
	}
	Newcombe []struct {
		Control, Treatment [2]int64
		Alternative        Alternative
		Alpha              float64
		Want               struct {
			Diff, Statistic, PValue, Chance float64
			Interval                        Interval
		}
	}
	Ratio []struct {
		RatioSD []struct {
			MeanX, MeanY, SDX, SDY, Corr, Want float64
		} `json:"ratioSD"`
		Arms        []struct{ X, Y []float64 }
		Alternative Alternative
		Alpha       float64
		Want        struct {
			wantTest
			Control, Treatment float64
		}
	}
	CUPED []struct {
		Kind  Kind
		Arms  []struct{ X, Y, C []float64 }
		Alpha float64
		Want  struct {
			Theta, ThetaPooled float64
			Adjusted           []float64
			Comparisons        []wantTest
		}
	} `json:"cuped"`
	SRM []struct {
		Units             []int64
		Weights           []float64
		ChiSquare, PValue float64
		Mismatch          bool
	} `json:"srm"`
	Corrections  []struct{ P, Holm, BH, Bonferroni []float64 }
	ManyVariants struct {
		Arms []struct {
			N        int64
			Mean, SD float64
		}
		P, Holm, BH, Bonferroni []float64
	}
	BonferroniIntervals []struct {
		Arms []struct {
			N        int64
			Mean, SD float64
		}
		Alternative Alternative
		Alpha       float64
		Comparisons []struct {
			AdjustedPValue   float64
			AdjustedInterval Interval
		}
	} `json:"bonferroniIntervals"`
	Power struct {
		Power []struct {
			Alpha                            float64
			Alternative                      Alternative
			SD, Effect, Control, Ratio, Want float64
		}
		SampleSize []struct {
			Alpha                             float64
			Alternative                       Alternative
			SD, Effect, Power, Ratio, Control float64
		}
		MDE []struct {
			Alpha                                  float64
			Alternative                            Alternative
			SD, Power, Ratio, Control, Want, Exact float64
		} `json:"mde"`
	}
	PowerPerArm struct {
		Power, SampleSize, MDE []planCase
	} `json:"powerPerArm"`
	PowerT struct {
		Power, SampleSize, MDE []planCase
	} `json:"powerT"`
	Bayes []struct {
		Diff, SE, Chance, LossTreatment, LossControl float64
	}
	Sequential []struct {
		Alpha, Tuning, T, Z, Multiplier, PValue float64
	}
	BayesPrior []struct {
		Control, Treatment struct {
			N        int64
			Mean, SD float64
		}
		Prior                              Prior
		Chance, LossTreatment, LossControl float64
		Credible                           Interval
	} `json:"bayesPrior"`
	Stratified []struct {
		Kind   string
		Counts [][2][2]int64 // per period: control, treatment (conversions, users)
		Values [][2][]float64
		Want   struct {
			wantTest
			Weights []float64
		}
	}
}

// planCase is a plan with a variance per arm: a proportion at its baseline
// rate, or a mean with one SD per arm.
type planCase struct {
	Kind                                Kind
	Baseline, SD, TreatmentSD           float64
	Alpha                               float64
	Alternative                         Alternative
	Effect, Control, Ratio, Power, Want float64
}

func (c planCase) plan() Plan {
	return Plan{Alpha: c.Alpha, Alternative: c.Alternative, Power: c.Power, Ratio: c.Ratio,
		Proportion: c.Kind == Proportion, Baseline: c.Baseline, SD: c.SD, TreatmentSD: c.TreatmentSD}
}

// TestGoldenPowerT checks the exact planning of Welch's t-test (Student's t
// critical values, noncentral t power) against scipy on small samples.
func TestGoldenPowerT(t *testing.T) {
	g := loadGolden(t).PowerT
	if len(g.Power) == 0 {
		t.Fatal("no t-test power cases in golden.json")
	}
	for _, c := range g.Power {
		p := c.plan()
		p.T = true
		got, err := p.PowerAt(c.Effect, c.Control)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, fmt.Sprintf("PowerAt(%+v)", c), got, c.Want, goldenTol)
		// The normal approximation overstates a small t-test's power.
		p.T = false
		if z, _ := p.PowerAt(c.Effect, c.Control); !(z > got) {
			t.Errorf("normal power %v not above the t-test's %v at %v units", z, got, c.Control)
		}
	}
	for _, c := range g.SampleSize {
		p := c.plan()
		p.T = true
		control, _, err := p.SampleSize(c.Effect)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, fmt.Sprintf("SampleSize(%+v)", c), control, c.Control, goldenTol)
	}
	for _, c := range g.MDE {
		p := c.plan()
		p.T = true
		got, err := p.MDE(c.Control)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, fmt.Sprintf("MDE(%+v)", c), got, c.Want, goldenTol)
	}
}

// TestGoldenPowerPerArm checks power, sample size and MDE with a variance
// per arm against statsmodels' normal_power_het.
func TestGoldenPowerPerArm(t *testing.T) {
	g := loadGolden(t).PowerPerArm
	if len(g.Power) == 0 || len(g.SampleSize) == 0 || len(g.MDE) == 0 {
		t.Fatal("no per-arm power cases in golden.json")
	}
	for _, c := range g.Power {
		got, err := c.plan().PowerAt(c.Effect, c.Control)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, fmt.Sprintf("PowerAt(%+v)", c), got, c.Want, goldenTol)
	}
	for _, c := range g.SampleSize {
		control, treatment, err := c.plan().SampleSize(c.Effect)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, fmt.Sprintf("SampleSize(%+v) control", c), control, c.Control, goldenTol)
		checkClose(t, fmt.Sprintf("SampleSize(%+v) treatment", c), treatment, c.Control*c.Ratio, goldenTol)
	}
	for _, c := range g.MDE {
		got, err := c.plan().MDE(c.Control)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, fmt.Sprintf("MDE(%+v)", c), got, c.Want, goldenTol)
	}
	// One SD for both arms underestimates a conversion's sample: a 10% rate
	// lifted by a point needs more users with each arm's own variance.
	shared := Plan{Alpha: 0.05, Alternative: TwoSided, Power: 0.8, SD: ProportionSD(0.1)}
	perArm := Plan{Alpha: 0.05, Alternative: TwoSided, Power: 0.8, Proportion: true, Baseline: 0.1}
	a, _, _ := shared.SampleSize(0.01)
	b, _, _ := perArm.SampleSize(0.01)
	if !(b > a*1.03 && b < a*1.15) {
		t.Errorf("per-arm sample %v vs shared %v: want 3–15%% more", b, a)
	}
}

type wantTest struct {
	Statistic, PValue, DF, Diff, SE float64
	Interval                        Interval
	Relative, RelativeSE            float64
	RelativeInterval                Interval
	// The relative scale's own test.
	RelativeStatistic, RelativePValue float64
	RelativeMethod                    string
	UnadjustedSE                      float64
}

func loadGolden(t *testing.T) *golden {
	t.Helper()
	g := valuelooptest.ReadJSON[golden](t, "testdata/golden.json")
	return &g
}

const goldenTol = 1e-9

// checkClose fails unless got agrees with want to rel relative error (with an
// absolute floor for values that underflow to zero on one side).
func checkClose(t *testing.T, name string, got, want, rel float64) {
	t.Helper()
	if math.IsNaN(got) || math.IsInf(got, 0) || math.Abs(got-want) > rel*math.Abs(want)+1e-300 {
		t.Errorf("%s = %.17g, want %.17g (rel. error %.2g)", name, got, want, math.Abs(got-want)/math.Abs(want))
	}
}

func checkInterval(t *testing.T, name string, got, want Interval, rel float64) {
	t.Helper()
	if got.LowerUnbounded != want.LowerUnbounded || got.UpperUnbounded != want.UpperUnbounded {
		t.Errorf("%s = %v, want %v", name, got, want)
		return
	}
	if !want.LowerUnbounded {
		checkClose(t, name+".lower", got.Lower, want.Lower, rel)
	}
	if !want.UpperUnbounded {
		checkClose(t, name+".upper", got.Upper, want.Upper, rel)
	}
}

func TestGoldenDistributions(t *testing.T) {
	g := loadGolden(t).Distributions
	for _, c := range g.NormalCDF {
		checkClose(t, fmt.Sprintf("normCDF(%v)", c.X), normCDF(c.X), c.Want, goldenTol)
	}
	for _, c := range g.NormalQuantile {
		checkClose(t, fmt.Sprintf("normQuantile(%v)", c.P), normQuantile(c.P), c.Want, goldenTol)
	}
	for _, c := range g.TCDF {
		checkClose(t, fmt.Sprintf("tCDF(%v, df=%v)", c.X, c.DF), tCDF(c.X, c.DF), c.Want, goldenTol)
	}
	for _, c := range g.TQuantile {
		got := tQuantile(c.P, c.DF)
		checkClose(t, fmt.Sprintf("tQuantile(%v, df=%v)", c.P, c.DF), got, c.Want, goldenTol)
		// scipy's own t.ppf is only good to about 1e-9 (see gen_golden.py).
		checkClose(t, fmt.Sprintf("tQuantile(%v, df=%v) vs scipy", c.P, c.DF), got, c.Scipy, 1e-8)
	}
	for _, c := range g.Chi2SF {
		checkClose(t, fmt.Sprintf("chi2SF(%v, k=%v)", c.X, c.K), chi2SF(c.X, c.K), c.Want, goldenTol)
	}
}

// fixedSettings analyses without CUPED or correction.
func fixedSettings(alpha float64, alt Alternative) Settings {
	return Settings{Alpha: alpha, Alternative: alt, SequentialTuning: 10000, Correction: NoCorrection}
}

// analyzeTwo runs Analyze on one metric with two arms.
func analyzeTwo(t *testing.T, s Settings, kind Kind, control, treatment Summary) Comparison {
	t.Helper()
	res, err := Analyze(s, Input{
		Variants: []Variant{{Name: "control", Weight: 1, Units: control.N}, {Name: "treatment", Weight: 1, Units: treatment.N}},
		Metrics:  []Metric{{Name: "m", Kind: kind, Summaries: []Summary{control, treatment}}},
	})
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	return res.Metrics[0].Comparisons[0]
}

func checkTest(t *testing.T, c Comparison, w wantTest, df, relative bool) {
	t.Helper()
	if c.Status != OK {
		t.Fatalf("status %s (%s), want ok", c.Status, c.Reason)
	}
	checkClose(t, "statistic", c.Statistic, w.Statistic, goldenTol)
	checkClose(t, "pValue", c.PValue, w.PValue, goldenTol)
	checkClose(t, "diff", c.Absolute.Estimate, w.Diff, goldenTol)
	checkClose(t, "se", c.Absolute.SE, w.SE, goldenTol)
	checkInterval(t, "interval", c.Absolute.Interval, w.Interval, goldenTol)
	if df {
		checkClose(t, "df", c.DF, w.DF, goldenTol)
	} else if c.DF != 0 {
		t.Errorf("df = %v, want 0 for a z-test", c.DF)
	}
	if relative {
		if c.Relative == nil {
			t.Fatal("relative effect missing")
		}
		checkClose(t, "relative", c.Relative.Estimate, w.Relative, goldenTol)
		checkClose(t, "relativeSE", c.Relative.SE, w.RelativeSE, goldenTol)
		checkInterval(t, "relativeInterval", c.Relative.Interval, w.RelativeInterval, goldenTol)
		checkClose(t, "relativeStatistic", c.Relative.Statistic, w.RelativeStatistic, goldenTol)
		checkClose(t, "relativePValue", c.Relative.PValue, w.RelativePValue, goldenTol)
		if c.Relative.Method != w.RelativeMethod {
			t.Errorf("relative method = %q, want %q", c.Relative.Method, w.RelativeMethod)
		}
	}
}

func TestGoldenWelch(t *testing.T) {
	for i, c := range loadGolden(t).Welch {
		t.Run(fmt.Sprintf("%d-%s-%v", i, c.Alternative, c.Alpha), func(t *testing.T) {
			k := Summary{N: c.Control.N, Mean: c.Control.Mean, M2: c.Control.SD * c.Control.SD * float64(c.Control.N-1)}
			tr := Summary{N: c.Treatment.N, Mean: c.Treatment.Mean, M2: c.Treatment.SD * c.Treatment.SD * float64(c.Treatment.N-1)}
			got := analyzeTwo(t, fixedSettings(c.Alpha, c.Alternative), Mean, k, tr)
			checkTest(t, got, c.Want, true, true)
		})
	}
}

func TestGoldenProportions(t *testing.T) {
	for i, c := range loadGolden(t).Proportions {
		t.Run(fmt.Sprintf("%d-%s", i, c.Alternative), func(t *testing.T) {
			k := ProportionSummary(c.Control[1], c.Control[0])
			tr := ProportionSummary(c.Treatment[1], c.Treatment[0])
			got := analyzeTwo(t, fixedSettings(c.Alpha, c.Alternative), Proportion, k, tr)
			// A control rate of 0 has no relative effect.
			checkTest(t, got, c.Want, false, c.Want.RelativeMethod != "")
			if c.Want.RelativeMethod == "" && got.Relative != nil {
				t.Errorf("relative effect %+v, want none: the control rate is 0", *got.Relative)
			}
		})
	}
}

// summarize builds a Summary from per-unit data the way ingestion would:
// Welford updates on two halves, then a Chan merge.
func summarize(x, y, c []float64) Summary {
	var a, b Summary
	at := func(v []float64, i int) float64 {
		if v == nil {
			return 0
		}
		return v[i]
	}
	for i := range x {
		s := &a
		if i >= len(x)/3 {
			s = &b
		}
		s.Add(x[i], at(y, i), at(c, i))
	}
	return Merge(a, b)
}

func TestGoldenRatio(t *testing.T) {
	for i, c := range loadGolden(t).Ratio {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			k := summarize(c.Arms[0].X, c.Arms[0].Y, nil)
			tr := summarize(c.Arms[1].X, c.Arms[1].Y, nil)
			res, err := Analyze(fixedSettings(c.Alpha, c.Alternative), Input{
				Variants: []Variant{{Name: "a", Weight: 1, Units: k.N}, {Name: "b", Weight: 1, Units: tr.N}},
				Metrics:  []Metric{{Name: "revenue per order", Kind: Ratio, Summaries: []Summary{k, tr}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			m := res.Metrics[0]
			checkClose(t, "control ratio", m.Arms[0].Estimate, c.Want.Control, goldenTol)
			checkClose(t, "treatment ratio", m.Arms[1].Estimate, c.Want.Treatment, goldenTol)
			checkTest(t, m.Comparisons[0], c.Want.wantTest, false, true)
			// Planning a ratio metric: the per-unit SD by the delta method
			// from means, SDs and correlation.
			for j, p := range c.RatioSD {
				checkClose(t, fmt.Sprint("RatioSD arm ", j), RatioSD(p.MeanX, p.MeanY, p.SDX, p.SDY, p.Corr), p.Want, goldenTol)
			}
			if len(c.RatioSD) == 0 {
				t.Error("no RatioSD cases")
			}
		})
	}
}

func TestGoldenCUPED(t *testing.T) {
	for i, c := range loadGolden(t).CUPED {
		t.Run(fmt.Sprintf("%d-%s", i, c.Kind), func(t *testing.T) {
			in := Input{Metrics: []Metric{{Name: "m", Kind: c.Kind}}}
			for j, a := range c.Arms {
				s := summarize(a.X, a.Y, a.C)
				in.Variants = append(in.Variants, Variant{Name: fmt.Sprint("v", j), Weight: 1, Units: s.N})
				in.Metrics[0].Summaries = append(in.Metrics[0].Summaries, s)
			}
			s := fixedSettings(c.Alpha, TwoSided)
			s.CUPED = true
			res, err := Analyze(s, in)
			if err != nil {
				t.Fatal(err)
			}
			m := res.Metrics[0]
			checkClose(t, "theta", m.Theta, c.Want.Theta, goldenTol)
			if c.Want.ThetaPooled != 0 {
				s.CUPEDTheta = PooledTheta
				pooled, err := Analyze(s, in)
				if err != nil {
					t.Fatal(err)
				}
				checkClose(t, "pooled theta", pooled.Metrics[0].Theta, c.Want.ThetaPooled, goldenTol)
			}
			for j, w := range c.Want.Adjusted {
				checkClose(t, fmt.Sprintf("adjusted[%d]", j), m.Arms[j].Adjusted, w, goldenTol)
			}
			for j, w := range c.Want.Comparisons {
				checkTest(t, m.Comparisons[j], w, c.Kind == Mean, false)
				if w.UnadjustedSE > 0 && !(m.Comparisons[j].Absolute.SE < w.UnadjustedSE) {
					t.Errorf("CUPED SE %v not below the unadjusted %v", m.Comparisons[j].Absolute.SE, w.UnadjustedSE)
				}
			}
		})
	}
}

func TestGoldenSRM(t *testing.T) {
	for _, c := range loadGolden(t).SRM {
		got, err := SRMTest(c.Units, c.Weights)
		if err != nil {
			t.Fatalf("SRMTest(%v, %v): %v", c.Units, c.Weights, err)
		}
		name := fmt.Sprintf("SRM(%v, %v)", c.Units, c.Weights)
		checkClose(t, name+".chiSquare", got.ChiSquare, c.ChiSquare, goldenTol)
		checkClose(t, name+".pValue", got.PValue, c.PValue, goldenTol)
		if got.Mismatch != c.Mismatch || got.DF != len(c.Units)-1 || got.Status != OK {
			t.Errorf("%s = %+v, want mismatch %v, df %d, status ok", name, got, c.Mismatch, len(c.Units)-1)
		}
	}
}

func TestGoldenCorrections(t *testing.T) {
	for _, c := range loadGolden(t).Corrections {
		for _, m := range []struct {
			method Correction
			want   []float64
		}{{Holm, c.Holm}, {BenjaminiHochberg, c.BH}, {Bonferroni, c.Bonferroni}} {
			got, err := Adjust(c.P, m.method)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				checkClose(t, fmt.Sprintf("%s(%v)[%d]", m.method, c.P, i), got[i], m.want[i], goldenTol)
			}
		}
	}
}

func TestGoldenPower(t *testing.T) {
	g := loadGolden(t).Power
	for _, c := range g.Power {
		p := Plan{Alpha: c.Alpha, Alternative: c.Alternative, SD: c.SD, Ratio: c.Ratio}
		got, err := p.PowerAt(c.Effect, c.Control)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, fmt.Sprintf("PowerAt(%+v, %v, %v)", p, c.Effect, c.Control), got, c.Want, goldenTol)
	}
	for _, c := range g.SampleSize {
		p := Plan{Alpha: c.Alpha, Alternative: c.Alternative, SD: c.SD, Ratio: c.Ratio, Power: c.Power}
		control, treatment, err := p.SampleSize(c.Effect)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("SampleSize(%+v, %v)", p, c.Effect)
		checkClose(t, name+" control", control, c.Control, goldenTol)
		checkClose(t, name+" treatment", treatment, c.Control*c.Ratio, goldenTol)
	}
	for _, c := range g.MDE {
		p := Plan{Alpha: c.Alpha, Alternative: c.Alternative, SD: c.SD, Ratio: c.Ratio, Power: c.Power}
		got, err := p.MDE(c.Control)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("MDE(%+v, %v)", p, c.Control)
		checkClose(t, name, got, c.Want, goldenTol)
		// Control is the sample size solved for effect Exact: the round trip
		// must give it back.
		checkClose(t, name+" round trip", got, c.Exact, goldenTol)
	}
}

func TestGoldenBayes(t *testing.T) {
	for _, c := range loadGolden(t).Bayes {
		b := bayes(c.Diff, c.SE, false)
		name := fmt.Sprintf("bayes(%v, %v)", c.Diff, c.SE)
		checkClose(t, name+".chance", b.chance, c.Chance, goldenTol)
		checkClose(t, name+".lossTreatment", b.lossTreatment, c.LossTreatment, goldenTol)
		checkClose(t, name+".lossControl", b.lossControl, c.LossControl, goldenTol)
		// A lower-is-better metric swaps the roles.
		l := bayes(c.Diff, c.SE, true)
		checkClose(t, name+" lower-is-better chance", l.chance, 1-c.Chance, goldenTol)
		checkClose(t, name+" lower-is-better lossTreatment", l.lossTreatment, c.LossControl, goldenTol)
	}
}

func TestGoldenSequential(t *testing.T) {
	for _, c := range loadGolden(t).Sequential {
		q := newSequential(c.Alpha, c.Tuning, TwoSided)
		name := fmt.Sprintf("sequential(alpha=%v, tuning=%v, t=%v)", c.Alpha, c.Tuning, c.T)
		checkClose(t, name+".multiplier", q.multiplier(c.T), c.Multiplier, goldenTol)
		checkClose(t, name+".pValue", q.pValue(c.Z, c.T, TwoSided), c.PValue, goldenTol)
	}
}

// TestGoldenManyVariants: nine treatments against control in one analysis,
// each Welch's p-value and its correction over the nine (Holm,
// Benjamini–Hochberg, Bonferroni) as scipy and statsmodels compute them.
func TestGoldenManyVariants(t *testing.T) {
	g := loadGolden(t).ManyVariants
	if len(g.Arms) != 10 {
		t.Fatalf("%d arms in golden.json, want 10", len(g.Arms))
	}
	in := Input{Metrics: []Metric{{Name: "m", Kind: Mean}}}
	for i, a := range g.Arms {
		in.Variants = append(in.Variants, Variant{Name: fmt.Sprintf("v%d", i), Weight: 1, Units: a.N})
		in.Metrics[0].Summaries = append(in.Metrics[0].Summaries, Summary{N: a.N, Mean: a.Mean, M2: a.SD * a.SD * float64(a.N-1)})
	}
	for _, m := range []struct {
		method Correction
		want   []float64
	}{{Holm, g.Holm}, {BenjaminiHochberg, g.BH}, {Bonferroni, g.Bonferroni}} {
		s := fixedSettings(0.05, TwoSided)
		s.Correction = m.method
		res := mustAnalyze(t, s, in)
		for i, c := range res.Metrics[0].Comparisons {
			checkClose(t, fmt.Sprintf("%s: %s pValue", m.method, c.Variant), c.PValue, g.P[i], goldenTol)
			checkClose(t, fmt.Sprintf("%s: %s adjustedPValue", m.method, c.Variant), c.AdjustedPValue, m.want[i], goldenTol)
		}
	}
}

// TestGoldenBonferroniIntervals: with Bonferroni's correction every
// comparison also has intervals at level 1 − α/m, which scipy's t quantiles
// give, and the adjusted p-value is multipletests' "bonferroni".
func TestGoldenBonferroniIntervals(t *testing.T) {
	cases := loadGolden(t).BonferroniIntervals
	if len(cases) == 0 {
		t.Fatal("no Bonferroni interval cases in golden.json")
	}
	for _, c := range cases {
		in := Input{Metrics: []Metric{{Name: "m", Kind: Mean}}}
		for j, a := range c.Arms {
			in.Variants = append(in.Variants, Variant{Name: fmt.Sprint("v", j), Weight: 1, Units: a.N})
			in.Metrics[0].Summaries = append(in.Metrics[0].Summaries, Summary{N: a.N, Mean: a.Mean, M2: a.SD * a.SD * float64(a.N-1)})
		}
		s := fixedSettings(c.Alpha, c.Alternative)
		s.Correction = Bonferroni
		res, err := Analyze(s, in)
		if err != nil {
			t.Fatal(err)
		}
		for j, w := range c.Comparisons {
			got := res.Metrics[0].Comparisons[j]
			checkClose(t, fmt.Sprintf("%s adjusted p[%d]", c.Alternative, j), got.AdjustedPValue, w.AdjustedPValue, goldenTol)
			if got.Absolute.AdjustedInterval == nil {
				t.Fatalf("no adjusted interval")
			}
			checkInterval(t, fmt.Sprintf("%s adjusted interval[%d]", c.Alternative, j), *got.Absolute.AdjustedInterval, w.AdjustedInterval, goldenTol)
		}
	}
}

// TestGoldenBayesPrior checks the Bayesian view with an informative normal
// prior on the relative effect against scipy.
func TestGoldenBayesPrior(t *testing.T) {
	cases := loadGolden(t).BayesPrior
	if len(cases) == 0 {
		t.Fatal("no prior cases in golden.json")
	}
	for i, c := range cases {
		s := fixedSettings(0.05, TwoSided)
		s.Prior = &Prior{Mean: c.Prior.Mean, SD: c.Prior.SD}
		k := Summary{N: c.Control.N, Mean: c.Control.Mean, M2: c.Control.SD * c.Control.SD * float64(c.Control.N-1)}
		tr := Summary{N: c.Treatment.N, Mean: c.Treatment.Mean, M2: c.Treatment.SD * c.Treatment.SD * float64(c.Treatment.N-1)}
		got := analyzeTwo(t, s, Mean, k, tr)
		name := fmt.Sprint("prior case ", i)
		checkClose(t, name+" chance", got.ChanceToBeat, c.Chance, goldenTol)
		checkClose(t, name+" loss treatment", got.ExpectedLoss, c.LossTreatment, goldenTol)
		checkClose(t, name+" loss control", got.ExpectedLossControl, c.LossControl, goldenTol)
		checkInterval(t, name+" credible", got.Credible, c.Credible, goldenTol)
		// The prior pulls towards its mean: a tighter chance than flat.
		flat := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, k, tr)
		if c.Prior.Mean == 0 && !(math.Abs(got.Credible.Lower+got.Credible.Upper) < math.Abs(flat.Credible.Lower+flat.Credible.Upper)) {
			t.Errorf("%s: the prior at 0 did not shrink the estimate: %v vs flat %v", name, got.Credible, flat.Credible)
		}
	}
}

// TestGoldenBonferroniFamilies: a metric whose control never converts has
// an absolute comparison but no relative one, so the relative family is
// one smaller than the absolute. Each scale's adjusted intervals are at
// α/m of its own family, as its adjusted p-values are (statsmodels
// multipletests per family), so that each excludes 0 exactly when its
// adjusted p-value is below α. Golden values from
// testdata/gen_bonferroni_families.py.
func TestGoldenBonferroniFamilies(t *testing.T) {
	b, err := os.ReadFile("testdata/bonferroni_families.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Alpha       float64
		Units       int64
		Comparisons []struct {
			Metric                   string
			Control, Treatment       int64
			AbsoluteAdjustedPValue   float64
			AbsoluteAdjustedInterval Interval
			RelativeAdjustedPValue   *float64
			RelativeAdjustedInterval *Interval
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	in := Input{Variants: []Variant{{Name: "control", Weight: 1, Units: g.Units}, {Name: "treatment", Weight: 1, Units: g.Units}}}
	for _, c := range g.Comparisons {
		in.Metrics = append(in.Metrics, Metric{Name: c.Metric, Kind: Proportion,
			Summaries: []Summary{proportion(c.Control, g.Units), proportion(c.Treatment, g.Units)}})
	}
	s := fixedSettings(g.Alpha, TwoSided)
	s.Correction = Bonferroni
	res := mustAnalyze(t, s, in)
	for i, w := range g.Comparisons {
		got := res.Metrics[i].Comparisons[0]
		if got.Status != OK || got.Absolute.AdjustedInterval == nil {
			t.Fatalf("%s: %+v", w.Metric, got)
		}
		checkClose(t, w.Metric+" absolute adjusted p", got.Absolute.AdjustedPValue, w.AbsoluteAdjustedPValue, goldenTol)
		checkInterval(t, w.Metric+" absolute adjusted interval", *got.Absolute.AdjustedInterval, w.AbsoluteAdjustedInterval, goldenTol)
		switch {
		case w.RelativeAdjustedInterval == nil && got.Relative != nil:
			t.Errorf("%s: a relative effect %+v without a control baseline", w.Metric, *got.Relative)
		case w.RelativeAdjustedInterval == nil:
		case got.Relative == nil || got.Relative.AdjustedInterval == nil:
			t.Errorf("%s: no relative adjusted interval: %+v", w.Metric, got.Relative)
		default:
			e := got.Relative
			checkClose(t, w.Metric+" relative adjusted p", e.AdjustedPValue, *w.RelativeAdjustedPValue, goldenTol)
			checkInterval(t, w.Metric+" relative adjusted interval", *e.AdjustedInterval, *w.RelativeAdjustedInterval, goldenTol)
			if (e.AdjustedPValue < g.Alpha) == e.AdjustedInterval.Contains(0) {
				t.Errorf("%s: relative adjusted p %v but adjusted interval %v", w.Metric, e.AdjustedPValue, *e.AdjustedInterval)
			}
		}
	}
}
