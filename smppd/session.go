package smppd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smppd/smppd/pdu"
)

// Sequence numbers the server uses for its own requests. go-smpp and other
// clients match responses by sequence number alone and number their own
// requests from 1, so the server starts each session at a random point in
// the upper half of the legal range and wraps within 1..0x7FFFFFFF.
const (
	seqStart = 0x40000000
	seqSpan  = 0x10000000
	seqMax   = 0x7FFFFFFF
)

// maxKeptBuffer is the largest write buffer a session keeps between
// writes; a burst that grew one past it is left to the garbage collector.
const maxKeptBuffer = 1 << 20

// lingerTimeout is how long a session that said its last word waits for
// the client to close before closing itself.
const lingerTimeout = 500 * time.Millisecond

// readBufferSize is the read buffer of a session: about 130 pipelined
// submit_sm per read system call, 8 KiB per idle session.
const readBufferSize = 8 << 10

// Session is one client connection. Its methods are safe for concurrent use.
type Session struct {
	srv     *Server
	id      uint64
	conn    net.Conn // what PDUs are read from and written to (*tls.Conn for TLS)
	rawConn net.Conn // the accepted connection, closed to end the session
	pc      *pduConn // rawConn with Server.ReadTimeout; read by conn
	ip      string
	ctx     context.Context
	cancel  context.CancelFunc
	epoch   time.Time // accept time; monotonic base of the int64 times below

	// Settings resolved from the Server's zero values.
	bindTimeout, enquireInterval, idleTimeout int64 // nanoseconds; <= 0 disables
	responseTimeout, unbindTimeout            time.Duration
	writeTimeout                              time.Duration
	maxUnanswered, windowSize, maxPending     int
	writeQueueLen                             int
	maxBindAttempts, maxUnbound               int
	maxTimeouts                               int // <= 0: never close for timeouts

	state    atomic.Uint32 // ConnState; changed under mu (by CAS), or to Closed by closeNow
	lastRead atomic.Int64  // time of the last complete PDU read, ns since epoch
	pending  atomic.Int32  // requests handed to the Handler, not yet answered
	reason   atomic.Uint32 // CloseReason: why the session closed; set once by closeNow

	// stateMu orders state transitions with their ConnState calls, so the
	// hook sees Open, Bound, Unbinding, Closed in that order.
	stateMu sync.Mutex

	mu           sync.Mutex // guards the fields below; never held during I/O or callbacks
	bindType     BindType
	systemID     string
	identity     Identity
	boundAt      time.Time
	ifVersion    uint8
	unbindReason CloseReason // why the session is unbinding
	seq          uint32      // last sequence number the server used
	window       map[uint32]outstanding
	failedBinds  int
	unboundReqs  int
	timeouts     int   // Send requests timed out since the last response to one
	lastPing     int64 // when the last enquire_link was sent, ns since epoch
	unanswered   int   // enquire_links sent since the last PDU read
	unbindSeq    uint32
	finished     bool // finish is waiting for bg; no more bg.Add

	outMu     sync.Mutex // guards the write queue below; never held during I/O
	out       []byte     // encoded PDUs waiting for the write loop
	outCount  int        // PDUs in out
	outClosed bool       // nothing more is queued
	drain     CloseReason
	spare     []byte // the write loop's buffer; owned by the write loop

	wake       chan struct{} // write queue became non-empty (or drain was set)
	rearm      chan struct{} // timers must be recomputed
	quiet      chan struct{} // a pending response or outstanding request finished
	done       chan struct{} // closed when the session closes
	writerDone chan struct{}
	closeOnce  sync.Once
	bg         sync.WaitGroup // unbind goroutines
}

// outstanding is a server-initiated request waiting for its response.
type outstanding struct {
	id       pdu.CommandID
	deadline int64 // ns since epoch
	done     func(h pdu.Header, resp pdu.PDU, err error)
}

