// Package github turns GitHub webhook deliveries into delivery events: it
// verifies the X-Hub-Signature-256 header and parses the payloads GitHub
// sends for push, pull_request (merged), deployment, deployment_status,
// release and issues (incidents, by label) into dora.Event values.
// Every other event type is acknowledged and ignored.
//
// Header values are passed in as strings and the body as bytes: nothing here
// knows about net/http, and nothing is stored. Redeliveries keep their
// X-GitHub-Delivery ID, which the caller stores to make ingestion idempotent.
package github
