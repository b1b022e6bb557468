package httpapi

import (
	"context"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/github"
	"github.com/valueloop/valueloop/gitlab"
	"github.com/valueloop/valueloop/opsgenie"
	"github.com/valueloop/valueloop/pagerduty"
)

// Delivery metrics: webhooks from GitHub and GitLab (public routes: they
// authenticate by signature or token, checked by package delivery
// before the payload is read), records sent by CI systems and the CLI, the
// catalog and sources, DORA reports and the loop figures of a flag. Leave
// Server.Delivery nil to serve without them (the routes answer 404).

// MaxHookBody is the default bound of a webhook body (Limits.MaxHookBody):
// GitHub caps payloads at 25 MB.
const MaxHookBody = 25 << 20

// IdempotencyHeader makes an API record idempotent: a second call with
// the same key stores nothing.
const IdempotencyHeader = "Idempotency-Key"

func (s *Server) deliveryService() (*delivery.Service, error) {
	if s.Delivery == nil {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "this server does not serve delivery metrics")
	}
	return s.Delivery, nil
}

// handleHook receives a webhook delivery from kind. 200: stored (or
// stored before: "duplicate"); 202: acknowledged and ignored; 401: no
// source's secret verifies it; 400: malformed, with the reason.
func (s *Server) handleHook(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, err := s.deliveryService()
		if err != nil {
			return err
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
			return s.hookFailed(r, kind, valueloop.Errorf(valueloop.EUNSUPPORTED, "form-encoded webhooks are not accepted: set the webhook's content type to application/json"))
		}
		h := delivery.Hook{Source: r.URL.Query().Get("source")}
		switch kind {
		case delivery.KindGitHub:
			h.Event, h.DeliveryID, h.Credential = r.Header.Get(github.EventHeader), r.Header.Get(github.DeliveryHeader), r.Header.Get(github.SignatureHeader)
		case delivery.KindPagerDuty:
			h.Credential = r.Header.Get(pagerduty.SignatureHeader) // the delivery ID is the event's, in the body
		case delivery.KindOpsgenie:
			h.Credential = opsgenie.Credential(r.Header.Get(opsgenie.TokenHeader), r.Header.Get("Authorization"))
		case delivery.KindGitLab:
			h.Event, h.Credential = r.Header.Get(gitlab.EventHeader), r.Header.Get(gitlab.TokenHeader)
			h.DeliveryID = gitlab.DeliveryID(r.Header.Get(gitlab.IdempotencyHeader))
		}
		// What can be checked without the store or the body is checked
		// first. Everything after (reading the sources, then the body,
		// before its signature can be checked) is done by a bounded number
		// of unauthenticated requests at once.
		if err := s.hookPrecheck(r, kind, h); err != nil {
			return s.hookFailed(r, kind, err)
		}
		leave, err := s.guard.anonConn(r)
		if err != nil {
			return s.hookFailed(r, kind, err)
		}
		release, err := s.guard.hookSlot()
		if err != nil {
			leave()
			return s.hookFailed(r, kind, err)
		}
		// The slot is given back at the body's first read, its bytes once
		// it is verified (hookBody). The body goes through the HMAC as it
		// arrives: the verdict comes with its last byte, before it is
		// parsed.
		body := &hookBody{Reader: bodyErrors{r.Body}, g: s.guard, release: release, leave: leave}
		defer body.done()
		ctx, span := s.hookSpan(r.Context(), kind, h) // tracing.go
		rec, err := svc.ReceiveStream(ctx, kind, h, body, delivery.HookBody{Max: s.guard.lim.MaxHookBody, Read: body.done})
		if err != nil {
			hookDone(span, "", err)
			return s.hookFailed(r, kind, err)
		}
		status, outcome := http.StatusOK, "stored"
		switch {
		case rec.Ignored != "":
			status, outcome = http.StatusAccepted, "ignored"
		case rec.Duplicate:
			outcome = "duplicate"
		}
		hookDone(span, outcome, nil)
		s.deliveryMetrics.webhook(kind, outcome)
		writeJSON(w, status, rec)
		return nil
	}
}

