package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	evalv2 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v2"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagdapi"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/valuelooptest"
)

// withFlagd mounts flagd's protocols (package flagdapi) on srv as serve
// does.
func withFlagd(srv *httpapi.Server, max int) *flagdapi.Server {
	f := &flagdapi.Server{Flags: srv.Flags, Auth: srv.Auth, Closing: make(chan struct{}), MaxAnonymousStreams: max, StreamSlot: srv.StreamSlot}
	srv.Protocols, srv.StreamPaths = f.Handlers(), flagdapi.StreamPaths
	f.Register(srv.Registry)
	return f
}

// flagdMethod is one RPC of flagd's services.
type flagdMethod struct {
	procedure string // "/flagd.sync.v1.FlagSyncService/SyncFlags"
	streaming bool
}

// flagdMethods lists every method of the services flagdapi serves, from
// their descriptors: a method added to a service is covered at once.
func flagdMethods(t *testing.T) []flagdMethod {
	var out []flagdMethod
	for _, fd := range []protoreflect.FileDescriptor{syncv1.File_flagd_sync_v1_sync_proto, evalv1.File_flagd_evaluation_v1_evaluation_proto, evalv2.File_flagd_evaluation_v2_evaluation_proto} {
		for i := range fd.Services().Len() {
			svc := fd.Services().Get(i)
			for j := range svc.Methods().Len() {
				m := svc.Methods().Get(j)
				out = append(out, flagdMethod{procedure: "/" + string(svc.FullName()) + "/" + string(m.Name()), streaming: m.IsStreamingServer()})
			}
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d flagd methods", len(out))
	}
	return out
}

// flagdCall calls m with the Connect protocol (JSON) and returns the
// error's code, or "ok" (for a stream: its first message arrived).
func flagdCall(t *testing.T, base string, m flagdMethod, token, selector string) string {
	t.Helper()
	err := flagdCallWith(http.DefaultClient, base, m, token, selector, connect.WithProtoJSON())
	if err == nil {
		return "ok"
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code().String()
	}
	return err.Error()
}

// flagdCallWith calls m through hc with opts (the protocol, the codec) and
// returns its error, nil for a stream whose first message arrived.
func flagdCallWith(hc *http.Client, base string, m flagdMethod, token, selector string, opts ...connect.ClientOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := connect.NewClient[structpb.Struct, structpb.Struct](hc, base+m.procedure, opts...)
	msg, _ := structpb.NewStruct(map[string]any{"flagKey": "checkout"})
	if strings.Contains(m.procedure, "sync") || strings.HasSuffix(m.procedure, "/ResolveAll") || strings.HasSuffix(m.procedure, "/EventStream") {
		msg = &structpb.Struct{}
	}
	req := connect.NewRequest(msg)
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	if selector != "" {
		req.Header().Set(flagdapi.SelectorHeader, selector)
	}
	var err error
	if m.streaming {
		var stream *connect.ServerStreamForClient[structpb.Struct]
		if stream, err = c.CallServerStream(ctx, req); err == nil {
			if !stream.Receive() {
				err = stream.Err()
			}
			cancel()
			stream.Close()
		}
	} else {
		_, err = c.CallUnary(ctx, req)
	}
	return err
}

// TestFlagdTokenMatrix: every method of flagd's services with every kind
// of token, as TestRouteTokenMatrix does for the routes. Only the event
// streams answer a call without credentials (flagd's JavaScript provider
// opens them so; they say nothing but "something changed").
func TestFlagdTokenMatrix(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) { withFlagd(srv, 0) })
	stagingAdmin := mustStagingAdmin(t, e)
	client, err := e.auth.Create(context.Background(), &valueloop.Token{Name: "browser", Scope: valueloop.ScopeEvaluate, Environment: "production", Client: true}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := e.auth.Create(context.Background(), &valueloop.Token{Name: "pm", Scope: valueloop.ScopeViewer}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	revoked := mustRevokedToken(t, e)
	allowed := func(code string) bool {
		return code != "unauthenticated" && code != "permission_denied" && code != "internal" && code != "unknown" && !strings.Contains(code, " ")
	}
	for _, m := range flagdMethods(t) {
		t.Run(m.procedure, func(t *testing.T) {
			anonymousOK := strings.HasSuffix(m.procedure, "/EventStream")
			definitions := strings.Contains(m.procedure, "sync")
			for _, tc := range []struct {
				kind, token, selector string
				want                  func(code string) bool
				what                  string
			}{
				{"no token", "", "", func(c string) bool { return c == "unauthenticated" || (anonymousOK && c == "ok") }, "unauthenticated (event streams: ok)"},
				{"unknown token", "vl_admin_guess", "", func(c string) bool { return c == "unauthenticated" }, "unauthenticated"},
				{"unknown token as selector", "", "vl_eval_guess", func(c string) bool { return c == "unauthenticated" }, "unauthenticated"},
				{"evaluate token", e.eval, "", allowed, "allowed"},
				{"client token", client, "", func(c string) bool { return (definitions && c == "permission_denied") || (!definitions && allowed(c)) }, "denied the definitions, else allowed"},
				{"revoked token", revoked, "production", func(c string) bool { return c == "unauthenticated" }, "unauthenticated"},
				{"viewer token", viewer, "production", allowed, "allowed (it reads the definitions; its evaluations record no exposures)"},
				{"admin of another environment", stagingAdmin, "production", func(c string) bool { return c == "permission_denied" }, "permission_denied"},
				{"admin token", adminSecret, "production", allowed, "allowed"},
			} {
				if code := flagdCall(t, e.srv.URL(), m, tc.token, tc.selector); !tc.want(code) {
					t.Errorf("%s: %s, want %s", tc.kind, code, tc.what)
				}
			}
		})
	}
}

// TestFlagdAuthThrottle: failed flagd authentications count against the
// address as the API's do; past the limit flagd calls, good ones included,
// are refused (ResourceExhausted) and so are the API's (429).
func TestFlagdAuthThrottle(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
		srv.Limits = httpapi.Limits{AuthFailures: 3, AuthWindow: time.Hour, ThrottleLoopback: true}
		withFlagd(srv, 0)
	})
	m := flagdMethod{procedure: "/flagd.evaluation.v1.Service/ResolveBoolean"}
	for i, want := range []string{"unauthenticated", "unauthenticated", "unauthenticated", "resource_exhausted"} {
		if code := flagdCall(t, e.srv.URL(), m, fmt.Sprintf("vl_guess_%d", i), "production"); code != want {
			t.Errorf("guess %d: %s, want %s", i, code, want)
		}
	}
	if code := flagdCall(t, e.srv.URL(), flagdMethod{procedure: "/flagd.evaluation.v1.Service/ResolveString"}, e.eval, ""); code != "resource_exhausted" {
		t.Errorf("good token from the throttled address: %s, want resource_exhausted", code)
	}
	if resp, _ := e.do(t, call{method: "GET", path: "/api/v1/environments", token: adminSecret}); resp.StatusCode != 429 {
		t.Errorf("API call from the throttled address: %d, want 429", resp.StatusCode)
	}
	_, body := e.do(t, call{method: "GET", path: "/metrics"})
	if !strings.Contains(body, "valueloop_auth_failures_total 3") {
		t.Errorf("metrics do not count the 3 flagd failures:\n%s", valuelooptest.GrepLines(body, "valueloop_auth"))
	}
}

