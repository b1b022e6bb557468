package experiment

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// Decision is what the evidence says about a hypothesis.
type Decision string

const (
	// Validated: the primary metric moved the expected way, significantly,
	// by at least the minimum effect worth shipping, and every guardrail is
	// shown non-inferior: its interval excludes harm beyond its tolerance.
	Validated Decision = "validated"
	// Invalidated: a guardrail got worse than it tolerates, or the effect is
	// confidently below the minimum worth shipping (or the wrong way).
	Invalidated Decision = "invalidated"
	// Inconclusive: the planned sample is reached and neither is shown.
	Inconclusive Decision = "inconclusive"
	// KeepRunning: neither is shown yet and the plan needs more users.
	KeepRunning Decision = "keep_running"
	// Blocked: no verdict while the sample ratio is off, for then the
	// assignment or the logging is broken and no number can be trusted.
	Blocked Decision = "blocked"
)

// Codes of the reason of a verdict, for programs; Verdict.Reason says the
// same for people, with the numbers.
const (
	CodeSRM               = "sample_ratio_mismatch"
	CodeWorthShipping     = "worth_shipping"
	CodeGuardrailBreached = "guardrail_breached"
	CodeWrongDirection    = "wrong_direction"
	CodeBelowMinimum      = "below_minimum_effect"
	CodeNotEnoughData     = "not_enough_data"
	CodeZeroBaseline      = "zero_baseline"
	CodeNeedMoreUsers     = "need_more_users"
	// CodeNoPlannedSample: no planned sample can be computed with these
	// settings, whatever the data (remainingUsers is absent): a one-sided
	// alternative against the hypothesis' direction, or an alpha not below
	// the power; the reason says what to change. Where the data give no
	// plan yet (a zero control mean), the code is the one the verdict
	// would have, and the reason says why there is no estimate yet. With fixed inference the verdict cannot decide
	// until they change.
	CodeNoPlannedSample      = "no_planned_sample"
	CodeGuardrailUnknown     = "guardrail_not_yet_known"
	CodePlannedSampleReached = "planned_sample_reached"
)

// Verdict judges a hypothesis. With several treatments it is the best
// treatment's when one is validated, invalidated when all are, and
// otherwise keep running (or inconclusive); Variants has each one's.
type Verdict struct {
	Decision Decision `json:"decision"`
	Code     string   `json:"code"`
	Reason   string   `json:"reason"`
	// Variant is the treatment the verdict is about.
	Variant string `json:"variant,omitempty"`
	// RemainingUsers estimates how many more users (all variants together)
	// the experiment needs to reach its planned power for the minimum
	// effect; present when keeping it running and the estimate can be made.
	RemainingUsers *int64           `json:"remainingUsers,omitempty"`
	Variants       []VariantVerdict `json:"variants,omitempty"`
	// Decided, under fixed inference once the planned sample was reached,
	// says when and on how many users this verdict was decided: it is the
	// stored FixedDecision, and later looks do not change it.
	Decided *Decided `json:"decided,omitempty"`
}

// VariantVerdict is the verdict on one treatment.
type VariantVerdict struct {
	Variant        string   `json:"variant"`
	Decision       Decision `json:"decision"`
	Code           string   `json:"code"`
	Reason         string   `json:"reason"`
	RemainingUsers *int64   `json:"remainingUsers,omitempty"`
	// PlannedUsers, under fixed inference, is the planned sample of this
	// treatment's test (users of all variants together): once a plan is
	// fixed (Result.Plan), the users at which the arms reach the plan's
	// precision if the split stays as it is now (this look's users once
	// they have), else the estimate from this look's spread by the same
	// rule; absent when it cannot be computed.
	PlannedUsers *int64 `json:"plannedUsers,omitempty"`
	// inputs, under fixed inference before a plan is fixed, are what
	// this look estimated of the treatment's test, for NewFixedPlan.
	inputs *PlanInputs
	// Effect is the primary metric's effect in the hypothesis' units
	// (relative unless Absolute) with the bounds of the deciding interval;
	// absent when it could not be computed.
	Effect     *Bounds          `json:"effect,omitempty"`
	Guardrails []GuardrailCheck `json:"guardrails,omitempty"`
}

// Bounds is an estimate with the lower and upper bounds of its interval. A
// one-sided interval is mirrored around the estimate (on the log scale for
// a log-ratio effect): the open side gets the one-sided bound at the same
// level.
type Bounds struct {
	Estimate float64 `json:"estimate"`
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
	// Level is the confidence level of the interval: 1 − α, or 1 − α/k
	// when the verdict is corrected over k treatments (see atFamily), so
	// then wider than the results table's, which is each comparison's own;
	// a validated treatment's is its correction step's (see decidedAlpha).
	Level float64 `json:"level,omitempty"`
}

