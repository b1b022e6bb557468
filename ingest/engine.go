package ingest

import (
	"math"
	"sort"
)

// engine holds the per-user state of one environment and the aggregates
// derived from it. It is not safe for concurrent use: the Pipeline's writer
// owns it.
//
// Per user it keeps, for every event name that a metric reads, the count,
// sum and latest time of all their events (totals); per (flag, user) the
// first exposure time and variant, or that the user is excluded; and per
// (flag, user, metric) the counts and sums of their events after first
// exposure (within the window) and before it. Every change to a user's
// values is applied to the (flag, variant, metric) sums as a delta: remove
// the old contribution, add the new.
//
// Events may arrive in any order. A tracking event is classified against
// the exposure known when it arrives. An exposure that sets or moves a
// user's first exposure time t0 re-derives that user's values: from the
// totals alone when every event of theirs seen so far is older than t0 (the
// usual case, no I/O), otherwise from the stored events newer than t0 (the
// history function), for all such users of a batch in one scan.
type engine struct {
	metrics []cmetric
	byKey   map[string]int
	names   map[string]int32 // event name → index into a user's totals
	byName  [][]int32        // event name index → metrics reading it

	users     map[string]int32
	totals    []total   // len(names) per user
	userFlags [][]int32 // per user: the flags they were exposed to

	flags   []*flagState
	flagIdx map[string]int32

	dirty   map[cellKey]struct{}
	pending []pendingUnit
}

type cmetric struct {
	Metric
	names  [2]int32 // event name indexes of part 0 (Event) and 1 (denominator); -1 for none
	numSum bool     // ratio numerator aggregates values (else counts)
	denSum bool
	denPt  int // which part holds the denominator: 0 when it is the same event
	window int64
	cap    int64
	hasCap bool
}

type total struct{ cnt, sum, maxT int64 }

type flagState struct {
	key      string
	variants []string
	vidx     map[string]int16
	units    map[int32]*unit
	excluded int64
	users    []int64  // per variant
	cells    [][]Sums // [variant][metric]
}

type unit struct {
	t0       int64
	variant  int16
	excluded bool
	pending  bool
	comps    []comp // per metric
}

// comp holds a user's counts and sums of a metric's events (part 0: Event,
// part 1: the denominator's event when it differs) after first exposure
// within the window (post) and before it (pre).
type comp struct{ post, pre [2]acc }

type acc struct{ cnt, sum int64 }

type pendingUnit struct {
	user int32
	flag int32
}

func newEngine(metrics []Metric) *engine {
	e := &engine{
		byKey:   map[string]int{},
		names:   map[string]int32{},
		users:   map[string]int32{},
		flagIdx: map[string]int32{},
		dirty:   map[cellKey]struct{}{},
	}
	ms := append([]Metric(nil), metrics...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Key < ms[j].Key })
	name := func(s string) int32 {
		if i, ok := e.names[s]; ok {
			return i
		}
		i := int32(len(e.names))
		e.names[s] = i
		e.byName = append(e.byName, nil)
		return i
	}
	for i, m := range ms {
		c := cmetric{Metric: m, names: [2]int32{name(m.Event), -1}, window: int64(m.Window / 1e6)}
		e.byName[c.names[0]] = append(e.byName[c.names[0]], int32(i))
		if m.Kind == Ratio && m.Denominator != nil {
			c.numSum = m.Aggregate != AggCount
			c.denSum = m.Denominator.Aggregate == AggSum
			if m.Denominator.Event != m.Event {
				c.names[1] = name(m.Denominator.Event)
				c.denPt = 1
				e.byName[c.names[1]] = append(e.byName[c.names[1]], int32(i))
			}
		}
		if m.Cap != nil {
			c.cap, _ = toFixed(*m.Cap)
			c.hasCap = true
		}
		e.metrics = append(e.metrics, c)
		e.byKey[m.Key] = i
	}
	return e
}

func (e *engine) user(key string) int32 {
	if u, ok := e.users[key]; ok {
		return u
	}
	u := int32(len(e.userFlags))
	e.users[key] = u
	e.userFlags = append(e.userFlags, nil)
	for range e.names {
		e.totals = append(e.totals, total{})
	}
	return u
}

