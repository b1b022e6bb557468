package experiment

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// Reader is what Read reads of a flag's experiment: a store's hypotheses,
// metric definitions, aggregates and split history.
type Reader interface {
	Hypothesis(ctx context.Context, env, flag string) (*Hypothesis, error)
	Metrics(ctx context.Context, env string) ([]metric.Metric, error)
	Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error)
	// DimensionAggregates are the flag's cells per value of one dimension.
	DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error)
	// SplitHistory is the flag's split periods (rollout steps), so that
	// a flag whose split moved is analysed period by period.
	SplitHistory(ctx context.Context, env, flag string) ([]SplitPeriod, error)
}

// ReadHypothesis sets in's Hypothesis and Settings to those of the flag
// in.Flag of in.Environment, or to none and the default settings when it
// has no hypothesis. It is apart from ReadAnalysis so that a request can
// override the settings in between.
func ReadHypothesis(ctx context.Context, r Reader, in *Input) error {
	h, err := r.Hypothesis(ctx, in.Environment, in.Flag)
	switch {
	case valueloop.ErrorCode(err) == valueloop.ENOTFOUND:
		in.Hypothesis, in.Settings = nil, DefaultSettings()
	case err != nil:
		return err
	default:
		in.Hypothesis, in.Settings = h, h.Settings
	}
	return nil
}

// ReadAnalysis reads into in the environment's metrics and the flag's
// aggregates, split history and, when in.Dimension is set, its cells of
// that dimension, and analyses them: the results route and the
// experiment page answer the same. A flag the environment neither defines
// (in.Definition) nor has exposures of is not found.
func ReadAnalysis(ctx context.Context, r Reader, in *Input) (*Result, error) {
	if err := ReadInput(ctx, r, in); err != nil {
		return nil, err
	}
	return Analyze(*in)
}

// ReadInput reads what ReadAnalysis analyses into in: the environment's
// metrics, the flag's aggregates and split history, its cells of the users
// served outside the split (and, with in.Dimension, its cells by that
// dimension), and with a metric with a window its cells by day of first
// exposure (ReadDays). A caller keeping results reads the input, and
// analyses only when it changed (ClosedThrough says what changes with time
// alone).
func ReadInput(ctx context.Context, r Reader, in *Input) error {
	var err error
	if in.Metrics, err = r.Metrics(ctx, in.Environment); err != nil {
		return err
	}
	if in.Aggregates, err = r.Aggregates(ctx, in.Environment, in.Flag); err != nil {
		return err
	}
	if in.Splits, err = r.SplitHistory(ctx, in.Environment, in.Flag); err != nil {
		return err
	}
	if in.Outside, err = r.DimensionAggregates(ctx, in.Environment, in.Flag, metric.OutsideDimension); err != nil {
		return err
	}
	if err := ReadDays(ctx, r, in); err != nil {
		return err
	}
	if in.Dimension != "" {
		if in.DimensionAggregates, err = r.DimensionAggregates(ctx, in.Environment, in.Flag, in.Dimension); err != nil {
			return err
		}
	}
	return in.found()
}

// found refuses an input of a flag the environment neither defines nor has
// exposures of.
func (in *Input) found() error {
	if in.Definition == nil && len(in.Aggregates) == 0 && len(in.Outside) == 0 {
		return valueloop.Errorf(valueloop.ENOTFOUND, "flag %q not found in %s, and no exposures of it were received", in.Flag, in.Environment)
	}
	return nil
}

// SetCells sets in's Aggregates, Outside and Days from the cells of a
// recomputation (ingest.Recompute), which returns them all together: as
// ReadInput reads them from a store. Slices by dimension are dropped.
func (in *Input) SetCells(aggs []metric.Aggregate) {
	in.Aggregates, in.Outside, in.Days = nil, nil, nil
	for _, a := range aggs {
		switch a.Dimension {
		case "":
			in.Aggregates = append(in.Aggregates, a)
		case metric.OutsideDimension:
			in.Outside = append(in.Outside, a)
		case metric.ExposureDayDimension:
			in.Days = append(in.Days, a)
		}
	}
}

// DayReader reads a flag's cells of one dimension: what ReadDays needs.
type DayReader interface {
	DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error)
}

// DaysFromReader reads, in one read, a flag's cells of all users and
// those by day of first exposure from a day on (the stores'): what
// ReadDays reads when it can.
type DaysFromReader interface {
	DayAggregatesFrom(ctx context.Context, env, flag, from string) ([]metric.Aggregate, error)
}

