// Package httpstatus maps Valueloop's error kinds (valueloop.EINVALID, …)
// to HTTP statuses, for every HTTP adapter alike.
package httpstatus

import (
	"net/http"

	"github.com/valueloop/valueloop"
)

// Of is the one place where error kinds become HTTP statuses: the API's
// problem responses and the dashboard's error pages both use it.
func Of(code string) int {
	switch code {
	case valueloop.EINVALID:
		return http.StatusBadRequest
	case valueloop.ENOTFOUND:
		return http.StatusNotFound
	case valueloop.ECONFLICT:
		return http.StatusConflict
	case valueloop.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case valueloop.EFORBIDDEN:
		return http.StatusForbidden
	case valueloop.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case valueloop.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case valueloop.ETIMEOUT:
		return http.StatusRequestTimeout
	case valueloop.ETOOMANY:
		return http.StatusTooManyRequests
	case valueloop.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
