package ingest

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/valueloop/valueloop/metric"
)

// engine folds events into per-user state and the (flag, variant, metric)
// sums. It is not safe for concurrent use: the Pipeline's writer owns it.
//
// Per user it keeps, for every event name that a metric reads, the count,
// sum and latest time of all their events (totals), and per flag the user
// was exposed to the first exposure time t0 and variant, or that the user is
// excluded, with accumulators (count and sum) of the user's events at or
// after t0: one per event name, and one per distinct metric window of that
// name for the events within the window. The events before t0 (the CUPED
// covariate) are the totals minus the first of those accumulators, so they
// need no storage of their own.
//
// The engine runs in one of three modes:
//
//   - store mode (a StateStore): the users an incoming group touches are
//     loaded for the group, changed and encoded back; the cells hold the
//     group's changes (deltas), which the store adds to the stored sums.
//     Nothing is kept between groups, so several writers on one store stay
//     exact as long as the store serialises the writers of each user.
//   - memory mode (a plain Store): every user stays in memory and the cells
//     hold the absolute sums.
//   - bulk mode (recomputation): like memory mode, but the sums are computed
//     once at the end instead of by delta.
//
// Events may arrive in any order. A tracking event is classified against the
// exposure known when it arrives. An exposure that sets or moves a user's
// first exposure time t0 re-derives that user's accumulators: from nothing
// when every event of theirs seen so far is older than t0 (the usual case, no
// I/O), otherwise from the stored events newer than t0 (the history
// function), for all such users of a group in one scan.
type engine struct {
	version string
	metrics []cmetric
	byKey   map[string]int
	names   map[string]int32 // event name → index into a user's totals
	// base[n] is the accumulator slot of name n for all events at or after
	// t0; windows[n][i] (sorted) has slot base[n]+1+i.
	base    []int32
	windows [][]int64
	nAcc    int
	// hist[slot] is the index into unit.hist of the bucket counts of the
	// values counted in accumulator slot, -1 when no quantile over events
	// reads the slot.
	hist   []int32
	nHist  int
	strs   map[string]string // interned flag keys and variants
	recent [4]string         // recently interned, checked first
	// periods holds per flag the times (sorted) at which its split
	// changed: a user's period is the latest of them at or before t0, 0
	// before the first (see periodOf).
	periods map[string][]int64
	// periodsVersion is the version of the flags periods are of (see
	// SplitStore).
	periodsVersion int64
	// dims are the dimensions each unit's first exposure is classified by
	// (dimVals); nil for none, the usual case, which costs nothing.
	dims []metric.Dimension
	// byDay: some metric has a window, so every cell of the randomised
	// users is kept once more per UTC day of first exposure
	// (metric.ExposureDayDimension), which lets the analysis leave out the
	// users whose window is still open, exactly.
	byDay bool

	persistent bool // memory and bulk modes
	bulk       bool

	// maxUnits bounds the flags analysed per user (Pipeline.MaxFlagsPerUser):
	// an exposure to another flag of a user who has maxUnits units already
	// is stored but not analysed, and counted in unanalysed. Which flags a
	// user keeps depends only on the order of their exposures, the order of
	// the log (see expose), so a recomputation keeps the same ones.
	maxUnits   int
	unanalysed uint64 // exposures left out by maxUnits, until takeUnanalysed

	users map[string]*user
	flags map[string]*flagCells

	touched []*user
	order   []string // store mode: the group's users, sorted
	pending []unitRef
	vals    []val   // snapshots of the current group's touched units
	spare   []*user // store mode: users to reuse
	made    []*user // store mode: the users newUser handed out in this group
	slab    []user  // users to hand out
	nUsers  int     // users loaded or created in this group (store mode)

	refBuf []eventRef // recomputation's, reused from record to record

	// Buffers of changedUsers, reused from group to group.
	putBuf   []UserState
	endBuf   []int
	stateBuf []byte
}

type cmetric struct {
	metric.Metric
	name   [2]int32 // event name of part 0 (Event) and 1 (denominator, -1 when the same event)
	slot   [2]int32 // accumulator slot (within the window) of each part
	numSum bool     // ratio numerator aggregates values (else counts)
	denSum bool
	denPt  int // which part holds the denominator: 0 when it is the same event
	cap    int64
	hasCap bool
}

type total struct {
	cnt  int64
	sum  sum128
	maxT int64
}

type acc struct {
	cnt int64
	sum sum128
}

func (a *acc) add(v int64) { a.cnt++; a.sum.add(v) }

// sum128 is an exact sum of a user's values in millionths: an int64 passed
// its bound after ten values of MaxValue and wrapped round to the other
// sign, which no cap caught. Two's complement, so that additions and the
// subtraction of the pre-exposure part commute, whatever the order of the
// events, as they did in an int64.
type sum128 struct {
	lo uint64
	hi int64
}

func (s *sum128) add(v int64) {
	lo, carry := bits.Add64(s.lo, uint64(v), 0)
	s.lo, s.hi = lo, s.hi+v>>63+int64(carry)
}

func (s sum128) minus(o sum128) sum128 {
	lo, borrow := bits.Sub64(s.lo, o.lo, 0)
	return sum128{lo, s.hi - o.hi - int64(borrow)}
}

func (s sum128) isZero() bool { return s.lo == 0 && s.hi == 0 }

// small reports whether s fits an int64.
func (s sum128) small() bool { return s.hi == int64(s.lo)>>63 }

// sum128Of is v as a sum128.
func sum128Of(v int64) sum128 { return sum128{uint64(v), v >> 63} }

// clamp returns s as a per-user value: s itself, or beyond an int64 of
// millionths (±9.2e12) the nearest one.
func (s sum128) clamp() int64 {
	switch {
	case s.small():
		return int64(s.lo)
	case s.hi < 0:
		return math.MinInt64
	}
	return math.MaxInt64
}

