package dora

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
)

// quantile7 is the textbook definition the selection-based summarise must
// agree with: sort, then interpolate between the closest ranks.
func quantile7(xs []int64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	h := p * float64(len(s)-1)
	lo := int(h)
	if lo+1 >= len(s) {
		return float64(s[lo])
	}
	return float64(s[lo]) + (h-float64(lo))*float64(s[lo+1]-s[lo])
}

func TestSummarise(t *testing.T) {
	tests := []struct {
		name string
		in   []int64
		want Durations
	}{
		{"empty", nil, Durations{}},
		{"one", []int64{7}, Durations{1, 7, 7}},
		// median h = 0.5 → 10 + 0.5·10 = 15; p90 h = 0.9 → 10 + 0.9·10 = 19
		{"two", []int64{20, 10}, Durations{2, 15, 19}},
		// sorted [1 2 3 4 100]: median x[2] = 3; p90 h = 3.6 → 4 + 0.6·96 = 61.6 → 61 (truncated)
		{"five", []int64{100, 3, 1, 4, 2}, Durations{5, 3, 61}},
		{"ties", []int64{5, 5, 5, 5, 5, 5}, Durations{6, 5, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarise(slices.Clone(tt.in)); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{3, 10, 17, 100, 1001, 50_000} {
		xs := make([]int64, n)
		for i := range xs {
			xs[i] = rng.Int64N(1_000_000) * 1000 // whole microseconds: interpolation stays exact enough
			if i%7 == 0 {
				xs[i] = xs[i/2] // duplicates
			}
		}
		got := summarise(slices.Clone(xs))
		for _, c := range []struct {
			p   float64
			got time.Duration
		}{{0.5, got.Median}, {0.9, got.P90}} {
			if want := quantile7(xs, c.p); float64(c.got) < want-1 || float64(c.got) > want+1 {
				t.Errorf("n=%d p=%v: got %v, want %v", n, c.p, int64(c.got), want)
			}
		}
	}
}

func TestLevels(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name string
		got  Level
		want Level
	}{
		{"df several a day", DeploymentFrequencyLevel(3), LevelElite},
		{"df once a day", DeploymentFrequencyLevel(1), LevelElite},
		{"df just under once a day", DeploymentFrequencyLevel(0.99), LevelHigh},
		{"df once a week", DeploymentFrequencyLevel(1.0 / 7), LevelHigh},
		{"df every 8 days", DeploymentFrequencyLevel(1.0 / 8), LevelMedium},
		{"df once a month", DeploymentFrequencyLevel(1.0 / 30), LevelMedium},
		{"df every 31 days", DeploymentFrequencyLevel(1.0 / 31), LevelLow},
		{"df never", DeploymentFrequencyLevel(0), LevelLow},
		{"lt 23h", LeadTimeLevel(23 * h), LevelElite},
		{"lt one day", LeadTimeLevel(24 * h), LevelHigh},
		{"lt one week", LeadTimeLevel(7 * 24 * h), LevelHigh},
		{"lt a week and a minute", LeadTimeLevel(7*24*h + time.Minute), LevelMedium},
		{"lt 30 days", LeadTimeLevel(30 * 24 * h), LevelMedium},
		{"lt 31 days", LeadTimeLevel(31 * 24 * h), LevelLow},
		{"lt a year", LeadTimeLevel(365 * 24 * h), LevelLow},
		{"cfr 0", ChangeFailureRateLevel(0), LevelElite},
		{"cfr 1/20", ChangeFailureRateLevel(1.0 / 20), LevelElite},
		{"cfr 1/19", ChangeFailureRateLevel(1.0 / 19), LevelHigh},
		{"cfr 1/10", ChangeFailureRateLevel(1.0 / 10), LevelHigh},
		{"cfr 3/20", ChangeFailureRateLevel(3.0 / 20), LevelMedium},
		{"cfr 1/6", ChangeFailureRateLevel(1.0 / 6), LevelLow},
		{"rt 59m", RecoveryTimeLevel(59 * time.Minute), LevelElite},
		{"rt 1h", RecoveryTimeLevel(h), LevelHigh},
		{"rt 1 day", RecoveryTimeLevel(24 * h), LevelMedium},
		{"rt 1 week", RecoveryTimeLevel(7 * 24 * h), LevelMedium},
		{"rt 8 days", RecoveryTimeLevel(8 * 24 * h), LevelLow},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	tl := newFixture(t, Service{Name: "api", Team: "core", Sources: []Source{{Repo: "o/api"}}}).timeline()
	from := at(t, "2025-01-01 00:00")
	tests := []struct {
		name  string
		q     Query
		code  string
		field string
	}{
		{"no from", Query{To: from}, valueloop.EINVALID, "from"},
		{"no to", Query{From: from}, valueloop.EINVALID, "to"},
		{"backwards", Query{From: from, To: from.Add(-time.Hour)}, valueloop.EINVALID, "to"},
		{"empty range", Query{From: from, To: from}, valueloop.EINVALID, "to"},
		{"bad bucket", Query{From: from, To: from.Add(time.Hour), Bucket: "hour"}, valueloop.EINVALID, "bucket"},
		{"too many buckets", Query{From: from, To: from.AddDate(20, 0, 0), Bucket: BucketDay}, valueloop.EINVALID, "bucket"},
		{"year 9999", Query{From: from, To: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, valueloop.EINVALID, "to"},
		{"unknown service", Query{From: from, To: from.Add(time.Hour), Services: []string{"nope"}}, valueloop.ENOTFOUND, "services"},
		{"unknown team", Query{From: from, To: from.Add(time.Hour), Teams: []string{"nope"}}, valueloop.ENOTFOUND, "teams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tl.Report(tt.q)
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.field {
				t.Errorf("got %v, want a %s error on %q", err, tt.code, tt.field)
			}
		})
	}
	// A catalogued service without data is not an error: it reports zeros.
	r, err := tl.Report(Query{From: from, To: from.Add(time.Hour), Services: []string{"api"}})
	if err != nil || len(r.Services) != 1 || r.Services[0].Name != "api" || r.Services[0].Team != "core" {
		t.Errorf("got %+v, %v; want one empty series for api", r.Services, err)
	}
}

func TestBuckets(t *testing.T) {
	// Wednesday 2025-01-29 12:00 to Monday 2025-03-03 06:00, in a zone east of UTC.
	zone := time.FixedZone("UTC+2", 2*3600)
	from := time.Date(2025, 1, 29, 14, 0, 0, 0, zone)
	to := time.Date(2025, 3, 3, 8, 0, 0, 0, zone)
	tests := []struct {
		bucket      Bucket
		n           int
		first, last [2]string
	}{
		{BucketMonth, 3, [2]string{"2025-01-29T12:00:00Z", "2025-02-01T00:00:00Z"}, [2]string{"2025-03-01T00:00:00Z", "2025-03-03T06:00:00Z"}},
		{BucketWeek, 6, [2]string{"2025-01-29T12:00:00Z", "2025-02-03T00:00:00Z"}, [2]string{"2025-03-03T00:00:00Z", "2025-03-03T06:00:00Z"}},
		{BucketDay, 34, [2]string{"2025-01-29T12:00:00Z", "2025-01-30T00:00:00Z"}, [2]string{"2025-03-03T00:00:00Z", "2025-03-03T06:00:00Z"}},
	}
	f := newFixture(t).
		commit("o/r", "c1", "2025-01-30 09:00", "2025-01-30 10:00").
		deploy("d1", "o/r", "c1", StatusSuccess, "2025-01-31 23:59").
		deploy("d2", "o/r", "c1", StatusSuccess, "2025-02-01 00:00")
	tl := f.timeline()
	for _, tt := range tests {
		t.Run(string(tt.bucket), func(t *testing.T) {
			r, err := tl.Report(Query{From: from, To: to, Bucket: tt.bucket})
			if err != nil {
				t.Fatal(err)
			}
			b := r.Overall.Buckets
			if len(b) != tt.n {
				t.Fatalf("got %d buckets, want %d", len(b), tt.n)
			}
			f := func(m Metrics) [2]string {
				return [2]string{m.Start.Format(time.RFC3339), m.End.Format(time.RFC3339)}
			}
			if f(b[0]) != tt.first || f(b[len(b)-1]) != tt.last {
				t.Errorf("first %v last %v; want %v %v", f(b[0]), f(b[len(b)-1]), tt.first, tt.last)
			}
			sum := 0
			for _, m := range b {
				sum += m.Deployments
			}
			if sum != 2 || r.Overall.Total.Deployments != 2 {
				t.Errorf("deployments: buckets add to %d, total %d; want 2", sum, r.Overall.Total.Deployments)
			}
			if tt.bucket == BucketMonth && (b[0].Deployments != 1 || b[1].Deployments != 1) {
				t.Errorf("January %d, February %d; want 1 each (a month starts at midnight UTC)", b[0].Deployments, b[1].Deployments)
			}
			// The first month bucket is 2.5 days long: 1 deployment / 2.5 days.
			if tt.bucket == BucketMonth && b[0].DeploymentsPerDay != 0.4 {
				t.Errorf("per day in the partial first month: got %v, want 0.4", b[0].DeploymentsPerDay)
			}
		})
	}
}

func TestCatalogValidate(t *testing.T) {
	c := Catalog{Services: []Service{
		{Name: "a", Sources: []Source{{Repo: "o/r"}}},
		{Name: "a", Sources: []Source{{Repo: "o/s"}}},
		{Name: "", Sources: []Source{{Repo: "o/t"}}},
		{Name: "b"},
		{Name: "c", Sources: []Source{{Repo: "O/R"}, {Repo: " "}}},
	}}
	err := c.Validate()
	var ve *valueloop.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	var paths []string
	for _, p := range ve.Problems {
		paths = append(paths, p.Path)
	}
	want := []string{"/services/1/name", "/services/2/name", "/services/3/sources", "/services/4/sources/0", "/services/4/sources/1/repo"}
	if !slices.Equal(paths, want) {
		t.Errorf("problems at %v, want %v", paths, want)
	}
	if valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("code %q, want invalid", valueloop.ErrorCode(err))
	}
	if _, err := Compute(Data{Catalog: c}, Query{}); err == nil {
		t.Error("Compute accepted an invalid catalog")
	}
}

func TestValidateRecords(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		err   error
		field string
	}{
		{"change without sha", (&Change{Repo: "o/r", AuthoredAt: now}).Validate(), "sha"},
		{"change without repo", (&Change{SHA: "x", AuthoredAt: now}).Validate(), "repo"},
		{"change in year 2300", (&Change{Repo: "o/r", SHA: "x", AuthoredAt: now.AddDate(300, 0, 0)}).Validate(), "authoredAt"},
		{"deployment status", (&Deployment{ID: "d", Repo: "o/r", At: now, Status: "ok"}).Validate(), "status"},
		{"deployment time", (&Deployment{ID: "d", Repo: "o/r", Status: StatusSuccess}).Validate(), "at"},
		{"incident resolved first", (&Incident{ID: "i", Service: "s", OpenedAt: now, ResolvedAt: new(now.Add(-time.Hour))}).Validate(), "resolvedAt"},
		{"valid change", (&Change{Repo: "o/r", SHA: "x", AuthoredAt: now}).Validate(), ""},
	}
	for _, tt := range tests {
		var e *valueloop.Error
		switch {
		case tt.field == "" && tt.err != nil:
			t.Errorf("%s: got %v, want no error", tt.name, tt.err)
		case tt.field != "" && (!errors.As(tt.err, &e) || e.Field != tt.field || e.Code != valueloop.EINVALID):
			t.Errorf("%s: got %v, want an invalid %q", tt.name, tt.err, tt.field)
		}
	}
}

func TestLoopFigures(t *testing.T) {
	changes := []Change{
		{SHA: "b", AuthoredAt: at(t, "2025-01-03 09:00")},
		{SHA: "a", AuthoredAt: at(t, "2025-01-01 09:00")},
		{SHA: "c"},
	}
	type result struct {
		d  time.Duration
		ok bool
	}
	r := func(d time.Duration, ok bool) result { return result{d, ok} }
	tests := []struct {
		name      string
		got, want result
	}{
		{"lead time to customer: first commit 01-01 09:00 to 100% on 01-10 09:00",
			r(LeadTimeToCustomer(changes, at(t, "2025-01-10 09:00"))), result{9 * 24 * time.Hour, true}},
		{"not fully rolled out yet", r(LeadTimeToCustomer(changes, time.Time{})), result{}},
		{"no changes linked", r(LeadTimeToCustomer(nil, at(t, "2025-01-10 09:00"))), result{}},
		{"skewed clocks: never negative", r(LeadTimeToCustomer(changes, at(t, "2025-01-01 08:59"))), result{0, true}},
		{"rollout start 01-10 09:00 to verdict 01-24 15:00",
			r(TimeToValidatedLearning(at(t, "2025-01-10 09:00"), at(t, "2025-01-24 15:00"))), result{14*24*time.Hour + 6*time.Hour, true}},
		{"no verdict yet", r(TimeToValidatedLearning(at(t, "2025-01-10 09:00"), time.Time{})), result{}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
	if first, ok := FirstCommit(changes); !ok || !first.Equal(at(t, "2025-01-01 09:00")) {
		t.Errorf("first commit: got %v %v, want 01-01 09:00", first, ok)
	}
}

func TestConventions(t *testing.T) {
	causes := map[string]string{
		"root cause: 4c1e9a0":                  "4c1e9a0",
		"Root-Cause:4C1E9A0B7D2F":              "4c1e9a0b7d2f",
		"ROOT_CAUSE:  deadbeefdeadbeef and so": "deadbeefdeadbeef",
		"root cause: the database":             "",
		"root cause: abc12":                    "", // too short to be a commit
		"":                                     "",
	}
	for in, want := range causes {
		if got := CauseSHA(in); got != want {
			t.Errorf("CauseSHA(%q) = %q, want %q", in, got, want)
		}
	}
	services := []struct {
		labels []string
		want   string
	}{
		{[]string{"incident", "service:checkout", "service:cart"}, "checkout"},
		{[]string{"service: ", "service: cart "}, "cart"},
		{[]string{"Service:cart"}, ""}, // the prefix is exact
		{nil, ""},
	}
	for _, tt := range services {
		if got := LabelService(tt.labels); got != tt.want {
			t.Errorf("LabelService(%q) = %q, want %q", tt.labels, got, tt.want)
		}
	}
}

func TestSortLanded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, tt := range []struct {
		n      int
		spread int64
	}{{10, 1000}, {300, 5}, {5000, int64(time.Hour)}, {20000, int64(200 * 365 * 24 * time.Hour)}, {4096, 1}} {
		cs := make([]landed, tt.n)
		for i := range cs {
			cs[i] = landed{at: base + rng.Int64N(tt.spread), j: int32(i)}
		}
		want := slices.Clone(cs)
		slices.SortStableFunc(want, func(a, b landed) int { return cmp.Compare(a.at, b.at) })
		sortLanded(cs, nil)
		if !slices.Equal(cs, want) {
			t.Errorf("n=%d spread=%d: not the stable order", tt.n, tt.spread)
		}
		sortLanded(cs, nil) // already sorted
		if !slices.Equal(cs, want) {
			t.Errorf("n=%d: sorting sorted input changed it", tt.n)
		}
	}
}
