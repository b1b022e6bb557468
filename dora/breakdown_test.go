package dora

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLeadTimeBreakdown: six changes of service shop (team payments) over
// two weeks, every stage computed by hand (hours unless said; quantiles
// interpolate as numpy's default: h = q·(n−1)).
//
//	week 1 (Mon 2 March)
//	  PR 1: commit 00:00, opened 02:00, reviews 05:00 and 07:00, merged 08:00, D1 10:00
//	        coding 2, pickup 3 (first review), review 3, deploy 2
//	  PR 2: commit 01:00, opened 05:00, review 06:00, merged 09:00, D1 10:00
//	        coding 4, pickup 1, review 3, deploy 1
//	  PR 3: Tue commit 00:00, opened 00:00, never reviewed, merged 12:00, D2 Wed 00:00
//	        coding 0, deploy 12 (no pickup, no review)
//	  c4:   pushed without a PR Tue 13:00, D2 Wed 00:00: deploy 11 only
//	week 2 (Mon 9 March)
//	  PR 5: commit 00:00, opened 01:00, review 09:00, merged 10:00, D4 12:00
//	        coding 1, pickup 8, review 1, deploy 2
//	  PR 6: commit 00:00, opened 03:00, review 02:58 (skew), merged 04:00, D3 05:00
//	        coding 3, pickup 0 (not −2 min), review 62 min, deploy 1
//
// Week 1: coding [0,2,4] median 2, p85 h=1.7 → 2+0.7·2 = 3.4; pickup [1,3]
// median 2, p85 1+0.85·2 = 2.7; review [3,3] 3, 3; deploy [1,2,11,12]
// median 2+0.5·9 = 6.5, p85 h=2.55 → 11+0.55 = 11.55.
// Week 2: coding [1,3] 2, 2.7; pickup [0,8] 4, 6.8; review [60,62] min
// 61, 61.7 min; deploy [1,2] 1.5, 1.85.
// Total: coding [0,1,2,3,4] median 2, p85 h=3.4 → 3.4; pickup [0,1,3,8]
// median 2, p85 h=2.55 → 3+0.55·5 = 5.75; review [60,62,180,180] min median
// 62+0.5·118 = 121 min, p85 180 min; deploy [1,1,2,2,11,12] median 2, p85
// h=4.25 → 11.25.
func TestLeadTimeBreakdown(t *testing.T) {
	mon := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	at := func(day int, hm string) time.Time {
		d, err := time.ParseDuration(strings.Replace(hm, ":", "h", 1) + "m")
		if err != nil {
			t.Fatal(err)
		}
		return mon.AddDate(0, 0, day).Add(d)
	}
	pr := func(n string, commit, opened, merged time.Time) Change {
		return Change{Repo: "acme/shop", SHA: "p" + n, PR: n, AuthoredAt: commit, OpenedAt: opened, MergedAt: merged}
	}
	dep := func(id, sha string, when time.Time) Deployment {
		return Deployment{ID: id, Repo: "acme/shop", Environment: "prod", Production: true, SHA: sha, Status: StatusSuccess, At: when}
	}
	review := func(n string, when time.Time) Review { return Review{Repo: "ACME/shop", PR: n, At: when} }
	data := Data{
		Catalog: Catalog{Services: []Service{{Name: "shop", Team: "payments", Sources: []Source{{Repo: "acme/shop"}}}}},
		Changes: []Change{
			pr("1", at(0, "00:00"), at(0, "02:00"), at(0, "08:00")),
			pr("2", at(0, "01:00"), at(0, "05:00"), at(0, "09:00")),
			pr("3", at(1, "00:00"), at(1, "00:00"), at(1, "12:00")),
			{Repo: "acme/shop", SHA: "c4", AuthoredAt: at(1, "13:00"), MergedAt: at(1, "13:00")},
			pr("5", at(7, "00:00"), at(7, "01:00"), at(7, "10:00")),
			pr("6", at(7, "00:00"), at(7, "03:00"), at(7, "04:00")),
		},
		Reviews: []Review{
			review("1", at(0, "07:00")), review("1", at(0, "05:00")), review("2", at(0, "06:00")),
			review("5", at(7, "09:00")), review("6", at(7, "02:58")),
			review("9", at(0, "01:00")),             // a pull request with no change: ignored
			{Repo: "acme/shop", At: at(0, "01:00")}, // no PR: skipped
		},
		Deployments: []Deployment{
			dep("D1", "p2", at(0, "10:00")), dep("D2", "c4", at(2, "00:00")),
			dep("D3", "p6", at(7, "05:00")), dep("D4", "p5", at(7, "12:00")),
		},
	}
	tl, err := NewTimeline(data)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Skipped != 1 {
		t.Errorf("skipped %d records, want 1 (the review without a PR)", tl.Skipped)
	}
	r, err := tl.Report(Query{From: mon, To: mon.AddDate(0, 0, 14), Bucket: BucketWeek})
	if err != nil {
		t.Fatal(err)
	}
	h := func(x float64) time.Duration { return time.Duration(x * float64(time.Hour)) }
	m := func(x float64) time.Duration { return time.Duration(x * float64(time.Minute)) }
	want := []Breakdown{
		{Coding: Stage{5, h(2), h(3.4)}, Pickup: Stage{4, h(2), h(5.75)}, Review: Stage{4, m(121), m(180)}, Deploy: Stage{6, h(2), h(11.25)}},
		{Coding: Stage{3, h(2), h(3.4)}, Pickup: Stage{2, h(2), h(2.7)}, Review: Stage{2, h(3), h(3)}, Deploy: Stage{4, h(6.5), h(11.55)}},
		{Coding: Stage{2, h(2), h(2.7)}, Pickup: Stage{2, h(4), h(6.8)}, Review: Stage{2, m(61), m(61.7)}, Deploy: Stage{2, h(1.5), h(1.85)}},
	}
	for _, name := range []string{"shop", "team:payments", "overall"} {
		s := findSeries(t, r, name)
		if len(s.Buckets) != 2 {
			t.Fatalf("%s: %d buckets, want 2 weeks", name, len(s.Buckets))
		}
		for i, got := range []Breakdown{s.Total.LeadTimeBreakdown, s.Buckets[0].LeadTimeBreakdown, s.Buckets[1].LeadTimeBreakdown} {
			if got != want[i] {
				t.Errorf("%s period %d:\ngot  %+v\nwant %+v", name, i, got, want[i])
			}
		}
	}
	// In JSON the stages are seconds.
	b, _ := json.Marshal(r.Overall.Total.LeadTimeBreakdown)
	if !strings.Contains(string(b), `"review":{"count":4,"median":7260,"p85":10800}`) {
		t.Errorf("JSON breakdown %s, want review median 7260 s and p85 10800 s", b)
	}
}

