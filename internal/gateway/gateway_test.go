package gateway_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp"
	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/tokenstore"
)

// TestGoSMPPTransceiverReceipt: the third-party go-smpp client binds as a
// transceiver, submits with a receipt request, and gets the receipt with the
// same message id in submit_sm_resp, receipted_message_id and the text.
func TestGoSMPPTransceiverReceipt(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("shop", true, nil)

	receipts := make(chan gopdu.Body, 4)
	tx := &smpp.Transceiver{
		Addr: e.addr, User: tok.SystemID, Passwd: pw,
		Handler: func(p gopdu.Body) {
			if p.Header().ID == gopdu.DeliverSMID {
				receipts <- p
			}
		},
	}
	defer tx.Close()
	if st := <-tx.Bind(); st.Status() != smpp.Connected {
		t.Fatalf("bind: %v %v", st.Status(), st.Error())
	}
	sm, err := tx.Submit(&smpp.ShortMessage{
		Src: "15550001", Dst: "15550002", Text: pdutext.Raw("hello"),
		Register: pdufield.FinalDeliveryReceipt,
	})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	id := sm.RespID()
	if id == "" {
		t.Fatal("empty message id")
	}
	select {
	case p := <-receipts:
		f := p.Fields()
		if got := f[pdufield.ESMClass].Raw().(uint8); got != 0x04 {
			t.Errorf("esm_class = %#x, want 0x04", got)
		}
		if got := f[pdufield.SourceAddr].String(); got != "15550002" {
			t.Errorf("receipt source = %q, want the original destination", got)
		}
		text := f[pdufield.ShortMessage].String()
		if !strings.Contains(text, "id:"+id+" ") || !strings.Contains(text, "stat:DELIVRD") {
			t.Errorf("receipt text %q lacks id:%s or stat:DELIVRD", text, id)
		}
		tlv := p.TLVFields()
		if got := strings.TrimRight(string(tlv[pdutlv.TagReceiptedMessageID].Bytes()), "\x00"); got != id {
			t.Errorf("receipted_message_id = %q, want %q", got, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no receipt")
	}
}

// TestReceiptsWaitForReceiver: receipts of messages sent over a
// transmitter wait in the store while no receiver is bound, survive a
// restart, and arrive oldest first when a receiver binds.
func TestReceiptsWaitForReceiver(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("shop", true, nil)

	tx := dialRaw(t, e.addr)
	if st := tx.bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	var ids []string
	for i := 0; i < 5; i++ {
		h, resp := tx.call(submit("4477000000"+string(rune('0'+i)), 1))
		if h.Status != pdu.StatusOK {
			t.Fatalf("submit: %v", h.Status)
		}
		ids = append(ids, idOf(t, resp))
	}
	tx.conn.Close()

	e.stop()
	e.start()

	rx := dialRaw(t, e.addr)
	if st := rx.bind(pdu.CmdBindReceiver, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind receiver: %v", st)
	}
	for i, want := range ids {
		h, p := rx.next()
		_, rc := receipt(t, p)
		if rc.ID != want {
			t.Errorf("receipt %d id = %q, want %q (oldest first)", i, rc.ID, want)
		}
		rx.ack(h)
	}
}

// TestTestModeOutcomes walks the documented outcome table.
func TestTestModeOutcomes(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("sim", true, nil)
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransceiver, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	tests := []struct {
		dest string
		want []pdu.MessageState // receipts in order
		err  string
	}{
		{"447700900000", []pdu.MessageState{pdu.StateDelivered}, "000"},
		{"447700009001", []pdu.MessageState{pdu.StateUndeliverable}, "001"},
		{"447700009002", []pdu.MessageState{pdu.StateRejected}, "002"},
		{"447700009003", []pdu.MessageState{pdu.StateExpired}, "003"},
		{"447700009004", []pdu.MessageState{pdu.StateDeleted}, "004"},
		{"447700009005", []pdu.MessageState{pdu.StateUnknown}, "005"},
		{"447700009006", []pdu.MessageState{pdu.StateEnroute, pdu.StateDelivered}, "000"},
	}
	for _, tt := range tests {
		t.Run(tt.dest, func(t *testing.T) {
			seq := c.send(submit(tt.dest, 1|0x10))
			var id string
			var got []pdu.MessageState
			var lastErr string
			for len(got) < len(tt.want) || id == "" {
				h, p := c.next()
				switch h.ID {
				case pdu.CmdSubmitSMResp:
					if h.Seq != seq || h.Status != pdu.StatusOK {
						t.Fatalf("submit_sm_resp seq %d status %v", h.Seq, h.Status)
					}
					id = idOf(t, p)
				case pdu.CmdDeliverSM:
					d, rc := receipt(t, p)
					if rc.Stat.Final() && d.ESMClass != 0x04 || !rc.Stat.Final() && d.ESMClass != 0x20 {
						t.Errorf("esm_class %#x for %v", d.ESMClass, rc.Stat)
					}
					if _, ok := d.TLVs.NetworkErrorCode(); ok != (rc.Stat == pdu.StateUndeliverable || rc.Stat == pdu.StateRejected) {
						t.Errorf("network_error_code present = %v for %v", ok, rc.Stat)
					}
					got = append(got, rc.Stat)
					lastErr = rc.Err
					c.ack(h)
				default:
					t.Fatalf("unexpected %v", h.ID)
				}
			}
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Fatalf("receipts %v, want %v", got, tt.want)
				}
			}
			if lastErr != tt.err {
				t.Errorf("err:%s, want %s", lastErr, tt.err)
			}
		})
	}
}

