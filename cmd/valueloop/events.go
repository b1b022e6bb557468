package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ingest"
)

// openEvents starts the ingestion pipeline for serve: it writes to ing (the
// store itself for SQLite; see storage) and the routes read db.
func openEvents(ing ingest.Store, db httpapi.EventStore, logger *slog.Logger) (*httpapi.Events, func(), error) {
	p := ingest.NewPipeline(ing, logger)
	if err := p.Open(); err != nil {
		return nil, nil, err
	}
	return &httpapi.Events{Pipeline: p, Store: db}, func() { p.Close() }, nil
}

func runEvents(ctx context.Context, e *cliEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("events: want a subcommand: send, import, rebuild or load")
	}
	fs := newFlagSet(e, "events "+args[0])
	cf := addClientFlags(e, fs)
	env := fs.String("env", "", "environment (required for admin tokens not bound to one)")
	switch args[0] {
	case "send":
		typ := fs.String("type", "tracking", "tracking or exposure")
		key := fs.String("key", "", "targeting key of the user (required)")
		name := fs.String("name", "", "tracking: what the user did")
		value := fs.String("value", "", "tracking: a number")
		flagKey := fs.String("flag", "", "exposure: flag key")
		variant := fs.String("variant", "", "exposure: variant served")
		id := fs.String("id", "", "event id, so that sending again is harmless")
		at := fs.String("time", "", "RFC 3339 time (default: now)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		ev := map[string]any{"type": *typ, "targetingKey": *key}
		for k, v := range map[string]string{"name": *name, "flag": *flagKey, "variant": *variant, "id": *id, "time": *at} {
			if v != "" {
				ev[k] = v
			}
		}
		if *value != "" {
			v, err := strconv.ParseFloat(*value, 64)
			if err != nil {
				return usageErrorf("events send: --value must be a number, got %q", *value)
			}
			ev["value"] = v
		}
		body, _ := json.Marshal([]any{ev})
		c, err := cf.client()
		if err != nil {
			return err
		}
		res, err := c.SendEvents(ctx, *env, body, false, false)
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, res)
		}
		// One event sent: the results list it only when it was rejected or
		// a duplicate.
		if len(res.Results) > 0 {
			switch r := res.Results[0]; r.Status {
			case ingest.StatusRejected:
				return valueloop.FieldErrorf(r.Field, "%s", r.Reason)
			case ingest.StatusDuplicate:
				fmt.Fprintln(e.stderr, "Already stored (same id and time): nothing changed.")
				return nil
			}
		}
		fmt.Fprintln(e.stderr, "Stored.")
		return nil
	case "import":
		batch := fs.Int("batch", 1000, "events per request")
		gz := fs.Bool("gzip", false, "compress requests")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErrorf("events import: want one NDJSON file (one event per line), e.g. 'valueloop events import events.ndjson'")
		}
		if *batch < 1 || *batch > 10000 {
			return usageErrorf("events import: --batch must be from 1 to 10000")
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		return importEvents(ctx, e, c, *env, fs.Arg(0), *batch, *gz, cf.output == "json")
	case "rebuild":
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *env == "" {
			return usageErrorf("events rebuild: --env is required")
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		// Millions of events take longer than the client's usual timeout;
		// Ctrl-C still stops the wait.
		c.HTTP.Timeout = 0
		start := time.Now()
		report, clear := rebuildProgress(e.stderr, isTerminal(e.stderr))
		res, err := c.RebuildEventsWatching(ctx, *env, report)
		clear()
		if err != nil {
			return err
		}
		if cf.output == "json" {
			return writeJSONOut(e, res)
		}
		verdict := "the stored aggregates were already equal to it"
		if res.Changed {
			verdict = "the stored aggregates DIFFERED and were replaced"
		}
		fmt.Fprintf(e.stdout, "Recomputed %s from %d events in %s: %d aggregates; %s.\n", *env, res.Events, time.Since(start).Round(time.Millisecond), res.Aggregates, verdict)
		return nil
	case "load":
		return runLoad(ctx, e, fs, cf, env, args[1:])
	}
	return usageErrorf("events: unknown subcommand %q: want send, import, rebuild or load", args[0])
}

