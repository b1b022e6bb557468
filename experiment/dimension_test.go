package experiment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/valuelooptest"
)

var countries = []metric.Dimension{
	{Name: "country", Values: []string{"US", "GB", "DE"}},
	{Name: "platform", Values: []string{"ios", "android"}},
}

// simulateCountries is simulate with a country per user: the arms of each
// country (key "" for users whose exposure has no country), exposures
// carrying it as an attribute, aggregated through the real ingestion with
// the dimensions. It returns the cells of all users and those by country.
func simulateCountries(tb testing.TB, seed uint64, metrics []metric.Metric, byCountry map[string][]arm) (all, byDim []metric.Aggregate) {
	tb.Helper()
	var events []ingest.Event
	keys := make([]string, 0, len(byCountry))
	for c := range byCountry {
		keys = append(keys, c)
	}
	slices.Sort(keys) // map order must not change the events
	for i, c := range keys {
		aggsEvents := simulateEvents(tb, seed+uint64(i), "onboarding", byCountry[c], c)
		events = append(events, aggsEvents...)
	}
	for _, a := range recompute(tb, metrics, events, countries...) {
		switch a.Dimension {
		case "":
			all = append(all, a)
		case "country":
			byDim = append(byDim, a)
		}
	}
	return all, byDim
}

// simulateEvents makes the events of simulate, users named after the
// country, with the country in every exposure's attributes.
func simulateEvents(tb testing.TB, seed uint64, flag string, arms []arm, country string) []ingest.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	var events []ingest.Event
	const base = int64(1_767_225_600_000)
	var attrs []byte
	if country != "" {
		attrs = fmt.Appendf(nil, `{"country":%q,"platform":"ios"}`, country)
	}
	for _, a := range arms {
		for i := range a.users {
			key := fmt.Sprintf("%s-%s-%d", country, a.name, i)
			t0 := base + int64(len(events))*1000
			events = append(events, ingest.Event{Type: ingest.Exposure, Flag: flag, Variant: a.name, TargetingKey: key, Time: t0, TimeSet: true, Attributes: attrs})
			if r.Float64() < a.signup {
				events = append(events, ingest.Event{Type: ingest.Tracking, Name: "signup", TargetingKey: key, Time: t0 + 3, TimeSet: true})
				events = append(events, ingest.Event{Type: ingest.Tracking, Name: "purchase", TargetingKey: key, Time: t0 + 4, TimeSet: true, Value: money(a.spend + 20 + 3*r.NormFloat64()), HasValue: true})
			}
		}
	}
	return events
}

