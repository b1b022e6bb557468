package httpapi

import (
	"hash/maphash"
	"sync"
)

// exposureFilter remembers which (environment, flag, variant, targeting key)
// exposures this node has already handed to the ingestion pipeline, so that
// the thousands of evaluations of a flag for the same user cost one buffered
// exposure, not one each. Only the first exposure per variant matters to the
// analysis (its time starts the user's measurement; a second variant
// excludes the user), and evaluations arrive in time order on one node, so a
// repeat carries no information.
//
// It is the cheap, approximate first check on the request path; the exact
// one is the pipeline's, off it, against the stored per-user state (an
// exposure that changes nothing is counted as redundant and not stored).
// The filter may therefore err towards "first" but never the other way
// except by a hash collision: it holds 64-bit hashes in fixed open-addressed
// tables, one per shard, each with its own lock and cleared when half full,
// so memory stays bounded, nothing is allocated per exposure, and a cleared
// entry only costs one redundant exposure. A collision would drop a real
// first exposure; at 2^20 entries its probability is about 2^-44 per
// exposure.
type exposureFilter struct {
	seed maphash.Seed
	// perShard is how many hashes a shard takes before it is cleared; its
	// table has twice as many slots.
	perShard int
	shards   [filterShards]filterShard
}

const filterShards = 16

type filterShard struct {
	mu    sync.Mutex
	n     int
	slots []uint64 // 0: empty; a hash of 0 is stored as 1
	_     [64]byte // keep each lock on its own cache line
}

func newExposureFilter(max int) *exposureFilter {
	f := &exposureFilter{seed: maphash.MakeSeed(), perShard: 1}
	for f.perShard*filterShards < max {
		f.perShard *= 2
	}
	return f
}

// first reports whether this exposure has not been seen yet, and remembers it.
func (f *exposureFilter) first(env, flag, variant, key string) bool {
	var h maphash.Hash
	h.SetSeed(f.seed)
	for _, s := range [...]string{env, flag, variant, key} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	sum := h.Sum64()
	if sum == 0 {
		sum = 1
	}
	s := &f.shards[sum%filterShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots == nil {
		// Allocated at the first exposure of the shard, not per exposure.
		s.slots = make([]uint64, 2*f.perShard)
	}
	mask := uint64(len(s.slots) - 1)
	// The low bits chose the shard; the high bits place the hash in it.
	for i := (sum >> 32) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case sum:
			return false
		case 0:
			if s.n >= f.perShard {
				clear(s.slots)
				s.n = 0
				i = (sum >> 32) & mask
			}
			s.slots[i] = sum
			s.n++
			return true
		}
	}
}
