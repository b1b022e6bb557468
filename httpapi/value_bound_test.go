package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/value"
)

// TestValueExportAppliesBackAtBound: whatever the server stores, its
// export applies back. The server held any number of features written one
// by one while one apply took at most 4 MiB of body and 20,000 features,
// so an export past either was refused by value apply. Now the store
// keeps within what one file holds (value.MaxFileFeatures and
// value.MaxFileBytes of compact JSON) and the apply route takes an export
// of that in any of its layouts. A store filled to both bounds exports
// as JSON (indented, applied back as exported) and as YAML (read as the
// CLI does, sent as compact JSON), and each applies back with nothing to
// change; a write taking the store past either bound is refused (409)
// and stores nothing.
func TestValueExportAppliesBackAtBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills the store with 20,000 features")
	}
	e := mustFullServer(t)
	ctx := context.Background()
	e.srv.Value.Environments = productionOnly
	file := boundFile(t)
	if err := e.db.ApplyValue(ctx, file, value.Plan(&value.File{}, file, false), "test"); err != nil {
		t.Fatal(err)
	}
	status, exported := send(t, e.srv.URL(), "GET", "/api/v1/value/file?format=json", adminSecret, "")
	if status != 200 {
		t.Fatalf("export: %d %.300s", status, exported)
	}
	status, yamlOut := send(t, e.srv.URL(), "GET", "/api/v1/value/file?format=yaml", adminSecret, "")
	if status != 200 {
		t.Fatalf("export as YAML: %d %.300s", status, yamlOut)
	}
	read, err := value.DecodeFile([]byte(yamlOut))
	if err != nil {
		t.Fatalf("the YAML export (%d bytes) does not read back: %v", len(yamlOut), err)
	}
	compact, err := json.Marshal(read)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"JSON as exported": exported, "YAML sent as compact JSON": string(compact)} {
		status, out := send(t, e.srv.URL(), "PUT", "/api/v1/value/file?dryRun=true&prune=true", adminSecret, body)
		var applied struct{ Operations []value.Op }
		if err := json.Unmarshal([]byte(out), &applied); status != 200 || err != nil || len(applied.Operations) != 0 {
			t.Errorf("%s (%d bytes) applied back: %d %.300s; want 200 with nothing to change", name, len(body), status, strings.Join(strings.Fields(out), " "))
		}
	}

	// Past the bounds: one feature more, or a feature grown.
	status, out := send(t, e.srv.URL(), "POST", "/api/v1/features", adminSecret, `{"key":"one-more","title":"T","objective":"o","hypothesis":{"change":"c"}}`)
	if status != 409 || !strings.Contains(out, "20000") {
		t.Errorf("feature %d: %d %.300s; want 409 saying the store holds its most", value.MaxFileFeatures+1, status, out)
	}
	grown := file.Features[0]
	grown.Hypothesis.Outcome = strings.Repeat("o", 1000)
	body, _ := json.Marshal(grown)
	status, out = send(t, e.srv.URL(), "PUT", "/api/v1/features/"+grown.Key, adminSecret, string(body))
	if status != 409 || !strings.Contains(out, "bytes") {
		t.Errorf("a feature grown past the bytes: %d %.300s; want 409 naming the bound", status, out)
	}
	if f, err := e.db.Feature(ctx, grown.Key); err != nil || f.Hypothesis.Outcome != "" {
		t.Errorf("stored %q (%v), want the refused write to store nothing", f.Hypothesis.Outcome, err)
	}
	if _, err := e.db.Feature(ctx, "one-more"); err == nil {
		t.Error("feature one-more stored, want nothing stored")
	}
	// An apply without prune keeps what the file lacks: the store after
	// it is the file's objective, grown, with every stored feature.
	o := file.Objectives[0]
	o.Description = strings.Repeat("d", 1000)
	grownFile, _ := json.Marshal(value.File{Objectives: []value.Objective{o}})
	status, out = send(t, e.srv.URL(), "PUT", "/api/v1/value/file", adminSecret, string(grownFile))
	if status != 409 || !strings.Contains(out, "bytes") {
		t.Errorf("an apply growing the objective past the bytes: %d %.300s; want 409 naming the bound", status, out)
	}
	if stored, err := e.db.Objective(ctx, "o"); err != nil || stored.Description != "" {
		t.Errorf("stored description %q (%v), want the refused apply to store nothing", stored.Description, err)
	}
}

// boundFile returns a file of value.MaxFileFeatures features whose compact
// JSON is 500 bytes short of value.MaxFileBytes.
func boundFile(t *testing.T) *value.File {
	t.Helper()
	horizon, err := value.ParseDate("2027-03-31")
	if err != nil {
		t.Fatal(err)
	}
	f := &value.File{Objectives: []value.Objective{{Key: "o", Title: "O", Metric: "m",
		Target: value.Target{Direction: "increase", Value: 0.1}, Horizon: horizon}}}
	for i := range value.MaxFileFeatures {
		f.Features = append(f.Features, value.Feature{Key: fmt.Sprintf("f%05d", i), Title: "T", Objective: "o",
			Hypothesis: value.Hypothesis{Change: "c"}, DependsOn: dependsOn(i)})
	}
	js, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	room := value.MaxFileBytes - 500 - len(js)
	if room < 0 {
		t.Fatalf("%d features of the least are %d bytes, more than %d", len(f.Features), len(js), value.MaxFileBytes)
	}
	each, rest := room/len(f.Features), room%len(f.Features)
	for i := range f.Features {
		f.Features[i].Hypothesis.Change += strings.Repeat("c", each+min(1, max(0, rest-i)))
	}
	return f
}

