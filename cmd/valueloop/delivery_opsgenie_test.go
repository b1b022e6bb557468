package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/opsgenie"
)

// TestOpsgenieSourceCLI: an Opsgenie source added with the CLI gets a
// generated secret, and the CLI says where it goes (the custom header) and
// the payload URL; an alert sent with that header is stored, one with
// another secret is refused.
func TestOpsgenieSourceCLI(t *testing.T) {
	s := MustServe(t, "")
	run := adminCLI(t, s)
	out := run(0, "delivery", "source", "add", "og", "--kind", "opsgenie")
	secret := regexp.MustCompile(`(?m)^\s{4}(\S{16,})$`).FindStringSubmatch(out)
	if secret == nil || !strings.Contains(out, "custom header "+opsgenie.TokenHeader) || !strings.Contains(out, "/hooks/opsgenie?source=og") {
		t.Fatalf("source add:\n%s\nwant the secret, the header to put it in and the URL", out)
	}
	body, err := os.ReadFile(filepath.Join("..", "..", "opsgenie", "testdata", "create.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, resp := postHook(t, s.URL+"/hooks/opsgenie?source=og", string(body), map[string]string{opsgenie.TokenHeader: "opsgenie-guess-0123456"}); got != 401 {
		t.Errorf("wrong secret: %d %s, want 401", got, resp)
	}
	if got, resp := postHook(t, s.URL+"/hooks/opsgenie?source=og", string(body), map[string]string{opsgenie.TokenHeader: secret[1]}); got != 200 {
		t.Errorf("alert with the secret: %d %s, want 200", got, resp)
	}
	if out := run(0, "delivery", "record", "list", "incidents", "--service", "shop"); !strings.Contains(out, "opsgenie:alert:70413a06") {
		t.Errorf("incident records:\n%s", out)
	}
}
