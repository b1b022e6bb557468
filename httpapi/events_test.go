package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

// eventServer starts a server with the event routes, environments
// "production" and "staging", and returns its URL and an evaluate token
// for production.
func eventServer(t testing.TB) (url, evalToken string) {
	url, evalToken, _ = eventServerDB(t)
	return url, evalToken
}

// eventServerDB is eventServer that also returns its store.
func eventServerDB(t testing.TB) (url, evalToken string, db *sqlite.DB) {
	t.Helper()
	db, a := openStore(t)
	f := flags.NewService(db, nil)
	for _, env := range []string{"production", "staging"} {
		addEnvironment(t, f, valueloop.Environment{Key: env, Name: env}, "")
	}
	eval := mustEvalToken(t, a)
	srv := httpapi.NewServer(a, f, db, nil)
	srv.Events = &httpapi.Events{Pipeline: storetest.OpenPipeline(t, db), Store: db, Now: func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) },
		ProgressEvery: time.Millisecond}
	openServer(t, srv)
	return srv.URL(), eval, db
}

func sendEvents(t *testing.T, url, token, ctype, encoding string, body []byte, header ...string) (int, string) {
	t.Helper()
	h := map[string]string{"Content-Type": ctype}
	if encoding != "" {
		h["Content-Encoding"] = encoding
	}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	resp, b := doCall(t, url, call{method: "POST", path: "/api/v1/events", token: token, body: string(body), headers: h})
	return resp.StatusCode, b
}

func TestEventsAPI(t *testing.T) {
	url, eval := eventServer(t)
	ndjson := `{"type":"exposure","id":"e1","flag":"checkout","variant":"on","targetingKey":"u1","time":"2026-06-01T10:00:00Z"}
{"type":"tracking","id":"t1","name":"buy","targetingKey":"u1","value":10,"time":"2026-06-01T10:05:00Z"}
{"type":"tracking","id":"t2","name":"buy","value":10,"time":"2026-06-01T10:05:00Z"}
`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(ndjson))
	zw.Close()

	tests := []struct {
		name, token, ctype, encoding string
		body                         []byte
		header                       []string
		status                       int
		want                         []string
	}{
		{"ndjson gzip with a bad line", eval, "application/x-ndjson", "gzip", gz.Bytes(), nil, 200,
			[]string{`"received": 3`, `"stored": 2`, `"rejected": 1`, `"index": 2`, `"field": "targetingKey"`}},
		{"same batch again is all duplicates", eval, "application/x-ndjson", "", []byte(ndjson), nil, 200,
			[]string{`"stored": 0`, `"duplicates": 2`, `"status": "duplicate"`, `"id": "e1"`}},
		{"json array", eval, "application/json", "", []byte(`[{"type":"tracking","name":"buy","targetingKey":"u2"}]`), nil, 200,
			[]string{`"stored": 1`, `"results": []`}},
		{"broken array stores nothing", eval, "application/json", "", []byte(`[{"type":"tracking","name":"buy","targetingKey":"u3"},{`), nil, 400,
			[]string{"malformed JSON in the array at event 1", "nothing was stored"}},
		{"form post refused", eval, "application/x-www-form-urlencoded", "", []byte(`a=b`), nil, 415, []string{"Content-Type"}},
		{"unknown encoding", eval, "application/json", "br", []byte(`[]`), nil, 415, []string{"Content-Encoding"}},
		{"admin token needs the environment header", adminSecret, "application/json", "", []byte(`[]`), nil, 400, []string{"Valueloop-Environment"}},
		{"admin token with header", adminSecret, "application/json", "", []byte(`[{"type":"tracking","name":"buy","targetingKey":"u4"}]`), []string{"Valueloop-Environment", "staging"}, 200, []string{`"stored": 1`}},
		{"evaluate token of another environment", eval, "application/json", "", []byte(`[]`), []string{"Valueloop-Environment", "staging"}, 200, []string{`"received": 0`}},
		{"bad token", "nope", "application/json", "", []byte(`[]`), nil, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := sendEvents(t, url, tt.token, tt.ctype, tt.encoding, tt.body, tt.header...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("answer lacks %s:\n%s", w, body)
				}
			}
		})
	}
}

