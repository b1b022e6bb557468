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
type userIndex struct {
	seed maphash.Seed
	tab  []indexEntry // a power of two long, at most 3/4 full
	n    int
}

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
	mask := uint32(len(x.tab) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.tab[i]
		if e.slot == 0 {
			return 0, false
		}
		if e.hash == h && slots.at(e.slot-1).key == k {
			return e.slot - 1, true
		}
	}
}

// set adds k, not in the index, in slot i.
func (x *userIndex) set(k string, i int32) {
	if 4*(x.n+1) > 3*len(x.tab) {
		x.grow()
	}
	x.insert(indexEntry{x.hash(k), i + 1})
	x.n++
}

func (x *userIndex) insert(e indexEntry) {
	mask := uint32(len(x.tab) - 1)
	j := e.hash & mask
	for x.tab[j].slot != 0 {
		j = (j + 1) & mask
	}
	x.tab[j] = e
}

// grow doubles the table. The hashes are in the entries: no key is read.
func (x *userIndex) grow() {
	old := x.tab
	x.tab = make([]indexEntry, 2*len(old))
	for _, e := range old {
		if e.slot != 0 {
			x.insert(e)
		}
	}
}

// del removes k, held in slot i, and moves back the entries after it that
// its place lets nearer their position (a linear-probing table has no
// tombstones: a lookup stops at the first empty entry).
func (x *userIndex) del(k string, i int32) {
	h := x.hash(k)
	mask := uint32(len(x.tab) - 1)
	j := h & mask
	for x.tab[j].slot != i+1 {
		if x.tab[j].slot == 0 {
			return // not there
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
