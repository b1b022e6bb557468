package httpapi

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
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

// TestExposureFilterBounded: memory is fixed, each bucket forgetting its
// oldest entry when full, and a forgotten user is only recorded again.
func TestExposureFilterBounded(t *testing.T) {
	f := newExposureFilter(64) // the least: one bucket of 8 per shard
	if f.perShard != 1 {
		t.Fatalf("perShard = %d, want 1", f.perShard)
	}
	for i := range 1000 {
		if !f.first("prod", "f", "on", fmt.Sprint("u", i)) {
			t.Fatalf("u%d: not first at its first evaluation", i)
		}
	}
	for i := range f.shards {
		if s := &f.shards[i]; len(s.buckets) != f.perShard {
			t.Errorf("shard %d has %d buckets, want %d", i, len(s.buckets), f.perShard)
		}
	}
	// The most recent user is remembered; the first was forgotten when
	// its bucket filled, and is recorded again (the pipeline counts it
	// redundant).
	if f.first("prod", "f", "on", "u999") {
		t.Error("u999, the last user, was forgotten")
	}
	if !f.first("prod", "f", "on", "u0") {
		t.Error("u0 still remembered after 1,000 users through 128 entries")
	}
}

// BenchmarkExposureFilter measures first at the size the server uses: for
// users never seen (every call records, the table cycling through its
// capacity as under a stream of new users) and for one returning user.
func BenchmarkExposureFilter(b *testing.B) {
	keys := make([]string, 1<<22)
	for i := range keys {
		keys[i] = fmt.Sprint("user-", i)
	}
	b.Run("first-seen", func(b *testing.B) {
		f := newExposureFilter(1 << 20)
		for _, k := range keys { // every slot touched: no page faults below
			f.first("production", "static-bool", "on", k)
		}
		i := 0
		for b.Loop() {
			f.first("production", "static-bool", "off", keys[i&(len(keys)-1)])
			i++
		}
	})
	b.Run("returning", func(b *testing.B) {
		f := newExposureFilter(1 << 20)
		f.first("production", "static-bool", "on", "user-123")
		for b.Loop() {
			f.first("production", "static-bool", "on", "user-123")
		}
	})
}

// TestExposureFilterModel: the filter answers as a model does in which each
// bucket remembers the last eight exposures first recorded in it (a repeat
// does not make one newer), over a random stream of exposures whose fields
// share values in every position (the fields are hashed apart and
// combined: a value moved to another field is another exposure).
func TestExposureFilterModel(t *testing.T) {
	f := newExposureFilter(16 * 8 * 4) // four buckets a shard: buckets fill
	if f.perShard != 4 {
		t.Fatalf("perShard = %d, want 4", f.perShard)
	}
	type exposure struct{ env, flag, variant, key string }
	words := []string{"a", "b", "on", "off", "prod"}
	var pool []exposure
	for i := range 400 {
		pick := func(n int) string { return words[(i/n)%len(words)] }
		pool = append(pool, exposure{pick(1), pick(5), pick(25), fmt.Sprint(pick(125), i%7)})
	}
	bucket := func(x exposure) [2]uint64 {
		sum := maphash.String(f.seeds[0], x.env) ^ maphash.String(f.seeds[1], x.flag) ^
			maphash.String(f.seeds[2], x.variant) ^ maphash.String(f.seeds[3], x.key)
		return [2]uint64{sum % filterShards, (sum >> 32) & uint64(f.perShard-1)}
	}
	model := map[[2]uint64][]exposure{} // per bucket, newest first
	r := rand.New(rand.NewPCG(7, 8))
	forgotten := 0
	for op := range 20000 {
		x := pool[r.IntN(len(pool))]
		b := bucket(x)
		want := !slices.Contains(model[b], x)
		if got := f.first(x.env, x.flag, x.variant, x.key); got != want {
			t.Fatalf("op %d: first(%+v) = %v, want %v (bucket holds %v)", op, x, got, want, model[b])
		}
		if want {
			if len(model[b]) == 8 {
				forgotten++
			}
			model[b] = append([]exposure{x}, model[b][:min(len(model[b]), 7)]...)
		}
	}
	if forgotten == 0 {
		t.Fatal("no bucket was full: the test misses its case")
	}
}
