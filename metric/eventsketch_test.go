package metric

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/valueloop/valueloop/stats"
)

// eventQuantileGolden mirrors the "eventQuantiles" section of
// stats/testdata/golden.json (gen_golden.py: numpy order statistics and
// sample covariances, scipy's normal distribution).
type eventQuantileGolden struct {
	Q                  float64
	Control, Treatment [][]float64 // per user, their events' values
	Arms               []struct {
		Users, Events          int64
		Estimate, SE, Variance float64
		Ranks                  [3]int64
		NaiveRanks             [2]int64
	}
	Want quantileWant
}

// exactBuckets are the buckets of an EventSketch with one bucket per
// distinct value, so that the order statistics are the data's own.
func exactBuckets(users [][]float64) []cbucket {
	var all []float64
	for _, xs := range users {
		all = append(all, xs...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	bs := make([]cbucket, len(all))
	for i, v := range all {
		bs[i].v = v
	}
	for _, xs := range users {
		counts := map[int]int64{}
		for _, x := range xs {
			i, _ := slices.BinarySearch(all, x)
			counts[i]++
		}
		n, s := int64(len(xs)), int64(0)
		for _, i := range slices.Sorted(func(yield func(int) bool) {
			for i := range counts {
				if !yield(i) {
					return
				}
			}
		}) {
			c := counts[i]
			prev := s
			s += c
			bs[i].n += c
			bs[i].cross += n * c
			bs[i].square += s*s - prev*prev
		}
	}
	return bs
}

// TestGoldenEventQuantile: the quantile over events, its clustered
// interval's ranks and SE, and the comparison of two arms, on exact data,
// against gen_golden.py; the iid ranks are narrower on this clustered data.
func TestGoldenEventQuantile(t *testing.T) {
	for i, c := range loadGolden[eventQuantileGolden](t, "eventQuantiles") {
		t.Run(fmt.Sprintf("%d-q%v", i, c.Q), func(t *testing.T) {
			var sums [2]stats.Summary
			for a, users := range [][][]float64{c.Control, c.Treatment} {
				want := c.Arms[a]
				bs := exactBuckets(users)
				k := int64(len(users))
				e, l, u := clusteredRanks(bs, k, c.Q, z975)
				if got := [3]int64{e, l, u}; got != want.Ranks {
					t.Errorf("arm %d ranks %v, want %v", a, got, want.Ranks)
				}
				if v := clusteredVariance(bs, k, e); math.Abs(v-want.Variance) > 1e-9*want.Variance {
					t.Errorf("arm %d variance of the fraction below the quantile %.12g, want %.12g", a, v, want.Variance)
				}
				ne, nl, nu := QuantileRanks(want.Events, c.Q, z975)
				if ne != e || [2]int64{nl, nu} != want.NaiveRanks || !(l < nl && u > nu) {
					t.Errorf("arm %d iid ranks %v %v, want %v inside the clustered %v", a, ne, [2]int64{nl, nu}, want.NaiveRanks, want.Ranks)
				}
				s := clusteredSummary(bs, k, c.Q)
				if s.N != want.Users {
					t.Errorf("arm %d N = %d, want the %d users", a, s.N, want.Users)
				}
				closeTo(t, "estimate", s.Mean, want.Estimate)
				closeTo(t, "se", math.Sqrt(s.M2/float64(s.N)/float64(s.N-1)), want.SE)
				sums[a] = s
			}
			checkQuantileComparison(t, sums, c.Want)
		})
	}
}

// clusteredUser draws one user of a clustered latency: exp(μ + u + ε) with
// a user effect u ~ N(0, 0.5²) shared by their 1 + Poisson-ish(9) events and
// ε ~ N(0, 0.5²) per event, so events of one user are alike (correlation
// 0.5 on the log scale). The number of events does not depend on u, so the
// events' distribution is lognormal(μ, 0.5·√2) and its q-quantile is known.
func clusteredUser(r *rand.Rand, mu float64) []int64 {
	n := 1 + r.IntN(19)
	u := 0.5 * r.NormFloat64()
	xs := make([]int64, n)
	for j := range xs {
		xs[j] = int64(math.Exp(mu+u+0.5*r.NormFloat64()) * Scale)
	}
	return xs
}

// TestEventQuantileCoverage: on clustered events, the sketch's clustered
// interval for p90 covers the true quantile about 95% of the time, and
// Conover's iid interval on the same sketch does not. 1000 seeded runs: the
// coverage's standard error is 0.007, so 0.93–0.97 is ±3 of them.
func TestEventQuantileCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	const runs, users, q, mu = 1000, 300, 0.9, 3.0
	// the q-quantile of lognormal(μ, σ√2), Φ⁻¹(0.9) = 1.2815515655446004
	truth := math.Exp(mu + 0.5*math.Sqrt2*1.2815515655446004)
	r := rand.New(rand.NewPCG(2026, 12))
	var clustered, iid int
	for range runs {
		var k EventSketch
		var plain Sketch
		for range users {
			var h UserHist
			for _, x := range clusteredUser(r, mu) {
				h.Add(x, 1)
				plain.Add(x, 1)
			}
			k.AddUser(h, 1)
		}
		_, lo, hi := k.QuantileInterval(users, q, z975)
		if lo <= truth && truth <= hi {
			clustered++
		}
		_, l, u := QuantileRanks(plain.Count(), q, z975)
		if plain.AtRank(l) <= truth && truth <= plain.AtRank(u) {
			iid++
		}
	}
	c, n := float64(clustered)/runs, float64(iid)/runs
	if c < 0.93 || c > 0.97 {
		t.Errorf("clustered interval covers %.3f of runs, want 0.93–0.97", c)
	}
	if n > 0.88 {
		t.Errorf("iid interval covers %.3f of runs: the data are not clustered enough to tell the intervals apart", n)
	}
	t.Logf("coverage: clustered %.3f, iid %.3f", c, n)
}

// TestEventSketchIncremental: removing a user undoes adding them exactly,
// the three sketches survive Sums' storage and merging (Add) packed into
// one, and a sketch built user by user in two halves and merged equals one
// built at once.
func TestEventSketchIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var whole, a, b EventSketch
	var hs []UserHist
	for i := range 200 {
		var h UserHist
		for _, x := range clusteredUser(r, 2) {
			if r.IntN(20) == 0 {
				x = -x // both signs, and zero
			} else if r.IntN(40) == 0 {
				x = 0
			}
			h.Add(x, 1)
		}
		hs = append(hs, h)
		whole.AddUser(h, 1)
		if i%2 == 0 {
			a.AddUser(h, 1)
		} else {
			b.AddUser(h, 1)
		}
	}
	var sa, sb, sw Sums
	sa.SetEventSketch(a)
	sb.SetEventSketch(b)
	sw.SetEventSketch(whole)
	sa.Add(sb)
	if sa != sw {
		t.Error("merging two halves differs from adding every user to one sketch")
	}
	buf, _ := sw.MarshalBinary()
	var back Sums
	if err := back.UnmarshalBinary(buf); err != nil || back != sw {
		t.Fatalf("round trip: %v", err)
	}
	got := back.EventSketch()
	var again Sums
	again.SetEventSketch(got)
	if again != sw || got.Events.Count() != whole.Events.Count() || got.Events.Zero == 0 || len(got.Square.Neg) == 0 {
		t.Error("unpacking the stored sketches lost counts")
	}
	if !slices.Equal(orderedPacked([]byte(sw.q)), whole.ordered()) {
		t.Error("the buckets read from the stored sketches differ from the sketch's own")
	}
	withN := sw
	withN.N = 200 // what Apply counts in the engine
	if s, w := SummaryOf(Metric{Kind: Quantile, Over: OverEvent, Quantile: 0.9}, withN), whole.QuantileSummary(200, 0.9); s != w || s.N != 200 || s.Mean == 0 {
		t.Errorf("summary from the stored sketches %+v, from the sketch %+v", s, w)
	}
	before := sw
	whole.AddUser(hs[7], -1)
	whole.AddUser(hs[7], 1)
	sw.SetEventSketch(whole)
	if sw != before {
		t.Error("removing and adding a user back changed the sketch")
	}
	for _, h := range hs {
		whole.AddUser(h, -1)
	}
	sw.SetEventSketch(whole)
	if !sw.IsZero() {
		t.Errorf("removing every user left %+v", whole)
	}
}