func newSession(srv *Server, base context.Context, c net.Conn, ip string, tlsConfig *tls.Config) *Session {
	s := &Session{
		srv:        srv,
		id:         srv.nextID.Add(1),
		rawConn:    c,
		pc:         newPDUConn(c, durationOr(srv.ReadTimeout, DefaultReadTimeout), tlsConfig != nil),
		ip:         ip,
		epoch:      time.Now(),
		window:     make(map[uint32]outstanding),
		wake:       make(chan struct{}, 1),
		rearm:      make(chan struct{}, 1),
		quiet:      make(chan struct{}, 1),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	s.conn = s.pc
	if tlsConfig != nil {
		s.conn = tls.Server(s.pc, tlsConfig)
	}
	s.ctx, s.cancel = context.WithCancel(base)
	s.bindTimeout = int64(durationOr(srv.BindTimeout, DefaultBindTimeout))
	s.enquireInterval = int64(durationOr(srv.EnquireLinkInterval, DefaultEnquireLinkInterval))
	s.idleTimeout = int64(durationOr(srv.IdleTimeout, DefaultIdleTimeout))
	s.responseTimeout = durationOr(srv.ResponseTimeout, DefaultResponseTimeout)
	s.unbindTimeout = durationOr(srv.UnbindTimeout, DefaultUnbindTimeout)
	s.writeTimeout = durationOr(srv.WriteTimeout, DefaultWriteTimeout)
	s.maxUnanswered = intOr(srv.MaxUnansweredEnquires, DefaultMaxUnansweredEnquires)
	s.windowSize = intOr(srv.WindowSize, DefaultWindowSize)
	s.maxPending = intOr(srv.MaxPending, DefaultMaxPending)
	s.writeQueueLen = intOr(srv.WriteQueueLen, DefaultWriteQueueLen)
	s.maxBindAttempts = intOr(srv.MaxBindAttempts, DefaultMaxBindAttempts)
	s.maxUnbound = intOr(srv.MaxUnboundRequests, DefaultMaxUnboundRequests)
	s.maxTimeouts = srv.MaxResponseTimeouts
	if s.maxTimeouts == 0 {
		s.maxTimeouts = s.windowSize
	}
	s.seq = seqStart + rand.Uint32N(seqSpan)
	return s
}

// ID is unique per Server for its lifetime, starting at 1.
func (s *Session) ID() uint64 { return s.id }

// RemoteAddr is the client's address.
func (s *Session) RemoteAddr() net.Addr { return s.rawConn.RemoteAddr() }

// LocalAddr is the address the client connected to.
func (s *Session) LocalAddr() net.Addr { return s.rawConn.LocalAddr() }

// Context ends when the session closes. It derives from Server.BaseContext.
func (s *Session) Context() context.Context { return s.ctx }

// State is the current state.
func (s *Session) State() ConnState { return ConnState(s.state.Load()) }

// BindType is the bind the session holds (BindNone before a bind).
func (s *Session) BindType() BindType {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bindType
}

// SystemID is the system_id the client bound with ("" before a bind).
func (s *Session) SystemID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.systemID
}

// Identity is what the Authenticator returned for the bind.
func (s *Session) Identity() Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identity
}

// BoundAt is when the bind succeeded (zero before).
func (s *Session) BoundAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boundAt
}

// InterfaceVersion is the interface_version of the successful bind.
func (s *Session) InterfaceVersion() uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ifVersion
}

// CloseReason says why the session closed (ReasonNone while open).
func (s *Session) CloseReason() CloseReason { return CloseReason(s.reason.Load()) }

// Outstanding is the number of Send requests waiting for a response.
func (s *Session) Outstanding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.window)
}

// Pending is the number of requests handed to the Handler and not yet
// answered.
func (s *Session) Pending() int { return int(s.pending.Load()) }

// TLSConnectionState returns the TLS state of a TLS session.
func (s *Session) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := s.conn.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

func (s *Session) now() int64 { return int64(time.Since(s.epoch)) }

func (s *Session) log() *slog.Logger { return s.srv.logger() }

