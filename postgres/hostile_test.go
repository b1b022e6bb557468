package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
)

// TestUnstorableKeysRefused: PostgreSQL's text holds no U+0000 and its
// index entries at most about 2.7 kB, so a targeting key with either, once
// in the user log, made every compaction of the log fail, and from then on
// every write of the environment. The pipeline refuses such keys before
// they reach a store: recorded exposures are not buffered, sent events are
// refused as invalid, and the other users' writes go on.
func TestUnstorableKeysRefused(t *testing.T) {
	ctx := t.Context()
	db := MustOpen(t, pgtest.Schema(t), nil)
	db.UserLogBytes = 1 << 10 // compact at nearly every write
	storetest.CreateEnvWithMetrics(t, db, "prod", storetest.Metrics(t))
	var long strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&long, "%08x", uint32(i)*2654435761) // hardly compressible
	}
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p := ingest.NewPipeline(db, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{long.String(), "nul\x00"} {
		if p.RecordExposure("prod", "checkout", "on", key, at, nil, false) {
			t.Errorf("RecordExposure with a key of %d bytes (NUL: %v) buffered it, want refused", len(key), strings.Contains(key, "\x00"))
		}
	}
	p.RecordExposure("prod", "checkout", "on", "good", at, nil, false)
	p.Close()
	p = storetest.OpenPipeline(t, db)
	for _, key := range []string{long.String(), "nul\x00"} {
		ev := ingest.Event{Type: ingest.Tracking, Name: "purchase", TargetingKey: key, Time: at.UnixMilli(), TimeSet: true}
		if _, err := p.Ingest(ctx, "prod", []ingest.Event{ev}); valueloop.ErrorCode(err) != valueloop.EINVALID {
			t.Errorf("Ingest with a targeting key of %d bytes (NUL: %v): %v, want an invalid-input error", len(key), strings.Contains(key, "\x00"), err)
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 10 {
		if _, err := p.Ingest(ctx, "prod", storetest.GenEvents(r, i*100, 100, 50)); err != nil {
			t.Fatalf("batch %d of other users: %v", i, err)
		}
	}
	if n, err := db.EventCount(ctx, "prod"); err != nil || n != 1001 {
		t.Errorf("EventCount = %d, %v; want 1001 (the good exposure and 1000 events)", n, err)
	}
}
