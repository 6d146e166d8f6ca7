package upstream_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	smpppdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/smpptest"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/pdu"
)

// TestGoSMPPUpstream forwards to go-smpp's test SMSC, an independent SMPP
// implementation (it does not echo the bind's sequence number, which the
// connector tolerates). Every message is accepted once and leaves the
// outbox; the ids it returns are mapped.
func TestGoSMPPUpstream(t *testing.T) {
	var submits atomic.Int64
	srv := smpptest.NewUnstartedServer()
	srv.Handler = func(c smpptest.Conn, p smpppdu.Body) {
		switch p.Header().ID {
		case smpppdu.SubmitSMID:
			n := submits.Add(1)
			resp := smpppdu.NewSubmitSMResp()
			resp.Header().Seq = p.Header().Seq
			resp.Fields().Set(pdufield.MessageID, fmt.Sprintf("GS%06d", n))
			c.Write(resp)
		case smpppdu.EnquireLinkID:
			resp := smpppdu.NewEnquireLinkResp()
			resp.Header().Seq = p.Header().Seq
			c.Write(resp)
		case smpppdu.UnbindID:
			resp := smpppdu.NewUnbindResp()
			resp.Header().Seq = p.Header().Seq
			c.Write(resp)
		}
	}
	srv.Start()
	defer srv.Close()

	u := fastUpstream("gosmpp", srv.Addr())
	u.SystemID, u.Password = smpptest.DefaultUser, smpptest.DefaultPasswd
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{u},
		Routes:    []upstream.Route{{Upstreams: []string{"gosmpp"}}},
	})
	tok, pass := front.token("acme", false)
	cl := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	const n = 50
	for i := 0; i < n; i++ {
		if st, _ := cl.submit("447700900001", fmt.Sprintf("to go-smpp %d", i)); st != pdu.StatusOK {
			t.Fatalf("submit: %v", st)
		}
	}
	waitFor(t, "the outbox to drain into go-smpp's SMSC", func() bool { return front.store.Stats().Outbox == 0 })
	if got := submits.Load(); got != n {
		t.Errorf("go-smpp SMSC got %d submits, want %d", got, n)
	}
	if _, err := front.store.LookupForward("gosmpp", "gs000007"); err != nil {
		t.Errorf("LookupForward(GS000007) = %v", err)
	}
}
