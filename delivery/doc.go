// Package delivery runs delivery metrics inside the server: it takes
// webhook deliveries from GitHub and GitLab (verifying the signature or
// token of a configured source before reading a byte of the payload) and
// records sent to the JSON API, stores each delivery whole in one
// transaction through a Store, and answers DORA reports, the deployments
// with the changes each delivered, and the loop's own figures of a flag
// from a Timeline it caches and rebuilds when the records change.
//
// What lives here: the webhook sources and their secrets, the service
// catalog kept through the Store, idempotency by (source, delivery ID),
// links between changes and feature flags (the "valueloop-flag: KEY"
// trailer and label), the Timeline cache and the per-service figures of the
// last 30 days, recomputed on a timer for Prometheus gauges.
//
// What does not: the metrics themselves (package dora, pure), reading
// payloads (packages github and gitlab), SQL (package sqlite) and HTTP
// (package httpapi). Nothing here imports a database or HTTP package.
package delivery
