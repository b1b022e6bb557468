package httpapi

import (
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// Events connects the event and metric routes to the ingestion pipeline and
// the store. Leave Server.Events nil to serve without them.
type Events struct {
	Pipeline *ingest.Pipeline
	Store    EventStore
	// Limits of one request; zero fields mean ingest's defaults.
	Limits ingest.Limits
	// Now is the server clock for events without a time.
	Now func() time.Time
	// ProgressEvery is how often a rebuild streamed as NDJSON reports its
	// progress; default 250 ms.
	ProgressEvery time.Duration

	rejected atomic.Uint64
}

// EventStore is what the metric and aggregate routes read and write.
type EventStore interface {
	Metrics(ctx context.Context, env string) ([]metric.Metric, error)
	Metric(ctx context.Context, env, key string) (*metric.Metric, error)
	CreateMetric(ctx context.Context, env string, m *metric.Metric, actor string) error
	DeleteMetric(ctx context.Context, env, key, actor string) error
	Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error)
	DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error)
}

// MaxEventBody is the default bound of an event request body after
// decompression (Limits.MaxEventBody).
const MaxEventBody = 32 << 20

// eventRoutes lists the event and metric routes (part of routeTable).
func (s *Server) eventRoutes() []route {
	return []route{
		{"POST", "/api/v1/events", evaluate, s.timed("events", s.handleEvents)},
		{"GET", "/api/v1/environments/{env}/metrics", admin, s.handleListMetrics},
		{"POST", "/api/v1/environments/{env}/metrics", admin, s.handleCreateMetric},
		{"GET", "/api/v1/environments/{env}/metrics/{key}", admin, s.handleGetMetric},
		{"DELETE", "/api/v1/environments/{env}/metrics/{key}", admin, s.handleDeleteMetric},
		{"GET", "/api/v1/environments/{env}/aggregates", admin, s.handleAggregates},
		{"POST", "/api/v1/environments/{env}/events/rebuild", admin, s.handleRebuild},
	}
}

// registerEventMetrics exposes the pipeline's counters in /metrics.
func (s *Server) registerEventMetrics() {
	if s.Events.Now == nil {
		s.Events.Now = time.Now
	}
	c := s.Events.Pipeline.Counters()
	counter := func(name, help string, v interface{ Load() uint64 }) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	s.Registry.MustRegister(
		counter("valueloop_events_stored_total", "Events stored (sent to the event API or recorded from evaluations).", &c.Stored),
		counter("valueloop_events_duplicates_total", "Events sent again with an id and time already stored; not stored twice.", &c.Duplicates),
		counter("valueloop_events_rejected_total", "Events rejected as invalid by the event API.", &s.Events.rejected),
		counter("valueloop_exposures_recorded_total", "Exposures recorded from OFREP evaluations and stored.", &c.ExposuresRecorded),
		counter("valueloop_exposures_redundant_total", "Exposures from evaluations that changed nothing (variant already seen no later) and were not stored.", &c.ExposuresRedundant),
		counter("valueloop_exposures_unanalysed_total", "Exposures stored but not analysed: their user had max-flags-per-user other flags in the environment already.", &c.ExposuresUnanalysed),
		counter("valueloop_exposures_dropped_total", "Exposures from evaluations dropped because the ingestion queue was full.", &c.ExposuresDropped),
		counter("valueloop_event_transactions_total", "Ingestion transactions committed.", &c.Transactions),
	)
}

// recordExposure hands the exposure of an OFREP evaluation, with the
// attributes of ctx that Dimensions name, to the pipeline without
// blocking; under overload it is dropped and counted. Only a variant the
// flag's split drew (reason SPLIT) is in the split: one a targeting rule,
// the default variant or a static flag chose was not randomised, and the
// pipeline counts its user apart from the experiment's (see
// ingest.Event.OutsideSplit).
func (s *Server) recordExposure(env, flag, variant, targetingKey string, reason evaluation.Reason, ctx map[string]any) {
	if s.Events != nil && s.Events.Pipeline != nil {
		s.Events.Pipeline.RecordExposure(env, flag, variant, targetingKey, s.Events.Now(), exposureAttributes(s.Dimensions, ctx), reason != evaluation.ReasonSplit)
	}
}