// TestEventQuantileSketchAccuracy: read from the sketch, the estimate and
// interval ends are within SketchAccuracy of the exact ones of the same
// events.
func TestEventQuantileSketchAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	var k EventSketch
	var users [][]float64
	for range 2000 {
		var h UserHist
		var xs []float64
		for _, x := range clusteredUser(r, 4) {
			h.Add(x, 1)
			xs = append(xs, float64(x)/Scale)
		}
		users = append(users, xs)
		k.AddUser(h, 1)
	}
	bs := exactBuckets(users)
	var sorted []float64
	for _, b := range bs {
		for range b.n {
			sorted = append(sorted, b.v)
		}
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		e, l, u := clusteredRanks(bs, int64(len(users)), q, z975)
		est, lo, hi := k.QuantileInterval(int64(len(users)), q, z975)
		// The sketch's ranks may differ a little from the exact ones (the
		// fraction below a bucket is not the one below a value), so compare
		// each end with the exact order statistics around it.
		for _, c := range []struct {
			name string
			got  float64
			rank int64
		}{{"estimate", est, e}, {"lower", lo, l}, {"upper", hi, u}} {
			want := sorted[c.rank-1]
			if math.Abs(c.got-want) > 2*SketchAccuracy*want {
				t.Errorf("q %v %s: sketch %v, exact %v", q, c.name, c.got, want)
			}
		}
	}
}

