package flagdapi

import (
	"context"
	"strings"
	"testing"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"

	"github.com/valueloop/valueloop"
)

// TestUnknownSelectorListed: a selector naming no environment is answered
// NotFound naming it and, to a token bound to no environment (which may
// know every name), the environments there are, as the API's routes
// answer; it said only that the selector names an environment. A token
// bound to one is told no other's name.
func TestUnknownSelectorListed(t *testing.T) {
	s, _, bound := newStreamServer(t)
	admin, err := s.Auth.Create(context.Background(), &valueloop.Token{Name: "root", Scope: valueloop.ScopeAdmin}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := serveHTTP(t, s)
	client := syncv1connect.NewFlagSyncServiceClient(srv.Client(), srv.URL)
	fetch := func(secret, selector string) error {
		req := connect.NewRequest(&syncv1.FetchAllFlagsRequest{})
		req.Header().Set("Authorization", "Bearer "+secret)
		req.Header().Set(SelectorHeader, selector)
		_, err := client.FetchAllFlags(context.Background(), req)
		return err
	}
	err = fetch(admin, "staging")
	if connect.CodeOf(err) != connect.CodeNotFound || !strings.Contains(err.Error(), `environment "staging" not found (the selector names an environment); the environments are production`) {
		t.Errorf("unbound token, selector staging: %v; want not found naming staging and production", err)
	}
	err = fetch(bound, "")
	if err != nil {
		t.Errorf("bound token, its own environment: %v", err)
	}
}
