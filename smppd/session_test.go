package smppd_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/smppd/smppdtest"
)

// sessionOf waits for the server session of a raw client.
func sessionOf(t *testing.T, srv *smppdtest.Server, c *smppdtest.Client) *smppd.Session {
	t.Helper()
	return waitSession(t, srv, func(s *smppd.Session) bool { return s.RemoteAddr().String() == c.Conn.LocalAddr().String() })
}

func TestBindResp(t *testing.T) {
	tests := []struct {
		name     string
		systemID string // Server.SystemID
		version  uint8  // interface_version of the bind
		wantID   string
		wantTLV  bool
	}{
		{"3.4 client gets sc_interface_version", "", 0x34, "smppd", true},
		{"later version gets it too", "gw", 0x50, "gw", true},
		{"3.3 client does not", "gw", 0x33, "gw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
			srv.SystemID = tt.systemID
			srv.Start()
			c := smppdtest.Dial(t, srv.Addr)
			seq := c.Send(&pdu.Bind{Cmd: pdu.CmdBindTransceiver, SystemID: testUser, Password: testPass, InterfaceVersion: tt.version})
			_, p := c.Expect(pdu.CmdBindTransceiverResp, pdu.StatusOK, seq)
			br := p.(*pdu.BindResp)
			v, ok := br.TLVs.SCInterfaceVersion()
			if br.SystemID != tt.wantID || ok != tt.wantTLV || (ok && v != 0x34) {
				t.Errorf("bind_resp = %q, sc_interface_version %#x %v; want %q, %v", br.SystemID, v, ok, tt.wantID, tt.wantTLV)
			}
			if got := sessionOf(t, srv, c).InterfaceVersion(); got != tt.version {
				t.Errorf("InterfaceVersion() = %#x, want %#x", got, tt.version)
			}
		})
	}
}

func TestConnStateOrder(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	var mu sync.Mutex
	var got []smppd.ConnState
	closed := make(chan smppd.CloseReason, 1)
	srv.ConnState = func(s *smppd.Session, st smppd.ConnState) {
		mu.Lock()
		got = append(got, st)
		mu.Unlock()
		if st == smppd.StateClosed {
			closed <- s.CloseReason()
		}
	}
	srv.Start()
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransmitter, testUser, testPass)
	c.Unbind()
	if r := <-closed; r != smppd.ClientUnbind {
		t.Errorf("reason = %v, want %v", r, smppd.ClientUnbind)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []smppd.ConnState{smppd.StateOpen, smppd.StateBound, smppd.StateUnbinding, smppd.StateClosed}
	if len(got) != len(want) {
		t.Fatalf("ConnState calls = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ConnState calls = %v, want %v", got, want)
		}
	}
}

func TestKeepalive(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	srv.EnquireLinkInterval = 20 * time.Millisecond
	srv.MaxUnansweredEnquires = 2
	srv.Start()
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransceiver, testUser, testPass)
	s := sessionOf(t, srv, c)

	// Answered enquire_links keep the link up.
	for range 3 {
		h, _ := c.Expect(pdu.CmdEnquireLink, pdu.StatusOK, 0)
		if h.Seq < 0x40000000 || h.Seq > 0x7FFFFFFF {
			t.Errorf("server sequence number %#x outside 0x40000000..0x7FFFFFFF", h.Seq)
		}
		c.SendSeq(h.Seq, pdu.StatusOK, &pdu.EnquireLinkResp{})
	}
	// Silence: more enquire_links (two, or three when the last answer
	// crossed the next enquire_link), then the close.
	got := c.ExpectClosed()
	if len(got) < 2 {
		t.Errorf("before close got %v, want at least 2 enquire_link", got)
	}
	for _, h := range got {
		if h.ID != pdu.CmdEnquireLink {
			t.Errorf("before close got %v, want only enquire_link", got)
		}
	}
	waitClosed(t, s)
	if r := s.CloseReason(); r != smppd.StaleConnection {
		t.Errorf("reason = %v, want %v", r, smppd.StaleConnection)
	}
}

