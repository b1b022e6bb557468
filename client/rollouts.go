package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/valueloop/valueloop/rollout"
)

func rolloutsPath(env string) string {
	return "/api/v1/environments/" + url.PathEscape(env) + "/rollouts"
}

// StartRollout starts a rollout of plan in env and returns its status. A bad
// plan comes back as a *valueloop.ValidationError listing every problem.
// The reason is sent as one line, as a flag change's (the server keeps
// reasons to one line: line breaks and other controls become spaces).
func (c *Client) StartRollout(ctx context.Context, env string, plan rollout.Plan, reason string) (*rollout.Status, error) {
	body := struct {
		rollout.Plan
		Reason string `json:"reason,omitempty"`
	}{plan, oneLine(reason)}
	var out rollout.Status
	err := c.Do(ctx, http.MethodPost, rolloutsPath(env), body, &out)
	return &out, err
}

// RolloutStatus returns the status of the newest rollout of flag in env.
func (c *Client) RolloutStatus(ctx context.Context, env, flag string) (*rollout.Status, error) {
	var out rollout.Status
	err := c.Do(ctx, http.MethodGet, rolloutsPath(env)+"/"+url.PathEscape(flag), nil, &out)
	return &out, err
}

// RolloutAction makes a manual transition of flag's active rollout in env:
// rollout.KindPause, KindResume, KindAdvance or KindRollback.
func (c *Client) RolloutAction(ctx context.Context, env, flag string, k rollout.Kind, reason string) (*rollout.Status, error) {
	var out rollout.Status
	err := c.Do(ctx, http.MethodPost, rolloutsPath(env)+"/"+url.PathEscape(flag)+"/"+url.PathEscape(string(k)), map[string]string{"reason": oneLine(reason)}, &out)
	return &out, err
}

// Rollouts lists the rollouts of f.Environment, newest first: of one flag
// (or all with f.Flag ""), only active ones when f.Active is true, at most
// f.Limit (the server's default, 100, when 0), older than f.BeforeID when
// it is set: the next page after one whose last rollout it is.
func (c *Client) Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error) {
	q := url.Values{}
	if f.Flag != "" {
		q.Set("flag", f.Flag)
	}
	if f.Active {
		q.Set("active", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.BeforeID > 0 {
		q.Set("before", strconv.FormatInt(f.BeforeID, 10))
	}
	var out struct {
		Rollouts []rollout.Rollout `json:"rollouts"`
	}
	path := rolloutsPath(f.Environment)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	err := c.Do(ctx, http.MethodGet, path, nil, &out)
	return out.Rollouts, err
}
