package main

import (
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServePreviousSchema: a store of the previous schema version, with
// data, is migrated and served by this version: its flags evaluate with
// its tokens and its delivery sources are kept. The store is made by this
// version and taken back one version with testdata/downgrade/LATEST.sql,
// the reverse of the latest migration: adding a migration means adding its
// reverse there (the test fails until then).
func TestServePreviousSchema(t *testing.T) {
	migrations, err := filepath.Glob(filepath.Join("..", "..", "sqlite", "migrations", "*.sql"))
	if err != nil || len(migrations) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	slices.Sort(migrations)
	latest := filepath.Base(migrations[len(migrations)-1])
	down, err := os.ReadFile(filepath.Join("testdata", "downgrade", latest))
	if err != nil {
		t.Fatalf("no reverse of the latest migration %s for this test: %v", latest, err)
	}

	s := MustServe(t, "", "--demo")
	if resp, body := put(t, s.URL+"/api/v1/delivery/sources/acme", s.Admin, `{"kind":"github"}`); resp.StatusCode/100 != 2 {
		t.Fatalf("source: %d %s", resp.StatusCode, body)
	}
	s.Stop(t)
	path := filepath.Join(s.DataDir, "valueloop.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(string(down)); err != nil {
		t.Fatalf("downgrade %s: %v", latest, err)
	}
	var n int
	raw.QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, latest).Scan(&n)
	raw.Close()
	if n != 0 {
		t.Fatalf("the downgrade left %s recorded", latest)
	}

	r := MustServe(t, s.DataDir)
	if resp, body := post(t, r.URL+"/ofrep/v1/evaluate/flags", r.Admin, `{"context":{"targetingKey":"u1"}}`); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Valueloop-Environment") {
		t.Errorf("admin token on the upgraded store: %d %.200s", resp.StatusCode, body)
	}
	code, out, errOut := r.cli(t, r.Admin, "flags", "list", "--env", "production", "--output", "json")
	if code != 0 || !strings.Contains(out, "checkout-flow") {
		t.Errorf("flags of the upgraded store: %d %.300s %s", code, out, errOut)
	}
	if resp, body := get(t, r.URL+"/api/v1/delivery/sources", r.Admin); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"acme"`) {
		t.Errorf("delivery sources of the upgraded store: %d %.300s", resp.StatusCode, body)
	}
	if resp, body := put(t, r.URL+"/api/v1/delivery/sources/pd", r.Admin, `{"kind":"pagerduty"}`); resp.StatusCode/100 != 2 {
		t.Errorf("a PagerDuty source (what %s allows) on the upgraded store: %d %.300s", latest, resp.StatusCode, body)
	}
}

// put and get send a JSON request with a bearer token.
func put(t *testing.T, url, token, body string) (*http.Response, string) {
	return sendJSON(t, http.MethodPut, url, token, body)
}

func get(t *testing.T, url, token string) (*http.Response, string) {
	return sendJSON(t, http.MethodGet, url, token, "")
}
