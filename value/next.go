package value

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// Method is how the backlog is ranked.
type Method string

const (
	// WSJF is weighted shortest job first: cost of delay / size.
	WSJF Method = "wsjf"
	// RICE is reach × impact × confidence / effort (size).
	RICE Method = "rice"
)

// Prior strength: a team's own confidence counts as this many bets. Two
// makes the default confidence 0.5 a uniform Beta(1, 1).
const priorStrength = 2

// maxEffectRatio caps measured/hoped per bet, so that one lucky experiment
// cannot make an objective's untested features look three times better.
const maxEffectRatio = 3

// DefaultCleanupAfter is how long a decided feature's flag may stay before
// the finish list asks for its cleanup.
const DefaultCleanupAfter = 14 * 24 * time.Hour

// FlagState is what next knows of one linked flag now.
type FlagState struct {
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
	// LastEvaluated is when the flag was last seen exposing a new user: the
	// periodic look at its count of exposed users that found it grown (to
	// the look's interval). Returning users alone do not move it, so it
	// says "still reaching new users", not "still evaluated". Zero when
	// never seen.
	LastEvaluated time.Time `json:"lastEvaluated,omitzero"`
	// ServesTreatment says whether the flag can still serve the feature's
	// treatment (see ServesVariant).
	ServesTreatment bool `json:"servesTreatment"`
}

// ExperimentState is a running experiment's size and pace.
type ExperimentState struct {
	Environment string    `json:"environment"`
	Flag        string    `json:"flag"`
	Started     time.Time `json:"started"`
	// Users so far, all variants together.
	Users int64 `json:"users"`
	// RemainingUsers is the verdict's estimate of how many more users the
	// experiment needs for its planned power; nil when there is none.
	RemainingUsers *int64 `json:"remainingUsers,omitempty"`
	// Inconclusive says the experiment reached its planned sample and its
	// verdict is inconclusive: it will not decide by itself.
	Inconclusive bool `json:"inconclusive,omitempty"`
}

// NextInput is everything next reads. Flags lists the linked flags that
// are still defined; a flag absent from it was cleaned up.
type NextInput struct {
	Objectives  []Objective
	Items       []Item
	Flags       []FlagState
	Experiments []ExperimentState
	Now         time.Time
	Method      Method
	// CleanupAfter: 0 means DefaultCleanupAfter.
	CleanupAfter time.Duration
}

// Next is the ranked backlog with what to stop or finish.
type Next struct {
	Method Method `json:"method"`
	Ranked []Rank `json:"ranked"`
	// Unranked are ideas and ready features without the estimate the
	// method needs.
	Unranked []Unranked `json:"unranked"`
	Bets     []Bets     `json:"bets"`
	Stop     []Action   `json:"stop"`
	// Decisions are what needs a person's decision now in the active
	// rollouts and the experiments (see Decisions): the API's next sets
	// them, ComputeNext, which reads only the backlog, does not. Left
	// out when there are none.
	Decisions []Decision `json:"decisions,omitempty"`
}

// Rank is one feature's place in the backlog with its arithmetic.
type Rank struct {
	Position  int    `json:"position"`
	Feature   string `json:"feature"`
	Title     string `json:"title"`
	Objective string `json:"objective"`
	Stage     Stage  `json:"stage"`
	// Value is the cost of delay (WSJF) or reach × impact (RICE).
	Value      float64 `json:"value"`
	Size       float64 `json:"size"`
	Confidence float64 `json:"confidence"`
	Effect     float64 `json:"effect"`
	// Score = Value × Confidence × Effect / Size.
	Score float64 `json:"score"`
	// Explanation is the rank's arithmetic in one line.
	Explanation string `json:"explanation"`
	// WaitsFor lists dependencies not yet done or decided.
	WaitsFor []string `json:"waitsFor,omitempty"`
	// Abandoned lists dependencies abandoned: never to be done or decided,
	// so not waited for; the feature is to rethink.
	Abandoned []string `json:"abandonedDependencies,omitempty"`
}

