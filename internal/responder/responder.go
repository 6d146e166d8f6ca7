// Package responder is a minimal SMPP 3.4 responder: the floor of what this
// machine can do with SMPP and no gateway logic, to compare smppd against.
//
// It binds any system_id and password, answers every submit_sm with ESME_ROK
// and a fresh message id at once, and can send a DELIVRD receipt per message
// (Server.Receipts) and store every message in bbolt before answering, with
// one transaction and fsync per group of messages that arrived during the
// previous commit (Server.DB). It validates nothing but what it must decode.
//
// Each connection has one goroutine that reads and answers. Responses are
// gathered while more input is already buffered and written in one system
// call when the input runs dry, so a pipelined client costs one read and one
// write per burst rather than per PDU.
package responder

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/pdu"
	bolt "go.etcd.io/bbolt"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("responder: server closed")

// SystemID is what the responder sends in bind_resp.
const SystemID = "responder"

// Server answers SMPP clients. Set the fields before Serve; the zero value
// answers in memory without receipts.
type Server struct {
	// Receipts makes the server send a final DELIVRD receipt (deliver_sm,
	// esm_class 0x04, receipted_message_id and message_state TLVs, Appendix
	// B text) right after the submit_sm_resp of every message that asked
	// for one, on the same session if it is a transceiver or receiver.
	Receipts bool
	// DB, when set, makes every submit_sm durable before it is answered; see
	// OpenDB. The caller closes it after Close.
	DB *bolt.DB
	// Logger gets connection errors; nil discards them.
	Logger *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closed    bool
	committer *committer
	wg        sync.WaitGroup

	nextID   atomic.Uint64
	submits  atomic.Uint64
	receipts atomic.Uint64
}

// Stats reports how many submit_sm were accepted and receipts sent so far.
func (srv *Server) Stats() (submits, receipts uint64) {
	return srv.submits.Load(), srv.receipts.Load()
}

func (srv *Server) logger() *slog.Logger {
	if srv.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return srv.Logger
}

// Serve accepts connections on l until Close, and returns ErrServerClosed
// then (or the accept error that stopped it).
func (srv *Server) Serve(l net.Listener) error {
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		return ErrServerClosed
	}
	if srv.listeners == nil {
		srv.listeners = make(map[net.Listener]struct{})
		srv.conns = make(map[*conn]struct{})
	}
	if srv.DB != nil && srv.committer == nil {
		srv.committer = newCommitter(srv)
		srv.wg.Go(srv.committer.run)
	}
	srv.listeners[l] = struct{}{}
	srv.mu.Unlock()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			srv.mu.Lock()
			closed := srv.closed
			srv.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := &conn{srv: srv, nc: nc, seq: 0x40000000}
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		srv.conns[c] = struct{}{}
		srv.mu.Unlock()
		srv.wg.Go(func() {
			c.serve()
			srv.mu.Lock()
			delete(srv.conns, c)
			srv.mu.Unlock()
		})
	}
}

// Close stops the listeners, closes every connection, lets the committer
// finish its queue and waits for all goroutines.
func (srv *Server) Close() error {
	srv.mu.Lock()
	srv.closed = true
	for l := range srv.listeners {
		l.Close()
	}
	for c := range srv.conns {
		c.nc.Close()
	}
	cm := srv.committer
	srv.mu.Unlock()
	if cm != nil {
		cm.close()
	}
	srv.wg.Wait()
	return nil
}

// conn is one client connection. Only its own goroutine reads; writes come
// from it and (with a DB) from the committer, under wmu.
type conn struct {
	srv      *Server
	nc       net.Conn
	receiver bool // bound as transceiver or receiver: receipts go here

	wmu sync.Mutex
	seq uint32 // server-initiated sequence numbers, far from a client's
}

// readBufferSize lets one read take a whole burst of a pipelined client.
const readBufferSize = 64 << 10

// flushAt caps how much the reader gathers before writing.
const flushAt = 32 << 10

var (
	enquireLinkResp = &pdu.EnquireLinkResp{}
	unbindResp      = &pdu.UnbindResp{}
	genericNack     = &pdu.GenericNack{}
)

