package features

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/value"
)

// NextOptions are the settings of Next.
type NextOptions struct {
	Method       value.Method
	CleanupAfter time.Duration
}

// Next ranks the backlog and lists what to stop or finish. What it knows of
// the linked flags (hypotheses, experiment analyses, sightings) comes from
// the flag cache (see facts): a request reads and analyses only the flags
// it has never seen, and stale ones are refreshed behind it.
func (s *Service) Next(ctx context.Context, o NextOptions) (*value.Next, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	c, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	return s.next(ctx, c, o)
}

// Place is feature key's place in the backlog that Next ranks (its rank
// and arithmetic, or why it is not ranked) and among its dependencies and
// dependants with their stages: one read of the store's snapshot, as Next,
// whatever the number of features.
func (s *Service) Place(ctx context.Context, key string, o NextOptions) (*value.Place, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	c, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	// An unknown feature is refused before the ranking and its flags'
	// facts are computed for nothing.
	_, items, err := c.items("")
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(items, func(it value.Item) bool { return it.Feature.Key == key }) {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "no feature %q (see 'valueloop feature list')", key)
	}
	next, err := s.next(ctx, c, o)
	if err != nil {
		return nil, err
	}
	return next.PlaceOf(items, key), nil
}

func (o NextOptions) check() error {
	switch o.Method {
	case "", value.WSJF, value.RICE:
	default:
		return valueloop.FieldErrorf("method", "must be %q or %q, got %q", value.WSJF, value.RICE, o.Method)
	}
	if o.CleanupAfter < 0 {
		return valueloop.FieldErrorf("cleanupAfter", "must not be negative")
	}
	return nil
}

// next is Next of snapshot c.
func (s *Service) next(ctx context.Context, c *snapshot, o NextOptions) (*value.Next, error) {
	objs, items, err := c.items("")
	if err != nil {
		return nil, err
	}
	// The facts' version before they are read: a change while they are
	// read keeps the result under a version no later request asks for.
	s.factsMu.Lock()
	changes := s.facts.changes
	s.factsMu.Unlock()
	// Read (and marked used, stale ones refreshed behind) whether the
	// result is kept or not.
	facts, seen, err := s.flagFacts(ctx, items)
	if err != nil {
		return nil, err
	}
	production := s.production()
	if s.FlagsVersion == nil {
		return s.rank(objs, items, facts, seen, production, o, s.Now()), nil
	}
	key := memoKey{version: c.version, flags: s.FlagsVersion(), facts: changes, environments: fmt.Sprint(s.Environments()),
		method: o.Method, cleanupAfter: o.CleanupAfter}
	s.memoMu.Lock()
	defer s.memoMu.Unlock()
	now := s.Now()
	n := s.memoised(key, now)
	if n == nil {
		n = s.rank(objs, items, facts, seen, production, o, now)
		s.keep(key, now, n)
	}
	return own(n), nil
}

// rank is value.ComputeNext of items with what is known of their flags.
func (s *Service) rank(objs []value.Objective, items []value.Item, facts map[flagKey]*flagFacts, seen map[flagKey]Sighting, production map[string]bool, o NextOptions, now time.Time) *value.Next {
	in := value.NextInput{Objectives: objs, Items: items, Now: now, Method: o.Method, CleanupAfter: o.CleanupAfter}
	for i := range items {
		it := &items[i]
		st := it.Lifecycle.Stage
		markMismatch(it, facts)
		if it.Feature.Hypothesis.MinimumEffect == 0 && it.Lifecycle.Verdict != nil {
			// The effect hoped for, reached through a flag's hypothesis.
			if h := hopedHypothesis(facts, it.Feature, it.Lifecycle.Verdict); h != nil {
				f := *it.Feature
				// All four: the effect hoped for is only compared with a
				// measured one of the same metric in the same units.
				f.Hypothesis.Metric, f.Hypothesis.MinimumEffect, f.Hypothesis.Direction, f.Hypothesis.Absolute = h.PrimaryMetric, h.MinimumEffect, h.Direction, h.Absolute
				it.Feature = &f
			}
		}
		for _, fl := range it.Feature.Links.Flags {
			k := flagKey{fl.Environment, fl.Flag}
			if def := s.Definition(fl.Environment, fl.Flag); def != nil {
				in.Flags = append(in.Flags, value.FlagState{Environment: fl.Environment, Flag: fl.Flag,
					LastEvaluated: seen[k].LastSeen, ServesTreatment: value.ServesVariant(def, fl.Variant)})
			}
			// Production's experiments only, as the record's exposures
			// and the verdicts that decide: a development flag's test
			// traffic is no pace toward the objective's horizon.
			if (st == value.Releasing || st == value.Measuring) && production[fl.Environment] {
				if x := facts[k].experiment(fl, seen[k], it.Lifecycle); x != nil {
					in.Experiments = append(in.Experiments, *x)
				}
			}
		}
	}
	return value.ComputeNext(in)
}

