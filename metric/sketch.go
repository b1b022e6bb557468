package metric

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/DataDog/sketches-go/ddsketch/mapping"

	"github.com/valueloop/valueloop/stats"
)

// SketchAccuracy is the relative accuracy of the quantile sketches: a
// quantile read from a sketch is within 1% of a value of the data at that
// rank.
const SketchAccuracy = 0.01

// The buckets are DDSketch's (Masson, Rim and Lee, "DDSketch: a fast and
// fully-mergeable quantile sketch with relative-error guarantees", VLDB 2019),
// through the logarithmic index mapping of github.com/DataDog/sketches-go:
// bucket i holds the values in (γ^(i−1), γ^i], γ = (1 + a)/(1 − a). The counts
// are kept here as exact integers, unlike sketches-go's float stores, so that
// a user's value can be removed as exactly as it was added (a user who moves
// to another variant or period) and the incremental sketch equals the one a
// recomputation builds, bit for bit.
var sketchMapping = func() mapping.IndexMapping {
	m, err := mapping.NewLogarithmicMapping(SketchAccuracy)
	if err != nil {
		panic(err)
	}
	return m
}()

// Sketch counts values in logarithmic buckets: positive values by their
// bucket, negative ones by the bucket of their magnitude, zeros (and values
// too small to index) apart. Counts may be negative in a change (a delta).
type Sketch struct {
	Pos, Neg map[int32]int64
	Zero     int64
}

// Add adds (sign 1) or removes (sign −1) a value given in millionths.
func (k *Sketch) Add(x int64, sign int) {
	v := float64(x) / Scale
	switch {
	case math.Abs(v) < sketchMapping.MinIndexableValue():
		k.Zero += int64(sign)
	case v > 0:
		k.Pos = bump(k.Pos, int32(sketchMapping.Index(v)), int64(sign))
	default:
		k.Neg = bump(k.Neg, int32(sketchMapping.Index(-v)), int64(sign))
	}
}

func bump(m map[int32]int64, i int32, d int64) map[int32]int64 {
	if m == nil {
		m = map[int32]int64{}
	}
	if m[i] += d; m[i] == 0 {
		delete(m, i)
	}
	return m
}

// Merge adds o's counts to k.
func (k *Sketch) Merge(o Sketch) {
	for i, c := range o.Pos {
		k.Pos = bump(k.Pos, i, c)
	}
	for i, c := range o.Neg {
		k.Neg = bump(k.Neg, i, c)
	}
	k.Zero += o.Zero
}

// Count is the number of values.
func (k Sketch) Count() int64 {
	n := k.Zero
	for _, c := range k.Pos {
		n += c
	}
	for _, c := range k.Neg {
		n += c
	}
	return n
}

// bucket is one bucket in value order: its representative value and count.
type bucket struct {
	v float64
	n int64
}

func (k Sketch) ordered() []bucket {
	out := make([]bucket, 0, len(k.Pos)+len(k.Neg)+1)
	neg := slices.Sorted(mapKeys(k.Neg))
	for j := len(neg) - 1; j >= 0; j-- {
		out = append(out, bucket{-sketchMapping.Value(int(neg[j])), k.Neg[neg[j]]})
	}
	if k.Zero != 0 {
		out = append(out, bucket{0, k.Zero})
	}
	for _, i := range slices.Sorted(mapKeys(k.Pos)) {
		out = append(out, bucket{sketchMapping.Value(int(i)), k.Pos[i]})
	}
	return out
}

