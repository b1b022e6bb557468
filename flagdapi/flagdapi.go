// Package flagdapi serves flagd's own gRPC protocols: flagd.sync.v1.FlagSyncService
// for providers in in-process mode, and flagd.evaluation.v1.Service (and v2,
// which flagd's Go provider uses) for providers in RPC mode, so that flagd's
// providers (Java, JavaScript, Python, .NET, Go, …) can use Valueloop instead
// of flagd. The wire format comes from flagd's published generated Go packages
// (buf.build/gen/go/open-feature/flagd), served with connect-go, which speaks
// gRPC, gRPC-Web and Connect on the server's one port (HTTP/2 cleartext for
// gRPC).
//
// A call authenticates with "authorization: Bearer <token>" metadata, or,
// for providers that cannot send metadata, with the token as the flagd
// selector. Sync needs an evaluate (server) or admin token, since public
// client tokens cannot read flag definitions; evaluation takes client tokens
// too. Otherwise the selector (the Flagd-Selector header, or the request's
// deprecated selector field) names the environment; a token bound to one
// environment may leave it empty.
//
// What does not live here: the flags themselves (package flags), the flagd
// file format (package flagd), the HTTP server (package httpapi).
package flagdapi

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"connectrpc.com/connect"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v1/evaluationv1connect"
	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v2/evaluationv2connect"
	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/ofrep"
	"github.com/valueloop/valueloop/tracing"
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
	// MaxAnonymousStreams bounds the event streams opened without
	// credentials (flagd's JavaScript provider opens them so); beyond it
	// they are refused with ResourceExhausted. Default 256.
	MaxAnonymousStreams int
	// StreamSlot, when set, is called once a stream (SyncFlags, an event
	// stream) is authorized, with the call's context, and refuses it
	// (ResourceExhausted) when the server holds as many flag streams as
	// it may, or its client address does (httpapi.Server.StreamSlot: the
	// SSE streams' MaxStreams and MaxStreamsPerClient); anonymous: an
	// event stream without credentials, which MaxAnonymousStreams bounds
	// instead of the server's slots, but which counts against its
	// client's all the same. Without it streams with credentials were
	// bounded only by connections times HTTP/2 streams per connection,
	// about a million of some 20 KiB each.
	StreamSlot func(ctx context.Context, anonymous bool) (release func(), err error)
	// Evaluated, if set, is called after every single-flag evaluation over
	// RPC, as OFREP's are (metrics, exposures); quiet is the token's
	// NoExposures. It must not block.
	Evaluated func(env string, quiet bool, ctx map[string]any, res *evaluation.Result)
	// Tracer, when set, traces every call (an RPC server span, child of an
	// incoming traceparent) and every evaluation (package tracing).
	Tracer *tracing.Tracer

	anonymous, anonymousRefused atomic.Int64
	changes                     changeMemo
	syncs                       flags.Encoded[*syncv1.SyncFlagsResponse]
}

var (
	_ syncv1connect.FlagSyncServiceHandler = (*Server)(nil)
	_ evaluationv1connect.ServiceHandler   = v1{}
	_ evaluationv2connect.ServiceHandler   = v2{}
)

// MaxMessageBytes bounds a request message, as ofrep.MaxBodyBytes bounds an
// OFREP body: connect-go accepts messages of any size by default, and these
// paths are not behind the HTTP API's body limits. A larger message is
// refused (ResourceExhausted) before it is decoded.
const MaxMessageBytes = ofrep.MaxBodyBytes

// maxDeclaredBytes is the longest body a call whose message is within
// MaxMessageBytes may declare: the message, the 5-byte envelope of the
// streaming protocols (gRPC, gRPC-web, Connect's streams), and room for
// the framing of a compressed message that did not shrink (gzip adds
// about 20 bytes to 64 KiB). connect reads a body up to MaxMessageBytes
// and discards the rest before it refuses it, so a call declaring more
// is refused from its Content-Length, unread: read, a client trickling
// it held the call until the body deadline.
const maxDeclaredBytes = MaxMessageBytes + 5 + 1024

