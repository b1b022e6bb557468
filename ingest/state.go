package ingest

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/valueloop/valueloop/metric"
)

// StateStore is a Store that also keeps the per-user state, so that the
// Pipeline holds none of it between transactions: a restart reads no events,
// memory does not grow with users or events, and several nodes writing to one
// store stay exact (see StateTx for what the store must guarantee).
type StateStore interface {
	Store
	// StateTx runs fn in one write transaction, like IngestTx.
	StateTx(ctx context.Context, fn func(StateTx) error) error
}

// StateTx is the write transaction of a StateStore. The Pipeline calls, per
// environment, StateVersion, Claim (keys sorted), LoadUsers (keys sorted),
// ScanLog, Append, PutUsers and AddAggregates, in that order, so that a store
// shared by several nodes can lock in that order without deadlocks (a write
// to the log only calls StateVersion, Claim, Append and MarkStale). What the
// store must guarantee for exactness: between LoadUsers and the end of the
// transaction no other transaction changes or loads those users, and ScanLog
// sees every record committed by transactions that changed them before.
type StateTx interface {
	// StateVersion returns the version of env's stored per-user state and
	// sums, which names the metric definitions they were computed with: ""
	// when none was built or MarkStale marked them, a version that no
	// definitions have. A shared store locks it for the rest of the
	// transaction: shared, or exclusive (a rebuild) when exclusive is true.
	StateVersion(env string, exclusive bool) (string, error)
	// Claim is Tx.Claim; keys come sorted.
	Claim(env string, keys []DedupKey) ([]bool, error)
	// LoadUsers calls fn with the stored state of each of keys (sorted,
	// distinct) that has one, in any order, and locks all of keys, stored or
	// not, until the transaction ends. fn must not keep state.
	LoadUsers(env string, keys []string, fn func(key string, state []byte) error) error
	// ScanLog is Tx.ScanLog.
	ScanLog(env string, since int64, fn func(data []byte) error) error
	// Append is Tx.Append.
	Append(env string, rec LogRecord) error
	// PutUsers stores the new state of users (sorted by key). The slices are
	// valid only during the call.
	PutUsers(env string, users []UserState) error
	// AddAggregates adds each delta to its stored cell (Sums.Add), creating
	// missing cells from zero: a delta of zero creates the cell.
	AddAggregates(env string, deltas []metric.Aggregate) error
	// Aggregates returns env's stored cells sorted by flag, variant and
	// metric.
	Aggregates(env string) ([]metric.Aggregate, error)
	// MarkStale records that env's stored state lacks records of the log
	// (stored there only, by a write that could not recompute a state of
	// other definitions): its version becomes "", so that whatever the
	// definitions are (changed back to those the state was built with,
	// say), the next write or rebuild recomputes it, until ReplaceState
	// records a version. The users and cells are left as they are.
	MarkStale(env string) error
	// ReplaceState replaces every user state and cell of env (a rebuild)
	// and records version. users yields in key order; its slices are valid
	// only until the next one.
	ReplaceState(env, version string, users iter.Seq[UserState], aggs []metric.Aggregate) error
}

// UserState is the encoded per-user state of one targeting key.
type UserState struct {
	Key   string
	State []byte
}

// errStale says that the stored state was built with other metric
// definitions than the pipeline's.
type errStale struct{ env, stored string }

func (e *errStale) Error() string {
	return fmt.Sprintf("ingest: stored state of %s has version %q, not the one of the metric definitions", e.env, e.stored)
}

// stateFormat is the first byte of an encoded user state. Format 3 keeps
// sums past an int64 (sum128): each count is written doubled, plus one when
// the sum after it needs a second word. States of format 2 (every sum an
// int64) are not read: they were written by engine-3, whose stored state a
// pipeline rebuilds (engineVersion). Format 4 marks a unit first exposed
// outside the split (unitOutside); states of format 3 were written by
// engine-4, rebuilt likewise.
const stateFormat = 4

