// Package rollout releases a flag variant progressively: a Plan of steps
// (1% → 5% → 25% → 50% → 100%, each held for a minimum time and, optionally, a
// minimum number of users) that advances while guardrail metrics hold and
// rolls back, or pauses for a human, as soon as one regresses significantly.
//
// What lives here:
//
//   - Plan and its validation against the flag and the environment's metric
//     definitions (Check);
//   - the flag rewrite (ApplySplit, SplitOf): a plan drives one `fractional`
//     split of the flag's targeting with weights out of TotalWeight, so the
//     exported flagd file always shows the live state and any
//     flagd-compatible evaluator serves the same variants. With flagd's
//     bucketing a key is served the released variant iff its bucket falls in
//     the variant's range, and growing the range only adds keys: users who got
//     the new variant keep it;
//   - guardrail statistics (Guardrails): the relative change of the released
//     variant against the baseline, with the always-valid confidence sequence
//     of package stats, so checking at every tick is safe;
//   - the state machine and decision logic (Decide, Rollout.Apply), pure and
//     clock-free: time is an argument;
//   - the Engine that runs plans inside the server: it persists state
//     through a Store, writes the flag through Flags, reads aggregates through
//     Data, announces transitions through a Notifier and runs its ticks under
//     a Leader, so that on several nodes only one drives rollouts.
//
// What does not: storage (package sqlite), HTTP (httpapi, webhook) and event
// ingestion (ingest). Nothing here imports a database or network package.
package rollout
