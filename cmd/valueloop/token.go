package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/termchart"
)

// clientFlags are the flags every client command takes.
type clientFlags struct {
	server, token, output string
	// envToken is VALUELOOP_TOKEN, used when --token is not given. It is
	// not the flag's default, which help and usage errors would print.
	envToken string
}

func addClientFlags(e *cliEnv, fs *flag.FlagSet) *clientFlags {
	c := &clientFlags{envToken: e.getenv("VALUELOOP_TOKEN")}
	fs.StringVar(&c.server, "server", envOr(e, "VALUELOOP_SERVER", "http://127.0.0.1:8080"), "server URL (VALUELOOP_SERVER)")
	fs.StringVar(&c.token, "token", "", "access token (VALUELOOP_TOKEN)")
	choiceVar(fs, &c.output, "output", "table", "output `FORMAT`: table or json", "table", "json")
	return c
}

// envClientFlags is the flag set of command name, which talks to the
// server about one environment: the client flags and --env, which
// defaults to VALUELOOP_ENV.
func envClientFlags(e *cliEnv, name string) (*flag.FlagSet, *clientFlags, *string) {
	fs := newFlagSet(e, name)
	return fs, addClientFlags(e, fs), fs.String("env", e.getenv("VALUELOOP_ENV"), "environment (VALUELOOP_ENV)")
}

// parse parses args, flags anywhere among them, and returns the positional
// arguments and the client the flags describe.
func (c *clientFlags) parse(e *cliEnv, fs *flag.FlagSet, args []string) ([]string, *client.Client, error) {
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.client()
	return pos, cl, err
}

// parseNoArgs parses flags, refusing positional arguments, and returns
// the client.
func (c *clientFlags) parseNoArgs(e *cliEnv, fs *flag.FlagSet, args []string) (*client.Client, error) {
	if err := e.parseNoArgs(fs, args); err != nil {
		return nil, err
	}
	return c.client()
}

func (c *clientFlags) client() (*client.Client, error) {
	if err := checkServerURL(c.server); err != nil {
		return nil, err
	}
	token := c.token
	if token == "" {
		token = c.envToken
	}
	return client.New(c.server, token), nil
}

// checkServerURL refuses a --server (or VALUELOOP_SERVER) that is not an
// http or https URL, before anything is sent: HOST:PORT, the form serve's
// --addr takes, gets the URL to give instead, where Go's client would say
// "first path segment in URL cannot contain colon" or "unsupported
// protocol scheme".
func checkServerURL(server string) error {
	u, err := url.Parse(server)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return nil
	}
	if host, port, herr := net.SplitHostPort(server); herr == nil && host != "" && port != "" && !strings.Contains(server, "/") {
		return usageErrorf("--server (VALUELOOP_SERVER) is a URL: %q, not %q", "http://"+server, server)
	}
	return usageErrorf("--server (VALUELOOP_SERVER) must be an http or https URL such as http://127.0.0.1:8080, not %q", server)
}

func tokenCommand() *command {
	return &command{name: "token", summary: "create, list, revoke and recover access tokens", subs: []*command{
		{name: "create", args: "[--env ENV] [--scope evaluate|viewer|admin | --client [--origin URL]...] [--no-exposures] [--name NAME]", summary: "create a token and print its secret once", run: runTokenCreate},
		{name: "list", summary: "list the tokens", run: runTokenList},
		{name: "revoke", args: "ID", summary: "revoke a token: it stops working at once", run: runTokenRevoke},
		tokenRecoverCommand(),
	}}
}

func runTokenCreate(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "token create")
	cf := addClientFlags(e, fs)
	env := fs.String("env", "", "environment the token is bound to (required for --scope evaluate and --client)")
	scope := choice(fs, "scope", "evaluate", "`SCOPE`: evaluate (one environment: evaluate flags, send events), viewer (read everything, change nothing) or admin",
		string(valueloop.ScopeEvaluate), string(valueloop.ScopeViewer), string(valueloop.ScopeAdmin))
	name := fs.String("name", "", "a name for the token (default: SCOPE-ENV-TIME)")
	clientSide := fs.Bool("client", false, "a public client token for web pages and mobile apps: evaluates and sends events, nothing else")
	var origins listFlag
	fs.Var(&origins, "origin", "with --client: a browser origin the token may be used from, e.g. https://shop.example (repeatable; none: any)")
	noExposures := fs.Bool("no-exposures", false, "evaluations with this token record no exposures (QA, load tests, previews)")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if len(origins) > 0 && !*clientSide {
		return usageErrorf("token create: --origin applies to client tokens; add --client")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if *name == "" {
		kind, bound := *scope, *env
		if *clientSide {
			kind = "client"
		}
		if bound == "" {
			bound = "all" // a name has no spaces
		}
		*name = fmt.Sprintf("%s-%s-%s", kind, bound, time.Now().UTC().Format("20060102T150405"))
	}
	t, secret, err := c.CreateToken(ctx, valueloop.Token{Name: *name, Scope: *scope, Environment: *env,
		Client: *clientSide, Origins: origins, NoExposures: *noExposures})
	if err != nil {
		ff := flagFields{fields: map[string]string{"scope": "--scope", "name": "--name"}, lists: map[string][]string{"origins": typed("--origin", origins)}}
		return ff.rename(envFlagNamed(err, *clientSide, *env == ""))
	}
	if cf.output == "json" {
		return writeJSONOut(e, map[string]any{"token": t, "secret": secret})
	}
	// The secret alone on stdout, so that scripts can capture it.
	fmt.Fprintln(e.stdout, secret)
	if t.Client {
		fmt.Fprintf(e.stderr, "Created client token %q (id %d) for %s. It is public: ship it in pages and apps; it can only evaluate and send events.\n", t.Name, t.ID, t.Environment)
		return nil
	}
	fmt.Fprintf(e.stderr, "Created %s token %q (id %d) for %s. The secret above is shown this once.\n", t.Scope, t.Name, t.ID, orAll(t.Environment))
	return nil
}

