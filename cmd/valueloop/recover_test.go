package main

import (
	"context"
	"database/sql"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// offline runs a command that needs no server (token recover) with env.
func offline(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runCLIEnv(t, env, args...)
}

// tokenWait is how long a change of tokens made offline may take to reach
// a running server (it re-reads them every 2s), with room for a loaded
// machine; only a change that never arrives fails.
const tokenWait = 30 * time.Second

// TestAdminRecovery: the admin token is lost; token recover on the data
// directory makes a new one while the server runs, audited; the old one
// stays valid as documented, until --revoke-others; and it works on a
// stopped server too.
func TestAdminRecovery(t *testing.T) {
	srv := MustServe(t, "")
	works := func(token string) bool {
		code, _, _ := srv.cli(t, token, "token", "list")
		return code == exitOK
	}

	code, stdout, stderr := offline(t, nil, "token", "recover", "--data", srv.DataDir, "--name", "lost-it")
	recovered := strings.TrimSpace(stdout)
	if code != exitOK || !strings.HasPrefix(recovered, "vl_admin_") || strings.Contains(recovered, "\n") {
		t.Fatalf("token recover: exit %d, stdout %q, stderr %q; want the new secret alone", code, stdout, stderr)
	}
	if !strings.Contains(stderr, `"lost-it"`) || !strings.Contains(stderr, "audit trail") {
		t.Errorf("token recover should say what it made and where it is recorded: %q", stderr)
	}
	waitUntil(t, "the running server accepts the recovered token", tokenWait, func() bool { return works(recovered) })
	if !works(srv.Admin) {
		t.Errorf("the old admin token stopped working; documented: it stays valid without --revoke-others")
	}
	_, audit, _ := srv.cli(t, recovered, "audit", "--output", "json")
	if !strings.Contains(audit, `"recovery:`) || !strings.Contains(audit, "lost-it") {
		t.Errorf("the audit trail does not record the recovery:\n%s", audit)
	}

	// A leaked token: recover and revoke every other admin token.
	code, stdout, stderr = offline(t, nil, "token", "recover", "--data", srv.DataDir, "--revoke-others")
	third := strings.TrimSpace(stdout)
	if code != exitOK || !strings.Contains(stderr, "Revoked 2 other admin token(s)") {
		t.Fatalf("token recover --revoke-others: exit %d, %q, %q", code, stdout, stderr)
	}
	waitUntil(t, "the old tokens stop working", tokenWait, func() bool { return !works(srv.Admin) && !works(recovered) })
	if !works(third) {
		t.Errorf("the newest recovered token does not work")
	}

	// Stopped server: recover, start, use.
	srv.Stop(t)
	_, stdout, stderr = offline(t, nil, "token", "recover", "--data", srv.DataDir)
	fourth := strings.TrimSpace(stdout)
	if fourth == "" {
		t.Fatalf("token recover on a stopped server: %s", stderr)
	}
	again := MustServe(t, srv.DataDir)
	if code, _, stderr := again.cli(t, fourth, "token", "list"); code != exitOK {
		t.Errorf("after a restart the token recovered offline is refused: %s", stderr)
	}
}

// TestAdminTokenEnvOnExistingStore: VALUELOOP_ADMIN_TOKEN on a store that
// has an admin token creates nothing and says so; recover --from-env makes
// it an admin token.
func TestAdminTokenEnvOnExistingStore(t *testing.T) {
	srv := MustServe(t, "")
	srv.Stop(t)
	const wanted = "my-chosen-admin-token-42"
	env := map[string]string{"VALUELOOP_ADMIN_TOKEN": wanted}
	var stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		done <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", srv.DataDir}, strings.NewReader(""), io.Discard, pw, environ(env))
		pw.Close()
	}()
	ready := serveLog(pr, &stderr)
	var url string
	select {
	case url = <-ready:
	case code := <-done:
		t.Fatalf("serve exited %d:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "VALUELOOP_ADMIN_TOKEN ignored") || !strings.Contains(stderr.String(), "token recover --from-env") {
		t.Errorf("the log does not say VALUELOOP_ADMIN_TOKEN is ignored and what to do:\n%s", stderr.String())
	}
	s := &testServer{URL: url}
	if code, _, _ := s.cli(t, wanted, "token", "list"); code != exitUnauthorized {
		t.Errorf("the ignored VALUELOOP_ADMIN_TOKEN works: exit %d", code)
	}
	code, stdout, errOut := offline(t, env, "token", "recover", "--data", srv.DataDir, "--from-env")
	if code != exitOK || stdout != "" {
		t.Fatalf("recover --from-env: exit %d, stdout %q (want no secret printed), stderr %q", code, stdout, errOut)
	}
	waitUntil(t, "VALUELOOP_ADMIN_TOKEN works after recover --from-env", tokenWait, func() bool {
		code, _, _ := s.cli(t, wanted, "token", "list")
		return code == exitOK
	})
	cancel()
	<-done
}

// TestRecoverNeedsAStore: a mistyped --data makes no new store.
func TestRecoverNeedsAStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	code, stdout, stderr := offline(t, nil, "token", "recover", "--data", dir)
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "no Valueloop store there") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a usage error naming the directory", code, stdout, stderr)
	}
}

