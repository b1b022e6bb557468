package sqlite_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/storetest"
)

// BenchmarkSplitHistory is the split history a results request reads, of a
// flag rolled out in 20 steps in an environment of 50 flags, each edited 10
// times (1,200 audited versions).
func BenchmarkSplitHistory(b *testing.B) {
	ctx := b.Context()
	db := MustOpen(b, nil)
	storetest.CreateEnvWithMetrics(b, db, "prod", nil)
	put := func(key string, on int) {
		f := &valueloop.Flag{Key: key, State: valueloop.StateEnabled, Variants: map[string]any{"off": false, "on": true}, DefaultVariant: ptr("off"),
			Targeting: json.RawMessage(fmt.Sprintf(`{"fractional": [["on", %d], ["off", %d]]}`, on, 100-on))}
		if _, _, err := db.PutFlag(ctx, "prod", f, -1, "bench", ""); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 50 {
		for step := range 10 {
			put(fmt.Sprintf("flag-%02d", i), step)
		}
	}
	for step := range 20 {
		put("checkout", 5*step)
	}
	b.ResetTimer()
	for b.Loop() {
		h, err := db.SplitHistory(ctx, "prod", "checkout")
		if err != nil || len(h) != 20 {
			b.Fatalf("%d periods, %v; want 20", len(h), err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
