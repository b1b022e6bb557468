package postgres

import (
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
	db := NewDB(pgtest.Schema(t))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for name, want := range map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"} {
		var got string
		if err := conn.QueryRow(t.Context(), "SHOW "+name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s on the dedicated connection, want %s", name, got, want)
		}
	}
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
