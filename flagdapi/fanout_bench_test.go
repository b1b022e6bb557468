package flagdapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	evalv2 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v2"
	"google.golang.org/protobuf/types/known/structpb"
)

// BenchmarkEventStreamFanOut measures the CPU an event stream costs per
// change: 1,000 streams of production (a set of 1,000 flags) are told of
// changes of 100 flags each, every message encoded as the evaluation handlers'
// codec encodes it (the network's framing and writes are not counted). It
// reports the process's CPU (user and system) per stream per change, less
// the CPU of the change itself (measured without streams first).
//
//	go test ./flagdapi -run '^$' -bench EventStreamFanOut -count 6
func BenchmarkEventStreamFanOut(b *testing.B) {
	const streams, total, changed = 1000, 1000, 100
	set := func(v string) string {
		var fl []string
		for i := range total {
			def := "on"
			if i < changed {
				def = v
			}
			fl = append(fl, fmt.Sprintf(`"f%04d":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":%q}`, i, def))
		}
		return `{"flags":{` + strings.Join(fl, ",") + `}}`
	}
	sets := []string{set("off"), set("on")}
	s, apply, secret := newStreamServer(b)
	apply(sets[1])

	// The change alone, with no stream to tell.
	const alone = 4
	start := cpuTime()
	for i := range alone {
		apply(sets[i%2])
	}
	applyCPU := (cpuTime() - start) / alone

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	header := http.Header{"Authorization": {"Bearer " + secret}}
	var ready sync.WaitGroup
	ready.Add(streams)
	told := make(chan struct{}, streams)
	codec := eventCodec{&s.changes}
	for range streams {
		go s.eventStream(ctx, header, func(typ string, data *structpb.Struct) error {
			// What the handler's codec does with each message.
			if _, err := codec.Marshal(&evalv2.EventStreamResponse{Type: typ, Data: data}); err != nil {
				return err
			}
			switch typ {
			case "provider_ready":
				ready.Done()
			case "configuration_change":
				if n := len(data.GetFields()["flags"].GetStructValue().GetFields()); n != changed {
					b.Errorf("configuration_change names %d flags, want %d", n, changed)
				}
				told <- struct{}{}
			}
			return nil
		})
	}
	ready.Wait()

	b.ResetTimer()
	start = cpuTime()
	for i := range b.N {
		apply(sets[(alone+i)%2])
		for range streams {
			select {
			case <-told:
			case <-time.After(time.Minute):
				b.Fatal("the streams were not told of a change")
			}
		}
	}
	perStream := (cpuTime() - start - time.Duration(b.N)*applyCPU) / time.Duration(b.N*streams)
	b.ReportMetric(float64(perStream.Nanoseconds())/1e3, "cpu-µs/stream")
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
