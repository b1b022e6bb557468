package rollout

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// TotalWeight is the sum of the weights of the split a rollout drives:
// percentages have a resolution of 100/TotalWeight = 0.01%. It never changes
// during a rollout, which is what keeps buckets monotonic: with a constant
// total, a key's bucket is fixed and only the boundary between the variants
// moves.
const TotalWeight = 10000

// MaxSteps bounds the steps of a plan.
const MaxSteps = 50

// OnBreach says what happens when a guardrail is breached.
type OnBreach string

const (
	// RollbackOnBreach sends everyone back to the baseline at once.
	RollbackOnBreach OnBreach = "rollback"
	// PauseOnBreach holds the current percentage and waits for a human to
	// resume, advance or roll back.
	PauseOnBreach OnBreach = "pause"
)

// Plan is a progressive rollout of Variant of a flag, replacing Baseline.
type Plan struct {
	Flag     string `json:"flag"`
	Variant  string `json:"variant"`
	Baseline string `json:"baseline"`
	// Steps are the percentages of users served Variant, strictly
	// increasing; the rollout starts at the first.
	Steps      []Step      `json:"steps"`
	Guardrails []Guardrail `json:"guardrails,omitempty"`
	// OnBreach defaults to rollback.
	OnBreach OnBreach `json:"onBreach,omitempty"`
	// Alpha is the chance, over the whole rollout however often it is
	// checked, that some guardrail which in truth holds is reported breached.
	// It is shared equally among the guardrails (Bonferroni). Default 0.05.
	Alpha float64 `json:"alpha,omitempty"`
	// MinSample is the number of users each variant needs in a guardrail
	// metric before that guardrail is judged at all, and before a step
	// below 100% may end (Decide). Default 100.
	MinSample int64 `json:"minSample,omitempty"`
	// SequentialTuning is the number of users (both variants) at which the
	// guardrails' confidence sequences are narrowest; any value is valid.
	// Default 10,000.
	SequentialTuning float64 `json:"sequentialTuning,omitempty"`
	// Power is the chance with which a step's default minimum of users
	// detects a harm of a guardrail's tolerated size. Default 0.8.
	Power float64 `json:"power,omitempty"`
	// RequireNonInferiority holds the rollout before its last step until
	// every guardrail is ok: its interval shows the harm within tolerance,
	// not merely that no harm was detected.
	RequireNonInferiority bool `json:"requireNonInferiority,omitempty"`
}

// Step is one stage of a plan.
type Step struct {
	// Percent of users served the released variant, in (0, 100], with at
	// most two decimals.
	Percent float64 `json:"percent"`
	// MinDuration is how long the step is held at least.
	MinDuration Duration `json:"minDuration"`
	// MinUsers is how many users must be newly exposed to the released
	// variant during the step before it may end. 0 means the default: the
	// largest NeededUsers of the guardrails (the users that detect a harm of
	// the tolerated size with the plan's Power at the step's split), or no
	// minimum when none can be computed (no guardrails, a tolerance of 0, a
	// step at 100%); until the guardrails have the plan's MinSample users,
	// MinSample.
	MinUsers int64 `json:"minUsers,omitempty"`
}

// Guardrail is a metric that may not get worse than Tolerance.
type Guardrail struct {
	// Metric is the key of a metric definition of the environment.
	Metric string `json:"metric"`
	// Direction says which way is better: "higher" or "lower". Default: the
	// metric definition's.
	Direction metric.Direction `json:"direction,omitempty"`
	// Tolerance is the relative change in the harmful direction that is
	// acceptable, as a fraction: 0.02 lets an error rate rise by 2% of its
	// baseline value (10% → 10.2%), or a conversion rate fall by 2%.
	Tolerance float64 `json:"tolerance"`
}

// Defaults of a plan's optional fields.
const (
	DefaultAlpha            = 0.05
	DefaultMinSample        = 100
	DefaultSequentialTuning = 10000
	DefaultPower            = 0.8
)

// Weight returns a percentage as a weight out of TotalWeight.
func Weight(percent float64) int {
	return int(math.Round(percent * TotalWeight / 100))
}

// Percent returns a weight out of TotalWeight as a percentage.
func Percent(weight int) float64 {
	return float64(weight) * 100 / TotalWeight
}

