package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"
	"github.com/valueloop/valueloop/postgres/pgtest"
)

// TestRevokeEndsStreamsOnEveryNode: two `serve --database` nodes on one
// PostgreSQL database. A token revoked through node A ends the flag stream
// it holds open on node B (it once kept delivering flag sets).
func TestRevokeEndsStreamsOnEveryNode(t *testing.T) {
	a, b, id, secret := twoNodesAndToken(t)
	var stream *http.Response
	waitUntil(t, "node B streams with the new token", 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", b.URL+"/api/v1/environments/production/stream", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		r, err := http.DefaultClient.Do(req)
		if err != nil || r.StatusCode != 200 {
			if r != nil {
				r.Body.Close()
			}
			return false
		}
		stream = r
		return true
	})
	defer stream.Body.Close()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stream.Body)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if first := <-lines; !strings.HasPrefix(first, "id: ") {
		t.Fatalf("first line of the stream: %q", first)
	}
	revokeToken(t, a, id)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return // ended
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the stream on node B goes on after its token was revoked on node A")
		}
	}
}

// twoNodesAndToken serves two nodes on one PostgreSQL database and creates,
// through node A, an evaluate token of production.
func twoNodesAndToken(t *testing.T) (a, b *testServer, id int64, secret string) {
	t.Helper()
	dsn := pgtest.Schema(t)
	a = MustServe(t, "", "--database", dsn)
	b = MustServe(t, "", "--database", dsn)
	resp, body := post(t, a.URL+"/api/v1/tokens", a.Admin, `{"name":"sdk","scope":"evaluate","environment":"production"}`)
	var created struct {
		Token struct {
			ID int64 `json:"id"`
		} `json:"token"`
		Secret string `json:"secret"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &created) != nil || created.Secret == "" {
		t.Fatalf("create token: %d %s", resp.StatusCode, body)
	}
	return a, b, created.Token.ID, created.Secret
}

// revokeToken revokes token id through node n.
func revokeToken(t *testing.T, n *testServer, id int64) {
	t.Helper()
	req, _ := http.NewRequest("DELETE", n.URL+"/api/v1/tokens/"+strconv.FormatInt(id, 10), nil)
	req.Header.Set("Authorization", "Bearer "+n.Admin)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("revoke through %s: %v", n.URL, err)
	}
	r.Body.Close()
	if r.StatusCode/100 != 2 {
		t.Fatalf("revoke through %s: %s", n.URL, r.Status)
	}
}

// TestRevokeEndsFlagdSyncOnEveryNode: a token revoked through node A ends,
// with Unauthenticated, the flagd SyncFlags stream it holds open on node B,
// which learns of the revocation only through the database.
func TestRevokeEndsFlagdSyncOnEveryNode(t *testing.T) {
	a, b, id, secret := twoNodesAndToken(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := syncv1connect.NewFlagSyncServiceClient(http.DefaultClient, b.URL)
	var sync *connect.ServerStreamForClient[syncv1.SyncFlagsResponse]
	waitUntil(t, "node B syncs with the new token", 10*time.Second, func() bool {
		req := connect.NewRequest(&syncv1.SyncFlagsRequest{})
		req.Header().Set("Authorization", "Bearer "+secret)
		s, err := client.SyncFlags(ctx, req)
		if err != nil {
			return false
		}
		if !s.Receive() {
			s.Close()
			return false
		}
		sync = s
		return true
	})
	defer sync.Close()
	revokeToken(t, a, id)
	ended := make(chan error, 1)
	go func() {
		for sync.Receive() {
		}
		ended <- sync.Err()
	}()
	select {
	case err := <-ended:
		if code := connect.CodeOf(err); code != connect.CodeUnauthenticated {
			t.Errorf("sync stream on node B ended with %v (%v), want unauthenticated", code, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the SyncFlags stream on node B goes on after its token was revoked on node A")
	}
}