func mapKeys(m map[int32]int64) func(func(int32) bool) {
	return func(yield func(int32) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// AtRank returns the value of rank r (1 ≤ r ≤ Count, in value order), within
// SketchAccuracy of the r-th smallest value added.
func (k Sketch) AtRank(r int64) float64 { return atRank(k.ordered(), r) }

func atRank(bs []bucket, r int64) float64 {
	var cum int64
	for _, b := range bs {
		cum += b.n
		if cum >= r {
			return b.v
		}
	}
	if len(bs) == 0 {
		return math.NaN()
	}
	return bs[len(bs)-1].v
}

// QuantileRanks returns the ranks of the sample quantile q of n values and
// of the distribution-free interval around it at the normal quantile z
// (Conover, Practical Nonparametric Statistics, 3rd ed. 1999, §3.2):
//
//	estimate  x_(⌈nq⌉),  interval [x_(l), x_(u)],
//	l = ⌊nq − z√(nq(1 − q))⌋,  u = ⌈nq + z√(nq(1 − q))⌉,
//
// clamped to [1, n].
func QuantileRanks(n int64, q, z float64) (est, lo, hi int64) {
	nq := float64(n) * q
	h := z * math.Sqrt(nq*(1-q))
	clamp := func(r float64) int64 { return int64(max(1, min(float64(n), r))) }
	return clamp(math.Ceil(nq)), clamp(math.Floor(nq - h)), clamp(math.Ceil(nq + h))
}

// z975 is the normal quantile 0.975.
const z975 = 1.959963984540054

// QuantileSummary turns the sketch of a quantile metric's per-user values
// into what package stats analyses: the quantile q as estimate and the
// standard error from the order statistics' 95% interval, SE = (x_(u) −
// x_(l))/(2 · 1.96) (Price and Bonett, "Distribution-free confidence intervals
// for difference and ratio of medians", J. Stat. Comput. Simul. 2002, who
// take the median's SE so; the same holds for any quantile).
func (k Sketch) QuantileSummary(q float64) stats.Summary {
	bs := k.ordered()
	var n int64
	for _, b := range bs {
		n += b.n
	}
	// An infinite bucket is no value's: the sketch is a quantile over
	// events' packed three (see EventSketch.pack), left by an earlier
	// definition of the metric's key until the rebuild.
	if n <= 0 || math.IsInf(bs[0].v, 0) || math.IsInf(bs[len(bs)-1].v, 0) {
		return stats.Summary{}
	}
	e, l, u := QuantileRanks(n, q, z975)
	se := (atRank(bs, u) - atRank(bs, l)) / (2 * z975)
	return stats.QuantileSummary(n, atRank(bs, e), se)
}

// encode appends the sketch's non-zero counts: the zero count, then per
// side (negatives, positives) the number of buckets and each bucket's index
// and count, in index order.
func (k Sketch) encode(buf []byte) []byte {
	buf = binary.AppendVarint(buf, k.Zero)
	for _, m := range []map[int32]int64{k.Neg, k.Pos} {
		buf = binary.AppendUvarint(buf, uint64(len(m)))
		for _, i := range slices.Sorted(mapKeys(m)) {
			buf = binary.AppendVarint(buf, int64(i))
			buf = binary.AppendVarint(buf, m[i])
		}
	}
	return buf
}

// Encode appends the sketch in the compact form Sums stores it in.
func (k Sketch) Encode(buf []byte) []byte { return k.encode(buf) }

// DecodeSketch decodes what Encode wrote; ok is false for anything else.
func DecodeSketch(b []byte) (k Sketch, ok bool) { return decodeSketch(b) }

func decodeSketch(b []byte) (Sketch, bool) {
	var k Sketch
	r := varints{ok: true}
	if k.Zero = r.next(b); !r.ok {
		return k, false
	}
	for side := range 2 {
		cnt := r.count(b)
		if !r.ok {
			return k, false
		}
		for range cnt {
			i, c := r.next(b), r.next(b)
			if !r.ok || i < math.MinInt32 || i > math.MaxInt32 {
				return k, false
			}
			if side == 0 {
				k.Neg = bump(k.Neg, int32(i), c)
			} else {
				k.Pos = bump(k.Pos, int32(i), c)
			}
		}
	}
	return k, r.off == len(b)
}

// varints reads the encoding Encode writes (the zero count, then each
// side's bucket count and its (index, count) pairs) from the start of b,
// for the three decoders of it: decodeSketch, DecodeUserHist and
// orderedPacked. b is passed to each read rather than kept, so that
// reading a string's bytes ([]byte(s)) does not copy them.
type varints struct {
	off int // the bytes read so far
	// ok turns false at the first malformed or missing varint (or a count
	// larger than the bytes left); what follows then reads as 0.
	ok bool
}

// next reads a signed varint.
func (r *varints) next(b []byte) int64 {
	v, n := binary.Varint(b[r.off:])
	if n <= 0 {
		r.off, r.ok = len(b), false
		return 0
	}
	r.off += n
	return v
}

// count reads a side's bucket count, which must fit in the bytes left.
func (r *varints) count(b []byte) uint64 {
	cnt, n := binary.Uvarint(b[r.off:])
	if n <= 0 || cnt > uint64(len(b)-r.off) {
		r.off, r.ok = len(b), false
		return 0
	}
	r.off += n
	return cnt
}
