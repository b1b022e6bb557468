package ui

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestCount: the templates' counts are singular for one, whatever the
// integer type a field has, and refuse what is not an integer.
func TestCount(t *testing.T) {
	one := int64(1)
	for _, tc := range []struct {
		n    any
		noun string
		want string
	}{
		{1, "flag", "1 flag"}, {0, "flag", "0 flags"}, {&one, "more user", "1 more user"},
		{int64(12345), "user", "12,345 users"}, {uint64(1), "day", "1 day"},
	} {
		if got, err := count(tc.n, tc.noun); err != nil || got != tc.want {
			t.Errorf("count(%v, %q) = %q, %v; want %q", tc.n, tc.noun, got, err, tc.want)
		}
	}
	if got, err := count("3", "user"); err == nil {
		t.Errorf("count(\"3\") = %q, want an error", got)
	}
}

// TestJSONShownAsTyped: values are shown as people typed them; the page's
// own escaping makes them safe, so the JSON is not escaped for HTML too
// (a URL's & read \u0026), and a clipped value stays valid UTF-8.
func TestJSONShownAsTyped(t *testing.T) {
	v := map[string]any{"url": "https://shop.example/?a=1&b=<2>"}
	if got, want := jsonValue(v), `{"url":"https://shop.example/?a=1&b=<2>"}`; got != want {
		t.Errorf("jsonValue = %s, want %s", got, want)
	}
	if got, want := prettyJSON([]byte(`{"in":["a&b","<c>"]}`)), "{\n  \"in\": [\n    \"a&b\",\n    \"<c>\"\n  ]\n}"; got != want {
		t.Errorf("prettyJSON = %s, want %s", got, want)
	}
	if got, want := indentJSON(v), "{\n  \"url\": \"https://shop.example/?a=1&b=<2>\"\n}"; got != want {
		t.Errorf("indentJSON = %s, want %s", got, want)
	}
	long := strings.Repeat("é", 200)
	if got := clip(long); !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("clip of 200 é: %q, want valid UTF-8 ending in …", got)
	}
}

// TestFig: estimates are written in full, as typed, without a product's
// float noise: never "1.2e+04" for a reach of 12000. A figure below one
// keeps four significant digits: a stated confidence of 0.00001 (valid)
// read "0 stated", a reach × impact of 0.00006 "0.0001".
func TestFig(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want string
	}{{12000, "12000"}, {24000, "24000"}, {3e12, "3000000000000"}, {0.001, "0.001"}, {0.125, "0.125"}, {0.1 * 3, "0.3"}, {21, "21"}, {math.Copysign(0, -1), "0"},
		{0.00001, "0.00001"}, {0.00006, "0.00006"}, {0.000123456, "0.0001235"}, {1.5e-7, "0.00000015"}, {-0.00002, "-0.00002"}} {
		if got := fig(tc.x); got != tc.want {
			t.Errorf("fig(%v) = %q, want %q", tc.x, got, tc.want)
		}
	}
}

// TestLabelWidthsCountCells: a chart's legend entries and reference labels
// are as wide as their text is drawn: a CJK character is two Latin ones
// wide, and counting runes made a CJK name overlap the entry after it.
func TestLabelWidthsCountCells(t *testing.T) {
	for _, c := range [][2]string{{"結帳", "abcd"}, {"🚀 go", "abcde"}, {"café", "cafe"}} {
		if a, b := legendWidth(c[0]), legendWidth(c[1]); a != b {
			t.Errorf("legend of %q %.1f wide, of %q %.1f: want the same", c[0], a, c[1], b)
		}
		if a, b := labelBox(c[0], 0, 0, "start"), labelBox(c[1], 0, 0, "start"); a != b {
			t.Errorf("label of %q %v, of %q %v: want the same", c[0], a, c[1], b)
		}
	}
}

// TestScoreAsExplained: a rank's score reads as in its explanation and in
// 'valueloop next' (value.Figure): a WSJF of cost of delay 1 over size 1000
// at confidence 0.5 is 0.0005, and read "0" beside the line saying 0.0005.
func TestScoreAsExplained(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want string
	}{{5.2, "5.2"}, {1.969, "1.97"}, {2, "2"}, {0.0005, "0.0005"}, {0.004, "0.004"}, {1.5e-7, "1.5e-07"}, {math.Copysign(0, -1), "0"}} {
		if got := score(tc.x); got != tc.want {
			t.Errorf("score(%v) = %q, want %q", tc.x, got, tc.want)
		}
	}
}

// TestAgo: how long ago a moment was reads as words past a day ("35 days
// ago"), where it said "35d0h ago", whole hours without minutes ("6h ago",
// not "6h00m ago"), and a moment ahead of the clock (a
// source's clock ahead of the server's) says "in", not "ago".
func TestAgo(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, ">0s ago<"},
		{45 * time.Second, ">45s ago<"},
		{12 * time.Minute, ">12m ago<"},
		{3*time.Hour + 10*time.Minute, ">3h10m ago<"},
		{23*time.Hour + 59*time.Minute, ">23h59m ago<"},
		{6 * time.Hour, ">6h ago<"},
		{24 * time.Hour, ">1 day ago<"},
		{47 * time.Hour, ">1 day ago<"},
		{48 * time.Hour, ">2 days ago<"},
		{35*24*time.Hour + 5*time.Hour, ">35 days ago<"},
		{400 * 24 * time.Hour, ">400 days ago<"},
		{-5 * time.Minute, ">in 5m<"},
		{-100 * time.Millisecond, ">0s ago<"},
	} {
		got := string(ago(now.Add(-tc.d), now))
		if !strings.Contains(got, tc.want) {
			t.Errorf("%v before: %s, want %q", tc.d, got, tc.want)
		}
		if !strings.Contains(got, `datetime="`+now.Add(-tc.d).UTC().Format(time.RFC3339)+`"`) {
			t.Errorf("%v before: %s lacks its RFC 3339 datetime", tc.d, got)
		}
	}
}
