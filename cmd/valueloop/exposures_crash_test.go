package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valueloop/valueloop/client"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/sqlite"
)

// TestCrashExposureLoss kills a real server with SIGKILL while every OFREP
// evaluation it answers is a user's first (each records an exposure), and
// checks what docs/events.md promises of the exposures the server records:
// every exposure the server had counted as recorded before the kill is
// stored; every stored one was asked for, once, with the variant answered;
// what was answered but not stored (lost in the crash) stays within the
// documented bound; and the aggregates equal a recomputation from what was
// stored. It logs how many were lost and how long before the kill the
// oldest of them was answered (the loss window), without asserting times.
func TestCrashExposureLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := filepath.Join(t.TempDir(), "data")
	crashExposureLoss(t, data, func() eventLog {
		db := sqlite.NewDB(filepath.Join(data, "valueloop.db"))
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestCrashExposureLossPostgres is TestCrashExposureLoss with the node on
// PostgreSQL (--database): its pipeline writes the per-user states and
// aggregates of several nodes' store.
func TestCrashExposureLossPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dsn := pgtest.Database(t)
	crashExposureLoss(t, filepath.Join(t.TempDir(), "data"), func() eventLog {
		db := postgres.NewDB(dsn)
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		return db
	}, "--database", dsn)
}

// crashExposureLoss is TestCrashExposureLoss of a server started with
// args, whose store open opens.
func crashExposureLoss(t *testing.T, data string, open func() eventLog, args ...string) {
	bin := buildBinary(t)
	flags := "production=" + filepath.Join("..", "..", "bench", "flags.json")
	args = append(args, "--flags-file", flags)
	cmd, url := startProcess(t, bin, data, args...)

	answered, counted, killed := evaluateUntilKilled(t, cmd, url)
	stored := storedExposures(t, open())
	lost, oldest := 0, killed
	for key, a := range answered {
		v, ok := stored[key]
		switch {
		case !ok:
			lost++
			if a.at.Before(oldest) {
				oldest = a.at
			}
		case v != a.variant:
			t.Errorf("%s: stored variant %q, answered %q", key, v, a.variant)
		}
	}
	for key := range stored {
		if !strings.HasPrefix(key, "crash-") {
			t.Errorf("stored exposure of %q, never evaluated", key)
		}
	}
	t.Logf("%d evaluations answered, %d exposures stored, %d answered but lost in the crash, answered %v before the kill at most",
		len(answered), len(stored), lost, killed.Sub(oldest).Round(time.Millisecond))
	if len(stored) < counted {
		t.Errorf("%d exposures stored, but the server had counted %d as recorded before the kill", len(stored), counted)
	}
	// The documented bound by count: what the buffer holds plus the batch
	// taken from it and being written.
	if bound := 2 * ingest.DefaultExposureQueue; lost > bound {
		t.Errorf("%d exposures lost, documented bound %d", lost, bound)
	}

	// Exact for what was recorded: after a restart, recomputing from the
	// stored events changes no aggregate.
	cmd, url = startProcess(t, bin, data, args...)
	res, err := client.New(url, testAdminToken).RebuildEvents(context.Background(), "production")
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Events != int64(len(stored)) {
		t.Errorf("rebuild after restart = %+v; want %d events and aggregates unchanged", res, len(stored))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// evaluateUntilKilled evaluates a flag for new users from eight goroutines
// and kills the server with SIGKILL once it has counted 2,000 exposures as
// recorded (more are waiting in memory then). It returns the answers, that
// count and when the kill was sent.
func evaluateUntilKilled(t *testing.T, cmd *exec.Cmd, url string) (map[string]answer, int, time.Time) {
	t.Helper()
	var mu sync.Mutex
	answered := map[string]answer{} // targeting key: variant and when
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("crash-%d-%d", w, i)
				variant, err := evaluateOFREP(url, "fractional-split", key)
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				answered[key] = answer{variant, time.Now()}
				mu.Unlock()
			}
		}()
	}
	var counted int
	waitUntil(t, "exposures recorded", time.Minute, func() bool {
		counted = exposuresCounted(t, url)
		return counted >= 2000
	})
	cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	cmd.Wait()
	close(stop)
	wg.Wait()
	return answered, counted, killed
}

type answer struct {
	variant string
	at      time.Time
}

// evaluateOFREP evaluates flag for a targeting key as the admin token, in
// production, and returns the variant.
func evaluateOFREP(url, flag, key string) (string, error) {
	body := strings.NewReader(`{"context":{"targetingKey":"` + key + `"}}`)
	req, err := http.NewRequest("POST", url+"/ofrep/v1/evaluate/flags/"+flag, body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Valueloop-Environment", "production")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var res struct{ Variant string }
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 || res.Variant == "" {
		return "", fmt.Errorf("HTTP %d, %v, variant %q", resp.StatusCode, err, res.Variant)
	}
	return res.Variant, nil
}

var recordedPattern = regexp.MustCompile(`(?m)^valueloop_exposures_recorded_total (\d+)`)

// exposuresCounted reads valueloop_exposures_recorded_total: exposures
// stored by committed transactions.
func exposuresCounted(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := recordedPattern.FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no valueloop_exposures_recorded_total")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// eventLog is a store the exposures are read back from.
type eventLog interface {
	Events(ctx context.Context, env string, fn func(*ingest.Event) error) error
	Close() error
}

// storedExposures returns the exposures stored in production: variant by
// targeting key, failing on a key stored twice.
func storedExposures(t *testing.T, db eventLog) map[string]string {
	t.Helper()
	defer db.Close()
	stored := map[string]string{}
	err := db.Events(context.Background(), "production", func(ev *ingest.Event) error {
		if ev.Type != ingest.Exposure {
			return nil
		}
		if _, ok := stored[ev.TargetingKey]; ok {
			t.Errorf("exposure of %s stored twice", ev.TargetingKey)
		}
		stored[ev.TargetingKey] = ev.Variant
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return stored
}
