// Package cluster is what a node needs to work beside its peers on one
// shared database: a Follower that brings this node's in-memory state (flag
// snapshots, tokens) up to date when a peer changed the stored state, driven
// by a feed of change notifications with a periodic version check as the
// safety net for missed ones; and Singleton, work that must run on one node
// at a time, with Solo, the single node's implementation (it always leads);
// and Every, the periodic loop such work usually is.
//
// The database side (sending and receiving notifications, reading versions,
// holding leader locks) is the store's: package postgres. With the embedded
// SQLite store there is one node, no feed, and Solo.
package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Kinds of change.
const (
	KindFlags   = "flags"   // an environment or its flags; Env names it
	KindTokens  = "tokens"  // a token was created or revoked
	KindMetrics = "metrics" // a metric definition of Env changed
	// KindResync says notifications may have been missed (the feed
	// reconnected): re-read everything.
	KindResync = "resync"
)

// Change is one notification of a peer's (or this node's own) committed
// change.
type Change struct {
	Kind string
	Env  string
}

// Versions are the stored versions a node compares with what it holds.
type Versions struct {
	// Environments maps each environment to its flag set version.
	Environments map[string]int64
	// Tokens and Metrics count the changes of tokens and metric
	// definitions.
	Tokens, Metrics int64
}

// Singleton runs work that must run on one node at a time.
type Singleton interface {
	// Run runs fn whenever this node holds the lock called name, with a
	// context that ends when the lock is lost or ctx ends; fn is usually a
	// loop that runs until its context ends. When fn returns an error it is
	// logged and fn runs again after a pause (still only while leading);
	// when it returns nil, Run returns nil. Run returns when ctx ends.
	Run(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// Solo is the Singleton of a node that is alone (SQLite): it always leads.
type Solo struct {
	Logger *slog.Logger
	// Pause between a failed run of fn and the next (default 1s).
	Pause time.Duration
}

var _ Singleton = Solo{}

// Run runs fn at once, again after a pause when it fails, until ctx ends.
func (s Solo) Run(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	pause := s.Pause
	if pause <= 0 {
		pause = time.Second
	}
	for {
		err := fn(ctx)
		if ctx.Err() != nil || err == nil {
			return nil
		}
		if s.Logger != nil {
			s.Logger.Error("singleton work failed; retrying", "name", name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
	}
}

// Every runs fn at once and then every interval until ctx ends. An error
// from fn is passed to log with msg (as "err") unless ctx has ended, since
// the work cut short by a stop is no failure; the next run comes at the next
// tick. log is a *slog.Logger's method of the level the caller wants.
func Every(ctx context.Context, interval time.Duration, fn func(ctx context.Context) error, log func(msg string, args ...any), msg string) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			log(msg, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Exclude locks mu, the lock of this node's work of one kind, then, when
// lock is not nil, the same work's lock over the nodes (a store shared by
// several: PostgreSQL); it returns the context to work under (the store's
// writes under it commit only while the lock over the nodes is held) and
// the function that releases both. A caller whose ctx ends while mu is held elsewhere stops waiting with
// ctx's error (a request whose client went away, a tick at shutdown); the
// wait it gave up on takes mu and lets it go at once when mu comes free.
func Exclude(ctx context.Context, mu *sync.Mutex, lock func(ctx context.Context) (context.Context, func(), error)) (context.Context, func(), error) {
	if err := lockContext(ctx, mu); err != nil {
		return nil, nil, err
	}
	if lock == nil {
		return ctx, mu.Unlock, nil
	}
	ctx, release, err := lock(ctx)
	if err != nil {
		mu.Unlock()
		return nil, nil, err
	}
	return ctx, func() { release(); mu.Unlock() }, nil
}

// lockContext locks mu, or returns ctx's error when ctx ends first. A free
// mu costs what mu.Lock does; only a wait starts a goroutine, as a
// sync.Mutex cannot be waited for beside a channel.
func lockContext(ctx context.Context, mu *sync.Mutex) error {
	if mu.TryLock() {
		return nil
	}
	locked := make(chan struct{})
	go func() {
		mu.Lock()
		close(locked)
	}()
	select {
	case <-locked:
		return nil
	case <-ctx.Done():
		go func() {
			<-locked
			mu.Unlock()
		}()
		return ctx.Err()
	}
}
