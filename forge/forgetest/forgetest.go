// Package forgetest checks what the webhook readers (the forges, packages
// github and gitlab, and the incident sources, packages pagerduty and
// opsgenie) promise of what they parse, for their tests: every event holds
// records the delivery package accepts, and every refusal is an EINVALID
// error naming the field.
package forgetest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
)

// TS parses an RFC 3339 time, in UTC.
func TS(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

// ReadFixture reads testdata/name.
func ReadFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Seed adds to f's corpus every file the glob pattern matches, by
// add(file, body); no file is a failure, so that a moved corpus is noticed.
func Seed(f *testing.F, pattern string, add func(file string, body []byte)) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no files match %s", pattern)
	}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		add(file, body)
	}
}

// FuzzPages fuzzes the readers of REST API pages, pages by the kind of list
// they read: each must never panic, and either fail with an EINVALID error
// or return records CheckValid accepts. The seed corpus is the pages in
// dir, each file named after its kind up to the first dot, and whatever f
// was given before.
func FuzzPages(f *testing.F, dir string, pages map[string]func(body []byte) (dora.Event, error)) {
	f.Helper()
	Seed(f, filepath.Join(dir, "*.json"), func(file string, body []byte) {
		kind, _, _ := strings.Cut(filepath.Base(file), ".")
		f.Add(kind, body)
	})
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		read, ok := pages[kind]
		if !ok {
			return
		}
		ev, err := read(body)
		CheckFuzzed(t, ev, err, false)
	})
}

// CheckValid asserts what every parsed event guarantees: records the
// delivery package accepts, and none when it is ignored.
func CheckValid(tb testing.TB, ev dora.Event) {
	tb.Helper()
	if ev.Ignored != "" && records(ev) > 0 {
		tb.Errorf("ignored (%s) yet carries records: %+v", ev.Ignored, ev)
	}
	for _, c := range ev.Changes {
		if err := c.Validate(); err != nil {
			tb.Errorf("change %+v: %v", c, err)
		}
	}
	for _, d := range ev.Deployments {
		if err := d.Validate(); err != nil {
			tb.Errorf("deployment %+v: %v", d, err)
		}
	}
	for _, i := range ev.Incidents {
		if err := i.Validate(); err != nil {
			tb.Errorf("incident %+v: %v", i, err)
		}
	}
}

func records(ev dora.Event) int {
	return len(ev.Changes) + len(ev.Deployments) + len(ev.Incidents)
}

// CheckFuzzed asserts what a reader gives for any input: an EINVALID
// *valueloop.Error (naming a field when named is set), or an event
// CheckValid accepts.
func CheckFuzzed(tb testing.TB, ev dora.Event, err error, named bool) {
	tb.Helper()
	if err == nil {
		CheckValid(tb, ev)
		return
	}
	var e *valueloop.Error
	if !errors.As(err, &e) || e.Code != valueloop.EINVALID || (named && e.Field == "") {
		tb.Fatalf("error %v: want an EINVALID *valueloop.Error naming a field", err)
	}
}

// CheckMalformed asserts that a payload was refused with an EINVALID error
// naming field and saying why, and that no records came with it.
func CheckMalformed(tb testing.TB, ev dora.Event, err error, field string) {
	tb.Helper()
	var e *valueloop.Error
	if !errors.As(err, &e) || e.Code != valueloop.EINVALID || e.Field != field {
		tb.Fatalf("got %+v, %v; want an invalid %q", ev, err, field)
	}
	if e.Message == "" || records(ev) > 0 {
		tb.Errorf("error %q with records %+v; want a reason and no records", e.Message, ev)
	}
}

// Replay parses every JSON payload in dir with parse; each must give an
// event CheckValid accepts and pass the check named after its file, and
// every file needs one. A dir without payloads fails the test: the
// payloads belong in testdata, where every checkout has them.
func Replay(t *testing.T, dir string, parse func(name string, body []byte) (dora.Event, error), checks map[string]func(*testing.T, dora.Event)) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatal("no reference payloads at " + dir)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := parse(name, body)
			if err != nil {
				t.Fatalf("%v (%s)", err, valueloop.ErrorMessage(err))
			}
			CheckValid(t, ev)
			if c := checks[name]; c != nil {
				c(t, ev)
			} else {
				t.Errorf("no check for %s: %+v", name, ev)
			}
		})
	}
}

// Timeline builds the timeline of the fixtures files under catalog, each
// read by parse, in order.
func Timeline(tb testing.TB, catalog dora.Catalog, files []string, parse func(file string, body []byte) (dora.Event, error)) *dora.Timeline {
	tb.Helper()
	data := dora.Data{Catalog: catalog}
	for _, f := range files {
		ev, err := parse(f, ReadFixture(tb, f))
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		data.Changes = append(data.Changes, ev.Changes...)
		data.Deployments = append(data.Deployments, ev.Deployments...)
		data.Incidents = append(data.Incidents, ev.Incidents...)
	}
	tl, err := dora.NewTimeline(data)
	if err != nil {
		tb.Fatal(err)
	}
	return tl
}
