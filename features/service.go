// Package features runs the value loop inside the server: it keeps
// objectives and features through a Store, gathers each feature's evidence
// from the records the other capabilities keep (changes linked by trailer,
// label, branch or flag; the production deployments that shipped them; the
// rollouts, exposures, verdicts and audit entries of its flags), derives
// its lifecycle with package value, and stores the lifecycle with every new
// transition in the audit trail. The backlog (Next) and the flow (Flow)
// read the stored lifecycles, so their cost does not grow with the
// evidence; a feature's release record (Record) gathers its evidence anew.
//
// A periodic sync (Open) brings every stored lifecycle up to date; the
// server also syncs a feature as soon as a change is linked to it.
//
// What does not live here: the domain and its arithmetic (package value),
// SQL (packages sqlite, postgres), HTTP (package httpapi). Nothing here
// imports a database or HTTP package.
package features

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
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

// Store keeps objectives, features, their links and lifecycles. Every
// method is one transaction; writes are audited.
type Store interface {
	Objectives(ctx context.Context) ([]value.Objective, error)
	// Objective returns one objective; ENOTFOUND when there is none.
	Objective(ctx context.Context, key string) (*value.Objective, error)
	// ObjectivePage returns, by key, at most limit objectives whose keys
	// sort after after ("": from the first): a page of a list read
	// without reading the others.
	ObjectivePage(ctx context.Context, after string, limit int) ([]value.Objective, error)
	Features(ctx context.Context) ([]value.Feature, error)
	Feature(ctx context.Context, key string) (*value.Feature, error)
	// FeaturePage returns, by key, the page of features q selects with
	// their stored lifecycles.
	FeaturePage(ctx context.Context, q FeatureQuery) ([]ListedFeature, error)
	// PutObjective creates or updates o (already validated).
	PutObjective(ctx context.Context, o *value.Objective, actor string) error
	// PutObjectiveIf writes o only over the stored objective at version
	// (value.Objective.Version; or any condition value.VersionMatches
	// takes): ECONFLICT, storing nothing, when it
	// changed since or is gone.
	PutObjectiveIf(ctx context.Context, o *value.Objective, version, actor string) error
	// DeleteObjective refuses (ECONFLICT) while a feature bets on it.
	DeleteObjective(ctx context.Context, key, actor string) error
	PutFeature(ctx context.Context, f *value.Feature, actor string) error
	// PutFeatureIf writes f only over the stored feature at version
	// (value.Feature.Version; or any condition value.VersionMatches
	// takes): ECONFLICT, storing nothing, when it
	// changed since or is gone.
	PutFeatureIf(ctx context.Context, f *value.Feature, version, actor string) error
	DeleteFeature(ctx context.Context, key, actor string) error
	// ApplyValue writes the objectives and features of ops from file in one
	// transaction.
	ApplyValue(ctx context.Context, file *value.File, ops []value.Op, actor string) error

	// MoveFeature records a transition by hand at at (the store's clock
	// when zero: only the demo backdates its history) and returns it as
	// evidence.
	MoveFeature(ctx context.Context, key string, stage value.Stage, reason, actor string, at time.Time) (value.Event, error)
	Moves(ctx context.Context, key string) ([]value.Event, error)
	// LinkChanges stores links of changes to features; a link already
	// stored is kept as it is. It returns how many were new.
	LinkChanges(ctx context.Context, links []ChangeLink) (int, error)
	FeatureChanges(ctx context.Context, key string) ([]ChangeLink, error)
	// SeeFlags records that flags were seen serving users at the times
	// given: the first time stays, the last is raised.
	SeeFlags(ctx context.Context, seen []Sighting) error
	Sightings(ctx context.Context) ([]Sighting, error)
	// SaveLifecycle stores the lifecycle of a feature and writes each of
	// its transitions not stored before to the audit trail (action
	// feature.transition); it returns those.
	SaveLifecycle(ctx context.Context, key string, l *value.Lifecycle) ([]value.Transition, error)
	Lifecycles(ctx context.Context) (map[string]value.Lifecycle, error)
	// ValueVersion grows with every write of objectives and features and
	// every change of a stored lifecycle: what next and flow read is cached
	// until it changes.
	ValueVersion(ctx context.Context) (int64, error)
}

