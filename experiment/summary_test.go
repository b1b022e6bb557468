package experiment

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/valueloop/valueloop/metric"
)

// TestSummarizerMatchesIngest: the fast conversion gives Sums.Summary's
// result bit for bit, on real aggregates and on random sums of every size
// and sign.
func TestSummarizerMatchesIngest(t *testing.T) {
	var z summarizer
	check := func(s *metric.Sums) {
		t.Helper()
		got, want := z.summary(s), s.Summary()
		if got != want {
			t.Fatalf("summary of %+v:\n got %+v\nwant %+v", s, got, want)
		}
		for _, f := range []float64{got.Mean, got.M2, got.DenMean, got.DenM2, got.XDen, got.PreMean, got.PreM2, got.XPre, got.DenPre} {
			if math.Signbit(f) && f == 0 {
				t.Fatalf("negative zero in %+v", got)
			}
		}
	}
	ms := testMetrics()
	aggs := simulate(t, 11, "f", ms, []arm{{name: "a", users: 300, signup: 0.4, tickets: 0.2}, {name: "b", users: 1, signup: 1}})
	for i := range aggs {
		check(&aggs[i].Sums)
	}
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 8+9*24)
	for range 20000 {
		binary.LittleEndian.PutUint64(buf, uint64(r.Int64N(1<<uint(r.IntN(63)))))
		for i := range 9 {
			// Sizes from 0 to 192 bits, either sign, some exactly zero.
			bitsN := r.IntN(193)
			var v [3]uint64
			for j := range v {
				v[j] = r.Uint64()
			}
			for j := range v {
				keep := min(max(bitsN-64*j, 0), 64)
				if keep < 64 {
					v[j] &= (1 << uint(keep)) - 1
				}
			}
			if r.IntN(2) == 0 { // negate
				var c uint64 = 1
				for j := range v {
					v[j] = ^v[j] + c
					if v[j] != 0 {
						c = 0
					}
				}
			}
			if r.IntN(5) == 0 {
				v = [3]uint64{}
			}
			for j := range v {
				binary.LittleEndian.PutUint64(buf[8+24*i+8*j:], v[j])
			}
		}
		var s metric.Sums
		if err := s.UnmarshalBinary(buf); err != nil {
			t.Fatal(err)
		}
		check(&s)
	}
}
