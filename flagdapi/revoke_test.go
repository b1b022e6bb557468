package flagdapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/evaluation/v1/evaluationv1connect"
	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"
)

// TestStreamsEndOnRevoke: revoking a token ends its open SyncFlags and
// EventStream streams with Unauthenticated, and a change of flags made
// after the revocation reaches neither (the sync stream carries the
// definitions; before, both streams went on as long as the client liked).
func TestStreamsEndOnRevoke(t *testing.T) {
	s, apply, secret := newStreamServer(t)
	srv := serveHTTP(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	syncReq := connect.NewRequest(&syncv1.SyncFlagsRequest{})
	syncReq.Header().Set("Authorization", "Bearer "+secret)
	sync, err := syncv1connect.NewFlagSyncServiceClient(srv.Client(), srv.URL).SyncFlags(ctx, syncReq)
	if err != nil {
		t.Fatal(err)
	}
	defer sync.Close()
	if !sync.Receive() {
		t.Fatalf("sync stream: no first set: %v", sync.Err())
	}
	evReq := connect.NewRequest(&evalv1.EventStreamRequest{})
	evReq.Header().Set("Authorization", "Bearer "+secret)
	events, err := evaluationv1connect.NewServiceClient(srv.Client(), srv.URL).EventStream(ctx, evReq)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	if !events.Receive() || events.Msg().GetType() != "provider_ready" {
		t.Fatalf("event stream: no provider_ready: %v", events.Err())
	}

	tok, err := s.Auth.Authenticate(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Auth.Revoke(ctx, tok.ID, "test"); err != nil {
		t.Fatal(err)
	}
	apply(setAfter)

	if sync.Receive() {
		t.Errorf("sync stream: a set reached the revoked token: %.60s", sync.Msg().GetFlagConfiguration())
	}
	if code := connect.CodeOf(sync.Err()); code != connect.CodeUnauthenticated {
		t.Errorf("sync stream ended with %v (%v), want unauthenticated", code, sync.Err())
	}
	for events.Receive() {
		if typ := events.Msg().GetType(); typ != "keep_alive" {
			t.Errorf("event stream: %s reached the revoked token", typ)
		}
	}
	if code := connect.CodeOf(events.Err()); code != connect.CodeUnauthenticated || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("event stream ended with %v (%v), want unauthenticated", code, events.Err())
	}
}
