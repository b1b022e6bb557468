package postgres

import (
	"maps"
	"slices"
	"testing"

	"github.com/valueloop/valueloop/postgres/pgtest"
)

// TestDedicatedConnectionKeepalives: the connection holding the leaders'
// session locks (and the LISTEN one) asks the server for TCP keepalives
// of its own. A node whose host vanishes (power cut, network partition)
// sends no FIN: without them the server keeps its session, and with it
// the locks, until the system's keepalive gives up (two hours and more by
// default on Linux), and no other node does the singleton work meanwhile.
func TestDedicatedConnectionKeepalives(t *testing.T) {
	want := map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}
	for name, got := range dedicatedSettings(t, pgtest.Schema(t), slices.Collect(maps.Keys(want))...) {
		if got != want[name] {
			t.Errorf("%s = %s on the dedicated connection, want %s", name, got, want[name])
		}
	}
}

// dedicatedSettings opens a store on dsn and returns the named settings
// as one of its dedicated connections (db.connect) sees them.
func dedicatedSettings(t *testing.T, dsn string, names ...string) map[string]string {
	t.Helper()
	db := NewDB(dsn)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	got := map[string]string{}
	for _, name := range names {
		var v string
		if err := conn.QueryRow(t.Context(), "SHOW "+name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		got[name] = v
	}
	return got
}

// TestPooledConnectionKeepalives: the pooled connections ask for the same
// keepalives. The rollouts' and the features' cross-node locks
// (LockRollouts, LockSync) are held in a transaction of a pooled
// connection: a node that vanished while holding one kept every other
// node's rollout transitions and syncs waiting for two hours and more.
func TestPooledConnectionKeepalives(t *testing.T) {
	db := NewDB(pgtest.Schema(t))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, want := range map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"} {
		var got string
		if err := db.pool.QueryRow(t.Context(), "SHOW "+name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s on a pooled connection, want %s", name, got, want)
		}
	}
}

// TestDedicatedConnectionNoServerTimeouts: a role, database or DSN that
// sets idle_session_timeout or tcp_user_timeout below the leader's grace
// would let the server end the leader's session (and free its lock for
// another node) while the leader, its pings unanswered, still runs its
// work for up to Grace: two leaders at once. The dedicated connection
// turns both off for itself.
func TestDedicatedConnectionNoServerTimeouts(t *testing.T) {
	dsn := pgtest.WithParam(t, pgtest.Schema(t), "idle_session_timeout", "1s")
	dsn = pgtest.WithParam(t, dsn, "tcp_user_timeout", "1000")
	for name, got := range dedicatedSettings(t, dsn, "idle_session_timeout", "tcp_user_timeout") {
		if got != "0" {
			t.Errorf("%s = %s on the dedicated connection, want 0", name, got)
		}
	}
}
