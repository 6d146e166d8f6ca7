package upstream

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
)

// silentSMSC answers the bind and then answers enquire_link only while
// alive is set; it never answers anything else.
func silentSMSC(t *testing.T, alive *atomic.Bool) (addr string, enquires *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	enquires = new(atomic.Int64)
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := pdu.NewReader(c, 0)
		for {
			h, _, err := r.ReadFrame()
			if err != nil {
				return
			}
			var out []byte
			switch h.ID {
			case pdu.CmdBindTransceiver:
				out, _ = pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.BindResp{Cmd: h.ID.Response(), SystemID: "silent"})
			case pdu.CmdEnquireLink:
				enquires.Add(1)
				if alive.Load() {
					out, _ = pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.EnquireLinkResp{})
				}
			}
			if out != nil {
				c.Write(out)
			}
		}
	}()
	return l.Addr().String(), enquires
}

// TestKeepalive: an idle session sends enquire_link every EnquireInterval;
// when the upstream stops answering, the session closes with
// ErrResponseTimeout and its pending requests fail.
func TestKeepalive(t *testing.T) {
	var alive atomic.Bool
	alive.Store(true)
	addr, enquires := silentSMSC(t, &alive)
	u := Upstream{Name: "s", Address: addr, SystemID: "x", Window: 1, EnquireInterval: 100 * time.Millisecond, ResponseTimeout: 300 * time.Millisecond}
	s, err := dialSession(context.Background(), &u, pdu.CmdBindTransceiver, func(pdu.Header, pdu.PDU, func(pdu.Status)) {})
	if err != nil {
		t.Fatal(err)
	}
	defer s.wait()
	for enquires.Load() < 3 {
		select {
		case <-s.done:
			t.Fatalf("session closed while the upstream answered: %v", s.closedErr())
		case <-time.After(10 * time.Millisecond):
		}
	}
	alive.Store(false)
	got := make(chan error, 1)
	if !s.acquire(context.Background()) {
		t.Fatal("acquire failed")
	}
	s.send(&pdu.SubmitSM{Dest: pdu.Address{Addr: "1"}}, true, func(_ pdu.Header, _ pdu.PDU, err error) { got <- err })
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("session still open with an unanswering upstream")
	}
	if err := s.closedErr(); !errors.Is(err, ErrResponseTimeout) {
		t.Errorf("closed with %v, want ErrResponseTimeout", err)
	}
	if err := <-got; !errors.Is(err, ErrResponseTimeout) {
		t.Errorf("pending submit got %v, want ErrResponseTimeout", err)
	}
	if n := s.outstanding(); n != 0 {
		t.Errorf("window in use after close = %d, want 0", n)
	}
}
