package sqlite

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSlotTableModel: over a random run of puts (new users, reserved ones,
// states replaced by larger and smaller ones) and frees, with the arena
// compacted as finish does after each batch, every slot holds the key and
// state a map says it does; every key and state handed out earlier is
// unchanged (LoadUsers and compaction hand them over, and they must not
// change under them); the arena counts its bytes exactly and holds no more
// than about twice the live ones.
func TestSlotTableModel(t *testing.T) {
	type user struct {
		key   string
		state []byte // nil: reserved, no state
	}
	type handedOut struct {
		key       string
		state     []byte
		wantKey   string
		wantState []byte
	}
	var (
		slots slotTable
		model []*user // by slot; nil: free
		free  []int32
		out   []handedOut
		r     = rand.New(rand.NewPCG(1, 2))
	)
	newState := func() []byte {
		s := make([]byte, r.IntN(3000))
		for i := range s {
			s[i] = byte(r.Uint32())
		}
		return s
	}
	for op := range 40000 {
		switch n := int32(len(model)); {
		case n < 2000 || r.IntN(10) == 0: // a new user
			var i int32
			if k := len(free); k > 0 {
				i, free = free[k-1], free[:k-1]
			} else {
				i = slots.add()
				model = append(model, nil)
			}
			u := &user{key: fmt.Sprint("user-", op)}
			if r.IntN(4) > 0 {
				u.state = newState()
			}
			slots.put(i, u.key, u.state)
			model[i] = u
		default:
			i := r.Int32N(n)
			u := model[i]
			if u == nil {
				continue
			}
			if r.IntN(8) == 0 {
				slots.free(i)
				model[i], free = nil, append(free, i)
				continue
			}
			u.state = newState()
			// The slot's own key given back, as set does for a user
			// LoadUsers found.
			slots.put(i, slots.key(i), u.state)
		}
		if op%100 == 99 {
			slots.tidy()
		}
		if op%1000 != 999 {
			continue
		}
		var live int
		for i, u := range model {
			i := int32(i)
			if u == nil {
				if k, x := slots.key(i), slots.at(i); k != "" || x.hasState() || x.ref != 0 {
					t.Fatalf("op %d: free slot %d holds %q (state %v)", op, i, k, x.hasState())
				}
				continue
			}
			if k := slots.key(i); k != u.key {
				t.Fatalf("op %d: slot %d holds key %q, want %q", op, i, k, u.key)
			}
			s := slots.state(i)
			if (s == nil) != (u.state == nil) || !bytes.Equal(s, u.state) {
				t.Fatalf("op %d: slot %d (%s) holds a state of %d bytes (nil %v), want %d (nil %v)",
					op, i, u.key, len(s), s == nil, len(u.state), u.state == nil)
			}
			live += len(u.key) + len(u.state)
			if r.IntN(20) == 0 {
				out = append(out, handedOut{slots.key(i), s, u.key, bytes.Clone(s)})
			}
		}
		for _, h := range out {
			if h.key != h.wantKey || !bytes.Equal(h.state, h.wantState) {
				t.Fatalf("op %d: a key and state handed out changed: %q, want %q", op, h.key, h.wantKey)
			}
		}
		a := &slots.arena
		held, dead := 0, 0
		for c, b := range a.chunks {
			held += len(b)
			dead += a.deadIn[c]
		}
		if a.liveBytes != live || held != live+dead || a.deadBytes != dead {
			t.Fatalf("op %d: arena counts %d live and %d dead bytes; it holds %d of which %d dead, and the slots %d",
				op, a.liveBytes, a.deadBytes, held, dead, live)
		}
		if held > 2*live+5*arenaChunk {
			t.Fatalf("op %d: arena holds %d bytes for %d live", op, held, live)
		}
	}
	if len(slots.arena.spare) == 0 {
		t.Error("no chunk was let go: compaction untested")
	}
}
