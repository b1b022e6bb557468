package provider_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop/provider"
)

// The tests here drive the provider with a hand-scripted stream server
// (real HTTP, real Server-Sent Events) to reach cases the real server does
// not produce on demand: invalid sets, silence, refusals, failures.

// flagSet returns a flagd file with one string flag "f" whose default
// variant is def.
func flagSet(def string) string {
	return `{
  "flags": {
    "f": {
      "state": "ENABLED",
      "variants": { "a": "A", "b": "B" },
      "defaultVariant": "` + def + `"
    }
  }
}`
}

// writeSet writes one "flags" event the way the server does: indented JSON
// as several data lines.
func writeSet(w http.ResponseWriter, id, data string) {
	var b strings.Builder
	fmt.Fprintf(&b, "id: %s\nevent: flags\n", id)
	for _, line := range strings.Split(data, "\n") {
		fmt.Fprintf(&b, "data: %s\n", line)
	}
	b.WriteString("\n")
	w.Write([]byte(b.String()))
	w.(http.Flusher).Flush()
}

func startStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// streamOneSet serves a stream of one set, f at a, held open until the
// client goes: for tests of what the provider does besides following flags.
func streamOneSet(w http.ResponseWriter, r *http.Request) {
	startStream(w)
	writeSet(w, "1", flagSet("a"))
	<-r.Context().Done()
}

// script serves each stream connection with the next function; it records
// the Last-Event-ID each connection sent. Connections beyond the script get
// the last function.
type script struct {
	mu     sync.Mutex
	steps  []func(w http.ResponseWriter, r *http.Request)
	lastID []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.lastID)
	s.lastID = append(s.lastID, r.Header.Get("Last-Event-ID"))
	step := s.steps[min(n, len(s.steps)-1)]
	s.mu.Unlock()
	step(w, r)
}

// connections returns the Last-Event-ID of every connection so far.
func (s *script) connections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lastID...)
}

func serveScript(t *testing.T, steps ...func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *script) {
	s := &script{steps: steps}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/environments/test/stream", s)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, s
}

func scriptProvider(url string) *provider.Provider {
	p := provider.New(url, "test", "token")
	p.MinBackoff = 10 * time.Millisecond
	p.MaxBackoff = 50 * time.Millisecond
	p.InitTimeout = 10 * time.Second
	p.NoExposures = true
	return p
}

func stringFlag(p *provider.Provider) string {
	return p.StringEvaluation(context.Background(), "f", "code default", nil).Value
}

// TestInvalidSetKeepsLastGood: an invalid set is reported as
// PROVIDER_ERROR and the last good set keeps serving; on reconnect the
// provider asks to resume from the last good version.
func TestInvalidSetKeepsLastGood(t *testing.T) {
	invalidSent := make(chan struct{})
	close1 := make(chan struct{})
	srv, s := serveScript(t,
		func(w http.ResponseWriter, r *http.Request) {
			startStream(w)
			writeSet(w, "1", flagSet("a"))
			<-invalidSent
			writeSet(w, "2", flagSet("no-such-variant"))
			<-close1 // then end the stream
		},
		func(w http.ResponseWriter, r *http.Request) {
			startStream(w)
			writeSet(w, "3", flagSet("b"))
			<-r.Context().Done()
		},
	)
	p := scriptProvider(srv.URL)
	MustInit(t, p)
	if got := stringFlag(p); got != "A" {
		t.Fatalf("first set: f = %q, want A", got)
	}

	close(invalidSent)
	ev := WaitEvent(t, p, openfeature.ProviderError)
	if ev.ErrorCode != openfeature.ParseErrorCode || !strings.Contains(ev.Message, "no-such-variant") {
		t.Errorf("error event = %s %q, want PARSE_ERROR naming the bad variant", ev.ErrorCode, ev.Message)
	}
	if got := stringFlag(p); got != "A" {
		t.Errorf("after the invalid set: f = %q, want A (the last good set)", got)
	}
	if st := p.Stats(); st.Invalid != 1 || st.Syncs != 1 || st.Version != "1" {
		t.Errorf("stats = %+v, want Invalid 1, Syncs 1, Version 1", st)
	}

	close(close1)
	WaitEvent(t, p, openfeature.ProviderReady)
	ev = WaitEvent(t, p, openfeature.ProviderConfigChange)
	if !reflect.DeepEqual(ev.FlagChanges, []string{"f"}) {
		t.Errorf("FlagChanges = %v, want [f]", ev.FlagChanges)
	}
	if got := stringFlag(p); got != "B" {
		t.Errorf("after reconnecting: f = %q, want B", got)
	}
	if got, want := s.connections(), []string{"", "1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Last-Event-ID per connection = %q, want %q", got, want)
	}
}

// TestInvalidFirstSet: Init fails with PARSE_ERROR when the first set is
// invalid.
func TestInvalidFirstSet(t *testing.T) {
	srv, _ := serveScript(t, func(w http.ResponseWriter, r *http.Request) {
		startStream(w)
		writeSet(w, "1", `{"flags": {"f": {"state": "ENABLED"}}}`)
		<-r.Context().Done()
	})
	p := scriptProvider(srv.URL)
	err := p.Init(openfeature.EvaluationContext{})
	defer p.Shutdown()
	var ie *openfeature.ProviderInitError
	if !errors.As(err, &ie) || ie.ErrorCode != openfeature.ParseErrorCode {
		t.Fatalf("Init = %v, want a ProviderInitError with PARSE_ERROR", err)
	}
	if d := p.StringEvaluation(context.Background(), "f", "x", nil); d.ResolutionDetail().ErrorCode != openfeature.ProviderNotReadyCode {
		t.Errorf("evaluation = %+v, want PROVIDER_NOT_READY", d.ResolutionDetail())
	}
}