// need is how much Next reads of a flag, each level with the ones before.
type need int

const (
	// needHypothesis: its experiment hypothesis (a decided feature's
	// effect hoped for).
	needHypothesis need = iota
	// needSRM: whether its experiment shows a sample ratio mismatch (the
	// flag whose verdict stands): its users per variant and period only.
	needSRM
	// needAnalysis: its experiment analysed (a releasing or measuring
	// feature's flag in production, for the stop list).
	needAnalysis
)

// needs says which flags Next needs facts of, and how much of them: the
// hypothesis of a decided feature's flags (its effect hoped for), an
// analysis of a releasing or measuring feature's flags in production, and
// of the flag whose verdict stands whether its experiment now shows a
// sample ratio mismatch (as much as verdicts says), which takes the
// verdict out of the record of bets.
func needs(items []value.Item, production map[string]bool, verdicts need) map[flagKey]need {
	out := map[flagKey]need{}
	for _, it := range items {
		if v := it.Lifecycle.Verdict; v != nil && v.Flag != "" && production[v.Environment] {
			k := flagKey{v.Environment, v.Flag}
			out[k] = max(out[k], verdicts)
		}
		st := it.Lifecycle.Stage
		analyse := st == value.Releasing || st == value.Measuring
		if !analyse && (it.Lifecycle.Verdict == nil || it.Feature.Hypothesis.MinimumEffect != 0) {
			continue
		}
		for _, fl := range it.Feature.Links.Flags {
			k := flagKey{fl.Environment, fl.Flag}
			out[k] = max(out[k], needHypothesis)
			if analyse && production[fl.Environment] {
				out[k] = needAnalysis
			}
		}
	}
	return out
}

// markMismatch marks an item whose verdict's experiment shows a sample
// ratio mismatch: no number of an experiment whose split is off can be
// trusted, its verdict's no more than the others.
func markMismatch(it *value.Item, facts map[flagKey]*flagFacts) {
	if v := it.Lifecycle.Verdict; v != nil && v.Flag != "" {
		it.SampleRatioMismatch = facts[flagKey{v.Environment, v.Flag}].srm()
	}
}