// SyncLocker is a Store that several nodes share (PostgreSQL): LockSync
// waits until no other node syncs and holds their syncs off until release
// is called; the store's writes under the context it returns commit only
// while the lock is held. Without it, the syncs of this node only are
// serialised.
type SyncLocker interface {
	LockSync(ctx context.Context) (_ context.Context, release func(), err error)
}

// WriteLocker is a Store that several nodes share (PostgreSQL):
// LockValueWrites waits until no other node writes objectives or features
// and holds their writes off until release is called. Without it, the
// writes of this node only are serialised. The store's writes under the
// context it returns commit only while the lock is held.
type WriteLocker interface {
	LockValueWrites(ctx context.Context) (_ context.Context, release func(), err error)
}

// FeatureQuery selects a page of features.
type FeatureQuery struct {
	Objective string      // "": any
	Stage     value.Stage // "": any
	// After: only features whose keys sort after it ("": from the first).
	After string
	Limit int
}

// ListedFeature is a feature in a list with its stored lifecycle: the zero
// Lifecycle at stage idea when it was never synced.
type ListedFeature struct {
	Feature   value.Feature
	Lifecycle value.Lifecycle
}

// ChangeLink links a change to a feature, with the change's times so the
// lifecycle needs no other read.
type ChangeLink struct {
	Feature string      `json:"feature"`
	Change  dora.Change `json:"change"`
	// By says how the change was recognised: trailer, label, branch, api.
	By string `json:"by"`
}

// Sighting is when a flag was first and last seen serving users.
type Sighting struct {
	Environment string    `json:"environment"`
	Flag        string    `json:"flag"`
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
	// Users is the count of users exposed when last seen; a sync that
	// finds more moves LastSeen.
	Users int64 `json:"users"`
}

// Evidence reads the records of the other capabilities.
type Evidence interface {
	FlagChanges(ctx context.Context, flag string) ([]dora.Change, error)
	Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error)
	RolloutEvents(ctx context.Context, id int64) ([]rollout.Event, error)
	VerdictHistory(ctx context.Context, env, flag string) ([]experiment.VerdictRecord, error)
	Audit(ctx context.Context, f valueloop.AuditFilter) ([]valueloop.AuditEntry, error)
	Metrics(ctx context.Context, env string) ([]metric.Metric, error)
	Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error)
	// UserAggregates serves the cells of the users of the flags given per
	// variant and split period only (metric ""): all that the sample-ratio
	// check of a verdict's experiment reads (experiment.SampleRatio).
	UserAggregates(ctx context.Context, env string, flags ...string) ([]metric.Aggregate, error)
	// DimensionAggregates serves the cells of the users a flag served
	// outside its split (dimension metric.OutsideDimension), which its
	// reach counts and its experiment does not.
	DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error)
	// SplitHistory is the flag's split periods (rollout steps), so that
	// a flag whose split moved is analysed period by period.
	SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error)
	// SplitHistories serves those of every flag of env at once (shared:
	// not to be changed), which next reads of many flags.
	SplitHistories(ctx context.Context, env string) (map[string][]experiment.SplitPeriod, error)
	Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error)
	// Hypotheses serves those of the flags given of env at once (a flag
	// without one is absent), which next reads of many flags.
	Hypotheses(ctx context.Context, env string, flags ...string) (map[string]*experiment.Hypothesis, error)
}

