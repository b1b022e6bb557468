package value

import (
	"os"
	"testing"
)

// FuzzParseFile: whatever the bytes, parsing a file returns a file or an
// error naming what is wrong, never panics; a file it accepts exports and
// parses back to the same objectives and features.
func FuzzParseFile(f *testing.F) {
	data, err := os.ReadFile("testdata/valueloop.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"objectives":[],"features":[{"key":"a","title":"A","objective":"x","hypothesis":{"change":"c"}}]}`))
	f.Add([]byte("objectives:\n  - key: a\n    horizon: 2027-13-45\n"))
	f.Add([]byte("features: [{key: a, dependsOn: [a, a]}]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data, testContext())
		if err != nil {
			if file != nil {
				t.Fatalf("a file and an error: %v", err)
			}
			return
		}
		out, err := Export(file.Objectives, file.Features, false)
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		back, err := ParseFile(out, testContext())
		if err != nil {
			t.Fatalf("the export does not parse back: %v\n%s", err, out)
		}
		if ops := Plan(file, back, true); len(ops) != 0 {
			t.Fatalf("the export differs: %+v", ops)
		}
	})
}
