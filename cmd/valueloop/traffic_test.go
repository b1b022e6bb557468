package main

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// traffic is synthetic experiment traffic for the end-to-end tests: users
// u<from>, u<from+1>, … alternately in control and treatment (by their
// number), each exposed to flag and then buying with their variant's
// chance. One generator for the experiment, verdict, fixed-inference and
// stop-advice tests, which had one each.
type traffic struct {
	flag        string
	from, users int
	buy         [2]float64 // the chance to buy in control and in treatment
	// seed draws who buys; without one, the first of every 1/buy users of
	// a variant buys, the same on every run.
	seed     [2]uint64
	idPrefix string // of the events' ids, before their number
	// covariate gives each user a spend, bought before the exposure by 4 in
	// 10 (CUPED's covariate) and again after it when buying; the events
	// have times, and 1 user in 20 sends an error.
	covariate bool
}

func (tr traffic) events() []map[string]any {
	var r *rand.Rand
	if tr.seed != [2]uint64{} {
		r = rand.New(rand.NewPCG(tr.seed[0], tr.seed[1]))
	}
	var events []map[string]any
	ev := func(user string, m map[string]any) {
		m["id"] = tr.idPrefix + fmt.Sprint(len(events))
		m["targetingKey"] = user
		events = append(events, m)
	}
	for i := tr.from; i < tr.from+tr.users; i++ {
		user, arm := fmt.Sprintf("u%d", i), i%2
		exposure := map[string]any{"type": "exposure", "flag": tr.flag, "variant": []string{"control", "treatment"}[arm]}
		purchase := map[string]any{"type": "tracking", "name": "purchase"}
		spend := 0.0
		if tr.covariate {
			spend = 10 + 5*r.Float64()
			if r.Float64() < 0.4 {
				ev(user, map[string]any{"type": "tracking", "name": "purchase", "value": spend, "time": "2026-01-01T00:00:00Z"})
			}
			exposure["time"] = "2026-01-02T00:00:00Z"
		}
		ev(user, exposure)
		if r == nil && (i/2)%int(math.Round(1/tr.buy[arm])) == 0 || r != nil && r.Float64() < tr.buy[arm] {
			if tr.covariate {
				purchase["value"], purchase["time"] = spend+r.Float64(), "2026-01-02T01:00:00Z"
			}
			ev(user, purchase)
		}
		if tr.covariate && r.Float64() < 0.05 {
			ev(user, map[string]any{"type": "tracking", "name": "error", "time": "2026-01-02T02:00:00Z"})
		}
	}
	return events
}
