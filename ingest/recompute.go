package ingest

import (
	"errors"
	"hash/maphash"
	"iter"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valueloop/valueloop/metric"
)

// recomputation is the state recomputed from an environment's log. Its
// users are partitioned by a hash of their key among engines that run in
// parallel, one per core: finding each event's user in memory is most of
// what recomputation costs, and with a million users nearly every lookup is
// a cache miss, so cores add up. Each user lives in exactly one part, and
// since Sums are exact integers the figures of a cell are the sum of the
// parts' whatever the split.
type recomputation struct {
	parts  []*engine
	seed   maphash.Seed
	events int64
	track  *rebuildTracker // nil: nobody watches
}

// maxRecomputeParts bounds the parts: each part decodes every record to find
// its events, which costs more than it saves beyond a few cores.
const maxRecomputeParts = 4

// recomputeParts is the number of parts a recomputation uses here.
func recomputeParts() int { return min(runtime.GOMAXPROCS(0), maxRecomputeParts) }

// recomputeLog folds every event of the log records that scan yields into
// new bulk engines of metrics, split in parts (at least one), in two passes
// (exposures, then tracking events, so that no history scan is ever needed),
// and computes the sums, with at most maxUnits flags per user (0: the
// default). scan is called twice.
func recomputeLog(metrics []metric.Metric, dims []metric.Dimension, maxUnits int, periods map[string][]int64, parts int, track *rebuildTracker, scan func(fn func(data []byte) error) error) (*recomputation, error) {
	r := &recomputation{parts: make([]*engine, max(parts, 1)), seed: maphash.MakeSeed(), track: track}
	for i := range r.parts {
		e := newEngine(metrics, dims...).limitUnits(maxUnits)
		e.persistent, e.bulk = true, true
		e.periods = periods
		r.parts[i] = e
	}
	for _, exposures := range []bool{true, false} {
		if exposures {
			track.start(phaseExposures, 0)
		} else {
			track.start(phaseTracking, r.events)
		}
		if err := r.pass(exposures, scan); err != nil {
			return nil, err
		}
	}
	r.each((*engine).finishBulk)
	return r, nil
}

// pass feeds every record to every part: in the calling goroutine with one
// part, else each part in a goroutine of its own, receiving a copy of each
// record (scan's slice is valid only during the call).
func (r *recomputation) pass(exposures bool, scan func(fn func(data []byte) error) error) error {
	if len(r.parts) == 1 {
		return scan(func(data []byte) error { return r.feed(0, data, exposures) })
	}
	const queued = 16
	queues := make([]chan *sharedRecord, len(r.parts))
	// Copies go back to free once every part is done with them: allocating
	// one per record would make the collector mark every user of the
	// recomputation again and again.
	free := make(chan *sharedRecord, (queued+1)*len(r.parts)+1)
	errs := make([]error, len(r.parts))
	var failed atomic.Bool // a part failed: stop reading
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan *sharedRecord, queued)
		wg.Go(func() {
			for rec := range queues[i] {
				if errs[i] == nil {
					if errs[i] = r.feed(i, rec.data, exposures); errs[i] != nil {
						failed.Store(true)
					}
				}
				if rec.refs.Add(-1) == 0 {
					select {
					case free <- rec:
					default:
					}
				}
			}
		})
	}
	err := scan(func(data []byte) error {
		if failed.Load() {
			return errPartFailed
		}
		var rec *sharedRecord
		select {
		case rec = <-free:
		default:
			rec = new(sharedRecord)
		}
		rec.data = append(rec.data[:0], data...)
		rec.refs.Store(int32(len(queues)))
		for _, q := range queues {
			q <- rec
		}
		return nil
	})
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	// A part's error first (every part reads the same records: one says
	// it), else the scan's.
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return err
}

// errPartFailed stops a scan once a part has failed; the part's error is
// the one returned.
var errPartFailed = errors.New("ingest: recomputation stopped")

// sharedRecord is a copy of a log record that every part reads.
type sharedRecord struct {
	data []byte
	refs atomic.Int32 // parts yet to read it
}

// feed folds the events of one record that belong to part i: its
// exposures in the first pass, its tracking events in the second. Part 0
// counts the events and reports them to the tracker. It finds the users of
// all those events first, then folds the events: lookups that do not wait
// for one another overlap their cache misses (a third faster with a
// million users).
func (r *recomputation) feed(i int, data []byte, exposures bool) error {
	e := r.parts[i]
	n := uint64(len(r.parts))
	refs := e.refBuf[:0]
	var seen int64
	err := scanRecord(data, func(ev *rawEvent) {
		seen++
		x := eventRef{key: ev.key, t: ev.time}
		switch {
		case exposures && ev.typ == Exposure:
			x.flag, x.variant, x.attrs, x.outside = e.intern(ev.flag), e.intern(ev.variant), ev.attrs, ev.outside
		case !exposures && ev.typ == Tracking:
			ni, ok := e.names[string(ev.name)]
			if !ok {
				return
			}
			x.name, x.v = ni, ev.value
		default:
			return
		}
		if n == 1 || maphash.Bytes(r.seed, ev.key)%n == uint64(i) {
			refs = append(refs, x)
		}
	})
	for j := range refs {
		refs[j].u = e.users[string(refs[j].key)]
	}
	for j := range refs {
		x := &refs[j]
		if x.u == nil {
			x.u = e.touchBytes(x.key) // new, or created by an earlier event of the record
		}
		if exposures {
			e.expose(x.u, x.flag, x.variant, x.t, x.attrs, x.outside)
		} else {
			e.track(x.u, x.name, x.t, x.v)
		}
	}
	clear(refs) // keep no record alive
	e.refBuf = refs[:0]
	if i == 0 {
		if exposures {
			r.events += seen
		}
		r.track.add(seen)
	}
	return err
}

