package stats

import (
	"fmt"
	"testing"

	"github.com/valueloop/valueloop/valuelooptest"
)

// oneSidedGolden mirrors the reference part of
// testdata/one_sided_sequence.json, written by
// testdata/sim_one_sided_sequence.py (scipy's brentq and norm.logcdf).
type oneSidedGolden struct {
	OneSided []struct {
		Alpha, Tuning, T, Z, Multiplier, PValue float64
	}
}

func loadOneSided(t *testing.T) oneSidedGolden {
	t.Helper()
	g := valuelooptest.ReadJSON[oneSidedGolden](t, "testdata/one_sided_sequence.json")
	if len(g.OneSided) == 0 {
		t.Fatal("no one-sided cases in one_sided_sequence.json")
	}
	return g
}

// TestGoldenOneSidedSequence: the one-sided sequence's bound and p-value
// are the one-sided normal mixture's, in either direction, and its
// p-value at the bound is α (the sequence excludes 0 exactly when p ≤ α).
func TestGoldenOneSidedSequence(t *testing.T) {
	for _, c := range loadOneSided(t).OneSided {
		name := fmt.Sprintf("one-sided sequence(alpha=%v, tuning=%v, t=%v)", c.Alpha, c.Tuning, c.T)
		for _, alt := range []Alternative{Greater, Less} {
			q := newSequential(c.Alpha, c.Tuning, alt)
			m := q.multiplier(c.T)
			checkClose(t, name+".multiplier", m, c.Multiplier, goldenTol)
			z := c.Z
			if alt == Less {
				z = -z
			}
			checkClose(t, name+".pValue", q.pValue(z, c.T, alt), c.PValue, goldenTol)
			checkClose(t, name+".pValue at the bound", q.pValue(m*z/c.Z, c.T, alt), c.Alpha, 1e-9)
		}
	}
}

// TestOneSidedSequenceIsOneSided: with alternative greater the sequence's
// lower bound is the one-sided mixture's, estimate − 3.43·SE at 1,000 users
// (α = 0.05, tuned for 10,000), and its p-value matches. It used the
// two-sided boundary, estimate − 3.86·SE, which errs about α/2 (simulated
// 1.6% against 3.5% for the one-sided mixture: testdata/one_sided_sequence.json).
func TestOneSidedSequenceIsOneSided(t *testing.T) {
	var want struct{ Multiplier, PValue float64 }
	for _, c := range loadOneSided(t).OneSided {
		if c.Alpha == 0.05 && c.Tuning == 10000 && c.T == 1000 {
			want.Multiplier = c.Multiplier
		}
	}
	if want.Multiplier == 0 {
		t.Fatal("no case at α = 0.05, tuning 10000, t = 1000")
	}
	var k, tr Summary
	for i := range 500 {
		k.Add(float64(i%7), 0, 0)
		tr.Add(float64(i%7)+0.3, 0, 0)
	}
	s := Settings{Alpha: 0.05, Alternative: Greater, SequentialTuning: 10000, Correction: NoCorrection}
	e := mustAnalyze(t, s, twoArms(Mean, k, tr)).Metrics[0].Comparisons[0].Absolute
	checkClose(t, "sequential lower bound", e.Sequential.Lower, e.Estimate-want.Multiplier*e.SE, 1e-12)
	if !e.Sequential.UpperUnbounded {
		t.Errorf("sequence %+v: want no upper bound", e.Sequential)
	}
	q := newSequential(0.05, 10000, Greater)
	checkClose(t, "sequential p-value", e.SequentialPValue, q.pValue(e.Estimate/e.SE, 1000, Greater), 1e-12)
}
