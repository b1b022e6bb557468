package ui

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
)

// route is one page or action of the dashboard. Every route is listed in
// routeTable with the access it needs; guard enforces it before the
// handler runs.
type route struct {
	method, pattern string
	access          access
	handler         handlerFunc
}

// handlerFunc is a route's handler: an error it returns is shown as the
// error page (see renderError), so that a handler says what failed and
// returns.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type access int

const (
	public access = iota // sign-in page and assets
	view                 // any session (viewer or admin)
	change               // an admin session and a valid CSRF token
)

// routeTable lists every route of the browser surface.
func (u *UI) routeTable() []route {
	return []route{
		{"GET", "/static/{file}", public, u.serveAsset},
		{"GET", "/signin", public, u.handleSignInPage},
		{"POST", "/signin", public, u.handleSignIn},
		{"POST", "/signout", view, u.handleSignOut},

		{"GET", "/{$}", view, u.handleOverview},

		{"GET", "/flags", view, u.handleFlagsIndex},
		{"GET", "/flags/{env}", view, u.handleFlagList},
		{"GET", "/flags/{env}/{key}", view, u.handleFlag},
		{"GET", "/flags/{env}/{key}/edit", change, u.handleEditFlagPage},
		{"POST", "/flags/{env}/{key}/edit", change, u.handleEditFlag},
		{"GET", "/flags/{env}/{key}/state", change, u.handleStatePage},
		{"POST", "/flags/{env}/{key}/state", change, u.handleSetState},

		{"GET", "/rollouts", view, u.handleRollouts},
		{"GET", "/rollouts/{env}/{key}", view, u.handleRollout},
		{"GET", "/rollouts/{env}/{key}/{action}", change, u.handleRolloutActionPage},
		{"POST", "/rollouts/{env}/{key}/{action}", change, u.handleRolloutAction},

		{"GET", "/experiments", view, u.handleExperiments},
		{"GET", "/experiments/{env}/{key}", view, u.handleExperiment},

		{"GET", "/delivery", view, u.handleDelivery},

		{"GET", "/value", view, u.handleValue},
		{"GET", "/value/features/{key}", view, u.handleFeature},
	}
}

// Access names the access each route of the dashboard needs, by "METHOD
// pattern": "public", "view" (any session) or "change" (an admin session
// and the session's CSRF token). Tests walk it, so that a route added later
// is checked without editing them.
func (u *UI) Access() map[string]string {
	names := map[access]string{public: "public", view: "view", change: "change"}
	out := map[string]string{}
	for _, r := range u.routeTable() {
		out[r.method+" "+r.pattern] = names[r.access]
	}
	return out
}

// rolloutActions are the manual transitions the rollout page offers.
var rolloutActions = map[string]rollout.Kind{
	"pause": rollout.KindPause, "resume": rollout.KindResume,
	"advance": rollout.KindAdvance, "rollback": rollout.KindRollback,
}

// guard checks a route's access on the server: a live session for pages,
// an admin session and the session's CSRF token for changes. A viewer
// gets 403 for every change, whatever the form says.
func (u *UI) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			// Read the form once, here: PostFormValue drops the error, so a
			// form too large or malformed would otherwise read as empty and
			// be refused as a CSRF failure.
			if err := parseForm(r); err != nil {
				u.renderError(w, r, err, 0, "")
				return
			}
		}
		if rt.access == public {
			u.serve(w, r, rt.handler)
			return
		}
		var ses *session
		if c, err := r.Cookie(sessionCookie); err == nil {
			// The store joins the token: a revoked one ends the session.
			if ses, err = u.sessions.get(r.Context(), c.Value); err != nil {
				u.renderError(w, r, err, 0, "")
				return
			}
		}
		if ses == nil {
			if r.Method == http.MethodGet {
				u.redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()))
				return
			}
			u.renderError(w, r, nil, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		r = withSession(r, ses)
		if r.Method == http.MethodPost && !equalSecret(r.PostFormValue("csrf"), ses.csrf) {
			u.renderError(w, r, nil, http.StatusForbidden, "This form has expired or did not come from this dashboard (no valid CSRF token). Reload the page and try again.")
			return
		}
		if rt.access == change && !ses.CanChange(r.PathValue("env")) {
			u.renderError(w, r, nil, http.StatusForbidden, "Your token ("+ses.Token.Scope+") may look but not change this. Sign in with an admin token to make changes.")
			return
		}
		u.serve(w, r, rt.handler)
	})
}

// serve runs h, showing the error it returns.
func (u *UI) serve(w http.ResponseWriter, r *http.Request, h handlerFunc) {
	if err := h(w, r); err != nil {
		u.renderError(w, r, err, 0, "")
	}
}

