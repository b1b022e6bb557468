package metric

import (
	"encoding/binary"
	"errors"
	"math/big"

	"github.com/valueloop/valueloop/stats"
)

// Sums are the exact sufficient statistics of one metric in one variant:
// the number of users N and, over them, the power sums of the per-user value
// x, the ratio denominator y and the pre-exposure covariate c, all in
// millionths (x² in millionths squared): Σx, Σx², Σy, Σy², Σxy, Σc, Σc², Σxc,
// Σyc. Being integers, they are exact; Summary turns them into centred
// moments with one rounding at the very end, so there is no catastrophic
// cancellation however large the means.
type Sums struct {
	N                               int64
	x, xx, y, yy, xy, c, cc, xc, yc i192
	// q is the encoded Sketch of the per-user values x of a quantile
	// metric ("" for other metrics and an empty sketch), so that Sums stays
	// comparable.
	q string
}

// SetSketch stores k as the sketch of a quantile metric's values.
func (s *Sums) SetSketch(k Sketch) {
	if k.Zero == 0 && len(k.Pos) == 0 && len(k.Neg) == 0 {
		s.q = ""
		return
	}
	s.q = string(k.encode(nil))
}

// Sketch returns the sketch of a quantile metric's values (empty for other
// metrics).
func (s Sums) Sketch() Sketch {
	k, _ := decodeSketch([]byte(s.q))
	return k
}

// SetEventSketch stores k as the sketches of a quantile over events (packed
// into one Sketch, so that Add merges them).
func (s *Sums) SetEventSketch(k EventSketch) { s.SetSketch(k.pack()) }

// EventSketch returns the sketches of a quantile over events.
func (s Sums) EventSketch() EventSketch { return unpack(s.Sketch()) }

// SummaryOf is the Summary package stats analyses for metric m from its
// sums: the quantile and its standard error for a quantile metric, the
// moments otherwise.
func SummaryOf(m Metric, s Sums) stats.Summary {
	if m.PerEvent() {
		return clusteredSummary(orderedPacked([]byte(s.q)), s.N, m.Quantile)
	}
	if m.Kind == Quantile {
		return s.Sketch().QuantileSummary(m.Quantile)
	}
	return s.Summary()
}

// Apply adds (sign 1) or removes (sign −1) one user's values. Zero values
// are common (no ratio denominator, no events before exposure) and skipped.
func (s *Sums) Apply(x, y, c int64, sign int) {
	op := (*i192).add
	if sign > 0 {
		s.N++
	} else {
		s.N--
		op = (*i192).sub
	}
	if x != 0 {
		op(&s.x, of64(x))
		op(&s.xx, mul64(x, x))
	}
	if y != 0 {
		op(&s.y, of64(y))
		op(&s.yy, mul64(y, y))
		if x != 0 {
			op(&s.xy, mul64(x, y))
		}
	}
	if c != 0 {
		op(&s.c, of64(c))
		op(&s.cc, mul64(c, c))
		if x != 0 {
			op(&s.xc, mul64(x, c))
		}
		if y != 0 {
			op(&s.yc, mul64(y, c))
		}
	}
}

// Add adds d to s. A Sums can be a change (a delta, as StateTx.AddAggregates
// receives): with N and the power sums negative where users left.
func (s *Sums) Add(d Sums) {
	s.N += d.N
	df := d.fields()
	for i, v := range s.fields() {
		v.add(*df[i])
	}
	if d.q != "" {
		k := s.Sketch()
		k.Merge(d.Sketch())
		s.SetSketch(k)
	}
}

// Sub takes d from s: the inverse of Add, exact (sums and sketch counts
// are integers), so that the cells of some users are those of all less
// those of the others.
func (s *Sums) Sub(d Sums) {
	s.N -= d.N
	df := d.fields()
	for i, v := range s.fields() {
		v.sub(*df[i])
	}
	if d.q != "" {
		k, o := s.Sketch(), d.Sketch()
		for i, c := range o.Pos {
			k.Pos = bump(k.Pos, i, -c)
		}
		for i, c := range o.Neg {
			k.Neg = bump(k.Neg, i, -c)
		}
		k.Zero -= o.Zero
		s.SetSketch(k)
	}
}

// IsZero reports whether s summarises nobody.
func (s Sums) IsZero() bool { return s == Sums{} }

