// Package ofrep serves the OpenFeature Remote Evaluation Protocol: single-flag
// and bulk evaluation over HTTP, so that every official OFREP provider works
// against Valueloop unmodified.
//
// Deliberate differences from flagd's OFREP service, following the OFREP
// specification (open-feature/protocol service/openapi.yaml) instead:
//   - a variant chosen by a fractional split is reported as SPLIT, not
//     TARGETING_MATCH;
//   - the engine's DEFAULT (targeting ran and chose nothing, so the default
//     variant was served) is sent as DEFAULT, as flagd's OFREP service sends
//     it, although the enum of OFREP's schema (service/openapi.yaml,
//     evaluationSuccess.reason) lists only STATIC, TARGETING_MATCH, SPLIT,
//     DISABLED and UNKNOWN: every OFREP provider passes the reason through,
//     and UNKNOWN would tell the application that the server could not say
//     why (see docs/flags.md);
//   - a flag whose definition defers to the code default (no defaultVariant)
//     answers without a "value" field (the spec's codeDefaultFlag);
//   - the bulk ETag covers the flag set AND the request's context, since the
//     answer depends on both (and, when a rule reads $flagd.timestamp, it is
//     the answer's own hash, since the answer depends on the time too).
//
// Bulk answers announce the caller's change notification stream
// (eventStreams, OFREP 0.3.0) when Handler.EventStream gives one; serving it
// is the caller's too, as are authentication and the choice of environment:
// a Handler asks Snapshot for the snapshot of each request.
package ofrep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
)

// MaxBodyBytes is the largest request body accepted; larger bodies get a
// 400 GENERAL that says so. Not 413: OFREP documents 400, 404 and 500 as
// the failures whose body a provider reads, and the official ones take any
// other status for a malformed answer, which drops the reason.
const MaxBodyBytes = 64 << 10

// tooLarge is the errorDetails of a body over MaxBodyBytes.
var tooLarge = "request body larger than " + strconv.Itoa(MaxBodyBytes) + " bytes"

// Handler serves the OFREP endpoints.
type Handler struct {
	// Snapshot returns the live snapshot for the request's environment and
	// who is asking, or an error: an *valueloop.Error of kind EUNAUTHORIZED
	// or EFORBIDDEN when the caller may not evaluate, ENOTFOUND when there is
	// no such environment. Required.
	Snapshot func(r *http.Request) (*evaluation.Snapshot, Caller, error)
	// Error writes a non-OFREP error in the server's usual way: those of
	// Snapshot (401, 403, 404, 500), and the server's refusal to read a
	// body, an *valueloop.Error from the request body's Read (408 when it
	// did not arrive in time, 503 when the server holds as many bodies as
	// it may), which is not the client's malformed request. Required.
	Error func(w http.ResponseWriter, r *http.Request, err error)
	// Evaluated, if set, is called after every single-flag evaluation with
	// the caller and the request's context; it must not block (metrics,
	// exposure queues), and must not keep res, which is reused after the
	// call.
	Evaluated func(r *http.Request, c Caller, ctx map[string]any, res *evaluation.Result)
	// EvaluatedInBulk, if set, is called after each flag of a bulk
	// evaluation (tracing); it must not block or keep res. Nil costs
	// nothing.
	EvaluatedInBulk func(r *http.Request, c Caller, ctx map[string]any, res *evaluation.Result)
	// Key, if set, returns the flag key of a single-flag evaluation; nil
	// reads it as r.PathValue("key"). A router that finds the route
	// without a mux has the key at hand, and setting it as a path value
	// would allocate a map per request.
	Key func(r *http.Request) string
	// EventStream, if set, returns where the change notification stream
	// of the request's caller is, announced in every bulk answer as its
	// eventStreams (OFREP 0.3.0, ADR-0008): a path and query (from "/")
	// is written as the entry's endpoint.requestUri, which the provider
	// resolves against its OFREP base URL's origin; an absolute URL is
	// written as the entry's url, used as it is (a server behind a proxy
	// that knows its public URL). Either is of characters that need no
	// escape in a JSON string (a URL's); "" announces none.
	EventStream func(r *http.Request, c Caller) string
}

// Caller is what a request's credentials select, as Snapshot found it and
// Evaluated receives it.
type Caller struct {
	// Environment whose flags the request evaluates.
	Environment string
	// NoExposures: the caller's evaluations must not be recorded as
	// exposures (QA, load tests, previews).
	NoExposures bool
}