// Guardrail statuses. A guardrail is a non-inferiority question — is the
// harm at most the tolerance? — decided on the same interval as the primary
// metric (sequential or fixed), with harm the effect turned so that positive
// is worse:
//
//	ok             upper bound of harm ≤ tolerance (non-inferiority shown)
//	harmed         lower bound of harm > tolerance (harm beyond it shown)
//	not_yet_known  the interval contains the tolerance
//	unchecked      not enough data to compute the interval
//
// With a 1 − α two-sided interval, a guardrail whose true harm equals the
// tolerance is called ok with probability at most α/2.
const (
	GuardrailOK      = "ok"
	GuardrailHarmed  = "harmed"
	GuardrailUnknown = "not_yet_known"
	GuardrailNoData  = "unchecked"
)

// GuardrailCheck is one guardrail on one treatment. Harm is the effect
// turned so that positive is worse, in the tolerance's units.
type GuardrailCheck struct {
	Metric    string  `json:"metric"`
	Status    string  `json:"status"`
	Reason    string  `json:"reason,omitempty"`
	Harm      *Bounds `json:"harm,omitempty"`
	Tolerance float64 `json:"tolerance"`
	Absolute  bool    `json:"absolute,omitempty"`
	// RemainingUsers, for a guardrail not yet known, estimates how many
	// more users (all variants) give the planned power to show
	// non-inferiority when the true harm is zero: the sample that detects
	// an effect of the tolerance's size.
	RemainingUsers *int64 `json:"remainingUsers,omitempty"`
}

// judge applies the verdict rules to a result. h is normalised and res
// holds its metrics.
func judge(res *Result, h *Hypothesis) *Verdict {
	if res.SRM.Status == stats.OK && res.SRM.Mismatch {
		return &Verdict{Decision: Blocked, Code: CodeSRM, Reason: fmt.Sprintf(
			"no verdict: the users per variant do not match the configured split (sample ratio mismatch, p = %s < %g), so assignment or logging is broken and no number can be trusted; fix it, or correct the weights if they are wrong",
			valueloop.FormatP(res.SRM.PValue), res.SRM.Limit())}
	}
	resultOf := func(key string) *MetricResult {
		for i := range res.Metrics {
			if res.Metrics[i].Metric == key {
				return &res.Metrics[i]
			}
		}
		return nil
	}
	primary := resultOf(h.PrimaryMetric)
	ps := primaryPValues(primary, h, res.Settings)
	v := &Verdict{}
	for t := 1; t < len(res.Variants); t++ {
		vv := VariantVerdict{Variant: res.Variants[t].Name}
		for _, g := range h.Guardrails {
			m := resultOf(g.Metric)
			k := family(m, g.Absolute, res.Settings)
			c := checkGuardrail(m, g, t, res.Settings, k)
			if c.Status == GuardrailUnknown {
				eff, absolute := g.Tolerance, g.Absolute
				if m.Direction == metric.LowerIsBetter {
					eff = -eff
				}
				// Non-inferiority is planned at no harm, where the
				// relative interval's variance is the difference's over
				// μc² (no (1 + δ)² on the control arm, which a relative
				// plan of the tolerance would weigh it by): the tolerance
				// in the metric's units, on the absolute scale.
				if c := m.Variants[0].AdjustedMean; !absolute && c != nil && *c != 0 {
					eff, absolute = eff*math.Abs(*c), true
				}
				if n, err := remainingUsers(res, h, m, t, eff, absolute, stats.TwoSided, 1/float64(k)); err == nil {
					c.RemainingUsers = &n
				}
			}
			vv.Guardrails = append(vv.Guardrails, c)
		}
		judgeVariant(&vv, res, h, primary, t, ps)
		v.Variants = append(v.Variants, vv)
	}
	summarize(v)
	return v
}

// primaryTest is the p-value that decides for one treatment: of the primary
// metric's test on the hypothesis' scale, corrected over the treatments.
type primaryTest struct {
	p      float64
	family int // treatments with a test: the correction's m
	// alpha is the level at which the correction's step tested this
	// treatment when it rejects (p < α), so that its interval at alpha
	// excludes 0 as p does; label says which step. See decidedAlpha.
	alpha float64
	label string
}

// primaryPValues returns, per variant (control's unused), the p-value of the
// primary metric's test on the scale and inference that decide, corrected
// (Settings.Correction) over the treatments with a test and nothing else.
// The adjusted p-values of the result are corrected across every metric
// shown, a family that changes with ?metric= and with every metric the
// environment defines; the hypothesis names its one primary metric in
// advance, so its family is that metric's comparisons (guardrails are
// decided by their intervals, the other metrics are exploratory).
func primaryPValues(primary *MetricResult, h *Hypothesis, s Settings) []primaryTest {
	out := make([]primaryTest, len(primary.Variants))
	var raw []float64
	var idx []int
	for t := 1; t < len(primary.Variants); t++ {
		l := primary.Variants[t].Lift
		if l == nil {
			continue
		}
		e := &l.Absolute
		if !h.Absolute {
			if e = l.Relative; e == nil {
				continue
			}
		}
		raw, idx = append(raw, s.Inference.Deciding(*e).PValue), append(idx, t)
	}
	adj, err := stats.Adjust(raw, s.Correction)
	if err != nil { // p-values out of [0, 1]: uncorrected, as Analyze made them
		adj = raw
	}
	for i, t := range idx {
		out[t] = primaryTest{p: adj[i], family: len(raw)}
		if adj[i] < s.Alpha {
			out[t].alpha, out[t].label = decidedAlpha(raw, adj, i, s)
		}
	}
	return out
}

