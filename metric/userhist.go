package metric

import (
	"encoding/binary"
	"math"
	"slices"
)

// UserHist is one user's bucket counts of a quantile over events (what
// EventSketch.AddUser takes): the buckets of Sketch, kept as a slice of
// (bucket, count) pairs sorted in value order. A user's events of one name
// fall in a handful of buckets, so a short slice searched in place costs
// less than Sketch's two maps in time and memory, and reads out in value
// order without sorting; every user of a recomputation keeps one. It
// encodes as Sketch does, so stored state is the same bytes.
type UserHist struct {
	b []hbucket
}

// hbucket is one bucket of a UserHist: its place in value order (see
// hkey) and its count.
type hbucket struct {
	key, n int64
}

// hkey orders buckets by value: negatives by their magnitude's index
// reversed, then zero, then positives by index. Indexes are int32, so the
// sides never meet.
func hkey(b bkey) int64 {
	switch b.side {
	case -1:
		return -(1 << 33) - int64(b.i)
	case 1:
		return 1<<33 + int64(b.i)
	}
	return 0
}

func (h hbucket) bkey() bkey {
	switch {
	case h.key < 0:
		return bkey{-1, int32(-(1 << 33) - h.key)}
	case h.key > 0:
		return bkey{1, int32(h.key - 1<<33)}
	}
	return bkey{}
}

// bucketOf is the bucket of a value given in millionths, as Sketch.Add
// places it.
func bucketOf(x int64) bkey {
	v := float64(x) / Scale
	switch {
	case math.Abs(v) < sketchMapping.MinIndexableValue():
		return bkey{}
	case v > 0:
		return bkey{1, int32(sketchMapping.Index(v))}
	}
	return bkey{-1, int32(sketchMapping.Index(-v))}
}

// Add adds (sign 1) or removes (sign −1) a value given in millionths.
func (h *UserHist) Add(x int64, sign int) { h.addAt(hkey(bucketOf(x)), int64(sign)) }

func (h *UserHist) addAt(key, d int64) {
	// Events mostly repeat a bucket already there or come in value order:
	// look at the last bucket before searching.
	j := len(h.b)
	if j == 0 || h.b[j-1].key != key {
		var found bool
		j, found = slices.BinarySearchFunc(h.b, key, func(e hbucket, k int64) int {
			switch {
			case e.key < k:
				return -1
			case e.key > k:
				return 1
			}
			return 0
		})
		if !found {
			if d != 0 {
				h.b = slices.Insert(h.b, j, hbucket{key, d})
			}
			return
		}
	} else {
		j--
	}
	if h.b[j].n += d; h.b[j].n == 0 {
		h.b = slices.Delete(h.b, j, j+1)
	}
}

// Reset empties h, keeping its memory.
func (h *UserHist) Reset() { h.b = h.b[:0] }

// Count is the number of values.
func (h UserHist) Count() int64 {
	var n int64
	for _, b := range h.b {
		n += b.n
	}
	return n
}

// Sketch returns h's counts as a Sketch.
func (h UserHist) Sketch() Sketch {
	var k Sketch
	for _, b := range h.b {
		k.addAt(b.bkey(), b.n)
	}
	return k
}

// Encode appends h in the form Sketch.Encode writes: the zero count, then
// per side (negatives, positives) the number of buckets and each bucket's
// index and count, in index order.
func (h UserHist) Encode(buf []byte) []byte {
	neg := 0
	for neg < len(h.b) && h.b[neg].key < 0 {
		neg++
	}
	var zero int64
	pos := neg
	if pos < len(h.b) && h.b[pos].key == 0 {
		zero = h.b[pos].n
		pos++
	}
	buf = binary.AppendVarint(buf, zero)
	buf = binary.AppendUvarint(buf, uint64(neg))
	for j := neg - 1; j >= 0; j-- { // value order reversed is index order
		buf = binary.AppendVarint(buf, int64(h.b[j].bkey().i))
		buf = binary.AppendVarint(buf, h.b[j].n)
	}
	buf = binary.AppendUvarint(buf, uint64(len(h.b)-pos))
	for _, b := range h.b[pos:] {
		buf = binary.AppendVarint(buf, int64(b.bkey().i))
		buf = binary.AppendVarint(buf, b.n)
	}
	return buf
}

// DecodeUserHist decodes what Encode (or Sketch.Encode) wrote into h,
// reusing its memory; ok is false for anything else.
func DecodeUserHist(b []byte, h *UserHist) (ok bool) {
	h.Reset()
	r := varints{ok: true}
	zero := r.next(b)
	for side := range 2 {
		cnt := r.count(b)
		if !r.ok {
			return false
		}
		start := len(h.b)
		for range cnt {
			i, c := r.next(b), r.next(b)
			if !r.ok || i < math.MinInt32 || i > math.MaxInt32 {
				return false
			}
			key := hkey(bkey{int8(2*side - 1), int32(i)})
			if c == 0 || len(h.b) > start && !inOrder(side, h.b[len(h.b)-1].key, key) {
				return decodeUnordered(b, h) // not as Encode writes it
			}
			h.b = append(h.b, hbucket{key, c})
		}
		if side == 0 {
			slices.Reverse(h.b) // index order is value order reversed
			if zero != 0 {
				h.b = append(h.b, hbucket{0, zero})
			}
		}
	}
	return r.ok && r.off == len(b)
}

// inOrder says whether bucket key may follow prev on a side of the
// encoding: strictly ascending indexes, which are descending keys on the
// negative side.
func inOrder(side int, prev, key int64) bool {
	if side == 0 {
		return prev > key
	}
	return prev < key
}

// decodeUnordered is DecodeUserHist of an encoding whose buckets are not in
// index order or not all counted (Encode writes none such): through Sketch,
// which sums repeated buckets and drops empty ones.
func decodeUnordered(b []byte, h *UserHist) bool {
	k, ok := decodeSketch(b)
	if !ok {
		return false
	}
	h.Reset()
	for _, key := range k.keys() {
		h.b = append(h.b, hbucket{hkey(key), k.at(key)})
	}
	return true
}
