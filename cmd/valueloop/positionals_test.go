package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPositionalsAnywhere: a command's argument may stand before its flags,
// as the usage lines write it. 'metrics get KEY --env ENV', the form its
// help shows, was refused ("want --env ENV and one metric key"), and so
// were 'metrics delete KEY --env ENV' and 'events import FILE --env ENV':
// flag parsing stopped at the argument and never saw --env.
func TestPositionalsAnywhere(t *testing.T) {
	s := MustServe(t, "")
	if code, _, stderr := s.cli(t, s.Admin, "metrics", "create", "--env", "production", "--key", "orders", "--kind", "count", "--event", "purchase"); code != 0 {
		t.Fatalf("metrics create: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := s.cli(t, s.Admin, "metrics", "get", "orders", "--env", "production")
	if code != 0 || !strings.Contains(stdout, `"key": "orders"`) {
		t.Errorf("metrics get orders --env production: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(`{"type":"tracking","name":"purchase","targetingKey":"u1"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := s.cli(t, s.Admin, "events", "import", file, "--env", "production"); code != 0 || !strings.Contains(stdout, "1 stored") {
		t.Errorf("events import FILE --env production: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, stderr := s.cli(t, s.Admin, "metrics", "delete", "orders", "--env", "production"); code != 0 {
		t.Errorf("metrics delete orders --env production: exit %d, stderr %q", code, stderr)
	}
}

// TestStrayArgumentsRefused: a command that takes options only refuses a
// word that is not one, instead of ignoring it (and, before, every flag
// after it: 'metrics create x2 --env production ...' answered "--env is
// required"; 'events send ... stray' stored the event). Every such command
// says so in the same words, once with where its help is: the refusal said
// "takes flags only" in three wordings, which of 'flags list production'
// read as if it took feature flags.
func TestStrayArgumentsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"metrics", "create", "x2", "--env", "production", "--kind", "count", "--event", "x"},
		{"metrics", "list", "--env", "production", "extra"},
		{"events", "send", "--env", "production", "--key", "u1", "--name", "purchase", "stray"},
		{"events", "rebuild", "extra", "--env", "production"},
		{"events", "load", "extra", "--env", "production"},
		{"token", "list", "extra"},
		{"token", "create", "extra"},
		// These dropped the word and went on: 'flags export production'
		// exported VALUELOOP_ENV's flags, 'audit checkout-flow' listed
		// every flag's changes.
		{"flags", "list", "production", "--env", "development"},
		{"flags", "export", "production", "--env", "development"},
		{"audit", "checkout-flow"},
		{"delivery", "source", "list", "extra"},
		{"delivery", "service", "list", "extra"},
		{"feature", "list", "extra"},
		{"objective", "list", "extra"},
	} {
		code, _, stderr := runCLI(t, args...)
		cmd := strings.Join(args[:2], " ")
		if args[0] == "audit" {
			cmd = "audit"
		} else if args[0] == "delivery" {
			cmd = strings.Join(args[:3], " ")
		}
		want := cmd + " takes no arguments, only options, got "
		if code != exitUsage || !strings.Contains(stderr, want) || !strings.Contains(stderr, "Run 'valueloop help "+cmd+"' for usage.") {
			t.Errorf("valueloop %s: exit %d, stderr %q; want %d with %q and where the help is", strings.Join(args, " "), code, stderr, exitUsage, want)
		}
	}
}

// TestMissingArgumentNamed: a missing or extra argument is answered with
// its name and the usage line; 'objective show' alone said "want 1
// argument(s), got 0", and 'value apply FILE' "want 0 argument(s), got 1"
// when the file goes after -f.
func TestMissingArgumentNamed(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"objective", "show"}, "objective show: want KEY, got none; usage: valueloop objective show KEY"},
		{[]string{"feature", "delete"}, "feature delete: want KEY, got none"},
		{[]string{"objective", "show", "a", "b"}, `objective show: want KEY, got "a" "b"`},
		{[]string{"feature", "list", "x"}, `feature list takes no arguments, only options, got ["x"]`},
		{[]string{"value", "apply", "v.yaml"}, "give the file with -f: 'valueloop value apply -f v.yaml'"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("valueloop %s: exit %d, stderr %q; want %d with %q", strings.Join(c.args, " "), code, stderr, exitUsage, c.want)
		}
	}
}