func (e *engine) flag(key string) (int32, *flagState) {
	if i, ok := e.flagIdx[key]; ok {
		return i, e.flags[i]
	}
	i := int32(len(e.flags))
	fs := &flagState{key: key, vidx: map[string]int16{}, units: map[int32]*unit{}}
	e.flags = append(e.flags, fs)
	e.flagIdx[key] = i
	e.dirty[cellKey{flag: key}] = struct{}{}
	return i, fs
}

// variant returns the index of a variant of fs, adding it (and marking its
// cells, empty as they are, to be stored) when new.
func (e *engine) variant(fs *flagState, name string) int16 {
	if v, ok := fs.vidx[name]; ok {
		return v
	}
	v := int16(len(fs.variants))
	fs.vidx[name] = v
	fs.variants = append(fs.variants, name)
	fs.users = append(fs.users, 0)
	fs.cells = append(fs.cells, make([]Sums, len(e.metrics)))
	e.dirty[cellKey{fs.key, name, ""}] = struct{}{}
	for _, m := range e.metrics {
		e.dirty[cellKey{fs.key, name, m.Key}] = struct{}{}
	}
	return v
}

// apply folds a group of fresh events into the state: exposures first, then
// the history scan for users whose values must be re-derived, then tracking
// events. The result does not depend on the order of events, within a group
// or across groups. history must call fn for every stored tracking event
// with time ≥ since (earlier ones are ignored); it is called at most once.
func (e *engine) apply(events []Event, history func(since int64, fn func(*Event)) error) error {
	for i := range events {
		if events[i].Type == Exposure {
			e.expose(&events[i])
		}
	}
	if err := e.resolvePending(history); err != nil {
		return err
	}
	for i := range events {
		if events[i].Type == Tracking {
			e.track(&events[i])
		}
	}
	return nil
}

// redundant reports whether an exposure would change nothing: the user is
// excluded for the flag already, or saw the same variant no later.
func (e *engine) redundant(ev *Event) bool {
	u, ok := e.users[ev.TargetingKey]
	if !ok {
		return false
	}
	fi, ok := e.flagIdx[ev.Flag]
	if !ok {
		return false
	}
	fs := e.flags[fi]
	un := fs.units[u]
	if un == nil {
		return false
	}
	if un.excluded {
		return true
	}
	v, ok := fs.vidx[ev.Variant]
	return ok && v == un.variant && ev.Time >= un.t0
}

func (e *engine) expose(ev *Event) {
	u := e.user(ev.TargetingKey)
	fi, fs := e.flag(ev.Flag)
	v := e.variant(fs, ev.Variant)
	un := fs.units[u]
	if un == nil {
		un = &unit{t0: ev.Time, variant: v}
		fs.units[u] = un
		e.userFlags[u] = append(e.userFlags[u], fi)
		e.derive(u, fi, fs, un)
		return
	}
	if un.excluded {
		return
	}
	if v != un.variant {
		if !un.pending {
			e.remove(fs, un)
		}
		un.excluded, un.pending, un.comps = true, false, nil
		fs.excluded++
		e.dirty[cellKey{flag: fs.key}] = struct{}{}
		return
	}
	if ev.Time < un.t0 {
		if !un.pending {
			e.remove(fs, un)
		}
		un.t0 = ev.Time
		e.derive(u, fi, fs, un)
	}
}

// derive re-derives a unit's values for a new t0: at once when all of the
// user's events are older, otherwise after the history scan.
func (e *engine) derive(u, fi int32, fs *flagState, un *unit) {
	if un.pending {
		return // t0 moved earlier: still pending, the scan uses the new t0
	}
	tot := e.totals[int(u)*len(e.names) : int(u+1)*len(e.names)]
	for _, t := range tot {
		if t.cnt > 0 && t.maxT >= un.t0 {
			un.pending = true
			e.pending = append(e.pending, pendingUnit{user: u, flag: fi})
			return
		}
	}
	e.initComps(u, un)
	e.add(fs, un)
}

