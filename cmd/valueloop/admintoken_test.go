package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWeakAdminTokenRefused: a chosen VALUELOOP_ADMIN_TOKEN that is short,
// made of few different characters or holding whitespace is refused at
// start (and by token recover --from-env), naming the variable and the
// rule, before any store is made. Such tokens were once stored as given,
// hashed with plain SHA-256: "admin" could be read back from a copy of the
// database in no time.
func TestWeakAdminTokenRefused(t *testing.T) {
	for _, tc := range []struct{ token, want string }{
		{"admin", "is 5 characters long; it must be at least 24"},
		{"my-chosen-admin-token-4", "is 23 characters long; it must be at least 24"},
		{strings.Repeat("ab", 20), "has 2 different characters; it must have at least 10"},
		{"my chosen admin token is long", "must not contain whitespace"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		env := map[string]string{"VALUELOOP_ADMIN_TOKEN": tc.token}
		// Bounded: a server that accepted the token would serve until
		// the context ends (and then exit 0, having made the store).
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var out, errOut bytes.Buffer
		code := Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, strings.NewReader(""), &out, &errOut, environ(env))
		cancel()
		stderr := errOut.String()
		if code != exitInvalid || !strings.Contains(stderr, "VALUELOOP_ADMIN_TOKEN") || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve with VALUELOOP_ADMIN_TOKEN=%q: exit %d, %q; want %d naming the variable and %q", tc.token, code, stderr, exitInvalid, tc.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("serve with a weak VALUELOOP_ADMIN_TOKEN=%q made the store (%v)", tc.token, err)
		}
		code, _, stderr = offline(t, env, "token", "recover", "--from-env", "--data", dir)
		if code != exitInvalid || !strings.Contains(stderr, tc.want) {
			t.Errorf("token recover --from-env with %q: exit %d, %q; want %d and %q", tc.token, code, stderr, exitInvalid, tc.want)
		}
	}
	for _, ok := range []string{testAdminToken, "my-chosen-admin-token-42", ""} {
		if err := checkChosenAdminToken(ok, "VALUELOOP_ADMIN_TOKEN"); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

// TestWeakAdminTokenOnExistingStore: the rule for a chosen admin token is
// for the token a store is given first. On a store that has admin tokens
// the variable creates nothing, so a weak value (the 16 characters once
// allowed, say, left in a unit file) does not stop the server: it starts,
// logging the variable ignored.
func TestWeakAdminTokenOnExistingStore(t *testing.T) {
	srv := MustServe(t, "")
	srv.Stop(t)
	again := MustServeEnv(t, srv.DataDir, map[string]string{"VALUELOOP_ADMIN_TOKEN": "sixteen-chars-ok"})
	if code, _, stderr := again.cli(t, testAdminToken, "token", "list"); code != exitOK {
		t.Errorf("the store's admin token is refused: %s", stderr)
	}
	if !strings.Contains(again.Stderr.String(), "VALUELOOP_ADMIN_TOKEN ignored") {
		t.Errorf("the log does not say the variable is ignored:\n%s", again.Stderr.String())
	}
}

// TestWeakAdminTokenNamesItsSource: a weak admin token given with
// --admin-token or in the config file is refused naming where it was
// given; the refusal named VALUELOOP_ADMIN_TOKEN, which was not set.
func TestWeakAdminTokenNamesItsSource(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "valueloop.yaml")
	if err := os.WriteFile(cfgFile, []byte("admin-token: admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-token", "admin"}, "admin-token (from flag --admin-token): is 5 characters long"},
		{[]string{"--config", cfgFile}, "admin-token (from " + cfgFile + "): is 5 characters long"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		code, _, stderr := offline(t, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, c.args...)...)
		if code != exitInvalid || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "VALUELOOP_ADMIN_TOKEN:") {
			t.Errorf("serve %s: exit %d, %q; want %d and %q", strings.Join(c.args, " "), code, stderr, exitInvalid, c.want)
		}
	}
}