// The mark of a unit in an encoded state.
const (
	unitIn       = 0
	unitExcluded = 1
	unitOutside  = 2 // counted, in its variant's outside cells
)

// appendCount appends a count and the sum it goes with (format 3).
func appendCount(buf []byte, cnt int64, sum sum128) []byte {
	wide := !sum.small()
	buf = binary.AppendUvarint(buf, uint64(cnt)<<1|uint64(b2i(wide)))
	buf = binary.AppendVarint(buf, int64(sum.lo))
	if wide {
		buf = binary.AppendVarint(buf, sum.hi)
	}
	return buf
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var errBadState = errors.New("ingest: corrupt or foreign per-user state")

// encodeUser appends u's state: the totals, then per unit (sorted by flag)
// the flag, variant, t0, its mark (unitIn, unitExcluded, unitOutside) and,
// unless excluded, a bit mask of the accumulators that are not zero followed by them, and the bucket counts
// each quantile over events needs (each its length and Sketch.Encode).
func (e *engine) encodeUser(buf []byte, u *user) []byte {
	buf = append(buf, stateFormat)
	buf = binary.AppendUvarint(buf, uint64(len(e.base)))
	buf = binary.AppendUvarint(buf, uint64(e.nAcc))
	for _, t := range u.totals {
		if t.cnt == 0 {
			buf = append(buf, 0)
			continue
		}
		buf = appendCount(buf, t.cnt, t.sum)
		buf = binary.AppendVarint(buf, t.maxT)
	}
	buf = binary.AppendUvarint(buf, uint64(len(u.units)))
	var order [8]int
	idx := order[:0]
	for i := range u.units {
		idx = append(idx, i)
	}
	if len(idx) > 1 {
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(u.units[a].flag, u.units[b].flag) })
	}
	maskLen := (e.nAcc + 7) / 8
	for _, i := range idx {
		un := &u.units[i]
		buf = appendStr(buf, un.flag)
		buf = appendStr(buf, un.variant)
		buf = binary.AppendVarint(buf, un.t0)
		buf = binary.AppendVarint(buf, un.period)
		buf = append(buf, un.dv[:len(e.dims)]...)
		if un.excluded {
			buf = append(buf, unitExcluded)
			continue
		}
		if un.outside {
			buf = append(buf, unitOutside)
		} else {
			buf = append(buf, unitIn)
		}
		at := len(buf)
		for range maskLen {
			buf = append(buf, 0)
		}
		for j, a := range un.post {
			if a.cnt != 0 || !a.sum.isZero() {
				buf[at+j/8] |= 1 << (j % 8)
				buf = appendCount(buf, a.cnt, a.sum)
			}
		}
		for _, h := range un.hist {
			at := len(buf)
			buf = h.Encode(append(buf, 0))
			if n := len(buf) - at - 1; n < 0x80 {
				buf[at] = byte(n) // the length as a one-byte uvarint
			} else {
				enc := append([]byte(nil), buf[at+1:]...)
				buf = append(binary.AppendUvarint(buf[:at], uint64(n)), enc...)
			}
		}
	}
	return buf
}

