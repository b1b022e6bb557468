package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/bench"
	"github.com/valueloop/valueloop/client"
)

// env is the demo environment the soak test drives; toggled is the flag
// its admin writes enable and disable.
const (
	env     = "production"
	toggled = "checkout-flow"
)

// driver runs the clients and counts what they did.
type driver struct {
	base, admin string
	o           options
	eval        string // an evaluate token of env
	ac          *client.Client
	gen         *bench.Gen
	wg          sync.WaitGroup

	ofrepOK, uploads, events, writes, streamConnects, streamEvents atomic.Int64
	failures                                                       atomic.Int64
	mu                                                             sync.Mutex
	lastFailure                                                    string
}

func (d *driver) setup(ctx context.Context) error {
	d.ac = client.New(d.base, d.admin)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(d.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server was not ready within 30s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, secret, err := d.ac.CreateToken(ctx, valueloop.Token{Name: "soak-eval", Scope: valueloop.ScopeEvaluate, Environment: env})
	if err != nil {
		return fmt.Errorf("creating the evaluate token: %w", err)
	}
	d.eval = secret
	d.gen = bench.NewGen(10000, 1, time.Now().Add(-time.Hour))
	return nil
}

func (d *driver) failed(what string, err error) {
	d.failures.Add(1)
	d.mu.Lock()
	d.lastFailure = what + ": " + err.Error()
	d.mu.Unlock()
}

// start launches every client; they stop when ctx ends.
func (d *driver) start(ctx context.Context) {
	loop := func(n int, pause time.Duration, f func(ctx context.Context, i, round int)) {
		for i := range n {
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				for round := 0; ctx.Err() == nil; round++ {
					f(ctx, i, round)
					select {
					case <-ctx.Done():
					case <-time.After(pause):
					}
				}
			}()
		}
	}
	loop(d.o.ofrep, d.o.pauseOfrep, d.evaluate)
	loop(d.o.uploads, d.o.pauseUp, d.upload)
	loop(d.o.streams, time.Second, d.stream)
	loop(1, d.o.writeEvery, d.write)
}

func (d *driver) wait() { d.wg.Wait() }

var httpClient = &http.Client{Timeout: 30 * time.Second}

// post sends body with token and drains the answer; a status other than
// 200 is an error.
func (d *driver) post(ctx context.Context, path, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %.200s", path, resp.Status, b)
	}
	return nil
}

func (d *driver) evaluate(ctx context.Context, i, round int) {
	body := fmt.Sprintf(`{"context":{"targetingKey":"user-%d","country":"NZ","email":"u%d@example.com"}}`, round%5000, i)
	if err := d.post(ctx, "/ofrep/v1/evaluate/flags", d.eval, []byte(body)); err != nil {
		if ctx.Err() == nil {
			d.failed("ofrep", err)
		}
		return
	}
	d.ofrepOK.Add(1)
}

func (d *driver) upload(ctx context.Context, i, round int) {
	n := d.o.eventsPerUpload
	offset := int(d.uploads.Add(1)-1) * n
	if err := d.post(ctx, "/api/v1/events", d.eval, d.gen.Body(n, offset)); err != nil {
		if ctx.Err() == nil {
			d.failed("events", err)
		}
		return
	}
	d.events.Add(int64(n))
}

// stream holds one flag stream open, counting its events, until it ends
// or ctx does; the loop reconnects it.
func (d *driver) stream(ctx context.Context, i, round int) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/api/v1/environments/"+env+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+d.eval)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req) // no timeout: it lives long
	if err != nil {
		if ctx.Err() == nil {
			d.failed("stream", err)
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.failed("stream", fmt.Errorf("%s", resp.Status))
		return
	}
	d.streamConnects.Add(1)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	data := false // an event's data lines were read, not yet its end
	for sc.Scan() {
		switch line := sc.Text(); {
		case strings.HasPrefix(line, "data:"):
			data = true
		case line == "" && data:
			d.streamEvents.Add(1)
			data = false
		}
	}
}

// write toggles the flag and creates and revokes a token: each change is
// pushed to every stream.
func (d *driver) write(ctx context.Context, _, round int) {
	action := []string{"disable", "enable"}[round%2]
	if err := d.ac.Do(ctx, http.MethodPost, "/api/v1/environments/"+env+"/flags/"+toggled+"/"+action, nil, nil); err != nil {
		if ctx.Err() == nil {
			d.failed("admin write", err)
		}
		return
	}
	t, _, err := d.ac.CreateToken(ctx, valueloop.Token{Name: fmt.Sprintf("soak-%d", round), Scope: valueloop.ScopeEvaluate, Environment: env})
	if err == nil {
		err = d.ac.RevokeToken(ctx, t.ID)
	}
	if err != nil {
		if ctx.Err() == nil {
			d.failed("token", err)
		}
		return
	}
	d.writes.Add(1)
}