// scratch is what a request borrows from scratchPool: the buffer its body
// is read into (and its single answer written to), and the result Evaluated
// and EvaluatedInBulk get a pointer to. A local Result would be moved to
// the heap, since the pointer passes through a func value: one allocation
// per evaluation, fifty per bulk request.
type scratch struct {
	buf  bytes.Buffer
	res  evaluation.Result
	body limitedReader
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func (sc *scratch) put() {
	sc.buf.Reset()
	sc.res = evaluation.Result{}
	sc.body = limitedReader{}
	scratchPool.Put(sc)
}

// limitedReader reads at most n bytes and fails with errTooLarge beyond:
// http.MaxBytesReader without its allocation (it lives in the scratch).
type limitedReader struct {
	r io.Reader
	n int64 // bytes left; -1: the limit was passed
}

var errTooLarge = errors.New("request body too large")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errTooLarge
	}
	// One byte more than is left tells a body of exactly the limit from
	// a larger one.
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	if int64(n) <= l.n {
		l.n -= int64(n)
		return n, err
	}
	n, l.n = int(l.n), -1
	return n, errTooLarge
}

// readContext reads and decodes the body. A problem of the request is
// reported as the HTTP status, OFREP error code and details of the failure
// to answer (status 0: none); the server's refusal to read it (a
// *valueloop.Error: the body did not arrive in time, the server holds as
// many bodies as it may) as serverErr, for Handler.Error.
func readContext(r *http.Request, sc *scratch) (ctx map[string]any, status int, code, details string, serverErr error) {
	buf := &sc.buf
	// A length declared over the limit is refused from the headers: read
	// first, the request held its connection and slot until the body came
	// or body-timeout passed, for an answer known before.
	if r.ContentLength > MaxBodyBytes {
		return nil, http.StatusBadRequest, "GENERAL", tooLarge, nil
	}
	sc.body = limitedReader{r: r.Body, n: MaxBodyBytes}
	if _, err := buf.ReadFrom(&sc.body); err != nil {
		var ve *valueloop.Error
		switch {
		case err == errTooLarge:
			return nil, http.StatusBadRequest, "GENERAL", tooLarge, nil
		case errors.As(err, &ve):
			return nil, 0, "", "", ve
		}
		return nil, http.StatusBadRequest, "PARSE_ERROR", "cannot read request body", nil
	}
	body := bytes.TrimSpace(buf.Bytes())
	if len(body) == 0 {
		return nil, 0, "", "", nil // no body: empty context
	}
	c, err := decodeRequest(body)
	switch deep := tooDeepIn(err); {
	case err == errContextType:
		return nil, http.StatusBadRequest, "INVALID_CONTEXT", "context must be a JSON object", nil
	case deep == "context":
		// Well-formed JSON, which "malformed JSON" would deny.
		return nil, http.StatusBadRequest, "INVALID_CONTEXT", "context nested more than " + strconv.Itoa(maxDepth) + " levels deep", nil
	case deep != "":
		// A member the evaluation ignores: a limit of the body, as its
		// size is (GENERAL), not a fault of the context.
		return nil, http.StatusBadRequest, "GENERAL", "request body nested more than " + strconv.Itoa(maxDepth) + " levels deep", nil
	case err != nil:
		return nil, http.StatusBadRequest, "PARSE_ERROR", "malformed JSON: " + err.Error(), nil
	}
	// A null targetingKey is no targeting key, as flagd reads it (a client
	// may send null for an anonymous user); another type is refused.
	switch tk, ok := c["targetingKey"]; {
	case ok && tk == nil:
		delete(c, "targetingKey")
	case ok:
		if _, isString := tk.(string); !isString {
			return nil, http.StatusBadRequest, "INVALID_CONTEXT", "context.targetingKey must be a string or null", nil
		}
	}
	return c, 0, "", "", nil
}

// begin is the opening both evaluations share: the caller's snapshot, and
// the request's context read into a scratch the caller must put back. A nil
// scratch means the request is answered already (an error of Snapshot or of
// the server, or the failure of a malformed body, in the single-flag or the
// bulk shape as bulk says).
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, bulk bool, key string) (*evaluation.Snapshot, Caller, map[string]any, *scratch) {
	snap, caller, err := h.Snapshot(r)
	if err != nil {
		h.Error(w, r, err)
		return nil, caller, nil, nil
	}
	sc := getScratch()
	ctx, status, code, details, err := readContext(r, sc)
	switch {
	case err != nil:
		h.Error(w, r, err)
	case status != 0 && bulk:
		writeBulkFailure(w, status, code, details)
	case status != 0:
		writeFailure(w, status, key, code, details)
	default:
		return snap, caller, ctx, sc
	}
	sc.put()
	return nil, caller, nil, nil
}

