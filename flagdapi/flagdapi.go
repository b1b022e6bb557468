// Package flagdapi serves flagd's own gRPC protocol for in-process providers,
// flagd.sync.v1.FlagSyncService, so that flagd's providers (Java, JavaScript,
// Python, .NET, Go, …) in in-process mode can follow Valueloop instead of
// flagd. The wire format comes from flagd's published generated Go packages
// (buf.build/gen/go/open-feature/flagd), served with connect-go, which speaks
// gRPC, gRPC-Web and Connect on the server's one port (HTTP/2 cleartext for
// gRPC).
//
// A call authenticates with "authorization: Bearer <token>" metadata: an
// evaluate (server) or admin token; public client tokens cannot read flag
// definitions. The flagd selector (the Flagd-Selector header, or the
// request's deprecated selector field) names the environment; a token bound
// to one environment may leave it empty.
//
// What does not live here: the flags themselves (package flags), the flagd
// file format (package flagd), the HTTP server (package httpapi).
package flagdapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/flags"
)

// SelectorHeader is the header flagd providers send the selector in.
const SelectorHeader = "Flagd-Selector"

// Server serves flagd's sync protocol. Set the fields, then mount Handlers.
type Server struct {
	Flags  *flags.Service
	Auth   *auth.Service
	Logger *slog.Logger
	// Closing, when closed, ends every open stream (server shutdown).
	Closing <-chan struct{}
}

var _ syncv1connect.FlagSyncServiceHandler = (*Server)(nil)

// Handlers returns the services' handlers by the path prefix they serve.
func (s *Server) Handlers() map[string]http.Handler {
	path, h := syncv1connect.NewFlagSyncServiceHandler(s)
	return map[string]http.Handler{path: h}
}

// environment authenticates a call and returns the environment it reads.
func (s *Server) environment(header http.Header, field string) (*flags.Live, error) {
	t, err := s.Auth.Authenticate(auth.BearerToken(header.Get("Authorization")))
	if err != nil {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("missing or invalid token: send authorization: Bearer <token> metadata"))
	}
	env := header.Get(SelectorHeader)
	if env == "" {
		env = field
	}
	if env == "" {
		env = t.Environment
	}
	if env == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("selector required: this token is not bound to an environment; set the selector to the environment's key"))
	}
	if !t.CanReadDefinitions(env) {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("token may not read the flag definitions of this environment"))
	}
	live := s.Flags.Live(env)
	if live == nil {
		return nil, connect.NewError(connect.CodeNotFound, valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found (the selector names an environment)", env))
	}
	return live, nil
}

// SyncFlags streams the environment's flags as a flagd file: at once, then
// after every committed change. Whole sets, as flagd sends them.
func (s *Server) SyncFlags(ctx context.Context, req *connect.Request[syncv1.SyncFlagsRequest], stream *connect.ServerStream[syncv1.SyncFlagsResponse]) error {
	live, err := s.environment(req.Header(), req.Msg.GetSelector())
	if err != nil {
		return err
	}
	env := live.Environment.Key
	changes := make(chan string, 1)
	cancel := s.Flags.Subscribe(changes)
	defer cancel()
	var sent int64 = -1
	for {
		if live := s.Flags.Live(env); live != nil && live.Version != sent {
			data, err := live.FlagdJSON()
			if err != nil {
				return connect.NewError(connect.CodeInternal, err)
			}
			if err := stream.Send(&syncv1.SyncFlagsResponse{FlagConfiguration: string(data)}); err != nil {
				return err
			}
			sent = live.Version
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.Closing:
			return connect.NewError(connect.CodeUnavailable, errors.New("server shutting down"))
		case changed := <-changes:
			if changed != env {
				continue
			}
		}
	}
}

// FetchAllFlags answers the environment's flags as a flagd file.
func (s *Server) FetchAllFlags(ctx context.Context, req *connect.Request[syncv1.FetchAllFlagsRequest]) (*connect.Response[syncv1.FetchAllFlagsResponse], error) {
	live, err := s.environment(req.Header(), req.Msg.GetSelector())
	if err != nil {
		return nil, err
	}
	data, err := live.FlagdJSON()
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&syncv1.FetchAllFlagsResponse{FlagConfiguration: string(data)}), nil
}

// GetMetadata answers the flag set's metadata (flagd's providers merge it
// into every evaluation's flag metadata).
func (s *Server) GetMetadata(ctx context.Context, req *connect.Request[syncv1.GetMetadataRequest]) (*connect.Response[syncv1.GetMetadataResponse], error) {
	live, err := s.environment(req.Header(), "")
	if err != nil {
		return nil, err
	}
	md, err := structpb.NewStruct(live.Snapshot.Set().Metadata)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&syncv1.GetMetadataResponse{Metadata: md}), nil
}
