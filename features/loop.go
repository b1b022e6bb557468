package features

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/value"
)

// Sync gathers the evidence of the features named (every feature when
// none), derives their lifecycles and stores them; each new transition
// lands in the audit trail. It returns the number of new transitions.
func (s *Service) Sync(ctx context.Context, keys ...string) (int, error) {
	ctx, unlock, err := s.lockSync(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	var features []value.Feature
	if len(keys) == 0 {
		all, err := s.Store.Features(ctx)
		if err != nil {
			return 0, err
		}
		features = all
	} else {
		for _, k := range keys {
			f, err := s.Store.Feature(ctx, k)
			if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
				continue
			} else if err != nil {
				return 0, err
			}
			features = append(features, *f)
		}
	}
	sightings, err := s.see(ctx, features)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range features {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		_, added, err := s.syncOne(ctx, &features[i], sightings)
		if err != nil {
			return n, fmt.Errorf("feature %s: %w", features[i].Key, err)
		}
		n += len(added)
	}
	return n, nil
}

// lockSync holds off every other sync, of this node and, when the store
// is a SyncLocker, of the others, until the function returned is called.
func (s *Service) lockSync(ctx context.Context) (context.Context, func(), error) {
	var lock func(context.Context) (context.Context, func(), error)
	if l, ok := s.Store.(SyncLocker); ok {
		lock = l.LockSync
	}
	return cluster.Exclude(ctx, &s.syncMu, lock)
}

// lockWrites holds off every other write of objectives and features, of
// this node and, when the store is a WriteLocker, of the others, until the
// function returned is called.
func (s *Service) lockWrites(ctx context.Context) (context.Context, func(), error) {
	var lock func(context.Context) (context.Context, func(), error)
	if l, ok := s.Store.(WriteLocker); ok {
		lock = l.LockValueWrites
	}
	return cluster.Exclude(ctx, &s.writeMu, lock)
}

// syncOne gathers f's evidence, derives its lifecycle and stores it,
// logging each new transition; it returns the evidence and those.
func (s *Service) syncOne(ctx context.Context, f *value.Feature, sightings map[flagKey]Sighting) ([]value.Event, []value.Transition, error) {
	events, err := s.evidence(ctx, f, sightings)
	if err != nil {
		return nil, nil, err
	}
	l := value.Derive(events, f.ProductionFlags(s.production()))
	added, err := s.Store.SaveLifecycle(ctx, f.Key, &l)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range added {
		s.Logger.Info("feature moved", "feature", f.Key, "from", t.From, "to", t.To, "cause", t.Cause)
	}
	return events, added, nil
}

type flagKey struct{ env, flag string }

// production says which environments are production ones: only their
// exposures, rollouts, verdicts and cleanups move a feature.
func (s *Service) production() map[string]bool {
	out := map[string]bool{}
	for _, e := range s.Environments() {
		out[e.Key] = e.Production
	}
	return out
}

// see records the linked flags serving users: a flag whose exposed users
// grew since the last look was seen now. The times are those of the looks
// (the sync's interval is their precision): the event log is not read.
func (s *Service) see(ctx context.Context, features []value.Feature) (map[flagKey]Sighting, error) {
	stored, err := s.Store.Sightings(ctx)
	if err != nil {
		return nil, err
	}
	out := map[flagKey]Sighting{}
	for _, x := range stored {
		out[flagKey{x.Environment, x.Flag}] = x
	}
	now := s.Now().UTC()
	var seen []Sighting
	for _, f := range features {
		for _, fl := range f.Links.Flags {
			k := flagKey{fl.Environment, fl.Flag}
			users, err := s.users(ctx, fl.Environment, fl.Flag)
			if err != nil {
				return nil, err
			}
			prev, ok := out[k]
			if users == 0 || (ok && users <= prev.Users) {
				continue
			}
			x := Sighting{Environment: fl.Environment, Flag: fl.Flag, FirstSeen: now, LastSeen: now, Users: users}
			if ok {
				x.FirstSeen = prev.FirstSeen
			}
			out[k] = x
			seen = append(seen, x)
		}
	}
	if len(seen) > 0 {
		if err := s.Store.SeeFlags(ctx, seen); err != nil {
			return nil, err
		}
		s.noteSightings(seen)
	}
	return out, nil
}

// users counts the users exposed to flag in env: the aggregates' user
// cells (metric ""), those of the users served outside the split too (a
// rule or a static flag reaches users as much as a split does).
func (s *Service) users(ctx context.Context, env, flag string) (int64, error) {
	aggs, err := s.Evidence.Aggregates(ctx, env, flag)
	if err != nil {
		return 0, err
	}
	outside, err := s.Evidence.DimensionAggregates(ctx, env, flag, metric.OutsideDimension)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, a := range slices.Concat(aggs, outside) {
		if a.Metric == "" && a.Variant != "" {
			n += a.Sums.N
		}
	}
	return n, nil
}