// divRound returns s/n rounded half away from zero (n > 0): the mean of n
// values within ±MaxValue, which fits an int64 whatever their sum.
func (s sum128) divRound(n int64) int64 {
	if s.small() {
		return divRound(int64(s.lo), n)
	}
	neg := s.hi < 0
	if neg {
		s = sum128{}.minus(s)
	}
	d := uint64(n)
	q := uint64(math.MaxUint64)
	if uint64(s.hi) < d { // else the quotient passes 64 bits: it cannot, with values within bounds
		var r uint64
		q, r = bits.Div64(uint64(s.hi), s.lo, d)
		if r >= d-r {
			q++
		}
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // -2⁶³ is an int64
	}
	q = min(q, limit)
	if neg {
		return -int64(q)
	}
	return int64(q)
}

type user struct {
	key    string
	totals []total
	units  []unit // in order of first exposure
	// index maps a flag to its unit once the user has more than
	// indexFrom of them (unitOf): a user may have up to maxUnits.
	index   map[string]int32
	touched bool // in the current group
	dirty   bool // changed since last encoded (store mode)
	// Room for the usual small cases (a short key, a few event names, one
	// flag), so that a user is one allocation and its data is near its key:
	// finding users is most of what recomputation costs.
	kbuf [16]byte
	tbuf [3]total
	ubuf [1]unit
	pbuf [6]acc
}

type unit struct {
	flag, variant string
	t0            int64
	period        int64   // the split period of t0 that the unit's sums are in
	dv            dimVals // the dimension values of t0's exposure
	excluded      bool
	// outside: t0's exposure was served outside the flag's split
	// (Event.OutsideSplit), so the unit counts in its variant's outside
	// cells only (metric.OutsideDimension). Of two exposures at t0, one in
	// the split wins, so that the order of arrival cannot change it.
	outside bool
	pending bool
	post    []acc // nil when excluded
	// hist are the bucket counts of the values of the events in the
	// accumulators a quantile over events reads (see engine.hist): its
	// interval needs each user's events, not only their count and sum.
	hist []metric.UserHist

	// What the unit contributed before the current group (see snapshot).
	had, wasExcluded bool
	// periodSet: expose set t0 and period this group, under the split
	// changes the group reads, so settle does not look the period up again.
	periodSet  bool
	oldVariant string
	oldPeriod  int64
	oldDv      dimVals
	oldOutside bool
	oldT0      int64
	old        int // index into engine.vals of len(metrics) values
}

type unitRef struct {
	u *user
	i int
}

func (r unitRef) unit() *unit { return &r.u.units[r.i] }

// val is one metric value of a user: x, the ratio denominator y and the
// covariate c, in millionths; ok is false for a user without a value.
type val struct {
	x, y, c int64
	h       string // a quantile over events: the user's encoded bucket counts
	ok      bool
}

// flagCells are the sums of one flag: absolute in memory and bulk modes,
// the current group's changes in store mode.
type flagCells struct {
	key      string
	excluded int64
	dirty    bool
	variants []variantCells
}

type variantCells struct {
	name   string
	period int64
	users  int64
	cells  []metric.Sums        // per metric
	sk     []metric.Sketch      // per metric, for quantile metrics; nil until one
	ek     []metric.EventSketch // per metric, for quantiles over events; nil until one
	dirty  bool
	// slices are the same figures per dimension value (engine.dims), at
	// dimension d's offset plus the value's index; nil until a unit with
	// dimensions counts here, and each one until one of its users. dim and
	// value name a slice's own cells.
	slices     []*variantCells
	dim, value string
	// outside holds the same figures for the users whose first exposure was
	// outside the split (unit.outside), who count there only; nil until one.
	outside *variantCells
	// days hold the same figures per UTC day of first exposure (Unix day
	// number) when the engine keeps them (engine.byDay); nil until one.
	days map[int64]*variantCells
}

// dimVals are a unit's dimension values: per engine.dims, the index that
// metric.Dimension.Index gave its attribute.
type dimVals [metric.MaxDimensions]uint8

// dimsOf classifies the attributes (a JSON object, or nil) of an exposure,
// with the decoder's parser and without allocating: it runs for every first
// exposure of a user. Decode accepts only objects; from anything else (a
// corrupt log) the values found before the fault are kept.
func (e *engine) dimsOf(attrs []byte) dimVals {
	var dv dimVals
	if len(e.dims) == 0 || len(attrs) == 0 {
		return dv
	}
	p := parser{b: attrs}
	_ = p.object(func(key []byte) error {
		d := slices.IndexFunc(e.dims, func(d metric.Dimension) bool { return d.Name == string(key) })
		p.ws()
		if d < 0 || p.i >= len(p.b) {
			_, err := p.value(0)
			return err
		}
		if p.b[p.i] == '"' {
			s, err := p.str()
			dv[d] = uint8(e.dims[d].Index(s))
			return err
		}
		start := p.i
		kind, err := p.value(0)
		switch kind {
		case 'n':
			dv[d] = metric.NoneIndex
		case '{', '[':
			dv[d] = metric.OtherIndex
		default: // numbers and booleans, by their JSON text
			dv[d] = uint8(e.dims[d].Index(p.b[start:p.i]))
		}
		return err
	})
	return dv
}

// sliceOf returns the cells of dimension d, value index v, of vc, created
// when new.
func (e *engine) sliceOf(vc *variantCells, d int, v uint8) *variantCells {
	if vc.slices == nil {
		n := 0
		for _, dim := range e.dims {
			n += dim.Count()
		}
		vc.slices = make([]*variantCells, n)
	}
	off := 0
	for _, dim := range e.dims[:d] {
		off += dim.Count()
	}
	s := vc.slices[off+int(v)]
	if s == nil {
		s = &variantCells{name: vc.name, period: vc.period, cells: make([]metric.Sums, len(e.metrics)), dirty: true,
			dim: e.dims[d].Name, value: e.dims[d].Label(int(v))}
		vc.slices[off+int(v)] = s
	}
	return s
}

