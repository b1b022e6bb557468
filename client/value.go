package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// Objectives lists the objectives.
func (c *Client) Objectives(ctx context.Context) ([]value.Objective, error) {
	return allPages(func(cursor string) ([]value.Objective, string, error) {
		var out struct {
			Objectives []value.Objective `json:"objectives"`
			NextCursor string            `json:"nextCursor"`
		}
		err := c.Do(ctx, http.MethodGet, "/api/v1/objectives?"+pageQuery(url.Values{}, cursor), nil, &out)
		return out.Objectives, out.NextCursor, err
	})
}

// allPages reads every page of a list route: get fetches the page after
// cursor and returns its items and the next cursor ("" after the last). A
// server answering the cursor it was given again would make the loop endless,
// so that is an error.
func allPages[T any](get func(cursor string) ([]T, string, error)) ([]T, error) {
	var all []T
	for cursor := ""; ; {
		items, next, err := get(cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		if next == cursor {
			return nil, fmt.Errorf("list pages: the server answered cursor %q again", next)
		}
		cursor = next
	}
}

// pageQuery asks a value list route for its largest page after cursor.
func pageQuery(q url.Values, cursor string) string {
	q.Set("limit", "1000")
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q.Encode()
}

// Objective reads one objective.
func (c *Client) Objective(ctx context.Context, key string) (*value.Objective, error) {
	return doJSON[value.Objective](ctx, c, http.MethodGet, "/api/v1/objectives/"+url.PathEscape(key), nil)
}

// ShowObjective returns an objective with its progress toward its target.
func (c *Client) ShowObjective(ctx context.Context, key string) (*value.ShownObjective, error) {
	return doJSON[value.ShownObjective](ctx, c, http.MethodGet, "/api/v1/objectives/"+url.PathEscape(key), nil)
}

// PutObjective creates or replaces an objective.
func (c *Client) PutObjective(ctx context.Context, o *value.Objective) (*value.Objective, error) {
	return doJSON[value.Objective](ctx, c, http.MethodPut, "/api/v1/objectives/"+url.PathEscape(o.Key), o)
}

// CreateObjective creates an objective: a conflict error, storing
// nothing, when its key is stored (created meanwhile, say).
func (c *Client) CreateObjective(ctx context.Context, o *value.Objective) (*value.Objective, error) {
	return doJSON[value.Objective](ctx, c, http.MethodPost, "/api/v1/objectives", o)
}

// DeleteObjective deletes an objective no feature bets on.
func (c *Client) DeleteObjective(ctx context.Context, key string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/objectives/"+url.PathEscape(key), nil, nil)
}

// FeatureSummary is a feature in a list, with its stage.
type FeatureSummary struct {
	value.Feature
	Stage value.Stage `json:"stage"`
	Since time.Time   `json:"since,omitzero"`
}

// Features lists features, every page of them; objective and stage filter
// when not empty.
func (c *Client) Features(ctx context.Context, objective, stage string) ([]FeatureSummary, error) {
	q := url.Values{}
	if objective != "" {
		q.Set("objective", objective)
	}
	if stage != "" {
		q.Set("stage", stage)
	}
	return allPages(func(cursor string) ([]FeatureSummary, string, error) {
		var out struct {
			Features   []FeatureSummary `json:"features"`
			NextCursor string           `json:"nextCursor"`
		}
		err := c.Do(ctx, http.MethodGet, "/api/v1/features?"+pageQuery(q, cursor), nil, &out)
		return out.Features, out.NextCursor, err
	})
}

// Feature reads a feature with its release record.
func (c *Client) Feature(ctx context.Context, key string) (*features.Shown, error) {
	return doJSON[features.Shown](ctx, c, http.MethodGet, "/api/v1/features/"+url.PathEscape(key), nil)
}

// PutFeature creates or replaces a feature.
func (c *Client) PutFeature(ctx context.Context, f *value.Feature) (*value.Feature, error) {
	return doJSON[value.Feature](ctx, c, http.MethodPut, "/api/v1/features/"+url.PathEscape(f.Key), f)
}

// CreateFeature creates a feature: a conflict error, storing nothing,
// when its key is stored (created meanwhile, say).
func (c *Client) CreateFeature(ctx context.Context, f *value.Feature) (*value.Feature, error) {
	return doJSON[value.Feature](ctx, c, http.MethodPost, "/api/v1/features", f)
}

// PutFeatureIf replaces a feature only if it is still at version (the
// Version of what Feature read): a conflict error, storing nothing, when
// someone changed or deleted it since.
func (c *Client) PutFeatureIf(ctx context.Context, f *value.Feature, version string) (*value.Feature, error) {
	return putIf(ctx, c, "/api/v1/features/"+url.PathEscape(f.Key), f, version)
}

// PutObjectiveIf replaces an objective only if it is still at version (the
// Version of what ShowObjective read), as PutFeatureIf a feature.
func (c *Client) PutObjectiveIf(ctx context.Context, o *value.Objective, version string) (*value.Objective, error) {
	return putIf(ctx, c, "/api/v1/objectives/"+url.PathEscape(o.Key), o, version)
}

func putIf[T any](ctx context.Context, c *Client, path string, in *T, version string) (*T, error) {
	var out T
	if err := c.do(ctx, http.MethodPut, path, in, &out, map[string]string{"If-Match": `"` + version + `"`}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteFeature deletes a feature.
func (c *Client) DeleteFeature(ctx context.Context, key string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/features/"+url.PathEscape(key), nil, nil)
}

// MoveFeature moves a feature by hand and returns its record.
func (c *Client) MoveFeature(ctx context.Context, key string, stage value.Stage, reason string) (*value.Record, error) {
	in := map[string]string{"stage": string(stage), "reason": oneLine(reason)}
	return doJSON[value.Record](ctx, c, http.MethodPost, "/api/v1/features/"+url.PathEscape(key)+"/move", in)
}

// Next ranks the backlog; an empty method is WSJF, a zero cleanupAfter the
// server's default.
func (c *Client) Next(ctx context.Context, method, objective string, cleanupAfter time.Duration) (*value.Next, error) {
	q := url.Values{}
	if method != "" {
		q.Set("method", method)
	}
	if objective != "" {
		q.Set("objective", objective)
	}
	if cleanupAfter > 0 {
		q.Set("cleanupAfter", strconv.FormatFloat(cleanupAfter.Seconds(), 'f', -1, 64))
	}
	return doJSON[value.Next](ctx, c, http.MethodGet, "/api/v1/value/next?"+q.Encode(), nil)
}

// Flow measures the flow of value over since (the server's default when 0).
func (c *Client) Flow(ctx context.Context, objective string, since time.Duration) (*value.Flow, error) {
	q := url.Values{}
	if objective != "" {
		q.Set("objective", objective)
	}
	if since > 0 {
		q.Set("since", strconv.FormatFloat(since.Seconds(), 'f', -1, 64))
	}
	return doJSON[value.Flow](ctx, c, http.MethodGet, "/api/v1/value/flow?"+q.Encode(), nil)
}

// ValueApplied is what applying a file of objectives and features did or
// would do.
type ValueApplied struct {
	DryRun     bool       `json:"dryRun"`
	Operations []value.Op `json:"operations"`
}

// ApplyValue applies a file of objectives and features.
func (c *Client) ApplyValue(ctx context.Context, f *value.File, dryRun, prune bool) (*ValueApplied, error) {
	q := url.Values{"dryRun": {strconv.FormatBool(dryRun)}, "prune": {strconv.FormatBool(prune)}}
	return doJSON[ValueApplied](ctx, c, http.MethodPut, "/api/v1/value/file?"+q.Encode(), f)
}

// ExportValue returns the objectives and features as a file: YAML, or
// JSON when asJSON.
func (c *Client) ExportValue(ctx context.Context, asJSON bool) ([]byte, error) {
	format := "yaml"
	if asJSON {
		format = "json"
	}
	var out []byte
	err := c.Do(ctx, http.MethodGet, "/api/v1/value/file?format="+format, nil, &out)
	return out, err
}