func TestMetricRoutesAndAggregates(t *testing.T) {
	url, eval := eventServer(t)
	sendEvents(t, url, eval, "application/x-ndjson", "", []byte(`{"type":"exposure","flag":"checkout","variant":"on","targetingKey":"u1","time":"2026-06-01T10:00:00Z"}
{"type":"tracking","name":"buy","targetingKey":"u1","value":12.5,"time":"2026-06-01T10:05:00Z"}
{"type":"tracking","name":"buy","targetingKey":"u1","value":2,"time":"2026-06-01T09:05:00Z"}
`))
	do := func(method, path, body string) (int, string) {
		resp, b := doCall(t, url, call{method: method, path: path, token: adminSecret, body: body})
		return resp.StatusCode, b
	}
	// A metric created after the events has figures at once.
	if status, body := do("POST", "/api/v1/environments/production/metrics", `{"key":"revenue","kind":"sum","event":"buy"}`); status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, body := do("POST", "/api/v1/environments/production/metrics", `{"key":"r","kind":"ratio","event":"buy","window":"soon"}`); status != 400 {
		t.Errorf("create with a bad window: %d %s", status, body)
	}
	if status, body := do("POST", "/api/v1/environments/production/metrics", `{"key":"r","kind":"ratio","event":"buy"}`); status != 400 || !strings.Contains(body, "denominator") {
		t.Errorf("ratio without denominator: %d %s", status, body)
	}
	if status, body := do("POST", "/api/v1/environments/production/metrics", `{"key":"buy-p99","kind":"quantile","quantile":0.99,"over":"event","event":"buy","direction":"lower"}`); status != 201 || !strings.Contains(body, `"over": "event"`) {
		t.Errorf("create a quantile over events: %d %s", status, body)
	}
	if status, body := do("POST", "/api/v1/environments/production/metrics", `{"key":"q","kind":"quantile","quantile":0.99,"over":"request","event":"buy"}`); status != 400 || !strings.Contains(body, "/over") {
		t.Errorf("a quantile over requests: %d %s, want 400 naming /over", status, body)
	}
	if status, _ := do("DELETE", "/api/v1/environments/production/metrics/buy-p99", ""); status != 204 {
		t.Errorf("delete buy-p99: %d", status)
	}
	v, _ := checkoutVariant(t, url)
	m := v.Metrics["revenue"]
	if v.Users != 1 || m.Summary.Mean != 12.5 || m.Summary.PreMean != 2 || m.Kind != "mean" {
		t.Errorf("revenue in variant on: %+v; want one user, 12.5 after exposure, covariate 2", v)
	}
	if status, body := do("POST", "/api/v1/environments/production/events/rebuild", ""); status != 200 || !strings.Contains(body, `"changed": false`) {
		t.Errorf("rebuild: %d %s", status, body)
	}
	if status, _ := do("DELETE", "/api/v1/environments/production/metrics/revenue", ""); status != 204 {
		t.Errorf("delete: %d", status)
	}
	if status, _ := do("GET", "/api/v1/environments/production/metrics/revenue", ""); status != 404 {
		t.Errorf("get after delete: %d", status)
	}
	req, _ := http.NewRequest("GET", url+"/api/v1/environments/production/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+eval)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("metrics with an evaluate token: %d, want 403", resp.StatusCode)
	}
}

