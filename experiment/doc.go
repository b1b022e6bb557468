// Package experiment turns the aggregates of a flag's exposures and tracking
// events into experiment results and judges them against the flag's
// hypothesis.
//
// What lives here:
//
//   - Hypothesis: what a flag's experiment is expected to show — a primary
//     metric, the direction it should move, the minimum effect worth
//     shipping, the planned power, guardrail metrics with the harm each may
//     tolerate — and Settings, the analysis settings stored with it (α, the
//     alternative, the confidence sequence's tuning, CUPED, the multiple
//     testing correction, sequential or fixed-horizon inference, the control
//     variant and the variant weights for the sample-ratio check);
//   - Analyze: the Result of one flag in one environment, per metric and
//     variant, computed by package stats from the exact sums that package
//     ingest keeps, with the settings recorded alongside; with
//     Input.Dimension, the same again within each value of a dimension
//     (dimension.go), corrected across every slice's comparisons;
//   - ReadHypothesis and ReadAnalysis (read.go): one flag's Input read
//     through a Reader (the store) and analysed, the one way the results
//     route and the experiment page load a flag;
//   - the verdict engine (verdict.go): validated, invalidated, inconclusive or
//     keep running, each with its reason, and no verdict at all while the
//     sample ratio is off.
//
// What does not: statistics (package stats), aggregation (package ingest),
// storage (package sqlite stores hypotheses) and HTTP (package httpapi). Apart
// from read.go, which reads through an interface the caller provides, the
// package is pure computation on values handed in, so a result costs the
// same whatever the number of events behind the aggregates.
package experiment
