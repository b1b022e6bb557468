// Package stats is Valueloop's statistics engine: it turns per-variant
// sufficient statistics of experiment metrics into the numbers a decision
// needs. It is pure computation on aggregates — no database, no HTTP, no
// clock — so an analysis costs the same whether a variant saw ten users or
// ten million.
//
// What lives here:
//
//   - Summary, the sufficient statistics of one metric in one variant in
//     centred form (means, sums of squared deviations, co-moments), with a
//     Welford update (Summary.Add) and a Chan merge (Merge) for the ingestion
//     pipeline;
//   - Analyze: fixed-horizon two-sample tests (Welch's t for means, the Wald
//     z-test for proportions, Newcombe's interval where a conversion is 0%
//     in one arm and 100% in the other, the delta method for ratio metrics), absolute
//     and relative lift with intervals, always-valid confidence sequences and
//     p-values that are safe to peek at, CUPED variance reduction, the
//     sample-ratio-mismatch check, Holm or Benjamini–Hochberg correction and
//     a Gaussian Bayesian view (chance to beat control, expected loss);
//   - SRMTest and Adjust for use on their own;
//   - Plan: sample size, minimum detectable effect and power.
//
// What does not: deciding whether an experiment is won (the verdict engine
// reads Result), storing or aggregating events (ingestion keeps Summaries).
//
// Degenerate data (fewer than two units, no variance, a zero baseline or
// denominator) is never an error and never yields NaN or Inf: the part
// concerned has Status NotEnoughData, or an optional part (Comparison.Relative)
// is left out. Invalid settings or inconsistent statistics are EINVALID
// *valueloop.Error values that name the field.
//
// The numbers agree with scipy and statsmodels to 1e-9 relative; the golden
// values and the script that computes them are in testdata/. The probability
// functions are written here (no dependencies): normal, Student's t (with an
// incomplete-gamma expansion for large degrees of freedom, where the usual
// continued fraction loses digits) and chi-square. The scipy goldens are the
// guard for them, deliberately, rather than a Go library as a test oracle:
// scipy and statsmodels are the implementations analysts check against, the
// goldens hold them to 1e-9 without a network or Python at test time, and a
// Go statistics library would be one more port to trust, not a reference.
package stats
