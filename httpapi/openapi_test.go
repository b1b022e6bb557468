package httpapi_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/jsondecode"
)

var operationIDPattern = regexp.MustCompile(`^[a-z][A-Za-z0-9]+$`)

// TestOpenAPIOperationsNamedAndSecured: what client generators and linters
// (Redocly's recommended rules) need of the document: a unique camelCase
// operationId on every operation, a server, bearer security by default (OFREP's routes also take its API
// key), and
// `security: []` exactly on the public routes.
func TestOpenAPIOperationsNamedAndSecured(t *testing.T) {
	e := MustServer(t)
	_, doc := openAPIRoutes(t, e)
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if dups := jsondecode.Duplicates(raw); len(dups) > 0 {
		t.Errorf("keys given twice in openapi.json (a reader keeps one of them): %v", dups)
	}
	if servers, _ := doc["servers"].([]any); len(servers) == 0 {
		t.Errorf("the document has no servers")
	}
	if got := fmt.Sprint(doc["security"]); got != "[map[bearer:[]]]" {
		t.Errorf("global security = %s, want bearer", got)
	}
	seen := map[string]string{}
	for path, ops := range doc["paths"].(map[string]any) {
		for method, raw := range ops.(map[string]any) {
			op := raw.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			switch {
			case !operationIDPattern.MatchString(id):
				t.Errorf("%s: operationId %q, want a camelCase name", where, id)
			case seen[id] != "":
				t.Errorf("%s: operationId %q is also %s's", where, id, seen[id])
			}
			seen[id] = where
			sec, set := op["security"]
			public := op["x-valueloop-scope"] == "public"
			if public && (!set || fmt.Sprint(sec) != "[]") {
				t.Errorf("%s is public: want security: [], got %v", where, sec)
			}
			want := "[map[bearer:[]]]"
			switch {
			case path == "/ofrep/v1/stream":
				want = "[map[ofrepTicket:[]]]" // an EventSource sends no headers (ofrep_stream.go)
			case strings.HasPrefix(path, "/ofrep/"):
				want = "[map[bearer:[]] map[apiKey:[]]]" // OFREP's two schemes (ofrepSecret)
			}
			if !public && set && fmt.Sprint(sec) != want {
				t.Errorf("%s needs a token: want security %s, got %v", where, want, sec)
			}
		}
	}
}