// TestFlagdAnonymousStreamCap: event streams without credentials are
// bounded by MaxAnonymousStreams; one closed frees its place. Streams with
// credentials do not count.
func TestFlagdAnonymousStreamCap(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) { withFlagd(srv, 2) })
	open := func(token string) (bool, context.CancelFunc) {
		return openFlagdStream(t, e.srv.URL(), "/flagd.evaluation.v1.Service/EventStream", token)
	}
	first, closeFirst := open("")
	if !first {
		t.Fatal("first anonymous stream refused")
	}
	if ok, _ := open(""); !ok {
		t.Fatal("second anonymous stream refused")
	}
	if ok, _ := open(e.eval); !ok {
		t.Error("a stream with credentials refused: it must not count")
	}
	if ok, _ := open(""); ok {
		t.Error("third anonymous stream opened, want ResourceExhausted")
	}
	closeFirst()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := e.do(t, call{method: "GET", path: "/metrics"})
		if strings.Contains(body, "valueloop_flagd_anonymous_streams 1") && strings.Contains(body, "valueloop_flagd_anonymous_streams_refused_total 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after closing one stream:\n%s", valuelooptest.GrepLines(body, "valueloop_flagd"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ok, _ := open(""); !ok {
		t.Error("anonymous stream refused after one closed")
	}
}

// TestFlagdStreamsShareMaxStreams: flagd's streams with credentials
// (SyncFlags, EventStream) take MaxStreams slots as the SSE streams do, so
// one token cannot open streams without bound (they were limited only by
// connections times HTTP/2 streams per connection, about a million);
// anonymous event streams keep their own cap, and a stream closed frees
// its slot.
func TestFlagdStreamsShareMaxStreams(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) {
		srv.Limits = httpapi.Limits{MaxStreams: 2}
		withFlagd(srv, 0)
	})
	open := func(procedure, token string) (bool, context.CancelFunc) {
		return openFlagdStream(t, e.srv.URL(), procedure, token)
	}
	const sync, events = "/flagd.sync.v1.FlagSyncService/SyncFlags", "/flagd.evaluation.v1.Service/EventStream"
	ok, closeFirst := open(sync, e.eval)
	if !ok {
		t.Fatal("first stream refused")
	}
	if ok, _ := open(events, e.eval); !ok {
		t.Fatal("second stream refused")
	}
	if ok, _ := open(sync, e.eval); ok {
		t.Error("third SyncFlags stream opened past MaxStreams 2, want ResourceExhausted")
	}
	if ok, _ := open(events, e.eval); ok {
		t.Error("third event stream opened past MaxStreams 2, want ResourceExhausted")
	}
	if ok, _ := open(events, ""); !ok {
		t.Error("anonymous event stream refused: it counts against its own cap only")
	}
	sse := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL()+"/api/v1/environments/production/stream", nil)
		req.Header.Set("Authorization", "Bearer "+e.eval)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := sse(); code != http.StatusServiceUnavailable {
		t.Errorf("SSE stream with two flagd streams open: %d, want 503", code)
	}
	closeFirst()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := e.do(t, call{method: "GET", path: "/metrics"})
		if strings.Contains(body, "valueloop_stream_slots 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after closing one stream:\n%s", valuelooptest.GrepLines(body, "valueloop_stream"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := sse(); code != http.StatusOK {
		t.Errorf("SSE stream after a flagd stream closed: %d, want 200", code)
	}
}

// openFlagdStream opens a server stream of procedure (with token, when not
// empty) and waits for its first message: ok is false when the stream was
// refused with ResourceExhausted; cancel closes it.
func openFlagdStream(t *testing.T, base, procedure, token string) (ok bool, cancel context.CancelFunc) {
	t.Helper()
	return openFlagdStreamVia(t, http.DefaultClient, base, procedure, token)
}

// openFlagdStreamVia is openFlagdStream through hc.
func openFlagdStreamVia(t *testing.T, hc *http.Client, base, procedure, token string) (ok bool, cancel context.CancelFunc) {
	t.Helper()
	c := connect.NewClient[structpb.Struct, structpb.Struct](hc, base+procedure, connect.WithProtoJSON())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req := connect.NewRequest(&structpb.Struct{})
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	s, err := c.CallServerStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Receive() {
		var ce *connect.Error
		if errors.As(s.Err(), &ce) && ce.Code() == connect.CodeResourceExhausted {
			return false, cancel
		}
		t.Fatalf("%s: %v", procedure, s.Err())
	}
	return true, cancel
}
