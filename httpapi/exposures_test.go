package httpapi

import (
	"fmt"
	"testing"
)

func TestExposureFilter(t *testing.T) {
	f := newExposureFilter(1 << 10)
	steps := []struct {
		env, flag, variant, key string
		want                    bool
	}{
		{"prod", "f", "on", "u1", true},
		{"prod", "f", "on", "u1", false}, // a repeat
		{"prod", "f", "off", "u1", true}, // another variant matters
		{"dev", "f", "on", "u1", true},   // another environment
		{"prod", "f", "on", "u2", true},  // another user
		{"prod", "fo", "n", "u1", true},  // field boundaries count
		{"prod", "f", "on", "u1", false},
		{"prod", "f", "on", "u2", false},
	}
	for i, s := range steps {
		if got := f.first(s.env, s.flag, s.variant, s.key); got != s.want {
			t.Errorf("step %d %+v: first = %v, want %v", i, s, got, s.want)
		}
	}
}

// TestExposureFilterBounded: each shard forgets everything when it is full,
// so memory stays fixed and a forgotten user is only recorded again.
func TestExposureFilterBounded(t *testing.T) {
	f := newExposureFilter(64) // 4 per shard
	if f.perShard != 4 {
		t.Fatalf("perShard = %d, want 4", f.perShard)
	}
	for i := range 1000 {
		if !f.first("prod", "f", "on", fmt.Sprint("u", i)) {
			t.Fatalf("u%d: not first at its first evaluation", i)
		}
	}
	for i := range f.shards {
		if s := &f.shards[i]; s.n > f.perShard || len(s.slots) != 2*f.perShard {
			t.Errorf("shard %d holds %d in %d slots; bound %d in %d", i, s.n, len(s.slots), f.perShard, 2*f.perShard)
		}
	}
	// The most recent user is remembered; the first was forgotten when its
	// shard was cleared, and is recorded again (the pipeline counts it
	// redundant).
	if f.first("prod", "f", "on", "u999") {
		t.Error("u999, the last user, was forgotten")
	}
	if !f.first("prod", "f", "on", "u0") {
		t.Error("u0 still remembered after 1,000 users through 64 entries")
	}
}
