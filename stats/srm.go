package stats

import (
	"fmt"
	"math"

	"github.com/valueloop/valueloop"
)

// SRMThreshold is the p-value below which a sample ratio mismatch is
// flagged. It is deliberately strict: the check runs on every look at every
// experiment, and a mismatch means the assignment or the logging is broken,
// not that the treatment works.
const SRMThreshold = 0.001

// SRM is the result of the sample-ratio-mismatch check: Pearson's chi-square
// goodness of fit of the observed units per variant against the configured
// weights (as scipy.stats.chisquare).
type SRM struct {
	Status    Status  `json:"status"`
	Reason    string  `json:"reason,omitempty"`
	ChiSquare float64 `json:"chiSquare"`
	DF        int     `json:"df"`
	PValue    float64 `json:"pValue"`
	// Mismatch is PValue < SRMThreshold.
	Mismatch bool `json:"mismatch"`
}

// SRMTest checks observed units per variant against configured weights (any
// positive scale). It needs at least two variants; with no units at all the
// SRM has Status NotEnoughData.
func SRMTest(units []int64, weights []float64) (SRM, error) {
	if len(units) != len(weights) {
		return SRM{}, valueloop.FieldErrorf("weights", "need one weight per variant (%d), got %d", len(units), len(weights))
	}
	if len(units) < 2 {
		return SRM{}, valueloop.FieldErrorf("units", "need at least two variants, got %d", len(units))
	}
	for i := range units {
		if units[i] < 0 {
			return SRM{}, valueloop.FieldErrorf(fmt.Sprintf("units[%d]", i), "must not be negative, got %d", units[i])
		}
		if !(weights[i] > 0) || math.IsInf(weights[i], 1) {
			return SRM{}, valueloop.FieldErrorf(fmt.Sprintf("weights[%d]", i), "must be a positive number, got %v", weights[i])
		}
	}
	return srm(units, weights), nil
}

// srm assumes validated input.
func srm(units []int64, weights []float64) SRM {
	var total, wsum float64
	for i := range units {
		total += float64(units[i])
		wsum += weights[i]
	}
	if total == 0 {
		return SRM{Status: NotEnoughData, Reason: fmt.Errorf("%w: no units assigned yet", ErrNotEnoughData).Error(), DF: len(units) - 1}
	}
	var chi float64
	for i := range units {
		e := total * weights[i] / wsum
		d := float64(units[i]) - e
		chi += d * d / e
	}
	p := chi2SF(chi, float64(len(units)-1))
	return SRM{Status: OK, ChiSquare: chi, DF: len(units) - 1, PValue: p, Mismatch: p < SRMThreshold}
}
