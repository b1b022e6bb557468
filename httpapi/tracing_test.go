package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/tracing"
)

// tracedServer is MustServer, with the delivery service, tracing into an
// in-memory exporter, every span sampled and exported as it ends.
func tracedServer(t testing.TB, sampler sdktrace.Sampler) (*env, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sampler))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	e := mustServer(t, func(s *httpapi.Server, db *sqlite.DB) {
		s.Tracer = tracing.New(tp)
		s.Delivery = delivery.New(db)
		if err := s.Delivery.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Delivery.Close() })
	})
	return e, exp
}

// TestTracingIncomingWebhook: a GitHub delivery's handling has its span,
// child of the request's server span. (Store spans need the tracer before
// the store opens: cmd/valueloop's TestTracingExportsOTLP sees them.)
func TestTracingIncomingWebhook(t *testing.T) {
	e, exp := tracedServer(t, sdktrace.AlwaysSample())
	if resp, body := e.do(t, call{method: "PUT", path: "/api/v1/delivery/sources/acme", token: adminSecret, body: `{"kind":"github","secret":"` + hookSecret + `"}`}); resp.StatusCode != 200 {
		t.Fatalf("put source: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.do(t, githubCall(readTestdata(t, "github/testdata/push.json"), "push", "d-traced")); resp.StatusCode != 200 {
		t.Fatalf("hook: %d %s", resp.StatusCode, body)
	}
	spans := exp.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
	}
	var hook tracetest.SpanStub
	for _, s := range spans {
		if s.Name == "webhook receive github" {
			hook = s
		}
	}
	attrs := map[string]string{}
	for _, kv := range hook.Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["valueloop.webhook.delivery_id"] != "d-traced" || attrs["valueloop.webhook.outcome"] != "stored" || attrs["valueloop.webhook.event"] != "push" {
		t.Errorf("hook span attributes: %v", attrs)
	}
	if p := byID[hook.Parent.SpanID().String()]; p.Name != "POST /hooks/github" {
		t.Errorf("hook span's parent: %q", p.Name)
	}
}

// TestTracingBulkEvaluation: a bulk OFREP request has one evaluation span
// with a feature_flag.evaluation event per flag.
func TestTracingBulkEvaluation(t *testing.T) {
	e, exp := tracedServer(t, sdktrace.AlwaysSample())
	resp, body := e.do(t, call{method: "POST", path: "/ofrep/v1/evaluate/flags", token: e.eval, body: `{"context":{"targetingKey":"u-7","tier":"gold"}}`})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var bulk tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == tracing.SpanEvaluateBulk {
			bulk = s
		}
	}
	got := map[string]string{}
	for _, ev := range bulk.Events {
		if ev.Name != tracing.EvaluationEvent {
			continue
		}
		var key, variant, ctxID string
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case tracing.AttrKey:
				key = kv.Value.AsString()
			case tracing.AttrVariant:
				variant = kv.Value.AsString()
			case tracing.AttrContextID:
				ctxID = kv.Value.AsString()
			}
		}
		got[key] = variant + "/" + ctxID
	}
	if got["checkout"] != "b/u-7" || got["kill"] != "on/u-7" || len(got) != 2 {
		t.Errorf("bulk evaluation events: %v", got)
	}
}

// BenchmarkOFREPTracing compares one OFREP evaluation through the handler
// chain with tracing off (no tracer: the chain of BenchmarkOFREPHandler),
// on with every request sampled (server span, evaluation span and event,
// exported in batches to an exporter that drops them) and on with no
// request sampled. Run with -count N: the cases alternate within each
// round.
func BenchmarkOFREPTracing(b *testing.B) {
	discard := tracetest.NewNoopExporter()
	cases := []struct {
		name    string
		sampler sdktrace.Sampler // nil: tracing off
	}{
		{"off", nil},
		{"on", sdktrace.AlwaysSample()},
		{"on-unsampled", sdktrace.ParentBased(sdktrace.NeverSample())},
	}
	for _, c := range cases {
		var tr *tracing.Tracer
		if c.sampler != nil {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard), sdktrace.WithSampler(c.sampler))
			b.Cleanup(func() { tp.Shutdown(context.Background()) })
			tr = tracing.New(tp)
		}
		e := mustServer(b, func(s *httpapi.Server, _ *sqlite.DB) { s.Tracer = tr })
		h := httpapi.Handler(e.srv)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cputime.Seconds()
			defer func() {
				// CPU time, background export included: on a shared machine
				// wall time per op says more about the neighbours.
				if cpu1 := cputime.Seconds(); cpu0 >= 0 {
					b.ReportMetric((cpu1-cpu0)*1e9/float64(b.N), "cpu-ns/op")
				}
			}()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/checkout", strings.NewReader(`{"context":{"targetingKey":"user-123","tier":"gold"}}`))
				req.Header.Set("Authorization", "Bearer "+e.eval)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// TestTracingKeepsMaxAPIBody: with tracing on, MaxAPIBody still bounds an
// API body. Tracing wraps the body in its own reader; when it wrapped the
// guarded body, the handlers no longer found the server's limit and used
// the default (4 MiB): a 4 KiB body under a 1 KiB limit was decoded.
func TestTracingKeepsMaxAPIBody(t *testing.T) {
	for _, traced := range []bool{false, true} {
		e, _ := tracedServer(t, sdktrace.AlwaysSample())
		srv := httpapi.NewServer(e.auth, e.flags, e.db, nil)
		srv.Limits = httpapi.Limits{MaxAPIBody: 1024}
		if traced {
			srv.Tracer = e.srv.Tracer
		}
		openServer(t, srv)
		body := `{"name":"` + strings.Repeat("x", 4096) + `"}`
		req, _ := http.NewRequest("PUT", srv.URL()+"/api/v1/environments/production/flagd", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminSecret)
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = -1 // chunked: the limit is found while reading, not from the header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("traced %v: 4 KiB body under max-api-body 1 KiB: %d, want 413", traced, resp.StatusCode)
		}
	}
}