// markMismatches marks items as next does (markMismatch) for the
// progress that objective show measures (validatedOnly: only validated
// verdicts count in it) and for flow: a verdict next leaves out of the
// record of bets is left out of the progress toward the objective and of
// the flow's throughput and validated share everywhere. Only the
// verdicts' flags are read, and only their users (needSRM), from the
// facts next caches.
func (s *Service) markMismatches(ctx context.Context, items []value.Item, validatedOnly bool) error {
	production := s.production()
	wanted := map[flagKey]need{}
	for _, it := range items {
		v := it.Lifecycle.Verdict
		if v == nil || validatedOnly && v.Stage != value.Validated {
			continue
		}
		if v.Flag != "" && production[v.Environment] {
			wanted[flagKey{v.Environment, v.Flag}] = needSRM
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	facts, err := s.factsOf(ctx, wanted)
	if err != nil {
		return err
	}
	for i := range items {
		markMismatch(&items[i], facts)
	}
	return nil
}

// hopedHypothesis is the experiment hypothesis the effect of verdict v
// was hoped against: its own flag's when it has one (a verdict by hand
// names none), else the first linked flag's that has one.
func hopedHypothesis(facts map[flagKey]*flagFacts, f *value.Feature, v *value.Event) *experiment.Hypothesis {
	if x := facts[flagKey{v.Environment, v.Flag}]; x != nil && x.hypothesis != nil {
		return x.hypothesis
	}
	for _, fl := range f.Links.Flags {
		if x := facts[flagKey{fl.Environment, fl.Flag}]; x != nil && x.hypothesis != nil {
			return x.hypothesis
		}
	}
	return nil
}

// requestEvidence reads metrics once per refresh: flags share environments.
// So are the users' cells of the flags to check for a sample ratio
// mismatch, where many of one environment are (batchUsers): one read that
// names them instead of one per flag, each of which costs a query however
// few its rows.
type requestEvidence struct {
	Evidence
	metrics map[string][]metric.Metric
	// batch lists, by environment, the flags whose users' cells are read
	// at once; users holds them, by flag, once read.
	batch map[string][]string
	users map[string]map[string][]metric.Aggregate
	// wanted lists, by environment, the flags whose hypotheses are read
	// at once; hypotheses holds them, by flag, once read. want is what
	// each flag is wanted for, which tells whether a flag is in either
	// list without scanning it (a scan per flag read is quadratic in
	// the flags of a request).
	wanted     map[string][]string
	want       map[flagKey]need
	hypotheses map[string]map[string]*experiment.Hypothesis
	// splits holds the split histories of every flag, by environment,
	// once read.
	splits map[string]map[string][]experiment.SplitPeriod
}

// batchUsers is how many flags of one environment a request checks for a
// sample ratio mismatch before it reads their users' cells at once (a few
// rows per flag) rather than one query per flag; batchMax is the most
// flags one read names, well within the parameters a statement may have
// (SQLite's 32,766, PostgreSQL's 65,535).
const (
	batchUsers = 32
	batchMax   = 1000
)

// newRequestEvidence returns the evidence of one request or refresh,
// which reads the flags wanted, as much as each is wanted.
func (s *Service) newRequestEvidence(wanted map[flagKey]need) *requestEvidence {
	ev := &requestEvidence{Evidence: s.Evidence, metrics: map[string][]metric.Metric{}, batch: map[string][]string{},
		users: map[string]map[string][]metric.Aggregate{}, wanted: map[string][]string{}, hypotheses: map[string]map[string]*experiment.Hypothesis{},
		splits: map[string]map[string][]experiment.SplitPeriod{}, want: wanted}
	for k, n := range wanted {
		ev.wanted[k.env] = append(ev.wanted[k.env], k.flag)
		if n == needSRM {
			ev.batch[k.env] = append(ev.batch[k.env], k.flag)
		}
	}
	for env, flags := range ev.batch {
		if len(flags) < batchUsers {
			delete(ev.batch, env)
		}
	}
	return ev
}

// userCells is UserAggregates of flag k, from one read of the flags of its
// environment to check when batched. The read names them rather than
// reading the environment's: the stored cells are keyed by environment
// and flag, so that such a read would scan every cell of every flag in it.
func (r *requestEvidence) userCells(ctx context.Context, k flagKey) ([]metric.Aggregate, error) {
	flags, ok := r.batch[k.env]
	if !ok || r.want[k] != needSRM {
		return r.UserAggregates(ctx, k.env, k.flag)
	}
	byFlag, ok := r.users[k.env]
	if !ok {
		byFlag = map[string][]metric.Aggregate{}
		for chunk := range slices.Chunk(flags, batchMax) {
			cells, err := r.UserAggregates(ctx, k.env, chunk...)
			if err != nil {
				return nil, err
			}
			for _, a := range cells {
				byFlag[a.Flag] = append(byFlag[a.Flag], a)
			}
		}
		r.users[k.env] = byFlag
	}
	return byFlag[k.flag], nil
}

// hypothesis is the hypothesis of flag k (nil when it has none), from one
// read of the hypotheses of the flags wanted of its environment: a query
// per flag cost far more than its one row.
func (r *requestEvidence) hypothesis(ctx context.Context, k flagKey) (*experiment.Hypothesis, error) {
	if _, ok := r.want[k]; !ok {
		h, err := r.Hypothesis(ctx, k.env, k.flag)
		if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
			return nil, nil
		}
		return h, err
	}
	byFlag, ok := r.hypotheses[k.env]
	if !ok {
		flags := r.wanted[k.env]
		byFlag = make(map[string]*experiment.Hypothesis, len(flags))
		for chunk := range slices.Chunk(flags, batchMax) {
			hs, err := r.Hypotheses(ctx, k.env, chunk...)
			if err != nil {
				return nil, err
			}
			maps.Copy(byFlag, hs)
		}
		r.hypotheses[k.env] = byFlag
	}
	return byFlag[k.flag], nil
}

// splitHistory is the split history of flag k, from one read of its
// environment's (cached by the store per environment version, but each
// read of one flag's read that version again).
func (r *requestEvidence) splitHistory(ctx context.Context, k flagKey) ([]experiment.SplitPeriod, error) {
	byFlag, ok := r.splits[k.env]
	if !ok {
		var err error
		if byFlag, err = r.SplitHistories(ctx, k.env); err != nil {
			return nil, err
		}
		r.splits[k.env] = byFlag
	}
	return byFlag[k.flag], nil
}

func (r *requestEvidence) Metrics(ctx context.Context, env string) ([]metric.Metric, error) {
	if ms, ok := r.metrics[env]; ok {
		return ms, nil
	}
	ms, err := r.Evidence.Metrics(ctx, env)
	if err == nil {
		r.metrics[env] = ms
	}
	return ms, err
}

// readFacts reads a flag's hypothesis and, as much as n asks, checks its
// experiment's sample ratio (from its users alone) or analyses it with the
// hypothesis' settings: its users so far and the users it still needs
// (under fixed inference, on the stored plan and decision: see Settle). A
// failed read is an error, not a missing hypothesis: the record of bets
// would silently lose a ratio.
func (s *Service) readFacts(ctx context.Context, ev *requestEvidence, k flagKey, n need) (*flagFacts, error) {
	x := &flagFacts{at: s.Now(), read: n}
	h, err := ev.hypothesis(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("hypothesis of flag %s in %s: %w", k.flag, k.env, err)
	} else if h == nil {
		return x, nil
	}
	x.hypothesis = h
	switch n {
	case needSRM:
		return x, s.checkSampleRatio(ctx, ev, k, x)
	case needAnalysis:
		return x, s.analyse(ctx, ev, k, x)
	}
	return x, nil
}

// input is the analysis input of flag k with x's hypothesis and cells
// aggs, its split history read; nil when aggs count nobody.
func (s *Service) input(ctx context.Context, ev *requestEvidence, k flagKey, x *flagFacts, aggs []metric.Aggregate) (*experiment.Input, error) {
	if len(aggs) == 0 {
		return nil, nil
	}
	ms, err := ev.Metrics(ctx, k.env)
	if err != nil {
		return nil, err
	}
	// A rollout moved the split: the analysis goes period by period.
	splits, err := ev.splitHistory(ctx, k)
	if err != nil {
		return nil, err
	}
	return &experiment.Input{Environment: k.env, Flag: k.flag, Definition: s.Definition(k.env, k.flag), Hypothesis: x.hypothesis,
		Settings: x.hypothesis.Settings, Metrics: ms, Aggregates: aggs, Splits: splits}, nil
}

// checkSampleRatio sets x.mismatch from the flag's users per variant and
// period alone (experiment.SampleRatio): what a decided feature's verdict
// flag needs, without reading and analysing every metric's cells. An
// experiment that cannot be checked shows no mismatch, as in analyse.
func (s *Service) checkSampleRatio(ctx context.Context, ev *requestEvidence, k flagKey, x *flagFacts) error {
	users, err := ev.userCells(ctx, k)
	if err != nil {
		return err
	}
	in, err := s.input(ctx, ev, k, x, users)
	if in == nil || err != nil {
		return err
	}
	srm, err := experiment.SampleRatio(*in)
	x.mismatch = err == nil && srm.Status == stats.OK && srm.Mismatch
	return nil
}

// analyse analyses the flag's experiment into x.
func (s *Service) analyse(ctx context.Context, ev *requestEvidence, k flagKey, x *flagFacts) error {
	aggs, err := ev.Aggregates(ctx, k.env, k.flag)
	if err != nil {
		return err
	}
	in, err := s.input(ctx, ev, k, x, aggs)
	if in == nil || err != nil {
		return err
	}
	// The users whose window may still be open, as the results page counts
	// them (and leaves them out when the hypothesis says so).
	if err := experiment.ReadDays(ctx, ev, in); err != nil {
		return err
	}
	res, err := experiment.Analyze(*in)
	if err == nil {
		x.mismatch = res.SRM.Status == stats.OK && res.SRM.Mismatch
	}
	if err != nil || res.Verdict == nil {
		return nil // an experiment that cannot be analysed is the results page's to explain
	}
	if s.Settle != nil {
		if err := s.Settle(ctx, res); err != nil {
			return fmt.Errorf("fixed plan and decision of flag %s in %s: %w", k.flag, k.env, err)
		}
	}
	x.users, x.remaining = res.Users, res.Verdict.RemainingUsers
	x.inconclusive = res.Verdict.Decision == experiment.Inconclusive
	if res.Verdict.Decided != nil {
		// Decided at its planned sample: it needs no more users, whatever
		// the figures now would estimate.
		x.remaining = new(int64)
	}
	return nil
}

// srm says whether the flag's analysis found a sample ratio mismatch.
func (x *flagFacts) srm() bool { return x != nil && x.mismatch }

// experiment is the state of a linked flag's experiment for the stop list:
// started when the flag was first seen exposing users, since its users
// are what the pace counts; when it was never seen, when the feature began
// releasing or measuring. Not the release first: a deployment that
// shipped the code dark, behind the flag, weeks before its rollout would
// spread the experiment's users over weeks it did not run.
func (x *flagFacts) experiment(fl value.FlagLink, seen Sighting, l *value.Lifecycle) *value.ExperimentState {
	if x == nil || (x.remaining == nil && !x.inconclusive) {
		return nil
	}
	started := seen.FirstSeen
	for _, t := range l.Transitions {
		if started.IsZero() && (t.To == value.Releasing || t.To == value.Measuring) {
			started = t.At
		}
	}
	if started.IsZero() {
		return nil
	}
	return &value.ExperimentState{Environment: fl.Environment, Flag: fl.Flag, Started: started, Users: x.users,
		RemainingUsers: x.remaining, Inconclusive: x.inconclusive}
}
