package stats

import (
	"cmp"
	"math"

	"github.com/valueloop/valueloop"
)

// Plan describes a two-arm experiment to be sized. The planner uses the
// normal approximation (for a two-sided test both tails count towards
// power) with a variance per arm: the difference of the means has variance
//
//	σ_c²/n_c + σ_t²/n_t = (σ_c² + σ_t²/r) / n_c,   r = n_t/n_c,
//
// as statsmodels' normal_power_het with std_null = std_alternative, which
// is the unpooled Wald test the analysis runs. With TreatmentSD unset both
// arms share SD, and this is statsmodels' NormalIndPower. For a proportion
// (Proportion set) σ_c² = p(1 − p) at the baseline rate and σ_t² at the
// rate the effect gives: 2–5% more users than one shared σ for typical
// conversion lifts.
//
// A Relative effect δ is tested on its own interval, the delta method's
// (see Comparison.Relative):
//
//	Var(δ̂) ≈ σ_t²/(n_t·μ_c²) + μ_t²·σ_c²/(n_c·μ_c⁴),   μ_t = μ_c + δ·|μ_c|,
//
// so its statistic δ/SE(δ̂) is d/√(q²σ_c²/n_c + σ_t²/n_t) with d = δ·|μ_c|
// the difference in the metric's units and q = μ_t/μ_c: the absolute test's
// with the control term weighed by q² at the alternative. An increase of
// 10% with equal arms needs about 10% more users than the difference d
// would (whose plan has 76% power where 80% was asked), a decrease fewer.
// GrowthBook's power calculator uses the same variance
// (frequentistVariance, μ_B = μ_A(1 + δ)).
type Plan struct {
	// Alpha is the significance level, in (0, 0.5].
	Alpha       float64     `json:"alpha"`
	Alternative Alternative `json:"alternative"`
	// Power is the target probability of detecting the effect, in (Alpha, 1);
	// SampleSize and MDE need it.
	Power float64 `json:"power"`
	// SD is the standard deviation of the metric per unit (in control);
	// ignored for a Proportion. For a ratio metric use RatioSD.
	SD float64 `json:"sd"`
	// TreatmentSD is the treatment arm's standard deviation per unit; 0
	// means SD.
	TreatmentSD float64 `json:"treatmentSD,omitempty"`
	// Proportion plans a conversion metric whose control rate is Baseline:
	// each arm's SD is √(p(1−p)) at its own rate.
	Proportion bool `json:"proportion,omitempty"`
	// T plans Welch's t-test (the test of a mean metric) exactly, for small
	// samples: critical values from Student's t and power from the
	// noncentral t, both with the Welch–Satterthwaite degrees of freedom at
	// the planned sizes. Without it the normal approximation is used, which
	// is optimistic at fewer than a few dozen units per arm.
	T bool `json:"t,omitempty"`
	// Baseline is the control mean. It is needed only when Relative is set.
	Baseline float64 `json:"baseline"`
	// Relative makes effects relative to Baseline (0.02 is +2 %).
	Relative bool `json:"relative,omitempty"`
	// Ratio is the number of treatment units per control unit; 0 means 1.
	Ratio float64 `json:"ratio,omitempty"`
	// NonNegative says the metric is never negative (a count; Proportion
	// implies it). The analysis tests such a metric's relative effect on
	// the log ratio when the delta method's interval reaches below −100%
	// (see Comparison.Relative), and a Relative plan then plans that test.
	NonNegative bool `json:"nonNegative,omitempty"`
	// SequentialTuning is the analysis' Settings.SequentialTuning, whose
	// confidence sequence (always computed, and wider than the fixed
	// interval) takes part in that choice; 0 means the default 10,000.
	SequentialTuning float64 `json:"sequentialTuning,omitempty"`
	// AnalysisAlpha is the analysis' Settings.Alpha where the plan's Alpha
	// is below it (a test corrected over treatments, or a sequential
	// test's α now): the analysis chooses the log ratio at its own α, and
	// the plan then tests the chosen effect at Alpha. 0 means Alpha.
	AnalysisAlpha float64 `json:"analysisAlpha,omitempty"`
	// FixedHorizon plans an analysis under Settings.FixedHorizon (fixed
	// inference), which chooses the log ratio on the fixed-horizon
	// interval alone: the sequence's multiplier then takes no part.
	FixedHorizon bool `json:"fixedHorizon,omitempty"`
}

