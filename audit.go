package valueloop

import (
	"encoding/json"
	"time"
)

// AuditEntry records one change: who made it (the token's name), when, what
// (the definition before and after, as JSON) and why.
type AuditEntry struct {
	ID          int64           `json:"id"`
	At          time.Time       `json:"at"`
	Actor       string          `json:"actor"`
	Environment string          `json:"environment,omitempty"`
	Action      string          `json:"action"`
	Target      string          `json:"target"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
	Reason      string          `json:"reason,omitempty"`
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	Environment string
	Target      string
	Actor       string
	BeforeID    int64 // entries with a smaller id only, for paging back
	Limit       int   // default 100, at most 1000
	// Offset skips that many of the newest entries selected: a page by
	// number (the dashboard's), whose caller bounds it by a count.
	Offset int
}