// uncompressedSync sends the sync service's messages uncompressed, as
// flagd does, although connect-go would gzip them for every client that
// accepts gzip (its own clients do by default): a change goes to every
// stream at once, and compressing the set once per stream cost more CPU
// than everything else of the fan-out (profiled with 10,000 streams). The
// set is encoded once per change and shared by the streams (syncMessage);
// compression cannot be shared so. Compressed requests are still read.
var uncompressedSync = connect.WithCompressMinBytes(math.MaxInt)

// boundedGzip is connect-go's gzip, but a request message is inflated no
// further than MaxMessageBytes and a byte: connect-go inflates one past
// WithReadMaxBytes to its end to report its size, and gzip inflates a
// thousandfold, so a message of 64 KiB, sent with no credentials
// (anonymous event streams, sync calls whose selector is the token), made
// the server inflate 64 MiB (TestCompressedMessageBomb).
var boundedGzip = connect.WithCompression("gzip",
	func() connect.Decompressor { return &boundedInflater{} },
	func() connect.Compressor { return gzip.NewWriter(io.Discard) })

// boundedInflater fails a read past MaxMessageBytes+1 inflated bytes,
// which connect-go reads only to count what it refuses.
type boundedInflater struct {
	gzip.Reader
	n int64 // inflated since Reset
}

const inflateLimit = MaxMessageBytes + 1

var errInflateLimit = fmt.Errorf("not inflated past %d bytes", inflateLimit)

func (d *boundedInflater) Reset(r io.Reader) error {
	d.n = 0
	return d.Reader.Reset(r)
}

func (d *boundedInflater) Read(p []byte) (int, error) {
	if d.n >= inflateLimit {
		return 0, errInflateLimit
	}
	n, err := d.Reader.Read(p[:min(int64(len(p)), inflateLimit-d.n)])
	d.n += int64(n)
	return n, err
}

// StreamPaths are the paths of the services' streams (SyncFlags, and
// EventStream of both evaluation versions), which live as long as their
// client: the HTTP server bounds them by their slots, not as requests.
var StreamPaths = []string{
	syncv1connect.FlagSyncServiceSyncFlagsProcedure,
	evaluationv1connect.ServiceEventStreamProcedure,
	evaluationv2connect.ServiceEventStreamProcedure,
}

// Handlers returns the services' handlers by the path prefix they serve.
func (s *Server) Handlers() map[string]http.Handler {
	out := map[string]http.Handler{}
	opts := append([]connect.HandlerOption{connect.WithReadMaxBytes(MaxMessageBytes), boundedGzip}, s.Tracer.ConnectOptions()...)
	for _, mount := range []func() (string, http.Handler){
		func() (string, http.Handler) {
			return syncv1connect.NewFlagSyncServiceHandler(s, append(opts, uncompressedSync)...)
		},
		func() (string, http.Handler) {
			return evaluationv1connect.NewServiceHandler(v1{s}, append(opts, s.eventCodec())...)
		},
		func() (string, http.Handler) {
			return evaluationv2connect.NewServiceHandler(v2{s}, append(opts, s.eventCodec())...)
		},
	} {
		path, h := mount()
		out[path] = s.credentialsFirst(h)
	}
	return out
}

