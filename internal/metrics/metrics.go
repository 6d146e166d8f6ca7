// Package metrics exposes smppd's Prometheus metrics. Everything is
// registered on an injected Registerer; the hot-path hooks (one call per
// PDU) reach pre-resolved counters through a lock-free cache instead of a
// label lookup per call.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
)

const namespace = "smppd"

// Metrics holds every collector smppd exports.
type Metrics struct {
	sessions       *prometheus.GaugeVec
	sessionsClosed *prometheus.CounterVec
	binds          *prometheus.CounterVec
	pdusIn         *prometheus.CounterVec
	pdusOut        *prometheus.CounterVec
	submits        *prometheus.CounterVec
	segments       prometheus.Counter
	submitDuration prometheus.Histogram
	commitBatch    prometheus.Histogram
	commitDuration prometheus.Histogram
	receiptsQueued prometheus.Counter
	receiptsSent   *prometheus.CounterVec
	receiptsExpire prometheus.Counter

	in, out sync.Map // pduKey → prometheus.Counter
	cb      *callbackMetrics

	// submitted and sent cache per-status counters (pdu.Status → prometheus.Counter).
	submitted, sent sync.Map
}

// counterFor returns vec's counter for status, resolved once.
func counterFor(cache *sync.Map, vec *prometheus.CounterVec, status pdu.Status) prometheus.Counter {
	if c, ok := cache.Load(status); ok {
		return c.(prometheus.Counter)
	}
	if !status.Known() {
		// A client chooses the statuses of its responses: keep labels bounded.
		return vec.WithLabelValues("other")
	}
	c := vec.WithLabelValues(status.String())
	cache.Store(status, c)
	return c
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "sessions",
			Help: "Bound SMPP sessions by bind type.",
		}, []string{"bind_type"}),
		sessionsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sessions_closed_total",
			Help: "SMPP connections closed, by reason.",
		}, []string{"reason"}),
		binds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "binds_total",
			Help: "Bind attempts by result (ok, invalid_credentials, refused, error).",
		}, []string{"result"}),
		pdusIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "pdus_received_total",
			Help: "PDUs received, by command and command_status.",
		}, []string{"command", "status"}),
		pdusOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "pdus_sent_total",
			Help: "PDUs sent, by command and command_status.",
		}, []string{"command", "status"}),
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "submits_total",
			Help: "Submissions (submit_sm, data_sm, submit_multi) by the status answered; ESME_RTHROTTLED counts throttled submits.",
		}, []string{"status"}),
		segments: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "submit_segments_total",
			Help: "SMS segments accepted (a message_payload counts the parts it needs).",
		}),
		submitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "submit_duration_seconds",
			Help:    "Time from reading a submission to its response, including the store commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_commit_batch_size",
			Help:    "Operations committed per store transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_commit_duration_seconds",
			Help:    "Time of one store transaction, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		receiptsQueued: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "receipts_queued_total",
			Help: "Delivery receipts queued for a token's receivers.",
		}),
		receiptsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "receipts_sent_total",
			Help: "Receipts sent as deliver_sm, by the client's answer (ESME_RSYSERR: no answer or session closed).",
		}, []string{"status"}),
		receiptsExpire: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "receipts_expired_total",
			Help: "Receipts dropped after waiting their TTL without a receiver.",
		}),
	}
	reg.MustRegister(m.sessions, m.sessionsClosed, m.binds, m.pdusIn, m.pdusOut, m.submits,
		m.segments, m.submitDuration, m.commitBatch, m.commitDuration, m.receiptsQueued,
		m.receiptsSent, m.receiptsExpire)
	m.cb = newCallbackMetrics(reg)
	for _, bt := range []smppd.BindType{smppd.BindTransmitter, smppd.BindReceiver, smppd.BindTransceiver} {
		m.sessions.WithLabelValues(bt.String())
	}
	return m
}

type pduKey struct {
	id     pdu.CommandID
	status pdu.Status
}

// PDU counts one PDU; wire it to smppd.Server.PDUHook.
func (m *Metrics) PDU(_ *smppd.Session, in bool, h pdu.Header) {
	cache, vec := &m.out, m.pdusOut
	if in {
		cache, vec = &m.in, m.pdusIn
	}
	k := pduKey{h.ID, h.Status}
	if c, ok := cache.Load(k); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	cmd := h.ID.String()
	if !h.ID.Known() {
		cmd = "unknown" // bounded labels: a client can send any id
	}
	st := h.Status.String()
	if !h.Status.Known() {
		st = "other"
	}
	c := vec.WithLabelValues(cmd, st)
	if h.ID.Known() && h.Status.Known() {
		cache.Store(k, c)
	}
	c.Inc()
}

// ConnState tracks bound sessions; wire it to smppd.Server.ConnState
// (chained with the gateway's).
func (m *Metrics) ConnState(s *smppd.Session, st smppd.ConnState) {
	switch st {
	case smppd.StateBound:
		m.sessions.WithLabelValues(s.BindType().String()).Inc()
	case smppd.StateClosed:
		if !s.BoundAt().IsZero() {
			m.sessions.WithLabelValues(s.BindType().String()).Dec()
		}
		m.sessionsClosed.WithLabelValues(s.CloseReason().String()).Inc()
	}
}

// Commit observes one store transaction; wire it to the store's OnCommit.
func (m *Metrics) Commit(batch int, d time.Duration) {
	m.commitBatch.Observe(float64(batch))
	m.commitDuration.Observe(d.Seconds())
}

// The gateway.Observer methods.

func (m *Metrics) Bind(result string) { m.binds.WithLabelValues(result).Inc() }

func (m *Metrics) Submit(status pdu.Status, d time.Duration, segments int) {
	counterFor(&m.submitted, m.submits, status).Inc()
	if status == pdu.StatusOK {
		m.submitDuration.Observe(d.Seconds())
		m.segments.Add(float64(segments))
	}
}

func (m *Metrics) ReceiptQueued() { m.receiptsQueued.Inc() }

func (m *Metrics) ReceiptSent(status pdu.Status) { counterFor(&m.sent, m.receiptsSent, status).Inc() }

func (m *Metrics) ReceiptsExpired(n int) { m.receiptsExpire.Add(float64(n)) }
