package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
)

// nodeWait bounds the waits for one node to learn what another did, to take
// over the singleton work, or to notice that the database went away or came
// back. The bound is for a loaded
// 2-core machine (these are two processes, PostgreSQL and the test), not a
// latency claim: the change feed usually takes milliseconds, a missed
// notification waits for the follower's 5s version check, and
// cluster.TestFollowerActsOnChanges checks that notifications alone suffice.
const nodeWait = 30 * time.Second

// node is a real `valueloop serve` process on a shared PostgreSQL database.
type node struct {
	name string
	cmd  *exec.Cmd
	URL  string
	log  *syncBuffer
	done chan struct{}
	urlc <-chan string
}

// startNode runs bin serve --database dsn; wait waits until it serves.
func startNode(t *testing.T, bin, dsn, name string) *node {
	t.Helper()
	log := &syncBuffer{}
	cmd, urlc := startBinary(t, bin, log, "serve", "--addr", "127.0.0.1:0", "--database", dsn, "--log-level", "debug")
	n := &node{name: name, cmd: cmd, log: log, done: make(chan struct{}), urlc: urlc}
	go func() { cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, n.log.String())
		}
	})
	return n
}

func (n *node) wait(t *testing.T) {
	t.Helper()
	select {
	case n.URL = <-n.urlc:
	case <-n.done:
		t.Fatalf("%s exited before serving:\n%s", n.name, n.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not serve within 30s:\n%s", n.name, n.log.String())
	}
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (n *node) do(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		buf, _ := json.Marshal(body)
		r = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, n.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// leading reads the node's valueloop_singleton_leading gauge of the
// rollout engine's singleton work.
func (n *node) leading(t *testing.T) bool {
	resp, err := http.Get(n.URL + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), `valueloop_singleton_leading{work="rollouts"} 1`)
}

func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "valueloop")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// eventBody encodes events as the event API takes them.
func eventBody(events []ingest.Event) []map[string]any {
	out := make([]map[string]any, len(events))
	for i, ev := range events {
		m := map[string]any{"id": ev.ID, "targetingKey": ev.TargetingKey, "time": time.UnixMilli(ev.Time).UTC().Format(time.RFC3339Nano)}
		if ev.Type == ingest.Exposure {
			m["type"], m["flag"], m["variant"] = "exposure", ev.Flag, ev.Variant
		} else {
			m["type"], m["name"], m["value"] = "tracking", ev.Name, float64(ev.Value)/ingest.Scale
		}
		out[i] = m
	}
	return out
}

// TestMultiNode runs two real nodes on one PostgreSQL database: a flag
// changed through one is served by the other's OFREP endpoint and stream;
// events sent to both for the same users give the aggregates of a
// single-node recomputation; the node leading the singleton work (the
// rollout engine) is killed with SIGKILL and the other takes over; and
// while the database refuses connections the survivor keeps evaluating,
// reports not ready, and loses no acknowledged event.
func TestMultiNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dsn := pgtest.Database(t)
	bin := buildBinary(t)
	// Both start at once on the empty database: one migrates and creates
	// the admin token, the other waits for the migration and finds it.
	a := startNode(t, bin, dsn, "node-a")
	b := startNode(t, bin, dsn, "node-b")
	a.wait(t)
	b.wait(t)
	admin := testAdminToken

	// An evaluate token created through a is accepted by b. The node that
	// lost the race to create production learns of it from its peer: wait.
	waitUntil(t, "a knows the environment production", nodeWait, func() bool {
		return a.do(t, "GET", "/api/v1/environments/production/flags", admin, nil, nil) == 200
	})
	var created struct{ Secret string }
	if code := a.do(t, "POST", "/api/v1/tokens", admin, map[string]any{"name": "app", "scope": "evaluate", "environment": "production"}, &created); code != 201 {
		t.Fatalf("create token on a: %d", code)
	}
	eval := created.Secret
	ctx := map[string]any{"context": map[string]any{"targetingKey": "u1"}}
	waitUntil(t, "b accepts the token made on a", nodeWait, func() bool {
		return b.do(t, "POST", "/ofrep/v1/evaluate/flags/none", eval, ctx, nil) != http.StatusUnauthorized
	})

	// Both started on an empty database at once: the environments one of
	// them created reach the other through the change feed.
	waitUntil(t, "a has the environment production", nodeWait, func() bool {
		return a.do(t, "GET", "/api/v1/environments/production/flags", admin, nil, nil) == 200
	})

	checkFlagFollows(t, a, b, admin, eval, ctx)

	// Events of the same users sent to both nodes at once (a fifth of the
	// batches to both), with metrics defined on a.
	createMetricsOn(t, a, admin)
	r := rand.New(rand.NewPCG(5, 6))
	events := storetest.GenEvents(r, 0, 6000, 300)
	db := postgres.NewDB(dsn)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// OFREP evaluations above stored exposures of their own, handed to the
	// store in the background: count them once the count has settled.
	base := settledEventCount(t, db)
	sendToNodes(t, []*node{a, b}, events[:4000], eval)
	checkAggregates(t, db, base+4000)

	// Kill the node leading the singleton work; the other takes over, and
	// the events it stores alone keep the aggregates exact.
	var leader, other *node
	waitUntil(t, "one node leads the singleton work", nodeWait, func() bool {
		la, lb := a.leading(t), b.leading(t)
		switch {
		case la && !lb:
			leader, other = a, b
		case lb && !la:
			leader, other = b, a
		}
		return leader != nil
	})
	leader.cmd.Process.Kill()
	<-leader.done
	killed := time.Now()
	waitUntil(t, other.name+" takes over", nodeWait, func() bool { return other.leading(t) })
	t.Logf("%s was killed; %s led after %v", leader.name, other.name, time.Since(killed))
	sendToNodes(t, []*node{other}, events[4000:5000], eval)
	checkAggregates(t, db, base+5000)

	checkDatabaseAway(t, other, dsn, eval, ctx, events)
}

