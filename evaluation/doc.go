// Package evaluation evaluates flagd flag sets: it compiles every targeting
// rule once, when a set is loaded, into a tree of Go closures, and evaluates
// flags against OpenFeature evaluation contexts without decoding JSON,
// without reflection and, for the usual rules, without allocating.
//
// The semantics are flagd's (v0.16, core/pkg/evaluator): the JsonLogic
// operations of github.com/diegoholiveira/jsonlogic/v3 with that library's
// truthiness, coercions and failure modes (a case where the library panics
// is an evaluation error, PARSE_ERROR, as in flagd), flagd's custom
// operations fractional, sem_ver, starts_with and ends_with, the $flagd
// context properties (flagKey, timestamp) and shared $evaluators. The one
// deliberate difference: a variant chosen by fractional has reason SPLIT,
// where flagd says TARGETING_MATCH (see ReasonSplit). Known deviations, all
// in rules that only a fuzzer writes: context data that looks like a
// JsonLogic rule (an object with one key) is refused where the library
// would run it as one, and a dynamic var path inside filter/some/none is
// evaluated once rather than once per enclosing scope. The operation "log"
// is not supported (flagd's library has none either).
//
// Two oracle tests keep this true: FuzzJsonLogicOracle runs rules against
// the library itself (jsonlogic_oracle_test.go, differences listed there)
// and TestSemverOracle holds sem_ver to golang.org/x/mod/semver, the package
// flagd's sem_ver calls (semver_oracle_test.go). Both libraries are test
// dependencies only.
//
// Compile validates a set and returns a Snapshot, which is immutable and
// safe for concurrent use. CompileWith takes Options: the clock behind
// $flagd.timestamp (Options.Now, time.Now by default) and Lenient, which
// accepts rules that flagd loads but that can only fail when evaluated. Parsing the flagd file format lives in package
// flagd; serving OFREP lives in package ofrep. Nothing here does I/O or logs.
package evaluation
