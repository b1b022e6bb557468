package experiment

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// FixedDecision is the verdict of a hypothesis under fixed inference at the
// first look that reached its planned sample: a fixed-horizon test is one
// test, read once, so this verdict is the hypothesis' from then on, however
// many users come later (see Apply). Every later look re-tested all users
// so far at α, and a null effect was declared validated or invalidated at
// one look or more in 12–23% of simulated experiments
// (testdata/sim_fixed_after_horizon.py). The store keeps one per flag; At
// is its clock when it stored it.
type FixedDecision struct {
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
	// Terms are the hypothesis' terms the decision was taken under
	// (termsOf); the decision holds while they stay the same.
	Terms string `json:"terms"`
	// Verdict is the verdict as it was decided, per treatment included.
	Verdict Verdict `json:"verdict"`
	// Users is the number of users analysed when it was decided.
	Users int64     `json:"users"`
	At    time.Time `json:"at"`
}

// Decided says, on a verdict that is a stored FixedDecision, when it was
// decided and on how many users.
type Decided struct {
	At    time.Time `json:"at"`
	Users int64     `json:"users"`
	// Current is the verdict the figures give now, descriptive only: it
	// re-tests every user so far, which a fixed-horizon test must not
	// decide on.
	Current *Verdict `json:"current,omitempty"`
}

// fixedTerms are what a decision under fixed inference depends on: the
// test (metric, direction, scale, α, alternative, correction over the
// treatments, CUPED, control and weights, inference) and the planned sample
// (minimum effect, power), with the guardrails judged beside it. A change
// of any of them makes another test, whose decision is taken anew at its
// own planned sample. The statement, the prior (chance to win only), the
// sequential tuning (sequential inference only) and the sample-ratio
// threshold (which blocks a verdict, it does not decide one) are left out.
// Arms are the variants the analysis compared, its resolved control first:
// the hypothesis' control and weights may be unset (the flag's default
// variant, its split), and a flag that gained a variant, or whose default
// variant changed, since the decision is another test, whose new arm the
// old decision never judged. The split's shares are not in them, so a
// rollout's steps (the same arms at other shares) keep the decision.
// Measures fingerprints the primary and guardrail metrics' definitions
// (measuresOf): the terms named them by key only, so a metric redefined
// under its key (another event, window, aggregate, denominator, kind)
// kept a decision taken on another measurement.
type fixedTerms struct {
	PrimaryMetric string             `json:"primaryMetric"`
	Direction     Direction          `json:"direction"`
	MinimumEffect float64            `json:"minimumEffect"`
	Absolute      bool               `json:"absolute"`
	Power         float64            `json:"power"`
	Guardrails    []Guardrail        `json:"guardrails"`
	Alpha         float64            `json:"alpha"`
	Alternative   stats.Alternative  `json:"alternative"`
	Correction    stats.Correction   `json:"correction"`
	CUPED         bool               `json:"cuped"`
	CUPEDTheta    stats.CUPEDTheta   `json:"cupedTheta"`
	Control       string             `json:"control"`
	Weights       map[string]float64 `json:"weights"`
	Inference     Inference          `json:"inference"`
	Arms          []string           `json:"arms,omitempty"`
	// ExcludeOpenWindows changes the users each windowed metric reads, so
	// the test; left out when off, so terms stored before it still hold.
	ExcludeOpenWindows bool `json:"excludeOpenWindows,omitempty"`
	// Measures is always set by Analyze for a hypothesis: terms stored
	// before it lack it and differ, so each such decision and plan gives
	// way to a new test once (docs/verdicts.md). Held instead, an old
	// decision would hold over every later redefinition too, its terms
	// never naming the definitions it was taken on.
	Measures string `json:"measures,omitempty"`
}

