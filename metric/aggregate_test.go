package metric

import "testing"

func TestSumsExact(t *testing.T) {
	// Values with a huge mean and a tiny spread: naive float power sums
	// lose every digit of the variance; exact sums do not.
	var s Sums
	for _, v := range []int64{1e15 + 1, 1e15 + 2, 1e15 + 3} {
		s.Apply(v, 0, 0, 1)
	}
	sum := s.Summary()
	if sum.N != 3 || sum.Mean != 1e9+2e-6 || sum.M2 != 2e-12 {
		t.Errorf("Summary = %+v, want mean 1e9+2e-6, M2 2e-12", sum)
	}
	s.Apply(1e15+3, 0, 0, -1)
	s.Apply(1e15+3, 0, 0, 1)
	buf, _ := s.MarshalBinary()
	var back Sums
	if err := back.UnmarshalBinary(buf); err != nil || back != s {
		t.Errorf("binary round trip: %v, %+v", err, back)
	}
	if got := mul64(-3, 1<<62).big().String(); got != "-13835058055282163712" {
		t.Errorf("mul64 = %s", got)
	}
}

// TestSumsSub: what Add added, Sub takes away exactly, sketches too: the
// cells of the users whose window has ended are those of all users less
// those of the days still open.
func TestSumsSub(t *testing.T) {
	cell := func(xs ...int64) Sums {
		var s Sums
		var k Sketch
		for _, x := range xs {
			s.Apply(x, x/3, x/7, 1)
			k.Add(x, 1)
		}
		s.SetSketch(k)
		return s
	}
	closed, open := cell(1_000_000, -2_500_000, 0, 9_000_000_000), cell(4_000_000, 0, 1_000_000)
	all := closed
	all.Add(open)
	all.Sub(open)
	if all != closed {
		t.Errorf("all less open = %+v, want %+v", all, closed)
	}
	all.Sub(closed)
	if !all.IsZero() {
		t.Errorf("closed less itself = %+v, want zero", all)
	}
}
