// Package value holds the value loop's domain: objectives (the business
// metric a team wants to move, with a target and a horizon) and features
// (a bet on that metric: a hypothesis, an estimate of its cost of delay and
// size, and its links to flags, services and changes), the lifecycle of a
// feature computed from the evidence that proves each step (idea → ready →
// building → releasing → measuring → validated | invalidated → done, or
// abandoned), the release record of one feature with the loop's own figures,
// the flow of value across features, and the backlog ranked by evidence
// ("what is the next most valuable thing to build?").
//
// Everything here is pure: events, verdicts and flag states come in as
// values, figures and rankings go out. What does not live here: storing
// features (packages sqlite and postgres), turning webhooks and rollouts
// into evidence events as they happen (the server), HTTP and the CLI. The
// statistics that produce a verdict are package experiment's; this package
// only reads a verdict's decision and measured effect.
//
// docs/value.md explains the model and the ranking arithmetic.
package value
