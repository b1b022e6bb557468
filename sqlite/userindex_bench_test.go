package sqlite

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkUserIndexGrowth adds 1.6 million new users to an index, as
// first-seen traffic does, and reports the slowest add (worst-ms): the
// writer's stall, and on a server of one core every request's, when the
// table doubles. "at-once" moves every entry at the growth, as the index
// did before it moved them a few at each add ("incremental"), for the
// side-by-side figure: go test ./sqlite -run '^$' -bench UserIndexGrowth.
func BenchmarkUserIndexGrowth(b *testing.B) {
	keys := make([]string, 1_600_000)
	for i := range keys {
		keys[i] = "new-" + strconv.Itoa(i)
	}
	for _, mode := range []string{"incremental", "at-once"} {
		b.Run(mode, func(b *testing.B) {
			var worst time.Duration
			for b.Loop() {
				x := newUserIndex()
				for i, k := range keys {
					t0 := time.Now()
					x.set(k, int32(i))
					if mode == "at-once" && x.old != nil {
						x.move(len(x.old))
					}
					worst = max(worst, time.Since(t0))
				}
			}
			b.ReportMetric(float64(worst)/1e6, "worst-ms")
		})
	}
}
