package value

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/valueloop/valueloop/bench/cputime"
)

// reportCPU adds the CPU time per operation (user and system, every
// thread, the garbage collector's included): on a machine shared with other
// work ns/op measures waiting as well, cpu-ns/op what the code costs.
func reportCPU(b *testing.B) func() {
	start := cputime.Used()
	return func() { b.ReportMetric(float64(cputime.Used()-start)/float64(b.N), "cpu-ns/op") }
}

// benchPortfolio builds 10,000 features over 20 objectives with 100,000
// linked changes: 4,000 ideas and ready features (estimated, to rank), and
// 6,000 that got further, each with about 17 commits and, by stage, a
// deployment, a rollout, an exposure, a verdict and a cleanup.
func benchPortfolio() (objs []Objective, features []Feature, events [][]Event) {
	r := rand.New(rand.NewPCG(10000, 100000))
	for i := range 20 {
		objs = append(objs, objective(fmt.Sprintf("objective-%02d", i), "2027-06-30"))
	}
	const nFeatures, nChanges, nBacklog = 10000, 100000, 4000
	changes := 0
	for i := range nFeatures {
		key := fmt.Sprintf("feature-%05d", i)
		f := Feature{Key: key, Title: key, Objective: objs[i%len(objs)].Key,
			Hypothesis: Hypothesis{Change: key, Metric: "m", MinimumEffect: 0.05},
			Estimate:   wsjf(float64(1+r.IntN(20)), float64(r.IntN(13)), float64(r.IntN(8)), float64(1+r.IntN(13))),
			Links:      Links{Flags: []FlagLink{{Environment: "production", Flag: key}}}}
		start := t0.Add(time.Duration(r.IntN(365*24)) * time.Hour)
		at := func(d float64) time.Time { return start.Add(time.Duration(d * 24 * float64(time.Hour))) }
		evs := []Event{ev(key+"/c", Created, start)}
		if i < nBacklog {
			if i%2 == 0 {
				evs = append(evs, moved(key+"/r", Ready, at(1)))
			}
		} else {
			n := (nChanges - changes) / (nFeatures - i) // spread the rest evenly
			for j := range n {
				evs = append(evs, ev(fmt.Sprintf("%s/commit/%d", key, j), CommitPushed, at(2+float64(j)/4)))
			}
			changes += n
			stage := r.IntN(5)
			if stage >= 1 {
				evs = append(evs, ev(key+"/dep", Deployed, at(8)), ev(key+"/rs", RolloutStarted, at(9)))
			}
			if stage >= 2 {
				evs = append(evs, ev(key+"/rc", RolloutCompleted, at(14)))
			}
			if stage >= 3 {
				evs = append(evs, verdict(key+"/v", []Stage{Validated, Invalidated}[r.IntN(2)], at(30), r.Float64()/10))
			}
			if stage >= 4 {
				evs = append(evs, removed(key+"/rm", f.Links.Flags[0], at(45)))
			}
		}
		features = append(features, f)
		events = append(events, evs)
	}
	if changes != nChanges {
		panic(fmt.Sprintf("built %d changes, want %d", changes, nChanges))
	}
	return objs, features, events
}

func deriveAll(features []Feature, events [][]Event) []Item {
	items := make([]Item, len(features))
	for i := range features {
		l := Derive(events[i], features[i].Links.Flags)
		items[i] = Item{Feature: &features[i], Lifecycle: &l}
	}
	return items
}

// BenchmarkNext: lifecycles derived from the evidence, then ranked, as the
// server answers 'valueloop next'.
func BenchmarkNext(b *testing.B) {
	objs, features, events := benchPortfolio()
	now := t0.AddDate(1, 2, 0)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		n := ComputeNext(NextInput{Objectives: objs, Items: deriveAll(features, events), Now: now})
		if len(n.Ranked) != 4000 {
			b.Fatalf("ranked %d", len(n.Ranked))
		}
	}
}

// BenchmarkFlow: lifecycles derived, then the flow of the last 90 days.
func BenchmarkFlow(b *testing.B) {
	_, features, events := benchPortfolio()
	now := t0.AddDate(1, 2, 0)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		f := ComputeFlow(deriveAll(features, events), FlowOptions{Now: now, Since: now.AddDate(0, 0, -90)})
		if f.Stages[0].WIP == 0 {
			b.Fatal("no ideas")
		}
	}
}

// BenchmarkRecognize: 100,000 commit messages matched against 10,000
// features' trailers, labels and branch prefixes.
func BenchmarkRecognize(b *testing.B) {
	_, features, _ := benchPortfolio()
	for i := range features {
		features[i].Links.Changes.BranchPrefixes = []string{features[i].Key + "/"}
	}
	r := NewRecognizer(features)
	texts := make([]ChangeText, 100000)
	for i := range texts {
		texts[i] = ChangeText{Message: fmt.Sprintf("Change %d\n\nSome words about it.\n\nFeature: feature-%05d\n", i, i%10000), Branch: fmt.Sprintf("feature-%05d/x", (i*7)%10000)}
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		for _, c := range texts {
			if len(r.Match(c)) == 0 {
				b.Fatal("no match")
			}
		}
	}
}
