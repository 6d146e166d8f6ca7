package gateway

import (
	"errors"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/pdu/coding"
	"github.com/smppd/smppd/smppd"
)

// receiptBatch bounds how many queued receipts a dispatcher reads at once.
const receiptBatch = 256

func (ts *tokenState) wakeDispatcher() { wake(ts.wake) }

// startDispatcher makes sure the token's dispatcher runs (a receiver is
// bound) and wakes it.
func (ts *tokenState) startDispatcher() {
	ts.mu.Lock()
	running := ts.dispatching
	ts.dispatching = true
	ts.mu.Unlock()
	if running {
		ts.wakeDispatcher()
		return
	}
	ts.g.wg.Add(1)
	go ts.dispatch()
}

// dispatch sends the token's queued receipts, oldest first, to its bound
// receivers in turn, within each session's window. A receipt leaves the
// store only after deliver_sm_resp ESME_ROK; an error answer, a timeout or
// a closed session puts it back in line after cfg.ReceiptRetry. The
// goroutine ends when the last receiver unbinds; receipts wait in the store
// for the next one.
func (ts *tokenState) dispatch() {
	g := ts.g
	defer g.wg.Done()

	var (
		cursor   uint64             // highest queue key read so far
		buffered []msgstore.Receipt // what is left of batch to send
		batch    []msgstore.Receipt
		timer    = time.NewTimer(time.Hour)
		rb       receiptBuilder
	)
	defer timer.Stop()
	for {
		receivers := ts.receiverSnapshot()
		if len(receivers) == 0 || g.ctx.Err() != nil {
			ts.mu.Lock()
			// Re-checked under the lock: a receiver that binds after this
			// sees dispatching == false and starts a new dispatcher.
			if len(ts.receivers) == 0 || g.ctx.Err() != nil {
				ts.dispatching = false
				ts.mu.Unlock()
				return
			}
			ts.mu.Unlock()
			continue
		}
		ts.mu.Lock()
		rescan := !ts.retryAt.IsZero() && !time.Now().Before(ts.retryAt)
		if rescan {
			ts.retryAt = time.Time{}
		}
		ts.mu.Unlock()
		if rescan {
			// Something failed a while ago: read the queue from the start.
			// What is in flight is skipped; what failed goes out again.
			cursor, buffered = 0, nil
		}
		if len(buffered) == 0 {
			// The array of the previous batch (all sent) takes the next:
			// each element is overwritten whole.
			recs, err := g.store.AppendReceipts(batch[:0], ts.id, cursor, receiptBatch)
			batch = recs
			if err != nil {
				g.log.Error("receipts: reading queue", "token", ts.id, "err", err)
			}
			// Filtered in place, under one lock for the batch.
			buffered = recs[:0]
			ts.mu.Lock()
			for _, r := range recs {
				cursor = max(cursor, r.Seq)
				if _, sent := ts.inflight[r.Seq]; !sent {
					buffered = append(buffered, r)
				}
			}
			ts.mu.Unlock()
		}
		for len(buffered) > 0 && !ts.isHeld(buffered[0].MessageID) && ts.send(receivers, &buffered[0], &rb) {
			buffered = buffered[1:]
		}

		wait := time.Hour
		ts.mu.Lock()
		if !ts.retryAt.IsZero() {
			wait = max(time.Until(ts.retryAt), 0)
		}
		ts.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-ts.wake:
		case <-timer.C:
		case <-g.ctx.Done():
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func (ts *tokenState) receiverSnapshot() []*smppd.Session {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]*smppd.Session(nil), ts.receivers...)
}

// hold keeps the receipts of these messages from going out until release
// (see commit: a receipt must not overtake its submit_sm_resp).
func (ts *tokenState) hold(msgIDs []uint64) {
	if len(msgIDs) == 0 {
		return
	}
	ts.mu.Lock()
	for _, id := range msgIDs {
		ts.held[id] = struct{}{}
	}
	ts.mu.Unlock()
}

// release lets them go; the caller wakes the dispatcher.
func (ts *tokenState) release(msgIDs []uint64) {
	if len(msgIDs) == 0 {
		return
	}
	ts.mu.Lock()
	for _, id := range msgIDs {
		delete(ts.held, id)
	}
	ts.mu.Unlock()
}

