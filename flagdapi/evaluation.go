package flagdapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/structpb"

	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	evalv2 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v2"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/tracing"
)

// The evaluation services (flagd's RPC mode): flagd.evaluation.v1.Service,
// which most flagd providers use, and flagd.evaluation.v2.Service, which
// flagd's Go provider uses since v0.6. Both evaluate with the server's engine
// against the environment's live snapshot, with flagd's reasons (DEFAULT
// included) and its error mapping: an unknown flag is NotFound, a value of
// another type InvalidArgument (TYPE_MISMATCH; an int resolution of a
// fractional number truncates it instead, as flagd does), a rule that fails
// at run time DataLoss (PARSE_ERROR), a rule that names no variant Unknown
// (GENERAL). A disabled flag resolves with reason DISABLED and no
// value (v2) or the zero value (v1), as flagd does.

// keepAlive is how often an idle event stream sends a keep_alive event, so
// that proxies keep it open and clients notice a dead connection.
const keepAlive = 15 * time.Second

// evaluator authenticates a call for evaluation (client tokens included)
// and returns the environment's live flags.
func (s *Server) evaluator(ctx context.Context, header http.Header) (*flags.Live, error) {
	live, _, err := s.authorize(ctx, header, "", false)
	return live, err
}

// resolve evaluates one flag for a call and checks its type: want is "bool",
// "string", "float", "int" or "object".
// With tracing on, the evaluation has its span, child of the call's.
func (s *Server) resolve(ctx context.Context, header http.Header, key string, in *structpb.Struct, want string) (res evaluation.Result, err error) {
	if s.Tracer != nil {
		var span trace.Span
		ctx, span = s.Tracer.StartEvaluation(ctx, tracing.SpanEvaluate)
		defer func() { tracing.End(span, err) }()
	}
	live, t, err := s.authorize(ctx, header, "", false)
	if err != nil {
		return evaluation.Result{}, err
	}
	evalCtx := in.AsMap()
	res = live.Snapshot.Evaluate(key, evalCtx)
	if s.Tracer != nil {
		tracing.Evaluated(ctx, live.Environment.Key, tracing.TargetingKey(evalCtx), &res)
	}
	if s.Evaluated != nil {
		s.Evaluated(live.Environment.Key, !t.RecordsExposures(), evalCtx, &res)
	}
	switch {
	case res.ErrorCode == evaluation.FlagNotFound:
		return res, connect.NewError(connect.CodeNotFound, fmt.Errorf("FLAG_NOT_FOUND: flag %q not found", valueloop.ClipKey(key)))
	case res.ErrorCode == evaluation.ParseError:
		// flagd's code for PARSE_ERROR; its providers map DataLoss back to
		// PARSE_ERROR and any other code to GENERAL.
		return res, connect.NewError(connect.CodeDataLoss, fmt.Errorf("PARSE_ERROR: %s", res.ErrorMessage))
	case res.ErrorCode != "":
		return res, connect.NewError(connect.CodeUnknown, fmt.Errorf("%s: %s", res.ErrorCode, res.ErrorMessage))
	case res.Value == nil:
		return res, nil // disabled, or deferring to the code default
	}
	ok := false
	switch v := res.Value.(type) {
	case bool:
		ok = want == "bool"
	case string:
		ok = want == "string"
	case float64:
		// An int resolution truncates a fractional number toward zero, as
		// flagd's and the in-process providers' (evaluation.ResolveInt) do;
		// only numbers beyond the int64 range are a mismatch.
		ok = want == "float" || (want == "int" && v >= -math.MaxInt64-1 && v < math.MaxInt64)
	case map[string]any:
		ok = want == "object"
	}
	if !ok {
		return res, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("TYPE_MISMATCH: flag %q is not of type %s", key, want))
	}
	return res, nil
}

func metadataOf(res evaluation.Result) *structpb.Struct {
	if len(res.Metadata) == 0 {
		return nil
	}
	md, _ := structpb.NewStruct(res.Metadata)
	return md
}

