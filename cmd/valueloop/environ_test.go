package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runEnviron runs valueloop with the environment environ.
func runEnviron(environ []string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errOut, environ)
	return code, out.String(), errOut.String()
}

// TestMisspeltVariableRefused: a VALUELOOP_ variable close to one valueloop
// reads is a typo and refused, naming it and the variable meant, before
// anything is done; before, VALUELOOP_ADMIN_TOKN was silently ignored and
// serve made an admin token of its own (--print-config exited 0), and
// VALUELOOP_TOKN sent the request without a token.
func TestMisspeltVariableRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		environ []string
		args    []string
		want    string
	}{
		{[]string{"VALUELOOP_ADMIN_TOKN=vl_admin_0123456789abcdef0123"}, []string{"serve", "--data", data, "--print-config"},
			"VALUELOOP_ADMIN_TOKN is set, but valueloop reads no such variable; did you mean VALUELOOP_ADMIN_TOKEN? Nothing was done"},
		{[]string{"VALUELOOP_DATABSE=postgres://db/valueloop"}, []string{"serve", "--data", data, "--print-config"},
			"did you mean VALUELOOP_DATABASE?"},
		{[]string{"VALUELOOP_SERVER=http://127.0.0.1:1", "VALUELOOP_TOKN=vl_admin_x"}, []string{"flags", "list", "--env", "production"},
			"VALUELOOP_TOKN is set, but valueloop reads no such variable; did you mean VALUELOOP_TOKEN?"},
		{[]string{"VALUELOOP_SECURE_COOKIE=always", "VALUELOOP_WEBHOOK_SECRT=whsec_x"}, []string{"token", "recover", "--data", data},
			"misspelt variables; nothing was done: rename or unset them:\n  - VALUELOOP_SECURE_COOKIE is set, but valueloop reads no such variable; did you mean VALUELOOP_SECURE_COOKIES?\n  - VALUELOOP_WEBHOOK_SECRT"},
	}
	for _, c := range cases {
		code, stdout, stderr := runEnviron(c.environ, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%v valueloop %s: exit %d, stdout %q, stderr %q; want %d with %q", c.environ, strings.Join(c.args, " "), code, stdout, stderr, exitUsage, c.want)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a refused command made the data directory %s (err %v)", data, err)
	}
	// Help, version and completion read no variable: they answer.
	for _, args := range [][]string{{"help", "serve"}, {"version"}, {"completion", "bash"}} {
		if code, _, stderr := runEnviron([]string{"VALUELOOP_DATABSE=x"}, args...); code != exitOK {
			t.Errorf("valueloop %s with a misspelt variable: exit %d, %s", strings.Join(args, " "), code, stderr)
		}
	}
}

// TestForeignVariablesTolerated: a VALUELOOP_ variable close to none that
// valueloop reads is warned of, naming it, and the command runs; those
// Kubernetes sets for a Service named valueloop, and those of the tests,
// pass without a word.
func TestForeignVariablesTolerated(t *testing.T) {
	quiet := []string{"VALUELOOP_SERVICE_HOST=10.0.0.7", "VALUELOOP_SERVICE_PORT=8080", "VALUELOOP_SERVICE_PORT_HTTP=8080",
		"VALUELOOP_PORT=tcp://10.0.0.7:8080", "VALUELOOP_PORT_8080_TCP=tcp://10.0.0.7:8080", "VALUELOOP_PORT_8080_TCP_PROTO=tcp",
		"VALUELOOP_PORT_8080_TCP_PORT=8080", "VALUELOOP_PORT_8080_TCP_ADDR=10.0.0.7", "VALUELOOP_TEST_POSTGRES=postgres://x", "VALUELOOP_SIM_RUNS=100"}
	data := t.TempDir()
	code, stdout, stderr := runEnviron(quiet, "serve", "--data", data, "--print-config")
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "addr: 127.0.0.1:8080") {
		t.Errorf("serve --print-config among Kubernetes' and the tests' variables: exit %d, stderr %q", code, stderr)
	}
	code, stdout, stderr = runEnviron(append(quiet, "VALUELOOP_RELEASE=2026.12"), "serve", "--data", data, "--print-config")
	if want := "valueloop: warning: VALUELOOP_RELEASE is set, but valueloop reads no such variable; it is ignored\n"; code != exitOK || stderr != want || stdout == "" {
		t.Errorf("serve --print-config with VALUELOOP_RELEASE: exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}
}

// TestEveryVariableKnown: every VALUELOOP_ variable the repository's code
// and tests read is one checkEnviron knows, so that a new one cannot make
// serve refuse a shell that sets it.
func TestEveryVariableKnown(t *testing.T) {
	read := regexp.MustCompile(`(?:Getenv\(|getenv\(|envOr\(e, |EnvVar = |env: )"(VALUELOOP_[A-Z0-9_]+)"`)
	found := map[string]bool{}
	err := filepath.WalkDir(filepath.Join("..", ".."), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		for _, m := range read.FindAllSubmatch(b, -1) {
			found[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	known := knownVariables()
	for _, v := range []string{"VALUELOOP_SERVER", "VALUELOOP_TEST_POSTGRES", "VALUELOOP_DATABASE", "VALUELOOP_SIM_RUNS"} {
		if !found[v] {
			t.Errorf("the scan missed %s: it finds no variable read", v)
		}
	}
	for v := range found {
		if !slices.Contains(known, v) {
			t.Errorf("%s is read but not among knownVariables: serve would warn of it", v)
		}
	}
}