// measuresOf fingerprints the definitions of h's primary and guardrail
// metrics among metrics, in that order: everything that changes their
// figures or how a guardrail's harm is read (kind, event, aggregate,
// denominator, direction, window, cap, quantile) but their name,
// description and times. A field metrics gain later is in it unless left
// out here: a new test rather than a decision on another measurement.
func measuresOf(h *Hypothesis, metrics []metric.Metric) string {
	keys := []string{h.PrimaryMetric}
	for _, g := range h.Guardrails {
		keys = append(keys, g.Metric)
	}
	defs := make([]metric.Metric, len(keys))
	for i, k := range keys {
		if j := slices.IndexFunc(metrics, func(m metric.Metric) bool { return m.Key == k }); j >= 0 {
			defs[i] = metrics[j]
		}
		defs[i].Key = k
		defs[i].Name, defs[i].Description, defs[i].CreatedAt, defs[i].UpdatedAt = "", "", time.Time{}, time.Time{}
	}
	b, err := json.Marshal(defs)
	if err != nil { // a metric's numbers Validate refuses
		panic("experiment: metric definitions: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// termsOf returns the terms of res's hypothesis (normalised) that a
// decision under fixed inference holds for, with the arms res compared
// (its resolved control first, then the treatments), as canonical JSON:
// equal terms give equal text (map keys sorted, treatments sorted,
// guardrails in the hypothesis' order).
func termsOf(res *Result) string {
	h, s := res.Hypothesis, res.Hypothesis.Settings
	arms := make([]string, 0, len(res.Variants))
	if c := res.Settings.Control; c != "" {
		arms = append(arms, c)
	}
	for _, v := range res.Variants {
		if v.Name != res.Settings.Control {
			arms = append(arms, v.Name)
		}
	}
	if len(arms) > 1 {
		slices.Sort(arms[1:])
	}
	b, err := json.Marshal(fixedTerms{
		PrimaryMetric: h.PrimaryMetric, Direction: h.Direction, MinimumEffect: h.MinimumEffect,
		Absolute: h.Absolute, Power: h.Power, Guardrails: h.Guardrails,
		Alpha: s.Alpha, Alternative: s.Alternative, Correction: s.Correction, CUPED: s.CUPED,
		CUPEDTheta: s.CUPEDTheta, Control: s.Control, Weights: s.Weights, Inference: s.Inference,
		Arms: arms, ExcludeOpenWindows: s.ExcludeOpenWindows, Measures: res.measures,
	})
	if err != nil { // numbers a hypothesis cannot hold (Normalize refuses them)
		panic("experiment: fixed terms: " + err.Error())
	}
	return string(b)
}

// NewFixedDecision returns the decision res makes under fixed inference,
// and false when res makes none: its verdict is not under fixed inference,
// has no hypothesis, or was not decided at the planned sample. Under fixed
// inference the verdict decides (validated, invalidated or inconclusive)
// only at the planned sample, except a guardrail harmed beyond its
// tolerance, which invalidates at any look: a verdict invalidated by
// breached guardrails alone is not one taken at the planned sample, and
// stays a verdict of its look. With several treatments the test's
// planned sample is every treatment's: a verdict validated on one while
// another still needs users for its own (keep_running) is not decided
// there either, or that treatment would never be read at its planned
// sample. At is left for the store.
func NewFixedDecision(res *Result) (FixedDecision, bool) {
	if res == nil || res.Hypothesis == nil || res.Verdict == nil || res.Settings.Inference != Fixed || res.Verdict.Decided != nil {
		return FixedDecision{}, false
	}
	v := *res.Verdict
	if slices.ContainsFunc(v.Variants, func(vv VariantVerdict) bool { return vv.Decision == KeepRunning }) {
		return FixedDecision{}, false
	}
	switch v.Decision {
	case Validated, Inconclusive:
	case Invalidated:
		atPlan := false
		for _, vv := range v.Variants {
			atPlan = atPlan || vv.Code != CodeGuardrailBreached
		}
		if !atPlan {
			return FixedDecision{}, false
		}
	default:
		return FixedDecision{}, false
	}
	return FixedDecision{Environment: res.Environment, Flag: res.Flag, Terms: termsOf(res), Verdict: v, Users: res.Users}, true
}

// Holds reports whether d holds for res: res is of d's flag, analysed
// under fixed inference with the terms d was decided under.
func (d *FixedDecision) Holds(res *Result) bool {
	return res != nil && res.Hypothesis != nil && res.Settings.Inference == Fixed &&
		res.Environment == d.Environment && res.Flag == d.Flag && termsOf(res) == d.Terms
}

// Apply makes d the verdict of res when it holds for res: res is of d's
// flag, analysed under fixed inference with the terms d was decided under.
// The verdict res had is kept as Decided.Current, descriptive. It reports
// whether it applied d; res is left as it was when not.
func (d *FixedDecision) Apply(res *Result) bool {
	if !d.Holds(res) {
		return false
	}
	v := d.Verdict
	v.Decided = &Decided{At: d.At, Users: d.Users, Current: res.Verdict}
	res.Verdict = &v
	if res.Plan != nil {
		// The test was read: the plan's sizing at this look's split, past
		// the decision, sizes nothing.
		c := *res.Plan
		c.Current = nil
		res.Plan = &c
	}
	return true
}

// FixedPlan is the plan of a hypothesis' test under fixed inference,
// fixed at the first look that could compute it for every treatment (both
// arms with users, a spread of the primary metric, a control mean for a
// relative effect) from a pilot large enough (PilotUsers, PilotShare; see
// NewFixedPlan). Before it was fixed the estimate followed the
// observed spread at every look, so which look reached it, and so decided,
// depended on the data being tested: a mild form of peeking. What the
// pilot fixes is the test's required precision and the spread it is
// sized with (Inputs), not a count of users: the split is not in the
// terms (a rollout's steps keep the test), and a count planned at a 10%
// canary is about three times what the same test needs at 50/50. Each look reads
// the test at its planned sample when both arms' users now give the
// stored precision (PlanInputs.remaining), and sizes what is left at the
// split now: both from the design and the stored inputs, never from the
// outcomes being tested. The store keeps one per flag, with the terms it
// holds for (a change of them is another test with its own plan); At is
// its clock when it stored it.
type FixedPlan struct {
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
	Terms       string `json:"terms"`
	// Users is, per treatment, the planned sample (users of the analysis,
	// all variants together) when the plan was fixed, at the split then.
	Users map[string]int64 `json:"users"`
	// Inputs is, per treatment, what the pilot estimated of its test.
	Inputs map[string]PlanInputs `json:"inputs"`
	// Current is, per treatment, the planned sample at the look the plan
	// was applied to (Apply): the users at which the arms reach the
	// precision of Inputs if the split stays as it is now, or the look's
	// users once they have. Not stored.
	Current map[string]int64 `json:"current,omitempty"`
	// FixedOn is the number of users analysed when it was fixed.
	FixedOn int64     `json:"fixedOn"`
	At      time.Time `json:"at"`
}

// PlanInputs are what a pilot estimated of one treatment's test: the
// stats.Plan inputs (α after the correction over the treatments, power,
// alternative, baseline for a relative effect, and each arm's standard
// deviation per exposed user the metric reads: per metric unit, scaled by
// those users per unit with a value; with excludeOpenWindows, the users
// whose window has ended) and the effect it is to detect, signed as
// expected. Everything but the allocation (Ratio, unset): the test is sized
// at the split of each look.
type PlanInputs struct {
	stats.Plan
	Effect float64 `json:"effect"`
}

// inputs are the plan inputs of sz for effect: the spread per user read.
func (sz sized) inputs(effect float64) *PlanInputs {
	p := sz.plan
	p.TreatmentSD = cmp.Or(p.TreatmentSD, p.SD) * math.Sqrt(sz.readT)
	p.SD *= math.Sqrt(sz.readC)
	p.Ratio = 0
	return &PlanInputs{Plan: p, Effect: effect}
}

// Check says what makes in unusable for a plan: the error names the field.
func (in PlanInputs) Check() error {
	if in.Ratio != 0 || in.T || in.Proportion {
		return valueloop.FieldErrorf("inputs", "want a normal-approximation plan without an allocation (ratio, t, proportion unset)")
	}
	_, err := in.RequiredSE(in.Effect)
	return err
}

// arms are the users of a control and a treatment first exposed in one
// period of the split (the whole test when it never changed), or their
// shares of the users to come.
type arms struct {
	c, t float64
	// rc and rt are those of c and t whom the primary metric reads: all
	// but the users whose window may still be open, when
	// excludeOpenWindows leaves them out. The analysis weighs a period by
	// all its users and reads the metric of these.
	rc, rt float64
	// rest are the same of the analysis' other arms, with a split history
	// only: the stratified analysis weighs a period by all its arms.
	rest []float64
	// off: some arm of the analysis had no share in the period, which the
	// analysis then leaves out (a 0% step, an arm added later).
	off bool
}

// allocation is how res assigned control and treatment t: their users per
// period of the split (with the other arms', which weigh the periods),
// and their shares of the arms' users now, at which the users to come
// are assigned.
func allocation(res *Result, t int) (periods []arms, now arms) {
	cv, tv := res.Variants[0], res.Variants[t]
	now = arms{c: cv.Share, t: tv.Share}
	if res.split != nil {
		now.c, now.t = res.split[cv.Name], res.split[tv.Name]
	}
	key := ""
	if res.Hypothesis != nil {
		key = res.Hypothesis.PrimaryMetric
	}
	read := func(v string, users, period int64, all bool) float64 {
		return float64(users - res.open.unread(key, v, period, all))
	}
	if len(res.Periods) == 0 {
		return []arms{{c: float64(cv.Users), t: float64(tv.Users),
			rc: read(cv.Name, cv.Users, 0, true), rt: read(tv.Name, tv.Users, 0, true)}}, now
	}
	var lastSum float64
	last := res.Periods[len(res.Periods)-1].Weights
	for _, v := range res.Variants {
		lastSum += last[v.Name]
	}
	// A split that changed since the last period with users: the users
	// to come are a period of their own.
	changed := false
	for i, v := range res.Variants {
		s := v.Share
		if res.split != nil {
			s = res.split[v.Name]
		}
		if lastSum > 0 && math.Abs(last[v.Name]/lastSum-s) > 1e-9 {
			changed = true
		}
		if i != 0 && i != t {
			now.rest = append(now.rest, s)
		}
	}
	now.off = slices.Contains(now.rest, 0)
	for _, p := range res.Periods {
		var start int64
		if p.Start != nil {
			start = p.Start.UnixMilli()
		}
		a := arms{c: float64(p.Users[cv.Name]), t: float64(p.Users[tv.Name]),
			rc: read(cv.Name, p.Users[cv.Name], start, false), rt: read(tv.Name, p.Users[tv.Name], start, false)}
		for i, v := range res.Variants {
			if i != 0 && i != t {
				a.rest = append(a.rest, float64(p.Users[v.Name]))
			}
			a.off = a.off || p.Weights[v.Name] <= 0
		}
		periods = append(periods, a)
	}
	if changed {
		periods = append(periods, arms{rest: make([]float64, len(now.rest)), off: now.off})
	}
	return periods, now
}

// variance is the variance of the tested effect with periods' users and
// in's spreads: the arms' means combine the periods with the analysis'
// weights W_p ∝ 1/Σ_a 1/n_{a,p} over all its arms (stats' stratified
// analysis; a period where an arm has fewer than 2 users or no share gets
// none),
//
//	Var(c̄) = Σ_p W_p² σ_c²/r_{c,p},   Var(t̄) = Σ_p W_p² σ_t²/r_{t,p},
//
// r the users the primary metric reads (arms.rc, arms.rt), which is
// σ_c²/r_c and σ_t²/r_t when the split never changed; the effect's is
// stats.Plan.Short compares them with the precision the test needs (the
// delta method's or, for a large relative decrease of a non-negative
// metric, the log ratio's), at the users of both arms; ok is false when no
// period has every arm.
func (in PlanInputs) variance(periods []arms) (varC, varT, units float64, ok bool) {
	vc, vt := in.SD*in.SD, cmp.Or(in.TreatmentSD, in.SD)*cmp.Or(in.TreatmentSD, in.SD)
	var sc, st, wsum float64
	for _, p := range periods {
		if p.off || p.rc < 2 || p.rt < 2 || slices.ContainsFunc(p.rest, func(n float64) bool { return n < 2 }) {
			continue
		}
		inv := 1/p.c + 1/p.t
		for _, n := range p.rest {
			inv += 1 / n
		}
		w := 1 / inv
		sc += w * w * vc / p.rc
		st += w * w * vt / p.rt
		wsum += w
		units += p.c + p.t
	}
	if wsum == 0 {
		return 0, 0, 0, false
	}
	return sc / (wsum * wsum), st / (wsum * wsum), units, true
}

// mostUsers bounds the search for a planned sample: beyond it the split
// never reaches it (a share of 0), errNeverReached.
const mostUsers = 1e15

// errNeverReached: the users to come under the split now never give the
// planned precision.
var errNeverReached = errors.New("the users to come under the split now never reach the planned sample")

// remaining is the fewest users (all the arms together) periods still
// need for the precision in plans if they come at the shares sc and st of
// control and treatment, into the last period: the smallest x ≥ 0 at which
// the variance of the tested effect (absolute or relative) is at most the
// square of the standard error at which the test has its power
// (stats.Plan.RequiredSE, in the effect's units),
//
//	Var(x) ≤ SE*²,
//
// or, where the analysis tests a relative effect on the log ratio, that
// test's (stats.Plan.Short);
// errNeverReached beyond mostUsers (the split now gives an arm no share,
// so the users to come add nothing to the test). It is 0 when the look is at the planned sample: the
// rule that decides under fixed inference, on counts and stored figures
// only, whatever split the users came in.
func (in PlanInputs) remaining(periods []arms, now arms) (int64, error) {
	if _, err := in.RequiredSE(in.Effect); err != nil {
		return 0, err
	}
	last := len(periods) - 1
	grown := slices.Clone(periods)
	short := func(x int64) bool {
		p := periods[last]
		// The users to come are counted as read: remainingUsers counts
		// users, complete or not.
		g := arms{c: p.c + float64(x)*now.c, t: p.t + float64(x)*now.t, rc: p.rc + float64(x)*now.c, rt: p.rt + float64(x)*now.t,
			rest: slices.Clone(p.rest), off: p.off}
		for i := range g.rest {
			g.rest[i] += float64(x) * now.rest[i]
		}
		grown[last] = g
		vc, vt, units, ok := in.variance(grown)
		if !ok {
			return true
		}
		short, _ := in.Short(in.Effect, vc, vt, units) // in.Effect checked above
		return short
	}
	if !short(0) {
		return 0, nil
	}
	lo, hi := int64(0), int64(mostUsers)
	if short(hi) {
		return 0, errNeverReached
	}
	for hi-lo > 1 { // short(lo), not short(hi): the variance falls as users come
		mid := lo + (hi-lo)/2
		if short(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// Planned returns the largest planned sample of p's treatments, at the
// split of the look it was applied to (Current) or, not applied, when it
// was fixed: the users at which the test, every treatment read, decides.
func (p *FixedPlan) Planned() int64 {
	if len(p.Current) > 0 {
		return maxUsers(p.Current)
	}
	return p.Initial()
}

// Initial returns the largest planned sample of p's treatments when it
// was fixed, at the split then.
func (p *FixedPlan) Initial() int64 { return maxUsers(p.Users) }

func maxUsers(users map[string]int64) int64 {
	var n int64
	for _, u := range users {
		n = max(n, u)
	}
	return n
}

// NewFixedPlan returns the plan res fixes under fixed inference, and false
// when it fixes none: not under fixed inference, no hypothesis, a plan
// applied already, a verdict blocked (a sample ratio mismatch: its figures
// cannot be trusted, its spread neither) or decided, a treatment whose
// planned sample cannot be computed yet, or a pilot too small to fix it
// (pilotEnough). One plan for every treatment at
// once, so that one look fixes the test's plan. At is left for the store.
func NewFixedPlan(res *Result) (FixedPlan, bool) {
	if res == nil || res.Hypothesis == nil || res.Verdict == nil || res.Settings.Inference != Fixed ||
		res.Plan != nil || res.Verdict.Decided != nil || len(res.Verdict.Variants) == 0 {
		return FixedPlan{}, false
	}
	users, inputs := map[string]int64{}, map[string]PlanInputs{}
	for _, vv := range res.Verdict.Variants {
		if vv.PlannedUsers == nil || vv.inputs == nil || !pilotEnough(res.Users, *vv.PlannedUsers) {
			return FixedPlan{}, false
		}
		users[vv.Variant], inputs[vv.Variant] = *vv.PlannedUsers, *vv.inputs
	}
	return FixedPlan{Environment: res.Environment, Flag: res.Flag, Terms: termsOf(res), Users: users, Inputs: inputs, FixedOn: res.Users}, true
}

// The plan is fixed from an internal pilot (Wittes and Brittain, 1990):
// the first look whose users are at least PilotUsers and at least
// 1/PilotShare of the sample it plans. Fixed on the first look that could
// compute a spread at all (a handful of users, a verdict check a minute
// after the start), the plan followed the noise of a few users: one
// conversion among the first four users of a 5% metric planned for a
// 50% one, and the test was decided, underpowered, at a few hundred.
const (
	PilotUsers = 200
	PilotShare = 10
)

// pilotEnough reports whether users analysed are pilot enough to fix a
// planned sample of planned users.
func pilotEnough(users, planned int64) bool {
	return users >= PilotUsers && users*PilotShare >= planned
}

// Apply makes p the plan of res when it holds for res (res is of p's
// flag, analysed under fixed inference with the terms p was fixed under,
// not yet settled on a stored decision) and judges res again on it: its
// remaining users, and whether this look is at the planned sample, are
// p's at res's split and arms' users (res.Plan.Current). It reports
// whether it applied p; res is left as it was when not.
func (p *FixedPlan) Apply(res *Result) bool {
	if res == nil || res.Hypothesis == nil || res.Settings.Inference != Fixed || res.Verdict == nil ||
		res.Verdict.Decided != nil || res.Environment != p.Environment || res.Flag != p.Flag || termsOf(res) != p.Terms {
		return false
	}
	c := *p
	c.Current = map[string]int64{}
	res.Plan = &c
	res.Verdict = judge(res, res.Hypothesis)
	return true
}

// inputs are treatment variant's plan inputs in p under settings s: only
// under fixed inference, and only for a treatment p has (nil p: none).
func (p *FixedPlan) inputs(s Settings, variant string) (PlanInputs, bool) {
	if p == nil || s.Inference != Fixed {
		return PlanInputs{}, false
	}
	in, ok := p.Inputs[variant]
	return in, ok
}
