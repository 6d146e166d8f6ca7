package main

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smppd/smppd/internal/upstream"
)

// TestServeMetricsLint lints the upstream metrics and the callback gauge like
// internal/metrics' TestLint, and checks smppd_upstream_up follows the
// links: up while a session that can submit is bound, down otherwise.
func TestServeMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	um := newUpstreamMetrics(reg, upstream.Config{Upstreams: []upstream.Upstream{{Name: "a"}, {Name: "b"}}})
	registerCallbackGauges(reg, func() int { return 2 })

	um.LinkState("a", "tx", upstream.StateConnecting)
	um.LinkState("a", "tx", upstream.StateBound)
	um.LinkState("a", "rx", upstream.StateBound)
	um.LinkState("b", "rx", upstream.StateBound) // a receiver alone cannot submit
	um.Submitted("a", "ESME_ROK", 20*time.Millisecond)
	um.Receipt("a", true)
	um.MO("a", false)

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	const want = `
# HELP smppd_upstream_up 1 while at least one session to the upstream is bound and can submit, else 0.
# TYPE smppd_upstream_up gauge
smppd_upstream_up{upstream="a"} 1
smppd_upstream_up{upstream="b"} 0
# HELP smppd_callbacks_in_flight HTTP callbacks being attempted or having their outcome written.
# TYPE smppd_callbacks_in_flight gauge
smppd_callbacks_in_flight 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "smppd_upstream_up", "smppd_callbacks_in_flight"); err != nil {
		t.Error(err)
	}
	um.LinkState("a", "tx", upstream.StateBackoff)
	if v := testutil.ToFloat64(um.up.WithLabelValues("a")); v != 0 {
		t.Errorf("upstream a up = %v after its transmitter went to backoff", v)
	}
	if v := testutil.ToFloat64(um.links.WithLabelValues("a", "tx", upstream.StateBound)); v != 0 {
		t.Errorf("old state still counted: %v", v)
	}
}
