package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/bench"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/termchart"
)

// openEvents starts the ingestion pipeline for serve: it writes to ing (the
// store itself for SQLite; see storage) and the routes read db.
func openEvents(ing ingest.Store, db httpapi.EventStore, dims []metric.Dimension, maxFlags int, logger *slog.Logger) (*httpapi.Events, func(), error) {
	p := ingest.NewPipeline(ing, logger)
	p.Dimensions = dims
	p.MaxFlagsPerUser = maxFlags
	if err := p.Open(); err != nil {
		return nil, nil, err
	}
	return &httpapi.Events{Pipeline: p, Store: db}, func() { p.Close() }, nil
}

func eventsCommand() *command {
	return &command{name: "events", summary: "send, import and recompute events, and load-test ingestion (docs/events.md)", subs: []*command{
		{name: "send", args: "[--env ENV] --key USER [--type tracking|exposure] [--name NAME] [--value N] [--flag KEY --variant V [--reason REASON] [--split true|false]] [--attr KEY=VALUE ...] [--id ID] [--time TIME]", summary: "send one event", run: runEventsSend},
		{name: "import", args: "FILE.ndjson [--env ENV] [--batch N] [--gzip]", summary: "send a file of events, one JSON object a line", run: runEventsImport},
		{name: "rebuild", args: "--env ENV", summary: "recompute an environment's aggregates from its stored events", run: runEventsRebuild},
		{name: "load", args: "[--env ENV] [--events N] [--batch N] [--users N] [--concurrency N] [--seed N]", summary: "the reproducible ingestion load test (bench/events.sh)", run: runEventsLoad},
	}}
}

// eventsFlags adds the flags every events subcommand takes.
func eventsFlags(e *cliEnv, sub string) (*flag.FlagSet, *clientFlags, *string) {
	fs := newFlagSet(e, "events "+sub)
	cf := addClientFlags(e, fs)
	return fs, cf, fs.String("env", "", "environment (required for admin tokens not bound to one)")
}

// envRequired puts the server's refusal of events without an environment
// from a token bound to none (an admin or viewer token) in the CLI's terms:
// the flag to add, not the API's header.
func envRequired(sub, env string, err error) error {
	var ve *valueloop.Error
	if env == "" && errors.As(err, &ve) && ve.Field == httpapi.EnvironmentHeader {
		return usageErrorf("events %s: --env is required: this token is bound to no environment", sub)
	}
	return err
}

// openFeatureReasons are the reasons OpenFeature defines, upper case.
var openFeatureReasons = []string{"STATIC", "DEFAULT", "TARGETING_MATCH", "SPLIT", "CACHED", "DISABLED", "UNKNOWN", "STALE", "ERROR"}

// checkReasonCase refuses one of OpenFeature's reasons in another case:
// the server reads the reason as sent, and any string but DEFAULT, STATIC
// and DISABLED as in the split, so --reason static would count a user
// served outside the split as randomised, without a word.
func checkReasonCase(reason string) error {
	up := strings.ToUpper(reason)
	if reason != up && slices.Contains(openFeatureReasons, up) {
		return valueloop.FieldErrorf("--reason", "OpenFeature's reasons are upper case: %s, not %q (another string counts as in the split)", up, reason)
	}
	return nil
}

