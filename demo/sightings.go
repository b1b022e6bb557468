package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/valueloop/valueloop/ingest"
)

// sighting is a flag of the value loop's demo features that serves users
// in production, apart from the experiment's: its exposures, each user
// served the variant the production file gives them, spread from first
// to last.
type sighting struct {
	flag        string
	first, last time.Time
	users       int
	// variant serves user i (drawn from r) the variant the flag gives
	// them; completion is the share of users who finish onboarding.
	variant    func(r *rand.Rand) string
	completion float64
}

// sightings are the demo's flags seen serving users: the dark theme since
// its release 16 days ago (dark-mode, invalidated, still serving it: the
// turn-off list), the twenty results for 48 days (twenty-results,
// validated, its flag still there: the cleanup list) and the winter
// banner, on for everyone during the week of the sale and disabled since
// it ended six days ago (winter-banner, measuring the sale by a survey:
// the demo files keep the banner disabled). The theme's visitors finish
// onboarding alike in both variants: the hoped-for lift did not come.
// Users are drawn half and half between the two variants. None of these
// flags has a split: a rule or the default serves every variant, so their
// users are exposed outside the split, counted in the flags' reach (the
// value loop's sightings) and in no experiment's figures.
func sightings(now time.Time) []sighting {
	day := 24 * time.Hour
	return []sighting{
		{flag: "theme", first: now.Add(-16 * day), last: now.Add(-time.Hour), users: 3000, completion: 0.4,
			variant: func(r *rand.Rand) string { // prefersDark: one visitor in two
				if r.IntN(2) == 0 {
					return "dark"
				}
				return "light"
			}},
		{flag: "search-results-per-page", first: now.Add(-48 * day), last: now.Add(-2 * time.Hour), users: 6000,
			variant: func(r *rand.Rand) string { // appVersion >= 2.4.0: one app in two
				if r.IntN(2) == 0 {
					return "twenty"
				}
				return "ten"
			}},
		{flag: "banner", first: now.Add(-13 * day), last: now.Add(-6*day - time.Hour), users: 4000,
			variant: func(*rand.Rand) string { return "winter" }},
	}
}

// loadExposures sends x's exposures through the pipeline, the first user
// at x.first and the last at x.last, and returns the number of users
// exposed.
func loadExposures(ctx context.Context, p Ingester, x sighting) (int64, error) {
	r := rand.New(rand.NewPCG(2026, 21))
	span := x.last.Sub(x.first)
	var events []ingest.Event
	for i := range x.users {
		key := fmt.Sprintf("visitor-%05d", i)
		at := x.first.Add(span * time.Duration(i) / time.Duration(x.users-1))
		// No split draws these variants: a rule or the default serves
		// them (the banner was on for everyone), so the users count in
		// the flag's reach, not in an experiment.
		events = append(events, ingest.Event{Type: ingest.Exposure, ID: "demo-seen-" + x.flag + "-" + key, Flag: x.flag,
			Variant: x.variant(r), TargetingKey: key, Time: at.UnixMilli(), TimeSet: true, OutsideSplit: true})
		if r.Float64() < x.completion {
			done := at.Add(time.Duration(r.Int64N(int64(20 * time.Minute))))
			if done.After(x.last) {
				done = x.last
			}
			events = append(events, ingest.Event{Type: ingest.Tracking, ID: "demo-seen-" + x.flag + "-done-" + key, Name: "onboarding_completed",
				TargetingKey: key, Time: done.UnixMilli(), TimeSet: true})
		}
	}
	if _, err := p.Ingest(ctx, "production", events); err != nil {
		return 0, fmt.Errorf("demo exposures of %s: %w", x.flag, err)
	}
	return int64(x.users), nil
}
