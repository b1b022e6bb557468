package stats

import (
	"math"
	"testing"
)

// TestTQuantileSeries backs tQuantileSeriesDF: from there on the
// Cornish–Fisher start is returned unpolished, so it must already agree with
// a Newton-polished root to rounding.
func TestTQuantileSeries(t *testing.T) {
	for _, df := range []float64{tQuantileSeriesDF, 3e5, 1e7} {
		for _, p := range []float64{1e-12, 1e-6, 0.0005, 0.025, 0.05, 0.3, 0.975} {
			got := tQuantile(p, df)
			want := got
			for range 4 {
				want -= (tCDF(want, df) - p) / tPDF(want, df)
			}
			if math.Abs(got-want) > 1e-14*math.Abs(want) {
				t.Errorf("tQuantile(%v, %v) = %.17g, polished %.17g", p, df, got, want)
			}
		}
	}
}

// TestTSFRegimes checks that the continued fraction and the large-df
// expansion agree where tSF switches between them.
func TestTSFRegimes(t *testing.T) {
	for _, df := range []float64{500, 1000, 5000} {
		for _, x := range []float64{0.05, 1, 2.5, 6, math.Sqrt(1.7*df) * 0.99} {
			cf := 0.5 * incBeta(df/2, 0.5, df/(df+x*x), x*x/(df+x*x))
			ex := tSFLargeDF(x*x, df)
			if math.Abs(cf-ex) > 1e-12*cf {
				t.Errorf("df %v, t %v: continued fraction %.17g, expansion %.17g", df, x, cf, ex)
			}
		}
	}
}

func TestDistributionEdges(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"normQuantile(0.5)", normQuantile(0.5), 0},
		{"tQuantile(0.5, 7)", tQuantile(0.5, 7), 0},
		{"tSF(0, 3)", tSF(0, 3), 0.5},
		{"tSF(+inf df)", tSF(1.5, math.Inf(1)), normSF(1.5)},
		{"chi2SF(0, 3)", chi2SF(0, 3), 1},
		{"chi2SF(k=1) vs gammaQ", chi2SF(3.7, 1), gammaQ(0.5, 1.85)},
		{"chi2SF(k=2) vs gammaQ", chi2SF(3.7, 2), gammaQ(1, 1.85)},
	} {
		if math.Abs(c.got-c.want) > 1e-14*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
}
