package client

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// EventsResult is the server's answer to a batch of events: counts, and the
// events not newly stored (duplicates and rejections) by index.
type EventsResult struct {
	Received   int              `json:"received"`
	Stored     int              `json:"stored"`
	Duplicates int              `json:"duplicates"`
	Rejected   int              `json:"rejected"`
	Results    []ingest.Outcome `json:"results"`
}

// SendEvents posts a batch as it is: body is a JSON array of events or
// NDJSON (ndjson true), compressed with gzip when gz. env selects the
// environment for tokens not bound to one ("" otherwise).
func (c *Client) SendEvents(ctx context.Context, env string, body []byte, ndjson, gz bool) (*EventsResult, error) {
	ct := "application/json"
	if ndjson {
		ct = "application/x-ndjson"
	}
	headers := map[string]string{"Content-Type": ct}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		if err := zw.Close(); err != nil {
			return nil, err
		}
		body = buf.Bytes()
		headers["Content-Encoding"] = "gzip"
	}
	if env != "" {
		headers["Valueloop-Environment"] = env
	}
	var out EventsResult
	if err := c.do(ctx, http.MethodPost, "/api/v1/events", rawBody(body), &out, headers); err != nil {
		return nil, err
	}
	return &out, nil
}

func metricsPath(env string) string {
	return "/api/v1/environments/" + url.PathEscape(env) + "/metrics"
}

// Metrics lists the metric definitions of env.
func (c *Client) Metrics(ctx context.Context, env string) ([]metric.Metric, error) {
	var out struct {
		Metrics []metric.Metric `json:"metrics"`
	}
	err := c.Do(ctx, http.MethodGet, metricsPath(env), nil, &out)
	return out.Metrics, err
}

// Metric returns one metric definition.
func (c *Client) Metric(ctx context.Context, env, key string) (*metric.Metric, error) {
	var out metric.Metric
	err := c.Do(ctx, http.MethodGet, metricsPath(env)+"/"+url.PathEscape(key), nil, &out)
	return &out, err
}

// CreateMetric creates a metric; the server recomputes the environment's
// aggregates before answering, so the wait is bounded by ctx alone (see
// untimed).
func (c *Client) CreateMetric(ctx context.Context, env string, m metric.Metric) (*metric.Metric, error) {
	var out metric.Metric
	err := c.untimed().Do(ctx, http.MethodPost, metricsPath(env), m, &out)
	return &out, err
}

// DeleteMetric deletes a metric; like CreateMetric, it answers after the
// recomputation.
func (c *Client) DeleteMetric(ctx context.Context, env, key string) error {
	return c.untimed().Do(ctx, http.MethodDelete, metricsPath(env)+"/"+url.PathEscape(key), nil, nil)
}

// untimed is c with an HTTP client without a Timeout, for the calls the
// server answers after recomputing an environment's aggregates: on a large
// store that takes longer than the Timeout client.New gives every request,
// which would report a failure while the server carries on (and the
// change is made). ctx still bounds them; c itself is untouched.
func (c *Client) untimed() *Client {
	u, hc := *c, *c.HTTP
	hc.Timeout = 0
	u.HTTP = &hc
	return &u
}

// RebuildEvents recomputes env's aggregates from its stored events.
func (c *Client) RebuildEvents(ctx context.Context, env string) (ingest.RebuildResult, error) {
	var out ingest.RebuildResult
	err := c.Do(ctx, http.MethodPost, "/api/v1/environments/"+url.PathEscape(env)+"/events/rebuild", nil, &out)
	return out, err
}

// RebuildEventsWatching is RebuildEvents that calls progress with each
// report of the server while the recomputation runs (several a second).
// The answer is a stream, bounded by ctx alone (see untimed).
func (c *Client) RebuildEventsWatching(ctx context.Context, env string, progress func(ingest.RebuildStatus)) (ingest.RebuildResult, error) {
	path := "/api/v1/environments/" + url.PathEscape(env) + "/events/rebuild"
	resp, err := c.untimed().send(ctx, http.MethodPost, path, nil, false, map[string]string{"Accept": "application/x-ndjson"})
	if err != nil {
		return ingest.RebuildResult{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Progress *ingest.RebuildStatus `json:"progress"`
			Result   *ingest.RebuildResult `json:"result"`
			Error    json.RawMessage       `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return ingest.RebuildResult{}, fmt.Errorf("unexpected answer from POST %s: %w", path, err)
		}
		switch {
		case line.Result != nil:
			return *line.Result, nil
		case line.Error != nil:
			return ingest.RebuildResult{}, decodeError(http.StatusInternalServerError, line.Error)
		case line.Progress != nil && progress != nil:
			progress(*line.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		return ingest.RebuildResult{}, fmt.Errorf("reading answer from %s: %w", c.BaseURL, err)
	}
	return ingest.RebuildResult{}, fmt.Errorf("the answer of POST %s ended before the result", path)
}

// Aggregates returns env's figures (of one flag, or all with flag "") as
// the server renders them: per flag, variant and metric a stats.Summary.
func (c *Client) Aggregates(ctx context.Context, env, flag string) (json.RawMessage, error) {
	var out []byte
	path := "/api/v1/environments/" + url.PathEscape(env) + "/aggregates"
	if flag != "" {
		path += "?flag=" + url.QueryEscape(flag)
	}
	err := c.Do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}