// exposureAttributes returns the attributes of an evaluation context that
// dims name, as the JSON object an exposure carries; nil when there are no
// dimensions or the context has none of them. Only a server with dimensions
// pays its allocation, and only for a user's first exposure to a flag.
// Each value is kept as a dimension reads it (metric.Dimension.Index), so
// the object is bounded by the dimensions' caps whatever the context holds:
// a string, number, boolean or null as it is, an object, an array or a
// string longer than any dimension value as {} (it counts as (other) and
// is not marshalled). A number JSON cannot hold (NaN) is left out: the user
// counts as (none).
func exposureAttributes(dims []metric.Dimension, ctx map[string]any) []byte {
	var out []byte
	for _, d := range dims {
		v, ok := ctx[d.Name]
		if !ok {
			continue
		}
		vb, ok := dimensionValue(v)
		if !ok {
			continue
		}
		out = append(out, ',')
		if len(out) == 1 {
			out[0] = '{'
		}
		name, _ := json.Marshal(d.Name) // a string always marshals
		out = append(out, name...)
		out = append(out, ':')
		out = append(out, vb...)
	}
	if out == nil {
		return nil
	}
	return append(out, '}')
}

// dimensionValue is the JSON of a context value as exposureAttributes keeps
// it; false for a number JSON cannot hold.
func dimensionValue(v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return []byte("null"), true
	case string:
		if len(v) > metric.MaxDimensionBytes {
			return []byte("{}"), true // equals no value: (other)
		}
		b, err := json.Marshal(v)
		return b, err == nil
	case bool, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		b, err := json.Marshal(v) // a few bytes; fails for NaN and ±Inf
		return b, err == nil
	default: // an object or an array (or anything else): (other)
		return []byte("{}"), true
	}
}

// eventsResponse is the answer to POST /api/v1/events.
//
// Semantics: the answer comes only after every stored event is durable.
// Each event of the request has exactly one outcome. Results lists the
// events that were not newly stored — duplicates and rejections — with
// their index in the request (array index, or number of the non-blank NDJSON
// line, from 0); every event not listed was stored. A duplicate (same id
// and time as an event stored before) is as good as stored for a client
// that retries. A rejected event was not stored and will fail again
// unchanged; the others of the request are stored regardless. A 200 answer
// means the body was read and judged; any other status means nothing of the
// request was stored (400: the body is not a JSON array or NDJSON, or the
// array's syntax is broken; 413: body too large; 415: content type or
// encoding; 401/403: token; 500/503: retry the whole request, ids make
// that safe).
type eventsResponse struct {
	Received   int              `json:"received"`
	Stored     int              `json:"stored"`
	Duplicates int              `json:"duplicates"`
	Rejected   int              `json:"rejected"`
	Results    []ingest.Outcome `json:"results"`
}

var eventBufPool = sync.Pool{New: func() any { return new([]byte) }}

// gzipPool keeps gzip readers (each holds tens of KiB of tables) between
// requests.
var gzipPool sync.Pool

