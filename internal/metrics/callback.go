package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smppd/smppd/internal/callback"
)

// callbackMetrics are the HTTP delivery-report sender's metrics; queue
// depths come from the store collector (smppd_callbacks_pending/_failed).
type callbackMetrics struct {
	attempts *prometheus.CounterVec
	duration prometheus.Histogram
	retries  *prometheus.CounterVec
	deferred prometheus.Counter
	giveUps  *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newCallbackMetrics(reg prometheus.Registerer) *callbackMetrics {
	c := &callbackMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "callback_attempts_total",
			Help: "HTTP callback attempts by result (success, client_error, throttled, server_error, timeout, network_error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "callback_attempt_duration_seconds",
			Help:    "Time from an HTTP callback request to its response headers (or failure).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "callback_retries_total",
			Help: "HTTP callbacks rescheduled after a failed attempt, by that attempt's result.",
		}, []string{"result"}),
		deferred: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "callback_deferred_total",
			Help: "Due callbacks pushed back without an attempt because their slow host stayed at its concurrency limit.",
		}),
		giveUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "callback_giveups_total",
			Help: "HTTP callbacks abandoned, by reason (expired, client_error, token_not_found, no_url).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "callback_delivery_latency_seconds",
			Help:    "Time from a delivery report being queued to its receiver's 2xx, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12),
		}),
	}
	reg.MustRegister(c.attempts, c.duration, c.retries, c.deferred, c.giveUps, c.latency)
	return c
}

// The callback.Observer methods.

func (m *Metrics) CallbackAttempt(r callback.Result, d time.Duration) {
	m.cb.attempts.WithLabelValues(r.String()).Inc()
	m.cb.duration.Observe(d.Seconds())
}

func (m *Metrics) CallbackRetry(r callback.Result) { m.cb.retries.WithLabelValues(r.String()).Inc() }

func (m *Metrics) CallbackDeferred() { m.cb.deferred.Inc() }

func (m *Metrics) CallbackGiveUp(reason callback.GiveUpReason) {
	m.cb.giveUps.WithLabelValues(reason.String()).Inc()
}

func (m *Metrics) CallbackDelivered(sinceQueued time.Duration) {
	m.cb.latency.Observe(sinceQueued.Seconds())
}

var _ callback.Observer = (*Metrics)(nil)
