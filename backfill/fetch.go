package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxPage bounds the body of one page read: a forge's page of 100 items is
// far below it.
const MaxPage = 32 << 20

// Fetcher reads pages of a forge's REST API: it authenticates each
// request, follows the next page (the Link header's rel="next", else
// GitLab's X-Next-Page), and waits out rate limits: the primary limit
// (X-RateLimit-Remaining 0 until X-RateLimit-Reset, or GitLab's
// RateLimit-* headers), Retry-After, and 403/429 answers that say a limit
// was hit. Server errors and dropped connections are retried a few times;
// a host name that does not resolve is not.
type Fetcher struct {
	HTTP *http.Client
	// Auth sets the credentials on a request. The token lives only there:
	// no error or progress line carries a request's headers.
	Auth func(h http.Header)
	// Sleep waits for d or until ctx ends; a fake clock in tests.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
	// MaxWait bounds one wait for a rate limit: a longer wait is an error
	// saying when to resume (the checkpoint keeps the place).
	MaxWait time.Duration
	// Retries is how many times a server error or a dropped connection is
	// retried, and how many rate-limit waits one request may take.
	Retries int
	// Waited, when set, is told of every wait and why.
	Waited func(d time.Duration, why string)

	// Requests counts the requests sent.
	Requests int

	resumeAt  time.Time // when the spent quota is back
	resumeWhy string
}

