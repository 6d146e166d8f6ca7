package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smppd/smppd/internal/callback"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

// TestLint checks every metric against Prometheus' naming and help rules
// (what promtool check metrics reports), after each kind has a sample.
func TestLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	reg.MustRegister(NewStoreCollector(func() msgstore.Stats { return msgstore.Stats{Receipts: 3} }))

	m.PDU(nil, true, pdu.Header{ID: pdu.CmdSubmitSM})
	m.PDU(nil, false, pdu.Header{ID: pdu.CmdSubmitSMResp, Status: pdu.StatusThrottled})
	m.PDU(nil, true, pdu.Header{ID: 0x12345, Status: 0x7777}) // unknown: bounded labels
	m.Bind("ok")
	m.Submit(pdu.StatusOK, time.Millisecond, 1)
	m.ReceiptQueued()
	m.ReceiptSent(pdu.StatusOK)
	m.ReceiptSent(0xdeadbeef)
	m.ReceiptsExpired(2)
	m.Commit(10, time.Millisecond)
	m.CallbackAttempt(callback.ResultServerError, time.Millisecond)
	m.CallbackRetry(callback.ResultServerError)
	m.CallbackDeferred()
	m.CallbackGiveUp(callback.GiveUpExpired)
	m.CallbackDelivered(time.Second)

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}

	const want = `
# HELP smppd_pdus_received_total PDUs received, by command and command_status.
# TYPE smppd_pdus_received_total counter
smppd_pdus_received_total{command="submit_sm",status="ESME_ROK"} 1
smppd_pdus_received_total{command="unknown",status="other"} 1
# HELP smppd_receipts_sent_total Receipts sent as deliver_sm, by the client's answer (ESME_RSYSERR: no answer or session closed).
# TYPE smppd_receipts_sent_total counter
smppd_receipts_sent_total{status="ESME_ROK"} 1
smppd_receipts_sent_total{status="other"} 1
# HELP smppd_receipts_pending Receipts waiting in the store for a receiver, all tokens.
# TYPE smppd_receipts_pending gauge
smppd_receipts_pending 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"smppd_pdus_received_total", "smppd_receipts_sent_total", "smppd_receipts_pending"); err != nil {
		t.Error(err)
	}
}
