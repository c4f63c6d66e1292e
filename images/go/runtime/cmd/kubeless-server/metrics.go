package main

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
)

// The three metric families of the Kubeless contract, in the Prometheus text format.
// Written here (about a hundred lines) instead of linking the Prometheus Go client: the
// runtime image then builds with no network and the server binary stays small.

// Buckets are the other runtimes' (prom-client's, prometheus_client's) defaults.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Methods outside this list are counted as "other", so clients cannot grow the label set.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true,
	"PATCH": true, "DELETE": true, "OPTIONS": true}

type methodStats struct {
	calls, failures atomic.Uint64
	mu              sync.Mutex
	counts          []uint64 // per bucket, not cumulative
	sum             float64
	count           uint64
}

type metrics struct {
	mu      sync.RWMutex
	methods map[string]*methodStats
	workers func() int
}

func newMetrics(workers func() int) *metrics {
	return &metrics{methods: map[string]*methodStats{}, workers: workers}
}

func (m *metrics) stats(method string) *methodStats {
	if !knownMethods[method] {
		method = "other"
	}
	m.mu.RLock()
	s := m.methods[method]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.methods[method]; s == nil {
		s = &methodStats{counts: make([]uint64, len(buckets))}
		m.methods[method] = s
	}
	return s
}

// observe records one call of the function.
func (m *metrics) observe(method string, seconds float64, failed bool) {
	s := m.stats(method)
	s.calls.Add(1)
	if failed {
		s.failures.Add(1)
	}
	s.mu.Lock()
	for i, le := range buckets {
		if seconds <= le {
			s.counts[i]++
			break
		}
	}
	s.sum += seconds
	s.count++
	s.mu.Unlock()
}

func formatFloat(v float64) string {
	if math.IsInf(v, +1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// expose writes the text exposition (version 0.0.4).
func (m *metrics) expose() []byte {
	m.mu.RLock()
	names := make([]string, 0, len(m.methods))
	for name := range m.methods {
		names = append(names, name)
	}
	m.mu.RUnlock()
	sortStrings(names)
	var b bytes.Buffer
	b.WriteString("# HELP function_calls_total Number of calls to the function\n# TYPE function_calls_total counter\n")
	for _, name := range names {
		fmt.Fprintf(&b, "function_calls_total{method=%q} %d\n", name, m.stats(name).calls.Load())
	}
	b.WriteString("# HELP function_failures_total Number of calls that failed, crashed or timed out\n# TYPE function_failures_total counter\n")
	for _, name := range names {
		fmt.Fprintf(&b, "function_failures_total{method=%q} %d\n", name, m.stats(name).failures.Load())
	}
	b.WriteString("# HELP function_duration_seconds Duration of calls to the function in seconds\n# TYPE function_duration_seconds histogram\n")
	for _, name := range names {
		s := m.stats(name)
		s.mu.Lock()
		var cumulative uint64
		for i, le := range buckets {
			cumulative += s.counts[i]
			fmt.Fprintf(&b, "function_duration_seconds_bucket{method=%q,le=%q} %d\n", name, formatFloat(le), cumulative)
		}
		fmt.Fprintf(&b, "function_duration_seconds_bucket{method=%q,le=\"+Inf\"} %d\n", name, s.count)
		fmt.Fprintf(&b, "function_duration_seconds_sum{method=%q} %s\n", name, formatFloat(s.sum))
		fmt.Fprintf(&b, "function_duration_seconds_count{method=%q} %d\n", name, s.count)
		s.mu.Unlock()
	}
	if m.workers != nil {
		fmt.Fprintf(&b, "# HELP function_workers Worker processes running (or loading) the function\n# TYPE function_workers gauge\nfunction_workers %d\n", m.workers())
	}
	return b.Bytes()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
