package client

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/valueloop/valueloop/ingest"
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
	var r io.Reader = bytes.NewReader(body)
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		if err := zw.Close(); err != nil {
			return nil, err
		}
		r = &buf
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/api/v1/events", r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if env != "" {
		req.Header.Set("Valueloop-Environment", env)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Valueloop server at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading answer from %s: %w", c.BaseURL, err)
	}
	if resp.StatusCode >= 300 {
		return nil, decodeError(resp.StatusCode, data)
	}
	var out EventsResult
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("unexpected answer from POST /api/v1/events: %w", err)
	}
	return &out, nil
}

func metricsPath(env string) string {
	return "/api/v1/environments/" + url.PathEscape(env) + "/metrics"
}

// Metrics lists the metric definitions of env.
func (c *Client) Metrics(ctx context.Context, env string) ([]ingest.Metric, error) {
	var out struct {
		Metrics []ingest.Metric `json:"metrics"`
	}
	err := c.Do(ctx, http.MethodGet, metricsPath(env), nil, &out)
	return out.Metrics, err
}

// Metric returns one metric definition.
func (c *Client) Metric(ctx context.Context, env, key string) (*ingest.Metric, error) {
	var out ingest.Metric
	err := c.Do(ctx, http.MethodGet, metricsPath(env)+"/"+url.PathEscape(key), nil, &out)
	return &out, err
}

// CreateMetric creates a metric; the server recomputes the environment's
// aggregates before answering.
func (c *Client) CreateMetric(ctx context.Context, env string, m ingest.Metric) (*ingest.Metric, error) {
	var out ingest.Metric
	err := c.Do(ctx, http.MethodPost, metricsPath(env), m, &out)
	return &out, err
}

// DeleteMetric deletes a metric.
func (c *Client) DeleteMetric(ctx context.Context, env, key string) error {
	return c.Do(ctx, http.MethodDelete, metricsPath(env)+"/"+url.PathEscape(key), nil, nil)
}

// RebuildEvents recomputes env's aggregates from its stored events.
func (c *Client) RebuildEvents(ctx context.Context, env string) (ingest.RebuildResult, error) {
	var out ingest.RebuildResult
	err := c.Do(ctx, http.MethodPost, "/api/v1/environments/"+url.PathEscape(env)+"/events/rebuild", nil, &out)
	return out, err
}

// RebuildEventsWatching is RebuildEvents that calls progress with each
// report of the server while the recomputation runs (several a second).
func (c *Client) RebuildEventsWatching(ctx context.Context, env string, progress func(ingest.RebuildStatus)) (ingest.RebuildResult, error) {
	path := "/api/v1/environments/" + url.PathEscape(env) + "/events/rebuild"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+path, nil)
	if err != nil {
		return ingest.RebuildResult{}, err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return ingest.RebuildResult{}, fmt.Errorf("cannot reach the Valueloop server at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return ingest.RebuildResult{}, decodeError(resp.StatusCode, data)
	}
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
			return ingest.RebuildResult{}, decodeError(http.StatusInternalServerError, sc.Bytes())
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
