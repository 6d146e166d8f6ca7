package smppdtest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
)

// Client is a raw ESME over one connection: it writes whatever it is told,
// valid or not, and reads PDUs one at a time. Its methods that take no
// error return call t.Fatal on failure, so use them from the test
// goroutine only.
type Client struct {
	// Conn is the connection; write to it directly for byte-level abuse.
	Conn net.Conn
	// Timeout bounds each read and write; default 5s.
	Timeout time.Duration
	// AnswerEnquireLink makes Expect answer the server's enquire_link and
	// keep waiting instead of returning it; default true.
	AnswerEnquireLink bool

	t   testing.TB
	r   *pdu.Reader
	seq uint32
	buf []byte
}

// Dial connects to addr; t.Cleanup closes the connection.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("smppdtest: dial %s: %v", addr, err)
	}
	return NewClient(t, c)
}

// DialTLS connects to addr over TLS with cfg and completes the handshake.
func DialTLS(t testing.TB, addr string, cfg *tls.Config) *Client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("smppdtest: dial tls %s: %v", addr, err)
	}
	return NewClient(t, c)
}

// NewClient wraps an open connection; t.Cleanup closes it.
func NewClient(t testing.TB, c net.Conn) *Client {
	t.Cleanup(func() { c.Close() })
	return &Client{
		Conn:              c,
		Timeout:           5 * time.Second,
		AnswerEnquireLink: true,
		t:                 t,
		r:                 pdu.NewReader(bufio.NewReader(c), 1<<20),
	}
}

// NextSeq returns the next sequence number Send will use (from 1).
func (c *Client) NextSeq() uint32 { return c.seq + 1 }

// Send writes p with the next sequence number, returning it.
func (c *Client) Send(p pdu.PDU) uint32 {
	c.t.Helper()
	c.seq++
	c.SendSeq(c.seq, pdu.StatusOK, p)
	return c.seq
}

// SendSeq writes p with the given sequence number and status.
func (c *Client) SendSeq(seq uint32, status pdu.Status, p pdu.PDU) {
	c.t.Helper()
	b, err := pdu.Append(c.buf[:0], seq, status, p)
	if err != nil {
		c.t.Fatalf("smppdtest: encode %v: %v", p.CommandID(), err)
	}
	c.buf = b
	c.SendRaw(b)
}

// SendRaw writes b as it is.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	c.Conn.SetWriteDeadline(time.Now().Add(c.Timeout))
	if _, err := c.Conn.Write(b); err != nil {
		c.t.Fatalf("smppdtest: write: %v", err)
	}
}

// Read reads the next PDU within Timeout. Known commands are decoded; an
// unknown or undecodable one comes back with a nil PDU and the error.
func (c *Client) Read() (pdu.Header, pdu.PDU, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.Timeout))
	h, body, err := c.r.ReadFrame()
	if err != nil {
		return h, nil, err
	}
	p, err := pdu.Decode(h, body)
	if err != nil {
		return h, nil, err
	}
	return h, p, nil
}

// Expect reads the next PDU, answering enquire_link on the way if
// AnswerEnquireLink, and fails the test unless it has command id id and
// status status; with seq != 0 the sequence number must match too.
func (c *Client) Expect(id pdu.CommandID, status pdu.Status, seq uint32) (pdu.Header, pdu.PDU) {
	c.t.Helper()
	for {
		h, p, err := c.Read()
		if err != nil {
			c.t.Fatalf("smppdtest: expecting %v %v: %v", id, status, err)
		}
		if h.ID == pdu.CmdEnquireLink && id != pdu.CmdEnquireLink && c.AnswerEnquireLink {
			c.SendSeq(h.Seq, pdu.StatusOK, &pdu.EnquireLinkResp{})
			continue
		}
		if h.ID != id || h.Status != status || (seq != 0 && h.Seq != seq) {
			c.t.Fatalf("smppdtest: got %v %v seq %d, want %v %v seq %d", h.ID, h.Status, h.Seq, id, status, seq)
		}
		return h, p
	}
}

// ExpectClosed fails the test unless the server closes the connection
// within Timeout; PDUs that arrive before the close are returned.
func (c *Client) ExpectClosed() []pdu.Header {
	c.t.Helper()
	var got []pdu.Header
	deadline := time.Now().Add(c.Timeout)
	for {
		c.Conn.SetReadDeadline(deadline)
		h, _, err := c.r.ReadFrame()
		if err == nil {
			got = append(got, h)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("smppdtest: connection still open after %v (read %d PDUs)", c.Timeout, len(got))
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
			c.t.Fatalf("smppdtest: waiting for close: %v", err)
		}
		return got
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

// Bind sends a bind of command id cmd (bind_transmitter, bind_receiver or
// bind_transceiver) with interface_version 0x34 and fails the test unless
// it gets ESME_ROK.
func (c *Client) Bind(cmd pdu.CommandID, systemID, password string) *pdu.BindResp {
	c.t.Helper()
	seq := c.Send(&pdu.Bind{Cmd: cmd, SystemID: systemID, Password: password, InterfaceVersion: 0x34})
	_, p := c.Expect(cmd.Response(), pdu.StatusOK, seq)
	br, _ := p.(*pdu.BindResp)
	return br
}

// Unbind sends unbind, expects unbind_resp, then the server's close.
func (c *Client) Unbind() {
	c.t.Helper()
	seq := c.Send(&pdu.Unbind{})
	c.Expect(pdu.CmdUnbindResp, pdu.StatusOK, seq)
	c.ExpectClosed()
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }
