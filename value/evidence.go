package value

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/rollout"
)

// The functions here turn the records the other capabilities keep (changes
// and deployments, rollouts and their history, verdicts, the audit trail)
// into evidence events. Each event's ID names the record it comes from, so
// reading the same record twice gives the same fact, and Derive counts it
// once.

// CreatedEvent is the feature written down, by actor.
func CreatedEvent(f *Feature, actor string) Event {
	return Event{ID: "feature:" + f.Key + ":created", Kind: Created, At: f.CreatedAt, Actor: actor,
		Cause: "feature " + f.Key + " written down" + by(actor)}
}

// MovedEvent is a transition made by hand: to stage, at, by actor, for
// reason. seq tells apart several moves of one feature.
func MovedEvent(feature string, seq int64, stage Stage, at time.Time, actor, reason string) Event {
	cause := "moved to " + string(stage) + " by hand" + by(actor)
	if reason != "" {
		cause += ": " + reason
	}
	return Event{ID: "feature:" + feature + ":moved:" + strconv.FormatInt(seq, 10), Kind: Moved, Stage: stage, At: at, Actor: actor, Cause: cause}
}

// ChangeEvents is the evidence of a linked change: its commit and, once on
// the default branch, its merge. how says how it was recognised (a trailer,
// a label, a branch, a flag it ships behind).
func ChangeEvents(c dora.Change, how string) []Event {
	where := c.Repo
	if where == "" {
		where = c.Service
	}
	id := strings.ToLower(where + "@" + c.SHA)
	suffix := ""
	if how != "" {
		suffix = " (" + how + ")"
	}
	var out []Event
	if !c.AuthoredAt.IsZero() {
		out = append(out, Event{ID: "commit:" + id, Kind: CommitPushed, At: c.AuthoredAt,
			Cause: "commit " + dora.ShortSHA(c.SHA) + " in " + where + suffix})
	}
	if !c.MergedAt.IsZero() {
		what := "commit " + dora.ShortSHA(c.SHA)
		if c.PR != "" {
			what = "pull request #" + c.PR
		}
		out = append(out, Event{ID: "merge:" + id, Kind: Merged, At: c.MergedAt, Cause: what + " merged in " + where + suffix})
	}
	return out
}

// DeploymentEvent is the evidence of a deployment that shipped linked
// changes: only a successful production deployment releases anything.
func DeploymentEvent(d dora.Deployment, linked int) (Event, bool) {
	if !d.Production || d.Status != dora.StatusSuccess || linked == 0 {
		return Event{}, false
	}
	what := d.Service
	if what == "" {
		what = d.Repo
	}
	cause := fmt.Sprintf("deployment %s of %s to %s shipped %d linked change", d.ID, what, d.Environment, linked)
	if linked != 1 {
		cause += "s"
	}
	return Event{ID: "deployment:" + d.ID, Kind: Deployed, At: d.At, Cause: cause}, true
}

// RolloutEvents is the evidence of a linked flag's rollout: its start,
// steps (with the guardrail readings decided on), pauses, rollback and
// completion, from its history.
func RolloutEvents(r rollout.Rollout, history []rollout.Event) []Event {
	var out []Event
	for _, h := range history {
		e := Event{ID: fmt.Sprintf("rollout:%d:%d", r.ID, h.ID), At: h.At, Actor: h.Actor, Environment: r.Environment, Flag: r.Plan.Flag}
		where := fmt.Sprintf("%s in %s", r.Plan.Flag, r.Environment)
		switch h.Kind {
		case rollout.KindStart:
			e.Kind, e.Cause = RolloutStarted, fmt.Sprintf("rollout of %s started at %g%%", where, h.Percent)
		case rollout.KindComplete:
			e.Kind, e.Cause = RolloutCompleted, fmt.Sprintf("rollout of %s complete: %s of users", where, pct(h.Percent))
		case rollout.KindRollback:
			e.Kind, e.Cause = RolloutRolledBack, fmt.Sprintf("rollout of %s rolled back", where)
		default: // advance, pause, resume
			e.Kind, e.Cause = RolloutStep, fmt.Sprintf("rollout of %s: %s, now at %g%%", where, h.Kind, h.Percent)
		}
		if h.Reason != "" {
			e.Cause += ": " + h.Reason
		}
		e.Cause += by(h.Actor)
		e.Detail = guardrailReadings(h.Guardrails)
		out = append(out, e)
	}
	return out
}

func guardrailReadings(gs []rollout.GuardrailResult) string {
	var parts []string
	for _, g := range gs {
		s := g.Metric + " " + g.Status
		if g.Status != rollout.GuardrailNotEnoughData {
			s += fmt.Sprintf(" (%+.1f%%, %d/%d users)", 100*g.Change, g.BaselineUsers, g.VariantUsers)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// ExposureEvent is a linked flag's first exposure in env. With an
// experiment (the flag has a hypothesis) users are in it: measuring.
// Without, users see the feature (a rollout's first steps) but nothing is
// measured against a hypothesis: the record notes it, the stage stays.
func ExposureEvent(env, flag string, at time.Time, experiment bool) Event {
	e := Event{ID: "exposure:" + env + "/" + flag, Kind: Exposed, At: at, Environment: env, Flag: flag,
		Cause: "first exposure of " + flag + " in " + env}
	if experiment {
		e.Kind, e.Cause = ExperimentStarted, e.Cause+": the experiment runs"
	}
	return e
}

// VerdictEvent is the evidence of a recorded verdict transition.
func VerdictEvent(rec experiment.VerdictRecord) (Event, bool) {
	if !experiment.Final(rec.Decision) {
		return Event{}, false
	}
	e := Event{ID: fmt.Sprintf("verdict:%s/%s@%d", rec.Environment, rec.Flag, rec.At.UnixNano()), Kind: VerdictRecorded,
		Stage: Stage(rec.Decision), At: rec.At, Actor: "valueloop", Environment: rec.Environment, Flag: rec.Flag,
		Cause: fmt.Sprintf("verdict on %s in %s: %s", rec.Flag, rec.Environment, rec.Decision), Detail: rec.Reason, Code: rec.Code}
	if f := rec.Figures.Effect; f != nil {
		x := f.Estimate
		e.Effect, e.EffectMetric, e.EffectAbsolute = &x, rec.Figures.PrimaryMetric, rec.Figures.Absolute
	}
	return e, true
}

// AuditEvent is the evidence an audit entry gives about a linked flag: a
// change of its definition or of its experiment's hypothesis (the record
// only), or its removal (the cleanup that ends the loop).
func AuditEvent(a valueloop.AuditEntry) (Event, bool) {
	e := Event{ID: fmt.Sprintf("audit:%d", a.ID), At: a.At, Actor: a.Actor, Environment: a.Environment, Flag: a.Target}
	switch a.Action {
	case "flag.delete":
		e.Kind, e.Cause = FlagRemoved, "flag "+a.Target+" removed from "+a.Environment+by(a.Actor)
	case "flag.create", "flag.update":
		e.Kind, e.Cause = FlagChanged, "flag "+a.Target+" "+strings.TrimPrefix(a.Action, "flag.")+"d in "+a.Environment+by(a.Actor)
	case "hypothesis.put":
		e.Kind, e.Cause = HypothesisSet, "hypothesis of flag "+a.Target+" in "+a.Environment+" stated"+by(a.Actor)
	default:
		return Event{}, false
	}
	if a.Reason != "" {
		e.Cause += ": " + a.Reason
	}
	return e, true
}

func by(actor string) string {
	if actor == "" {
		return ""
	}
	return " by " + actor
}

func pct(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) + "%" }