func TestEnquireLinkAnsweredWhileHandlerHoldsRequests(t *testing.T) {
	held := make(chan smppd.ResponseWriter, 8)
	h := smppd.HandlerFunc(func(_ context.Context, w smppd.ResponseWriter, _ *smppd.Request) { held <- w })
	srv := smppdtest.NewServer(t, h, testCreds)
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransceiver, testUser, testPass)
	s1 := c.Send(submit())
	e := c.Send(&pdu.EnquireLink{})
	c.Expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, e)
	(<-held).Respond(pdu.StatusOK, &pdu.SubmitSMResp{MessageID: "late"})
	_, p := c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, s1)
	if id := p.(*pdu.SubmitSMResp).MessageID; id != "late" {
		t.Errorf("message_id = %q", id)
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*smppd.Server)
		bind    bool
		partial bool // send the start of a bind and go silent
		reason  smppd.CloseReason
	}{
		{"bind timeout", func(s *smppd.Server) { s.BindTimeout = 30 * time.Millisecond }, false, false, smppd.BindTimeout},
		{"partial PDU then silence", func(s *smppd.Server) { s.BindTimeout = 30 * time.Millisecond }, false, true, smppd.BindTimeout},
		{"idle timeout", func(s *smppd.Server) {
			// Long enough for the bind to get through on a loaded machine.
			s.IdleTimeout = 500 * time.Millisecond
			s.EnquireLinkInterval = -1
		}, true, false, smppd.IdleTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
			tt.setup(srv.Server)
			ev := watch(srv)
			srv.Start()
			c := smppdtest.Dial(t, srv.Addr)
			if tt.bind {
				c.Bind(pdu.CmdBindTransmitter, testUser, testPass)
			}
			if tt.partial {
				c.Conn.Write([]byte{0, 0, 0, 40, 0, 0, 0, 2, 0})
			}
			c.ExpectClosed()
			if r := ev.wait(t, smppd.StateClosed).reason; r != tt.reason {
				t.Errorf("reason = %v, want %v", r, tt.reason)
			}
		})
	}
}

func TestMaxPending(t *testing.T) {
	held := make(chan smppd.ResponseWriter, 8)
	var calls atomic.Int32
	h := smppd.HandlerFunc(func(_ context.Context, w smppd.ResponseWriter, _ *smppd.Request) {
		calls.Add(1)
		held <- w
	})
	srv := smppdtest.NewUnstartedServer(t, h, testCreds)
	srv.MaxPending = 2
	srv.Start()
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransmitter, testUser, testPass)
	s1, s2, s3 := c.Send(submit()), c.Send(submit()), c.Send(submit())
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusThrottled, s3)
	if n := calls.Load(); n != 2 {
		t.Errorf("handler calls = %d, want 2", n)
	}
	if p := sessionOf(t, srv, c).Pending(); p != 2 {
		t.Errorf("Pending() = %d, want 2", p)
	}
	w1, w2 := <-held, <-held
	// Answered from another goroutine, out of order.
	go w2.Respond(pdu.StatusMsgQFul, nil)
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusMsgQFul, s2)
	w1.Respond(pdu.StatusOK, &pdu.SubmitSMResp{MessageID: "1"})
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, s1)
	// Room again.
	s4 := c.Send(submit())
	(<-held).Respond(pdu.StatusOK, nil)
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, s4)
}

func TestRespondRules(t *testing.T) {
	held := make(chan smppd.ResponseWriter, 8)
	h := smppd.HandlerFunc(func(_ context.Context, w smppd.ResponseWriter, _ *smppd.Request) { held <- w })
	srv := smppdtest.NewServer(t, h, testCreds)
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransceiver, testUser, testPass)

	seq := c.Send(submit())
	w := <-held
	if err := w.Respond(pdu.StatusOK, &pdu.DeliverSMResp{}); err == nil {
		t.Error("Respond(wrong response type) = nil, want error")
	}
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusSysErr, seq)
	if err := w.Respond(pdu.StatusOK, nil); !errors.Is(err, smppd.ErrAlreadyResponded) {
		t.Errorf("second Respond() = %v, want ErrAlreadyResponded", err)
	}

	seq = c.Send(submit())
	w = <-held
	tooLong := &pdu.SubmitSMResp{MessageID: string(make([]byte, 200))}
	if err := w.Respond(pdu.StatusOK, tooLong); err == nil {
		t.Error("Respond(unencodable) = nil, want error")
	}
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusSysErr, seq)

	c.Send(submit())
	w = <-held
	s := sessionOf(t, srv, c)
	c.Close()
	waitClosed(t, s)
	if err := w.Respond(pdu.StatusOK, nil); !errors.Is(err, smppd.ErrSessionClosed) {
		t.Errorf("Respond() after close = %v, want ErrSessionClosed", err)
	}
}