// decidedAlpha is the level at which the correction tested treatment i of
// raw (adj its corrected p-values, adj[i] < α) and the label of its
// interval. Bonferroni tests each at α/k. Holm's step j (j − 1 treatments
// with a smaller p before it) tests at α/(k − j + 1), and adj[i] < α
// implies raw[i] below it. Benjamini–Hochberg keeping R of k tests each
// kept one at αR/k (the level of Benjamini and Yekutieli's (2005) false
// coverage rate intervals for the kept): adj[i] < α implies raw[i] < αR/k.
// So the interval at the returned level excludes 0 exactly as adj[i] < α
// says, where Bonferroni's α/k interval, which the other decisions read,
// need not.
func decidedAlpha(raw, adj []float64, i int, s Settings) (float64, string) {
	k := len(raw)
	switch s.Correction {
	case stats.Holm:
		j := 1
		for _, p := range raw {
			if p < raw[i] {
				j++
			}
		}
		a := s.Alpha / float64(k-j+1)
		return a, fmt.Sprintf("%.4g%% interval: Holm's step %d of %d, at α/%d", 100*(1-a), j, k, k-j+1)
	case stats.BenjaminiHochberg:
		r := 0
		for _, p := range adj {
			if p < s.Alpha {
				r++
			}
		}
		a := s.Alpha * float64(r) / float64(k)
		return a, fmt.Sprintf("%.4g%% interval: α·%d/%d for the %d of %d treatments Benjamini–Hochberg keeps", 100*(1-a), r, k, r, k)
	}
	return familyAlpha(s, k), familyLevel(s, k)
}

