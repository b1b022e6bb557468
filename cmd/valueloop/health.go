package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// healthCommand is `valueloop health`: asks a server's /readyz and exits 0
// when it is ready. The container image's HEALTHCHECK runs it, since a
// static image has no curl.
func healthCommand() *command {
	return &command{name: "health", args: "[--server URL] [--timeout 3s]", summary: "check that a server is up and ready (exit 0) or not (exit 1)",
		run: func(ctx context.Context, e *cliEnv, args []string) error {
			fs := newFlagSet(e, "health")
			server := fs.String("server", envOr(e, "VALUELOOP_SERVER", "http://127.0.0.1:8080"), "server URL (VALUELOOP_SERVER)")
			timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
			if err := e.parseNoArgs(fs, args); err != nil {
				return err
			}
			if err := checkServerURL(*server); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			url := strings.TrimSuffix(*server, "/") + "/readyz"
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return usageErrorf("--server: %v", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("cannot reach the Valueloop server at %s: %w", *server, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %s: not ready", url, resp.Status)
			}
			fmt.Fprintln(e.stdout, "ready")
			return nil
		}}
}