// holdOne and releaseOne are hold and release for one message, without a slice.
func (ts *tokenState) holdOne(msgID uint64) {
	ts.mu.Lock()
	ts.held[msgID] = struct{}{}
	ts.mu.Unlock()
}

func (ts *tokenState) releaseOne(msgID uint64) {
	ts.mu.Lock()
	delete(ts.held, msgID)
	ts.mu.Unlock()
}

func (ts *tokenState) isHeld(msgID uint64) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	_, ok := ts.held[msgID]
	return ok
}

// send offers r to the receivers in round-robin order; false when every
// window is full (a response will wake the dispatcher).
func (ts *tokenState) send(receivers []*smppd.Session, r *msgstore.Receipt, rb *receiptBuilder) bool {
	g := ts.g
	seq := r.Seq
	if !rb.ready || rb.seq != seq {
		// Built once per receipt, not per attempt: with every window full
		// the dispatcher retries the same receipt on each wake.
		rb.build(g, r)
		rb.seq, rb.ready = seq, true
		rb.done = func(h pdu.Header, _ pdu.PDU, err error) { ts.settle(seq, h.Status, err) }
	}
	d := &rb.d
	ts.mu.Lock()
	ts.inflight[seq] = struct{}{}
	ts.mu.Unlock()
	for range receivers {
		ts.mu.Lock()
		ts.next = (ts.next + 1) % len(receivers)
		s := receivers[ts.next]
		ts.mu.Unlock()
		err := s.Send(d, rb.done)
		if err == nil {
			rb.ready = false
			return true
		}
		if !errors.Is(err, smppd.ErrWindowFull) && !errors.Is(err, smppd.ErrSessionClosed) && !errors.Is(err, smppd.ErrNotBound) {
			g.log.Warn("receipts: send", "session", s.ID(), "err", err)
		}
	}
	ts.mu.Lock()
	delete(ts.inflight, seq)
	ts.mu.Unlock()
	return false
}

// settle handles a receiver's answer to one receipt. It runs on a server
// goroutine, so it only records the outcome and wakes the dispatcher.
func (ts *tokenState) settle(seq uint64, status pdu.Status, err error) {
	g := ts.g
	if err == nil && status == pdu.StatusOK {
		g.obs.ReceiptSent(pdu.StatusOK)
		ts.mu.Lock()
		ts.acks = append(ts.acks, seq)
		start := !ts.acking
		ts.acking = true
		ts.mu.Unlock()
		if start {
			ts.flushAcks(nil)
		}
		ts.wakeDispatcher()
		return
	}
	if err != nil {
		status = pdu.StatusSysErr
	}
	g.obs.ReceiptSent(status)
	ts.mu.Lock()
	delete(ts.inflight, seq)
	if ts.retryAt.IsZero() {
		ts.retryAt = time.Now().Add(g.cfg.ReceiptRetry)
	}
	ts.mu.Unlock()
	ts.wakeDispatcher()
}

// flushAcks deletes the receipts answered so far in one store operation,
// and, when that committed, the ones answered meanwhile: acks arriving
// during a commit share the next one (one op per commit instead of one per
// receipt). done, the previous batch, leaves flight first: only once its
// ack is durable, so that a re-read of the queue cannot send it twice.
func (ts *tokenState) flushAcks(done []uint64) {
	ts.mu.Lock()
	for _, seq := range done {
		delete(ts.inflight, seq)
	}
	seqs := ts.acks
	ts.acks = done[:0] // the finished batch's array takes the next acks
	if len(seqs) == 0 {
		ts.acking = false
		ts.mu.Unlock()
		return
	}
	ts.mu.Unlock()
	g := ts.g
	g.store.AckReceipts(ts.id, seqs, func(err error) {
		if err != nil {
			g.log.Error("receipts: ack", "token", ts.id, "receipts", len(seqs), "err", err)
		}
		ts.flushAcks(seqs)
	})
}

