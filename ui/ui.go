// Package ui is Valueloop's browser surface: the web dashboard, rendered on
// the server from html/template files embedded in the binary, with charts
// drawn as SVG. It reads and changes through the same services and stores
// as the HTTP API (passed in by cmd/valueloop), never over HTTP to itself.
//
// The surface is separate from the API (package httpapi): it signs people
// in with a token into a server-side session kept in the store, protects every
// form with a CSRF token, and sends a Content-Security-Policy that allows no
// inline script. Every route is listed in routes.go with the scope it needs;
// admin tokens may change things, viewer tokens only look.
//
// What does not live here: JSON, bearer tokens, the API's routes.
package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/httpstatus"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Authenticator recognises token secrets (*auth.Service).
type Authenticator interface {
	Authenticate(secret string) (*valueloop.Token, error)
}

// FlagService reads the live flags and changes them (*flags.Service).
type FlagService interface {
	Live(env string) *flags.Live
	Environments() map[string]*flags.Live
	PutFlag(ctx context.Context, env string, f *valueloop.Flag, ifVersion int64, actor, reason string) (int64, error)
	SetState(ctx context.Context, env, key, state string, ifVersion int64, actor, reason string) (int64, error)
}

// AuditReader reads the audit trail.
type AuditReader interface {
	Audit(ctx context.Context, f valueloop.AuditFilter) ([]valueloop.AuditEntry, error)
	// CountAudit counts the entries f selects, up to upTo.
	CountAudit(ctx context.Context, f valueloop.AuditFilter, upTo int) (int, error)
}

// ExperimentReader is what the experiment pages read (the store).
type ExperimentReader interface {
	experiment.BatchReader
	HypothesisFlags(ctx context.Context) ([]experiment.FlagRef, error)
}

// EventReader reads an environment's event log, for the charts over time:
// its records (ingest.DecodeLog) that may hold events at or after since
// (all for math.MinInt64).
type EventReader interface {
	ScanLog(ctx context.Context, env string, since int64, fn func(data []byte) error) error
}

// VerdictHistory returns the recorded verdicts of a flag (package verdicts)
// and settles a result under fixed inference on the flag's stored decision.
type VerdictHistory interface {
	History(ctx context.Context, env, flag string) ([]experiment.VerdictRecord, error)
	Settle(ctx context.Context, res *experiment.Result) error
}

// RolloutEngine is what the rollout pages use (*rollout.Engine).
type RolloutEngine interface {
	Act(ctx context.Context, env, flag string, k rollout.Kind, actor, reason string) (*rollout.Rollout, error)
	Status(ctx context.Context, env, flag string) (*rollout.Status, error)
	List(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error)
	Count(ctx context.Context, f rollout.Filter, upTo int) (int, error)
}

// DeliveryReader is what the delivery page reads (*delivery.Service).
type DeliveryReader interface {
	Report(ctx context.Context, q dora.Query) (*delivery.Report, error)
	// Zone is the server's zone of reports (--delivery-time-zone): the
	// page's weeks start on its Mondays.
	Zone() *time.Location
	Deployments(ctx context.Context, service string, from, to time.Time) ([]dora.DeploymentFacts, error)
}

// IncidentReader reads the delivery records, for the incidents (the store).
type IncidentReader interface {
	DeliveryData(ctx context.Context) (dora.Data, int64, error)
}

// UI serves the dashboard. Set the fields, then call Open; the handler is
// ready once Open returns. Optional readers left nil hide their pages' parts.
type UI struct {
	Auth Authenticator
	// Sessions keeps the sessions (the store).
	Sessions SessionStore
	Flags    FlagService
	Audit    AuditReader

	Experiments ExperimentReader
	// Dimensions are those the ingestion keeps: an experiment's page
	// splits its results by one of them (?dimension=).
	Dimensions []metric.Dimension
	Events     EventReader
	// MaxFlagsPerUser is the ingestion's bound of flags analysed per user
	// (ingest.Pipeline.MaxFlagsPerUser; 0: the default): the charts over
	// time replayed from the log leave out the users the results leave out.
	MaxFlagsPerUser int
	Verdicts        VerdictHistory
	Rollouts        RolloutEngine
	Delivery        DeliveryReader
	Incidents       IncidentReader
	// Value is the value loop (*features.Service): the /value pages.
	Value ValueReader
	// Features lists the value loop's features for the overview; nil: the
	// overview shows flags with hypotheses by stage instead.
	Features FeatureLister

	// FlagFiles maps the environments served from a flagd file to the
	// file's name: they are shown read-only.
	FlagFiles map[string]string
	// SessionTTL is how long a session lasts without use (default 8h);
	// sessions end at the latest after 24 hours.
	SessionTTL time.Duration
	// SessionsPerToken caps the sessions of one token (default 10): a new
	// sign-in beyond it ends the token's oldest session.
	SessionsPerToken int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client, whose failed sign-ins are counted (auth.ForwardedClient);
	// empty: the connection's address, the header being anyone's to send.
	TrustedProxies []netip.Prefix
	// SecureCookies says when cookies are marked Secure (default
	// SecureAuto).
	SecureCookies CookieSecurity
	// PathPrefix is the path a reverse proxy mounts the dashboard under
	// and strips before passing requests on ("/flags", no trailing slash,
	// escaped), from the server's public URL; empty: the root. Every link,
	// form, asset and redirect the dashboard writes starts with it, and
	// its cookies are scoped to it, so that none escapes the mount.
	PathPrefix string
	// ChartWait is how long a page with nothing kept for its charts over
	// time waits for them to be computed (default 20ms; negative: not at
	// all); a larger environment's show on a later view.
	ChartWait time.Duration
	Logger    *slog.Logger
	Now       func() time.Time

	pages    map[string]*template.Template
	assets   map[string]asset // by hashed name
	assetURL map[string]string
	sessions sessions
	limiter  *limiter
	series   *seriesCache
	analyses *analysisCache
	mux      *http.ServeMux
}

