// Package gitlab turns GitLab webhook deliveries into delivery events: it
// checks the X-Gitlab-Token header and parses the payloads GitLab sends for
// push, merge request (merged), deployment, pipeline and job (deploying
// jobs), issue and work item (incidents: type Incident, or a configurable
// label) and release events into dora.Event values. Every other event is
// acknowledged and ignored.
//
// GitLab writes times in ISO 8601 and, in older payloads, as
// "2006-01-02 15:04:05 UTC" or "2006-01-02 15:04:05 -0700"; all are read and
// converted to UTC. Header values are passed in as strings and the body as
// bytes: nothing here knows about net/http, and nothing is stored.
package gitlab
