package ui

import (
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// The stored aggregates hold totals, not history, so the charts over time
// need the event log: exposures per day, and an experiment's analysis as it
// stood at the end of past days. A page never reads the log while it
// renders, whatever its size:
//
//   - The interval over time ends with the analysis of the stored aggregates
//     (the page's own result: new events show at once). The points of past
//     days are replayed from the log once and kept; a new day adds one.
//   - Exposures per day are kept per environment: past days counted once a
//     day, today's refreshed from the log records of today only, at most
//     every chartRefresh.
//
// Both are computed by one goroutine per cache entry shared by every view
// that wants it (singleflight), in the background; a view shows what is
// kept meanwhile. Only a view with nothing kept waits, at most ChartWait
// (20ms by default): small environments, the demo, get their charts at once.
// Events that arrive late with the time of a past day show in its points
// from the next day on.
const (
	chartRefresh = time.Minute
	// maxReplays bounds the past-day points of an interval over time.
	maxReplays = 11
	// chartTimeout bounds one background computation.
	chartTimeout = 10 * time.Minute
)

type seriesCache struct {
	flights singleflight.Group
	// busy lets one background computation run at a time: after a restart
	// every page viewed wants one, and the server has requests to answer.
	busy chan struct{}

	mu        sync.Mutex
	exposures map[string]*exposureSeries // by environment
	replays   map[string]*replaySeries   // by environment, flag, hypothesis version and metrics
}

// exposureSeries are the exposures of an environment per flag, variant and
// day (UTC midnight).
type exposureSeries struct {
	today   time.Time // the day whose counts are partial
	past    map[string]map[string]map[time.Time]int64
	current map[string]map[string]int64 // today's, by flag and variant
	at      time.Time                   // when current was counted
}

// replaySeries are the results of an experiment at the end of past days.
type replaySeries struct {
	first  time.Time                        // the day of its first event
	points map[time.Time]*experiment.Result // by cut (a UTC midnight)
	day    time.Time                        // the last day the points were brought up to
}

// replayPoint is an experiment's result as it stood at At.
type replayPoint struct {
	At     time.Time
	Result *experiment.Result
}

func newSeriesCache() *seriesCache {
	return &seriesCache{busy: make(chan struct{}, 1), exposures: map[string]*exposureSeries{}, replays: map[string]*replaySeries{}}
}

// share runs fn once for key however many views ask meanwhile, in the
// background (its context outlives the request). The caller waits at most
// wait for it (and gets its error); later views see the result.
func (c *seriesCache) share(ctx context.Context, key string, wait time.Duration, fn func(context.Context) error) error {
	ch := c.flights.DoChan(key, func() (any, error) {
		c.busy <- struct{}{}
		defer func() { <-c.busy }()
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), chartTimeout)
		defer cancel()
		return nil, fn(bg)
	})
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.Err
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// firstWait is how long a view with nothing kept waits for the charts
// over time.
func (u *UI) firstWait(kept bool) time.Duration {
	if kept {
		return 0
	}
	return u.ChartWait
}

func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// exposuresByDay returns the exposures of flag per variant and day as kept
// (nil while the first count of a large environment is under way), and
// whether the chart is complete.
func (u *UI) exposuresByDay(ctx context.Context, env, flag string) (map[string]map[time.Time]int64, bool, error) {
	if u.Events == nil {
		return nil, false, nil
	}
	now := u.Now()
	u.series.mu.Lock()
	s := u.series.exposures[env]
	u.series.mu.Unlock()
	if s == nil || !s.today.Equal(day(now)) || now.Sub(s.at) >= chartRefresh {
		err := u.series.share(ctx, "exposures\x00"+env, u.firstWait(s != nil), func(ctx context.Context) error {
			return u.countExposures(ctx, env)
		})
		if err != nil {
			return nil, false, err
		}
		u.series.mu.Lock()
		s = u.series.exposures[env]
		u.series.mu.Unlock()
	}
	if s == nil {
		return nil, false, nil
	}
	out := map[string]map[time.Time]int64{}
	for v, byDay := range s.past[flag] {
		out[v] = map[time.Time]int64{}
		for d, n := range byDay {
			out[v][d] = n
		}
	}
	for v, n := range s.current[flag] {
		if out[v] == nil {
			out[v] = map[time.Time]int64{}
		}
		out[v][s.today] += n
	}
	return out, true, nil
}