// outsideOf returns the outside cells of vc, created when new.
func (e *engine) outsideOf(vc *variantCells) *variantCells {
	if vc.outside == nil {
		vc.outside = &variantCells{name: vc.name, period: vc.period, cells: make([]metric.Sums, len(e.metrics)), dirty: true,
			dim: metric.OutsideDimension}
	}
	return vc.outside
}

// dayOf returns the cells of vc of the users first exposed on UTC day
// (a Unix day number), created when new.
func (e *engine) dayOf(vc *variantCells, day int64) *variantCells {
	s := vc.days[day]
	if s == nil {
		if vc.days == nil {
			vc.days = map[int64]*variantCells{}
		}
		s = &variantCells{name: vc.name, period: vc.period, cells: make([]metric.Sums, len(e.metrics)), dirty: true,
			dim: metric.ExposureDayDimension, value: metric.DayLabel(day)}
		vc.days[day] = s
	}
	return s
}

// cellsBuf holds the cells a unit counts in: its variant's, one per
// dimension and its day's.
type cellsBuf [2 + metric.MaxDimensions]*variantCells

// unitCells returns the cells a unit with dimension values dv, first
// exposed at t0, counts in: vc, its variant's in its period, then one per
// dimension, then its day's (engine.byDay); for a unit first exposed outside
// the split, its variant's outside cells only (neither the cells of all
// users nor the slices nor the days, which hold randomised users only).
func (e *engine) unitCells(vc *variantCells, dv dimVals, outside bool, t0 int64, buf *cellsBuf) []*variantCells {
	if outside {
		return append(buf[:0], e.outsideOf(vc))
	}
	out := append(buf[:0], vc)
	for d := range e.dims {
		out = append(out, e.sliceOf(vc, d, dv[d]))
	}
	if e.byDay {
		out = append(out, e.dayOf(vc, metric.DayOf(t0)))
	}
	return out
}

// engineVersion changes whenever the meaning or layout of the per-user state
// changes, so that state stored by an older engine is rebuilt.
// engine-4: sums of a user's values in 128 bits (state format 3); a
// state of engine-3 may hold a sum that wrapped round. engine-5: units
// first exposed outside the split count in their own cells (state format
// 4); the cells of engine-4 count them with the randomised users. engine-6:
// with a windowed metric, cells per day of first exposure
// (metric.ExposureDayDimension), which engine-5 did not keep. engine-7: at
// most DefaultMaxFlagsPerUser flags analysed per user (engine.maxUnits),
// where engine-6 analysed every one.
const engineVersion = "engine-7"

// newEngine compiles metrics, and the dimensions (validated) by which each
// cell is kept once more per value.
func newEngine(metrics []metric.Metric, dims ...metric.Dimension) *engine {
	e := &engine{
		byKey: map[string]int{},
		names: map[string]int32{},
		strs:  map[string]string{},
		users: map[string]*user{},
		flags: map[string]*flagCells{},
	}
	ms := append([]metric.Metric(nil), metrics...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Key < ms[j].Key })
	// Names in sorted order and windows per name: the layout depends on the
	// definitions only.
	win := map[string]map[int64]bool{}
	for _, m := range ms {
		for _, n := range m.Events() {
			if win[n] == nil {
				win[n] = map[int64]bool{}
			}
			if w := int64(m.Window / 1e6); w > 0 {
				win[n][w] = true
				e.byDay = true
			}
		}
	}
	var names []string
	for n := range win {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		e.names[n] = int32(i)
		e.base = append(e.base, int32(e.nAcc))
		var ws []int64
		for w := range win[n] {
			ws = append(ws, w)
		}
		slices.Sort(ws)
		e.windows = append(e.windows, ws)
		e.nAcc += 1 + len(ws)
	}
	slot := func(ni int32, w int64) int32 {
		if w <= 0 {
			return e.base[ni]
		}
		i, _ := slices.BinarySearch(e.windows[ni], w)
		return e.base[ni] + 1 + int32(i)
	}
	for i, m := range ms {
		w := int64(m.Window / 1e6)
		c := cmetric{Metric: m, name: [2]int32{e.names[m.Event], -1}}
		c.slot[0] = slot(c.name[0], w)
		if m.Kind == metric.Ratio && m.Denominator != nil {
			c.numSum = m.Aggregate != metric.AggCount
			c.denSum = m.Denominator.Aggregate == metric.AggSum
			if m.Denominator.Event != m.Event {
				c.name[1] = e.names[m.Denominator.Event]
				c.slot[1] = slot(c.name[1], w)
				c.denPt = 1
			}
		}
		if m.Cap != nil {
			c.cap, _ = toFixed(*m.Cap)
			c.hasCap = true
		}
		e.metrics = append(e.metrics, c)
		e.byKey[m.Key] = i
	}
	e.hist = slices.Repeat([]int32{-1}, e.nAcc)
	for _, c := range e.metrics {
		if c.PerEvent() && e.hist[c.slot[0]] < 0 {
			e.hist[c.slot[0]] = int32(e.nHist)
			e.nHist++
		}
	}
	e.dims = dims
	e.version = fingerprint(engineVersion, ms, dims)
	e.maxUnits = DefaultMaxFlagsPerUser
	return e
}

// DefaultMaxFlagsPerUser is the default of Pipeline.MaxFlagsPerUser: far
// more flags than one user meets, few enough that a user's state (every
// tracking event of theirs is added to each of their flags) stays small.
const DefaultMaxFlagsPerUser = 1000

