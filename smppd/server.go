package smppd

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/pdu"
)

// Errors returned by the server and sessions. Match with errors.Is.
var (
	// ErrServerClosed is returned by Serve, ListenAndServe and their TLS
	// variants after Shutdown or Close.
	ErrServerClosed = errors.New("smppd: Server closed")
	// ErrWindowFull is returned by Session.Send when Server.WindowSize
	// requests are already waiting for a response.
	ErrWindowFull = errors.New("smppd: outbound window full")
	// ErrSessionClosed is returned by Send and Respond, and passed to Send's
	// done, when the session closed or began unbinding before the exchange
	// completed. Whatever was being sent should be requeued.
	ErrSessionClosed = errors.New("smppd: session closed")
	// ErrTimeout is passed to Send's done when no response arrived within
	// Server.ResponseTimeout.
	ErrTimeout = errors.New("smppd: response timeout")
	// ErrNotBound is returned by Send before a successful bind.
	ErrNotBound = errors.New("smppd: session not bound")
	// ErrNotReceiver is returned by Send on a transmitter bind, which the
	// server may not send requests to.
	ErrNotReceiver = errors.New("smppd: bind type cannot receive")
	// ErrAlreadyResponded is returned by a second ResponseWriter.Respond.
	ErrAlreadyResponded = errors.New("smppd: request already answered")
	// ErrNotRequest is returned by Send for a PDU that is not a request
	// the server may initiate (deliver_sm, data_sm, alert_notification).
	ErrNotRequest = errors.New("smppd: not a server-initiated request")
)

// Defaults of the Server's zero-valued fields.
const (
	DefaultAddr                  = ":2775"
	DefaultSystemID              = "smppd"
	DefaultBindTimeout           = 30 * time.Second
	DefaultEnquireLinkInterval   = 30 * time.Second
	DefaultMaxUnansweredEnquires = 3
	DefaultIdleTimeout           = 5 * time.Minute
	DefaultResponseTimeout       = 30 * time.Second
	DefaultUnbindTimeout         = 5 * time.Second
	DefaultWriteTimeout          = 30 * time.Second
	DefaultWindowSize            = 10
	DefaultMaxPending            = 256
	DefaultWriteQueueLen         = 4096
	DefaultMaxBindAttempts       = 3
	DefaultMaxUnboundRequests    = 16
)

