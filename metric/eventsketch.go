package metric

import (
	"cmp"
	"math"
	"math/big"
	"slices"

	"github.com/valueloop/valueloop/stats"
)

// EventSketch is what a quantile over events (Over "event") keeps of one
// variant: the sketch of all events' values and two more counts per bucket
// that give the variance of the quantile when each user's events are a
// cluster. With c_ib the count of user i's events in bucket b, N_i = Σ_b c_ib
// their number, and S_i(b) = Σ_{b' ≤ b} c_ib' the count of their events in
// buckets up to b:
//
//	Events[b] = Σ_i c_ib
//	Cross[b]  = Σ_i N_i · c_ib                   so Σ_{b'≤b} Cross[b']  = Σ_i N_i · S_i(b)
//	Square[b] = Σ_i (S_i(b)² − S_i(b⁻)²)         so Σ_{b'≤b} Square[b'] = Σ_i S_i(b)²
//
// (b⁻ the user's bucket before b). A user contributes only at the buckets
// they have events in, and removing them subtracts exactly what adding them
// added, so the sketch stays incremental and mergeable like Sketch, whatever
// the quantile's estimate turns out to be: the sums over users that its
// variance needs at any bucket are prefix sums. The price is per-user state:
// each user's own bucket counts (a Sketch) of the metric's events, per flag
// they are exposed to; bounded whatever the values, as a value in
// millionths within ±MaxValue falls in one of at most 3,855 buckets
// (TestUserBucketBound).
type EventSketch struct {
	Events, Cross, Square Sketch
}

// AddUser adds (sign 1) or removes (sign −1) one user whose events' values
// are counted in h.
func (k *EventSketch) AddUser(h UserHist, sign int) {
	n := h.Count()
	var s int64
	w := int64(sign)
	for _, hb := range h.b { // in value order
		b, c := hb.bkey(), hb.n
		prev := s
		s += c
		k.Events.addAt(b, w*c)
		k.Cross.addAt(b, w*n*c)
		k.Square.addAt(b, w*(s*s-prev*prev))
	}
}

// Merge adds o's counts to k.
func (k *EventSketch) Merge(o EventSketch) {
	k.Events.Merge(o.Events)
	k.Cross.Merge(o.Cross)
	k.Square.Merge(o.Square)
}

// cbucket is one bucket of an EventSketch in value order.
type cbucket struct {
	v                float64
	n, cross, square int64
}

func (k EventSketch) ordered() []cbucket {
	keys := k.Events.keys()
	out := make([]cbucket, len(keys))
	for j, b := range keys {
		out[j] = cbucket{b.value(), k.Events.at(b), k.Cross.at(b), k.Square.at(b)}
	}
	return out
}

// orderedPacked is the buckets of the EventSketch packed into the encoded
// Sketch enc (as Sums holds it), in value order: unpack(decodeSketch(enc)),
// ordered, without building maps. Encode writes each side's buckets in index
// order, so each plane's buckets come sorted, and a value's Cross and Square
// are found by binary search. Reading a result does this per arm.
func orderedPacked(enc []byte) []cbucket {
	type ic struct {
		i int32
		c int64
	}
	r := varints{ok: true}
	var zeros [3]int64
	zeros[0] = r.next(enc)
	var sides [2][3][]ic // negative, positive; by plane
	for side := range 2 {
		cnt := r.count(enc)
		if !r.ok {
			return nil
		}
		for range cnt {
			i, c := r.next(enc), r.next(enc)
			p := int64(0)
			if i >= plane/2 {
				p = (i + plane/2) / plane
			}
			if p > 2 {
				continue // not written by pack
			}
			rel := i - p*plane
			if p > 0 && side == 1 && rel == -plane/2 {
				zeros[p] += c
				continue
			}
			sides[side][p] = append(sides[side][p], ic{int32(rel), c})
		}
	}
	find := func(s []ic, i int32) int64 {
		j, ok := slices.BinarySearchFunc(s, i, func(e ic, t int32) int { return cmp.Compare(e.i, t) })
		if ok {
			return s[j].c
		}
		return 0
	}
	neg, pos := sides[0], sides[1]
	out := make([]cbucket, 0, len(neg[0])+len(pos[0])+1)
	for j := len(neg[0]) - 1; j >= 0; j-- {
		e := neg[0][j]
		out = append(out, cbucket{-sketchMapping.Value(int(e.i)), e.c, find(neg[1], e.i), find(neg[2], e.i)})
	}
	if zeros[0] != 0 {
		out = append(out, cbucket{0, zeros[0], zeros[1], zeros[2]})
	}
	for _, e := range pos[0] {
		out = append(out, cbucket{sketchMapping.Value(int(e.i)), e.c, find(pos[1], e.i), find(pos[2], e.i)})
	}
	return out
}