// evidence gathers everything that proves where f is.
func (s *Service) evidence(ctx context.Context, f *value.Feature, sightings map[flagKey]Sighting) ([]value.Event, error) {
	events := []value.Event{value.CreatedEvent(f, "")}
	moves, err := s.Store.Moves(ctx, f.Key)
	if err != nil {
		return nil, err
	}
	events = append(events, moves...)
	links, err := s.Store.FeatureChanges(ctx, f.Key)
	if err != nil {
		return nil, err
	}
	var changes []dora.Change
	for _, l := range links {
		changes = append(changes, l.Change)
		events = append(events, value.ChangeEvents(l.Change, l.By)...)
	}
	production := s.production()
	seenFlag := map[string]bool{}
	for _, fl := range f.Links.Flags {
		if !seenFlag[fl.Flag] {
			seenFlag[fl.Flag] = true
			cs, err := s.Evidence.FlagChanges(ctx, fl.Flag)
			if err != nil {
				return nil, err
			}
			for _, c := range cs {
				changes = append(changes, c)
				events = append(events, value.ChangeEvents(c, "valueloop-flag: "+fl.Flag)...)
			}
		}
		rs, err := s.Evidence.Rollouts(ctx, rollout.Filter{Environment: fl.Environment, Flag: fl.Flag})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			h, err := s.Evidence.RolloutEvents(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			if production[fl.Environment] {
				events = append(events, value.RolloutEvents(r, h)...)
			}
		}
		// Verdicts as rollouts: only production's decide. One reached on
		// a development flag's test traffic would validate the feature and
		// move every rank of its objective.
		if production[fl.Environment] {
			vs, err := s.Evidence.VerdictHistory(ctx, fl.Environment, fl.Flag)
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				if e, ok := value.VerdictEvent(v); ok {
					events = append(events, e)
				}
			}
		}
		audit, err := s.Evidence.Audit(ctx, valueloop.AuditFilter{Environment: fl.Environment, Target: fl.Flag, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, a := range audit {
			e, ok := value.AuditEvent(a)
			if !ok {
				continue
			}
			if e.Kind == value.FlagRemoved && !production[fl.Environment] {
				e.Kind = value.FlagChanged // cleaning up development ends nothing
			}
			events = append(events, e)
		}
		if x, ok := sightings[flagKey{fl.Environment, fl.Flag}]; ok && production[fl.Environment] {
			_, err := s.Evidence.Hypothesis(ctx, fl.Environment, fl.Flag)
			if err != nil && valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
				return nil, err
			}
			events = append(events, value.ExposureEvent(fl.Environment, fl.Flag, x.FirstSeen, err == nil))
		}
	}
	if s.Shipped != nil && len(changes) > 0 {
		ships, err := s.shipments(ctx, f, changes)
		if err != nil {
			return nil, err
		}
		for _, sh := range ships {
			d := sh.Deployment
			d.Production = true // the timeline holds production deployments only
			if e, ok := value.DeploymentEvent(d, sh.Changes); ok {
				events = append(events, e)
			}
		}
	}
	return events, nil
}

// Shown is a feature with its release record.
type Shown struct {
	Feature value.Feature `json:"feature"`
	// Version is the feature's value.Feature.Version (also the ETag): a
	// PUT with it as If-Match writes only over what was read.
	Version string `json:"version"`
	// FlagHypotheses are the experiment hypotheses stored on its flags,
	// the per-flag form the feature's hypothesis is reached through.
	FlagHypotheses []FlagHypothesis `json:"flagHypotheses,omitempty"`
	Record         *value.Record    `json:"record"`
}

// FlagHypothesis is a linked flag's experiment hypothesis.
type FlagHypothesis struct {
	Environment string                 `json:"environment"`
	Flag        string                 `json:"flag"`
	Hypothesis  *experiment.Hypothesis `json:"hypothesis"`
}

// Record syncs one feature and returns it with its release record.
func (s *Service) Record(ctx context.Context, key string) (*value.Record, error) {
	sh, err := s.Show(ctx, key)
	if err != nil {
		return nil, err
	}
	return sh.Record, nil
}

// Show syncs one feature and returns it with its release record and its
// flags' hypotheses.
func (s *Service) Show(ctx context.Context, key string) (*Shown, error) {
	f, events, err := s.syncShown(ctx, key)
	if err != nil {
		return nil, err
	}
	out := &Shown{Feature: *f, Version: f.Version()}
	for _, fl := range f.Links.Flags {
		h, err := s.Evidence.Hypothesis(ctx, fl.Environment, fl.Flag)
		if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		out.FlagHypotheses = append(out.FlagHypotheses, FlagHypothesis{Environment: fl.Environment, Flag: fl.Flag, Hypothesis: h})
	}
	shown := *f
	if shown.Hypothesis.Metric == "" && len(out.FlagHypotheses) > 0 {
		// Reached through the flag: a hypothesis stored before features.
		fh := value.FromExperiment(out.FlagHypotheses[0].Hypothesis)
		fh.Change, fh.For, fh.Outcome = f.Hypothesis.Change, f.Hypothesis.For, f.Hypothesis.Outcome
		shown.Hypothesis = fh
	}
	out.Record = value.NewRecord(&shown, events, f.ProductionFlags(s.production()), s.Now())
	return out, nil
}