// ReadDays sets in.Now, unless set, to the current time and, when a metric
// of in.Metrics has a window, reads into in.Days the flag's cells by day of
// first exposure (metric.ExposureDayDimension), so that the analysis can
// count and leave out the users whose window may still be open: only the
// days after the first whose windows have all closed, when r can
// (DaysFromReader), for a cost that does not grow with the days the flag
// has run (the analysis needs no more: openWindows), and then in.Aggregates
// again with them, of the same moment, as the closed days' figures are
// all users' less the open days'; else every day.
func ReadDays(ctx context.Context, r DayReader, in *Input) error {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	closed := ClosedThrough(in.Metrics, in.Now)
	if len(closed) == 0 {
		return nil
	}
	var err error
	if dr, ok := r.(DaysFromReader); ok {
		cells, err := dr.DayAggregatesFrom(ctx, in.Environment, in.Flag, metric.DayLabel(slices.Min(closed)+1))
		if err != nil {
			return err
		}
		in.Aggregates, in.Days = nil, nil
		for _, a := range cells {
			if a.Dimension == "" {
				in.Aggregates = append(in.Aggregates, a)
			} else {
				in.Days = append(in.Days, a)
			}
		}
		return nil
	}
	in.Days, err = r.DimensionAggregates(ctx, in.Environment, in.Flag, metric.ExposureDayDimension)
	return err
}

// BatchReader is a Reader that also reads many flags of an environment at
// once (the stores'): what ReadInputs needs.
type BatchReader interface {
	Reader
	// Hypotheses are those of the flags given that have one.
	Hypotheses(ctx context.Context, env string, flags ...string) (map[string]*Hypothesis, error)
	// SplitHistories are SplitHistory's periods of every flag of env.
	SplitHistories(ctx context.Context, env string) (map[string][]SplitPeriod, error)
	// FlagsAggregates are the cells of the flags given of env (none:
	// none), each flag's as DimensionAggregates reads them of dimension
	// ("": those of all users), or, with from, as DayAggregatesFrom does.
	FlagsAggregates(ctx context.Context, env string, flags []string, dimension, from string) ([]metric.Aggregate, error)
}

// flagsPerRead bounds the flags of one read of many, well within the
// parameters a statement may have.
const flagsPerRead = 500

// ReadInputs is ReadHypothesis and ReadInput for many flags of env
// (without a dimension), in a few reads of the environment whatever their
// number (up to flagsPerRead; a few more per as many again): its metrics,
// the flags' hypotheses, their cells (all users', those outside the split,
// by day of exposure when a metric has a window) and the split histories.
// Only the cells of the flags asked for are read: an environment's other
// flags, which nothing bounds in number, would be read and held for
// nothing. Each input has its Flag and Definition set, and gets what
// ReadInput would give it of the same store, or in errs, by index, the
// error ReadInput would return (a flag neither defined nor exposed).
func ReadInputs(ctx context.Context, r BatchReader, env string, ins []*Input) (errs []error, err error) {
	metrics, err := r.Metrics(ctx, env)
	if err != nil {
		return nil, err
	}
	splits, err := r.SplitHistories(ctx, env)
	if err != nil {
		return nil, err
	}
	// The cells of all users and by day as ReadDays reads them, of the
	// days whose windows may still be open, or of all users alone.
	now := time.Now()
	daysFrom, dimension := "", ""
	if closed := ClosedThrough(metrics, now); len(closed) > 0 {
		daysFrom, dimension = metric.DayLabel(slices.Min(closed)+1), metric.ExposureDayDimension
	}
	flags := make([]string, len(ins))
	for i, in := range ins {
		flags[i] = in.Flag
	}
	hyps := map[string]*Hypothesis{}
	var cells, outside []metric.Aggregate
	for chunk := range slices.Chunk(flags, flagsPerRead) {
		hs, err := r.Hypotheses(ctx, env, chunk...)
		if err != nil {
			return nil, err
		}
		maps.Copy(hyps, hs)
		out, err := r.FlagsAggregates(ctx, env, chunk, metric.OutsideDimension, "")
		if err != nil {
			return nil, err
		}
		all, err := r.FlagsAggregates(ctx, env, chunk, dimension, daysFrom)
		if err != nil {
			return nil, err
		}
		outside, cells = append(outside, out...), append(cells, all...)
	}
	var users, days []metric.Aggregate
	for _, a := range cells {
		if a.Dimension == "" {
			users = append(users, a)
		} else {
			days = append(days, a)
		}
	}
	byUsers, byOutside, byDays := byFlag(users), byFlag(outside), byFlag(days)
	errs = make([]error, len(ins))
	for i, in := range ins {
		in.Environment, in.Metrics, in.Now = env, metrics, now
		in.Hypothesis, in.Settings = nil, DefaultSettings()
		if h := hyps[in.Flag]; h != nil {
			in.Hypothesis, in.Settings = h, h.Settings
		}
		in.Aggregates, in.Outside, in.Days, in.Splits = byUsers[in.Flag], byOutside[in.Flag], byDays[in.Flag], splits[in.Flag]
		errs[i] = in.found()
	}
	return errs, nil
}

// byFlag groups cells by their flag, each flag's in their order.
func byFlag(cells []metric.Aggregate) map[string][]metric.Aggregate {
	out := map[string][]metric.Aggregate{}
	for _, a := range cells {
		out[a.Flag] = append(out[a.Flag], a)
	}
	return out
}