// Unanalysed returns the users whose exposures to flag are not analysed
// under a bound of maxFlags flags per user (0: DefaultMaxFlagsPerUser), as
// the engine decides it (expose): those exposed to maxFlags other flags
// before their first exposure to flag, in the order scan yields the
// exposures, the log's. It reads nothing but exposures, for a reader of
// one flag's events (a replay of its results) that must leave out the
// users its results leave out. What it holds is the other flags of each
// user not yet exposed to flag, fewer than maxFlags, as 4-byte numbers: a
// map of their names per user held about 100 bytes per exposure of the
// log (BenchmarkUnanalysed: 219 MB for 2.2 million), a server's memory
// spent by one view of a chart.
func Unanalysed(flag string, maxFlags int, scan func(fn func(*Event) error) error) (map[string]bool, error) {
	if maxFlags <= 0 {
		maxFlags = DefaultMaxFlagsPerUser
	}
	ids := map[string]int32{}      // the other flags, numbered
	others := map[string][]int32{} // by user not yet exposed to flag, sorted
	full := map[string]bool{}      // users with maxFlags others, not yet exposed to flag
	decided := map[string]bool{}   // by user exposed to flag: left out
	err := scan(func(e *Event) error {
		if e.Type != Exposure {
			return nil
		}
		user := e.TargetingKey
		if _, ok := decided[user]; ok {
			return nil
		}
		if e.Flag == flag {
			decided[user] = full[user]
			delete(others, user)
			delete(full, user)
			return nil
		}
		if full[user] {
			return nil
		}
		id, ok := ids[e.Flag]
		if !ok {
			id = int32(len(ids))
			ids[e.Flag] = id
		}
		seen := others[user]
		i, found := slices.BinarySearch(seen, id)
		if found {
			return nil
		}
		if seen = slices.Insert(seen, i, id); len(seen) >= maxFlags {
			full[user] = true
			delete(others, user)
		} else {
			others[user] = seen
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for user, left := range decided {
		if left {
			out[user] = true
		}
	}
	return out, nil
}

// limitUnits sets the bound of flags analysed per user (n > 0). The figures
// depend on it, so a bound other than the default is part of the version:
// state built with another one is rebuilt.
func (e *engine) limitUnits(n int) *engine {
	if n > 0 && n != e.maxUnits {
		e.maxUnits = n
		e.version += "/flags-" + strconv.Itoa(n)
	}
	return e
}

// takeUnanalysed returns the exposures left out by maxUnits since the last
// call.
func (e *engine) takeUnanalysed() uint64 {
	n := e.unanalysed
	e.unanalysed = 0
	return n
}

// fingerprint identifies what the per-user state and the sums depend on:
// the engine (of version engine) and the metric definitions, sorted by key
// (not their names or descriptions).
func fingerprint(engine string, ms []metric.Metric, dims []metric.Dimension) string {
	type def struct {
		Key, Kind, Event, Aggregate string
		Denominator                 *metric.Part
		Window                      int64
		Cap                         *float64
		// Only a quantile over events names it, so that the fingerprint
		// of every other definition is what it was before there was Over.
		Over string `json:",omitempty"`
	}
	defs := make([]def, len(ms))
	for i, m := range ms {
		defs[i] = def{m.Key, string(m.Kind), m.Event, m.Aggregate, m.Denominator, int64(m.Window), m.Cap, ""}
		if m.PerEvent() {
			defs[i].Over = m.Over
		}
	}
	b, _ := json.Marshal(defs)
	if len(dims) > 0 {
		// Only with dimensions, so that the state kept without them stays
		// current.
		d, _ := json.Marshal(dims)
		b = append(append(b, '\n'), d...)
	}
	h := sha256.Sum256(append([]byte(engine+"\n"), b...))
	return engine + ":" + hex.EncodeToString(h[:12])
}

func (e *engine) intern(b []byte) string {
	for _, s := range e.recent {
		if s == string(b) {
			return s
		}
	}
	s, ok := e.strs[string(b)]
	if !ok {
		s = string(b)
		e.strs[s] = s
	}
	copy(e.recent[1:], e.recent[:])
	e.recent[0] = s
	return s
}

// newUser returns an empty user, reusing one of an earlier group in store
// mode. Keys of events may point into a request's buffer (see Decode): a
// user kept beyond the group gets a copy.
func (e *engine) newUser(key string) *user {
	var u *user
	if n := len(e.spare); n > 0 {
		u = e.spare[n-1]
		e.spare = e.spare[:n-1]
		u.touched, u.dirty = false, false
		u.units = u.units[:0]
		clear(u.index)
		clear(u.totals)
	} else {
		if len(e.slab) == 0 {
			e.slab = make([]user, 256)
		}
		u, e.slab = &e.slab[0], e.slab[1:]
		if len(e.base) <= len(u.tbuf) {
			u.totals = u.tbuf[:len(e.base)]
		} else {
			u.totals = make([]total, len(e.base))
		}
		u.units = u.ubuf[:0]
	}
	switch {
	case len(key) <= len(u.kbuf):
		// The key's bytes in the user itself: the map compares them where
		// the user's data is. The key changes only when the user is reused,
		// after it left the map.
		n := copy(u.kbuf[:], key)
		u.key = unsafe.String(&u.kbuf[0], n)
	case e.persistent:
		u.key = strings.Clone(key)
	default:
		u.key = key
	}
	e.users[u.key] = u
	e.nUsers++
	if !e.persistent {
		e.made = append(e.made, u)
	}
	return u
}

// touch returns the user of key, created when new, and takes the snapshot of
// what it contributes before the current group.
func (e *engine) touch(key string) *user {
	u := e.users[key]
	if u == nil {
		u = e.newUser(key)
	}
	e.mark(u)
	return u
}

func (e *engine) touchBytes(key []byte) *user {
	u := e.users[string(key)]
	if u == nil {
		k := string(key)
		if e.persistent {
			k = unsafe.String(unsafe.SliceData(key), len(key)) // newUser copies it
		}
		u = e.newUser(k)
	}
	e.mark(u)
	return u
}

func (e *engine) mark(u *user) {
	if e.bulk || u.touched {
		return
	}
	u.touched, u.dirty = true, true
	e.touched = append(e.touched, u)
	for i := range u.units {
		un := &u.units[i]
		un.had, un.wasExcluded, un.oldVariant, un.oldPeriod, un.oldDv, un.oldOutside, un.oldT0 = true, un.excluded, un.variant, un.period, un.dv, un.outside, un.t0
		if !un.excluded {
			un.old = len(e.vals)
			for mi := range e.metrics {
				e.vals = append(e.vals, e.metrics[mi].value(e, u, un, true))
			}
		}
	}
}

// indexFrom is the number of units beyond which a user's are found through
// a map (user.index): a short scan is faster than hashing, and most users
// have one or two.
const indexFrom = 16

// unitOf returns the index of u's unit of flag, or -1.
func (u *user) unitOf(flag string) int {
	if len(u.units) <= indexFrom {
		for i := range u.units {
			if u.units[i].flag == flag {
				return i
			}
		}
		return -1
	}
	if len(u.index) != len(u.units) { // first use, or a reused user's
		if u.index == nil {
			u.index = make(map[string]int32, 2*len(u.units))
		}
		clear(u.index)
		for i := range u.units {
			u.index[u.units[i].flag] = int32(i)
		}
	}
	if i, ok := u.index[flag]; ok {
		return int(i)
	}
	return -1
}

// addUnit appends a unit for flag and returns its index. Units are only
// ever appended, so that indexes held during a group stay valid; encoding
// writes them sorted by flag.
func (e *engine) addUnit(u *user, flag, variant string, t0 int64, dv dimVals, outside bool) int {
	n := len(u.units)
	var post []acc
	var hist []metric.UserHist
	if n < cap(u.units) {
		old := &u.units[:n+1][n] // reuse the accumulators of a recycled user
		post, hist = old.post, old.hist
	}
	if post == nil && n == 0 && e.nAcc <= len(u.pbuf) {
		post = u.pbuf[:]
	}
	if cap(post) < e.nAcc {
		post = make([]acc, e.nAcc)
	}
	post = post[:e.nAcc]
	if cap(hist) < e.nHist {
		hist = make([]metric.UserHist, e.nHist)
	}
	hist = hist[:e.nHist]
	u.units = append(u.units, unit{flag: flag, variant: variant, t0: t0, dv: dv, outside: outside, post: post, hist: hist, old: -1})
	if len(u.index) == n && n > indexFrom { // in step with units: keep it so
		u.index[flag] = int32(n)
	}
	e.resetPost(&u.units[n])
	return n
}

// resetPost empties a unit's accumulators and bucket counts, keeping their
// memory.
func (e *engine) resetPost(un *unit) {
	clear(un.post)
	for i := range un.hist {
		un.hist[i].Reset()
	}
}

// setSplits makes sp the split changes the engine files exposures by.
func (e *engine) setSplits(sp splits) { e.periods, e.periodsVersion = sp.changes, sp.version }

// splits returns the split changes the engine files exposures by.
func (e *engine) splits() splits { return splits{e.periods, e.periodsVersion} }

// periodOf returns the split period of a unit of flag first exposed at t0:
// the latest change of the flag's split at or before t0, 0 before the first
// (or when the split never changed). Periods only move forward, so a stored
// user keeps the period its sums are in (unit.period) and is moved when a
// change of t0 moves it to another.
func (e *engine) periodOf(flag string, t0 int64) int64 {
	bs := e.periods[flag]
	if len(bs) == 0 {
		return 0
	}
	i, found := slices.BinarySearch(bs, t0)
	if found {
		return bs[i]
	}
	if i == 0 {
		return 0
	}
	return bs[i-1]
}

// cellsOf returns the sums of a flag and the index of one of its variants in
// one period, creating them when new.
func (e *engine) cellsOf(flag, variant string, period int64) (*flagCells, int) {
	fc := e.flags[flag]
	if fc == nil {
		fc = &flagCells{key: flag, dirty: true}
		e.flags[flag] = fc
	}
	for i := range fc.variants {
		if fc.variants[i].name == variant && fc.variants[i].period == period {
			return fc, i
		}
	}
	fc.variants = append(fc.variants, variantCells{name: variant, period: period, cells: make([]metric.Sums, len(e.metrics)), dirty: true})
	return fc, len(fc.variants) - 1
}

// begin starts a group in store mode: users and sums of the previous one are
// dropped.
func (e *engine) begin() {
	if e.persistent {
		return
	}
	// From a slice, not the map: ranging over a map is the slower, and
	// this runs for every user of every group.
	for _, u := range e.made {
		u.key = "" // keep no request buffer alive
		e.spare = append(e.spare, u)
	}
	clear(e.made)
	e.made = e.made[:0]
	clear(e.users)
	clear(e.flags)
	clear(e.putBuf) // keys of the previous group's requests
	e.nUsers = 0
	e.touched, e.pending, e.vals = e.touched[:0], e.pending[:0], e.vals[:0]
}

// keys returns the sorted distinct targeting keys whose state the events
// can change: what store mode must load before apply. They are sorted, then
// the repeats dropped (a set of the keys seen cost a map insertion per
// event on top of the sort).
func (e *engine) keys(events []Event, exps []Event) []string {
	clear(e.order) // the previous group's, which may point into its requests
	out := e.order[:0]
	add := func(evs []Event) {
		for i := range evs {
			ev := &evs[i]
			if ev.Type == Tracking {
				if _, ok := e.names[ev.Name]; !ok {
					continue
				}
			}
			out = append(out, ev.TargetingKey)
		}
	}
	add(events)
	add(exps)
	slices.Sort(out)
	out = slices.Compact(out)
	e.order = out
	return out
}

// apply folds a group of fresh events into the state: exposures first, then
// the history scan for units whose accumulators must be re-derived, then
// tracking events. The result does not depend on the order of events, within
// a group or across groups. history must call fn with every stored log
// record that may hold a tracking event with time ≥ since (its other events
// are ignored); it is called at most once. Call finish after apply.
func (e *engine) apply(events []Event, history func(since int64, fn func(data []byte) error) error) error {
	e.unanalysed = 0 // of a failed apply or a recomputation: counted by neither
	for i := range events {
		if ev := &events[i]; ev.Type == Exposure {
			e.expose(e.touch(ev.TargetingKey), ev.Flag, ev.Variant, ev.Time, ev.Attributes, ev.OutsideSplit)
		}
	}
	if err := e.resolvePending(history); err != nil {
		return err
	}
	for i := range events {
		if ev := &events[i]; ev.Type == Tracking {
			if ni, ok := e.names[ev.Name]; ok {
				e.track(e.touch(ev.TargetingKey), ni, ev.Time, ev.Value)
			}
		}
	}
	return nil
}

// redundant reports whether an exposure would change nothing: the user is
// excluded for the flag already, or saw the same variant no later (at the
// same time, in the split or outside it as this one is). In store mode the
// user must be loaded.
func (e *engine) redundant(ev *Event) bool {
	u := e.users[ev.TargetingKey]
	if u == nil {
		return false
	}
	i := u.unitOf(ev.Flag)
	if i < 0 {
		return false
	}
	un := &u.units[i]
	return un.excluded || (un.variant == ev.Variant && noLater(ev, un.t0, un.outside))
}

// noLater reports whether exposure ev, of the variant a unit first saw at
// t0 (outside the split when outside), leaves the unit's t0 and outside
// mark as they are: it is later, or at t0 and cannot bring the unit into the
// split.
func noLater(ev *Event, t0 int64, outside bool) bool {
	return ev.Time > t0 || (ev.Time == t0 && (ev.OutsideSplit || !outside))
}

// expose folds an exposure with attributes attrs (a JSON object or nil),
// served outside the flag's split when outside. The unit's dimension values
// and outside mark are those of its earliest exposure; of two at the same
// time, the smaller values and in the split over outside, so that the order
// of arrival cannot change them.
//
// A user with maxUnits units gets no more: an exposure to another flag is
// counted (unanalysed) and changes nothing, its flag's cells included. The
// units a user keeps are thus those of the first maxUnits flags in the order
// of their exposures, which is the order of the log: a group's exposures are
// applied and stored in the same order, a recomputation reads the log in
// that order (a user's, whichever part has them), and a store shared by
// several nodes serialises the transactions of each user (StateTx), each of
// whose records comes after those of the transactions before. Without the
// bound, exposures of one user to ever new flags made each of their events
// walk ever more units.
func (e *engine) expose(u *user, flag, variant string, t int64, attrs []byte, outside bool) {
	i := u.unitOf(flag)
	if i < 0 && len(u.units) >= e.maxUnits {
		e.unanalysed++
		return
	}
	period := e.periodOf(flag, t)
	e.cellsOf(flag, variant, period)
	if i < 0 {
		i = e.addUnit(u, flag, variant, t, e.dimsOf(attrs), outside)
		u.units[i].period, u.units[i].periodSet = period, true
		e.derive(u, i)
		return
	}
	un := &u.units[i]
	switch {
	case un.excluded:
	case variant != un.variant:
		un.excluded, un.pending, un.post, un.hist = true, false, nil, nil
	case t < un.t0:
		un.t0, un.period, un.periodSet, un.dv, un.outside = t, period, true, e.dimsOf(attrs), outside
		e.derive(u, i)
	case t == un.t0:
		un.outside = un.outside && outside
		if len(e.dims) == 0 {
			break
		}
		if dv := e.dimsOf(attrs); bytes.Compare(dv[:], un.dv[:]) < 0 {
			un.dv = dv
		}
	}
}

// derive re-derives a unit's accumulators for a new t0: at once when all of
// the user's events are older, otherwise after the history scan.
func (e *engine) derive(u *user, i int) {
	un := &u.units[i]
	if un.pending {
		return // t0 moved earlier: still pending, the scan uses the new t0
	}
	for _, t := range u.totals {
		if t.cnt > 0 && t.maxT >= un.t0 {
			un.pending = true
			e.pending = append(e.pending, unitRef{u, i})
			return
		}
	}
	e.resetPost(un)
}

func (e *engine) resolvePending(history func(since int64, fn func(data []byte) error) error) error {
	if len(e.pending) == 0 {
		return nil
	}
	defer func() { e.pending = e.pending[:0] }()
	since := int64(math.MaxInt64)
	for _, p := range e.pending {
		if un := p.unit(); un.pending {
			e.resetPost(un)
			since = min(since, un.t0)
		}
	}
	if since != math.MaxInt64 {
		err := history(since, func(data []byte) error {
			return scanRecord(data, func(r *rawEvent) {
				if r.typ != Tracking || r.time < since {
					return
				}
				ni, ok := e.names[string(r.name)]
				if !ok {
					return
				}
				u := e.users[string(r.key)]
				if u == nil {
					return
				}
				for i := range u.units {
					if un := &u.units[i]; un.pending && r.time >= un.t0 {
						e.addPost(un, ni, r.time-un.t0, r.value)
					}
				}
			})
		})
		if err != nil {
			return err
		}
	}
	for _, p := range e.pending {
		p.unit().pending = false
	}
	return nil
}

// addPost counts an event of name ni, d ≥ 0 after the unit's t0.
func (e *engine) addPost(un *unit, ni int32, d, v int64) {
	b := e.base[ni]
	un.post[b].add(v)
	if h := e.hist[b]; h >= 0 {
		un.hist[h].Add(v, 1)
	}
	for j, w := range e.windows[ni] {
		if d < w {
			s := int(b) + 1 + j
			un.post[s].add(v)
			if h := e.hist[s]; h >= 0 {
				un.hist[h].Add(v, 1)
			}
		}
	}
}

func (e *engine) track(u *user, ni int32, t, v int64) {
	tot := &u.totals[ni]
	if tot.cnt == 0 || t > tot.maxT {
		tot.maxT = t
	}
	tot.cnt++
	tot.sum.add(v)
	for i := range u.units {
		if un := &u.units[i]; !un.excluded && t >= un.t0 {
			e.addPost(un, ni, t-un.t0, v)
		}
	}
}

// finish settles the group: every touched unit's change of contribution is
// applied to the sums.
func (e *engine) finish() {
	for _, u := range e.touched {
		for i := range u.units {
			e.settle(u, &u.units[i])
		}
		u.touched = false
	}
	e.touched = e.touched[:0]
	e.vals = e.vals[:0]
}

func (e *engine) settle(u *user, un *unit) {
	oldIn := un.had && !un.wasExcluded
	newIn := !un.excluded
	if newIn && !un.periodSet {
		un.period = e.periodOf(un.flag, un.t0)
	}
	if un.excluded && !(un.had && un.wasExcluded) {
		e.countExcluded(un).dirty = true
	}
	var buf cellsBuf
	if oldIn || newIn {
		sameDay := !e.byDay || metric.DayOf(un.oldT0) == metric.DayOf(un.t0)
		if oldIn && newIn && un.oldVariant == un.variant && un.oldPeriod == un.period && un.oldDv == un.dv && un.oldOutside == un.outside && sameDay {
			fc, vi := e.cellsOf(un.flag, un.variant, un.period)
			cs := e.unitCells(&fc.variants[vi], un.dv, un.outside, un.t0, &buf)
			for mi := range e.metrics {
				m := &e.metrics[mi]
				nv, ov := m.value(e, u, un, true), e.vals[un.old+mi]
				if nv == ov {
					continue
				}
				for _, vc := range cs {
					if ov.ok {
						e.applyValue(vc, mi, ov, -1, nil)
					}
					if nv.ok {
						e.applyValue(vc, mi, nv, 1, e.histOf(un, mi))
					}
					vc.dirty = true
				}
			}
		} else {
			if oldIn {
				fc, vi := e.cellsOf(un.flag, un.oldVariant, un.oldPeriod)
				for _, vc := range e.unitCells(&fc.variants[vi], un.oldDv, un.oldOutside, un.oldT0, &buf) {
					vc.users--
					vc.dirty = true
					for mi := range e.metrics {
						if ov := e.vals[un.old+mi]; ov.ok {
							e.applyValue(vc, mi, ov, -1, nil)
						}
					}
				}
			}
			if newIn {
				e.contribute(u, un, 1)
			}
		}
	}
	un.had, un.old, un.periodSet = false, -1, false
}

// contribute adds (sign 1) a unit's values to the sums of its variant in
// its period.
func (e *engine) contribute(u *user, un *unit, sign int) {
	fc, vi := e.cellsOf(un.flag, un.variant, un.period)
	var buf cellsBuf
	cs := e.unitCells(&fc.variants[vi], un.dv, un.outside, un.t0, &buf)
	for _, vc := range cs {
		vc.users += int64(sign)
		vc.dirty = true
	}
	for mi := range e.metrics {
		if v := e.metrics[mi].value(e, u, un, false); v.ok {
			for _, vc := range cs {
				e.applyValue(vc, mi, v, sign, e.histOf(un, mi))
			}
		}
	}
}

// histOf returns a unit's bucket counts of metric mi, a quantile over
// events, and nil for other metrics.
func (e *engine) histOf(un *unit, mi int) *metric.UserHist {
	if m := &e.metrics[mi]; m.PerEvent() {
		return &un.hist[e.hist[m.slot[0]]]
	}
	return nil
}

// applyValue adds (sign 1) or removes (−1) one user's value of metric mi to
// a variant's sums, and to its sketch for a quantile metric. For a
// quantile over events, live is the unit's bucket counts when v is its
// current value, nil when v is a snapshot (whose v.h holds them encoded).
func (e *engine) applyValue(vc *variantCells, mi int, v val, sign int, live *metric.UserHist) {
	vc.cells[mi].Apply(v.x, v.y, v.c, sign)
	if e.metrics[mi].PerEvent() {
		if vc.ek == nil {
			vc.ek = make([]metric.EventSketch, len(e.metrics))
		}
		if live == nil {
			var h metric.UserHist
			metric.DecodeUserHist([]byte(v.h), &h) // encoded by value
			live = &h
		}
		vc.ek[mi].AddUser(*live, sign)
		return
	}
	if e.metrics[mi].Kind == metric.Quantile {
		if vc.sk == nil {
			vc.sk = make([]metric.Sketch, len(e.metrics))
		}
		vc.sk[mi].Add(v.x, sign)
	}
}

// countExcluded counts un, excluded, in its flag's sums (made by expose,
// or here when missing) and returns them.
func (e *engine) countExcluded(un *unit) *flagCells {
	fc := e.flags[un.flag]
	if fc == nil {
		fc, _ = e.cellsOf(un.flag, un.variant, un.period)
	}
	fc.excluded++
	return fc
}

// finishBulk computes the sums of a recomputation from every user.
func (e *engine) finishBulk() {
	for _, u := range e.users {
		for i := range u.units {
			un := &u.units[i]
			set := un.periodSet
			un.periodSet = false // the engine may serve groups next
			if un.excluded {
				e.countExcluded(un)
				continue
			}
			if !set {
				un.period = e.periodOf(un.flag, un.t0)
			}
			e.contribute(u, un, 1)
		}
	}
}

// value returns a user's metric value for a unit (not excluded). For a
// quantile over events, enc says whether to encode the user's bucket counts
// into the value (a snapshot, or a value to compare with one).
func (m *cmetric) value(e *engine, u *user, un *unit, enc bool) val {
	post := un.post[m.slot[0]]
	n0 := m.name[0]
	all := un.post[e.base[n0]]
	pre := acc{u.totals[n0].cnt - all.cnt, u.totals[n0].sum.minus(all.sum)}
	var v val
	switch m.Kind {
	case metric.Conversion:
		if post.cnt > 0 {
			v.x = Scale
		}
		if pre.cnt > 0 {
			v.c = Scale
		}
		v.ok = true
		return v
	case metric.Count:
		v.x, v.c = post.cnt*Scale, pre.cnt*Scale
	case metric.Sum:
		v.x, v.c = post.sum.clamp(), pre.sum.clamp()
	case metric.Mean, metric.Quantile:
		if post.cnt == 0 {
			return v
		}
		if m.PerEvent() {
			// x counts the events (the sums' N is the users with one);
			// no covariate and no cap (see Metric.Normalize).
			v.x, v.ok = post.cnt*Scale, true
			if enc {
				v.h = string(un.hist[e.hist[m.slot[0]]].Encode(nil))
			}
			return v
		}
		v.x = post.sum.divRound(post.cnt)
		if pre.cnt > 0 {
			v.c = pre.sum.divRound(pre.cnt)
		}
	case metric.Ratio:
		v.x, v.c = pick(post, m.numSum), pick(pre, m.numSum)
		if m.denPt == 0 {
			v.y = pick(post, m.denSum)
		} else {
			v.y = pick(un.post[m.slot[1]], m.denSum)
		}
	}
	if m.hasCap {
		v.x, v.c = min(v.x, m.cap), min(v.c, m.cap)
	}
	v.ok = true
	return v
}

func pick(a acc, sum bool) int64 {
	if sum {
		return a.sum.clamp()
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

// takeDirty returns the cells changed or created since the last call,
// sorted: absolute sums in memory mode, the group's changes in store mode.
func (e *engine) takeDirty() []metric.Aggregate {
	var out []metric.Aggregate
	for _, fc := range e.flags {
		if fc.dirty {
			out = append(out, metric.Aggregate{Flag: fc.key, Sums: metric.Sums{N: fc.excluded}})
			fc.dirty = false
		}
		for vi := range fc.variants {
			vc := &fc.variants[vi]
			if vc.dirty {
				vc.dirty = false
				out = e.appendVariant(out, fc.key, vc)
			}
			for _, s := range vc.slices {
				if s != nil && s.dirty {
					s.dirty = false
					out = e.appendVariant(out, fc.key, s)
				}
			}
			if s := vc.outside; s != nil && s.dirty {
				s.dirty = false
				out = e.appendVariant(out, fc.key, s)
			}
			for _, s := range vc.days {
				if s.dirty {
					s.dirty = false
					out = e.appendVariant(out, fc.key, s)
				}
			}
		}
	}
	sortAggregates(out)
	return out
}

func (e *engine) appendVariant(out []metric.Aggregate, flag string, vc *variantCells) []metric.Aggregate {
	out = append(out, metric.Aggregate{Flag: flag, Variant: vc.name, Period: vc.period, Dimension: vc.dim, Value: vc.value, Sums: metric.Sums{N: vc.users}})
	for mi := range e.metrics {
		s := vc.cells[mi]
		if vc.sk != nil {
			s.SetSketch(vc.sk[mi])
		}
		if vc.ek != nil && e.metrics[mi].PerEvent() {
			s.SetEventSketch(vc.ek[mi])
		}
		out = append(out, metric.Aggregate{Flag: flag, Variant: vc.name, Period: vc.period, Dimension: vc.dim, Value: vc.value, Metric: e.metrics[mi].Key, Sums: s})
	}
	return out
}

// all returns every cell of every flag, sorted (memory and bulk modes).
func (e *engine) all() []metric.Aggregate {
	var out []metric.Aggregate
	for _, fc := range e.flags {
		out = append(out, metric.Aggregate{Flag: fc.key, Sums: metric.Sums{N: fc.excluded}})
		for vi := range fc.variants {
			vc := &fc.variants[vi]
			out = e.appendVariant(out, fc.key, vc)
			for _, s := range vc.slices {
				if s != nil {
					out = e.appendVariant(out, fc.key, s)
				}
			}
			if vc.outside != nil {
				out = e.appendVariant(out, fc.key, vc.outside)
			}
			for _, s := range vc.days {
				out = e.appendVariant(out, fc.key, s)
			}
		}
	}
	sortAggregates(out)
	return out
}

func sortAggregates(as []metric.Aggregate) {
	slices.SortFunc(as, func(a, b metric.Aggregate) int {
		if a.Flag != b.Flag {
			return cmp.Compare(a.Flag, b.Flag)
		}
		if a.Variant != b.Variant {
			return cmp.Compare(a.Variant, b.Variant)
		}
		if a.Dimension != b.Dimension {
			return cmp.Compare(a.Dimension, b.Dimension)
		}
		if a.Value != b.Value {
			return cmp.Compare(a.Value, b.Value)
		}
		if a.Metric != b.Metric {
			return cmp.Compare(a.Metric, b.Metric)
		}
		return cmp.Compare(a.Period, b.Period)
	})
}
