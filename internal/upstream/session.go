package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/pdu"
)

// Errors of an upstream session, passed to a request's done function.
var (
	// ErrSessionClosed: the session closed before the response came; the
	// upstream may or may not have acted on the request.
	ErrSessionClosed = errors.New("upstream: session closed")
	// ErrResponseTimeout: no response within Upstream.ResponseTimeout; the
	// session is closed (a silent upstream is a dead one).
	ErrResponseTimeout = errors.New("upstream: response timeout")
	// ErrBind wraps a refused or failed bind.
	ErrBind = errors.New("upstream: bind failed")
)

// firstSeq starts our sequence numbers far from 1, so that a peer that
// confuses its own numbers with ours (DESIGN.md decision 1) is less likely
// to collide.
const firstSeq = 0x10000

// deliverFunc handles a deliver_sm or data_sm from the upstream. respond
// must be called exactly once, from any goroutine, with the status to
// answer (and, for data_sm, nothing more is sent back).
type deliverFunc func(h pdu.Header, p pdu.PDU, respond func(pdu.Status))

// call is a request waiting for its response.
type call struct {
	done     func(h pdu.Header, resp pdu.PDU, err error)
	deadline int64 // unix nanoseconds
	windowed bool
}

// session is one bound SMPP session to an upstream, on smppd's own codec:
// a read loop, a write loop that writes everything queued since its last
// write in one system call, a window of outstanding submit_sm, and a
// keepalive that sends enquire_link when the link is idle and closes it when
// a response is overdue.
type session struct {
	up      *Upstream
	conn    net.Conn
	r       *pdu.Reader
	deliver deliverFunc

	window chan struct{} // one token per outstanding windowed request

	mu      sync.Mutex
	out     []byte // encoded PDUs waiting for the write loop
	seq     uint32
	pending map[uint32]*call
	closed  bool
	err     error

	wake     chan struct{}
	done     chan struct{}
	lastRead atomic.Int64 // unix nanoseconds
	wg       sync.WaitGroup
}

