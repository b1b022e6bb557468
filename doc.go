// Package valueloop holds the domain types that every part of Valueloop shares:
// flags and flag sets in the flagd model, environments, access tokens and the
// error kinds that the HTTP and CLI surfaces translate for users.
//
// Nothing here does I/O: no database, no HTTP. Capabilities (evaluation,
// ingestion, statistics, delivery metrics) live in their own packages and
// adapters to outside systems (sqlite, ofrep, github, ...) in theirs; cmd/valueloop
// wires them together.
package valueloop
