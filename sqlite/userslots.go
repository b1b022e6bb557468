package sqlite

import (
	"iter"
	"unsafe"
)

// slotTable holds the users of an environment in memory: per slot, where
// its key and state are and the user log record that holds the state.
//
// Nothing in it is a pointer the garbage collector follows. The slots are
// fixed-size values in blocks, and the keys and states are copied into an
// arena of large byte chunks that slots refer to by chunk and offset. A
// slot that held its key and state as a string and a slice, one small
// allocation per user, was two pointers per user for the collector to
// follow and an object to mark, at every cycle, for every user in memory
// (up to the 128 MiB of userCacheBytes): with a million users in memory
// the heap it scanned was 71 MB of 154, now 23 of 129 (the exposure
// buffers), its objects a million, now ten thousand, and its marking took
// half the CPU it did (bench/RESULTS.md). Byte chunks it does not scan.
//
// The blocks are of a fixed size, so that a slot keeps its place and adding
// one never copies the others: one slice of a million slots grew by copying
// tens of megabytes at a time, a sixth of the writer's CPU under first-seen
// traffic (profiled).
//
// The arena only ever appends to a chunk: the bytes of an entry, once
// written, never change, so the keys and states it hands out (key, state)
// stay valid however the slots change afterwards, as the separate
// allocations did. A state replaced or a slot freed leaves its entry dead
// in its chunk; tidy moves the live entries out of the chunks that are
// mostly dead and lets those go, once the dead bytes outnumber the live
// ones, so the arena holds at most about twice the live bytes.
type slotTable struct {
	blocks [][]userSlot
	n      int32
	arena  userArena
}

// userSlot is a user in memory. Its entry in the arena is its key, then
// its state: klen and slen bytes at off in chunk ref-1.
type userSlot struct {
	ref  uint32 // the entry's chunk + 1; 0: no entry (a free slot)
	off  uint32
	klen uint32
	slen int32 // -1: no state (free, or reserved for a new user)
	// seq is the user log record that holds this state, the latest; 0 when
	// it is in event_users (it may then be dropped from memory).
	seq int64
}

const slotBlock = 4096

// at returns slot i (0 ≤ i < len).
func (t *slotTable) at(i int32) *userSlot { return &t.blocks[i/slotBlock][i%slotBlock] }

func (t *slotTable) len() int32 { return t.n }

// add returns a new free slot's index.
func (t *slotTable) add() int32 {
	if int(t.n) == len(t.blocks)*slotBlock {
		b := make([]userSlot, slotBlock)
		for i := range b {
			b[i].slen = -1
		}
		t.blocks = append(t.blocks, b)
	}
	t.n++
	return t.n - 1
}

// all yields every slot up to len.
func (t *slotTable) all() iter.Seq2[int32, *userSlot] {
	return func(yield func(int32, *userSlot) bool) {
		for i := range t.n {
			if !yield(i, t.at(i)) {
				return
			}
		}
	}
}

// key returns the key of slot i, "" for a free slot. It stays valid after
// the slot changes.
func (t *slotTable) key(i int32) string {
	x := t.at(i)
	if x.ref == 0 || x.klen == 0 {
		return ""
	}
	return unsafe.String(&t.arena.chunks[x.ref-1][x.off], x.klen)
}

// state returns the state of slot i, nil when it has none. It stays valid
// (and unchanged) after the slot changes.
func (t *slotTable) state(i int32) []byte {
	x := t.at(i)
	if x.slen < 0 {
		return nil
	}
	at := x.off + x.klen
	return t.arena.chunks[x.ref-1][at : at+uint32(x.slen) : at+uint32(x.slen)]
}

// hasState reports whether slot i holds a state.
func (x *userSlot) hasState() bool { return x.slen >= 0 }

// put gives slot i key k and state s (none when s is nil), copies of both:
// k and s need only be valid during the call, and may be the slot's own.
func (t *slotTable) put(i int32, k string, s []byte) {
	x := t.at(i)
	c, off, buf := t.arena.alloc(len(k) + len(s))
	copy(buf, k)
	copy(buf[len(k):], s)
	t.release(x)
	x.ref, x.off, x.klen, x.slen = c+1, off, uint32(len(k)), -1
	if s != nil {
		x.slen = int32(len(s))
	}
}

// free leaves slot i free, without key or state.
func (t *slotTable) free(i int32) {
	x := t.at(i)
	t.release(x)
	*x = userSlot{slen: -1}
}