// TestRetriesUntilServerAnswers: failures before the first set are
// retried with backoff; Init waits through them.
func TestRetriesUntilServerAnswers(t *testing.T) {
	unavailable := func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"internal","message":"starting"}}`, http.StatusServiceUnavailable)
	}
	srv, s := serveScript(t, unavailable, unavailable, unavailable, func(w http.ResponseWriter, r *http.Request) {
		startStream(w)
		writeSet(w, "1", flagSet("b"))
		<-r.Context().Done()
	})
	p := scriptProvider(srv.URL)
	MustInit(t, p)
	if got := stringFlag(p); got != "B" {
		t.Errorf("f = %q, want B", got)
	}
	if n := len(s.connections()); n != 4 {
		t.Errorf("%d connection attempts, want 4", n)
	}
}

// TestReadyAfterInitGaveUp: when Init times out, the provider keeps
// trying and announces PROVIDER_READY itself once a set arrives.
func TestReadyAfterInitGaveUp(t *testing.T) {
	open := make(chan struct{})
	srv, _ := serveScript(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-open:
		default:
			http.Error(w, "not yet", http.StatusBadGateway)
			return
		}
		startStream(w)
		writeSet(w, "1", flagSet("a"))
		<-r.Context().Done()
	})
	p := scriptProvider(srv.URL)
	p.InitTimeout = 100 * time.Millisecond
	err := p.Init(openfeature.EvaluationContext{})
	t.Cleanup(p.Shutdown)
	var ie *openfeature.ProviderInitError
	if !errors.As(err, &ie) || ie.ErrorCode != openfeature.ProviderNotReadyCode {
		t.Fatalf("Init = %v, want a ProviderInitError with PROVIDER_NOT_READY", err)
	}
	close(open)
	WaitEvent(t, p, openfeature.ProviderReady)
	if got := stringFlag(p); got != "A" {
		t.Errorf("f = %q, want A", got)
	}
}

// TestIdleStreamReconnects: a stream that sends nothing, not even a
// heartbeat, for IdleTimeout is abandoned (STALE) and reopened (READY).
func TestIdleStreamReconnects(t *testing.T) {
	srv, s := serveScript(t, func(w http.ResponseWriter, r *http.Request) {
		startStream(w)
		if r.Header.Get("Last-Event-ID") == "" {
			writeSet(w, "1", flagSet("a"))
		}
		<-r.Context().Done() // then silence
	})
	p := scriptProvider(srv.URL)
	p.IdleTimeout = 150 * time.Millisecond
	MustInit(t, p)
	ev := WaitEvent(t, p, openfeature.ProviderStale)
	if !strings.Contains(ev.Message, "nothing received") {
		t.Errorf("stale event says %q, want it to name the silence", ev.Message)
	}
	WaitEvent(t, p, openfeature.ProviderReady)
	if got := s.connections(); len(got) < 2 || got[1] != "1" {
		t.Errorf("Last-Event-ID per connection = %q, want a second connection resuming from 1", got)
	}
	if got := stringFlag(p); got != "A" {
		t.Errorf("f = %q, want A", got)
	}
}

// TestRefusedAfterReady: a token refused on reconnect is reported once
// as PROVIDER_ERROR, retried slowly, and recovery is announced.
func TestRefusedAfterReady(t *testing.T) {
	var mu sync.Mutex
	refusals := 0
	accept := make(chan struct{})
	srv, _ := serveScript(t,
		func(w http.ResponseWriter, r *http.Request) {
			startStream(w)
			writeSet(w, "1", flagSet("a")) // and end the stream
		},
		func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-accept:
				startStream(w)
				<-r.Context().Done()
			default:
				mu.Lock()
				refusals++
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":{"code":"unauthorized","message":"token revoked"}}`))
			}
		},
	)
	p := scriptProvider(srv.URL)
	p.MaxBackoff = 30 * time.Millisecond
	MustInit(t, p)
	WaitEvent(t, p, openfeature.ProviderStale)
	ev := WaitEvent(t, p, openfeature.ProviderError)
	if !strings.Contains(ev.Message, "401") || !strings.Contains(ev.Message, "token revoked") {
		t.Errorf("error event says %q, want the status and the server's message", ev.Message)
	}
	for { // let it retry a few times: no further events
		mu.Lock()
		n := refusals
		mu.Unlock()
		if n >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case ev := <-p.EventChannel():
		t.Fatalf("unexpected event %s (%s) while refused", ev.EventType, ev.Message)
	default:
	}
	if got := stringFlag(p); got != "A" {
		t.Errorf("while refused: f = %q, want A", got)
	}
	close(accept)
	WaitEvent(t, p, openfeature.ProviderReady)
}

// TestHTTPClientWithTimeoutRefused: an HTTPClient with a Timeout would end
// the stream every Timeout (PROVIDER_STALE, then READY, and the whole set
// sent again, over and over); Init refuses it, naming the field.
func TestHTTPClientWithTimeoutRefused(t *testing.T) {
	srv := MustServe(t)
	p := srv.NewProvider()
	p.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	err := p.Init(openfeature.EvaluationContext{})
	defer p.Shutdown()
	if err == nil || !strings.Contains(err.Error(), "HTTPClient.Timeout") || !strings.Contains(err.Error(), "RequestTimeout") {
		t.Errorf("Init = %v, want an error naming HTTPClient.Timeout and what to use instead", err)
	}
}
