package metric

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/valueloop/valueloop/stats"
)

// quantileGolden mirrors the "quantiles" section of stats/testdata/golden.json
// (gen_golden.py: numpy order statistics, scipy's normal distribution).
type quantileGolden struct {
	Q                  float64
	Control, Treatment []float64
	Arms               []struct {
		N            int64
		Estimate, SE float64
		Ranks        [3]int64
	}
	Want quantileWant
}

// quantileWant is the comparison of two arms' quantiles in golden.json.
type quantileWant struct {
	Diff, SE, Statistic, PValue          float64
	Interval                             stats.Interval
	Relative, RelativeSE, RelativePValue float64
	RelativeInterval                     stats.Interval
}

// checkQuantileComparison analyses two arms' quantile summaries as package
// stats does (z-test, delta method for the relative effect) and checks the
// comparison against w.
func checkQuantileComparison(t *testing.T, sums [2]stats.Summary, w quantileWant) {
	t.Helper()
	res, err := stats.Analyze(stats.Settings{Alpha: 0.05, Alternative: stats.TwoSided, SequentialTuning: 10000, Correction: stats.NoCorrection}, stats.Input{
		Variants: []stats.Variant{{Name: "c", Weight: 1, Units: sums[0].N}, {Name: "t", Weight: 1, Units: sums[1].N}},
		Metrics:  []stats.Metric{{Name: "p", Kind: stats.Quantile, Summaries: sums[:]}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmp := res.Metrics[0].Comparisons[0]
	closeTo(t, "diff", cmp.Absolute.Estimate, w.Diff)
	closeTo(t, "se", cmp.Absolute.SE, w.SE)
	closeTo(t, "statistic", cmp.Statistic, w.Statistic)
	closeTo(t, "pValue", cmp.PValue, w.PValue)
	closeTo(t, "lower", cmp.Absolute.Interval.Lower, w.Interval.Lower)
	closeTo(t, "upper", cmp.Absolute.Interval.Upper, w.Interval.Upper)
	closeTo(t, "relative", cmp.Relative.Estimate, w.Relative)
	closeTo(t, "relativeSE", cmp.Relative.SE, w.RelativeSE)
	closeTo(t, "relativePValue", cmp.Relative.PValue, w.RelativePValue)
	closeTo(t, "relative lower", cmp.Relative.Interval.Lower, w.RelativeInterval.Lower)
	if cmp.DF != 0 {
		t.Errorf("df = %v, want a z-test", cmp.DF)
	}
}

// loadGolden reads one section of stats/testdata/golden.json.
func loadGolden[T any](t *testing.T, section string) []T {
	t.Helper()
	b, err := os.ReadFile("../stats/testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]json.RawMessage
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	var out []T
	if err := json.Unmarshal(g[section], &out); err != nil || len(out) == 0 {
		t.Fatalf("no %s cases in golden.json (%v)", section, err)
	}
	return out
}

func closeTo(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.12g, want %.12g", name, got, want)
	}
}

// exactSummary is QuantileSummary on the data itself (no sketch).
func exactSummary(xs []float64, q float64) (stats.Summary, [3]int64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := int64(len(s))
	e, l, u := QuantileRanks(n, q, z975)
	return stats.QuantileSummary(n, s[e-1], (s[u-1]-s[l-1])/(2*z975)), [3]int64{e, l, u}
}

// TestGoldenQuantile: the quantile, its order-statistics interval and SE,
// and the comparison of two arms, on exact data, against gen_golden.py.
func TestGoldenQuantile(t *testing.T) {
	for i, c := range loadGolden[quantileGolden](t, "quantiles") {
		t.Run(fmt.Sprintf("%d-q%v", i, c.Q), func(t *testing.T) {
			var sums [2]stats.Summary
			for a, xs := range [][]float64{c.Control, c.Treatment} {
				s, ranks := exactSummary(xs, c.Q)
				if ranks != c.Arms[a].Ranks {
					t.Errorf("arm %d ranks %v, want %v", a, ranks, c.Arms[a].Ranks)
				}
				closeTo(t, "estimate", s.Mean, c.Arms[a].Estimate)
				closeTo(t, "se", math.Sqrt(s.M2/float64(s.N)/float64(s.N-1)), c.Arms[a].SE)
				sums[a] = s
			}
			checkQuantileComparison(t, sums, c.Want)
		})
	}
}

// TestSketchQuantileAccuracy: the sketch's quantile and interval bounds are
// within SketchAccuracy of the exact order statistics, for values of both
// signs, and removing values restores the sketch exactly.
func TestSketchQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	var xs []float64
	var k Sketch
	for range 5000 {
		x := math.Round(math.Exp(r.NormFloat64()*1.5+3)*1e6) / 1e6
		if r.IntN(10) == 0 {
			x = -x
		}
		xs = append(xs, x)
		k.Add(int64(math.Round(x*Scale)), 1)
	}
	slices.Sort(xs)
	for _, q := range []float64{0.05, 0.5, 0.9, 0.99, 0.999} {
		e, l, u := QuantileRanks(int64(len(xs)), q, z975)
		for _, rank := range []int64{e, l, u} {
			got, want := k.AtRank(rank), xs[rank-1]
			if math.Abs(got-want) > SketchAccuracy*math.Abs(want)+1e-12 {
				t.Errorf("q %v rank %d: sketch %v, exact %v", q, rank, got, want)
			}
		}
	}
	before := k
	var s Sums
	s.SetSketch(k)
	k.Add(12_345_678, 1)
	k.Add(12_345_678, -1)
	var s2 Sums
	s2.SetSketch(k)
	if s != s2 || before.Count() != 5000 {
		t.Error("adding and removing a value changed the sketch")
	}
	buf, _ := s.MarshalBinary()
	var back Sums
	if err := back.UnmarshalBinary(buf); err != nil || back != s {
		t.Errorf("round trip: %v", err)
	}
	if err := back.UnmarshalBinary(append(buf[:sumsBytes:sumsBytes], 0xff)); err == nil {
		t.Error("a corrupt sketch was accepted")
	}
}
