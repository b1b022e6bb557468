package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/termchart"
)

// TestFlagsCLI drives flag management through the CLI against the real
// server: a change is visible to OFREP at once, the audit trail shows it with
// its diff, export → apply is a no-op, and failures exit with codes scripts
// can rely on.
func TestFlagsCLI(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	evalToken := srv.mustToken(t, "--env", "production", "--scope", "evaluate")
	evaluate := func(key string) string {
		_, body := post(t, srv.URL+"/ofrep/v1/evaluate/flags/"+key, evalToken, `{"context":{"targetingKey":"u1"}}`)
		return body
	}

	code, out, errOut := srv.cli(t, srv.Admin, "flags", "list", "--env", "production")
	if code != 0 || !strings.Contains(out, "checkout-flow") || !strings.Contains(out, "KEY") {
		t.Fatalf("flags list: %d\n%s%s", code, out, errOut)
	}
	checkUnknownEnvironmentNamed(t, srv)

	// Kill switch, seen by OFREP within a second.
	start := time.Now()
	if code, _, errOut := srv.cli(t, srv.Admin, "flags", "disable", "kill-switch-payments", "--env", "production", "--reason", "incident 7"); code != 0 {
		t.Fatalf("disable: %d %s", code, errOut)
	}
	for !strings.Contains(evaluate("kill-switch-payments"), `"reason":"DISABLED"`) {
		if time.Since(start) > time.Second {
			t.Fatalf("OFREP did not see the change within 1s: %s", evaluate("kill-switch-payments"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, out, _ = srv.cli(t, srv.Admin, "audit", "--env", "production", "--flag", "kill-switch-payments")
	if code != 0 || !strings.Contains(out, "flag.update") || !strings.Contains(out, "incident 7") ||
		!strings.Contains(out, `~ /state: "ENABLED" → "DISABLED"`) || !strings.Contains(out, "bootstrap-admin") {
		t.Errorf("audit:\n%s", out)
	}

	// set from a file, conditional on the version.
	def := filepath.Join(t.TempDir(), "flag.json")
	os.WriteFile(def, []byte(`{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"b"}`), 0o644)
	if code, _, errOut := srv.cli(t, srv.Admin, "flags", "set", "fresh", "--env", "production", "-f", def); code != 0 {
		t.Fatalf("set: %d %s", code, errOut)
	}
	if body := evaluate("fresh"); !strings.Contains(body, `"value":"b"`) {
		t.Errorf("after set: %s", body)
	}
	if code, _, errOut := srv.cli(t, srv.Admin, "flags", "set", "fresh", "--env", "production", "-f", def, "--if-version", "7"); code != exitConflict {
		t.Errorf("stale --if-version: exit %d (%s), want %d", code, errOut, exitConflict)
	}

	// Export, then apply the same file: nothing to do.
	exported := filepath.Join(t.TempDir(), "prod.json")
	if code, _, errOut := srv.cli(t, srv.Admin, "flags", "export", "--env", "production", "-f", exported); code != 0 {
		t.Fatalf("export: %d %s", code, errOut)
	}
	code, out, errOut = srv.cli(t, srv.Admin, "flags", "apply", "-f", exported, "--env", "production", "--prune")
	if code != 0 || !strings.Contains(out, "0 to add, 0 to change, 0 to remove") || !strings.Contains(errOut, "up to date") {
		t.Errorf("round trip apply: %d\n%s%s", code, out, errOut)
	}

	// A dry run shows the diff and changes nothing.
	data, _ := os.ReadFile(exported)
	edited := strings.Replace(string(data), `"defaultVariant": "twenty"`, `"defaultVariant": "ten"`, 1)
	edited = strings.Replace(edited, `"fresh": {`, `"fresh2": {`, 1)
	os.WriteFile(exported, []byte(edited), 0o644)
	code, out, _ = srv.cli(t, srv.Admin, "flags", "apply", "-f", exported, "--env", "development", "--dry-run")
	if code != 0 || !strings.Contains(out, "+ fresh2") {
		t.Errorf("dry run on development: %d\n%s", code, out)
	}
	code, out, _ = srv.cli(t, srv.Admin, "flags", "apply", "-f", exported, "--env", "production", "--prune")
	if code != 0 || !strings.Contains(out, "+ fresh2") || !strings.Contains(out, "- fresh") {
		t.Errorf("apply with prune: %d\n%s", code, out)
	}

	checkFlagsExitCodes(t, srv, evalToken)
}

// checkFlagsExitCodes checks that failures exit with the codes scripts rely on.
func checkFlagsExitCodes(t *testing.T, srv *testServer, evalToken string) {
	t.Helper()
	// Exit codes.
	for _, tc := range []struct {
		name  string
		token string
		args  []string
		code  int
		hint  string
	}{
		{"unknown flag", srv.Admin, []string{"flags", "get", "nope", "--env", "production"}, exitNotFound, "not found"},
		{"evaluate token", evalToken, []string{"flags", "disable", "theme", "--env", "production"}, exitUnauthorized, "admin token"},
		{"no token", "", []string{"flags", "list", "--env", "production"}, exitUnauthorized, "VALUELOOP_TOKEN"},
		{"missing env", srv.Admin, []string{"flags", "list"}, exitUsage, "--env is required"},
		{"invalid definition", srv.Admin, []string{"flags", "apply", "-f", writeFile(t, `{"flags":{"x":{"state":"ON","variants":{"a":1}}}}`), "--env", "production"}, exitInvalid, "/flags/x/state"},
		{"unknown subcommand", srv.Admin, []string{"flags", "frobnicate", "--env", "production"}, exitUsage, "unknown subcommand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := srv.cli(t, tc.token, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.hint) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d mentioning %q", code, errOut, tc.code, tc.hint)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDefinitionFileNamed: a file the server refuses as a whole (not JSON)
// is named in the error, which the server cannot know.
func TestDefinitionFileNamed(t *testing.T) {
	srv := MustServe(t, "")
	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, []byte("not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"flags", "set", "x", "--env", "production", "-f", file},
		{"experiment", "hypothesis", "set", "x", "--env", "production", "-f", file},
	} {
		code, _, stderr := srv.cli(t, srv.Admin, args...)
		if code != exitInvalid || !strings.Contains(stderr, "notes.txt: ") || !strings.Contains(stderr, "not valid JSON") {
			t.Errorf("%s: exit %d, stderr %q; want %d naming notes.txt", strings.Join(args[:3], " "), code, stderr, exitInvalid)
		}
	}
}

// TestDefinitionProblemsNameTheFile: each problem the server finds in a
// flagd file given to flags apply or flags set names the file as the user
// gave it, and nothing changes; flags apply's named the server's "request
// body" (or "request.yaml"), which the user never wrote.
func TestDefinitionProblemsNameTheFile(t *testing.T) {
	srv := MustServe(t, "")
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	twice := write("twice.json", `{"flags": {"x": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}, "flags": {}}`)
	yml := write("flags.yaml", "flags:\n  x:\n    state: ENABLED\n    state: DISABLED\n    variants: {on: true}\n")
	state := write("x.json", `{"state": "ON", "variants": {"on": true}, "defaultVariant": "on"}`)
	_, before, _ := srv.cli(t, srv.Admin, "flags", "export", "--env", "production")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"flags", "apply", "--env", "production", "-f", twice}, "  - " + twice + `: /flags: key "flags" appears more than once`},
		{[]string{"flags", "apply", "--env", "production", "-f", yml}, "  - " + yml + ": not valid YAML"},
		{[]string{"flags", "set", "x", "--env", "production", "-f", state}, state + `: `},
	} {
		code, _, stderr := srv.cli(t, srv.Admin, c.args...)
		if code != exitInvalid || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "request") {
			t.Errorf("valueloop %s: exit %d, stderr:\n%s\nwant %d with %q", strings.Join(c.args[:2], " "), code, stderr, exitInvalid, c.want)
		}
	}
	if _, after, _ := srv.cli(t, srv.Admin, "flags", "export", "--env", "production"); after != before {
		t.Errorf("refused files changed the flags:\nbefore %s\nafter %s", before, after)
	}
}

// TestEmptyInputNamed: a file flag given "-" with nothing on standard
// input, or an empty file, is refused naming the flag before a request
// is made ('flags set -f -' used to say the server's "unexpected end of
// JSON input", naming no flag).
func TestEmptyInputNamed(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VALUELOOP_SERVER": "http://127.0.0.1:1", "VALUELOOP_TOKEN": "vl_admin_unused"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"flags", "set", "x", "--env", "production", "-f", "-"}, "-f -: standard input is empty"},
		{[]string{"flags", "set", "x", "--env", "production", "-f", empty}, "-f " + empty + ": the file is empty"},
		{[]string{"flags", "apply", "--env", "production", "-f", "-"}, "-f -: standard input is empty"},
		{[]string{"experiment", "hypothesis", "set", "x", "--env", "production", "-f", "-"}, "-f -: standard input is empty"},
		{[]string{"metrics", "create", "--env", "production", "-f", "-"}, "-f -: standard input is empty"},
		{[]string{"rollout", "start", "x", "--env", "production", "-f", "-"}, "-f -: standard input is empty"},
		{[]string{"delivery", "import", "github", "acme/shop", "--token-file", "-", "--data", t.TempDir()}, "--token-file -: standard input is empty"},
	} {
		code, _, stderr := runCLIEnv(t, env, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d saying %q", strings.Join(c.args, " "), code, stderr, exitUsage, c.want)
		}
	}
}

// TestReasonOverSeveralLines: a --reason of several lines (a commit
// message, say) goes into the audit trail on one line, and one in any
// script as it was typed. A header cannot carry a line break: the change
// used to fail with "cannot reach the Valueloop server … invalid header
// field value" and "Is the server running?".
func TestReasonOverSeveralLines(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	code, _, errOut := srv.cli(t, srv.Admin, "flags", "disable", "kill-switch-payments", "--env", "production", "--reason", "incident 7:\r\npayments down\n\tsee the runbook")
	if code != 0 {
		t.Fatalf("disable with a reason of three lines: exit %d, %s", code, errOut)
	}
	if code, _, errOut := srv.cli(t, srv.Admin, "flags", "enable", "kill-switch-payments", "--env", "production", "--reason", "régression → réparée"); code != 0 {
		t.Fatalf("enable: exit %d, %s", code, errOut)
	}
	code, out, _ := srv.cli(t, srv.Admin, "audit", "--env", "production", "--flag", "kill-switch-payments")
	if code != 0 || !strings.Contains(out, "incident 7: payments down see the runbook") || !strings.Contains(out, "régression → réparée") {
		t.Errorf("audit:\n%s", out)
	}
}

// TestFlagsListWideVariants: a variant named in CJK (two cells a
// character) keeps the columns after it aligned on a terminal, where a
// table counting runes shifted them left by a cell per character.
func TestFlagsListWideVariants(t *testing.T) {
	srv := MustServe(t, "", "--demo")
	def := filepath.Join(t.TempDir(), "flag.json")
	os.WriteFile(def, []byte(`{"state":"ENABLED","variants":{"中文":"zh","en":"en"},"defaultVariant":"中文"}`), 0o644)
	if code, _, errOut := srv.cli(t, srv.Admin, "flags", "set", "wide", "--env", "production", "-f", def); code != 0 {
		t.Fatalf("set: %d %s", code, errOut)
	}
	code, out, errOut := srv.cli(t, srv.Admin, "flags", "list", "--env", "production")
	if code != 0 || !strings.Contains(out, "中文") {
		t.Fatalf("flags list: %d\n%s%s", code, out, errOut)
	}
	// VERSION, the last column, starts at the same cell on every line.
	starts := map[int][]string{}
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		at := termchart.Cells(line[:strings.LastIndex(line, " ")+1])
		starts[at] = append(starts[at], line)
	}
	if len(starts) != 1 {
		t.Errorf("the VERSION column starts at %d different cells:\n%s", len(starts), out)
	}
}

