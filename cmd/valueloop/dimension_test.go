package main

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/demo"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
)

// TestResultsByDimension: the demo's exposures carry a platform, which serve
// --demo keeps as a dimension; the results route splits by it through the
// API, the Go client and the CLI, and refuses a dimension not kept.
func TestResultsByDimension(t *testing.T) {
	s := MustServe(t, "", "--demo")
	c := client.New(s.URL, s.Admin)
	ctx := context.Background()
	res, err := c.Results(ctx, "production", demo.ExperimentFlag, url.Values{"dimension": {"platform"}})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Dimension
	if d == nil || d.Dimension != "platform" || d.Warning != experiment.SliceWarning {
		t.Fatalf("dimension = %+v, want platform with the warning", d)
	}
	var values []string
	var users int64
	for _, sl := range d.Slices {
		values = append(values, sl.Value)
		users += sl.Users
		if sl.SRM == nil || len(sl.Metrics) != len(res.Metrics) {
			t.Errorf("slice %s: SRM %v, %d metrics; want a check and the %d metrics", sl.Value, sl.SRM, len(sl.Metrics), len(res.Metrics))
		}
	}
	if want := []string{"ios", "android", "web", metric.NoneValue}; !slices.Equal(values, want) {
		t.Errorf("slices %q, want %q", values, want)
	}
	if users != res.Users || users == 0 {
		t.Errorf("slices hold %d users, all users %d", users, res.Users)
	}
	lifts := 0
	for _, sl := range d.Slices {
		for _, m := range sl.Metrics {
			if m.Variants[1].Lift != nil {
				lifts++
			}
		}
	}
	if d.Comparisons != lifts || lifts < len(d.Slices) {
		t.Errorf("comparisons = %d, want %d (every treatment's lift on every metric of every slice)", d.Comparisons, lifts)
	}
	// The figures of all users are those without the split, verdict too.
	plain, err := c.Results(ctx, "production", demo.ExperimentFlag, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Dimension = nil
	a, _ := json.Marshal(res)
	b, _ := json.Marshal(plain)
	if string(a) != string(b) {
		t.Errorf("the result of all users changed with ?dimension:\n with %s\nwithout %s", a, b)
	}

	code, out, stderr := s.cli(t, s.Admin, "experiment", "results", demo.ExperimentFlag, "--env", "production", "--dimension", "platform")
	if code != 0 {
		t.Fatalf("results --dimension: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"By platform: 4 slices", "Warning: Results by dimension are exploratory", "onboarding-completed by platform", // the slice's users (both arms) stand beside the slice, not after
		// the variant, where they read as the treatment's
		"  PLATFORM  USERS  VARIANT    LIFT", "android   1,266  treatment"} {
		if !strings.Contains(out, want) {
			t.Errorf("CLI output lacks %q:\n%s", want, out)
		}
	}

	checkDimensionRefused(t, s, c)
}

// checkDimensionRefused: a dimension not kept, or not one, is a 400
// naming the field, through the client and plain HTTP.
func checkDimensionRefused(t *testing.T, s *testServer, c *client.Client) {
	t.Helper()
	ctx := context.Background()
	for _, tc := range []struct {
		name, query, message string
	}{
		{"not kept", "dimension=country", `"country" is not a dimension kept`},
		{"twice", "dimension=platform&dimension=platform", "one dimension"},
		{"empty", "dimension=", "one dimension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			_, err := c.Results(ctx, "production", demo.ExperimentFlag, q)
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Code != valueloop.EINVALID || e.Field != "dimension" || !strings.Contains(e.Message, tc.message) {
				t.Errorf("error = %v, want invalid, field dimension, %q", err, tc.message)
			}
		})
	}
	resp, body := sendJSON(t, http.MethodGet, s.URL+"/api/v1/environments/production/flags/"+demo.ExperimentFlag+"/results?dimension=country", s.Admin, "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"dimension"`) {
		t.Errorf("unknown dimension: %d %s, want 400 naming the field", resp.StatusCode, body)
	}
}

// TestServeDimensionConfig: bad --dimension values stop serve with the
// field and the problem.
func TestServeDimensionConfig(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"country", "name=value"},
		{"country=", "values"},
		{"country=US|US", "given twice"},
		{"country=US|(other)", "reserved"},
		{"a=1;b=1;c=1;d=1;e=1;f=1", "at most 5"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			code, _, stderr := s0cli(t, "serve", "--print-config", "--dimension", tc.value)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want a failure saying %q", code, stderr, tc.want)
			}
		})
	}
	code, out, stderr := s0cli(t, "serve", "--print-config", "--dimension", "country=US|GB", "--dimension", "platform=ios")
	if code != 0 || !strings.Contains(out, "country=US|GB") || !strings.Contains(out, "platform=ios") {
		t.Errorf("good dimensions: exit %d, %s %s", code, out, stderr)
	}
}

