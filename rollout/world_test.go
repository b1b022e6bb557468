package rollout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/auth"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/sqlite"
)

// clock is a settable clock shared by the store, the event API and the
// engine, so a test runs a week in a second.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	adminSecret = "admin-secret-for-rollout-tests"
	env         = "production"
)

// The flag under test: the demo's one-page checkout, staff always in it,
// its split at 1%, where the plans under test start.
const checkoutFlags = `{"flags":{"checkout":{"state":"ENABLED","variants":{"classic":"classic","one-page":"one-page"},"defaultVariant":"classic",
 "targeting":{"if":[{"ends_with":[{"var":"email"},"@valueloop.dev"]},"one-page",{"fractional":[["classic",99],["one-page",1]]}]}}}}`

// world is the whole server in-process: SQLite, the flag service, the
// ingestion pipeline, the rollout engine and the HTTP API on a free port.
// Traffic goes through the real paths: variants from the live snapshot,
// events through POST /api/v1/events, rollouts through the rollout routes.
type world struct {
	t      testing.TB
	dir    string
	clock  *clock
	db     *sqlite.DB
	flags  *flags.Service
	pipe   *ingest.Pipeline
	engine *rollout.Engine
	srv    *httpapi.Server
	api    *client.Client
	// Notifier, when set, receives the engine's notifications.
	notifier rollout.Notifier
	notes    []rollout.Notification
	notesMu  sync.Mutex

	rng   *rand.Rand
	users []string // every user seen, for returning visits
}

func newWorld(t testing.TB, seed uint64) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), clock: &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}, rng: rand.New(rand.NewPCG(seed, 1))}
	w.open(true)
	t.Cleanup(w.close)
	return w
}

// open starts everything on the world's data directory; first creates the
// environment, flag, metric and admin token.
func (w *world) open(first bool) {
	t, ctx := w.t, context.Background()
	t.Helper()
	w.db = sqlite.NewDB(filepath.Join(w.dir, "valueloop.db"))
	w.db.Now = w.clock.Now
	if err := w.db.Open(); err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewService(w.db)
	w.flags = flags.NewService(w.db, nil)
	if first {
		if _, err := tokens.Create(ctx, &valueloop.Token{Name: "release-manager", Scope: valueloop.ScopeAdmin}, adminSecret, "test"); err != nil {
			t.Fatal(err)
		}
		if err := w.flags.EnsureEnvironment(ctx, valueloop.Environment{Key: env, Name: "Production", Production: true}, "test"); err != nil {
			t.Fatal(err)
		}
		set, err := flagd.Parse("checkout.json", []byte(checkoutFlags))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.flags.Apply(ctx, env, set, "test", "setup"); err != nil {
			t.Fatal(err)
		}
		m := errorMetric()
		if err := w.db.CreateMetric(ctx, env, &m, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tokens.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.flags.Load(ctx); err != nil {
		t.Fatal(err)
	}
	w.pipe = ingest.NewPipeline(w.db, nil)
	if err := w.pipe.Open(); err != nil {
		t.Fatal(err)
	}
	w.engine = rollout.NewEngine(w.db, w.flags, w.db, nil)
	w.engine.Now = w.clock.Now
	w.engine.Notifier = rollout.NotifierFunc(func(n rollout.Notification) {
		w.notesMu.Lock()
		w.notes = append(w.notes, n)
		w.notesMu.Unlock()
		if w.notifier != nil {
			w.notifier.Notify(n)
		}
	})
	w.srv = httpapi.NewServer(tokens, w.flags, w.db, nil)
	w.srv.Addr = "127.0.0.1:0"
	w.srv.Events = &httpapi.Events{Pipeline: w.pipe, Store: w.db, Now: w.clock.Now}
	w.srv.Rollouts = w.engine
	if err := w.srv.Open(); err != nil {
		t.Fatal(err)
	}
	w.api = client.New(w.srv.URL(), adminSecret)
}

func (w *world) close() {
	if w.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.srv.Close(ctx)
	w.pipe.Close()
	w.db.Close()
	w.srv = nil
}

// restart stops the whole server and starts it again on the same data.
func (w *world) restart() {
	w.close()
	w.open(false)
}

// visit sends n users through the flag: each is evaluated with the live
// snapshot and sends its exposure and, with the probability its variant's
// errRate gives, an "error" tracking event. A share of the visits are
// returning users. The events go through the event API in one batch.
func (w *world) visit(n int, returning float64, errRate map[string]float64) {
	w.t.Helper()
	snap := w.flags.Live(env).Snapshot
	at := w.clock.Now().Format(time.RFC3339Nano)
	var body bytes.Buffer
	ctx := map[string]any{}
	for range n {
		var key string
		if len(w.users) > 0 && w.rng.Float64() < returning {
			key = w.users[w.rng.IntN(len(w.users))]
		} else {
			key = fmt.Sprintf("user-%d", len(w.users))
			w.users = append(w.users, key)
		}
		ctx["targetingKey"] = key
		variant := snap.Evaluate("checkout", ctx).Variant
		fmt.Fprintf(&body, `{"type":"exposure","flag":"checkout","variant":%q,"targetingKey":%q,"time":%q}`+"\n", variant, key, at)
		if w.rng.Float64() < errRate[variant] {
			fmt.Fprintf(&body, `{"type":"tracking","name":"error","targetingKey":%q,"time":%q}`+"\n", key, at)
		}
	}
	res, err := w.api.SendEvents(context.Background(), env, body.Bytes(), true, false)
	if err != nil {
		w.t.Fatal(err)
	}
	if res.Rejected > 0 {
		w.t.Fatalf("events rejected: %+v", res.Results[:min(3, len(res.Results))])
	}
}

// halfByHand sets the flag's split to half and half as someone would,
// outside the rollout.
func (w *world) halfByHand() {
	w.t.Helper()
	f := *w.flags.Live(env).Snapshot.Set().Flags["checkout"]
	f.Targeting = json.RawMessage(`{"fractional":[["classic",1],["one-page",1]]}`)
	if _, err := w.flags.PutFlag(context.Background(), env, &f, f.Version, "someone", "half and half"); err != nil {
		w.t.Fatal(err)
	}
}

// tick runs the engine once.
func (w *world) tick() {
	w.t.Helper()
	if err := w.engine.Tick(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

// run alternates traffic and ticks every 10 minutes of simulated time until
// stop says so or limit passes.
func (w *world) run(limit time.Duration, perTick int, errRate map[string]float64, stop func(*rollout.Status) bool) *rollout.Status {
	w.t.Helper()
	end := w.clock.Now().Add(limit)
	for w.clock.Now().Before(end) {
		w.clock.Add(10 * time.Minute)
		w.visit(perTick, 0.2, errRate)
		w.tick()
		st := w.status()
		if stop != nil && stop(st) {
			return st
		}
	}
	return w.status()
}

func (w *world) status() *rollout.Status {
	w.t.Helper()
	st, err := w.api.RolloutStatus(context.Background(), env, "checkout")
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

// split evaluates many fresh keys with the live snapshot and returns the
// share served one-page, in percent.
func (w *world) split() float64 {
	snap := w.flags.Live(env).Snapshot
	n := 0
	for i := range 20000 {
		if snap.Evaluate("checkout", map[string]any{"targetingKey": fmt.Sprintf("probe-%d", i)}).Variant == "one-page" {
			n++
		}
	}
	return float64(n) / 200
}

func (w *world) notifications() []rollout.Notification {
	w.notesMu.Lock()
	defer w.notesMu.Unlock()
	return append([]rollout.Notification(nil), w.notes...)
}
