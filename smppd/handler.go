package smppd

import (
	"context"

	"github.com/smppd/smppd/pdu"
)

// Identity is what the Authenticator attaches to a bound session.
type Identity struct {
	ID   string // stable key, e.g. the token id; used to find a token's sessions
	Name string // human-readable, for logs
	Data any    // the application's own per-session value (e.g. *token)
}

// Authenticator decides binds.
type Authenticator interface {
	// Authenticate decides a bind. StatusOK binds the session with the
	// returned identity; any other status is sent in the bind_resp (with an
	// empty system_id, so strict clients can parse it) and the session stays
	// open, unbound: the client may retry until Server.MaxBindAttempts.
	//
	// It runs on the session's read loop: nothing else is read from this
	// connection until it returns, so it may sleep to slow down guessing.
	// b is owned by the callee. ctx ends when the session closes.
	Authenticate(ctx context.Context, s *Session, b *pdu.Bind) (Identity, pdu.Status)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, s *Session, b *pdu.Bind) (Identity, pdu.Status)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, s *Session, b *pdu.Bind) (Identity, pdu.Status) {
	return f(ctx, s, b)
}

// Request is one request from a bound client: submit_sm, submit_multi,
// data_sm, query_sm, cancel_sm or replace_sm, already checked against the
// bind type and decoded without error.
type Request struct {
	Header  pdu.Header // as read; Header.Seq is echoed by Respond
	PDU     pdu.PDU    // decoded body; owned by the handler (it does not alias the read buffer)
	Session *Session
}

// ResponseWriter answers one Request.
type ResponseWriter interface {
	// Respond queues the response for the request: status, and body (nil
	// means the command's empty _resp, e.g. a submit_sm_resp with an empty
	// message_id, which every client can parse). It must be called exactly
	// once per request; a second call returns ErrAlreadyResponded. It may
	// be called from any goroutine, also after ServeSMPP has returned (for
	// example after a store commit). It never blocks on the network.
	//
	// It returns ErrSessionClosed if the session closed meanwhile (the
	// response is lost; the client will retry), and a *pdu.Error if body
	// cannot be encoded or is not this command's response, in which case
	// ESME_RSYSERR is sent instead so the request is still answered.
	Respond(status pdu.Status, body pdu.PDU) error
}

// Handler serves bound-session requests.
type Handler interface {
	// ServeSMPP handles r and must make sure w.Respond is called exactly
	// once, now or later. It runs on the session's read loop, one request
	// at a time in arrival order: blocking here stops the session from
	// reading. At most Server.MaxPending requests per session are handed
	// out without a response; beyond that the server answers
	// ESME_RTHROTTLED itself. ctx ends when the session closes.
	ServeSMPP(ctx context.Context, w ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, w ResponseWriter, r *Request)

// ServeSMPP calls f.
func (f HandlerFunc) ServeSMPP(ctx context.Context, w ResponseWriter, r *Request) { f(ctx, w, r) }

// Middleware wraps a Handler (metrics, logging, throttling).
type Middleware func(Handler) Handler

// Chain wraps h in mws, the first one outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
