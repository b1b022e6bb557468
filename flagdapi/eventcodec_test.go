package flagdapi

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v1/evaluationv1connect"
	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v2/evaluationv2connect"
	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	evalv2 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v2"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestEventStreamsShareEncoding: event streams of both evaluation versions
// over HTTP, in gRPC, the Connect protocol and JSON, are told a change's
// flags and their types of change, and the streams in protobuf get the
// message's data encoded once for all of them (eventCodec).
func TestEventStreamsShareEncoding(t *testing.T) {
	s, apply, secret := newStreamServer(t)
	srv := serveHTTP(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	v1 := func(opts ...connect.ClientOption) func() (string, *structpb.Struct, error) {
		return openEvents(t, ctx, secret, &evalv1.EventStreamRequest{}, evaluationv1connect.NewServiceClient(srv.Client(), srv.URL, opts...).EventStream)
	}
	v2 := func(opts ...connect.ClientOption) func() (string, *structpb.Struct, error) {
		return openEvents(t, ctx, secret, &evalv2.EventStreamRequest{}, evaluationv2connect.NewServiceClient(srv.Client(), srv.URL, opts...).EventStream)
	}
	streams := map[string]func() (string, *structpb.Struct, error){
		"v1 grpc":    v1(connect.WithGRPC()),
		"v1 connect": v1(),
		"v2 grpc":    v2(connect.WithGRPC()),
		"v2 connect": v2(),
		"v2 json":    v2(connect.WithProtoJSON()),
	}
	for name, read := range streams {
		if typ, _, err := read(); typ != "provider_ready" {
			t.Fatalf("%s: first message %q (%v), want provider_ready", name, typ, err)
		}
	}
	apply(setAfter)
	for name, read := range streams {
		typ, data, err := read()
		for typ == "keep_alive" {
			typ, data, err = read()
		}
		if typ != "configuration_change" {
			t.Errorf("%s: message %q (%v), want configuration_change", name, typ, err)
			continue
		}
		var got []string
		for k, v := range data.GetFields()["flags"].GetStructValue().GetFields() {
			got = append(got, k+":"+v.GetStructValue().GetFields()["type"].GetStringValue())
		}
		sort.Strings(got)
		if want := []string{"a:update", "c:write"}; !slices.Equal(got, want) {
			t.Errorf("%s: configuration_change names %v, want %v", name, got, want)
		}
	}
	if n := s.changes.encoded.Load(); n != 1 {
		t.Errorf("the change's data was encoded %d times for 4 streams in protobuf, want once", n)
	}
}

// openEvents opens an event stream of either evaluation version with
// secret, and returns a function that reads its next message's type and
// data.
func openEvents[Req, Res any, M interface {
	*Res
	GetType() string
	GetData() *structpb.Struct
}](t *testing.T, ctx context.Context, secret string, msg *Req, open func(context.Context, *connect.Request[Req]) (*connect.ServerStreamForClient[Res], error)) func() (string, *structpb.Struct, error) {
	t.Helper()
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+secret)
	st, err := open(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return func() (string, *structpb.Struct, error) {
		if !st.Receive() {
			return "", nil, st.Err()
		}
		m := M(st.Msg())
		return m.GetType(), m.GetData(), nil
	}
}
