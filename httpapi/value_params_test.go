package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/httpapi"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/value"
)

// TestValueUnknownParams: a misspelt query parameter on the value routes is
// refused with its name, not ignored (a typo in ?stage= would list every
// feature; in ?dryRun= it would apply for real).
func TestValueUnknownParams(t *testing.T) {
	e := mustFullServer(t)
	for _, tc := range []struct{ method, path, body, field string }{
		{"GET", "/api/v1/features?stge=idea", "", "stge"},
		{"GET", "/api/v1/value/next?methd=rice", "", "methd"},
		{"GET", "/api/v1/value/flow?sinc=60", "", "sinc"},
		{"GET", "/api/v1/value/file?fromat=yaml", "", "fromat"},
		{"PUT", "/api/v1/value/file?dryrun=true", `{"objectives":[],"features":[]}`, "dryrun"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			status, body := send(t, e.srv.URL(), tc.method, tc.path, adminSecret, tc.body)
			if status != 400 || !strings.Contains(body, tc.field) || !strings.Contains(body, "unknown parameter") {
				t.Errorf("got %d %.300s, want 400 naming %q as an unknown parameter", status, body, tc.field)
			}
		})
	}
	// The parameters the client sends are still taken.
	if err := e.db.PutObjective(context.Background(), mustObjective(t, "x", "T"), "t"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/features?stage=idea&objective=x", "/api/v1/value/next?method=rice&cleanupAfter=60", "/api/v1/value/flow?since=60", "/api/v1/value/file?format=yaml"} {
		if status, body := send(t, e.srv.URL(), "GET", path, adminSecret, ""); status != 200 {
			t.Errorf("GET %s: got %d %.300s, want 200", path, status, body)
		}
	}
}