// eventRef is an event of a record that feed folds, and its user.
type eventRef struct {
	key           []byte
	u             *user
	flag, variant string // exposure
	attrs         []byte // exposure: its attributes, aliasing the record
	outside       bool   // exposure: Event.OutsideSplit
	name          int32  // tracking: index of the event name
	t, v          int64
}

// each runs fn on every part, in parallel.
func (r *recomputation) each(fn func(*engine)) {
	var wg sync.WaitGroup
	for _, e := range r.parts[1:] {
		wg.Go(func() { fn(e) })
	}
	fn(r.parts[0])
	wg.Wait()
}

// all returns every cell, sorted: those of the parts, added up.
func (r *recomputation) all() []metric.Aggregate {
	if len(r.parts) == 1 {
		return r.parts[0].all()
	}
	var out []metric.Aggregate
	for _, e := range r.parts {
		out = append(out, e.all()...)
	}
	sortAggregates(out)
	merged := out[:0]
	for _, a := range out {
		if n := len(merged); n > 0 && merged[n-1].Flag == a.Flag && merged[n-1].Variant == a.Variant && merged[n-1].Metric == a.Metric && merged[n-1].Period == a.Period {
			merged[n-1].Sums.Add(a.Sums)
			continue
		}
		merged = append(merged, a)
	}
	return merged
}

// users yields every user's encoded state in key order, as
// StateTx.ReplaceState takes them. The slices are valid until the next one.
func (r *recomputation) users() iter.Seq[UserState] {
	return func(yield func(UserState) bool) {
		// Each part sorts its own users (in parallel), then the sorted
		// lists are merged.
		lists := make([][]*user, len(r.parts))
		var wg sync.WaitGroup
		for i, e := range r.parts {
			wg.Go(func() {
				l := make([]*user, 0, len(e.users))
				for _, u := range e.users {
					l = append(l, u)
				}
				slices.SortFunc(l, func(a, b *user) int { return strings.Compare(a.key, b.key) })
				lists[i] = l
			})
		}
		wg.Wait()
		var n int64
		for _, l := range lists {
			n += int64(len(l))
		}
		r.track.start(phaseUsers, n)
		enc := r.parts[0] // the layout of a state depends on the metrics only: the same in every part
		var buf []byte
		for {
			best := -1
			for i, l := range lists {
				if len(l) > 0 && (best < 0 || l[0].key < lists[best][0].key) {
					best = i
				}
			}
			if best < 0 {
				return
			}
			u := lists[best][0]
			lists[best] = lists[best][1:]
			buf = enc.encodeUser(buf[:0], u)
			if !yield(UserState{Key: u.key, State: buf}) {
				return
			}
			r.track.add(1)
		}
	}
}

// RebuildStatus says how far the recomputation under way has got.
type RebuildStatus struct {
	Environment string `json:"environment"`
	// Phase is "exposures" then "tracking" (the two passes over the stored
	// events), then "users" (storing every user's recomputed state, for a
	// store that keeps them).
	Phase string `json:"phase"`
	// Done counts the events read in this pass, or the users stored; Of is
	// how many there are, 0 while unknown (in the first pass).
	Done int64 `json:"done"`
	Of   int64 `json:"of"`
}

// Phases of a recomputation.
const (
	phaseExposures = iota
	phaseTracking
	phaseUsers
)

var phaseNames = [...]string{"exposures", "tracking", "users"}

// rebuildTracker is the progress of one recomputation, written by it and
// read by anyone. Its methods do nothing on nil.
type rebuildTracker struct {
	env      string
	phase    atomic.Int32
	done, of atomic.Int64
}

func (t *rebuildTracker) start(phase int, of int64) {
	if t != nil {
		t.done.Store(0)
		t.of.Store(of)
		t.phase.Store(int32(phase))
	}
}

func (t *rebuildTracker) add(n int64) {
	if t != nil {
		t.done.Add(n)
	}
}

func (t *rebuildTracker) status() RebuildStatus {
	return RebuildStatus{Environment: t.env, Phase: phaseNames[t.phase.Load()], Done: t.done.Load(), Of: t.of.Load()}
}