// nextSeqLocked returns the next server sequence number. s.mu must be held.
func (s *Session) nextSeqLocked() uint32 {
	s.seq++
	if s.seq == 0 || s.seq > seqMax {
		s.seq = 1
	}
	return s.seq
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Send sends a server-initiated request, deliver_sm or data_sm, and calls
// done exactly once if and only if Send returns nil: with the response
// (err nil; h is the response header, whose ID may be generic_nack and
// whose Status the caller must check; resp is the decoded body, nil when
// absent or unparsable), or with ErrTimeout after Server.ResponseTimeout,
// or with ErrSessionClosed if the session closes first. On error, h holds
// the request's command id and sequence number.
//
// Send never blocks on the network. It returns ErrWindowFull when
// Server.WindowSize requests are outstanding, ErrNotBound before a bind,
// ErrNotReceiver on a transmitter bind, ErrSessionClosed once unbinding or
// closed, ErrNotRequest for other commands, and the codec's error when req
// cannot be encoded. done runs on a session goroutine (the read loop for
// responses, the write loop for timeouts, the closing goroutine for
// ErrSessionClosed), never inside Send and never under a lock; it must
// not block.
func (s *Session) Send(req pdu.PDU, done func(h pdu.Header, resp pdu.PDU, err error)) error {
	id := req.CommandID()
	if id != pdu.CmdDeliverSM && id != pdu.CmdDataSM {
		return fmt.Errorf("%w: %v", ErrNotRequest, id)
	}
	if done == nil {
		done = func(pdu.Header, pdu.PDU, error) {}
	}
	s.mu.Lock()
	switch ConnState(s.state.Load()) {
	case StateOpen:
		s.mu.Unlock()
		return ErrNotBound
	case StateUnbinding, StateClosed:
		s.mu.Unlock()
		return ErrSessionClosed
	}
	if !s.bindType.CanReceive() {
		s.mu.Unlock()
		return ErrNotReceiver
	}
	if len(s.window) >= s.windowSize {
		s.mu.Unlock()
		return ErrWindowFull
	}
	seq := s.nextSeqLocked()
	// Encoding under mu keeps the window and the queue consistent: a
	// request is in the window if and only if it was queued.
	if err := s.queue(seq, pdu.StatusOK, req); err != nil {
		s.mu.Unlock()
		return err
	}
	wasEmpty := len(s.window) == 0
	s.window[seq] = outstanding{id: id, deadline: s.now() + int64(s.responseTimeout), done: done}
	s.mu.Unlock()
	if wasEmpty {
		signal(s.rearm)
	}
	return nil
}

// Unbind starts a server-initiated unbind and returns at once: the session
// stops taking requests, waits for the responses it owes and the answers
// to its outstanding requests (up to Server.ResponseTimeout), sends unbind,
// and closes on unbind_resp or after Server.UnbindTimeout, with reason
// Kicked. An unbound session is closed at once.
func (s *Session) Unbind() { s.beginUnbind(Kicked) }

// Close closes the connection at once with the given reason; owed
// responses are lost and Send's done functions get ErrSessionClosed.
func (s *Session) Close(reason CloseReason) { s.closeNow(reason) }

// queue encodes p behind the PDUs waiting for the write loop. It never
// blocks on I/O. Overflowing Server.WriteQueueLen closes the session as a
// slow consumer.
func (s *Session) queue(seq uint32, status pdu.Status, p pdu.PDU) error {
	s.outMu.Lock()
	if s.outClosed {
		s.outMu.Unlock()
		return ErrSessionClosed
	}
	n := len(s.out)
	out, err := pdu.Append(s.out, seq, status, bodyFor(status, p))
	if err != nil {
		s.out = out[:n]
		s.outMu.Unlock()
		return err
	}
	s.out = out
	s.outCount++
	over := s.outCount > s.writeQueueLen
	s.outMu.Unlock()
	if over {
		s.closeNow(SlowConsumer)
		return ErrSessionClosed
	}
	if n == 0 {
		signal(s.wake)
	}
	return nil
}

// closeAfterFlush lets the write loop write what is queued, then close.
// Nothing more is queued after it.
func (s *Session) closeAfterFlush(reason CloseReason) {
	s.outMu.Lock()
	if s.drain == ReasonNone {
		s.drain = reason
	}
	s.outClosed = true
	s.outMu.Unlock()
	signal(s.wake)
}

// closeNow records reason (the first one wins) and closes the connection,
// which ends both loops.
func (s *Session) closeNow(reason CloseReason) {
	s.closeOnce.Do(func() {
		s.outMu.Lock()
		if s.drain != ReasonNone {
			// The close was decided before this one noticed it (the
			// client's EOF after our unbind_resp, say).
			reason = s.drain
		}
		s.outMu.Unlock()
		// No s.mu here: closeNow is called with s.mu held (a slow
		// consumer found by queue inside Send or tick).
		s.reason.Store(uint32(reason))
		s.state.Store(uint32(StateClosed))
		s.outMu.Lock()
		s.outClosed = true
		s.outMu.Unlock()
		close(s.done)
		s.cancel()
		// The raw connection, not the TLS one: tls.Conn.Close writes a
		// close_notify and may block on a peer that does not read.
		s.rawConn.Close()
	})
}

func (s *Session) draining() bool {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.drain != ReasonNone
}

// lingerClose ends a session whose last answers are written: it sends FIN
// (and TLS close_notify) first and closes when the client closes its side
// or after lingerTimeout, so that the client reads the answers before any
// reset.
func (s *Session) lingerClose(reason CloseReason) {
	if tc, ok := s.conn.(*tls.Conn); ok && tc.ConnectionState().HandshakeComplete {
		tc.SetWriteDeadline(time.Now().Add(lingerTimeout))
		tc.CloseWrite()
	}
	if cw, ok := s.rawConn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		t := time.NewTimer(lingerTimeout)
		select {
		case <-s.done:
		case <-t.C:
		}
		t.Stop()
	}
	s.closeNow(reason)
}

func (s *Session) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Session) notify(st ConnState) {
	if s.srv.ConnState != nil {
		s.srv.ConnState(s, st)
	}
}

