package value

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the start of every hand-written history: Monday 2026-11-02 00:00 UTC.
var t0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func day(d float64) time.Time { return t0.Add(time.Duration(d * 24 * float64(time.Hour))) }

func ev(id string, k EventKind, at time.Time) Event {
	return Event{ID: id, Kind: k, At: at, Cause: string(k) + " " + id}
}

func verdict(id string, s Stage, at time.Time, effect float64) Event {
	e := ev(id, VerdictRecorded, at)
	e.Stage, e.Effect = s, &effect
	return e
}

func prod(flag string) FlagLink { return FlagLink{Environment: "production", Flag: flag} }

// removed is the removal of flag fl, changed a change of its definition.
func removed(id string, fl FlagLink, at time.Time) Event {
	e := ev(id, FlagRemoved, at)
	e.Environment, e.Flag = fl.Environment, fl.Flag
	return e
}

func changed(id string, fl FlagLink, at time.Time) Event {
	e := ev(id, FlagChanged, at)
	e.Environment, e.Flag = fl.Environment, fl.Flag
	return e
}

// linked returns the flags in production that events name: the feature's
// flags linked in production, in the tables of TestDerive (a flag linked
// and never removed is named by a change of its definition).
func linked(events []Event) []FlagLink {
	var out []FlagLink
	for _, e := range events {
		fl := prod(e.Flag)
		if e.Flag != "" && e.Environment == fl.Environment && !slices.Contains(out, fl) {
			out = append(out, fl)
		}
	}
	return out
}

func moved(id string, s Stage, at time.Time) Event {
	e := ev(id, Moved, at)
	e.Stage = s
	return e
}

// path writes transitions as "stage@day" for compact expectations.
func path(l Lifecycle) string {
	var parts []string
	for _, t := range l.Transitions {
		parts = append(parts, string(t.To)+"@"+num(t.At.Sub(t0).Hours()/24))
	}
	return strings.Join(parts, " ")
}

