package ingest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// logOf encodes events as log records of random sizes.
func logOf(r *rand.Rand, events []Event) [][]byte {
	var recs [][]byte
	for len(events) > 0 {
		n := min(1+r.IntN(200), len(events))
		recs = append(recs, EncodeLog(events[:n]).Data)
		events = events[n:]
	}
	return recs
}

func scanOf(recs [][]byte) func(fn func([]byte) error) error {
	return func(fn func([]byte) error) error {
		for _, d := range recs {
			if err := fn(d); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestRecomputationInParts checks that splitting the users among parts
// changes nothing: the cells, the number of events and every user's encoded
// state are those of one part, and the cells are the naive recomputation's.
func TestRecomputationInParts(t *testing.T) {
	metrics := testMetrics()
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			events := randomEvents(r, 3000)
			for i := range events {
				events[i].TargetingKey = fmt.Sprintf("user-%d", r.IntN(400))
			}
			scan := scanOf(logOf(r, events))
			one, err := recomputeLog(metrics, nil, 0, nil, 1, nil, scan)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffAggregates(one.all(), naive(metrics, events, nil)); d != "" {
				t.Fatalf("one part differs from the naive recomputation:\n%s", d)
			}
			var want []UserState
			for u := range one.users() {
				want = append(want, UserState{u.Key, append([]byte(nil), u.State...)})
			}
			for parts := 2; parts <= 4; parts++ {
				got, err := recomputeLog(metrics, nil, 0, nil, parts, nil, scan)
				if err != nil {
					t.Fatal(err)
				}
				if got.events != int64(len(events)) {
					t.Errorf("%d parts: %d events, want %d", parts, got.events, len(events))
				}
				if d := diffAggregates(got.all(), one.all()); d != "" {
					t.Errorf("%d parts: cells differ from one part:\n%s", parts, d)
				}
				i := 0
				for u := range got.users() {
					if i >= len(want) || u.Key != want[i].Key || string(u.State) != string(want[i].State) {
						t.Fatalf("%d parts: user %d is %s, want %s with the same state", parts, i, u.Key, want[min(i, len(want)-1)].Key)
					}
					i++
				}
				if i != len(want) {
					t.Errorf("%d parts: %d users, want %d", parts, i, len(want))
				}
			}
		})
	}
}

// TestRecomputationCorruptRecord checks that a damaged record fails the
// recomputation, with any number of parts, instead of being skipped.
func TestRecomputationCorruptRecord(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var recs [][]byte
	for range 200 {
		recs = append(recs, logOf(r, randomEvents(r, 300))...)
	}
	bad := 10
	recs[bad] = recs[bad][:len(recs[bad])/2]
	for parts := 1; parts <= 3; parts++ {
		read := 0
		scan := func(fn func([]byte) error) error {
			for _, d := range recs {
				read++
				if err := fn(d); err != nil {
					return err
				}
			}
			return nil
		}
		_, err := recomputeLog(testMetrics(), nil, 0, nil, parts, nil, scan)
		if !errors.Is(err, errCorrupt) || strings.Count(err.Error(), "corrupt") != 1 {
			t.Errorf("%d parts: err = %v, want errCorrupt, said once", parts, err)
		}
		// The parts lag behind the reading by their queues at most: the
		// reading stops long before the end.
		if read == len(recs) {
			t.Errorf("%d parts: all %d records read after record %d failed", parts, read, bad)
		}
	}
}

// TestRecomputationReportsProgress follows a recomputation of one part
// record by record: the events read in each pass, the total once the first
// pass knows it, then the users stored.
func TestRecomputationReportsProgress(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	events := randomEvents(r, 1000)
	recs := logOf(r, events)
	track := &rebuildTracker{env: "prod"}
	var calls int
	scan := func(fn func([]byte) error) error {
		var read int64
		phase := "exposures"
		if calls++; calls == 2 {
			phase = "tracking"
		}
		for _, d := range recs {
			st := track.status()
			want := RebuildStatus{Environment: "prod", Phase: phase, Done: read}
			if phase == "tracking" {
				want.Of = int64(len(events))
			}
			if st != want {
				t.Fatalf("before a record: %+v, want %+v", st, want)
			}
			if err := fn(d); err != nil {
				return err
			}
			n, _ := decodeCount(d)
			read += n
		}
		return nil
	}
	rc, err := recomputeLog(testMetrics(), nil, 0, nil, 1, track, scan)
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	for range rc.users() {
		st := track.status()
		if st.Phase != "users" || st.Done != stored || st.Of != int64(len(rc.parts[0].users)) {
			t.Fatalf("storing user %d of %d: %+v", stored, len(rc.parts[0].users), st)
		}
		stored++
	}
	if st := track.status(); st.Done != stored {
		t.Errorf("after the users: %+v, want done %d", st, stored)
	}
	var none *rebuildTracker
	none.start(phaseUsers, 1) // nobody watching: no effect, no panic
	none.add(1)
}

// decodeCount returns the number of events a log record says it holds.
func decodeCount(rec []byte) (int64, error) {
	var n int64
	err := DecodeLog(rec, func(*Event) error { n++; return nil })
	return n, err
}
