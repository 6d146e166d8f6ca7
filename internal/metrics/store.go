package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smppd/smppd/internal/msgstore"
)

// StoreCollector reports the message store's sizes at scrape time, so the
// hot path never updates a gauge for them.
type StoreCollector struct {
	stats func() msgstore.Stats

	messages, pending, receipts, callbacks, callbacksFailed, outbox, queued *prometheus.Desc
	commitErrors                                                            *prometheus.Desc
}

// NewStoreCollector reads the store through stats (msgstore.Store.Stats).
func NewStoreCollector(stats func() msgstore.Stats) *StoreCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, nil, nil)
	}
	return &StoreCollector{
		stats:           stats,
		messages:        d("store_messages", "Messages in the store, final ones included."),
		pending:         d("store_pending_messages", "Test-mode messages waiting for their simulated outcome."),
		receipts:        d("receipts_pending", "Receipts waiting in the store for a receiver, all tokens."),
		callbacks:       d("callbacks_pending", "HTTP callbacks waiting to be delivered or retried."),
		callbacksFailed: d("callbacks_failed", "HTTP callbacks that gave up, kept for inspection."),
		outbox:          d("outbox_messages", "Live messages waiting for the upstream connector."),
		queued:          d("store_queued_operations", "Operations waiting for the store's committer."),
		commitErrors:    d("store_commit_errors_total", "Store transactions that failed; their operations were not acknowledged."),
	}
}

// Describe implements prometheus.Collector.
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.messages, c.pending, c.receipts, c.callbacks, c.callbacksFailed, c.outbox, c.queued, c.commitErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	g := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	g(c.messages, s.Messages)
	g(c.pending, s.Pending)
	g(c.receipts, s.Receipts)
	g(c.callbacks, s.Callbacks)
	g(c.callbacksFailed, s.CallbacksFailed)
	g(c.outbox, s.Outbox)
	g(c.queued, s.Queued)
	ch <- prometheus.MustNewConstMetric(c.commitErrors, prometheus.CounterValue, float64(s.CommitErrors))
}