// createMetricsOn defines the metrics of the multi-node test through a.
func createMetricsOn(t *testing.T, a *node, admin string) {
	t.Helper()
	for _, m := range []map[string]any{
		{"key": "orders", "kind": "count", "event": "purchase"},
		{"key": "revenue", "kind": "sum", "event": "purchase"},
		{"key": "converted", "kind": "conversion", "event": "purchase", "window": "1h"},
	} {
		if code := a.do(t, "POST", "/api/v1/environments/production/metrics", admin, m, nil); code != 201 {
			t.Fatalf("create metric %v on a: %d", m["key"], code)
		}
	}
}

// checkFlagFollows checks that a flag created and then changed through a
// is served by b, by OFREP and on its stream.
func checkFlagFollows(t *testing.T, a, b *node, admin, eval string, ctx map[string]any) {
	t.Helper()
	// A flag created and then changed through a is served by b.
	flag := map[string]any{"key": "banner", "state": "ENABLED", "variants": map[string]any{"off": false, "on": true}, "defaultVariant": "off"}
	if code := a.do(t, "POST", "/api/v1/environments/production/flags", admin, flag, nil); code != 201 && code != 200 {
		t.Fatalf("create flag on a: %d", code)
	}
	var got struct{ Value any }
	waitUntil(t, "b serves the flag created on a", nodeWait, func() bool {
		return b.do(t, "POST", "/ofrep/v1/evaluate/flags/banner", eval, ctx, &got) == 200 && got.Value == false
	})
	stream := openStream(t, b, eval)
	flag["defaultVariant"] = "on"
	if code := a.do(t, "PUT", "/api/v1/environments/production/flags/banner", admin, flag, nil); code != 200 {
		t.Fatalf("change flag on a: %d", code)
	}
	changed := time.Now()
	waitUntil(t, "b's OFREP serves the change made on a", nodeWait, func() bool {
		return b.do(t, "POST", "/ofrep/v1/evaluate/flags/banner", eval, ctx, &got) == 200 && got.Value == true
	})
	t.Logf("a change through a was served by b after %v", time.Since(changed))
	select {
	case data := <-stream:
		var set struct {
			Flags map[string]struct{ DefaultVariant string }
		}
		if err := json.Unmarshal([]byte(data), &set); err != nil || set.Flags["banner"].DefaultVariant != "on" {
			t.Errorf("b's stream sent %s, want the changed flag", data)
		}
	case <-time.After(nodeWait):
		t.Error("b's stream did not send the change made on a")
	}
}

