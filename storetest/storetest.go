// Package storetest is the contract every Valueloop store implementation
// must meet. Each store's tests call Run with a function that opens a fresh,
// empty store; the same cases then run against SQLite always and against
// PostgreSQL when a DSN is given.
package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
)

// Store is the full set of store methods the contract covers.
type Store interface {
	Environments(ctx context.Context) ([]valueloop.Environment, error)
	CreateEnvironment(ctx context.Context, env valueloop.Environment, actor string) error
	FlagSet(ctx context.Context, env string) (*valueloop.FlagSet, int64, error)
	ReplaceFlagSet(ctx context.Context, env string, set *valueloop.FlagSet, ifVersion int64, actor, reason string) (valueloop.FlagSetChange, error)
	CreateToken(ctx context.Context, t *valueloop.Token, hash []byte, actor string) error
	Tokens(ctx context.Context) ([]valueloop.StoredToken, error)
	RevokeToken(ctx context.Context, id int64, actor string) error
	Audit(ctx context.Context, f valueloop.AuditFilter) ([]valueloop.AuditEntry, error)
	CountAudit(ctx context.Context, f valueloop.AuditFilter, upTo int) (int, error)
	PutFlag(ctx context.Context, env string, f *valueloop.Flag, ifVersion int64, actor, reason string) (int64, int64, error)
	PutFlagOver(ctx context.Context, env string, over int64, f *valueloop.Flag, ifVersion int64, actor, reason string) (int64, int64, error)
	DeleteFlag(ctx context.Context, env, key string, ifVersion int64, actor, reason string) (int64, error)
}

// Clock is a settable clock for stores whose Now the test controls.
type Clock struct {
	T time.Time

	mu    sync.Mutex
	pause func()
}

// Now returns the clock's time, after running the function PauseNext set,
// if any.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	pause := c.pause
	c.pause = nil
	c.mu.Unlock()
	if pause != nil {
		pause()
	}
	return c.T
}

// PauseNext makes the next call of Now run pause first: a case stops a
// store method at the moment it reads the time.
func (c *Clock) PauseNext(pause func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pause = pause
}

// Run runs the contract against stores made by open.
func Run(t *testing.T, open func(t *testing.T, clock *Clock) Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s Store, clock *Clock)
	}{
		{"Environments", testEnvironments},
		{"ReplaceFlagSet", testReplaceFlagSet},
		{"ReplaceFlagSetUnknownEnvironment", testReplaceUnknownEnv},
		{"Tokens", testTokens},
		{"Audit", testAudit},
		{"AuditPages", testAuditPages},
		{"PutFlag", testPutFlag},
		{"ConcurrentPutFlag", testConcurrentPutFlag},
		{"FlagRecreated", testFlagRecreated},
		{"DatedBack", testDatedBack},
		{"Hypotheses", testHypotheses},
		{"Rollouts", testRollouts},
		{"RolloutPages", testRolloutPages},
		{"RolloutsReached", testRolloutsReached},
		{"RolloutIfEnabled", testRolloutIfEnabled},
		{"Verdicts", testVerdicts},
		{"FixedDecisions", testFixedDecisions},
		{"FixedPlans", testFixedPlans},
		{"Value", testValue},
		{"Sessions", testSessions},
		{"ValueChanges", testValueChanges},
		{"Events/SplitChangeRace", testSplitChangeRace},
		{"Events/SplitChangeDuringRebuild", testSplitChangeDuringRebuild},
		{"Events/ExposureAheadOfChange", testExposureAheadOfChange},
		{"SplitHistoryFollows", testSplitHistoryFollows},
	}
	for _, c := range eventCases {
		cases = append(cases, struct {
			name string
			fn   func(t *testing.T, s Store, clock *Clock)
		}{"Events/" + c.name, eventCase(c.fn)})
	}
	for _, c := range deliveryCases {
		cases = append(cases, struct {
			name string
			fn   func(t *testing.T, s Store, clock *Clock)
		}{"Delivery/" + c.name, deliveryCase(c.fn)})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := &Clock{T: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
			c.fn(t, open(t, clock), clock)
		})
	}
}

