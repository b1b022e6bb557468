package flagdapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/gen/go/open-feature/flagd/connectrpc/go/flagd/sync/v1/syncv1connect"
	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

const (
	setBefore = `{"flags":{"a":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"},
 "b":{"state":"ENABLED","variants":{"x":"x","y":"y"},"defaultVariant":"x"}}}`
	setAfter = `{"flags":{"a":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"},
 "b":{"state":"ENABLED","variants":{"x":"x","y":"y"},"defaultVariant":"x"},
 "c":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}}}`
)

// TestChangedKeysComparedOncePerChange: many event streams of one
// environment are told the keys of a change, and the sets are compared
// once for all of them (they once were compared per stream), and the
// message built once and shared (it was built per stream).
func TestChangedKeysComparedOncePerChange(t *testing.T) {
	s, apply, secret := newStreamServer(t)
	ctx := context.Background()
	const streams = 40
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	header := http.Header{"Authorization": {"Bearer " + secret}}
	var ready, told sync.WaitGroup
	ready.Add(streams)
	told.Add(streams)
	var mu sync.Mutex
	var got [][]string
	messages := map[*structpb.Struct]bool{}
	for range streams {
		go s.eventStream(streamCtx, header, func(typ string, data *structpb.Struct) error {
			switch typ {
			case "provider_ready":
				ready.Done()
			case "configuration_change":
				var keys []string
				for k := range data.GetFields()["flags"].GetStructValue().GetFields() {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				mu.Lock()
				got = append(got, keys)
				messages[data] = true
				mu.Unlock()
				told.Done()
			}
			return nil
		})
	}
	ready.Wait()
	apply(setAfter)
	done := make(chan struct{})
	go func() { told.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%d of %d streams were told of the change", len(got), streams)
	}
	for _, keys := range got {
		if !slices.Equal(keys, []string{"a", "c"}) {
			t.Fatalf("changed keys %v, want [a c]", keys)
		}
	}
	if n := s.changes.computed.Load(); n != 1 {
		t.Errorf("the sets were compared %d times for %d streams, want once", n, streams)
	}
	if len(messages) != 1 {
		t.Errorf("%d streams were sent %d configuration_change messages, want one shared", streams, len(messages))
	}
}

// newStreamServer returns a Server over a SQLite store whose production
// environment holds setBefore, a function that applies another flagd file
// to it, and an evaluate token of production.
func newStreamServer(t testing.TB) (*Server, func(doc string), string) {
	t.Helper()
	ctx := context.Background()
	db := sqlitetest.Open(t, nil)
	a := auth.NewService(db)
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	secret, err := a.Create(ctx, &valueloop.Token{Name: "srv", Scope: valueloop.ScopeEvaluate, Environment: "production"}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	f := flags.NewService(db, nil)
	apply := func(doc string) {
		t.Helper()
		set, err := flagd.Parse("f.json", []byte(doc))
		if err == nil {
			_, err = f.Apply(ctx, "production", set, "test", "test")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.EnsureEnvironment(ctx, valueloop.Environment{Key: "production", Name: "Production"}, "test"); err != nil {
		t.Fatal(err)
	}
	apply(setBefore)
	return &Server{Flags: f, Auth: a, Closing: make(chan struct{})}, apply, secret
}

// serveHTTP serves s's handlers over HTTP until the test ends.
func serveHTTP(t *testing.T, s *Server) *httptest.Server {
	mux := http.NewServeMux()
	for path, h := range s.Handlers() {
		mux.Handle(path, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestSyncSetBuiltOncePerChange: many SyncFlags streams of one environment
// (over HTTP, through the service's handler) receive the set and then a
// change, and the message carrying each set is built once for all of them
// (it was built per stream, a copy of the whole set each), and sent
// uncompressed although the client accepts gzip.
func TestSyncSetBuiltOncePerChange(t *testing.T) {
	s, apply, secret := newStreamServer(t)
	srv := serveHTTP(t, s)
	const streams = 40
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := syncv1connect.NewFlagSyncServiceClient(srv.Client(), srv.URL)
	type received struct {
		n   int
		set string
	}
	got := make(chan received, 2*streams)
	for range streams {
		req := connect.NewRequest(&syncv1.SyncFlagsRequest{})
		req.Header().Set("Authorization", "Bearer "+secret)
		stream, err := c.SyncFlags(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer stream.Close()
			for n := 0; stream.Receive(); n++ {
				got <- received{n, stream.Msg().GetFlagConfiguration()}
			}
		}()
	}
	// want checks that every stream received set number n, with the flag a
	// answering defaultVariant.
	want := func(n int, defaultVariant string) {
		t.Helper()
		for range streams {
			select {
			case r := <-got:
				var doc struct {
					Flags map[string]struct{ DefaultVariant string }
				}
				if err := json.Unmarshal([]byte(r.set), &doc); err != nil {
					t.Fatalf("set %d: %v", r.n, err)
				}
				if r.n != n || doc.Flags["a"].DefaultVariant != defaultVariant {
					t.Fatalf("received set %d with a's default %q, want set %d with %q", r.n, doc.Flags["a"].DefaultVariant, n, defaultVariant)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("not every stream received set %d", n)
			}
		}
	}
	want(0, "on")

	// A client that accepts gzip, as connect-go's do by default, still gets
	// the set uncompressed: the first byte of a Connect envelope has bit 0
	// set for a compressed message.
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+syncv1connect.FlagSyncServiceSyncFlagsProcedure, bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/connect+proto")
	req.Header.Set("Connect-Accept-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var prefix [5]byte
	if _, err := io.ReadFull(resp.Body, prefix[:]); err != nil {
		t.Fatalf("HTTP %d: %v", resp.StatusCode, err)
	}
	if prefix[0]&1 != 0 {
		t.Errorf("the set was sent compressed (envelope flags %#x, Connect-Content-Encoding %q)", prefix[0], resp.Header.Get("Connect-Content-Encoding"))
	}

	apply(setAfter)
	want(1, "off")
	// The raw stream counts too: it was served the message of set 0.
	if n := s.syncs.Made(); n != 2 {
		t.Errorf("%d messages built for 2 sets sent to %d streams, want 2", n, streams)
	}
}

// TestChangeOfSharedParts: a change of the set's shared parts names the
// flags whose answers it changes in configuration_change: an edited
// evaluator the flags with targeting (flagd substitutes $refs into the
// flags' rules, so it reports those flags changed), new set metadata every
// flag (each carries it, and flagd's RPC providers cache STATIC answers
// with their metadata until told the flag changed). Both were told as a
// change of no flag. Each flag is named with flagd's type of change
// (core/pkg/notifications: "write" for a new flag, "delete" for a removed
// one, "update" otherwise); added and removed flags were told as "update".
func TestChangeOfSharedParts(t *testing.T) {
	s, apply, secret := newStreamServer(t)
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	apply(read("evaluators_before.json"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	changes := make(chan []string, 4)
	go s.eventStream(ctx, http.Header{"Authorization": {"Bearer " + secret}}, func(typ string, data *structpb.Struct) error {
		switch typ {
		case "provider_ready":
			close(ready)
		case "configuration_change":
			keys := []string{}
			for k, v := range data.GetFields()["flags"].GetStructValue().GetFields() {
				keys = append(keys, k+":"+v.GetStructValue().GetFields()["type"].GetStringValue())
			}
			sort.Strings(keys)
			changes <- keys
		}
		return nil
	})
	<-ready
	for _, step := range []struct {
		file string
		want []string
	}{
		{"evaluators_changed.json", []string{"banner:update"}},
		{"metadata_changed.json", []string{"banner:update", "plain:update"}},
		{"flag_replaced.json", []string{"banner:update", "fresh:write", "plain:delete"}},
	} {
		apply(read(step.file))
		select {
		case got := <-changes:
			if !slices.Equal(got, step.want) {
				t.Errorf("%s: configuration_change names %v, want %v", step.file, got, step.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no configuration_change", step.file)
		}
	}
}

// TestSyncContextIsStaticContext: what flagd's sync service gives as
// sync_context (and, deprecated, as GetMetadata's metadata) is the static
// evaluation context its in-process providers add to every evaluation (the
// testbed's contextEnrichment feature), not the flag set's metadata.
// Valueloop configures none, so both are empty; GetMetadata answered the
// set's metadata, and flagd's Java provider, which asks for it when a
// stream carries no sync_context, put flagSetId, version and the rest into
// every evaluation's context.
func TestSyncContextIsStaticContext(t *testing.T) {
	s, apply, secret := newStreamServer(t)
	apply(`{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}},
 "metadata": {"flagSetId": "shop", "version": "7", "team": "checkout"}}`)
	srv := serveHTTP(t, s)
	c := syncv1connect.NewFlagSyncServiceClient(srv.Client(), srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	//lint:ignore SA1019 flagd's Java provider still asks for it
	mreq := connect.NewRequest(&syncv1.GetMetadataRequest{})
	mreq.Header().Set("Authorization", "Bearer "+secret)
	//lint:ignore SA1019 see above
	md, err := c.GetMetadata(ctx, mreq)
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Msg.GetMetadata().AsMap(); len(got) != 0 {
		t.Errorf("GetMetadata: %v, want no static context", got)
	}

	req := connect.NewRequest(&syncv1.SyncFlagsRequest{})
	req.Header().Set("Authorization", "Bearer "+secret)
	stream, err := c.SyncFlags(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("no sync message: %v", stream.Err())
	}
	msg := stream.Msg()
	switch {
	case msg.SyncContext == nil:
		t.Error("SyncFlags: no sync_context; flagd's Java provider then asks GetMetadata for one")
	case len(msg.SyncContext.AsMap()) != 0:
		t.Errorf("SyncFlags: sync_context %v, want empty", msg.SyncContext.AsMap())
	}
	if !strings.Contains(msg.GetFlagConfiguration(), `"team"`) {
		t.Errorf("the set's metadata is no longer in the flag configuration: %s", msg.GetFlagConfiguration())
	}
}

// TestSyncScopeIsTheEnvironment: flagd's in-process providers copy their
// selector into the metadata of every evaluation as "scope" when the flag's
// metadata has none (@openfeature/flagd-provider 0.16.1), and the selector
// may be the token: the set sent over SyncFlags and FetchAllFlags names the
// environment as its scope, so that the provider keeps that instead of the
// secret. A set with a scope of its own keeps it.
func TestSyncScopeIsTheEnvironment(t *testing.T) {
	s, apply, secret := newStreamServer(t)
	srv := serveHTTP(t, s)
	c := syncv1connect.NewFlagSyncServiceClient(srv.Client(), srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct{ name, metadata, flag, want string }{
		{"no scope of its own", `{"flagSetId": "shop"}`, `null`, "production"},
		{"no metadata", `null`, `null`, "production"},
		{"a scope of its own", `{"scope": "checkout"}`, `null`, "checkout"},
		// The provider tests the scope for truth (!flagMetadata.scope):
		// an empty, zero or false one would have it copy the selector.
		{"an empty scope", `{"scope": ""}`, `null`, "production"},
		{"a false scope", `{"scope": false}`, `null`, "production"},
		{"a zero scope", `{"scope": 0}`, `null`, "production"},
		// A flag's metadata goes over the set's: its empty scope too.
		{"a flag's empty scope", `{"scope": "checkout"}`, `{"scope": "", "team": "a"}`, "checkout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply(`{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on", "metadata": ` + tc.flag + `}}, "metadata": ` + tc.metadata + `}`)
			//lint:ignore SA1019 older providers send the selector in the field
			stream, err := c.SyncFlags(ctx, connect.NewRequest(&syncv1.SyncFlagsRequest{Selector: secret}))
			if err != nil || !stream.Receive() {
				t.Fatalf("SyncFlags: %v %v", err, stream.Err())
			}
			defer stream.Close()
			//lint:ignore SA1019 see above
			all, err := c.FetchAllFlags(ctx, connect.NewRequest(&syncv1.FetchAllFlagsRequest{Selector: secret}))
			if err != nil {
				t.Fatal(err)
			}
			for name, conf := range map[string]string{"SyncFlags": stream.Msg().GetFlagConfiguration(), "FetchAllFlags": all.Msg.GetFlagConfiguration()} {
				var set struct {
					Metadata map[string]any
					Flags    map[string]struct{ Metadata map[string]any }
				}
				if err := json.Unmarshal([]byte(conf), &set); err != nil {
					t.Fatal(err)
				}
				if set.Metadata["scope"] != tc.want || strings.Contains(conf, secret) {
					t.Errorf("%s: metadata %v, want scope %q (and no token)", name, set.Metadata, tc.want)
				}
				// What the provider reads: the flag's metadata over the set's.
				merged := maps.Clone(set.Metadata)
				if merged == nil {
					merged = map[string]any{}
				}
				maps.Copy(merged, set.Flags["a"].Metadata)
				if merged["scope"] != tc.want {
					t.Errorf("%s: flag a's metadata %v over the set's, want scope %q", name, set.Flags["a"].Metadata, tc.want)
				}
			}
		})
	}
}

// TestFetchAllFlagsSharesTheEncoding: FetchAllFlags answers with the
// encoding the sync streams share (Server.syncs), made once per version of
// the set: with the scope added it encoded the whole set again on every
// call, which providers that poll make often.
func TestFetchAllFlagsSharesTheEncoding(t *testing.T) {
	s, apply, secret := newStreamServer(t)
	srv := serveHTTP(t, s)
	c := syncv1connect.NewFlagSyncServiceClient(srv.Client(), srv.URL)
	apply(`{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}`)
	before := s.syncs.Made()
	for range 3 {
		//lint:ignore SA1019 older providers send the selector in the field
		all, err := c.FetchAllFlags(t.Context(), connect.NewRequest(&syncv1.FetchAllFlagsRequest{Selector: secret}))
		if err != nil || !strings.Contains(all.Msg.GetFlagConfiguration(), `"scope": "production"`) {
			t.Fatalf("FetchAllFlags: %v %.200s", err, all.Msg.GetFlagConfiguration())
		}
	}
	if n := s.syncs.Made() - before; n != 1 {
		t.Errorf("%d encodings made for 3 calls on one version of the set, want 1", n)
	}
}
