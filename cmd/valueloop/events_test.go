package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

// TestQuantileOverEventsCLI: metrics create --over event defines a
// quantile over events, a bad --over is refused naming the field, and
// metrics list says what each quantile is over.
func TestQuantileOverEventsCLI(t *testing.T) {
	s := MustServe(t, "")
	code, _, stderr := s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "request-p99", "--kind", "quantile", "--quantile", "0.99", "--over", "event", "--event", "request", "--direction", "lower")
	if code != 0 {
		t.Fatalf("metrics create --over event: exit %d: %s", code, stderr)
	}
	code, _, stderr = s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "load-p50", "--kind", "quantile", "--quantile", "0.5", "--event", "load")
	if code != 0 {
		t.Fatalf("metrics create a quantile over users: exit %d: %s", code, stderr)
	}
	code, _, stderr = s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "bad", "--kind", "quantile", "--quantile", "0.99", "--over", "sessions", "--event", "x")
	if want := `--over: want user or event, not "sessions"`; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("metrics create --over sessions: exit %d, stderr %q; want %d with %q", code, stderr, exitUsage, want)
	}
	code, stdout, _ := s.cli(t, s.Admin, "metrics", "list", "--env", "production")
	if code != 0 || !strings.Contains(stdout, "quantile 0.99 over events") || !strings.Contains(stdout, "quantile 0.5 over users") {
		t.Errorf("metrics list: exit %d:\n%s", code, stdout)
	}
}

