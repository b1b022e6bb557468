package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop/provider"
)

// TestEventPostNotTurnedIntoGet: an event post answered with a redirect
// that Go's client would follow as a GET without the body (301, 302, 303)
// is not followed: the batch stays queued (it was dropped as refused once
// the GET got its 405) and the log says where the server sent it. A 307 or
// 308 keeps the method and the body: the batch is posted there, unless
// the new address is on another host, which Go's client sends no
// Authorization: the batch was posted without its token, refused 401 and
// dropped as refused.
func TestEventPostNotTurnedIntoGet(t *testing.T) {
	for _, tc := range []struct {
		status    int
		otherHost bool // the new address is on another host
		follow    bool
	}{
		{http.StatusMovedPermanently, false, false},
		{http.StatusFound, false, false},
		{http.StatusSeeOther, false, false},
		{http.StatusTemporaryRedirect, false, true},
		{http.StatusPermanentRedirect, false, true},
		{http.StatusTemporaryRedirect, true, false},
		{http.StatusPermanentRedirect, true, false},
	} {
		t.Run(fmt.Sprint(tc.status, map[bool]string{true: " to another host"}[tc.otherHost]), func(t *testing.T) {
			var mu sync.Mutex
			var reached []string // method and body size at the new address
			dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				reached = append(reached, fmt.Sprintf("%s %d", r.Method, len(body)))
				mu.Unlock()
				if r.Method != http.MethodPost {
					http.Error(w, `{"error":{"code":"method_not_allowed","message":"POST only"}}`, http.StatusMethodNotAllowed)
					return
				}
				if r.Header.Get("Authorization") == "" {
					http.Error(w, `{"error":{"code":"unauthorized","message":"no token"}}`, http.StatusUnauthorized)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"received":3,"stored":3,"duplicates":0,"rejected":0,"results":[]}`))
			}))
			defer dest.Close()
			to := dest.URL + "/api/v1/events" // the same host, another port
			if tc.otherHost {
				to = strings.Replace(to, "127.0.0.1", "localhost", 1)
			}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /old/api/v1/environments/test/stream", streamOneSet)
			mux.HandleFunc("POST /old/api/v1/events", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, to, tc.status)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			var logs bytes.Buffer // read once Shutdown has stopped the provider's goroutines
			p := scriptProvider(srv.URL + "/old")
			p.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			p.FlushInterval = 10 * time.Millisecond
			if err := p.Init(openfeature.EvaluationContext{}); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				p.Track(context.Background(), "e", openfeature.NewEvaluationContext(fmt.Sprint(i), nil), openfeature.NewTrackingEventDetails(0))
			}
			if tc.follow {
				st := waitStats(t, p, "sent", func(s provider.Stats) bool { return s.Sent == 3 })
				p.Shutdown()
				mu.Lock()
				defer mu.Unlock()
				if len(reached) != 1 || !strings.HasPrefix(reached[0], "POST ") || reached[0] == "POST 0" || st.Rejected+st.Dropped != 0 {
					t.Errorf("after a %d: requests at the new address %v, stats %+v; want the batch posted there once", tc.status, reached, st)
				}
				return
			}
			st := waitStats(t, p, "failing to send", func(s provider.Stats) bool { return s.SendFailures >= 2 || s.Sent+s.Rejected+s.Dropped > 0 })
			p.Shutdown()
			if st.Queued != 3 || st.Sent+st.Rejected+st.Dropped != 0 {
				t.Errorf("after a %d: stats %+v, want the 3 events still queued, none sent, rejected or dropped", tc.status, st)
			}
			mu.Lock()
			if len(reached) != 0 {
				t.Errorf("after a %d: %v reached the new address, want nothing (a GET without the events, or a post without the token)", tc.status, reached)
			}
			mu.Unlock()
			if log := logs.String(); !strings.Contains(log, "redirected to "+to) {
				t.Errorf("the log does not say where the events were redirected:\n%s", log)
			}
		})
	}
}
