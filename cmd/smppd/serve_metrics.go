package main

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smppd/smppd/internal/upstream"
)

// The metrics of the upstream connector (and the callback sender's
// in-flight gauge). They live here, beside their wiring, until
// internal/metrics takes them; names and labels are the ones contrib/
// (alerts, dashboard) and /work/notes/requests.md agreed. Every label is
// bounded: upstream names come from the config, roles and states are fixed
// sets.

// upstreamMetrics implements upstream.Observer.
type upstreamMetrics struct {
	up        *prometheus.GaugeVec
	links     *prometheus.GaugeVec
	submits   *prometheus.CounterVec
	submitDur *prometheus.HistogramVec
	receipts  *prometheus.CounterVec
	mo        *prometheus.CounterVec

	mu     sync.Mutex
	states map[string]map[string]string // upstream → role → state
}

var _ upstream.Observer = (*upstreamMetrics)(nil)

func newUpstreamMetrics(reg prometheus.Registerer, cfg upstream.Config) *upstreamMetrics {
	m := &upstreamMetrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "smppd", Name: "upstream_up",
			Help: "1 while at least one session to the upstream is bound and can submit, else 0.",
		}, []string{"upstream"}),
		links: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "smppd", Name: "upstream_sessions",
			Help: "Sessions to upstreams by role (trx, tx, rx) and state (connecting, bound, backoff, stopped).",
		}, []string{"upstream", "role", "state"}),
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "smppd", Name: "upstream_submits_total",
			Help: "submit_sm sent to upstreams, by the answer (command_status name, timeout, connection_lost).",
		}, []string{"upstream", "result"}),
		submitDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "smppd", Name: "upstream_submit_duration_seconds",
			Help:    "Time from sending submit_sm to an upstream to its answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"upstream"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "smppd", Name: "upstream_receipts_total",
			Help: "Receipts received from upstreams, by whether they matched a forwarded message.",
		}, []string{"upstream", "matched"}),
		mo: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "smppd", Name: "upstream_mo_total",
			Help: "Mobile-originated messages received from upstreams, by whether a token took them.",
		}, []string{"upstream", "accepted"}),
		states: map[string]map[string]string{},
	}
	reg.MustRegister(m.up, m.links, m.submits, m.submitDur, m.receipts, m.mo)
	for _, u := range cfg.Upstreams {
		m.up.WithLabelValues(u.Name).Set(0) // down until a bind succeeds
	}
	return m
}

// LinkState implements upstream.Observer.
func (m *upstreamMetrics) LinkState(name, role, state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	roles := m.states[name]
	if roles == nil {
		roles = map[string]string{}
		m.states[name] = roles
	}
	if old, ok := roles[role]; ok {
		m.links.WithLabelValues(name, role, old).Set(0)
	}
	roles[role] = state
	m.links.WithLabelValues(name, role, state).Set(1)
	up := 0.0
	for r, st := range roles {
		if st == upstream.StateBound && r != "rx" {
			up = 1
		}
	}
	m.up.WithLabelValues(name).Set(up)
}

// Submitted implements upstream.Observer.
func (m *upstreamMetrics) Submitted(name, result string, d time.Duration) {
	m.submits.WithLabelValues(name, result).Inc()
	m.submitDur.WithLabelValues(name).Observe(d.Seconds())
}

// Receipt implements upstream.Observer.
func (m *upstreamMetrics) Receipt(name string, matched bool) {
	m.receipts.WithLabelValues(name, boolLabel(matched)).Inc()
}

// MO implements upstream.Observer.
func (m *upstreamMetrics) MO(name string, accepted bool) {
	m.mo.WithLabelValues(name, boolLabel(accepted)).Inc()
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// registerCallbackGauges exports the sender's in-flight count, read at
// scrape time (its events are counted by internal/metrics).
func registerCallbackGauges(reg prometheus.Registerer, inFlight func() int) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "smppd", Name: "callbacks_in_flight",
		Help: "HTTP callbacks being attempted or having their outcome written.",
	}, func() float64 { return float64(inFlight()) }))
}
