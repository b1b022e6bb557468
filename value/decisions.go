package value

import (
	"slices"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/rollout"
)

// The kinds of decision Decisions finds.
const (
	DecideHypothesis = "state_hypothesis"      // a rollout without a hypothesis: nothing will be learnt from it
	DecideGuardrail  = "guardrail_breached"    // a rollout's guardrail is breached: roll back or not
	DecidePaused     = "rollout_paused"        // a rollout is paused: resume it or roll it back
	DecideRelease    = "release_validated"     // a validated experiment no rollout releases yet
	DecideSplit      = "sample_ratio_mismatch" // an experiment's split is off: no figure of it holds
)

// Decision is one thing that needs a person's decision now, found in the
// active rollouts and the experiments' verdicts rather than the backlog.
type Decision struct {
	Kind        string `json:"kind"`
	Environment string `json:"environment"`
	Flag        string `json:"flag"`
	// Metric is the breached guardrail's (guardrail_breached only).
	Metric string `json:"metric,omitempty"`
	// Reason is the decision in one sentence, as the dashboard shows it.
	Reason string `json:"reason"`
}

// ActiveRollout is what Decisions reads of a rollout still under way.
type ActiveRollout struct {
	Environment, Flag string
	State             rollout.State
	// Reason is why it was last acted on (why it is paused).
	Reason     string
	Guardrails []rollout.GuardrailResult
}

// ExperimentVerdict is what Decisions reads of an experiment: a flag with
// a hypothesis, analysed, and its verdict's decision ("" when none yet).
type ExperimentVerdict struct {
	Environment, Flag string
	Decision          experiment.Decision
}

// Decisions lists what needs a person's decision now, in a fixed order:
// rollouts without a hypothesis, then each rollout's breached guardrails
// and pause, then validated experiments no rollout releases yet and
// experiments with a sample ratio mismatch. One function, so the dashboard
// and 'valueloop next' (GET /api/v1/next) say the same.
func Decisions(rollouts []ActiveRollout, experiments []ExperimentVerdict) []Decision {
	key := func(env, flag string) [2]string { return [2]string{env, flag} }
	hypothesis, rollingOut := map[[2]string]bool{}, map[[2]string]bool{}
	for _, e := range experiments {
		hypothesis[key(e.Environment, e.Flag)] = true
	}
	for _, ro := range rollouts {
		rollingOut[key(ro.Environment, ro.Flag)] = true
	}
	var early, late []Decision
	for _, ro := range rollouts {
		if !hypothesis[key(ro.Environment, ro.Flag)] {
			early = append(early, Decision{Kind: DecideHypothesis, Environment: ro.Environment, Flag: ro.Flag,
				Reason: ro.Flag + " is rolling out in " + ro.Environment + " without a hypothesis: say what it should change and how it is measured (valueloop experiment hypothesis set)."})
		}
		for _, g := range ro.Guardrails {
			if g.Status == rollout.GuardrailBreached {
				late = append(late, Decision{Kind: DecideGuardrail, Environment: ro.Environment, Flag: ro.Flag, Metric: g.Metric,
					Reason: "Guardrail " + g.Metric + " of the " + ro.Flag + " rollout is breached: decide whether to roll back."})
			}
		}
		if ro.State == rollout.Paused {
			late = append(late, Decision{Kind: DecidePaused, Environment: ro.Environment, Flag: ro.Flag,
				Reason: "The " + ro.Flag + " rollout in " + ro.Environment + " is paused: " + ro.Reason})
		}
	}
	for _, e := range experiments {
		switch {
		case e.Decision == experiment.Validated && !rollingOut[key(e.Environment, e.Flag)]:
			late = append(late, Decision{Kind: DecideRelease, Environment: e.Environment, Flag: e.Flag,
				Reason: e.Flag + " is validated in " + e.Environment + ": release it to everyone and clean up the flag."})
		case e.Decision == experiment.Blocked:
			late = append(late, Decision{Kind: DecideSplit, Environment: e.Environment, Flag: e.Flag,
				Reason: e.Flag + " has a sample ratio mismatch: check the assignment before trusting any figure."})
		}
	}
	return slices.Concat(early, late)
}