// initComps sets every metric's values as if all the user's events came
// before t0: pre = totals, post = 0.
func (e *engine) initComps(u int32, un *unit) {
	if un.comps == nil {
		un.comps = make([]comp, len(e.metrics))
	}
	tot := e.totals[int(u)*len(e.names):]
	for mi := range e.metrics {
		m := &e.metrics[mi]
		c := &un.comps[mi]
		*c = comp{}
		for p, ni := range m.names {
			if ni >= 0 {
				c.pre[p] = acc{tot[ni].cnt, tot[ni].sum}
			}
		}
	}
}

func (e *engine) resolvePending(history func(since int64, fn func(*Event)) error) error {
	if len(e.pending) == 0 {
		return nil
	}
	defer func() { e.pending = e.pending[:0] }()
	since := int64(math.MaxInt64)
	byUser := map[int32][]int32{}
	for _, p := range e.pending {
		un := e.flags[p.flag].units[p.user]
		if !un.pending {
			continue // excluded meanwhile
		}
		e.initComps(p.user, un)
		since = min(since, un.t0)
		byUser[p.user] = append(byUser[p.user], p.flag)
	}
	if len(byUser) > 0 {
		err := history(since, func(ev *Event) {
			if ev.Type != Tracking || ev.Time < since {
				return
			}
			ni, ok := e.names[ev.Name]
			if !ok {
				return
			}
			u, ok := e.users[ev.TargetingKey]
			if !ok {
				return
			}
			for _, fi := range byUser[u] {
				un := e.flags[fi].units[u]
				if !un.pending || ev.Time < un.t0 {
					continue
				}
				for _, mi := range e.byName[ni] {
					m := &e.metrics[mi]
					p := m.part(ni)
					c := &un.comps[mi]
					c.pre[p].cnt--
					c.pre[p].sum -= ev.Value
					if m.window == 0 || ev.Time-un.t0 < m.window {
						c.post[p].cnt++
						c.post[p].sum += ev.Value
					}
				}
			}
		})
		if err != nil {
			return err
		}
	}
	for _, p := range e.pending {
		fs := e.flags[p.flag]
		un := fs.units[p.user]
		if un.pending {
			un.pending = false
			e.add(fs, un)
		}
	}
	return nil
}

func (m *cmetric) part(ni int32) int {
	if m.names[0] == ni {
		return 0
	}
	return 1
}

func (e *engine) track(ev *Event) {
	ni, ok := e.names[ev.Name]
	if !ok {
		return // no metric reads it
	}
	u := e.user(ev.TargetingKey)
	t := &e.totals[int(u)*len(e.names)+int(ni)]
	if t.cnt == 0 || ev.Time > t.maxT {
		t.maxT = ev.Time
	}
	t.cnt++
	t.sum += ev.Value
	for _, fi := range e.userFlags[u] {
		fs := e.flags[fi]
		un := fs.units[u]
		if un.excluded {
			continue
		}
		for _, mi := range e.byName[ni] {
			m := &e.metrics[mi]
			p := m.part(ni)
			var a *acc
			switch {
			case ev.Time < un.t0:
				a = &un.comps[mi].pre[p]
			case m.window == 0 || ev.Time-un.t0 < m.window:
				a = &un.comps[mi].post[p]
			default:
				continue
			}
			x0, y0, c0, ok0 := m.value(&un.comps[mi])
			a.cnt++
			a.sum += ev.Value
			x1, y1, c1, ok1 := m.value(&un.comps[mi])
			if ok0 == ok1 && x0 == x1 && y0 == y1 && c0 == c1 {
				continue
			}
			cell := &fs.cells[un.variant][mi]
			if ok0 {
				cell.apply(x0, y0, c0, -1)
			}
			if ok1 {
				cell.apply(x1, y1, c1, 1)
			}
			e.dirty[cellKey{fs.key, fs.variants[un.variant], m.Key}] = struct{}{}
		}
	}
}

// add and remove a unit's contribution to every metric of its variant.
func (e *engine) add(fs *flagState, un *unit)    { e.contribute(fs, un, 1) }
func (e *engine) remove(fs *flagState, un *unit) { e.contribute(fs, un, -1) }