// ProportionSD is the per-unit standard deviation √(p(1−p)) of a conversion
// metric with rate p.
func ProportionSD(p float64) float64 { return math.Sqrt(p * (1 - p)) }

// RatioSD is the per-unit standard deviation of a ratio metric Σx/Σy by the
// delta method, from the per-unit means, standard deviations and the
// correlation of numerator and denominator:
//
//	σ = √(σx² − 2R·ρσxσy + R²σy²) / |μy|,   R = μx/μy.
func RatioSD(meanX, meanY, sdX, sdY, corr float64) float64 {
	r := meanX / meanY
	v := sdX*sdX - 2*r*corr*sdX*sdY + r*r*sdY*sdY
	return math.Sqrt(math.Max(v, 0)) / math.Abs(meanY)
}

func (p Plan) validate(needPower bool) error {
	switch {
	case !(p.Alpha > 0 && p.Alpha <= 0.5):
		return valueloop.FieldErrorf("alpha", "must be in (0, 0.5], got %v", p.Alpha)
	case p.Proportion && !(p.Baseline > 0 && p.Baseline < 1):
		return valueloop.FieldErrorf("baseline", "a proportion plan needs the control rate in (0, 1), got %v", p.Baseline)
	case !p.Proportion && (!(p.SD > 0) || math.IsInf(p.SD, 1)):
		return valueloop.FieldErrorf("sd", "must be a positive number, got %v", p.SD)
	case !p.Proportion && (!(p.TreatmentSD >= 0) || math.IsInf(p.TreatmentSD, 1)):
		return valueloop.FieldErrorf("treatmentSD", "must be a positive number (or 0 for sd), got %v", p.TreatmentSD)
	case !(p.Ratio >= 0) || math.IsInf(p.Ratio, 1):
		return valueloop.FieldErrorf("ratio", "must be a positive number (or 0 for 1), got %v", p.Ratio)
	case p.Relative && (p.Baseline == 0 || math.IsNaN(p.Baseline) || math.IsInf(p.Baseline, 0)):
		return valueloop.FieldErrorf("baseline", "relative effects need a finite, non-zero baseline, got %v", p.Baseline)
	case p.AnalysisAlpha != 0 && !(p.AnalysisAlpha >= p.Alpha && p.AnalysisAlpha <= 0.5):
		return valueloop.FieldErrorf("analysisAlpha", "must be in [alpha, 0.5] (or 0 for alpha), got %v", p.AnalysisAlpha)
	case !(p.SequentialTuning >= 0) || math.IsInf(p.SequentialTuning, 1):
		return valueloop.FieldErrorf("sequentialTuning", "must be a positive number of units (or 0 for 10000), got %v", p.SequentialTuning)
	case needPower && !(p.Power > p.Alpha && p.Power < 1):
		return valueloop.FieldErrorf("power", "must be in (alpha, 1), got %v", p.Power)
	}
	switch p.Alternative {
	case TwoSided, Greater, Less:
	default:
		return valueloop.FieldErrorf("alternative", "must be %q, %q or %q, got %q", TwoSided, Greater, Less, p.Alternative)
	}
	return nil
}

func (p Plan) ratio() float64 { return cmp.Or(p.Ratio, 1) }

// absolute converts an effect to the metric's units. A relative effect is
// (t − c)/|c|, so it scales by |Baseline|.
func (p Plan) absolute(effect float64) float64 {
	if p.Relative {
		return effect * math.Abs(p.Baseline)
	}
	return effect
}