func judgeVariant(vv *VariantVerdict, res *Result, h *Hypothesis, primary *MetricResult, t int, ps []primaryTest) {
	s := res.Settings
	set := func(d Decision, code, format string, args ...any) {
		vv.Decision, vv.Code, vv.Reason = d, code, fmt.Sprintf(format, args...)
	}
	// The plan first, whatever decides below: under fixed inference the
	// first look that can compute every treatment's planned sample from a
	// pilot large enough fixes it (NewFixedPlan), a look whose guardrail
	// is breached included.
	remaining, noPlan := planVariant(vv, res, h, primary, t, ps)
	planned := noPlan == nil
	for _, g := range vv.Guardrails {
		if g.Status == GuardrailHarmed {
			set(Invalidated, CodeGuardrailBreached, "guardrail %s got worse beyond its tolerance: harm %s, more than the %s tolerated", g.Metric, fmtBounds(*g.Harm, !g.Absolute), unsigned(g.Tolerance, !g.Absolute))
			vv.RemainingUsers = nil
			return
		}
	}
	trt := primary.Variants[t]
	if trt.Lift == nil || !h.Absolute && trt.Lift.Relative == nil {
		// No effect on the scale judged: no estimate either, not even
		// from a spread that happens to be there.
		vv.RemainingUsers, vv.PlannedUsers = nil, nil
	}
	if trt.Lift == nil {
		set(KeepRunning, CodeNotEnoughData, "%s: %s", primary.Metric, cmp.Or(trt.Reason, stats.ErrNotEnoughData.Error()))
		return
	}
	eff := trt.Lift.Absolute
	if !h.Absolute {
		if trt.Lift.Relative == nil && allAgainstNone(trt.Lift) {
			set(KeepRunning, CodeNotEnoughData, "%s: %s, so a relative effect cannot be measured (give the minimum effect as absolute)", primary.Metric, noRelative)
			return
		}
		if trt.Lift.Relative == nil {
			set(KeepRunning, CodeZeroBaseline, "%s: the control mean is zero, so a relative effect cannot be measured yet (or give the minimum effect as absolute)", primary.Metric)
			return
		}
		eff = *trt.Lift.Relative
	}
	if eff.Note != "" { // whatever is decided, say the relative figure may mislead
		defer func() { vv.Reason += " (note: " + eff.Note + ")" }()
	}
	// Every decision on the primary metric reads the interval of the
	// corrected test: at α/k over k treatments (Bonferroni's interval), so
	// that "below the minimum" or "the wrong way" holds for the family as
	// the p-value's claim does, not only per comparison.
	b := bounds(atFamily(eff, primary, t, s, ps[t].family), s.Inference)
	b.Level = 1 - familyAlpha(s, ps[t].family)
	vv.Effect = &b
	d := h.Direction.Sign()
	est, hi := d*b.Estimate, d*b.Upper // turned so that positive is expected
	if d < 0 {
		hi = -b.Lower
	}
	// The p-value of the test on the scale judged, whose interval is b.
	p := ps[t].p
	corrected := ps[t].family > 1 && s.Correction != stats.NoCorrection
	sig := fmt.Sprintf("p = %s < %g", valueloop.FormatP(p), s.Alpha)
	if corrected {
		sig = fmt.Sprintf("p = %s adjusted (%s) over the %d treatments < %g", valueloop.FormatP(p), s.Correction, ps[t].family, s.Alpha)
	}
	rel := !h.Absolute
	m := h.MinimumEffect
	moved := fmt.Sprintf("%s moved %s", primary.Metric, fmtBounds(b, rel))
	if corrected {
		moved += " " + familyLevel(s, ps[t].family)
	}
	undecided := func(code, why string) {
		switch {
		case !planned:
			if !errors.Is(noPlan, errPlanLater) { // users will not give one
				code = CodeNoPlannedSample
			}
			set(KeepRunning, code, "%s; %s (%v)", why, moved, noPlan)
		case remaining > 0:
			set(KeepRunning, code, "%s; %s; about %s to reach %.0f%% power for %s", why, moved, valueloop.Count(remaining, "more user"), 100*h.Power, fmtEffect(d*m, rel))
			// A guardrail that needs more users than the primary metric
			// sets the estimate, so that the next look can decide.
			for _, g := range vv.Guardrails {
				if g.RemainingUsers != nil && *g.RemainingUsers > *vv.RemainingUsers {
					n := *g.RemainingUsers
					vv.RemainingUsers = &n
					vv.Reason = fmt.Sprintf("%s; %s; about %s to reach %.0f%% power for %s and to show guardrail %s non-inferior", why, moved, valueloop.Count(n, "more user"), 100*h.Power, fmtEffect(d*m, rel), g.Metric)
				}
			}
		default:
			set(Inconclusive, pick(code == CodeNeedMoreUsers, CodePlannedSampleReached, code), "%s after the planned sample (%.0f%% power for %s); %s", why, 100*h.Power, fmtEffect(d*m, rel), moved)
		}
	}
	if s.Inference == Fixed && !(planned && remaining == 0) {
		// A fixed-horizon test holds its α when read once, at the planned
		// sample; every look reads the verdict (the recorder's, each
		// minute), so deciding on the first crossing before then is
		// peeking. A harmed guardrail (above) still stops at once.
		if !planned && !errors.Is(noPlan, errPlanLater) {
			// No planned sample will ever come: say so, and what to
			// change, rather than let the verdict wait for it unsaid.
			set(KeepRunning, CodeNoPlannedSample, "not decided, and fixed-horizon inference will not decide: it decides once, at the planned sample, and %v (or use inference=sequential, which needs no planned sample); %s", noPlan, moved)
			return
		}
		undecided(CodeNeedMoreUsers, "not decided yet: fixed-horizon inference decides once, at the planned sample")
		return
	}
	switch {
	case p < s.Alpha && est > 0 && est >= m:
		if corrected { // quote the interval of the test that decided
			db := bounds(atAlpha(eff, primary, t, s, ps[t].alpha), s.Inference)
			db.Level = 1 - ps[t].alpha
			vv.Effect = &db
			moved = fmt.Sprintf("%s moved %s (%s)", primary.Metric, fmtBounds(db, rel), ps[t].label)
		}
		if g, ok := firstUnknown(vv.Guardrails); ok {
			why := fmt.Sprintf("the primary metric is worth shipping but guardrail %s is not yet known to be within its tolerance", g.Metric)
			if g.Harm != nil {
				why += fmt.Sprintf(" (harm %s reaches beyond the %s tolerated)", fmtBounds(*g.Harm, !g.Absolute), unsigned(g.Tolerance, !g.Absolute))
			} else {
				why += " (" + g.Reason + ")"
			}
			moved = fmt.Sprintf("%s (%s)", moved, sig)
			// Users for the guardrails now, not for the primary metric.
			remaining, planned = 0, false
			for _, g := range vv.Guardrails {
				if g.RemainingUsers != nil {
					remaining, planned = max(remaining, *g.RemainingUsers), true
				}
			}
			vv.RemainingUsers = nil
			switch {
			case !planned:
				set(KeepRunning, CodeGuardrailUnknown, "%s; %s (the remaining users cannot be estimated yet)", why, moved)
			case remaining > 0:
				vv.RemainingUsers = &remaining
				set(KeepRunning, CodeGuardrailUnknown, "%s; %s; about %s to reach %.0f%% power to show it non-inferior", why, moved, valueloop.Count(remaining, "more user"), 100*h.Power)
			default:
				set(Inconclusive, CodeGuardrailUnknown, "%s after the users planned for it (%.0f%% power to show it non-inferior); %s", why, 100*h.Power, moved)
			}
			return
		}
		guards := "every guardrail is shown within its tolerance"
		if len(vv.Guardrails) == 0 {
			guards = "no guardrail is set"
		}
		set(Validated, CodeWorthShipping, "%s (%s), at least the %s worth shipping, and %s", moved, sig, fmtEffect(d*m, rel), guards)
		vv.RemainingUsers = nil
	case hi < 0:
		set(Invalidated, CodeWrongDirection, "%s: the wrong way, the %s was expected", moved, h.Direction)
		vv.RemainingUsers = nil
	case hi < m:
		set(Invalidated, CodeBelowMinimum, "%s: the %s is at most %s, less than the %s worth shipping", moved, h.Direction, unsigned(hi, rel), unsigned(m, rel))
		vv.RemainingUsers = nil
	default:
		undecided(CodeNeedMoreUsers, "not decided yet")
	}
}