// BenchmarkAggregatesOfOneFlag reads the aggregates of one flag of an
// experiment with 1,000,000 users in 3 variants and 5 metrics through the
// API: the store's rows, the exact sums turned into summaries, JSON. The
// rows are built directly (ingesting a million users takes too long for the
// suite); their cost does not depend on the number of users, only the sizes
// of the numbers do, and these are those of a million users.
func BenchmarkAggregatesOfOneFlag(b *testing.B) {
	url, _, db := eventServerDB(b)
	ctx := context.Background()
	metrics := []metric.Metric{
		{Key: "converted", Kind: metric.Conversion, Event: "purchase"},
		{Key: "orders", Kind: metric.Count, Event: "purchase"},
		{Key: "revenue", Kind: metric.Sum, Event: "purchase"},
		{Key: "load-time", Kind: metric.Mean, Event: "page", Direction: metric.LowerIsBetter},
		{Key: "revenue-per-order", Kind: metric.Ratio, Event: "purchase", Denominator: &metric.Part{Event: "purchase"}},
	}
	for i := range metrics {
		if err := metrics[i].Normalize(); err != nil {
			b.Fatal(err)
		}
		if err := db.CreateMetric(ctx, "production", &metrics[i], "t"); err != nil {
			b.Fatal(err)
		}
	}
	aggs := []metric.Aggregate{{Flag: "checkout", Sums: sumsOf(b, 1234, nil)}}
	r := rand.New(rand.NewPCG(1, 2))
	for _, v := range []string{"control", "treatment-a", "treatment-b"} {
		const users = 1_000_000 / 3
		aggs = append(aggs, metric.Aggregate{Flag: "checkout", Variant: v, Sums: sumsOf(b, users, nil)})
		for _, m := range metrics {
			aggs = append(aggs, metric.Aggregate{Flag: "checkout", Variant: v, Metric: m.Key, Sums: sumsOf(b, users, func() (x, y, c uint64) {
				return r.Uint64N(200 * ingest.Scale), r.Uint64N(5 * ingest.Scale), r.Uint64N(150 * ingest.Scale)
			})})
		}
	}
	err := db.StateTx(ctx, func(tx ingest.StateTx) error {
		return tx.ReplaceState("production", "bench", func(func(ingest.UserState) bool) {}, aggs)
	})
	if err != nil {
		b.Fatal(err)
	}
	get := func() []byte {
		req, _ := http.NewRequest("GET", url+"/api/v1/environments/production/aggregates?flag=checkout", nil)
		req.Header.Set("Authorization", "Bearer "+adminSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("%d %s", resp.StatusCode, body)
		}
		return body
	}
	var out httpapi.AggregatesJSON
	if err := json.Unmarshal(get(), &out); err != nil {
		b.Fatal(err)
	}
	if len(out.Flags) != 1 || len(out.Flags[0].Variants) != 3 || len(out.Flags[0].Variants[0].Metrics) != 5 || out.Flags[0].Variants[0].Users != 333_333 {
		b.Fatalf("aggregates: %+v", out)
	}
	for b.Loop() {
		get()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/read")
}

// sumsOf returns the sums of n users whose values next draws (all zero
// when nil), built as ingest stores them: N, then Σx, Σx², Σy, Σy², Σxy,
// Σc, Σc², Σxc, Σyc as 192-bit little-endian integers.
func sumsOf(tb testing.TB, n int, next func() (x, y, c uint64)) metric.Sums {
	var acc [9][3]uint64
	add := func(i int, hi, lo uint64) {
		var carry uint64
		acc[i][0], carry = bits.Add64(acc[i][0], lo, 0)
		acc[i][1], carry = bits.Add64(acc[i][1], hi, carry)
		acc[i][2] += carry
	}
	for range n {
		if next == nil {
			break
		}
		x, y, c := next()
		for i, p := range [9][2]uint64{{1, x}, {x, x}, {1, y}, {y, y}, {x, y}, {1, c}, {c, c}, {x, c}, {y, c}} {
			hi, lo := bits.Mul64(p[0], p[1])
			add(i, hi, lo)
		}
	}
	buf := binary.LittleEndian.AppendUint64(nil, uint64(n))
	for _, a := range acc {
		for _, limb := range a {
			buf = binary.LittleEndian.AppendUint64(buf, limb)
		}
	}
	var s metric.Sums
	if err := s.UnmarshalBinary(buf); err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestRebuildStreamsProgress asks for a rebuild as NDJSON: progress lines
// while it runs, then the result.
func TestRebuildStreamsProgress(t *testing.T) {
	url, eval := eventServer(t)
	if resp, body := doCall(t, url, call{method: "POST", path: "/api/v1/environments/production/metrics", token: adminSecret, body: `{"key":"revenue","kind":"sum","event":"buy"}`}); resp.StatusCode != 201 {
		t.Fatalf("create metric: %d %s", resp.StatusCode, body)
	}
	const batches = 40
	for b := range batches {
		var body strings.Builder
		for i := range 1000 {
			u := (b*1000 + i) % 5000
			if i%10 == 0 {
				fmt.Fprintf(&body, `{"type":"exposure","flag":"checkout","variant":"v%d","targetingKey":"u%d","time":"2026-06-01T10:00:00Z"}`+"\n", u%2, u)
			} else {
				fmt.Fprintf(&body, `{"type":"tracking","name":"buy","value":%d,"targetingKey":"u%d","time":"2026-06-01T10:05:00Z"}`+"\n", i, u)
			}
		}
		if status, out := sendEvents(t, url, eval, "application/x-ndjson", "", []byte(body.String())); status != 200 {
			t.Fatalf("send: %d %s", status, out)
		}
	}
	stream := func(env string) (*http.Response, []string) {
		resp, b := doCall(t, url, call{method: "POST", path: "/api/v1/environments/" + env + "/events/rebuild", token: adminSecret,
			headers: map[string]string{"Accept": "application/x-ndjson"}})
		return resp, strings.Split(strings.TrimSpace(b), "\n")
	}
	resp, lines := stream("production")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, ct)
	}
	var progress int
	for _, line := range lines[:len(lines)-1] {
		var p struct{ Progress *ingest.RebuildStatus }
		if err := json.Unmarshal([]byte(line), &p); err != nil || p.Progress == nil {
			t.Fatalf("line %q: want a progress line (%v)", line, err)
		}
		st := p.Progress
		if st.Environment != "production" || !slices.Contains([]string{"exposures", "tracking", "users"}, st.Phase) || (st.Of > 0 && st.Done > st.Of) {
			t.Errorf("progress %+v", st)
		}
		progress++
	}
	var last struct{ Result *ingest.RebuildResult }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Result == nil {
		t.Fatalf("last line %q: want the result (%v)", lines[len(lines)-1], err)
	}
	if last.Result.Events != batches*1000 || last.Result.Changed {
		t.Errorf("result %+v, want %d events, unchanged", last.Result, batches*1000)
	}
	if progress == 0 {
		t.Errorf("no progress line before the result, reported every millisecond")
	}
	if resp, lines := stream("nowhere"); resp.StatusCode != 404 || !strings.Contains(strings.Join(lines, ""), "not found") {
		t.Errorf("unknown environment: %d %v", resp.StatusCode, lines)
	}
}

