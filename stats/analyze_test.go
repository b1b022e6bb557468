package stats

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/valuelooptest"
)

func meanSummary(n int64, mean, sd float64) Summary {
	return Summary{N: n, Mean: mean, M2: sd * sd * float64(n-1)}
}

func validInput() Input {
	return twoArms(Mean, meanSummary(100, 10, 2), meanSummary(100, 10.5, 2))
}

func TestSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Settings)
		field string
	}{
		{"alpha zero", func(s *Settings) { s.Alpha = 0 }, "alpha"},
		{"alpha above 0.5", func(s *Settings) { s.Alpha = 0.6 }, "alpha"},
		{"alpha NaN", func(s *Settings) { s.Alpha = math.NaN() }, "alpha"},
		{"tuning zero", func(s *Settings) { s.SequentialTuning = 0 }, "sequentialTuning"},
		{"tuning negative", func(s *Settings) { s.SequentialTuning = -5 }, "sequentialTuning"},
		{"tuning infinite", func(s *Settings) { s.SequentialTuning = math.Inf(1) }, "sequentialTuning"},
		{"alternative empty", func(s *Settings) { s.Alternative = "" }, "alternative"},
		{"correction unknown", func(s *Settings) { s.Correction = "sidak" }, "correction"},
		{"cupedTheta unknown", func(s *Settings) { s.CUPEDTheta = "per-user" }, "cupedTheta"},
		{"srmThreshold above 0.5", func(s *Settings) { s.SRMThreshold = 0.7 }, "srmThreshold"},
		{"srmThreshold negative", func(s *Settings) { s.SRMThreshold = -0.01 }, "srmThreshold"},
		{"prior sd zero", func(s *Settings) { s.Prior = &Prior{} }, "prior.sd"},
		{"prior mean NaN", func(s *Settings) { s.Prior = &Prior{Mean: math.NaN(), SD: 1} }, "prior.mean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			tc.edit(&s)
			_, err := Analyze(s, validInput())
			valuelooptest.WantFieldError(t, err, tc.field)
		})
	}
	if _, err := Analyze(Settings{Alpha: 0.5, Alternative: Less, SequentialTuning: 1, Correction: NoCorrection}, validInput()); err != nil {
		t.Errorf("boundary settings rejected: %v", err)
	}
}

func TestInputValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Input)
		field string
	}{
		{"one variant", func(in *Input) { in.Variants = in.Variants[:1] }, "variants"},
		{"unnamed variant", func(in *Input) { in.Variants[1].Name = "" }, "variants[1].name"},
		{"duplicate variant", func(in *Input) { in.Variants[1].Name = "control" }, "variants[1].name"},
		{"zero weight", func(in *Input) { in.Variants[0].Weight = 0 }, "variants[0].weight"},
		{"negative units", func(in *Input) { in.Variants[1].Units = -1 }, "variants[1].units"},
		{"unknown kind", func(in *Input) { in.Metrics[0].Kind = "median" }, "metrics[0].kind"},
		{"missing summary", func(in *Input) { in.Metrics[0].Summaries = in.Metrics[0].Summaries[:1] }, "metrics[0].summaries"},
		{"negative n", func(in *Input) { in.Metrics[0].Summaries[1].N = -3 }, "metrics[0].summaries[1].n"},
		{"negative variance", func(in *Input) { in.Metrics[0].Summaries[0].M2 = -1 }, "metrics[0].summaries[0].m2"},
		{"n zero with a mean", func(in *Input) { in.Metrics[0].Summaries[1] = Summary{Mean: 3} }, "metrics[0].summaries[1].mean"},
		{"NaN mean", func(in *Input) { in.Metrics[0].Summaries[0].Mean = math.NaN() }, "metrics[0].summaries[0].mean"},
		{"infinite covariate", func(in *Input) { in.Metrics[0].Summaries[0].PreMean = math.Inf(-1) }, "metrics[0].summaries[0].preMean"},
		{"correlation above one", func(in *Input) {
			s := &in.Metrics[0].Summaries[0]
			s.PreM2, s.XPre = 1, 2*math.Sqrt(s.M2)
		}, "metrics[0].summaries[0].xPre"},
		{"proportion above one", func(in *Input) {
			in.Metrics[0].Kind = Proportion
			in.Metrics[0].Summaries[0] = Summary{N: 10, Mean: 1.2}
		}, "metrics[0].summaries[0].mean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := validInput()
			tc.edit(&in)
			_, err := Analyze(DefaultSettings(), in)
			valuelooptest.WantFieldError(t, err, tc.field)
		})
	}
}