// Service is the value loop inside the server. Construct with New, set
// fields, Open to start the periodic sync, Close to stop it.
type Service struct {
	Store    Store
	Evidence Evidence
	// Shipped finds the production deployments that shipped changes
	// (delivery.Service.Shipped); nil: deployments are not evidence.
	Shipped func(ctx context.Context, changes []dora.Change) ([]delivery.Shipment, error)
	// ShippedBy is Shipped counting only the deployments of the services
	// given (delivery.Service.ShippedBy): a feature that links services is
	// released by their deployments only. Nil: Shipped counts every
	// service's.
	ShippedBy func(ctx context.Context, changes []dora.Change, services []string) ([]delivery.Shipment, error)
	// Environments lists the environments: their metrics and flags are
	// what validation checks names against, Production picks the default.
	Environments func() []valueloop.Environment
	// Definition returns a flag as env defines it now, nil when it does not.
	Definition func(env, flag string) *valueloop.Flag
	// Settle, when set, settles an experiment's analysis under fixed
	// inference on the flag's stored plan and decision
	// (verdicts.Recorder.Settle), as the results serve it: a decided
	// experiment needs no more users, and one whose planned sample is
	// fixed needs that plan's, not the estimate of the spread now. Nil:
	// the analysis as it is.
	Settle func(ctx context.Context, res *experiment.Result) error
	// Flags lists the flag keys of env.
	Flags func(env string) []string
	// FlagsVersion moves whenever what Definition returns changes (on this
	// node or, through the store, another): next's result is kept while it
	// and everything else it reads stand (see memo). Nil: it is computed
	// again for every request.
	FlagsVersion func() string
	Now          func() time.Time
	Logger       *slog.Logger
	Interval     time.Duration
	// Leader runs the periodic sync on one node at a time; nil runs it here.
	Leader cluster.Singleton

	// syncMu lets one sync (Sync, Show) run at a time: a sync stores the
	// lifecycles it derived from the evidence it read, and one that read
	// before another sync's evidence (a change just linked) stored after
	// it would put the feature back where it was, until the next periodic
	// sync. A Store that is a SyncLocker holds other nodes' syncs off too.
	syncMu sync.Mutex
	// writeMu lets one write of objectives or features (PutObjective,
	// PutFeature, DeleteFeature, Apply) check and store at a time: the
	// checks read the stored features (a flag claimed twice, a cycle, a
	// dependant of a deleted feature), and two writes checked against the
	// same stored set could each pass and together store what neither
	// check allows. A Store that is a WriteLocker holds other nodes'
	// writes off too.
	writeMu    sync.Mutex
	mu         sync.Mutex // guards recognizer, cache and touched
	recognizer *value.Recognizer
	cache      *snapshot
	touched    map[flagKey]bool
	wake       chan struct{}
	factsMu    sync.Mutex // guards facts
	facts      factCache
	refresh    chan struct{}
	// memoMu lets one next be computed at a time: requests that arrive
	// meanwhile wait for it and are served its result.
	memoMu sync.Mutex // guards memo
	memo   []memoEntry
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// DefaultInterval is how often the periodic sync runs.
const DefaultInterval = time.Minute

// New returns a service with the defaults.
func New(store Store, ev Evidence) *Service {
	return &Service{Store: store, Evidence: ev, Now: time.Now, Logger: slog.New(slog.DiscardHandler), Interval: DefaultInterval,
		touched: map[flagKey]bool{}, wake: make(chan struct{}, 1),
		facts: factCache{flags: map[flagKey]*flagFacts{}}, refresh: make(chan struct{}, 1),
		Environments: func() []valueloop.Environment { return nil },
		Definition:   func(string, string) *valueloop.Flag { return nil },
		Flags:        func(string) []string { return nil }}
}

// Context returns what validation checks names against: the environments'
// metrics and flags, and the stored objectives.
func (s *Service) Context(ctx context.Context) (value.Context, error) {
	c := value.Context{Metrics: map[string][]string{}, Flags: map[string][]string{}}
	for _, env := range s.Environments() {
		if env.Production && c.Production == "" {
			c.Production = env.Key
		}
		ms, err := s.Evidence.Metrics(ctx, env.Key)
		if err != nil {
			return c, err
		}
		keys := []string{}
		for _, m := range ms {
			keys = append(keys, m.Key)
		}
		c.Metrics[env.Key] = keys
		c.Flags[env.Key] = append([]string{}, s.Flags(env.Key)...)
	}
	objs, err := s.Store.Objectives(ctx)
	if err != nil {
		return c, err
	}
	for _, o := range objs {
		c.Objectives = append(c.Objectives, o.Key)
		// A metric deleted while an objective measures it stays valid for
		// it, as a deleted flag does for the features linking it (see
		// keepNamed): the objective stays editable and its file applies.
		env := cmp.Or(o.Environment, c.Production)
		if ms, ok := c.Metrics[env]; ok && !slices.Contains(ms, o.Metric) {
			c.Metrics[env] = append(ms, o.Metric)
		}
	}
	return c, nil
}

// Absent, as the version of a write of an objective or a feature, makes it
// a creation: refused (ECONFLICT, storing nothing) when the key is stored.
// The check is made with the others, under the write lock: made before,
// two creations of one key at once would both succeed and the later
// silently replace the earlier.
const Absent = "absent"

// creation settles a write's version once the stored keys are read under
// the write lock (see writeMu): for Absent, it refuses a key that exists
// and returns "" (the store writes unconditionally); any other version is
// returned as is, for the store to check.
func creation(version, what, key string, exists bool) (string, error) {
	if version != Absent {
		return version, nil
	}
	if exists {
		return "", valueloop.Errorf(valueloop.ECONFLICT, "%s %q exists (created meanwhile): read it and change it instead", what, key)
	}
	return "", nil
}

// lockedContext takes the write lock (lockWrites) and reads the context
// writes are validated against under it, so that no other write changes
// what was checked before this one is stored. The caller calls unlock when
// done and works under the context returned; on an error nothing is held.
func (s *Service) lockedContext(ctx context.Context) (_ context.Context, c value.Context, unlock func(), err error) {
	if ctx, unlock, err = s.lockWrites(ctx); err != nil {
		return nil, value.Context{}, nil, err
	}
	if c, err = s.Context(ctx); err != nil {
		unlock()
		return nil, value.Context{}, nil, err
	}
	return ctx, c, unlock, nil
}

// PutObjective validates and stores o; with a version (value.Objective.
// Version of what the writer read), only over the stored objective at it;
// with Absent, only when no objective has its key.
func (s *Service) PutObjective(ctx context.Context, o *value.Objective, version, actor string) error {
	ctx, c, unlock, err := s.lockedContext(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	// The stored objectives' keys are c's: no second read for a creation.
	if version, err = creation(version, "objective", o.Key, slices.Contains(c.Objectives, o.Key)); err != nil {
		return err
	}
	if err := o.Validate(&c); err != nil {
		return err
	}
	cur, err := s.Export(ctx)
	if err != nil {
		return err
	}
	others := slices.DeleteFunc(slices.Clone(cur.Objectives), func(x value.Objective) bool { return x.Key == o.Key })
	if err := fits(&value.File{Objectives: append(others, *o), Features: cur.Features}, cur); err != nil {
		return err
	}
	if version != "" {
		return s.Store.PutObjectiveIf(ctx, o, version, actor)
	}
	return s.Store.PutObjective(ctx, o, actor)
}

// PutFeature validates f alone and with the stored features (a flag,
// label or prefix claimed twice, a dependency cycle), stores it, and
// derives its first lifecycle. With a version (value.Feature.Version of
// what the writer read), only over the stored feature at that version;
// with Absent, only when no feature has its key.
func (s *Service) PutFeature(ctx context.Context, f *value.Feature, version, actor string) error {
	if err := s.writeFeature(ctx, f, version, actor); err != nil {
		return err
	}
	s.forgetRecognizer()
	_, err := s.Sync(ctx, f.Key)
	return err
}

// writeFeature checks f against the stored features and stores it, both
// under the write lock (see writeMu).
func (s *Service) writeFeature(ctx context.Context, f *value.Feature, version, actor string) error {
	ctx, c, unlock, err := s.lockedContext(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	all, err := s.Store.Features(ctx)
	if err != nil {
		return err
	}
	// The stored features are all: no second read for a creation.
	stored := slices.ContainsFunc(all, func(x value.Feature) bool { return x.Key == f.Key })
	if version, err = creation(version, "feature", f.Key, stored); err != nil {
		return err
	}
	keepNamed(&c, all)
	if err := f.Validate(&c); err != nil {
		return err
	}
	others := slices.DeleteFunc(slices.Clone(all), func(x value.Feature) bool { return x.Key == f.Key })
	// f last: a flag, label or prefix it claims that another holds is f's
	// problem. A cycle is then told from f, so checked with f first.
	// f was checked alone above, the others are stored: the set's rules only.
	if err := value.ValidateAmong(c, nil, append(slices.Clone(others), *f), 0); err != nil {
		if e, ok := err.(*valueloop.Error); ok && strings.HasPrefix(e.Message, "dependency cycle") {
			err = unprefix(value.ValidateAmong(c, nil, append([]value.Feature{*f}, others...), 0), 0)
			return err
		}
		return unprefix(err, len(others))
	}
	objs, err := s.Store.Objectives(ctx)
	if err != nil {
		return err
	}
	if err := fits(&value.File{Objectives: objs, Features: append(others, *f)}, &value.File{Objectives: objs, Features: all}); err != nil {
		return err
	}
	if version != "" {
		return s.Store.PutFeatureIf(ctx, f, version, actor)
	}
	return s.Store.PutFeature(ctx, f, actor)
}

// fits refuses a write after which the store, before it, would hold more
// than one file takes (value.File.CheckSize): its export would not apply
// back. A store already past a bound (filled before the server kept them)
// still takes a write that grows it in nothing, so that its features can
// be corrected and shortened; a write taking it within the bounds from
// inside them grows it, so before is sized only past a bound.
func fits(after, before *value.File) error {
	err := after.CheckSize()
	var e *valueloop.Error
	if !errors.As(err, &e) {
		return err
	}
	if len(after.Objectives) <= len(before.Objectives) && len(after.Features) <= len(before.Features) && after.Bytes() <= before.Bytes() {
		return nil
	}
	return valueloop.Errorf(valueloop.ECONFLICT, "the server would hold more than one file takes (%s %s), and its export (value export) would not apply back: delete some first", e.Field, e.Message)
}

// keepNamed adds to c the flags the stored features link and the metrics
// their hypotheses name: a link stays valid once its flag is deleted, since
// cleaning up the flag is how a feature gets done; a new link still needs a
// flag that exists. A deleted metric stays valid for the same reason of
// history: a write validates every stored feature with the one sent, so one
// feature naming a deleted metric would refuse every write, and the
// exported file would not apply back.
func keepNamed(c *value.Context, stored []value.Feature) {
	// A hypothesis' metric is looked for in any environment: a kept one
	// goes to the production one, or the first when none is (none at all:
	// nowhere to keep it).
	home, ok := c.Production, false
	if _, ok = c.Metrics[home]; !ok && len(c.Metrics) > 0 {
		home, ok = slices.Sorted(maps.Keys(c.Metrics))[0], true
	}
	for _, f := range stored {
		for _, l := range f.Links.Flags {
			if !slices.Contains(c.Flags[l.Environment], l.Flag) {
				c.Flags[l.Environment] = append(c.Flags[l.Environment], l.Flag)
			}
		}
		if m := f.Hypothesis.Metric; ok && m != "" && !anyEnvironmentHas(c, m) {
			c.Metrics[home] = append(c.Metrics[home], m)
		}
	}
}

func anyEnvironmentHas(c *value.Context, metric string) bool {
	for _, ms := range c.Metrics {
		if slices.Contains(ms, metric) {
			return true
		}
	}
	return false
}

// unprefix turns "features[N].x" back into "x" for the feature at N, the
// one the request is about; other features' problems keep their key.
func unprefix(err error, n int) error {
	var e *valueloop.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	p := fmt.Sprintf("features[%d].", n)
	if len(c.Field) > len(p) && c.Field[:len(p)] == p {
		c.Field = c.Field[len(p):]
	} else if c.Field == fmt.Sprintf("features[%d].dependsOn", n) {
		c.Field = "dependsOn"
	}
	return &c
}

// DeleteFeature deletes a feature no other depends on. A dependency on a
// deleted feature would name nothing: next would have its feature wait for
// it forever, and the exported file would no longer apply back.
func (s *Service) DeleteFeature(ctx context.Context, key, actor string) error {
	ctx, unlock, err := s.lockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	all, err := s.Store.Features(ctx)
	if err != nil {
		return err
	}
	var dependants []string
	for _, f := range all {
		if slices.Contains(f.DependsOn, key) {
			dependants = append(dependants, f.Key)
		}
	}
	if len(dependants) > 0 {
		who := "features " + strings.Join(dependants, ", ") + " depend"
		if len(dependants) == 1 {
			who = "feature " + dependants[0] + " depends"
		}
		return valueloop.Errorf(valueloop.ECONFLICT, "feature %q cannot be deleted: %s on it; remove it from their dependsOn first", key, who)
	}
	if err := s.Store.DeleteFeature(ctx, key, actor); err != nil {
		return err
	}
	s.forgetRecognizer()
	return nil
}

// Apply validates file as a set against the environments, plans it
// against what is stored and, unless dryRun, writes the plan in one
// transaction. With prune, objectives and features absent from the file
// are deleted.
func (s *Service) Apply(ctx context.Context, file *value.File, prune, dryRun bool, actor string) ([]value.Op, error) {
	if err := file.CheckSize(); err != nil {
		return nil, err
	}
	ops, err := s.applyChecked(ctx, file, prune, dryRun, actor)
	if err != nil || dryRun || len(ops) == 0 {
		return ops, err
	}
	s.forgetRecognizer()
	_, err = s.Sync(ctx)
	return ops, err
}

// applyChecked validates and plans file against what is stored and,
// unless dryRun, writes the plan, all under the write lock (see writeMu).
func (s *Service) applyChecked(ctx context.Context, file *value.File, prune, dryRun bool, actor string) ([]value.Op, error) {
	ctx, c, unlock, err := s.lockedContext(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cur, err := s.Export(ctx)
	if err != nil {
		return nil, err
	}
	keepNamed(&c, cur.Features)
	// One validation of the set that will be stored: with prune the file
	// alone, which must define every objective its features name; without,
	// the file's features first (so a field names the file's index) and the
	// stored features it keeps after, which must not claim what the file's
	// claim.
	set := file.Features
	if prune {
		c.Objectives = nil
	} else {
		set = keptBeside(file.Features, cur.Features, func(f value.Feature) string { return f.Key })
	}
	if err := value.ValidateAmong(c, file.Objectives, set, len(file.Features)); err != nil {
		return nil, err
	}
	if !prune { // with prune the file is the set, checked by Apply
		objs := keptBeside(file.Objectives, cur.Objectives, func(o value.Objective) string { return o.Key })
		if err := fits(&value.File{Objectives: objs, Features: set}, cur); err != nil {
			return nil, err
		}
	}
	ops := value.Plan(cur, file, prune)
	if dryRun || len(ops) == 0 {
		return ops, nil
	}
	if err := s.Store.ApplyValue(ctx, file, ops, actor); err != nil {
		return nil, err
	}
	return ops, nil
}

// keptBeside returns the file's items followed by the stored ones whose key
// the file does not name: what an apply without prune leaves stored. (A
// key set, not a search of the file per stored item: 20,000 features each
// side were 400 million comparisons.)
func keptBeside[T any](file, stored []T, key func(T) string) []T {
	named := make(map[string]struct{}, len(file))
	for _, x := range file {
		named[key(x)] = struct{}{}
	}
	out := slices.Clone(file)
	for _, x := range stored {
		if _, ok := named[key(x)]; !ok {
			out = append(out, x)
		}
	}
	return out
}

// Export returns what is stored, as a file.
func (s *Service) Export(ctx context.Context) (*value.File, error) {
	objs, err := s.Store.Objectives(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := s.Store.Features(ctx)
	if err != nil {
		return nil, err
	}
	return &value.File{Objectives: objs, Features: fs}, nil
}

// Move records a transition by hand (ready, measuring, validated,
// invalidated, done, abandoned) and returns the feature's record.
func (s *Service) Move(ctx context.Context, key string, stage value.Stage, reason, actor string) (*value.Record, error) {
	switch stage {
	case value.Ready, value.Measuring, value.Validated, value.Invalidated, value.Done, value.Abandoned:
	default:
		return nil, valueloop.FieldErrorf("stage", "must be ready, measuring, validated, invalidated, done or abandoned (the other stages follow from evidence), got %q", stage)
	}
	// A move's reason is one line of the feature's history and the audit
	// trail, as every reason of a change is.
	if err := valueloop.CheckReason("reason", reason); err != nil {
		return nil, err
	}
	if err := s.move(ctx, key, stage, reason, actor); err != nil {
		return nil, err
	}
	// The record with its flags' hypotheses is built once, after the move.
	return s.Record(ctx, key)
}

// move stores a move the lifecycle follows. A move it would not follow
// (back to an earlier stage, or on after the path ended) would be stored
// and change nothing: the command said the feature stayed where it was,
// and succeeded. The stage checked is the one a sync derives now (the
// stored one may lag the evidence), and the check and the write are made
// under the sync lock: a sync in between could move the feature on and
// make the move one back.
func (s *Service) move(ctx context.Context, key string, stage value.Stage, reason, actor string) error {
	ctx, unlock, err := s.lockSync(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	f, events, err := s.syncShownLocked(ctx, key)
	if err != nil {
		return err
	}
	cur := value.Derive(events, f.ProductionFlags(s.production()))
	if !cur.Stage.Reachable(stage) {
		return valueloop.FieldErrorf("stage", "%s is %s since %s and stages never go back (they follow evidence): it cannot be moved to %s",
			key, cur.Stage, cur.Since.UTC().Format("2006-01-02"), stage)
	}
	_, err = s.Store.MoveFeature(ctx, key, stage, reason, actor, time.Time{})
	return err
}

// Recognizer returns the recognizer of the stored features' changes,
// built once per change of the features.
func (s *Service) Recognizer(ctx context.Context) (*value.Recognizer, error) {
	s.mu.Lock()
	r := s.recognizer
	s.mu.Unlock()
	if r != nil {
		return r, nil
	}
	fs, err := s.Store.Features(ctx)
	if err != nil {
		return nil, err
	}
	r = value.NewRecognizer(fs)
	s.mu.Lock()
	s.recognizer = r
	s.mu.Unlock()
	return r, nil
}

func (s *Service) forgetRecognizer() {
	s.mu.Lock()
	s.recognizer = nil
	s.mu.Unlock()
}

// Link recognises the features of changes as they arrive (a webhook, an
// API record), stores the links and syncs the features linked. It is
// delivery.Service.Linked.
func (s *Service) Link(ctx context.Context, changes []delivery.ChangeText) error {
	r, err := s.Recognizer(ctx)
	if err != nil {
		return err
	}
	var links []ChangeLink
	var keys []string
	for _, c := range changes {
		text := value.ChangeText{Message: c.Message, Labels: c.Labels, Branch: c.Change.Branch}
		for _, m := range r.Match(text) {
			links = append(links, ChangeLink{Feature: m.Feature, Change: c.Change, By: m.By})
			if !slices.Contains(keys, m.Feature) {
				keys = append(keys, m.Feature)
			}
		}
	}
	if len(links) == 0 {
		return nil
	}
	if _, err := s.Store.LinkChanges(ctx, links); err != nil {
		return err
	}
	_, err = s.Sync(ctx, keys...)
	return err
}

// Open starts the periodic sync: at once, then every Interval.
func (s *Service) Open() error {
	if s.Interval <= 0 {
		return valueloop.FieldErrorf("interval", "must be positive, got %v", s.Interval)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	loop := func(ctx context.Context) error {
		cluster.Every(ctx, s.Interval, func(ctx context.Context) error {
			n, err := s.Sync(ctx)
			if err == nil && n > 0 {
				s.Logger.Debug("value sync", "transitions", n)
			}
			return err
		}, s.Logger.Error, "value sync failed")
		return nil
	}
	s.wg.Go(func() {
		leader := s.Leader
		if leader == nil {
			leader = cluster.Solo{Logger: s.Logger}
		}
		_ = leader.Run(ctx, LeaderName, loop)
	})
	// What next knows of the linked flags is read before the first request
	// asks, and refreshed behind the requests that find it stale.
	s.wg.Go(func() {
		if _, err := s.Next(ctx, NextOptions{}); err != nil && ctx.Err() == nil {
			s.Logger.Error("value: reading the linked flags failed", "err", err)
		}
		s.onSignal(ctx, s.refresh, "value: refreshing the linked flags failed", s.refreshFacts)
	})
	// Touched flags are synced on this node, leader or not: syncing a
	// feature twice stores nothing new.
	s.wg.Go(func() { s.onSignal(ctx, s.wake, "value sync of touched flags failed", s.syncTouched) })
	return nil
}

// onSignal runs work each time signal fires, until ctx ends; a failure is
// logged as msg, unless it is ctx ending.
func (s *Service) onSignal(ctx context.Context, signal <-chan struct{}, msg string, work func(context.Context) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-signal:
		}
		if err := work(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error(msg, "err", err)
		}
	}
}

// Touch asks for the features that link flag in env to be synced soon: a
// rollout of it moved, a verdict on it was recorded. It never blocks;
// touches that arrive while a sync runs are merged into the next.
func (s *Service) Touch(env, flag string) {
	s.mu.Lock()
	s.touched[flagKey{env, flag}] = true
	s.mu.Unlock()
	s.forgetFlag(flagKey{env, flag})
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// syncTouched syncs the features that link a touched flag.
func (s *Service) syncTouched(ctx context.Context) error {
	s.mu.Lock()
	touched := s.touched
	s.touched = map[flagKey]bool{}
	s.mu.Unlock()
	fs, err := s.Store.Features(ctx)
	if err != nil {
		return err
	}
	var keys []string
	for _, f := range fs {
		if slices.ContainsFunc(f.Links.Flags, func(l value.FlagLink) bool { return touched[flagKey{l.Environment, l.Flag}] }) {
			keys = append(keys, f.Key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	_, err = s.Sync(ctx, keys...)
	return err
}

// LeaderName is the lock name the periodic sync runs under.
const LeaderName = "value"

// Close stops the periodic sync and waits for it.
func (s *Service) Close() {
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
}
