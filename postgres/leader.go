package postgres

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop/cluster"
)

// Leader elects, per name of singleton work, the one node that does it: the
// holder of a PostgreSQL session advisory lock on a dedicated connection.
// When the holder dies, its connection closes and PostgreSQL releases the
// lock at once; another node's next attempt (every Poll) takes it. When the
// holder's connection closes (its backend terminated, the database
// restarted), it stops the work at once: its session, and with it the lock,
// is gone. A ping that is only slow or unanswered (a network blip, a
// database busy for a moment) is waited for, and retried, up to Grace after
// the last answer before the work stops: the server keeps the session, and
// the lock, at least that long (see Grace), so no other node can lead
// meanwhile.
//
// Construct with NewLeader, set fields, Open; Close stops leading.
type Leader struct {
	// Poll is how often a node that does not lead tries to take a lock,
	// and how often a leader checks its connection (default 500ms).
	Poll time.Duration
	// Pause after fn failed before it runs again (default 1s).
	Pause time.Duration
	// Grace is how long a leader keeps its work running while its pings
	// go unanswered (default 5s). It must stay below the time the server
	// keeps a silent client's session: the dedicated connection asks for
	// TCP keepalives after 10 s of silence (connect), so before 10 s no
	// keepalive can end the session and free the lock for another node.
	Grace  time.Duration
	Logger *slog.Logger

	db   *DB
	mu   sync.Mutex // guards conn, held and answered
	conn *pgx.Conn
	// heldMu guards held too, written under both: Leading (/metrics)
	// does not wait for a ping, which may take up to Grace under mu.
	heldMu sync.Mutex
	// answered is when the server last answered on conn (a lock taken, a
	// ping): the start of the grace of a leader whose pings fail.
	answered time.Time
	held     map[string]context.CancelFunc
	cancel   context.CancelFunc
	done     chan struct{}
	closing  bool
}

var _ cluster.Singleton = (*Leader)(nil)

// NewLeader returns a leader elector over db.
func NewLeader(db *DB) *Leader {
	return &Leader{db: db, Logger: db.Logger}
}

// Open starts the connection check.
func (l *Leader) Open() error {
	if l.Poll <= 0 {
		l.Poll = 500 * time.Millisecond
	}
	if l.Pause <= 0 {
		l.Pause = time.Second
	}
	if l.Grace <= 0 {
		l.Grace = 5 * time.Second
	}
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	l.held = map[string]context.CancelFunc{}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done = make(chan struct{})
	go l.watch(ctx)
	return nil
}

// Close stops every run's work and releases the locks (by closing the
// connection). Runs return when their contexts end.
func (l *Leader) Close() error {
	if l.cancel == nil {
		return nil
	}
	l.cancel()
	<-l.done
	l.mu.Lock()
	l.closing = true
	l.dropLocked()
	l.mu.Unlock()
	return nil
}

// Leading reports whether this node holds the lock called name.
func (l *Leader) Leading(name string) bool {
	l.heldMu.Lock()
	defer l.heldMu.Unlock()
	_, ok := l.held[name]
	return ok
}

// Run runs fn whenever this node holds the lock called name (see
// cluster.Singleton).
func (l *Leader) Run(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	for {
		leadCtx, ok := l.acquire(ctx, name)
		if ok {
			l.Logger.Info("singleton work: leading", "name", name)
			err := fn(leadCtx)
			lost := leadCtx.Err() != nil && ctx.Err() == nil
			l.release(name)
			switch {
			case ctx.Err() != nil:
				return nil
			case lost:
				l.Logger.Warn("singleton work: lock lost; stopped", "name", name)
			case err == nil:
				return nil
			default:
				l.Logger.Error("singleton work failed; retrying", "name", name, "err", err)
				if !sleep(ctx, l.Pause) {
					return nil
				}
			}
			continue
		}
		if !sleep(ctx, l.Poll) {
			return nil
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// acquire tries once to take the lock called name.
func (l *Leader) acquire(ctx context.Context, name string) (context.Context, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing || l.held[name] != nil || ctx.Err() != nil {
		return nil, false
	}
	if l.conn == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := l.db.connect(cctx)
		cancel()
		if err != nil {
			return nil, false
		}
		l.conn = conn
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var ok bool
	if err := l.conn.QueryRow(qctx, `SELECT pg_try_advisory_lock($1, $2)`, lockLeader, l.db.lockKey(name)).Scan(&ok); err != nil {
		l.dropLocked()
		return nil, false
	}
	if !ok {
		return nil, false
	}
	l.answered = time.Now()
	leadCtx, stop := context.WithCancel(ctx)
	l.heldMu.Lock()
	l.held[name] = stop
	l.heldMu.Unlock()
	return leadCtx, true
}

// release gives up the lock called name after its work stopped.
func (l *Leader) release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stop, ok := l.held[name]
	if !ok {
		return // dropped with the connection
	}
	stop()
	l.heldMu.Lock()
	delete(l.held, name)
	l.heldMu.Unlock()
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, lockLeader, l.db.lockKey(name)); err != nil {
			l.dropLocked()
		}
	}
}

// dropLocked closes the connection, which releases every lock it held, and
// stops the work of each. l.mu is held.
func (l *Leader) dropLocked() {
	l.heldMu.Lock()
	for name, stop := range l.held {
		stop()
		delete(l.held, name)
	}
	l.heldMu.Unlock()
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		l.conn.Close(ctx)
		cancel()
		l.conn = nil
	}
}

// watch checks the connection while it holds locks: a leader whose
// connection closed, or that the database has not answered for Grace,
// stops its work.
func (l *Leader) watch(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		if l.conn != nil && len(l.held) > 0 {
			l.checkLocked(ctx)
		}
		l.mu.Unlock()
	}
}

// checkLocked pings the server and stops the work when the lock is gone or
// may be: at once when the connection closed, since its session (and the
// lock) went with it; else once Grace passed since the server last
// answered. A slow answer is waited for until then: a ping's deadline is
// the rest of the grace, not a fixed second, as one missed answer within
// the grace proves nothing about the session. (A ping that outlives its
// deadline closes the connection: pgx cannot tell what the server will
// still send.) l.mu is held.
func (l *Leader) checkLocked(ctx context.Context) {
	left := l.Grace - time.Since(l.answered)
	pctx, cancel := context.WithTimeout(ctx, max(left, time.Millisecond))
	defer cancel()
	err := l.conn.Ping(pctx)
	switch {
	case err == nil:
		l.answered = time.Now()
	case ctx.Err() != nil: // Close: it drops the locks itself
	case l.conn.IsClosed() || time.Since(l.answered) >= l.Grace:
		l.Logger.Warn("singleton work: lost the database connection; stopping the work", "err", err,
			"unanswered", time.Since(l.answered).Round(time.Millisecond))
		l.dropLocked()
	default:
		l.Logger.Warn("singleton work: the database did not answer; retrying within the grace", "err", err,
			"grace", l.Grace)
	}
}
