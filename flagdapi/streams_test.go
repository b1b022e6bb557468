package flagdapi

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/sqlite"
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
// once for all of them (they once were compared per stream).
func TestChangedKeysComparedOncePerChange(t *testing.T) {
	ctx := context.Background()
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "f.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
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
	s := &Server{Flags: f, Auth: a, Closing: make(chan struct{})}
	const streams = 40
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	header := http.Header{"Authorization": {"Bearer " + secret}}
	var ready, told sync.WaitGroup
	ready.Add(streams)
	told.Add(streams)
	var mu sync.Mutex
	var got [][]string
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
}
