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
		cursor   uint64 // highest queue key read so far
		buffered []msgstore.Receipt
		timer    = time.NewTimer(time.Hour)
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
			recs, err := g.store.Receipts(ts.id, cursor, receiptBatch)
			if err != nil {
				g.log.Error("receipts: reading queue", "token", ts.id, "err", err)
			}
			for _, r := range recs {
				cursor = max(cursor, r.Seq)
				if !ts.isInflight(r.Seq) {
					buffered = append(buffered, r)
				}
			}
		}
		for len(buffered) > 0 && !ts.isHeld(buffered[0].MessageID) && ts.send(receivers, &buffered[0]) {
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

func (ts *tokenState) isHeld(msgID uint64) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	_, ok := ts.held[msgID]
	return ok
}

func (ts *tokenState) isInflight(seq uint64) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	_, ok := ts.inflight[seq]
	return ok
}

// send offers r to the receivers in round-robin order; false when every
// window is full (a response will wake the dispatcher).
func (ts *tokenState) send(receivers []*smppd.Session, r *msgstore.Receipt) bool {
	g := ts.g
	d := g.deliverSM(r)
	seq := r.Seq
	ts.mu.Lock()
	ts.inflight[seq] = struct{}{}
	ts.mu.Unlock()
	for range receivers {
		ts.mu.Lock()
		ts.next = (ts.next + 1) % len(receivers)
		s := receivers[ts.next]
		ts.mu.Unlock()
		err := s.Send(d, func(h pdu.Header, _ pdu.PDU, err error) { ts.settle(seq, h.Status, err) })
		if err == nil {
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
		g.store.AckReceipt(ts.id, seq, func(err error) {
			if err != nil {
				g.log.Error("receipts: ack", "token", ts.id, "err", err)
			}
			// Out of flight only once the ack is durable, so that a re-read
			// of the queue cannot send it twice.
			ts.mu.Lock()
			delete(ts.inflight, seq)
			ts.mu.Unlock()
		})
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

// deliverSM builds the receipt PDU (DESIGN.md decision 4): Appendix B text,
// esm_class 0x04 (0x20 for an intermediate notification), the TLVs
// receipted_message_id and message_state (plus network_error_code on a
// failure), and source and destination swapped.
func (g *Gateway) deliverSM(r *msgstore.Receipt) *pdu.DeliverSM {
	m := &r.Message
	id := g.cfg.IDFormat.Format(r.MessageID)
	rc := pdu.Receipt{
		ID:         id,
		Sub:        1,
		SubmitDate: m.SubmitAt.UTC(),
		DoneDate:   r.DoneAt.UTC(),
		Stat:       r.State,
		Err:        r.ErrCode,
		Text:       receiptText(m),
	}
	if r.State == pdu.StateDelivered {
		rc.Dlvrd = 1
	}
	if rc.Err == "" {
		rc.Err = "000"
	}
	text, err := rc.AppendText(nil)
	if err != nil {
		// The fields come from the store and our own rules; a failure here
		// is a bug, but the receipt still goes out with the TLVs.
		g.log.Error("receipts: building text", "message", id, "err", err)
	}
	d := &pdu.DeliverSM{
		Source:       m.Dest,
		Dest:         m.Source,
		ESMClass:     esmReceipt,
		DataCoding:   pdu.CodingDefault,
		ShortMessage: text,
	}
	if !r.State.Final() {
		d.ESMClass = esmIntermediate
	}
	d.TLVs.SetReceiptedMessageID(id)
	d.TLVs.SetMessageState(r.State)
	if ne := m.NetworkError; ne != ([3]byte{}) && r.State != pdu.StateDelivered {
		d.TLVs.SetNetworkErrorCode(ne[0], uint16(ne[1])<<8|uint16(ne[2]))
	}
	return d
}

// receiptText is the receipt's "text:" field: the first 20 characters of
// the message when its coding is text, in printable ASCII ('?' for the
// rest), since the receipt itself travels as data_coding 0.
func receiptText(m *msgstore.Message) string {
	switch m.DataCoding {
	case pdu.CodingDefault, pdu.CodingIA5, pdu.CodingLatin1, pdu.CodingUCS2:
	default:
		return "" // binary: nothing readable to quote
	}
	s, err := coding.Decode(m.DataCoding, m.Text)
	if err != nil {
		return ""
	}
	b := make([]byte, 0, pdu.ReceiptTextMax)
	for _, r := range s {
		if len(b) == pdu.ReceiptTextMax {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}