func (c *conn) serve() {
	defer c.nc.Close()
	br := bufio.NewReaderSize(c.nc, readBufferSize)
	rd := pdu.NewReader(br, 0)
	out := make([]byte, 0, flushAt+1024)
	var err error
	for {
		var h pdu.Header
		var body []byte
		h, body, err = rd.ReadFrame()
		if err != nil {
			break
		}
		var closeAfter bool
		out, closeAfter = c.handle(out, h, body)
		// Write when the next frame is not already here (reading it could
		// block), when the batch is big, or before closing.
		if closeAfter || len(out) >= flushAt || !frameBuffered(br) {
			if len(out) > 0 {
				if err = c.write(out); err != nil {
					break
				}
				out = out[:0]
			}
		}
		if closeAfter {
			return
		}
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		c.srv.logger().Debug("responder: connection ended", "remote", c.nc.RemoteAddr(), "err", err)
	}
}

// frameBuffered reports whether a whole next PDU is in br already.
func frameBuffered(br *bufio.Reader) bool {
	n := br.Buffered()
	if n < pdu.HeaderLen {
		return false
	}
	b, _ := br.Peek(4)
	return n >= int(binary.BigEndian.Uint32(b))
}

// writeTimeout bounds one write: a client that stops reading must not hold
// up the committer, which writes to every connection in turn.
const writeTimeout = 10 * time.Second

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.nc.Write(b)
	if err != nil {
		c.nc.Close() // the reader ends too
	}
	return err
}

// nextSeq is the sequence number for a server-initiated request; callers
// hold wmu or are the only writer.
func (c *conn) nextSeq() uint32 {
	c.seq++
	if c.seq > 0x7FFFFFFF {
		c.seq = 0x40000000
	}
	return c.seq
}

// handle answers one PDU by appending to out. closeAfter is set for unbind.
func (c *conn) handle(out []byte, h pdu.Header, body []byte) (_ []byte, closeAfter bool) {
	switch h.ID {
	case pdu.CmdSubmitSM:
		return c.submit(out, h, body), false
	case pdu.CmdBindTransceiver, pdu.CmdBindReceiver, pdu.CmdBindTransmitter:
		c.receiver = h.ID != pdu.CmdBindTransmitter
		out, _ = pdu.Append(out, h.Seq, pdu.StatusOK, &pdu.BindResp{Cmd: h.ID.Response(), SystemID: SystemID})
		return out, false
	case pdu.CmdEnquireLink:
		out, _ = pdu.Append(out, h.Seq, pdu.StatusOK, enquireLinkResp)
		return out, false
	case pdu.CmdUnbind:
		out, _ = pdu.Append(out, h.Seq, pdu.StatusOK, unbindResp)
		return out, true
	}
	if !h.ID.IsResponse() {
		out, _ = pdu.Append(out, h.Seq, pdu.StatusInvCmdID, genericNack)
	}
	return out, false
}

// submit answers a submit_sm at once, or hands it to the committer.
func (c *conn) submit(out []byte, h pdu.Header, body []byte) []byte {
	srv := c.srv
	id := srv.nextID.Add(1)
	wantReceipt := false
	var sm pdu.SubmitSMView // borrows body: nothing is copied unless kept
	if srv.Receipts && c.receiver {
		if err := sm.Decode(pdu.CmdSubmitSM, body); err != nil {
			status, _, _ := pdu.ErrorStatus(err)
			return appendSubmitResp(out, h.Seq, status, 0)
		}
		wantReceipt = sm.RegisteredDelivery&0x03 == 1
	}
	if cm := srv.committer; cm != nil {
		var rc *receiptInfo
		if wantReceipt {
			// The receipt is built after the commit, when body is gone.
			rc = &receiptInfo{
				src:  pdu.AddressView{TON: sm.Source.TON, NPI: sm.Source.NPI, Addr: bytes.Clone(sm.Source.Addr)},
				dst:  pdu.AddressView{TON: sm.Dest.TON, NPI: sm.Dest.NPI, Addr: bytes.Clone(sm.Dest.Addr)},
				text: bytes.Clone(receiptText(sm.DataCoding, sm.ShortMessage)),
				at:   time.Now(),
			}
		}
		cm.enqueue(c, h.Seq, id, body, rc)
		return out
	}
	srv.submits.Add(1)
	out = appendSubmitResp(out, h.Seq, pdu.StatusOK, id)
	if wantReceipt {
		now := time.Now()
		out = c.appendReceipt(out, id, sm.Source, sm.Dest, receiptText(sm.DataCoding, sm.ShortMessage), now, now)
	}
	return out
}

