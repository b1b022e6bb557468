package rollout_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

func strp(s string) *string { return &s }

func checkoutFlag() *valueloop.Flag {
	return &valueloop.Flag{Key: "checkout", State: valueloop.StateEnabled, Variants: map[string]any{"classic": "classic", "one-page": "one-page"}, DefaultVariant: strp("classic")}
}

func errorMetric() metric.Metric {
	m := metric.Metric{Key: "error-rate", Kind: metric.Conversion, Event: "error", Direction: metric.LowerIsBetter}
	if err := m.Normalize(); err != nil {
		panic(err)
	}
	return m
}

func goodPlan() rollout.Plan {
	return rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps: []rollout.Step{
			{Percent: 1, MinDuration: rollout.Duration(time.Hour)},
			{Percent: 5, MinDuration: rollout.Duration(time.Hour), MinUsers: 100},
			{Percent: 100},
		},
		Guardrails: []rollout.Guardrail{{Metric: "error-rate", Tolerance: 0.02}},
	}
}

func TestPlanCheckDefaults(t *testing.T) {
	p := goodPlan()
	if err := p.Check(checkoutFlag(), []metric.Metric{errorMetric()}); err != nil {
		t.Fatal(err)
	}
	if p.OnBreach != rollout.RollbackOnBreach || p.Alpha != 0.05 || p.MinSample != 100 || p.SequentialTuning != 10000 {
		t.Errorf("defaults not filled: %+v", p)
	}
	if p.Guardrails[0].Direction != metric.LowerIsBetter {
		t.Errorf("guardrail direction = %q, want the metric's (lower)", p.Guardrails[0].Direction)
	}
}

// TestPlanCheckRejects: every kind of bad plan is refused with a problem
// that names the field and says what is wrong.
func TestPlanCheckRejects(t *testing.T) {
	disabled := checkoutFlag()
	disabled.State = valueloop.StateDisabled
	twoSplits := checkoutFlag()
	twoSplits.Targeting = json.RawMessage(`{"if":[{"var":"x"},{"fractional":[["classic",1],["one-page",1]]},{"fractional":[["classic",1],["one-page",1]]}]}`)
	// Without targeting everyone gets the default variant: a rollout
	// replacing another variant would switch the rest to it at once.
	threeVariants := checkoutFlag()
	threeVariants.Variants["legacy"] = "legacy"
	// A split set by hand serves one-page to 5%: a first step below it
	// would take the variant away from users who have it.
	handSet := checkoutFlag()
	handSet.Targeting = json.RawMessage(`{"fractional":[["classic",95],["one-page",5]]}`)
	// Without a defaultVariant or targeting everyone gets the code's
	// default, no variant: a split would switch them all.
	noDefault := checkoutFlag()
	noDefault.DefaultVariant = nil
	escape := checkoutFlag()
	escape.Variants["one\x1b]0;x\x07page"] = "x"
	cases := []struct {
		name     string
		edit     func(p *rollout.Plan)
		flag     *valueloop.Flag
		path     string
		contains string
	}{
		{"non-increasing steps", func(p *rollout.Plan) { p.Steps[1].Percent = 1 }, nil, "/steps/1/percent", "steps must increase: 1% follows 1%"},
		{"decreasing steps", func(p *rollout.Plan) { p.Steps[2].Percent = 4 }, nil, "/steps/2/percent", "must increase"},
		{"percent above 100", func(p *rollout.Plan) { p.Steps[2].Percent = 120 }, nil, "/steps/2/percent", "at most 100, got 120"},
		{"percent zero", func(p *rollout.Plan) { p.Steps[0].Percent = 0 }, nil, "/steps/0/percent", "more than 0"},
		{"negative percent", func(p *rollout.Plan) { p.Steps[0].Percent = -5 }, nil, "/steps/0/percent", "more than 0"},
		{"too fine a percent", func(p *rollout.Plan) { p.Steps[0].Percent = 0.005 }, nil, "/steps/0/percent", "two decimals"},
		{"no steps", func(p *rollout.Plan) { p.Steps = nil }, nil, "/steps", "at least one step"},
		{"negative duration", func(p *rollout.Plan) { p.Steps[0].MinDuration = -1 }, nil, "/steps/0/minDuration", "negative"},
		{"unknown metric", func(p *rollout.Plan) { p.Guardrails[0].Metric = "latency" }, nil, "/guardrails/0/metric", `no metric "latency"`},
		{"metric twice", func(p *rollout.Plan) { p.Guardrails = append(p.Guardrails, p.Guardrails[0]) }, nil, "/guardrails/1/metric", "guarded twice"},
		{"bad direction", func(p *rollout.Plan) { p.Guardrails[0].Direction = "up" }, nil, "/guardrails/0/direction", `"higher" or "lower"`},
		{"negative tolerance", func(p *rollout.Plan) { p.Guardrails[0].Tolerance = -0.1 }, nil, "/guardrails/0/tolerance", "from 0 to 10"},
		{"unknown variant", func(p *rollout.Plan) { p.Variant = "two-page" }, nil, "/variant", `no variant "two-page"`},
		{"unknown baseline", func(p *rollout.Plan) { p.Baseline = "legacy" }, nil, "/baseline", `no variant "legacy"`},
		{"same variants", func(p *rollout.Plan) { p.Baseline = "one-page" }, nil, "/baseline", "must differ"},
		{"no variant", func(p *rollout.Plan) { p.Variant = "" }, nil, "/variant", "required"},
		{"unknown flag", func(p *rollout.Plan) {}, &valueloop.Flag{}, "/flag", `no flag "checkout"`},
		{"disabled flag", func(p *rollout.Plan) {}, disabled, "/flag", "enable it"},
		{"two splits", func(p *rollout.Plan) {}, twoSplits, "/flag", "2 `fractional` splits"},
		{"baseline nobody gets", func(p *rollout.Plan) { p.Baseline = "legacy" }, threeVariants, "/baseline", `serves "classic" to everyone`},
		{"releasing the default", func(p *rollout.Plan) { p.Variant, p.Baseline = "classic", "one-page" }, nil, "/baseline", `serves "classic" to everyone`},
		{"first step below the hand-set split", func(p *rollout.Plan) {}, handSet, "/steps/0/percent", "already serves 5% one-page"},
		{"no default variant", func(p *rollout.Plan) {}, noDefault, "/baseline", "has no defaultVariant"},
		{"variant with a control character", func(p *rollout.Plan) { p.Variant = "one\x1b]0;x\x07page" }, escape, "/variant", "control character U+001B at byte 4"},
		{"bad onBreach", func(p *rollout.Plan) { p.OnBreach = "panic" }, nil, "/onBreach", `"rollback" or "pause"`},
		{"bad alpha", func(p *rollout.Plan) { p.Alpha = 0.9 }, nil, "/alpha", "(0, 0.5]"},
		{"tiny sample", func(p *rollout.Plan) { p.MinSample = 1 }, nil, "/minSample", "at least 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := goodPlan()
			c.edit(&p)
			flag := c.flag
			if flag == nil {
				flag = checkoutFlag()
			} else if flag.Key == "" {
				flag = nil
			}
			err := p.Check(flag, []metric.Metric{errorMetric()})
			var ve *valueloop.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Check = %v, want a validation error", err)
			}
			if valueloop.ErrorCode(err) != valueloop.EINVALID {
				t.Errorf("error kind = %q, want invalid", valueloop.ErrorCode(err))
			}
			for _, pr := range ve.Problems {
				if pr.Path == c.path && strings.Contains(pr.Message, c.contains) {
					return
				}
			}
			t.Errorf("problems %v lack %s: ...%s...", ve.Problems, c.path, c.contains)
		})
	}
}

