package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// DORA returns the DORA report for query: since or from/to, bucket,
// service and team (see GET /api/v1/dora).
func (c *Client) DORA(ctx context.Context, query url.Values) (*delivery.Report, error) {
	return doJSON[delivery.Report](ctx, c, http.MethodGet, "/api/v1/dora?"+query.Encode(), nil)
}

// DeliveryDeployments returns a service's production deployments in the
// range of query (since or from/to), each with the changes it delivered.
func (c *Client) DeliveryDeployments(ctx context.Context, service string, query url.Values) ([]dora.DeploymentFacts, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("service", service)
	var out struct {
		Deployments []dora.DeploymentFacts `json:"deployments"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/delivery/deployments?"+q.Encode(), nil, &out)
	return out.Deployments, err
}

func idempotency(key string) map[string]string {
	if key == "" {
		return nil
	}
	return map[string]string{"Idempotency-Key": key}
}

// recorded is the server's answer to recording a delivery fact: the record
// under the name of its kind, and the receipt.
type recorded struct {
	Deployment dora.Deployment  `json:"deployment"`
	Change     dora.Change      `json:"change"`
	Incident   dora.Incident    `json:"incident"`
	Receipt    delivery.Receipt `json:"receipt"`
}

// record posts in to path; key, when not empty, makes the call idempotent.
func (c *Client) record(ctx context.Context, path string, in any, key string) (recorded, error) {
	var out recorded
	err := c.do(ctx, http.MethodPost, path, in, &out, idempotency(key))
	return out, err
}

// RecordDeployment records a deployment; key, when not empty, makes the
// call idempotent.
func (c *Client) RecordDeployment(ctx context.Context, in delivery.DeploymentInput, key string) (dora.Deployment, delivery.Receipt, error) {
	r, err := c.record(ctx, "/api/v1/delivery/deployments", in, key)
	return r.Deployment, r.Receipt, err
}

// RecordChange records a change, linked to the flags of in.Flags.
func (c *Client) RecordChange(ctx context.Context, in delivery.ChangeInput, key string) (dora.Change, delivery.Receipt, error) {
	r, err := c.record(ctx, "/api/v1/delivery/changes", in, key)
	return r.Change, r.Receipt, err
}

// OpenIncident opens an incident.
func (c *Client) OpenIncident(ctx context.Context, in delivery.IncidentInput, key string) (dora.Incident, delivery.Receipt, error) {
	r, err := c.record(ctx, "/api/v1/delivery/incidents", in, key)
	return r.Incident, r.Receipt, err
}

// ResolveIncident resolves incident id at (now when nil).
func (c *Client) ResolveIncident(ctx context.Context, id string, at *time.Time, key string) (dora.Incident, delivery.Receipt, error) {
	r, err := c.record(ctx, "/api/v1/delivery/incidents/"+url.PathEscape(id)+"/resolve", map[string]any{"at": at}, key)
	return r.Incident, r.Receipt, err
}

// DeliveryServices returns the service catalog and the services that have
// records but no catalog entry.
func (c *Client) DeliveryServices(ctx context.Context) ([]dora.Service, []string, error) {
	var out struct {
		Services     []dora.Service `json:"services"`
		Uncatalogued []string       `json:"uncatalogued"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/delivery/services", nil, &out)
	return out.Services, out.Uncatalogued, err
}

// PutDeliveryService creates or replaces a service of the catalog.
func (c *Client) PutDeliveryService(ctx context.Context, s dora.Service) (dora.Service, error) {
	var out dora.Service
	err := c.Do(ctx, http.MethodPut, "/api/v1/delivery/services/"+url.PathEscape(s.Name), s, &out)
	return out, err
}

// DeleteDeliveryService removes a service from the catalog.
func (c *Client) DeleteDeliveryService(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/delivery/services/"+url.PathEscape(name), nil, nil)
}

// DeliverySources lists the webhook sources (without secrets).
func (c *Client) DeliverySources(ctx context.Context) ([]delivery.Source, error) {
	var out struct {
		Sources []delivery.Source `json:"sources"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/delivery/sources", nil, &out)
	return out.Sources, err
}

// PutDeliverySource creates or replaces a webhook source. An empty secret
// keeps an existing source's secret, or has the server generate one for a
// new source, returned this once. A source read from DeliverySources
// carries its Version, sent as If-Match: the write is refused (409) when
// someone changed the source since (404 when deleted); 0 writes whatever
// is stored.
func (c *Client) PutDeliverySource(ctx context.Context, s delivery.Source) (delivery.Source, string, error) {
	in := map[string]any{"kind": s.Kind, "incidentLabel": s.IncidentLabel, "releaseEnvironment": s.ReleaseEnvironment, "repos": s.Repos}
	if len(s.Secret) > 0 {
		in["secret"] = string(s.Secret)
	}
	var headers map[string]string
	switch {
	case s.Version == delivery.SourceExists:
		headers = map[string]string{"If-Match": "*"}
	case s.Version > 0:
		headers = map[string]string{"If-Match": `"` + strconv.FormatInt(s.Version, 10) + `"`}
	}
	var out struct {
		Source delivery.Source `json:"source"`
		Secret string          `json:"secret"`
	}
	err := c.do(ctx, http.MethodPut, "/api/v1/delivery/sources/"+url.PathEscape(s.Name), in, &out, headers)
	return out.Source, out.Secret, err
}

// DeleteDeliverySource deletes a webhook source.
func (c *Client) DeleteDeliverySource(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/delivery/sources/"+url.PathEscape(name), nil, nil)
}

// Deliveries lists the latest deliveries received, newest first (of one
// source when source is not empty; limit 0 for the server's default).
func (c *Client) Deliveries(ctx context.Context, source string, limit int) ([]delivery.DeliveryInfo, error) {
	q := url.Values{}
	if source != "" {
		q.Set("source", source)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Deliveries []delivery.DeliveryInfo `json:"deliveries"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/delivery/deliveries?"+q.Encode(), nil, &out)
	return out.Deliveries, err
}

// Loop returns the loop figures of a flag in env.
func (c *Client) Loop(ctx context.Context, env, flag string) (*delivery.Loop, error) {
	return doJSON[delivery.Loop](ctx, c, http.MethodGet, "/api/v1/environments/"+url.PathEscape(env)+"/flags/"+url.PathEscape(flag)+"/loop", nil)
}