// appendSubmitResp writes a submit_sm_resp by hand: it is the one PDU this
// server sends per message, and its body is just the C-string message id.
func appendSubmitResp(b []byte, seq uint32, status pdu.Status, id uint64) []byte {
	start := len(b)
	b = pdu.Header{ID: pdu.CmdSubmitSMResp, Status: status, Seq: seq}.AppendTo(b)
	if status == pdu.StatusOK {
		b = strconv.AppendUint(b, id, 16)
		b = append(b, 0)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// receiptInfo is what a receipt needs from its submit_sm once the body is
// gone (store mode).
type receiptInfo struct {
	src, dst pdu.AddressView
	text     []byte
	at       time.Time
}

// receiptText is the Appendix B "Text:" field: the first 20 characters of a
// message in a single-octet coding, nothing for other codings (the receipt
// text itself is always plain ASCII).
func receiptText(coding pdu.DataCoding, sm []byte) []byte {
	if coding != pdu.CodingDefault && coding != pdu.CodingIA5 && coding != pdu.CodingLatin1 {
		return nil
	}
	sm = sm[:min(len(sm), pdu.ReceiptTextMax)]
	for _, c := range sm {
		if c < 0x20 || c >= 0x7F {
			return nil
		}
	}
	return sm
}

// appendReceipt appends a DELIVRD receipt for message id from the submit's
// destination to its source: the Appendix B text and the
// receipted_message_id and message_state TLVs, encoded by hand since it goes
// out once per message. The caller holds c.wmu or is the connection's only
// writer (nextSeq).
func (c *conn) appendReceipt(out []byte, id uint64, src, dst pdu.AddressView, text []byte, submitAt, doneAt time.Time) []byte {
	start := len(out)
	out = pdu.Header{ID: pdu.CmdDeliverSM, Seq: c.nextSeq()}.AppendTo(out)
	out = append(out, 0) // service_type
	out = appendAddr(out, dst)
	out = appendAddr(out, src)
	out = append(out, 0x04, 0, 0, 0, 0, 0, 0, 0, 0) // esm_class receipt, pid, priority, sched, validity, reg, replace, coding, default id
	smLen := len(out)
	out = append(out, 0)
	out = append(out, "id:"...)
	idStart := len(out)
	out = strconv.AppendUint(out, id, 16)
	idEnd := len(out)
	out = append(out, " sub:001 dlvrd:001 submit date:"...)
	out = appendReceiptDate(out, submitAt)
	out = append(out, " done date:"...)
	out = appendReceiptDate(out, doneAt)
	out = append(out, " stat:DELIVRD err:000 Text:"...)
	out = append(out, text...)
	out[smLen] = byte(len(out) - smLen - 1)
	idLen := idEnd - idStart
	out = binary.BigEndian.AppendUint16(out, uint16(pdu.TagReceiptedMessageID))
	out = binary.BigEndian.AppendUint16(out, uint16(idLen+1))
	out = append(out, out[idStart:idEnd]...)
	out = append(out, 0)
	out = binary.BigEndian.AppendUint16(out, uint16(pdu.TagMessageState))
	out = binary.BigEndian.AppendUint16(out, 1)
	out = append(out, byte(pdu.StateDelivered))
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start))
	c.srv.receipts.Add(1)
	return out
}

// appendAddr appends TON, NPI and the C-string address.
func appendAddr(b []byte, a pdu.AddressView) []byte {
	b = append(b, byte(a.TON), byte(a.NPI))
	b = append(b, a.Addr...)
	return append(b, 0)
}

// appendReceiptDate appends t as YYMMDDhhmm (UTC).
func appendReceiptDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	for _, v := range [...]int{y % 100, int(mo), d, h, mi} {
		b = append(b, byte('0'+v/10), byte('0'+v%10))
	}
	return b
}