func (p Plan) crit() float64 { return critical(p.Alpha, 0, p.Alternative) }

// unitVar is n_c · Var(t̄ − c̄) = σ_c² + σ_t²/r for an absolute difference
// d, or false when d takes a proportion out of [0, 1]; for a Relative plan
// q²σ_c² + σ_t²/r, μ_c² times the relative effect's (see Plan).
func (p Plan) unitVar(d float64) (float64, bool) {
	vc, vt, ok := p.armVars(d)
	return p.controlWeight(d)*vc + vt/p.ratio(), ok
}

// controlWeight is the weight q² = (μ_t/μ_c)² of the control arm's
// variance in the variance of a relative effect at the absolute difference
// d (times μ_c²), 1 for an absolute one.
func (p Plan) controlWeight(d float64) float64 {
	if !p.Relative {
		return 1
	}
	q := (p.Baseline + d) / p.Baseline
	return q * q
}

// EffectVariance is the variance of the effect the plan's test decides on
// when the arms' means have variances varControl and varTreatment and the
// effect is effect (absolute, or relative to Baseline): varControl +
// varTreatment for an absolute effect, and for a relative one the delta
// method's at the alternative, (q²·varControl + varTreatment)/μ_c² with
// q = 1 + effect·|μ_c|/μ_c (see Plan). Its square root is compared with
// RequiredSE.
func (p Plan) EffectVariance(effect, varControl, varTreatment float64) float64 {
	d := p.absolute(effect)
	v := p.controlWeight(d)*varControl + varTreatment
	if p.Relative {
		v /= p.Baseline * p.Baseline
	}
	return v
}

// armVars are the per-unit variances σ_c² and σ_t².
func (p Plan) armVars(d float64) (vc, vt float64, ok bool) {
	if p.Proportion {
		pc, pt := p.Baseline, p.Baseline+d
		if !(pt >= 0 && pt <= 1) {
			return 0, 0, false
		}
		return pc * (1 - pc), pt * (1 - pt), true
	}
	st := p.TreatmentSD
	if st == 0 {
		st = p.SD
	}
	return p.SD * p.SD, st * st, true
}

// The test whose power power gives: the analysis' choice (see logRatio),
// or one of its two forced.
const (
	analysisTest = iota
	deltaTest
	logTest
)

// power is the power with nc control units of test (analysisTest: the one
// the analysis runs) on the absolute difference d, and whether it is the
// log ratio's (see logRatio; logTest takes it whenever both means are
// positive). Without T
// the normal approximation; with T Welch's t-test: the noncentral t with
// noncentrality (the statistic's shift) d/SE and the Welch–Satterthwaite
// degrees of freedom
//
//	ν = (a + b)² / (a²/(n_c − 1) + b²/(n_t − 1)),  a = σ_c²/n_c, b = σ_t²/n_t.
//
// A Relative plan's test is the analysis' relative one: the same ν (the
// arms' means'), with its own SE, so noncentrality d/√(q²a + b).
func (p Plan) power(d, nc float64, test int) (float64, bool) {
	vc, vt, _ := p.armVars(d)
	nt := nc * p.ratio()
	a, b := vc/nc, vt/nt
	df := 0.0
	if p.T {
		df = (a + b) * (a + b) / (a*a/(nc-1) + b*b/(nt-1))
	}
	crit := critical(p.Alpha, df, p.Alternative)
	shift, isLog := d/math.Sqrt(p.controlWeight(d)*a+b), test == analysisTest && p.logRatio(d, a, b, nc+nt, df)
	mt := p.Baseline + d
	if isLog || (test == logTest && p.Relative && p.Baseline > 0 && mt > 0) {
		shift, isLog = math.Log(mt/p.Baseline)/math.Sqrt(b/(mt*mt)+a/(p.Baseline*p.Baseline)), true
	}
	if !p.T {
		return p.powerAt(shift), isLog
	}
	switch p.Alternative {
	case Greater:
		return nctSF(crit, df, shift), isLog
	case Less:
		return nctCDF(-crit, df, shift), isLog
	}
	return nctSF(crit, df, shift) + nctCDF(-crit, df, shift), isLog
}