func objectOf(v any) *structpb.Struct {
	m, _ := v.(map[string]any)
	st, err := structpb.NewStruct(m)
	if err != nil {
		return &structpb.Struct{}
	}
	return st
}

// eventStream sends provider_ready, then configuration_change with the keys
// of the flags each committed change touched, and keep_alive while idle.
//
// A call with no credentials at all (no authorization metadata, no
// selector) gets an anonymous stream: flagd's JavaScript provider opens its
// RPC event stream without the metadata it sends on evaluations. That
// stream says only that something changed (configuration_change without
// data, on which providers drop their whole cache), never which flags or
// which environment; every evaluation is still authenticated.
func (s *Server) eventStream(ctx context.Context, header http.Header, send func(typ string, data *structpb.Struct) error) error {
	anonymous := header.Get("Authorization") == "" && header.Get(SelectorHeader) == ""
	env := ""
	var token *auth.Watch // nil for an anonymous stream
	if !anonymous {
		secret, _ := credentials(header, "")
		token = s.Auth.Watch(secret)
		live, err := s.evaluator(ctx, header)
		if err != nil {
			return err
		}
		env = live.Environment.Key
		release, err := s.streamSlot(ctx, false)
		if err != nil {
			return err
		}
		defer release()
	} else {
		// Its client's place first: one address must not take every
		// anonymous slot either.
		release, err := s.streamSlot(ctx, true)
		if err != nil {
			return err
		}
		defer release()
		releaseAnonymous, err := s.anonymousSlot()
		if err != nil {
			return err
		}
		defer releaseAnonymous()
	}
	changes := make(chan string, 1)
	cancel := s.Flags.Subscribe(changes)
	defer cancel()
	// The set the client is ready with is the one live once subscribed: a
	// change after this point wakes the loop below, even one made while
	// provider_ready is on its way.
	last := s.Flags.Live(env)
	if err := send("provider_ready", nil); err != nil {
		return err
	}
	ticker := time.NewTicker(keepAlive)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.Closing:
			return connect.NewError(connect.CodeUnavailable, errors.New("server shutting down"))
		case <-ticker.C:
			if err := send("keep_alive", nil); err != nil {
				return err
			}
		case <-token.C():
			if token.Revoked() {
				return errRevoked
			}
		case <-changes:
			if anonymous {
				if err := send("configuration_change", nil); err != nil {
					return err
				}
				continue
			}
			// Which environment changed does not matter: a full buffer drops
			// notifications, so every wake-up compares the live set.
			cur := s.Flags.Live(env)
			if token.Revoked() {
				return errRevoked
			}
			if cur == nil || cur == last {
				continue
			}
			data := s.changes.message(env, last, cur)
			last = cur
			if err := send("configuration_change", data); err != nil {
				return err
			}
		}
	}
}

// changeType is flagd's name for the change of flag key between two sets
// (core/pkg/notifications): "write" for a new flag, "delete" for a
// removed one, "update" otherwise.
func changeType(old, cur *flags.Live, key string) string {
	switch {
	case old == nil || old.Snapshot.Set().Flags[key] == nil:
		return "write"
	case cur.Snapshot.Set().Flags[key] == nil:
		return "delete"
	}
	return "update"
}

// v1 is flagd.evaluation.v1.Service.
type v1 struct{ s *Server }

// resolve is Server.resolve for v1, whose answers always carry a value: a
// flag that defers to the caller's default (no defaultVariant, and no
// variant from its rule) is FLAG_NOT_FOUND there, as flagd answers v1
// calls, so that the provider serves the code default rather than the
// type's zero value. (A disabled flag answers DISABLED with the zero value
// on v1, as in flagd.)
func (e v1) resolve(ctx context.Context, header http.Header, key string, in *structpb.Struct, want string) (evaluation.Result, error) {
	res, err := e.s.resolve(ctx, header, key, in, want)
	if err == nil && res.Value == nil && res.Reason == evaluation.ReasonDefault {
		return res, connect.NewError(connect.CodeNotFound, fmt.Errorf("FLAG_NOT_FOUND: flag %q has no default variant, so the caller's default applies", key))
	}
	return res, err
}