// checkFinite fails if any number in res is NaN or infinite: encoding/json
// refuses those, so a successful Marshal proves there are none.
func checkFinite(t *testing.T, res *Result) {
	t.Helper()
	if _, err := json.Marshal(res); err != nil {
		t.Fatalf("result is not finite: %v", err)
	}
}

// explained is an arm whose metric is exactly 2c + 1 of its covariate c.
func explained(cs ...float64) Summary {
	var s Summary
	for _, c := range cs {
		s.Add(2*c+1, 0, c)
	}
	return s
}

func TestNotEnoughData(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    Input
		cuped bool
		// why is in the reason: the true one, not only "not enough data".
		why string
	}{
		{"empty arms", twoArms(Mean, Summary{}, Summary{}), false, "need at least 2 units"},
		{"one unit", twoArms(Mean, meanSummary(1, 3, 0), meanSummary(50, 3, 1)), false, "need at least 2 units"},
		{"no variance", twoArms(Mean, meanSummary(50, 3, 0), meanSummary(50, 4, 0)), false, "the metric does not vary in either arm"},
		{"no conversions", twoArms(Proportion, ProportionSummary(500, 0), ProportionSummary(500, 0)), false, "no unit converted in either arm"},
		{"all converted", twoArms(Proportion, ProportionSummary(500, 500), ProportionSummary(400, 400)), false, "every unit converted in both arms"},
		{"covariate explains all", twoArms(Mean, explained(1, 2, 3, 4), explained(2, 5, 7)),
			true, "the covariate explains the metric exactly"},
		{"zero denominator", twoArms(Ratio, Summary{N: 10, Mean: 1, M2: 2}, Summary{N: 10, Mean: 1, M2: 2, DenMean: 1, DenM2: 1}), false, "denominator averages zero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []Settings{DefaultSettings(), fixedSettings(0.1, Greater)} {
				s.CUPED = tc.cuped
				res := mustAnalyze(t, s, tc.in)
				checkFinite(t, res)
				c := res.Metrics[0].Comparisons[0]
				if c.Status != NotEnoughData || !strings.Contains(c.Reason, ErrNotEnoughData.Error()) || !strings.Contains(c.Reason, tc.why) {
					t.Errorf("status %q, reason %q; want %q with a reason saying %q", c.Status, c.Reason, NotEnoughData, tc.why)
				}
				if c.PValue != 0 || c.Relative != nil || c.AdjustedPValue != 0 {
					t.Errorf("numbers reported without data: %+v", c)
				}
			}
		})
	}
}

func TestNoUnitsSRM(t *testing.T) {
	res := mustAnalyze(t, DefaultSettings(), twoArms(Mean, Summary{}, Summary{}))
	if res.SRM.Status != NotEnoughData || res.SRM.Mismatch {
		t.Errorf("SRM = %+v, want not enough data and no mismatch", res.SRM)
	}
}

func TestZeroBaseline(t *testing.T) {
	// Control averages exactly zero: the absolute lift exists, the relative
	// one does not.
	var k Summary
	for _, x := range []float64{-1, 1, -2, 2} {
		k.Add(x, 0, 0)
	}
	res := mustAnalyze(t, DefaultSettings(), twoArms(Mean, k, meanSummary(4, 1, 1)))
	checkFinite(t, res)
	c := res.Metrics[0].Comparisons[0]
	if c.Status != OK || c.Relative != nil {
		t.Errorf("status %q, relative %+v; want ok without a relative effect", c.Status, c.Relative)
	}
}