// TestBindFailures: unknown system_id and wrong password look the same; a
// revoked token and IP/quota refusals get their documented statuses.
func TestBindFailures(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("a", true, func(p *tokenstore.CreateParams) { p.Limits.MaxBinds = 1 })
	revoked, rpw := e.token("b", true, nil)
	if _, err := e.tokens.Revoke(revoked.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		sysID, pw string
		want      pdu.Status
	}{
		{"unknown system_id", "nosuchid", pw, pdu.StatusInvPaswd},
		{"wrong password", tok.SystemID, "wrong123", pdu.StatusInvPaswd},
		{"truncated long password prefix", tok.SystemID, pw[:len(pw)-1], pdu.StatusInvPaswd},
		{"revoked", revoked.SystemID, rpw, pdu.StatusInvPaswd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, e.addr)
			if st := c.bind(pdu.CmdBindTransceiver, tt.sysID, tt.pw); st != tt.want {
				t.Errorf("bind = %v, want %v", st, tt.want)
			}
		})
	}
	t.Run("max_binds", func(t *testing.T) {
		first := dialRaw(t, e.addr)
		if st := first.bind(pdu.CmdBindTransceiver, tok.SystemID, pw); st != pdu.StatusOK {
			t.Fatalf("first bind = %v", st)
		}
		second := dialRaw(t, e.addr)
		if st := second.bind(pdu.CmdBindTransceiver, tok.SystemID, pw); st != pdu.StatusBindFail {
			t.Errorf("second bind = %v, want ESME_RBINDFAIL", st)
		}
	})
	t.Run("ip not allowed", func(t *testing.T) {
		other, opw := e.token("c", true, func(p *tokenstore.CreateParams) {
			p.Limits.AllowIPs = append(p.Limits.AllowIPs, netip.MustParsePrefix("10.0.0.0/8"))
		})
		c := dialRaw(t, e.addr)
		if st := c.bind(pdu.CmdBindTransceiver, other.SystemID, opw); st != pdu.StatusBindFail {
			t.Errorf("bind = %v, want ESME_RBINDFAIL", st)
		}
	})
}

// TestThrottle: a token limited to 5 messages/s gets ESME_RTHROTTLED past
// its burst, and the throttled submits are not stored.
func TestThrottle(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("slow", true, func(p *tokenstore.CreateParams) { p.Limits.MaxTPS = 5 })
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	ok, throttled := 0, 0
	for i := 0; i < 20; i++ {
		h, _ := c.call(submit("447700900001", 0))
		switch h.Status {
		case pdu.StatusOK:
			ok++
		case pdu.StatusThrottled:
			throttled++
		default:
			t.Fatalf("status %v", h.Status)
		}
	}
	if throttled == 0 || ok < 5 {
		t.Errorf("ok=%d throttled=%d, want a burst of 5 accepted and the rest throttled", ok, throttled)
	}
}