// TestReviewAfterMerge: a pull request merged without a review and reviewed
// afterwards (a comment on the merged request days later) was not reviewed
// before it landed: it has no pickup or review stage, as one nobody
// reviewed, instead of a pickup running past its merge (here 3 days where
// the request was open 2 hours). A first review up to the clock skew after
// the merge is still its review.
func TestReviewAfterMerge(t *testing.T) {
	mon := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	h := func(x float64) time.Time { return mon.Add(time.Duration(x * float64(time.Hour))) }
	data := Data{
		ClockSkew: 5 * time.Minute,
		Changes: []Change{
			{Repo: "acme/shop", SHA: "p1", PR: "1", AuthoredAt: h(0), OpenedAt: h(1), MergedAt: h(3)},
			{Repo: "acme/shop", SHA: "p2", PR: "2", AuthoredAt: h(0), OpenedAt: h(1), MergedAt: h(3)},
		},
		Reviews: []Review{
			{Repo: "acme/shop", PR: "1", At: h(72)},   // after the merge: no review of it
			{Repo: "acme/shop", PR: "2", At: h(3.05)}, // 3 minutes after: clock skew
		},
		Deployments: []Deployment{{ID: "d", Repo: "acme/shop", Environment: "prod", Production: true, SHA: "p2", Status: StatusSuccess, At: h(4)}},
	}
	r, err := Compute(data, Query{From: mon, To: mon.AddDate(0, 0, 7)})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Overall.Total.LeadTimeBreakdown
	if got.Pickup.Count != 1 || got.Pickup.Median != 123*time.Minute || got.Review.Count != 1 || got.Review.Median != 0 {
		t.Errorf("pickup %+v, review %+v; want PR 2's only: pickup 2h03m, review 0", got.Pickup, got.Review)
	}
}