// importSummary is the outcome of an import.
type importSummary struct {
	File       string `json:"file"`
	Events     int    `json:"events"`
	Stored     int    `json:"stored"`
	Duplicates int    `json:"duplicates"`
	Rejected   int    `json:"rejected"`
}

// importEvents sends an NDJSON file in batches, drawing a progress bar on
// stderr, and reports rejected events by line number.
func importEvents(ctx context.Context, e *cliEnv, c *client.Client, env, name string, batch int, gz, asJSON bool) error {
	f, err := os.Open(name)
	if err != nil {
		return usageErrorf("events import: %v", err)
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	sum := importSummary{File: name}
	bar := progress{w: e.stderr, total: size, start: time.Now(), tty: isTerminal(e.stderr)}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var body bytes.Buffer
	var lines []int // file line number of each event in body
	var read int64
	lineNo := 0
	const maxShown = 20
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		res, err := c.SendEvents(ctx, env, body.Bytes(), true, gz)
		if err != nil {
			bar.clear()
			return fmt.Errorf("after %d events (up to line %d; re-run the import: events with ids are not stored twice): %w", sum.Events, lines[0]-1, err)
		}
		sum.Events += res.Received
		sum.Stored += res.Stored
		sum.Duplicates += res.Duplicates
		sum.Rejected += res.Rejected
		for _, r := range res.Results {
			if r.Status != ingest.StatusRejected {
				continue
			}
			if sum.Rejected-res.Rejected < maxShown {
				bar.clear()
				field := ""
				if r.Field != "" {
					field = r.Field + ": "
				}
				line := -1
				if r.Index < len(lines) {
					line = lines[r.Index]
				}
				fmt.Fprintf(e.stderr, "%s:%d: rejected: %s%s\n", name, line, field, r.Reason)
			}
		}
		body.Reset()
		lines = lines[:0]
		bar.draw(read, sum.Events)
		return nil
	}
	for sc.Scan() {
		lineNo++
		b := sc.Bytes()
		read += int64(len(b)) + 1
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		body.Write(b)
		body.WriteByte('\n')
		lines = append(lines, lineNo)
		if len(lines) >= batch || body.Len() >= 8<<20 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		bar.clear()
		return fmt.Errorf("reading %s at line %d: %w", name, lineNo+1, err)
	}
	if err := flush(); err != nil {
		return err
	}
	bar.clear()
	if sum.Rejected > maxShown {
		fmt.Fprintf(e.stderr, "... and %d more rejected events\n", sum.Rejected-maxShown)
	}
	if asJSON {
		writeJSONOut(e, sum)
	} else {
		fmt.Fprintf(e.stdout, "Imported %s: %d events: %d stored, %d duplicates, %d rejected (%s).\n",
			name, sum.Events, sum.Stored, sum.Duplicates, sum.Rejected, time.Since(bar.start).Round(time.Millisecond))
	}
	if sum.Rejected > 0 {
		return valueloop.Errorf(valueloop.EINVALID, "%d events were rejected (see above); fix them and import those lines again", sum.Rejected)
	}
	return nil
}

// progress draws a one-line progress bar on a terminal, and nothing
// elsewhere (a log file would fill with redrawn lines).
type progress struct {
	w     io.Writer
	tty   bool
	total int64
	start time.Time
	last  time.Time
	drawn bool
	label string // before the bar, if any
	unit  string // what is counted; "events" when empty
	base  int    // counted before start: not in the rate
}