// TestTokenChangeUnbinds: revoking a token unbinds its live sessions at
// once (the daemon calls TokenChanged after every admin change).
func TestTokenChangeUnbinds(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("gone", true, nil)
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransceiver, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	revoked, err := e.tokens.Revoke(tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.gw.TokenChanged(revoked)
	h, _ := c.next()
	if h.ID != pdu.CmdUnbind {
		t.Fatalf("got %v, want unbind", h.ID)
	}
}

// TestScheduledQueryCancel: a scheduled message is ENROUTE to query_sm,
// can be cancelled, and is DELETED afterwards; another token cannot see it.
func TestScheduledQueryCancel(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("sched", true, nil)
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransceiver, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	s := submit("447700900002", 1)
	s.ScheduleDeliveryTime = "000001000000000R" // in one day
	h, resp := c.call(s)
	if h.Status != pdu.StatusOK {
		t.Fatalf("submit: %v", h.Status)
	}
	id := idOf(t, resp)

	h, resp = c.call(&pdu.QuerySM{MessageID: id, Source: s.Source})
	if h.Status != pdu.StatusOK || resp.(*pdu.QuerySMResp).MessageState != pdu.StateEnroute {
		t.Fatalf("query: %v %#v", h.Status, resp)
	}

	other, opw := e.token("other", true, nil)
	o := dialRaw(t, e.addr)
	o.bind(pdu.CmdBindTransceiver, other.SystemID, opw)
	if h, _ := o.call(&pdu.QuerySM{MessageID: id}); h.Status != pdu.StatusQueryFail {
		t.Errorf("other token's query = %v, want ESME_RQUERYFAIL", h.Status)
	}
	if h, _ := o.call(&pdu.CancelSM{MessageID: id}); h.Status != pdu.StatusCancelFail {
		t.Errorf("other token's cancel = %v, want ESME_RCANCELFAIL", h.Status)
	}

	if h, _ := c.call(&pdu.CancelSM{MessageID: id, Source: s.Source}); h.Status != pdu.StatusOK {
		t.Fatalf("cancel: %v", h.Status)
	}
	h, resp = c.call(&pdu.QuerySM{MessageID: id, Source: s.Source})
	if h.Status != pdu.StatusOK || resp.(*pdu.QuerySMResp).MessageState != pdu.StateDeleted {
		t.Fatalf("query after cancel: %v %#v", h.Status, resp)
	}
	if h, _ := c.call(&pdu.CancelSM{MessageID: id}); h.Status != pdu.StatusCancelFail {
		t.Errorf("second cancel = %v, want ESME_RCANCELFAIL", h.Status)
	}
}

// TestSubmitValidation: each malformed field gets the status the spec
// names, and nothing is stored for it.
func TestSubmitValidation(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("v", true, nil)
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	tests := []struct {
		name string
		mod  func(*pdu.SubmitSM)
		want pdu.Status
	}{
		{"ok", func(*pdu.SubmitSM) {}, pdu.StatusOK},
		{"empty destination", func(s *pdu.SubmitSM) { s.Dest.Addr = "" }, pdu.StatusInvDstAdr},
		{"letters in international destination", func(s *pdu.SubmitSM) { s.Dest.Addr = "44abc" }, pdu.StatusInvDstAdr},
		{"bad destination TON", func(s *pdu.SubmitSM) { s.Dest.TON = 9 }, pdu.StatusInvDstTON},
		{"bad destination NPI", func(s *pdu.SubmitSM) { s.Dest.NPI = 7 }, pdu.StatusInvDstNPI},
		{"bad source TON", func(s *pdu.SubmitSM) { s.Source.TON = 7 }, pdu.StatusInvSrcTON},
		{"alphanumeric source too long", func(s *pdu.SubmitSM) { s.Source = pdu.Address{TON: pdu.TONAlphanumeric, Addr: "TwelveLetter"} }, pdu.StatusInvSrcAdr},
		{"alphanumeric source", func(s *pdu.SubmitSM) { s.Source = pdu.Address{TON: pdu.TONAlphanumeric, Addr: "MyShop"} }, pdu.StatusOK},
		{"receipt esm_class", func(s *pdu.SubmitSM) { s.ESMClass = 0x04 }, pdu.StatusInvEsmClass},
		{"registered_delivery 3", func(s *pdu.SubmitSM) { s.RegisteredDelivery = 3 }, pdu.StatusInvRegDlvFlg},
		{"priority 4", func(s *pdu.SubmitSM) { s.PriorityFlag = 4 }, pdu.StatusInvPrtFlg},
		{"replace_if_present 2", func(s *pdu.SubmitSM) { s.ReplaceIfPresent = 2 }, pdu.StatusInvRepFlag},
		{"bad schedule", func(s *pdu.SubmitSM) { s.ScheduleDeliveryTime = "991399000000000+" }, pdu.StatusInvSched},
		{"bad validity", func(s *pdu.SubmitSM) { s.ValidityPeriod = "991301000000000+" }, pdu.StatusInvExpiry},
		{"validity in the past", func(s *pdu.SubmitSM) { s.ValidityPeriod = "000101000000000+" }, pdu.StatusInvExpiry},
		{"relative validity", func(s *pdu.SubmitSM) { s.ValidityPeriod = "000000010000000R" }, pdu.StatusOK},
		{"payload with short_message", func(s *pdu.SubmitSM) { s.TLVs.SetMessagePayload([]byte("x")) }, pdu.StatusOptParNotAllwd},
		{"payload alone", func(s *pdu.SubmitSM) {
			s.ShortMessage = nil
			s.TLVs.SetMessagePayload([]byte(strings.Repeat("long ", 100)))
		}, pdu.StatusOK},
		{"UDHI without a UDH", func(s *pdu.SubmitSM) { s.ESMClass = 0x40; s.ShortMessage = []byte{9, 0} }, pdu.StatusInvMsgLen},
		{"UDH concatenated part", func(s *pdu.SubmitSM) {
			s.ESMClass = 0x40
			s.ShortMessage = append([]byte{5, 0, 3, 42, 2, 1}, "part one"...)
		}, pdu.StatusOK},
		{"canned message", func(s *pdu.SubmitSM) { s.SMDefaultMsgID = 3 }, pdu.StatusInvDftMsgID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := submit("447700900003", 0)
			tt.mod(s)
			h, _ := c.call(s)
			if h.Status != tt.want {
				t.Errorf("status = %v, want %v", h.Status, tt.want)
			}
			// SMPP 3.4 §4.4.2: no body in a refused submit_sm_resp (libsmpp34
			// cannot unpack one that has an empty message_id).
			if h.Status != pdu.StatusOK && h.Length != pdu.HeaderLen {
				t.Errorf("refused submit_sm_resp is %d octets, want the %d-octet header alone", h.Length, pdu.HeaderLen)
			}
		})
	}
}