func (e v1) ResolveBoolean(ctx context.Context, req *connect.Request[evalv1.ResolveBooleanRequest]) (*connect.Response[evalv1.ResolveBooleanResponse], error) {
	res, err := e.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "bool")
	if err != nil {
		return nil, err
	}
	b, _ := res.Value.(bool)
	return connect.NewResponse(&evalv1.ResolveBooleanResponse{Value: b, Reason: string(res.Reason), Variant: res.Variant, Metadata: metadataOf(res)}), nil
}

func (e v1) ResolveString(ctx context.Context, req *connect.Request[evalv1.ResolveStringRequest]) (*connect.Response[evalv1.ResolveStringResponse], error) {
	res, err := e.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "string")
	if err != nil {
		return nil, err
	}
	v, _ := res.Value.(string)
	return connect.NewResponse(&evalv1.ResolveStringResponse{Value: v, Reason: string(res.Reason), Variant: res.Variant, Metadata: metadataOf(res)}), nil
}

func (e v1) ResolveFloat(ctx context.Context, req *connect.Request[evalv1.ResolveFloatRequest]) (*connect.Response[evalv1.ResolveFloatResponse], error) {
	res, err := e.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "float")
	if err != nil {
		return nil, err
	}
	v, _ := res.Value.(float64)
	return connect.NewResponse(&evalv1.ResolveFloatResponse{Value: v, Reason: string(res.Reason), Variant: res.Variant, Metadata: metadataOf(res)}), nil
}

func (e v1) ResolveInt(ctx context.Context, req *connect.Request[evalv1.ResolveIntRequest]) (*connect.Response[evalv1.ResolveIntResponse], error) {
	res, err := e.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "int")
	if err != nil {
		return nil, err
	}
	v, _ := res.Value.(float64)
	return connect.NewResponse(&evalv1.ResolveIntResponse{Value: int64(v), Reason: string(res.Reason), Variant: res.Variant, Metadata: metadataOf(res)}), nil
}

func (e v1) ResolveObject(ctx context.Context, req *connect.Request[evalv1.ResolveObjectRequest]) (*connect.Response[evalv1.ResolveObjectResponse], error) {
	res, err := e.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "object")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&evalv1.ResolveObjectResponse{Value: objectOf(res.Value), Reason: string(res.Reason), Variant: res.Variant, Metadata: metadataOf(res)}), nil
}

// ResolveAll evaluates every flag that has a value for the context. Flags
// without one (disabled, deferring to code defaults, failing) are left out,
// as flagd did before its DISABLED-as-success change: providers written for
// v1 read a value from every entry.
func (e v1) ResolveAll(ctx context.Context, req *connect.Request[evalv1.ResolveAllRequest]) (*connect.Response[evalv1.ResolveAllResponse], error) {
	live, err := e.s.evaluator(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	evalCtx := req.Msg.GetContext().AsMap()
	ctx, span := e.s.Tracer.StartEvaluation(ctx, tracing.SpanEvaluateBulk)
	defer tracing.End(span, nil)
	out := &evalv1.ResolveAllResponse{Flags: map[string]*evalv1.AnyFlag{}}
	for _, res := range live.Snapshot.EvaluateAll(evalCtx, nil) {
		tracing.EvaluatedInBulk(ctx, live.Environment.Key, tracing.TargetingKey(evalCtx), &res)
		if res.ErrorCode != "" || res.Value == nil {
			continue
		}
		f := &evalv1.AnyFlag{Reason: string(res.Reason), Variant: res.Variant, Metadata: metadataOf(res)}
		switch v := res.Value.(type) {
		case bool:
			f.Value = &evalv1.AnyFlag_BoolValue{BoolValue: v}
		case string:
			f.Value = &evalv1.AnyFlag_StringValue{StringValue: v}
		case float64:
			f.Value = &evalv1.AnyFlag_DoubleValue{DoubleValue: v}
		default:
			f.Value = &evalv1.AnyFlag_ObjectValue{ObjectValue: objectOf(v)}
		}
		out.Flags[res.FlagKey] = f
	}
	if md := live.Snapshot.Set().Metadata; len(md) > 0 {
		out.Metadata, _ = structpb.NewStruct(md)
	}
	return connect.NewResponse(out), nil
}

func (e v1) EventStream(ctx context.Context, req *connect.Request[evalv1.EventStreamRequest], stream *connect.ServerStream[evalv1.EventStreamResponse]) error {
	return e.s.eventStream(ctx, req.Header(), func(typ string, data *structpb.Struct) error {
		return stream.Send(&evalv1.EventStreamResponse{Type: typ, Data: data})
	})
}

// v2 is flagd.evaluation.v2.Service: values are optional, so a disabled flag
// carries none.
type v2 struct{ s *Server }

func variantOf(res evaluation.Result) *string {
	if res.Variant == "" {
		return nil
	}
	return &res.Variant
}

func (e v2) ResolveBoolean(ctx context.Context, req *connect.Request[evalv2.ResolveBooleanRequest]) (*connect.Response[evalv2.ResolveBooleanResponse], error) {
	res, err := e.s.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "bool")
	if err != nil {
		return nil, err
	}
	out := &evalv2.ResolveBooleanResponse{Reason: string(res.Reason), Variant: variantOf(res), Metadata: metadataOf(res)}
	if v, ok := res.Value.(bool); ok {
		out.Value = &v
	}
	return connect.NewResponse(out), nil
}