// planVariant estimates the users treatment t still needs for its planned
// sample (remainingUsers) and sets vv's RemainingUsers and, under fixed
// inference, PlannedUsers; with a plan fixed (res.Plan), the plan's. The
// error says why there is no estimate.
func planVariant(vv *VariantVerdict, res *Result, h *Hypothesis, primary *MetricResult, t int, ps []primaryTest) (int64, error) {
	s := res.Settings
	// The test is corrected over the treatments: planned at α/k (the
	// Bonferroni bound of Holm's and BH's first step), the sample gives
	// the planned power after the correction.
	share := 1.0
	if ps[t].family > 1 && s.Correction != stats.NoCorrection {
		share = 1 / float64(ps[t].family)
	}
	effect := h.Direction.Sign() * h.MinimumEffect
	n, noPlan := plannedSample(res, h, primary, t, effect, h.Absolute, s.Alternative, share)
	// Under fixed inference the rule of the plan (PlanInputs.remaining):
	// the plan fixed from its pilot, not this look's estimate, says
	// whether this look is at the planned sample, its precision at the
	// arms' users now, sized at the split now; before it, the estimate
	// is this look's by the same rule, so that the plan it fixes plans
	// what it said.
	in, planned := res.Plan.inputs(s, vv.Variant)
	if !planned && s.Inference == Fixed && noPlan == nil {
		if sz, err := sizeTest(res, h, primary, t, effect, h.Absolute, s.Alternative, share); err == nil {
			vv.inputs = sz.inputs(effect)
			in = *vv.inputs
		}
	}
	if planned || vv.inputs != nil {
		more, err := in.remaining(allocation(res, t))
		if errors.Is(err, errNeverReached) {
			return 0, neverReached(res)
		}
		if err != nil {
			return 0, planLater(err)
		}
		n, noPlan = res.Users+more, nil
	}
	if planned {
		if res.Plan.Current == nil {
			res.Plan.Current = map[string]int64{}
		}
		res.Plan.Current[vv.Variant] = n
	} else if s.Inference == Fixed && noPlan == nil {
		// Not before the pilot a plan is fixed from (PilotUsers): an
		// estimate from fewer users would decide on their noise.
		n = max(n, PilotUsers)
	}
	if noPlan != nil {
		return 0, noPlan
	}
	remaining := max(0, n-res.Users)
	vv.RemainingUsers = &remaining
	if s.Inference == Fixed {
		vv.PlannedUsers = &n
	}
	return remaining, nil
}

// summarize fills the overall verdict from the treatments'.
func summarize(v *Verdict) {
	if len(v.Variants) == 0 {
		return
	}
	var best, keep, inconclusive *VariantVerdict
	invalid := 0
	for i := range v.Variants {
		vv := &v.Variants[i]
		switch vv.Decision {
		case Validated:
			if best == nil || vv.Effect.Estimate*sgn(vv.Effect.Estimate) > best.Effect.Estimate*sgn(best.Effect.Estimate) {
				best = vv
			}
		case Invalidated:
			invalid++
		case KeepRunning:
			// The one needing the most users: the overall remainingUsers
			// is theirs (every treatment needs its users to decide), and
			// the reason, which says the number, must be too.
			if keep == nil || vv.RemainingUsers != nil && (keep.RemainingUsers == nil || *vv.RemainingUsers > *keep.RemainingUsers) {
				keep = vv
			}
		case Inconclusive:
			if inconclusive == nil {
				inconclusive = vv
			}
		}
	}
	from := func(vv *VariantVerdict) {
		v.Decision, v.Code, v.Reason, v.Variant = vv.Decision, vv.Code, vv.Reason, vv.Variant
	}
	switch {
	case best != nil:
		from(best)
	case invalid == len(v.Variants):
		from(&v.Variants[0])
		if len(v.Variants) > 1 {
			var parts []string
			for _, vv := range v.Variants {
				parts = append(parts, vv.Variant+": "+vv.Reason)
			}
			v.Variant = ""
			v.Reason = "every treatment is invalidated — " + strings.Join(parts, "; ")
		}
	case keep != nil:
		from(keep)
		if keep.RemainingUsers != nil {
			n := *keep.RemainingUsers
			v.RemainingUsers = &n
		}
	default:
		from(inconclusive)
	}
}

func sgn(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}

// firstUnknown returns the first guardrail that is neither ok nor harmed.
func firstUnknown(gs []GuardrailCheck) (GuardrailCheck, bool) {
	for _, g := range gs {
		if g.Status == GuardrailUnknown || g.Status == GuardrailNoData {
			return g, true
		}
	}
	return GuardrailCheck{}, false
}