// TestPlanCheckProblemsOnce: a plan with several problems lists each once
// and no consequence of another as a problem of its own (an unknown metric
// has no direction to lend the guardrail: no /direction problem).
func TestPlanCheckProblemsOnce(t *testing.T) {
	p := goodPlan()
	p.Guardrails[0].Metric = "latency"
	p.Guardrails[0].Direction = ""
	p.Steps[2].Percent = 120
	err := p.Check(checkoutFlag(), []metric.Metric{errorMetric()})
	ve, got := problemPaths(t, err)
	if want := []string{"/steps/2/percent", "/guardrails/0/metric"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("problems at %q, want %q: %v", got, want, ve.Problems)
	}
}

// TestPlanCheckNoKnockOnProblems: a bad alpha is one problem, not also one
// of the power nobody gave (the CLI has no --power: it answered "/power:
// must be more than alpha ..., got 0.8" to --alpha 0.9), and a step above
// 100% is one problem, not also one of the valid step after it.
func TestPlanCheckNoKnockOnProblems(t *testing.T) {
	p := goodPlan()
	p.Alpha = 0.9
	p.Steps[1].Percent = 150
	err := p.Check(checkoutFlag(), []metric.Metric{errorMetric()})
	ve, got := problemPaths(t, err)
	if want := []string{"/steps/1/percent", "/alpha"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("problems at %q, want %q: %v", got, want, ve.Problems)
	}
	// A power below a valid alpha is still refused, and one that is no
	// chance at all whatever the alpha.
	for _, c := range []struct{ alpha, power float64 }{{0.05, 0.04}, {0.9, 1.5}} {
		p := goodPlan()
		p.Alpha, p.Power = c.alpha, c.power
		err := p.Check(checkoutFlag(), []metric.Metric{errorMetric()})
		if err == nil || !strings.Contains(err.Error(), "/power") {
			t.Errorf("alpha %v, power %v: %v, want a /power problem", c.alpha, c.power, err)
		}
	}
}

// problemPaths returns the validation error err must be, and the paths of
// its problems.
func problemPaths(t *testing.T, err error) (*valueloop.ValidationError, []string) {
	t.Helper()
	var ve *valueloop.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Check = %v, want a validation error", err)
	}
	var paths []string
	for _, pr := range ve.Problems {
		paths = append(paths, pr.Path)
	}
	return ve, paths
}

func TestDurationJSON(t *testing.T) {
	// Written as seconds; read as seconds or as the strings of plans stored
	// before durations became seconds.
	cases := []struct{ in, out string }{{`"1h"`, `3600`}, {`"90m"`, `5400`}, {`"2d"`, `172800`}, {`0`, `0`}, {`"45s"`, `45`}, {`5400`, `5400`}, {`1.5`, `1.5`}}
	for _, c := range cases {
		var d rollout.Duration
		if err := json.Unmarshal([]byte(c.in), &d); err != nil {
			t.Errorf("unmarshal %s: %v", c.in, err)
			continue
		}
		out, _ := json.Marshal(d)
		if string(out) != c.out {
			t.Errorf("%s → %s, want %s", c.in, out, c.out)
		}
	}
	var d rollout.Duration
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil || !strings.Contains(err.Error(), "30m, 36h or 7d") {
		t.Errorf("bad duration: %v", err)
	}
	if err := json.Unmarshal([]byte(`true`), &d); err == nil || !strings.Contains(err.Error(), "number of seconds") {
		t.Errorf("duration of the wrong type: %v", err)
	}
}
