package httpapi

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	evaluations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	streams     prometheus.Gauge
	// streamsRevoked counts streams ended because their token was revoked;
	// streamsDropped those ended because the client read too slowly.
	streamsRevoked, streamsDropped prometheus.Counter

	// counters caches label lookups: WithLabelValues hashes its labels on
	// every call, which is measurable on the evaluation path.
	mu       sync.RWMutex
	counters map[[3]string]prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		counters: map[[3]string]prometheus.Counter{},
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "valueloop_evaluations_total",
			Help: "Flag evaluations served over OFREP, by environment, flag and reason.",
		}, []string{"environment", "flag", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "valueloop_http_request_duration_seconds",
			Help:    "Latency of API requests by route.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"route"}),
	}
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "valueloop_stream_clients",
		Help: "Connected flag stream (SSE) clients.",
	})
	m.streamsRevoked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "valueloop_stream_revoked_total",
		Help: "Flag streams ended because their token was revoked.",
	})
	m.streamsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "valueloop_stream_dropped_total",
		Help: "Flag streams ended because the client did not read a flag set within the write timeout.",
	})
	reg.MustRegister(m.evaluations, m.duration, m.streams, m.streamsRevoked, m.streamsDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) evaluation(env, flag, reason string) {
	k := [3]string{env, flag, reason}
	m.mu.RLock()
	c, ok := m.counters[k]
	m.mu.RUnlock()
	if !ok {
		c = m.evaluations.WithLabelValues(env, flag, reason)
		m.mu.Lock()
		m.counters[k] = c
		m.mu.Unlock()
	}
	c.Inc()
}