// tPower is the power of the delta method's t-test (see power).
func (p Plan) tPower(d, nc float64) float64 {
	pw, _ := p.power(d, nc, deltaTest)
	return pw
}

// logRatio says whether the analysis tests the relative effect on the log
// ratio ln(μt/μc) when the true difference is d and the arms' means have
// variances a (control) and b, units the units of both arms: for a Relative
// plan of a non-negative metric, both means positive, when the delta
// method's interval at the alternative, at the larger of the critical
// value (Student's t with df degrees of freedom, the normal's for df 0)
// and the confidence sequence's multiplier (the critical value alone for
// FixedHorizon), both at the analysis' α
// (AnalysisAlpha), reaches below −100% (the analysis' rule, see
// Comparison.Relative). Its SE is √(b/μt² + a/μc²), larger than the delta
// method's for a decrease: planned with the delta method, −90% of a 10%
// conversion rate got 15 times too few users.
func (p Plan) logRatio(d, a, b, units, df float64) bool {
	mt := p.Baseline + d
	if !p.Relative || !(p.NonNegative || p.Proportion) || !(p.Baseline > 0) || !(mt > 0) {
		return false
	}
	alpha := cmp.Or(p.AnalysisAlpha, p.Alpha)
	crit := critical(alpha, df, p.Alternative)
	m := crit
	if !p.FixedHorizon {
		m = max(crit, newSequential(alpha, cmp.Or(p.SequentialTuning, 10000), p.Alternative).multiplier(units))
	}
	rse := math.Sqrt(p.controlWeight(d)*a+b) / p.Baseline
	return d/p.Baseline-m*rse < -1
}

// Short says whether arms whose means have variances varControl and
// varTreatment, units in both together, fall short of the precision at
// which the test the analysis runs on effect has the plan's power in the
// normal approximation: the delta method's, EffectVariance above
// RequiredSE², or where the analysis tests the log ratio (see
// NonNegative) for a decrease its own, varTreatment/μt² + varControl/μc²
// above (ln(μt/μc)/u)², u the shift of RequiredSE.
func (p Plan) Short(effect, varControl, varTreatment, units float64) (bool, error) {
	se, err := p.RequiredSE(effect)
	if err != nil {
		return false, err
	}
	d := p.absolute(effect)
	// An increase waits for the delta method's precision: the log ratio's
	// power falls where the analysis leaves it (see logSampleSize).
	if d > 0 || !p.logRatio(d, varControl, varTreatment, units, 0) {
		return p.EffectVariance(effect, varControl, varTreatment) > se*se, nil
	}
	mt := p.Baseline + d
	l := math.Log(mt/p.Baseline) / p.shift()
	return varTreatment/(mt*mt)+varControl/(p.Baseline*p.Baseline) > l*l, nil
}

// minUnits is the smallest control size with at least 2 units per arm.
func (p Plan) minUnits() float64 { return math.Max(2, 2/p.ratio()) }