// s0cli runs the program without a server.
func s0cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, environ(map[string]string{"VALUELOOP_DATA": t.TempDir()}))
	return code, stdout.String(), stderr.String()
}

// TestOFREPExposuresCarryDimensions: exposures recorded from OFREP
// evaluations carry the context attributes of the configured dimensions,
// so their users land in their slice, as does one sent with `events send
// --attr`; the demo's, without a country, are (none).
func TestOFREPExposuresCarryDimensions(t *testing.T) {
	s := MustServe(t, "", "--demo", "--dimension", "country=US|GB")
	token := s.mustToken(t, "--env", "production", "--name", "app")
	base := exposuresRecorded(t, s)
	evaluate := s.URL + "/ofrep/v1/evaluate/flags/" + demo.ExperimentFlag
	contexts := []string{
		`{"targetingKey":"dim-1","country":"GB"}`, `{"targetingKey":"dim-2","country":"GB","plan":"pro"}`,
		`{"targetingKey":"dim-3","country":"US"}`, `{"targetingKey":"dim-4","country":"FR"}`, `{"targetingKey":"dim-5"}`,
	}
	for _, c := range contexts {
		if resp, body := post(t, evaluate, token, `{"context":`+c+`}`); resp.StatusCode != 200 {
			t.Fatalf("evaluation %s: %d %s", c, resp.StatusCode, body)
		}
	}
	waitUntil(t, "the recorded exposures arrive", 10*time.Second, func() bool { return exposuresRecorded(t, s) >= base+len(contexts) })
	// And one sent to the event API, with its attribute from the CLI.
	if code, _, stderr := s.cli(t, s.Admin, "events", "send", "--env", "production", "--type", "exposure", "--flag", demo.ExperimentFlag,
		"--variant", "treatment", "--key", "dim-6", "--attr", "country=GB"); code != 0 {
		t.Fatalf("events send --attr: exit %d: %s", code, stderr)
	}
	res, err := client.New(s.URL, s.Admin).Results(context.Background(), "production", demo.ExperimentFlag, url.Values{"dimension": {"country"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sl := range res.Dimension.Slices {
		got[sl.Value] = sl.Users
	}
	if got["GB"] != 3 || got["US"] != 1 || got[metric.OtherValue] != 1 || got[metric.NoneValue] != res.Users-5 {
		t.Errorf("users by country %v of %d, want GB 3, US 1, (other) 1, the rest (none)", got, res.Users)
	}
}

// checkDimensionPage: the demo experiment's page links to its dimension
// and, split by it, shows the warning and every slice's lift of each metric
// with the same adjusted p-values as the API; a dimension not kept is a 400
// naming it.
func checkDimensionPage(t *testing.T, srv *testServer, admin, _ *browser) {
	_, page := admin.get("/experiments/production/" + demo.ExperimentFlag)
	if !strings.Contains(page, `href="?dimension=platform"`) {
		t.Errorf("the experiment page does not link to its split by platform")
	}
	_, split := admin.get("/experiments/production/" + demo.ExperimentFlag + "?dimension=platform")
	res, err := client.New(srv.URL, srv.Admin).Results(context.Background(), "production", demo.ExperimentFlag, url.Values{"dimension": {"platform"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.UnescapeString(split), res.Dimension.Warning) {
		t.Errorf("the split page does not show the warning")
	}
	rows := strings.Count(split, `<tr class="slice">`)
	if want := len(res.Dimension.Slices) * len(res.Metrics); rows != want {
		t.Errorf("the split page has %d rows of slices, want %d (slices × metrics, one treatment)", rows, want)
	}
	if got := strings.Count(split, `<figure><div class="chartbox">`); got < 2 {
		t.Errorf("the split page has %d charts, want one per metric with data", got)
	}
	if resp, body := admin.get("/experiments/production/" + demo.ExperimentFlag + "?dimension=country"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), `"country" is not a dimension kept`) {
		t.Errorf("a dimension not kept: %d, want 400 naming it", resp.StatusCode)
	}
}
