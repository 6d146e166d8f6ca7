package callback

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

// TestEventJSON pins the wire form documented in doc.go and the README.
func TestEventJSON(t *testing.T) {
	var cb msgstore.Callback
	cb.Seq = 42
	cb.TokenID = "tok_8f3a"
	cb.Attempts = 0
	cb.Receipt.MessageID = 0x1000000000001c
	cb.Receipt.State = pdu.StateUndeliverable
	cb.Receipt.ErrCode = "001"
	cb.Receipt.DoneAt = time.Date(2026, 11, 30, 0, 41, 9, 500e6, time.UTC)
	m := &cb.Receipt.Message
	m.Source = pdu.Address{TON: 5, Addr: "ACME"}
	m.Dest = pdu.Address{TON: 1, NPI: 1, Addr: "34600000001"}
	m.SubmitAt = time.Date(2026, 11, 30, 1, 41, 7, 123e6, time.FixedZone("CET", 3600))
	m.TestMode = true
	m.Concat.Ref, m.Concat.Total, m.Concat.Part = 7, 2, 1

	hex := func(id uint64) string { return strconv.FormatUint(id, 16) }
	b, err := marshal(Batch{Events: []Event{NewEvent(cb, "acme", hex)}})
	if err != nil {
		t.Fatal(err)
	}
	// The README example (a request carrying one event), byte for byte, and its
	// signature there.
	const want = `{"events":[{"event_id":"evt_1000000000001c_2a","type":"message.status","attempt":1,"message_id":"1000000000001c","token_id":"tok_8f3a","token_name":"acme","source":"ACME","destination":"34600000001","status":"UNDELIV","final":true,"error_code":"001","submitted_at":"2026-11-30T00:41:07.123Z","done_at":"2026-11-30T00:41:09.500Z","segment":{"ref":7,"total":2,"part":1},"test_mode":true}]}`
	if string(b) != want {
		t.Errorf("marshal() =\n%s\nwant\n%s", b, want)
	}
	const readmeSig = "t=1796000330,v1=262defe74cafd820f693b5d232c02b4cc659214d9bf4dee77c2bb56e9a8471db"
	if got := Sign("whsec_example", time.Unix(1796000330, 0), b); got != readmeSig {
		t.Errorf("Sign(README example) = %s, want %s", got, readmeSig)
	}

	// No HTML escaping: receivers compare raw strings.
	if b, _ := marshal(NewEvent(cb, "a<b>&c", hex)); !strings.Contains(string(b), `"token_name":"a<b>&c"`) {
		t.Errorf("marshal() escaped the token name: %s", b)
	}

	// Not multipart: no segment; intermediate state: final false; empty err: "000".
	cb.Receipt.Message.Concat.Total = 0
	cb.Receipt.State = pdu.StateEnroute
	cb.Receipt.ErrCode = ""
	ev := NewEvent(cb, "", func(uint64) string { return "x" })
	if ev.Segment != nil || ev.Final || ev.ErrorCode != "000" || ev.Status != "ENROUTE" {
		t.Errorf("NewEvent() = %+v, want no segment, final false, error_code 000, status ENROUTE", ev)
	}
}