// handleEvents serves POST /api/v1/events for evaluate and admin tokens of
// the environment (see eventsResponse for what the answer means).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	env, t, err := s.eventEnvironment(r)
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json", "application/x-ndjson", "application/jsonl", "application/ndjson":
	default:
		return valueloop.Errorf(valueloop.EUNSUPPORTED, "Content-Type must be application/json (an array of events) or application/x-ndjson (one event per line)")
	}
	maxBody := s.guard.lim.MaxEventBody
	if r.ContentLength > maxBody {
		return valueloop.Errorf(valueloop.ETOOLARGE, "body larger than %d bytes: send smaller batches; nothing was stored", maxBody)
	}
	var body io.Reader = r.Body
	var inner *guardedBody // the decompressed body's count, when gzip
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r.Body)
		} else {
			err = zr.Reset(r.Body)
		}
		if err != nil {
			if valueloop.ErrorCode(err) != valueloop.EINTERNAL {
				return bodyError(err)
			}
			return valueloop.Errorf(valueloop.EINVALID, "body is not valid gzip: %v", err)
		}
		defer func() {
			zr.Close()
			gzipPool.Put(zr)
		}()
		// What is held is the decompressed body: count it too.
		if gb, ok := r.Body.(*guardedBody); ok {
			unzipped := &guardedBody{ReadCloser: io.NopCloser(zr), g: gb.g, w: gb.w}
			body, inner = unzipped, unzipped
			defer func() { gb.g.buffered.Add(-unzipped.held) }()
		} else {
			body = zr
		}
	default:
		return valueloop.Errorf(valueloop.EUNSUPPORTED, "Content-Encoding %q is not supported: send identity or gzip", enc)
	}
	bufp := eventBufPool.Get().(*[]byte)
	putBuf := func() {
		if bufp != nil && int64(cap(*bufp)) <= 4*maxBody {
			eventBufPool.Put(bufp)
		}
		bufp = nil
	}
	defer putBuf()
	declared := int64(-1) // unknown: chunked, or decompressed
	if body == io.Reader(r.Body) {
		declared = r.ContentLength
	}
	buf, err := readUpload((*bufp)[:0], body, declared, maxBody)
	*bufp = buf[:0]
	if err != nil {
		return bodyError(err)
	}
	if int64(len(buf)) > maxBody {
		return valueloop.Errorf(valueloop.ETOOLARGE, "body larger than %d bytes (after decompression): send smaller batches; nothing was stored", maxBody)
	}
	release, err := s.decodeBudget(r, inner, buf)
	if err != nil {
		return err
	}
	defer release()
	batch, err := ingest.Decode(buf, s.Events.Now(), s.Events.Limits)
	// The events hold nothing of the body (Decode copies what they keep):
	// it goes back now, not after they are stored.
	putBuf()
	if err != nil {
		return err
	}
	if t.Client {
		for i := range batch.Events {
			batch.Events[i].Public = true
		}
	}
	fresh, err := s.Events.Pipeline.Ingest(r.Context(), env, batch.Events)
	if err != nil {
		if errors.Is(err, ingest.ErrClosed) {
			err = valueloop.Errorf(valueloop.EINTERNAL, "server shutting down: retry")
		}
		return err
	}
	resp := eventsResponse{Received: batch.Received, Rejected: len(batch.Rejected), Results: batch.Rejected}
	for i, ok := range fresh {
		if ok {
			resp.Stored++
			continue
		}
		resp.Duplicates++
		resp.Results = append(resp.Results, ingest.Outcome{Index: batch.Index[i], ID: batch.Events[i].ID, Status: ingest.StatusDuplicate})
	}
	if resp.Duplicates > 0 {
		sort.SliceStable(resp.Results, func(i, j int) bool { return resp.Results[i].Index < resp.Results[j].Index })
	}
	if resp.Results == nil {
		resp.Results = []ingest.Outcome{}
	}
	s.Events.rejected.Add(uint64(resp.Rejected))
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// readUpload appends body, of declared bytes (-1: not known), to b and
// returns it, reading at most limit bytes and one more (a longer body).
// The buffer grows as the bytes arrive, doubling, never past the declared
// length (and the byte that finds its end) nor past limit and one: sized
// from Content-Length before reading, an upload that declared
// max-event-body and sent ten bytes made the server hold all of it,
// counted nowhere (bodies count the bytes read), and any holder of an
// event token — a client token is public — could do so on every
// connection it opened. Doubling, and the last step to the declared
// length taken once half of it would be reached, the buffer holds at most
// four times what has come.
func readUpload(b []byte, body io.Reader, declared, limit int64) ([]byte, error) {
	most := limit + 1
	if declared >= 0 {
		most = min(most, declared+1)
	}
	for {
		if len(b) == cap(b) {
			size := min(max(2*int64(cap(b)), 4<<10), most)
			if declared >= 0 && 2*size >= most {
				size = most // not a last doubling copied and thrown away
			}
			grown := make([]byte, len(b), max(size, int64(len(b))+1))
			copy(grown, b)
			b = grown
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case err == io.EOF:
			return b, nil
		case err != nil:
			return b, err
		case int64(len(b)) > limit:
			return b, nil
		}
	}
}

