package valueloop

// The list routes answer a page at a time: a store reads one item more
// than the page's limit, which says whether there is a next page, and the
// next page starts after the last item of this one (its cursor). The value
// lists and the delivery records page this one way.

// PageEnd ends a page read with up to limit+1 items: the page (at most
// limit of them) and the cursor of the next, the cursor of its last item,
// or "" when this is the last page.
func PageEnd[T any](items []T, limit int, cursor func(*T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	return items[:limit], cursor(&items[limit-1])
}

// CursorError refuses a cursor that no page gave (changed on the way, or
// made up) rather than reading it as an empty page.
func CursorError(cursor string) error {
	return FieldErrorf("cursor", "must be the nextCursor of the page before, not %q", clipQuery(cursor))
}

// LimitError refuses a page's ?limit=, v as given.
func LimitError(v string, max int) error {
	return FieldErrorf("limit", "must be an integer from 1 to %d, not %q", max, clipQuery(v))
}

// clipQuery shortens a refused query value for its message: the value can
// be as long as a URL, and its start is enough to recognise it.
func clipQuery(v string) string { return clipTo(v, 40) }
