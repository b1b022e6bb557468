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

	"github.com/valueloop/valueloop/postgres/pgtest"
)

// TestRevokeEndsStreamsOnEveryNode: two `serve --database` nodes on one
// PostgreSQL database. A token revoked through node A ends the flag stream
// it holds open on node B (it once kept delivering flag sets).
func TestRevokeEndsStreamsOnEveryNode(t *testing.T) {
	dsn := pgtest.Schema(t)
	a := MustServe(t, "", "--database", dsn)
	b := MustServe(t, "", "--database", dsn)
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
	var stream *http.Response
	waitUntil(t, "node B streams with the new token", 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", b.URL+"/api/v1/environments/production/stream", nil)
		req.Header.Set("Authorization", "Bearer "+created.Secret)
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
	req, _ := http.NewRequest("DELETE", a.URL+"/api/v1/tokens/"+strconv.FormatInt(created.Token.ID, 10), nil)
	req.Header.Set("Authorization", "Bearer "+a.Admin)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode/100 != 2 {
		t.Fatalf("revoke through node A: %v %v", r, err)
	}
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
