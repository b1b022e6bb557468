package main

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v1/evaluationv1connect"
	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	"connectrpc.com/connect"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// otlpReceiver is an in-process OTLP/HTTP receiver: it accepts protobuf
// exports at /v1/traces and keeps the spans.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	resource map[string]string
	spans    []*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{resource: map[string]string{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP export to %s as %q", r.URL.Path, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("OTLP body: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.requests++
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				rc.resource[kv.Key] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// find returns the spans that match.
func (rc *otlpReceiver) find(match func(*tracepb.Span) bool) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

func (rc *otlpReceiver) byID(id []byte) *tracepb.Span {
	found := rc.find(func(s *tracepb.Span) bool { return string(s.SpanId) == string(id) })
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

func spanAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// hookReceiver records the traceparent header of every webhook delivery.
func hookReceiver(t *testing.T) (*httptest.Server, chan string) {
	got := make(chan string, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.Header.Get("traceparent")
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func firstHook(t *testing.T, got chan string) string {
	t.Helper()
	select {
	case tp := <-got:
		return tp
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivery within 30s")
		return ""
	}
}

// TestTracingExportsOTLP runs the server with OTEL_EXPORTER_OTLP_ENDPOINT
// set and checks the trace it exports: an incoming traceparent becomes the
// parent of the server span, the evaluation span carries the feature_flag.*
// attributes, store spans are children of server spans, and the rollout
// webhook delivery has its span and carries its traceparent.
func TestTracingExportsOTLP(t *testing.T) {
	rc := newOTLPReceiver(t)
	hooks, traceparents := hookReceiver(t)
	s := MustServeEnv(t, "", map[string]string{
		"VALUELOOP_ADMIN_TOKEN":       testAdminToken,
		"OTEL_EXPORTER_OTLP_ENDPOINT": rc.URL,
		"OTEL_SERVICE_NAME":           "valueloop-test",
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=test%20bed",
	}, "--demo", "--slack-webhook", hooks.URL+"/services/T0/B0/secret")
	hookParent := firstHook(t, traceparents)

	def := filepath.Join(t.TempDir(), "traced.json")
	os.WriteFile(def, []byte(`{"state":"ENABLED","variants":{"off":false,"on":true},"defaultVariant":"on"}`), 0o600)
	if code, _, stderr := s.cli(t, s.Admin, "flags", "set", "traced", "--env", "production", "-f", def); code != 0 {
		t.Fatalf("flags set: %d %s", code, stderr)
	}
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("POST", s.URL+"/ofrep/v1/evaluate/flags/traced", strings.NewReader(`{"context":{"targetingKey":"user-1"}}`))
	req.Header.Set("Authorization", "Bearer "+s.Admin)
	req.Header.Set("Valueloop-Environment", "production")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("OFREP: %v %v", resp, err)
	}
	resp.Body.Close()
	const grpcTraceID = "0af7651916cd43dd8448eb211c80319c"
	c := evaluationv1connect.NewServiceClient(h2cClient(), s.URL, connect.WithGRPC())
	pbctx, _ := structpb.NewStruct(map[string]any{"targetingKey": "u2", "email": "ann@valueloop.dev"})
	greq := connect.NewRequest(&evalv1.ResolveStringRequest{FlagKey: "checkout-flow", Context: pbctx})
	greq.Header().Set("Authorization", "Bearer "+s.Admin)
	greq.Header().Set("Flagd-Selector", "production")
	greq.Header().Set("traceparent", "00-"+grpcTraceID+"-"+parentID+"-01")
	if _, err := c.ResolveString(context.Background(), greq); err != nil {
		t.Fatalf("flagd ResolveString: %v", err)
	}
	s.Stop(t) // flushes the spans

	checkEvaluationTrace(t, rc, "POST /ofrep/v1/evaluate/flags/{key}", traceID, parentID, map[string]string{
		"feature_flag.key": "traced", "feature_flag.provider.name": "valueloop", "feature_flag.result.variant": "on",
		"feature_flag.result.reason": "static", "feature_flag.context.id": "user-1", "feature_flag.set.id": "production",
	})
	checkEvaluationTrace(t, rc, "flagd.evaluation.v1.Service/ResolveString", grpcTraceID, parentID, map[string]string{
		"feature_flag.key": "checkout-flow", "feature_flag.result.variant": "one-page",
		"feature_flag.result.reason": "targeting_match", "feature_flag.context.id": "u2", "feature_flag.set.id": "production",
	})
	checkStoreSpans(t, rc)
	checkWebhookSpan(t, rc, hookParent)
	if rc.resource["service.name"] != "valueloop-test" || rc.resource["deployment.environment.name"] != "test bed" {
		t.Errorf("resource: %v", rc.resource)
	}
}

// checkEvaluationTrace: the server span named server is the child of the
// incoming traceparent's span and the parent of an evaluation span with
// the attributes want and a feature_flag.evaluation event.
func checkEvaluationTrace(t *testing.T, rc *otlpReceiver, server, traceID, parentID string, want map[string]string) {
	t.Helper()
	servers := rc.find(func(s *tracepb.Span) bool { return s.Name == server })
	if len(servers) != 1 {
		t.Fatalf("%s: %d server spans", server, len(servers))
	}
	srv := servers[0]
	if hex.EncodeToString(srv.TraceId) != traceID || hex.EncodeToString(srv.ParentSpanId) != parentID || srv.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("%s: trace %x parent %x kind %v; want the incoming traceparent's %s and %s",
			server, srv.TraceId, srv.ParentSpanId, srv.Kind, traceID, parentID)
	}
	evals := rc.find(func(s *tracepb.Span) bool {
		return s.Name == "feature_flag.evaluate" && string(s.ParentSpanId) == string(srv.SpanId)
	})
	if len(evals) != 1 {
		t.Fatalf("%s: %d evaluation spans beneath", server, len(evals))
	}
	ev := evals[0]
	for k, v := range want {
		if got := spanAttr(ev, k); got != v {
			t.Errorf("%s: evaluation span %s = %q, want %q", server, k, got, v)
		}
	}
	if len(ev.Events) != 1 || ev.Events[0].Name != "feature_flag.evaluation" {
		t.Errorf("%s: evaluation span events: %v", server, ev.Events)
	}
}

// checkStoreSpans: the flag written through the API has a store
// transaction span under the request's server span, with its queries
// beneath.
func checkStoreSpans(t *testing.T, rc *otlpReceiver) {
	t.Helper()
	var found bool
	for _, tx := range rc.find(func(s *tracepb.Span) bool { return strings.HasPrefix(s.Name, "sqlstore.") }) {
		parent := rc.byID(tx.ParentSpanId)
		if parent == nil || parent.Kind != tracepb.Span_SPAN_KIND_SERVER || !strings.Contains(parent.Name, "/flags") {
			continue
		}
		queries := rc.find(func(s *tracepb.Span) bool { return string(s.ParentSpanId) == string(tx.SpanId) })
		if len(queries) == 0 || spanAttr(queries[0], "db.system.name") != "sqlite" || spanAttr(queries[0], "db.query.text") == "" {
			t.Errorf("store span %s under %s: queries %v", tx.Name, parent.Name, queries)
		}
		found = true
	}
	if !found {
		t.Error("no store span under the server span of a flag request")
	}
}

// checkWebhookSpan: the rollout webhook's delivery span, and its attempt
// whose traceparent the receiver got.
func checkWebhookSpan(t *testing.T, rc *otlpReceiver, traceparent string) {
	t.Helper()
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 {
		t.Fatalf("webhook traceparent %q", traceparent)
	}
	attempt := rc.find(func(s *tracepb.Span) bool { return hex.EncodeToString(s.SpanId) == parts[2] })
	if len(attempt) != 1 || hex.EncodeToString(attempt[0].TraceId) != parts[1] || attempt[0].Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Fatalf("no client span for the webhook's traceparent %s: %v", traceparent, attempt)
	}
	delivery := rc.byID(attempt[0].ParentSpanId)
	if delivery == nil || delivery.Name != "webhook deliver" || spanAttr(delivery, "valueloop.webhook.event") != "rollout.start" {
		t.Errorf("webhook attempt's parent: %v", delivery)
	}
}

// TestTracingOffByDefault: without OTEL variables no provider is installed
// and webhooks carry no traceparent; OTEL_TRACES_EXPORTER=none keeps tracing
// off even with an endpoint set, and nothing is exported.
func TestTracingOffByDefault(t *testing.T) {
	rc := newOTLPReceiver(t)
	for _, env := range []map[string]string{
		{"VALUELOOP_ADMIN_TOKEN": testAdminToken},
		{"VALUELOOP_ADMIN_TOKEN": testAdminToken, "OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": rc.URL},
	} {
		hooks, traceparents := hookReceiver(t)
		s := MustServeEnv(t, "", env, "--demo", "--slack-webhook", hooks.URL+"/services/T0/B0/secret")
		if tp := firstHook(t, traceparents); tp != "" {
			t.Errorf("env %v: webhook carried traceparent %q", env, tp)
		}
		resp, body := post(t, s.URL+"/ofrep/v1/evaluate/flags/new-checkout", s.Admin, `{"context":{"targetingKey":"u"}}`)
		if resp.StatusCode == 500 {
			t.Fatalf("OFREP: %s", body)
		}
		s.Stop(t)
		if _, sdk := otel.GetTracerProvider().(*sdktrace.TracerProvider); sdk {
			t.Errorf("env %v: a global SDK tracer provider was installed", env)
		}
		if strings.Contains(s.Stderr.String(), "msg=tracing") {
			t.Errorf("env %v: tracing started:\n%s", env, s.Stderr.String())
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.requests != 0 {
		t.Errorf("%d exports with tracing off", rc.requests)
	}
}
