package smppd

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
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
// Over TLS a PDU has started either when its first decrypted bytes arrived
// or when the raw stream stops in the middle of a TLS record: a record
// trickled one byte at a time yields no plaintext until it is complete, so
// the record framing is followed on the raw bytes as well.
//
// All fields are used by the read loop goroutine only (a TLS connection
// reads its underlying connection on the goroutine that calls its Read).
type pduConn struct {
	net.Conn
	timeout time.Duration // <= 0 disables
	records *tlsRecords   // TLS record framing of the raw stream; nil for plain TCP

	started     bool // bytes of a PDU were read; the read loop waits for the rest
	deadlineSet bool // a read deadline is set on Conn
	fresh       bool // ... and it was set for the PDU now being read
	expired     bool // a read failed on that deadline
}

func newPDUConn(c net.Conn, timeout time.Duration, isTLS bool) *pduConn {
	pc := &pduConn{Conn: c, timeout: timeout}
	if isTLS {
		pc.records = new(tlsRecords)
	}
	return pc
}

// busy reports whether a PDU or a TLS record is incomplete.
func (c *pduConn) busy() bool {
	return c.started || (c.records != nil && c.records.partial())
}

// arm sets or clears the read deadline before a read that may block.
func (c *pduConn) arm() {
	if c.timeout <= 0 {
		return
	}
	if c.busy() {
		if !c.deadlineSet || !c.fresh {
			c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
			c.deadlineSet, c.fresh = true, true
		}
	} else if c.deadlineSet {
		c.Conn.SetReadDeadline(time.Time{})
		c.deadlineSet = false
	}
}

// Read reads the raw connection: the read loop's for plain TCP, the TLS
// layer's for TLS.
func (c *pduConn) Read(b []byte) (int, error) {
	c.arm()
	n, err := c.Conn.Read(b)
	if n > 0 && c.timeout > 0 {
		if c.records != nil {
			c.records.scan(b[:n])
		} else {
			c.started = true
		}
	}
	if err != nil && c.deadlineSet && errors.Is(err, os.ErrDeadlineExceeded) {
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
	c.fresh = false
}

// plaintext is what the read loop reads: c itself for plain TCP, or tc (the
// TLS connection over c) with decrypted bytes marking a PDU as started.
func (c *pduConn) plaintext(tc *tls.Conn) io.Reader {
	if tc == nil {
		return c
	}
	return &tlsPlaintext{pc: c, tc: tc}
}

type tlsPlaintext struct {
	pc *pduConn
	tc *tls.Conn
}

func (p *tlsPlaintext) Read(b []byte) (int, error) {
	p.pc.arm()
	n, err := p.tc.Read(b)
	if n > 0 {
		p.pc.started = true
	}
	return n, err
}

// tlsRecords follows TLS record framing (a 5-byte header whose last two
// bytes are the length of the fragment that follows) over the raw bytes of
// a connection, from its first byte.
type tlsRecords struct {
	hdr  [5]byte
	hn   int // header bytes seen of the current record
	left int // fragment bytes still to come
}

func (r *tlsRecords) scan(b []byte) {
	for len(b) > 0 {
		if r.left > 0 {
			k := min(r.left, len(b))
			r.left -= k
			b = b[k:]
			continue
		}
		k := copy(r.hdr[r.hn:], b)
		r.hn += k
		b = b[k:]
		if r.hn == len(r.hdr) {
			r.left = int(binary.BigEndian.Uint16(r.hdr[3:]))
			r.hn = 0
		}
	}
}

func (r *tlsRecords) partial() bool { return r.hn > 0 || r.left > 0 }
