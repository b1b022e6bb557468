package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
)

// TestStreamCapPerClient: one client address holds at most a quarter of
// MaxStreams flag streams (MaxStreamsPerClient's default), of every kind
// together: SSE, flagd's streams with credentials and flagd's anonymous
// event streams. Without it one address holding the client token that
// every web page of an app carries (it opens flagd event streams) took
// every MaxStreams slot, and every in-process SDK's stream was refused;
// with no token at all it took every anonymous one. Another address opens
// its own, and a stream closed gives its place back.
func TestStreamCapPerClient(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
		srv.Limits = httpapi.Limits{MaxStreams: 8, LimitLoopback: true}
		withFlagd(srv, 0)
	})
	client, err := e.auth.Create(context.Background(), &valueloop.Token{Name: "browser", Scope: valueloop.ScopeEvaluate, Environment: "production", Client: true}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	const events = "/flagd.evaluation.v1.Service/EventStream"
	a, b := clientFrom(t, 1), clientFrom(t, 2)
	ok, closeFirst := openFlagdStreamVia(t, a, e.srv.URL(), events, client)
	if !ok {
		t.Fatal("first stream refused")
	}
	if code := openSSEVia(t, a, e.srv.URL(), e.eval); code != http.StatusOK {
		t.Fatalf("second stream: %d, want 200", code)
	}
	if ok, _ := openFlagdStreamVia(t, a, e.srv.URL(), events, client); ok {
		t.Error("a third flagd event stream from one address opened (2 of MaxStreams 8 each), want ResourceExhausted")
	}
	if ok, _ := openFlagdStreamVia(t, a, e.srv.URL(), events, ""); ok {
		t.Error("a third, anonymous, event stream from one address opened, want ResourceExhausted")
	}
	if code := openSSEVia(t, a, e.srv.URL(), e.eval); code != http.StatusTooManyRequests {
		t.Errorf("a third SSE stream from one address: %d, want 429", code)
	}
	if ok, _ := openFlagdStreamVia(t, b, e.srv.URL(), events, client); !ok {
		t.Error("another address's stream refused")
	}
	if code := openSSEVia(t, b, e.srv.URL(), e.eval); code != http.StatusOK {
		t.Errorf("another address's SSE stream: %d, want 200", code)
	}
	closeFirst()
	deadline := time.Now().Add(10 * time.Second)
	for openSSEVia(t, a, e.srv.URL(), e.eval) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("a stream closed did not give its address's place back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamCapPerClientBehindProxy: behind a trusted proxy the streams
// are counted by the client its X-Forwarded-For names, not by the proxy,
// which carries every client's.
func TestStreamCapPerClientBehindProxy(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
		srv.Limits = httpapi.Limits{MaxStreams: 8, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	})
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		if code := openSSEForwarded(t, http.DefaultClient, e.srv.URL(), e.eval, "203.0.113.7"); code != want {
			t.Errorf("stream %d of 203.0.113.7 through the proxy: %d, want %d", i+1, code, want)
		}
	}
	if code := openSSEForwarded(t, http.DefaultClient, e.srv.URL(), e.eval, "203.0.113.8"); code != http.StatusOK {
		t.Errorf("another client through the proxy: %d, want 200", code)
	}
}

// clientFrom returns a client whose connections come from 127.0.0.ip.
func clientFrom(t *testing.T, ip byte) *http.Client {
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// openSSEVia opens production's flag stream through hc with token and
// returns its status; a stream opened stays open until the test ends.
func openSSEVia(t *testing.T, hc *http.Client, base, token string) int {
	t.Helper()
	return openSSEForwarded(t, hc, base, token, "")
}

// openSSEForwarded is openSSEVia with X-Forwarded-For: xff (none if
// empty).
func openSSEForwarded(t *testing.T, hc *http.Client, base, token, xff string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/environments/production/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return resp.StatusCode
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	return resp.StatusCode
}
