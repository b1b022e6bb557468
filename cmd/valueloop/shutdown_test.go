package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestShutdownWithStalledClient: serve stops with exit 0 while a client
// is stalled in the middle of a request body (it once waited out the whole
// grace period and exited 1). Stop fails the test on any other exit code.
func TestShutdownWithStalledClient(t *testing.T) {
	srv := MustServe(t, "")
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := fmt.Sprintf("POST /api/v1/environments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"key\":", srv.Admin)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server start reading the body
	srv.Stop(t)
}
