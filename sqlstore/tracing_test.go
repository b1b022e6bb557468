package sqlstore

import "testing"

func TestSummarize(t *testing.T) {
	for _, c := range []struct{ q, op, table string }{
		{"SELECT key, data FROM flags WHERE env = ?", "SELECT", "flags"},
		{"\n\t\tINSERT INTO audit (at, actor) VALUES (?, ?)", "INSERT", "audit"},
		{"UPDATE environments SET version = version + 1", "UPDATE", "environments"},
		{"delete from tokens where id = ?", "DELETE", "tokens"},
		{"SELECT count(*) FROM (SELECT 1 FROM events) e", "SELECT", "events"}, // the subquery's
		{"SELECT pg_advisory_xact_lock($1, $2)", "SELECT", ""},
		{"", "", ""},
	} {
		if op, table := summarize(c.q); op != c.op || table != c.table {
			t.Errorf("summarize(%q) = %q, %q; want %q, %q", c.q, op, table, c.op, c.table)
		}
	}
}

func TestCallerMethod(t *testing.T) {
	var got string
	func() { got = callerMethod(1) }()
	if got != "TestCallerMethod" {
		t.Errorf("callerMethod from a closure = %q, want TestCallerMethod", got)
	}
}