// TestMessageIDsUniqueAcrossRestart: ids never repeat after a restart, in
// every format, and parse back for query_sm.
func TestMessageIDsUniqueAcrossRestart(t *testing.T) {
	for _, f := range []string{"hex", "decimal", "uuid"} {
		t.Run(f, func(t *testing.T) {
			format, err := gateway.ParseIDFormat(f)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, gateway.Config{IDFormat: format})
			tok, pw := e.token("ids", true, nil)
			seen := map[string]bool{}
			for round := 0; round < 3; round++ {
				c := dialRaw(t, e.addr)
				if st := c.bind(pdu.CmdBindTransceiver, tok.SystemID, pw); st != pdu.StatusOK {
					t.Fatalf("bind: %v", st)
				}
				for i := 0; i < 5; i++ {
					h, resp := c.call(submit("447700900004", 0))
					if h.Status != pdu.StatusOK {
						t.Fatalf("submit: %v", h.Status)
					}
					id := idOf(t, resp)
					if seen[id] || len(id) > 64 {
						t.Fatalf("id %q reused or too long", id)
					}
					seen[id] = true
					if h, _ := c.call(&pdu.QuerySM{MessageID: id}); h.Status != pdu.StatusOK {
						t.Fatalf("query %q: %v", id, h.Status)
					}
				}
				c.conn.Close()
				e.stop()
				e.start()
			}
		})
	}
}

// TestBindLockout: after 10 failed binds, binds to that system_id from new
// addresses are refused without a password check, while an address that
// bound it before keeps working; the guessing address is locked out too.
func TestBindLockout(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("target", true, nil)

	if st := dialRawFrom(t, e.addr, "127.0.0.1").bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("legitimate bind = %v", st)
	}
	for i := 0; i < 10; i++ {
		if st := dialRawFrom(t, e.addr, "127.0.0.2").bind(pdu.CmdBindTransmitter, tok.SystemID, "guess"+strconv.Itoa(i)); st != pdu.StatusInvPaswd {
			t.Fatalf("guess %d = %v, want ESME_RINVPASWD", i, st)
		}
	}
	if st := dialRawFrom(t, e.addr, "127.0.0.2").bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusBindFail {
		t.Errorf("right password from the guessing address = %v, want ESME_RBINDFAIL", st)
	}
	if st := dialRawFrom(t, e.addr, "127.0.0.3").bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusBindFail {
		t.Errorf("right password from a new address = %v, want ESME_RBINDFAIL while the system_id is locked", st)
	}
	if st := dialRawFrom(t, e.addr, "127.0.0.1").bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusOK {
		t.Errorf("known address = %v, want ESME_ROK", st)
	}
}

