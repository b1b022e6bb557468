package httpapi

import (
	"hash/maphash"
	"sync"
)

// exposureFilter remembers which (environment, flag, variant, targeting key)
// exposures this node has already handed to the ingestion pipeline, so that
// the thousands of evaluations of a flag for the same user cost one queue
// entry, not one each. Only the first exposure per variant matters to the
// analysis (its time starts the user's measurement; a second variant
// excludes the user), and evaluations arrive in time order on one node, so a
// repeat carries no information.
//
// The set holds 64-bit hashes and is cleared when it reaches its bound:
// memory stays bounded, and a cleared entry only costs one redundant
// exposure, which the pipeline recognises as such. A hash collision would
// drop a real first exposure; at 2^20 entries its probability is about
// 2^-24 per exposure.
type exposureFilter struct {
	seed maphash.Seed
	max  int

	mu   sync.Mutex
	seen map[uint64]struct{}
}

func newExposureFilter(max int) *exposureFilter {
	return &exposureFilter{seed: maphash.MakeSeed(), max: max, seen: make(map[uint64]struct{})}
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.seen[sum]; ok {
		return false
	}
	if len(f.seen) >= f.max {
		clear(f.seen)
	}
	f.seen[sum] = struct{}{}
	return true
}
