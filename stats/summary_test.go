package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/valueloop/valueloop/valuelooptest"
)

// twoPass computes a Summary the textbook way, for comparison.
func twoPass(x, y, c []float64) Summary {
	n := float64(len(x))
	mean := func(v []float64) float64 {
		var s float64
		for _, e := range v {
			s += e
		}
		return s / n
	}
	co := func(a []float64, ma float64, b []float64, mb float64) float64 {
		var s float64
		for i := range a {
			s += (a[i] - ma) * (b[i] - mb)
		}
		return s
	}
	mx, my, mc := mean(x), mean(y), mean(c)
	return Summary{
		N: int64(len(x)), Mean: mx, M2: co(x, mx, x, mx),
		DenMean: my, DenM2: co(y, my, y, my), XDen: co(x, mx, y, my),
		PreMean: mc, PreM2: co(c, mc, c, mc), XPre: co(x, mx, c, mc), DenPre: co(y, my, c, mc),
	}
}

func checkSummary(t *testing.T, name string, got, want Summary, rel float64) {
	t.Helper()
	if got.N != want.N {
		t.Errorf("%s: N = %d, want %d", name, got.N, want.N)
	}
	pairs := []struct {
		field     string
		got, want float64
	}{
		{"Mean", got.Mean, want.Mean}, {"M2", got.M2, want.M2},
		{"DenMean", got.DenMean, want.DenMean}, {"DenM2", got.DenM2, want.DenM2}, {"XDen", got.XDen, want.XDen},
		{"PreMean", got.PreMean, want.PreMean}, {"PreM2", got.PreM2, want.PreM2},
		{"XPre", got.XPre, want.XPre}, {"DenPre", got.DenPre, want.DenPre},
	}
	for _, p := range pairs {
		if math.Abs(p.got-p.want) > rel*math.Max(math.Abs(p.want), 1) {
			t.Errorf("%s: %s = %.17g, want %.17g", name, p.field, p.got, p.want)
		}
	}
}

func randomUnits(r *rand.Rand, n int, offset float64) (x, y, c []float64) {
	for range n {
		cv := offset + 5*r.NormFloat64()
		yv := float64(1 + r.IntN(5))
		x = append(x, offset+yv*3+0.4*cv+r.NormFloat64())
		y = append(y, yv)
		c = append(c, cv)
	}
	return x, y, c
}

func TestSummaryAddMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y, c := randomUnits(r, 1000, 0)
	want := twoPass(x, y, c)

	var all Summary
	for i := range x {
		all.Add(x[i], y[i], c[i])
	}
	checkSummary(t, "Add", all, want, 1e-12)

	// Merge in uneven chunks, in two different orders.
	var parts []Summary
	for lo := 0; lo < len(x); {
		hi := min(len(x), lo+1+r.IntN(200))
		var p Summary
		for i := lo; i < hi; i++ {
			p.Add(x[i], y[i], c[i])
		}
		parts = append(parts, p)
		lo = hi
	}
	var fwd, back Summary
	for i := range parts {
		fwd = Merge(fwd, parts[i])
		back = Merge(parts[len(parts)-1-i], back)
	}
	checkSummary(t, "Merge forward", fwd, want, 1e-12)
	checkSummary(t, "Merge backward", back, want, 1e-12)
	checkSummary(t, "Merge with empty", Merge(Summary{}, want), want, 0)

	var sums Sums
	for i := range x {
		sums.N++
		sums.Sum += x[i]
		sums.SumSq += x[i] * x[i]
		sums.DenSum += y[i]
		sums.DenSumSq += y[i] * y[i]
		sums.SumXDen += x[i] * y[i]
		sums.PreSum += c[i]
		sums.PreSumSq += c[i] * c[i]
		sums.SumXPre += x[i] * c[i]
		sums.SumDenPre += y[i] * c[i]
	}
	checkSummary(t, "Sums", sums.Summary(), want, 1e-9)
	if err := all.Validate(Ratio); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestSummaryLargeMean is why Summary is centred: with values around 1e9
// and unit spread, raw sums lose the variance entirely while Add and Merge
// keep it.
func TestSummaryLargeMean(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x, y, c := randomUnits(r, 10000, 1e9)
	want := twoPass(x, y, c)
	var a, b Summary
	var sum, sumSq float64
	for i := range x {
		if i%2 == 0 {
			a.Add(x[i], y[i], c[i])
		} else {
			b.Add(x[i], y[i], c[i])
		}
		sum += x[i]
		sumSq += x[i] * x[i]
	}
	got := Merge(a, b)
	if rel := math.Abs(got.M2-want.M2) / want.M2; rel > 1e-6 {
		t.Errorf("centred M2 = %v, want %v (rel. error %.2g)", got.M2, want.M2, rel)
	}
	naive := Sums{N: int64(len(x)), Sum: sum, SumSq: sumSq}.Summary().M2
	if rel := math.Abs(naive-want.M2) / want.M2; rel < 1e-2 {
		t.Errorf("raw sums kept M2 to %.2g: the test no longer shows cancellation", rel)
	}
}

func TestProportionSummary(t *testing.T) {
	var s Summary
	for i := range 37 {
		x := 0.0
		if i%3 == 0 {
			x = 1
		}
		s.Add(x, 0, 0)
	}
	checkSummary(t, "ProportionSummary", ProportionSummary(37, 13), s, 1e-14)
}

func TestSummaryValidate(t *testing.T) {
	err := Summary{N: 5, Mean: 1, M2: -0.5}.Validate(Mean)
	valuelooptest.WantFieldError(t, err, "summary.m2")
	err = Summary{N: 5, Mean: 1}.Validate("weird")
	valuelooptest.WantFieldError(t, err, "summary.kind")
	// Rounding noise in raw sums is not reported as a negative variance.
	// (0.1 three times: SumSq − Sum²/N comes out as −3.5e-18.)
	var sums Sums
	for range 3 {
		sums.N++
		sums.Sum += 0.1
		sums.SumSq += 0.1 * 0.1
	}
	s := sums.Summary()
	if err := s.Validate(Mean); err != nil || s.M2 != 0 {
		t.Errorf("constant data from sums: M2 = %v, err = %v; want 0, nil", s.M2, err)
	}
}
