package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/valueloop/valueloop"
)

// pager is the page of a list a view shows. Every list that pages pages
// alike: the query parameter page (from 1), "Showing 16–30 of 45
// deployments" above it, and Previous and Next links around "page 2 of 3"
// (template "pager"). Before, the flags listed them all however many,
// the experiments too, and the deployments said "The latest 15 of the 45"
// with no way to see the others.
type pager struct {
	Page, Pages int
	From, To    int // the items shown, from 1 (0 and 0 for none)
	Total       int
	Noun        string
	Prev, Next  string // links to the pages before and after, "" at the ends
	// Capped: the list has more than Total items, of which it pages the
	// latest (storePage).
	Capped bool
}

// paginate reads the request's page of a list of total items, size a
// page, and returns it with the bounds [lo, hi) of its items. A page past
// the last shows the last; a page that is not a whole number from 1 is
// refused, naming the parameter.
func paginate(r *http.Request, total, size int, noun string) (p pager, lo, hi int, err error) {
	p = pager{Page: 1, Pages: max(1, (total+size-1)/size), Total: total, Noun: noun}
	if s := r.URL.Query().Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if errors.Is(err, strconv.ErrRange) && n > 0 {
			n, err = p.Pages, nil // a page past the last, however far
		}
		if err != nil || n < 1 {
			return p, 0, 0, valueloop.FieldErrorf("page", "want a whole number from 1, got %q", valueloop.Clip(s))
		}
		p.Page = min(n, p.Pages)
	}
	lo, hi = (p.Page-1)*size, min(p.Page*size, total)
	if total > 0 {
		p.From, p.To = lo+1, hi
	}
	link := func(n int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		// A query alone: resolved against the page's own path, so that
		// it stays under the dashboard's path prefix behind a proxy.
		return (&url.URL{RawQuery: q.Encode()}).String()
	}
	if p.Page > 1 {
		p.Prev = link(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.Next = link(p.Page + 1)
	}
	return p, lo, hi, nil
}

// maxPaged bounds how deep a list the store pages (an audit trail, the
// finished rollouts) is paged: its count stops past it and its last page
// ends there, so that no page of a trail however long (an old install's, a
// hostile one's) makes the store read more rows than that of its index.
// `valueloop audit` and the API's lists page back through all of it.
const maxPaged = 1000

// storePage is paginate for a list the store pages: count counts its items
// up to a bound, and the caller reads only the page, from offset lo to hi.
// A list longer than maxPaged pages its latest maxPaged (Capped).
func storePage(r *http.Request, count func(upTo int) (int, error), size int, noun string) (p pager, lo, hi int, err error) {
	n, err := count(maxPaged + 1)
	if err != nil {
		return p, 0, 0, err
	}
	p, lo, hi, err = paginate(r, min(n, maxPaged), size, noun)
	p.Capped = n > maxPaged
	return p, lo, hi, err
}
