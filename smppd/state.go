package smppd

import (
	"fmt"

	"github.com/smppd/smppd/pdu"
)

// BindType is the kind of bind a session holds.
type BindType uint8

// Bind types. The zero value means not bound.
const (
	BindNone        BindType = iota // not bound
	BindTransmitter                 // bind_transmitter: may submit
	BindReceiver                    // bind_receiver: receives deliver_sm
	BindTransceiver                 // bind_transceiver: both
)

// String returns the bind type's metric label: "transmitter", "receiver",
// "transceiver" or "none".
func (b BindType) String() string {
	switch b {
	case BindNone:
		return "none"
	case BindTransmitter:
		return "transmitter"
	case BindReceiver:
		return "receiver"
	case BindTransceiver:
		return "transceiver"
	}
	return fmt.Sprintf("BindType(%d)", uint8(b))
}

// CanSubmit reports whether a session bound this way may send submit_sm,
// submit_multi, data_sm, query_sm, cancel_sm and replace_sm.
func (b BindType) CanSubmit() bool { return b == BindTransmitter || b == BindTransceiver }

// CanReceive reports whether the server may send deliver_sm, data_sm and
// alert_notification to a session bound this way.
func (b BindType) CanReceive() bool { return b == BindReceiver || b == BindTransceiver }

// bindTypeOf maps a bind command to its bind type and response id.
func bindTypeOf(id pdu.CommandID) BindType {
	switch id {
	case pdu.CmdBindTransmitter:
		return BindTransmitter
	case pdu.CmdBindReceiver:
		return BindReceiver
	case pdu.CmdBindTransceiver:
		return BindTransceiver
	}
	return BindNone
}

// ConnState is the state of a session, reported through Server.ConnState.
type ConnState uint8

// Session states. Every session reports StateOpen first and StateClosed
// last, exactly once each; StateBound and StateUnbinding fire at most once
// in between and in this order.
const (
	// StateOpen: accepted (for TLS, before the handshake), not bound yet.
	StateOpen ConnState = iota
	// StateBound: a bind succeeded. Session.BindType, SystemID and
	// Identity are set from here on.
	StateBound
	// StateUnbinding: either side sent unbind (or Shutdown/Session.Unbind
	// began one). New requests are refused with ESME_RINVBNDSTS and Send
	// returns ErrSessionClosed; responses already owed are still written.
	StateUnbinding
	// StateClosed: the connection is closed; Session.CloseReason says why.
	StateClosed
)

// String returns the state's lowercase name ("open", "bound", ...).
func (c ConnState) String() string {
	switch c {
	case StateOpen:
		return "open"
	case StateBound:
		return "bound"
	case StateUnbinding:
		return "unbinding"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("ConnState(%d)", uint8(c))
}

// CloseReason says why a session ended. Its String is a bounded metric
// label.
type CloseReason uint8

// Close reasons.
const (
	ReasonNone        CloseReason = iota // not closed
	ClientClosed                         // the peer closed the connection (EOF or reset)
	ClientUnbind                         // the peer sent unbind; unbind_resp was sent
	ServerShutdown                       // Server.Shutdown or Server.Close
	BindTimeout                          // no successful bind within Server.BindTimeout
	StaleConnection                      // Server.MaxUnansweredEnquires enquire_link went unanswered
	IdleTimeout                          // nothing read for Server.IdleTimeout
	SlowConsumer                         // write queue overflow or a write blocked past Server.WriteTimeout
	ProtocolError                        // the stream could not be framed, or too many requests before bind
	Kicked                               // Session.Unbind or Session.Close by the application
	ReadError                            // a read failed with something other than EOF
	WriteError                           // a write failed
	BindFailed                           // Server.MaxBindAttempts failed binds on one connection
	TLSHandshakeError                    // the TLS handshake failed or timed out
	InternalError                        // the Authenticator or Handler panicked
	ConnLimit                            // refused at accept: Server.MaxConns or Server.MaxConnsPerIP (RefuseHook only)
	IncompletePDU                        // a started PDU did not arrive in full within Server.ReadTimeout
)

var reasonNames = [...]string{
	ReasonNone:        "none",
	ClientClosed:      "client_closed",
	ClientUnbind:      "client_unbind",
	ServerShutdown:    "server_shutdown",
	BindTimeout:       "bind_timeout",
	StaleConnection:   "stale_connection",
	IdleTimeout:       "idle_timeout",
	SlowConsumer:      "slow_consumer",
	ProtocolError:     "protocol_error",
	Kicked:            "kicked",
	ReadError:         "read_error",
	WriteError:        "write_error",
	BindFailed:        "bind_failed",
	TLSHandshakeError: "tls_handshake_error",
	InternalError:     "internal_error",
	ConnLimit:         "conn_limit",
	IncompletePDU:     "incomplete_pdu",
}

// String returns the reason's snake_case label ("client_closed", ...).
func (r CloseReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("CloseReason(%d)", uint8(r))
}