// serve runs the session on the accepting goroutine: the read loop here,
// the write loop on its own goroutine.
func (s *Session) serve() {
	defer s.srv.wg.Done()
	s.stateMu.Lock()
	s.notify(StateOpen)
	s.stateMu.Unlock()
	s.lastRead.Store(0)
	go s.writeLoop()
	if tc, ok := s.conn.(*tls.Conn); ok {
		limit := time.Duration(s.bindTimeout)
		if limit <= 0 {
			limit = DefaultBindTimeout
		}
		ctx, cancel := context.WithTimeout(s.ctx, limit)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			if !s.isClosed() {
				s.log().Info("tls handshake failed", "session", s.id, "remote", s.RemoteAddr().String(), "err", err)
			}
			s.closeNow(TLSHandshakeError)
		}
		s.pc.frameDone(false) // handshake bytes are not a PDU
	}
	if !s.isClosed() {
		s.readLoop()
	}
	s.finish()
}

func (s *Session) finish() {
	if s.draining() {
		// Let the write loop deliver the last answers and linger.
		t := time.NewTimer(s.writeTimeout + lingerTimeout)
		select {
		case <-s.done:
		case <-t.C:
		}
		t.Stop()
	}
	s.closeNow(ClientClosed) // no-op when a reason was recorded
	<-s.writerDone
	s.mu.Lock()
	s.finished = true // no bg.Add after this
	s.mu.Unlock()
	s.bg.Wait()

	s.mu.Lock()
	window := s.window
	s.window = nil
	systemID, bindType := s.systemID, s.bindType
	reason := s.CloseReason()
	s.mu.Unlock()
	for seq, o := range window {
		o.done(pdu.Header{ID: o.id, Seq: seq}, nil, ErrSessionClosed)
	}
	s.srv.forget(s)
	s.stateMu.Lock()
	s.notify(StateClosed)
	s.stateMu.Unlock()
	s.log().Info("session closed", "session", s.id, "remote", s.RemoteAddr().String(),
		"system_id", systemID, "bind_type", bindType.String(), "reason", reason.String(),
		"duration", time.Since(s.epoch).Round(time.Millisecond))
}

// readLoop reads and dispatches PDUs until the connection fails or
// closes.
func (s *Session) readLoop() {
	// One read system call fills many pipelined PDUs.
	tc, _ := s.conn.(*tls.Conn)
	br := bufio.NewReaderSize(s.pc.plaintext(tc), readBufferSize)
	r := pdu.NewReader(br, s.srv.MaxPDULen)
	hook := s.srv.PDUHook
	for frames := uint(1); ; frames++ {
		h, body, err := r.ReadFrame()
		if err != nil {
			if s.readFailed(h, err) {
				s.awaitDrain(br)
			}
			return
		}
		// The clock is read once per burst of pipelined PDUs (and every
		// 64th PDU of an endless one), not per PDU: a burst is read in
		// microseconds, and the timeouts it feeds are seconds.
		if br.Buffered() == 0 || frames%64 == 0 {
			s.lastRead.Store(s.now())
		}
		s.pc.frameDone(br.Buffered() > 0)
		if hook != nil {
			hook(s, true, h)
		}
		if !s.dispatch(h, body) {
			s.awaitDrain(br)
			return
		}
	}
}

// awaitDrain discards input, which can no longer be trusted or is no
// longer wanted, until the write loop has written the last answers and
// closed the connection (or the client closed it). Reading on avoids the
// reset that closing a socket with unread input sends, which can make the
// client's kernel drop those last answers unread.
func (s *Session) awaitDrain(r io.Reader) {
	io.Copy(io.Discard, r)
}

// readFailed ends the session after a read error; it reports true when a
// final generic_nack is being written.
func (s *Session) readFailed(h pdu.Header, err error) bool {
	if s.isClosed() {
		return false
	}
	switch {
	case s.pc.expired:
		s.log().Info("incomplete PDU; closing", "session", s.id, "remote", s.RemoteAddr().String(),
			"read_timeout", s.pc.timeout)
		s.closeNow(IncompletePDU)
	case errors.Is(err, pdu.ErrCmdLenTooShort), errors.Is(err, pdu.ErrCmdLenTooLong):
		status, _, _ := pdu.ErrorStatus(err)
		s.log().Info("protocol error; closing", "session", s.id, "remote", s.RemoteAddr().String(), "err", err)
		s.queue(h.Seq, status, genericNack)
		s.closeAfterFlush(ProtocolError)
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET):
		s.closeNow(ClientClosed)
	default:
		s.log().Info("read error", "session", s.id, "remote", s.RemoteAddr().String(), "err", err)
		s.closeNow(ReadError)
	}
	return false
}