func runEventsSend(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := eventsFlags(e, "send")
	typ := choice(fs, "type", "tracking", "`TYPE`: tracking or exposure", "tracking", "exposure")
	key := fs.String("key", "", "targeting key of the user (required)")
	name := fs.String("name", "", "tracking: what the user did")
	var value optFloat
	fs.Var(&value, "value", "tracking: a number")
	flagKey := fs.String("flag", "", "exposure: flag key")
	variant := fs.String("variant", "", "exposure: variant served")
	reason := fs.String("reason", "", "exposure: the evaluation's OpenFeature `REASON`; STATIC, DEFAULT or DISABLED: served outside the split, kept out of experiments")
	split := fs.String("split", "", "exposure: `true` when the flag's split drew the variant, false when a rule, the default or a static flag served it (overrides --reason)")
	id := fs.String("id", "", "event id, so that sending again is harmless")
	at := fs.String("time", "", "RFC 3339 time (default: now)")
	var attrs listFlag
	fs.Var(&attrs, "attr", "`KEY=VALUE` attribute of the event, a string (repeatable); on an exposure, where dimensions are read")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkReasonCase(*reason); err != nil {
		return err
	}
	ev := map[string]any{"type": *typ, "targetingKey": *key}
	if len(attrs) > 0 {
		m, err := sendAttributes(attrs)
		if err != nil {
			return err
		}
		ev["attributes"] = m
	}
	for k, v := range map[string]string{"name": *name, "flag": *flagKey, "variant": *variant, "reason": *reason, "id": *id, "time": *at} {
		if v != "" {
			ev[k] = v
		}
	}
	if *split != "" {
		b, err := strconv.ParseBool(*split)
		if err != nil {
			return usageErrorf("events send: --split wants true or false, got %q", *split)
		}
		ev["split"] = b
	}
	if value.set {
		ev["value"] = value.v
	}
	body, err := json.Marshal([]any{ev})
	if err != nil {
		return fmt.Errorf("events send: %w", err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	res, err := c.SendEvents(ctx, *env, body, false, false)
	if err != nil {
		return envRequired("send", *env, err)
	}
	if cf.output == "json" {
		return writeJSONOut(e, res)
	}
	if len(res.Results) > 0 { // one event sent: one result, rejected or a duplicate
		if r := res.Results[0]; r.Status == ingest.StatusRejected {
			return valueloop.FieldErrorf(sendFlag(r.Field), "%s", r.Reason)
		}
		fmt.Fprintln(e.stderr, "Already stored (same id and time): nothing changed.")
		return nil
	}
	fmt.Fprintln(e.stderr, "Stored.")
	return nil
}

// sendAttributes reads events send's --attr KEY=VALUE flags.
func sendAttributes(attrs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, a := range attrs {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usageErrorf("events send: --attr wants KEY=VALUE, e.g. --attr country=GB; got %q", a)
		}
		m[k] = v
	}
	return m, nil
}

// sendFlag is the flag of events send that gives the event's field: the
// refusal of an event sent from the command line names what was typed.
func sendFlag(field string) string {
	flags := map[string]string{"targetingKey": "key", "type": "type", "name": "name", "value": "value",
		"flag": "flag", "variant": "variant", "reason": "reason", "split": "split", "id": "id", "time": "time", "attributes": "attr"}
	if f, ok := flags[strings.SplitN(field, ".", 2)[0]]; ok {
		return "--" + f
	}
	return field
}

func runEventsImport(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := eventsFlags(e, "import")
	batch := fs.Int("batch", 1000, "events per request")
	gz := fs.Bool("gzip", false, "compress requests")
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("events import: want one NDJSON file (one event per line), e.g. 'valueloop events import --env production events.ndjson'")
	}
	if *batch < 1 || *batch > 10000 {
		return usageErrorf("events import: --batch must be from 1 to 10000")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	im := &importer{e: e, c: c, env: *env, gz: *gz, sum: importSummary{File: pos[0]}}
	return im.run(ctx, *batch, cf.output == "json")
}

func runEventsRebuild(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := eventsFlags(e, "rebuild")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *env == "" {
		return usageErrorf("events rebuild: --env is required")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	// The wait is bounded by ctx alone (RebuildEventsWatching): millions of
	// events take longer than the client's usual timeout; Ctrl-C stops it.
	start := time.Now()
	report, clear := rebuildProgress(e.rawErr(), termchart.IsTerminal(e.rawErr()), termchart.Width(e.rawErr(), e.getenv))
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
	fmt.Fprintf(e.stdout, "Recomputed %s from %s in %s: %s; %s.\n", *env, valueloop.Count(res.Events, "event"), time.Since(start).Round(time.Millisecond), valueloop.Count(int64(res.Aggregates), "aggregate"), verdict)
	return nil
}

// runEventsLoad runs the load test of package bench.
func runEventsLoad(ctx context.Context, e *cliEnv, args []string) error {
	fs, cf, env := eventsFlags(e, "load")
	total := fs.Int("events", 1_000_000, "events to send")
	batch := fs.Int("batch", 1000, "events per request")
	users := fs.Int("users", 100_000, "distinct users")
	conc := fs.Int("concurrency", 4, "requests in flight")
	seed := fs.Int("seed", 1, "random seed")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	l := &bench.Load{Client: c, Env: *env, Events: *total, Batch: *batch, Users: *users, Concurrency: *conc, Seed: *seed, Out: e.stdout}
	return l.Run(ctx)
}

// importSummary is the outcome of an import.
type importSummary struct {
	File       string `json:"file"`
	Events     int    `json:"events"`
	Stored     int    `json:"stored"`
	Duplicates int    `json:"duplicates"`
	Rejected   int    `json:"rejected"`
}

// maxShown is how many rejected events an import lists.
const maxShown = 20

// importer sends an NDJSON file in batches, drawing a progress bar on
// stderr, and reports rejected events by line number.
type importer struct {
	e   *cliEnv
	c   *client.Client
	env string
	gz  bool
	sum importSummary
	bar *termchart.Progress

	body  bytes.Buffer
	lines []int // file line number of each event in body
	read  int64 // bytes of the file read so far
	shown int   // rejected events listed so far, of the whole file
}

func (im *importer) run(ctx context.Context, batch int, asJSON bool) error {
	name := im.sum.File
	f, err := os.Open(name)
	if err != nil {
		return usageErrorf("events import: %v", err)
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	w := im.e.rawErr()
	im.bar = &termchart.Progress{W: w, Total: size, Start: time.Now(), TTY: termchart.IsTerminal(w), Cols: termchart.Width(w, im.e.getenv)}
	r := bufio.NewReaderSize(f, 64<<10)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		b, n, long, err := readLine(r, buf[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			im.bar.Clear()
			return fmt.Errorf("reading %s at line %d (the lines before it were sent): %w", name, lineNo, err)
		}
		im.read += n
		buf = b
		if long {
			if err := im.rejectLong(ctx, lineNo); err != nil {
				return err
			}
			continue
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		im.body.Write(b)
		im.body.WriteByte('\n')
		im.lines = append(im.lines, lineNo)
		if len(im.lines) >= batch || im.body.Len() >= 8<<20 {
			if err := im.flush(ctx); err != nil {
				return err
			}
		}
	}
	if err := im.flush(ctx); err != nil {
		return err
	}
	im.bar.Clear()
	return im.report(asJSON)
}

// flush sends the events read since the last flush.
func (im *importer) flush(ctx context.Context) error {
	if len(im.lines) == 0 {
		return nil
	}
	sum := &im.sum
	res, err := im.c.SendEvents(ctx, im.env, im.body.Bytes(), true, im.gz)
	if err != nil {
		im.bar.Clear()
		if ue := envRequired("import", im.env, err); ue != err {
			return ue
		}
		return fmt.Errorf("after %s (up to line %d; re-run the import: events with ids are not stored twice): %w", valueloop.Count(int64(sum.Events), "event"), im.lines[0]-1, err)
	}
	sum.Events += res.Received
	sum.Stored += res.Stored
	sum.Duplicates += res.Duplicates
	sum.Rejected += res.Rejected
	for _, r := range res.Results {
		if r.Status != ingest.StatusRejected {
			continue
		}
		line := -1
		if r.Index < len(im.lines) {
			line = im.lines[r.Index]
		}
		im.show(line, r.Field, r.Reason)
	}
	im.body.Reset()
	im.lines = im.lines[:0]
	im.bar.Draw(im.read, sum.Events)
	return nil
}

// show lists a rejected event by its line, while fewer than maxShown were.
func (im *importer) show(line int, field, reason string) {
	if im.shown >= maxShown {
		return
	}
	im.shown++
	im.bar.Clear()
	if field != "" {
		field += ": "
	}
	fmt.Fprintf(im.e.stderr, "%s:%d: rejected: %s%s\n", im.sum.File, line, field, reason)
}

// maxLine bounds a line the importer holds: far more than an event may be
// (32 KiB by default), so that a longer line is rejected here, by its
// number, without being held or sent, and the lines after it are read on.
const maxLine = 1 << 20

// rejectLong counts the line lineNo, longer than maxLine, as a rejected
// event, after sending the lines before it so that rejections are listed
// in the order of the file.
func (im *importer) rejectLong(ctx context.Context, lineNo int) error {
	if err := im.flush(ctx); err != nil {
		return err
	}
	im.sum.Events++
	im.sum.Rejected++
	im.show(lineNo, "", fmt.Sprintf("line longer than %d bytes, more than an event may hold: not sent", maxLine))
	return nil
}

// readLine reads the next line of r into buf, without its end of line (a
// \r before the \n too), and n, the bytes it took from r. A line longer
// than maxLine is skipped to its end, long set and not kept. err is io.EOF
// only when no line is left.
func readLine(r *bufio.Reader, buf []byte) (line []byte, n int64, long bool, err error) {
	line = buf
	for {
		chunk, err := r.ReadSlice('\n')
		n += int64(len(chunk))
		if !long && len(line)+len(chunk) > maxLine+2 {
			long, line = true, line[:0]
		}
		if !long {
			line = append(line, chunk...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && n > 0:
			err = nil
		}
		if err != nil {
			return nil, n, false, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
		if long || len(line) > maxLine {
			return nil, n, true, nil
		}
		return line, n, false, nil
	}
}

// report writes the summary of the import.
func (im *importer) report(asJSON bool) error {
	sum := im.sum
	if sum.Rejected > im.shown {
		fmt.Fprintf(im.e.stderr, "... and %s more rejected events (%s rejected in all)\n", valueloop.GroupDigits(int64(sum.Rejected-im.shown)), valueloop.GroupDigits(int64(sum.Rejected)))
	}
	if asJSON {
		writeJSONOut(im.e, sum)
	} else {
		fmt.Fprintf(im.e.stdout, "Imported %s: %s: %s stored, %s, %s rejected (%s).\n",
			sum.File, valueloop.Count(int64(sum.Events), "event"), valueloop.GroupDigits(int64(sum.Stored)), valueloop.Count(int64(sum.Duplicates), "duplicate"),
			valueloop.GroupDigits(int64(sum.Rejected)), time.Since(im.bar.Start).Round(time.Millisecond))
	}
	if sum.Rejected > 0 {
		if sum.Rejected == 1 {
			return valueloop.Errorf(valueloop.EINVALID, "1 event was rejected (see above); fix it and import that line again")
		}
		return valueloop.Errorf(valueloop.EINVALID, "%s events were rejected (see above); fix them and import those lines again", valueloop.GroupDigits(int64(sum.Rejected)))
	}
	return nil
}

// rebuildProgress draws the reports of a rebuild under way: a counter in
// the first pass over the events (their number is not known yet), then a
// bar for the second pass and one for storing the users.
func rebuildProgress(w io.Writer, tty bool, cols int) (report func(ingest.RebuildStatus), clear func()) {
	var bar *termchart.Progress
	phase := ""
	labels := map[string]string{"exposures": "pass 1/2, exposures:", "tracking": "pass 2/2, events:", "users": "storing users:"}
	report = func(st ingest.RebuildStatus) {
		if st.Phase != phase {
			if bar != nil {
				bar.Clear()
			}
			phase = st.Phase
			// The phase began before its first report: the rate counts from
			// there.
			bar = &termchart.Progress{W: w, TTY: tty, Cols: cols, Start: time.Now(), Label: labels[st.Phase], Base: int(st.Done)}
			if st.Phase == "users" {
				bar.Unit = "users"
			}
		}
		bar.Total = st.Of
		bar.Draw(st.Done, int(st.Done))
	}
	clear = func() {
		if bar != nil {
			bar.Clear()
		}
	}
	return report, clear
}