// BenchmarkQuantileSummary reads a quantile's summary from stored sums, as
// a result or a guardrail does, for 100,000 users with 1 to 19 events each:
// over users (one value per user) and over events (about a million, with
// the clustered interval), side by side.
func BenchmarkQuantileSummary(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var byUser Sketch
	var byEvent EventSketch
	var su, se Sums
	for range 100_000 {
		var h UserHist
		var sum, n int64
		for _, x := range clusteredUser(r, 4) {
			h.Add(x, 1)
			sum += x
			n++
		}
		byUser.Add(sum/n, 1)
		byEvent.AddUser(h, 1)
		su.Apply(sum/n, 0, 0, 1)
		se.Apply(n*Scale, 0, 0, 1)
	}
	su.SetSketch(byUser)
	se.SetEventSketch(byEvent)
	for _, c := range []struct {
		over string
		s    Sums
	}{{OverUser, su}, {OverEvent, se}} {
		m := Metric{Kind: Quantile, Quantile: 0.99, Over: c.over}
		b.Run("over="+c.over, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s := SummaryOf(m, c.s); s.N != 100_000 {
					b.Fatal(s.N)
				}
			}
		})
	}
}

// TestUserBucketBound: the per-user state a quantile over events costs is
// bounded whatever the values: one user's bucket counts (per flag and
// metric) have at most 3,855 buckets: every bucket of either sign that a
// value in millionths up to MaxValue falls in (fewer than the mapping has
// between 10⁻⁶ and 10¹², as no millionth falls in some of the narrow
// buckets near 10⁻⁶) and zero's; and 462 for values from 1 ms to 10 s. The
// figures docs/experiments.md gives.
func TestUserBucketBound(t *testing.T) {
	fill := func(lo, hi float64, signs ...int64) Sketch {
		var h Sketch
		for v := lo; v <= hi*(1+SketchAccuracy); v *= 1 + SketchAccuracy/2 {
			for _, s := range signs {
				h.Add(s*int64(math.Round(min(v, hi)*Scale)), 1)
			}
		}
		return h
	}
	buckets := func(h Sketch) int { return len(h.Pos) + len(h.Neg) + int(min(h.Zero, 1)) }
	all := fill(1.0/Scale, MaxValue, -1, 1)
	all.Add(0, 1)
	if got := buckets(all); got != 3855 {
		t.Errorf("every value within ±MaxValue: %d buckets, want 3855", got)
	}
	if got := buckets(fill(0.001, 10, 1)); got != 462 {
		t.Errorf("1 ms to 10 s: %d buckets, want 462", got)
	}
	t.Logf("encoded: %d bytes for every bucket, %d for 1 ms to 10 s", len(all.Encode(nil)), len(fill(0.001, 10, 1).Encode(nil)))
}

// TestEventQuantileForeignSketch: sums whose sketch is not an EventSketch
// (a quantile over users' sketch, left by the definition a metric of the
// same key had before it was deleted and created again, until the rebuild)
// have no summary: read as one, their Cross and Square would be zero, and
// so the interval's width, which would make any difference significant.
func TestEventQuantileForeignSketch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var plain Sketch
	var s Sums
	for range 500 {
		x := int64(math.Exp(3+r.NormFloat64()) * Scale)
		plain.Add(x, 1)
		s.Apply(x, 0, 0, 1)
	}
	s.SetSketch(plain)
	over := Metric{Kind: Quantile, Quantile: 0.9, Over: OverUser}
	if got := SummaryOf(over, s); got.N != 500 {
		t.Fatalf("over users: %+v, want a summary of the 500 users", got)
	}
	over.Over = OverEvent
	if got := SummaryOf(over, s); got != (stats.Summary{}) {
		t.Errorf("a quantile over users' sketch read as over events: %+v, want no summary", got)
	}
	// And the other way: the packed sketches of a quantile over events,
	// read as over users, would put Cross and Square at infinite values.
	var k EventSketch
	for range 200 {
		var h UserHist
		for _, x := range clusteredUser(r, 3) {
			h.Add(x, 1)
		}
		k.AddUser(h, 1)
	}
	var e Sums
	e.SetEventSketch(k)
	e.N = 200
	if got := SummaryOf(over, e); got.N != 200 || math.IsInf(got.Mean, 0) {
		t.Fatalf("over events: %+v, want a summary of the 200 users", got)
	}
	over.Over = OverUser
	if got := SummaryOf(over, e); got != (stats.Summary{}) {
		t.Errorf("a quantile over events' sketches read as over users: %+v, want no summary", got)
	}
}
