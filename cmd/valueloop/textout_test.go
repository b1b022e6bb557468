package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/rollout"
)

// TestTextOutputNeutralisesControls: free text the server keeps (a
// rollout's reason, an audit entry's, a hypothesis' statement) reaches the
// CLI from any writer of the API, and printed as it is an escape sequence
// in it would retitle, clear or recolour the reader's terminal. Table
// output shows each control character escaped; JSON output carries the
// text unchanged (its encoding escapes what it must).
func TestTextOutputNeutralisesControls(t *testing.T) {
	s, _ := greetServer(t)
	const evil = "ok\x1b]0;pwned\x07\x1b[2J\r\u009b31m"
	const shown = `ok\x1b]0;pwned\x07\x1b[2J\x0d\u009b31m`
	const shownStatement = shown + `\u202e`
	// A line break in a one-line field would start a line of its own: an
	// audit entry or a rollout step that never happened.
	const spoof = "lunch\n#99 2026-01-01 00:00:00 UTC admin flag.delete production/greet"
	ctx := context.Background()
	c := client.New(s.URL, s.Admin)
	plan := rollout.Plan{Flag: "greet", Variant: "on", Baseline: "off", Steps: []rollout.Step{{Percent: 10, MinDuration: rollout.Duration(time.Hour)}, {Percent: 100}}}
	if _, err := c.StartRollout(ctx, "production", plan, "EVIL"); err != nil {
		t.Fatalf("start rollout: %v", err)
	}
	if _, err := c.RolloutAction(ctx, "production", "greet", rollout.KindPause, "SPOOF"); err != nil {
		t.Fatalf("pause: %v", err)
	}
	// The API refuses such reasons now; stored ones (by an older version)
	// are written into the store behind its back.
	storeReasons(t, s, map[string]string{"EVIL": evil, "SPOOF": spoof})
	hyp, _ := json.Marshal(map[string]any{"statement": "EVIL", "primaryMetric": "errors", "direction": "decrease", "minimumEffect": 0.1})
	if _, err := c.PutHypothesis(ctx, "production", "greet", hyp); err != nil {
		t.Fatalf("hypothesis with the statement: %v", err)
	}
	// The API refuses such a statement now too (with a bidirectional
	// override, which the text output escapes as well).
	storeStatement(t, s, `"EVIL"`, evil+"\u202e")
	for _, args := range [][]string{
		{"rollout", "status", "greet", "--env", "production"},
		{"audit", "--env", "production"},
		{"experiment", "results", "greet", "--env", "production"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			code, out, errOut := s.cli(t, s.Admin, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.ContainsAny(out, "\x1b\x07\r\u009b\u202e") || !strings.Contains(out, shown) || args[0] == "experiment" && !strings.Contains(out, shownStatement) {
				t.Errorf("text output holds raw controls or lacks %s:\n%q", shown, out)
			}
			if args[0] != "experiment" && (strings.Contains(out, "\n#99") || !strings.Contains(out, `lunch\n#99`)) {
				t.Errorf("a reason's line break starts a line of its own:\n%s", out)
			}
			code, out, errOut = s.cli(t, s.Admin, append(args, "--output", "json")...)
			if code != 0 || !strings.Contains(out, `\u001b]0;pwned\u0007\u001b[2J\r`+"\u009b31m") {
				t.Errorf("JSON output changed: exit %d %s\n%q", code, errOut, out)
			}
		})
	}
}

// storeStatement replaces the statement old (as JSON) of the stored
// hypotheses with text, behind the API's back, as an older version could
// have stored it.
func storeStatement(t *testing.T, s *testServer, old, text string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "valueloop.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b, _ := json.Marshal(text)
	if _, err := db.Exec(`UPDATE hypotheses SET definition = replace(definition, ?, ?)`, old, string(b)); err != nil {
		t.Fatal(err)
	}
}

// TestTextWriter: what textWriter makes of each kind of byte, written at
// once and split at every byte (a buffered writer may cut a character
// anywhere).
func TestTextWriter(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain text and box drawing", "a\tb\n█·é ✓\n", "a\tb\n█·é ✓\n"},
		{"escape sequence", "\x1b[2Jx", `\x1b[2Jx`},
		{"bell, carriage return, NUL, DEL", "\a\r\x00\x7f", `\x07\x0d\x00\x7f`},
		{"C1 control", "a\u009b31m", `a\u009b31m`},
		{"bidirectional override and isolate", "a\u202Eb\u2066c", `a\u202eb\u2066c`},
		{"right-to-left mark", "a\u200fb", "a\u200fb"},
		{"not UTF-8", "a\x9bb\xff", `a\x9bb\xff`},
		{"a sequence never completed", "a\xe2\x96", `a\xe2\x96`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for split := 0; split <= len(tc.in); split++ {
				var out strings.Builder
				w := &textWriter{w: &out}
				if n, err := w.Write([]byte(tc.in[:split])); err != nil || n != split {
					t.Fatalf("Write = %d, %v", n, err)
				}
				w.Write([]byte(tc.in[split:]))
				w.Flush()
				if out.String() != tc.want {
					t.Errorf("split at %d: got %q, want %q", split, out.String(), tc.want)
				}
			}
		})
	}
}

// storeReasons replaces the placeholders in the reasons the server stored
// (of rollouts, their histories and the audit trail) with texts the API
// refuses, as an older version stored them.
func storeReasons(t *testing.T, s *testServer, texts map[string]string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "valueloop.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for placeholder, text := range texts {
		for _, table := range []string{"rollouts", "rollout_events", "audit"} {
			if _, err := db.Exec(`UPDATE `+table+` SET reason = ? WHERE reason = ?`, text, placeholder); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
		}
	}
}