// Server is an SMPP server. The zero value of every field but Handler and
// Auth is usable and means the documented default. Fields must not be
// changed after Serve is called.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; "" means ":2775".
	Addr string
	// Handler serves requests of bound sessions. Required.
	Handler Handler
	// Auth decides binds. Required.
	Auth Authenticator
	// SystemID is the system_id sent in successful bind responses; ""
	// means "smppd".
	SystemID string
	// TLSConfig is used by ServeTLS and ListenAndServeTLS. It is cloned;
	// MinVersion below TLS 1.2 is raised to TLS 1.2. GetCertificate is kept,
	// so certificates can be reloaded without a restart.
	TLSConfig *tls.Config

	// BindTimeout closes a session that has not bound successfully within
	// it of being accepted (TLS handshake included). Default 30s.
	BindTimeout time.Duration
	// ReadTimeout closes a session as IncompletePDU when a PDU whose first
	// bytes have arrived is not complete within it, bound or not: a client
	// that trickles a partial PDU (slowloris) holds its session at most this
	// long. The clock starts when the session first waits for the rest of
	// the PDU; between PDUs only IdleTimeout and the keepalive apply.
	// Default 30s; negative disables.
	ReadTimeout time.Duration
	// EnquireLinkInterval is how long a bound link may be silent before
	// the server sends enquire_link. Any PDU from the client resets it.
	// Default 30s; negative disables server enquire_links.
	EnquireLinkInterval time.Duration
	// MaxUnansweredEnquires enquire_links sent in a row without any PDU
	// from the client close the session as StaleConnection. Default 3.
	MaxUnansweredEnquires int
	// IdleTimeout closes a session from which no complete PDU was read for
	// this long. Default 5m; negative disables it.
	IdleTimeout time.Duration
	// ResponseTimeout is how long a request sent with Session.Send waits
	// for its response before done gets ErrTimeout. It also bounds how
	// long an unbind waits for owed responses. Default 30s.
	ResponseTimeout time.Duration
	// UnbindTimeout is how long a server-sent unbind waits for
	// unbind_resp before the connection is closed anyway. Default 5s.
	UnbindTimeout time.Duration
	// WriteTimeout closes a session as SlowConsumer when one write to the
	// connection blocks this long. Default 30s.
	WriteTimeout time.Duration
	// WindowSize is how many Session.Send requests may wait for a response
	// per session; one more gets ErrWindowFull. Default 10.
	WindowSize int
	// MaxResponseTimeouts closes a bound session as SlowConsumer when this
	// many Session.Send requests in a row got no response within
	// ResponseTimeout: a receiver that reads deliver_sm (and may even answer
	// enquire_link) but never acknowledges them would otherwise hold a full
	// window forever, each request timing out and being sent again. Its
	// done functions get ErrTimeout first, so the application requeues.
	// Default WindowSize (a whole window went unanswered); negative
	// disables.
	MaxResponseTimeouts int
	// MaxPending is how many requests per session may be handed to the
	// Handler without a response yet; further requests are answered with
	// ESME_RTHROTTLED without calling the Handler. Default 256.
	MaxPending int
	// MaxPDULen caps command_length; longer PDUs are a framing error (the
	// session gets generic_nack ESME_RINVCMDLEN and is closed). Default
	// pdu.DefaultMaxLen.
	MaxPDULen int
	// WriteQueueLen is how many PDUs may wait for the write loop per
	// session; one more closes the session as SlowConsumer. Default 4096.
	WriteQueueLen int
	// MaxConns caps open connections; 0 means unlimited. A connection over
	// the cap is closed at once, before any byte is read, and logged.
	MaxConns int
	// MaxConnsPerIP caps open connections per remote IP; 0 means unlimited.
	MaxConnsPerIP int
	// MaxBindAttempts failed binds on one connection close it as
	// BindFailed after the last bind_resp. Default 3.
	MaxBindAttempts int
	// MaxUnboundRequests requests other than bind and enquire_link before a
	// bind are answered (ESME_RINVBNDSTS, or generic_nack ESME_RINVCMDID for
	// unknown commands); the next one is answered too and then the session
	// is closed as ProtocolError. Default 16.
	MaxUnboundRequests int

	// Logger receives one line per bind (result, system_id, bind type,
	// remote; password_length on failure, never the password), unbind,
	// close (with its reason) and refused connection. nil means
	// slog.Default().
	Logger *slog.Logger
	// ConnState, if set, is called on every session state change (see
	// ConnState for the order). It runs on a session goroutine, outside
	// any lock; keep it short.
	ConnState func(*Session, ConnState)
	// PDUHook, if set, is called for every PDU read (in=true, before it is
	// handled) and written (in=false, after the write returned). For
	// metrics; keep it short and allocation-free.
	PDUHook func(s *Session, in bool, h pdu.Header)
	// RefuseHook, if set, is called for a connection closed at accept by
	// MaxConns or MaxConnsPerIP (reason ConnLimit) or during shutdown
	// (ServerShutdown).
	RefuseHook func(remote net.Addr, reason CloseReason)
	// BaseContext returns the base context of sessions accepted on l;
	// nil means context.Background(). Session contexts end when they close.
	BaseContext func(l net.Listener) context.Context

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	sessions   map[*Session]struct{}
	perIP      map[string]int
	inShutdown atomic.Bool
	nextID     atomic.Uint64
	wg         sync.WaitGroup // session goroutines
}

func (srv *Server) logger() *slog.Logger {
	if srv.Logger != nil {
		return srv.Logger
	}
	return slog.Default()
}

func (srv *Server) systemID() string {
	if srv.SystemID != "" {
		return srv.SystemID
	}
	return DefaultSystemID
}

func durationOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func intOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// ListenAndServe listens on the TCP address srv.Addr and calls Serve. It
// always returns a non-nil error; after Shutdown or Close, ErrServerClosed.
func (srv *Server) ListenAndServe() error {
	if srv.inShutdown.Load() {
		return ErrServerClosed
	}
	addr := srv.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return srv.Serve(l)
}

// Serve accepts connections on l, one session each, until l fails or the
// server is shut down. Temporary accept errors (out of file descriptors)
// are retried with a back-off up to one second. Serve closes l when it
// returns. It always returns a non-nil error; after Shutdown or Close,
// ErrServerClosed.
func (srv *Server) Serve(l net.Listener) error {
	return srv.serve(l, nil)
}

