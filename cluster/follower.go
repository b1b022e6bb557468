package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/valueloop/valueloop/flags"
)

// FlagLoader is what the Follower needs of the live flag sets
// (*flags.Service): Load re-reads every environment whose stored version
// differs from the live one, swaps its snapshot and tells the flag streams.
type FlagLoader interface {
	Load(ctx context.Context) error
	Live(env string) *flags.Live
}

// TokenLoader re-reads the live tokens (*auth.Service).
type TokenLoader interface {
	Reload(ctx context.Context) error
}

// Follower keeps this node's flag snapshots and tokens in step with the
// store when other nodes change them. Each change notification is acted on
// at once (a burst of them costs one reload); every Interval the stored
// versions are compared with the live ones, which catches a notification
// lost while the feed was disconnected.
//
// Construct, set fields, Open; Close stops it.
type Follower struct {
	// Changes is the feed of notifications (postgres.Listener.Changes).
	Changes <-chan Change
	// Versions reads the stored versions (postgres.DB.Versions).
	Versions func(ctx context.Context) (Versions, error)
	// Interval of the version check (default 5s).
	Interval time.Duration
	Flags    FlagLoader
	Tokens   TokenLoader
	// OnChange, when set, is called with every other change (metric
	// definitions, resync), once per kind and environment of a burst, and
	// when the version check finds the metric definitions changed.
	OnChange func(ctx context.Context, c Change)
	Logger   *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu                    sync.Mutex
	tokensSeen, metrSeen  int64
	checked               bool
	failing               bool
	reloads, tokenReloads int64
}

// Open starts following.
func (f *Follower) Open() error {
	if f.Flags == nil || f.Tokens == nil || f.Versions == nil {
		return errors.New("cluster: Follower needs Flags, Tokens and Versions")
	}
	if f.Interval <= 0 {
		f.Interval = 5 * time.Second
	}
	if f.Logger == nil {
		f.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.done = make(chan struct{})
	go f.run(ctx)
	return nil
}

// Close stops following and waits for the work in progress.
func (f *Follower) Close() error {
	if f.cancel == nil {
		return nil
	}
	f.cancel()
	<-f.done
	return nil
}

// Reloads returns how often flags and tokens were re-read (for tests and
// metrics).
func (f *Follower) Reloads() (flagSets, tokens int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloads, f.tokenReloads
}

func (f *Follower) run(ctx context.Context) {
	defer close(f.done)
	tick := time.NewTicker(f.Interval)
	defer tick.Stop()
	f.check(ctx)
	for {
		var batch []Change
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f.check(ctx)
			continue
		case c, ok := <-f.Changes:
			if !ok {
				f.Changes = nil // the feed ended: the version check goes on
				continue
			}
			batch = append(batch, c)
		}
		// Take whatever else is waiting, so a burst costs one reload.
	drain:
		for len(batch) < 1024 {
			select {
			case c, ok := <-f.Changes:
				if !ok {
					f.Changes = nil
					break drain
				}
				batch = append(batch, c)
			default:
				break drain
			}
		}
		f.apply(ctx, batch)
	}
}

func (f *Follower) apply(ctx context.Context, batch []Change) {
	var loadFlags, loadTokens, resync bool
	for _, c := range batch {
		switch c.Kind {
		case KindFlags:
			loadFlags = true
		case KindTokens:
			loadTokens = true
		case KindResync:
			resync = true
		}
	}
	if resync {
		f.check(ctx)
		loadFlags, loadTokens = true, true
	}
	if loadFlags {
		f.loadFlags(ctx)
	}
	if loadTokens {
		f.loadTokens(ctx)
	}
	if f.OnChange != nil {
		seen := map[Change]bool{}
		for _, c := range batch {
			if c.Kind != KindFlags && c.Kind != KindTokens && !seen[c] {
				seen[c] = true
				f.OnChange(ctx, c)
			}
		}
	}
}

func (f *Follower) loadFlags(ctx context.Context) {
	f.reload(f.Flags.Load(ctx), "reload flag sets", &f.reloads)
}

func (f *Follower) loadTokens(ctx context.Context) error {
	err := f.Tokens.Reload(ctx)
	f.reload(err, "reload tokens", &f.tokenReloads)
	return err
}

// reload reports the outcome err of a reload and, when it succeeded,
// counts it in *n.
func (f *Follower) reload(err error, what string, n *int64) {
	f.report(err, what)
	if err == nil {
		f.mu.Lock()
		*n++
		f.mu.Unlock()
	}
}

// check compares the stored versions with the live ones and reloads what is
// behind.
func (f *Follower) check(ctx context.Context) {
	v, err := f.Versions(ctx)
	f.report(err, "read stored versions")
	if err != nil {
		return
	}
	behind := false
	for env, version := range v.Environments {
		if l := f.Flags.Live(env); l == nil || l.Version != version {
			behind = true
		}
	}
	if behind {
		f.loadFlags(ctx)
	}
	f.mu.Lock()
	// The first check reloads the tokens whatever their version: a change
	// made after the node first read them but before its feed listened
	// (serve reads them, applies its seeds, then follows) reached no feed
	// here, and taking the version found for the one read would keep a
	// token revoked meanwhile valid on this node until the next change of
	// any token.
	tokens := !f.checked || v.Tokens != f.tokensSeen
	metrics := f.checked && v.Metrics != f.metrSeen
	if !tokens {
		f.tokensSeen = v.Tokens
	}
	f.metrSeen, f.checked = v.Metrics, true
	f.mu.Unlock()
	// The tokens' version counts as seen only once they are reloaded: a
	// failed reload (the store blipped) is tried again at the next check,
	// or a token revoked on a peer would stay valid here until the next
	// token change.
	if tokens && f.loadTokens(ctx) == nil {
		f.mu.Lock()
		f.tokensSeen = v.Tokens
		f.mu.Unlock()
	}
	if metrics && f.OnChange != nil {
		f.OnChange(ctx, Change{Kind: KindMetrics})
	}
}

// report logs the first failure and the recovery, not every failed attempt.
func (f *Follower) report(err error, what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err != nil && !f.failing:
		f.failing = true
		f.Logger.Warn("cluster: cannot "+what+"; serving what is in memory", "err", err)
	case err == nil && f.failing:
		f.failing = false
		f.Logger.Info("cluster: store reachable again")
	}
}