func TestHandlerPanic(t *testing.T) {
	h := smppd.HandlerFunc(func(context.Context, smppd.ResponseWriter, *smppd.Request) { panic("boom") })
	srv := smppdtest.NewServer(t, h, testCreds)
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransmitter, testUser, testPass)
	s := sessionOf(t, srv, c)
	seq := c.Send(submit())
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusSysErr, seq)
	c.ExpectClosed()
	waitClosed(t, s)
	if r := s.CloseReason(); r != smppd.InternalError {
		t.Errorf("reason = %v, want %v", r, smppd.InternalError)
	}
}

type sendResult struct {
	h   pdu.Header
	err error
}

func TestSendWindow(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	srv.WindowSize = 2
	// Long enough for the client's first answer to arrive on a loaded
	// machine; the second request is never answered.
	srv.ResponseTimeout = time.Second
	srv.Start()
	c := smppdtest.Dial(t, srv.Addr)
	s := sessionOf(t, srv, c)
	if err := s.Send(&pdu.DeliverSM{}, nil); !errors.Is(err, smppd.ErrNotBound) {
		t.Errorf("Send() before bind = %v, want ErrNotBound", err)
	}
	if err := s.Send(submit(), nil); !errors.Is(err, smppd.ErrNotRequest) {
		t.Errorf("Send(submit_sm) = %v, want ErrNotRequest", err)
	}
	c.Bind(pdu.CmdBindReceiver, testUser, testPass)

	results := make(chan sendResult, 4)
	done := func(h pdu.Header, _ pdu.PDU, err error) { results <- sendResult{h, err} }
	for range 2 {
		if err := s.Send(&pdu.DeliverSM{ShortMessage: []byte("x")}, done); err != nil {
			t.Fatalf("Send() = %v", err)
		}
	}
	if err := s.Send(&pdu.DeliverSM{}, done); !errors.Is(err, smppd.ErrWindowFull) {
		t.Errorf("third Send() = %v, want ErrWindowFull", err)
	}
	h1, _ := c.Expect(pdu.CmdDeliverSM, pdu.StatusOK, 0)
	h2, _ := c.Expect(pdu.CmdDeliverSM, pdu.StatusOK, 0)
	if h2.Seq != h1.Seq+1 {
		t.Errorf("sequence numbers %#x, %#x not consecutive", h1.Seq, h2.Seq)
	}
	c.SendSeq(h1.Seq, pdu.StatusOK, &pdu.DeliverSMResp{})
	c.SendSeq(h1.Seq, pdu.StatusOK, &pdu.DeliverSMResp{}) // a duplicate answer is ignored
	r := <-results
	if r.err != nil || r.h.Seq != h1.Seq || r.h.ID != pdu.CmdDeliverSMResp {
		t.Errorf("first done = %+v, want deliver_sm_resp seq %#x", r, h1.Seq)
	}
	r = <-results // h2 never answered
	if !errors.Is(r.err, smppd.ErrTimeout) || r.h.Seq != h2.Seq || r.h.ID != pdu.CmdDeliverSM {
		t.Errorf("second done = %+v, want ErrTimeout for seq %#x", r, h2.Seq)
	}
	if n := s.Outstanding(); n != 0 {
		t.Errorf("Outstanding() = %d, want 0", n)
	}

	// An outstanding request is failed when the session closes.
	if err := s.Send(&pdu.DeliverSM{}, done); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	c.Expect(pdu.CmdDeliverSM, pdu.StatusOK, 0)
	c.Close()
	if r := <-results; !errors.Is(r.err, smppd.ErrSessionClosed) {
		t.Errorf("done after close = %v, want ErrSessionClosed", r.err)
	}
	if err := s.Send(&pdu.DeliverSM{}, done); !errors.Is(err, smppd.ErrSessionClosed) {
		t.Errorf("Send() after close = %v, want ErrSessionClosed", err)
	}
}

