package main

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// TestWriteList: a list command's rows as aligned columns under the
// header, its empty message where there are none (only the header when it
// has none), and JSON with --output json.
func TestWriteList(t *testing.T) {
	type row struct{ Key, Title string }
	line := func(w io.Writer, r row) { fmt.Fprintf(w, "%s\t%s\n", r.Key, r.Title) }
	tests := []struct {
		name, output, empty string
		rows                []row
		want                string
	}{
		{"table", "", "No rows.", []row{{"a", "first"}, {"long-key", "second"}}, "KEY       TITLE\na         first\nlong-key  second\n"},
		{"empty", "", "No rows.", nil, "No rows.\n"},
		{"empty without a message", "", "", nil, "KEY  TITLE\n"},
		{"json", "json", "No rows.", []row{{"a", "first"}}, "[\n  {\n    \"Key\": \"a\",\n    \"Title\": \"first\"\n  }\n]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeList(&cliEnv{stdout: &out}, &clientFlags{output: tc.output}, tc.rows, tc.empty, "KEY\tTITLE", line); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got\n%q\nwant\n%q", out.String(), tc.want)
			}
		})
	}
}
