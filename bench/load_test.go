package bench_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/valueloop/valueloop/bench"
	"github.com/valueloop/valueloop/ingest"
)

// TestGenBody checks that a generated batch is one the server takes whole:
// every event valid, the ids numbered from the offset, the same bytes for
// the same seed.
func TestGenBody(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	body := bench.NewGen(50, 7, base).Body(300, 1000)
	b, err := ingest.Decode(body, time.Now(), ingest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Received != 300 || len(b.Events) != 300 || len(b.Rejected) != 0 {
		t.Fatalf("decoded %d of %d events, %d rejected (%+v); want 300 valid", len(b.Events), b.Received, len(b.Rejected), b.Rejected)
	}
	if got := b.Events[0].ID; got != "ld-1000" {
		t.Errorf("first id = %q, want ld-1000", got)
	}
	users := map[string]bool{}
	for _, ev := range b.Events {
		users[ev.TargetingKey] = true
	}
	if len(users) > 50 {
		t.Errorf("%d distinct users, want at most 50", len(users))
	}
	if again := bench.NewGen(50, 7, base).Body(300, 1000); !bytes.Equal(again, body) {
		t.Error("the same seed gave other bytes")
	}
}