// TestEventsOverCapAnswerIsBounded: a body of many more lines than the cap
// is refused whole, and the answer's size does not grow with the body (it
// once held one rejection per line: 229 MB for 4 MiB of "1" lines).
func TestEventsOverCapAnswerIsBounded(t *testing.T) {
	url, eval := eventServer(t)
	for _, lines := range []int{10_001, 400_000} {
		body := []byte("{}\n" + strings.Repeat("1\n", lines-1))
		status, answer := sendEvents(t, url, eval, "application/x-ndjson", "", body)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "at most 10000 events") {
			t.Errorf("%d lines: status %d, answer %.200s; want 413 naming the cap", lines, status, answer)
		}
		if len(answer) > 1024 {
			t.Errorf("%d lines: answer of %d bytes, want at most 1 KiB", lines, len(answer))
		}
	}
}

// checkoutVariant reads the aggregates of flag checkout, which must have
// one variant, and returns that variant's and the answer.
func checkoutVariant(t *testing.T, url string) (httpapi.VariantAggregates, string) {
	t.Helper()
	resp, body := doCall(t, url, call{method: "GET", path: "/api/v1/environments/production/aggregates?flag=checkout", token: adminSecret})
	if resp.StatusCode != 200 {
		t.Fatalf("aggregates: %d %s", resp.StatusCode, body)
	}
	var got httpapi.AggregatesJSON
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Flags) != 1 || len(got.Flags[0].Variants) != 1 {
		t.Fatalf("aggregates: %s", body)
	}
	return got.Flags[0].Variants[0], body
}

// TestQuantileAggregates: the aggregates of a quantile metric are the
// quantile's estimate per cell with what it was taken over, not the
// moments of the values the sketch is kept beside (the mean events per
// user, the mean of users' means).
func TestQuantileAggregates(t *testing.T) {
	url, eval := eventServer(t)
	do := func(method, path, body string) (int, string) {
		resp, b := doCall(t, url, call{method: method, path: path, token: adminSecret, body: body})
		return resp.StatusCode, b
	}
	for _, m := range []string{
		`{"key":"buy-p50-events","kind":"quantile","quantile":0.5,"over":"event","event":"buy"}`,
		`{"key":"buy-p50-users","kind":"quantile","quantile":0.5,"event":"buy"}`,
		`{"key":"revenue","kind":"sum","event":"buy"}`,
	} {
		if status, body := do("POST", "/api/v1/environments/production/metrics", m); status != 201 {
			t.Fatalf("create %s: %d %s", m, status, body)
		}
	}
	// Events 10, 20, 30 (u1), 40 (u2), 50 (u3): the median event is the
	// 3rd of 5, 30; users' means 20, 40, 50: the median user is the 2nd of
	// 3, 40.
	var nd strings.Builder
	for _, u := range []string{"u1", "u2", "u3"} {
		fmt.Fprintf(&nd, `{"type":"exposure","flag":"checkout","variant":"on","targetingKey":%q,"time":"2026-06-01T10:00:00Z"}`+"\n", u)
	}
	for i, e := range []struct {
		user  string
		value int
	}{{"u1", 10}, {"u1", 20}, {"u1", 30}, {"u2", 40}, {"u3", 50}} {
		fmt.Fprintf(&nd, `{"type":"tracking","name":"buy","targetingKey":%q,"value":%d,"time":"2026-06-01T10:%02d:00Z"}`+"\n", e.user, e.value, 5+i)
	}
	if status, body := sendEvents(t, url, eval, "application/x-ndjson", "", []byte(nd.String())); status != 200 || !strings.Contains(body, `"stored": 8`) {
		t.Fatalf("events: %d %s", status, body)
	}
	v, body := checkoutVariant(t, url)
	ms := v.Metrics
	for _, tc := range []struct {
		metric        string
		over          string
		users, values int64
		estimate      float64
	}{
		{"buy-p50-events", "event", 3, 5, 30},
		{"buy-p50-users", "user", 3, 3, 40},
	} {
		m := ms[tc.metric]
		q := m.Quantile
		if q == nil || q.Estimate == nil {
			t.Errorf("%s: no quantile figures: %+v\n%s", tc.metric, m, body)
			continue
		}
		if q.Quantile != 0.5 || q.Over != tc.over || q.Users != tc.users || q.Values != tc.values {
			t.Errorf("%s: quantile %g over %s of %d values of %d users, want 0.5 over %s of %d of %d", tc.metric, q.Quantile, q.Over, q.Values, q.Users, tc.over, tc.values, tc.users)
		}
		if math.Abs(*q.Estimate-tc.estimate) > metric.SketchAccuracy*tc.estimate {
			t.Errorf("%s: estimate %g, want %g within the sketch's accuracy", tc.metric, *q.Estimate, tc.estimate)
		}
		// The summary is what the analysis reads: the estimate, not the
		// mean of the values beside it.
		if m.Summary.N != tc.users || m.Summary.Mean != *q.Estimate || m.Total != nil {
			t.Errorf("%s: summary n %d mean %g, total %v; want n %d, mean the estimate %g, no total", tc.metric, m.Summary.N, m.Summary.Mean, m.Total, tc.users, *q.Estimate)
		}
	}
	if m := ms["revenue"]; m.Quantile != nil || m.Total == nil || *m.Total != 150 || m.Summary.Mean != 50 {
		t.Errorf("revenue: %+v; want total 150, mean 50 per user, no quantile", m)
	}
}

