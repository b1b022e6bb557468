package sqlstore

import (
	"strings"
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	cases := []struct {
		numbered bool
		in, want string
	}{
		{false, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = ? AND c = ?`},
		{true, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{true, `SELECT 1`, `SELECT 1`},
		{true, `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
	}
	for _, c := range cases {
		d := Dialect{Numbered: c.numbered}
		if got := d.Rebind(c.in); got != c.want {
			t.Errorf("Rebind(%q), numbered %v = %q, want %q", c.in, c.numbered, got, c.want)
		}
	}
}

// TestTimeRoundTrip: a timestamp stored either way (SQLite's text,
// PostgreSQL's time.Time) scans back to the same UTC instant.
func TestTimeRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))
	for _, stored := range []any{FormatTime(at), []byte(FormatTime(at).(string)), at} {
		var got time.Time
		if err := (timeDest{&got}).Scan(stored); err != nil {
			t.Fatalf("scan %T: %v", stored, err)
		}
		if !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("scan %T = %v, want %v in UTC", stored, got, at)
		}
	}
	var null time.Time
	if err := (nullTimeDest{&null}).Scan(nil); err != nil || !null.IsZero() {
		t.Errorf("scan NULL = %v, %v; want the zero time", null, err)
	}
	if err := (timeDest{&null}).Scan("yesterday"); err == nil {
		t.Error("scan of a bad timestamp: no error")
	}
}

// TestAggregatesQueryPlaceholders: each read of the stored figures has one
// placeholder per argument, whichever filters it has, so that PostgreSQL's
// numbered ones ($1, $2, ...) follow the arguments' order.
func TestAggregatesQueryPlaceholders(t *testing.T) {
	pg := Dialect{Numbered: true}
	for _, c := range []struct{ flag, dimension, from, want string }{
		{"", "", "", `environment = $1 AND dimension = $2 ORDER`},
		{"f", "", "", `environment = $1 AND flag = $2 AND dimension = $3 ORDER`},
		{"f", "country", "", `environment = $1 AND flag = $2 AND dimension = $3 ORDER`},
		{"f", "day", "2026-03-01", `environment = $1 AND flag = $2 AND (dimension = '' OR (dimension = $3 AND value >= $4)) ORDER`},
		{"", EveryDimension, "", `environment = $1 ORDER`},
		{"f", UserCells, "", `environment = $1 AND flag = $2 AND dimension = '' AND metric = '' ORDER`},
	} {
		q, args := AggregatesQuery("prod", c.flag, c.dimension, c.from)
		if got := pg.Rebind(q); !strings.Contains(got, c.want) || strings.Count(q, "?") != len(args) {
			t.Errorf("AggregatesQuery(%q, %q, %q) = %q with %d arguments, want %q and one each", c.flag, c.dimension, c.from, got, len(args), c.want)
		}
	}
}