func TestOneSidedIntervals(t *testing.T) {
	in := validInput()
	for _, tc := range []struct {
		alt       Alternative
		lowerOpen bool
		upperOpen bool
		pGreater  bool // p-value below 0.5 (effect is positive)
	}{
		{Greater, false, true, true},
		{Less, true, false, false},
	} {
		res := mustAnalyze(t, fixedSettings(0.05, tc.alt), in)
		checkFinite(t, res)
		c := res.Metrics[0].Comparisons[0]
		for _, iv := range []Interval{c.Absolute.Interval, c.Absolute.Sequential, c.Relative.Interval, c.Relative.Sequential} {
			if iv.LowerUnbounded != tc.lowerOpen || iv.UpperUnbounded != tc.upperOpen {
				t.Errorf("%s: interval %v, want lower open %v, upper open %v", tc.alt, iv, tc.lowerOpen, tc.upperOpen)
			}
		}
		if (c.PValue < 0.5) != tc.pGreater {
			t.Errorf("%s: p = %v for a positive effect", tc.alt, c.PValue)
		}
		if tc.alt == Less && c.SequentialPValue != 1 {
			t.Errorf("less: sequential p = %v for a positive effect, want 1", c.SequentialPValue)
		}
	}
}

func TestLowerIsBetter(t *testing.T) {
	in := validInput() // treatment is higher
	up := mustAnalyze(t, DefaultSettings(), in).Metrics[0].Comparisons[0]
	in.Metrics[0].LowerIsBetter = true
	down := mustAnalyze(t, DefaultSettings(), in).Metrics[0].Comparisons[0]
	if !(up.ChanceToBeat > 0.5) || math.Abs(up.ChanceToBeat+down.ChanceToBeat-1) > 1e-15 {
		t.Errorf("chance to beat: higher-is-better %v, lower-is-better %v; want p and 1−p with p > 0.5", up.ChanceToBeat, down.ChanceToBeat)
	}
	if up.ExpectedLoss != down.ExpectedLossControl || up.PValue != down.PValue {
		t.Errorf("LowerIsBetter changed more than the Bayesian orientation: %+v vs %+v", up, down)
	}
}

func TestCorrectionAcrossFamily(t *testing.T) {
	in := Input{Variants: []Variant{{Name: "a", Weight: 1, Units: 300}, {Name: "b", Weight: 1, Units: 300}, {Name: "c", Weight: 1, Units: 300}}}
	for i, d := range []float64{0.2, 0.5, 0.05} {
		in.Metrics = append(in.Metrics, Metric{Name: string(rune('x' + i)), Kind: Mean, Summaries: []Summary{
			meanSummary(300, 5, 2), meanSummary(300, 5+d, 2), meanSummary(300, 5-d/2, 2),
		}})
	}
	// A metric without data stays out of the family.
	in.Metrics = append(in.Metrics, Metric{Name: "empty", Kind: Mean, Summaries: make([]Summary, 3)})
	for _, method := range []Correction{Holm, BenjaminiHochberg} {
		s := fixedSettings(0.05, TwoSided)
		s.Correction = method
		res := mustAnalyze(t, s, in)
		var raw, seq []float64
		for _, m := range res.Metrics {
			for _, c := range m.Comparisons {
				if c.Status == OK {
					raw = append(raw, c.PValue)
					seq = append(seq, c.SequentialPValue)
				}
			}
		}
		if len(raw) != 6 {
			t.Fatalf("%d comparisons with data, want 6", len(raw))
		}
		wantRaw, _ := Adjust(raw, method)
		wantSeq, _ := Adjust(seq, method)
		i := 0
		for _, m := range res.Metrics {
			for _, c := range m.Comparisons {
				if c.Status != OK {
					continue
				}
				if c.AdjustedPValue != wantRaw[i] || c.AdjustedSequentialPValue != wantSeq[i] {
					t.Errorf("%s: %s/%s adjusted (%v, %v), want (%v, %v)", method, m.Name, c.Variant,
						c.AdjustedPValue, c.AdjustedSequentialPValue, wantRaw[i], wantSeq[i])
				}
				if c.AdjustedPValue < c.PValue {
					t.Errorf("%s: adjusted p %v below raw %v", method, c.AdjustedPValue, c.PValue)
				}
				i++
			}
		}
	}
}

