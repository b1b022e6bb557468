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

// BooleanEvaluation evaluates a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, flatCtx openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	r, ok := p.evaluate(flag, flatCtx)
	if !ok {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveBool(r, def)
	p.expose(&r, flatCtx)
	return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, flatCtx openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	r, ok := p.evaluate(flag, flatCtx)
	if !ok {
		return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveString(r, def)
	p.expose(&r, flatCtx)
	return openfeature.StringResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// FloatEvaluation evaluates a number flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, flatCtx openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	r, ok := p.evaluate(flag, flatCtx)
	if !ok {
		return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveFloat(r, def)
	p.expose(&r, flatCtx)
	return openfeature.FloatResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// IntEvaluation evaluates an integer flag; like flagd, a fractional value
// is truncated toward zero.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, flatCtx openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	r, ok := p.evaluate(flag, flatCtx)
	if !ok {
		return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveInt(r, def)
	p.expose(&r, flatCtx)
	return openfeature.IntResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// ObjectEvaluation evaluates an object flag. The value is shared with
// every other evaluation of the flag: treat it as read-only.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, flatCtx openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	r, ok := p.evaluate(flag, flatCtx)
	if !ok {
		return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: notReadyDetail}
	}
	v, r := evaluation.ResolveObject(r, def)
	p.expose(&r, flatCtx)
	return openfeature.InterfaceResolutionDetail{Value: v, ProviderResolutionDetail: detail(&r)}
}

// evaluate evaluates flag on the current snapshot; ok is false before the
// first flag set.
func (p *Provider) evaluate(flag string, flatCtx openfeature.FlattenedContext) (r evaluation.Result, ok bool) {
	cur := p.cur.Load()
	if cur == nil {
		return r, false
	}
	return cur.snap.Evaluate(flag, flatCtx), true
}

var notReadyDetail = openfeature.ProviderResolutionDetail{
	ResolutionError: openfeature.NewProviderNotReadyResolutionError("valueloop: no flag set received yet"),
	Reason:          openfeature.ErrorReason,
}

func detail(r *evaluation.Result) openfeature.ProviderResolutionDetail {
	d := openfeature.ProviderResolutionDetail{
		Reason:       openfeature.Reason(r.Reason),
		Variant:      r.Variant,
		FlagMetadata: r.Metadata,
	}
	if r.ErrorCode != "" {
		d.ResolutionError = resolutionError(r.ErrorCode, r.ErrorMessage)
	}
	return d
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

// expose queues an exposure for a result that served a variant to a
// targeting key.
func (p *Provider) expose(r *evaluation.Result, flatCtx openfeature.FlattenedContext) {
	if p.NoExposures || r.Variant == "" {
		return
	}
	key, _ := flatCtx[openfeature.TargetingKey].(string)
	if key == "" {
		return // an exposure must name who was exposed
	}
	if q := p.queue.Load(); q != nil {
		q.expose(r.FlagKey, r.Variant, key)
	}
}
