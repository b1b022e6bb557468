package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/valuelooptest"
)

// TestDashboardBodyDeadline: a sign-in form whose body stalls is answered
// 408 within --body-timeout, saying the form did not arrive, and the
// connection is closed. The dashboard was outside the API's guard: such a
// post held its connection, unanswered, for as long as the client liked.
func TestDashboardBodyDeadline(t *testing.T) {
	srv := MustServe(t, "", "--body-timeout", "300ms")
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ncsrf=")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "did not reach the server") {
		t.Errorf("status %d, want 408 saying the form did not reach the server:\n%s", resp.StatusCode, valuelooptest.GrepLines(string(body), "form"))
	}
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection read %d bytes after the answer, want it closed", n)
	}
}