// dispatch handles one PDU on the read loop. It reports false when the
// read loop must stop (the stream cannot be trusted any more).
func (s *Session) dispatch(h pdu.Header, body []byte) bool {
	if h.ID.IsResponse() {
		s.handleResponse(h, body)
		return true
	}
	switch h.ID {
	case pdu.CmdEnquireLink:
		// Answered in every state; a body, which enquire_link does not
		// have, is ignored rather than punished.
		s.queue(h.Seq, pdu.StatusOK, emptyResponse(pdu.CmdEnquireLinkResp))
	case pdu.CmdBindTransmitter, pdu.CmdBindReceiver, pdu.CmdBindTransceiver:
		return s.handleBind(h, body)
	case pdu.CmdUnbind:
		s.handleUnbind(h)
	case pdu.CmdSubmitSM, pdu.CmdSubmitMulti, pdu.CmdDataSM, pdu.CmdQuerySM, pdu.CmdCancelSM, pdu.CmdReplaceSM:
		return s.handleRequest(h, body)
	default:
		// Commands a client may not send (deliver_sm, outbind,
		// alert_notification) and unknown ones.
		status := pdu.StatusInvCmdID
		if s.State() == StateOpen && h.ID.Known() {
			status = pdu.StatusInvBndSts
		}
		return s.reject(h, status)
	}
	return true
}

// reject answers a request with status: its own _resp when the command is
// known and has one, generic_nack otherwise. Before a bind it counts
// against MaxUnboundRequests.
func (s *Session) reject(h pdu.Header, status pdu.Status) bool {
	resp := emptyResponse(h.ID.Response())
	if resp == nil {
		resp = genericNack
	}
	s.queue(h.Seq, status, resp)
	if s.State() == StateOpen {
		s.mu.Lock()
		s.unboundReqs++
		over := s.unboundReqs > s.maxUnbound
		s.mu.Unlock()
		if over {
			s.log().Info("too many requests before bind; closing", "session", s.id, "remote", s.RemoteAddr().String())
			s.closeAfterFlush(ProtocolError)
			return false
		}
	}
	return true
}

// decodeFailed answers a PDU whose body did not decode, as
// pdu.ErrorStatus says; it reports false when the stream is lost.
func (s *Session) decodeFailed(h pdu.Header, err error) bool {
	status, nack, fatal := pdu.ErrorStatus(err)
	resp := emptyResponse(h.ID.Response())
	if nack || resp == nil {
		resp = genericNack
	}
	s.queue(h.Seq, status, resp)
	s.log().Debug("undecodable pdu", "session", s.id, "remote", s.RemoteAddr().String(), "command", h.ID.String(), "status", status.String(), "err", err)
	if fatal {
		s.closeAfterFlush(ProtocolError)
		return false
	}
	return true
}

func (s *Session) handleResponse(h pdu.Header, body []byte) {
	switch h.ID {
	case pdu.CmdEnquireLinkResp:
		return // lastRead is already updated, which resets the keepalive
	case pdu.CmdUnbindResp:
		s.mu.Lock()
		ours := s.unbindSeq != 0
		reason := s.unbindReason
		s.mu.Unlock()
		if ours {
			s.closeNow(reason)
		}
		return
	}
	s.mu.Lock()
	o, ok := s.window[h.Seq]
	if ok {
		delete(s.window, h.Seq)
		s.timeouts = 0
	}
	unbinding := s.State() == StateUnbinding
	s.mu.Unlock()
	if !ok {
		return // a response to nothing is ignored
	}
	var resp pdu.PDU
	if h.ID == o.id.Response() {
		// A body that does not decode is not held against an answer the
		// client gave: the status decides (resp stays nil).
		if p, err := pdu.Decode(h, body); err == nil {
			resp = p
		}
	}
	o.done(h, resp, nil)
	if unbinding {
		signal(s.quiet)
	}
}

