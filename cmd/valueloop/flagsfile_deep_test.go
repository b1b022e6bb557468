package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFlagsFileDeepEditKeepsServing: a watched flag file edited to a 200 KB
// deeply nested document is rejected (it once took the server down) and the
// last good set keeps serving.
func TestFlagsFileDeepEditKeepsServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(path, []byte(fileV1), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := MustServe(t, "", "--flags-file", "staging="+path)
	evaluate := func() string { return srv.ofrep(t, "staging", "greeting", `{"context":{}}`) }
	if got := evaluate(); !strings.Contains(got, `"value":"hi"`) {
		t.Fatalf("before the edit: %s", got)
	}
	deep := `{"flags":{"greeting":{"state":"ENABLED","variants":{"hi":"hi"},"defaultVariant":"hi","targeting":` +
		strings.Repeat(`{"a":`, 40_000) + "1" + strings.Repeat("}", 40_000) + `}}}`
	if err := os.WriteFile(path, []byte(deep), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(srv.Stderr.String(), "deeper than 128 levels") {
		if time.Now().After(deadline) {
			t.Fatalf("deep file not reported:\n%s", srv.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := evaluate(); !strings.Contains(got, `"value":"hi"`) {
		t.Errorf("after a deep edit: %s, want the last good set", got)
	}
}
