package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/provider"
)

// eventProvider returns a provider that reports exposures and sends small
// batches often.
func eventProvider(srv *testServer) *provider.Provider {
	p := srv.NewProvider()
	p.NoExposures = false
	p.BatchSize = 4
	p.FlushInterval = 20 * time.Millisecond
	p.ShutdownTimeout = 5 * time.Second
	return p
}

// waitStats polls p's stats until ok holds.
func waitStats(t *testing.T, p *provider.Provider, what string, ok func(provider.Stats) bool) provider.Stats {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := p.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: still not %s after 15s", s, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExposuresAndTrackingDelivered: exposures (once per flag, variant and
// user within an interval) and tracking events reach the real server's
// event endpoint in batches and are stored as sent, each exposure with its
// evaluation's reason and whether the split chose the variant: the
// split's (SPLIT) in it, a static flag's and a rule's outside.
func TestExposuresAndTrackingDelivered(t *testing.T) {
	srv := MustServe(t)
	p := eventProvider(srv)
	MustInit(t, p)
	ctx := context.Background()

	assigned := map[string]string{}
	for i := range 10 {
		key := fmt.Sprintf("user-%d", i)
		for range 3 { // repeated evaluations: one exposure
			d := p.StringEvaluation(ctx, "checkout", "x", openfeature.FlattenedContext{"targetingKey": key})
			assigned[key] = d.Variant
		}
	}
	// A static flag's variant, and a rule's (TARGETING_MATCH, which alone
	// would count as in): exposures outside the split.
	p.BooleanEvaluation(ctx, "dark-mode", true, openfeature.FlattenedContext{"targetingKey": "user-0"})
	p.FloatEvaluation(ctx, "discount", 0, openfeature.FlattenedContext{"targetingKey": "user-0", "country": "NZ"})
	// No exposure: no targeting key; no variant (disabled, missing flag).
	p.BooleanEvaluation(ctx, "dark-mode", true, nil)
	p.BooleanEvaluation(ctx, "holiday-banner", true, openfeature.FlattenedContext{"targetingKey": "user-1"})
	p.BooleanEvaluation(ctx, "no-such-flag", true, openfeature.FlattenedContext{"targetingKey": "user-1"})

	for i := range 3 {
		p.Track(ctx, "purchase", openfeature.NewEvaluationContext(fmt.Sprintf("user-%d", i), nil),
			openfeature.NewTrackingEventDetails(float64(10*(i+1))).Add("currency", "EUR"))
	}
	// Refused by Track (no targeting key) and by the server (a key longer
	// than it accepts).
	p.Track(ctx, "purchase", openfeature.NewEvaluationContext("", nil), openfeature.NewTrackingEventDetails(1))
	p.Track(ctx, "purchase", openfeature.NewEvaluationContext(strings.Repeat("k", 300), nil), openfeature.NewTrackingEventDetails(1))

	st := waitStats(t, p, "all judged", func(s provider.Stats) bool { return s.Sent+s.Rejected == 17 && s.Queued == 0 })
	if st.Sent != 15 || st.Rejected != 2 || st.Dropped != 0 {
		t.Errorf("stats = %+v, want Sent 15, Rejected 2, Dropped 0", st)
	}

	stored := srv.StoredEvents(t)
	exposures := map[string]string{}
	var tracked []string
	for _, ev := range stored {
		switch ev.Type {
		case ingest.Exposure:
			if ev.Flag == "dark-mode" || ev.Flag == "discount" {
				if ev.TargetingKey != "user-0" || !ev.OutsideSplit {
					t.Errorf("exposure %+v, want user-0's, outside the split", ev)
				}
				continue
			}
			if ev.Flag != "checkout" || !ev.TimeSet || ev.OutsideSplit {
				t.Errorf("exposure %+v, want flag checkout with a time", ev)
			}
			if _, dup := exposures[ev.TargetingKey]; dup {
				t.Errorf("exposure of %s stored twice", ev.TargetingKey)
			}
			exposures[ev.TargetingKey] = ev.Variant
		case ingest.Tracking:
			if ev.ID == "" || !ev.TimeSet || !ev.HasValue {
				t.Errorf("tracking event %+v, want an id, a time and a value", ev)
			}
			tracked = append(tracked, fmt.Sprintf("%s %s %g %s", ev.Name, ev.TargetingKey, ev.FloatValue(), ev.Attributes))
		}
	}
	if fmt.Sprint(exposures) != fmt.Sprint(assigned) {
		t.Errorf("stored exposures %v,\nwant the assignments %v", exposures, assigned)
	}
	sort.Strings(tracked)
	want := []string{
		`purchase user-0 10 {"currency":"EUR"}`,
		`purchase user-1 20 {"currency":"EUR"}`,
		`purchase user-2 30 {"currency":"EUR"}`,
	}
	if fmt.Sprint(tracked) != fmt.Sprint(want) {
		t.Errorf("stored tracking events %q,\nwant %q", tracked, want)
	}
}

// TestEventsQueuedUntilEndpointExists: against a server without the event
// endpoint (404) events stay queued within the bound, the excess is
// dropped and counted, and the queue is delivered once the endpoint exists.
func TestEventsQueuedUntilEndpointExists(t *testing.T) {
	srv := MustServe(t)
	srv.Stop(t)
	srv.NoEvents = true
	srv.Start(t)
	p := eventProvider(srv)
	p.QueueLimit = 5
	p.MaxBackoff = 50 * time.Millisecond
	MustInit(t, p)
	ctx := context.Background()

	for i := range 8 {
		p.Track(ctx, fmt.Sprintf("step-%d", i), openfeature.NewEvaluationContext("user-1", nil), openfeature.NewTrackingEventDetails(1))
	}
	st := waitStats(t, p, "failing to send", func(s provider.Stats) bool { return s.SendFailures >= 2 })
	if st.Queued != 5 || st.Dropped != 3 || st.Sent != 0 {
		t.Errorf("while the endpoint is missing: stats = %+v, want Queued 5, Dropped 3, Sent 0", st)
	}

	srv.Stop(t)
	srv.NoEvents = false
	srv.Start(t)
	waitStats(t, p, "all sent", func(s provider.Stats) bool { return s.Sent == 5 && s.Queued == 0 })
	var names []string
	for _, ev := range srv.StoredEvents(t) {
		names = append(names, ev.Name)
	}
	sort.Strings(names)
	if want := []string{"step-0", "step-1", "step-2", "step-3", "step-4"}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("stored %v, want the first five (the newest are dropped) %v", names, want)
	}
}

