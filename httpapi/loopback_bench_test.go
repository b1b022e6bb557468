package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop/bench/cputime"
)

// BenchmarkOFREPLoopback measures OFREP single-flag evaluations served by a
// real server over loopback TCP (net/http's connection handling, body
// deadlines and all), beside a bare net/http server that reads the body and
// writes a fixed answer, as bench/ofrep.sh compares them, but in one
// process: the client is a few keep-alive connections writing prepared
// requests and reading the answers, a small cost beside the server's.
// cpu-us/op is the CPU of the whole process (client included) per request,
// the writer of exposures too: it waits until every exposure is stored.
func BenchmarkOFREPLoopback(b *testing.B) {
	for _, mode := range []string{"bare", "returning", "first-seen"} {
		b.Run(mode, func(b *testing.B) {
			var url, token string
			var recorded func() uint64
			if mode == "bare" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header()["Content-Type"] = []string{"application/json"}
					w.Write([]byte(`{"key":"kill","value":true,"reason":"STATIC","variant":"on"}`))
				})}
				go srv.Serve(ln)
				b.Cleanup(func() { srv.Close() })
				url, token, recorded = ln.Addr().String(), "x", func() uint64 { return 0 }
			} else {
				e := MustServer(b)
				c := e.srv.Events.Pipeline.Counters()
				url, token = e.srv.URL()[len("http://"):], e.eval
				recorded = func() uint64 { return c.ExposuresRecorded.Load() + c.ExposuresDropped.Load() }
			}
			const conns = 8
			var next atomic.Int64
			var sent atomic.Int64
			before := recorded()
			work := make(chan int, conns)
			var wg sync.WaitGroup
			for i := 0; i < conns; i++ {
				conn, err := net.Dial("tcp", url)
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					br := bufio.NewReader(conn)
					var req, body []byte
					for n := range work {
						for j := 0; j < n; j++ {
							user := "user-123"
							if mode == "first-seen" {
								user = "new-" + strconv.FormatInt(next.Add(1), 10)
							}
							body = append(append(append(body[:0], `{"context":{"targetingKey":"`...), user...), `","email":"a@example.com"}}`...)
							req = fmt.Appendf(req[:0], "POST /ofrep/v1/evaluate/flags/kill HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", token, len(body), body)
							if _, err := conn.Write(req); err != nil {
								b.Error(err)
								return
							}
							if err := readAnswer(br); err != nil {
								b.Error(err)
								return
							}
							sent.Add(1)
						}
					}
				}()
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Seconds()
			// Hand the requests out in small batches, so that every
			// connection has one in flight most of the time.
			for left := b.N; left > 0; left -= 16 {
				work <- min(left, 16)
			}
			close(work)
			wg.Wait()
			if mode == "first-seen" {
				for recorded() < before+uint64(b.N) {
					time.Sleep(time.Millisecond)
				}
			}
			b.StopTimer()
			if cpu1 := cputime.Seconds(); cpu0 >= 0 {
				b.ReportMetric((cpu1-cpu0)/float64(b.N)*1e6, "cpu-us/op")
			}
		})
	}
}

// readAnswer reads one HTTP/1.1 answer with a Content-Length and checks
// that it is 200.
func readAnswer(br *bufio.Reader) error {
	status, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
		return fmt.Errorf("answer %q", status)
	}
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 {
		return fmt.Errorf("answer without Content-Length")
	}
	_, err = br.Discard(length)
	return err
}
