package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

// smsc is an upstream with the habits that break receipt matching: its
// submit_sm_resp ids are decimal with leading zeros, its receipts spell the
// same number in upper-case hex, in the text only (no TLVs), and for
// destinations ending in 0077 before the submit_sm_resp. Destinations
// ending in 0000 are refused with ESME_RINVDSTADR, those ending in 0058 are
// throttled once before they are accepted. Built on smppd.Server.
type smsc struct {
	t    *testing.T
	srv  *smppd.Server
	addr string
	done chan struct{}

	next      atomic.Uint64
	unsent    atomic.Int64
	mu        sync.Mutex
	submits   map[string]int // short_message → times accepted
	throttled map[string]bool
}

func newSMSC(t *testing.T) *smsc {
	t.Helper()
	s := &smsc{t: t, submits: make(map[string]int), throttled: make(map[string]bool)}
	s.srv = &smppd.Server{
		Auth: smppd.AuthenticatorFunc(func(ctx context.Context, sess *smppd.Session, b *pdu.Bind) (smppd.Identity, pdu.Status) {
			return smppd.Identity{ID: b.SystemID, Name: b.SystemID}, pdu.StatusOK
		}),
		Handler: smppd.HandlerFunc(s.serve),
		Logger:  quietLogger(),
		// Receipts this SMSC cannot send (window full) are lost, not
		// retried: a window no test fills.
		WindowSize: 10000,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); !errors.Is(err, smppd.ErrServerClosed) {
			t.Errorf("smsc Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		s.srv.Close()
		<-s.done
		s.srv.Wait()
	})
	return s
}

func (s *smsc) serve(ctx context.Context, w smppd.ResponseWriter, r *smppd.Request) {
	p, ok := r.PDU.(*pdu.SubmitSM)
	if !ok {
		w.Respond(pdu.StatusInvCmdID, nil)
		return
	}
	text := string(p.ShortMessage)
	switch {
	case strings.HasSuffix(p.Dest.Addr, "0000"):
		w.Respond(pdu.StatusInvDstAdr, nil)
		return
	case strings.HasSuffix(p.Dest.Addr, "0666"):
		// The duplicate window: committed here, then the link dies before
		// the submit_sm_resp leaves (once per message).
		s.mu.Lock()
		first := !s.throttled[text]
		s.throttled[text] = true
		s.submits[text]++
		s.mu.Unlock()
		if first {
			r.Session.Close(smppd.Kicked)
			w.Respond(pdu.StatusOK, nil) // lost: the session is closed
			return
		}
	case strings.HasSuffix(p.Dest.Addr, "0058"):
		s.mu.Lock()
		first := !s.throttled[text]
		s.throttled[text] = true
		s.mu.Unlock()
		if first {
			w.Respond(pdu.StatusThrottled, nil)
			return
		}
	}
	n := s.next.Add(1) + 1000
	if !strings.HasSuffix(p.Dest.Addr, "0666") {
		s.mu.Lock()
		s.submits[text]++
		s.mu.Unlock()
	}
	early := strings.HasSuffix(p.Dest.Addr, "0077") // the receipt overtakes the response
	if !early {
		w.Respond(pdu.StatusOK, &pdu.SubmitSMResp{MessageID: fmt.Sprintf("%012d", n)})
	}
	rc := pdu.Receipt{ID: fmt.Sprintf("%X", n), Sub: 1, Dlvrd: 1, SubmitDate: time.Now(), DoneDate: time.Now(),
		Stat: pdu.StateDelivered, Err: "000"}
	b, _ := rc.AppendText(nil)
	d := &pdu.DeliverSM{Source: p.Dest, Dest: p.Source, ESMClass: 0x04, ShortMessage: b}
	if err := r.Session.Send(d, func(pdu.Header, pdu.PDU, error) {}); err != nil {
		s.unsent.Add(1) // window full: this SMSC does not retry receipts
	}
	if early {
		w.Respond(pdu.StatusOK, &pdu.SubmitSMResp{MessageID: fmt.Sprintf("%012d", n)})
	}
}

// bound returns the smsc's bound sessions.
func (s *smsc) bound() []*smppd.Session {
	var out []*smppd.Session
	for _, sess := range s.srv.Sessions() {
		if sess.State() == smppd.StateBound {
			out = append(out, sess)
		}
	}
	return out
}