func (e v2) ResolveString(ctx context.Context, req *connect.Request[evalv2.ResolveStringRequest]) (*connect.Response[evalv2.ResolveStringResponse], error) {
	res, err := e.s.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "string")
	if err != nil {
		return nil, err
	}
	out := &evalv2.ResolveStringResponse{Reason: string(res.Reason), Variant: variantOf(res), Metadata: metadataOf(res)}
	if v, ok := res.Value.(string); ok {
		out.Value = &v
	}
	return connect.NewResponse(out), nil
}

func (e v2) ResolveFloat(ctx context.Context, req *connect.Request[evalv2.ResolveFloatRequest]) (*connect.Response[evalv2.ResolveFloatResponse], error) {
	res, err := e.s.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "float")
	if err != nil {
		return nil, err
	}
	out := &evalv2.ResolveFloatResponse{Reason: string(res.Reason), Variant: variantOf(res), Metadata: metadataOf(res)}
	if v, ok := res.Value.(float64); ok {
		out.Value = &v
	}
	return connect.NewResponse(out), nil
}

func (e v2) ResolveInt(ctx context.Context, req *connect.Request[evalv2.ResolveIntRequest]) (*connect.Response[evalv2.ResolveIntResponse], error) {
	res, err := e.s.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "int")
	if err != nil {
		return nil, err
	}
	out := &evalv2.ResolveIntResponse{Reason: string(res.Reason), Variant: variantOf(res), Metadata: metadataOf(res)}
	if v, ok := res.Value.(float64); ok {
		i := int64(v)
		out.Value = &i
	}
	return connect.NewResponse(out), nil
}

func (e v2) ResolveObject(ctx context.Context, req *connect.Request[evalv2.ResolveObjectRequest]) (*connect.Response[evalv2.ResolveObjectResponse], error) {
	res, err := e.s.resolve(ctx, req.Header(), req.Msg.GetFlagKey(), req.Msg.GetContext(), "object")
	if err != nil {
		return nil, err
	}
	out := &evalv2.ResolveObjectResponse{Reason: string(res.Reason), Variant: variantOf(res), Metadata: metadataOf(res)}
	if res.Value != nil {
		out.Value = objectOf(res.Value)
	}
	return connect.NewResponse(out), nil
}

func (e v2) EventStream(ctx context.Context, req *connect.Request[evalv2.EventStreamRequest], stream *connect.ServerStream[evalv2.EventStreamResponse]) error {
	return e.s.eventStream(ctx, req.Header(), func(typ string, data *structpb.Struct) error {
		return stream.Send(&evalv2.EventStreamResponse{Type: typ, Data: data})
	})
}
