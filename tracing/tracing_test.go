package tracing_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/valueloop/valueloop/tracing"
)

// grpcCollector is an OTLP/gRPC trace service that records span names.
type grpcCollector struct {
	coltrace.UnimplementedTraceServiceServer
	names chan string
}

func (c *grpcCollector) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.names <- s.Name
			}
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// TestOpenProtocols: Open exports over each protocol to the endpoint of
// its Config, and Close flushes.
func TestOpenProtocols(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	col := &grpcCollector{names: make(chan string, 8)}
	coltrace.RegisterTraceServiceServer(gs, col)
	go gs.Serve(lis)
	defer gs.Stop()

	types := make(chan string, 8)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		types <- r.URL.Path + " " + r.Header.Get("Content-Type")
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		if r.Header.Get("Content-Type") == "application/json" {
			w.Write([]byte("{}"))
		}
	}))
	defer hs.Close()

	for _, c := range []struct {
		protocol, endpoint string
		got                chan string
		want               string
	}{
		{tracing.GRPC, "http://" + lis.Addr().String(), col.names, "probe"},
		{tracing.HTTPProtobuf, hs.URL + "/v1/traces", types, "/v1/traces application/x-protobuf"},
		{tracing.HTTPJSON, hs.URL + "/v1/traces", types, "/v1/traces application/json"},
	} {
		tr, err := tracing.Open(context.Background(), tracing.Config{Enabled: true, Protocol: c.protocol, Endpoint: c.endpoint,
			ServiceName: "t", Sampler: "always_on", SamplerArg: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, span := tr.Start(context.Background(), "probe", trace.SpanKindInternal)
		tracing.End(span, nil)
		if err := tr.Close(context.Background()); err != nil {
			t.Errorf("%s: close: %v", c.protocol, err)
		}
		select {
		case got := <-c.got:
			if got != c.want {
				t.Errorf("%s: got %q, want %q", c.protocol, got, c.want)
			}
		default:
			t.Errorf("%s: nothing exported by Close", c.protocol)
		}
	}
}
