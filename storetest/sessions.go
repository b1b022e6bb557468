package storetest

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
)

// SessionStore keeps the dashboard's sessions. A store that implements it
// runs the Sessions case of the contract.
type SessionStore interface {
	CreateSession(ctx context.Context, s valueloop.Session, perToken int) error
	Session(ctx context.Context, hash []byte) (valueloop.Session, valueloop.Token, error)
	TouchSession(ctx context.Context, hash []byte, expires time.Time) error
	DeleteSession(ctx context.Context, hash []byte) error
}

func sessionHash(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// testSessions: sessions are found by hash with their token, extended,
// deleted, capped per token (oldest first), swept when expired, refused for
// a revoked token and ended when their token is revoked.
func testSessions(t *testing.T, st Store, clock *Clock) {
	s := kept[SessionStore](t, st, "the store keeps no sessions")
	ctx := context.Background()
	ann := &valueloop.Token{Name: "ann", Scope: valueloop.ScopeViewer, Environment: "prod"}
	bob := &valueloop.Token{Name: "bob", Scope: valueloop.ScopeAdmin}
	for i, tok := range []*valueloop.Token{ann, bob} {
		if err := st.CreateToken(ctx, tok, []byte{byte(i), 1, 2}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	now := clock.T
	create := func(id string, tok *valueloop.Token, at time.Time, perToken int) {
		t.Helper()
		if err := s.CreateSession(ctx, valueloop.Session{Hash: sessionHash(id), TokenID: tok.ID, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}, perToken); err != nil {
			t.Fatalf("create session %s: %v", id, err)
		}
	}
	live := func(id string) bool {
		t.Helper()
		_, _, err := s.Session(ctx, sessionHash(id))
		if err != nil && valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
			t.Fatalf("session %s: %v", id, err)
		}
		return err == nil
	}

	create("a1", ann, now, 3)
	ses, tok, err := s.Session(ctx, sessionHash("a1"))
	if err != nil || ses.TokenID != ann.ID || tok.ID != ann.ID || tok.Scope != valueloop.ScopeViewer || tok.Environment != "prod" || tok.Name != "ann" ||
		!ses.CreatedAt.Equal(now) || !ses.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("Session(a1) = %+v, %+v, %v; want ann's session from %s to an hour later", ses, tok, err, now)
	}
	if live("unknown") {
		t.Error("an unknown hash is a session")
	}
	if err := s.TouchSession(ctx, sessionHash("a1"), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ses, _, _ := s.Session(ctx, sessionHash("a1")); !ses.ExpiresAt.Equal(now.Add(2 * time.Hour)) {
		t.Errorf("expiry after touch: %s, want %s", ses.ExpiresAt, now.Add(2*time.Hour))
	}

	// The cap: a fourth session of ann ends her oldest; bob's are his own.
	create("b1", bob, now, 3)
	create("a2", ann, now.Add(time.Minute), 3)
	create("a3", ann, now.Add(2*time.Minute), 3)
	create("a4", ann, now.Add(3*time.Minute), 3)
	for id, want := range map[string]bool{"a1": false, "a2": true, "a3": true, "a4": true, "b1": true} {
		if got := live(id); got != want {
			t.Errorf("after a fourth session of ann with a cap of 3: %s live %v, want %v", id, got, want)
		}
	}

	// Creating a session sweeps the expired ones (b1 ended at now+1h).
	create("b2", bob, now.Add(90*time.Minute), 0)
	if live("b1") {
		t.Error("a session expired before a new one was created is still stored")
	}
	if err := s.DeleteSession(ctx, sessionHash("b2")); err != nil || live("b2") {
		t.Errorf("after DeleteSession: err %v, live %v", err, live("b2"))
	}

	// Revoking ann's token ends every session of hers and refuses new ones.
	create("a5", ann, now.Add(90*time.Minute), 0)
	if err := st.RevokeToken(ctx, ann.ID, "t"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a2", "a3", "a4", "a5"} {
		if live(id) {
			t.Errorf("session %s of a revoked token is live", id)
		}
	}
	err = s.CreateSession(ctx, valueloop.Session{Hash: sessionHash("a6"), TokenID: ann.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, 0)
	if valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("a session of a revoked token: %v, want EINVALID", err)
	}
}
