package experiment

import (
	"encoding/json"
	"slices"
	"time"

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
		Arms: arms,
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
	return true
}

// FixedPlan is the planned sample of a hypothesis under fixed inference,
// fixed at the first look that could compute it for every treatment (both
// arms with users, a spread of the primary metric, a control mean for a
// relative effect) from a pilot large enough (PilotUsers, PilotShare; see
// NewFixedPlan). Before it was fixed the estimate followed the
// observed spread at every look, so which look reached it, and so decided,
// depended on the data being tested: a mild form of peeking. Fixed at its
// first computation, the look that decides is the first with at least
// these users, whatever the spread does later. The store keeps one per
// flag, with the terms it holds for (a change of them is another test
// with its own plan); At is its clock when it stored it.
type FixedPlan struct {
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
	Terms       string `json:"terms"`
	// Users is, per treatment, the users of the analysis (all variants
	// together) at which that treatment's test is read: its planned
	// sample, as remainingUsers estimated it then.
	Users map[string]int64 `json:"users"`
	// FixedOn is the number of users analysed when it was fixed.
	FixedOn int64     `json:"fixedOn"`
	At      time.Time `json:"at"`
}

// Planned returns the largest planned sample of p's treatments: the users
// at which the test, every treatment read, decides.
func (p *FixedPlan) Planned() int64 {
	var n int64
	for _, u := range p.Users {
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
	users := map[string]int64{}
	for _, vv := range res.Verdict.Variants {
		if vv.PlannedUsers == nil || !pilotEnough(res.Users, *vv.PlannedUsers) {
			return FixedPlan{}, false
		}
		users[vv.Variant] = *vv.PlannedUsers
	}
	return FixedPlan{Environment: res.Environment, Flag: res.Flag, Terms: termsOf(res), Users: users, FixedOn: res.Users}, true
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

// Apply makes p the planned sample of res when it holds for res (res is of
// p's flag, analysed under fixed inference with the terms p was fixed
// under, not yet settled on a stored decision) and judges res again on
// it: its remaining users, and whether this look is at the planned
// sample, are p's. It reports whether it applied p; res is left as it was
// when not.
func (p *FixedPlan) Apply(res *Result) bool {
	if res == nil || res.Hypothesis == nil || res.Settings.Inference != Fixed || res.Verdict == nil ||
		res.Verdict.Decided != nil || res.Environment != p.Environment || res.Flag != p.Flag || termsOf(res) != p.Terms {
		return false
	}
	c := *p
	res.Plan = &c
	res.Verdict = judge(res, res.Hypothesis)
	return true
}

// users is treatment variant's planned sample in p under settings s: only
// under fixed inference, and only for a treatment p has (nil p: none).
func (p *FixedPlan) users(s Settings, variant string) (int64, bool) {
	if p == nil || s.Inference != Fixed {
		return 0, false
	}
	n, ok := p.Users[variant]
	return n, ok
}
