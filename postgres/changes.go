package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop/cluster"
)

// Kinds of change notified by this store (see cluster.Change).
const (
	KindFlags   = cluster.KindFlags
	KindTokens  = cluster.KindTokens
	KindMetrics = cluster.KindMetrics
)

// Versions reads the stored versions that nodes compare with what they hold:
// one cheap query, the periodic safety net for missed notifications.
func (db *DB) Versions(ctx context.Context) (cluster.Versions, error) {
	v := cluster.Versions{Environments: map[string]int64{}}
	rows, err := db.pool.Query(ctx, `SELECT 'env', key, version FROM environments
		UNION ALL SELECT 'counter', kind, n FROM change_counters`)
	if err != nil {
		return v, fmt.Errorf("postgres: read versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var what, key string
		var n int64
		if err := rows.Scan(&what, &key, &n); err != nil {
			return v, err
		}
		switch {
		case what == "env":
			v.Environments[key] = n
		case key == KindTokens:
			v.Tokens = n
		case key == KindMetrics:
			v.Metrics = n
		}
	}
	return v, rows.Err()
}

// Listener receives the change notifications that every node's writes send
// (inside the writing transaction, so they arrive only once committed) over a
// dedicated connection. When the connection drops it reconnects with
// backoff and then sends a cluster.KindResync change, since notifications
// sent meanwhile are lost.
//
// Construct with NewListener, then Open; Close stops it and closes Changes.
type Listener struct {
	// Buffer of Changes (default 1024). When it is full, changes are
	// dropped and a resync is sent once there is room: the receiver
	// re-reads everything anyway.
	Buffer int
	Logger *slog.Logger

	db      *DB
	changes chan cluster.Change
	cancel  context.CancelFunc
	done    chan struct{}
	ready   chan struct{}
	once    sync.Once
	lost    bool
}

// NewListener returns a listener on db's notifications.
func NewListener(db *DB) *Listener {
	return &Listener{db: db, Logger: db.Logger}
}

// Changes returns the channel of received changes.
func (l *Listener) Changes() <-chan cluster.Change { return l.changes }

// Open starts listening and returns once the first LISTEN is in place (or
// failed: then it keeps retrying in the background).
func (l *Listener) Open() error {
	if l.Buffer <= 0 {
		l.Buffer = 1024
	}
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	l.changes = make(chan cluster.Change, l.Buffer)
	l.ready = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done = make(chan struct{})
	go l.run(ctx)
	select {
	case <-l.ready:
	case <-time.After(10 * time.Second):
	}
	return nil
}

// Close stops listening.
func (l *Listener) Close() error {
	if l.cancel == nil {
		return nil
	}
	l.cancel()
	<-l.done
	close(l.changes)
	return nil
}

func (l *Listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := l.listen(ctx, first)
		first = false
		if ctx.Err() != nil {
			return
		}
		l.once.Do(func() { close(l.ready) })
		l.Logger.Warn("postgres: change notifications interrupted; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen holds one connection until it fails.
func (l *Listener) listen(ctx context.Context, first bool) error {
	conn, err := l.db.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.db.channel}.Sanitize()); err != nil {
		return err
	}
	l.once.Do(func() { close(l.ready) })
	if !first {
		l.Logger.Info("postgres: change notifications resumed")
		l.lost = true // whatever was sent while disconnected is gone
	}
	for {
		if l.lost {
			l.send(cluster.Change{Kind: cluster.KindResync})
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		kind, env, _ := strings.Cut(n.Payload, ":")
		l.send(cluster.Change{Kind: kind, Env: env})
	}
}

// send never blocks: a full buffer turns into one resync later.
func (l *Listener) send(c cluster.Change) {
	if l.lost {
		select {
		case l.changes <- cluster.Change{Kind: cluster.KindResync}:
			l.lost = false
		default:
			return
		}
		if c.Kind == cluster.KindResync {
			return
		}
	}
	select {
	case l.changes <- c:
	default:
		l.lost = true
	}
}
