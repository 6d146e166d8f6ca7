package smppd

import (
	"errors"
	"net"
	"os"
	"time"
)

// DefaultReadTimeout is how long a started PDU may take to arrive in full.
const DefaultReadTimeout = 30 * time.Second

// pduConn sits under the read buffer (and under TLS) and enforces
// Server.ReadTimeout: once bytes of a PDU have arrived, the rest must arrive
// within the timeout, or the read fails and the session is closed as
// IncompletePDU. A slowloris client that trickles a PDU one byte at a time
// is thereby closed within ReadTimeout, bound or not, instead of holding a
// session until the idle or keepalive timers notice (minutes).
//
// Between PDUs no deadline is set, so an idle but healthy client is left to
// IdleTimeout and the enquire_link keepalive. The deadline is a real socket
// deadline rather than one of the session's timers because only the read
// loop knows where PDU boundaries fall. It is armed when the read loop first
// waits for the rest of a started PDU, so time the read loop spends in the
// Handler or Authenticator never counts against the client.
//
// All fields are used by the read loop goroutine only (a TLS connection
// reads its underlying connection on the goroutine that calls its Read).
type pduConn struct {
	net.Conn
	timeout time.Duration // <= 0 disables
	started bool          // bytes of a PDU were read; the read loop waits for the rest
	armed   bool          // a read deadline is set on Conn
	expired bool          // a read failed on that deadline
}

func (c *pduConn) Read(b []byte) (int, error) {
	if c.timeout <= 0 {
		return c.Conn.Read(b)
	}
	switch {
	case c.started && !c.armed:
		c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		c.armed = true
	case !c.started && c.armed:
		c.Conn.SetReadDeadline(time.Time{})
		c.armed = false
	}
	n, err := c.Conn.Read(b)
	if n > 0 && !c.started {
		c.started = true
		c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		c.armed = true
	}
	if err != nil && c.armed && errors.Is(err, os.ErrDeadlineExceeded) {
		c.expired = true
	}
	return n, err
}

// frameDone is called after every complete PDU (and after the TLS
// handshake); more reports whether bytes of the next PDU are already
// buffered above this connection, in which case the next PDU has started
// and gets a fresh deadline when the read loop next waits for it.
func (c *pduConn) frameDone(more bool) {
	c.started = more
	if more {
		c.armed = false // re-armed from now on the next Read
	}
}
