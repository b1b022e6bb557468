package flagdapi

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v1/evaluationv1connect"
	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v2/evaluationv2connect"
	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	evalv2 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v2"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
)

// resolveCase is one evaluation over flagd.evaluation.v1 and v2 and what
// flagd answers for it (core/pkg/evaluator/json.go and the services'
// errFormat): ResolveInt truncates a fractional number toward zero, and
// each error code has its own status, which flagd's providers map back to
// the code (DataLoss → PARSE_ERROR, InvalidArgument → TYPE_MISMATCH,
// NotFound → FLAG_NOT_FOUND, anything else → GENERAL).
type resolveCase struct {
	Name    string         `json:"name"`
	Method  string         `json:"method"` // bool, int or float
	Flag    string         `json:"flag"`
	Context map[string]any `json:"context"`
	Int     int64          `json:"int"`
	Float   float64        `json:"float"`
	Bool    bool           `json:"bool"`
	Reason  string         `json:"reason"`
	Variant string         `json:"variant"`
	Code    string         `json:"code"` // connect code of the error; "" for none
	// CodeV1 is the connect code of v1's error where only v1 fails: flagd
	// answers a flag that defers to the code default (no defaultVariant)
	// with FLAG_NOT_FOUND on the v1 protocol, which has no way to say
	// "no value" (core/pkg/evaluator/json.go, ProtoVersionKey).
	CodeV1 string `json:"codeV1"`
}

// resolveClients serves testdata/resolve.json and returns evaluation
// clients of both protocol versions with the token that reads it.
func resolveClients(t *testing.T) (evaluationv1connect.ServiceClient, evaluationv2connect.ServiceClient, string) {
	t.Helper()
	set, err := os.ReadFile("testdata/resolve.json")
	if err != nil {
		t.Fatal(err)
	}
	s, apply, secret := newStreamServer(t)
	apply(string(set))
	srv := serveHTTP(t, s)
	return evaluationv1connect.NewServiceClient(srv.Client(), srv.URL), evaluationv2connect.NewServiceClient(srv.Client(), srv.URL), secret
}

// answer is what v1 and v2 both say.
type answer struct {
	value   any
	reason  string
	variant string
}

func TestResolveAsFlagd(t *testing.T) {
	var cases []resolveCase
	data, err := os.ReadFile("testdata/resolve_cases.json")
	if err == nil {
		err = json.Unmarshal(data, &cases)
	}
	if err != nil {
		t.Fatal(err)
	}
	c1, c2, secret := resolveClients(t)
	ctx := context.Background()

	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			evalCtx, err := structpb.NewStruct(tc.Context)
			if err != nil {
				t.Fatal(err)
			}
			for _, version := range []string{"v1", "v2"} {
				got, err := resolveOver(ctx, c1, c2, version, tc.Method, tc.Flag, evalCtx, secret)
				wantCode := tc.Code
				if version == "v1" && tc.CodeV1 != "" {
					wantCode = tc.CodeV1
				}
				if wantCode != "" {
					if code := connect.CodeOf(err); err == nil || code.String() != wantCode {
						t.Errorf("%s: error %v (%v), want %s", version, code, err, wantCode)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", version, err)
					continue
				}
				want := answer{value: tc.Float, reason: tc.Reason, variant: tc.Variant}
				switch tc.Method {
				case "int":
					want.value = tc.Int
				case "bool":
					want.value = tc.Bool
				}
				if got != want {
					t.Errorf("%s: %+v, want %+v", version, got, want)
				}
			}
		})
	}
}

// answerOf reads a resolution's answer, whatever its value's type.
func answerOf[T any, R interface {
	GetValue() T
	GetReason() string
	GetVariant() string
}](r R) answer {
	return answer{r.GetValue(), r.GetReason(), r.GetVariant()}
}

func resolveOver(ctx context.Context, c1 evaluationv1connect.ServiceClient, c2 evaluationv2connect.ServiceClient,
	version, method, flag string, evalCtx *structpb.Struct, secret string) (answer, error) {
	switch version + method {
	case "v1int":
		return call(ctx, secret, c1.ResolveInt, &evalv1.ResolveIntRequest{FlagKey: flag, Context: evalCtx}, answerOf[int64, *evalv1.ResolveIntResponse])
	case "v2int":
		return call(ctx, secret, c2.ResolveInt, &evalv2.ResolveIntRequest{FlagKey: flag, Context: evalCtx}, answerOf[int64, *evalv2.ResolveIntResponse])
	case "v1float":
		return call(ctx, secret, c1.ResolveFloat, &evalv1.ResolveFloatRequest{FlagKey: flag, Context: evalCtx}, answerOf[float64, *evalv1.ResolveFloatResponse])
	case "v2float":
		return call(ctx, secret, c2.ResolveFloat, &evalv2.ResolveFloatRequest{FlagKey: flag, Context: evalCtx}, answerOf[float64, *evalv2.ResolveFloatResponse])
	case "v1bool":
		return call(ctx, secret, c1.ResolveBoolean, &evalv1.ResolveBooleanRequest{FlagKey: flag, Context: evalCtx}, answerOf[bool, *evalv1.ResolveBooleanResponse])
	case "v2bool":
		return call(ctx, secret, c2.ResolveBoolean, &evalv2.ResolveBooleanRequest{FlagKey: flag, Context: evalCtx}, answerOf[bool, *evalv2.ResolveBooleanResponse])
	}
	panic("unknown method " + version + method)
}

// call makes one evaluation call with the token and reads its answer.
func call[Req, Resp any](ctx context.Context, secret string,
	rpc func(context.Context, *connect.Request[Req]) (*connect.Response[Resp], error), msg *Req, read func(*Resp) answer) (answer, error) {
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+secret)
	resp, err := rpc(ctx, req)
	if err != nil {
		return answer{}, err
	}
	return read(resp.Msg), nil
}

// TestNotFoundKeyClipped: a flag not found is named in the error, but a
// key no flag could have (up to the 64 KiB message) is quoted cut, not
// whole: the answer to a hostile caller stays small. A key as long as a
// flag key may be stays whole, so that the caller can tell which.
func TestNotFoundKeyClipped(t *testing.T) {
	c1, c2, secret := resolveClients(t)
	ctx := context.Background()
	long, huge := strings.Repeat("k", 200), strings.Repeat("x", 40_000)
	for _, version := range []string{"v1", "v2"} {
		_, err := resolveOver(ctx, c1, c2, version, "bool", long, nil, secret)
		if err == nil || !strings.Contains(err.Error(), long) {
			t.Errorf("%s, a 200-character key not found: %v; want it named whole", version, err)
		}
		_, err = resolveOver(ctx, c1, c2, version, "bool", huge, nil, secret)
		if err == nil || connect.CodeOf(err) != connect.CodeNotFound || len(err.Error()) > 1024 {
			t.Errorf("%s, a 40,000-byte key not found: %d bytes of error (code %v); want NotFound in at most 1 KiB", version, len(fmt.Sprint(err)), connect.CodeOf(err))
		}
	}
}
