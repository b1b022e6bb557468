package dora

import (
	"math"
	"testing"
	"time"
)

// TestBucketsInZone cuts buckets at the midnights of a team's own zone,
// across a daylight saving change, with figures computed by hand:
//
// Pacific/Auckland leaves daylight saving on Sunday 2026-04-05 at 03:00
// NZDT (+13), back to 02:00 NZST (+12): that Sunday is 25 hours long, and
// the week of Monday 2026-03-30 is 7 days and 1 hour,
// [2026-03-29T11:00Z, 2026-04-05T12:00Z). Deployments:
//
//	a1 Mon 03-30 09:00 NZDT = 03-29 20:00Z (a Sunday in UTC)   week 1, Monday
//	a2 Sun 04-05 23:30 NZST = 04-05 11:30Z (168h30m after the week began:
//	   a week of 7×24 hours would have ended at 11:00Z)        week 1, Sunday
//	a3 Mon 04-06 00:30 NZST = 04-05 12:30Z                     week 2, Monday
//
// America/Los_Angeles enters daylight saving on Sunday 2026-03-08 at 02:00
// PST (-8), on to 03:00 PDT (-7): that Sunday is 23 hours long, the week of
// Monday 2026-03-02 is [2026-03-02T08:00Z, 2026-03-09T07:00Z). Deployments:
//
//	l1 Mon 03-02 17:00 PST = 03-03 01:00Z (a Tuesday in UTC)   week 1, Monday
//	l2 Sun 03-08 22:00 PDT = 03-09 05:00Z                      week 1, Sunday
//	l3 Mon 03-09 00:30 PDT = 03-09 07:30Z (a week of 7×24 hours
//	   would have ended at 08:00Z and held it)                 week 2, Monday
//
// The long and the short Sunday each hold one deployment: 1 a day, not
// 24/25 or 24/23.
func TestBucketsInZone(t *testing.T) {
	f := newFixture(t).
		commit("nz/app", "c1", "2026-03-01 00:00", "2026-03-01 00:00").
		commit("us/app", "c2", "2026-03-01 00:00", "2026-03-01 00:00").
		deploy("a1", "nz/app", "c1", StatusSuccess, "2026-03-29 20:00").
		deploy("a2", "nz/app", "c1", StatusSuccess, "2026-04-05 11:30").
		deploy("a3", "nz/app", "c1", StatusSuccess, "2026-04-05 12:30").
		deploy("l1", "us/app", "c2", StatusSuccess, "2026-03-03 01:00").
		deploy("l2", "us/app", "c2", StatusSuccess, "2026-03-09 05:00").
		deploy("l3", "us/app", "c2", StatusSuccess, "2026-03-09 07:30")
	tl := f.timeline()
	tests := []struct {
		zone, service string
		from          time.Time // a Monday, local midnight
		weeks         [][3]any  // start, end (RFC 3339 in the zone), deployments
		sunday        int       // index of the day bucket of the DST Sunday
		sundayHours   float64
	}{
		{"Pacific/Auckland", "nz/app", time.Date(2026, 3, 29, 11, 0, 0, 0, time.UTC),
			[][3]any{{"2026-03-30T00:00:00+13:00", "2026-04-06T00:00:00+12:00", 2}, {"2026-04-06T00:00:00+12:00", "2026-04-13T00:00:00+12:00", 1}},
			6, 25},
		{"America/Los_Angeles", "us/app", time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
			[][3]any{{"2026-03-02T00:00:00-08:00", "2026-03-09T00:00:00-07:00", 2}, {"2026-03-09T00:00:00-07:00", "2026-03-16T00:00:00-07:00", 1}},
			6, 23},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			loc, err := time.LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			to := time.Date(tt.from.In(loc).Year(), tt.from.In(loc).Month(), tt.from.In(loc).Day()+14, 0, 0, 0, 0, loc)
			q := Query{From: tt.from, To: to, Bucket: BucketWeek, Services: []string{tt.service}, Location: loc}
			r, err := tl.Report(q)
			if err != nil {
				t.Fatal(err)
			}
			if r.TimeZone != tt.zone {
				t.Errorf("time zone %q, want %q", r.TimeZone, tt.zone)
			}
			b := r.Overall.Buckets
			if len(b) != len(tt.weeks) {
				t.Fatalf("%d weeks, want %d", len(b), len(tt.weeks))
			}
			for i, w := range tt.weeks {
				got := [3]any{b[i].Start.Format(time.RFC3339), b[i].End.Format(time.RFC3339), b[i].Deployments}
				if got != w {
					t.Errorf("week %d: got %v, want %v", i+1, got, w)
				}
			}
			q.Bucket = BucketDay
			if r, err = tl.Report(q); err != nil {
				t.Fatal(err)
			}
			days := r.Overall.Buckets
			if len(days) != 14 {
				t.Fatalf("%d days, want 14", len(days))
			}
			sun := days[tt.sunday]
			if h := sun.End.Sub(sun.Start).Hours(); h != tt.sundayHours || sun.Start.Weekday() != time.Sunday {
				t.Errorf("the DST day: %s, %v hours; want a Sunday of %v hours", sun.Start, h, tt.sundayHours)
			}
			if sun.Deployments != 1 || sun.DeploymentsPerDay != 1 {
				t.Errorf("the DST Sunday: %d deployments, %v a day; want 1, 1", sun.Deployments, sun.DeploymentsPerDay)
			}
			if days[0].Deployments != 1 || days[7].Deployments != 1 {
				t.Errorf("Mondays: %d and %d deployments, want 1 and 1", days[0].Deployments, days[7].Deployments)
			}
		})
	}
}