// syncShown syncs feature key as Sync does and returns it with its
// evidence.
func (s *Service) syncShown(ctx context.Context, key string) (*value.Feature, []value.Event, error) {
	ctx, unlock, err := s.lockSync(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	return s.syncShownLocked(ctx, key)
}

// syncShownLocked is syncShown with the sync lock held by the caller.
func (s *Service) syncShownLocked(ctx context.Context, key string) (*value.Feature, []value.Event, error) {
	f, err := s.Store.Feature(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	sightings, err := s.see(ctx, []value.Feature{*f})
	if err != nil {
		return nil, nil, err
	}
	events, _, err := s.syncOne(ctx, f, sightings)
	return f, events, err
}

// items returns the objectives and the features (of objective, when not
// empty) with their stored lifecycles; a feature not synced yet is an idea
// since its creation. The items are the caller's; the features and
// lifecycles they point to are shared and must not be changed.
func (s *Service) items(ctx context.Context, objective string) ([]value.Objective, []value.Item, error) {
	c, err := s.read(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.items(objective)
}

// items is Service.items of one snapshot.
func (c *snapshot) items(objective string) ([]value.Objective, []value.Item, error) {
	if objective != "" && !slices.ContainsFunc(c.objectives, func(o value.Objective) bool { return o.Key == objective }) {
		// A filter's value, not a resource: refused naming the parameter,
		// as next's Only does.
		return nil, nil, valueloop.FieldErrorf("objective", "there is no objective %q", objective)
	}
	items := make([]value.Item, 0, len(c.features))
	for i := range c.features {
		if objective != "" && c.features[i].Objective != objective {
			continue
		}
		items = append(items, value.Item{Feature: &c.features[i], Lifecycle: &c.lifecycles[i]})
	}
	return c.objectives, items, nil
}

// FlowOptions are the settings of Flow.
type FlowOptions struct {
	Objective string
	Since     time.Duration
}

// Flow measures the flow of value over the last Since (90 days when 0).
func (s *Service) Flow(ctx context.Context, o FlowOptions) (*value.Flow, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	c, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	return s.flow(ctx, c, o)
}

// NextAndFlow is Next and Flow from one read of the store (one version,
// one snapshot), for a page that shows both.
func (s *Service) NextAndFlow(ctx context.Context, no NextOptions, fo FlowOptions) (*value.Next, *value.Flow, error) {
	if err := no.check(); err != nil {
		return nil, nil, err
	}
	if err := fo.check(); err != nil {
		return nil, nil, err
	}
	c, err := s.read(ctx)
	if err != nil {
		return nil, nil, err
	}
	next, err := s.next(ctx, c, no)
	if err != nil {
		return nil, nil, err
	}
	flow, err := s.flow(ctx, c, fo)
	return next, flow, err
}

func (o FlowOptions) check() error {
	if o.Since < 0 {
		return valueloop.FieldErrorf("since", "must be positive")
	}
	return nil
}

// flow is Flow of snapshot c.
func (s *Service) flow(ctx context.Context, c *snapshot, o FlowOptions) (*value.Flow, error) {
	if o.Since == 0 {
		o.Since = 90 * 24 * time.Hour
	}
	objs, items, err := c.items(o.Objective)
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	// A verdict next leaves out of the record of bets counts neither in
	// the throughput nor in the validated share (nor in the progress).
	if err := s.markMismatches(ctx, items, false); err != nil {
		return nil, err
	}
	f := value.ComputeFlow(items, value.FlowOptions{Now: now, Since: now.Add(-o.Since)})
	if i := slices.IndexFunc(objs, func(x value.Objective) bool { return x.Key == o.Objective }); i >= 0 {
		p := value.ObjectiveProgress(&objs[i], items, now)
		f.Progress = &p
	}
	return f, nil
}

// Progress measures an objective's progress toward its target from the
// stored lifecycles; ENOTFOUND when there is no such objective.
func (s *Service) Progress(ctx context.Context, objective string) (*value.Progress, error) {
	if objective == "" {
		return nil, valueloop.FieldErrorf("objective", "required")
	}
	objs, items, err := s.items(ctx, objective)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(objs, func(x value.Objective) bool { return x.Key == objective })
	if err := s.markMismatches(ctx, items, true); err != nil {
		return nil, err
	}
	p := value.ObjectiveProgress(&objs[i], items, s.Now().UTC())
	return &p, nil
}

// shipments finds the production deployments that shipped f's changes: of
// its linked services only when it links some (a change of a shared
// library shipped by an unrelated service releases nothing of f), else of
// any service.
func (s *Service) shipments(ctx context.Context, f *value.Feature, changes []dora.Change) ([]delivery.Shipment, error) {
	if len(f.Links.Services) > 0 && s.ShippedBy != nil {
		return s.ShippedBy(ctx, changes, f.Links.Services)
	}
	return s.Shipped(ctx, changes)
}
