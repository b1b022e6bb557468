package github

import (
	"path/filepath"
	"testing"

	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/forge/forgetest"
)

// restPages reads a page of the REST API by the kind of list it is.
var restPages = map[string]func(body []byte) (dora.Event, error){
	"pulls": func(b []byte) (dora.Event, error) {
		cs, _, err := PullsPage(b, "o/r", "main")
		return dora.Event{Changes: cs}, err
	},
	"reviews": func(b []byte) (dora.Event, error) {
		rs, err := ReviewsPage(b, "o/r", "7", "octocat")
		return dora.Event{Reviews: rs}, err
	},
	"deployments": func(b []byte) (dora.Event, error) {
		ds, deps, err := DeploymentsPage(b, "o/r", testConfig)
		ev := dora.Event{Deployments: ds}
		for _, d := range deps {
			if err == nil {
				var more []dora.Deployment
				more, err = StatusesPage([]byte(`[{"state":"success","created_at":"2025-01-01T00:00:00Z"}]`), d, testConfig)
				ev.Deployments = append(ev.Deployments, more...)
			}
		}
		return ev, err
	},
	"statuses": func(b []byte) (dora.Event, error) {
		ds, err := StatusesPage(b, Deployment{ID: "1", d: deployment{ID: "1", Environment: "prod-eu"}, repo: repository{FullName: "o/r"}}, testConfig)
		return dora.Event{Deployments: ds}, err
	},
	"releases": func(b []byte) (dora.Event, error) {
		ds, err := ReleasesPage(b, "o/r", testConfig)
		return dora.Event{Deployments: ds}, err
	},
	"issues": func(b []byte) (dora.Event, error) {
		is, err := IssuesPage(b, "o/r", testConfig)
		return dora.Event{Incidents: is}, err
	},
}

// FuzzRESTPages feeds every page reader arbitrary bodies: it must never
// panic, and either fail with an EINVALID error (the import reports it
// with the page's URL) or return records the delivery package accepts.
// The seed corpus is the pages the import's tests replay (backfill/testdata/github).
func FuzzRESTPages(f *testing.F) {
	f.Add("pulls", []byte(`[{"number":1,"merged_at":"2025-01-01T00:00:00Z","created_at":"2025-01-02T00:00:00Z","merge_commit_sha":"a"}]`))
	f.Add("deployments", []byte(`[{"id":1,"environment":"x","created_at":1}]`))
	forgetest.FuzzPages(f, filepath.Join("..", "backfill", "testdata", "github"), restPages)
}