// A misspelt parameter of the aggregates route is refused, naming it,
// rather than read as "every flag" (the heaviest answer).
func TestAggregatesUnknownParameter(t *testing.T) {
	url, _ := eventServer(t)
	resp, body := doCall(t, url, call{method: "GET", path: "/api/v1/environments/production/aggregates?flg=checkout", token: adminSecret})
	if resp.StatusCode != 400 || !strings.Contains(body, `"flg"`) {
		t.Fatalf("aggregates?flg=: %d %s, want 400 naming flg", resp.StatusCode, body)
	}
}

// TestEventIDSpaces: a public client token, which anyone who opens a page
// can read, must not be able to send an id a back end will send later and so
// have the back end's event dropped as its duplicate. Ids sent with client
// tokens are deduplicated among themselves (a page's retry stays safe), ids
// sent with server tokens (evaluate, admin) among themselves.
func TestEventIDSpaces(t *testing.T) {
	db, a := openStore(t)
	f := flags.NewService(db, nil)
	addEnvironment(t, f, valueloop.Environment{Key: "production", Name: "production"}, "")
	eval := mustEvalToken(t, a)
	browser, err := a.Create(context.Background(), &valueloop.Token{Name: "browser", Scope: valueloop.ScopeEvaluate, Environment: "production", Client: true}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(a, f, db, nil)
	srv.Events = &httpapi.Events{Pipeline: storetest.OpenPipeline(t, db), Store: db, Now: func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }}
	openServer(t, srv)

	order := func(id string) []byte {
		return []byte(`[{"type":"tracking","id":"` + id + `","name":"purchase","targetingKey":"u1","value":10,"time":"2026-06-01T10:00:00Z"}]`)
	}
	admin := []string{"Valueloop-Environment", "production"}
	steps := []struct {
		name, token string
		header      []string
		id          string
		want        string
	}{
		{"client token sends a server's id first", browser, nil, "order-1", `"stored": 1`},
		{"the server's event is still stored", eval, nil, "order-1", `"stored": 1`},
		{"the server's retry is a duplicate", eval, nil, "order-1", `"duplicates": 1`},
		{"an admin token shares the server tokens' ids", adminSecret, admin, "order-1", `"duplicates": 1`},
		{"the client's retry is a duplicate", browser, nil, "order-1", `"duplicates": 1`},
		{"a server id first", eval, nil, "order-2", `"stored": 1`},
		{"is no duplicate for a client token", browser, nil, "order-2", `"stored": 1`},
	}
	for _, s := range steps {
		status, body := sendEvents(t, srv.URL(), s.token, "application/json", "", order(s.id), s.header...)
		if status != 200 || !strings.Contains(body, s.want) {
			t.Errorf("%s: %d %s, want %s", s.name, status, body, s.want)
		}
	}
}
