package httpapi

import (
	"cmp"
	"context"
	"net/http"
	"slices"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/value"
)

// activeRollouts is how many active rollouts of an environment next reads,
// as the dashboard's overview does.
const activeRollouts = 50

// decisions is what needs a person's decision now (value.Decisions) in
// the environments the request's token reads: their active rollouts with
// their guardrails, and their flags' experiments with a hypothesis,
// analysed and settled as the dashboard's overview reads them, so that
// 'valueloop next' and the overview list the same.
func (s *Server) decisions(r *http.Request) ([]value.Decision, error) {
	ctx := r.Context()
	var envs []string
	for _, l := range s.Flags.Environments() {
		if tokenOf(r).CanRead(l.Environment.Key) {
			envs = append(envs, l.Environment.Key)
		}
	}
	slices.Sort(envs)
	var ros []value.ActiveRollout
	for _, env := range envs {
		if s.Rollouts == nil {
			break
		}
		list, err := s.Rollouts.List(ctx, rollout.Filter{Environment: env, Active: true, Limit: activeRollouts})
		if err != nil {
			return nil, err
		}
		for _, ro := range list {
			a := value.ActiveRollout{Environment: ro.Environment, Flag: ro.Plan.Flag, State: ro.State, Reason: ro.Reason}
			// A status not read leaves its guardrails unjudged, as on
			// the overview: the rollout itself is still listed.
			if st, err := s.Rollouts.Status(ctx, ro.Environment, ro.Plan.Flag); err == nil {
				a.Guardrails = st.Guardrails
			}
			ros = append(ros, a)
		}
	}
	exps, err := s.experimentVerdicts(ctx, envs)
	if err != nil {
		return nil, err
	}
	return value.Decisions(ros, exps), nil
}

// experimentStore is the store's side Next reads experiments through:
// which flags have a hypothesis, and theirs read a few reads per
// environment.
type experimentStore interface {
	experiment.BatchReader
	HypothesisFlags(ctx context.Context) ([]experiment.FlagRef, error)
}

// experimentVerdicts are the verdicts of the flags with a hypothesis in
// envs, those not analysed left out (as the overview leaves them out).
func (s *Server) experimentVerdicts(ctx context.Context, envs []string) ([]value.ExperimentVerdict, error) {
	st, ok := s.Experiments.(experimentStore)
	if !ok {
		return nil, nil
	}
	refs, err := st.HypothesisFlags(ctx)
	if err != nil {
		return nil, err
	}
	refs = slices.DeleteFunc(refs, func(f experiment.FlagRef) bool { return !slices.Contains(envs, f.Environment) })
	slices.SortFunc(refs, func(a, b experiment.FlagRef) int {
		return cmp.Or(cmp.Compare(a.Environment, b.Environment), cmp.Compare(a.Flag, b.Flag))
	})
	settle, _ := s.Verdicts.(interface {
		Settle(ctx context.Context, res *experiment.Result) error
	})
	var out []value.ExperimentVerdict
	for lo := 0; lo < len(refs); {
		env, hi := refs[lo].Environment, lo+1
		for hi < len(refs) && refs[hi].Environment == env {
			hi++
		}
		set := s.Flags.Live(env).Snapshot.Set()
		ins := make([]*experiment.Input, hi-lo)
		for i := range ins {
			ins[i] = &experiment.Input{Flag: refs[lo+i].Flag, Definition: set.Flags[refs[lo+i].Flag]}
		}
		errs, err := experiment.ReadInputs(ctx, st, env, ins)
		if err != nil {
			return nil, err
		}
		for i, in := range ins {
			if errs[i] != nil {
				s.Logger.Warn("next: experiment not read", "env", env, "flag", in.Flag, "err", errs[i])
				continue
			}
			res, err := experiment.Analyze(*in)
			if err != nil {
				s.Logger.Warn("next: experiment not analysed", "env", env, "flag", in.Flag, "err", err)
				continue
			}
			if settle != nil {
				if err := settle.Settle(ctx, res); err != nil {
					s.Logger.Warn("next: fixed decision not read", "env", env, "flag", in.Flag, "err", err)
				}
			}
			v := value.ExperimentVerdict{Environment: env, Flag: in.Flag}
			if res.Verdict != nil {
				v.Decision = res.Verdict.Decision
			}
			out = append(out, v)
		}
		lo = hi
	}
	return out, nil
}