// bisect finds x in [lo, hi] with f(x) = target for f increasing, to
// relative precision 1e-14; hi doubles until it is reached. It uses the
// Illinois variant of false position, which keeps the bracket of bisection
// and converges superlinearly (each f is a numerical integral).
func bisect(f func(float64) float64, target, lo, hi float64) float64 {
	flo, fhi := f(lo)-target, f(hi)-target
	for i := 0; fhi < 0 && i < 200; i++ {
		lo, flo = hi, fhi
		hi *= 2
		fhi = f(hi) - target
	}
	side := 0
	for range 200 {
		x := (lo*fhi - hi*flo) / (fhi - flo)
		if !(x > lo && x < hi) {
			x = (lo + hi) / 2
		}
		fx := f(x) - target
		switch {
		case fx == 0:
			return x
		case fx < 0:
			lo, flo = x, fx
			if side == -1 {
				fhi /= 2
			}
			side = -1
		default:
			hi, fhi = x, fx
			if side == 1 {
				flo /= 2
			}
			side = 1
		}
		if hi-lo <= 1e-14*hi {
			break
		}
	}
	return (lo + hi) / 2
}

// power at standardised shift u = δ/SD · √n_eff.
func (p Plan) powerAt(u float64) float64 {
	c := p.crit()
	switch p.Alternative {
	case Greater:
		return normSF(c - u)
	case Less:
		return normCDF(-c - u)
	}
	return normSF(c-u) + normCDF(-c-u)
}

// shift is the |u| at which the power reaches p.Power.
func (p Plan) shift() float64 {
	c := p.crit()
	u := c - normQuantile(1-p.Power) // exact for one-sided tests
	if p.Alternative != TwoSided {
		return u
	}
	// Two-sided: the far tail adds a little power, so the root is just below
	// u. Newton on f(u) = Φ̄(c−u) + Φ(−c−u) − power, increasing for u > 0.
	lo, hi := 0.0, u
	for i := 0; i < 100; i++ {
		f := normSF(c-u) + normCDF(-c-u) - p.Power
		if f > 0 {
			hi = u
		} else {
			lo = u
		}
		step := f / (normPDF(c-u) - normPDF(c+u))
		next := u - step
		if !(next > lo && next < hi) {
			next = (lo + hi) / 2
		}
		if math.Abs(next-u) <= 1e-15*u {
			return next
		}
		u = next
	}
	return u
}

// PowerAt is the probability that the fixed-horizon test rejects when the
// true effect is effect (absolute, or relative to Baseline) and control has
// control units (treatment Ratio times as many).
func (p Plan) PowerAt(effect, control float64) (float64, error) {
	if err := p.validate(false); err != nil {
		return 0, err
	}
	if math.IsNaN(effect) || math.IsInf(effect, 0) {
		return 0, valueloop.FieldErrorf("effect", "must be a finite number, got %v", effect)
	}
	if !(control > 0) || math.IsInf(control, 1) {
		return 0, valueloop.FieldErrorf("control", "must be a positive number of units, got %v", control)
	}
	d := p.absolute(effect)
	v, ok := p.unitVar(d)
	if !ok {
		return 0, valueloop.FieldErrorf("effect", "takes the treatment rate out of [0, 1]: baseline %v, effect %v", p.Baseline, effect)
	}
	if v == 0 {
		return 0, valueloop.FieldErrorf("effect", "leaves no variance in either arm")
	}
	if p.T {
		if control < p.minUnits() {
			return 0, valueloop.FieldErrorf("control", "a t-test needs at least 2 units per arm, got %v in control", control)
		}
	}
	pw, _ := p.power(d, control, analysisTest)
	return pw, nil
}

// SampleSize returns the units needed in control and treatment to detect
// effect (absolute, or relative to Baseline) with probability Power. The
// numbers are not rounded: round both up. A one-sided plan needs an effect
// in the direction of its alternative.
func (p Plan) SampleSize(effect float64) (control, treatment float64, err error) {
	d, err := p.detectable(effect)
	if err != nil {
		return 0, 0, err
	}
	v, ok := p.unitVar(d)
	if !ok {
		return 0, 0, valueloop.FieldErrorf("effect", "takes the treatment rate out of [0, 1]: baseline %v, effect %v", p.Baseline, effect)
	}
	u := p.shift() / d
	control = u * u * v
	if !(control > 0) {
		return 0, 0, valueloop.FieldErrorf("effect", "leaves no variance in either arm")
	}
	if p.T {
		// The t-test needs more units than the normal approximation says:
		// its power at the normal size is below target.
		lo := math.Max(control, p.minUnits())
		if p.tPower(d, lo) < p.Power {
			control = bisect(func(n float64) float64 { return p.tPower(d, n) }, p.Power, lo, 2*lo)
		} else {
			control = lo
		}
	}
	control = p.logSampleSize(d, control)
	return control, control * p.ratio(), nil
}