func TestAdjustValidation(t *testing.T) {
	_, err := Adjust([]float64{0.1, 1.5}, Holm)
	valuelooptest.WantFieldError(t, err, "p[1]")
	_, err = Adjust([]float64{0.1}, "sidak")
	valuelooptest.WantFieldError(t, err, "correction")
	got, err := Adjust(nil, Holm)
	if err != nil || len(got) != 0 {
		t.Errorf("Adjust(nil) = %v, %v; want empty", got, err)
	}
}

func TestSRMValidation(t *testing.T) {
	_, err := SRMTest([]int64{10, 10}, []float64{1})
	valuelooptest.WantFieldError(t, err, "weights")
	_, err = SRMTest([]int64{10}, []float64{1})
	valuelooptest.WantFieldError(t, err, "units")
	_, err = SRMTest([]int64{10, -1}, []float64{1, 1})
	valuelooptest.WantFieldError(t, err, "units[1]")
	_, err = SRMTest([]int64{10, 10}, []float64{1, 0})
	valuelooptest.WantFieldError(t, err, "weights[1]")
}

func TestSRMInAnalyze(t *testing.T) {
	in := validInput()
	in.Variants[0].Units, in.Variants[1].Units = 10000, 10500
	res := mustAnalyze(t, DefaultSettings(), in)
	want, _ := SRMTest([]int64{10000, 10500}, []float64{1, 1})
	if res.SRM != want || !res.SRM.Mismatch {
		t.Errorf("SRM = %+v, want %+v with a mismatch", res.SRM, want)
	}
}

func TestPlanValidation(t *testing.T) {
	ok := Plan{Alpha: 0.05, Alternative: TwoSided, Power: 0.8, SD: 1}
	for _, tc := range []struct {
		name  string
		edit  func(*Plan)
		field string
	}{
		{"alpha", func(p *Plan) { p.Alpha = 0 }, "alpha"},
		{"sd", func(p *Plan) { p.SD = 0 }, "sd"},
		{"ratio", func(p *Plan) { p.Ratio = -1 }, "ratio"},
		{"power", func(p *Plan) { p.Power = 1 }, "power"},
		{"power below alpha", func(p *Plan) { p.Power = 0.01 }, "power"},
		{"relative without baseline", func(p *Plan) { p.Relative = true }, "baseline"},
		{"alternative", func(p *Plan) { p.Alternative = "both" }, "alternative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.edit(&p)
			_, _, err := p.SampleSize(0.1)
			valuelooptest.WantFieldError(t, err, tc.field)
		})
	}
	_, _, err := ok.SampleSize(0)
	valuelooptest.WantFieldError(t, err, "effect")
	g := ok
	g.Alternative = Greater
	_, _, err = g.SampleSize(-0.1)
	valuelooptest.WantFieldError(t, err, "effect")
	_, err = ok.MDE(0)
	valuelooptest.WantFieldError(t, err, "control")
	_, err = ok.PowerAt(math.NaN(), 100)
	valuelooptest.WantFieldError(t, err, "effect")
}

func TestPlanRoundTrip(t *testing.T) {
	p := Plan{Alpha: 0.05, Alternative: TwoSided, Power: 0.8, SD: ProportionSD(0.1), Baseline: 0.1, Relative: true, Ratio: 1}
	control, treatment, err := p.SampleSize(0.05)
	if err != nil {
		t.Fatal(err)
	}
	if control != treatment {
		t.Errorf("equal split gave %v and %v units", control, treatment)
	}
	power, err := p.PowerAt(0.05, control)
	if err != nil || math.Abs(power-0.8) > 1e-12 {
		t.Errorf("PowerAt(SampleSize) = %v, %v; want 0.8", power, err)
	}
	mde, err := p.MDE(control)
	if err != nil || math.Abs(mde-0.05) > 1e-12 {
		t.Errorf("MDE(SampleSize) = %v, %v; want 0.05", mde, err)
	}
}

