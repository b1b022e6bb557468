package httpapi

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/ofrep"
	"github.com/valueloop/valueloop/tracing"
)

// Tracing (package tracing), installed only when s.Tracer is set: routes
// wraps every surface in server spans, OFREP evaluation routes get an
// evaluation span carrying the feature_flag.* attributes, and incoming
// webhooks a span around their handling. With s.Tracer nil none of this is
// on a request's path.

// tracedElsewhere reports the requests that the other Protocols trace
// themselves (flagd's RPC services, through their connect interceptor).
func (s *Server) tracedElsewhere(r *http.Request) bool {
	for prefix := range s.Protocols {
		if strings.HasPrefix(r.URL.Path, prefix) {
			return true
		}
	}
	return false
}

// evaluationSpan runs an OFREP evaluation route in an evaluation span, on
// which evaluated and evaluatedInBulk record the results.
func (s *Server) evaluationSpan(pattern string, h handlerFunc) handlerFunc {
	name := tracing.SpanEvaluateBulk
	if strings.HasSuffix(pattern, "{key}") {
		name = tracing.SpanEvaluate
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx, span := s.Tracer.StartEvaluation(r.Context(), name)
		err := h(w, r.WithContext(ctx))
		tracing.End(span, err)
		return err
	}
}

// evaluatedInBulk records one flag of a bulk evaluation on its span.
func (s *Server) evaluatedInBulk(r *http.Request, c ofrep.Caller, ctx map[string]any, res *evaluation.Result) {
	tracing.EvaluatedInBulk(r.Context(), c.Environment, tracing.TargetingKey(ctx), res)
}

// hookSpan starts the span of an incoming webhook's handling by the
// delivery service; end it with tracing.End.
func (s *Server) hookSpan(ctx context.Context, kind string, h delivery.Hook) (context.Context, trace.Span) {
	return s.Tracer.Start(ctx, "webhook receive "+kind, trace.SpanKindInternal,
		attribute.String("valueloop.webhook.source", kind),
		attribute.String("valueloop.webhook.event", h.Event),
		attribute.String("valueloop.webhook.delivery_id", h.DeliveryID))
}

// hookDone ends the span of a webhook's handling with its outcome (stored,
// duplicate, ignored) or error.
func hookDone(span trace.Span, outcome string, err error) {
	if outcome != "" && span.IsRecording() {
		span.SetAttributes(attribute.String("valueloop.webhook.outcome", outcome))
	}
	tracing.End(span, err)
}
