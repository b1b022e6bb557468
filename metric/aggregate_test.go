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
