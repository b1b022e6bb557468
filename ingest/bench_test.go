package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
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
		for b.Loop() {
			if _, err := Decode(body, now, Limits{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var evs []struct {
				Type, ID, Name, TargetingKey, Time string
				Value                              *float64
			}
			if err := json.Unmarshal(body, &evs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkRecompute measures recomputation from encoded log records (both
// passes), 200k events of 20k users, 5 metrics.
func BenchmarkRecompute(b *testing.B) {
	metrics := testMetrics()[:5]
	var recs [][]byte
	var evs []Event
	for i := 0; i < 200_000; i++ {
		ev := Event{TargetingKey: fmt.Sprintf("u%d", i%20_000), Time: int64(i), TimeSet: true, ID: fmt.Sprint(i)}
		if i < 20_000 {
			ev.Type, ev.Flag, ev.Variant = Exposure, "f", []string{"a", "b"}[i%2]
		} else {
			ev.Type, ev.Name, ev.Value, ev.HasValue = Tracking, []string{"purchase", "click", "load"}[i%3], int64(i%1000)*Scale, true
		}
		evs = append(evs, ev)
		if len(evs) == 1000 {
			recs = append(recs, EncodeLog(evs).Data)
			evs = evs[:0]
		}
	}
	for b.Loop() {
		_, n, err := Recompute(metrics, func(fn func(*Event) error) error {
			for _, r := range recs {
				if err := DecodeLog(r, fn); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || n != 200_000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.N*200_000)/b.Elapsed().Seconds(), "events/s")
}