// TestShutdownFlushes: Shutdown sends what is queued; what it cannot send
// counts as dropped.
func TestShutdownFlushes(t *testing.T) {
	tests := []struct {
		name                   string
		status                 int
		sent, dropped, refused uint64
	}{
		{"delivered", http.StatusOK, 3, 0, 0},
		{"server failing", http.StatusServiceUnavailable, 0, 3, 0},
		{"request refused", http.StatusBadRequest, 0, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			posts := 0
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/v1/environments/test/stream", streamOneSet)
			mux.HandleFunc("POST /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				posts++
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				if tt.status == http.StatusOK {
					w.Write([]byte(`{"received":3,"stored":3,"duplicates":0,"rejected":0,"results":[]}`))
				} else {
					w.Write([]byte(`{"error":{"code":"x","message":"no"}}`))
				}
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			p := scriptProvider(srv.URL)
			p.FlushInterval = time.Hour // only Shutdown sends
			p.ShutdownTimeout = 500 * time.Millisecond
			if err := p.Init(openfeature.EvaluationContext{}); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				p.Track(context.Background(), "e", openfeature.NewEvaluationContext(fmt.Sprint(i), nil), openfeature.NewTrackingEventDetails(0))
			}
			p.Shutdown()
			st := p.Stats()
			if st.Sent != tt.sent || st.Dropped != tt.dropped || st.Rejected != tt.refused || st.Queued != 0 {
				t.Errorf("stats = %+v, want Sent %d, Dropped %d, Rejected %d, Queued 0", st, tt.sent, tt.dropped, tt.refused)
			}
			mu.Lock()
			defer mu.Unlock()
			if posts != 1 {
				t.Errorf("%d posts, want 1 (no retry at shutdown)", posts)
			}
		})
	}
}