func TestDerive(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []Event
		want   string // transitions
		stage  Stage
	}{
		{"nothing yet", nil, "", Idea},
		{"written down", []Event{ev("c", Created, day(0))}, "idea@0", Idea},
		{"made ready by hand", []Event{ev("c", Created, day(0)), moved("m", Ready, day(2))}, "idea@0 ready@2", Ready},
		{"the whole loop", []Event{
			ev("c", Created, day(0)), moved("m", Ready, day(1)), ev("commit1", CommitPushed, day(3)),
			ev("commit2", CommitPushed, day(4)), ev("pr", Merged, day(5)), ev("dep", Deployed, day(6)),
			ev("rs", RolloutStarted, day(7)), ev("step", RolloutStep, day(8)), ev("rc", RolloutCompleted, day(10)),
			verdict("v", Validated, day(17), 0.08), removed("rm", prod("f"), day(20)),
		}, "idea@0 ready@1 building@3 releasing@6 measuring@10 validated@17 done@20", Done},
		// The deployment (day 2) comes before the commit's own time (day 3,
		// a clock off on a laptop): it proves building too, so building is
		// entered on day 2, and never after releasing.
		{"deployment before the commit's time", []Event{
			ev("c", Created, day(0)), ev("commit", CommitPushed, day(3)), ev("dep", Deployed, day(2)),
		}, "idea@0 building@2 releasing@2", Releasing},
		// No change linked: the rollout goes straight to releasing; building
		// is not listed.
		{"skipped stage", []Event{ev("c", Created, day(0)), ev("rs", RolloutStarted, day(4))}, "idea@0 releasing@4", Releasing},
		{"experiment running measures", []Event{ev("c", Created, day(0)), ev("x", ExperimentStarted, day(1))}, "idea@0 measuring@1", Measuring},
		// Validated on day 10, invalidated on day 12: the outcome that stands
		// is invalidated, and both are transitions.
		{"verdict revised", []Event{
			ev("c", Created, day(0)), ev("x", ExperimentStarted, day(1)),
			verdict("v1", Validated, day(10), 0.06), verdict("v2", Invalidated, day(12), 0.01),
		}, "idea@0 measuring@1 validated@10 invalidated@12", Invalidated},
		{"abandoned by hand", []Event{ev("c", Created, day(0)), ev("commit", CommitPushed, day(2)), moved("a", Abandoned, day(5))},
			"idea@0 building@2 abandoned@5", Abandoned},
		// Abandonment recorded with a time before the last evidence: placed
		// after it, never before.
		{"abandoned, time before evidence", []Event{ev("c", Created, day(0)), ev("commit", CommitPushed, day(6)), moved("a", Abandoned, day(5))},
			"idea@0 building@6 abandoned@6", Abandoned},
		{"done before abandoned stays done", []Event{ev("c", Created, day(0)), ev("dep", Deployed, day(2)), removed("rm", prod("f"), day(3)), moved("a", Abandoned, day(5))},
			"idea@0 releasing@2 done@3", Done},
		// A flag deleted before anything was released is no cleanup: the
		// idea stays in the backlog instead of passing for done unbuilt.
		{"flag removed before any release", []Event{ev("c", Created, day(0)), removed("rm", prod("f"), day(1))}, "idea@0", Idea},
		{"flag removed while building", []Event{ev("c", Created, day(0)), ev("commit", CommitPushed, day(1)), removed("rm", prod("f"), day(2))},
			"idea@0 building@1", Building},
		// Removed on day 2, then (a new flag of that name) released on day
		// 4 and removed again on day 6: the second removal is the cleanup.
		{"flag removed before release, again after", []Event{ev("c", Created, day(0)), removed("rm1", prod("f"), day(2)),
			ev("rs", RolloutStarted, day(4)), removed("rm2", prod("f"), day(6))}, "idea@0 releasing@4 done@6", Done},
		{"flag removed at the instant of release", []Event{ev("c", Created, day(0)), ev("dep", Deployed, day(3)), removed("rm", prod("f"), day(3))},
			"idea@0 releasing@3 done@3", Done},
		// A feature shipped behind two flags is cleaned up once both are
		// removed, dated by the last: with one still there it stays decided,
		// and the finish list names the other.
		{"one of two flags removed", []Event{ev("c", Created, day(0)), changed("fb", prod("b"), day(1)), ev("x", ExperimentStarted, day(2)),
			verdict("v", Validated, day(5), 0.1), removed("rma", prod("a"), day(8))}, "idea@0 measuring@2 validated@5", Validated},
		{"both flags removed, done at the last", []Event{ev("c", Created, day(0)), ev("x", ExperimentStarted, day(2)), verdict("v", Validated, day(5), 0.1),
			removed("rma", prod("a"), day(8)), removed("rmb", prod("b"), day(10))}, "idea@0 measuring@2 validated@5 done@10", Done},
		{"one flag removed twice, the other not", []Event{ev("c", Created, day(0)), ev("x", ExperimentStarted, day(2)), removed("rma", prod("a"), day(8)),
			removed("rma2", prod("a"), day(9)), changed("fb", prod("b"), day(9))}, "idea@0 measuring@2", Measuring},
		// A placeholder removed before the release is removed all the same:
		// the removal of the last one, after the release, is the cleanup.
		{"placeholder before release, the other after", []Event{ev("c", Created, day(0)), removed("rma", prod("a"), day(1)),
			ev("dep", Deployed, day(3)), removed("rmb", prod("b"), day(6))}, "idea@0 releasing@3 done@6", Done},
		{"every flag removed before release", []Event{ev("c", Created, day(0)), removed("rma", prod("a"), day(1)),
			removed("rmb", prod("b"), day(2)), ev("dep", Deployed, day(3))}, "idea@0 releasing@3", Releasing},
		// Only the flags linked in production count: a development flag's
		// removal cleans up nothing.
		{"development flag removed", []Event{ev("c", Created, day(0)), ev("dep", Deployed, day(3)), changed("f", prod("f"), day(1)),
			removed("rmd", FlagLink{Environment: "development", Flag: "f"}, day(6))}, "idea@0 releasing@3", Releasing},
		{"validated by hand", []Event{ev("c", Created, day(0)), moved("m", Validated, day(9))}, "idea@0 validated@9", Validated},
		{"record-only events move nothing", []Event{ev("c", Created, day(0)), ev("h", HypothesisSet, day(1)),
			ev("fc", FlagChanged, day(2)), ev("rb", RolloutRolledBack, day(3))}, "idea@0", Idea},
		{"redelivered webhook counts once", []Event{ev("c", Created, day(0)), ev("commit", CommitPushed, day(2)), ev("commit", CommitPushed, day(2))},
			"idea@0 building@2", Building},
		// The same fact reported twice with different times: the earliest
		// counts.
		{"same ID, two times", []Event{ev("c", Created, day(0)), ev("dep", Deployed, day(5)), ev("dep", Deployed, day(4))},
			"idea@0 releasing@4", Releasing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Derive(tc.events, linked(tc.events))
			if got := path(l); got != tc.want {
				t.Errorf("transitions: got %q, want %q", got, tc.want)
			}
			if l.Stage != tc.stage {
				t.Errorf("stage: got %s, want %s", l.Stage, tc.stage)
			}
		})
	}
}

func TestDeriveTransitionFields(t *testing.T) {
	l := Derive([]Event{ev("c", Created, day(0)), moved("m", Ready, day(1)), ev("commit", CommitPushed, day(3))}, nil)
	want := []Transition{
		{To: Idea, At: day(0), Cause: "created c", Event: "c"},
		{From: Idea, To: Ready, At: day(1), Cause: "moved m", Event: "m", Manual: true},
		{From: Ready, To: Building, At: day(3), Cause: "commit commit", Event: "commit"},
	}
	if !reflect.DeepEqual(l.Transitions, want) {
		t.Errorf("got %+v\nwant %+v", l.Transitions, want)
	}
	if l.Since != day(3) {
		t.Errorf("since: got %v, want day 3", l.Since)
	}
}

