package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The API tests check every response they get against the OpenAPI
// document (doCall calls checkResponse), so the document and the handlers
// cannot drift apart: a response whose status is not documented, or whose
// JSON body does not match the documented schema, fails the test. The
// check closes every object schema of the document (closeObjects): a
// member the handlers send that the document does not name fails too, so
// that a field added to a response cannot go undocumented. A problem on a
// route that documents only the status is checked against the Error schema.

type openAPIOp struct {
	method  string
	pattern *regexp.Regexp
	params  int
	pointer string // JSON Pointer of the operation in the document
	op      map[string]any
}

var openAPI struct {
	once     sync.Once
	err      error
	ops      []openAPIOp
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

const openAPIURL = "file:///openapi.json"

func loadOpenAPI() error {
	openAPI.once.Do(func() {
		raw, err := os.ReadFile("openapi.json")
		if err != nil {
			openAPI.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			openAPI.err = err
			return
		}
		closeObjects(doc)
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource(openAPIURL, doc); err != nil {
			openAPI.err = err
			return
		}
		openAPI.compiler, openAPI.schemas = c, map[string]*jsonschema.Schema{}
		var plain map[string]any
		json.Unmarshal(raw, &plain)
		param := regexp.MustCompile(`\{[^/}]+\}`)
		for path, ops := range plain["paths"].(map[string]any) {
			segs := strings.Split(path, "/")
			for i, seg := range segs {
				if param.MatchString(seg) {
					segs[i] = `[^/]+`
				} else {
					segs[i] = regexp.QuoteMeta(seg)
				}
			}
			re := regexp.MustCompile("^" + strings.Join(segs, "/") + "$")
			for method, op := range ops.(map[string]any) {
				openAPI.ops = append(openAPI.ops, openAPIOp{method: strings.ToUpper(method), pattern: re,
					params: len(param.FindAllString(path, -1)), pointer: "/paths/" + escapePointer(path) + "/" + method, op: op.(map[string]any)})
			}
		}
	})
	return openAPI.err
}

// escapePointer escapes s as one token of a JSON Pointer.
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// checkResponse checks resp (body already read) to method path against the
// document.
func checkResponse(t testing.TB, method, path string, resp *http.Response, body string) {
	t.Helper()
	if err := loadOpenAPI(); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	path, _, _ = strings.Cut(path, "?")
	var op *openAPIOp
	for i := range openAPI.ops {
		o := &openAPI.ops[i]
		if o.method == method && o.pattern.MatchString(path) && (op == nil || o.params < op.params) {
			op = o
		}
	}
	if op == nil {
		return // not an operation of the document (a 404 test, say)
	}
	responses, _ := op.op["responses"].(map[string]any)
	status := strconv.Itoa(resp.StatusCode)
	key := status
	// 413 and 415 may answer any request with a body, as the document's
	// description says once for all operations; one an operation documents
	// (OFREP's, in its own shape) is checked.
	if _, hasBody := op.op["requestBody"]; hasBody && (resp.StatusCode == http.StatusRequestEntityTooLarge || resp.StatusCode == http.StatusUnsupportedMediaType) {
		if _, documented := responses[key]; !documented {
			return
		}
	}
	if _, ok := responses[key]; !ok {
		key = status[:1] + "XX"
		if _, ok := responses[key]; !ok {
			key = "default"
			if _, ok := responses[key]; !ok {
				t.Errorf("%s %s answered %d, which openapi.json does not document for it: %s", method, path, resp.StatusCode, body)
				return
			}
		}
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" && mt != "application/problem+json" {
		return // text, NDJSON, event streams: not JSON-schema'd
	}
	content, _ := responses[key].(map[string]any)["content"].(map[string]any)
	media, ok := content[mt].(map[string]any)
	ptr := op.pointer + "/responses/" + escapePointer(key) + "/content/" + escapePointer(mt) + "/schema"
	if !ok {
		if mt != "application/problem+json" {
			t.Errorf("%s %s answered %d with %s, which openapi.json does not document for it", method, path, resp.StatusCode, mt)
			return
		}
		// A problem on a route that documents only its status (or a
		// shared response by $ref): the Error schema is the document's rule.
		ptr = "/components/schemas/Error"
	} else if _, ok := media["schema"]; !ok {
		return
	}
	openAPI.mu.Lock()
	sch, ok := openAPI.schemas[ptr]
	if !ok {
		var err error
		sch, err = openAPI.compiler.Compile(openAPIURL + "#" + ptr)
		if err != nil {
			openAPI.mu.Unlock()
			t.Fatalf("openapi.json %s: %v", ptr, err)
		}
		openAPI.schemas[ptr] = sch
	}
	openAPI.mu.Unlock()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
	if err != nil {
		t.Errorf("%s %s answered %d with a body that is not JSON: %v", method, path, resp.StatusCode, err)
		return
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s %s answered %d with a body that does not match openapi.json: %v\n%s", method, path, resp.StatusCode, fmt.Sprintf("%v", err), body)
	}
}

// closeObjects makes every object schema of doc that names its properties
// and says nothing of others refuse the rest (unevaluatedProperties: false),
// for the check only: the document itself stays open, as clients expect.
// The members of an allOf are merged by their parent, which is closed
// instead (a member closed alone would refuse its siblings' properties),
// so a member that is a $ref is replaced by a copy of the schema it names.
func closeObjects(doc any) {
	schemas := doc.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any)
	walkObjects(doc, func(v map[string]any) {
		if all, ok := v["allOf"].([]any); ok {
			for i, m := range all {
				if ref, ok := m.(map[string]any)["$ref"].(string); ok {
					all[i] = deepCopy(schemas[strings.TrimPrefix(ref, "#/components/schemas/")])
				}
			}
		}
	})
	closeAll(doc, false)
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

// closeAll closes the object schemas in v; member says v is an allOf's.
func closeAll(v any, member bool) {
	switch v := v.(type) {
	case map[string]any:
		_, props := v["properties"]
		all, hasAll := v["allOf"].([]any)
		if (props || hasAll) && !member {
			if _, ok := v["additionalProperties"]; !ok {
				if _, ok := v["unevaluatedProperties"]; !ok {
					v["unevaluatedProperties"] = false
				}
			}
		}
		for k, x := range v {
			if k == "allOf" {
				for _, m := range all {
					closeAll(m, true)
				}
				continue
			}
			closeAll(x, false)
		}
	case []any:
		for _, x := range v {
			closeAll(x, false)
		}
	}
}
