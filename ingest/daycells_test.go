package ingest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// TestDayCellsGrowPerFlagDay measures how the cells by day of first
// exposure (metric.ExposureDayDimension) grow, which are never dropped: by
// one set per flag and day with first exposures, (metrics + 1) × variants
// × split periods cells, whatever the traffic. A flag split for 30 days at
// 50 and at 2,000 new users a day keeps the same cells; the events (and the
// exposures and user states) grow with the traffic. The figures of
// docs/operations.md ("Growth of the stored figures") are this test's:
//
//	go test -count=1 -run TestDayCellsGrowPerFlagDay -v ./ingest/
//
// The cells are counted from ingest.Recompute, which the stores' cells
// equal bit for bit (TestIncrementalEqualsRecomputation).
func TestDayCellsGrowPerFlagDay(t *testing.T) {
	metrics := []metric.Metric{
		{Key: "signup", Kind: metric.Conversion, Event: "signup", Window: metric.Window(7 * 24 * time.Hour)},
		{Key: "clicks", Kind: metric.Count, Event: "click"},
		{Key: "revenue", Kind: metric.Sum, Event: "purchase"},
		{Key: "basket", Kind: metric.Mean, Event: "purchase"},
		{Key: "visits", Kind: metric.Count, Event: "visit"},
	}
	const days, variants = 30, 2
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	perDay := map[int]int{} // users a day: cells
	for _, users := range []int{50, 2000} {
		// The events are made as they are read (Recompute reads them twice).
		scan := func(fn func(*ingest.Event) error) error {
			for d := range days {
				for u := range users {
					key := fmt.Sprintf("u%d-%d", d, u)
					at := start + int64(d)*86_400_000 + int64(u)*1000
					evs := []ingest.Event{
						{Type: ingest.Exposure, Time: at, TargetingKey: key, Flag: "checkout", Variant: []string{"control", "treatment"}[u%variants]},
						{Type: ingest.Tracking, Time: at + 1, TargetingKey: key, Name: "visit"},
						{Type: ingest.Tracking, Time: at + 2, TargetingKey: key, Name: "click"},
						{Type: ingest.Tracking, Time: at + 3, TargetingKey: key, Name: "purchase", Value: 12_000_000, HasValue: true},
						{Type: ingest.Tracking, Time: at + 4, TargetingKey: key, Name: "signup"},
					}
					if u%3 != 0 {
						evs = evs[:4] // a third sign up
					}
					for i := range evs {
						if err := fn(&evs[i]); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}
		cells, n, err := ingest.Recompute(metrics, scan)
		if err != nil {
			t.Fatal(err)
		}
		var day, all int
		for _, c := range cells {
			switch c.Dimension {
			case metric.ExposureDayDimension:
				day++
			case "":
				all++
			}
		}
		if want := (len(metrics) + 1) * variants * days; day != want {
			t.Errorf("%d users a day: %d cells by day over %d days, want (metrics + 1) × variants × days = %d", users, day, days, want)
		}
		perDay[users] = day / days
		t.Logf("%d new users a day for %d days: %d events (%d a day); cells of all users %d, by day %d (%d a day)",
			users, days, n, n/days, all, day, day/days)
	}
	if perDay[50] != perDay[2000] {
		t.Errorf("cells by day a day: %d at 50 users a day, %d at 2,000; want the same", perDay[50], perDay[2000])
	}
}