func testEnvironments(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	for _, e := range []valueloop.Environment{{Key: "production", Name: "Production", Production: true}, {Key: "dev", Name: "Dev"}} {
		if err := s.CreateEnvironment(ctx, e, "tester"); err != nil {
			t.Fatalf("CreateEnvironment(%s): %v", e.Key, err)
		}
	}
	err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "dev", Name: "again"}, "tester")
	if got := valueloop.ErrorCode(err); got != valueloop.ECONFLICT {
		t.Errorf("duplicate environment: got error kind %q (%v), want %q", got, err, valueloop.ECONFLICT)
	}
	envs, err := s.Environments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []valueloop.Environment{{Key: "dev", Name: "Dev"}, {Key: "production", Name: "Production", Production: true}}
	if !reflect.DeepEqual(envs, want) {
		t.Errorf("Environments() = %+v, want %+v", envs, want)
	}
	set, version, err := s.FlagSet(ctx, "dev")
	if err != nil || len(set.Flags) != 0 || version != 0 {
		t.Errorf("FlagSet(new env) = %d flags, version %d, %v; want empty, 0, nil", len(set.Flags), version, err)
	}
	if _, _, err := s.FlagSet(ctx, "nope"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("FlagSet(unknown) error = %v, want kind not_found", err)
	}
}

func strp(s string) *string { return &s }

func testSet() *valueloop.FlagSet {
	return &valueloop.FlagSet{
		Flags: map[string]*valueloop.Flag{
			"a": {State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: strp("off"),
				Targeting: json.RawMessage(`{"if": [ {"==": [{"var":"tier"}, "gold"]}, "on", null]}`)},
			"b": {State: valueloop.StateDisabled, Variants: map[string]any{"x": "x"}, DefaultVariant: strp("x"), Metadata: map[string]any{"owner": "me"}},
		},
		Evaluators: map[string]json.RawMessage{"gold": json.RawMessage(`{"==":[{"var":"tier"},"gold"]}`)},
		Metadata:   map[string]any{"flagSetId": "shop"},
	}
}

func testReplaceFlagSet(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "Prod"}, "tester"); err != nil {
		t.Fatal(err)
	}
	change, err := s.ReplaceFlagSet(ctx, "prod", testSet(), -1, "alice", "first")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(change.Added, []string{"a", "b"}) || change.Version != 1 {
		t.Errorf("first replace: %+v, want a and b added at version 1", change)
	}
	got, version, err := s.FlagSet(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if version != 1 || len(got.Flags) != 2 || got.Flags["a"].Version != 1 || *got.Flags["a"].DefaultVariant != "off" {
		t.Fatalf("FlagSet after replace: version %d, flags %+v", version, got.Flags)
	}
	if got.Metadata["flagSetId"] != "shop" || len(got.Evaluators) != 1 || got.Flags["b"].Metadata["owner"] != "me" {
		t.Errorf("metadata or evaluators lost: %+v %+v", got.Metadata, got.Evaluators)
	}
	var rule any
	if err := json.Unmarshal(got.Flags["a"].Targeting, &rule); err != nil {
		t.Errorf("stored targeting is not JSON: %v", err)
	}

	// The same content again, whitespace aside: nothing changes.
	same := testSet()
	same.Flags["a"].Targeting = json.RawMessage(`{"if":[{"==":[{"var":"tier"},"gold"]},"on",null]}`)
	change, err = s.ReplaceFlagSet(ctx, "prod", same, -1, "alice", "again")
	if err != nil || !change.Empty() || change.Version != 1 {
		t.Errorf("identical replace: %+v, %v; want no change at version 1", change, err)
	}

	// Change one, remove one, add one.
	next := testSet()
	next.Flags["a"].State = valueloop.StateDisabled
	delete(next.Flags, "b")
	next.Flags["c"] = &valueloop.Flag{State: valueloop.StateEnabled, Variants: map[string]any{"n": 1.5}, DefaultVariant: strp("n")}
	change, err = s.ReplaceFlagSet(ctx, "prod", next, -1, "bob", "second")
	if err != nil {
		t.Fatal(err)
	}
	want := valueloop.FlagSetChange{Added: []string{"c"}, Changed: []string{"a"}, Removed: []string{"b"}, Version: 2}
	if !reflect.DeepEqual(change, want) {
		t.Errorf("second replace = %+v, want %+v", change, want)
	}
	got, _, _ = s.FlagSet(ctx, "prod")
	// c is made at the environment's version, 2: see testFlagRecreated.
	if got.Flags["a"].Version != 2 || got.Flags["c"].Version != 2 || got.Flags["b"] != nil {
		t.Errorf("versions after change: a=%d c=%d b=%v", got.Flags["a"].Version, got.Flags["c"].Version, got.Flags["b"])
	}
	if v := got.Flags["c"].Variants["n"]; v != 1.5 {
		t.Errorf("number variant = %v (%T), want 1.5", v, v)
	}

	// A set merged from version 1 is refused over version 2, and changes
	// nothing (it would undo the second replace).
	if _, err := s.ReplaceFlagSet(ctx, "prod", testSet(), 1, "carol", "stale"); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("replace over version 1 at version 2 = %v, want kind conflict", err)
	}
	if got, version, _ := s.FlagSet(ctx, "prod"); version != 2 || got.Flags["b"] != nil {
		t.Errorf("refused replace changed the set: version %d, b %v", version, got.Flags["b"])
	}
	if change, err := s.ReplaceFlagSet(ctx, "prod", testSet(), 2, "carol", "current"); err != nil || change.Version != 3 {
		t.Errorf("replace over the current version 2 = %+v, %v; want version 3", change, err)
	}
}