// maxForm bounds the body of a form post.
const maxForm = 1 << 20

type asset struct {
	body []byte
	typ  string
}

// Open parses every template and hashes every asset (failing fast on a
// broken template), and builds the routes.
func (u *UI) Open() error {
	if u.Auth == nil || u.Sessions == nil || u.Flags == nil || u.Audit == nil {
		return fmt.Errorf("ui: Auth, Sessions, Flags and Audit are required")
	}
	if u.Logger == nil {
		u.Logger = slog.New(slog.DiscardHandler)
	}
	if u.Now == nil {
		u.Now = time.Now
	}
	if u.ChartWait == 0 {
		u.ChartWait = 20 * time.Millisecond
	}
	if u.SessionTTL == 0 {
		u.SessionTTL = 8 * time.Hour
	}
	if err := u.loadAssets(); err != nil {
		return err
	}
	if err := u.parseTemplates(); err != nil {
		return err
	}
	if u.SessionsPerToken == 0 {
		u.SessionsPerToken = 10
	}
	u.sessions = sessions{store: u.Sessions, now: u.Now, idle: u.SessionTTL, absolute: 24 * time.Hour, perToken: u.SessionsPerToken}
	u.limiter = newLimiter(u.Now, 5, time.Minute)
	u.series = newSeriesCache()
	u.analyses = newAnalysisCache()
	u.mux = http.NewServeMux()
	for _, r := range u.routeTable() {
		u.mux.Handle(r.method+" "+r.pattern, u.guard(r))
	}
	return nil
}

// ServeHTTP serves the dashboard with its security headers.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/ofrep/") {
		http.NotFound(w, r) // the API's unknown paths stay plain 404s
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm) // forms are small; a flag definition is the largest
	}
	ctx := context.WithValue(r.Context(), startKey{}, time.Now())
	r = r.WithContext(context.WithValue(ctx, analysesKey{}, new(atomic.Int64)))
	if _, pattern := u.mux.Handler(r); pattern == "" {
		// The path as the browser asked for it: behind a proxy, under the
		// prefix it stripped (PathPrefix is escaped, r.URL.Path is not).
		prefix, err := url.PathUnescape(u.PathPrefix)
		if err != nil {
			prefix = u.PathPrefix
		}
		u.renderError(w, r, nil, http.StatusNotFound, "There is no page at "+prefix+r.URL.Path+".")
		return
	}
	// The mux would redirect a path to its clean form ("/flags//x") itself,
	// outside the path prefix: the same redirect, under it.
	if p := r.URL.EscapedPath(); cleanPath(p) != p {
		u.redirectStatus(w, r, (&url.URL{Path: cleanPath(p), RawQuery: r.URL.RawQuery}).String(), http.StatusTemporaryRedirect)
		return
	}
	u.mux.ServeHTTP(w, r)
}

type startKey struct{}

// serverTiming says how long the server took for a page so far (the
// Server-Timing header: browsers' developer tools show it, and the
// benchmarks read it to time the server without the network and client),
// and how many experiment analyses it ran.
func serverTiming(r *http.Request) string {
	start, ok := r.Context().Value(startKey{}).(time.Time)
	if !ok {
		return ""
	}
	st := fmt.Sprintf("page;dur=%.2f", float64(time.Since(start).Microseconds())/1000)
	if n, ok := r.Context().Value(analysesKey{}).(*atomic.Int64); ok {
		st += fmt.Sprintf(`, analyses;desc="%d"`, n.Load())
	}
	return st
}

// analysesKey holds, in a page's context, the count of the experiment
// analyses it ran (Server-Timing's "analyses"): a page reusing kept
// results runs none.
type analysesKey struct{}