// sendMO sends an MO deliver_sm on the first bound session and returns the
// connector's answer.
func (s *smsc) sendMO(from, to, text string) pdu.Status {
	s.t.Helper()
	var sessions []*smppd.Session
	waitFor(s.t, "a bound session at the smsc", func() bool { sessions = s.bound(); return len(sessions) > 0 })
	got := make(chan pdu.Status, 1)
	err := sessions[0].Send(&pdu.DeliverSM{
		Source: pdu.Address{TON: 1, NPI: 1, Addr: from}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: to},
		ShortMessage: []byte(text),
	}, func(h pdu.Header, _ pdu.PDU, err error) {
		if err != nil {
			got <- pdu.StatusSysErr
			return
		}
		got <- h.Status
	})
	if err != nil {
		s.t.Fatalf("send MO: %v", err)
	}
	select {
	case st := <-got:
		return st
	case <-time.After(10 * time.Second):
		s.t.Fatal("MO not answered")
	}
	return 0
}

func fastUpstream(name, addr string) upstream.Upstream {
	return upstream.Upstream{
		Name: name, Address: addr, SystemID: "smppd", Password: "pw", Window: 10,
		Reconnect: upstream.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Retry:     upstream.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}
}

// deadAddr is an address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestQuirkySMSC(t *testing.T) {
	up := newSMSC(t)
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{fastUpstream("quirky", up.addr)},
		Routes:    []upstream.Route{{Upstreams: []string{"quirky"}}},
		Inbound:   []upstream.Inbound{{Token: "acme", Numbers: []string{"447700100000-447700199999"}}},
	})
	tok, pass := front.token("acme", false)
	cl := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)

	want := map[string]struct {
		state pdu.MessageState
		err   string
	}{}
	for i, dest := range []string{"447700900001", "447700900002", "447700900058", "447700900000", "447700900077"} {
		st, id := cl.submit(dest, fmt.Sprintf("msg %d", i))
		if st != pdu.StatusOK {
			t.Fatalf("submit: %v", st)
		}
		w := want[id]
		w.state, w.err = pdu.StateDelivered, "000"
		if strings.HasSuffix(dest, "0000") {
			w.state, w.err = pdu.StateRejected, "00B" // the upstream's ESME_RINVDSTADR
		}
		want[id] = w
	}
	got := cl.receipts(len(want))
	for id, w := range want {
		if rs := got[id]; len(rs) != 1 || rs[0].Stat != w.state || rs[0].Err != w.err {
			t.Errorf("message %s: receipts %+v, want one %v err %s", id, rs, w.state, w.err)
		}
	}
	cl.noMore(100 * time.Millisecond)
	up.mu.Lock()
	for text, n := range up.submits {
		if n != 1 {
			t.Errorf("%q accepted %d times by the upstream", text, n)
		}
	}
	if len(up.submits) != 4 {
		t.Errorf("upstream accepted %d messages, want 4", len(up.submits))
	}
	up.mu.Unlock()
	st := front.conn.Status().Upstreams[0]
	if st.Retried != 1 || st.Rejected != 1 || st.Accepted != 4 || st.Unmatched != 0 {
		t.Errorf("status %+v: want 1 retried, 1 rejected, 4 accepted, 0 unmatched", st)
	}

	t.Run("MO", func(t *testing.T) {
		if st := up.sendMO("447911123456", "447700150000", "hello acme"); st != pdu.StatusOK {
			t.Fatalf("MO to an owned number answered %v", st)
		}
		select {
		case f := <-cl.in:
			d := f.p.(*pdu.DeliverSM)
			if string(d.ShortMessage) != "hello acme" || d.Source.Addr != "447911123456" || d.Dest.Addr != "447700150000" || d.ESMClass&0x3C != 0 {
				t.Errorf("MO delivered as %+v", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("MO not delivered to the token's receiver")
		}
		if st := up.sendMO("447911123456", "33612345678", "nobody's"); st != pdu.StatusInvDstAdr {
			t.Errorf("MO to an unowned number answered %v, want ESME_RINVDSTADR", st)
		}
		if toks, _ := front.store.MOTokens(); len(toks) != 0 {
			waitFor(t, "the MO queue to empty", func() bool { toks, _ := front.store.MOTokens(); return len(toks) == 0 })
		}
	})
}

// TestMOWaitsForReceiver queues an MO while the token has no receiver
// bound, restarts the gateway, and delivers it when one binds.
func TestMOWaitsForReceiver(t *testing.T) {
	up := newSMSC(t)
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{fastUpstream("quirky", up.addr)},
		Routes:    []upstream.Route{{Upstreams: []string{"quirky"}}},
		Inbound:   []upstream.Inbound{{Token: "acme", Numbers: []string{"4477001"}}},
	})
	tok, pass := front.token("acme", false)
	if st := up.sendMO("447911123456", "447700100001", "stored first"); st != pdu.StatusOK {
		t.Fatalf("MO answered %v", st)
	}
	front.stop()
	front.start()
	cl := dial(t, front.addr, pdu.CmdBindReceiver, tok.SystemID, pass)
	select {
	case f := <-cl.in:
		if d := f.p.(*pdu.DeliverSM); string(d.ShortMessage) != "stored first" {
			t.Errorf("delivered %q", d.ShortMessage)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("queued MO not delivered after restart")
	}
}