func appendStr(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// load decodes a stored user state into the current group (store mode).
func (e *engine) load(key string, state []byte) error {
	n := len(e.users)
	u := e.newUser(key)
	if len(e.users) == n { // key was there: newUser replaced it
		return fmt.Errorf("ingest: state of %q loaded twice", key)
	}
	if err := e.decodeUser(u, state); err != nil {
		delete(e.users, key)
		return fmt.Errorf("%w (user %q)", err, key)
	}
	return nil
}

func (e *engine) decodeUser(u *user, d []byte) error {
	if len(d) == 0 || d[0] != stateFormat {
		return errBadState
	}
	r := stateReader{d: d[1:]}
	if r.uvarint() != uint64(len(e.base)) || r.uvarint() != uint64(e.nAcc) || r.bad {
		return errBadState
	}
	for i := range u.totals {
		var t total
		if t.cnt, t.sum = r.count(); t.cnt != 0 {
			t.maxT = r.varint()
		}
		u.totals[i] = t
	}
	n := r.uvarint()
	if n > uint64(len(r.d)) {
		return errBadState
	}
	maskLen := (e.nAcc + 7) / 8
	var prev []byte
	for k := range n {
		flag := r.bytes(r.uvarint())
		variant := r.bytes(r.uvarint())
		t0 := r.varint()
		period := r.varint()
		var dv dimVals
		copy(dv[:], r.bytes(uint64(len(e.dims))))
		for d, v := range dv[:len(e.dims)] {
			if int(v) >= e.dims[d].Count() {
				return errBadState
			}
		}
		ex := r.bytes(1)
		// encodeUser writes each flag once, in order, and one of the marks.
		if r.bad || (k > 0 && string(flag) <= string(prev)) || ex[0] > unitOutside {
			return errBadState
		}
		prev = flag
		i := e.addUnit(u, e.intern(flag), e.intern(variant), t0, dv, ex[0] == unitOutside)
		un := &u.units[i]
		un.period = period
		if ex[0] == unitExcluded {
			un.excluded, un.post, un.hist = true, nil, nil
			continue
		}
		mask := r.bytes(uint64(maskLen))
		if r.bad {
			return errBadState
		}
		for j := range un.post {
			if mask[j/8]&(1<<(j%8)) != 0 {
				un.post[j].cnt, un.post[j].sum = r.count()
			}
		}
		for j := range un.hist {
			if ok := metric.DecodeUserHist(r.bytes(r.uvarint()), &un.hist[j]); r.bad || !ok {
				return errBadState
			}
		}
	}
	if r.bad || len(r.d) != 0 {
		return errBadState
	}
	return nil
}

type stateReader struct {
	d   []byte
	bad bool
}

// count reads what appendCount wrote; a zero count of a total has no sum.
// A zero count with a sum (c == 1, wide and nothing counted) is refused:
// no state holds one, and read as one, it would be written back as a bare
// 0 whose sum the next read takes for the fields after it.
func (r *stateReader) count() (int64, sum128) {
	c := r.uvarint()
	if c == 0 {
		return 0, sum128{}
	}
	if c == 1 {
		r.bad = true
		return 0, sum128{}
	}
	sum := sum128Of(r.varint())
	if c&1 != 0 {
		sum.hi = r.varint()
	}
	return int64(c >> 1), sum
}

func (r *stateReader) uvarint() uint64 {
	v, k := binary.Uvarint(r.d)
	if k <= 0 {
		r.bad = true
		return 0
	}
	r.d = r.d[k:]
	return v
}

func (r *stateReader) varint() int64 {
	v, k := binary.Varint(r.d)
	if k <= 0 {
		r.bad = true
		return 0
	}
	r.d = r.d[k:]
	return v
}

func (r *stateReader) bytes(n uint64) []byte {
	if r.bad || n > uint64(len(r.d)) {
		r.bad = true
		return nil
	}
	b := r.d[:n]
	r.d = r.d[n:]
	return b
}

// changedUsers encodes every user whose state the current group changed,
// sorted by key (store mode). The states share one buffer.
func (e *engine) changedUsers() []UserState {
	// The buffers are reused from group to group: PutUsers may not keep
	// the slices.
	out := e.putBuf[:0]
	ends := e.endBuf[:0]
	buf := e.stateBuf[:0]
	if need := (16 + 8*e.nAcc + 8*len(e.base)) * len(e.order); cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	for _, k := range e.order {
		u := e.users[k]
		if u == nil || !u.dirty {
			continue
		}
		u.dirty = false
		buf = e.encodeUser(buf, u)
		out = append(out, UserState{Key: k}) // not u.key: see newUser
		ends = append(ends, len(buf))
	}
	start := 0
	for i, end := range ends {
		out[i].State = buf[start:end:end]
		start = end
	}
	e.putBuf, e.endBuf, e.stateBuf = out, ends, buf
	return out
}