// parseForm reads a form post's body (bounded by maxForm in ServeHTTP),
// saying which of the three ways it failed. The dashboard's forms are all
// URL-encoded: any other body (multipart, JSON, none) is refused naming its
// content type, since ParseForm would leave it unread and the post would
// read as a missing CSRF token.
func parseForm(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
		return valueloop.Errorf(valueloop.EUNSUPPORTED, "This form was sent as %q; the dashboard accepts only application/x-www-form-urlencoded forms. Reload the page and submit it from there.", ct)
	}
	err := r.ParseForm()
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return valueloop.Errorf(valueloop.ETOOLARGE, "This form is larger than the dashboard accepts (%d KiB). Shorten it and try again.", maxForm>>10)
	case valueloop.ErrorCode(err) == valueloop.ETIMEOUT, valueloop.ErrorCode(err) == valueloop.EUNAVAILABLE:
		// The server's body deadline or budget (httpapi's guard): the form
		// is not at fault, and the answer says so (408, 503).
		return valueloop.Errorf(valueloop.ErrorCode(err), "This form did not reach the server (%s). Try again.", valueloop.ErrorMessage(err))
	}
	return valueloop.Errorf(valueloop.EINVALID, "This form could not be read (%v). Reload the page and try again.", err)
}

type signInData struct {
	Next  string
	Error string
	CSRF  string
}

func (u *UI) handleSignInPage(w http.ResponseWriter, r *http.Request) error {
	u.showSignIn(w, r, http.StatusOK, "")
	return nil
}

// showSignIn renders the sign-in form with a fresh double-submit CSRF
// token: the same random value in a cookie and in the form.
func (u *UI) showSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := randomString()
	u.setCookie(w, r, signinCookie, tok, 3600)
	u.render(w, r, status, "signin", page{Title: "Sign in", Data: signInData{Next: safeNext(r.FormValue("next")), Error: msg, CSRF: tok}})
}

func (u *UI) handleSignIn(w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(signinCookie)
	if err != nil || !equalSecret(r.PostFormValue("csrf"), c.Value) {
		u.showSignIn(w, r, http.StatusForbidden, "The sign-in form expired. Please try again.")
		return nil
	}
	addr := clientAddr(r, u.TrustedProxies)
	wait, attempt := u.limiter.take(addr)
	if wait > 0 {
		w.Header().Set("Retry-After", itoa(int(wait.Seconds())+1))
		u.showSignIn(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from your address. Try again in "+wait.Round(time.Second).String()+".")
		return nil
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	t, err := u.Auth.Authenticate(secret)
	if err == nil && t.Scope != valueloop.ScopeAdmin && t.Scope != valueloop.ScopeViewer {
		err = valueloop.Errorf(valueloop.EFORBIDDEN, "evaluate tokens cannot sign in")
	}
	if err != nil {
		u.Logger.Warn("ui: failed sign-in", "addr", addr)
		msg := "That token is not valid. Use an admin or viewer token (valueloop token create --scope viewer)."
		if valueloop.ErrorCode(err) == valueloop.EFORBIDDEN {
			msg = "Evaluate tokens cannot sign in: use an admin or viewer token."
		}
		u.showSignIn(w, r, http.StatusUnauthorized, msg)
		return nil
	}
	u.limiter.forgive(addr, attempt)
	id, err := u.sessions.create(r.Context(), *t)
	if err != nil {
		return err
	}
	u.setCookie(w, r, sessionCookie, id, int((24 * time.Hour).Seconds()))
	u.setCookie(w, r, signinCookie, "", -1)
	u.Logger.Info("ui: signed in", "token", t.Name, "scope", t.Scope)
	u.redirect(w, r, safeNext(r.PostFormValue("next")))
	return nil
}

func (u *UI) handleSignOut(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := u.sessions.delete(r.Context(), c.Value); err != nil {
			return err
		}
	}
	u.setCookie(w, r, sessionCookie, "", -1)
	u.redirectDone(w, r, "/signin", "Signed out.")
	return nil
}

// safeNext keeps a redirect target on this site: a path, not a URL.
// Browsers drop tabs and newlines anywhere in a URL (and read "\\" as "/"),
// so "/\t/evil.example" would be "//evil.example", another site: a target
// holding any control character or, before its query, a backslash is
// refused with the rest (the dashboard's own paths escape it). The path is
// cleaned here, as http.Redirect would clean it after the check
// ("/./\\evil.example" to "/\\evil.example"), so that what is checked is
// what is sent, and no ".." climbs out of the path prefix the redirect
// adds.
func safeNext(next string) string {
	p, query, hasQuery := strings.Cut(next, "?")
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "/"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if hasQuery {
		clean += "?" + query
	}
	return clean
}
