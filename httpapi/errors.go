package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/httpstatus"
)

// handlerFunc is the shape of every API handler: it writes its answer and
// returns nil, or returns an error and writes nothing; serve answers the
// error. One adapter instead of a writeError-and-return at every exit.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve adapts h to net/http, answering its error as problem+json.
func (s *Server) serve(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// closeUnread prepares the answer to an HTTP/1.x request refused before
// its body was read (or while): answered now and closed, instead of
// net/http reading the rest first — which a client that stalls would
// never send. HTTP/2 resets the stream alone; closing there would end the
// connection's other requests too.
func closeUnread(w http.ResponseWriter, rc *http.ResponseController) {
	w.Header().Set("Connection", "close")
	rc.EnableFullDuplex()
}

// plain adapts a handler that answers its own errors (OFREP, whose error
// shape its specification defines, and Prometheus).
func plain(h http.HandlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		h(w, r)
		return nil
	}
}

// ProblemType is the prefix of the type URI of the API's problems; the
// error kind follows ("urn:valueloop:problem:invalid"). A URN, not a URL:
// it names the kind and resolves nowhere (docs/api.md lists the kinds).
const ProblemType = "urn:valueloop:problem:"

// problem is the JSON shape of every API error: RFC 9457 problem details,
// with the error kind in code and what is wrong with each field in errors.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance,omitempty"`
	// Code is the error kind, the last part of Type.
	Code string `json:"code"`
	// Errors names each field at fault: one for a request's bad field,
	// every problem of an invalid definition (a flag, a rollout plan).
	Errors []fieldError `json:"errors,omitempty"`
	// ErrorDetails repeats Detail on OFREP's routes: the member OFREP
	// defines for a 500 (generalErrorResponse) and that each of its
	// failures carries, which OFREP providers read for the message.
	ErrorDetails string `json:"errorDetails,omitempty"`
	// ErrorCode and Key, on a 400 or 404 of OFREP's evaluation routes:
	// the members OFREP requires of those statuses (ofrepFailure).
	ErrorCode string `json:"errorCode,omitempty"`
	Key       string `json:"key,omitempty"`
}

// fieldError is one entry of a problem's errors.
type fieldError struct {
	// Field is where: a dotted path in a request ("steps[1].percent"), a
	// JSON Pointer in a definition ("/flags/new-ui/targeting"), or a query
	// parameter.
	Field   string `json:"field"`
	Message string `json:"message"`
	// Flag and Source say which flag and which file a definition problem
	// is about.
	Flag   string `json:"flag,omitempty"`
	Source string `json:"source,omitempty"`
}

// writeError answers with err's kind and safe message; internal errors are
// logged with their detail and reported without it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := s.problem(r, err)
	switch p.Code {
	case valueloop.EUNAUTHORIZED:
		w.Header().Set("WWW-Authenticate", `Bearer realm="valueloop"`)
	case valueloop.ETOOMANY, valueloop.EUNAVAILABLE:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	writeJSONAs(w, "application/problem+json", p.Status, p)
}

// problem renders err as problem details, logging internal errors with
// their detail.
func (s *Server) problem(r *http.Request, err error) problem {
	code := valueloop.ErrorCode(err)
	if code == valueloop.EINTERNAL {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	status := httpstatus.Of(code)
	p := problem{
		Type:     ProblemType + code,
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   valueloop.ClipMessage(valueloop.ErrorMessage(err)),
		Instance: r.URL.Path,
		Code:     code,
	}
	if strings.HasPrefix(r.URL.Path, "/ofrep/") {
		p.ErrorDetails = p.Detail
		ofrepFailure(&p, r)
	}
	var ve *valueloop.ValidationError
	var e *valueloop.Error
	switch {
	case errors.As(err, &ve):
		for _, pr := range ve.Problems {
			p.Errors = append(p.Errors, fieldError{Field: pr.Path, Message: pr.Message, Flag: pr.Flag, Source: pr.Source})
		}
	case errors.As(err, &e) && e.Field != "":
		p.Errors = []fieldError{{Field: e.Field, Message: e.Message}}
	}
	// A message quoting a whole key or value made an answer as long as the
	// body, twice over (the detail and the field): cut each to a KiB.
	for i := range p.Errors {
		fe := &p.Errors[i]
		fe.Field, fe.Message = valueloop.ClipMessage(fe.Field), valueloop.ClipMessage(fe.Message)
		fe.Flag, fe.Source = valueloop.ClipMessage(fe.Flag), valueloop.ClipMessage(fe.Source)
	}
	return p
}

// ofrepFailure gives a 400 or 404 the server answers on an OFREP
// evaluation route before evaluating (an unbound token without the
// environment header, two different tokens, an environment that does not
// exist) the members OFREP's schema requires of those statuses: errorCode,
// and the key on the single-flag route (evaluationFailure, flagNotFound,
// bulkEvaluationFailure). OFREP providers take a 400 or 404 without them
// as a malformed answer and drop its errorDetails. OFREP's 404 means a
// flag not found: so it is, when its environment is.
func ofrepFailure(p *problem, r *http.Request) {
	if p.Status != http.StatusBadRequest && p.Status != http.StatusNotFound {
		return
	}
	switch r.Pattern {
	case ofrepSingle:
		p.Key, p.ErrorCode = ofrepKey(r), "GENERAL"
		if p.Status == http.StatusNotFound {
			p.ErrorCode = "FLAG_NOT_FOUND"
		}
	case ofrepBulk:
		p.ErrorCode = "GENERAL"
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, "application/json", status, v)
}

func writeJSONAs(w http.ResponseWriter, contentType string, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
