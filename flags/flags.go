// Package flags owns the live flag configuration: it validates a change by
// compiling it, commits it to the store, swaps the compiled snapshot of the
// environment atomically (a reader sees the old set or the new one, never a
// mix) and tells subscribers. Flag files given on the command line are watched
// and applied the same way, so a file edit is just another audited change.
//
// Evaluation itself is package evaluation's; persistence is the store's.
package flags

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flagplan"
)

// Store is what the service needs from storage.
type Store interface {
	Environments(ctx context.Context) ([]valueloop.Environment, error)
	CreateEnvironment(ctx context.Context, env valueloop.Environment, actor string) error
	FlagSet(ctx context.Context, env string) (*valueloop.FlagSet, int64, error)
	ReplaceFlagSet(ctx context.Context, env string, set *valueloop.FlagSet, ifVersion int64, actor, reason string) (valueloop.FlagSetChange, error)
	ReplaceFlagSetAt(ctx context.Context, env string, set *valueloop.FlagSet, ifVersion int64, actor, reason string, at time.Time) (valueloop.FlagSetChange, error)
	PutFlagOver(ctx context.Context, env string, over int64, f *valueloop.Flag, ifVersion int64, actor, reason string) (flagVersion, envVersion int64, err error)
	DeleteFlag(ctx context.Context, env, key string, ifVersion int64, actor, reason string) (envVersion int64, err error)
}

// Live is a compiled snapshot of one environment with the store version it
// was compiled from.
type Live struct {
	Environment valueloop.Environment
	Version     int64
	Snapshot    *evaluation.Snapshot

	encodeOnce sync.Once
	encoded    []byte
	encodeErr  error
}

// FlagdJSON returns the snapshot's flag set as a flagd file, encoded once
// however many stream clients ask for it.
func (l *Live) FlagdJSON() ([]byte, error) {
	l.encodeOnce.Do(func() {
		l.encoded, l.encodeErr = flagd.Marshal(l.Snapshot.Set())
	})
	return l.encoded, l.encodeErr
}

// Service holds the live snapshots of every environment.
type Service struct {
	store  Store
	logger *slog.Logger

	writeMu  sync.Mutex // serialises changes, so each is validated against the set it lands on
	mu       sync.Mutex // guards swaps of live, and subs
	live     atomic.Pointer[map[string]*Live]
	subs     map[chan<- string]struct{}
	files    sync.Map // environment key → path of the flag file it is served from (read-only)
	fileData sync.Map // environment key → the file's content ApplyFile read ([]byte)
}

// NewService returns a service over store; call Load before use.
func NewService(store Store, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, logger: logger, subs: map[chan<- string]struct{}{}}
	empty := map[string]*Live{}
	s.live.Store(&empty)
	return s
}

// Live returns the live snapshot of env, or nil when there is no such
// environment. It never blocks: it is on the evaluation path.
func (s *Service) Live(env string) *Live {
	return (*s.live.Load())[env]
}

// UnknownEnvironment is the error for an environment that is not live:
// ENOTFOUND, listing the environments there are, so that a typo ("prod")
// shows its fix. Give it only to callers allowed to know every
// environment's name (not to a client token evaluating flags).
func (s *Service) UnknownEnvironment(env string) *valueloop.Error {
	names := slices.Sorted(maps.Keys(s.Environments()))
	known := "there are none"
	if len(names) > 0 {
		known = "the environments are " + strings.Join(names, ", ")
	}
	return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found; %s", env, known)
}

// Environments returns the live environments.
func (s *Service) Environments() map[string]*Live {
	return *s.live.Load()
}

