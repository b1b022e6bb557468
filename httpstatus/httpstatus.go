// Package httpstatus maps Valueloop's error kinds (valueloop.EINVALID, …)
// to HTTP statuses and back, for every HTTP adapter alike.
package httpstatus

import (
	"net/http"

	"github.com/valueloop/valueloop"
)

// kinds is the one place where error kinds and HTTP statuses meet: the
// API's problem responses and the dashboard's error pages read it one way
// (Of), the Go client the other (Code), so that the two cannot drift.
var kinds = [...]struct {
	code   string
	status int
}{
	{valueloop.EINVALID, http.StatusBadRequest},
	{valueloop.ENOTFOUND, http.StatusNotFound},
	{valueloop.ECONFLICT, http.StatusConflict},
	{valueloop.EUNAUTHORIZED, http.StatusUnauthorized},
	{valueloop.EFORBIDDEN, http.StatusForbidden},
	{valueloop.ETOOLARGE, http.StatusRequestEntityTooLarge},
	{valueloop.EUNSUPPORTED, http.StatusUnsupportedMediaType},
	{valueloop.ETIMEOUT, http.StatusRequestTimeout},
	{valueloop.ETOOMANY, http.StatusTooManyRequests},
	{valueloop.EUNAVAILABLE, http.StatusServiceUnavailable},
}

// Of is the HTTP status of an error kind; 500 for EINTERNAL and any kind
// not listed.
func Of(code string) int {
	for _, k := range kinds {
		if k.code == code {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// Code is the error kind of an HTTP status, Of's inverse: what a client
// reports of an answer that carries no problem details (a proxy's page, a
// load balancer's 503). EINTERNAL for any status not listed.
func Code(status int) string {
	for _, k := range kinds {
		if k.status == status {
			return k.code
		}
	}
	return valueloop.EINTERNAL
}