// countExposures brings env's exposure counts up to now: the past days
// from the whole log when the day changed (or on the first count), today's
// from the records that hold events of today.
func (u *UI) countExposures(ctx context.Context, env string) error {
	now := u.Now()
	today := day(now)
	u.series.mu.Lock()
	old := u.series.exposures[env]
	u.series.mu.Unlock()
	s := &exposureSeries{today: today, current: map[string]map[string]int64{}, at: now}
	since := today.UnixMilli()
	if old != nil && old.today.Equal(today) {
		s.past = old.past
	} else {
		s.past = map[string]map[string]map[time.Time]int64{}
		since = math.MinInt64
	}
	todayMs := today.UnixMilli()
	err := u.Events.ScanLog(ctx, env, since, func(data []byte) error {
		runtime.Gosched() // a background scan: let the pages being served go first
		return ingest.ScanExposures(data, func(flag, variant []byte, t int64) {
			// Indexing with string(b) does not allocate; only new keys do.
			if t >= todayMs {
				byVariant := s.current[string(flag)]
				if byVariant == nil {
					byVariant = map[string]int64{}
					s.current[string(flag)] = byVariant
				}
				byVariant[string(variant)]++
			} else if since == math.MinInt64 {
				byVariant := s.past[string(flag)]
				if byVariant == nil {
					byVariant = map[string]map[time.Time]int64{}
					s.past[string(flag)] = byVariant
				}
				if byVariant[string(variant)] == nil {
					byVariant[string(variant)] = map[time.Time]int64{}
				}
				byVariant[string(variant)][day(time.UnixMilli(t))]++
			}
		})
	})
	if err != nil {
		return err
	}
	u.series.mu.Lock()
	u.series.exposures[env] = s
	u.series.mu.Unlock()
	return nil
}

// replay returns the result of an experiment at the end of each past day
// of its events (at most maxReplays, kept), followed by the current result:
// how the result, and its sequential interval, moved. Complete reports
// whether the past days are in (false while the first replay of a large
// environment is under way).
func (u *UI) replay(ctx context.Context, in experiment.Input, current *experiment.Result) (points []replayPoint, complete bool, err error) {
	now := u.Now()
	points = []replayPoint{{At: now, Result: current}}
	if u.Events == nil {
		return points, false, nil
	}
	key := replayKey(in)
	u.series.mu.Lock()
	s := u.series.replays[key]
	u.series.mu.Unlock()
	if s == nil || !s.day.Equal(day(now)) {
		err := u.series.share(ctx, "replay\x00"+key, u.firstWait(s != nil), func(ctx context.Context) error {
			return u.replayDays(ctx, key, in)
		})
		if err != nil {
			return nil, false, err
		}
		u.series.mu.Lock()
		s = u.series.replays[key]
		u.series.mu.Unlock()
	}
	if s == nil {
		return points, false, nil
	}
	var past []replayPoint
	for _, cut := range replayCuts(s.first, s.day) {
		if r := s.points[cut]; r != nil {
			past = append(past, replayPoint{At: cut, Result: r})
		}
	}
	return append(past, points...), true, nil
}

// replayKey names an experiment's past points: they change with its
// hypothesis (settings) and its metric definitions. The hypothesis is
// named by its definition, not its version: a hypothesis deleted and set
// again once started at version 1, and keyed by version it was served the
// points of the one deleted, judged under other terms (the definition is
// what the points were judged under, whatever the version says).
func replayKey(in experiment.Input) string {
	var h experiment.Hypothesis
	if in.Hypothesis != nil {
		h = *in.Hypothesis
		h.Version, h.UpdatedAt, h.UpdatedBy = 0, time.Time{}, ""
	}
	k := in.Environment + "\x00" + in.Flag + "\x00" + jsonValue(h) + "\x00" + jsonValue(in.Settings)
	for _, m := range in.Metrics {
		k += "\x00" + metricFingerprint(m)
	}
	return k
}

func metricFingerprint(m metric.Metric) string {
	return jsonValue(m)
}

// replayCuts are the UTC midnights after first up to today at which an
// experiment is replayed: every step-th day counted from the epoch, step the
// smallest power of two that keeps them within maxReplays. Being aligned,
// the cuts of one day are mostly those of the day before, so that a new day
// replays one cut, not all.
func replayCuts(first, today time.Time) []time.Time {
	if !first.Before(today) {
		return nil
	}
	firstDay := first.Unix()/86400 + 1
	lastDay := today.Unix() / 86400
	step := int64(1)
	for (lastDay/step)-((firstDay-1)/step) > maxReplays {
		step *= 2
	}
	var cuts []time.Time
	for d := (firstDay + step - 1) / step * step; d <= lastDay; d += step {
		cuts = append(cuts, time.Unix(d*86400, 0).UTC())
	}
	return cuts
}