// release counts x's entry dead.
func (t *slotTable) release(x *userSlot) {
	if x.ref != 0 {
		t.arena.dead(x.ref-1, int(x.klen)+int(max(x.slen, 0)))
		t.arena.letGo(x.ref - 1)
	}
}

// tidy compacts the arena when its dead bytes outnumber the live ones (and
// are more than a few chunks). Moving an entry costs about what writing it
// did, and each byte moved was live beside at least as many dead ones
// freed: compaction costs at most as much as the writes that made the
// dead bytes. The keys and states handed out before stay valid: the
// chunks let go are only no longer the arena's.
//
// It is done at once, not a little at each write: with a million users of
// 40-byte states replaced at random it comes once per million replacements
// and took 100-170 ms of the writer's CPU (load 14 on two cores; the
// scheduler preempts it every 10 ms for the requests). Marking a million
// small objects, which it replaces, the collector did at every cycle.
func (t *slotTable) tidy() {
	a := &t.arena
	if a.deadBytes <= a.liveBytes || a.deadBytes < 4*arenaChunk {
		return
	}
	// The chunks mostly dead: while more bytes are dead than live, some
	// are. The chunk being filled is left behind (new entries go to a new
	// one) so that it can be among them.
	victim := make([]bool, len(a.chunks))
	for c, b := range a.chunks {
		victim[c] = b != nil && 2*a.deadIn[c] >= len(b)
	}
	a.cur = 0
	for i := range t.n {
		x := t.at(i)
		if x.ref == 0 || !victim[x.ref-1] {
			continue
		}
		n := int(x.klen) + int(max(x.slen, 0))
		old := a.chunks[x.ref-1][x.off : int(x.off)+n]
		c, off, buf := a.alloc(n)
		copy(buf, old)
		a.dead(x.ref-1, n)
		x.ref, x.off = c+1, off
	}
	// Every entry of a victim has moved: all of it is dead. (Let go only
	// now, so that alloc did not reuse a victim's index above.)
	for c, v := range victim {
		if v {
			a.letGo(uint32(c))
		}
	}
}

// userArena holds the keys and states of a slotTable in chunks of bytes,
// appended to and never overwritten (see slotTable).
type userArena struct {
	chunks [][]byte // nil: let go, its index free for another chunk
	deadIn []int    // per chunk, the bytes of its entries no slot holds
	cur    uint32   // the chunk entries are appended to + 1; 0: none
	spare  []uint32 // indexes of chunks let go
	// liveBytes and deadBytes are the bytes of the entries that slots hold
	// and of those they do not, over every chunk held.
	liveBytes, deadBytes int
}

// arenaChunk is the size of a chunk; an entry larger has a chunk of its own.
const arenaChunk = 1 << 20

// alloc returns room for an entry of n bytes: its chunk, its offset there
// and the bytes to write it in.
func (a *userArena) alloc(n int) (uint32, uint32, []byte) {
	if a.cur == 0 || len(a.chunks[a.cur-1])+n > cap(a.chunks[a.cur-1]) {
		prev := a.cur
		b := make([]byte, 0, max(arenaChunk, n))
		if k := len(a.spare); k > 0 {
			a.cur, a.spare = a.spare[k-1]+1, a.spare[:k-1]
			a.chunks[a.cur-1] = b
		} else {
			a.chunks = append(a.chunks, b)
			a.deadIn = append(a.deadIn, 0)
			a.cur = uint32(len(a.chunks))
		}
		if prev != 0 {
			a.letGo(prev - 1) // should all of it have died while filled
		}
	}
	c := a.cur - 1
	b := a.chunks[c]
	off := len(b)
	a.chunks[c] = b[:off+n]
	a.liveBytes += n
	return c, uint32(off), a.chunks[c][off : off+n : off+n]
}

// dead counts n bytes of chunk c dead.
func (a *userArena) dead(c uint32, n int) {
	a.deadIn[c] += n
	a.liveBytes -= n
	a.deadBytes += n
}

// letGo lets chunk c go if all of it is dead and nothing is appended to it
// any more.
func (a *userArena) letGo(c uint32) {
	if c+1 != a.cur && a.chunks[c] != nil && a.deadIn[c] == len(a.chunks[c]) {
		a.deadBytes -= a.deadIn[c]
		a.chunks[c], a.deadIn[c] = nil, 0
		a.spare = append(a.spare, c)
	}
}