func TestGenericNackAnswersSend(t *testing.T) {
	srv := smppdtest.NewServer(t, smppdtest.OK, testCreds)
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransceiver, testUser, testPass)
	s := sessionOf(t, srv, c)
	results := make(chan sendResult, 1)
	s.Send(&pdu.DataSM{}, func(h pdu.Header, _ pdu.PDU, err error) { results <- sendResult{h, err} })
	h, _ := c.Expect(pdu.CmdDataSM, pdu.StatusOK, 0)
	c.SendSeq(h.Seq, pdu.StatusInvCmdID, &pdu.GenericNack{})
	if r := <-results; r.err != nil || r.h.ID != pdu.CmdGenericNack || r.h.Status != pdu.StatusInvCmdID {
		t.Errorf("done = %+v, want generic_nack ESME_RINVCMDID", r)
	}
}

func TestSlowConsumer(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	srv.WriteQueueLen = 16
	srv.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetReadBuffer(4096)
	c := smppdtest.NewClient(t, conn)
	c.Bind(pdu.CmdBindTransceiver, testUser, testPass)
	s := sessionOf(t, srv, c)

	// Requests, never reading an answer, until the server gives up.
	var batch []byte
	for i := range 1000 {
		batch, _ = pdu.Append(batch, uint32(1000+i), pdu.StatusOK, &pdu.EnquireLink{})
	}
	for !isDone(s.Context()) {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(batch); err != nil {
			break
		}
	}
	waitClosed(t, s)
	if r := s.CloseReason(); r != smppd.SlowConsumer {
		t.Errorf("reason = %v, want %v", r, smppd.SlowConsumer)
	}
}

func isDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

func TestConnLimits(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*smppd.Server)
	}{
		{"MaxConns", func(s *smppd.Server) { s.MaxConns = 2 }},
		{"MaxConnsPerIP", func(s *smppd.Server) { s.MaxConnsPerIP = 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
			tt.setup(srv.Server)
			refused := make(chan smppd.CloseReason, 4)
			srv.RefuseHook = func(_ net.Addr, r smppd.CloseReason) { refused <- r }
			srv.Start()
			a := smppdtest.Dial(t, srv.Addr)
			a.Bind(pdu.CmdBindTransmitter, testUser, testPass)
			b := smppdtest.Dial(t, srv.Addr)
			b.Bind(pdu.CmdBindTransmitter, testUser, testPass)
			over := smppdtest.Dial(t, srv.Addr)
			over.ExpectClosed()
			if r := <-refused; r != smppd.ConnLimit {
				t.Errorf("refused with %v, want %v", r, smppd.ConnLimit)
			}
			// A slot frees when a session ends.
			a.Unbind()
			waitFor(t, func() bool { return len(srv.Sessions()) == 1 })
			again := smppdtest.Dial(t, srv.Addr)
			again.Bind(pdu.CmdBindTransmitter, testUser, testPass)
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestClientUnbindWaitsForOwedResponses(t *testing.T) {
	held := make(chan smppd.ResponseWriter, 8)
	h := smppd.HandlerFunc(func(_ context.Context, w smppd.ResponseWriter, _ *smppd.Request) { held <- w })
	srv := smppdtest.NewServer(t, h, testCreds)
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransmitter, testUser, testPass)
	sub := c.Send(submit())
	unb := c.Send(&pdu.Unbind{})
	late := c.Send(submit()) // after unbind: refused
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusInvBndSts, late)
	(<-held).Respond(pdu.StatusOK, nil)
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, sub)
	c.Expect(pdu.CmdUnbindResp, pdu.StatusOK, unb)
	c.ExpectClosed()
}

// TestClientClosesRightAfterUnbind: not waiting for unbind_resp is
// normal, and ends as a client unbind.
func TestClientClosesRightAfterUnbind(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	ev := watch(srv)
	srv.Start()
	for range 5 {
		c := smppdtest.Dial(t, srv.Addr)
		c.Bind(pdu.CmdBindTransceiver, testUser, testPass)
		c.Send(&pdu.Unbind{})
		c.Close()
		if r := ev.wait(t, smppd.StateClosed).reason; r != smppd.ClientUnbind {
			t.Errorf("reason = %v, want %v", r, smppd.ClientUnbind)
		}
	}
}

