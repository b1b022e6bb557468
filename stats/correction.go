package stats

import (
	"fmt"
	"math"
	"slices"

	"github.com/valueloop/valueloop"
)

// Adjust returns p-values adjusted for multiple testing, in the order given:
// Holm's step-down (family-wise error rate) or Benjamini–Hochberg's step-up
// (false discovery rate), both as statsmodels' multipletests. Every p-value
// must be in [0, 1].
func Adjust(p []float64, method Correction) ([]float64, error) {
	switch method {
	case NoCorrection, Holm, BenjaminiHochberg, Bonferroni:
	default:
		return nil, valueloop.FieldErrorf("correction", "must be %q, %q, %q or %q, got %q", NoCorrection, Holm, BenjaminiHochberg, Bonferroni, method)
	}
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return nil, valueloop.FieldErrorf(fmt.Sprintf("p[%d]", i), "a p-value must be in [0, 1], got %v", v)
		}
	}
	out := slices.Clone(p)
	adjustInPlace(out, method)
	return out, nil
}

func adjustInPlace(p []float64, method Correction) {
	m := len(p)
	if m == 0 || method == NoCorrection {
		return
	}
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	adj := make([]float64, m)
	switch method {
	case Bonferroni:
		for i := range p {
			adj[i] = math.Min(1, float64(m)*p[i])
		}
	case Holm:
		// adj_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)), 1-based ranks.
		run := 0.0
		for r, i := range order {
			run = math.Max(run, math.Min(1, float64(m-r)*p[i]))
			adj[i] = run
		}
	case BenjaminiHochberg:
		// adj_(i) = min_{j ≥ i} min(1, m/j · p_(j)).
		run := 1.0
		for r := m - 1; r >= 0; r-- {
			i := order[r]
			run = math.Min(run, float64(m)/float64(r+1)*p[i])
			adj[i] = run
		}
	}
	copy(p, adj)
}