// family is the number of treatments the verdict corrects over on metric m
// (those with a test on the scale judged: relative unless absolute); 1
// without a correction, which leaves every interval at 1 − α.
func family(m *MetricResult, absolute bool, s Settings) int {
	if s.Correction == stats.NoCorrection {
		return 1
	}
	k := 0
	for _, v := range m.Variants[1:] {
		if v.Lift != nil && (absolute || v.Lift.Relative != nil) {
			k++
		}
	}
	return max(k, 1)
}

// atFamily returns e, of treatment t on metric m, with its intervals at
// level 1 − α/k when the verdict is corrected over k > 1 treatments: the
// Bonferroni interval, which holds for all k at once with probability
// 1 − α (Holm's and BH's adjusted p-values have no interval of their own;
// Bonferroni's bounds Holm's first step). With k ≤ 1 or no correction, e.
func atFamily(e stats.Effect, m *MetricResult, t int, s Settings, k int) stats.Effect {
	return atAlpha(e, m, t, s, familyAlpha(s, k))
}

// atAlpha returns e, of treatment t on metric m, with its intervals at
// level 1 − a (e itself at the analysis' α).
func atAlpha(e stats.Effect, m *MetricResult, t int, s Settings, a float64) stats.Effect {
	if a != s.Alpha {
		units := float64(m.Variants[0].Users + m.Variants[t].Users)
		e.Interval, e.Sequential = s.IntervalsAt(e, a, m.Variants[t].Lift.DF, units)
	}
	return e
}

// familyAlpha is the α of each interval of a verdict corrected over k
// treatments: α/k, or α for one treatment or without a correction.
func familyAlpha(s Settings, k int) float64 {
	if k < 2 || s.Correction == stats.NoCorrection {
		return s.Alpha
	}
	return s.Alpha / float64(k)
}

// familyLevel labels an interval corrected over k treatments.
func familyLevel(s Settings, k int) string {
	return fmt.Sprintf("(%.4g%% interval: α/%d over the %d treatments)", 100*(1-s.Alpha/float64(k)), k, k)
}

// allAgainstNone says l is a conversion of 100% in control and none in the
// treatment (stats' Newcombe interval): it has no relative effect though
// the control mean is not zero.
func allAgainstNone(l *Lift) bool {
	return l.Absolute.Method == stats.MethodNewcombe && l.Absolute.Estimate < 0
}

// noRelative is why allAgainstNone has no relative effect.
const noRelative = "every user converted in control and none in the treatment: the relative change is −100%, with no interval of its own"

// checkGuardrail judges guardrail g on treatment t of metric m, on the
// interval corrected over the k treatments (see atFamily).
func checkGuardrail(m *MetricResult, g Guardrail, t int, s Settings, k int) GuardrailCheck {
	c := GuardrailCheck{Metric: g.Metric, Tolerance: g.Tolerance, Absolute: g.Absolute, Status: GuardrailNoData}
	v := m.Variants[t]
	if v.Lift == nil {
		c.Reason = cmp.Or(v.Reason, stats.ErrNotEnoughData.Error())
		return c
	}
	eff := v.Lift.Absolute
	if !g.Absolute {
		if v.Lift.Relative == nil {
			c.Reason = "the control mean is zero, so a relative harm cannot be measured (give the tolerance as absolute)"
			if allAgainstNone(v.Lift) {
				c.Reason = noRelative + ", so a relative harm cannot be measured (give the tolerance as absolute)"
			}
			return c
		}
		eff = *v.Lift.Relative
	}
	b := bounds(atFamily(eff, m, t, s, k), s.Inference)
	harm := Bounds{Estimate: -b.Estimate, Lower: -b.Upper, Upper: -b.Lower} // higher is better: a fall is harm
	if m.Direction == metric.LowerIsBetter {
		harm = b
	}
	harm.Level = 1 - familyAlpha(s, k)
	c.Harm = &harm
	switch {
	case harm.Lower > g.Tolerance:
		c.Status = GuardrailHarmed
	case harm.Upper <= g.Tolerance:
		c.Status = GuardrailOK
	default:
		c.Status = GuardrailUnknown
	}
	return c
}

// bounds returns the estimate of e with the bounds of its deciding interval,
// mirroring a one-sided interval around the estimate on the scale of its
// test: for a log-ratio relative effect, around ln(t/c), since that test's
// interval is symmetric there and not on t/c − 1 (mirrored on t/c − 1 its
// upper bound fell far short of the test's own).
func bounds(e stats.Effect, inf Inference) Bounds {
	iv := inf.Deciding(e).Interval
	b := Bounds{Estimate: e.Estimate, Lower: iv.Lower, Upper: iv.Upper}
	mirror := func(x float64) float64 { return 2*e.Estimate - x }
	if e.Method == "log-ratio" {
		l := e.Statistic * e.SE // ln(t/c)
		mirror = func(x float64) float64 {
			// A bound at −100% (ln = −∞) mirrors to no bound at all:
			// the largest number, so that JSON stays finite.
			return min(math.Expm1(2*l-math.Log1p(x)), math.MaxFloat64)
		}
	}
	switch {
	case iv.UpperUnbounded:
		b.Upper = mirror(iv.Lower)
	case iv.LowerUnbounded, e.Method == "log-ratio" && iv.Lower == -1:
		// A log-ratio interval's open lower side (ln = −∞, alternative
		// "less") is stated as −100%, not marked unbounded
		// (stats.expm1Interval). Mirroring a two-sided one's lower bound
		// changes nothing: it is symmetric on the log scale.
		b.Lower = mirror(iv.Upper)
	}
	return b
}

