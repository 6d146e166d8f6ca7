// Package smppd is an SMPP 3.4 server library shaped like net/http: a
// Server with documented zero-value defaults, ListenAndServe, Serve,
// Shutdown and Close, and sessions that hand bound traffic to a Handler and
// bind requests to an Authenticator.
//
// The package owns the protocol mechanics that every SMPP server needs and
// that are easy to get wrong: framing with a size cap, the session state
// machine (what may be sent before bind, on which bind type, unbind from
// either side), keepalive with enquire_link, bind and idle timeouts, an
// outbound window with response timeouts, bounded inbound concurrency,
// connection limits, TLS and graceful shutdown. It owns no product logic:
// authentication, message storage and delivery receipts plug in through
// Authenticator and Handler, and server-initiated requests go out through
// Session.Send.
//
// # Threading
//
// Each session runs two goroutines: a read loop and a write loop. The read
// loop decodes one PDU at a time and calls Authenticator.Authenticate and
// Handler.ServeSMPP on itself, in arrival order; a handler that blocks stops
// the session from reading (TCP back-pressure) and from answering
// enquire_link, so slow work belongs on another goroutine with
// ResponseWriter.Respond called later, from anywhere. The write loop drains
// everything queued since its last write into one Write call and runs the
// keepalive timers. No lock is held during network I/O or while user
// callbacks (ConnState, PDUHook, Send's done) run.
//
// # Timeouts and abuse limits
//
// Most deadlines are enforced by the write loop's timer closing the
// connection: a connection that has not bound within BindTimeout is closed
// whatever it sends; a bound one that completes no PDU for
// EnquireLinkInterval gets enquire_link, and after MaxUnansweredEnquires of
// them (or IdleTimeout) it is closed. A PDU that has started must complete
// within ReadTimeout, bound or not (a slowloris that trickles a partial PDU,
// or over TLS a partial record): that one is a socket read deadline, set
// only while a PDU is incomplete, so a stream of whole PDUs costs at most
// one deadline change per read system call. Writes carry a WriteTimeout
// deadline, and a receiver that lets MaxResponseTimeouts requests in a row
// time out is closed as SlowConsumer. Before a bind only MaxUnboundRequests
// requests are answered and MaxBindAttempts binds tried; MaxConns and
// MaxConnsPerIP are applied at accept; MaxPending bounds the work a
// client's window can put in flight; WriteQueueLen bounds what a client
// that does not read can make the server hold.
package smppd