// credentialsFirst refuses a call declaring a body over maxDeclaredBytes,
// and one whose credentials do not authenticate, before connect reads its
// request message, which connect does before it
// calls the handler: else every such call was read and decoded (up to
// MaxMessageBytes) before its token was looked at, also from an address
// throttled for failed authentications, and one whose message never came
// held the call until the body deadline. What it checks are the headers:
// a call with a token there (authorization, or a selector that is a
// token) must authenticate, and an evaluation (its token travels in
// headers only) must carry one. A sync call without one may name its
// token in the message's selector, and an event stream may have none (an
// anonymous stream): those are left to the handler. The handler checks
// the token again, with the environment it asks for. Over HTTP/1.1 the
// server's guard (package httpapi) closes the connection after such an
// answer instead of reading the rest of the message, as after any answer
// given with the message unread.
func (s *Server) credentialsFirst(h http.Handler) http.Handler {
	errs := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxDeclaredBytes {
			errs.Write(w, r, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("request body of %d bytes declared: a message may have at most %d", r.ContentLength, MaxMessageBytes)))
			return
		}
		secret, _ := credentials(r.Header, "")
		evaluation := strings.HasPrefix(r.URL.Path, "/flagd.evaluation.") && !slices.Contains(StreamPaths, r.URL.Path)
		if secret == "" && !evaluation {
			h.ServeHTTP(w, r)
			return
		}
		if _, err := s.token(r.Context(), secret); err != nil {
			errs.Write(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// The answers to calls whose credentials do not authenticate, new for
// each (a connect.Error makes its metadata when asked for it: one shared
// by calls would be written by all of them).
func errThrottled() error {
	return connect.NewError(connect.CodeResourceExhausted, errors.New("too many failed authentications from this address: retry later"))
}

func errUnauthenticated() error {
	return connect.NewError(connect.CodeUnauthenticated, errors.New("missing or invalid token: send authorization: Bearer <token> metadata, or the token as the selector"))
}

// environment authenticates a sync call and returns the environment whose
// definitions it reads.
func (s *Server) environment(ctx context.Context, header http.Header, field string) (*flags.Live, error) {
	live, _, err := s.authorize(ctx, header, field, true)
	return live, err
}

// authorize authenticates a call and returns its environment's live flags.
// The token comes from the authorization metadata or, for providers that
// cannot send metadata (flagd's RPC providers have no option for it), as
// the selector itself; otherwise the selector names the environment.
// definitions: the call reads flag definitions, which client tokens may not.
//
// Failed authentications are counted against the caller's address by the
// throttle the HTTP server puts in ctx (auth.ThrottleOf), as the API's
// are; an address past its failures is refused before its token is
// looked at.
func (s *Server) authorize(ctx context.Context, header http.Header, field string, definitions bool) (*flags.Live, *valueloop.Token, error) {
	secret, env := credentials(header, field)
	t, err := s.token(ctx, secret)
	if err != nil {
		return nil, nil, err
	}
	if env == "" {
		env = t.Environment
	}
	if env == "" {
		return nil, nil, connect.NewError(connect.CodeInvalidArgument, errors.New("selector required: this token is not bound to an environment; set the selector to the environment's key"))
	}
	if definitions && !t.CanReadDefinitions(env) {
		return nil, nil, connect.NewError(connect.CodePermissionDenied, errors.New("token may not read the flag definitions of this environment"))
	}
	if !t.CanEvaluate(env) {
		return nil, nil, connect.NewError(connect.CodePermissionDenied, errors.New("token may not evaluate this environment"))
	}
	live := s.Flags.Live(env)
	if live == nil {
		msg := fmt.Sprintf("environment %q not found (the selector names an environment)", env)
		if t.Environment == "" { // it may know every name, as on the API's routes
			msg += "; " + s.Flags.KnownEnvironments()
		}
		return nil, nil, connect.NewError(connect.CodeNotFound, valueloop.Errorf(valueloop.ENOTFOUND, "%s", msg))
	}
	return live, t, nil
}

// token authenticates secret, counting a failure against the caller's
// address by the throttle the HTTP server puts in ctx (auth.ThrottleOf);
// an address past its failures is refused before its token is looked at.
func (s *Server) token(ctx context.Context, secret string) (*valueloop.Token, error) {
	throttle := auth.ThrottleOf(ctx)
	if throttle.Blocked() {
		return nil, errThrottled()
	}
	t, err := s.Auth.Authenticate(secret)
	if err != nil {
		throttle.Fail()
		return nil, errUnauthenticated()
	}
	return t, nil
}

// credentials returns the token and the environment a call names: the
// token from the authorization metadata or, failing that, a selector that
// is a token; the environment from the selector header or field.
func credentials(header http.Header, field string) (secret, env string) {
	secret = auth.BearerToken(header.Get("Authorization"))
	env = header.Get(SelectorHeader)
	if env == "" {
		env = field
	}
	if secret == "" && strings.HasPrefix(env, "vl_") {
		secret, env = env, ""
	}
	return secret, env
}

// errRevoked ends a stream whose token was revoked while it was open.
var errRevoked = connect.NewError(connect.CodeUnauthenticated, errors.New("token revoked"))

// SyncFlags streams the environment's flags as a flagd file: at once, then
// after every committed change. Whole sets, as flagd sends them.
func (s *Server) SyncFlags(ctx context.Context, req *connect.Request[syncv1.SyncFlagsRequest], stream *connect.ServerStream[syncv1.SyncFlagsResponse]) error {
	//lint:ignore SA1019 older providers send the selector in the field, not the header
	selector := req.Msg.GetSelector()
	secret, _ := credentials(req.Header(), selector)
	token := s.Auth.Watch(secret)
	live, err := s.environment(ctx, req.Header(), selector)
	if err != nil {
		return err
	}
	release, err := s.streamSlot(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	env := live.Environment.Key
	changes := make(chan string, 1)
	cancel := s.Flags.Subscribe(changes)
	defer cancel()
	var sent int64 = -1
	for {
		// Read before the token is checked, as the SSE stream does: a set
		// changed after a revocation was answered never reaches the token.
		live := s.Flags.Live(env)
		if token.Revoked() {
			return errRevoked
		}
		if live != nil && live.Version != sent {
			msg, err := s.syncs.Get(live, syncMessage)
			if err != nil {
				return connect.NewError(connect.CodeInternal, err)
			}
			if err := stream.Send(msg); err != nil {
				return err
			}
			sent = live.Version
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.Closing:
			return connect.NewError(connect.CodeUnavailable, errors.New("server shutting down"))
		case <-token.C(): // checked at the top of the loop
		case changed := <-changes:
			if changed != env {
				continue
			}
		}
	}
}

// FetchAllFlags answers the environment's flags as a flagd file, as
// SyncFlags sends them: the message the streams share (Server.syncs), so a
// provider that polls costs no encoding of the set per call.
func (s *Server) FetchAllFlags(ctx context.Context, req *connect.Request[syncv1.FetchAllFlagsRequest]) (*connect.Response[syncv1.FetchAllFlagsResponse], error) {
	//lint:ignore SA1019 older providers send the selector in the field, not the header
	live, err := s.environment(ctx, req.Header(), req.Msg.GetSelector())
	if err != nil {
		return nil, err
	}
	msg, err := s.syncs.Get(live, syncMessage)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&syncv1.FetchAllFlagsResponse{FlagConfiguration: msg.FlagConfiguration}), nil
}

// GetMetadata answers the static evaluation context, as flagd does
// (its --context-value): what in-process providers add to the context of
// every evaluation (flagd's Java provider asks for it when a stream
// carries no sync_context). Valueloop configures none, so it is empty; the
// set's metadata reaches providers in the flag configuration. The RPC is
// deprecated in flagd's proto but part of the service, and older
// providers still call it. The token is checked all the same.
//
//lint:ignore SA1019 part of the service interface, called by older providers
func (s *Server) GetMetadata(ctx context.Context, req *connect.Request[syncv1.GetMetadataRequest]) (*connect.Response[syncv1.GetMetadataResponse], error) {
	if _, err := s.environment(ctx, req.Header(), ""); err != nil {
		return nil, err
	}
	//lint:ignore SA1019 see above
	return connect.NewResponse(&syncv1.GetMetadataResponse{Metadata: &structpb.Struct{}}), nil
}