// Load (re)reads every environment from the store and swaps in those whose
// version changed. A stored set that no longer compiles (it was valid when
// written; a newer engine may disagree) is logged and the previous snapshot
// kept.
func (s *Service) Load(ctx context.Context) error {
	envs, err := s.store.Environments(ctx)
	if err != nil {
		return fmt.Errorf("flags: load environments: %w", err)
	}
	for _, env := range envs {
		if err := s.reload(ctx, env); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) reload(ctx context.Context, env valueloop.Environment) error {
	set, version, err := s.store.FlagSet(ctx, env.Key)
	if err != nil {
		return fmt.Errorf("flags: load %s: %w", env.Key, err)
	}
	if cur := s.Live(env.Key); cur != nil && cur.Version == version {
		return nil
	}
	snap, err := evaluation.Compile(set)
	if err != nil {
		s.logger.Error("stored flag set does not compile; keeping the previous one", "environment", env.Key, "err", err)
		return nil
	}
	s.swap(&Live{Environment: env, Version: version, Snapshot: snap})
	return nil
}

// swap installs l as the live snapshot of its environment unless a newer one
// is already live, and notifies subscribers.
func (s *Service) swap(l *Live) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.live.Load()
	if cur := old[l.Environment.Key]; cur != nil && cur.Version > l.Version {
		return
	}
	m := make(map[string]*Live, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[l.Environment.Key] = l
	s.live.Store(&m)
	for ch := range s.subs {
		select {
		case ch <- l.Environment.Key:
		default: // a slow subscriber re-reads Live anyway
		}
	}
}

// Subscribe registers ch to receive the key of every environment whose
// snapshot changes. Sends never block; give ch a buffer. Call the returned
// function to unsubscribe.
func (s *Service) Subscribe(ch chan<- string) (cancel func()) {
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

// EnsureEnvironment creates env when it does not exist yet.
func (s *Service) EnsureEnvironment(ctx context.Context, env valueloop.Environment, actor string) error {
	if s.Live(env.Key) != nil {
		return nil
	}
	if err := validateEnvironment(env); err != nil {
		return err
	}
	err := s.store.CreateEnvironment(ctx, env, actor)
	if err != nil && valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		return err
	}
	return s.reload(ctx, env)
}

// Apply makes set the flag set of env. It compiles set first: an invalid set
// changes nothing and the error lists every problem. source names where the
// set came from in those problems (a file name, "api").
func (s *Service) Apply(ctx context.Context, env string, set *valueloop.FlagSet, actor, reason string) (valueloop.FlagSetChange, error) {
	if err := s.writable(env); err != nil {
		return valueloop.FlagSetChange{}, err
	}
	return s.apply(ctx, env, set, actor, reason, time.Time{})
}

// ApplyAt is Apply with the change dated at, for loading a history whose
// traffic came after its flags were made (serve --demo): only the creation
// of flags env never had may be dated back (the store's ReplaceFlagSetAt),
// to no later than now.
func (s *Service) ApplyAt(ctx context.Context, env string, set *valueloop.FlagSet, actor, reason string, at time.Time) (valueloop.FlagSetChange, error) {
	if err := s.writable(env); err != nil {
		return valueloop.FlagSetChange{}, err
	}
	return s.apply(ctx, env, set, actor, reason, at)
}

// File returns the path of the flag file env is served from, or "".
func (s *Service) File(env string) string {
	if p, ok := s.files.Load(env); ok {
		return p.(string)
	}
	return ""
}

// writable refuses a change to an environment served from a flag file: the
// file is its source of truth, and the next edit of the file would silently
// undo the change.
func (s *Service) writable(env string) error {
	if path := s.File(env); path != "" {
		return valueloop.Errorf(valueloop.ECONFLICT, "environment %q is read-only: it is served from the flag file %s (--flags-file); change that file instead", env, path)
	}
	return nil
}

// apply is Apply without the check that env is writable, dated at (zero:
// now).
func (s *Service) apply(ctx context.Context, env string, set *valueloop.FlagSet, actor, reason string, at time.Time) (valueloop.FlagSetChange, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	live := s.Live(env)
	if live == nil {
		return valueloop.FlagSetChange{}, s.UnknownEnvironment(env)
	}
	if _, err := evaluation.Compile(set); err != nil {
		return valueloop.FlagSetChange{}, err
	}
	var change valueloop.FlagSetChange
	var err error
	if at.IsZero() {
		change, err = s.store.ReplaceFlagSet(ctx, env, set, -1, actor, reason)
	} else {
		change, err = s.store.ReplaceFlagSetAt(ctx, env, set, -1, actor, reason, at)
	}
	if err != nil {
		return change, err
	}
	return change, s.reload(ctx, live.Environment)
}

// maxMerges bounds how often Merge and againstStored check again after a peer's
// write came between their check and their write.
const maxMerges = 5

// Merge applies set to env as Plan describes it (with prune false, the
// flags of env that set lacks are kept) and returns what changed. The flags
// kept are the stored ones, not this node's live copies: on several nodes
// the live set may not show yet a peer's change of a moment ago (a flag
// disabled there, the kill switch), and writing the live copy back would
// undo it. So the merge is made with the stored set and written only over
// that set's version; a peer's write in between is merged again.
func (s *Service) Merge(ctx context.Context, env string, set *valueloop.FlagSet, prune bool, actor, reason string) (valueloop.FlagSetChange, error) {
	if err := s.writable(env); err != nil {
		return valueloop.FlagSetChange{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	live := s.Live(env)
	if live == nil {
		return valueloop.FlagSetChange{}, s.UnknownEnvironment(env)
	}
	for attempt := 1; ; attempt++ {
		stored, version, err := s.store.FlagSet(ctx, env)
		if err != nil {
			return valueloop.FlagSetChange{}, err
		}
		next := set
		if !prune {
			next = merge(stored, set)
		}
		if _, err := evaluation.Compile(next); err != nil {
			return valueloop.FlagSetChange{}, err
		}
		change, err := s.store.ReplaceFlagSet(ctx, env, next, version, actor, reason)
		if valueloop.ErrorCode(err) == valueloop.ECONFLICT && attempt < maxMerges {
			continue // a peer's write came in between: merge with it
		}
		if err != nil {
			return change, err
		}
		return change, s.reload(ctx, live.Environment)
	}
}

// merge is set over cur: cur's flags that set lacks are kept; the
// evaluators and metadata are set's.
func merge(cur, set *valueloop.FlagSet) *valueloop.FlagSet {
	next := &valueloop.FlagSet{Flags: make(map[string]*valueloop.Flag, len(cur.Flags)+len(set.Flags)), Evaluators: set.Evaluators, Metadata: set.Metadata}
	maps.Copy(next.Flags, cur.Flags)
	maps.Copy(next.Flags, set.Flags)
	return next
}

// Plan returns what applying set to env would change, without changing
// anything, judged against the live set. With prune false, flags of env
// that set lacks are kept. Merge makes the change.
func (s *Service) Plan(env string, set *valueloop.FlagSet, prune bool) (*valueloop.FlagSet, valueloop.FlagSetChange, error) {
	live := s.Live(env)
	if live == nil {
		return nil, valueloop.FlagSetChange{}, s.UnknownEnvironment(env)
	}
	cur := live.Snapshot.Set()
	next := set
	if !prune {
		next = merge(cur, set)
	}
	if _, err := evaluation.Compile(next); err != nil {
		return nil, valueloop.FlagSetChange{}, err
	}
	change, err := Diff(cur, next)
	change.Version = live.Version
	return next, change, err
}

// PutFlag creates or updates one flag after checking that the environment's
// set still compiles with it; ifVersion as for the store (-1 any, 0 create
// only, n update version n, valueloop.IfFlagExists update any version).
// The check holds for the set it was made with only, so the flag is written
// only over that set's version: on several nodes, the live set may not show
// yet a peer's change of a moment ago (an evaluator removed there that the
// flag names), which would leave a stored set no node can compile.
func (s *Service) PutFlag(ctx context.Context, env string, f *valueloop.Flag, ifVersion int64, actor, reason string) (int64, error) {
	version, _, err := s.PutFlagMade(ctx, env, f, ifVersion, actor, reason)
	return version, err
}

// PutFlagMade is PutFlag that also says whether the flag was made rather
// than replaced: absent from the set the write went over, which is the
// stored set then (the write is refused over any other). The live set read
// before the call cannot say: it may lack a flag a peer made a moment ago,
// which the write, retried over the stored set, replaces.
func (s *Service) PutFlagMade(ctx context.Context, env string, f *valueloop.Flag, ifVersion int64, actor, reason string) (version int64, made bool, err error) {
	if err := s.writable(env); err != nil {
		return 0, false, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	version, err = s.againstStored(ctx, env, func(live *Live) (int64, error) {
		_, had := live.Snapshot.Set().Flags[f.Key]
		made = !had
		return s.putFlag(ctx, live, f, ifVersion, actor, reason)
	})
	return version, made && err == nil, err
}

// putFlag writes f when live's set compiles with it, over live's version
// only (PutFlag).
func (s *Service) putFlag(ctx context.Context, live *Live, f *valueloop.Flag, ifVersion int64, actor, reason string) (int64, error) {
	cur := live.Snapshot.Set()
	next := merge(cur, &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{f.Key: f}, Evaluators: cur.Evaluators, Metadata: cur.Metadata})
	if _, err := evaluation.Compile(next); err != nil {
		return 0, err
	}
	version, _, err := s.store.PutFlagOver(ctx, live.Environment.Key, live.Version, f, ifVersion, actor, reason)
	if err != nil {
		return 0, err
	}
	return version, nil
}

// againstStored calls write with env's live set, and reloads env once it
// wrote; when it fails with ECONFLICT or ENOTFOUND and reloading env shows
// a newer set, it calls write again with that one, up to maxMerges times
// in all: on several nodes the live set may lag behind a peer's change
// (the flag's creation, a rollout's step, an evaluator removed). PutFlag
// and SetState share this one loop rather than each retrying (SetState
// around PutFlag was up to 25 writes). The caller holds writeMu.
func (s *Service) againstStored(ctx context.Context, env string, write func(*Live) (int64, error)) (int64, error) {
	for attempt := 1; ; attempt++ {
		live := s.Live(env)
		if live == nil {
			return 0, s.UnknownEnvironment(env)
		}
		version, err := write(live)
		if err == nil {
			return version, s.reload(ctx, live.Environment)
		}
		if code := valueloop.ErrorCode(err); attempt == maxMerges || (code != valueloop.ENOTFOUND && code != valueloop.ECONFLICT) {
			return version, err
		}
		if rerr := s.reload(ctx, live.Environment); rerr != nil || s.Live(env).Version == live.Version {
			return version, err
		}
	}
}

// SetState enables or disables a flag (the kill switch), keeping the rest of
// its definition; ifVersion as for PutFlag (-1: whatever version it is at).
// A switch for which no version was asked is made on the stored flag, as on
// a single node, and one asked at a version the live set does not show yet
// on the flag at that version (againstStored).
func (s *Service) SetState(ctx context.Context, env, key, state string, ifVersion int64, actor, reason string) (int64, error) {
	if err := s.writable(env); err != nil {
		return 0, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.againstStored(ctx, env, func(live *Live) (int64, error) {
		return s.setState(ctx, live, key, state, ifVersion, actor, reason)
	})
}

// setState writes live's flag key with its state set to state, over the
// flag's version ifVersion, or its live version when ifVersion < 0. The
// flag written is live's copy with its state changed, so it is written
// only over the version that copy is: live's copy of another version
// (live lags behind a peer's change, which the caller read) written over
// ifVersion would undo that change.
func (s *Service) setState(ctx context.Context, live *Live, key, state string, ifVersion int64, actor, reason string) (int64, error) {
	cur, ok := live.Snapshot.Set().Flags[key]
	if !ok {
		return 0, valueloop.Errorf(valueloop.ENOTFOUND, "flag %q not found in %s", key, live.Environment.Key)
	}
	if ifVersion >= 0 && cur.Version != ifVersion {
		return 0, valueloop.Errorf(valueloop.ECONFLICT, "flag %q is at version %d, not %d: someone changed it first", key, cur.Version, ifVersion)
	}
	f := *cur
	f.Key, f.State = key, state
	if ifVersion < 0 {
		ifVersion = cur.Version
	}
	return s.putFlag(ctx, live, &f, ifVersion, actor, reason)
}

// DeleteFlag removes a flag; ifVersion as for PutFlag.
func (s *Service) DeleteFlag(ctx context.Context, env, key string, ifVersion int64, actor, reason string) error {
	if err := s.writable(env); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	live := s.Live(env)
	if live == nil {
		return s.UnknownEnvironment(env)
	}
	if _, err := s.store.DeleteFlag(ctx, env, key, ifVersion, actor, reason); err != nil {
		return err
	}
	return s.reload(ctx, live.Environment)
}

// Diff says which flags differ between two sets, comparing definitions in
// their canonical encoding (so key order and whitespace do not count). It is
// what a store's ReplaceFlagSet would report.
func Diff(old, next *valueloop.FlagSet) (valueloop.FlagSetChange, error) {
	plan, err := flagplan.Compare(old, next)
	if err != nil {
		return valueloop.FlagSetChange{}, valueloop.FieldErrorf("flags", "cannot encode: %v", err)
	}
	return plan.Change(0), nil
}

// keyPattern is what an environment key may look like: it appears in URLs,
// metric labels and file names.
var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

func validateEnvironment(env valueloop.Environment) error {
	if !keyPattern.MatchString(env.Key) {
		return valueloop.FieldErrorf("key", "must be 1-64 lower-case letters, digits or - _ and start with a letter")
	}
	// Shown on one line by every client, as a title: no control
	// character, bidirectional ones included (they reorder what a terminal
	// or a page shows after them).
	return valueloop.CheckControl("name", env.Name, false, MaxEnvironmentName, func(rune) bool { return true })
}

// MaxEnvironmentName is the longest name of an environment, in bytes, as
// of a feature's title.
const MaxEnvironmentName = 200
