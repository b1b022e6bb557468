package main

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDeliveryTimeZone: --delivery-time-zone is the zone of the API's
// reports that name none, and of the dashboard's delivery page, whose
// weeks start on its Mondays at midnight.
func TestDeliveryTimeZone(t *testing.T) {
	srv := MustServe(t, "", "--delivery-time-zone", "Pacific/Auckland")
	run := adminCLI(t, srv)
	run(0, "deploy", "record", "--service", "shop", "--env", "production", "--status", "success")
	var rep struct {
		TimeZone string    `json:"timeZone"`
		From     time.Time `json:"from"`
	}
	if code, body := srv.call(t, "GET", "/api/v1/dora?from=2026-03-02", "", &rep); code != 200 || rep.TimeZone != "Pacific/Auckland" || !rep.From.Equal(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("GET /api/v1/dora without tz: %d, zone %q, from %s; want Pacific/Auckland, 2026-03-01T11:00Z (midnight NZDT)\n%s", code, rep.TimeZone, rep.From, body)
	}
	admin := mustSignIn(t, srv.URL, srv.Admin)
	_, page := admin.get("/delivery")
	m := regexp.MustCompile(`<time datetime="([^"]+)">Mon [^<]+</time> to <time datetime="[^"]+">[^<]+ Pacific/Auckland</time>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("/delivery does not state its range in Pacific/Auckland:\n%s", page)
	}
	from, err := time.Parse(time.RFC3339, html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if _, off := from.Zone(); from.Weekday() != time.Monday || from.Hour() != 0 || (off != 13*3600 && off != 12*3600) || strings.HasSuffix(m[1], "Z") {
		t.Errorf("/delivery starts at %s; want a Monday's midnight in Auckland (+12:00 or +13:00)", m[1])
	}
}

// TestDORARangeOrderInZone: a date in --from or --to is midnight in the
// report's zone, which the server knows: in Los Angeles --to 2026-03-02
// is 08:00Z, after a --from of 03:00Z, and the report is served. The CLI
// checked the order itself, with the date at midnight UTC (00:00Z, before
// 03:00Z), and refused it (exit 2); a range reversed in the zone is still
// refused, by the server, naming to.
func TestDORARangeOrderInZone(t *testing.T) {
	srv := MustServe(t, "", "--delivery-time-zone", "America/Los_Angeles")
	run := adminCLI(t, srv)
	for _, tz := range [][]string{nil, {"--tz", "America/Los_Angeles"}} {
		out := run(0, append([]string{"dora", "--from", "2026-03-02T03:00:00Z", "--to", "2026-03-02"}, tz...)...)
		if !strings.Contains(out, "2026-03-01 19:00 to 2026-03-02 00:00 America/Los_Angeles") {
			t.Errorf("dora %v: %s; want the range from 19:00 to midnight in Los Angeles", tz, out)
		}
	}
	if out := run(3, "dora", "--from", "2026-03-02T09:00:00Z", "--to", "2026-03-02"); !strings.Contains(out, "to") || !strings.Contains(out, "must be after from") {
		t.Errorf("a range reversed in the zone: %s; want the server's refusal naming to", out)
	}
}
