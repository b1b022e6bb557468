package jsondecode_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/jsondecode"
)

// deep nests n levels of open, around a leaf, closed by close.
func deep(n int, open, leaf, close string) string {
	return strings.Repeat(open, n) + leaf + strings.Repeat(close, n)
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDepthBounded: documents nested deeper than MaxDepth are refused with
// an error that says where, and refusing a 200 KB one costs little memory
// (the duplicate check once kept a growing path per level: 10.5 GB).
func TestDepthBounded(t *testing.T) {
	var v any
	tests := []struct {
		name, doc string
		refused   bool
	}{
		{"arrays at the limit", deep(jsondecode.MaxDepth, "[", "1", "]"), false},
		{"objects at the limit", deep(jsondecode.MaxDepth, `{"a":`, "1", "}"), false},
		{"brackets in strings do not count", `{"a":"` + strings.Repeat("[{", 1000) + `"}`, false},
		{"escaped quotes do not end strings", `["\"` + strings.Repeat("[", 1000) + `"]`, false},
		{"arrays one past the limit", deep(jsondecode.MaxDepth+1, "[", "1", "]"), true},
		{"200 KB of arrays", deep(100_000, "[", "", "]"), true},
		{"200 KB of objects", deep(40_000, `{"a":`, "1", "}"), true},
		{"200 KB of arrays, unclosed", strings.Repeat("[", 200_000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			bytes := allocated(func() { err = jsondecode.Decode([]byte(tt.doc), &v, jsondecode.Options{}) })
			if !tt.refused {
				if err != nil {
					t.Fatalf("Decode: %v, want it accepted", err)
				}
				return
			}
			if valueloop.ErrorCode(err) != valueloop.EINVALID || !strings.Contains(err.Error(), "deeper than 128 levels at line 1, column ") {
				t.Errorf("Decode: %v, want an invalid error naming the depth and where", err)
			}
			if bytes > 4<<20 {
				t.Errorf("refusing it allocated %d bytes, want at most 4 MiB", bytes)
			}
		})
	}
}

// TestDuplicatesPaths: the walk shares one path stack between levels; the
// paths it reports must still be each duplicate's own.
func TestDuplicatesPaths(t *testing.T) {
	doc := []byte(`{"a":{"b":1,"b":2},"c":[{"d":1,"d":2},{"e":{"f":1,"f":2}}],"a":3}`)
	var got []string
	for _, p := range jsondecode.Duplicates(doc) {
		got = append(got, p.Pointer())
	}
	want := []string{"/a/b", "/c/0/d", "/c/1/e/f", "/a"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Duplicates = %v, want %v", got, want)
	}
}