func TestServerUnbind(t *testing.T) {
	srv := smppdtest.NewServer(t, smppdtest.OK, testCreds)
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransceiver, testUser, testPass)
	s := sessionOf(t, srv, c)
	s.Unbind()
	h, _ := c.Expect(pdu.CmdUnbind, pdu.StatusOK, 0)
	if err := s.Send(&pdu.DeliverSM{}, nil); !errors.Is(err, smppd.ErrSessionClosed) {
		t.Errorf("Send() while unbinding = %v, want ErrSessionClosed", err)
	}
	c.SendSeq(h.Seq, pdu.StatusOK, &pdu.UnbindResp{})
	c.ExpectClosed()
	waitClosed(t, s)
	if r := s.CloseReason(); r != smppd.Kicked {
		t.Errorf("reason = %v, want %v", r, smppd.Kicked)
	}
}

func TestShutdown(t *testing.T) {
	held := make(chan smppd.ResponseWriter, 8)
	h := smppd.HandlerFunc(func(_ context.Context, w smppd.ResponseWriter, _ *smppd.Request) { held <- w })
	srv := smppdtest.NewUnstartedServer(t, h, testCreds)
	ev := watch(srv)
	srv.Start()
	bound := smppdtest.Dial(t, srv.Addr)
	bound.Bind(pdu.CmdBindTransceiver, testUser, testPass)
	unbound := smppdtest.Dial(t, srv.Addr)
	sessionOf(t, srv, unbound)
	sub := bound.Send(submit())
	w := <-held

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	unbound.ExpectClosed() // not bound: closed at once
	ev.wait(t, smppd.StateUnbinding)
	late := bound.Send(submit())
	bound.Expect(pdu.CmdSubmitSMResp, pdu.StatusInvBndSts, late)
	w.Respond(pdu.StatusOK, nil) // the owed response goes out before unbind
	bound.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, sub)
	uh, _ := bound.Expect(pdu.CmdUnbind, pdu.StatusOK, 0)
	bound.SendSeq(uh.Seq, pdu.StatusOK, &pdu.UnbindResp{})
	bound.ExpectClosed()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v, want nil", err)
	}
	if err := srv.ServeErr(); !errors.Is(err, smppd.ErrServerClosed) {
		t.Errorf("Serve() = %v, want ErrServerClosed", err)
	}
	if err := srv.Serve(srv.Listener); !errors.Is(err, smppd.ErrServerClosed) {
		t.Errorf("Serve() after Shutdown = %v, want ErrServerClosed", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown() = %v, want nil", err)
	}
	if err := srv.Server.Close(); err != nil {
		t.Errorf("Close() after Shutdown = %v, want nil", err)
	}
}

func TestShutdownContextEnds(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	srv.UnbindTimeout = time.Hour
	srv.Start()
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransceiver, testUser, testPass)
	s := sessionOf(t, srv, c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// The client never answers the unbind.
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown() = %v, want DeadlineExceeded", err)
	}
	waitClosed(t, s)
	if r := s.CloseReason(); r != smppd.ServerShutdown {
		t.Errorf("reason = %v, want %v", r, smppd.ServerShutdown)
	}
}

func TestPDUHook(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	var mu sync.Mutex
	counts := map[bool]map[pdu.CommandID]int{true: {}, false: {}}
	srv.PDUHook = func(_ *smppd.Session, in bool, h pdu.Header) {
		mu.Lock()
		counts[in][h.ID]++
		mu.Unlock()
	}
	ev := watch(srv)
	srv.Start()
	c := smppdtest.Dial(t, srv.Addr)
	c.Bind(pdu.CmdBindTransmitter, testUser, testPass)
	for range 3 {
		seq := c.Send(submit())
		c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq)
	}
	c.Unbind()
	ev.wait(t, smppd.StateClosed)
	mu.Lock()
	defer mu.Unlock()
	if counts[true][pdu.CmdSubmitSM] != 3 || counts[false][pdu.CmdSubmitSMResp] != 3 ||
		counts[true][pdu.CmdBindTransmitter] != 1 || counts[false][pdu.CmdBindTransmitterResp] != 1 ||
		counts[true][pdu.CmdUnbind] != 1 || counts[false][pdu.CmdUnbindResp] != 1 {
		t.Errorf("PDUHook counts = %v", counts)
	}
}

func TestServeRequiresHandlerAndAuth(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &smppd.Server{}
	if err := srv.Serve(l); err == nil || errors.Is(err, smppd.ErrServerClosed) {
		t.Errorf("Serve() without Handler = %v, want a configuration error", err)
	}
}
