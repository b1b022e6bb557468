// Package tracing is Valueloop's OpenTelemetry tracing: the standard OTEL_*
// environment read into a Config (config.go), the SDK's tracer provider with
// its OTLP exporter, and what the other layers use to make spans — the HTTP
// middleware with W3C trace-context propagation, the connect interceptor of
// flagd's RPC services, spans around store transactions and queries and
// webhook deliveries, and the feature_flag.* attributes of evaluations
// (evaluation.go).
//
// A nil *Tracer is tracing switched off, the default: every method returns
// at once, the middleware is not installed, nothing is allocated. Callers
// hold a *Tracer and call it unconditionally, or test it for nil on hot
// paths. No global provider is installed: the tracer is passed explicitly to
// what makes spans.
//
// What is not here: reading the environment (cmd/valueloop passes getenv)
// and metrics (Prometheus, package httpapi).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/valueloop/valueloop"
)

// ScopeName is the instrumentation scope of Valueloop's own spans.
const ScopeName = "github.com/valueloop/valueloop"

// Tracer makes Valueloop's spans. The nil *Tracer makes none.
type Tracer struct {
	provider   trace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// New returns a tracer over provider, propagating W3C trace context and
// baggage. Open builds one from a Config; tests pass an SDK provider of
// their own.
func New(provider trace.TracerProvider) *Tracer {
	return &Tracer{
		provider:   provider,
		tracer:     provider.Tracer(ScopeName, trace.WithInstrumentationVersion(version())),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
	}
}

// Open starts the exporter and tracer provider of c, or returns nil (tracing
// off) when c is not Enabled. Close flushes the spans still buffered.
func Open(ctx context.Context, c Config) (*Tracer, error) {
	if !c.Enabled {
		return nil, nil
	}
	exporter, err := newExporter(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	attrs := append([]attribute.KeyValue{
		attribute.String("service.name", c.ServiceName),
		attribute.String("service.version", version()),
	}, c.Attributes...)
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler(c)),
	)
	t := New(provider)
	t.shutdown = provider.Shutdown
	return t, nil
}

// newExporter makes the OTLP exporter of c's protocol. Options given here
// win over the variables the exporter reads itself; those it reads and
// Valueloop does not (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION,
// _CERTIFICATE and their TRACES_ forms) still apply.
func newExporter(ctx context.Context, c Config) (sdktrace.SpanExporter, error) {
	switch c.Protocol {
	case GRPC:
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(c.Endpoint))
	case HTTPJSON:
		return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.Endpoint), otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	default:
		return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.Endpoint))
	}
}

func sampler(c Config) sdktrace.Sampler {
	switch c.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(c.SamplerArg)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SamplerArg))
	default:
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
}

// version is the module's version for service.version and the scope.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Close flushes the buffered spans and stops the exporter, within ctx.
func (t *Tracer) Close(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Start starts a span named name as a child of the span in ctx; end it
// with End. With t nil it returns ctx and a no-op span.
func (t *Tracer) Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if t == nil {
		return ctx, noopSpan
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

var noopSpan = trace.SpanFromContext(context.Background())

// End ends span, recording err (if any) as its error status and error.type.
func End(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, valueloop.ErrorMessage(err))
		span.SetAttributes(attribute.String("error.type", errorType(err)))
	}
	span.End()
}

// errorType is error.type of err: its domain error code, or for an RPC
// error its connect code.
func errorType(err error) string {
	if ce := new(connect.Error); errors.As(err, &ce) {
		return ce.Code().String()
	}
	return valueloop.ErrorCode(err)
}

// Handler wraps h in server spans: a span per request, named for the
// matched route pattern ("POST /ofrep/v1/evaluate/flags/{key}") once the
// mux has matched it, child of the span of an incoming traceparent. skip,
// if set, names requests traced by someone else (the RPC services, which
// the connect interceptor traces). With t nil, h itself.
func (t *Tracer) Handler(h http.Handler, skip func(*http.Request) bool) http.Handler {
	if t == nil {
		return h
	}
	opts := []otelhttp.Option{
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(noopmetric.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method // semconv: the method alone when the route is unknown
		}),
	}
	if skip != nil {
		opts = append(opts, otelhttp.WithFilter(func(r *http.Request) bool { return !skip(r) }))
	}
	return otelhttp.NewHandler(h, "valueloop", opts...)
}

// Inject sets the W3C trace-context headers (traceparent, tracestate) of
// the span of ctx on h, for an outgoing request. Nothing when t is nil.
func (t *Tracer) Inject(ctx context.Context, h http.Header) {
	if t == nil {
		return
	}
	t.propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// ConnectOptions are the handler options that trace connect-go services:
// an RPC server span per call (rpc.system, rpc.method, the status code of
// gRPC errors, which HTTP spans would see as 200), child of an incoming
// traceparent. None when t is nil.
func (t *Tracer) ConnectOptions() []connect.HandlerOption {
	if t == nil {
		return nil
	}
	ic, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(t.provider),
		otelconnect.WithPropagator(t.propagator),
		otelconnect.WithMeterProvider(noopmetric.NewMeterProvider()),
		otelconnect.WithoutMetrics(),
		otelconnect.WithTrustRemote(),
		otelconnect.WithoutTraceEvents(), // one event per streamed message is noise
	)
	if err != nil {
		return nil // only metrics setup fails, and metrics are off
	}
	return []connect.HandlerOption{connect.WithInterceptors(ic)}
}
