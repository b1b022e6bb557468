package stats

import (
	"errors"
	"math"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestPlanAnalysisAlphaRefused: a plan's analysisAlpha (the α at which
// the analysis chooses the log ratio) and sequentialTuning are refused
// naming the field when they are not numbers in range, before any sizing.
func TestPlanAnalysisAlphaRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Plan)
		field string
	}{
		{"analysisAlpha below alpha", func(p *Plan) { p.AnalysisAlpha = 0.01 }, "analysisAlpha"},
		{"analysisAlpha above 0.5", func(p *Plan) { p.AnalysisAlpha = 0.6 }, "analysisAlpha"},
		{"analysisAlpha NaN", func(p *Plan) { p.AnalysisAlpha = math.NaN() }, "analysisAlpha"},
		{"analysisAlpha negative", func(p *Plan) { p.AnalysisAlpha = -0.05 }, "analysisAlpha"},
		{"sequentialTuning NaN", func(p *Plan) { p.SequentialTuning = math.NaN() }, "sequentialTuning"},
		{"sequentialTuning infinite", func(p *Plan) { p.SequentialTuning = math.Inf(1) }, "sequentialTuning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Plan{Alpha: 0.025, Power: 0.8, Alternative: TwoSided, Relative: true, Baseline: 0.1, Proportion: true}
			tc.edit(&p)
			_, _, err := p.SampleSize(-0.5)
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Field != tc.field {
				t.Errorf("SampleSize: %v, want an error on %s", err, tc.field)
			}
		})
	}
	p := Plan{Alpha: 0.025, AnalysisAlpha: 0.05, Power: 0.8, Alternative: TwoSided, Relative: true, Baseline: 0.1, Proportion: true}
	if _, _, err := p.SampleSize(-0.5); err != nil {
		t.Errorf("analysisAlpha 0.05 at alpha 0.025: %v", err)
	}
}