// decodeBudget counts what decoding and storing an upload, data, will
// hold beside its body (ingest.DecodeCost) against MaxBufferedBytes, once
// the body has come and before it is decoded, until release. An upload
// costs about three times its size at its peak, and only its body was
// counted: concurrent uploads grew the server's memory past the budget.
// Counted from the body read, not from its declared length: a client
// that declares much and sends little holds only what it sent.
func (s *Server) decodeBudget(r *http.Request, inner *guardedBody, data []byte) (release func(), err error) {
	own := int64(0)
	if gb, ok := r.Body.(*guardedBody); ok {
		own = gb.held
	}
	if inner != nil {
		own += inner.held
	}
	return s.guard.reserve(ingest.DecodeCost(data, s.Events.Limits), own)
}

// eventEnvironment authenticates an event request and returns its
// environment (the token's own, or for unbound admin tokens the one named by
// the Valueloop-Environment header) and the token.
func (s *Server) eventEnvironment(r *http.Request) (string, *valueloop.Token, error) {
	t, err := s.authenticate(r)
	if err != nil {
		return "", nil, err
	}
	env := t.Environment
	if env == "" {
		if env = r.Header.Get(EnvironmentHeader); env == "" {
			return "", nil, valueloop.FieldErrorf(EnvironmentHeader, "header required: this token is not bound to an environment")
		}
	}
	if !t.CanSendEvents(env) {
		return "", nil, valueloop.Errorf(valueloop.EFORBIDDEN, "token may not send events to this environment")
	}
	if s.Flags.Live(env) == nil {
		return "", nil, s.notLive(t, env)
	}
	return env, t, nil
}

// adminEnv returns the {env} of a route after checking the token covers it.
func (s *Server) adminEnv(r *http.Request) (string, error) {
	env := r.PathValue("env")
	if !mayAccess(r, env) {
		return "", valueloop.Errorf(valueloop.EFORBIDDEN, "token may not administer environment %q", env)
	}
	if s.Flags.Live(env) == nil {
		return "", s.notLive(tokenOf(r), env)
	}
	return env, nil
}

func (s *Server) handleListMetrics(w http.ResponseWriter, r *http.Request) error {
	env, err := s.adminEnv(r)
	if err != nil {
		return err
	}
	ms, err := s.Events.Store.Metrics(r.Context(), env)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []metric.Metric{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"metrics": ms})
	return nil
}