func testReplaceUnknownEnv(t *testing.T, s Store, _ *Clock) {
	_, err := s.ReplaceFlagSet(context.Background(), "ghost", testSet(), -1, "alice", "")
	if valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("ReplaceFlagSet(unknown env) = %v, want kind not_found", err)
	}
}

func testTokens(t *testing.T, s Store, clock *Clock) {
	ctx := context.Background()
	a := &valueloop.Token{Name: "ci", Scope: valueloop.ScopeEvaluate, Environment: "prod"}
	if err := s.CreateToken(ctx, a, []byte("0123456789abcdef0123456789abcdef"), "root"); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || !a.CreatedAt.Equal(clock.T) {
		t.Errorf("CreateToken did not set id/created_at: %+v", a)
	}
	b := &valueloop.Token{Name: "dup", Scope: valueloop.ScopeAdmin}
	err := s.CreateToken(ctx, b, []byte("0123456789abcdef0123456789abcdef"), "root")
	if valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("same hash twice: %v, want kind conflict", err)
	}
	clock.T = clock.T.Add(time.Hour)
	if err := s.RevokeToken(ctx, a.ID, "root"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, 9999, "root"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("revoke unknown: %v, want not_found", err)
	}
	all, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].RevokedAt == nil || !all[0].RevokedAt.Equal(clock.T) || string(all[0].Hash) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("Tokens() = %+v", all)
	}
	if len(all) == 1 && (all[0].Client || len(all[0].Origins) != 0 || all[0].NoExposures) {
		t.Errorf("a server token came back as %+v, want no client, origins or noExposures", all[0].Token)
	}

	// A client token keeps its origins, in order; a quiet one its flag.
	c := &valueloop.Token{Name: "web", Scope: valueloop.ScopeEvaluate, Environment: "prod", Client: true,
		Origins: []string{"https://shop.example", "http://localhost:3000"}, NoExposures: true}
	if err := s.CreateToken(ctx, c, []byte("client-hash-0123456789abcdef0123"), "root"); err != nil {
		t.Fatal(err)
	}
	all, err = s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := all[len(all)-1].Token; !got.Client || !got.NoExposures || strings.Join(got.Origins, " ") != "https://shop.example http://localhost:3000" {
		t.Errorf("client token stored as %+v, want client, noExposures and both origins", got)
	}
	v := &valueloop.Token{Name: "pm", Scope: valueloop.ScopeViewer}
	if err := s.CreateToken(ctx, v, []byte("fedcba9876543210fedcba9876543210"), "root"); err != nil {
		t.Fatalf("a viewer token: %v", err)
	}
	if all, _ = s.Tokens(ctx); all[len(all)-1].Scope != valueloop.ScopeViewer {
		t.Errorf("Tokens() after a viewer token = %+v", all)
	}
}