// TestValueListPages: the list routes answer a page at a time, a cursor
// continues where the page before stopped, the last page has no cursor,
// and a limit out of range is refused with its name.
func TestValueListPages(t *testing.T) {
	e := mustFullServer(t)
	for _, key := range []string{"c", "a", "b"} {
		if err := e.db.PutObjective(context.Background(), mustObjective(t, key, "T"), "t"); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	cursor, pages := "", 0
	for {
		path := "/api/v1/objectives?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		status, body := send(t, e.srv.URL(), "GET", path, adminSecret, "")
		var page struct {
			Objectives []struct{ Key string } `json:"objectives"`
			NextCursor string                 `json:"nextCursor"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		pages++
		for _, o := range page.Objectives {
			keys = append(keys, o.Key)
		}
		if cursor = page.NextCursor; cursor == "" || pages > 3 {
			break
		}
	}
	if strings.Join(keys, " ") != "a b c" || pages != 2 {
		t.Errorf("pages of 2: %v in %d pages, want a b c in 2", keys, pages)
	}
	for _, path := range []string{"/api/v1/objectives?limit=0", "/api/v1/objectives?limit=1001", "/api/v1/features?limit=x", "/api/v1/features?limit=" + strings.Repeat("9", 10_000),
		"/api/v1/features?cursor=" + strings.Repeat("k", 201),
		// A cursor is a key: anything else was not given by a page, and
		// would read as an empty page (or fail in PostgreSQL, for bytes
		// that are not UTF-8), not as the mistake it is.
		"/api/v1/objectives?cursor=Revenue", "/api/v1/features?cursor=%FF", "/api/v1/features?cursor=a%00b"} {
		field := "limit"
		if strings.Contains(path, "cursor") {
			field = "cursor"
		}
		// The refused value is echoed, clipped: not 10,000 characters back.
		if status, body := send(t, e.srv.URL(), "GET", path, adminSecret, ""); status != 400 || !strings.Contains(body, `"`+field+`"`) || strings.Contains(body, strings.Repeat("9", 100)) {
			t.Errorf("GET %.100s: %d %.300s, want 400 naming %s", path, status, body, field)
		}
	}
}

// TestFeatureListUnknownObjective: a list of features filtered by an
// objective that does not exist is refused naming the parameter, as next
// and flow refuse it; it answered an empty list, which the CLI printed as
// "No features. Create one ...", for a typo.
func TestFeatureListUnknownObjective(t *testing.T) {
	e := mustFullServer(t)
	if err := e.db.PutObjective(context.Background(), mustObjective(t, "activation", "T"), "t"); err != nil {
		t.Fatal(err)
	}
	status, body := send(t, e.srv.URL(), "GET", "/api/v1/features?objective=activaton", adminSecret, "")
	if status != 400 || !strings.Contains(body, `"objective"`) || !strings.Contains(body, `there is no objective \"activaton\"`) {
		t.Errorf("unknown objective: got %d %.300s, want 400 naming objective", status, body)
	}
	if status, body := send(t, e.srv.URL(), "GET", "/api/v1/features?objective=%FF", adminSecret, ""); status != 400 || !strings.Contains(body, `"objective"`) {
		t.Errorf("objective not a key: got %d %.300s, want 400 naming objective", status, body)
	}
	if status, body := send(t, e.srv.URL(), "GET", "/api/v1/features?objective=activation", adminSecret, ""); status != 200 {
		t.Errorf("known objective without features: got %d %.300s, want 200", status, body)
	}
}

// TestValueFileItemCap: an apply body with more features than one file
// may hold is refused naming the list, before anything is validated or
// stored.
func TestValueFileItemCap(t *testing.T) {
	e := mustFullServer(t)
	var b strings.Builder
	b.WriteString(`{"objectives":[],"features":[`)
	for i := range value.MaxFileFeatures + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{}`)
	}
	b.WriteString(`]}`)
	status, body := send(t, e.srv.URL(), "PUT", "/api/v1/value/file", adminSecret, b.String())
	if status != 400 || !strings.Contains(body, `"features"`) || !strings.Contains(body, "at most 20000") {
		t.Errorf("got %d %.300s, want 400 naming features", status, body)
	}
}

// fullReads is the value store (with its ValueChanges, as the server
// has it) counting the reads of every objective, feature or lifecycle.
type fullReads struct {
	*sqlite.DB
	n atomic.Int64
}

func (s *fullReads) Objectives(ctx context.Context) ([]value.Objective, error) {
	s.n.Add(1)
	return s.DB.Objectives(ctx)
}

func (s *fullReads) Features(ctx context.Context) ([]value.Feature, error) {
	s.n.Add(1)
	return s.DB.Features(ctx)
}

func (s *fullReads) Lifecycles(ctx context.Context) (map[string]value.Lifecycle, error) {
	s.n.Add(1)
	return s.DB.Lifecycles(ctx)
}

// TestValueListsPageInStore: the list routes, an objective's page and
// the creation of an objective read what they answer, not every
// objective, feature and lifecycle; the filters and cursor of the
// features list still select what they did.
func TestValueListsPageInStore(t *testing.T) {
	reads := &fullReads{}
	e := mustServer(t, func(srv *httpapi.Server, db *sqlite.DB) {
		reads.DB = db
		srv.Value = features.New(reads, db)
	})
	ctx := context.Background()
	for _, key := range []string{"growth", "activation"} {
		if err := e.db.PutObjective(ctx, mustObjective(t, key, "T"), "t"); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct{ key, objective string }{{"f1", "growth"}, {"f2", "activation"}, {"f3", "growth"}, {"f4", "growth"}} {
		if err := e.db.PutFeature(ctx, &value.Feature{Key: f.key, Title: "T", Objective: f.objective, Hypothesis: value.Hypothesis{Change: "c"}}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	building := value.Lifecycle{Stage: value.Building, Since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := e.db.SaveLifecycle(ctx, "f3", &building); err != nil {
		t.Fatal(err)
	}
	featureKeys := func(path string) (string, string) {
		t.Helper()
		status, body := send(t, e.srv.URL(), "GET", path, adminSecret, "")
		var page struct {
			Features []struct {
				Key   string
				Stage value.Stage
			} `json:"features"`
			NextCursor string `json:"nextCursor"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		var keys []string
		for _, f := range page.Features {
			keys = append(keys, f.Key+":"+string(f.Stage))
		}
		return strings.Join(keys, " "), page.NextCursor
	}
	for _, c := range []struct{ path, keys, next string }{
		{"/api/v1/features?objective=growth&limit=2", "f1:idea f3:building", "f3"},
		{"/api/v1/features?objective=growth&limit=2&cursor=f3", "f4:idea", ""},
		{"/api/v1/features?stage=idea", "f1:idea f2:idea f4:idea", ""},
		{"/api/v1/features?stage=building&objective=growth", "f3:building", ""},
		{"/api/v1/features?stage=validated", "", ""},
	} {
		if keys, next := featureKeys(c.path); keys != c.keys || next != c.next {
			t.Errorf("GET %s: %q next %q, want %q next %q", c.path, keys, next, c.keys, c.next)
		}
	}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/v1/objectives?limit=1", "", 200},
		{"GET", "/api/v1/objectives/growth", "", 200},
		{"GET", "/api/v1/objectives/nope", "", 404},
		{"POST", "/api/v1/objectives", `{"key":"growth","title":"T","metric":"m"}`, 409},
	} {
		if status, body := send(t, e.srv.URL(), c.method, c.path, adminSecret, c.body); status != c.status {
			t.Errorf("%s %s: %d %.300s, want %d", c.method, c.path, status, body, c.status)
		}
	}
	if n := reads.n.Load(); n != 0 {
		t.Errorf("the routes read every objective, feature or lifecycle %d times, want none", n)
	}
}