// TestDataDirLock: a second server on the same data directory refuses to
// start, saying why; the first keeps serving.
func TestDataDirLock(t *testing.T) {
	srv := MustServe(t, "")
	code, _, stderr := offline(t, map[string]string{"VALUELOOP_ADMIN_TOKEN": testAdminToken},
		"serve", "--addr", "127.0.0.1:0", "--data", srv.DataDir)
	if code == exitOK || !strings.Contains(stderr, "another valueloop server") || !strings.Contains(stderr, srv.DataDir) {
		t.Errorf("second server: exit %d, stderr %q; want a refusal naming the directory", code, stderr)
	}
	if code, _, stderr := srv.cli(t, srv.Admin, "token", "list"); code != exitOK {
		t.Errorf("the first server stopped serving: %s", stderr)
	}
}

// TestFirstTokenOnlyWhenListening: a first start that fails on an address
// in use prints no token and keeps none; the next start prints it.
func TestFirstTokenOnlyWhenListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := t.TempDir()
	code, _, stderr := offline(t, nil, "serve", "--addr", ln.Addr().String(), "--data", data)
	if code == exitOK || !strings.Contains(stderr, "address already in use") {
		t.Fatalf("serve on a used address: exit %d, %s", code, stderr)
	}
	if strings.Contains(stderr, "vl_admin_") {
		t.Errorf("a start that failed printed an admin token:\n%s", stderr)
	}
	// The next start prints the first token (none was made before).
	srv := MustServeEnv(t, data, nil)
	if !strings.Contains(srv.Stderr.String(), "vl_admin_") {
		t.Errorf("the start after the failed one printed no admin token:\n%s", srv.Stderr.String())
	}
}

// TestRecoverBesideAnOlderServer: token recover on the data directory of a
// running server changes no schema under it. The server here is "older":
// its store lacks the record of this version's last migration, which a
// recovery opening the store the ordinary way would apply (rebuilding a
// table the server writes to). It is refused, naming the directory and the
// server, and the store is left as it was.
func TestRecoverBesideAnOlderServer(t *testing.T) {
	srv := MustServe(t, "")
	path := filepath.Join(srv.DataDir, "valueloop.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var last string
	if err := raw.QueryRow(`SELECT max(name) FROM schema_migrations`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM schema_migrations WHERE name = ?`, last); err != nil {
		t.Fatal(err)
	}
	count := func(q string) (n int) {
		t.Helper()
		if err := raw.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tokens := count(`SELECT count(*) FROM tokens`)

	code, stdout, stderr := offline(t, nil, "token", "recover", "--data", srv.DataDir)
	if code == exitOK || stdout != "" || !strings.Contains(stderr, srv.DataDir) || !strings.Contains(stderr, "server") || !strings.Contains(stderr, last) {
		t.Errorf("exit %d, stdout %q, stderr %q; want a refusal naming the directory, the running server and the migration", code, stdout, stderr)
	}
	if n := count(`SELECT count(*) FROM schema_migrations WHERE name = '` + last + `'`); n != 0 {
		t.Errorf("token recover applied %s under the running server", last)
	}
	if n := count(`SELECT count(*) FROM tokens`); n != tokens {
		t.Errorf("tokens: %d, want %d: a refused recovery made one", n, tokens)
	}
}

// TestRecoverWaitsForARestore: token recover takes the data directory's
// lock when no server holds it; while another command that owns the store
// (a restore replacing its file) holds it, recovery is refused, naming
// the directory and the command, and makes nothing: a token written to
// the file being replaced would be lost.
func TestRecoverWaitsForARestore(t *testing.T) {
	srv := MustServe(t, "")
	srv.Stop(t)
	unlock, err := lockDataDir(srv.DataDir, "restore")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := offline(t, nil, "token", "recover", "--data", srv.DataDir)
	unlock()
	if code == exitOK || stdout != "" || !strings.Contains(stderr, srv.DataDir) || !strings.Contains(stderr, "restore") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a refusal naming the directory and the restore", code, stdout, stderr)
	}
	code, stdout, stderr = offline(t, nil, "token", "recover", "--data", srv.DataDir)
	if code != exitOK || stdout == "" {
		t.Errorf("once the restore is done: exit %d, %q", code, stderr)
	}
}