// TestDayStartWhereMidnightIsSkipped: America/Santiago springs forward at
// midnight (Saturday 2026-09-05 24:00 -04 becomes Sunday 01:00 -03), so
// Sunday starts at 01:00 local, 2026-09-06T04:00Z, and is 23 hours long.
func TestDayStartWhereMidnightIsSkipped(t *testing.T) {
	loc, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	sun, mon := DayStart(2026, 9, 6, loc), DayStart(2026, 9, 7, loc)
	if got := sun.UTC().Format(time.RFC3339); got != "2026-09-06T04:00:00Z" {
		t.Errorf("Sunday starts at %s, want 2026-09-06T04:00:00Z", got)
	}
	if h := mon.Sub(sun).Hours(); h != 23 {
		t.Errorf("Sunday is %v hours long, want 23", h)
	}
	if sat := DayStart(2026, 9, 5, loc); sun.Sub(sat).Hours() != 24 {
		t.Errorf("Saturday is %v hours long, want 24", sun.Sub(sat).Hours())
	}
}

// TestRangeDaysInZone: the whole range's deployments a day count its
// calendar days in the zone, as its buckets do, not its hours over 24.
// America/Los_Angeles' Sunday 2026-03-08 is 23 hours long, so the two
// weeks from Monday 2026-03-02 are 13 days and 23 hours yet 14 days; the
// range from Wednesday 2026-03-04 to Monday 2026-03-09 (one partial week
// bucket) is 5 days. us/app deploys l1, l2, l3 (see TestBucketsInZone).
func TestRangeDaysInZone(t *testing.T) {
	f := newFixture(t).
		commit("us/app", "c2", "2026-03-01 00:00", "2026-03-01 00:00").
		deploy("l1", "us/app", "c2", StatusSuccess, "2026-03-03 01:00").
		deploy("l2", "us/app", "c2", StatusSuccess, "2026-03-09 05:00").
		deploy("l3", "us/app", "c2", StatusSuccess, "2026-03-09 07:30")
	tl := f.timeline()
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		from, to         time.Time
		bucket           Bucket
		total, firstBckt float64 // deployments a day
	}{
		{"two whole weeks", DayStart(2026, 3, 2, loc), DayStart(2026, 3, 16, loc), BucketWeek, 3.0 / 14, 2.0 / 7},
		{"two whole weeks by day", DayStart(2026, 3, 2, loc), DayStart(2026, 3, 16, loc), BucketDay, 3.0 / 14, 1},
		{"no buckets", DayStart(2026, 3, 2, loc), DayStart(2026, 3, 16, loc), BucketNone, 3.0 / 14, 0},
		{"a partial week", DayStart(2026, 3, 4, loc), DayStart(2026, 3, 9, loc), BucketWeek, 1.0 / 5, 1.0 / 5},
		// Whole days inside, an hour at each end: 5 days and 2 hours, l2
		// and l3 (00:30 PDT on Monday) in them.
		{"partial days", DayStart(2026, 3, 4, loc).Add(-time.Hour), DayStart(2026, 3, 9, loc).Add(time.Hour), BucketNone, 2 / (5 + 2.0/24), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tl.Report(Query{From: tt.from, To: tt.to, Bucket: tt.bucket, Location: loc})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Overall.Total.DeploymentsPerDay; math.Abs(got-tt.total) > 1e-12 {
				t.Errorf("the range: %v deployments a day, want %v", got, tt.total)
			}
			if b := r.Overall.Buckets; len(b) > 0 && math.Abs(b[0].DeploymentsPerDay-tt.firstBckt) > 1e-12 {
				t.Errorf("the first bucket: %v deployments a day, want %v", b[0].DeploymentsPerDay, tt.firstBckt)
			}
		})
	}
}