// sendToNodes sends events in batches of 200 to the nodes in turn, every
// fifth batch to all of them, all at once.
func sendToNodes(t *testing.T, nodes []*node, events []ingest.Event, eval string) {
	var wg sync.WaitGroup
	for i := 0; i < len(events); i += 200 {
		batch := eventBody(events[i:min(i+200, len(events))])
		targets := []*node{nodes[(i/200)%len(nodes)]}
		if (i/200)%5 == 0 {
			targets = nodes
		}
		for _, n := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code := n.do(t, "POST", "/api/v1/events", eval, batch, nil); code != 200 {
					t.Errorf("events to %s: %d", n.name, code)
				}
			}()
		}
	}
	wg.Wait()
}

// checkDatabaseAway makes the database refuse connections for a while:
// the node keeps evaluating from memory, reports not ready, and loses no
// acknowledged event of those sent meanwhile and after.
func checkDatabaseAway(t *testing.T, other *node, dsn, eval string, ctx map[string]any, events []ingest.Event) {
	t.Helper()
	var got struct{ Value any }
	// The database refuses connections for a while: the node keeps
	// evaluating from memory, reports not ready, and loses no acknowledged
	// event.
	u, _ := url.Parse(dsn)
	dbName := strings.TrimPrefix(u.Path, "/")
	pgtest.Exec(t, `ALTER DATABASE `+dbName+` ALLOW_CONNECTIONS false`)
	pgtest.Exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName)
	waitUntil(t, other.name+" reports not ready", nodeWait, func() bool {
		return other.do(t, "GET", "/readyz", "", nil, nil) == http.StatusServiceUnavailable
	})
	if code := other.do(t, "POST", "/ofrep/v1/evaluate/flags/banner", eval, ctx, &got); code != 200 || got.Value != true {
		t.Errorf("evaluation while the database is away: %d %v, want 200 true", code, got.Value)
	}
	var acked []ingest.Event
	sendAcked := func(batch []ingest.Event) {
		if other.do(t, "POST", "/api/v1/events", eval, eventBody(batch), nil) == 200 {
			acked = append(acked, batch...)
		}
	}
	sendAcked(events[5000:5100]) // refused: not acknowledged
	pgtest.Exec(t, `ALTER DATABASE `+dbName+` ALLOW_CONNECTIONS true`)
	waitUntil(t, other.name+" is ready again", nodeWait, func() bool {
		return other.do(t, "GET", "/readyz", "", nil, nil) == http.StatusOK
	})
	for i := 5100; i < 6000; i += 100 {
		sendAcked(events[i : i+100])
	}
	var res struct {
		Stored, Duplicates int
	}
	other.do(t, "POST", "/api/v1/events", eval, eventBody(acked), &res)
	if res.Stored != 0 || res.Duplicates != len(acked) {
		t.Errorf("sending the %d acknowledged events again: %+v; want all duplicates", len(acked), res)
	}
	if len(acked) < 900 {
		t.Errorf("only %d events acknowledged after the database came back, want at least 900", len(acked))
	}
}

// checkAggregates checks that the stored aggregates equal a recomputation
// from the stored events, which must number n. Acknowledged events are in
// the aggregates already; nothing else is being written meanwhile.
// settledEventCount is production's stored event count once it has stayed
// the same for two seconds: exposures recorded by the nodes reach the store
// after the answer that recorded them.
func settledEventCount(t *testing.T, db *postgres.DB) int64 {
	t.Helper()
	last, stable := int64(-1), 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		n, err := db.EventCount(context.Background(), "production")
		if err != nil {
			t.Fatal(err)
		}
		if n == last {
			if stable++; stable == 4 {
				return n
			}
			continue
		}
		last, stable = n, 0
	}
	t.Fatalf("the event count did not settle in 30 s (last %d)", last)
	return 0
}

