package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/valueloop/valueloop/delivery"
)

// DeliveryRecords lists stored records of kind (changes, deployments,
// incidents, reviews), newest first, a page at a time; query may hold
// service, repo, id, limit and cursor (the NextCursor of the page before).
func (c *Client) DeliveryRecords(ctx context.Context, kind string, query url.Values) (delivery.RecordPage, error) {
	var out delivery.RecordPage
	err := c.Do(ctx, http.MethodGet, "/api/v1/delivery/records/"+url.PathEscape(kind)+"?"+query.Encode(), nil, &out)
	return out, err
}

func recordPath(kind string, n int64) string {
	return fmt.Sprintf("/api/v1/delivery/records/%s/%d", url.PathEscape(kind), n)
}

// DeliveryRecord returns record n of kind.
func (c *Client) DeliveryRecord(ctx context.Context, kind string, n int64) (delivery.Record, error) {
	var out delivery.Record
	err := c.Do(ctx, http.MethodGet, recordPath(kind, n), nil, &out)
	return out, err
}

// EditDeliveryRecord replaces what record r says; force stores a rollback
// to a target that is not an earlier production deployment; reason goes
// to the audit trail. The warning, when not nil, says the metrics cannot
// use the record as given (delivery.Service.EditRecord).
func (c *Client) EditDeliveryRecord(ctx context.Context, r delivery.Record, force bool, reason string) (delivery.Record, *delivery.Warning, error) {
	in := map[string]any{"change": r.Change, "deployment": r.Deployment, "incident": r.Incident, "review": r.Review, "force": force, "reason": oneLine(reason)}
	for k, v := range map[string]bool{"change": r.Change == nil, "deployment": r.Deployment == nil, "incident": r.Incident == nil, "review": r.Review == nil} {
		if v {
			delete(in, k)
		}
	}
	var out delivery.Edited
	err := c.Do(ctx, http.MethodPut, recordPath(r.Kind, r.Record), in, &out)
	return out.Record, out.Warning, err
}

// DeleteDeliveryRecord deletes record n of kind; reason goes to the audit
// trail.
func (c *Client) DeleteDeliveryRecord(ctx context.Context, kind string, n int64, reason string) error {
	path := recordPath(kind, n)
	if reason != "" {
		path += "?" + url.Values{"reason": {oneLine(reason)}}.Encode()
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}