// hookFailed counts and logs a refused delivery and returns err to answer.
func (s *Server) hookFailed(r *http.Request, kind string, err error) error {
	code := valueloop.ErrorCode(err)
	s.deliveryMetrics.webhook(kind, code)
	if code != valueloop.EINTERNAL {
		s.Logger.Info("webhook refused", "forge", kind, "event", r.Header.Get(github.EventHeader)+r.Header.Get(gitlab.EventHeader), "err", valueloop.ErrorMessage(err))
	}
	return err
}

// maxListNames bounds the names of a list parameter (queryList): a query
// string of MaxHeaderBytes holds thousands, and each is looked up.
const maxListNames = 1000

// queryList reads a repeatable, comma-separated query parameter, names
// repeated once, at most maxListNames of them. Repeats are found with a
// set: comparing each name with those before took a second of CPU for the
// 13,000 names of a 60 KiB query string, and minutes for a megabyte.
func queryList(q url.Values, name string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range q[name] {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p == "" || seen[p] {
				continue
			}
			if len(out) == maxListNames {
				return nil, valueloop.FieldErrorf(name, "names at most %d, not more", maxListNames)
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// checkParams refuses query parameters other than known, and one of them
// given more than once: a route reads one value (q.Get takes the first),
// and which was meant is not ours to guess — '?dryRun=false&dryRun=true'
// applied a file that a reader taking the last value saw planned.
func checkParams(q url.Values, known ...string) error {
	return checkListParams(q, nil, known...)
}

// checkListParams is checkParams for a route that also takes the lists
// named in lists (queryList), which may be repeated.
func checkListParams(q url.Values, lists []string, known ...string) error {
	// In a fixed order, so that a query with several bad parameters is
	// refused naming the same one every time.
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch values := q[name]; {
		case slices.Contains(lists, name):
		case !slices.Contains(known, name):
			return valueloop.FieldErrorf(name, "unknown parameter: want %s", strings.Join(append(known, lists...), ", "))
		case len(values) > 1:
			return valueloop.FieldErrorf(name, "give it once, got %d values (%s)", len(values), valueloop.Clip(strings.Join(values, ", ")))
		}
	}
	return nil
}

// boolParam reads the boolean parameter name: absent, true or false, and
// anything else refused naming it (a dryRun read as absent would apply).
func boolParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, valueloop.FieldErrorf(name, "must be true or false, got %q", q.Get(name))
}

// limitParam reads ?limit=, the most items a list route answers: an integer
// from 1 to max, def when absent.
func limitParam(q url.Values, def, max int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, valueloop.LimitError(v, max)
	}
	return n, nil
}