func checkAggregates(t *testing.T, db *postgres.DB, n int64) {
	t.Helper()
	ctx := context.Background()
	if got, err := db.EventCount(ctx, "production"); err != nil || got != n {
		t.Fatalf("stored events: %d, %v; want %d (each event once)", got, err, n)
	}
	want := storetest.Recompute(t, db, "production")
	got, err := db.Aggregates(ctx, "production", "")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("aggregates differ from a single-node recomputation (%v):\n got %v\nwant %v", err, got, want)
	}
}

// openStream reads b's flag stream of production and returns a channel of
// the data of each event after the first.
func openStream(t *testing.T, n *node, token string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("GET", n.URL+"/api/v1/environments/production/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream on %s: %v %v", n.name, err, resp)
	}
	t.Cleanup(func() { resp.Body.Close() })
	out := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		first := true
		var data strings.Builder
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				data.WriteString(strings.TrimPrefix(d, " "))
				continue
			}
			if sc.Text() == "" && data.Len() > 0 {
				if !first {
					out <- data.String()
				}
				first = false
				data.Reset()
			}
		}
	}()
	return out
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeDatabaseErrors: a wrong --database fails at start-up with a
// message that names the problem and not the password.
func TestServeDatabaseErrors(t *testing.T) {
	const secret = "Sup3r-s3cret"
	tests := []struct {
		name, dsn string
		code      int
		want      string
	}{
		{"not postgres", "mysql://root:" + secret + "@db/x", exitUsage, "want a PostgreSQL URL"},
		{"unreachable", "postgres://vl:" + secret + "@127.0.0.1:1/vl", exitError, "cannot connect to 127.0.0.1:1"},
		{"bad port", "postgres://vl:" + secret + "@127.0.0.1:port/vl", exitError, "not a valid connection string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			start := time.Now()
			code := Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--database", tt.dsn},
				strings.NewReader(""), io.Discard, &stderr, environ(nil))
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
			if strings.Contains(stderr.String(), secret) {
				t.Errorf("stderr prints the password: %q", stderr.String())
			}
			t.Logf("failed in %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
		})
	}
}