// TestFailedBindDelay: a failed bind's answer is held back (no timing
// assertion: the answer must not arrive before the delay has passed).
func TestFailedBindDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	e := newEnv(t, gateway.Config{FailedBindDelay: delay})
	tok, _ := e.token("slow", true, nil)
	start := time.Now()
	if st := dialRaw(t, e.addr).bind(pdu.CmdBindTransmitter, tok.SystemID, "wrong"); st != pdu.StatusInvPaswd {
		t.Fatalf("bind = %v", st)
	}
	if d := time.Since(start); d < delay {
		t.Errorf("failed bind answered after %v, before the %v delay", d, delay)
	}
}

// TestDataSMAndSubmitMulti: data_sm is accepted like submit_sm; submit_multi
// stores one message per valid destination, lists the invalid ones in
// unsuccess_sme, and every stored destination gets its own receipt.
func TestDataSMAndSubmitMulti(t *testing.T) {
	e := newEnv(t, gateway.Config{})
	tok, pw := e.token("multi", true, nil)
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransceiver, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}

	d := &pdu.DataSM{
		Source:             pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
		Dest:               pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "447700900010"},
		RegisteredDelivery: 0,
	}
	d.TLVs.SetMessagePayload([]byte("data_sm payload"))
	h, resp := c.call(d)
	if h.Status != pdu.StatusOK || resp.(*pdu.DataSMResp).MessageID == "" {
		t.Fatalf("data_sm: %v %#v", h.Status, resp)
	}

	m := &pdu.SubmitMulti{
		Source: pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
		Dests: []pdu.DestAddr{
			{Addr: pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "447700900011"}},
			{Addr: pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "44abc"}},
			{Addr: pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "447700900012"}},
		},
		RegisteredDelivery: 1,
		ShortMessage:       []byte("to several"),
	}
	seq := c.send(m)
	receipts := map[string]string{} // receipted id → receipt source (the original destination)
	var first string
	for first == "" || len(receipts) < 2 {
		h, p := c.next()
		switch h.ID {
		case pdu.CmdSubmitMultiResp:
			r := p.(*pdu.SubmitMultiResp)
			if h.Seq != seq || h.Status != pdu.StatusOK {
				t.Fatalf("submit_multi_resp %v", h.Status)
			}
			if len(r.Unsuccess) != 1 || r.Unsuccess[0].Addr.Addr != "44abc" || r.Unsuccess[0].Status != pdu.StatusInvDstAdr {
				t.Errorf("unsuccess_sme = %+v, want 44abc with ESME_RINVDSTADR", r.Unsuccess)
			}
			first = r.MessageID
		case pdu.CmdDeliverSM:
			dsm, rc := receipt(t, p)
			receipts[rc.ID] = dsm.Source.Addr
			c.ack(h)
		default:
			t.Fatalf("unexpected %v", h.ID)
		}
	}
	if receipts[first] != "447700900011" {
		t.Errorf("the response's id %q is not the first destination's receipt (%v)", first, receipts)
	}
	dests := map[string]bool{}
	for _, src := range receipts {
		dests[src] = true
	}
	if !dests["447700900011"] || !dests["447700900012"] {
		t.Errorf("receipts for %v, want both valid destinations", dests)
	}
}