func TestStageTimes(t *testing.T) {
	l := Derive([]Event{ev("c", Created, day(0)), moved("m", Ready, day(1)), ev("commit", CommitPushed, day(3.5)),
		ev("rs", RolloutStarted, day(6))}, nil)
	// idea 0→1 = 1d, ready 1→3.5 = 2.5d, building 3.5→6 = 2.5d, releasing
	// 6→now (day 10) = 4d, open.
	want := []StageTime{
		{Idea, 24 * time.Hour, false}, {Ready, 60 * time.Hour, false}, {Building, 60 * time.Hour, false},
		{Releasing, 96 * time.Hour, true},
	}
	if got := l.StageTimes(day(10)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	done := Derive([]Event{ev("c", Created, day(0)), moved("m", Done, day(2))}, nil)
	if got := done.StageTimes(day(10)); len(got) != 1 || got[0].Open {
		t.Errorf("done is not a stage to measure up to now: got %+v", got)
	}
}

// historyFlags are the flags linked in production in every history.
var historyFlags = []FlagLink{prod("a"), prod("b")}

// history is a feature's evidence with every kind, some at equal times,
// some out of order, to shuffle.
func history(r *rand.Rand) []Event {
	kinds := []EventKind{Created, HypothesisSet, CommitPushed, CommitPushed, Merged, Deployed, FlagChanged,
		RolloutStarted, RolloutStep, RolloutRolledBack, RolloutCompleted, ExperimentStarted, FlagRemoved}
	var out []Event
	for i, k := range kinds {
		if r.IntN(4) == 0 {
			continue // not every feature sees every kind
		}
		e := ev(string(k)+string(rune('a'+i)), k, day(float64(r.IntN(30))))
		if k == FlagRemoved {
			e = removed(e.ID, historyFlags[r.IntN(2)], e.At)
		}
		out = append(out, e)
	}
	if r.IntN(2) == 0 { // the other flag of the two, or the same again
		out = append(out, removed("rm2", historyFlags[r.IntN(2)], day(float64(r.IntN(30)))))
	}
	for i := range r.IntN(3) {
		d := []Stage{Validated, Invalidated}[r.IntN(2)]
		out = append(out, verdict("v"+string(rune('0'+i)), d, day(float64(r.IntN(30))), r.Float64()/10))
	}
	if r.IntN(3) == 0 {
		out = append(out, moved("ready", Ready, day(float64(r.IntN(30)))))
	}
	if r.IntN(5) == 0 {
		out = append(out, moved("abandon", Abandoned, day(float64(r.IntN(30)))))
	}
	return out
}

// TestDeriveProperties: however the events arrive (shuffled, duplicated,
// one by one), the lifecycle is the same, and its times never go back.
func TestDeriveProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for n := range 500 {
		events := history(r)
		want := Derive(events, historyFlags)
		// Times never decrease along the transitions, and stages move forward.
		for i := 1; i < len(want.Transitions); i++ {
			a, b := want.Transitions[i-1], want.Transitions[i]
			if b.At.Before(a.At) {
				t.Fatalf("history %d: %s at %v after %s at %v", n, b.To, b.At, a.To, a.At)
			}
			if b.To != Abandoned && b.To.rank() < a.To.rank() {
				t.Fatalf("history %d: stage went back from %s to %s", n, a.To, b.To)
			}
			if b.From != a.To {
				t.Fatalf("history %d: transition %d from %s, previous went to %s", n, i, b.From, a.To)
			}
		}
		for range 5 {
			shuffled := slices.Clone(events)
			for range r.IntN(4) { // some facts delivered twice
				shuffled = append(shuffled, events[r.IntN(len(events))])
			}
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			got := Derive(shuffled, historyFlags)
			if !reflect.DeepEqual(got.Transitions, want.Transitions) || got.Stage != want.Stage || !reflect.DeepEqual(Timeline(shuffled), Timeline(events)) || !reflect.DeepEqual(got.Verdict, want.Verdict) {
				t.Fatalf("history %d: arrival order changed the lifecycle:\ngot  %s\nwant %s", n, path(got), path(want))
			}
			// Arriving one by one: a stage once entered stays entered, and
			// its time never moves later (evidence arriving late can only
			// show it was entered earlier).
			var prev Lifecycle
			for i := range shuffled {
				cur := Derive(shuffled[:i+1], historyFlags)
				for _, s := range []Stage{Idea, Ready, Building, Releasing, Measuring, Done} {
					before, ok := prev.Entered(s)
					if !ok {
						continue
					}
					if now, ok := cur.Entered(s); ok && now.After(before) {
						t.Fatalf("history %d: %s moved later, from %v to %v", n, s, before, now)
					}
					if cur.Stage != Abandoned && cur.Stage.rank() < s.rank() && !cur.Stage.Decided() {
						t.Fatalf("history %d: stage %s after %s was entered", n, cur.Stage, s)
					}
				}
				prev = cur
			}
		}
	}
}
