package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
)

// TestFlagdRefusedInEveryProtocol: a call refused before its message
// (credentialsFirst) is answered in the protocol it came in: gRPC over
// h2c (trailers), gRPC-web (status in the headers) and Connect's binary
// codec, unary and streaming, so that every client reads
// unauthenticated, as from the handler, not a protocol error.
func TestFlagdRefusedInEveryProtocol(t *testing.T) {
	e := mustServer(t, func(srv *httpapi.Server, _ *sqlite.DB) { withFlagd(srv, 0) })
	h2c := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	h2c.Transport.(*http.Transport).Protocols = new(http.Protocols)
	h2c.Transport.(*http.Transport).Protocols.SetUnencryptedHTTP2(true)
	protocols := map[string]struct {
		client *http.Client
		opts   []connect.ClientOption
	}{
		"grpc":          {h2c, []connect.ClientOption{connect.WithGRPC()}},
		"grpc-web":      {http.DefaultClient, []connect.ClientOption{connect.WithGRPCWeb()}},
		"connect proto": {http.DefaultClient, nil},
	}
	for name, p := range protocols {
		for _, m := range flagdMethods(t) {
			err := flagdCallWith(p.client, e.srv.URL(), m, "vl_eval_guess", "", p.opts...)
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated || !strings.Contains(ce.Message(), "invalid token") {
				t.Errorf("%s: %s with an unknown token: %v, want unauthenticated", name, m.procedure, err)
			}
		}
	}
}