// countAnalysis counts one analysis run for the request of ctx.
func countAnalysis(ctx context.Context) {
	if n, ok := ctx.Value(analysesKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}

func (u *UI) loadAssets() error {
	u.assets, u.assetURL = map[string]asset{}, map[string]string{}
	return fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := path.Base(p)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		typ := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}[ext]
		u.assets[hashed] = asset{body: body, typ: typ}
		u.assetURL[name] = u.PathPrefix + "/static/" + hashed
		return nil
	})
}

// parseTemplates parses layout.html with each page template, once.
func (u *UI) parseTemplates() error {
	base, err := template.New("layout.html").Funcs(u.funcs()).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("ui: templates: %w", err)
	}
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return err
	}
	u.pages = map[string]*template.Template{}
	for _, e := range entries {
		name := e.Name()
		if name == "layout.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name)
		if err != nil {
			return fmt.Errorf("ui: templates: %w", err)
		}
		u.pages[strings.TrimSuffix(name, ".html")] = t
	}
	return nil
}

// page is what every template gets: the layout's fields and the page's own.
type page struct {
	Title   string
	Nav     string // the navigation entry to mark current
	Session *session
	CSRF    string
	Flash   string
	Notice  string // a warning: a change refused, and why
	Refresh int    // seconds between live refreshes, 0 for none
	Data    any
}

// render executes a page into a buffer and writes it only when it
// succeeded, so that a failing template never sends half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t := u.pages[name]
	if t == nil {
		u.Logger.Error("ui: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if s := sessionOf(r); s != nil {
		p.Session, p.CSRF = s, s.csrf
	}
	if c, err := r.Cookie(flashCookie); err == nil {
		if msg, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && p.Flash == "" {
			p.Flash = string(msg)
		}
		u.setCookie(w, r, flashCookie, "", -1) // shown once
	}
	if c, err := r.Cookie(noticeCookie); err == nil {
		if msg, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			p.Notice = string(msg)
		}
		u.setCookie(w, r, noticeCookie, "", -1)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		u.Logger.Error("ui: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if st := serverTiming(r); st != "" {
		w.Header().Set("Server-Timing", st)
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// flashCookie carries the message of a change ("Saved theme.") to the
// page the change redirects to, which shows it once. It is not in the URL:
// a link could then put any words on the dashboard as its own.
const flashCookie = "vl_flash"

// noticeCookie carries, as flashCookie, a warning to the page a refused
// change leads back to: what changed meanwhile.
const noticeCookie = "vl_notice"

// redirectNotice sends the browser to path with msg shown there as a
// warning, once.
func (u *UI) redirectNotice(w http.ResponseWriter, r *http.Request, path, msg string) {
	u.setCookie(w, r, noticeCookie, cookieText(msg), 60)
	u.redirect(w, r, path)
}

// maxCookieText bounds a message carried in a cookie: base64 makes it a
// third longer, and browsers drop a cookie over 4,096 bytes (name,
// value and attributes) without a word, so the message would not show.
const maxCookieText = 2800

// cookieText encodes msg for a cookie, cut to maxCookieText bytes between
// characters.
func cookieText(msg string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(clipTo(msg, maxCookieText)))
}

// redirectDone sends the browser to path after a change, with msg for it
// to show.
func (u *UI) redirectDone(w http.ResponseWriter, r *http.Request, path, msg string) {
	u.setCookie(w, r, flashCookie, cookieText(msg), 60)
	u.redirect(w, r, path)
}

// redirect sends the browser to path, a path of the dashboard ("/flags"),
// under PathPrefix: every redirect of the dashboard goes through here.
func (u *UI) redirect(w http.ResponseWriter, r *http.Request, path string) {
	u.redirectStatus(w, r, path, http.StatusSeeOther)
}

func (u *UI) redirectStatus(w http.ResponseWriter, r *http.Request, path string, status int) {
	http.Redirect(w, r, u.PathPrefix+path, status)
}

// cleanPath is p as net/http's mux cleans it before it routes: rooted, no
// dot segments or doubled slashes, a trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// renderError shows a message page; err, when given, is logged or shown
// by its kind.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, err error, status int, msg string) {
	if err != nil {
		code := valueloop.ErrorCode(err)
		status = httpstatus.Of(code)
		msg = valueloop.ErrorMessage(err)
		if code == valueloop.EINTERNAL {
			u.Logger.Error("ui: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			msg = "Something went wrong on the server; the details are in its log."
		}
	}
	u.render(w, r, status, "error", page{Title: http.StatusText(status), Data: msg})
}

func (u *UI) serveAsset(w http.ResponseWriter, r *http.Request) error {
	a, ok := u.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	w.Header().Set("Content-Type", a.typ)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(a.body)
	return nil
}
