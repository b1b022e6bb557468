package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/metric"
)

func benchBody(n int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"tracking","id":"ev-%09d","name":"purchase","targetingKey":"user-%d","value":%d.5,"time":"2026-05-20T10:11:12.%03dZ"}`, i, i*7919%100000, i%500, i%1000)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkDecode compares ingest.Decode with encoding/json on the same
// bytes (the baseline of what any ingester can do).
func BenchmarkDecode(b *testing.B) {
	body := benchBody(1000)
	b.Run("ingest", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		cpu0 := cputime.Seconds()
		for b.Loop() {
			if _, err := Decode(body, now, Limits{}); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N*1000, cpu0)
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		cpu0 := cputime.Seconds()
		for b.Loop() {
			var evs []struct {
				Type, ID, Name, TargetingKey, Time string
				Value                              *float64
			}
			if err := json.Unmarshal(body, &evs); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, b.N*1000, cpu0)
	})
}

// BenchmarkRecompute measures recomputation from encoded log records (both
// passes) as a rebuild does it, 5 metrics: 1,000,000 events of 100,000 users
// and 3,000,000 of 1,000,000, each user exposed once and then sending events
// in an order that jumps among users as real traffic does. log/parts=N
// splits the users among N parts (one per core in a rebuild); Event
// recomputes through DecodeLog and the public Recompute; decode-only is the
// baseline, what the two passes cost without any user.
func BenchmarkRecompute(b *testing.B) {
	metrics := testMetrics()[:5]
	for _, size := range []struct{ events, users int }{{1_000_000, 100_000}, {3_000_000, 1_000_000}} {
		recs := recomputeBenchLog(size.events, size.users)
		scan := func(fn func([]byte) error) error {
			for _, r := range recs {
				if err := fn(r); err != nil {
					return err
				}
			}
			return nil
		}
		b.Run(fmt.Sprintf("users=%d", size.users), func(b *testing.B) {
			// The baseline: decoding every record twice, as the two passes
			// do, finding no user.
			b.Run("decode-only", func(b *testing.B) {
				cpu0 := cputime.Seconds()
				for b.Loop() {
					var n int
					for range 2 {
						if err := scan(func(data []byte) error { return scanRecord(data, func(*rawEvent) { n++ }) }); err != nil {
							b.Fatal(err)
						}
					}
					if n != 2*size.events {
						b.Fatal(n)
					}
				}
				reportRate(b, b.N*size.events, cpu0)
			})
			for _, parts := range []int{1, recomputeParts()} {
				b.Run(fmt.Sprintf("log/parts=%d", parts), func(b *testing.B) {
					cpu0 := cputime.Seconds()
					for b.Loop() {
						r, err := recomputeLog(metrics, nil, 0, nil, parts, nil, scan)
						if err != nil || r.events != int64(size.events) {
							b.Fatal(r, err)
						}
					}
					reportRate(b, b.N*size.events, cpu0)
				})
			}
			b.Run("Event", func(b *testing.B) {
				cpu0 := cputime.Seconds()
				for b.Loop() {
					_, n, err := Recompute(metrics, func(fn func(*Event) error) error {
						return scan(func(r []byte) error { return DecodeLog(r, fn) })
					})
					if err != nil || n != int64(size.events) {
						b.Fatal(n, err)
					}
				}
				reportRate(b, b.N*size.events, cpu0)
			})
		})
	}
}

// recomputeBenchLog encodes the events of BenchmarkRecompute in records of
// 1,000: the exposures of every user first, then tracking events of users
// picked by a multiplicative step modulo the number of users.
func recomputeBenchLog(events, users int) [][]byte { return recomputeBenchLogAttrs(events, users, 0) }

// recomputeBenchLogAttrs is recomputeBenchLog with, when values > 0, a
// country attribute on each exposure, one of values in turn.
func recomputeBenchLogAttrs(events, users, values int) [][]byte {
	var recs [][]byte
	evs := make([]Event, 0, 1000)
	for i := 0; i < events; i++ {
		ev := Event{Time: 1_780_000_000_000 + int64(i), TimeSet: true, ID: fmt.Sprintf("ev-%d", i)}
		if i < users {
			ev.Type, ev.Flag, ev.Variant = Exposure, "checkout", []string{"control", "treatment"}[i%2]
			ev.TargetingKey = fmt.Sprintf("user-%d", i)
			if values > 0 {
				ev.Attributes = fmt.Appendf(nil, `{"country":"c%02d","platform":"ios"}`, i%values)
			}
		} else {
			ev.Type, ev.Name, ev.Value, ev.HasValue = Tracking, []string{"purchase", "click", "load"}[i%3], int64(i%1000)*Scale, true
			ev.TargetingKey = fmt.Sprintf("user-%d", i*7919%users)
		}
		evs = append(evs, ev)
		if len(evs) == 1000 {
			recs = append(recs, EncodeLog(evs).Data)
			evs = evs[:0]
		}
	}
	return recs
}

// reportRate reports events/s and events per CPU second since cpu0.
func reportRate(b *testing.B, events int, cpu0 float64) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if cpu1 := cputime.Seconds(); cpu0 >= 0 && cpu1 > cpu0 {
		b.ReportMetric(float64(events)/(cpu1-cpu0), "events/cpu-s")
	}
}

// BenchmarkRecomputeDimension is the rebuild of BenchmarkRecompute's
// 3,000,000 events of 1,000,000 users (5 metrics, exposures carrying a
// country of 50 values) without dimensions, the baseline, and with the
// country as a dimension, in the same run: what keeping every cell once more
// per country costs the ingestion.
func BenchmarkRecomputeDimension(b *testing.B) {
	metrics := testMetrics()[:5]
	const events, users = 3_000_000, 1_000_000
	recs := recomputeBenchLogAttrs(events, users, 50)
	scan := func(fn func([]byte) error) error {
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
	country := metric.Dimension{Name: "country"}
	for i := range 50 {
		country.Values = append(country.Values, fmt.Sprintf("c%02d", i))
	}
	for _, c := range []struct {
		name string
		dims []metric.Dimension
	}{{"none", nil}, {"dimension=50", []metric.Dimension{country}}} {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := cputime.Seconds()
			for b.Loop() {
				r, err := recomputeLog(metrics, c.dims, 0, nil, recomputeParts(), nil, scan)
				if err != nil || r.events != events {
					b.Fatal(r, err)
				}
			}
			reportRate(b, b.N*events, cpu0)
		})
	}
}

// BenchmarkQuantileOver recomputes 1,000,000 events of 100,000 users (as
// BenchmarkRecompute, one part) with one quantile metric of the load events,
// over users' means and over events: the cost of keeping every user's
// bucket counts and folding them into the EventSketch, side by side.
func BenchmarkQuantileOver(b *testing.B) {
	const events = 1_000_000
	recs := recomputeBenchLog(events, 100_000)
	scan := func(fn func([]byte) error) error {
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, over := range []string{metric.OverUser, metric.OverEvent} {
		m := metric.Metric{Key: "load-p99", Kind: metric.Quantile, Over: over, Event: "load", Quantile: 0.99, Direction: metric.LowerIsBetter}
		if err := m.Normalize(); err != nil {
			b.Fatal(err)
		}
		b.Run("over="+over, func(b *testing.B) {
			cpu0 := cputime.Seconds()
			for b.Loop() {
				r, err := recomputeLog([]metric.Metric{m}, nil, 0, nil, 1, nil, scan)
				if err != nil || r.events != events {
					b.Fatal(r, err)
				}
			}
			reportRate(b, b.N*events, cpu0)
		})
	}
}
