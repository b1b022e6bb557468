package experiment

import (
	"context"
	"errors"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// fakeReader is one flag's stored experiment; it counts the dimension
// reads and answers err to every read when set.
type fakeReader struct {
	h             *Hypothesis
	ms            []metric.Metric
	aggs, byDim   []metric.Aggregate
	outside       []metric.Aggregate // metric.OutsideDimension's cells
	err           error
	dimensionRead string
}

func (f *fakeReader) Hypothesis(context.Context, string, string) (*Hypothesis, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.h == nil {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "no hypothesis")
	}
	return f.h, nil
}
func (f *fakeReader) Metrics(context.Context, string) ([]metric.Metric, error) { return f.ms, f.err }
func (f *fakeReader) Aggregates(context.Context, string, string) ([]metric.Aggregate, error) {
	return f.aggs, f.err
}
func (f *fakeReader) DimensionAggregates(_ context.Context, _, _, dimension string) ([]metric.Aggregate, error) {
	if dimension == metric.OutsideDimension {
		return f.outside, f.err
	}
	f.dimensionRead = dimension
	return f.byDim, f.err
}
func (f *fakeReader) SplitHistory(context.Context, string, string) ([]SplitPeriod, error) {
	return nil, f.err
}

// TestReadAnalysis: the results route and the experiment page read a flag
// the same way: the hypothesis' settings or the defaults, the dimension's
// cells only when split by one, not found for a flag neither defined nor
// exposed, and a failed read is an error rather than a missing hypothesis.
func TestReadAnalysis(t *testing.T) {
	ctx := context.Background()
	ms := testMetrics()[:2]
	all, byCountry := simulateCountries(t, 3, ms, map[string][]arm{
		"US": {{name: "control", users: 300, signup: 0.3}, {name: "treatment", users: 300, signup: 0.3}},
	})
	h := NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect, h.Direction, h.Settings.Alpha = "signup", 0.05, Increase, 0.01

	t.Run("hypothesis and dimension", func(t *testing.T) {
		r := &fakeReader{h: h, ms: ms, aggs: all, byDim: byCountry}
		in := Input{Environment: "production", Flag: "onboarding", Definition: testFlag(), Dimension: "country", Dimensions: countries}
		if err := ReadHypothesis(ctx, r, &in); err != nil {
			t.Fatal(err)
		}
		res, err := ReadAnalysis(ctx, r, &in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Settings.Alpha != 0.01 || res.Hypothesis == nil || res.Dimension == nil || r.dimensionRead != "country" || len(in.Aggregates) != len(all) {
			t.Errorf("got alpha %v, hypothesis %v, dimension %v (read %q), %d aggregates; want the hypothesis' 0.01, split by country",
				res.Settings.Alpha, res.Hypothesis, res.Dimension, r.dimensionRead, len(in.Aggregates))
		}
	})
	t.Run("no hypothesis, no dimension", func(t *testing.T) {
		r := &fakeReader{ms: ms, aggs: all, byDim: byCountry}
		in := Input{Environment: "production", Flag: "onboarding", Definition: testFlag()}
		if err := ReadHypothesis(ctx, r, &in); err != nil {
			t.Fatal(err)
		}
		res, err := ReadAnalysis(ctx, r, &in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Settings.Alpha != DefaultSettings().Alpha || res.Hypothesis != nil || res.Verdict != nil || r.dimensionRead != "" {
			t.Errorf("got alpha %v, hypothesis %v, dimension read %q; want the defaults and no dimension read", res.Settings.Alpha, res.Hypothesis, r.dimensionRead)
		}
	})
	t.Run("users outside the split", func(t *testing.T) {
		outside := []metric.Aggregate{
			{Flag: "onboarding", Variant: "treatment", Dimension: metric.OutsideDimension, Sums: metric.Sums{N: 40}},
			{Flag: "onboarding", Variant: "treatment", Dimension: metric.OutsideDimension, Metric: "signup", Sums: metric.Sums{N: 40}},
			{Flag: "onboarding", Variant: "control", Period: 5, Dimension: metric.OutsideDimension, Sums: metric.Sums{N: 2}},
		}
		plain, err := ReadAnalysis(ctx, &fakeReader{ms: ms, aggs: all}, &Input{Environment: "production", Flag: "onboarding", Definition: testFlag(), Settings: DefaultSettings()})
		if err != nil {
			t.Fatal(err)
		}
		res, err := ReadAnalysis(ctx, &fakeReader{ms: ms, aggs: all, outside: outside}, &Input{Environment: "production", Flag: "onboarding", Definition: testFlag(), Settings: DefaultSettings()})
		if err != nil {
			t.Fatal(err)
		}
		if res.OutsideSplit != 42 || res.Users != plain.Users || res.Variants[1].Users != plain.Variants[1].Users {
			t.Errorf("outside %d, users %d (treatment %d); want 42 outside and the users without them, %d (%d)", res.OutsideSplit, res.Users, res.Variants[1].Users, plain.Users, plain.Variants[1].Users)
		}
		// Exposed only outside the split, and no longer defined: there
		// were exposures, so not "not found".
		_, err = ReadAnalysis(ctx, &fakeReader{ms: ms, outside: outside}, &Input{Environment: "production", Flag: "ghost", Settings: DefaultSettings()})
		if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
			t.Errorf("a flag exposed outside its split only: %v; want it found", err)
		}
	})
	t.Run("neither defined nor exposed", func(t *testing.T) {
		in := Input{Environment: "production", Flag: "ghost", Settings: DefaultSettings()}
		_, err := ReadAnalysis(ctx, &fakeReader{ms: ms}, &in)
		if valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
			t.Errorf("got %v, want not found", err)
		}
	})
	t.Run("failed read", func(t *testing.T) {
		boom := errors.New("disk on fire")
		in := Input{Environment: "production", Flag: "onboarding"}
		if err := ReadHypothesis(ctx, &fakeReader{err: boom}, &in); !errors.Is(err, boom) {
			t.Errorf("ReadHypothesis: got %v, want the read's error", err)
		}
		if _, err := ReadAnalysis(ctx, &fakeReader{err: boom}, &in); !errors.Is(err, boom) {
			t.Errorf("ReadAnalysis: got %v, want the read's error", err)
		}
	})
}