// leaveOutPastBound narrows keep, before the cuts of s still to replay,
// to leave out the exposures to in.Flag that the results leave out: those
// of users past the bound of flags analysed per user (MaxFlagsPerUser).
// The replay reads one flag's exposures, where no user has more than one
// flag, so the bound must be applied from a scan of every flag's (which
// only an environment with more flags than the bound needs).
func (u *UI) leaveOutPastBound(ctx context.Context, in experiment.Input, s *replaySeries, today time.Time, keep *func(*ingest.Event) bool) error {
	bound := u.MaxFlagsPerUser
	if bound <= 0 {
		bound = ingest.DefaultMaxFlagsPerUser
	}
	if !slices.ContainsFunc(replayCuts(s.first, today), func(cut time.Time) bool { return s.points[cut] == nil }) {
		return nil
	}
	// Today's counts: those of a day before (the experiment's page does
	// not refresh them, the flag's does) miss the flags first exposed since.
	exp, err := u.todaysExposures(ctx, in.Environment, today)
	if err != nil {
		return err
	}
	if len(exp.past)+len(exp.current) <= bound {
		return nil // (past and current may name a flag twice: a bound)
	}
	left, err := ingest.Unanalysed(in.Flag, bound, func(fn func(*ingest.Event) error) error {
		return u.Events.ScanLog(ctx, in.Environment, math.MinInt64, func(data []byte) error {
			runtime.Gosched()
			return ingest.DecodeLog(data, fn)
		})
	})
	if err != nil || len(left) == 0 {
		return err
	}
	k := *keep
	*keep = func(e *ingest.Event) bool {
		return k(e) && !(e.Type == ingest.Exposure && left[e.TargetingKey])
	}
	return nil
}

// todaysExposures returns env's exposure counts, counted anew when those
// kept are of a day before (or none). (Counted here, not through share:
// its callers run holding busy.)
func (u *UI) todaysExposures(ctx context.Context, env string, today time.Time) (*exposureSeries, error) {
	u.series.mu.Lock()
	exp := u.series.exposures[env]
	u.series.mu.Unlock()
	if exp != nil && exp.today.Equal(today) {
		return exp, nil
	}
	if err := u.countExposures(ctx, env); err != nil {
		return nil, err
	}
	u.series.mu.Lock()
	defer u.series.mu.Unlock()
	return u.series.exposures[env], nil
}

// replayDays computes the missing past-day points of an experiment: one
// recomputation from the log per cut, of the events before it.
func (u *UI) replayDays(ctx context.Context, key string, in experiment.Input) error {
	today := day(u.Now())
	u.series.mu.Lock()
	old := u.series.replays[key]
	u.series.mu.Unlock()
	s := &replaySeries{day: today, points: map[time.Time]*experiment.Result{}}
	keep := func(e *ingest.Event) bool { return e.Type == ingest.Tracking || e.Flag == in.Flag }
	if old != nil {
		s.first = old.first
		for k, v := range old.points {
			s.points[k] = v
		}
	} else {
		// The first day comes from the exposure counts, shared with the
		// flag's page: no scan of the log of its own. (Counted here, not
		// through share: this runs holding busy.)
		exp, err := u.todaysExposures(ctx, in.Environment, today)
		if err != nil {
			return err
		}
		s.first = today // no exposures yet: no past days
		for _, byDay := range exp.past[in.Flag] {
			for d := range byDay {
				if d.Before(s.first) {
					s.first = d
				}
			}
		}
	}
	if err := u.leaveOutPastBound(ctx, in, s, today, &keep); err != nil {
		return err
	}
	for _, cut := range replayCuts(s.first, today) {
		if s.points[cut] != nil {
			continue
		}
		ms := cut.UnixMilli()
		aggs, _, err := ingest.Recompute(in.Metrics, func(fn func(*ingest.Event) error) error {
			return u.Events.ScanLog(ctx, in.Environment, math.MinInt64, func(data []byte) error {
				runtime.Gosched()
				return ingest.DecodeLog(data, func(e *ingest.Event) error {
					if e.Time < ms && keep(e) {
						return fn(e)
					}
					return nil
				})
			})
		})
		if err != nil {
			return err
		}
		// The recomputation's cells as ReadInput reads them from a store,
		// and the time of the cut: the windows open then, not now.
		at := in
		at.SetCells(aggs)
		at.Now = cut
		res, err := experiment.Analyze(at)
		if err != nil {
			return err
		}
		s.points[cut] = res
	}
	u.series.mu.Lock()
	defer u.series.mu.Unlock()
	prefix := in.Environment + "\x00" + in.Flag + "\x00"
	for k := range u.series.replays { // an older hypothesis or metric definition
		if strings.HasPrefix(k, prefix) {
			delete(u.series.replays, k)
		}
	}
	u.series.replays[key] = s
	return nil
}