// TestDimensionSplit splits a result by country where only GB's users
// respond: the slices come in the dimension's order, add up to all users,
// and their p-values are corrected across every comparison of every slice.
func TestDimensionSplit(t *testing.T) {
	ms := testMetrics()[:2] // signup, revenue
	all, byCountry := simulateCountries(t, 1, ms, map[string][]arm{
		"US": {{name: "control", users: 800, signup: 0.3}, {name: "treatment", users: 800, signup: 0.3}},
		"GB": {{name: "control", users: 800, signup: 0.3}, {name: "treatment", users: 800, signup: 0.45}},
		"FR": {{name: "control", users: 300, signup: 0.3}, {name: "treatment", users: 300, signup: 0.3}},
		"":   {{name: "control", users: 200, signup: 0.3}, {name: "treatment", users: 200, signup: 0.3}},
	})
	res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: all, Settings: DefaultSettings(),
		Dimension: "country", Dimensions: countries, DimensionAggregates: byCountry})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Dimension
	if d == nil || d.Dimension != "country" || d.Warning != SliceWarning || d.Correction != stats.Holm {
		t.Fatalf("dimension = %+v, want country, the warning, holm", d)
	}
	var values []string
	var users int64
	for _, s := range d.Slices {
		values = append(values, s.Value)
		users += s.Users
	}
	// DE has no users; FR is not listed: other; no country: none.
	if want := []string{"US", "GB", metric.OtherValue, metric.NoneValue}; !slices.Equal(values, want) {
		t.Errorf("slices %q, want %q", values, want)
	}
	if users != res.Users || users != 4200 {
		t.Errorf("slices hold %d users, all users %d; want 4200 both", users, res.Users)
	}
	var raw []float64
	var lifts []*Lift
	for _, s := range d.Slices {
		if s.SRM == nil || s.SRM.Mismatch {
			t.Errorf("slice %s: SRM %+v, want a check and no mismatch", s.Value, s.SRM)
		}
		if got := []string{s.Metrics[0].Metric, s.Metrics[1].Metric}; !slices.Equal(got, []string{res.Metrics[0].Metric, res.Metrics[1].Metric}) {
			t.Errorf("slice %s: metrics %q, want those of all users in their order", s.Value, got)
		}
		for _, m := range s.Metrics {
			l := m.Variants[1].Lift
			raw, lifts = append(raw, l.PValue), append(lifts, l)
		}
	}
	if d.Comparisons != 8 || len(lifts) != 8 {
		t.Fatalf("comparisons = %d (%d lifts), want 4 slices × 2 metrics", d.Comparisons, len(lifts))
	}
	want, _ := stats.Adjust(raw, stats.Holm)
	var rel, relSeq []float64
	for _, l := range lifts {
		rel, relSeq = append(rel, l.Relative.PValue), append(relSeq, l.Relative.SequentialPValue)
	}
	wantRel, _ := stats.Adjust(rel, stats.Holm)
	wantRelSeq, _ := stats.Adjust(relSeq, stats.Holm)
	for i, l := range lifts {
		if l.AdjustedPValue != want[i] || l.Absolute.AdjustedPValue != want[i] {
			t.Errorf("comparison %d: adjusted p %v (absolute %v), want %v (holm over the 8)", i, l.AdjustedPValue, l.Absolute.AdjustedPValue, want[i])
		}
		// The relative scale, which the CLI shows, is its own family.
		if l.Relative.AdjustedPValue != wantRel[i] || l.Relative.AdjustedSequentialPValue != wantRelSeq[i] {
			t.Errorf("comparison %d: relative adjusted p %v, sequential %v; want %v, %v", i, l.Relative.AdjustedPValue, l.Relative.AdjustedSequentialPValue, wantRel[i], wantRelSeq[i])
		}
	}
	gb := d.Slices[1].Metrics[0].Variants[1].Lift // GB, signup
	if gb.AdjustedPValue >= 0.05 || gb.Absolute.Estimate < 0.1 {
		t.Errorf("GB signup: lift %v, adjusted p %v; want the +0.15 found", gb.Absolute.Estimate, gb.AdjustedPValue)
	}
	// Corrected across the slices, not within one: the smallest adjusted
	// p-value is the smallest raw one times 8 (Holm's first step).
	minRaw := slices.Min(raw)
	if got := slices.Min(want); math.Abs(got-math.Min(1, 8*minRaw)) > 1e-15 {
		t.Errorf("smallest adjusted p %v, want 8 × %v", got, minRaw)
	}
	// The figures of all users are untouched by the split.
	plain, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: all, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := plain.Metrics[0].Variants[1].Lift.AdjustedPValue, res.Metrics[0].Variants[1].Lift.AdjustedPValue; a != b {
		t.Errorf("all users' adjusted p %v with the split, %v without", b, a)
	}
}

// TestDimensionSliceWithOneArm: a slice whose users all saw one variant
// cannot be compared; it says so and takes no part in the correction.
func TestDimensionSliceWithOneArm(t *testing.T) {
	ms := testMetrics()[:1]
	all, byCountry := simulateCountries(t, 2, ms, map[string][]arm{
		"US": {{name: "control", users: 300, signup: 0.3}, {name: "treatment", users: 300, signup: 0.3}},
		"GB": {{name: "treatment", users: 40, signup: 0.3}},
	})
	res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: all, Settings: DefaultSettings(),
		Dimension: "country", Dimensions: countries, DimensionAggregates: byCountry})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Dimension
	if len(d.Slices) != 2 || d.Slices[1].Value != "GB" {
		t.Fatalf("slices = %+v, want US and GB", d.Slices)
	}
	gb := d.Slices[1]
	if gb.Users != 40 || (gb.Reason == "" && gb.Metrics[0].Variants[1].Lift != nil) {
		t.Errorf("GB = %+v, want 40 users and no comparison", gb)
	}
	if d.Comparisons != 1 {
		t.Errorf("comparisons = %d, want 1 (US only)", d.Comparisons)
	}
}

func TestDimensionBadInput(t *testing.T) {
	ms := testMetrics()[:1]
	all, byCountry := simulateCountries(t, 3, ms, map[string][]arm{
		"US": {{name: "control", users: 50, signup: 0.3}, {name: "treatment", users: 50, signup: 0.3}},
	})
	for _, tc := range []struct {
		name, dimension string
		dims            []metric.Dimension
	}{
		{"unknown dimension", "browser", countries},
		{"no dimensions kept", "country", nil},
		{"case matters", "Country", countries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: all, Settings: DefaultSettings(),
				Dimension: tc.dimension, Dimensions: tc.dims, DimensionAggregates: byCountry})
			valuelooptest.WantFieldError(t, err, "dimension")
		})
	}
}