func (e *engine) contribute(fs *flagState, un *unit, sign int) {
	vname := fs.variants[un.variant]
	fs.users[un.variant] += int64(sign)
	e.dirty[cellKey{fs.key, vname, ""}] = struct{}{}
	for mi := range e.metrics {
		m := &e.metrics[mi]
		if x, y, c, ok := m.value(&un.comps[mi]); ok {
			fs.cells[un.variant][mi].apply(x, y, c, sign)
			e.dirty[cellKey{fs.key, vname, m.Key}] = struct{}{}
		}
	}
}

// value returns a user's metric value x, ratio denominator y and covariate
// c, in millionths; ok is false when the user has no value (a mean metric
// without events).
func (m *cmetric) value(c *comp) (x, y, cov int64, ok bool) {
	switch m.Kind {
	case Conversion:
		if c.post[0].cnt > 0 {
			x = Scale
		}
		if c.pre[0].cnt > 0 {
			cov = Scale
		}
		return x, 0, cov, true
	case Count:
		x, cov = c.post[0].cnt*Scale, c.pre[0].cnt*Scale
	case Sum:
		x, cov = c.post[0].sum, c.pre[0].sum
	case Mean:
		if c.post[0].cnt == 0 {
			return 0, 0, 0, false
		}
		x = divRound(c.post[0].sum, c.post[0].cnt)
		if c.pre[0].cnt > 0 {
			cov = divRound(c.pre[0].sum, c.pre[0].cnt)
		}
	case Ratio:
		x, cov = pick(c.post[0], m.numSum), pick(c.pre[0], m.numSum)
		y = pick(c.post[m.denPt], m.denSum)
	}
	if m.hasCap {
		x, cov = min(x, m.cap), min(cov, m.cap)
	}
	return x, y, cov, true
}

func pick(a acc, sum bool) int64 {
	if sum {
		return a.sum
	}
	return a.cnt * Scale
}

// divRound returns a/b rounded half away from zero (b > 0).
func divRound(a, b int64) int64 {
	q, r := a/b, a%b
	if r < 0 {
		r = -r
	}
	if 2*r >= b {
		if a < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

// aggregate returns the current figure of a cell.
func (e *engine) aggregate(k cellKey) Aggregate {
	a := Aggregate{Flag: k.flag, Variant: k.variant, Metric: k.metric}
	fi, ok := e.flagIdx[k.flag]
	if !ok {
		return a
	}
	fs := e.flags[fi]
	if k.variant == "" {
		a.Sums.N = fs.excluded
		return a
	}
	v, ok := fs.vidx[k.variant]
	if !ok {
		return a
	}
	if k.metric == "" {
		a.Sums.N = fs.users[v]
		return a
	}
	if mi, ok := e.byKey[k.metric]; ok {
		a.Sums = fs.cells[v][mi]
	}
	return a
}

// takeDirty returns the cells changed since the last call, sorted.
func (e *engine) takeDirty() []Aggregate {
	out := make([]Aggregate, 0, len(e.dirty))
	for k := range e.dirty {
		out = append(out, e.aggregate(k))
	}
	clear(e.dirty)
	sortAggregates(out)
	return out
}

// all returns every cell of every flag (or of one flag), sorted.
func (e *engine) all(flag string) []Aggregate {
	var out []Aggregate
	for _, fs := range e.flags {
		if flag != "" && fs.key != flag {
			continue
		}
		out = append(out, e.aggregate(cellKey{flag: fs.key}))
		for _, v := range fs.variants {
			out = append(out, e.aggregate(cellKey{fs.key, v, ""}))
			for _, m := range e.metrics {
				out = append(out, e.aggregate(cellKey{fs.key, v, m.Key}))
			}
		}
	}
	sortAggregates(out)
	return out
}

func sortAggregates(as []Aggregate) {
	sort.Slice(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if a.Flag != b.Flag {
			return a.Flag < b.Flag
		}
		if a.Variant != b.Variant {
			return a.Variant < b.Variant
		}
		return a.Metric < b.Metric
	})
}
