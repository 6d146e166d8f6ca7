package upstream_test

import (
	"testing"
	"time"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/pdu"
)

// chain starts an upstream smppd in test mode (decimal message ids, so the
// two gateways' ids never look alike) and an smppd in front of it whose live
// token "acme" routes everything there.
func chain(t *testing.T, bind string) (front, up *node, cl *client) {
	t.Helper()
	// TestReceiptDelay > 0 puts every outcome through the upstream's due
	// index, so a kill between its submit commit and its outcome is
	// reported right after the restart (not after its 30 s recovery delay).
	up = newNode(t, gateway.Config{IDFormat: gateway.IDDecimal, ReceiptRetry: 50 * time.Millisecond, TestReceiptDelay: time.Millisecond}, nil)
	upTok, upPass := up.token("front-gateway", true)
	cfg := &upstream.Config{
		Upstreams: []upstream.Upstream{{
			Name: "smsc-a", Address: up.addr, SystemID: upTok.SystemID, Password: upPass, Bind: bind, Window: 20,
			Reconnect: upstream.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		}},
		Routes:  []upstream.Route{{Prefix: "44", Upstreams: []string{"smsc-a"}}},
		Inbound: []upstream.Inbound{{Token: "acme", Numbers: []string{"4477001"}}},
	}
	front = newNode(t, gateway.Config{}, cfg)
	tok, pass := front.token("acme", false)
	cl = dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	return front, up, cl
}

func TestReceiptsMappedEndToEnd(t *testing.T) {
	for _, bind := range []string{upstream.BindTransceiver, upstream.BindTxRx} {
		t.Run(bind, func(t *testing.T) {
			front, up, cl := chain(t, bind)
			// The upstream's simulator picks the outcome by the last digits.
			want := map[string]struct {
				state pdu.MessageState
				err   string
			}{}
			for _, tc := range []struct {
				dest  string
				state pdu.MessageState
				err   string
			}{
				{"447700900000", pdu.StateDelivered, "000"},
				{"447700909001", pdu.StateUndeliverable, "001"},
				{"447700909002", pdu.StateRejected, "002"},
				{"447700909003", pdu.StateExpired, "003"},
				{"447700909005", pdu.StateUnknown, "005"},
			} {
				st, id := cl.submit(tc.dest, "hello "+tc.dest)
				if st != pdu.StatusOK {
					t.Fatalf("submit to %s: %v", tc.dest, st)
				}
				want[id] = struct {
					state pdu.MessageState
					err   string
				}{tc.state, tc.err}
			}
			got := cl.receipts(len(want))
			for id, w := range want {
				rs := got[id]
				if len(rs) != 1 {
					t.Errorf("message %s: %d receipts, want 1", id, len(rs))
					continue
				}
				if rs[0].Stat != w.state || rs[0].Err != w.err {
					t.Errorf("message %s: stat %v err %q, want %v %q", id, rs[0].Stat, rs[0].Err, w.state, w.err)
				}
			}
			cl.noMore(100 * time.Millisecond)
			if n := front.store.Stats().Outbox; n != 0 {
				t.Errorf("front outbox = %d, want 0", n)
			}
			if n := up.store.Stats().Messages; n != len(want) {
				t.Errorf("upstream stored %d messages, want %d (no duplicates)", n, len(want))
			}
			st := front.conn.Status()
			if len(st.Upstreams) != 1 || st.Upstreams[0].State != upstream.StateBound || st.Upstreams[0].Accepted != uint64(len(want)) ||
				st.Upstreams[0].Receipts != uint64(len(want)) || st.Upstreams[0].Unmatched != 0 {
				t.Errorf("Status() = %+v", st)
			}
		})
	}
}

func TestNoRouteRejectedAtSubmit(t *testing.T) {
	front, _, cl := chain(t, upstream.BindTransceiver)
	if st, _ := cl.submit("33612345678", "no route to France"); st != pdu.StatusInvDstAdr {
		t.Errorf("submit without route = %v, want ESME_RINVDSTADR", st)
	}
	if n := front.store.Stats().Messages; n != 0 {
		t.Errorf("stored %d messages, want 0", n)
	}
	// A test-mode token is not routed: the simulator answers.
	tok, pass := front.token("sandbox", true)
	tc := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	if st, _ := tc.submit("33612345678", "test mode"); st != pdu.StatusOK {
		t.Errorf("test-mode submit = %v, want ESME_ROK", st)
	}
}

// TestUpstreamRestart kills the upstream (every connection closed at once,
// its store closed) while messages flow, and restarts it on the same
// address and files: every message gets exactly one receipt, and the
// upstream holds no more duplicates than the window can explain.
func TestUpstreamRestart(t *testing.T) {
	front, up, cl := chain(t, upstream.BindTransceiver)
	const total = 300
	ids := make(map[string]bool)
	var pend []chan frame
	send := func(n int) {
		for i := 0; i < n; i++ {
			pend = append(pend, cl.start(&pdu.SubmitSM{
				Source:             pdu.Address{TON: pdu.TONAlphanumeric, Addr: "ACME"},
				Dest:               pdu.Address{TON: 1, NPI: 1, Addr: "4477009" + string(rune('1'+i%8)) + "0000"},
				RegisteredDelivery: 1, ShortMessage: []byte("restart"),
			}))
		}
	}
	answered := func() {
		for _, ch := range pend {
			select {
			case f := <-ch:
				if f.h.Status != pdu.StatusOK {
					t.Fatalf("submit: %v", f.h.Status)
				}
				ids[f.p.(*pdu.SubmitSMResp).MessageID] = true
			case <-time.After(10 * time.Second):
				t.Fatal("submit not answered")
			}
		}
		pend = pend[:0]
	}
	send(total / 2)
	// The front answers once its own commit is done; reading the answers before the
	// second half keeps the pipeline under the session's MaxPending (256), which a
	// slow machine reached with all 300 outstanding (ESME_RTHROTTLED).
	answered()
	waitFor(t, "traffic to reach the upstream", func() bool { return front.conn.Status().Upstreams[0].Accepted > 20 })
	up.kill()
	send(total / 2)
	time.Sleep(50 * time.Millisecond) // some reconnect attempts fail meanwhile
	up.start()
	answered()
	got := cl.receipts(total)
	for id := range ids {
		if len(got[id]) != 1 || got[id][0].Stat != pdu.StateDelivered {
			t.Errorf("message %s: receipts %+v, want one DELIVRD", id, got[id])
		}
	}
	cl.noMore(200 * time.Millisecond)
	st := front.conn.Status().Upstreams[0]
	dups := up.store.Stats().Messages - total
	// A duplicate is a submit the upstream committed whose response we never
	// read: at most one window per kill.
	if dups < 0 || dups > 20 {
		t.Errorf("upstream holds %d messages for %d sent: %d duplicates, want 0..window(20)", dups+total, total, dups)
	}
	if uint64(dups) > st.Failed {
		t.Errorf("%d duplicates but only %d submits without an answer", dups, st.Failed)
	}
	t.Logf("duplicates %d, submits without answer %d, status %+v", dups, st.Failed, st)
}