// remainingUsers estimates, with stats.Plan, how many more users (all
// variants together) the experiment needs for the planned power to detect
// effect (in the metric's units when absolute, else relative to the control
// mean, signed for a one-sided alternative) on metric pm between control
// and treatment t. The per-unit standard deviations come from each arm's
// standard error (so they include CUPED's reduction and a ratio's delta
// method), one per arm; the critical value is that
// of the deciding interval at share·α (share < 1 for a test corrected over
// several treatments) — for sequential inference the confidence
// sequence's at the current sample, which grows slowly with n, so the
// estimate is then a little optimistic. Users without a value of a mean
// metric are accounted for by the share of users that have one. The error
// is errPlanLater when more data may allow an estimate, else it says why
// there is no planned sample and what to change.
func remainingUsers(res *Result, h *Hypothesis, pm *MetricResult, t int, effect float64, absolute bool, alt stats.Alternative, share float64) (int64, error) {
	n, err := plannedSample(res, h, pm, t, effect, absolute, alt, share)
	return max(0, n-res.Users), err
}

// plannedSample is the planned sample remainingUsers counts down to: the
// users (all variants together) the test needs, whether or not res has
// reached them, at the arms' shares.
func plannedSample(res *Result, h *Hypothesis, pm *MetricResult, t int, effect float64, absolute bool, alt stats.Alternative, share float64) (int64, error) {
	sz, err := sizeTest(res, h, pm, t, effect, absolute, alt, share)
	if err != nil {
		return 0, err
	}
	cv, tv := res.Variants[0], res.Variants[t]
	plan := sz.plan
	plan.Ratio = tv.Share / cv.Share
	needC, needT, err := plan.SampleSize(effect)
	if err != nil {
		return 0, planLater(err)
	}
	// Metric units to exposed users.
	needC, needT = needC*sz.coverC, needT*sz.coverT
	total := math.Max(needC/cv.Share, needT/tv.Share)
	if !(total < 1e15) {
		total = 1e15
	}
	return int64(math.Ceil(total)), nil
}

// sized is what sizeTest estimated of a test: its plan, without the
// allocation, with the spread per metric unit, and the exposed users per
// metric unit of each arm (1 when every user has a value).
type sized struct {
	plan           stats.Plan
	coverC, coverT float64
	// readC and readT are the same per user the metric reads (fewer than
	// the exposed users when excludeOpenWindows leaves some out).
	readC, readT float64
}

// sizeTest estimates what sizes the test of effect on metric pm between
// control and treatment t (remainingUsers says how); the error is
// errPlanLater when more data may allow an estimate.
func sizeTest(res *Result, h *Hypothesis, pm *MetricResult, t int, effect float64, absolute bool, alt stats.Alternative, share float64) (sized, error) {
	s := res.Settings
	ctrl, trt := pm.Variants[0], pm.Variants[t]
	if trt.Lift == nil {
		return sized{}, errPlanLater
	}
	nc, nt := float64(ctrl.Users), float64(trt.Users)
	se := trt.Lift.Absolute.SE
	if nc < 2 || nt < 2 || !(se > 0) || ctrl.AdjustedMean == nil {
		return sized{}, errPlanLater
	}
	if err := alternativeFits(alt, effect); err != nil {
		return sized{}, err
	}
	alpha := s.Alpha * share
	if s.Inference == Sequential {
		b := bounds(trt.Lift.Absolute, Sequential)
		crit := (b.Upper - b.Lower) / 2 / se
		a := math.Erfc(crit / math.Sqrt2) // two-sided tail beyond crit
		if alt != stats.TwoSided {
			a /= 2
		}
		alpha = min(a*share, alpha)
	}
	plan := stats.Plan{
		Alpha: alpha, Alternative: alt, Power: h.Power,
		SD: se / math.Sqrt(1/nc+1/nt),
	}
	// Each arm's own per-unit SD when both are known (CUPED-adjusted).
	if ctrl.SE != nil && trt.SE != nil && *ctrl.SE > 0 && *trt.SE > 0 {
		plan.SD, plan.TreatmentSD = *ctrl.SE*math.Sqrt(nc), *trt.SE*math.Sqrt(nt)
	}
	if !absolute {
		// The analysis tests a large decrease of a count or a conversion
		// on the log ratio (stats.Plan.NonNegative).
		plan.Relative, plan.Baseline = true, *ctrl.AdjustedMean
		plan.NonNegative, plan.SequentialTuning = nonNegativeKind(pm.Kind), s.SequentialTuning
		plan.FixedHorizon = s.Inference == Fixed // as the analysis (Analyze)
		// It chooses that test at its own α, not at the plan's share.
		if alpha < s.Alpha {
			plan.AnalysisAlpha = s.Alpha
		}
	}
	// The plan's α is at most this analysis' (share·α, or the sequential
	// one below it), so a power not above both is the settings' doing
	// (an ?alpha= above the hypothesis' power), whatever the data.
	if h.Power <= s.Alpha*share && !(h.Power > alpha) {
		return sized{}, fmt.Errorf("no planned sample can be computed: the hypothesis' power %v is not above this analysis' α %v%s; set a lower alpha, or a higher power in the hypothesis",
			h.Power, s.Alpha*share, pick(share < 1, fmt.Sprintf(" (%v over the treatments compared)", s.Alpha), ""))
	}
	sz := sized{plan: plan, coverC: 1, coverT: 1, readC: 1, readT: 1}
	cv, tv := res.Variants[0], res.Variants[t]
	if cv.Users > 0 && nc < float64(cv.Users) {
		sz.coverC = float64(cv.Users) / nc
	}
	if tv.Users > 0 && nt < float64(tv.Users) {
		sz.coverT = float64(tv.Users) / nt
	}
	// Per user the metric reads: all but those whose window may still be
	// open when they are left out (the rule's arms.rc and arms.rt).
	if uc := cv.Users - res.open.unread(h.PrimaryMetric, cv.Name, 0, true); uc > 0 && nc < float64(uc) {
		sz.readC = float64(uc) / nc
	}
	if ut := tv.Users - res.open.unread(h.PrimaryMetric, tv.Name, 0, true); ut > 0 && nt < float64(ut) {
		sz.readT = float64(ut) / nt
	}
	return sz, nil
}

