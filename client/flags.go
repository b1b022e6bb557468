package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/valueloop/valueloop"
)

// Flag is a flag as the admin API shows it.
type Flag struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
	valueloop.Flag
}

// Flags lists the flags of env.
func (c *Client) Flags(ctx context.Context, env string) ([]Flag, error) {
	var out struct {
		Flags []Flag `json:"flags"`
	}
	err := c.Do(ctx, http.MethodGet, flagsPath(env), nil, &out)
	for i := range out.Flags {
		out.Flags[i].Flag.Key, out.Flags[i].Flag.Version = out.Flags[i].Key, out.Flags[i].Version
	}
	return out.Flags, err
}

// GetFlag returns one flag.
func (c *Client) GetFlag(ctx context.Context, env, key string) (Flag, error) {
	var f Flag
	err := c.Do(ctx, http.MethodGet, flagsPath(env)+"/"+url.PathEscape(key), nil, &f)
	f.Flag.Key, f.Flag.Version = f.Key, f.Version
	return f, err
}

// PutFlag creates or replaces a flag from its flagd definition (JSON).
// ifVersion > 0 makes it conditional on the current version; reason goes to
// the audit trail.
func (c *Client) PutFlag(ctx context.Context, env, key string, definition json.RawMessage, ifVersion int64, reason string) (Flag, error) {
	var f Flag
	err := c.do(ctx, http.MethodPut, flagsPath(env)+"/"+url.PathEscape(key), definition, &f, conditional(ifVersion, reason))
	return f, err
}

// SetState enables or disables a flag.
func (c *Client) SetState(ctx context.Context, env, key string, enabled bool, reason string) (int64, error) {
	action := "disable"
	if enabled {
		action = "enable"
	}
	var out struct {
		Version int64 `json:"version"`
	}
	err := c.do(ctx, http.MethodPost, flagsPath(env)+"/"+url.PathEscape(key)+"/"+action, nil, &out, conditional(0, reason))
	return out.Version, err
}

// DeleteFlag deletes a flag.
func (c *Client) DeleteFlag(ctx context.Context, env, key string, ifVersion int64, reason string) error {
	return c.do(ctx, http.MethodDelete, flagsPath(env)+"/"+url.PathEscape(key), nil, nil, conditional(ifVersion, reason))
}

// ApplyResult is what applying a flagd file did or would do.
type ApplyResult struct {
	DryRun bool                    `json:"dryRun"`
	Prune  bool                    `json:"prune"`
	Change valueloop.FlagSetChange `json:"change"`
}

// ApplyFlagd applies a flagd file (JSON, or YAML when yaml is true) to env.
func (c *Client) ApplyFlagd(ctx context.Context, env string, file []byte, yaml, dryRun, prune bool, reason string) (ApplyResult, error) {
	q := url.Values{}
	q.Set("dryRun", strconv.FormatBool(dryRun))
	q.Set("prune", strconv.FormatBool(prune))
	headers := conditional(0, reason)
	headers["Content-Type"] = "application/json"
	if yaml {
		headers["Content-Type"] = "application/yaml"
	}
	var out ApplyResult
	err := c.do(ctx, http.MethodPut, "/api/v1/environments/"+url.PathEscape(env)+"/flagd?"+q.Encode(), rawBody(file), &out, headers)
	return out, err
}

func flagsPath(env string) string { return "/api/v1/environments/" + url.PathEscape(env) + "/flags" }

func conditional(ifVersion int64, reason string) map[string]string {
	h := map[string]string{}
	if ifVersion > 0 {
		h["If-Match"] = `"` + strconv.FormatInt(ifVersion, 10) + `"`
	}
	if reason != "" {
		h["Valueloop-Reason"] = oneLine(reason)
	}
	return h
}

// oneLine folds a reason's line breaks, tabs and other control characters
// (each run of them, with the spaces around it) into one space: a header
// cannot carry them, and Go's client would refuse to send the request; in
// a body or a query the server refuses them, as a reason is one line of the
// audit trail (valueloop.CheckReason). A reason without them is sent as it
// is.
func oneLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || unicode.IsControl(r) }), " ")
}
