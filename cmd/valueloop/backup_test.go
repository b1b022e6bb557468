package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// dumpStore reads every table of the SQLite store at path, each row as
// text, in a stable order.
func dumpStore(t *testing.T, path string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprint(vals...))
		}
		rows.Close()
		slices.Sort(out[table])
		out[table] = append(out[table], "") // a table without rows is still listed
	}
	return out
}

// TestBackupRestore: a backup taken while the server serves, restored into
// a new data directory and served by a fresh server, holds every row of
// every table of the first store; restore refuses a data directory with a
// store (unless --force) or in use, and a file that is not a store.
func TestBackupRestore(t *testing.T) {
	s := MustServe(t, "", "--demo")
	resp, body := post(t, s.URL+"/api/v1/tokens", s.Admin, `{"name":"web","scope":"evaluate","environment":"production"}`)
	var created struct{ Secret string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &created) != nil {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	evalSecret := created.Secret
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/environments/production/flags/checkout-flow/disable", nil)
	req.Header.Set("Authorization", "Bearer "+s.Admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("disable: %v %v", resp, err)
	}
	file := filepath.Join(t.TempDir(), "backup.db")
	if code, out, errOut := runCLI(t, "backup", file, "--data", s.DataDir); code != 0 || !strings.Contains(out, "Backed up") {
		t.Fatalf("backup while serving: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "backup", file, "--data", s.DataDir); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("backup over an existing file: %d %s, want refused", code, errOut)
	}
	if code, _, errOut := runCLI(t, "restore", file, "--data", s.DataDir, "--force"); code == 0 || !strings.Contains(errOut, "another valueloop server") {
		t.Errorf("restore into a served data directory: %d %s, want refused", code, errOut)
	}
	s.Stop(t)
	want := dumpStore(t, filepath.Join(s.DataDir, "valueloop.db"))

	fresh := filepath.Join(t.TempDir(), "restored")
	if code, out, errOut := runCLI(t, "restore", file, "--data", fresh, "--output", "json"); code != 0 || !strings.Contains(out, `"replaced": false`) {
		t.Fatalf("restore: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "restore", file, "--data", fresh); code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("restore over a store: %d %s, want refused naming --force", code, errOut)
	}
	if code, _, errOut := runCLI(t, "restore", file, "--data", fresh, "--force"); code != 0 {
		t.Errorf("restore --force: %d %s", code, errOut)
	}
	notStore := filepath.Join(t.TempDir(), "x.db")
	os.WriteFile(notStore, []byte("not a database"), 0o600)
	if code, _, errOut := runCLI(t, "restore", notStore, "--data", t.TempDir()); code == 0 || !strings.Contains(errOut, "not a SQLite database") {
		t.Errorf("restore of a file that is not a store: %d %s", code, errOut)
	}

	// Compared before a server runs on it: a server's rollout engine
	// moves the demo's rollout on at once.
	got := dumpStore(t, filepath.Join(fresh, "valueloop.db"))
	for table, rows := range want {
		if !slices.Equal(got[table], rows) {
			t.Errorf("table %s: %d rows restored, %d in the original; first difference: %v", table, len(got[table]), len(rows), firstDiff(got[table], rows))
		}
	}
	if len(got) != len(want) || len(want) < 20 {
		t.Errorf("%d tables restored, %d in the original (want all, and at least 20)", len(got), len(want))
	}
	r := MustServe(t, fresh)
	if resp, body := post(t, r.URL+"/ofrep/v1/evaluate/flags/checkout-flow", evalSecret, `{"context":{"targetingKey":"u1"}}`); resp.StatusCode != http.StatusOK || !strings.Contains(body, "DISABLED") {
		t.Errorf("the restored server evaluates checkout-flow with the token made before the backup: %d %s, want it disabled as before the backup", resp.StatusCode, body)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("restored %.200q, original %.200q", a[i], b[i])
		}
	}
	return "one is longer"
}

// TestBackupDuringIngestion: a backup taken while events stream in is one
// consistent instant: every event acknowledged before it began is in it,
// none acknowledged after it ended can be, and the copy checks.
func TestBackupDuringIngestion(t *testing.T) {
	s := MustServe(t, "") // no demo: its events would be counted too
	var acked atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var b strings.Builder
			b.WriteString("[")
			for j := range 100 {
				if j > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"type":"tracking","id":"e-%d-%d","name":"page","targetingKey":"u%d","value":1}`, i, j, j)
			}
			b.WriteString("]")
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/events", strings.NewReader(b.String()))
			req.Header.Set("Authorization", "Bearer "+s.Admin)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Valueloop-Environment", "production")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					acked.Add(100)
				}
			}
		}
	}()
	for acked.Load() < 500 {
		time.Sleep(10 * time.Millisecond)
	}
	before := acked.Load()
	file := filepath.Join(t.TempDir(), "b.db")
	if code, out, errOut := runCLI(t, "backup", file, "--data", s.DataDir); code != 0 {
		t.Fatalf("backup: %d %s %s", code, out, errOut)
	}
	after := acked.Load()
	close(stop)
	<-done
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT COALESCE(SUM(count), 0) FROM event_log WHERE environment = 'production'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < before || n > after+100 {
		t.Errorf("the backup holds %d events; %d were acknowledged before it began, %d when it ended", n, before, after)
	}
}

// TestBackupRestoreExitCodes: backup and restore refusals exit with the
// codes 'valueloop help' documents and say what to do, without a Go
// package's prefix ("sqlite: backup:"); the size of a backup is printed
// with its digits grouped, as other sizes are.
func TestBackupRestoreExitCodes(t *testing.T) {
	s := MustServe(t, "", "--demo")
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.db")
	code, out, errOut := runCLI(t, "backup", file, "--data", s.DataDir)
	if code != exitOK || !regexp.MustCompile(`\(\d{1,3}(,\d{3})+ bytes\)\.`).MatchString(out) {
		t.Errorf("backup: exit %d, %q %q; want the size with its digits grouped", code, out, errOut)
	}
	notStore := filepath.Join(dir, "x.db")
	os.WriteFile(notStore, []byte("not a database"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"backup", file, "--data", s.DataDir}, exitUsage, "already exists: give a new FILE name"},
		{[]string{"backup", filepath.Join(dir, "no-such-dir", "b.db"), "--data", s.DataDir}, exitNotFound, "create it first"},
		{[]string{"backup", filepath.Join(dir, "b.db"), "--data", filepath.Join(dir, "empty")}, exitNotFound, "no Valueloop store"},
		{[]string{"restore", filepath.Join(dir, "missing.db"), "--data", t.TempDir()}, exitNotFound, "no file"},
		{[]string{"restore", notStore, "--data", t.TempDir()}, exitInvalid, "give a file written by 'valueloop backup'"},
		{[]string{"restore", file, "--data", s.DataDir, "--force"}, exitConflict, "stop it first"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "sqlite:") {
			t.Errorf("%v: exit %d, %q; want %d with %q and no package prefix", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
