// Package httpstatus maps Valueloop's error kinds (valueloop.EINVALID, …)
// to HTTP statuses and back, for every HTTP adapter alike.
package httpstatus

import (
	"net/http"

	"github.com/valueloop/valueloop"
)

// statuses is the one table of error kinds and HTTP statuses, read both
// ways: by the server (Of) and by the client that reads a status without a
// problem body (Code), so the two cannot drift apart. One status per kind
// and one kind per status.
var statuses = []struct {
	code   string
	status int
}{
	{valueloop.EINVALID, http.StatusBadRequest},
	{valueloop.ENOTFOUND, http.StatusNotFound},
	{valueloop.ECONFLICT, http.StatusConflict},
	{valueloop.EUNAUTHORIZED, http.StatusUnauthorized},
	{valueloop.EFORBIDDEN, http.StatusForbidden},
	{valueloop.EMETHOD, http.StatusMethodNotAllowed},
	{valueloop.ETOOLARGE, http.StatusRequestEntityTooLarge},
	{valueloop.EUNSUPPORTED, http.StatusUnsupportedMediaType},
	{valueloop.ETIMEOUT, http.StatusRequestTimeout},
	{valueloop.ETOOMANY, http.StatusTooManyRequests},
	{valueloop.EUNAVAILABLE, http.StatusServiceUnavailable},
	{valueloop.EINTERNAL, http.StatusInternalServerError},
}

// Of is the one place where error kinds become HTTP statuses: the API's
// problem responses and the dashboard's error pages both use it. An
// unknown kind is an internal error.
func Of(code string) int {
	for _, s := range statuses {
		if s.code == code {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// Code is the inverse of Of: the error kind the server answers status
// for. A status no kind maps to (another 5xx, a proxy's 502) is
// EINTERNAL.
func Code(status int) string {
	for _, s := range statuses {
		if s.status == status {
			return s.code
		}
	}
	return valueloop.EINTERNAL
}