// receiptBuilder builds a dispatcher's receipts (DESIGN.md decision 4):
// Appendix B text, esm_class 0x04 (0x20 for an intermediate notification),
// the TLVs receipted_message_id and message_state (plus network_error_code
// on a failure), and source and destination swapped. It builds them into
// buffers it reuses: Session.Send encodes the PDU before it returns, so one
// DeliverSM with its text and TLV values serves every receipt. What is left
// per receipt is one string holding the id and the quoted text (before: a
// dozen allocations).
type receiptBuilder struct {
	d     pdu.DeliverSM
	tlvs  [3]pdu.TLV
	text  []byte // short_message
	id    []byte // receipted_message_id value: the id and its NUL
	strs  []byte // the id, then the quoted text: one string for pdu.Receipt
	state [1]byte
	ne    [3]byte

	// The receipt last built (seq) and its Send callback, kept while the
	// windows are full so that a retry rebuilds nothing.
	seq   uint64
	ready bool
	done  func(pdu.Header, pdu.PDU, error)
}

// build returns the receipt PDU for r, valid until the next build.
func (b *receiptBuilder) build(g *Gateway, r *msgstore.Receipt) *pdu.DeliverSM {
	m := &r.Message
	b.strs = g.cfg.IDFormat.Append(b.strs[:0], r.MessageID)
	n := len(b.strs)
	b.strs = appendReceiptText(b.strs, m)
	strs := string(b.strs)
	id := strs[:n]
	rc := pdu.Receipt{
		ID:         id,
		Sub:        1,
		SubmitDate: m.SubmitAt.UTC(),
		DoneDate:   r.DoneAt.UTC(),
		Stat:       r.State,
		Err:        r.ErrCode,
		Text:       strs[n:],
	}
	if r.State == pdu.StateDelivered {
		rc.Dlvrd = 1
	}
	if rc.Err == "" {
		rc.Err = "000"
	}
	var err error
	b.text, err = rc.AppendText(b.text[:0])
	if err != nil {
		// The fields come from the store and our own rules; a failure here
		// is a bug, but the receipt still goes out with the TLVs.
		g.log.Error("receipts: building text", "message", id, "err", err)
	}
	b.id = append(append(b.id[:0], id...), 0)
	b.state[0] = byte(r.State)
	b.d = pdu.DeliverSM{
		Source:       m.Dest,
		Dest:         m.Source,
		ESMClass:     esmReceipt,
		DataCoding:   pdu.CodingDefault,
		ShortMessage: b.text,
		TLVs:         b.tlvs[:0],
	}
	d := &b.d
	if !r.State.Final() {
		d.ESMClass = esmIntermediate
	}
	d.TLVs.Set(pdu.TagReceiptedMessageID, b.id)
	d.TLVs.Set(pdu.TagMessageState, b.state[:])
	if ne := m.NetworkError; ne != ([3]byte{}) && r.State != pdu.StateDelivered {
		b.ne = ne
		d.TLVs.Set(pdu.TagNetworkErrorCode, b.ne[:])
	}
	return d
}

// appendReceiptText appends the receipt's "text:" field: the first 20
// characters of the message when its coding is text, in printable ASCII
// ('?' for the rest), since the receipt itself travels as data_coding 0.
func appendReceiptText(b []byte, m *msgstore.Message) []byte {
	switch m.DataCoding {
	case pdu.CodingDefault, pdu.CodingIA5, pdu.CodingLatin1:
		if plain := m.Text[:min(len(m.Text), pdu.ReceiptTextMax)]; isPlainASCII(plain) {
			// The common case: octets that mean the same printable
			// character in GSM 03.38, IA5 and Latin-1, one octet each.
			return append(b, plain...)
		}
	case pdu.CodingUCS2:
	default:
		return b // binary: nothing readable to quote
	}
	s, err := coding.Decode(m.DataCoding, m.Text)
	if err != nil {
		return b
	}
	n := 0
	for _, r := range s {
		if n == pdu.ReceiptTextMax {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
		n++
	}
	return b
}

// isPlainASCII reports whether every octet of b is a printable ASCII
// character that GSM 03.38 (unpacked) spells with the same octet: 0x20–0x7E
// less $ @ [ \ ] ^ _ ` { | } ~, which GSM uses for other characters.
func isPlainASCII(b []byte) bool {
	for _, c := range b {
		switch {
		case c < 0x20 || c > 0x7e, c == '$', c == '@', c >= '[' && c <= '`', c >= '{':
			return false
		}
	}
	return true
}