// logSampleSize is the control units at which the test the analysis runs
// on d first has the plan's power, nDelta where the delta method's test
// has it. The analysis tests the log ratio (see logRatio) below n*, where
// the delta method's interval at the alternative stops reaching −100%,
// and the delta method's from n* on. The log ratio's power counts below
// n*: lower than the delta method's for a decrease, so the sample is the
// first of the log ratio's and n* when n* > nDelta; higher for an
// increase, so it may be reached before n* < nDelta, but the power then
// falls at n* where the delta method's is short, and the analysis,
// choosing on the observed means, does not have it there (+125% of a 2%
// rate: 64.0% at 839 per arm, TestRelativePlanIncreaseBySimulation): nDelta, from which the power
// stays. nDelta too when the analysis tests the log ratio at no sample
// below it.
func (p Plan) logSampleSize(d, nDelta float64) float64 {
	isLog := func(n float64) bool { _, l := p.power(d, n, analysisTest); return l }
	least := nDelta * 1e-6
	if p.T {
		least = p.minUnits()
	}
	if !(least < nDelta) || !isLog(least) {
		return nDelta
	}
	star := bisect(func(n float64) float64 {
		if isLog(n) {
			return 0
		}
		return 1
	}, 0.5, least, nDelta)
	logPower := func(n float64) float64 { pw, _ := p.power(d, n, logTest); return pw }
	if logPower(star) < p.Power {
		return math.Max(star, nDelta)
	}
	if star < nDelta {
		// An increase: the log ratio's power is reached before n*, but
		// falls at n* below the plan's and stays there until nDelta.
		return nDelta
	}
	lo := star
	for i := 0; i < 100 && logPower(lo) >= p.Power && !(p.T && lo == p.minUnits()); i++ {
		lo /= 2
		if p.T {
			lo = math.Max(lo, p.minUnits())
		}
	}
	return bisect(logPower, p.Power, lo, star)
}

// detectable validates p for sizing and returns effect in the metric's
// units, refused when the test cannot detect it.
func (p Plan) detectable(effect float64) (float64, error) {
	if err := p.validate(true); err != nil {
		return 0, err
	}
	d := p.absolute(effect)
	switch {
	case math.IsNaN(d) || math.IsInf(d, 0) || d == 0:
		return 0, valueloop.FieldErrorf("effect", "must be a finite, non-zero number, got %v", effect)
	case p.Alternative == Greater && d < 0, p.Alternative == Less && d > 0:
		return 0, valueloop.FieldErrorf("effect", "a %s test detects only effects in its direction, got %v", p.Alternative, effect)
	}
	return d, nil
}

// RequiredSE is the standard error of the tested effect at which the test,
// in the normal approximation, has probability Power to detect effect:
// |effect|/u with u the standardised shift of the power, in the effect's
// units — of the difference of the means, or for a Relative plan of the
// relative effect (a fraction of Baseline). It does not depend on the
// allocation (Ratio) nor on the spread: any arms whose EffectVariance at
// effect is at most its square have the power, however the units were
// split between them.
func (p Plan) RequiredSE(effect float64) (float64, error) {
	if _, err := p.detectable(effect); err != nil {
		return 0, err
	}
	return math.Abs(effect) / p.shift(), nil
}