// Evaluate serves POST /ofrep/v1/evaluate/flags/{key}.
func (h *Handler) Evaluate(w http.ResponseWriter, r *http.Request) {
	var key string
	if h.Key != nil {
		key = h.Key(r)
	} else {
		key = r.PathValue("key")
	}
	snap, caller, ctx, sc := h.begin(w, r, false, key)
	if sc == nil {
		return
	}
	defer sc.put()
	buf, res := &sc.buf, &sc.res
	*res = snap.Evaluate(key, ctx)
	if h.Evaluated != nil {
		h.Evaluated(r, caller, ctx, res)
	}
	buf.Reset()
	status := http.StatusOK
	switch {
	case res.ErrorCode == evaluation.ErrorCode("FLAG_NOT_FOUND"):
		status = http.StatusNotFound
		appendFailure(buf, key, string(res.ErrorCode), res.ErrorMessage, res.Metadata)
	case res.ErrorCode != "":
		// The OFREP schema defines evaluationFailure for 400 only: a rule
		// that fails at run time is PARSE_ERROR there, as in flagd, and
		// codes outside its enum (TYPE_MISMATCH) are GENERAL.
		status = http.StatusBadRequest
		appendFailure(buf, key, wireErrorCode(res.ErrorCode), res.ErrorMessage, res.Metadata)
	default:
		appendSuccess(buf, res)
	}
	writeJSON(w, status, buf.Bytes())
}

// EvaluateAll serves POST /ofrep/v1/evaluate/flags.
func (h *Handler) EvaluateAll(w http.ResponseWriter, r *http.Request) {
	snap, caller, ctx, sc := h.begin(w, r, true, "")
	if sc == nil {
		return
	}
	defer sc.put()
	buf, res := &sc.buf, &sc.res
	// The answer is a function of the flag set and the context: so is the
	// ETag, and a 304 needs no evaluation. When a rule reads the clock the
	// answer is also a function of the time, and the ETag is the answer's
	// own hash instead.
	// The announced stream is the caller's (its URL carries the caller's
	// credential), so the ETag covers it too.
	var stream string
	if h.EventStream != nil {
		stream = h.EventStream(r, caller)
	}
	var etag string
	if !snap.ReadsClock() {
		etag = bulkETag(snap.ETag(), stream, bytes.TrimSpace(buf.Bytes()))
		if notModified(w, r, etag) {
			return
		}
	}
	out := bytes.NewBuffer(make([]byte, 0, 256))
	out.WriteString(`{"flags":[`)
	for i, key := range snap.Keys() {
		if i > 0 {
			out.WriteByte(',')
		}
		*res = snap.Evaluate(key, ctx)
		if h.EvaluatedInBulk != nil {
			h.EvaluatedInBulk(r, caller, ctx, res)
		}
		if res.ErrorCode != "" {
			appendFailure(out, key, wireErrorCode(res.ErrorCode), res.ErrorMessage, res.Metadata)
		} else {
			appendSuccess(out, res)
		}
	}
	out.WriteString(`]`)
	if md := snap.Set().Metadata; len(md) > 0 {
		out.WriteString(`,"metadata":`)
		appendValue(out, md)
	}
	if stream != "" {
		// A path and query of URL-safe characters: no JSON escape needed
		// (appendString would turn its & into \u0026).
		if stream[0] == '/' {
			out.WriteString(`,"eventStreams":[{"type":"sse","endpoint":{"requestUri":"`)
			out.WriteString(stream)
			out.WriteString(`"}}]`)
		} else {
			out.WriteString(`,"eventStreams":[{"type":"sse","url":"`)
			out.WriteString(stream)
			out.WriteString(`"}]`)
		}
	}
	out.WriteString(`}`)
	if etag == "" && notModified(w, r, bulkETag("", "", out.Bytes())) {
		return
	}
	writeJSON(w, http.StatusOK, out.Bytes())
}

// Configuration serves GET /ofrep/v1/configuration.
func (h *Handler) Configuration(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []byte(`{"name":"valueloop","capabilities":{"cacheInvalidation":{"polling":{"enabled":true,"minPollingIntervalMs":1000}},"flagEvaluation":{"supportedTypes":["int","float","string","boolean","object"]}}}`))
}