// Unranked is a feature that cannot be ranked yet, and why.
type Unranked struct {
	Feature   string `json:"feature"`
	Title     string `json:"title"`
	Objective string `json:"objective,omitempty"`
	Stage     Stage  `json:"stage"`
	Reason    string `json:"reason"`
	// Missing are the estimate's fields it lacks, as the value file and
	// the API name them ("estimate.size"): what the reason says, for a
	// client to name its own way of setting them.
	Missing []string `json:"missing,omitempty"`
}

// estimateFlags are the flags of 'valueloop feature set' that set each
// estimate field rank may find missing.
var estimateFlags = map[string]string{
	"estimate.costOfDelay": "--user-value N --time-criticality N --risk-reduction N",
	"estimate.reach":       "--reach N", "estimate.impact": "--impact N", "estimate.size": "--size N",
}

// Command is the command that sets what u lacks, "valueloop feature set
// KEY --size N", which the CLI and the dashboard add after the reason (it
// names the fields as the value file does); empty when none is known.
func (u Unranked) Command() string {
	var parts []string
	for _, m := range u.Missing {
		f, ok := estimateFlags[m]
		if !ok {
			return ""
		}
		parts = append(parts, f)
	}
	if len(parts) == 0 {
		return ""
	}
	return "valueloop feature set " + u.Feature + " " + strings.Join(parts, " ")
}

// Bets is one objective's record: the verdicts on the features that bet on
// it, and what they imply for its untested features.
type Bets struct {
	Objective   string `json:"objective"`
	Validated   int    `json:"validated"`
	Invalidated int    `json:"invalidated"`
	// Confidence is the posterior mean for a feature without a stated
	// confidence: (1 + validated) / (2 + validated + invalidated).
	Confidence float64 `json:"confidence"`
	// Measured counts the bets with a measured and a hoped-for effect;
	// RatioSum adds their measured/hoped (each capped at 3).
	Measured int     `json:"measured"`
	RatioSum float64 `json:"ratioSum"`
	// Capped counts the ratios above 3 that count as 3, which the rank's
	// explanation says: else its sum does not follow from the figures shown.
	Capped int `json:"capped,omitempty"`
	// Harmed counts the measured bets invalidated because a guardrail was
	// harmed: their treatment cannot ship, so whatever their primary
	// metric did, each counts a ratio of 0 (the explanation says so).
	Harmed int `json:"harmed,omitempty"`
	// Mismatched counts the verdicts left out of this record, neither
	// validated nor invalidated nor measured: their experiment now shows
	// a sample ratio mismatch, so none of its numbers can be trusted
	// (Item.SampleRatioMismatch).
	Mismatched int `json:"mismatched,omitempty"`
	// Effect = (1 + RatioSum) / (1 + Measured): the objective's measured
	// effects against their hopes, shrunk toward 1 (one pseudo-bet that met
	// its hope exactly).
	Effect float64 `json:"effect"`
	// Progress is the objective's measured movement toward its target.
	Progress *Progress `json:"progress,omitempty"`
}

// Verdicts says the record's verdicts in words, as next's table and the
// dashboard's record of bets write them: how many validated and
// invalidated, and how many a sample ratio mismatch left out, which the
// counts would otherwise hide (an objective whose only verdicts are left
// out read "0 validated, 0 invalidated", as if nothing had been tried).
func (b Bets) Verdicts() string {
	s := fmt.Sprintf("%d validated, %d invalidated", b.Validated, b.Invalidated)
	if b.Mismatched > 0 {
		s += "; " + mismatchedWords(b.Mismatched)
	}
	return s
}

// Action kinds on the stop/finish list.
const (
	StopExperiment   = "stop_experiment"    // it will not reach its sample within the horizon, or reached it inconclusive
	CleanUpFlag      = "clean_up_flag"      // decided long ago, the flag still in place
	TurnOffTreatment = "turn_off_treatment" // invalidated or abandoned, the flag still serves the treatment
)

