package backfill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// Recorder stores a batch of imported records (*delivery.Service).
type Recorder interface {
	Import(ctx context.Context, d *delivery.Delivery) (delivery.Receipt, error)
}

// PageFunc reads one page: its records, and lists to read whole with it
// (the reviews of the pull requests it lists).
type PageFunc func(body []byte) (dora.Event, []Sub, error)

// Sub is a list read whole with the page that names it.
type Sub struct {
	URL  string
	Page PageFunc
}

// Stream is one list endpoint walked page by page.
type Stream struct {
	Name string // "pulls": the checkpoint and progress name it
	URL  string // the first page
	Page PageFunc
}

// Importer walks streams of pages and stores what they hold that is not
// stored yet, one delivery per page.
type Importer struct {
	Fetch      *Fetcher
	Store      Recorder
	Known      *Known
	Checkpoint *Checkpoint
	// Source is the deliveries' source (delivery.ImportSource + "github");
	// Scope names what is imported ("acme/shop"), in delivery IDs and
	// progress.
	Source, Scope string
	// Progress receives a line per stream and, at most every
	// ProgressEvery, one on the page under way; nil: none.
	Progress      io.Writer
	ProgressEvery time.Duration
	Now           func() time.Time

	Summary  Summary
	lastLine time.Time
}

// Summary is what an import did.
type Summary struct {
	Pages    int `json:"pages"`
	Requests int `json:"requests"`
	// Read counts the records the pages held; Stored those that were new.
	Read    int `json:"read"`
	Stored  int `json:"stored"`
	Changes int `json:"changes"`
	// Deployments counts deployment records (one per status).
	Deployments int  `json:"deployments"`
	Incidents   int  `json:"incidents"`
	Reviews     int  `json:"reviews"`
	Resumed     bool `json:"resumed"`
}

// Run walks the streams in order from the checkpoint's place, and forgets
// the place once every stream is done.
func (im *Importer) Run(ctx context.Context, streams []Stream) error {
	im.Summary.Resumed = im.Checkpoint.Resuming()
	for _, s := range streams {
		if err := im.stream(ctx, s); err != nil {
			return fmt.Errorf("%s %s: %w", im.Scope, s.Name, err)
		}
	}
	return im.Checkpoint.Finish()
}

func (im *Importer) stream(ctx context.Context, s Stream) error {
	cur := im.Checkpoint.Cursor(s.Name)
	if cur.Done {
		im.progress(true, "%s: %s done before", im.Scope, s.Name)
		return nil
	}
	u := s.URL
	if cur.Next != "" {
		u = cur.Next
		im.progress(true, "%s: %s resumes at page %d", im.Scope, s.Name, cur.Pages+1)
	}
	for u != "" {
		ev, subs, next, err := im.read(ctx, u, s.Page)
		if err != nil {
			return err
		}
		if err := im.readSubs(ctx, &ev, subs); err != nil {
			return err
		}
		if err := im.StorePage(ctx, s.Name, &ev); err != nil {
			return err
		}
		cur = Cursor{Next: next, Done: next == "", Pages: cur.Pages + 1}
		if err := im.Checkpoint.Set(s.Name, cur); err != nil {
			return err
		}
		im.Summary.Pages++
		im.Summary.Requests = im.Fetch.Requests
		im.progress(cur.Done, "%s: %s page %d · %d records read, %d new · %d requests", im.Scope, s.Name, cur.Pages,
			im.Summary.Read, im.Summary.Stored, im.Summary.Requests)
		u = next
	}
	return nil
}

// read fetches the page at u and reads it with parse; next is the URL of
// the page after it ("" after the last).
func (im *Importer) read(ctx context.Context, u string, parse PageFunc) (ev dora.Event, subs []Sub, next string, err error) {
	page, err := im.Fetch.Get(ctx, u)
	if err != nil {
		return ev, nil, "", err
	}
	if ev, subs, err = parse(page.Body); err != nil {
		return ev, subs, "", fmt.Errorf("GET %s: %w", u, err)
	}
	return ev, subs, page.Next, nil
}

