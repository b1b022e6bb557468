package postgres_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/postgres/pgtest"
)

// TestApplyKeepsPeersChange: node a disables a flag (the kill switch);
// node b, whose live set does not show that yet (here: it follows
// nothing; in service: the notification is on its way, or lost and the
// version check due in up to 5 s), is sent a flagd file that changes
// another flag and lacks the first (no prune). The file's flag is
// changed and the disabled flag stays disabled: b merged the file with
// its live set and wrote that back, enabling the flag again, a change
// nobody made, recorded under the apply's actor.
func TestApplyKeepsPeersChange(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a := openNode(t, dsn, false, time.Hour)
	const secret = "admin-secret-for-tests-0123"
	if _, err := a.tokens.Create(ctx, &valueloop.Token{Name: "root", Scope: valueloop.ScopeAdmin}, secret, "t"); err != nil {
		t.Fatal(err)
	}
	if err := a.flags.EnsureEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	applyDoc(t, a, `{"flags":{
		"kill":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"},
		"checkout":{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"a"}}}`)
	b := openNode(t, dsn, false, time.Hour) // reads the set as it is now, then follows nothing
	if _, err := a.flags.SetState(ctx, "prod", "kill", valueloop.StateDisabled, -1, "alice", "incident"); err != nil {
		t.Fatal(err)
	}

	srv := httpapi.NewServer(b.tokens, b.flags, b.store, nil)
	srv.Addr = "127.0.0.1:0"
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	req, _ := http.NewRequestWithContext(ctx, "PUT", srv.URL()+"/api/v1/environments/prod/flagd",
		strings.NewReader(`{"flags":{"checkout":{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"b"}}}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("apply through node b: %d %s", resp.StatusCode, body)
	}
	t.Logf("apply through node b: %s", body)

	stored, _, err := a.store.FlagSet(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Flags["checkout"].DefaultVariant; got == nil || *got != "b" {
		t.Errorf("checkout's default variant = %v, want b (the file's)", got)
	}
	if got := stored.Flags["kill"].State; got != valueloop.StateDisabled {
		t.Errorf("kill is %s after node b's apply, want %s: a's kill switch was undone", got, valueloop.StateDisabled)
	}
	if l := b.flags.Live("prod"); l == nil || l.Snapshot.Set().Flags["kill"].State != valueloop.StateDisabled {
		t.Error("node b does not serve kill disabled after its apply")
	}
}

// TestPutFlagChecksPeersSet: node a removes the evaluator "gold" from the
// environment; node b, whose live set still has it, is asked to create a
// flag whose rule names it. The write is refused as invalid and the stored
// set still compiles: b checked the flag against its live set and wrote it,
// leaving a stored set that no node could compile, so that every node kept
// serving its old snapshot, whatever changed after, and a node started
// afterwards did not serve the environment at all.
func TestPutFlagChecksPeersSet(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a := openNode(t, dsn, false, time.Hour)
	if err := a.flags.EnsureEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	const x = `"x":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}`
	applyDoc(t, a, `{"$evaluators":{"gold":{"==":[{"var":"tier"},"gold"]}},"flags":{`+x+`}}`)
	b := openNode(t, dsn, false, time.Hour) // sees gold, then follows nothing
	applyDoc(t, a, `{"flags":{`+x+`}}`)

	on := "on"
	y := &valueloop.Flag{Key: "y", State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false},
		DefaultVariant: &on, Targeting: []byte(`{"if":[{"$ref":"gold"},"on","off"]}`)}
	if _, err := b.flags.PutFlag(ctx, "prod", y, 0, "bob", ""); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("node b creates a flag naming the evaluator node a removed: %v, want kind invalid", err)
	}
	stored, _, err := a.store.FlagSet(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evaluation.Compile(stored); err != nil {
		t.Errorf("the stored set does not compile: %v", err)
	}
	if c := openNode(t, dsn, false, time.Hour); c.flags.Live("prod") == nil {
		t.Error("a node started afterwards does not serve prod")
	}
}

// applyDoc makes the flagd document doc the flag set of prod through n.
func applyDoc(t *testing.T, n *node, doc string) {
	t.Helper()
	set, err := flagd.Parse("prod.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.flags.Apply(t.Context(), "prod", set, "t", ""); err != nil {
		t.Fatal(err)
	}
}

// TestKillSwitchThroughLaggingNode: node a changes flag x and creates flag
// y; node b, whose live set shows neither yet, is asked to disable both
// without a version (no If-Match). Both are disabled, x keeping a's change:
// b wrote over the versions its live set showed and answered 409 "someone
// changed it first" and 404, a kill switch refused for a change nobody
// asked it to respect.
func TestKillSwitchThroughLaggingNode(t *testing.T) {
	ctx := t.Context()
	a, b := laggingPair(t)
	on := "on"
	for _, key := range []string{"x", "y"} {
		f := &valueloop.Flag{Key: key, State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: &on}
		if _, err := a.flags.PutFlag(ctx, "prod", f, -1, "alice", ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"y", "x"} { // y first: x's retry would show b y
		if _, err := b.flags.SetState(ctx, "prod", key, valueloop.StateDisabled, -1, "bob", "incident"); err != nil {
			t.Errorf("disable %s through node b: %v", key, err)
		}
	}
	stored, _, err := a.store.FlagSet(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"x", "y"} {
		if f := stored.Flags[key]; f.State != valueloop.StateDisabled || *f.DefaultVariant != "on" {
			t.Errorf("stored %s: %s, default %s; want DISABLED, default on (a's)", key, f.State, *f.DefaultVariant)
		}
	}
}

// TestKillSwitchIfMatchThroughLaggingNode: node a changes flag x (its
// version 2); node b, whose live set still shows version 1, is asked to
// disable x with If-Match 2, the version the client read from a. x is
// disabled and keeps a's change: b took x from its live set (version 1),
// set its state, and wrote that copy over version 2, which the If-Match
// allowed, undoing a's change unasked.
func TestKillSwitchIfMatchThroughLaggingNode(t *testing.T) {
	ctx := t.Context()
	a, b := laggingPair(t)
	on := "on"
	v, err := a.flags.PutFlag(ctx, "prod", &valueloop.Flag{Key: "x", State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: &on}, -1, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.flags.SetState(ctx, "prod", "x", valueloop.StateDisabled, v, "bob", "incident"); err != nil {
		t.Fatalf("disable x at version %d through node b: %v", v, err)
	}
	stored, _, err := a.store.FlagSet(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if f := stored.Flags["x"]; f.State != valueloop.StateDisabled || *f.DefaultVariant != "on" {
		t.Errorf("stored x: %s, default %s; want DISABLED, default on (a's change, at the version asked)", f.State, *f.DefaultVariant)
	}
}

// laggingPair opens node a, with flag x (version 1, default off) in
// environment prod, and node b, which reads that set and then follows
// nothing: its live set lags behind every change a makes after.
func laggingPair(t *testing.T) (a, b *node) {
	dsn := pgtest.Schema(t)
	a = openNode(t, dsn, false, time.Hour)
	if err := a.flags.EnsureEnvironment(t.Context(), valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	applyDoc(t, a, `{"flags":{"x":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}}}`)
	return a, openNode(t, dsn, false, time.Hour)
}
