package ui

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

// TestPaginate: the bounds of every page, its links, and what is refused.
// A page number too large for an int is a page past the last, as any
// other is; it was refused as "not a whole number from 1".
func TestPaginate(t *testing.T) {
	for _, tc := range []struct {
		query                 string
		total                 int
		page, pages, from, to int
		lo, hi                int
		prev, next            string
		bad                   bool
	}{
		{query: "", total: 0, page: 1, pages: 1},
		{query: "page=2", total: 0, page: 1, pages: 1},
		{query: "", total: 15, page: 1, pages: 1, from: 1, to: 15, hi: 15},
		{query: "page=2", total: 15, page: 1, pages: 1, from: 1, to: 15, hi: 15},
		{query: "", total: 16, page: 1, pages: 2, from: 1, to: 15, hi: 15, next: "?page=2"},
		{query: "page=2", total: 16, page: 2, pages: 2, from: 16, to: 16, lo: 15, hi: 16, prev: "?page=1"},
		{query: "page=3", total: 45, page: 3, pages: 3, from: 31, to: 45, lo: 30, hi: 45, prev: "?page=2"},
		{query: "page=99", total: 45, page: 3, pages: 3, from: 31, to: 45, lo: 30, hi: 45, prev: "?page=2"},
		{query: "page=99999999999999999999", total: 45, page: 3, pages: 3, from: 31, to: 45, lo: 30, hi: 45, prev: "?page=2"},
		{query: "page=9223372036854775807", total: 45, page: 3, pages: 3, from: 31, to: 45, lo: 30, hi: 45, prev: "?page=2"},
		// other parameters are kept, escaped
		{query: "q=%22%3E%3Cscript%3E&page=2", total: 45, page: 2, pages: 3, from: 16, to: 30, lo: 15, hi: 30,
			prev: "?page=1&q=%22%3E%3Cscript%3E", next: "?page=3&q=%22%3E%3Cscript%3E"},
		{query: "page=0", total: 45, bad: true},
		{query: "page=-1", total: 45, bad: true},
		{query: "page=-99999999999999999999", total: 45, bad: true},
		{query: "page=1e3", total: 45, bad: true},
		{query: "page=2.0", total: 45, bad: true},
		{query: "page=abc", total: 45, bad: true},
	} {
		r := httptest.NewRequest("GET", "/delivery?"+tc.query, nil)
		p, lo, hi, err := paginate(r, tc.total, 15, "deployment")
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error, want one naming page", tc.query)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if p.Page != tc.page || p.Pages != tc.pages || p.From != tc.from || p.To != tc.to || lo != tc.lo || hi != tc.hi || p.Prev != tc.prev || p.Next != tc.next {
			t.Errorf("%q of %d: page %d of %d, %d–%d, [%d,%d), prev %q next %q; want page %d of %d, %d–%d, [%d,%d), prev %q next %q",
				tc.query, tc.total, p.Page, p.Pages, p.From, p.To, lo, hi, p.Prev, p.Next,
				tc.page, tc.pages, tc.from, tc.to, tc.lo, tc.hi, tc.prev, tc.next)
		}
	}
}

// TestPaginateClipsTheValue: a refused page quotes the value back clipped,
// as every field error does (valueloop.Clip), and names the field: a page
// parameter as long as the URL made a message as long.
func TestPaginateClipsTheValue(t *testing.T) {
	long := strings.Repeat("9x", 2000)
	_, _, _, err := paginate(httptest.NewRequest("GET", "/?page="+long, nil), 10, 5, "flags")
	var e *valueloop.Error
	if !errors.As(err, &e) || e.Field != "page" || len(e.Message) > 200 {
		t.Fatalf("refusal of a long page: %#v", err)
	}
}