func (p *progress) draw(done int64, events int) {
	if !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	rate := ""
	if el := time.Since(p.start); el >= 500*time.Millisecond {
		rate = fmt.Sprintf(" %.0f/s", float64(events-p.base)/el.Seconds())
	}
	unit := p.unit
	if unit == "" {
		unit = "events"
	}
	label := ""
	if p.label != "" {
		label = p.label + " "
	}
	if p.total > 0 {
		frac := min(float64(done)/float64(p.total), 1)
		n := int(frac * 30)
		fmt.Fprintf(p.w, "\r%s[%s%s] %3.0f%% %d %s%s ", label, strings.Repeat("=", n), strings.Repeat(" ", 30-n), frac*100, events, unit, rate)
	} else {
		fmt.Fprintf(p.w, "\r%s%d %s%s ", label, events, unit, rate)
	}
	p.drawn = true
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 90))
		p.drawn = false
	}
}

// isTerminal reports whether w is a character device, a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// rebuildProgress draws the reports of a rebuild under way: a counter in
// the first pass over the events (their number is not known yet), then a
// bar for the second pass and one for storing the users.
func rebuildProgress(w io.Writer, tty bool) (report func(ingest.RebuildStatus), clear func()) {
	var bar *progress
	phase := ""
	labels := map[string]string{"exposures": "pass 1/2, exposures:", "tracking": "pass 2/2, events:", "users": "storing users:"}
	report = func(st ingest.RebuildStatus) {
		if st.Phase != phase {
			if bar != nil {
				bar.clear()
			}
			phase = st.Phase
			// The phase began before its first report: the rate counts from
			// there.
			bar = &progress{w: w, tty: tty, start: time.Now(), label: labels[st.Phase], base: int(st.Done)}
			if st.Phase == "users" {
				bar.unit = "users"
			}
		}
		bar.total = st.Of
		bar.draw(st.Done, int(st.Done))
	}
	clear = func() {
		if bar != nil {
			bar.clear()
		}
	}
	return report, clear
}

// runLoad is the reproducible ingestion load test: it sends generated
// batches as fast as the server takes them and reports the rate, the
// server's memory over time and, as a baseline measured in the same run, how
// fast the same bytes can merely be decoded (encoding/json, and ingest's own
// decoder).
func runLoad(ctx context.Context, e *cliEnv, fs *flag.FlagSet, cf *clientFlags, env *string, args []string) error {
	total := fs.Int("events", 1_000_000, "events to send")
	batch := fs.Int("batch", 1000, "events per request")
	users := fs.Int("users", 100_000, "distinct users")
	conc := fs.Int("concurrency", 4, "requests in flight")
	seed := fs.Int("seed", 1, "random seed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	gen := &loadGen{users: *users, r: rand.New(rand.NewPCG(uint64(*seed), 1)), base: time.Now().Add(-time.Hour).UnixMilli()}

	// Baseline on one sample body.
	sample := gen.body(*batch, 0)
	base := decodeBaseline(sample, *batch)
	fmt.Fprintf(e.stdout, "baseline (1 core, same bytes): encoding/json %.0f events/s, ingest.Decode %.0f events/s\n", base[0], base[1])

	bodies := make(chan []byte, *conc*2)
	go func() {
		defer close(bodies)
		for i := 0; i < *total; i += *batch {
			select {
			case bodies <- gen.body(min(*batch, *total-i), i):
			case <-ctx.Done():
				return
			}
		}
	}()
	var sent, stored atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	serverCPU0, ownCPU0 := serverMetric(ctx, c, "process_cpu_seconds_total"), ownCPU()
	start := time.Now()
	stop := make(chan struct{})
	go func() { // memory samples
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(e.stdout, "  %6.1fs %10d events %9.0f events/s  server RSS %s\n", time.Since(start).Seconds(), sent.Load(),
					float64(sent.Load())/time.Since(start).Seconds(), serverRSS(ctx, c))
			case <-stop:
				return
			}
		}
	}()
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range bodies {
				res, err := c.SendEvents(ctx, *env, b, false, false)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				sent.Add(int64(res.Received))
				stored.Add(int64(res.Stored))
			}
		}()
	}
	wg.Wait()
	close(stop)
	el := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	rate := float64(sent.Load()) / el.Seconds()
	fmt.Fprintf(e.stdout, "sent %d events (%d stored) in %s: %.0f events/s over HTTP; %.2f× the encoding/json decode rate, %.2f× ingest.Decode; server RSS %s; %d cores\n",
		sent.Load(), stored.Load(), el.Round(time.Millisecond), rate, rate/base[0], rate/base[1], serverRSS(ctx, c), runtime.NumCPU())
	// CPU per event does not depend on what else runs on the machine, as
	// the rate does: it is the figure to compare between runs.
	perEvent := func(cpu0, cpu1 float64) string {
		if cpu0 < 0 || cpu1 < 0 || sent.Load() == 0 {
			return "?"
		}
		return fmt.Sprintf("%.2f µs", (cpu1-cpu0)/float64(sent.Load())*1e6)
	}
	fmt.Fprintf(e.stdout, "CPU per event: server %s, this load generator %s (GOMAXPROCS %d)\n",
		perEvent(serverCPU0, serverMetric(ctx, c, "process_cpu_seconds_total")), perEvent(ownCPU0, ownCPU()), runtime.GOMAXPROCS(0))
	return nil
}