// planLater says why a plan's sizing refused numbers read from the data:
// a control mean of zero for a relative effect (CUPED's adjusted mean can
// be zero where the raw one is not), a spread that is not finite, a
// sequential α that underflows. More data may give a plan, so it is not
// no_planned_sample, which says none ever comes.
func planLater(err error) error {
	var e *valueloop.Error
	if errors.As(err, &e) { // the field is the plan's, not the request's
		return fmt.Errorf("%w from these data: the plan's %s %s", errPlanLater, e.Field, e.Message)
	}
	return fmt.Errorf("%w from these data: %w", errPlanLater, err)
}

// neverReached says which arms the split now leaves without users to
// come (errNeverReached): while it does, no look reaches the planned
// sample.
func neverReached(res *Result) error {
	var none []string
	for _, v := range res.Variants {
		if res.split != nil && res.split[v.Name] == 0 {
			none = append(none, v.Name)
		}
	}
	if len(none) == 0 {
		return errNeverReached
	}
	return fmt.Errorf("the split now gives %s no share, so the users to come never reach the planned sample: give %s a share again, or decide by hand on what was measured", strings.Join(none, " and "), pick(len(none) == 1, "it", "them"))
}

// errPlanLater: the remaining users need more data to be estimated (users
// in both arms, a spread of values, a control mean).
var errPlanLater = errors.New("the remaining users cannot be estimated yet")

// alternativeFits is nil when a test of alternative alt can detect effect
// (signed as expected), else the error says to change the alternative: a
// one-sided test against the hypothesis' direction (an ?alternative=
// override, say) has no sample that gives it power.
func alternativeFits(alt stats.Alternative, effect float64) error {
	want, dir := stats.Greater, "increase"
	if effect < 0 {
		want, dir = stats.Less, "decrease"
	}
	if alt == stats.TwoSided || alt == want {
		return nil
	}
	return fmt.Errorf("no planned sample can be computed: the alternative is %q, a one-sided test that cannot detect the %s the hypothesis expects; set the alternative to %q or %q", alt, dir, stats.TwoSided, want)
}

// fmtEffect writes an effect: relative as a signed percentage, absolute as
// a signed number.
func fmtEffect(x float64, relative bool) string {
	if relative {
		p := 100 * x
		switch a := math.Abs(p); {
		case a == 0:
			return "0%"
		case a < 0.1:
			return fmt.Sprintf("%+.3f%%", p)
		case a < 10:
			return fmt.Sprintf("%+.1f%%", p)
		}
		return fmt.Sprintf("%+.0f%%", p)
	}
	return fmt.Sprintf("%+.3g", x)
}

// unsigned writes a magnitude as fmtEffect does, without the sign.
func unsigned(x float64, relative bool) string {
	return strings.TrimPrefix(fmtEffect(x, relative), "+")
}

// fmtBounds writes "+4.1% [+1.2%, +7.0%]".
func fmtBounds(b Bounds, relative bool) string {
	return fmt.Sprintf("%s [%s, %s]", fmtEffect(b.Estimate, relative), fmtEffect(b.Lower, relative), fmtEffect(b.Upper, relative))
}

func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}