// Action is one thing to stop or finish.
type Action struct {
	Kind    string `json:"kind"`
	Feature string `json:"feature"`
	// Objective is the objective the feature bets on, if any.
	Objective   string    `json:"objective,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Flag        string    `json:"flag,omitempty"`
	Reason      string    `json:"reason"`
	Since       time.Time `json:"since,omitzero"`
	// LastEvaluated: a flag to clean up's last evaluation.
	LastEvaluated time.Time `json:"lastEvaluated,omitzero"`
	// RemainingUsers, UsersPerDay and DaysNeeded: a stopped experiment's
	// estimate.
	RemainingUsers int64   `json:"remainingUsers,omitempty"`
	UsersPerDay    float64 `json:"usersPerDay,omitempty"`
	DaysNeeded     float64 `json:"daysNeeded,omitempty"`
}

// ObjectiveBets computes every objective's record from the items' verdicts:
// each feature counts once, with the verdict that stands. A measured effect
// counts in the hypothesis' direction: an increase hoped for and a fall
// measured gives a ratio of 0.
func ObjectiveBets(objectives []Objective, items []Item) map[string]*Bets {
	out := map[string]*Bets{}
	for _, o := range objectives {
		out[o.Key] = &Bets{Objective: o.Key}
	}
	for _, it := range items {
		b := out[it.Feature.Objective]
		if b == nil {
			continue
		}
		last := it.Lifecycle.Verdict
		if last == nil {
			continue
		}
		if it.SampleRatioMismatch {
			b.Mismatched++
			continue
		}
		if last.Stage == Validated {
			b.Validated++
		} else {
			b.Invalidated++
		}
		h := it.Feature.Hypothesis
		metric, absolute := measuredOn(last, h)
		if last.Effect != nil && h.MinimumEffect > 0 && metric == h.Metric && absolute == h.Absolute {
			b.Measured++
			ratio := h.Direction.Sign() * *last.Effect / h.MinimumEffect
			if last.Stage == Invalidated && last.Code == experiment.CodeGuardrailBreached {
				// Its primary metric may have beaten the hope: the
				// treatment harms a guardrail and does not ship, so
				// none of it reaches customers.
				b.Harmed++
				ratio = 0
			}
			if ratio > maxEffectRatio {
				b.Capped++
			}
			b.RatioSum += min(max(ratio, 0), maxEffectRatio)
		}
	}
	for _, b := range out {
		b.Confidence = posterior(DefaultConfidence, b)
		b.Effect = (1 + b.RatioSum) / float64(1+b.Measured)
	}
	return out
}

// measuredOn says what verdict v's effect measured: the metric and units
// the verdict recorded, or, for a verdict recorded before it said, those
// hypothesis h states.
func measuredOn(v *Event, h Hypothesis) (metric string, absolute bool) {
	if v.EffectMetric != "" {
		return v.EffectMetric, v.EffectAbsolute
	}
	return h.Metric, h.Absolute
}

// posterior is the mean of the Beta prior with mean c and strength 2,
// updated by the objective's verdicts: (2c + v) / (2 + v + i).
func posterior(c float64, b *Bets) float64 {
	return (priorStrength*c + float64(b.Validated)) / float64(priorStrength+b.Validated+b.Invalidated)
}

// ComputeNext ranks the ideas and ready features and lists what to stop or
// finish.
func ComputeNext(in NextInput) *Next {
	method := in.Method
	if method == "" {
		method = WSJF
	}
	n := &Next{Method: method, Ranked: []Rank{}, Unranked: []Unranked{}, Bets: []Bets{}, Stop: []Action{}}
	bets := ObjectiveBets(in.Objectives, in.Items)
	byObjective := map[string][]Item{}
	for _, it := range in.Items {
		byObjective[it.Feature.Objective] = append(byObjective[it.Feature.Objective], it)
	}
	for i := range in.Objectives {
		b := *bets[in.Objectives[i].Key]
		p := ObjectiveProgress(&in.Objectives[i], byObjective[in.Objectives[i].Key], in.Now)
		b.Progress = &p
		n.Bets = append(n.Bets, b)
	}
	stage := map[string]Stage{}
	for _, it := range in.Items {
		stage[it.Feature.Key] = it.Lifecycle.Stage
	}
	for _, it := range in.Items {
		f, l := it.Feature, it.Lifecycle
		if l.Stage != Idea && l.Stage != Ready {
			continue
		}
		b := bets[f.Objective]
		if b == nil {
			b = &Bets{Objective: f.Objective, Confidence: DefaultConfidence, Effect: 1}
		}
		r, missing := rank(method, f, b)
		if len(missing) > 0 {
			reason := "not estimated: set " + strings.Join(missing, ", ") + " to rank it by " + strings.ToUpper(string(method))
			n.Unranked = append(n.Unranked, Unranked{Feature: f.Key, Title: f.Title, Objective: f.Objective, Stage: l.Stage, Reason: reason, Missing: missing})
			continue
		}
		r.Stage = l.Stage
		for _, d := range f.DependsOn {
			switch s := stage[d]; {
			case s == Abandoned:
				r.Abandoned = append(r.Abandoned, d)
			case waitsFor(s):
				r.WaitsFor = append(r.WaitsFor, d)
			}
		}
		if len(r.WaitsFor) > 0 {
			r.Explanation += "; waits for " + strings.Join(r.WaitsFor, ", ")
		}
		if len(r.Abandoned) > 0 {
			r.Explanation += "; depends on abandoned " + strings.Join(r.Abandoned, ", ") + ": rethink it"
		}
		n.Ranked = append(n.Ranked, r)
	}
	// Ties: the larger value first (its delay costs more), then the key.
	slices.SortFunc(n.Ranked, func(a, b Rank) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		return cmp.Compare(a.Feature, b.Feature)
	})
	for i := range n.Ranked {
		n.Ranked[i].Position = i + 1
	}
	slices.SortFunc(n.Unranked, func(a, b Unranked) int { return cmp.Compare(a.Feature, b.Feature) })
	if stop := stopList(in); len(stop) > 0 { // [] when none, never null
		n.Stop = stop
	}
	return n
}

// rank scores f, or says which estimate it lacks (the fields missing, as
// the value file and the API name them).
func rank(method Method, f *Feature, b *Bets) (Rank, []string) {
	r := Rank{Feature: f.Key, Title: f.Title, Objective: f.Objective}
	e := f.Estimate
	if e == nil {
		e = &Estimate{}
	}
	var missing []string
	var value string
	switch method {
	case RICE:
		if e.Reach <= 0 {
			missing = append(missing, "estimate.reach")
		}
		if e.Impact <= 0 {
			missing = append(missing, "estimate.impact")
		}
		r.Value = e.Reach * e.Impact
		value = fmt.Sprintf("RICE reach %s × impact %s", num(e.Reach), num(e.Impact))
	default:
		if e.CostOfDelay == nil {
			missing = append(missing, "estimate.costOfDelay")
		} else {
			c := e.CostOfDelay
			r.Value = c.Total()
			value = fmt.Sprintf("WSJF cost of delay %s (%s+%s+%s)", num(r.Value), num(c.UserValue), num(c.TimeCriticality), num(c.RiskReduction))
		}
	}
	// The value breaks ties of the score, and is rounded as the score is:
	// a cost of delay of 0.1 + 0.2 is the 0.3 of another feature.
	r.Value = significant(r.Value)
	if e.Size <= 0 {
		missing = append(missing, "estimate.size")
	}
	if len(missing) > 0 {
		return r, missing
	}
	c, stated := DefaultConfidence, e.Confidence != nil
	if stated {
		c = *e.Confidence
	}
	r.Size, r.Confidence, r.Effect = e.Size, posterior(c, b), b.Effect
	r.Score = significant(r.Value * r.Confidence * r.Effect / r.Size)
	// One line: the score, then each factor with its own arithmetic.
	conf := fmt.Sprintf("(%d×%s+%d)/(%d+%d+%d)", priorStrength, num(c), b.Validated, priorStrength, b.Validated, b.Invalidated)
	why := fmt.Sprintf("%d validated, %d invalidated on %s", b.Validated, b.Invalidated, f.Objective)
	if !stated {
		why += ", prior 0.5"
	} else {
		why += ", prior " + num(c) + " stated"
	}
	if b.Mismatched > 0 {
		why += "; " + mismatchedWords(b.Mismatched)
	}
	eff := "no measured effect yet"
	if b.Measured > 0 {
		eff = fmt.Sprintf("(1+%s)/(1+%d) measured/hoped", num(b.RatioSum), b.Measured)
		if b.Capped > 0 {
			eff += fmt.Sprintf(", %d capped at %d", b.Capped, maxEffectRatio)
		}
		if b.Harmed > 0 {
			eff += fmt.Sprintf(", %d harmed a guardrail: 0", b.Harmed)
		}
	}
	r.Explanation = fmt.Sprintf("%s = %s / size %s × confidence %s = %s [%s] × effect %s [%s]",
		num(r.Score), value, num(r.Size), num(r.Confidence), conf, why, num(r.Effect), eff)
	return r, nil
}

// significant rounds a score to 12 significant digits. Beyond them lies
// the floating point's noise, not the estimates': 21 × 0.5 / 0.7 is
// 15.000000000000002 and 30 × 0.5 / 1 is 15, and unrounded the noise, not
// the tie rule (the higher value first), would order the two.
// Through the decimal text, which no scale factor can overflow at either
// end of the range.
func significant(x float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
	if err != nil {
		return x
	}
	return r
}

// stopList finds what to stop or finish, in a fixed order: experiments to
// stop, treatments to turn off, flags to clean up; each by feature key.
func stopList(in NextInput) []Action {
	horizon := map[string]Date{}
	for _, o := range in.Objectives {
		horizon[o.Key] = o.Horizon
	}
	flags := map[[2]string]FlagState{}
	for _, fs := range in.Flags {
		flags[[2]string{fs.Environment, fs.Flag}] = fs
	}
	exps := map[[2]string]ExperimentState{}
	for _, x := range in.Experiments {
		exps[[2]string{x.Environment, x.Flag}] = x
	}
	after := in.CleanupAfter
	if after <= 0 {
		after = DefaultCleanupAfter
	}
	var stop, off, clean []Action
	for _, it := range in.Items {
		f, l := it.Feature, it.Lifecycle
		for _, fl := range f.Links.Flags {
			k := [2]string{fl.Environment, fl.Flag}
			fs, present := flags[k]
			switch {
			case l.Stage == Measuring || l.Stage == Releasing:
				x, ok := exps[k]
				if ok && x.Inconclusive {
					stop = append(stop, inconclusive(x, f, in.Now))
					continue
				}
				if !ok || x.RemainingUsers == nil {
					continue
				}
				h := horizon[f.Objective]
				a, ok := stopExperiment(x, h, in.Now)
				if ok {
					a.Feature, a.Objective = f.Key, f.Objective
					stop = append(stop, a)
				}
			// Abandoned is a decision against the feature as much as
			// invalidated: a flag still serving it (a rollout nobody
			// stopped) is to turn off, and then to remove.
			case (l.Stage.Decided() || l.Stage == Abandoned) && present:
				since, _ := l.Entered(l.Stage)
				if l.Stage != Validated && fs.ServesTreatment {
					off = append(off, Action{Kind: TurnOffTreatment, Feature: f.Key, Objective: f.Objective, Environment: fl.Environment, Flag: fl.Flag, Since: since,
						LastEvaluated: fs.LastEvaluated,
						Reason:        fmt.Sprintf("%s %s ago, yet flag %s in %s still serves the treatment%s: turn it off", l.Stage, days(in.Now.Sub(since)), fl.Flag, fl.Environment, lastSeen(fs.LastEvaluated, in.Now))})
				}
				if in.Now.Sub(since) > after {
					clean = append(clean, Action{Kind: CleanUpFlag, Feature: f.Key, Objective: f.Objective, Environment: fl.Environment, Flag: fl.Flag, Since: since,
						LastEvaluated: fs.LastEvaluated,
						Reason:        fmt.Sprintf("%s %s ago (over %s), flag %s still in %s%s: remove it to finish", l.Stage, days(in.Now.Sub(since)), days(after), fl.Flag, fl.Environment, lastSeen(fs.LastEvaluated, in.Now))})
				}
			}
		}
	}
	return slices.Concat(stop, off, clean)
}

// stopExperiment says whether x cannot reach its planned sample before the
// horizon at its pace so far: users per day = users / days running (at
// least one day), days needed = remaining / users per day.
func stopExperiment(x ExperimentState, h Date, now time.Time) (Action, bool) {
	a := Action{Kind: StopExperiment, Environment: x.Environment, Flag: x.Flag, Since: x.Started, RemainingUsers: *x.RemainingUsers}
	if *x.RemainingUsers <= 0 || h.IsZero() {
		return a, false
	}
	running := max(now.Sub(x.Started).Hours()/24, 1)
	a.UsersPerDay = float64(x.Users) / running
	left := h.End().Sub(now).Hours() / 24
	if a.UsersPerDay <= 0 {
		a.Reason = fmt.Sprintf("experiment on %s in %s needs %s and has had none in %s: it cannot finish by the horizon %s", x.Flag, x.Environment, valueloop.Count(a.RemainingUsers, "more user"), dayCount(running), h)
		return a, true
	}
	a.DaysNeeded = float64(a.RemainingUsers) / a.UsersPerDay
	if a.DaysNeeded <= left {
		return a, false
	}
	a.Reason = fmt.Sprintf("experiment on %s in %s needs %s: at %s users/day (%s in %s) that is %s, past the horizon %s (%s left): stop it or widen it",
		x.Flag, x.Environment, valueloop.Count(a.RemainingUsers, "more user"), num(a.UsersPerDay), valueloop.Count(x.Users, "user"), dayCount(running), dayCount(a.DaysNeeded), h, dayCount(max(left, 0)))
	return a, true
}

// inconclusive is the stop entry of x, an experiment of feature f that
// reached its planned sample without a verdict: nothing will move f out of
// measuring but a decision by hand.
func inconclusive(x ExperimentState, f *Feature, now time.Time) Action {
	running := max(now.Sub(x.Started).Hours()/24, 1)
	return Action{Kind: StopExperiment, Feature: f.Key, Objective: f.Objective, Environment: x.Environment, Flag: x.Flag, Since: x.Started,
		Reason: fmt.Sprintf("experiment on %s in %s is inconclusive after its planned sample (%s in %s): it will not decide by itself: decide by hand (valueloop feature move %s --to validated or invalidated) or stop it",
			x.Flag, x.Environment, valueloop.Count(x.Users, "user"), dayCount(running), f.Key)}
}

func lastSeen(t, now time.Time) string {
	if t.IsZero() {
		return ", no user exposed yet"
	}
	return ", last exposed a new user " + t.UTC().Format("2006-01-02 15:04 UTC") + " (" + days(now.Sub(t)) + " ago)"
}

// dayCount is a number of days as num writes it, with its noun: "1 day",
// "1.5 days".
func dayCount(x float64) string {
	if n := num(x); n != "1" {
		return n + " days"
	}
	return "1 day"
}

// days writes a duration in days: "3d", "2.5d", "<1d".
func days(d time.Duration) string {
	x := d.Hours() / 24
	if x < 1 {
		return "<1d"
	}
	return num(math.Round(x*10)/10) + "d"
}

// Figure writes a number as a rank's explanation does (see num), for the
// tables beside it: a score of 0.0005 is not "0.00" there.
func Figure(x float64) string { return num(x) }

// num writes a number with at most two decimals, without trailing zeros;
// one too small for two decimals with two significant digits: 0.001 is a
// valid size, and "size 0" is not what a score was divided by.
func num(x float64) string {
	if a := math.Abs(x); a != 0 && a < 0.0001 {
		return strconv.FormatFloat(x, 'g', 2, 64) // 1.5e-07, not seven zeros
	} else if a != 0 && a < 0.005 {
		s := strconv.FormatFloat(x, 'f', 1-int(math.Floor(math.Log10(a))), 64)
		return strings.TrimRight(s, "0")
	}
	s := strconv.FormatFloat(math.Round(x*100)/100, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// ServesVariant reports whether flag f can still serve variant v: it is
// enabled and v is its default variant or is named in its targeting. An
// empty v means any variant but the default one (the feature's treatment
// when its link names none). It reads the targeting as data, not as
// rules: a variant named in a rule that no user matches still counts,
// which errs on the side of asking to look. Only a `fractional` bucket
// that weighs 0 (a negative weight is 0 too) serves nobody for sure: a
// rollout rolled back leaves its treatment there, and its flag has nothing
// left to turn off. A rule referring to a shared evaluator ($ref) may
// serve any variant: the flag set's evaluators are not read.
func ServesVariant(f *valueloop.Flag, v string) bool {
	if f == nil || f.State != valueloop.StateEnabled {
		return false
	}
	def := ""
	if f.DefaultVariant != nil {
		def = *f.DefaultVariant
	}
	if v != "" {
		return v == def || mentions(f.Targeting, v)
	}
	for name := range f.Variants {
		if name != def && mentions(f.Targeting, name) {
			return true
		}
	}
	return false
}

func mentions(targeting json.RawMessage, variant string) bool {
	if len(targeting) == 0 {
		return false
	}
	var rules any
	if err := json.Unmarshal(targeting, &rules); err != nil {
		q, _ := json.Marshal(variant)
		return bytes.Contains(targeting, q)
	}
	return named(rules, variant)
}

// named reports whether x names variant outside a fractional bucket of
// weight 0: as an object's key or a string anywhere else. A reference to
// one of the flag set's shared evaluators ({"$ref": name}), which are not
// at hand, may name any.
func named(x any, variant string) bool {
	switch x := x.(type) {
	case string:
		return x == variant
	case []any:
		return slices.ContainsFunc(x, func(y any) bool { return named(y, variant) })
	case map[string]any:
		if _, ok := x["$ref"]; ok {
			return true
		}
		for k, y := range x {
			if k == variant {
				return true
			}
			if buckets, ok := y.([]any); ok && k == "fractional" {
				y = slices.DeleteFunc(slices.Clone(buckets), weighsNothing)
			}
			if named(y, variant) {
				return true
			}
		}
	}
	return false
}

// weighsNothing reports whether b is a fractional bucket [variant, weight]
// whose weight is a number of at most 0: flagd clamps a negative weight
// at 0, so no user falls in it.
func weighsNothing(b any) bool {
	d, ok := b.([]any)
	if !ok || len(d) != 2 {
		return false
	}
	w, ok := d[1].(float64)
	return ok && w <= 0
}

// Objectives lists, sorted, the objectives next names: those bet on and
// those of its ranked, unranked and stop entries. A filter by objective
// chooses among them, reading nothing more from the store.
func (n *Next) Objectives() []string {
	var out []string
	for _, b := range n.Bets {
		out = append(out, b.Objective)
	}
	for _, rk := range n.Ranked {
		out = append(out, rk.Objective)
	}
	for _, x := range n.Unranked {
		out = append(out, x.Objective)
	}
	for _, a := range n.Stop {
		out = append(out, a.Objective)
	}
	slices.Sort(out)
	return slices.DeleteFunc(slices.Compact(out), func(o string) bool { return o == "" })
}

// Only keeps in n what bets on objective ("" keeps everything), ranks
// keeping their place in the whole backlog so that "3." still means third
// overall. An objective n does not name is an error naming the field.
// The bets stay whole: they are the objectives' records.
func (n *Next) Only(objective string) error {
	if objective == "" {
		return nil
	}
	if !slices.Contains(n.Objectives(), objective) {
		return valueloop.FieldErrorf("objective", "there is no objective %q", objective)
	}
	n.Ranked = slices.DeleteFunc(n.Ranked, func(rk Rank) bool { return rk.Objective != objective })
	n.Unranked = slices.DeleteFunc(n.Unranked, func(x Unranked) bool { return x.Objective != objective })
	n.Stop = slices.DeleteFunc(n.Stop, func(a Action) bool { return a.Objective != objective })
	return nil
}