// dependsOn gives some features short dependencies: a list of short
// strings is where an indented layout adds the most.
func dependsOn(i int) []string {
	if i%100 != 99 {
		return nil
	}
	var d []string
	for j := i - 99; j < i; j += 10 {
		d = append(d, fmt.Sprintf("f%05d", j))
	}
	return d
}

// TestValueStorePastBoundStaysEditable: a store already past a bound (one
// filled before the server kept them, 9 MiB of compact JSON here) takes
// the writes that do not grow it: an edit that shortens a feature, an
// apply without prune that shortens one. It answered 409 ('delete some
// first') to every write, so no feature of it could be corrected. A write
// that grows it is still refused, storing nothing.
func TestValueStorePastBoundStaysEditable(t *testing.T) {
	e := mustFullServer(t)
	ctx := context.Background()
	e.srv.Value.Environments = productionOnly
	horizon, err := value.ParseDate("2027-03-31")
	if err != nil {
		t.Fatal(err)
	}
	file := &value.File{Objectives: []value.Objective{{Key: "o", Title: "O", Metric: "m",
		Target: value.Target{Direction: "increase", Value: 0.1}, Horizon: horizon}}}
	for i := range 3000 { // of about 3,100 bytes each
		file.Features = append(file.Features, value.Feature{Key: fmt.Sprintf("f%05d", i), Title: "T", Objective: "o",
			Hypothesis: value.Hypothesis{Change: strings.Repeat("c", 1000), For: strings.Repeat("f", 1000), Outcome: strings.Repeat("o", 1000)}})
	}
	if n := file.Bytes(); n <= value.MaxFileBytes {
		t.Fatalf("the store is %d bytes, want it past %d", n, value.MaxFileBytes)
	}
	if err := e.db.ApplyValue(ctx, file, value.Plan(&value.File{}, file, false), "test"); err != nil {
		t.Fatal(err)
	}

	shorter := file.Features[0]
	shorter.Hypothesis.Outcome = "sign-ups"
	body, _ := json.Marshal(shorter)
	if status, out := send(t, e.srv.URL(), "PUT", "/api/v1/features/"+shorter.Key, adminSecret, string(body)); status != 200 {
		t.Errorf("an edit shortening a feature of the store past the bound: %d %.300s; want 200", status, out)
	}
	shorter = file.Features[1]
	shorter.Hypothesis.For = "everyone"
	body, _ = json.Marshal(value.File{Features: []value.Feature{shorter}})
	if status, out := send(t, e.srv.URL(), "PUT", "/api/v1/value/file", adminSecret, string(body)); status != 200 {
		t.Errorf("an apply shortening a feature of the store past the bound: %d %.300s; want 200", status, out)
	}
	for _, f := range []string{"f00000", "f00001"} {
		if stored, err := e.db.Feature(ctx, f); err != nil || len(stored.Hypothesis.Outcome)+len(stored.Hypothesis.For) > 1100 {
			t.Errorf("feature %s stored with an outcome and for of %d bytes (%v), want one of them shortened", f, len(stored.Hypothesis.Outcome)+len(stored.Hypothesis.For), err)
		}
	}

	grown := file.Features[2]
	grown.Title = "Te"
	body, _ = json.Marshal(grown)
	if status, out := send(t, e.srv.URL(), "PUT", "/api/v1/features/"+grown.Key, adminSecret, string(body)); status != 409 || !strings.Contains(out, "bytes") {
		t.Errorf("an edit growing the store past the bound: %d %.300s; want 409 naming the bound", status, out)
	}
	if status, out := send(t, e.srv.URL(), "POST", "/api/v1/features", adminSecret, `{"key":"one-more","title":"T","objective":"o","hypothesis":{"change":"c"}}`); status != 409 {
		t.Errorf("a feature more in the store past the bound: %d %.300s; want 409", status, out)
	}
	if stored, err := e.db.Feature(ctx, grown.Key); err != nil || stored.Title != "T" {
		t.Errorf("stored title %q (%v), want the refused write to store nothing", stored.Title, err)
	}
}

// TestValueApplyRefusedBeforeBody: value apply takes bodies up to
// value.MaxFileTextBytes whatever MaxAPIBody, so a request that may not
// apply must be refused before a byte of its body is read, and one
// declaring more than the bound before it is read either. Each request
// declares its length but sends no body: an answer at all shows that
// nothing waited for it.
func TestValueApplyRefusedBeforeBody(t *testing.T) {
	e := mustFullServer(t)
	viewer, err := e.auth.Create(context.Background(), &valueloop.Token{Name: "pm", Scope: valueloop.ScopeViewer}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
		length      int64
		want        int
	}{
		{"no token", "", value.MaxFileTextBytes, 401},
		{"evaluate token", e.eval, value.MaxFileTextBytes, 403},
		{"viewer token", viewer, value.MaxFileTextBytes, 403},
		{"admin token past the bound", adminSecret, value.MaxFileTextBytes + 1, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, never := io.Pipe()
			defer never.Close()
			req, _ := http.NewRequest("PUT", e.srv.URL()+"/api/v1/value/file", body)
			req.ContentLength = tc.length
			req.Header.Set("Content-Type", "application/json")
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				out, _ := io.ReadAll(resp.Body)
				t.Errorf("%d %.300s, want %d", resp.StatusCode, out, tc.want)
			}
		})
	}
}