func (s *Session) handleBind(h pdu.Header, body []byte) bool {
	respID := h.ID.Response()
	if s.State() != StateOpen {
		s.queue(h.Seq, pdu.StatusAlyBnd, emptyResponse(respID))
		return true
	}
	p, err := pdu.Decode(h, body)
	if err != nil {
		s.bindFailed(h, nil, err)
		return s.decodeFailed(h, err) && !s.tooManyBinds()
	}
	b, ok := p.(*pdu.Bind)
	if !ok {
		s.queue(h.Seq, pdu.StatusSysErr, emptyResponse(respID))
		return true
	}
	identity, status, panicked := s.authenticate(b)
	if status == pdu.StatusOK && s.srv.inShutdown.Load() {
		status = pdu.StatusBindFail
	}
	if status != pdu.StatusOK {
		s.queue(h.Seq, status, emptyResponse(respID))
		s.bindFailed(h, b, fmt.Errorf("authenticator: %v", status))
		if panicked || s.srv.inShutdown.Load() {
			reason := InternalError
			if !panicked {
				reason = ServerShutdown
			}
			s.closeAfterFlush(reason)
			return false
		}
		return !s.tooManyBinds()
	}

	bt := bindTypeOf(h.ID)
	s.stateMu.Lock()
	s.mu.Lock()
	// Readers of the fields below take s.mu, so setting them after the
	// state is fine; the CAS loses only to closeNow.
	if !s.state.CompareAndSwap(uint32(StateOpen), uint32(StateBound)) {
		s.mu.Unlock()
		s.stateMu.Unlock()
		return true
	}
	s.bindType = bt
	s.systemID = b.SystemID
	s.identity = identity
	s.boundAt = time.Now()
	s.ifVersion = b.InterfaceVersion
	s.mu.Unlock()
	resp := &pdu.BindResp{Cmd: respID, SystemID: s.srv.systemID()}
	if b.InterfaceVersion >= 0x34 {
		resp.TLVs.SetSCInterfaceVersion(0x34)
	}
	if err := s.queue(h.Seq, pdu.StatusOK, resp); err != nil && !errors.Is(err, ErrSessionClosed) {
		// Server.SystemID over 15 characters: a configuration error.
		s.log().Error("cannot encode bind_resp", "err", err)
		s.queue(h.Seq, pdu.StatusSysErr, emptyResponse(respID))
	}
	s.notify(StateBound)
	s.stateMu.Unlock()
	signal(s.rearm)
	s.log().Info("bind", "session", s.id, "result", "ok", "system_id", b.SystemID, "bind_type", bt.String(),
		"remote", s.RemoteAddr().String(), "interface_version", fmt.Sprintf("0x%02X", b.InterfaceVersion), "identity", identity.ID)
	return true
}

// bindFailed logs a refused bind: never the password, only its length,
// which shows truncation by the client.
func (s *Session) bindFailed(h pdu.Header, b *pdu.Bind, err error) {
	s.mu.Lock()
	s.failedBinds++
	s.mu.Unlock()
	attrs := []any{"session", s.id, "result", "failed", "bind_type", bindTypeOf(h.ID).String(),
		"remote", s.RemoteAddr().String(), "err", err}
	if b != nil {
		attrs = append(attrs, "system_id", b.SystemID, "password_length", len(b.Password),
			"interface_version", fmt.Sprintf("0x%02X", b.InterfaceVersion))
	}
	s.log().Warn("bind", attrs...)
}

func (s *Session) tooManyBinds() bool {
	s.mu.Lock()
	over := s.failedBinds >= s.maxBindAttempts
	s.mu.Unlock()
	if over {
		s.closeAfterFlush(BindFailed)
	}
	return over
}

func (s *Session) authenticate(b *pdu.Bind) (id Identity, status pdu.Status, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("authenticator panic", "session", s.id, "panic", r, "stack", string(debug.Stack()))
			id, status, panicked = Identity{}, pdu.StatusSysErr, true
		}
	}()
	id, status = s.srv.Auth.Authenticate(s.ctx, s, b)
	return id, status, false
}

func (s *Session) handleUnbind(h pdu.Header) {
	s.stateMu.Lock()
	s.mu.Lock()
	switch s.State() {
	case StateOpen:
		s.mu.Unlock()
		s.stateMu.Unlock()
		s.reject(h, pdu.StatusInvBndSts)
		return
	case StateUnbinding:
		// A second unbind, or both sides unbinding at once: answer and go.
		reason := s.unbindReason
		s.mu.Unlock()
		s.stateMu.Unlock()
		s.queue(h.Seq, pdu.StatusOK, emptyResponse(pdu.CmdUnbindResp))
		s.closeAfterFlush(reason)
		return
	case StateClosed:
		s.mu.Unlock()
		s.stateMu.Unlock()
		return
	}
	if !s.state.CompareAndSwap(uint32(StateBound), uint32(StateUnbinding)) {
		s.mu.Unlock()
		s.stateMu.Unlock()
		return
	}
	s.unbindReason = ClientUnbind
	systemID := s.systemID
	s.bg.Add(1)
	s.mu.Unlock()
	s.notify(StateUnbinding)
	s.stateMu.Unlock()
	s.log().Info("unbind", "session", s.id, "by", "client", "system_id", systemID, "remote", s.RemoteAddr().String())
	answer := func() {
		s.queue(h.Seq, pdu.StatusOK, emptyResponse(pdu.CmdUnbindResp))
		s.closeAfterFlush(ClientUnbind)
	}
	if s.pending.Load() == 0 {
		answer()
		s.bg.Done()
		return
	}
	// Owed responses go out before unbind_resp; keep reading meanwhile.
	go func() {
		defer s.bg.Done()
		if s.waitQuiet(false, s.responseTimeout) {
			answer()
		}
	}()
}