// handleDORA answers the DORA metrics of a range (since=30d, or from and
// to), by service, team and overall, bucketed by day, week or month in the
// zone tz (default: the server's, delivery.Service.TimeZone).
func (s *Server) handleDORA(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.deliveryService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := checkListParams(q, []string{"service", "team"}, "since", "from", "to", "bucket", "tz"); err != nil {
		return err
	}
	query := dora.Query{Bucket: dora.Bucket(q.Get("bucket")), Location: svc.Zone()}
	if q.Has("tz") {
		if query.Location, err = delivery.ParseZone("tz", q.Get("tz")); err != nil {
			return err
		}
	}
	if query.Services, err = queryList(q, "service"); err != nil {
		return err
	}
	if query.Teams, err = queryList(q, "team"); err != nil {
		return err
	}
	if query.Bucket == "none" {
		query.Bucket = dora.BucketNone
	}
	if query.From, query.To, err = delivery.ParseRangeIn(q.Get("since"), q.Get("from"), q.Get("to"), svc.Now(), query.Location); err != nil {
		return err
	}
	rep, err := svc.Report(r.Context(), query)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// handleDeployments lists a service's production deployments with the
// changes each delivered.
func (s *Server) handleDeployments(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.deliveryService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := checkParams(q, "service", "since", "from", "to"); err != nil {
		return err
	}
	service := q.Get("service")
	if service == "" {
		return valueloop.FieldErrorf("service", "is required")
	}
	from, to, err := delivery.ParseRange(q.Get("since"), q.Get("from"), q.Get("to"), svc.Now())
	if err != nil {
		return err
	}
	list, err := svc.Deployments(r.Context(), service, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": service, "from": from, "to": to, "deployments": list})
	return nil
}

// recorded answers an API record: 201 when stored, 200 for a repeated
// idempotency key.
func recorded(w http.ResponseWriter, name string, v any, rec delivery.Receipt) {
	status := http.StatusCreated
	if rec.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{name: v, "receipt": rec})
}

// handleRecord serves the POST that records one delivery record, named
// name in the answer: the body is its input, which record stores under the
// request's idempotency key. may says whether the token may record that
// input; when nil, only a global admin may (see globalAdmin).
func handleRecord[In, Out any](s *Server, name string, record func(*delivery.Service, context.Context, In, delivery.RecordKey) (Out, delivery.Receipt, error), may func(*http.Request, *In) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var svc *delivery.Service
		var err error
		if may == nil {
			svc, err = s.globalDeliveryService(r)
		} else {
			svc, err = s.deliveryService()
		}
		if err != nil {
			return err
		}
		var in In
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		if may != nil {
			if err := may(r, &in); err != nil {
				return err
			}
		}
		out, rec, err := record(svc, r.Context(), in, r.Header.Get(IdempotencyHeader))
		if err != nil {
			return err
		}
		recorded(w, name, out, rec)
		return nil
	}
}

// mayRecordDeployment: a token bound to an environment may record the
// deployments to it.
func mayRecordDeployment(r *http.Request, in *delivery.DeploymentInput) error {
	if !tokenOf(r).CanAdmin(in.Environment) {
		return valueloop.Errorf(valueloop.EFORBIDDEN, "token may not record deployments to %q", in.Environment)
	}
	return nil
}

