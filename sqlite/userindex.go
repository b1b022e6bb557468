package sqlite

import (
	"hash/maphash"
)

// userIndex finds the slot of a user by key: an open-addressing table of
// (hash, slot) pairs of 8 bytes, probed linearly from the position the
// hash gives, and the keys themselves in the slots.
//
// Under first-seen traffic every exposure's user is looked up here and is
// not found, and the table is far larger than the processor's caches: each
// lookup is a cache miss or two, whatever the work around them. A Go map
// keyed by the key's bytes (up to 23 of them held in the map, longer ones
// as strings) took two probes per new user (LoadUsers, then set) of a table
// of 28-byte entries and control words, a third of the writer's CPU
// (profiled, 600,000 new users). Here a lookup of a key that is absent
// reads a cache line or two of 8-byte entries and no key (the 32 bits of
// hash differ); one that is present reads its slot's key, which the caller
// reads next anyway for the state; and the table holds no pointer for the
// collector to follow.
//
// The table grows by doubling, and its entries move into the new one a few
// at each set rather than all at once: moving them all at the growth made
// the slowest of 1.6 million sets take 17-19 ms (a stall of the writer,
// and of every request on a server of one core, each time the users
// doubled), against 2-6 ms moving them a few at a time
// (BenchmarkUserIndexGrowth, worst-ms).
type userIndex struct {
	seed maphash.Seed
	tab  []indexEntry // a power of two long, at most 3/4 full
	n    int          // entries in tab and old together
	// old is the table before the last growth while its entries move into
	// tab: those before moved have moved (and stay in old, so that its
	// probe sequences hold). A key is looked up in tab, then in old.
	old   []indexEntry
	moved int
}

// movesPerSet is how many entries of old move into tab at each set: the
// next growth comes after len(old)*3/4 sets, so old has long emptied by
// then (it takes len(old)/4).
const movesPerSet = 4

// gone marks an entry of old deleted after the growth: a lookup probes past
// it and nothing moves it.
const gone = -1

type indexEntry struct {
	hash uint32 // the low 32 bits of the key's hash: its position's too
	slot int32  // the slot's index + 1; 0 for an empty entry
}

// minIndexLen is the length of a new table.
const minIndexLen = 64

func newUserIndex() userIndex {
	return userIndex{seed: maphash.MakeSeed(), tab: make([]indexEntry, minIndexLen)}
}

func (x *userIndex) hash(k string) uint32 { return uint32(maphash.String(x.seed, k)) }

// get returns the slot of k, whose keys slots holds.
func (x *userIndex) get(k string, slots *slotTable) (int32, bool) {
	h := x.hash(k)
	if i, ok := lookup(x.tab, h, k, slots); ok {
		return i, true
	}
	if x.old != nil {
		return lookup(x.old, h, k, slots)
	}
	return 0, false
}

func lookup(tab []indexEntry, h uint32, k string, slots *slotTable) (int32, bool) {
	mask := uint32(len(tab) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := tab[i]
		if e.slot == 0 {
			return 0, false
		}
		if e.hash == h && e.slot != gone && slots.key(e.slot-1) == k {
			return e.slot - 1, true
		}
	}
}

// set adds k, not in the index, in slot i.
func (x *userIndex) set(k string, i int32) {
	if 4*(x.n+1) > 3*len(x.tab) {
		x.grow()
	}
	x.move(movesPerSet)
	x.insert(indexEntry{x.hash(k), i + 1})
	x.n++
}

// move moves up to n entries of old into tab, and lets old go when all have.
func (x *userIndex) move(n int) {
	if x.old == nil {
		return
	}
	end := min(x.moved+n, len(x.old))
	for _, e := range x.old[x.moved:end] {
		if e.slot > 0 {
			x.insert(e)
		}
	}
	x.moved = end
	if end == len(x.old) {
		x.old, x.moved = nil, 0
	}
}

func (x *userIndex) insert(e indexEntry) {
	mask := uint32(len(x.tab) - 1)
	j := e.hash & mask
	for x.tab[j].slot != 0 {
		j = (j + 1) & mask
	}
	x.tab[j] = e
}

// grow doubles the table; its entries move later (move). The hashes are in
// the entries: no key is read.
func (x *userIndex) grow() {
	x.move(len(x.old)) // the growth before has long finished; in case not
	x.old, x.moved = x.tab, 0
	x.tab = make([]indexEntry, 2*len(x.old))
}

// del removes k, held in slot i, and moves back the entries after it that
// its place lets nearer their position (a linear-probing table has no
// tombstones: a lookup stops at the first empty entry).
func (x *userIndex) del(k string, i int32) {
	h := x.hash(k)
	inOld := false
	if x.old != nil {
		// Marked, not removed: moving entries back in old could carry one
		// not yet moved behind x.moved, where it would never move.
		mask := uint32(len(x.old) - 1)
		for j := h & mask; x.old[j].slot != 0; j = (j + 1) & mask {
			if x.old[j].slot == i+1 {
				x.old[j].slot = gone
				inOld = true
				break
			}
		}
	}
	mask := uint32(len(x.tab) - 1)
	j := h & mask
	for x.tab[j].slot != i+1 {
		if x.tab[j].slot == 0 {
			if inOld {
				x.n-- // not moved yet
			}
			return
		}
		j = (j + 1) & mask
	}
	x.n--
	for {
		x.tab[j] = indexEntry{}
		// Find the next entry that may move into j: one whose position is
		// not between j (excluded) and where it is (included), cyclically.
		next := j
		for {
			next = (next + 1) & mask
			e := x.tab[next]
			if e.slot == 0 {
				return
			}
			if home := e.hash & mask; (next-home)&mask >= (next-j)&mask {
				x.tab[j] = e
				j = next
				break
			}
		}
	}
}
