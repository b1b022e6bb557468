package ui

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/ingest"
)

// The stored aggregates hold totals, not history, so the charts over time
// are computed from the environment's event log: exposures per day, and an
// experiment's analysis replayed at the end of each day. Both are cached
// until the log grows. Reading the log costs time in proportion to its
// events, so environments with more than maxChartEvents events get no such
// charts (the page says so) rather than slow pages.
const maxChartEvents = 250_000

// maxReplays bounds the points of an experiment's interval over time.
const maxReplays = 12

type seriesCache struct {
	mu        sync.Mutex
	exposures map[string]exposureSeries // by environment
	replays   map[string]replaySeries   // by environment + flag: one entry per experiment, the newest hypothesis version replacing older ones
}

type exposureSeries struct {
	events int64
	// days[flag][variant] counts exposures per day (UTC midnight).
	days map[string]map[string]map[time.Time]int64
}

type replaySeries struct {
	events     int64
	hypVersion int64
	points     []replayPoint
}

// replayPoint is an experiment's result as it stood at At.
type replayPoint struct {
	At     time.Time
	Result *experiment.Result
}

func newSeriesCache() *seriesCache {
	return &seriesCache{exposures: map[string]exposureSeries{}, replays: map[string]replaySeries{}}
}

// tooManyEvents returns the event count of env and whether it is beyond
// what the charts over time read.
func (u *UI) tooManyEvents(ctx context.Context, env string) (int64, bool, error) {
	if u.Events == nil {
		return 0, true, nil
	}
	n, err := u.Events.EventCount(ctx, env)
	return n, n > maxChartEvents, err
}

// exposuresByDay returns the exposures of flag per variant and day.
func (u *UI) exposuresByDay(ctx context.Context, env, flag string) (map[string]map[time.Time]int64, error) {
	n, tooMany, err := u.tooManyEvents(ctx, env)
	if err != nil || tooMany {
		return nil, err
	}
	u.series.mu.Lock()
	cached, ok := u.series.exposures[env]
	u.series.mu.Unlock()
	if ok && cached.events == n {
		return cached.days[flag], nil
	}
	days := map[string]map[string]map[time.Time]int64{}
	err = u.Events.Events(ctx, env, func(e *ingest.Event) error {
		if e.Type != ingest.Exposure {
			return nil
		}
		byVariant := days[e.Flag]
		if byVariant == nil {
			byVariant = map[string]map[time.Time]int64{}
			days[e.Flag] = byVariant
		}
		byDay := byVariant[e.Variant]
		if byDay == nil {
			byDay = map[time.Time]int64{}
			byVariant[e.Variant] = byDay
		}
		byDay[e.TimeOf().Truncate(24*time.Hour)]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	u.series.mu.Lock()
	u.series.exposures[env] = exposureSeries{events: n, days: days}
	u.series.mu.Unlock()
	return days[flag], nil
}

// replay analyses in again at the end of each day of its events (at most
// maxReplays points, the last one at the last event), from the events
// received by then: how the result, and its sequential interval, moved.
func (u *UI) replay(ctx context.Context, in experiment.Input, hypVersion int64) ([]replayPoint, error) {
	env := in.Environment
	n, tooMany, err := u.tooManyEvents(ctx, env)
	if err != nil || tooMany {
		return nil, err
	}
	key := env + "\x00" + in.Flag
	u.series.mu.Lock()
	cached, ok := u.series.replays[key]
	u.series.mu.Unlock()
	if ok && cached.events == n && cached.hypVersion == hypVersion {
		return cached.points, nil
	}
	var events []ingest.Event
	err = u.Events.Events(ctx, env, func(e *ingest.Event) error {
		if e.Type == ingest.Tracking || e.Flag == in.Flag {
			c := *e
			c.Attributes = nil
			events = append(events, c)
		}
		return nil
	})
	if err != nil || len(events) == 0 {
		return nil, err
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time < events[j].Time })
	first, last := events[0].TimeOf(), events[len(events)-1].TimeOf()
	var cuts []time.Time
	for t := first.Truncate(24 * time.Hour).Add(24 * time.Hour); t.Before(last); t = t.Add(24 * time.Hour) {
		cuts = append(cuts, t)
	}
	if len(cuts) > maxReplays-1 {
		step := (len(cuts) + maxReplays - 2) / (maxReplays - 1)
		thinned := cuts[:0]
		for i := len(cuts) - 1; i >= 0; i -= step {
			thinned = append([]time.Time{cuts[i]}, thinned...)
		}
		cuts = thinned
	}
	cuts = append(cuts, last.Add(time.Millisecond))
	var points []replayPoint
	for _, cut := range cuts {
		ms := cut.UnixMilli()
		scan := func(fn func(*ingest.Event) error) error {
			for i := range events {
				if events[i].Time >= ms {
					break
				}
				if err := fn(&events[i]); err != nil {
					return err
				}
			}
			return nil
		}
		aggs, _, err := ingest.Recompute(in.Metrics, scan)
		if err != nil {
			return nil, err
		}
		at := in
		at.Aggregates = aggs
		res, err := experiment.Analyze(at)
		if err != nil {
			return nil, err
		}
		points = append(points, replayPoint{At: cut, Result: res})
	}
	u.series.mu.Lock()
	u.series.replays[key] = replaySeries{events: n, hypVersion: hypVersion, points: points}
	u.series.mu.Unlock()
	return points, nil
}
