package experiment

import (
	"slices"
	"time"

	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// SampleRatio is the sample-ratio check of Analyze (Result.SRM) read from
// the users alone: in.Aggregates need hold only the flag's cells of users
// per variant and split period (metric "", as a store's UserAggregates
// reads them), with in.Splits, in.Definition, the hypothesis and the
// settings. The check counts units, never a metric's figures, so a caller
// that needs only it (the record of bets asks whether a verdict's
// experiment can still be trusted) need not read and analyse every
// metric's cells: the answer is Analyze's on the full cells, error
// included (a hypothesis naming a metric the environment lost, settings
// the flag's variants refuse). Only the hypothesis' metrics are analysed,
// on no figures, so that its checks are Analyze's. A zero in.Now is the
// current time, as ReadDays sets it.
func SampleRatio(in Input) (stats.SRM, error) {
	var used []metric.Metric
	if h := in.Hypothesis; h != nil {
		used = slices.DeleteFunc(slices.Clone(in.Metrics), func(m metric.Metric) bool {
			return m.Key != h.PrimaryMetric && !slices.ContainsFunc(h.Guardrails, func(g Guardrail) bool { return g.Metric == m.Key })
		})
	}
	if in.Now.IsZero() {
		in.Now = time.Now() // as ReadDays sets it: no window is left open by the missing days
	}
	in.Metrics, in.Only, in.Days, in.Outside = used, nil, nil, nil
	in.Dimension, in.DimensionAggregates = "", nil
	in.Aggregates = slices.DeleteFunc(slices.Clone(in.Aggregates), func(a metric.Aggregate) bool { return a.Metric != "" })
	res, err := Analyze(in)
	if err != nil {
		return stats.SRM{}, err
	}
	return res.SRM, nil
}
