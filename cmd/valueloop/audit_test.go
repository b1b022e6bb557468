package main

import (
	"encoding/json"
	"strconv"
	"testing"
)

// TestAuditPages: the audit trail is read a page at a time, older pages
// with --before (the API's ?before=), so that entries past the newest 1,000
// can be read. The client used to drop the filter's BeforeID, and every
// page was the newest.
func TestAuditPages(t *testing.T) {
	s := MustServe(t, "", "--demo")
	page := func(args ...string) []int64 {
		t.Helper()
		return pageIDs(t, s, append([]string{"audit"}, args...)...)
	}
	first := page("--limit", "3")
	if len(first) != 3 || first[0] < 10 {
		t.Fatalf("newest page: %v; want 3 entries of the demo's many", first)
	}
	next := page("--limit", "3", "--before", strconv.FormatInt(first[2], 10))
	want := []int64{first[2] - 1, first[2] - 2, first[2] - 3}
	if len(next) != 3 || next[0] != want[0] || next[1] != want[1] || next[2] != want[2] {
		t.Errorf("page before #%d: %v, want %v", first[2], next, want)
	}
}

// pageIDs runs a listing command with --output json and returns the IDs
// of the page it lists, in its order.
func pageIDs(t *testing.T, s *testServer, args ...string) []int64 {
	t.Helper()
	code, out, errOut := s.cli(t, s.Admin, append(args, "--output", "json")...)
	if code != 0 {
		t.Fatalf("%v: exit %d, %s", args, code, errOut)
	}
	var list []struct{ ID int64 }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(list))
	for i, r := range list {
		ids[i] = r.ID
	}
	return ids
}
