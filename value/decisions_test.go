package value

import (
	"reflect"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/rollout"
)

func TestDecisions(t *testing.T) {
	breached := []rollout.GuardrailResult{{Metric: "errors", Status: rollout.GuardrailBreached}, {Metric: "latency", Status: rollout.GuardrailOK}}
	for _, tc := range []struct {
		name        string
		rollouts    []ActiveRollout
		experiments []ExperimentVerdict
		want        []Decision
	}{
		{name: "nothing"},
		{name: "rollout with a hypothesis, no verdict",
			rollouts:    []ActiveRollout{{Environment: "production", Flag: "checkout", State: rollout.Running}},
			experiments: []ExperimentVerdict{{Environment: "production", Flag: "checkout"}}},
		{name: "rollout without a hypothesis",
			rollouts: []ActiveRollout{{Environment: "production", Flag: "checkout", State: rollout.Running}},
			want: []Decision{{Kind: DecideHypothesis, Environment: "production", Flag: "checkout",
				Reason: "checkout is rolling out in production without a hypothesis: say what it should change and how it is measured (valueloop experiment hypothesis set)."}}},
		{name: "a hypothesis in another environment is not this rollout's",
			rollouts:    []ActiveRollout{{Environment: "production", Flag: "checkout", State: rollout.Running}},
			experiments: []ExperimentVerdict{{Environment: "staging", Flag: "checkout"}},
			want:        []Decision{{Kind: DecideHypothesis, Environment: "production", Flag: "checkout", Reason: "checkout is rolling out in production without a hypothesis: say what it should change and how it is measured (valueloop experiment hypothesis set)."}}},
		{name: "breached guardrail and pause",
			rollouts:    []ActiveRollout{{Environment: "production", Flag: "checkout", State: rollout.Paused, Reason: "errors up", Guardrails: breached}},
			experiments: []ExperimentVerdict{{Environment: "production", Flag: "checkout", Decision: experiment.Inconclusive}},
			want: []Decision{
				{Kind: DecideGuardrail, Environment: "production", Flag: "checkout", Metric: "errors", Reason: "Guardrail errors of the checkout rollout is breached: decide whether to roll back."},
				{Kind: DecidePaused, Environment: "production", Flag: "checkout", Reason: "The checkout rollout in production is paused: errors up"}}},
		{name: "validated, not rolling out: release it",
			experiments: []ExperimentVerdict{{Environment: "production", Flag: "onboarding", Decision: experiment.Validated}},
			want: []Decision{{Kind: DecideRelease, Environment: "production", Flag: "onboarding",
				Reason: "onboarding is validated in production: release it to everyone and clean up the flag."}}},
		{name: "validated and rolling out: being released",
			rollouts:    []ActiveRollout{{Environment: "production", Flag: "onboarding", State: rollout.Running}},
			experiments: []ExperimentVerdict{{Environment: "production", Flag: "onboarding", Decision: experiment.Validated}}},
		{name: "invalidated: the stop list's, not this",
			experiments: []ExperimentVerdict{{Environment: "production", Flag: "onboarding", Decision: experiment.Invalidated}}},
		{name: "sample ratio mismatch",
			experiments: []ExperimentVerdict{{Environment: "production", Flag: "search", Decision: experiment.Blocked}},
			want: []Decision{{Kind: DecideSplit, Environment: "production", Flag: "search",
				Reason: "search has a sample ratio mismatch: check the assignment before trusting any figure."}}},
		{name: "order: missing hypotheses first, then rollouts, then experiments",
			rollouts: []ActiveRollout{{Environment: "production", Flag: "a", State: rollout.Paused, Reason: "why"},
				{Environment: "production", Flag: "b", State: rollout.Running}},
			experiments: []ExperimentVerdict{{Environment: "production", Flag: "a", Decision: experiment.Blocked}},
			want: []Decision{
				{Kind: DecideHypothesis, Environment: "production", Flag: "b", Reason: "b is rolling out in production without a hypothesis: say what it should change and how it is measured (valueloop experiment hypothesis set)."},
				{Kind: DecidePaused, Environment: "production", Flag: "a", Reason: "The a rollout in production is paused: why"},
				{Kind: DecideSplit, Environment: "production", Flag: "a", Reason: "a has a sample ratio mismatch: check the assignment before trusting any figure."}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decisions(tc.rollouts, tc.experiments); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decisions:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