// clusteredRanks returns the ranks, among all M events of the
// buckets bs (in value order, M ≥ 1), of the sample quantile q and of its
// interval at the normal quantile z when the events of each of the users
// are a cluster. It is Conover's order-statistics interval with the
// binomial variance q(1−q)/M of the fraction of events below the quantile
// replaced by its delta-method variance over users (Deng, Knoblich and Lu,
// "Applying the Delta Method in Metric Analytics", KDD 2018, §4, quantile
// metrics; what GrowthBook's event-level quantile metrics do). With ξ the
// estimate x_(⌈Mq⌉), S_i the count of user i's events ≤ ξ, N_i the count of
// all their events and r = ΣS_i/M, the fraction F̂(ξ) = ΣS_i/ΣN_i is a ratio
// of means, so
//
//	Var F̂ = (s²_S − 2r·s_SN + r²·s²_N) / (K·N̄²)
//	      = K·Σ_i (S_i − r·N_i)² / ((K − 1)·M²)
//
// (sample (co)variances with divisor K − 1, N̄ = M/K), and the interval is
// [x_(l), x_(u)] with l = ⌊Mq − h⌋, u = ⌈Mq + h⌉, h = z·M·√Var F̂, clamped
// to [1, M]. With one event per user S_i ∈ {0, 1} and this is Conover's
// interval again, up to the divisor. Σ(S_i − r·N_i)² is computed exactly
// from the bucket sums (ΣS², ΣS·N, ΣN²) and rounded once. Fewer than two
// users give the widest interval, [1, M].
func clusteredRanks(bs []cbucket, users int64, q, z float64) (est, lo, hi int64) {
	var m int64
	for _, b := range bs {
		m += b.n
	}
	clamp := func(r float64) int64 { return int64(max(1, min(float64(m), r))) }
	mq := float64(m) * q
	est = clamp(math.Ceil(mq))
	if users < 2 {
		return est, 1, m
	}
	h := z * float64(m) * math.Sqrt(clusteredVariance(bs, users, est))
	return est, clamp(math.Floor(mq - h)), clamp(math.Ceil(mq + h))
}

// clusteredVariance is Var F̂ of clusteredRanks, the fraction of the events
// in the buckets up to the one of rank est, for users ≥ 2:
// K·Σ(S_i − r·N_i)² / ((K − 1)·M²), from the bucket sums exactly and
// rounded once.
func clusteredVariance(bs []cbucket, users, est int64) float64 {
	var m, sumNN int64
	for _, b := range bs {
		m += b.n
		sumNN += b.square
	}
	var s, sn, ss int64 // ΣS_i, ΣS_i·N_i, ΣS_i² at the estimate's bucket
	for _, b := range bs {
		s += b.n
		sn += b.cross
		ss += b.square
		if s >= est {
			break
		}
	}
	// M²·Σ(S_i − r·N_i)² = M²·ΣS² − 2·M·ΣS·ΣSN + (ΣS)²·ΣN².
	M, S := big.NewInt(m), big.NewInt(s)
	M2 := new(big.Int).Mul(M, M)
	num := new(big.Int).Mul(M2, big.NewInt(ss))
	num.Sub(num, new(big.Int).Mul(new(big.Int).Mul(big.NewInt(2), M), new(big.Int).Mul(S, big.NewInt(sn))))
	num.Add(num, new(big.Int).Mul(new(big.Int).Mul(S, S), big.NewInt(sumNN)))
	if num.Sign() < 0 { // only from a corrupt sketch
		num.SetInt64(0)
	}
	num.Mul(num, big.NewInt(users))
	den := new(big.Int).Mul(M2, M2)
	den.Mul(den, big.NewInt(users-1))
	f, _ := new(big.Rat).SetFrac(num, den).Float64()
	return f
}

// QuantileSummary is Sketch.QuantileSummary for a quantile over events of
// users users: the estimate x_(⌈Mq⌉) and SE = (x_(u) − x_(l))/(2 · 1.96)
// from clusteredRanks' 95% interval (as Price and Bonett take it).
// N is the number of users, the units that were randomised.
func (k EventSketch) QuantileSummary(users int64, q float64) stats.Summary {
	return clusteredSummary(k.ordered(), users, q)
}