// bulkETag hashes what a bulk answer is a function of.
func bulkETag(setETag, stream string, data []byte) string {
	hash := sha256.New()
	io.WriteString(hash, setETag)
	hash.Write([]byte{0})
	io.WriteString(hash, stream)
	hash.Write([]byte{0})
	hash.Write(data)
	return `"` + hex.EncodeToString(hash.Sum(nil)[:16]) + `"`
}

// notModified sets the ETag and answers 304 when the request's
// If-None-Match holds it.
func notModified(w http.ResponseWriter, r *http.Request, etag string) bool {
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

func etagMatch(header, etag string) bool {
	for _, part := range bytes.Split([]byte(header), []byte{','}) {
		p := bytes.TrimSpace(part)
		p = bytes.TrimPrefix(p, []byte("W/"))
		if string(p) == etag || string(p) == "*" {
			return true
		}
	}
	return false
}

// wireErrorCode maps engine error codes onto the OFREP evaluationFailure enum
// (PARSE_ERROR, TARGETING_KEY_MISSING, INVALID_CONTEXT, GENERAL); FLAG_NOT_FOUND
// is its own schema.
func wireErrorCode(c evaluation.ErrorCode) string {
	switch c {
	case "PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "FLAG_NOT_FOUND":
		return string(c)
	}
	return "GENERAL"
}

// wireReason maps engine reasons onto OFREP's: the OpenFeature reasons the
// engine gives are sent as they are (DEFAULT included, see the package
// comment), anything else as UNKNOWN.
func wireReason(r evaluation.Reason) string {
	switch r {
	case "STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT":
		return string(r)
	}
	return "UNKNOWN"
}

func appendSuccess(b *bytes.Buffer, res *evaluation.Result) {
	b.WriteString(`{"key":`)
	appendString(b, res.FlagKey)
	if res.Value != nil {
		b.WriteString(`,"value":`)
		appendValue(b, res.Value)
	}
	b.WriteString(`,"reason":"`)
	b.WriteString(wireReason(res.Reason))
	b.WriteByte('"')
	if res.Variant != "" {
		b.WriteString(`,"variant":`)
		appendString(b, res.Variant)
	}
	if len(res.Metadata) > 0 {
		b.WriteString(`,"metadata":`)
		appendValue(b, res.Metadata)
	}
	b.WriteByte('}')
}

// appendFailure writes an evaluationFailure (or flagNotFound), with the
// metadata of the flag (of the set, for an unknown flag): OFREP allows it on
// failures, flagd sends it, and telemetry reads it from failed evaluations
// too.
func appendFailure(b *bytes.Buffer, key, code, details string, meta map[string]any) {
	b.WriteString(`{"key":`)
	appendString(b, key)
	b.WriteString(`,"errorCode":"`)
	b.WriteString(code)
	b.WriteByte('"')
	if details != "" {
		b.WriteString(`,"errorDetails":`)
		appendString(b, details)
	}
	if len(meta) > 0 {
		b.WriteString(`,"metadata":`)
		appendValue(b, meta)
	}
	b.WriteByte('}')
}

func writeFailure(w http.ResponseWriter, status int, key, code, details string) {
	var b bytes.Buffer
	appendFailure(&b, key, code, details, nil)
	writeJSON(w, status, b.Bytes())
}

func writeBulkFailure(w http.ResponseWriter, status int, code, details string) {
	var b bytes.Buffer
	b.WriteString(`{"errorCode":"`)
	b.WriteString(code)
	b.WriteString(`","errorDetails":`)
	appendString(&b, details)
	b.WriteByte('}')
	writeJSON(w, status, b.Bytes())
}

var jsonContentType = []string{"application/json"}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	// net/http adds Content-Length itself for an answer this small.
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(body)
}

// appendValue writes v as JSON: the common scalar cases by hand, the rest
// through encoding/json (which sorts map keys, so output is deterministic).
func appendValue(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		appendString(b, x)
	case float64:
		// encoding/json's own choice of format, without its allocations,
		// for the numbers flags usually hold.
		if x == math.Trunc(x) && math.Abs(x) < 1e21 {
			var tmp [32]byte
			b.Write(strconv.AppendFloat(tmp[:0], x, 'f', -1, 64))
			return
		}
		buf, err := json.Marshal(x)
		if err != nil {
			b.WriteString("null")
			return
		}
		b.Write(buf)
	default:
		buf, err := json.Marshal(x)
		if err != nil {
			b.WriteString("null")
			return
		}
		b.Write(buf)
	}
}

// appendString writes s as a JSON string. Plain ASCII, the usual case for
// keys and variants, is copied as is.
func appendString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			buf, _ := json.Marshal(s)
			b.Write(buf)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}