func (srv *Server) serve(l net.Listener, tlsConfig *tls.Config) error {
	if srv.Handler == nil || srv.Auth == nil {
		l.Close()
		return errors.New("smppd: Server.Handler and Server.Auth are required")
	}
	if !srv.trackListener(&l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer srv.trackListener(&l, false)
	defer l.Close()

	baseCtx := context.Background()
	if srv.BaseContext != nil {
		baseCtx = srv.BaseContext(l)
		if baseCtx == nil {
			panic("smppd: BaseContext returned a nil context")
		}
	}
	var tempDelay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if srv.inShutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			//lint:ignore SA1019 net/http uses the same test: accept errors such as EMFILE say Temporary.
			if errors.As(err, &ne) && ne.Temporary() {
				if tempDelay == 0 {
					tempDelay = 5 * time.Millisecond
				} else {
					tempDelay *= 2
				}
				tempDelay = min(tempDelay, time.Second)
				srv.logger().Warn("smppd: accept error; retrying", "err", err, "delay", tempDelay)
				time.Sleep(tempDelay)
				continue
			}
			return err
		}
		tempDelay = 0
		s, reason := srv.admit(baseCtx, c, tlsConfig)
		if s == nil {
			c.Close()
			srv.logger().Warn("connection refused", "remote", c.RemoteAddr().String(), "reason", reason.String())
			if srv.RefuseHook != nil {
				srv.RefuseHook(c.RemoteAddr(), reason)
			}
			continue
		}
		go s.serve()
	}
}

// trackListener adds or removes l; adding fails once shutdown began.
func (srv *Server) trackListener(l *net.Listener, add bool) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.listeners == nil {
		srv.listeners = make(map[*net.Listener]struct{})
	}
	if add {
		if srv.inShutdown.Load() {
			return false
		}
		srv.listeners[l] = struct{}{}
	} else {
		delete(srv.listeners, l)
	}
	return true
}

// remoteIP is the key for MaxConnsPerIP: the host part of a TCP address,
// or the whole address for other networks (net.Pipe in tests).
func remoteIP(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// admit applies the connection limits and registers a new session, or
// says why the connection is refused.
func (srv *Server) admit(ctx context.Context, c net.Conn, tlsConfig *tls.Config) (*Session, CloseReason) {
	ip := remoteIP(c.RemoteAddr())
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.inShutdown.Load() {
		return nil, ServerShutdown
	}
	if srv.sessions == nil {
		srv.sessions = make(map[*Session]struct{})
		srv.perIP = make(map[string]int)
	}
	if srv.MaxConns > 0 && len(srv.sessions) >= srv.MaxConns {
		return nil, ConnLimit
	}
	if srv.MaxConnsPerIP > 0 && srv.perIP[ip] >= srv.MaxConnsPerIP {
		return nil, ConnLimit
	}
	s := newSession(srv, ctx, c, ip, tlsConfig)
	srv.sessions[s] = struct{}{}
	srv.perIP[ip]++
	srv.wg.Add(1)
	return s, ReasonNone
}

func (srv *Server) forget(s *Session) {
	srv.mu.Lock()
	delete(srv.sessions, s)
	if n := srv.perIP[s.ip] - 1; n > 0 {
		srv.perIP[s.ip] = n
	} else {
		delete(srv.perIP, s.ip)
	}
	srv.mu.Unlock()
}

// Sessions returns a snapshot of the open sessions, in no order.
func (srv *Server) Sessions() []*Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		out = append(out, s)
	}
	return out
}

// closeListeners marks the server shut down and closes its listeners, so
// Serve returns ErrServerClosed and no session is admitted any more.
func (srv *Server) closeListeners() error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.inShutdown.Store(true)
	var err error
	for l := range srv.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
		delete(srv.listeners, l) // a second Shutdown or Close closes nothing twice
	}
	return err
}

// Close closes the listeners and every session at once (reason
// ServerShutdown): owed responses are lost and Send's done functions get
// ErrSessionClosed. It does not wait for session goroutines; see Wait.
func (srv *Server) Close() error {
	err := srv.closeListeners()
	for _, s := range srv.Sessions() {
		s.closeNow(ServerShutdown)
	}
	return err
}

// Shutdown shuts the server down gracefully: it closes the listeners,
// closes sessions that are not bound, and unbinds bound ones: each stops
// taking requests, waits for the responses it owes and for the answers
// to its own outstanding requests (up to ResponseTimeout), sends unbind
// and waits for unbind_resp (up to UnbindTimeout), then closes (reason
// ServerShutdown). Shutdown returns nil once every session has closed, or
// ctx.Err() after closing the rest at once when ctx ends first.
func (srv *Server) Shutdown(ctx context.Context) error {
	lerr := srv.closeListeners()
	for _, s := range srv.Sessions() {
		s.beginUnbind(ServerShutdown)
	}
	wait := time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		srv.mu.Lock()
		n := len(srv.sessions)
		srv.mu.Unlock()
		if n == 0 {
			return lerr
		}
		select {
		case <-ctx.Done():
			srv.Close()
			return ctx.Err()
		case <-timer.C:
			wait = min(wait*2, 100*time.Millisecond)
			timer.Reset(wait)
		}
	}
}

// Wait blocks until every session goroutine of the server has returned:
// after Close, for tests and leak checks. A Handler or Authenticator that
// blocks forever makes it block forever.
func (srv *Server) Wait() {
	srv.wg.Wait()
}
