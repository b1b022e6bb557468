package main

import (
	"strings"
	"testing"
)

// TestLimitOutOfRange: --limit 0 or -1 was sent as no limit at all, and the
// server's default page came back (91 audit entries for 'at most this
// many'); 5000 was refused by the server as "limit" with exit 3. Each is now
// refused before anything is asked, naming --limit and its range.
func TestLimitOutOfRange(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "--limit", "0"},
		{"audit", "--limit", "-1"},
		{"audit", "--limit", "1001"},
		{"delivery", "deliveries", "--limit", "0"},
		{"delivery", "deliveries", "--limit", "5000"},
	} {
		code, _, stderr := runCLI(t, args...)
		want := "--limit: must be from 1 to 1000, got " + args[len(args)-1]
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("valueloop %s: exit %d, stderr %q; want exit %d with %q", strings.Join(args, " "), code, stderr, exitUsage, want)
		}
	}
}

// TestDORABucketRefused: a --bucket dora does not know was refused by the
// server as "bucket: must be day, week or month", leaving out none, which
// the help offers; it is now refused before asking, naming --bucket and
// all four.
func TestDORABucketRefused(t *testing.T) {
	code, _, stderr := runCLI(t, "dora", "--bucket", "weak")
	want := `--bucket: must be day, week, month or none, not "weak"; did you mean "week"?`
	if code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("dora --bucket weak: exit %d, stderr %q; want exit %d with %q", code, stderr, exitUsage, want)
	}
}