// waitQuiet waits until no response is owed (and, with window, no Send is
// outstanding) or d passed; it reports false if the session closed.
func (s *Session) waitQuiet(window bool, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if s.pending.Load() == 0 && (!window || s.Outstanding() == 0) {
			return true
		}
		select {
		case <-s.quiet:
		case <-t.C:
			return true
		case <-s.done:
			return false
		}
	}
}

// beginUnbind starts a server-initiated unbind (see Session.Unbind). The
// work runs on its own goroutine so that it can be called from anywhere,
// ConnState hooks included.
func (s *Session) beginUnbind(reason CloseReason) {
	s.mu.Lock()
	if s.finished || s.State() == StateClosed {
		s.mu.Unlock()
		return
	}
	s.bg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.bg.Done()
		s.stateMu.Lock()
		s.mu.Lock()
		switch s.State() {
		case StateOpen:
			s.mu.Unlock()
			s.stateMu.Unlock()
			s.closeNow(reason)
			return
		case StateUnbinding, StateClosed:
			s.mu.Unlock()
			s.stateMu.Unlock()
			return
		}
		if !s.state.CompareAndSwap(uint32(StateBound), uint32(StateUnbinding)) {
			s.mu.Unlock()
			s.stateMu.Unlock()
			return
		}
		s.unbindReason = reason
		systemID := s.systemID
		s.mu.Unlock()
		s.notify(StateUnbinding)
		s.stateMu.Unlock()
		s.log().Info("unbind", "session", s.id, "by", "server", "reason", reason.String(), "system_id", systemID,
			"remote", s.RemoteAddr().String())

		if !s.waitQuiet(true, s.responseTimeout) {
			return
		}
		s.mu.Lock()
		seq := s.nextSeqLocked()
		s.unbindSeq = seq
		s.mu.Unlock()
		if s.queue(seq, pdu.StatusOK, unbindPDU) != nil {
			return
		}
		t := time.NewTimer(s.unbindTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			s.closeNow(reason)
		case <-s.done:
		}
	}()
}

func (s *Session) handleRequest(h pdu.Header, body []byte) bool {
	respID := h.ID.Response()
	switch s.State() {
	case StateOpen:
		return s.reject(h, pdu.StatusInvBndSts)
	case StateUnbinding, StateClosed:
		s.queue(h.Seq, pdu.StatusInvBndSts, emptyResponse(respID))
		return true
	}
	s.mu.Lock()
	bt := s.bindType
	s.mu.Unlock()
	if !bt.CanSubmit() {
		s.queue(h.Seq, pdu.StatusInvBndSts, emptyResponse(respID))
		return true
	}
	p, err := pdu.Decode(h, body)
	if err != nil {
		return s.decodeFailed(h, err)
	}
	if int(s.pending.Load()) >= s.maxPending {
		s.queue(h.Seq, pdu.StatusThrottled, emptyResponse(respID))
		return true
	}
	s.pending.Add(1)
	in := &inbound{req: Request{Header: h, PDU: p, Session: s}}
	s.serveRequest(in)
	return true
}

func (s *Session) serveRequest(in *inbound) {
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("handler panic", "session", s.id, "command", in.req.Header.ID.String(), "panic", r,
				"stack", string(debug.Stack()))
			in.Respond(pdu.StatusSysErr, nil)
			s.closeAfterFlush(InternalError)
		}
	}()
	s.srv.Handler.ServeSMPP(s.ctx, in, &in.req)
}

// inbound is one request and its ResponseWriter, in one allocation.
type inbound struct {
	req      Request
	answered atomic.Bool
}

func (in *inbound) Respond(status pdu.Status, body pdu.PDU) error {
	if !in.answered.CompareAndSwap(false, true) {
		return ErrAlreadyResponded
	}
	s := in.req.Session
	defer s.requestDone()
	h := in.req.Header
	want := h.ID.Response()
	if body == nil {
		body = emptyResponse(want)
	} else if got := body.CommandID(); got != want {
		s.queue(h.Seq, pdu.StatusSysErr, emptyResponse(want))
		return &pdu.Error{ID: got, Field: "command_id", Err: fmt.Errorf("%v is not the response to %v", got, h.ID)}
	}
	err := s.queue(h.Seq, status, body)
	if err != nil && !errors.Is(err, ErrSessionClosed) {
		s.queue(h.Seq, pdu.StatusSysErr, emptyResponse(want))
	}
	return err
}