// readSubs reads every page of subs (and of the lists they name) into ev.
func (im *Importer) readSubs(ctx context.Context, ev *dora.Event, subs []Sub) error {
	for len(subs) > 0 {
		sub := subs[0]
		subs = subs[1:]
		for u := sub.URL; u != ""; {
			more, moreSubs, next, err := im.read(ctx, u, sub.Page)
			if err != nil {
				return err
			}
			ev.Changes = append(ev.Changes, more.Changes...)
			ev.Deployments = append(ev.Deployments, more.Deployments...)
			ev.Incidents = append(ev.Incidents, more.Incidents...)
			ev.Reviews = append(ev.Reviews, more.Reviews...)
			subs = append(subs, moreSubs...)
			u = next
		}
	}
	return nil
}

// StorePage stores the records of ev not known yet as one delivery of kind
// "import "+name, identified by its content: storing the same records
// again is a redelivery and stores nothing.
func (im *Importer) StorePage(ctx context.Context, name string, ev *dora.Event) error {
	read := len(ev.Changes) + len(ev.Deployments) + len(ev.Incidents) + len(ev.Reviews)
	im.Summary.Read += read
	if read-im.Known.Fresh(ev) == 0 {
		return nil
	}
	d := &delivery.Delivery{Source: im.Source, Kind: "import " + name,
		Changes: ev.Changes, Deployments: ev.Deployments, Incidents: ev.Incidents, Reviews: ev.Reviews}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	d.ID = im.Scope + ":" + name + ":" + hex.EncodeToString(sum[:12])
	if _, err := im.Store.Import(ctx, d); err != nil {
		return fmt.Errorf("storing %d records: %w", d.Records(), err)
	}
	im.Summary.Stored += d.Records()
	im.Summary.Changes += len(d.Changes)
	im.Summary.Deployments += len(d.Deployments)
	im.Summary.Incidents += len(d.Incidents)
	im.Summary.Reviews += len(d.Reviews)
	return nil
}

// progress writes a line when always, or when ProgressEvery has passed.
func (im *Importer) progress(always bool, format string, args ...any) {
	if im.Progress == nil {
		return
	}
	now := time.Now()
	if im.Now != nil {
		now = im.Now()
	}
	if !always && now.Sub(im.lastLine) < im.ProgressEvery {
		return
	}
	im.lastLine = now
	fmt.Fprintf(im.Progress, format+"\n", args...)
}

// StoreBatches stores the records of ev not stored yet in deliveries of at
// most size records each (history read whole, as from a git repository).
func (im *Importer) StoreBatches(ctx context.Context, name string, ev dora.Event, size int) error {
	for len(ev.Changes)+len(ev.Deployments)+len(ev.Incidents)+len(ev.Reviews) > 0 {
		var b dora.Event
		b.Changes, ev.Changes = cut(ev.Changes, size)
		b.Deployments, ev.Deployments = cut(ev.Deployments, size-len(b.Changes))
		b.Incidents, ev.Incidents = cut(ev.Incidents, size-len(b.Changes)-len(b.Deployments))
		b.Reviews, ev.Reviews = cut(ev.Reviews, size-len(b.Changes)-len(b.Deployments)-len(b.Incidents))
		if err := im.StorePage(ctx, name, &b); err != nil {
			return err
		}
		im.Summary.Pages++
		im.progress(false, "%s: %s · %d records read, %d new", im.Scope, name, im.Summary.Read, im.Summary.Stored)
	}
	im.progress(true, "%s: %s · %d records read, %d new", im.Scope, name, im.Summary.Read, im.Summary.Stored)
	return nil
}

func cut[T any](xs []T, n int) (head, rest []T) {
	n = max(0, min(n, len(xs)))
	return xs[:n:n], xs[n:]
}
