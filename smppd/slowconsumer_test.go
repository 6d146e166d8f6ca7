package smppd_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/smppd/smppdtest"
)

// TestUnansweredWindowClosesSession: a receiver that reads deliver_sm but
// never answers is closed as SlowConsumer once MaxResponseTimeouts requests
// in a row timed out, and every request's done got ErrTimeout first (so the
// application requeues it). One answer resets the count.
func TestUnansweredWindowClosesSession(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	srv.WindowSize = 2
	srv.ResponseTimeout = 100 * time.Millisecond
	srv.EnquireLinkInterval = -1
	ev := watch(srv)
	srv.Start()
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindReceiver, testUser, testPass)
	s := waitSession(t, srv, bound)

	var timedOut atomic.Int32
	send := func() {
		t.Helper()
		err := s.Send(&pdu.DeliverSM{ShortMessage: []byte("r")}, func(_ pdu.Header, _ pdu.PDU, err error) {
			if errors.Is(err, smppd.ErrTimeout) {
				timedOut.Add(1)
			}
		})
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	// One timeout, then an answer: the count starts over.
	send()
	c.Expect(pdu.CmdDeliverSM, pdu.StatusOK, 0)
	for timedOut.Load() < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	send()
	h, _ := c.Expect(pdu.CmdDeliverSM, pdu.StatusOK, 0)
	c.SendSeq(h.Seq, pdu.StatusOK, &pdu.DeliverSMResp{})
	for s.Outstanding() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if s.State() != smppd.StateBound {
		t.Fatalf("state %v after one timeout and one answer, want bound", s.State())
	}

	// A whole window unanswered: closed.
	send()
	send()
	closed := ev.wait(t, smppd.StateClosed)
	if closed.reason != smppd.SlowConsumer {
		t.Fatalf("closed as %v, want %v", closed.reason, smppd.SlowConsumer)
	}
	if n := timedOut.Load(); n != 3 {
		t.Errorf("%d done calls with ErrTimeout, want 3", n)
	}
}
