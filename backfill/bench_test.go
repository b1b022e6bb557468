package backfill_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/backfill"
	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/github"
)

// benchPulls is the size of the benchmark's history: 100,000 merged pull
// requests with a review each, and a production deployment (with its
// success status) for every ten.
const benchPulls = 100_000

var benchStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func benchSHA(i int) string { return fmt.Sprintf("%040x", uint64(i)*0x9e3779b97f4a7c15) }

// benchAPI serves the benchmark's history as GitHub's REST API would, one
// page of 100 at a time, rendered on the fly.
func benchAPI(b *testing.B) *httptest.Server {
	stamp := func(i int, d time.Duration) string {
		return benchStart.Add(time.Duration(i)*5*time.Minute + d).Format(time.RFC3339)
	}
	page := func(r *http.Request) int {
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		return max(p, 1)
	}
	link := func(w http.ResponseWriter, r *http.Request, p, last int) {
		if p < last {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(p+1))
			w.Header().Set("Link", `<http://`+r.Host+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/repos/acme/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"full_name":"acme/big","default_branch":"main"}`))
	})
	mux.HandleFunc("/repos/acme/big/pulls", func(w http.ResponseWriter, r *http.Request) {
		p := page(r)
		link(w, r, p, benchPulls/100)
		var sb strings.Builder
		sb.WriteByte('[')
		for i := (p - 1) * 100; i < p*100 && i < benchPulls; i++ {
			if sb.Len() > 1 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"number":%d,"state":"closed","created_at":%q,"merged_at":%q,"merge_commit_sha":%q,"head":{"ref":"b%d"},"base":{"ref":"main"}}`,
				i+1, stamp(i, -3*time.Hour), stamp(i, 0), benchSHA(i), i)
		}
		sb.WriteByte(']')
		w.Write([]byte(sb.String()))
	})
	mux.HandleFunc("/repos/acme/big/pulls/{n}/reviews", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		fmt.Fprintf(w, `[{"id":%d,"state":"APPROVED","submitted_at":%q}]`, n, stamp(n-1, -time.Hour))
	})
	mux.HandleFunc("/repos/acme/big/deployments", func(w http.ResponseWriter, r *http.Request) {
		p := page(r)
		link(w, r, p, benchPulls/10/100)
		var sb strings.Builder
		sb.WriteByte('[')
		for d := (p - 1) * 100; d < p*100 && d < benchPulls/10; d++ {
			if sb.Len() > 1 {
				sb.WriteByte(',')
			}
			i := d*10 + 9
			fmt.Fprintf(&sb, `{"id":%d,"sha":%q,"ref":"main","task":"deploy","environment":"production","production_environment":true,"created_at":%q}`,
				d+1, benchSHA(i), stamp(i, 30*time.Minute))
		}
		sb.WriteByte(']')
		w.Write([]byte(sb.String()))
	})
	mux.HandleFunc("/repos/acme/big/deployments/{id}/statuses", func(w http.ResponseWriter, r *http.Request) {
		d, _ := strconv.Atoi(r.PathValue("id"))
		fmt.Fprintf(w, `[{"state":"success","environment":"production","created_at":%q}]`, stamp((d-1)*10+9, time.Hour))
	})
	mux.HandleFunc("/repos/acme/big/issues", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`[]`)) })
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv
}

// discard stores nothing: the baseline of reading and parsing alone.
type discard struct{}

func (discard) Import(ctx context.Context, d *delivery.Delivery) (delivery.Receipt, error) {
	return delivery.Receipt{}, nil
}

// BenchmarkImport imports benchPulls pull requests with their reviews and
// the deployments from a replayed API into SQLite (store), against reading
// and parsing the same pages without storing (parse), then times a dora
// report over the whole history. Run with -benchtime=1x, alternating the
// two sub-benchmarks in rounds (go test -c, then -test.bench Import/parse
// and Import/store in turn). cpu-s is the CPU time of the whole process,
// the replayed API's included: on a loaded machine the wall time says more
// about the load than about the import.
func BenchmarkImport(b *testing.B) {
	srv := benchAPI(b)
	ctx := context.Background()
	run := func(b *testing.B, s backfill.Recorder, known *backfill.Known) backfill.Summary {
		f := backfill.NewFetcher(backfill.GitHubAuth("bench"))
		cp, _ := backfill.OpenCheckpoint("", "bench")
		im := &backfill.Importer{Fetch: f, Store: s, Known: known, Checkpoint: cp, Source: delivery.ImportSource + "github", Scope: "acme/big"}
		streams, err := backfill.GitHubStreams(ctx, f, backfill.Repo{Root: srv.URL, Name: "acme/big"}, github.Config{})
		if err == nil {
			err = im.Run(ctx, streams)
		}
		if err != nil {
			b.Fatal(err)
		}
		return im.Summary
	}
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			start, cpu := time.Now(), cputime.Seconds()
			sum := run(b, discard{}, backfill.NewKnown(dora.Data{}))
			b.ReportMetric(float64(benchPulls)/time.Since(start).Seconds(), "changes/s")
			b.ReportMetric(cputime.Seconds()-cpu, "cpu-s")
			b.ReportMetric(float64(sum.Requests), "requests")
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := newService(b)
			b.StartTimer()
			start, cpu := time.Now(), cputime.Seconds()
			sum := run(b, s, backfill.NewKnown(dora.Data{}))
			took := time.Since(start)
			b.ReportMetric(cputime.Seconds()-cpu, "cpu-s")
			if sum.Changes != benchPulls || sum.Reviews != benchPulls {
				b.Fatalf("stored %+v", sum)
			}
			b.ReportMetric(float64(benchPulls)/took.Seconds(), "changes/s")
			b.StopTimer()
			reportDora(b, s)
			b.StartTimer()
		}
	})
}

// reportDora times the first dora report after the import (the timeline
// is built from every record) and a second one (cached).
func reportDora(b *testing.B, s *delivery.Service) {
	q := dora.Query{From: benchStart, To: benchStart.Add(365 * 24 * time.Hour), Bucket: dora.BucketWeek}
	for _, name := range []string{"dora-first-ms", "dora-cached-ms"} {
		start := time.Now()
		rep, err := s.Report(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, name)
		if rep.Overall.Total.LeadTimeBreakdown.Review.Count == 0 {
			b.Fatal("no review stage after the import")
		}
	}
}
