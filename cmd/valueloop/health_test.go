package main

import (
	"net"
	"strings"
	"testing"
)

// TestHealthCommand: 'valueloop health' (the image's HEALTHCHECK) exits 0
// against a ready server and 1, saying why, when none answers.
func TestHealthCommand(t *testing.T) {
	srv := MustServe(t, "")
	code, stdout, stderr := runCLI(t, "health", "--server", srv.URL)
	if code != exitOK || stdout != "ready\n" {
		t.Errorf("health of a ready server: exit %d, %q, %q", code, stdout, stderr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	code, _, stderr = runCLI(t, "health", "--server", "http://"+addr)
	if code != exitError || !strings.Contains(stderr, "cannot reach the Valueloop server") {
		t.Errorf("health with no server: exit %d, %q; want %d saying it cannot reach it", code, stderr, exitError)
	}
}