func (s *Server) handleGetMetric(w http.ResponseWriter, r *http.Request) error {
	env, err := s.adminEnv(r)
	if err != nil {
		return err
	}
	m, err := s.Events.Store.Metric(r.Context(), env, r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// handleCreateMetric stores a metric; its figures are there from the start
// (changeMetrics).
func (s *Server) handleCreateMetric(w http.ResponseWriter, r *http.Request) error {
	var m metric.Metric
	err := s.changeMetrics(r, func(env string) error {
		if err := decodeJSON(r, &m); err != nil {
			return err
		}
		m.CreatedAt, m.UpdatedAt = time.Time{}, time.Time{}
		if err := m.Normalize(); err != nil {
			return err
		}
		return s.Events.Store.CreateMetric(r.Context(), env, &m, tokenOf(r).Name)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) handleDeleteMetric(w http.ResponseWriter, r *http.Request) error {
	err := s.changeMetrics(r, func(env string) error {
		return s.Events.Store.DeleteMetric(r.Context(), env, r.PathValue("key"), tokenOf(r).Name)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changeMetrics stores a change of the route's environment's metric
// definitions, then recomputes the environment's aggregates from its events
// before answering, so the figures follow the definitions.
func (s *Server) changeMetrics(r *http.Request, change func(env string) error) error {
	env, err := s.adminEnv(r)
	if err != nil {
		return err
	}
	if err := change(env); err != nil {
		return err
	}
	// The request's context only bounds the wait: the rebuild runs under
	// the pipeline's life and timeout whatever the client does (a client
	// that hangs up must not cancel it half-way and leave aggregates of a
	// deleted or redefined metric to be read under its key), and changes
	// that come while it waits to start share it (ingest.Pipeline.Rebuild).
	_, err = s.Events.Pipeline.Rebuild(r.Context(), env)
	return err
}

func (s *Server) handleRebuild(w http.ResponseWriter, r *http.Request) error {
	env, err := s.adminEnv(r)
	if err != nil {
		return err
	}
	if !acceptsNDJSON(r) {
		res, err := s.Events.Pipeline.Rebuild(r.Context(), env)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	}
	// A stream: {"progress": …} lines while it runs, then {"result": …} or
	// {"error": …}. The status is sent before the outcome is known.
	type rebuilt struct {
		res ingest.RebuildResult
		err error
	}
	done := make(chan rebuilt, 1)
	go func() {
		res, err := s.Events.Pipeline.Rebuild(r.Context(), env)
		done <- rebuilt{res, err}
	}()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush()
	tick := time.NewTicker(s.rebuildProgressEvery())
	defer tick.Stop()
	for {
		// ResponseTimeout again at each tick: a rebuild may take longer
		// than one, and a client reading its reports is no client that
		// stopped reading. One that did stop is still cut: a report it
		// does not read blocks its write until then.
		rc.SetWriteDeadline(time.Now().Add(s.guard.lim.ResponseTimeout))
		select {
		case out := <-done:
			if out.err != nil {
				enc.Encode(struct {
					Error problem `json:"error"`
				}{s.problem(r, out.err)})
			} else {
				enc.Encode(struct {
					Result ingest.RebuildResult `json:"result"`
				}{out.res})
			}
			return nil
		case <-tick.C:
			if st, ok := s.Events.Pipeline.RebuildStatus(); ok && st.Environment == env {
				enc.Encode(struct {
					Progress ingest.RebuildStatus `json:"progress"`
				}{st})
				flush()
			}
		}
	}
}

// acceptsNDJSON reports whether the client asked for application/x-ndjson.
func acceptsNDJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
}

func (s *Server) rebuildProgressEvery() time.Duration {
	if s.Events.ProgressEvery > 0 {
		return s.Events.ProgressEvery
	}
	return 250 * time.Millisecond
}

// AggregatesJSON is the answer of GET /api/v1/environments/{env}/aggregates.
type AggregatesJSON struct {
	Flags []FlagAggregates `json:"flags"`
}

// FlagAggregates are the figures of one flag.
type FlagAggregates struct {
	Flag string `json:"flag"`
	// Excluded counts users exposed to more than one variant.
	Excluded int64               `json:"excluded"`
	Variants []VariantAggregates `json:"variants"`
}

// VariantAggregates are the figures of one variant: the users whose first
// exposure it was, drawn by the flag's split, and per metric the summary
// that package stats analyses of them. OutsideSplit counts the users whose
// first exposure was this variant served outside the split (a targeting
// rule, the default variant, a static flag: metric.OutsideDimension), in
// neither Users nor Metrics; Users + OutsideSplit are all it reached.
type VariantAggregates struct {
	Variant      string                      `json:"variant"`
	Users        int64                       `json:"users"`
	OutsideSplit int64                       `json:"outsideSplit"`
	Metrics      map[string]MetricAggregates `json:"metrics"`
}

// MetricAggregates is one metric's figure in one variant.
type MetricAggregates struct {
	Kind stats.Kind `json:"kind"`
	// Total is Σx over the users: the total of a sum, the events of a
	// count, the conversions of a conversion. Absent for a quantile, whose
	// per-user values (events counted, users' means) add up to nothing a
	// reader wants; Quantile has its figures.
	Total *float64 `json:"total,omitempty"`
	// Summary is what package stats analyses: the moments of the users'
	// values, or for a quantile N the users, Mean the quantile's estimate
	// and M2 = N(N − 1)·SE² (stats.QuantileSummary).
	Summary  stats.Summary      `json:"summary"`
	Quantile *QuantileAggregate `json:"quantile,omitempty"`
}

// QuantileAggregate is a quantile metric's figure in one variant, read from
// its sketch: the estimate of the quantile, what it is taken over and of
// how many values.
type QuantileAggregate struct {
	Quantile float64 `json:"quantile"`
	Over     string  `json:"over"`
	// Users are the users with a value; Values what the quantile is taken
	// over: those users' means (over users) or their events (over events).
	Users  int64 `json:"users"`
	Values int64 `json:"values"`
	// Estimate (within metric.SketchAccuracy of the sample quantile) and
	// its standard error; absent without values, the error with one user.
	Estimate      *float64 `json:"estimate,omitempty"`
	StandardError *float64 `json:"standardError,omitempty"`
}

func (s *Server) handleAggregates(w http.ResponseWriter, r *http.Request) error {
	env, err := s.adminEnv(r)
	if err != nil {
		return err
	}
	// A misspelt ?flag= must not quietly answer every cell of the
	// environment, the heaviest answer this route has.
	if err := checkParams(r.URL.Query(), "flag"); err != nil {
		return err
	}
	ms, err := s.Events.Store.Metrics(r.Context(), env)
	if err != nil {
		return err
	}
	byKey := map[string]metric.Metric{}
	for _, m := range ms {
		byKey[m.Key] = m
	}
	flag := r.URL.Query().Get("flag")
	aggs, err := s.Events.Store.Aggregates(r.Context(), env, flag)
	if err != nil {
		return err
	}
	outside, err := s.Events.Store.DimensionAggregates(r.Context(), env, flag, metric.OutsideDimension)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, aggregatesJSON(slices.Concat(aggs, outside), byKey))
	return nil
}

// aggregatesJSON groups cells by flag and variant: those of all users and
// those of the users outside the split (their users only), each sorted.
// A flag whose split changed has its cells per period: a variant's
// figures are over all of them.
func aggregatesJSON(aggs []metric.Aggregate, metrics map[string]metric.Metric) AggregatesJSON {
	out := AggregatesJSON{Flags: []FlagAggregates{}}
	var pooled map[string]metric.Sums // the current variant's, per metric
	aggs = slices.Clone(aggs)
	slices.SortStableFunc(aggs, func(a, b metric.Aggregate) int {
		return cmp.Or(strings.Compare(a.Flag, b.Flag), strings.Compare(a.Variant, b.Variant))
	})
	for _, a := range aggs {
		if len(out.Flags) == 0 || out.Flags[len(out.Flags)-1].Flag != a.Flag {
			out.Flags = append(out.Flags, FlagAggregates{Flag: a.Flag, Variants: []VariantAggregates{}})
		}
		f := &out.Flags[len(out.Flags)-1]
		if a.Variant == "" {
			f.Excluded = a.Sums.N
			continue
		}
		if len(f.Variants) == 0 || f.Variants[len(f.Variants)-1].Variant != a.Variant {
			f.Variants = append(f.Variants, VariantAggregates{Variant: a.Variant, Metrics: map[string]MetricAggregates{}})
			pooled = map[string]metric.Sums{}
		}
		v := &f.Variants[len(f.Variants)-1]
		if a.Dimension == metric.OutsideDimension {
			if a.Metric == "" {
				v.OutsideSplit += a.Sums.N // over the split periods
			}
			continue
		}
		if a.Metric == "" {
			v.Users += a.Sums.N
			continue
		}
		m, ok := metrics[a.Metric]
		if !ok {
			continue // a metric deleted since
		}
		sum := pooled[a.Metric]
		sum.Add(a.Sums)
		pooled[a.Metric] = sum
		v.Metrics[a.Metric] = metricAggregates(m, sum)
	}
	return out
}

// metricAggregates is metric m's figure from its sums: for a quantile the
// summary the analysis reads and the quantile's figures, not the moments
// of the values kept beside its sketch.
func metricAggregates(m metric.Metric, s metric.Sums) MetricAggregates {
	if m.Kind != metric.Quantile {
		total := s.Total()
		return MetricAggregates{Kind: m.StatsKind(), Total: &total, Summary: s.Summary()}
	}
	sum := metric.SummaryOf(m, s)
	q := &QuantileAggregate{Quantile: m.Quantile, Over: m.Over, Users: s.N, Values: s.N}
	if q.Over == "" {
		q.Over = metric.OverUser
	}
	if m.PerEvent() {
		q.Values = int64(math.Round(s.Total())) // x counts each user's events
	}
	if q.Values > 0 {
		q.Estimate = &sum.Mean
	}
	if sum.N > 1 {
		se := math.Sqrt(sum.M2 / float64(sum.N) / float64(sum.N-1))
		q.StandardError = &se
	}
	return MetricAggregates{Kind: m.StatsKind(), Summary: sum, Quantile: q}
}