// NewFetcher returns a fetcher with the defaults: up to an hour per wait
// (GitHub's primary limit resets hourly), 5 retries.
func NewFetcher(auth func(http.Header)) *Fetcher {
	return &Fetcher{
		HTTP: &http.Client{Timeout: 2 * time.Minute}, Auth: auth, Sleep: sleep, Now: time.Now,
		MaxWait: time.Hour, Retries: 5,
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Page is one page read: its body and the URL of the next page ("" on the
// last).
type Page struct {
	Body []byte
	Next string
}

// StatusError is an answer that is neither a page nor a wait.
type StatusError struct {
	URL    string
	Status int
	// Message is the start of the body (the forge's error message).
	Message string
}

func (e *StatusError) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized:
		hint = ": check the token"
	case http.StatusForbidden, http.StatusNotFound:
		hint = ": check the token's scopes and the repository name"
	}
	return fmt.Sprintf("GET %s: %d %s%s", e.URL, e.Status, e.Message, hint)
}

// Get reads the page at u.
func (f *Fetcher) Get(ctx context.Context, u string) (Page, error) {
	if d := f.resumeAt.Sub(f.Now()); d > 0 {
		if err := f.wait(ctx, u, d, f.resumeWhy); err != nil {
			return Page{}, err
		}
	}
	f.resumeAt = time.Time{}
	waits, failures := 0, 0
	for {
		page, wait, why, err := f.try(ctx, u)
		var se *StatusError
		switch {
		case err == nil && page.Body != nil:
			if wait > 0 { // the quota is spent: wait before the next request
				f.resumeAt, f.resumeWhy = f.Now().Add(wait), why
			}
			return page, nil
		case ctx.Err() != nil:
			return Page{}, ctx.Err()
		case err != nil && errors.As(err, &se) && se.Status < 500:
			return Page{}, err
		case unresolvable(err):
			return Page{}, err
		case err != nil:
			if failures++; failures > f.Retries {
				return Page{}, err
			}
			wait, why = time.Duration(1<<failures)*time.Second, "retrying after: "+err.Error()
		default:
			if waits++; waits > f.Retries {
				return Page{}, fmt.Errorf("GET %s: still rate limited after %d waits", u, f.Retries)
			}
		}
		if err := f.wait(ctx, u, wait, why); err != nil {
			return Page{}, err
		}
	}
}

// wait sleeps d before requesting u, unless d is longer than MaxWait.
func (f *Fetcher) wait(ctx context.Context, u string, d time.Duration, why string) error {
	if d > f.MaxWait {
		return fmt.Errorf("GET %s: rate limited until %s (%s); run the import again then: it resumes where it stopped",
			u, f.Now().Add(d).UTC().Format(time.RFC3339), why)
	}
	if f.Waited != nil {
		f.Waited(d, why)
	}
	return f.Sleep(ctx, d)
}

// try sends one request: a page, or how long to wait and why, or an error.
// A page that spent the last of the quota comes with the wait until it
// resets.
func (f *Fetcher) try(ctx context.Context, u string) (Page, time.Duration, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, 0, "", err
	}
	req.Header.Set("Accept", "application/json")
	if f.Auth != nil {
		f.Auth(req.Header)
	}
	f.Requests++
	resp, err := f.HTTP.Do(req)
	if unresolvable(err) {
		return Page{}, 0, "", fmt.Errorf("GET %s: host %q does not resolve: %w", u, req.URL.Hostname(), scrub(err))
	}
	if err != nil {
		return Page{}, 0, "", fmt.Errorf("GET %s: %w", u, scrub(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPage+1))
	if err != nil {
		return Page{}, 0, "", fmt.Errorf("GET %s: reading the answer: %w", u, scrub(err))
	}
	if len(body) > MaxPage {
		return Page{}, 0, "", &StatusError{URL: u, Status: resp.StatusCode, Message: fmt.Sprintf("answer over %d MiB", MaxPage>>20)}
	}
	wait, why := f.rateWait(resp.Header, resp.StatusCode, body)
	switch {
	case resp.StatusCode == http.StatusOK:
		next, err := nextPage(u, resp.Header)
		if err != nil {
			return Page{}, 0, "", err
		}
		return Page{Body: body, Next: next}, wait, why, nil
	case wait > 0:
		return Page{}, wait, why, nil
	}
	return Page{}, 0, "", &StatusError{URL: u, Status: resp.StatusCode, Message: message(body)}
}

// unresolvable reports a name the resolver says does not exist: retrying
// cannot change that (a resolver that timed out or failed is another
// matter, and is retried as a dropped connection is).
func unresolvable(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// scrub drops the URL's query from a transport error: it never holds the
// token (that is a header), but keeps messages short.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func message(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// rateWait says how long to wait before the next request: after a 403 or
// 429 that says a limit was hit, or after any answer that spent the quota.
func (f *Fetcher) rateWait(h http.Header, status int, body []byte) (time.Duration, string) {
	if s := h.Get("Retry-After"); s != "" && (status == http.StatusForbidden || status == http.StatusTooManyRequests || status >= 500) {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
			return max(time.Duration(n)*time.Second, time.Millisecond), "Retry-After " + s
		}
		if t, err := http.ParseTime(s); err == nil {
			return max(t.Sub(f.Now()), time.Millisecond), "Retry-After " + s
		}
	}
	remaining, reset := h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Reset")
	if remaining == "" {
		remaining, reset = h.Get("RateLimit-Remaining"), h.Get("RateLimit-Reset") // GitLab
	}
	if strings.TrimSpace(remaining) == "0" {
		if n, err := strconv.ParseInt(strings.TrimSpace(reset), 10, 64); err == nil {
			// A second more: the reset time is rounded down to seconds.
			return max(time.Unix(n, 0).Sub(f.Now())+time.Second, time.Millisecond), "rate limit spent until " + time.Unix(n, 0).UTC().Format(time.RFC3339)
		}
	}
	if status == http.StatusTooManyRequests ||
		(status == http.StatusForbidden && strings.Contains(strings.ToLower(string(body)), "rate limit")) {
		// GitHub's secondary limits without a header: wait a minute.
		return time.Minute, fmt.Sprintf("%d without a reset time", status)
	}
	return 0, ""
}

// nextPage is the URL of the page after u: the Link header's rel="next",
// else u with page set to X-Next-Page. It must be on u's host: the
// credentials go with it.
func nextPage(u string, h http.Header) (string, error) {
	next := linkNext(h.Values("Link"))
	if next == "" {
		n := strings.TrimSpace(h.Get("X-Next-Page"))
		if n == "" {
			return "", nil
		}
		p, err := url.Parse(u)
		if err != nil {
			return "", err
		}
		q := p.Query()
		q.Set("page", n)
		p.RawQuery = q.Encode()
		return p.String(), nil
	}
	base, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	nu, err := base.Parse(next)
	if err != nil {
		return "", fmt.Errorf("GET %s: the next page's link %q: %w", u, next, err)
	}
	if nu.Scheme != base.Scheme || nu.Host != base.Host {
		return "", fmt.Errorf("GET %s: the next page is on another host (%s): refused, the token would go with it", u, nu.Host)
	}
	return nu.String(), nil
}

// linkNext finds rel="next" in Link header values (RFC 8288).
func linkNext(values []string) string {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			end := strings.Index(part, ">")
			if !strings.HasPrefix(part, "<") || end < 0 {
				continue
			}
			for _, param := range strings.Split(part[end+1:], ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(param), "=")
				if strings.EqualFold(k, "rel") && hasToken(strings.Trim(val, `"`), "next") {
					return part[1:end]
				}
			}
		}
	}
	return ""
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}
