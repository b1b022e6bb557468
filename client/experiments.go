package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/valueloop/valueloop/experiment"
)

func experimentFlagPath(env, flag string) string {
	return "/api/v1/environments/" + url.PathEscape(env) + "/flags/" + url.PathEscape(flag)
}

// Hypothesis returns the hypothesis of a flag in env.
func (c *Client) Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error) {
	return doJSON[experiment.Hypothesis](ctx, c, http.MethodGet, experimentFlagPath(env, flag)+"/hypothesis", nil)
}

// PutHypothesis creates or replaces the hypothesis of a flag; body is its
// JSON (settings left out keep their defaults). It returns the hypothesis
// as stored, defaults filled.
func (c *Client) PutHypothesis(ctx context.Context, env, flag string, body []byte) (*experiment.Hypothesis, error) {
	return doJSON[experiment.Hypothesis](ctx, c, http.MethodPut, experimentFlagPath(env, flag)+"/hypothesis", rawBody(body))
}

// DeleteHypothesis deletes the hypothesis of a flag.
func (c *Client) DeleteHypothesis(ctx context.Context, env, flag string) error {
	return c.Do(ctx, http.MethodDelete, experimentFlagPath(env, flag)+"/hypothesis", nil, nil)
}

// Results returns the experiment results of a flag in env. query overrides
// analysis settings (alpha, alternative, sequentialTuning, cuped,
// correction, inference, control, weights), limits the metrics shown
// (metric) and splits the result by a dimension (dimension: the Result's
// Dimension); nil for none.
func (c *Client) Results(ctx context.Context, env, flag string, query url.Values) (*experiment.Result, error) {
	path := experimentFlagPath(env, flag) + "/results"
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return doJSON[experiment.Result](ctx, c, http.MethodGet, path, nil)
}
