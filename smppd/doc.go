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
package smppd