// checkUnknownEnvironmentNamed: an environment that does not exist is
// named with the ones there are, on every route of an environment.
func checkUnknownEnvironmentNamed(t *testing.T, srv *testServer) {
	t.Helper()
	// Flags, as flags apply names them ("environment \"staging\" not
	// found" left a newcomer to guess the demo's names), metrics and
	// experiments.
	for _, args := range [][]string{{"flags", "list"}, {"flags", "get", "checkout-flow"}, {"metrics", "list"}, {"experiment", "results", "new-onboarding"}} {
		code, _, errOut := srv.cli(t, srv.Admin, append(args, "--env", "staging")...)
		if code != exitNotFound || !strings.Contains(errOut, "the environments are development, production") {
			t.Errorf("%v --env staging: exit %d, %q; want not found naming the environments", args, code, errOut)
		}
	}
	// A token for it too; the scopes without an environment are no answer
	// to a misspelt one.
	code, _, errOut := srv.cli(t, srv.Admin, "token", "create", "--name", "x", "--env", "staging")
	if code != exitInvalid || !strings.Contains(errOut, "the environments are development, production") || strings.Contains(errOut, "--scope") {
		t.Errorf("token create --env staging: exit %d, %q; want invalid naming the environments, no scope", code, errOut)
	}
}
