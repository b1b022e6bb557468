package httpapi_test

import (
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/rollout"
)

// TestRepeatedQueryParameterRefused: every query parameter of the API's
// routes (/api/, as openapi.json lists them) that is not documented as
// repeatable is refused, 400 naming it, when given twice. The routes read
// the first value and dropped the others, so '?dryRun=true&dryRun=false'
// planned where a reader taking the last (a proxy, a log reader, another
// framework) saw a file applied, and '?dryRun=false&dryRun=true' applied
// it. The results route refused a repeated setting already; the others
// now do as it does, with the same reason: which one was meant is not
// ours to guess.
func TestRepeatedQueryParameterRefused(t *testing.T) {
	e := mustFullServer(t)
	e.srv.Rollouts = rollout.NewEngine(e.db, e.flags, e.db, nil) // else its route is a 404
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	type param struct {
		Ref         string `json:"$ref"`
		Name, In    string
		Description string
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct{ Parameters map[string]param }
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// Two values each route takes alone, so that what is refused is the
	// repetition.
	values := map[string][2]string{
		"limit": {"1", "2"}, "since": {"30d", "7d"}, "dryRun": {"true", "false"}, "prune": {"false", "true"},
		"before": {"5", "9"}, "active": {"true", "false"}, "bucket": {"week", "month"}, "tz": {"UTC", "Europe/Paris"},
		"from": {"2026-01-01", "2026-02-01"}, "to": {"2026-03-01", "2026-04-01"}, "format": {"json", "yaml"},
		"method": {"wsjf", "cd3"}, "cleanupAfter": {"30d", "60d"}, "stage": {"idea", "building"},
	}
	n := 0
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for method, op := range ops {
			var o struct{ Parameters []param }
			if json.Unmarshal(op, &o) != nil {
				continue
			}
			for _, p := range o.Parameters {
				if p.Ref != "" {
					p = doc.Components.Parameters[p.Ref[strings.LastIndexByte(p.Ref, '/')+1:]]
				}
				if p.In != "query" || strings.Contains(p.Description, "repeatable") {
					continue
				}
				n++
				v, ok := values[p.Name]
				if !ok {
					v = [2]string{"a", "b"}
				}
				_, target := matrixPath(strings.ToUpper(method) + " " + path)
				q := url.Values{p.Name: v[:]}
				t.Run(strings.ToUpper(method)+" "+path+" "+p.Name, func(t *testing.T) {
					status, body := send(t, e.srv.URL(), strings.ToUpper(method), target+"?"+q.Encode(), adminSecret, "")
					var problem struct {
						Detail string
						Errors []struct{ Field, Message string }
					}
					_ = json.Unmarshal([]byte(body), &problem)
					named := slices.ContainsFunc(problem.Errors, func(f struct{ Field, Message string }) bool {
						return (f.Field == p.Name || f.Field == "settings."+p.Name) && strings.Contains(f.Message, "once")
					})
					if status != 400 || !named {
						t.Errorf("?%s: %d %.300s, want 400 naming %s given more than once", q.Encode(), status, body, p.Name)
					}
				})
			}
		}
	}
	if n < 40 {
		t.Fatalf("%d query parameters found in openapi.json, want 40 or more", n)
	}
}
