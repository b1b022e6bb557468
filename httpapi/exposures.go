package httpapi

import (
	"hash/maphash"
	"sync"
)

// exposureFilter remembers which (environment, flag, variant, targeting key)
// exposures this node has already handed to the ingestion pipeline, so that
// the thousands of evaluations of a flag for the same user cost one buffered
// exposure, not one each. Only the first exposure per variant matters to the
// analysis (its time starts the user's measurement, its reason says whether
// the split drew the variant; a second variant excludes the user), and
// evaluations arrive in time order on one node, so a repeat carries no
// information: not even a repeat the split drew after a rule served the
// same variant, since only the first exposure's mark counts.
//
// It is the cheap, approximate first check on the request path; the exact
// one is the pipeline's, off it, against the stored per-user state (an
// exposure that changes nothing is counted as redundant and not stored).
// The filter may therefore err towards "first" but never the other way
// except by a hash collision. It holds 64-bit hashes in a fixed table of
// buckets of eight, one cache line each: a hash goes into the one bucket its
// bits choose, newest first, and a full bucket forgets its oldest. So one
// exposure touches one cache line of the table (which is too large for the
// caches: that line is a miss, the main cost of a first exposure), memory
// stays bounded, nothing is allocated per exposure, and a forgotten entry
// only costs one redundant exposure. A collision would drop a real first
// exposure; at 2^20 entries its probability is about 2^-44 per exposure.
type exposureFilter struct {
	// seeds hash the four fields apart: no separators to write, and no
	// concatenation that could make two tuples one.
	seeds [4]maphash.Seed
	// perShard is how many buckets each shard has, a power of two.
	perShard int
	shards   [filterShards]filterShard
}

const filterShards = 16

// filterBucket is one cache line of hashes, newest first; 0 is empty (the
// empty ones are at the end), and a hash of 0 is stored as 1.
type filterBucket [8]uint64

type filterShard struct {
	mu      sync.Mutex
	buckets []filterBucket
	_       [64]byte // keep each lock on its own cache line
}

// newExposureFilter returns a filter of at least max entries.
func newExposureFilter(max int) *exposureFilter {
	f := &exposureFilter{perShard: 1}
	for f.perShard*filterShards*len(filterBucket{}) < max {
		f.perShard *= 2
	}
	for i := range f.seeds {
		f.seeds[i] = maphash.MakeSeed()
	}
	return f
}

// first reports whether this exposure has not been seen yet, and remembers it.
func (f *exposureFilter) first(env, flag, variant, key string) bool {
	sum := maphash.String(f.seeds[0], env) ^ maphash.String(f.seeds[1], flag) ^
		maphash.String(f.seeds[2], variant) ^ maphash.String(f.seeds[3], key)
	if sum == 0 {
		sum = 1
	}
	s := &f.shards[sum%filterShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets == nil {
		// Allocated at the first exposure of the shard, not per exposure.
		s.buckets = make([]filterBucket, f.perShard)
	}
	// The low bits chose the shard; the high bits choose the bucket in it.
	b := &s.buckets[(sum>>32)&uint64(f.perShard-1)]
	for _, h := range b {
		if h == sum {
			return false
		}
		if h == 0 {
			break
		}
	}
	copy(b[1:], b[:len(b)-1]) // the oldest goes, if the bucket was full
	b[0] = sum
	return true
}
