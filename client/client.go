// Package client is a Go client for Valueloop's admin API, used by the CLI
// and by end-to-end tests. API errors come back as *valueloop.Error with the
// server's kind, field and message, so callers can branch on
// valueloop.ErrorCode.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/httpstatus"
	"github.com/valueloop/valueloop/jsondiff"
)

// Client talks to one Valueloop server with one token.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// New returns a client for the server at baseURL.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token,
		HTTP: &http.Client{Timeout: 30 * time.Second, CheckRedirect: keepMethod}}
}

// redirectError refuses to follow a redirect that would change a request's
// method.
type redirectError struct{ method, from, to string }

func (e *redirectError) Error() string {
	return fmt.Sprintf("%s %s was redirected to %s, which would receive it as a GET without its body, so it was not sent again: give that address as the server URL (--server, VALUELOOP_SERVER)", e.method, e.from, e.to)
}

// keepMethod follows redirects that keep the request's method (307, 308,
// and any of a GET), and refuses those after which Go's client would send
// a change as a GET (301, 302 and 303 of a POST, PUT or DELETE): the
// change would not be made, yet the GET's answer would read as success.
func keepMethod(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if first := via[0]; req.Method != first.Method {
		return &redirectError{method: first.Method, from: first.URL.String(), to: req.URL.String()}
	}
	return nil
}

// Do sends a request with a JSON body (when in is not nil) and decodes a JSON
// answer into out (when not nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, in, out, nil)
}

// doJSON is Do for a call whose answer is one T: the decoded answer, or
// nil and the error.
func doJSON[T any](ctx context.Context, c *Client, method, path string, in any) (*T, error) {
	var out T
	if err := c.Do(ctx, method, path, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// rawBody is a request body sent as is.
type rawBody []byte

func (c *Client) do(ctx context.Context, method, path string, in, out any, headers map[string]string) error {
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case rawBody:
		body = bytes.NewReader(v)
	case json.RawMessage:
		body = bytes.NewReader(v)
	default:
		buf, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(buf)
	}
	resp, err := c.send(ctx, method, path, body, in != nil, headers)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading answer from %s: %w", c.BaseURL, err)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("unexpected answer from %s %s: %w", method, path, err)
	}
	return nil
}

// send sends a request (JSON when isJSON, then headers) with the token and
// returns the response when its status is a success; otherwise it reads the
// answer and returns the server's error.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, isJSON bool, headers map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if re := (*redirectError)(nil); errors.As(err, &re) {
		return nil, re // the server answered: not a matter of reaching it
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Valueloop server at %s: %w", c.BaseURL, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("reading answer from %s: %w", c.BaseURL, err)
		}
		return nil, decodeError(resp.StatusCode, data)
	}
	return resp, nil
}

// decodeError reads the server's problem details (RFC 9457,
// application/problem+json) back into the error kinds: a definition's
// problems as a *valueloop.ValidationError, anything else as a
// *valueloop.Error naming its field.
func decodeError(status int, data []byte) error {
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
			Flag    string `json:"flag"`
			Source  string `json:"source"`
		} `json:"errors"`
	}
	if json.Unmarshal(data, &p) != nil || p.Type == "" {
		return &valueloop.Error{Code: httpstatus.Code(status), Message: fmt.Sprintf("server answered %d %s", status, http.StatusText(status))}
	}
	code := p.Code
	if code == "" {
		code = strings.TrimPrefix(p.Type, "urn:valueloop:problem:")
	}
	if code == "" || code == p.Type {
		code = httpstatus.Code(status)
	}
	// One field error of a request is an *Error; several, or any naming a
	// flag or a file, are the problems of a definition.
	if len(p.Errors) > 1 || (len(p.Errors) == 1 && (p.Errors[0].Flag != "" || p.Errors[0].Source != "" || strings.HasPrefix(p.Errors[0].Field, "/"))) {
		ve := &valueloop.ValidationError{}
		for _, e := range p.Errors {
			ve.Problems = append(ve.Problems, valueloop.Problem{Source: e.Source, Flag: e.Flag, Path: e.Field, Message: e.Message})
		}
		return ve
	}
	e := &valueloop.Error{Code: code, Message: p.Detail}
	if len(p.Errors) == 1 {
		e.Field, e.Message = p.Errors[0].Field, p.Errors[0].Message
	}
	return e
}

// CreateToken creates a token like t (its name, scope, environment, and
// client, origins and noExposures) and returns it with its secret, which is
// shown this once.
func (c *Client) CreateToken(ctx context.Context, t valueloop.Token) (valueloop.Token, string, error) {
	var out struct {
		Token  valueloop.Token `json:"token"`
		Secret string          `json:"secret"`
	}
	req := map[string]any{"name": t.Name, "scope": t.Scope, "environment": t.Environment}
	if t.Client {
		req["client"] = true
	}
	if len(t.Origins) > 0 {
		req["origins"] = t.Origins
	}
	if t.NoExposures {
		req["noExposures"] = true
	}
	err := c.Do(ctx, http.MethodPost, "/api/v1/tokens", req, &out)
	return out.Token, out.Secret, err
}

// Tokens lists tokens, revoked ones included.
func (c *Client) Tokens(ctx context.Context) ([]valueloop.Token, error) {
	var out struct {
		Tokens []valueloop.Token `json:"tokens"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/tokens", nil, &out)
	return out.Tokens, err
}

// RevokeToken revokes a token by id.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/tokens/"+strconv.FormatInt(id, 10), nil, nil)
}

// Environment is an environment as the API lists it.
type Environment struct {
	valueloop.Environment
	Version int64 `json:"version"`
	Flags   int   `json:"flags"`
}

// Environments lists environments.
func (c *Client) Environments(ctx context.Context) ([]Environment, error) {
	var out struct {
		Environments []Environment `json:"environments"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/environments", nil, &out)
	return out.Environments, err
}

// ExportFlagd returns the flagd file of an environment.
func (c *Client) ExportFlagd(ctx context.Context, env string) ([]byte, error) {
	var out []byte
	err := c.Do(ctx, http.MethodGet, "/api/v1/environments/"+url.PathEscape(env)+"/flagd", nil, &out)
	return out, err
}

// AuditEntry is an audit entry with the difference its change made.
type AuditEntry struct {
	valueloop.AuditEntry
	Diff []jsondiff.Op `json:"diff"`
}

// Audit lists audit entries, newest first: up to f.Limit of them, older
// than f.BeforeID when it is set (the next page).
func (c *Client) Audit(ctx context.Context, f valueloop.AuditFilter) ([]AuditEntry, error) {
	q := url.Values{}
	if f.Environment != "" {
		q.Set("environment", f.Environment)
	}
	if f.Target != "" {
		q.Set("flag", f.Target)
	}
	if f.Actor != "" {
		q.Set("actor", f.Actor)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.BeforeID > 0 {
		q.Set("before", strconv.FormatInt(f.BeforeID, 10))
	}
	var out struct {
		Entries []AuditEntry `json:"entries"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/audit?"+q.Encode(), nil, &out)
	return out.Entries, err
}
