package stats

import (
	"cmp"
	"fmt"
	"math"

	"github.com/valueloop/valueloop"
)

// Stratified analysis: a flag whose split changed over time (a progressive
// rollout, 5% → 25% → 100%) assigned its users under several splits. Pooling
// them confounds the variant with the time of assignment: the later, larger
// treatment share meets whatever changed over time. Each user is kept in the
// stratum (the period of the split) of their first exposure, each stratum is
// a small experiment with its own split, and the effects are combined across
// strata with fixed weights W_p (direct standardisation):
//
//	arm estimate  Ȳ_a = Σ_p W_p Ȳ_{a,p},  Var(Ȳ_a) = Σ_p W_p² Var(Ȳ_{a,p}),
//	W_p ∝ 1 / Σ_a 1/U_{a,p}   (Σ_p W_p = 1),
//
// U_{a,p} the users of arm a in stratum p. With two arms W_p ∝ U_c U_t/(U_c +
// U_t), the Mantel–Haenszel weights of a difference (Greenland and Robins,
// "Estimation of a common effect parameter from sparse follow-up data",
// Biometrics 1985), which are also the weights of the treatment coefficient
// of a regression on the treatment and one dummy per stratum (Angrist,
// "Estimating the labor market impact of voluntary military service",
// Econometrica 1998): statsmodels' OLS gives the same estimate (the golden
// tests check it). They weigh a stratum by how much it can say about the
// difference: a 5% period of 10,000 users counts as much as a 50/50 period of
// 1,900. A stratum in which an arm has no users (a 0% or a 100% period), or,
// for one metric, fewer than 2 users with a value or no variance, gets no
// weight; the others are renormalised.
//
// Since the strata hold disjoint users, the standardised arms are
// independent and everything downstream is unchanged: the difference, its
// relative form by the delta method, CUPED (θ from the co-moments within each
// arm and stratum), the t test with Welch–Satterthwaite degrees of freedom
// summed over the parts, ν = (Σ_i v_i)² / Σ_i v_i²/(n_i − 1), the sequences and
// the corrections.

// Stratum is one period of an experiment's assignment.
type Stratum struct {
	// Name identifies the stratum in the result (the start of the period).
	Name string `json:"name"`
	// Weights is the configured split of the stratum, one per
	// Input.Variants, in any unit; 0 for a variant not served then. With
	// Settings.SplitUnknown only which are positive matters.
	Weights []float64 `json:"weights"`
	// Units is the number of units first assigned in the stratum, per
	// variant.
	Units []int64 `json:"units"`
	// Summaries holds, per metric of Input.Metrics, one Summary per
	// variant.
	Summaries [][]Summary `json:"summaries"`
	// Unchecked is why Weights are not the units' expected shares in this
	// stratum ("" when they are): no split assigned them, or splits that
	// weigh the variants differently did, say. Only which weights are positive matters then, and the stratum's
	// sample-ratio check does not apply.
	Unchecked string `json:"-"`
}

// StratumResult is what the analysis says of one stratum.
type StratumResult struct {
	Name string `json:"name"`
	// Weight is W_p, the stratum's share of the combined estimate (0 when
	// an arm has no units in it).
	Weight float64 `json:"weight"`
	// SRM checks the stratum's units against its own split, over the
	// variants it serves; NotApplicable when it serves fewer than two (no
	// ratio to test, whatever the units) or Stratum.Unchecked says why not.
	SRM SRM `json:"srm"`
}

func (in Input) validateStrata() error {
	nv, nm := len(in.Variants), len(in.Metrics)
	for p, st := range in.Strata {
		path := func(f string) string { return fmt.Sprintf("strata[%d].%s", p, f) }
		if len(st.Weights) != nv || len(st.Units) != nv {
			return valueloop.FieldErrorf(path("weights"), "need one weight and one units figure per variant (%d), got %d and %d", nv, len(st.Weights), len(st.Units))
		}
		for i := range nv {
			if w := st.Weights[i]; !(w >= 0) || math.IsInf(w, 1) {
				return valueloop.FieldErrorf(path(fmt.Sprintf("weights[%d]", i)), "must be a non-negative number, got %v", w)
			}
			if st.Units[i] < 0 {
				return valueloop.FieldErrorf(path(fmt.Sprintf("units[%d]", i)), "must not be negative, got %d", st.Units[i])
			}
		}
		if len(st.Summaries) != nm {
			return valueloop.FieldErrorf(path("summaries"), "need one entry per metric (%d), got %d", nm, len(st.Summaries))
		}
		for i, sms := range st.Summaries {
			if len(sms) != nv {
				return valueloop.FieldErrorf(path(fmt.Sprintf("summaries[%d]", i)), "need one summary per variant (%d), got %d", nv, len(sms))
			}
			for j, sm := range sms {
				if err := sm.check(in.Metrics[i].Kind); err != nil {
					err.Field = path(fmt.Sprintf("summaries[%d][%d].%s", i, j, err.Field))
					return err
				}
			}
		}
	}
	return nil
}

