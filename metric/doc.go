// Package metric holds what an experiment measures and what is kept of it:
// metric definitions (conversion, count, sum, mean, ratio, quantile; direction,
// window, cap), the dimensions results can be split by (Dimension, with
// their caps) and the exact sufficient statistics (Sums) stored per flag,
// variant and metric as an Aggregate.
//
// It is pure and sits below both sides that use it: package ingest folds
// events into Sums, and the analysis packages (stats through Sums.Summary,
// experiment, rollout guardrails) read them, without either importing the
// other. Reading events, storing and the pipeline live in package ingest.
package metric

// Scale is the fixed-point scale of event values: values are kept as
// integers of millionths (six decimal places). Integers make every sum exact,
// which is what lets incremental aggregates equal a recomputation bit for bit.
const Scale = 1_000_000

// MaxValue bounds the magnitude of an event value, and of a metric's cap:
// per-user values are kept in millionths as int64, and their squares and
// sums must stay exact in Sums.
const MaxValue = 1e12