// TestEventsWithoutEnv: an admin token is bound to no environment, so
// events send and import without --env are told to add --env, in the
// CLI's words rather than the API's header.
func TestEventsWithoutEnv(t *testing.T) {
	s := MustServe(t, "")
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(`{"type":"tracking","name":"purchase","targetingKey":"u1"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"events", "send", "--key", "u1", "--name", "purchase"},
		{"events", "import", file},
	} {
		code, _, stderr := s.cli(t, s.Admin, args...)
		if code != exitUsage || !strings.Contains(stderr, "--env") || strings.Contains(stderr, "header") {
			t.Errorf("%s without --env: exit %d, stderr %q; want %d asking for --env", strings.Join(args[:2], " "), code, stderr, exitUsage)
		}
	}
}

func TestEventsAndMetricsCLI(t *testing.T) {
	s := MustServe(t, "")
	code, _, stderr := s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "orders", "--kind", "count", "--event", "purchase")
	if code != 0 {
		t.Fatalf("metrics create: exit %d: %s", code, stderr)
	}
	code, _, stderr = s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "bad", "--kind", "median", "--event", "x")
	if want := `--kind: want conversion, count, sum, mean, ratio or quantile, not "median"`; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("metrics create with a bad kind: exit %d, stderr %q; want %d with %q", code, stderr, exitUsage, want)
	}
	code, stdout, _ := s.cli(t, s.Admin, "metrics", "list", "--env", "production")
	if code != 0 || !strings.Contains(stdout, "orders") || !strings.Contains(stdout, "count") {
		t.Errorf("metrics list: exit %d:\n%s", code, stdout)
	}
	code, _, stderr = s.cli(t, s.Admin, "events", "send", "--env", "production", "--type", "exposure", "--key", "u1", "--flag", "checkout", "--variant", "on", "--id", "x1", "--time", "2026-01-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("events send: exit %d: %s", code, stderr)
	}
	code, _, stderr = s.cli(t, s.Admin, "events", "send", "--env", "production", "--type", "exposure", "--key", "u1", "--flag", "checkout", "--variant", "on", "--id", "x1", "--time", "2026-01-01T00:00:00Z")
	if code != 0 || !strings.Contains(stderr, "Already stored") {
		t.Errorf("events send again: exit %d, stderr %q; want success reporting a duplicate", code, stderr)
	}

	file := filepath.Join(t.TempDir(), "events.ndjson")
	lines := []string{
		`{"type":"tracking","id":"p1","name":"purchase","targetingKey":"u1","value":10,"time":"2026-01-01T00:01:00Z"}`,
		``,
		`{"type":"tracking","id":"p2","name":"purchase","targetingKey":"u1","value":"ten","time":"2026-01-01T00:02:00Z"}`,
		`{"type":"tracking","id":"p3","name":"purchase","targetingKey":"u1","time":"2026-01-01T00:03:00Z"}`,
		`{"type":"tracking","name":"purchase"`,
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = s.cli(t, s.Admin, "events", "import", "--env", "production", "--batch", "2", file)
	if code != exitInvalid {
		t.Errorf("import with bad lines: exit %d, want %d", code, exitInvalid)
	}
	if !strings.Contains(stdout, "4 events: 2 stored, 0 duplicates, 2 rejected") {
		t.Errorf("import summary: %q", stdout)
	}
	for _, want := range []string{"events.ndjson:3: rejected: value: must be a number", "events.ndjson:5: rejected: malformed JSON"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("import stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, stdout, _ = s.cli(t, s.Admin, "events", "import", "--env", "production", file)
	if !strings.Contains(stdout, "0 stored, 2 duplicates, 2 rejected") {
		t.Errorf("second import (exit %d): %q; want the stored lines as duplicates", code, stdout)
	}

	c := client.New(s.URL, s.Admin)
	raw, err := c.Aggregates(context.Background(), "production", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	// u1 is in "on" and made two purchases after exposure.
	if !strings.Contains(string(raw), `"users": 1`) || !strings.Contains(string(raw), `"total": 2`) {
		t.Errorf("aggregates: %s", raw)
	}
	code, stdout, _ = s.cli(t, s.Admin, "events", "rebuild", "--env", "production")
	if code != 0 || !strings.Contains(stdout, "from 3 events") || !strings.Contains(stdout, "already equal") {
		t.Errorf("events rebuild: exit %d: %q", code, stdout)
	}
	if code, _, stderr := s.cli(t, s.Admin, "events", "rebuild", "--env", "nowhere"); code != exitNotFound || !strings.Contains(stderr, "nowhere") {
		t.Errorf("events rebuild of an unknown environment: exit %d: %q", code, stderr)
	}
	code, _, stderr = s.cli(t, s.Admin, "metrics", "delete", "--env", "production", "orders")
	if code != 0 {
		t.Errorf("metrics delete: exit %d: %s", code, stderr)
	}
	code, _, _ = s.cli(t, s.Admin, "metrics", "get", "--env", "production", "orders")
	if code != exitNotFound {
		t.Errorf("metrics get after delete: exit %d, want %d", code, exitNotFound)
	}
	code, _, stderr = s.cli(t, s.Admin, "events", "import", "--env", "production")
	if code != exitUsage || !strings.Contains(stderr, "want one NDJSON file") || !strings.Contains(stderr, "'valueloop events import --env production events.ndjson'") {
		t.Errorf("import without a file: exit %d: %s; want a usage error whose example runs as given (it names --env)", code, stderr)
	}
}

// TestCrashKeepsAcknowledgedEvents kills a real server process with
// SIGKILL while it ingests, restarts it, and checks that every acknowledged
// event is stored exactly once and that the aggregates equal a
// recomputation from the stored events.
func TestCrashKeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, data := buildBinary(t), filepath.Join(t.TempDir(), "data")
	start := func() (*exec.Cmd, string) { return startProcess(t, bin, data) }
	cmd, url := start()
	c := client.New(url, testAdminToken)
	ctx := context.Background()
	for _, m := range []metric.Metric{
		{Key: "revenue", Kind: metric.Sum, Event: "purchase"},
		{Key: "converted", Kind: metric.Conversion, Event: "purchase", Window: metric.Window(time.Hour)},
	} {
		if _, err := c.CreateMetric(ctx, "production", m); err != nil {
			t.Fatal(err)
		}
	}
	const batches = 200
	acked := sendUntilKilled(t, c, cmd, batches)
	nAcked := len(acked)

	cmd, url = start()
	c = client.New(url, testAdminToken)
	// Resend everything: what was stored before the kill comes back as
	// duplicates, the rest is stored now.
	var stored, dups int
	for b := 0; b < batches; b++ {
		res, err := c.SendEvents(ctx, "production", crashBatch(b), true, false)
		if err != nil {
			t.Fatal(err)
		}
		stored, dups = stored+res.Stored, dups+res.Duplicates
		if acked[b] && res.Duplicates != 500 {
			t.Errorf("batch %d was acknowledged before the kill but %d of its 500 events were not stored", b, 500-res.Duplicates)
		}
	}
	if dups < nAcked*500 {
		t.Errorf("%d duplicates after restart, want at least %d (acknowledged events)", dups, nAcked*500)
	}
	res, err := c.RebuildEvents(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Events != batches*500 {
		t.Errorf("rebuild after restart = %+v; want %d events and aggregates unchanged", res, batches*500)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	checkStoredOnce(t, data, batches*500)
}

// startProcess starts the binary bin serving data on a free port, with
// more serve arguments if given, and returns it with its URL.
func startProcess(t testing.TB, bin, data string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd, urlc := startBinary(t, bin, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, args...)...)
	select {
	case u := <-urlc:
		return cmd, u
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not start")
	}
	return nil, ""
}

// crashBatch is batch b of the crash test: 500 events of 300 users, as
// NDJSON, with ids so that sending it again stores nothing.
func crashBatch(b int) []byte {
	var sb strings.Builder
	for i := 0; i < 500; i++ {
		u := (b*500 + i) % 300
		tm := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(b*500+i) * time.Millisecond).Format(time.RFC3339Nano)
		if i%5 == 0 {
			fmt.Fprintf(&sb, `{"type":"exposure","id":"b%d-%d","flag":"checkout","variant":"v%d","targetingKey":"u%d","time":"%s"}`+"\n", b, i, u%2, u, tm)
		} else {
			fmt.Fprintf(&sb, `{"type":"tracking","id":"b%d-%d","name":"purchase","value":%d.25,"targetingKey":"u%d","time":"%s"}`+"\n", b, i, i, u, tm)
		}
	}
	return []byte(sb.String())
}

// sendUntilKilled sends the batches from four goroutines, kills the server
// with SIGKILL once some are acknowledged, and returns those that were.
func sendUntilKilled(t *testing.T, c *client.Client, cmd *exec.Cmd, batches int) map[int]bool {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	acked := map[int]bool{}
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		for b := 0; b < batches; b++ {
			next <- b
		}
		close(next)
	}()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				res, err := c.SendEvents(ctx, "production", crashBatch(b), true, b%2 == 0)
				if err == nil && res.Stored+res.Duplicates == 500 {
					mu.Lock()
					acked[b] = true
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once some batches are acknowledged, while others are in flight.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 20 || time.Now().After(deadline) {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wg.Wait()
	if len(acked) < 20 || len(acked) == batches {
		t.Fatalf("%d of %d batches acknowledged before the kill; the test needs some but not all", len(acked), batches)
	}
	return acked
}

// checkStoredOnce checks that the store in data holds each of the n
// events exactly once and aggregates equal to a recomputation from them.
func checkStoredOnce(t *testing.T, data string, n int) {
	t.Helper()
	ctx := context.Background()
	// Every event exactly once in the store.
	db := sqlite.NewDB(filepath.Join(data, "valueloop.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := map[string]int{}
	if err := db.Events(ctx, "production", func(ev *ingest.Event) error { seen[ev.ID]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("%d distinct events stored, want %d", len(seen), n)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	metrics, _ := db.Metrics(ctx, "production")
	all, _, err := ingest.Recompute(metrics, func(fn func(*ingest.Event) error) error { return db.Events(ctx, "production", fn) })
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.AllUsers(all)
	got, err := db.Aggregates(ctx, "production", "")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored aggregates differ from the recomputation:\n got %v\nwant %v", got, want)
	}
}

// TestRebuildProgress draws the reports of a rebuild: a counter while the
// number of events is unknown, bars after; nothing when not on a terminal.
func TestRebuildProgress(t *testing.T) {
	statuses := []ingest.RebuildStatus{
		{Environment: "p", Phase: "exposures", Done: 1000},
		{Environment: "p", Phase: "tracking", Done: 500, Of: 2000},
		{Environment: "p", Phase: "users", Done: 10, Of: 100},
	}
	var buf bytes.Buffer
	report, clear := rebuildProgress(&buf, true, 80)
	for _, st := range statuses {
		report(st)
	}
	clear()
	out := buf.String()
	for _, want := range []string{"\rpass 1/2, exposures: 1000 events", "\rpass 2/2, events: [=======", "]  25% 500 events", "\rstoring users: [===", "]  10% 10 users"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
	if !strings.HasSuffix(out, "\r") {
		t.Errorf("progress %q not cleared at the end", out)
	}
	buf.Reset()
	report, clear = rebuildProgress(&buf, false, 80)
	for _, st := range statuses {
		report(st)
	}
	clear()
	if buf.Len() != 0 {
		t.Errorf("progress drawn off a terminal: %q", buf.String())
	}
}

// TestImportOneRejected: one bad line is said in the singular.
func TestImportOneRejected(t *testing.T) {
	s := MustServe(t, "")
	one := filepath.Join(t.TempDir(), "one.ndjson")
	if err := os.WriteFile(one, []byte(`{"type":"tracking","name":"purchase"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := s.cli(t, s.Admin, "events", "import", "--env", "production", one); code != exitInvalid || !strings.Contains(stderr, "1 event was rejected (see above); fix it and import that line again") {
		t.Errorf("import of one bad line: exit %d, stderr %q; want one event rejected, in the singular", code, stderr)
	}
}

// TestImportListsTwentyRejectedInAll: an import lists the first 20
// rejected events of the whole file, however its batches fall, then says
// how many more there were and how many in all. Before, the cap was tested
// against the count before each batch, so a batch that began under it
// listed every one of its rejections (all 150 here, in one batch).
func TestImportListsTwentyRejectedInAll(t *testing.T) {
	s := MustServe(t, "")
	file := filepath.Join(t.TempDir(), "bad.ndjson")
	var lines []string
	for i := range 150 {
		lines = append(lines, fmt.Sprintf(`{"type":"tracking","id":"b%d","name":"purchase","targetingKey":"u1","value":"ten","time":"2026-01-01T00:02:00Z"}`, i))
	}
	mustWrite(t, file, strings.Join(lines, "\n")+"\n")
	for _, batch := range []string{"1000", "7"} {
		code, _, stderr := s.cli(t, s.Admin, "events", "import", "--env", "production", "--batch", batch, file)
		if code != exitInvalid {
			t.Errorf("batch %s: exit %d, want %d", batch, code, exitInvalid)
		}
		if n := strings.Count(stderr, "bad.ndjson:"); n != 20 {
			t.Errorf("batch %s: %d rejected events listed, want 20:\n%s", batch, n, stderr)
		}
		if !strings.Contains(stderr, "bad.ndjson:20: rejected") || strings.Contains(stderr, "bad.ndjson:21:") {
			t.Errorf("batch %s: want lines 1 to 20 listed:\n%s", batch, stderr)
		}
		if !strings.Contains(stderr, "... and 130 more rejected events (150 rejected in all)") {
			t.Errorf("batch %s: stderr does not end with the count of the rest and of all:\n%s", batch, stderr)
		}
	}
}

// TestRecomputingCallsOutliveTheClientTimeout: the calls the server
// answers after recomputing an environment's aggregates (a rebuild, whose
// stream reports progress meanwhile; a metric created or deleted) are
// bounded by their context: the client's whole-request Timeout (30s from
// client.New) would cut them on a large store while the server goes on.
// Here the Timeout is made to expire at once: the calls must not depend on
// it.
func TestRecomputingCallsOutliveTheClientTimeout(t *testing.T) {
	s := MustServe(t, "", "--demo")
	c := client.New(s.URL, s.Admin)
	c.HTTP.Timeout = time.Nanosecond
	res, err := c.RebuildEventsWatching(context.Background(), "production", nil)
	if err != nil || res.Events == 0 {
		t.Fatalf("rebuild = %+v, %v; want it done, bounded by its context alone", res, err)
	}
	if c.HTTP.Timeout != time.Nanosecond {
		t.Errorf("the client's Timeout became %v; other calls keep it", c.HTTP.Timeout)
	}
	// Creating and deleting a metric answer after the same recomputation.
	m := metric.Metric{Key: "tickets-again", Kind: metric.Count, Event: "support_ticket"}
	if _, err := c.CreateMetric(context.Background(), "production", m); err != nil {
		t.Errorf("create metric: %v; want it bounded by its context alone", err)
	}
	if err := c.DeleteMetric(context.Background(), "production", m.Key); err != nil {
		t.Errorf("delete metric: %v; want it bounded by its context alone", err)
	}
}

// TestImportLongLineRejected: a line longer than the importer reads (1
// MiB, far more than an event may hold) is one rejected event, listed by
// its line, and the lines around it are sent. Before, the import stopped
// there with "token too long", the batch read before it unsent and no word
// of which lines were stored: a re-run stored the earlier events without
// ids twice.
func TestImportLongLineRejected(t *testing.T) {
	s := MustServe(t, "")
	file := filepath.Join(t.TempDir(), "long.ndjson")
	good := `{"type":"tracking","name":"purchase","targetingKey":"u1","value":1,"time":"2026-01-01T00:02:00Z"}`
	long := `{"type":"tracking","name":"purchase","targetingKey":"u1","attributes":{"x":"` + strings.Repeat("y", 2<<20) + `"}}`
	mustWrite(t, file, good+"\n"+long+"\n"+good+"\n")
	code, stdout, stderr := s.cli(t, s.Admin, "events", "import", "--env", "production", file)
	if code != exitInvalid || !strings.Contains(stderr, "long.ndjson:2: rejected: ") || !strings.Contains(stderr, "1 event was rejected") {
		t.Errorf("exit %d, stderr %q; want line 2 rejected, and named", code, stderr)
	}
	if !strings.Contains(stdout, "3 events: 2 stored") {
		t.Errorf("stdout %q; want 3 events, the 2 short ones stored", stdout)
	}
}

// TestReadLine: readLine splits as bufio.Scanner's lines did (a last line
// without an end, \r\n), keeps a line of maxLine bytes and skips a longer
// one to its end.
func TestReadLine(t *testing.T) {
	full := strings.Repeat("a", maxLine)
	tests := []struct {
		name, in string
		want     []string // "LONG" for a line skipped as too long
	}{
		{"ends", "a\nb\r\n\nc", []string{"a", "b", "", "c"}},
		{"empty", "", nil},
		{"longest kept", full + "\r\nx\n", []string{full, "x"}},
		{"one byte more", full + "b\nx", []string{"LONG", "x"}},
		{"long at the end", "x\n" + full + full, []string{"x", "LONG"}},
	}
	for _, tt := range tests {
		r := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
		var got []string
		var read int64
		for {
			line, n, long, err := readLine(r, nil)
			read += n
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if long {
				got = append(got, "LONG")
			} else {
				got = append(got, string(line))
			}
		}
		if !slices.Equal(got, tt.want) || read != int64(len(tt.in)) {
			t.Errorf("%s: %d lines (%d bytes read), want %d (%d bytes)", tt.name, len(got), read, len(tt.want), len(tt.in))
		}
	}
}

// TestEventsSendReason: events send gives an exposure the evaluation's
// reason (docs/events.md, "Exposures outside the split"), so a user a rule
// or a static flag served is counted apart, in outsideSplit, and not in
// the variant's users.
func TestEventsSendReason(t *testing.T) {
	s := MustServe(t, "")
	for _, args := range [][]string{
		{"--key", "u1", "--reason", "SPLIT"}, {"--key", "staff-1", "--reason", "STATIC"}, {"--key", "staff-2", "--reason", "DEFAULT"},
		// split says it outright: a rule's TARGETING_MATCH outside, a
		// DEFAULT the split drew in.
		{"--key", "staff-3", "--reason", "TARGETING_MATCH", "--split", "false"}, {"--key", "u2", "--reason", "DEFAULT", "--split", "true"},
	} {
		code, _, stderr := s.cli(t, s.Admin, append([]string{"events", "send", "--env", "production", "--type", "exposure", "--flag", "checkout", "--variant", "on"}, args...)...)
		if code != 0 {
			t.Fatalf("events send %v: exit %d: %s", args, code, stderr)
		}
	}
	if code, _, stderr := s.cli(t, s.Admin, "events", "send", "--env", "production", "--type", "exposure", "--key", "u3", "--flag", "checkout", "--variant", "on", "--split", "maybe"); code != 2 || !strings.Contains(stderr, "--split") {
		t.Errorf("--split maybe: exit %d, %s; want 2 naming --split", code, stderr)
	}
	raw, err := client.New(s.URL, s.Admin).Aggregates(context.Background(), "production", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Flags []struct {
			Variants []struct {
				Variant             string
				Users, OutsideSplit int
			}
		}
	}
	if err := json.Unmarshal(raw, &got); err != nil || len(got.Flags) != 1 || len(got.Flags[0].Variants) != 1 {
		t.Fatalf("aggregates %s (%v)", raw, err)
	}
	if v := got.Flags[0].Variants[0]; v.Users != 2 || v.OutsideSplit != 3 {
		t.Errorf("variant %+v, want 2 users and 3 outside the split", v)
	}
}

// TestEventsSendReasonCase: OpenFeature's reasons are upper case, and the
// server reads any other string as in the split, so --reason static would
// count a user served outside it as randomised without a word. The CLI
// refuses a known reason in another case, naming --reason, and sends
// nothing; a provider's own reason goes as it is.
func TestEventsSendReasonCase(t *testing.T) {
	s := MustServe(t, "")
	for _, reason := range []string{"static", "Default", "disabled"} {
		code, _, stderr := s.cli(t, s.Admin, "events", "send", "--env", "production", "--type", "exposure", "--key", "u-"+reason, "--flag", "checkout", "--variant", "on", "--reason", reason)
		if code == 0 || !strings.Contains(stderr, "--reason") || !strings.Contains(stderr, strings.ToUpper(reason)) {
			t.Errorf("--reason %s: exit %d, %s; want it refused, naming --reason and %s", reason, code, stderr, strings.ToUpper(reason))
		}
	}
	if code, _, stderr := s.cli(t, s.Admin, "events", "send", "--env", "production", "--type", "exposure", "--key", "u-own", "--flag", "checkout", "--variant", "on", "--reason", "cached-by-app"); code != 0 {
		t.Errorf("--reason cached-by-app: exit %d: %s", code, stderr)
	}
	raw, err := client.New(s.URL, s.Admin).Aggregates(context.Background(), "production", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), `"variant"`); n != 1 || !strings.Contains(string(raw), `"users": 1,`) {
		t.Errorf("aggregates after the refused sends: %s, want the one user sent", raw)
	}
}