// MDE returns the minimum detectable effect with control units in control
// (treatment Ratio times as many) at the plan's Power: absolute, or relative
// to Baseline when Relative is set; negative for a "less" alternative, the
// increase's for a two-sided one. A relative effect's power is bounded when
// the control mean is noisy (see normalMDE): then only an effect towards
// zero (a decrease of a positive mean) may be detectable, and MDE is the
// smallest that is, or refused when none is.
func (p Plan) MDE(control float64) (float64, error) {
	if err := p.validate(true); err != nil {
		return 0, err
	}
	if !(control > 0) || math.IsInf(control, 1) {
		return 0, valueloop.FieldErrorf("control", "must be a positive number of units, got %v", control)
	}
	sign := 1.0
	if p.Alternative == Less {
		sign = -1
	}
	d, peak, err := p.normalMDE(sign, p.shift()/math.Sqrt(control))
	if err != nil {
		return 0, err
	}
	if p.T {
		if control < p.minUnits() {
			return 0, valueloop.FieldErrorf("control", "a t-test needs at least 2 units per arm, got %v in control", control)
		}
		// The normal MDE is too small for the t-test: search upwards in |d|,
		// up to the peak of a bounded statistic (see normalMDE), past which
		// the power falls again.
		hi := 2 * math.Abs(d)
		if peak > 0 {
			hi = peak
			if p.Proportion { // the treatment rate stays in (0, 1)
				room := 1 - p.Baseline
				if sign < 0 {
					room = p.Baseline
				}
				hi = math.Min(hi, room*(1-1e-9))
			}
		}
		m := bisect(func(x float64) float64 { return p.tPower(sign*x, control) }, p.Power, 0, hi)
		d = sign * m
		// A relative effect's power is bounded (see normalMDE): the search
		// ran off when the t-test never reaches it.
		if !(math.Abs(p.tPower(d, control)-p.Power) < 1e-6) {
			return 0, valueloop.FieldErrorf("control", "too few units: the relative effect's t-test reaches power %v at no effect size", p.Power)
		}
	}
	// Where the analysis tests d on the log ratio, that test's MDE. A
	// smaller increase tested on the log ratio (whose interval reaches
	// −100% while the effect is small) may have the power too, but the
	// power falls where the analysis leaves it, and choosing on the
	// observed means the analysis does not have it there (+103% of a 5%
	// rate at 436 per arm: 69.3%, TestRelativePlanIncreaseBySimulation): d, from which it stays.
	if _, isLog := p.power(d, control, analysisTest); isLog {
		if d, err = p.logMDE(sign, control); err != nil {
			return 0, err
		}
	}
	if p.Relative {
		d /= math.Abs(p.Baseline)
	}
	return d, nil
}

// logMDE is the MDE when at the delta method's the analysis tests the log
// ratio (see logRatio), whose power is lower for a decrease and higher
// for an increase: the smallest |x| on a
// geometric grid of 2,000 points per factor of 10⁶ from a millionth of the
// smaller of |μc| and the largest effect (a proportion's rate in (0, 1), a
// positive mean's above 0, 50·|μc| for an increase of a mean) up to it at
// which the test the analysis runs reaches Power, refined by bisection;
// refused when none does (the log ratio's statistic falls again near
// −100%).
func (p Plan) logMDE(sign, control float64) (float64, error) {
	most := 50 * math.Abs(p.Baseline)
	switch {
	case p.Proportion && sign > 0:
		most = (1 - p.Baseline) * (1 - 1e-9)
	case sign < 0:
		most = p.Baseline * (1 - 1e-9)
	}
	dir := "increase"
	if sign < 0 {
		dir = "decrease"
	}
	pw := func(x float64) float64 { v, _ := p.power(sign*x, control, analysisTest); return v }
	// 2,000 points per factor of a million, from a millionth of the
	// smaller of most and |μc|: a proportion's most, 1 − p, is +100% of a
	// rate of 10⁻⁶ already.
	least := math.Min(most, math.Abs(p.Baseline)) / 1e6
	steps := int(math.Ceil(2000 * math.Log(most/least) / math.Log(1e6)))
	r := math.Pow(most/least, 1/float64(steps))
	for i, prev := 1, least; i <= steps; i++ {
		x := math.Min(most, prev*r)
		if pw(x) >= p.Power {
			return sign * bisect(pw, p.Power, prev, x), nil
		}
		prev = x
	}
	return 0, valueloop.FieldErrorf("control", "too few units: the analysis tests so large a relative %s on the log ratio (its delta-method interval reaches below −100%%), which reaches power %v at no effect size", dir, p.Power)
}

