package valueloop_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestPageEnd: a read of limit+1 items is a page of limit with the last
// one's cursor; a read of limit or fewer is the last page.
func TestPageEnd(t *testing.T) {
	key := func(s *string) string { return *s }
	for _, tc := range []struct {
		items      []string
		limit      int
		page, next string
	}{
		{[]string{"a", "b", "c"}, 2, "a b", "b"},
		{[]string{"a", "b"}, 2, "a b", ""},
		{[]string{"a"}, 2, "a", ""},
		{nil, 2, "", ""},
	} {
		page, next := valueloop.PageEnd(slices.Clone(tc.items), tc.limit, key)
		if got := strings.Join(page, " "); got != tc.page || next != tc.next {
			t.Errorf("PageEnd(%q, %d) = %q, %q; want %q, %q", tc.items, tc.limit, got, next, tc.page, tc.next)
		}
	}
}

// TestCursorError names the field and clips a long cursor to valid UTF-8.
func TestCursorError(t *testing.T) {
	long := "x" + strings.Repeat("é", 30) // 61 bytes: the 40th cuts an é in two
	err := valueloop.CursorError(long)
	var e *valueloop.Error
	if !errors.As(err, &e) || e.Field != "cursor" || !strings.Contains(err.Error(), "…") || strings.Contains(err.Error(), long) || !strings.Contains(err.Error(), `"x`+strings.Repeat("é", 19)+`…"`) {
		t.Errorf("CursorError = %v, want the cursor field, the cursor clipped to 40 bytes of valid UTF-8", err)
	}
}