// dialSession connects to u, binds with cmd and starts the session's loops.
func dialSession(ctx context.Context, u *Upstream, cmd pdu.CommandID, deliver deliverFunc) (*session, error) {
	d := net.Dialer{Timeout: u.ResponseTimeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", u.Address)
	if err != nil {
		return nil, err
	}
	if u.TLS.Enabled {
		cfg, err := tlsConfig(u)
		if err != nil {
			conn.Close()
			return nil, err
		}
		tc := tls.Client(conn, cfg)
		hsCtx, cancel := context.WithTimeout(ctx, u.ResponseTimeout)
		err = tc.HandshakeContext(hsCtx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		conn = tc
	}
	s := &session{
		up:      u,
		conn:    conn,
		r:       pdu.NewReader(conn, 0),
		deliver: deliver,
		window:  make(chan struct{}, u.Window),
		seq:     firstSeq,
		pending: make(map[uint32]*call),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if err := s.bind(ctx, cmd); err != nil {
		conn.Close()
		return nil, err
	}
	s.lastRead.Store(time.Now().UnixNano())
	s.wg.Add(3)
	go s.readLoop()
	go s.writeLoop()
	go s.keepalive()
	return s, nil
}

func tlsConfig(u *Upstream) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(u.Address)
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: u.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if u.TLS.ServerName != "" {
		cfg.ServerName = u.TLS.ServerName
	}
	if u.TLS.CAFile != "" {
		pem, err := os.ReadFile(u.TLS.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: no certificate in %s", u.TLS.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// bind runs the bind exchange synchronously, before the loops start.
func (s *session) bind(ctx context.Context, cmd pdu.CommandID) error {
	deadline := time.Now().Add(s.up.ResponseTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.conn.SetDeadline(deadline)
	defer s.conn.SetDeadline(time.Time{})
	b, err := pdu.Append(nil, s.seq, pdu.StatusOK, &pdu.Bind{
		Cmd: cmd, SystemID: s.up.SystemID, Password: s.up.Password, SystemType: s.up.SystemType,
		InterfaceVersion: 0x34,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBind, err)
	}
	if _, err := s.conn.Write(b); err != nil {
		return err
	}
	for {
		h, body, err := s.r.ReadFrame()
		if err != nil {
			return err
		}
		switch {
		case h.ID == cmd.Response() || h.ID == pdu.CmdGenericNack:
			if h.Status != pdu.StatusOK {
				return fmt.Errorf("%w: %v", ErrBind, h.Status)
			}
			if h.ID == pdu.CmdGenericNack {
				return fmt.Errorf("%w: generic_nack", ErrBind)
			}
			return nil
		case h.ID == pdu.CmdEnquireLink:
			b, _ := pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.EnquireLinkResp{})
			if _, err := s.conn.Write(b); err != nil {
				return err
			}
		default:
			_ = body // anything else before the bind answer is ignored
		}
	}
}

// nextSeqLocked returns the next sequence number (1..0x7FFFFFFF).
func (s *session) nextSeqLocked() uint32 {
	s.seq++
	if s.seq > 0x7FFFFFFF {
		s.seq = 1
	}
	return s.seq
}

// acquire takes a window slot; false when ctx ended or the session closed.
func (s *session) acquire(ctx context.Context) bool {
	select {
	case s.window <- struct{}{}:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

func (s *session) release() { <-s.window }

// send queues request p. With windowed set the caller holds a window slot
// (acquire), released when the request settles. done runs exactly once, on
// the read loop (or the closing goroutine), and must be quick.
func (s *session) send(p pdu.PDU, windowed bool, done func(h pdu.Header, resp pdu.PDU, err error)) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if windowed {
			s.release()
		}
		done(pdu.Header{}, nil, ErrSessionClosed)
		return
	}
	seq := s.nextSeqLocked()
	n := len(s.out)
	out, err := pdu.Append(s.out, seq, pdu.StatusOK, p)
	if err != nil {
		s.out = out[:n]
		s.mu.Unlock()
		if windowed {
			s.release()
		}
		done(pdu.Header{}, nil, err)
		return
	}
	s.out = out
	s.pending[seq] = &call{done: done, windowed: windowed, deadline: time.Now().Add(s.up.ResponseTimeout).UnixNano()}
	first := n == 0
	s.mu.Unlock()
	if first {
		signal(s.wake)
	}
}

// respond queues a response (never blocks on the network).
func (s *session) respond(seq uint32, status pdu.Status, p pdu.PDU) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	n := len(s.out)
	out, err := pdu.Append(s.out, seq, status, p)
	if err != nil {
		out = out[:n]
	}
	s.out = out
	s.mu.Unlock()
	if n == 0 {
		signal(s.wake)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// outstanding is the number of windowed requests awaiting their response.
func (s *session) outstanding() int { return len(s.window) }

func (s *session) writeLoop() {
	defer s.wg.Done()
	var buf []byte
	for {
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
		s.mu.Lock()
		buf, s.out = s.out, buf[:0]
		s.mu.Unlock()
		if len(buf) == 0 {
			continue
		}
		s.conn.SetWriteDeadline(time.Now().Add(s.up.ResponseTimeout))
		if _, err := s.conn.Write(buf); err != nil {
			s.close(err)
			return
		}
	}
}

func (s *session) readLoop() {
	defer s.wg.Done()
	for {
		h, body, err := s.r.ReadFrame()
		if err != nil {
			s.close(err)
			return
		}
		s.lastRead.Store(time.Now().UnixNano())
		if h.ID.IsResponse() {
			s.mu.Lock()
			c := s.pending[h.Seq]
			delete(s.pending, h.Seq)
			s.mu.Unlock()
			if c == nil {
				continue // late or unknown: nothing waits for it
			}
			p, derr := pdu.Decode(h, body)
			if derr != nil && h.Status == pdu.StatusOK {
				// An acknowledgement we cannot read is still an acknowledgement
				// of the request; the caller gets the header and no body.
				p = nil
			}
			if c.windowed {
				s.release()
			}
			c.done(h, p, nil)
			continue
		}
		switch h.ID {
		case pdu.CmdEnquireLink:
			s.respond(h.Seq, pdu.StatusOK, &pdu.EnquireLinkResp{})
		case pdu.CmdUnbind:
			s.respond(h.Seq, pdu.StatusOK, &pdu.UnbindResp{})
			s.flushAndClose(ErrSessionClosed)
			return
		case pdu.CmdDeliverSM, pdu.CmdDataSM:
			p, err := pdu.Decode(h, body)
			if err != nil {
				st, _, _ := pdu.ErrorStatus(err)
				s.respond(h.Seq, st, respFor(h.ID))
				continue
			}
			seq, id := h.Seq, h.ID
			var once atomic.Bool
			s.deliver(h, p, func(st pdu.Status) {
				if once.CompareAndSwap(false, true) {
					s.respond(seq, st, respFor(id))
				}
			})
		default:
			if !h.ID.Known() {
				s.respond(h.Seq, pdu.StatusInvCmdID, &pdu.GenericNack{})
			} else {
				s.respond(h.Seq, pdu.StatusInvBndSts, respFor(h.ID))
			}
		}
	}
}

func respFor(id pdu.CommandID) pdu.PDU {
	switch id {
	case pdu.CmdDeliverSM:
		return &pdu.DeliverSMResp{}
	case pdu.CmdDataSM:
		return &pdu.DataSMResp{}
	}
	if p, ok := pdu.New(id.Response()); ok {
		return p
	}
	return &pdu.GenericNack{}
}

// keepalive sends enquire_link after EnquireInterval without input and
// closes the session when any request's response is overdue.
func (s *session) keepalive() {
	defer s.wg.Done()
	tick := min(s.up.EnquireInterval, s.up.ResponseTimeout) / 4
	t := time.NewTicker(max(tick, 5*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		s.mu.Lock()
		overdue := false
		for _, c := range s.pending {
			if now > c.deadline {
				overdue = true
				break
			}
		}
		s.mu.Unlock()
		if overdue {
			s.close(ErrResponseTimeout)
			return
		}
		if now-s.lastRead.Load() >= int64(s.up.EnquireInterval) {
			s.lastRead.Store(now) // one ping per interval
			s.send(&pdu.EnquireLink{}, false, func(pdu.Header, pdu.PDU, error) {})
		}
	}
}

// flushAndClose writes what is queued (the last response), then closes.
func (s *session) flushAndClose(err error) {
	s.mu.Lock()
	buf := s.out
	s.out = nil
	s.mu.Unlock()
	if len(buf) > 0 {
		s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		s.conn.Write(buf)
	}
	s.close(err)
}

// close ends the session once: the connection closes and every request
// still waiting gets err (ErrSessionClosed if nil).
func (s *session) close(err error) {
	if err == nil {
		err = ErrSessionClosed
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.err = err
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	close(s.done)
	s.conn.Close()
	for _, c := range pending {
		if c.windowed {
			s.release()
		}
		if errors.Is(err, ErrResponseTimeout) {
			c.done(pdu.Header{}, nil, ErrResponseTimeout)
		} else {
			c.done(pdu.Header{}, nil, fmt.Errorf("%w: %v", ErrSessionClosed, err))
		}
	}
}

// unbind asks the upstream to end the session and waits up to timeout for
// unbind_resp (or the close), then closes.
func (s *session) unbind(timeout time.Duration) {
	got := make(chan struct{})
	s.send(&pdu.Unbind{}, false, func(pdu.Header, pdu.PDU, error) { close(got) })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-got:
	case <-s.done:
	case <-t.C:
	}
	s.close(ErrSessionClosed)
}

// isClosed reports whether the session has closed.
func (s *session) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits for the session's goroutines after close.
func (s *session) wait() { s.wg.Wait() }

// closedErr returns why the session closed (nil while open).
func (s *session) closedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
