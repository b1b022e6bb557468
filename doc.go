// Package valueloop holds the domain types that every part of Valueloop shares:
// flags and flag sets in the flagd model, environments, access tokens and the
// error kinds that the HTTP and CLI surfaces translate for users.
//
// Nothing here does I/O: no database, no HTTP. Capabilities (evaluation,
// ingestion, statistics, delivery metrics) live in their own packages and
// adapters to outside systems (sqlite, ofrep, github, ...) in theirs; cmd/valueloop
// wires them together.
//
// How packages are named. A package is named for what it provides, never
// for its role ("svc", "util"):
//
//   - Pure logic is named for the thing it computes: dora (the DORA keys and
//     levels), stats, experiment (results and verdicts), evaluation, flagd,
//     value. It has no goroutines, no clock of its own and no store.
//   - The part that runs a capability inside the server — owns goroutines,
//     caches, timers, and reads and writes through a store interface it
//     declares — is named for the capability: delivery (webhooks, records,
//     the cached DORA timeline), verdicts (when verdicts were reached),
//     flags (the live flag configuration), features (the value loop's
//     objectives and features, their lifecycles kept in step with the
//     evidence).
//   - Both halves stay in one package when nothing outside needs the pure
//     half without the running half (rollout: plans and guardrails beside
//     the engine that applies them; ingest: decoding beside the pipeline).
//     When another package needs the pure half alone, it moves out under
//     its own name, as dora did from delivery.
//   - Adapters to outside systems are named for the system: sqlite,
//     postgres, github, gitlab, ofrep, httpapi; sqlstore is what the two SQL
//     stores share.
package valueloop