func testAudit(t *testing.T, s Store, clock *Clock) {
	ctx := context.Background()
	s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "Prod"}, "root")
	clock.T = clock.T.Add(time.Minute)
	if _, err := s.ReplaceFlagSet(ctx, "prod", testSet(), -1, "alice", "launch"); err != nil {
		t.Fatal(err)
	}
	next := testSet()
	next.Flags["a"].DefaultVariant = strp("on")
	clock.T = clock.T.Add(time.Minute)
	if _, err := s.ReplaceFlagSet(ctx, "prod", next, -1, "bob", "turn it on"); err != nil {
		t.Fatal(err)
	}
	entries, err := s.Audit(ctx, valueloop.AuditFilter{Environment: "prod", Target: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("audit of flag a: %d entries, want 2: %+v", len(entries), entries)
	}
	e := entries[0] // newest first
	if e.Actor != "bob" || e.Action != "flag.update" || e.Reason != "turn it on" || !e.At.Equal(clock.T) {
		t.Errorf("newest entry = %+v", e)
	}
	var before, after map[string]any
	if json.Unmarshal(e.Before, &before) != nil || json.Unmarshal(e.After, &after) != nil {
		t.Fatalf("before/after not JSON: %s / %s", e.Before, e.After)
	}
	if before["defaultVariant"] != "off" || after["defaultVariant"] != "on" {
		t.Errorf("diff: before %v after %v", before["defaultVariant"], after["defaultVariant"])
	}
	if entries[1].Action != "flag.create" || entries[1].Before != nil {
		t.Errorf("oldest entry = %+v, want a flag.create without before", entries[1])
	}
	byBob, _ := s.Audit(ctx, valueloop.AuditFilter{Actor: "bob"})
	if len(byBob) != 1 {
		t.Errorf("audit by bob: %d entries, want 1", len(byBob))
	}
	page, _ := s.Audit(ctx, valueloop.AuditFilter{Limit: 1, BeforeID: entries[0].ID})
	if len(page) != 1 || page[0].ID >= entries[0].ID {
		t.Errorf("paging back from %d: %+v", entries[0].ID, page)
	}
}

func testPutFlag(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "Prod"}, "root")
	f := &valueloop.Flag{Key: "x", State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: strp("off")}
	fv, ev, err := s.PutFlag(ctx, "prod", f, 0, "alice", "create")
	if err != nil || fv != 1 || ev != 1 {
		t.Fatalf("create: %d %d %v, want 1 1 nil", fv, ev, err)
	}
	if _, _, err := s.PutFlag(ctx, "prod", f, 0, "alice", ""); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("create again: %v, want conflict", err)
	}
	if fv, ev, err := s.PutFlag(ctx, "prod", f, 1, "alice", ""); err != nil || fv != 1 || ev != 1 {
		t.Errorf("identical update: %d %d %v, want no change", fv, ev, err)
	}
	f.DefaultVariant = strp("on")
	if fv, ev, err := s.PutFlag(ctx, "prod", f, 1, "alice", "on"); err != nil || fv != 2 || ev != 2 {
		t.Fatalf("update: %d %d %v, want 2 2 nil", fv, ev, err)
	}
	f.DefaultVariant = strp("off")
	if _, _, err := s.PutFlag(ctx, "prod", f, 1, "bob", "stale"); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("stale update: %v, want conflict", err)
	}
	// Checked against the set at version 1, the environment being at 2.
	if _, _, err := s.PutFlagOver(ctx, "prod", 1, f, -1, "bob", "stale set"); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("write over a stale set: %v, want conflict", err)
	}
	got, _, _ := s.FlagSet(ctx, "prod")
	if *got.Flags["x"].DefaultVariant != "on" {
		t.Errorf("a rejected write changed the flag: %v", *got.Flags["x"].DefaultVariant)
	}
	if _, _, err := s.PutFlag(ctx, "prod", &valueloop.Flag{Key: "y", State: "ENABLED"}, 3, "bob", ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("update of a missing flag: %v, want not_found", err)
	}
	if _, _, err := s.PutFlag(ctx, "nope", f, -1, "bob", ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("unknown environment: %v, want not_found", err)
	}
	if _, err := s.DeleteFlag(ctx, "prod", "x", 1, "bob", ""); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("stale delete: %v, want conflict", err)
	}
	if ev, err := s.DeleteFlag(ctx, "prod", "x", 2, "bob", "gone"); err != nil || ev != 3 {
		t.Errorf("delete: %d %v, want 3 nil", ev, err)
	}
	if _, err := s.DeleteFlag(ctx, "prod", "x", -1, "bob", ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("delete again: %v, want not_found", err)
	}
	entries, _ := s.Audit(ctx, valueloop.AuditFilter{Target: "x"})
	if len(entries) != 3 || entries[0].Action != "flag.delete" || entries[0].Reason != "gone" {
		t.Errorf("audit of x: %+v", entries)
	}
}