// envFlagNamed names the flag where the server names the API's field:
// 'token create' alone makes an evaluate token, and "environment: an
// evaluate token must be bound to one environment" left a newcomer to
// guess that --env gives it. The scopes that need no environment answer a
// missing --env, not a misspelt one (the server lists the environments
// there are).
func envFlagNamed(err error, clientSide, noEnv bool) error {
	var ve *valueloop.Error
	if errors.As(err, &ve) && ve.Field == "environment" {
		ve.Field = "--env"
		if !clientSide && noEnv {
			ve.Message += " (or --scope viewer or admin for a token of every environment)"
		}
	}
	return err
}

func runTokenList(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "token list")
	cf := addClientFlags(e, fs)
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	tokens, err := c.Tokens(ctx)
	if err != nil {
		return err
	}
	return writeList(e, cf, tokens, "", "ID\tNAME\tSCOPE\tENVIRONMENT\tKIND\tORIGINS\tEXPOSURES\tCREATED (UTC)\tSTATUS", func(w io.Writer, t valueloop.Token) {
		status := "active"
		if t.RevokedAt != nil {
			status = "revoked " + utcTime(*t.RevokedAt) + " UTC"
		}
		kind, origins, exposures := tokenKind(t)
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, orAll(t.Environment), kind, origins, exposures, utcTime(t.CreatedAt), status)
	})
}

// tokenKind describes a token for token list: server or client, the
// origins a client token may be used from, and whether its evaluations
// record exposures.
func tokenKind(t valueloop.Token) (kind, origins, exposures string) {
	kind, origins, exposures = "server", "-", "recorded"
	if t.Client {
		kind, origins = "client", "any"
		if len(t.Origins) > 0 {
			origins = strings.Join(t.Origins, ",")
		}
	}
	if t.NoExposures {
		exposures = "off"
	}
	return kind, origins, exposures
}

func runTokenRevoke(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet(e, "token revoke")
	cf := addClientFlags(e, fs)
	pos, err := e.parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("token revoke: want one token id (see 'valueloop token list')")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return usageErrorf("token revoke: %q is not a token id (see 'valueloop token list')", pos[0])
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if err := c.RevokeToken(ctx, id); err != nil {
		return err
	}
	return done(e, cf, map[string]any{"revoked": id}, fmt.Sprintf("Revoked token %d.", id))
}

func orAll(env string) string {
	if env == "" {
		return "all environments"
	}
	return env
}

// writeOut prints v, a command's result, as --output asks: indented JSON, or
// the text write makes of it.
func writeOut[T any](e *cliEnv, cf *clientFlags, v T, write func(io.Writer, T)) error {
	if cf.output == "json" {
		return writeJSONOut(e, v)
	}
	write(e.stdout, v)
	return nil
}

// done says what a change did: with --output json as the object v on
// stdout, else as msg on stderr, stdout being for answers.
func done(e *cliEnv, cf *clientFlags, v any, msg string) error {
	if cf.output == "json" {
		return writeJSONOut(e, v)
	}
	fmt.Fprintln(e.stderr, msg)
	return nil
}

// writeList writes the rows a list command answers: as JSON with --output
// json, else one line a row (by row) under header in aligned columns, or
// empty, when it is not "", where there are none.
func writeList[T any](e *cliEnv, cf *clientFlags, rows []T, empty, header string, row func(w io.Writer, r T)) error {
	if cf.output == "json" {
		return writeJSONOut(e, rows)
	}
	if len(rows) == 0 && empty != "" {
		fmt.Fprintln(e.stdout, empty)
		return nil
	}
	tw := termchart.NewTable(e.stdout)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		row(tw, r)
	}
	return tw.Flush()
}

func writeJSONOut(e *cliEnv, v any) error {
	enc := json.NewEncoder(e.dataOut())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