// TestDelayedScheduledAndExpired: with a receipt delay the outcome comes
// later; a message scheduled after its validity period ends gets EXPIRED at
// the end of its validity; replace_sm changes a scheduled message's text and
// brings its delivery forward.
func TestDelayedScheduledAndExpired(t *testing.T) {
	e := newEnv(t, gateway.Config{TestReceiptDelay: 200 * time.Millisecond})
	tok, pw := e.token("later", true, nil)
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransceiver, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}

	delayed := submit("447700900020", 1)
	expiring := submit("447700900021", 1)
	expiring.ScheduleDeliveryTime = "000000000005000R" // in 5 s
	expiring.ValidityPeriod = "000000000001000R"       // valid for 1 s
	replaced := submit("447700900022", 1)
	replaced.ScheduleDeliveryTime = "000001000000000R" // tomorrow

	start := time.Now()
	ids := map[string]string{} // id → which
	for name, s := range map[string]*pdu.SubmitSM{"delayed": delayed, "expiring": expiring, "replaced": replaced} {
		h, resp := c.call(s)
		if h.Status != pdu.StatusOK {
			t.Fatalf("%s: %v", name, h.Status)
		}
		ids[idOf(t, resp)] = name
	}
	var replacedID string
	for id, name := range ids {
		if name == "replaced" {
			replacedID = id
		}
	}
	r := &pdu.ReplaceSM{MessageID: replacedID, Source: replaced.Source, ScheduleDeliveryTime: "000000000001000R",
		RegisteredDelivery: 1, ShortMessage: []byte("replaced text")}
	if h, _ := c.call(r); h.Status != pdu.StatusOK {
		t.Fatalf("replace_sm: %v", h.Status)
	}

	got := map[string]pdu.Receipt{}
	for len(got) < 3 {
		h, p := c.next()
		if h.ID != pdu.CmdDeliverSM {
			t.Fatalf("unexpected %v", h.ID)
		}
		_, rc := receipt(t, p)
		got[ids[rc.ID]] = rc
		c.ack(h)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("receipts came before the 200ms delay")
	}
	if got["delayed"].Stat != pdu.StateDelivered {
		t.Errorf("delayed: %v, want DELIVRD", got["delayed"].Stat)
	}
	if got["expiring"].Stat != pdu.StateExpired {
		t.Errorf("scheduled past its validity: %v, want EXPIRED", got["expiring"].Stat)
	}
	if rc := got["replaced"]; rc.Stat != pdu.StateDelivered || rc.Text != "replaced text" {
		t.Errorf("replaced: %+v, want DELIVRD with the new text", rc)
	}
	if h, _ := c.call(&pdu.ReplaceSM{MessageID: replacedID, ShortMessage: []byte("too late")}); h.Status != pdu.StatusReplaceFail {
		t.Errorf("replace of a final message = %v, want ESME_RREPLACEFAIL", h.Status)
	}
}

// TestSubmitMultiPartlyStored: a submit_multi whose messages the store takes
// only in part (here its queue holds one submit at a time, so the others of
// the burst get ESME_RMSGQFUL) answers for exactly what was stored: the
// destinations that were not are listed in unsuccess_sme with their status,
// and an error answer means none was. Before, a partial failure answered the
// whole request with an error while the stored messages went on to their
// receipts, and the client's retry sent those twice.
func TestSubmitMultiPartlyStored(t *testing.T) {
	e := openEnv(&env{t: t, dir: t.TempDir(), maxQueue: 1})
	tok, pw := e.token("multi", true, nil)
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	const dests = 40
	partial := 0
	for round := 0; round < 20; round++ {
		before := e.store.Stats().Messages
		m := &pdu.SubmitMulti{Source: pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"}, ShortMessage: []byte("to many")}
		for i := range dests {
			m.Dests = append(m.Dests, pdu.DestAddr{Addr: pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "4477009" + strconv.Itoa(10000+i)}})
		}
		h, resp := c.call(m)
		stored := e.store.Stats().Messages - before
		switch h.Status {
		case pdu.StatusOK:
			r := resp.(*pdu.SubmitMultiResp)
			for _, u := range r.Unsuccess {
				if u.Status != pdu.StatusMsgQFul {
					t.Errorf("round %d: unsuccess_sme %+v, want ESME_RMSGQFUL", round, u)
				}
			}
			if want := dests - len(r.Unsuccess); stored != want {
				t.Fatalf("round %d: answered %d stored (%d unsuccessful), the store holds %d", round, want, len(r.Unsuccess), stored)
			}
			if len(r.Unsuccess) > 0 {
				partial++
			}
			if h, _ := c.call(&pdu.QuerySM{MessageID: r.MessageID, Source: m.Source}); h.Status != pdu.StatusOK {
				t.Errorf("round %d: the response's id %s is not stored (query_sm %v)", round, r.MessageID, h.Status)
			}
		default:
			if stored != 0 {
				t.Fatalf("round %d: answered %v, yet %d of its messages are stored", round, h.Status, stored)
			}
		}
	}
	t.Logf("%d of 20 submit_multi stored in part", partial)
}
