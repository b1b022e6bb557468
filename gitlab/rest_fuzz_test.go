package gitlab

import (
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge/forgetest"
)

// restPages reads a page of the REST API by the kind of list it is.
var restPages = map[string]func(body []byte) (dora.Event, error){
	"merge_requests": func(b []byte) (dora.Event, error) {
		cs, _, err := MergeRequestsPage(b, "g/p", "main")
		return dora.Event{Changes: cs}, err
	},
	"approvals": func(b []byte) (dora.Event, error) {
		rs, _, err := ApprovalsPage(b, "g/p", "7", "")
		return dora.Event{Reviews: rs}, err
	},
	"notes": func(b []byte) (dora.Event, error) {
		rs, err := NotesPage(b, "g/p", "7", "")
		return dora.Event{Reviews: rs}, err
	},
	"deployments": func(b []byte) (dora.Event, error) {
		ds, err := DeploymentsPage(b, "g/p", testConfig)
		return dora.Event{Deployments: ds}, err
	},
	"releases": func(b []byte) (dora.Event, error) {
		ds, err := ReleasesPage(b, "g/p", testConfig)
		return dora.Event{Deployments: ds}, err
	},
	"issues": func(b []byte) (dora.Event, error) {
		is, err := IssuesPage(b, "g/p", testConfig)
		return dora.Event{Incidents: is}, err
	},
}

// FuzzRESTPages feeds every page reader arbitrary bodies: it must never
// panic, and either fail with an EINVALID error (the import reports it
// with the page's URL) or return records the delivery package accepts.
// The seed corpus is the pages the import's tests replay (backfill/testdata/gitlab).
func FuzzRESTPages(f *testing.F) {
	f.Add("releases", []byte(`[{"tag_name":"v1","released_at":"2025-01-01 10:00:00 UTC","commit":{"id":"ABC"}}]`))
	f.Add("deployments", []byte(`[{"id":1,"status":"running","environment":{"name":"eu-live"},"created_at":"2025-01-01T00:00:00Z"}]`))
	forgetest.FuzzPages(f, filepath.Join("..", "backfill", "testdata", "gitlab"), restPages)
}