// stratumWeights returns W_p ∝ 1/Σ_a 1/U_{a,p}, normalised; 0 for a stratum
// in which some variant has no units or no weight.
func stratumWeights(in Input) []float64 {
	w := make([]float64, len(in.Strata))
	var sum float64
	for p, st := range in.Strata {
		var inv float64
		for i, u := range st.Units {
			if u == 0 || st.Weights[i] == 0 {
				inv = math.Inf(1)
				break
			}
			inv += 1 / float64(u)
		}
		w[p] = 1 / inv
		sum += w[p]
	}
	if sum > 0 {
		for p := range w {
			w[p] /= sum
		}
	}
	return w
}

// strataSRM checks each stratum against its own split and sums them up: the
// overall SRM is the stratum with the smallest p-value, a mismatch when any
// stratum is one; when none could be checked, NotEnoughData while some
// stratum waits for units, else NotApplicable: the check applies to no
// stratum, and more data would not change that.
func strataSRM(in Input, weights []float64, threshold float64) (SRM, []StratumResult) {
	out := make([]StratumResult, len(in.Strata))
	overall := SRM{Status: NotEnoughData, Reason: ErrNotEnoughData.Error() + ": no period whose split serves two variants has users yet", Threshold: threshold}
	mismatch, waiting, notApplicable := false, false, ""
	for p, st := range in.Strata {
		out[p] = StratumResult{Name: st.Name, Weight: weights[p], SRM: stratumSRM(st, threshold)}
		switch r := out[p].SRM; r.Status {
		case OK:
			mismatch = mismatch || r.Mismatch
			if overall.Status != OK || r.PValue < overall.PValue {
				overall = r
			}
		case NotApplicable:
			notApplicable = cmp.Or(notApplicable, r.Reason)
		default:
			waiting = true
		}
	}
	if overall.Status != OK && !waiting && notApplicable != "" {
		overall.Status, overall.Reason = NotApplicable, notApplicable
	}
	overall.Mismatch = mismatch
	return overall, out
}

// stratumSRM is the chi-square test of a stratum's units over the variants
// its split serves. Units of variants it does not serve are left out: they
// are counted in no arm of the stratum's test (a cached evaluation, an
// override).
func stratumSRM(st Stratum, threshold float64) SRM {
	if st.Unchecked != "" {
		return SRM{Status: NotApplicable, Reason: st.Unchecked, Threshold: threshold}
	}
	var idx [8]int
	served := idx[:0]
	for i, w := range st.Weights {
		if w > 0 {
			served = append(served, i)
		}
	}
	if len(served) < 2 {
		return SRM{Status: NotApplicable, Reason: fmt.Sprintf("the split of this period serves %d variant(s) of the analysis, so there is no ratio to check", len(served)), Threshold: threshold}
	}
	return srm(len(served), threshold, func(i int) (int64, float64) { return st.Units[served[i]], st.Weights[served[i]] })
}

// cupedCells returns the cells θ is estimated from: the arms, or every arm
// in every stratum with weight (θ then has one intercept per arm and
// stratum).
func (a *analyzer) cupedCells(mi int, m Metric) []Summary {
	if a.strata == nil {
		return m.Summaries
	}
	var out []Summary
	for p, st := range a.strata {
		if a.weights[p] > 0 {
			out = append(out, st.Summaries[mi]...)
		}
	}
	return out
}

// stratifiedArms fills arms with the standardised estimates of metric mi.
// A stratum in which an arm has not enough data for this metric is left
// out and the weights of the others renormalised; when none is left, the
// error says why.
func (a *analyzer) stratifiedArms(arms []armStats, mi int, kind Kind, theta, preMean float64) error {
	per := make([][]armStats, len(a.strata))
	w := make([]float64, len(a.strata))
	var wsum float64
	var why error
	for p, st := range a.strata {
		if a.weights[p] == 0 {
			continue
		}
		per[p] = make([]armStats, len(arms))
		ok := true
		for i, sm := range st.Summaries[mi] {
			per[p][i] = arm(kind, sm, theta, preMean)
			if per[p][i].err != nil {
				ok = false
				why = per[p][i].err
			}
		}
		if ok {
			w[p] = a.weights[p]
			wsum += w[p]
		}
	}
	for i := range arms {
		arms[i] = armStats{}
	}
	if wsum == 0 {
		if why == nil {
			why = fmt.Errorf("%w: no period of the split has users in every arm", ErrNotEnoughData)
		}
		for i := range arms {
			arms[i].err = why
		}
		return fmt.Errorf("no period of the split has enough data in every arm: %w", why)
	}
	for i := range arms {
		out := &arms[i]
		for p := range a.strata {
			if w[p] > 0 {
				wp, s := w[p]/wsum, per[p][i]
				out.n += s.n
				out.estimate += wp * s.estimate
				out.adjusted += wp * s.adjusted
				out.v += wp * wp * s.v
				out.rawV += wp * wp * s.rawV
			}
		}
		out.dfRel = 1 / (out.n - 1)
		if out.v > 0 {
			out.dfRel = 0 // Σ_p (v_p/v)²/(n_p − 1), in shares of v
			for p := range a.strata {
				if w[p] > 0 {
					wp, s := w[p]/wsum, per[p][i]
					sh := wp * wp * s.v / out.v
					out.dfRel += sh * sh / (s.n - 1)
				}
			}
		}
	}
	return nil
}