// TestValuePutKey: POST refuses the key of an objective or a feature that
// exists, naming the PUT that changes it (409); PUT takes the path's key
// when the body names none and refuses a body that names another key,
// naming the field.
func TestValuePutKey(t *testing.T) {
	e := mustFullServer(t)
	ctx := context.Background()
	if err := e.db.PutObjective(ctx, mustObjective(t, "o1", "T"), "t"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.PutFeature(ctx, &value.Feature{Key: "f1", Title: "T", Objective: "o1", Hypothesis: value.Hypothesis{Change: "c"}}, "t"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string // in the body
	}{
		{"POST", "/api/v1/objectives", `{"key":"o1","title":"T","metric":"m"}`, 409, `objective \"o1\" exists: change it with PUT /api/v1/objectives/o1`},
		{"PUT", "/api/v1/objectives/o1", `{"key":"o2","title":"U","metric":"m"}`, 400, `\"o2\" differs from the path's \"o1\"`},
		{"POST", "/api/v1/features", `{"key":"f1","title":"T","objective":"o1","hypothesis":{"change":"c"}}`, 409, `feature \"f1\" exists: change it with PUT /api/v1/features/f1`},
		{"PUT", "/api/v1/features/f1", `{"key":"f2","title":"U","objective":"o1","hypothesis":{"change":"c"}}`, 400, `\"f2\" differs from the path's \"f1\"`},
		{"PUT", "/api/v1/features/f1", `{"title":"U","objective":"o1","hypothesis":{"change":"c"}}`, 200, `"key": "f1"`},
		{"POST", "/api/v1/features", `{"key":"f3","title":"T","objective":"o1","hypothesis":{"change":"c"}}`, 201, `"key": "f3"`},
	} {
		status, body := send(t, e.srv.URL(), tc.method, tc.path, adminSecret, tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %s: %d %.300s, want %d with %s", tc.method, tc.path, tc.body, status, body, tc.status, tc.want)
		}
		if tc.status == 400 && !strings.Contains(body, `"field": "key"`) {
			t.Errorf("%s %s: %s does not name the field key", tc.method, tc.path, body)
		}
	}
}

// TestValueUnknownObjective: an objective filter naming no objective is a
// 400 naming the parameter on every route that takes one, as on next: flow
// answered 404, as if the route did not exist.
func TestValueUnknownObjective(t *testing.T) {
	e := mustFullServer(t)
	for _, path := range []string{"/api/v1/value/next?objective=nope", "/api/v1/value/flow?objective=nope"} {
		status, body := send(t, e.srv.URL(), "GET", path, adminSecret, "")
		if status != 400 || !strings.Contains(body, `"field": "objective"`) || !strings.Contains(body, `no objective \"nope\"`) {
			t.Errorf("GET %s: got %d %.300s, want 400 naming the field objective", path, status, body)
		}
	}
}
