package smppd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
)

func pipeSession(t *testing.T, srv *Server) *Session {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	s := newSession(srv, context.Background(), a, "pipe", nil)
	t.Cleanup(s.cancel)
	return s
}

func TestSequenceNumbers(t *testing.T) {
	srv := &Server{}
	starts := map[uint32]bool{}
	for range 4 {
		s := pipeSession(t, srv)
		first := s.nextSeqLocked()
		if first < seqStart || first > seqStart+seqSpan {
			t.Errorf("first server sequence number %#x, want in [%#x, %#x]", first, seqStart, seqStart+seqSpan)
		}
		starts[first] = true
	}
	if len(starts) < 2 {
		t.Errorf("four sessions started at the same sequence number: %v", starts)
	}
	s := pipeSession(t, srv)
	s.seq = seqMax - 1
	for _, want := range []uint32{seqMax, 1, 2} {
		if got := s.nextSeqLocked(); got != want {
			t.Errorf("nextSeqLocked() = %#x, want %#x", got, want)
		}
	}
}

// TestQueueAllocs: encoding a response into the write queue allocates
// nothing once the queue's buffer has grown.
func TestQueueAllocs(t *testing.T) {
	s := pipeSession(t, &Server{})
	resp := &pdu.SubmitSMResp{MessageID: "0123456789abcdef"}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := s.queue(7, pdu.StatusOK, resp); err != nil {
			t.Fatal(err)
		}
		s.outMu.Lock()
		s.out, s.outCount = s.out[:0], 0
		s.outMu.Unlock()
	})
	if allocs != 0 {
		t.Errorf("queue() allocates %v times per PDU, want 0", allocs)
	}
}

// TestRespondAllocs: the whole respond path (exactly-once check, encode,
// queue) allocates nothing.
func TestRespondAllocs(t *testing.T) {
	s := pipeSession(t, &Server{})
	resp := &pdu.SubmitSMResp{MessageID: "0123456789abcdef"}
	in := &inbound{req: Request{Header: pdu.Header{ID: pdu.CmdSubmitSM, Seq: 9}, Session: s}}
	allocs := testing.AllocsPerRun(1000, func() {
		in.answered.Store(false)
		s.pending.Add(1)
		if err := in.Respond(pdu.StatusOK, resp); err != nil {
			t.Fatal(err)
		}
		s.outMu.Lock()
		s.out, s.outCount = s.out[:0], 0
		s.outMu.Unlock()
	})
	if allocs != 0 {
		t.Errorf("Respond() allocates %v times, want 0", allocs)
	}
}

// tempErrListener fails Accept with a temporary error a few times.
type tempErrListener struct {
	net.Listener
	fails atomic.Int32
}

type tempErr struct{}

func (tempErr) Error() string   { return "temporary" }
func (tempErr) Timeout() bool   { return false }
func (tempErr) Temporary() bool { return true }

func (l *tempErrListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, tempErr{}
	}
	return l.Listener.Accept()
}

// TestAcceptBackoff: temporary accept errors are retried, not fatal.
func TestAcceptBackoff(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &tempErrListener{Listener: inner}
	l.fails.Store(3)
	opened := make(chan struct{}, 1)
	srv := &Server{
		Handler: HandlerFunc(func(context.Context, ResponseWriter, *Request) {}),
		Auth:    AuthenticatorFunc(func(context.Context, *Session, *pdu.Bind) (Identity, pdu.Status) { return Identity{}, pdu.StatusOK }),
		Logger:  discardLogger(),
		ConnState: func(_ *Session, st ConnState) {
			if st == StateOpen {
				opened <- struct{}{}
			}
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("no session after temporary accept errors")
	}
	srv.Close()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve() = %v, want ErrServerClosed", err)
	}
	srv.Wait()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
