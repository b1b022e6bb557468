package ingest

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
)

// exposureShards is the number of independently locked parts of the
// exposure buffer: requests on different cores rarely wait for each other.
const exposureShards = 16

// exposureBuffer holds the exposures recorded by the server (RecordExposure)
// until the writer takes them, every Pipeline.FlushInterval or sooner when
// a part fills up, and stores them in one transaction.
//
// Recording an exposure is what a request does for every user it serves a
// variant for the first time, so it must cost about as little as evaluating
// the flag: one hash of the targeting key to pick a part, one uncontended
// lock, one append into memory reserved in advance, no allocation, no
// channel operation and nothing that waits on the store. The lock of a part
// is held for that append, or by the writer to swap the part's memory for
// a spare, never across I/O.
//
// The price is durability: an exposure is in memory only until the
// transaction that stores it commits, at most FlushInterval plus the
// writing of the batch it is taken in (transactions of ExposureChunk, with
// pauses between them for the requests) after it was recorded, and a crash
// (kill -9, power loss) in between loses it. Nothing acknowledged is lost this way: exposures
// recorded by the server are never acknowledged to anyone. Exposures sent
// to the event API are stored before the API answers, as before.
type exposureBuffer struct {
	seed  maphash.Seed
	parts [exposureShards]exposurePart
	// limit is the most exposures a part holds; beyond it they are dropped
	// and counted. kickAt is the length at which a part wakes the writer
	// before the next tick.
	limit, kickAt int
	kick          chan struct{}
	// spare holds, per part, the memory take swaps in for the part's
	// exposures, those of the take before emptied; order is take's buffer
	// (writer only, both).
	spare [exposureShards][]recordedExposure
	order []takeKey
}

type exposurePart struct {
	mu  sync.Mutex
	buf []recordedExposure
	// Parts sit side by side: keep each lock on its own cache line.
	_ [64]byte
}

// recordedExposure is an exposure as a request recorded it: the strings it
// already had and the time, without building an Event; attrs are the
// attributes of the configured dimensions (nil without them), outside is
// Event.OutsideSplit (8 bytes more with its padding, 104: no allocation).
type recordedExposure struct {
	env, flag, variant, key string
	at                      int64
	outside                 bool
	attrs                   []byte
}

func newExposureBuffer(capacity int) *exposureBuffer {
	b := &exposureBuffer{seed: maphash.MakeSeed(), kick: make(chan struct{}, 1)}
	b.limit = max(1, capacity/exposureShards)
	b.kickAt = max(1, b.limit/4)
	for i := range b.parts {
		// Reserve what one flush interval of a busy node needs, so that
		// appends do not allocate; a part grows beyond it only up to limit.
		// Twice: take swaps the spare in.
		b.parts[i].buf = make([]recordedExposure, 0, min(b.limit, 1024))
		b.spare[i] = make([]recordedExposure, 0, min(b.limit, 1024))
	}
	return b
}

// add records one exposure, or reports false when its part is full.
func (b *exposureBuffer) add(x recordedExposure) bool {
	p := &b.parts[maphash.String(b.seed, x.key)%exposureShards]
	p.mu.Lock()
	n := len(p.buf)
	if n >= b.limit {
		p.mu.Unlock()
		return false
	}
	p.buf = append(p.buf, x)
	p.mu.Unlock()
	if n+1 == b.kickAt {
		select {
		case b.kick <- struct{}{}:
		default: // the writer is woken already
		}
	}
	return true
}

// take appends every buffered exposure to dst, sorted by time (oldest
// first), and empties the buffer. Each part's memory is swapped for the
// spare, emptied memory of the take before, kept for the next appends:
// the lock is held for the swap, and the exposures are copied once, into
// dst (copying them out of the parts first, with a write barrier per
// pointer while the collector marks, was most of what a take cost,
// profiled). Only the writer calls it.
func (b *exposureBuffer) take(dst []recordedExposure) []recordedExposure {
	var taken [exposureShards][]recordedExposure
	for i := range b.parts {
		p := &b.parts[i]
		p.mu.Lock()
		taken[i], p.buf = p.buf, b.spare[i]
		p.mu.Unlock()
	}
	// The parts hold their exposures in the order requests took their lock,
	// which is not the order of their times: a request can read the clock
	// before another and lock after it. Sorting puts this take's exposures
	// oldest first, so that a take stored in several transactions stores the
	// older ones first. No more than that: an exposure added during a take
	// can be older than some taken, and the sums do not depend on the order
	// of events. Exposures of one time need no order among them: a user seen
	// in two variants is excluded whichever came first, and of two alike the
	// second is redundant; which of two that differ only in their dimension
	// values is stored first was already the chance of which request took
	// the part's lock first.
	//
	// What is sorted is the times and positions, pointer-free and a sixth
	// of an exposure's size: sorting the exposures themselves moved 96 bytes
	// with write barriers per swap, a fifth of the writer's CPU under
	// first-seen traffic (profiled with the stable sort; an unstable one
	// swaps fewer, as many bytes each).
	order := b.order[:0]
	for part, xs := range taken {
		for i := range xs {
			order = append(order, takeKey{xs[i].at, int32(part), int32(i)})
		}
	}
	slices.SortFunc(order, func(x, y takeKey) int { return cmp.Compare(x.at, y.at) })
	for _, k := range order {
		dst = append(dst, taken[k.part][k.i])
	}
	for i, xs := range taken {
		clear(xs) // drop the references to the requests' strings
		b.spare[i] = xs[:0]
	}
	b.order = order[:0]
	return dst
}

// takeKey is an exposure's time and position in a take, for sorting.
type takeKey struct {
	at      int64
	part, i int32
}

func (x *recordedExposure) event() Event {
	return Event{Type: Exposure, Flag: x.flag, Variant: x.variant, TargetingKey: x.key, Time: x.at, TimeSet: true, Attributes: x.attrs, OutsideSplit: x.outside}
}