// Check fills the plan's defaults and validates it against the flag it
// drives (nil when there is no such flag) and the metric definitions of the
// environment. It reports every problem at once, as a
// *valueloop.ValidationError whose paths are JSON pointers into the plan.
func (p *Plan) Check(flag *valueloop.Flag, metrics []metric.Metric) error {
	var probs []valueloop.Problem
	bad := func(path, format string, args ...any) {
		probs = append(probs, valueloop.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if p.OnBreach == "" {
		p.OnBreach = RollbackOnBreach
	}
	if p.Alpha == 0 {
		p.Alpha = DefaultAlpha
	}
	if p.MinSample == 0 {
		p.MinSample = DefaultMinSample
	}
	if p.SequentialTuning == 0 {
		p.SequentialTuning = DefaultSequentialTuning
	}
	if p.Power == 0 {
		p.Power = DefaultPower
	}

	switch {
	case p.Flag == "":
		bad("/flag", "required: the key of the flag to roll out")
	case flag == nil:
		bad("/flag", "no flag %q in this environment", p.Flag)
	case flag.State != valueloop.StateEnabled:
		bad("/flag", "flag %q is %s: enable it before rolling it out", p.Flag, flag.State)
	}
	variantsOK := true
	for _, v := range []struct{ path, name, what string }{{"/variant", p.Variant, "the variant being released"}, {"/baseline", p.Baseline, "the variant it replaces"}} {
		switch {
		case v.name == "":
			bad(v.path, "required: %s", v.what)
			variantsOK = false
		case flag != nil && !hasVariant(flag, v.name):
			bad(v.path, "flag %q has no variant %q (it has %s)", p.Flag, v.name, variantList(flag))
			variantsOK = false
		default:
			// The names go into every reason the engine writes, one
			// line of the history, the audit trail and chat.
			var e *valueloop.Error
			if errors.As(valueloop.CheckLine(v.path, v.name), &e) {
				bad(v.path, "%s", e.Message)
				variantsOK = false
			}
		}
	}
	if p.Variant != "" && p.Variant == p.Baseline {
		bad("/baseline", "must differ from the variant being released (%q)", p.Variant)
		variantsOK = false
	}
	if flag != nil && variantsOK && flag.State == valueloop.StateEnabled {
		if _, err := ApplySplit(flag, p.Variant, p.Baseline, 0); err != nil {
			bad("/flag", "%s", valueloop.ErrorMessage(err))
		}
		// Without targeting everyone gets the default variant: the split
		// of the first step would switch all but its share to the
		// baseline at once unless the baseline is that variant.
		// Without a defaultVariant either, everyone gets the code's
		// default, which is no variant: the split would switch them all.
		switch d := flag.DefaultVariant; {
		case !isNull(flag.Targeting):
		case d == nil:
			bad("/baseline", "flag %q has no defaultVariant and no targeting: everyone gets the application's code default, which is no variant, and the first step would switch them all to %q or %q; set its defaultVariant to %q first, if that is what they get now", p.Flag, p.Baseline, p.Variant, p.Baseline)
		case *d != p.Baseline:
			bad("/baseline", "flag %q serves %q to everyone (its defaultVariant, without targeting): the baseline must be the variant users get now, or the first step would switch the rest of them to %q at once", p.Flag, *d, p.Baseline)
		}
		// A split set by hand already serves the variant to some users:
		// a first step below it would take it away from most of them,
		// the one thing a rollout promises not to do.
		if cur, err := SplitOf(flag, p.Variant, p.Baseline); err == nil && len(p.Steps) > 0 && validPercent(p.Steps[0].Percent) && Weight(p.Steps[0].Percent) < cur {
			bad("/steps/0/percent", "flag %q already serves %s%% %s through its split: the first step must be at least that, or some users who have %q would be switched back to %q (start at %s%%, or set the split lower by hand first)",
				p.Flag, trimFloat(Percent(cur)), p.Variant, p.Variant, p.Baseline, trimFloat(Percent(cur)))
		}
	}

	switch n := len(p.Steps); {
	case n == 0:
		bad("/steps", "required: at least one step, e.g. [{\"percent\": 5, \"minDuration\": \"1h\"}, {\"percent\": 100}]")
	case n > MaxSteps:
		bad("/steps", "at most %d steps, got %d", MaxSteps, n)
	}
	// prev is the last valid step's percentage: a step after one out of
	// range is compared with the one before that, or "100% follows 150%"
	// would be a second problem of the same mistake.
	prev := 0.0
	for i, s := range p.Steps {
		path := fmt.Sprintf("/steps/%d", i)
		switch {
		case !validPercent(s.Percent):
			bad(path+"/percent", "must be more than 0 and at most 100, got %v", s.Percent)
		case math.Abs(s.Percent*TotalWeight/100-float64(Weight(s.Percent))) > 1e-6:
			bad(path+"/percent", "at most two decimals (0.01%% resolution), got %v", s.Percent)
		case s.Percent <= prev:
			bad(path+"/percent", "steps must increase: %v%% follows %v%%", s.Percent, prev)
		}
		if validPercent(s.Percent) {
			prev = s.Percent
		}
		if s.MinDuration < 0 {
			bad(path+"/minDuration", "must not be negative")
		}
		if s.MinUsers < 0 {
			bad(path+"/minUsers", "must not be negative")
		}
	}

	byKey := map[string]*metric.Metric{}
	for i := range metrics {
		byKey[metrics[i].Key] = &metrics[i]
	}
	seen := map[string]bool{}
	for i := range p.Guardrails {
		g := &p.Guardrails[i]
		path := fmt.Sprintf("/guardrails/%d", i)
		m := byKey[g.Metric]
		switch {
		case g.Metric == "":
			bad(path+"/metric", "required: the key of a metric definition")
		case m == nil:
			bad(path+"/metric", "no metric %q in this environment (define it with 'valueloop metrics create'; known: %s)", g.Metric, metricList(metrics))
		case seen[g.Metric]:
			bad(path+"/metric", "metric %q is guarded twice", g.Metric)
		}
		seen[g.Metric] = true
		if g.Direction == "" && m != nil {
			g.Direction = m.Direction
		}
		// Without a direction, an unknown metric has none to lend: that is
		// the metric's problem, reported above, not a second one.
		if (g.Direction != "" || m != nil) && g.Direction != metric.HigherIsBetter && g.Direction != metric.LowerIsBetter {
			bad(path+"/direction", "must be %q or %q (which way is better), got %q", metric.HigherIsBetter, metric.LowerIsBetter, g.Direction)
		}
		if math.IsNaN(g.Tolerance) || g.Tolerance < 0 || g.Tolerance > 10 {
			bad(path+"/tolerance", "must be a fraction from 0 to 10 (0.02 tolerates a 2%% change for the worse), got %v", g.Tolerance)
		}
	}

	if p.OnBreach != RollbackOnBreach && p.OnBreach != PauseOnBreach {
		bad("/onBreach", "must be %q or %q, got %q", RollbackOnBreach, PauseOnBreach, p.OnBreach)
	}
	alphaOK := p.Alpha > 0 && p.Alpha <= 0.5
	if !alphaOK {
		bad("/alpha", "must be in (0, 0.5], got %v", p.Alpha)
	}
	// Against a bad alpha the power is checked alone: a power nobody gave
	// (the default 0.8) is no second problem of --alpha 0.9.
	if !(p.Power > 0 && p.Power < 1) || (alphaOK && p.Power <= p.Alpha) {
		bad("/power", "must be more than alpha and less than 1 (0.8 detects a harm of the tolerated size 80%% of the time), got %v", p.Power)
	}
	if p.MinSample < 2 {
		bad("/minSample", "must be at least 2 users, got %d", p.MinSample)
	}
	if !(p.SequentialTuning > 0) || math.IsInf(p.SequentialTuning, 1) {
		bad("/sequentialTuning", "must be a positive number of users, got %v", p.SequentialTuning)
	}
	if len(probs) > 0 {
		for i := range probs {
			probs[i].Source = "rollout plan"
			probs[i].Flag = p.Flag
		}
		return &valueloop.ValidationError{Problems: probs}
	}
	return nil
}

// validPercent reports whether a step's percentage is in (0, 100].
func validPercent(p float64) bool { return p > 0 && p <= 100 }

func hasVariant(f *valueloop.Flag, name string) bool {
	_, ok := f.Variants[name]
	return ok
}

func variantList(f *valueloop.Flag) string {
	names := make([]string, 0, len(f.Variants))
	for k := range f.Variants {
		names = append(names, strconv.Quote(k))
	}
	sortStrings(names)
	return strings.Join(names, ", ")
}

func metricList(ms []metric.Metric) string {
	if len(ms) == 0 {
		return "none"
	}
	names := metric.Keys(ms)
	sortStrings(names)
	return strings.Join(names, ", ")
}

// Duration is a length of time, written in JSON as a number of seconds;
// "90m", "36h" or "7d" are read too.
type Duration time.Duration

// ParseDuration parses "7d", "36h", "90m", "0" or any Go duration.
func ParseDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("must not be negative, got %q", s)
	}
	w, err := metric.ParseWindow(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 30m, 36h or 7d", s)
	}
	return Duration(w), nil
}

// String writes whole days as "2d" and other durations without zero units
// ("1h30m", not "1h30m0s").
func (d Duration) String() string {
	td := time.Duration(d)
	switch {
	case td == 0:
		return "0s"
	case td%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	s := td.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes the duration as a number of seconds, the API's unit.
func (d Duration) MarshalJSON() ([]byte, error) { return valueloop.Seconds(d).MarshalJSON() }

// UnmarshalJSON reads a number of seconds, or a string such as "90m" or "7d"
// (what plans stored before durations became seconds hold, and what people
// type).
func (d *Duration) UnmarshalJSON(b []byte) error {
	v, err := valueloop.ParseSecondsJSON(b, func(s string) (time.Duration, error) {
		v, err := ParseDuration(s)
		return time.Duration(v), err
	})
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
