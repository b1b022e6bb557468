package postgres_test

import (
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/postgres/pgtest"
)

// BenchmarkFlagSet: reading an environment's flag set of 200 flags, what a
// node does for each environment at start and on each change.
func BenchmarkFlagSet(b *testing.B) {
	db := MustOpen(b, pgtest.Schema(b), nil)
	ctx := b.Context()
	if err := db.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		b.Fatal(err)
	}
	set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}}
	for i := range 200 {
		key := "flag-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		set.Flags[key] = &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}}
	}
	if _, err := db.ReplaceFlagSet(ctx, "prod", set, -1, "t", ""); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, _, err := db.FlagSet(ctx, "prod")
		if err != nil || len(got.Flags) != 200 {
			b.Fatalf("%d flags, %v", len(got.Flags), err)
		}
	}
}
