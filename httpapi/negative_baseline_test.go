package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/metric"
)

// TestNegativeBaselineEndToEnd: a profit metric whose control loses 10 per
// user and treatment 5, through the event API, the aggregates and the
// results route: the relative lift is +50% (an increase) and the hypothesis
// "increase profit by at least 5%" is validated, not judged the wrong way.
func TestNegativeBaselineEndToEnd(t *testing.T) {
	e := experimentServer(t)
	m := metric.Metric{Key: "profit", Kind: metric.Sum, Event: "order"}
	if err := m.Normalize(); err != nil {
		t.Fatal(err)
	}
	if err := e.db.CreateMetric(context.Background(), "production", &m, "test"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(15, 1))
	var b strings.Builder
	b.WriteString("[")
	for i := range 1200 {
		v, mean := "control", -10.0
		if i%2 == 1 {
			v, mean = "treatment", -5
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"exposure","id":"x-%d","flag":"onboarding","variant":%q,"targetingKey":"u%d","time":"2026-01-01T00:00:00Z"},`, i, v, i)
		fmt.Fprintf(&b, `{"type":"tracking","id":"o-%d","name":"order","targetingKey":"u%d","value":%.2f,"time":"2026-01-01T00:01:00Z"}`, i, i, mean+4*r.NormFloat64())
	}
	b.WriteString("]")
	resp, body := e.do(t, call{method: "POST", path: "/api/v1/events", token: adminSecret, body: b.String(),
		headers: map[string]string{httpapi.EnvironmentHeader: "production"}})
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, call{method: "PUT", path: hypothesisPath, token: adminSecret, body: `{"primaryMetric":"profit","direction":"increase","minimumEffect":0.05}`})
	if resp.StatusCode != 200 {
		t.Fatalf("PUT hypothesis: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, call{method: "GET", path: resultsPath, token: adminSecret})
	var res experiment.Result
	if err := json.Unmarshal([]byte(body), &res); resp.StatusCode != 200 || err != nil {
		t.Fatalf("results: %d %v %s", resp.StatusCode, err, body)
	}
	if len(res.Metrics) == 0 || res.Metrics[0].Metric != "profit" || len(res.Metrics[0].Variants) != 2 || res.Metrics[0].Variants[1].Lift == nil {
		t.Fatalf("no profit comparison in %s", body)
	}
	l := res.Metrics[0].Variants[1].Lift
	if l.Absolute.Estimate < 4 || l.Relative == nil || l.Relative.Estimate < 0.4 || l.Relative.Estimate > 0.6 || l.Relative.Interval.Lower <= 0 {
		t.Errorf("profit lift: absolute %+v, relative %+v; want about +5 and +50%%", l.Absolute, l.Relative)
	}
	if v := res.Verdict; v == nil || v.Decision != experiment.Validated {
		t.Errorf("verdict = %+v, want validated", v)
	}
}