// TestExtremeInputsStayFinite feeds valid but extreme statistics (huge and
// tiny magnitudes, perfect correlations, one-unit arms) to every kind and
// setting: each answer is either an EINVALID error or free of NaN and Inf.
func TestExtremeInputsStayFinite(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 1))
	mags := []float64{0, 1e-300, 1e-150, 1e-8, 1, 1e8, 1e150, 1e300}
	pick := func() float64 {
		v := mags[r.IntN(len(mags))] * (0.5 + r.Float64())
		if r.IntN(2) == 0 {
			v = -v
		}
		return v
	}
	summary := func() Summary {
		s := Summary{N: []int64{0, 1, 2, 3, 1000, 1 << 40}[r.IntN(6)]}
		if s.N == 0 {
			return s
		}
		s.Mean, s.DenMean, s.PreMean = pick(), pick(), pick()
		s.M2, s.DenM2, s.PreM2 = math.Abs(pick()), math.Abs(pick()), math.Abs(pick())
		// Co-moments within the Cauchy–Schwarz bound.
		s.XDen = math.Sqrt(s.M2*s.DenM2) * (2*r.Float64() - 1)
		s.XPre = math.Sqrt(s.M2*s.PreM2) * (2*r.Float64() - 1)
		s.DenPre = math.Sqrt(s.DenM2*s.PreM2) * (2*r.Float64() - 1)
		return s
	}
	invalid, answered := 0, 0
	for i := range 3000 {
		kind := []Kind{Mean, Proportion, Ratio}[i%3]
		k, tr := summary(), summary()
		if kind == Proportion {
			k.Mean, tr.Mean = r.Float64(), r.Float64()
		}
		s := Settings{Alpha: []float64{1e-9, 0.05, 0.5}[r.IntN(3)], Alternative: []Alternative{TwoSided, Greater, Less}[r.IntN(3)],
			SequentialTuning: []float64{1e-6, 100, 1e12}[r.IntN(3)], CUPED: r.IntN(2) == 0, Correction: Holm}
		res, err := Analyze(s, twoArms(kind, k, tr))
		if err != nil {
			if valueloop.ErrorCode(err) != valueloop.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			invalid++
			continue
		}
		answered++
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("%s %+v vs %+v with %+v: result is not finite: %v", kind, k, tr, s, err)
		}
	}
	if answered < 1000 {
		t.Errorf("only %d of 3000 inputs were answered (%d invalid): the test exercises too little", answered, invalid)
	}
}

// TestPriorBeyondRangeStaysFinite: a prior is validated as finite, but on
// the absolute scale it is scaled by the control mean, and a large mean
// times a large control overflowed to +Inf: the posterior, the chance to
// win, the losses and the credible interval became Inf and NaN, and the
// result could not be written as JSON (every results request failed). Such
// a prior says nothing the data can use; the flat prior is used instead.
func TestPriorBeyondRangeStaysFinite(t *testing.T) {
	for _, p := range []Prior{{Mean: 1e300, SD: 0.3}, {Mean: 0, SD: 1e300}, {Mean: 1e300, SD: 1e-300}} {
		s := DefaultSettings()
		s.Prior = &p
		k := Summary{N: 1000, Mean: 1e10, M2: 1000 * 1e18}
		tr := Summary{N: 1000, Mean: 1.1e10, M2: 1000 * 1e18}
		res := mustAnalyze(t, s, twoArms(Mean, k, tr))
		if _, err := json.Marshal(res); err != nil {
			t.Errorf("prior %+v: %v (%+v)", p, err, res.Metrics[0].Comparisons[0])
		}
	}
}

// TestNearZeroNoteLevel: the note on a control mean near zero names its
// interval's level as every other text does (Settings.Level): at α = 0.0004
// "99.96%", not the binary noise of 1 − α ("99.96000000000001%").
func TestNearZeroNoteLevel(t *testing.T) {
	s := DefaultSettings()
	s.Alpha = 0.0004
	k := Summary{N: 1000, Mean: 0.01, M2: 1000}
	tr := Summary{N: 1000, Mean: 0.02, M2: 1000}
	rel := mustAnalyze(t, s, twoArms(Mean, k, tr)).Metrics[0].Comparisons[0].Relative
	if rel == nil {
		t.Fatal("no relative effect: the test exercises nothing")
	}
	if want := "its " + s.Level() + " interval includes 0"; !strings.Contains(rel.Note, want) {
		t.Errorf("note %q, want it to say %q", rel.Note, want)
	}
}
