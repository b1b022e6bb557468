package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/valueloop/valueloop/evaluation"
)

// The feature-flag semantic conventions of OpenTelemetry
// (https://opentelemetry.io/docs/specs/semconv/registry/attributes/feature-flag/):
// an evaluation is an event named EvaluationEvent with these attributes.
const (
	EvaluationEvent = "feature_flag.evaluation"

	AttrKey          = "feature_flag.key"
	AttrProviderName = "feature_flag.provider.name"
	AttrVariant      = "feature_flag.result.variant"
	AttrReason       = "feature_flag.result.reason"
	AttrContextID    = "feature_flag.context.id"
	AttrSetID        = "feature_flag.set.id"
	AttrErrorMessage = "feature_flag.error.message"
	AttrErrorType    = "error.type"
)

// ProviderName is feature_flag.provider.name of evaluations made here.
const ProviderName = "valueloop"

// Evaluation span names: one span per request that evaluates flags, child
// of the request's server span.
const (
	SpanEvaluate     = "feature_flag.evaluate"      // one flag
	SpanEvaluateBulk = "feature_flag.evaluate_bulk" // every flag of a set
)

// StartEvaluation starts the evaluation span of a request. With t nil, ctx
// and a no-op span.
func (t *Tracer) StartEvaluation(ctx context.Context, name string) (context.Context, trace.Span) {
	return t.Start(ctx, name, trace.SpanKindInternal, attribute.String(AttrProviderName, ProviderName))
}

// Evaluated records the evaluation res on the span of ctx (the request's
// SpanEvaluate span), if it records: its attributes on the span and a
// feature_flag.evaluation event. env is the flag set
// (feature_flag.set.id); ctxID the targeting key (feature_flag.context.id),
// empty when there is none.
func Evaluated(ctx context.Context, env, ctxID string, res *evaluation.Result) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := evaluationAttributes(env, ctxID, res)
	span.SetAttributes(attrs...)
	span.AddEvent(EvaluationEvent, trace.WithAttributes(attrs...))
}

// EvaluatedInBulk records one evaluation of a bulk request on the span of
// ctx (SpanEvaluateBulk), if it records: a feature_flag.evaluation event
// per flag.
func EvaluatedInBulk(ctx context.Context, env, ctxID string, res *evaluation.Result) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.AddEvent(EvaluationEvent, trace.WithAttributes(evaluationAttributes(env, ctxID, res)...))
}

func evaluationAttributes(env, ctxID string, res *evaluation.Result) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		attribute.String(AttrKey, res.FlagKey),
		attribute.String(AttrProviderName, ProviderName),
		attribute.String(AttrSetID, env),
		attribute.String(AttrReason, strings.ToLower(string(res.Reason))),
	)
	if res.Variant != "" {
		attrs = append(attrs, attribute.String(AttrVariant, res.Variant))
	}
	if ctxID != "" {
		attrs = append(attrs, attribute.String(AttrContextID, ctxID))
	}
	if res.ErrorCode != "" {
		attrs = append(attrs,
			attribute.String(AttrErrorType, strings.ToLower(string(res.ErrorCode))),
			attribute.String(AttrErrorMessage, res.ErrorMessage))
	}
	return attrs
}

// TargetingKey is the targeting key of an evaluation context, or "".
func TargetingKey(ctx map[string]any) string {
	k, _ := ctx["targetingKey"].(string)
	return k
}