// Total returns Σx as a float (in the metric's units): the total of a sum
// metric, the number of events of a count, the conversions of a conversion.
func (s Sums) Total() float64 {
	f, _ := new(big.Rat).SetFrac(s.x.big(), big.NewInt(Scale)).Float64()
	return f
}

// Summary converts s to the centred form package stats analyses. Each
// moment is computed exactly as a rational and rounded once.
func (s Sums) Summary() stats.Summary {
	if s.N <= 0 {
		return stats.Summary{N: s.N}
	}
	n := big.NewInt(s.N)
	mean := func(a i192) float64 {
		f, _ := new(big.Rat).SetFrac(a.big(), new(big.Int).Mul(n, big.NewInt(Scale))).Float64()
		return f
	}
	// co returns Σ(a−ā)(b−b̄) = (n·Σab − Σa·Σb) / n, in units².
	scale2 := new(big.Int).Mul(n, big.NewInt(Scale*Scale))
	co := func(ab, a, b i192) float64 {
		num := new(big.Int).Mul(n, ab.big())
		num.Sub(num, new(big.Int).Mul(a.big(), b.big()))
		f, _ := new(big.Rat).SetFrac(num, scale2).Float64()
		return f
	}
	return stats.Summary{
		N:       s.N,
		Mean:    mean(s.x),
		M2:      co(s.xx, s.x, s.x),
		DenMean: mean(s.y),
		DenM2:   co(s.yy, s.y, s.y),
		XDen:    co(s.xy, s.x, s.y),
		PreMean: mean(s.c),
		PreM2:   co(s.cc, s.c, s.c),
		XPre:    co(s.xc, s.x, s.c),
		DenPre:  co(s.yc, s.y, s.c),
	}
}

const sumsBytes = 8 + 9*24

// MarshalBinary encodes s in a fixed 224-byte layout, followed for a
// quantile metric by its encoded sketch.
func (s Sums) MarshalBinary() ([]byte, error) {
	buf := make([]byte, sumsBytes, sumsBytes+len(s.q))
	binary.LittleEndian.PutUint64(buf, uint64(s.N))
	off := 8
	for _, v := range s.fields() {
		for _, limb := range *v {
			binary.LittleEndian.PutUint64(buf[off:], limb)
			off += 8
		}
	}
	return append(buf, s.q...), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (s *Sums) UnmarshalBinary(buf []byte) error {
	if len(buf) < sumsBytes {
		return errors.New("ingest: bad encoded sums length")
	}
	s.q = ""
	if len(buf) > sumsBytes {
		if _, ok := decodeSketch(buf[sumsBytes:]); !ok {
			return errors.New("ingest: bad encoded sketch")
		}
		s.q = string(buf[sumsBytes:])
	}
	s.N = int64(binary.LittleEndian.Uint64(buf))
	off := 8
	for _, v := range s.fields() {
		for i := range v {
			v[i] = binary.LittleEndian.Uint64(buf[off:])
			off += 8
		}
	}
	return nil
}

func (s *Sums) fields() [9]*i192 {
	return [9]*i192{&s.x, &s.xx, &s.y, &s.yy, &s.xy, &s.c, &s.cc, &s.xc, &s.yc}
}

// Aggregate is the stored figure of one (flag, variant, period, metric). Two
// metric-less rows complete a flag: Metric "" holds in Sums.N the users whose
// first exposure was Variant in Period (excluded ones not counted), and
// Variant "" with Metric "" (Period 0) holds in Sums.N the users excluded for
// having seen more than one variant.
//
// Period is the split period of the users' first exposure: the time (Unix
// milliseconds, as event times) at which the flag's split last changed before
// it, 0 when it has not changed since the flag began. A flag whose split never
// changed has period 0 only.
//
// Dimension and Value are empty for the cells of all users. A cell with a
// Dimension (see Dimension) holds the same figures for the users whose value
// of that attribute at first exposure was Value: the variant rows (Metric ""
// and the metrics) are kept once more per dimension value, the row of
// excluded users is not. The users whose first exposure was served outside
// the flag's split are in none of these: their variant rows have Dimension
// OutsideDimension and Value "".
type Aggregate struct {
	Flag      string `json:"flag"`
	Variant   string `json:"variant"`
	Period    int64  `json:"period,omitempty"`
	Dimension string `json:"dimension,omitempty"`
	Value     string `json:"value,omitempty"`
	Metric    string `json:"metric"`
	Sums      Sums   `json:"-"`
}