func TestFailover(t *testing.T) {
	up := newSMSC(t)
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{fastUpstream("primary", deadAddr(t)), fastUpstream("backup", up.addr)},
		Routes:    []upstream.Route{{Prefix: "44", Upstreams: []string{"primary", "backup"}}},
	})
	tok, pass := front.token("acme", false)
	cl := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	ids := map[string]bool{}
	for i := 0; i < 20; i++ {
		st, id := cl.submit("447700900001", fmt.Sprintf("failover %d", i))
		if st != pdu.StatusOK {
			t.Fatalf("submit: %v", st)
		}
		ids[id] = true
	}
	got := cl.receipts(len(ids))
	for id := range ids {
		if len(got[id]) != 1 || got[id][0].Stat != pdu.StateDelivered {
			t.Errorf("message %s: %+v", id, got[id])
		}
	}
	st := front.conn.Status()
	if st.Upstreams[0].State == upstream.StateBound || st.Upstreams[0].LastError == "" || st.Upstreams[1].Accepted != 20 {
		t.Errorf("status = %+v; want primary down with an error, backup 20 accepted", st)
	}
}

// TestUpstreamDownExpires: with every upstream of the route down, a message
// waits in the outbox until its validity period ends, then gets EXPIRED.
func TestUpstreamDownExpires(t *testing.T) {
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{fastUpstream("down", deadAddr(t))},
		Routes:    []upstream.Route{{Upstreams: []string{"down"}}},
	})
	tok, pass := front.token("acme", false)
	cl := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	h, p := cl.call(&pdu.SubmitSM{
		Source: pdu.Address{TON: 5, Addr: "ACME"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"},
		RegisteredDelivery: 1, ValidityPeriod: "000000000001000R", ShortMessage: []byte("too late"),
	})
	if h.Status != pdu.StatusOK {
		t.Fatalf("submit: %v", h.Status)
	}
	id := p.(*pdu.SubmitSMResp).MessageID
	if n := front.store.Stats().Outbox; n != 1 {
		t.Errorf("outbox = %d, want 1 while the upstream is down", n)
	}
	got := cl.receipts(1)
	if rs := got[id]; len(rs) != 1 || rs[0].Stat != pdu.StateExpired {
		t.Errorf("receipts %+v, want one EXPIRED for %s", got, id)
	}
	if n := front.store.Stats().Outbox; n != 0 {
		t.Errorf("outbox = %d after expiry, want 0", n)
	}
}

// TestDuplicateWindow: the upstream commits a message and dies before its
// submit_sm_resp is sent. We cannot know it was accepted, so it is submitted
// again: the one duplicate the design allows. The client still gets exactly
// one receipt, with smppd's id.
func TestDuplicateWindow(t *testing.T) {
	up := newSMSC(t)
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{fastUpstream("quirky", up.addr)},
		Routes:    []upstream.Route{{Upstreams: []string{"quirky"}}},
	})
	tok, pass := front.token("acme", false)
	cl := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	st, id := cl.submit("447700900666", "dup")
	if st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	got := cl.receipts(1)
	if rs := got[id]; len(rs) != 1 || rs[0].Stat != pdu.StateDelivered {
		t.Errorf("receipts %+v, want one DELIVRD for %s", got, id)
	}
	cl.noMore(100 * time.Millisecond)
	up.mu.Lock()
	n := up.submits["dup"]
	up.mu.Unlock()
	if n != 2 {
		t.Errorf("upstream committed the message %d times, want 2 (once lost ack, once resubmitted)", n)
	}
	if st := front.conn.Status().Upstreams[0]; st.Failed != 1 || st.Accepted != 1 {
		t.Errorf("status %+v, want 1 failed (no answer) and 1 accepted", st)
	}
}