// handleResolveIncident resolves an incident; the body {"at": TIME} is
// optional (default now).
func (s *Server) handleResolveIncident(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.globalDeliveryService(r)
	if err != nil {
		return err
	}
	var in struct {
		At *time.Time `json:"at"`
	}
	if r.ContentLength != 0 && r.Header.Get("Content-Type") != "" {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	i, rec, err := svc.ResolveIncident(r.Context(), r.PathValue("id"), in.At, r.Header.Get(IdempotencyHeader))
	if err != nil {
		return err
	}
	recorded(w, "incident", i, rec)
	return nil
}

// globalAdmin requires an admin token not bound to an environment. What an
// environment-bound admin token may touch in delivery data: deployments to
// its own environment (checked against the deployment's environment), and
// reads. Changes and incidents belong to services, not environments, and
// move every environment's figures (an incident counts against the change
// failure rate of production), and sources and the catalog configure every
// environment: writing them needs an unbound admin token (docs/security.md).
//
// Its reads (the records and the sources listed) need a token of every
// environment, admin or viewer: a viewer reads what an admin token of the
// same binding reads.
func globalAdmin(r *http.Request) error {
	if readOnly(r) {
		if !tokenOf(r).CanRead("") {
			return valueloop.Errorf(valueloop.EFORBIDDEN, "this route needs a token for all environments")
		}
		return nil
	}
	if !tokenOf(r).CanAdmin("") {
		return valueloop.Errorf(valueloop.EFORBIDDEN, "this route needs an admin token for all environments")
	}
	return nil
}

// globalDeliveryService is the delivery service for a request that needs
// an admin token of every environment (see globalAdmin), such as one that
// writes the catalog or corrects records.
func (s *Server) globalDeliveryService(r *http.Request) (*delivery.Service, error) {
	svc, err := s.deliveryService()
	if err == nil {
		err = globalAdmin(r)
	}
	return svc, err
}

func (s *Server) handleListServices(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.deliveryService()
	if err != nil {
		return err
	}
	c, uncatalogued, err := svc.Services(r.Context())
	if err != nil {
		return err
	}
	if uncatalogued == nil {
		uncatalogued = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": c.Services, "uncatalogued": uncatalogued})
	return nil
}

func (s *Server) handlePutService(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.globalDeliveryService(r)
	if err != nil {
		return err
	}
	var in dora.Service
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	name := r.PathValue("name")
	if in.Name != "" && in.Name != name {
		return valueloop.FieldErrorf("name", "%q differs from the service in the path, %q", in.Name, name)
	}
	in.Name = name
	if err := svc.PutService(r.Context(), in, tokenOf(r).Name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

// handleDelete serves the DELETE of a catalogued service or a source,
// named in the path, by del.
func (s *Server) handleDelete(del func(svc *delivery.Service, ctx context.Context, name, actor string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, err := s.globalDeliveryService(r)
		if err == nil {
			err = del(svc, r.Context(), r.PathValue("name"), tokenOf(r).Name)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (s *Server) handleListSources(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.globalDeliveryService(r)
	if err != nil {
		return err
	}
	list, err := svc.Sources(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": list})
	return nil
}

// handlePutSource creates or replaces a webhook source. Without a secret,
// a new source gets a generated one, answered this once as "secret"; an
// existing source keeps its own. If-Match names the version the write was
// made from (the source's "version" in the list, the ETag of a PUT): a
// source changed since is a 409, one deleted since a 404, as for flags.
func (s *Server) handlePutSource(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.globalDeliveryService(r)
	if err != nil {
		return err
	}
	version, err := sourceIfMatch(r, svc, r.PathValue("name"))
	if err != nil {
		return err
	}
	var in struct {
		Kind               string   `json:"kind"`
		Secret             string   `json:"secret"`
		IncidentLabel      string   `json:"incidentLabel"`
		ReleaseEnvironment string   `json:"releaseEnvironment"`
		Repos              []string `json:"repos"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	src := delivery.Source{Name: r.PathValue("name"), Kind: in.Kind, IncidentLabel: in.IncidentLabel, ReleaseEnvironment: in.ReleaseEnvironment, Repos: in.Repos, Version: version}
	if in.Secret != "" {
		src.Secret = []byte(in.Secret)
	}
	out, secret, err := svc.PutSource(r.Context(), src, tokenOf(r).Name)
	if err != nil {
		return err
	}
	body := map[string]any{"source": out}
	if secret != "" {
		body["secret"] = secret
	}
	w.Header().Set("ETag", etag(out.Version))
	writeJSON(w, http.StatusOK, body)
	return nil
}

// sourceIfMatch reads the source version a write expects from If-Match,
// as delivery.Source.Version takes it: 0 when absent (unconditional),
// delivery.SourceExists for "*", or a version. Of a list, the stored
// version is chosen when it is one of them, else the first; the store
// checks the choice in the write's transaction. A weak tag counts as its
// version, as for flags.
func sourceIfMatch(r *http.Request, svc *delivery.Service, name string) (int64, error) {
	h := strings.TrimSpace(strings.Join(r.Header.Values("If-Match"), ","))
	switch h {
	case "":
		return 0, nil
	case "*":
		return delivery.SourceExists, nil
	}
	var versions []int64
	for _, tag := range strings.Split(h, ",") {
		v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return 0, valueloop.FieldErrorf("If-Match", "must be * or source versions such as \"3\" (the source's version in GET /api/v1/delivery/sources), separated by commas, got %q", valueloop.Clip(tag))
		}
		versions = append(versions, n)
	}
	if len(versions) > 1 {
		list, err := svc.Sources(r.Context())
		if err != nil {
			return 0, err
		}
		for _, src := range list {
			if src.Name == name && slices.Contains(versions, src.Version) {
				return src.Version, nil
			}
		}
	}
	return versions[0], nil
}

// handleDeliveries lists the latest deliveries received, newest first.
func (s *Server) handleDeliveries(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.deliveryService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := checkParams(q, "source", "limit"); err != nil {
		return err
	}
	limit, err := limitParam(q, 0, 1000)
	if err != nil {
		return err
	}
	list, err := svc.Deliveries(r.Context(), q.Get("source"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": list})
	return nil
}

// handleLoop answers the loop figures of a flag in an environment.
func (s *Server) handleLoop(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.deliveryService()
	if err != nil {
		return err
	}
	env, err := s.adminEnv(r)
	if err != nil {
		return err
	}
	l, err := svc.Loop(r.Context(), env, r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// deliveryMetrics are the webhook counters and the per-service gauges.
type deliveryMetrics struct {
	webhooks *prometheus.CounterVec
}

func (m *deliveryMetrics) webhook(forge, outcome string) {
	if m != nil {
		m.webhooks.WithLabelValues(forge, outcome).Inc()
	}
}

// registerDeliveryMetrics exposes webhook counters and the delivery
// figures of every service over the last 30 days. The figures are
// recomputed on the service's timer; a scrape only reads them.
func (s *Server) registerDeliveryMetrics() {
	s.deliveryMetrics = &deliveryMetrics{webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "valueloop_delivery_webhooks_total",
		Help: "Webhook deliveries by forge and outcome (stored, duplicate, ignored, or the error kind).",
	}, []string{"forge", "outcome"})}
	s.Registry.MustRegister(s.deliveryMetrics.webhooks, &deliveryCollector{svc: s.Delivery})
}

// deliveryCollector reports the latest delivery.GaugeSet.
type deliveryCollector struct{ svc *delivery.Service }

var (
	deliveryLabels   = []string{"service", "team"}
	descDeploysDay   = prometheus.NewDesc("valueloop_delivery_deployments_per_day", "Successful production deployments per day over the gauge window (30 days), per service.", deliveryLabels, nil)
	descLeadTime     = prometheus.NewDesc("valueloop_delivery_lead_time_p50_seconds", "Median lead time for changes (commit to production) over the gauge window, per service; absent without delivered changes.", deliveryLabels, nil)
	descFailureRate  = prometheus.NewDesc("valueloop_delivery_change_failure_ratio", "Failed production deployments over attempts in the gauge window, per service; absent without attempts.", deliveryLabels, nil)
	descRecovery     = prometheus.NewDesc("valueloop_delivery_recovery_time_p50_seconds", "Median failed-deployment recovery time over the gauge window, per service; absent without recoveries.", deliveryLabels, nil)
	descReworkRate   = prometheus.NewDesc("valueloop_delivery_rework_ratio", "Rework deployments (rollbacks, fixes during incidents) over deployments in the gauge window, per service; absent without deployments.", deliveryLabels, nil)
	descDeliveryTime = prometheus.NewDesc("valueloop_delivery_figures_timestamp_seconds", "When the delivery gauges were last computed (Unix time).", nil, nil)
)

func (c *deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDeploysDay, descLeadTime, descFailureRate, descRecovery, descReworkRate, descDeliveryTime} {
		ch <- d
	}
}

func (c *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.svc.Gauges()
	if g == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descDeliveryTime, prometheus.GaugeValue, float64(g.ComputedAt.UnixNano())/1e9)
	for _, sr := range g.Services {
		m := &sr.Total
		labels := []string{sr.Name, sr.Team}
		ch <- prometheus.MustNewConstMetric(descDeploysDay, prometheus.GaugeValue, m.DeploymentsPerDay, labels...)
		if m.LeadTime.Count > 0 {
			ch <- prometheus.MustNewConstMetric(descLeadTime, prometheus.GaugeValue, m.LeadTime.Median.Seconds(), labels...)
		}
		if v, ok := m.ChangeFailureRate.Value(); ok {
			ch <- prometheus.MustNewConstMetric(descFailureRate, prometheus.GaugeValue, v, labels...)
		}
		if m.Recovery.Count > 0 {
			ch <- prometheus.MustNewConstMetric(descRecovery, prometheus.GaugeValue, m.Recovery.Median.Seconds(), labels...)
		}
		if v, ok := m.ReworkRate.Value(); ok {
			ch <- prometheus.MustNewConstMetric(descReworkRate, prometheus.GaugeValue, v, labels...)
		}
	}
}

// deliveryRoutes lists the delivery routes (part of routeTable).
func (s *Server) deliveryRoutes() []route {
	return []route{
		{"POST", "/hooks/github", public, s.handleHook(delivery.KindGitHub)},
		{"POST", "/hooks/gitlab", public, s.handleHook(delivery.KindGitLab)},
		{"POST", "/hooks/pagerduty", public, s.handleHook(delivery.KindPagerDuty)},
		{"POST", "/hooks/opsgenie", public, s.handleHook(delivery.KindOpsgenie)},
		{"GET", "/api/v1/dora", admin, s.handleDORA},
		{"GET", "/api/v1/delivery/deployments", admin, s.handleDeployments},
		{"POST", "/api/v1/delivery/deployments", admin, handleRecord(s, "deployment", (*delivery.Service).RecordDeployment, mayRecordDeployment)},
		{"POST", "/api/v1/delivery/changes", admin, handleRecord(s, "change", (*delivery.Service).RecordChange, nil)},
		{"POST", "/api/v1/delivery/incidents", admin, handleRecord(s, "incident", (*delivery.Service).OpenIncident, nil)},
		{"POST", "/api/v1/delivery/incidents/{id}/resolve", admin, s.handleResolveIncident},
		{"GET", "/api/v1/delivery/services", admin, s.handleListServices},
		{"PUT", "/api/v1/delivery/services/{name}", admin, s.handlePutService},
		{"DELETE", "/api/v1/delivery/services/{name}", admin, s.handleDelete((*delivery.Service).DeleteService)},
		{"GET", "/api/v1/delivery/sources", admin, s.handleListSources},
		{"PUT", "/api/v1/delivery/sources/{name}", admin, s.handlePutSource},
		{"DELETE", "/api/v1/delivery/sources/{name}", admin, s.handleDelete((*delivery.Service).DeleteSource)},
		{"GET", "/api/v1/delivery/deliveries", admin, s.handleDeliveries},
		{"GET", "/api/v1/delivery/records/{kind}", admin, s.handleListRecords},
		{"GET", "/api/v1/delivery/records/{kind}/{record}", admin, s.handleGetRecord},
		{"PUT", "/api/v1/delivery/records/{kind}/{record}", admin, s.handleEditRecord},
		{"DELETE", "/api/v1/delivery/records/{kind}/{record}", admin, s.handleDeleteRecord},
		{"GET", "/api/v1/environments/{env}/flags/{key}/loop", admin, s.handleLoop},
	}
}

// hookPrecheck refuses, before any store work and before the body is
// read, a delivery whose declared length is over the limit or more than
// the MaxHookBuffered bytes free now, or whose headers no source could
// accept (delivery.CheckHeaders).
func (s *Server) hookPrecheck(r *http.Request, kind string, h delivery.Hook) error {
	if max := s.guard.lim.MaxHookBody; r.ContentLength > max {
		return valueloop.Errorf(valueloop.ETOOLARGE, "webhook body larger than %d bytes", max)
	}
	if err := delivery.CheckHeaders(kind, h); err != nil {
		return err
	}
	return s.guard.hookFits(r.ContentLength)
}