// testFlagRecreated: Alice reads flag x at its first version; Bob deletes
// it and makes it again. Alice's write from what she read is over another
// flag: refused, as a change since her read is. Made again at version 1,
// it took her version for its own and her write silently replaced Bob's
// flag. The same through a whole set (ReplaceFlagSet) as through PutFlag.
func testFlagRecreated(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "Prod"}, "root")
	flag := func(def string) *valueloop.Flag {
		return &valueloop.Flag{Key: "x", State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: strp(def)}
	}
	read, _, err := s.PutFlag(ctx, "prod", flag("off"), 0, "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteFlag(ctx, "prod", "x", read, "bob", ""); err != nil {
		t.Fatal(err)
	}
	again, _, err := s.PutFlag(ctx, "prod", flag("on"), 0, "bob", "")
	if err != nil || again <= read {
		t.Errorf("x made again: version %d, %v; want above the %d it had before", again, err, read)
	}
	if _, _, err := s.PutFlag(ctx, "prod", flag("off"), read, "alice", ""); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("alice's write from version %d of the deleted x over the one made again: %v; want a conflict", read, err)
	}
	if _, err := s.DeleteFlag(ctx, "prod", "x", read, "alice", ""); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("alice's delete from version %d of the deleted x: %v; want a conflict", read, err)
	}
	got, _, _ := s.FlagSet(ctx, "prod")
	if got.Flags["x"] == nil || *got.Flags["x"].DefaultVariant != "on" {
		t.Fatalf("x after alice's stale writes: %+v; want bob's, on", got.Flags["x"])
	}
	// Through whole sets: removed, then added again.
	read = got.Flags["x"].Version
	if _, err := s.ReplaceFlagSet(ctx, "prod", &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}}, -1, "bob", ""); err != nil {
		t.Fatal(err)
	}
	set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{"x": flag("off")}}
	if _, err := s.ReplaceFlagSet(ctx, "prod", set, -1, "bob", ""); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.FlagSet(ctx, "prod")
	if got.Flags["x"] == nil || got.Flags["x"].Version <= read {
		t.Errorf("x added again by a set: %+v; want a version above %d", got.Flags["x"], read)
	}
	if _, _, err := s.PutFlag(ctx, "prod", flag("on"), read, "alice", ""); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("alice's write from version %d over x added again by a set: %v; want a conflict", read, err)
	}
}

// testConcurrentPutFlag: writers racing on the same version, exactly one wins.
func testConcurrentPutFlag(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "Prod"}, "root")
	base := &valueloop.Flag{Key: "x", State: valueloop.StateEnabled, Variants: map[string]any{"a": "a", "b": "b"}, DefaultVariant: strp("a")}
	if _, _, err := s.PutFlag(ctx, "prod", base, 0, "root", ""); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			f := *base
			f.Metadata = map[string]any{"writer": float64(i)}
			_, _, err := s.PutFlag(ctx, "prod", &f, 1, "w", "")
			errs <- err
		}()
	}
	wins := 0
	for range writers {
		err := <-errs
		switch valueloop.ErrorCode(err) {
		case "":
			wins++
		case valueloop.ECONFLICT:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d writers won, want exactly 1", wins)
	}
	got, version, _ := s.FlagSet(ctx, "prod")
	if got.Flags["x"].Version != 2 || version != 2 || got.Flags["x"].Metadata["writer"] == nil {
		t.Errorf("after the race: flag version %d, env version %d, metadata %v", got.Flags["x"].Version, version, got.Flags["x"].Metadata)
	}
}

// Opened opens db, with its clock set to clock's when clock is not nil,
// and closes it when the test ends.
func Opened[S interface {
	Open() error
	Close() error
}](tb testing.TB, db S, now *func() time.Time, clock *Clock) S {
	tb.Helper()
	if clock != nil {
		*now = clock.Now
	}
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// kept returns st as T, the methods of a part of the contract that not every
// store keeps, or skips t saying what st does not keep.
func kept[T any](t *testing.T, st Store, skip string) T {
	t.Helper()
	s, ok := st.(T)
	if !ok {
		t.Skip(skip)
	}
	return s
}
