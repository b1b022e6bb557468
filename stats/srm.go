package stats

import (
	"cmp"
	"fmt"
	"math"

	"github.com/valueloop/valueloop"
)

// SRMThreshold is the default p-value below which a sample ratio mismatch
// is flagged (Settings.SRMThreshold chooses another). It is deliberately strict: the check runs on every look at every
// experiment, and a mismatch means the assignment or the logging is broken,
// not that the treatment works.
const SRMThreshold = 0.001

// SRM is the result of the sample-ratio-mismatch check: Pearson's chi-square
// goodness of fit of the observed units per variant against the configured
// weights (as scipy.stats.chisquare).
type SRM struct {
	Status Status `json:"status"`
	// Reason says why the check was not made; with a mismatch, its likely
	// cause when the caller knows one (package experiment: a targeting
	// rule's users recorded as randomised).
	Reason    string  `json:"reason,omitempty"`
	ChiSquare float64 `json:"chiSquare"`
	DF        int     `json:"df"`
	PValue    float64 `json:"pValue"`
	// Mismatch is PValue < Threshold.
	Mismatch bool `json:"mismatch"`
	// Threshold is the p-value below which a mismatch is flagged.
	Threshold float64 `json:"threshold"`
}

// Limit is the threshold the check used: Threshold, or SRMThreshold for a
// result that predates it.
func (s SRM) Limit() float64 {
	return cmp.Or(s.Threshold, SRMThreshold)
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
	return srm(len(units), SRMThreshold, func(i int) (int64, float64) { return units[i], weights[i] }), nil
}

// srm assumes validated input: k variants, variant(i) giving the units and
// weight of the i-th.
func srm(k int, threshold float64, variant func(i int) (int64, float64)) SRM {
	var total, wsum float64
	for i := range k {
		u, w := variant(i)
		total += float64(u)
		wsum += w
	}
	if total == 0 {
		return SRM{Status: NotEnoughData, Reason: ErrNotEnoughData.Error() + ": no units assigned yet", DF: k - 1, Threshold: threshold}
	}
	var chi float64
	for i := range k {
		u, w := variant(i)
		e := total * w / wsum
		d := float64(u) - e
		chi += d * d / e
	}
	p := chi2SF(chi, float64(k-1))
	return SRM{Status: OK, ChiSquare: chi, DF: k - 1, PValue: p, Mismatch: p < threshold, Threshold: threshold}
}