func clusteredSummary(bs []cbucket, users int64, q float64) stats.Summary {
	var m, cross, square int64
	for _, b := range bs {
		m, cross, square = m+b.n, cross+b.cross, square+b.square
	}
	// Over every bucket Cross and Square both sum to Σ_i N_i² ≥ M: sums
	// that break this hold no EventSketch (a quantile over users' sketch,
	// left by an earlier definition of the metric's key until the rebuild),
	// and read as one they would give an interval of width zero.
	if m <= 0 || users <= 0 || cross != square || square < m {
		return stats.Summary{}
	}
	e, l, u := clusteredRanks(bs, users, q, z975)
	at := func(r int64) float64 {
		var cum int64
		for _, b := range bs {
			if cum += b.n; cum >= r {
				return b.v
			}
		}
		return bs[len(bs)-1].v
	}
	return stats.QuantileSummary(users, at(e), (at(u)-at(l))/(2*z975))
}

// QuantileInterval returns the estimate of quantile q and its interval at
// the normal quantile z, read from the sketch (within SketchAccuracy of the
// order statistics of the events' values).
func (k EventSketch) QuantileInterval(users int64, q, z float64) (est, lo, hi float64) {
	bs := k.ordered()
	e, l, u := clusteredRanks(bs, users, q, z)
	var plain []bucket
	for _, b := range bs {
		plain = append(plain, bucket{b.v, b.n})
	}
	return atRank(plain, e), atRank(plain, l), atRank(plain, u)
}

// The three sketches of an EventSketch are stored as one Sketch (what Sums
// holds and merges), Cross and Square in their own ranges of bucket indexes:
// plane p holds index i at p·plane + i and the zero bucket at
// p·plane − plane/2. Bucket indexes of values within ±MaxValue down to the
// smallest indexable float are far inside ±plane/4, so the planes never meet,
// and merging or storing the one Sketch merges or stores the three.
const plane = 1 << 26

func (k EventSketch) pack() Sketch {
	out := Sketch{Zero: k.Events.Zero}
	out.Merge(Sketch{Pos: k.Events.Pos, Neg: k.Events.Neg})
	for p, s := range []Sketch{k.Cross, k.Square} {
		off := int32((p + 1) * plane)
		for i, c := range s.Pos {
			out.Pos = bump(out.Pos, off+i, c)
		}
		for i, c := range s.Neg {
			out.Neg = bump(out.Neg, off+i, c)
		}
		if s.Zero != 0 {
			out.Pos = bump(out.Pos, off-plane/2, s.Zero)
		}
	}
	return out
}

func unpack(s Sketch) EventSketch {
	var k EventSketch
	k.Events.Zero = s.Zero
	planes := [3]*Sketch{&k.Events, &k.Cross, &k.Square}
	for neg, m := range []map[int32]int64{s.Pos, s.Neg} {
		for i, c := range m {
			p := int32(0)
			if i >= plane/2 {
				p = (i + plane/2) / plane
			}
			if p > 2 {
				continue // not written by pack
			}
			rel, dst := i-p*plane, planes[p]
			switch {
			case p > 0 && rel == -plane/2 && neg == 0:
				dst.Zero += c
			case neg == 0:
				dst.Pos = bump(dst.Pos, rel, c)
			default:
				dst.Neg = bump(dst.Neg, rel, c)
			}
		}
	}
	return k
}

// bkey names a bucket of a Sketch: side −1 for a negative value's bucket
// (by its magnitude's index), 0 for the zero bucket, 1 for a positive one.
type bkey struct {
	side int8
	i    int32
}

func (b bkey) value() float64 {
	switch b.side {
	case -1:
		return -sketchMapping.Value(int(b.i))
	case 1:
		return sketchMapping.Value(int(b.i))
	}
	return 0
}

// keys returns the buckets with a count, in value order.
func (k Sketch) keys() []bkey {
	out := make([]bkey, 0, len(k.Pos)+len(k.Neg)+1)
	neg := slices.Sorted(mapKeys(k.Neg))
	for j := len(neg) - 1; j >= 0; j-- {
		out = append(out, bkey{-1, neg[j]})
	}
	if k.Zero != 0 {
		out = append(out, bkey{0, 0})
	}
	for _, i := range slices.Sorted(mapKeys(k.Pos)) {
		out = append(out, bkey{1, i})
	}
	return out
}

func (k Sketch) at(b bkey) int64 {
	switch b.side {
	case -1:
		return k.Neg[b.i]
	case 1:
		return k.Pos[b.i]
	}
	return k.Zero
}

func (k *Sketch) addAt(b bkey, w int64) {
	if w == 0 {
		return
	}
	switch b.side {
	case -1:
		k.Neg = bump(k.Neg, b.i, w)
	case 1:
		k.Pos = bump(k.Pos, b.i, w)
	default:
		k.Zero += w
	}
}