// TestPostgresRestart restarts the PostgreSQL server under load: set
// VALUELOOP_TEST_PG_RESTART to the command that restarts it (e.g.
// 'pg_ctlcluster 15 main restart'). It is not run otherwise, since it
// interrupts every user of that server. While the server is away, both nodes
// keep evaluating from memory and report not ready; afterwards every
// acknowledged event and flag change is there and the nodes serve writes
// again without a restart of their own.
func TestPostgresRestart(t *testing.T) {
	restart := os.Getenv("VALUELOOP_TEST_PG_RESTART")
	if restart == "" {
		t.Skip("VALUELOOP_TEST_PG_RESTART is not set (it restarts the PostgreSQL server)")
	}
	dsn := pgtest.Database(t)
	bin := buildBinary(t)
	a, b := startNode(t, bin, dsn, "node-a"), startNode(t, bin, dsn, "node-b")
	a.wait(t)
	b.wait(t)
	var created struct{ Secret string }
	a.do(t, "POST", "/api/v1/tokens", testAdminToken, map[string]any{"name": "app", "scope": "evaluate", "environment": "production"}, &created)
	eval := created.Secret
	flag := map[string]any{"key": "banner", "state": "ENABLED", "variants": map[string]any{"off": false, "on": true}, "defaultVariant": "on"}
	// Both nodes started on an empty database at once: the environments one
	// created reach the other through the change feed.
	waitUntil(t, "a has the environment production", nodeWait, func() bool {
		return a.do(t, "GET", "/api/v1/environments/production/flags", testAdminToken, nil, nil) == 200
	})
	var answer map[string]any
	if code := a.do(t, "POST", "/api/v1/environments/production/flags", testAdminToken, flag, &answer); code != 201 {
		t.Fatalf("create flag: %d %v", code, answer)
	}
	ctx := map[string]any{"context": map[string]any{"targetingKey": "u1"}}
	waitUntil(t, "b serves the flag", nodeWait, func() bool {
		return b.do(t, "POST", "/ofrep/v1/evaluate/flags/banner", eval, ctx, nil) == 200
	})

	load := startRestartLoad(t, []*node{a, b}, eval, ctx)
	time.Sleep(time.Second)
	start := time.Now()
	if out, err := exec.Command("sh", "-c", restart).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", restart, err, out)
	}
	t.Logf("restart took %v", time.Since(start))
	for _, n := range []*node{a, b} {
		waitUntil(t, n.name+" is ready again", 30*time.Second, func() bool { return n.do(t, "GET", "/readyz", "", nil, nil) == 200 })
	}
	time.Sleep(time.Second)
	load.stop()
	t.Logf("%d batches sent, %d refused; %d answers of /readyz not ready; %d evaluations failed", load.sent, load.refused, load.notReady, load.evalFailed)
	if load.evalFailed > 0 {
		t.Errorf("%d evaluations failed while the database restarted, want none", load.evalFailed)
	}
	if load.refused == 0 || load.notReady == 0 {
		t.Errorf("the restart went unnoticed (%d refused, %d not ready): did it happen?", load.refused, load.notReady)
	}
	acked := load.acked
	var res struct{ Stored, Duplicates int }
	for i := 0; i < len(acked); i += 5000 {
		var part struct{ Stored, Duplicates int }
		a.do(t, "POST", "/api/v1/events", eval, eventBody(acked[i:min(i+5000, len(acked))]), &part)
		res.Stored += part.Stored
		res.Duplicates += part.Duplicates
	}
	if res.Stored != 0 || res.Duplicates != len(acked) {
		t.Errorf("sending the %d acknowledged events again: %+v; want all duplicates (none lost)", len(acked), res)
	}
	flag["defaultVariant"] = "off"
	if code := b.do(t, "PUT", "/api/v1/environments/production/flags/banner", testAdminToken, flag, nil); code != 200 {
		t.Errorf("a write after the restart: %d", code)
	}
	waitUntil(t, "a serves b's change after the restart", nodeWait, func() bool {
		var got struct{ Value any }
		return a.do(t, "POST", "/ofrep/v1/evaluate/flags/banner", eval, ctx, &got) == 200 && got.Value == false
	})
}

// restartLoad is the traffic of TestPostgresRestart: event batches,
// evaluations and readiness checks on every node, tallied.
type restartLoad struct {
	mu                                  sync.Mutex
	acked                               []ingest.Event
	sent, refused, evalFailed, notReady int
	done                                chan struct{}
	wg                                  sync.WaitGroup
}

// startRestartLoad sends 100-event batches to each node in turn (node i the
// i-th of every pair of batches), each followed by an evaluation and a
// readiness check, until stop.
func startRestartLoad(t *testing.T, nodes []*node, eval string, ctx map[string]any) *restartLoad {
	l := &restartLoad{done: make(chan struct{})}
	r := rand.New(rand.NewPCG(9, 9))
	events := storetest.GenEvents(r, 0, 200_000, 1000)
	for i, n := range nodes {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for j := i * 100; j+100 <= len(events); j += 200 {
				select {
				case <-l.done:
					return
				default:
				}
				batch := events[j : j+100]
				code := n.do(t, "POST", "/api/v1/events", eval, eventBody(batch), nil)
				var got struct{ Value any }
				ecode := n.do(t, "POST", "/ofrep/v1/evaluate/flags/banner", eval, ctx, &got)
				rcode := n.do(t, "GET", "/readyz", "", nil, nil)
				l.tally(batch, code == 200, ecode == 200 && got.Value == true, rcode == 200)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *restartLoad) tally(batch []ingest.Event, stored, evaluated, ready bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	if stored {
		l.acked = append(l.acked, batch...)
	} else {
		l.refused++
	}
	if !evaluated {
		l.evalFailed++
	}
	if !ready {
		l.notReady++
	}
}

// stop ends the traffic and waits for it.
func (l *restartLoad) stop() {
	close(l.done)
	l.wg.Wait()
}
