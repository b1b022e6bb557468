package features_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/storetest"
	"github.com/valueloop/valueloop/value"
)

// TestConcurrentWritesKeepTheChecks: two writes each valid against the
// stored features but not together. The first pauses between its checks
// and its write; the second, through another service on the same store,
// must be checked against the first's result and refused naming its
// field. The checks read the stored features before the write's
// transaction, unlocked, so the second passed and the two stored a flag
// claimed twice, a cycle, a dependency on a deleted feature.
func TestConcurrentWritesKeepTheChecks(t *testing.T) {
	put := func(f *value.Feature) func(context.Context, *features.Service) error {
		return func(ctx context.Context, s *features.Service) error { return s.PutFeature(ctx, f, "", "t") }
	}
	for _, tc := range []struct {
		name          string
		first, second func(context.Context, *features.Service) error
		field, msg    string
	}{
		{"flag claimed twice", put(feature("c", "f1")), put(feature("d", "f1")), "links.flags[0].flag", `already linked to feature "c"`},
		{"dependency cycle", put(feature("a", "", "b")), put(feature("b", "", "a")), "dependsOn", "dependency cycle"},
		{"dependency on a deleted feature",
			func(ctx context.Context, s *features.Service) error { return s.DeleteFeature(ctx, "a", "t") },
			put(feature("d", "", "a")), "dependsOn[0]", `no feature "a"`},
		{"dependant of a deleted feature", put(feature("d", "", "a")),
			func(ctx context.Context, s *features.Service) error { return s.DeleteFeature(ctx, "a", "t") },
			"", `feature d depends on it`},
		{"applied file claims the flag",
			func(ctx context.Context, s *features.Service) error {
				_, err := s.Apply(ctx, &value.File{Features: []value.Feature{*feature("c", "f1")}}, false, false, "t")
				return err
			},
			put(feature("d", "f1")), "links.flags[0].flag", `already linked to feature "c"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			one, db := mustService(t)
			ctx := context.Background()
			st := storetest.NewHeldWrites(db)
			one.Store = st
			two := features.New(st, db)
			two.Environments, two.Flags = one.Environments, one.Flags
			for _, f := range []*value.Feature{feature("a", ""), feature("b", "")} {
				if err := one.PutFeature(ctx, f, "", "t"); err != nil {
					t.Fatal(err)
				}
			}
			err2 := storetest.WriteDuringHeldWrite(t, st, st, func() error { return tc.first(ctx, one) }, func() error { return tc.second(ctx, two) })
			e, ok := err2.(*valueloop.Error)
			if !ok || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				fs, _ := db.Features(ctx)
				var stored []string
				for _, f := range fs {
					stored = append(stored, fmt.Sprintf("%s%v→%v", f.Key, f.Links.Flags, f.DependsOn))
				}
				t.Errorf("second write: got %v, want %q: …%s…; stored %v", err2, tc.field, tc.msg, stored)
			}
		})
	}
}

// TestWritesHoldTheWriteLock: each write of objectives and features
// stores with the write lock held, and lets go of it after.
func TestWritesHoldTheWriteLock(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	var locked []bool
	w := storetest.NewHeldWrites(db)
	w.Seen = func() { locked = append(locked, features.WritesLocked(svc)) }
	svc.Store = w
	o, err := db.Objective(ctx, "o")
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return svc.PutObjective(ctx, o, "", "t") },
		func() error { return svc.PutFeature(ctx, feature("a", "f1"), "", "t") },
		func() error {
			_, err := svc.Apply(ctx, &value.File{Features: []value.Feature{*feature("b", "f2")}}, false, false, "t")
			return err
		},
		func() error { return svc.DeleteFeature(ctx, "b", "t") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if want := []bool{true, true, true, true}; !slices.Equal(locked, want) {
		t.Errorf("writes stored with the write lock held: %v, want %v", locked, want)
	}
	if features.WritesLocked(svc) {
		t.Error("the write lock is still held after the writes")
	}
}
