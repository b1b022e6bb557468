package provider

import (
	"context"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/valueloop/valueloop/evaluation"
)

// The evaluation methods read the current snapshot (one atomic load), let
// the engine evaluate and translate its result; nothing on this path
// allocates for a static flag, locks for longer than an exposure check or
// touches the network. The engine's reasons (STATIC, TARGETING_MATCH, SPLIT,
// DEFAULT, DISABLED, ERROR) and error codes pass through unchanged.
//
// FlagMetadata is the snapshot's own map, shared by every evaluation of the
// flag: treat it as read-only.
//
// The five typed methods are written out rather than sharing a generic
// helper over the typed Resolve function: written out, an evaluation took
// 64-68 ns; through such a helper, 90-117 ns (the function value and the
// generic dictionary keep the path from being inlined; go test ./provider
// -run '^$' -bench 'ProviderBoolean/no-exposures$', the two test binaries
// alternated three times).

// BooleanEvaluation evaluates a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, flatCtx openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	cur := p.cur.Load()
	if cur == nil {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveBool(cur.snap.Evaluate(flag, flatCtx), def)
	p.served(&r, flatCtx)
	return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, flatCtx openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	cur := p.cur.Load()
	if cur == nil {
		return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveString(cur.snap.Evaluate(flag, flatCtx), def)
	p.served(&r, flatCtx)
	return openfeature.StringResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// FloatEvaluation evaluates a number flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, flatCtx openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	cur := p.cur.Load()
	if cur == nil {
		return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveFloat(cur.snap.Evaluate(flag, flatCtx), def)
	p.served(&r, flatCtx)
	return openfeature.FloatResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// IntEvaluation evaluates an integer flag; like flagd, a fractional value
// is truncated toward zero.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, flatCtx openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	cur := p.cur.Load()
	if cur == nil {
		return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveInt(cur.snap.Evaluate(flag, flatCtx), def)
	p.served(&r, flatCtx)
	return openfeature.IntResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// ObjectEvaluation evaluates an object flag. The value is shared with
// every other evaluation of the flag: treat it as read-only.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, flatCtx openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	cur := p.cur.Load()
	if cur == nil {
		return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveObject(cur.snap.Evaluate(flag, flatCtx), def)
	p.served(&r, flatCtx)
	return openfeature.InterfaceResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

var notReadyDetail = openfeature.ProviderResolutionDetail{
	ResolutionError: openfeature.NewProviderNotReadyResolutionError("valueloop: no flag set received yet"),
	Reason:          openfeature.ErrorReason,
}

// served queues the exposure of r's variant unless exposures are off or no
// variant was served; small enough to be inlined in each typed method.
func (p *Provider) served(r *evaluation.Result, flatCtx openfeature.FlattenedContext) {
	if r.Variant != "" && !p.NoExposures {
		p.expose(r.FlagKey, r.Variant, string(r.Reason), flatCtx)
	}
}

// detail translates a result. It is over the inlining budget (cost 95);
// the error case is kept apart in errorDetail so the common path stays short.
func detail(r *evaluation.Result) openfeature.ProviderResolutionDetail {
	if r.ErrorCode != "" {
		return errorDetail(r)
	}
	return openfeature.ProviderResolutionDetail{Reason: openfeature.Reason(r.Reason), Variant: r.Variant, FlagMetadata: r.Metadata}
}

func errorDetail(r *evaluation.Result) openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{
		ResolutionError: resolutionError(r.ErrorCode, r.ErrorMessage),
		Reason:          openfeature.Reason(r.Reason),
		Variant:         r.Variant,
		FlagMetadata:    r.Metadata,
	}
}

func resolutionError(code evaluation.ErrorCode, msg string) openfeature.ResolutionError {
	switch code {
	case evaluation.FlagNotFound:
		return openfeature.NewFlagNotFoundResolutionError(msg)
	case evaluation.ParseError:
		return openfeature.NewParseErrorResolutionError(msg)
	case evaluation.TypeMismatch:
		return openfeature.NewTypeMismatchResolutionError(msg)
	case evaluation.TargetingKeyMissing:
		return openfeature.NewTargetingKeyMissingResolutionError(msg)
	case evaluation.InvalidContext:
		return openfeature.NewInvalidContextResolutionError(msg)
	}
	return openfeature.NewGeneralResolutionError(msg)
}

// expose queues an exposure of a variant served to the context's targeting
// key (an exposure must name who was exposed). The queue exists: Init makes
// it before any flag set can arrive.
func (p *Provider) expose(flag, variant, reason string, flatCtx openfeature.FlattenedContext) {
	if key, _ := flatCtx[openfeature.TargetingKey].(string); key != "" {
		p.queue.Load().expose(flag, variant, key, reason)
	}
}
