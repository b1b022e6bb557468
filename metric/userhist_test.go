package metric

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestUserHistAgreesWithSketch: a UserHist given the same adds and removes
// as a Sketch holds the same counts, encodes to the same bytes, and decodes
// back (from its own bytes, or from a Sketch's written in any bucket order)
// to itself; AddUser reads it in value order as it read the Sketch.
func TestUserHistAgreesWithSketch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	values := []int64{0, 1, -1, Scale / 1000, -3 * Scale, 250 * Scale, 250*Scale + 1, -250 * Scale, 7 * Scale, 1e9 * Scale}
	for trial := range 300 {
		var h UserHist
		var k Sketch
		var added []int64
		for range r.IntN(20) {
			if len(added) > 0 && r.IntN(4) == 0 { // remove one added before
				j := r.IntN(len(added))
				h.Add(added[j], -1)
				k.Add(added[j], -1)
				added = append(added[:j], added[j+1:]...)
				continue
			}
			x := values[r.IntN(len(values))]
			if r.IntN(2) == 0 {
				x = r.Int64N(2000*Scale) - 1000*Scale
			}
			h.Add(x, 1)
			k.Add(x, 1)
			added = append(added, x)
		}
		if got, want := h.Count(), k.Count(); got != want {
			t.Fatalf("trial %d: count %d, want %d", trial, got, want)
		}
		enc := h.Encode(nil)
		if want := k.Encode(nil); !bytes.Equal(enc, want) {
			t.Fatalf("trial %d: encoding %x, want the Sketch's %x", trial, enc, want)
		}
		var back UserHist
		back.b = append(back.b, hbucket{5, 5}) // decoding reuses, and empties, memory
		if !DecodeUserHist(enc, &back) || len(back.b) != len(h.b) || len(h.b) > 0 && !reflect.DeepEqual(back.b, h.b) {
			t.Fatalf("trial %d: decoded %v, want %v", trial, back.b, h.b)
		}
		var a, b EventSketch
		a.AddUser(h, 1)
		b.AddUser(back, 1)
		if !reflect.DeepEqual(a, b) || !bytes.Equal(h.Sketch().Encode(nil), enc) {
			t.Fatalf("trial %d: the decoded hist or the sketch differ", trial)
		}
	}
	// Buckets out of index order, repeated or empty are summed as
	// Sketch's decoding sums them.
	for _, enc := range [][]byte{
		{0, 0, 2, 4, 2, 2, 2},    // positive indexes 2, 1
		{0, 0, 2, 2, 2, 2, 4},    // index 1 twice: one bucket of 3
		{2, 1, 2, 0, 1, 4, 2},    // an empty negative bucket; zero count 1
		{0, 2, 4, 2, 2, 2, 0, 1}, // negative indexes 2, 1, then a trailing byte
	} {
		var h UserHist
		k, ok := decodeSketch(enc)
		if got := DecodeUserHist(enc, &h); got != ok || ok && !bytes.Equal(h.Encode(nil), k.Encode(nil)) {
			t.Errorf("%x: decoded %v (ok %v), want the Sketch's %v (ok %v)", enc, h.b, got, k, ok)
		}
	}
}