// TestDimensionAAFamilyWise simulates 4,000 A/A experiments, each split
// into 10 slices of 3 independent metrics, and counts the experiments in
// which any slice's comparison is significant at α = 0.05: with the
// correction across slices the family-wise rate is Holm's under a
// complete null of 30 independent tests, 1 − (1 − α/30)^30 ≈ 0.0488;
// without it, nearly every experiment has a "finding".
//
// The bound is the Monte Carlo error of the runs, stated: 3 binomial
// standard errors (0.0102 at 4,000 runs), so the test fails an inflation
// to 0.065 (93% of the time) or 0.07 (99.7%), and an over-conservative
// correction alike. With 2,000 runs and a bare [0.04, 0.06] it logged
// 0.0535 and would have passed a real 0.059; 20,000 runs gave 0.0486
// (relative lifts 0.0493), so that 0.0535 was noise, not inflation.
func TestDimensionAAFamilyWise(t *testing.T) {
	if testing.Short() {
		t.Skip("4,000 simulated experiments")
	}
	ms := []metric.Metric{
		{Key: "m1", Kind: metric.Mean, Event: "e1"},
		{Key: "m2", Kind: metric.Mean, Event: "e2"},
		{Key: "m3", Kind: metric.Mean, Event: "e3"},
	}
	for i := range ms {
		if err := ms[i].Normalize(); err != nil {
			t.Fatal(err)
		}
	}
	var dim metric.Dimension
	dim.Name = "country"
	for i := range 10 {
		dim.Values = append(dim.Values, fmt.Sprintf("c%d", i))
	}
	dims := []metric.Dimension{dim}
	const runs, usersPerSlice = 4000, 300
	r := rand.New(rand.NewPCG(2026, 15))
	s := DefaultSettings()
	s.CUPED = false
	var corrected, uncorrected, relative int
	for range runs {
		var all, byDim []metric.Aggregate
		total := map[[2]string]*metric.Sums{}
		for _, v := range dim.Values {
			cells := map[[2]string]*metric.Sums{}
			for _, arm := range []string{"control", "treatment"} {
				for _, m := range append([]string{""}, "m1", "m2", "m3") {
					cells[[2]string{arm, m}] = &metric.Sums{}
					if total[[2]string{arm, m}] == nil {
						total[[2]string{arm, m}] = &metric.Sums{}
					}
				}
			}
			for range usersPerSlice {
				arm := "control"
				if r.IntN(2) == 1 {
					arm = "treatment"
				}
				cells[[2]string{arm, ""}].N++
				for _, m := range ms {
					x := int64((10 + r.NormFloat64()) * metric.Scale)
					cells[[2]string{arm, m.Key}].Apply(x, 0, 0, 1)
				}
			}
			for k, c := range cells {
				byDim = append(byDim, metric.Aggregate{Flag: "onboarding", Variant: k[0], Metric: k[1], Dimension: "country", Value: v, Sums: *c})
				total[k].Add(*c)
			}
		}
		for k, c := range total {
			all = append(all, metric.Aggregate{Flag: "onboarding", Variant: k[0], Metric: k[1], Sums: *c})
		}
		res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: all, Settings: s,
			Dimension: "country", Dimensions: dims, DimensionAggregates: byDim})
		if err != nil {
			t.Fatal(err)
		}
		if res.Dimension.Comparisons != 30 {
			t.Fatalf("%d comparisons, want 10 slices × 3 metrics", res.Dimension.Comparisons)
		}
		var anyAdj, anyRaw, anyRel bool
		for _, sl := range res.Dimension.Slices {
			for _, m := range sl.Metrics {
				l := m.Variants[1].Lift
				anyAdj = anyAdj || l.AdjustedPValue < s.Alpha
				anyRaw = anyRaw || l.PValue < s.Alpha
				anyRel = anyRel || l.Relative.AdjustedPValue < s.Alpha
			}
		}
		if anyAdj {
			corrected++
		}
		if anyRel {
			relative++
		}
		if anyRaw {
			uncorrected++
		}
	}
	fwer, raw, rel := float64(corrected)/runs, float64(uncorrected)/runs, float64(relative)/runs
	t.Logf("family-wise false-positive rate over %d A/A runs of 30 comparisons: %.4f corrected (holm), %.4f on the relative scale, %.4f uncorrected", runs, fwer, rel, raw)
	want := 1 - math.Pow(1-s.Alpha/30, 30)
	bound := 3 * math.Sqrt(want*(1-want)/runs) // Monte Carlo error of the runs
	for _, c := range []struct {
		scale string
		rate  float64
	}{{"absolute", fwer}, {"relative", rel}} {
		if math.Abs(c.rate-want) > bound {
			t.Errorf("family-wise false-positive rate of the %s lifts with the correction %.4f, want %.4f ± %.4f (3 binomial standard errors of %d runs)", c.scale, c.rate, want, bound, runs)
		}
	}
	if raw < 0.7 {
		t.Errorf("uncorrected rate %.4f, want about 1 − 0.95^30 ≈ 0.79: the simulation would not show what the correction is for", raw)
	}
}