// normalMDE is the difference d (of sign sign) at which the normal
// statistic reaches k·√n_c, k the shift per √n_c: d² = k²·V(d), V the
// unitVar. V is a quadratic in d — σ_t² = p_t(1 − p_t) of a proportion,
// the weight q² = (1 + d/μ_c)² of a relative effect's control arm — so
// the statistic reaches the shift where f(d) = (1 − k²c₂)d² − k²c₁d − k²c₀
// ≥ 0, V = c₀ + c₁d + c₂d², and f(0) < 0. The statistic² d²/V(d) has its
// only turn away from 0 at d* = −2c₀/c₁, where its derivative's factor
// 2V − dV′ = 2c₀ + c₁d vanishes. When a = 1 − k²c₂ > 0 the roots have
// opposite signs and f > 0 beyond them: the root of sign sign. Otherwise
// (a relative effect whose control mean is noisy, or a proportion's few
// units) the statistic in the direction away from d* stays below its
// limit 1/c₂ ≤ k², and towards d* (a relative effect towards zero: the
// control arm's weight q² falls) it rises to d* and falls after, so the
// MDE is the nearer root on d*'s side when the statistic reaches the shift
// there at all (both roots of that sign, discriminant ≥ 0). peak is |d*|
// then, the largest |d| worth searching (0 when a > 0).
func (p Plan) normalMDE(sign, k float64) (d, peak float64, err error) {
	r := p.ratio()
	vc, vt, _ := p.armVars(0)
	// Treatment variance σ_t²(d) = vt + t1·d + t2·d².
	var t1, t2 float64
	if p.Proportion {
		t1, t2 = 1-2*p.Baseline, -1
	}
	// Control weight q² = 1 + w1·d + w2·d².
	var w1, w2 float64
	if p.Relative {
		w1, w2 = 2/p.Baseline, 1/(p.Baseline*p.Baseline)
	}
	c0, c1, c2 := vc+vt/r, w1*vc+t1/r, w2*vc+t2/r
	k2 := k * k
	a, b, c := 1-k2*c2, -k2*c1, -k2*c0
	disc := b*b - 4*a*c
	if !(a > 0) {
		peak = -2 * c0 / c1
		if c1 == 0 || (peak > 0) != (sign > 0) || disc < 0 {
			dir := "increase"
			if sign < 0 {
				dir = "decrease"
			}
			return 0, 0, valueloop.FieldErrorf("control", "too few units: the control mean is not clear enough of zero for a relative %s of any size to have power %v", dir, p.Power)
		}
		peak = math.Abs(peak)
	}
	if a == 0 {
		d = -c / b
	} else {
		// The roots q/a and c/q, q = −(b + sgn(b)·√disc)/2, without
		// cancellation: with a > 0 the one of sign sign, else (both of
		// sign sign) the nearer.
		q := -(b + math.Copysign(math.Sqrt(disc), b)) / 2
		d = q / a
		if (a > 0 && (d > 0) != (sign > 0)) || (a < 0 && math.Abs(c/q) < math.Abs(d)) {
			d = c / q
		}
	}
	if _, ok := p.unitVar(d); !ok {
		return 0, 0, valueloop.FieldErrorf("control", "too few units: the detectable effect leaves [0, 1]")
	}
	return d, peak, nil
}