// TestFailoverMidTraffic: the first upstream of the route dies while
// messages flow; the rest go to the second, and every message gets exactly
// one receipt.
func TestFailoverMidTraffic(t *testing.T) {
	primary, backup := newSMSC(t), newSMSC(t)
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{fastUpstream("primary", primary.addr), fastUpstream("backup", backup.addr)},
		Routes:    []upstream.Route{{Prefix: "44", Upstreams: []string{"primary", "backup"}}},
	})
	tok, pass := front.token("acme", false)
	cl := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	waitFor(t, "both upstreams bound", func() bool {
		st := front.conn.Status()
		return st.Upstreams[0].State == upstream.StateBound && st.Upstreams[1].State == upstream.StateBound
	})
	ids := map[string]bool{}
	submit := func(n int) {
		for i := 0; i < n; i++ {
			st, id := cl.submit("447700900001", fmt.Sprintf("mid %d", len(ids)))
			if st != pdu.StatusOK {
				t.Fatalf("submit: %v", st)
			}
			ids[id] = true
		}
	}
	submit(20)
	waitFor(t, "the primary to take the first messages and report them", func() bool {
		st := front.conn.Status().Upstreams[0]
		return st.Accepted == 20 && st.Receipts == 20
	})
	primary.srv.Close()
	submit(20)
	got := cl.receipts(len(ids))
	for id := range ids {
		if len(got[id]) != 1 || got[id][0].Stat != pdu.StateDelivered {
			t.Errorf("message %s: %+v", id, got[id])
		}
	}
	cl.noMore(100 * time.Millisecond)
	backup.mu.Lock()
	n := len(backup.submits)
	backup.mu.Unlock()
	if n != 20 {
		t.Errorf("backup accepted %d, want the 20 sent after the primary died", n)
	}
}

// TestRouteFollowsTokenRename: a route that names a token follows a rename at
// once, in the gateway's check and in the connector's forwarding alike. The
// connector caches token names; before it watched the token store's
// generation, a renamed token's messages kept the old name's route until a
// restart, while the gateway had accepted them for the new one.
func TestRouteFollowsTokenRename(t *testing.T) {
	named, other := newSMSC(t), newSMSC(t)
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{fastUpstream("named", named.addr), fastUpstream("other", other.addr)},
		Routes: []upstream.Route{
			{Token: "acme", Upstreams: []string{"named"}},
			{Upstreams: []string{"other"}},
		},
	})
	tok, pass := front.token("acme", false)
	cl := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	send := func(text string) {
		t.Helper()
		st, id := cl.submit("447700900001", text)
		if st != pdu.StatusOK {
			t.Fatalf("submit %q: %v", text, st)
		}
		if got := cl.receipts(1); len(got[id]) != 1 || got[id][0].Stat != pdu.StateDelivered {
			t.Fatalf("receipt of %q: %+v", text, got[id])
		}
	}
	accepted := func() (named, other uint64) {
		st := front.conn.Status()
		return st.Upstreams[0].Accepted, st.Upstreams[1].Accepted
	}
	send("before the rename")
	if n, o := accepted(); n != 1 || o != 0 {
		t.Fatalf("before the rename: named %d, other %d accepted; want 1, 0", n, o)
	}
	rename := func(idOrName, name string) {
		t.Helper()
		tok, _, err := front.tokens.Update(idOrName, tokenstore.UpdateParams{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		front.gw.TokenChanged(tok) // as the admin socket does after an edit
	}
	rename("acme", "acme-eu")
	send("after the rename")
	if n, o := accepted(); n != 1 || o != 1 {
		t.Errorf("after the rename: named %d, other %d accepted; want 1, 1 (the route names acme, the token is acme-eu now)", n, o)
	}
	rename(tok.ID, "acme")
	send("renamed back")
	if n, o := accepted(); n != 2 || o != 1 {
		t.Errorf("renamed back: named %d, other %d accepted; want 2, 1", n, o)
	}
}