func (s *Session) requestDone() {
	if s.pending.Add(-1) == 0 && s.State() == StateUnbinding {
		signal(s.quiet)
	}
}

// writeLoop writes whatever is queued in one Write per wake-up, and runs
// the session's timers: bind timeout, idle timeout, enquire_link and Send
// response timeouts.
func (s *Session) writeLoop() {
	defer close(s.writerDone)
	timer := time.NewTimer(s.tick())
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
			if !s.flush() {
				return
			}
		case <-s.rearm:
			timer.Reset(s.tick())
		case <-timer.C:
			timer.Reset(s.tick())
		}
	}
}

// flush writes the queue until it is empty; it reports false when the
// session is closed.
func (s *Session) flush() bool {
	hook := s.srv.PDUHook
	for {
		s.outMu.Lock()
		if len(s.out) == 0 {
			drain := s.drain
			s.outMu.Unlock()
			if drain != ReasonNone {
				s.lingerClose(drain)
				return false
			}
			return true
		}
		buf := s.out
		s.out, s.spare = s.spare[:0], nil
		s.outCount = 0
		s.outMu.Unlock()

		if s.writeTimeout > 0 {
			s.conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		}
		_, err := s.conn.Write(buf)
		if err != nil {
			reason := WriteError
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				reason = SlowConsumer
			}
			if !s.isClosed() && !s.draining() {
				s.log().Info("write error", "session", s.id, "remote", s.RemoteAddr().String(), "reason", reason.String(), "err", err)
			}
			s.closeNow(reason)
			return false
		}
		if hook != nil {
			for off := 0; off+pdu.HeaderLen <= len(buf); {
				h, err := pdu.ParseHeader(buf[off:])
				if err != nil || h.Length < pdu.HeaderLen {
					break
				}
				hook(s, false, h)
				off += int(h.Length)
			}
		}
		if cap(buf) > maxKeptBuffer {
			buf = nil
		}
		s.outMu.Lock()
		s.spare = buf[:0]
		s.outMu.Unlock()
	}
}

// tick runs the timers that are due and returns the delay to the next one.
func (s *Session) tick() time.Duration {
	const far = int64(time.Hour)
	now := s.now()
	next := now + far
	st := s.State()
	if st == StateClosed {
		return time.Duration(far)
	}
	if st == StateOpen && s.bindTimeout > 0 {
		if now >= s.bindTimeout {
			s.log().Info("bind timeout", "session", s.id, "remote", s.RemoteAddr().String())
			s.closeNow(BindTimeout)
			return time.Duration(far)
		}
		next = min(next, s.bindTimeout)
	}
	last := s.lastRead.Load()
	if s.idleTimeout > 0 {
		if now-last >= s.idleTimeout {
			s.closeNow(IdleTimeout)
			return time.Duration(far)
		}
		next = min(next, last+s.idleTimeout)
	}

	var expired []outstanding
	var expiredSeq []uint32
	s.mu.Lock()
	if st == StateBound && s.enquireInterval > 0 {
		if last > s.lastPing {
			s.unanswered = 0
		}
		ref := max(last, s.lastPing)
		if now-ref >= s.enquireInterval {
			if s.unanswered >= s.maxUnanswered {
				s.mu.Unlock()
				s.log().Info("enquire_link unanswered; closing", "session", s.id, "remote", s.RemoteAddr().String(), "unanswered", s.maxUnanswered)
				s.closeNow(StaleConnection)
				return time.Duration(far)
			}
			seq := s.nextSeqLocked()
			s.lastPing = now
			s.unanswered++
			ref = now
			s.queue(seq, pdu.StatusOK, enquireLinkPDU)
		}
		next = min(next, ref+s.enquireInterval)
	}
	for seq, o := range s.window {
		if now >= o.deadline {
			expired = append(expired, o)
			expiredSeq = append(expiredSeq, seq)
			delete(s.window, seq)
		} else {
			next = min(next, o.deadline)
		}
	}
	s.timeouts += len(expired)
	unanswered := s.maxTimeouts > 0 && s.timeouts >= s.maxTimeouts
	s.mu.Unlock()
	for i, o := range expired {
		o.done(pdu.Header{ID: o.id, Seq: expiredSeq[i]}, nil, ErrTimeout)
	}
	if unanswered && st == StateBound {
		s.log().Info("requests unanswered; closing", "session", s.id, "remote", s.RemoteAddr().String(),
			"reason", SlowConsumer.String(), "timeouts", s.maxTimeouts)
		s.closeNow(SlowConsumer)
		return time.Duration(far)
	}
	if len(expired) > 0 && st == StateUnbinding {
		signal(s.quiet)
	}
	return time.Duration(max(next-now, int64(time.Millisecond)))
}
