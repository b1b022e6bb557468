package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/valueloop/valueloop"
)

// statusOf is the one place where error kinds become HTTP statuses.
func statusOf(code string) int {
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
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of every API error.
type errorBody struct {
	Error struct {
		Code     string              `json:"code"`
		Message  string              `json:"message"`
		Field    string              `json:"field,omitempty"`
		Problems []valueloop.Problem `json:"problems,omitempty"`
	} `json:"error"`
}

// writeError answers with err's kind and safe message; internal errors are
// logged with their detail and reported without it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	body := s.errorBody(r, err)
	if body.Error.Code == valueloop.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="valueloop"`)
	}
	writeJSON(w, statusOf(body.Error.Code), body)
}

// errorBody renders err as the API's error object, logging internal errors
// with their detail.
func (s *Server) errorBody(r *http.Request, err error) errorBody {
	code := valueloop.ErrorCode(err)
	if code == valueloop.EINTERNAL {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = valueloop.ErrorMessage(err)
	var e *valueloop.Error
	if errors.As(err, &e) {
		body.Error.Field = e.Field
	}
	var ve *valueloop.ValidationError
	if errors.As(err, &ve) {
		body.Error.Problems = ve.Problems
	}
	return body
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