// TestEmptyListsSaySo: an empty list printed its header alone (rollout
// list, metrics list, delivery source list, delivery deliveries) or
// nothing (audit), where feature and objective list say there are none and
// how to make one.
func TestEmptyListsSaySo(t *testing.T) {
	s := MustServe(t, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "list", "--env", "production"}, "No rollouts in production. Start one with 'valueloop rollout start FLAG --env production"},
		{[]string{"metrics", "list", "--env", "production"}, "No metrics in production. Define one with 'valueloop metrics create --env production"},
		{[]string{"delivery", "source", "list"}, "No webhook sources. Add one with 'valueloop delivery source add"},
		{[]string{"delivery", "deliveries"}, "No webhook deliveries received"},
		{[]string{"audit", "--flag", "nope"}, "No audit entries"},
	} {
		code, stdout, stderr := s.cli(t, s.Admin, c.args...)
		if code != 0 || !strings.Contains(stdout, c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", strings.Join(c.args, " "), code, stdout, stderr, c.want)
		}
	}
}

// TestChangesAnswerJSON: every client command lists --output json; those
// whose answer is a sentence printed it on stderr and nothing on stdout
// (flags enable, token revoke, ...), or the sentence on stdout (feature and
// objective delete), which is not JSON. With --output json they now print
// what they did as a JSON object.
func TestChangesAnswerJSON(t *testing.T) {
	s := MustServe(t, "", "--demo")
	if code, _, stderr := s.cli(t, s.Admin, "token", "create", "--scope", "viewer"); code != 0 { // token 2
		t.Fatalf("token create: %d %s", code, stderr)
	}
	for _, args := range [][]string{
		{"flags", "disable", "banner", "--env", "production"},
		{"flags", "enable", "banner", "--env", "production", "--reason", "r"},
		{"metrics", "delete", "revenue", "--env", "production"},
		{"experiment", "hypothesis", "delete", "new-onboarding", "--env", "production"},
		{"flags", "delete", "banner", "--env", "development"},
		{"token", "revoke", "2"},
		{"feature", "delete", "wishlist"},
		{"delivery", "service", "delete", "search"},
	} {
		code, stdout, stderr := s.cli(t, s.Admin, append(args, "--output", "json")...)
		var v map[string]any
		if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil || len(v) == 0 {
			t.Errorf("%s --output json: exit %d, stdout %q (%v), stderr %q; want a JSON object", strings.Join(args, " "), code, stdout, err, stderr)
		}
	}
}

// TestFlagsApplyJSON: flags apply --output json printed its plan as text
// ("+ newone", "1 to add, ..."), not JSON, with --dry-run and without.
func TestFlagsApplyJSON(t *testing.T) {
	s := MustServe(t, "")
	file := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(file, []byte(`{"flags":{"newone":{"state":"ENABLED","variants":{"a":true,"b":false},"defaultVariant":"a"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"--dry-run"}, nil} {
		args := append([]string{"flags", "apply", "-f", file, "--env", "production", "--output", "json"}, extra...)
		code, stdout, stderr := s.cli(t, s.Admin, args...)
		var v map[string]any
		if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil || len(v) == 0 {
			t.Errorf("%s: exit %d, stdout %q (%v), stderr %q; want a JSON object", strings.Join(args, " "), code, stdout, err, stderr)
		}
	}
}

// TestValueExportOutputJSON: value export --output json printed YAML (its
// --format, yaml by default, decided alone).
func TestValueExportOutputJSON(t *testing.T) {
	s := MustServe(t, "", "--demo")
	code, stdout, stderr := s.cli(t, s.Admin, "value", "export", "--output", "json")
	var v map[string]any
	if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil || len(v) == 0 {
		t.Errorf("value export --output json: exit %d, stdout %.80q (%v), stderr %q; want JSON", code, stdout, err, stderr)
	}
	if code, _, stderr := s.cli(t, s.Admin, "value", "export", "--output", "json", "--format", "yaml"); code != exitUsage || !strings.Contains(stderr, "disagree") {
		t.Errorf("value export --output json --format yaml: exit %d, stderr %q; want a usage error", code, stderr)
	}
	if code, stdout, _ := s.cli(t, s.Admin, "value", "export"); code != 0 || !strings.HasPrefix(stdout, "objectives:") {
		t.Errorf("value export: exit %d, want YAML:\n%.80s", code, stdout)
	}
}