// serverMetric reads an untyped value from /metrics; -1 when missing.
func serverMetric(ctx context.Context, c *client.Client, name string) float64 {
	var raw []byte
	if err := c.Do(ctx, "GET", "/metrics", nil, &raw); err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		}
	}
	return -1
}

// ownCPU returns the CPU seconds (user and system) this process used, from
// /proc/self/stat; -1 where there is none.
func ownCPU() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces) in parentheses:
	// utime and stime are the 12th and 13th, in clock ticks (100 a second).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (ut + st) / 100
}

// serverRSS reads process_resident_memory_bytes from /metrics.
func serverRSS(ctx context.Context, c *client.Client) string {
	var raw []byte
	if err := c.Do(ctx, "GET", "/metrics", nil, &raw); err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return fmt.Sprintf("%.0f MiB", f/(1<<20))
		}
	}
	return "?"
}

// decodeBaseline returns events/s of encoding/json and of ingest.Decode on
// body, each run for about half a second on one goroutine.
func decodeBaseline(body []byte, n int) [2]float64 {
	type ev struct {
		Type, ID, Flag, Variant, Name, TargetingKey, Time string
		Value                                             *float64
		Attributes                                        json.RawMessage
	}
	var out [2]float64
	for k := range 2 {
		start := time.Now()
		runs := 0
		for time.Since(start) < 500*time.Millisecond {
			if k == 0 {
				var evs []ev
				json.Unmarshal(body, &evs)
			} else {
				ingest.Decode(body, time.Now(), ingest.Limits{})
			}
			runs++
		}
		out[k] = float64(runs*n) / time.Since(start).Seconds()
	}
	return out
}

// loadGen makes realistic batches: per user an exposure first, then page
// views and purchases, each with a unique id and a time.
type loadGen struct {
	mu    sync.Mutex
	users int
	r     *rand.Rand
	base  int64
}

func (g *loadGen) body(n, offset int) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	buf := make([]byte, 0, n*150)
	buf = append(buf, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			buf = append(buf, ',')
		}
		seq := offset + i
		u := g.r.IntN(g.users)
		t := time.UnixMilli(g.base + int64(seq/100)).UTC().Format("2006-01-02T15:04:05.000Z")
		switch k := g.r.IntN(10); {
		case k < 2:
			buf = fmt.Appendf(buf, `{"type":"exposure","id":"ld-%d","flag":"checkout","variant":"%s","targetingKey":"user-%d","time":"%s"}`,
				seq, []string{"control", "treatment"}[u%2], u, t)
		case k < 4:
			buf = fmt.Appendf(buf, `{"type":"tracking","id":"ld-%d","name":"purchase","targetingKey":"user-%d","value":%d.%02d,"time":"%s"}`,
				seq, u, g.r.IntN(200), g.r.IntN(100), t)
		default:
			buf = fmt.Appendf(buf, `{"type":"tracking","id":"ld-%d","name":"page","targetingKey":"user-%d","value":%d,"time":"%s"}`,
				seq, u, 200+g.r.IntN(3000), t)
		}
	}
	return append(buf, ']')
}
