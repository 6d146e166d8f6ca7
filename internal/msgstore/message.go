package msgstore

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smppd/smppd/pdu"
)

// Message is one accepted short message (one destination, one part) and its state.
type Message struct {
	ID                 uint64 // from NextID
	TokenID            string // the token that submitted it; required
	TestMode           bool   // simulated: indexed by DueAt instead of the outbox
	Source, Dest       pdu.Address
	ServiceType        string
	ESMClass           uint8
	ProtocolID         uint8
	PriorityFlag       uint8
	RegisteredDelivery uint8
	DataCoding         pdu.DataCoding
	Body               []byte // the encoded submit_sm (or data_sm) body as received, for forwarding upstream
	Text               []byte // the short message (or payload) bytes, first ≤ 160 kept, for the receipt's text: field
	Concat             struct {
		Ref         uint16
		Total, Part uint8
	} // zero when not multipart
	SubmitAt     time.Time
	ScheduleAt   time.Time        // zero = now
	ExpireAt     time.Time        // validity end
	State        pdu.MessageState // StateEnroute/StateAccepted while pending; StateScheduled for scheduled
	DoneAt       time.Time        // when the message reached its final state
	ErrCode      string           // 3 chars, Appendix B err
	NetworkError [3]byte          // network_error_code TLV value when failed
	Outbox       bool             // live message waiting for the upstream connector (set by the store)

	// DueAt is the next simulator event of a pending test-mode message: its key in the due index.
	// Submit fills a zero DueAt with ScheduleAt, or SubmitAt when not scheduled. Zero once final.
	DueAt time.Time
	// Final is set by the store when a Transition (or Cancel) reached a final state; the message
	// then left the due index and the outbox, and further changes fail with ErrFinal.
	Final bool
}

// Transition is one atomic state change of a message, with the receipt and callback it causes.
type Transition struct {
	ID           uint64
	State        pdu.MessageState
	At           time.Time // the event time: DoneAt when final and the receipt's DoneAt (zero: now)
	ErrCode      string
	NetworkError [3]byte
	Receipt      bool   // enqueue a receipt for the token's receivers (deliver_sm)
	Callback     string // non-empty: enqueue an HTTP callback to this URL
	// Final makes the message leave the due index and the outbox. A State of DELIVRD, EXPIRED,
	// DELETED, UNDELIV, UNKNOWN or REJECTD is final even without it (ACCEPTD is not: the
	// gateway uses it for pending messages).
	Final bool
	// NextDue, for a non-final transition of a test-mode message, moves it in the due index to
	// this time (the 9006 case: ENROUTE now, DELIVRD at NextDue). Zero: it keeps its place.
	NextDue time.Time
	// TokenID, when set, must own the message (else ErrNotFound).
	TokenID string
}

// finalState reports whether the store treats st as the end of a message's life.
func finalState(st pdu.MessageState) bool {
	switch st {
	case pdu.StateDelivered, pdu.StateExpired, pdu.StateDeleted, pdu.StateUndeliverable,
		pdu.StateUnknown, pdu.StateRejected:
		return true
	}
	return false
}

// dueTime is where a pending test-mode message goes in the due index.
func (m *Message) dueTime() time.Time {
	switch {
	case !m.DueAt.IsZero():
		return m.DueAt
	case !m.ScheduleAt.IsZero():
		return m.ScheduleAt
	case !m.SubmitAt.IsZero():
		return m.SubmitAt
	}
	return time.Now()
}

// Submit durably stores a new message and indexes it: a test-mode message in the due index at
// DueAt (see Message.DueAt), a live one in the outbox. m is encoded before Submit returns; the
// caller may reuse it. done(nil) runs once the message is fsynced; then, and only then, may the
// caller answer ESME_ROK. done gets ErrQueueFull at once when the store is saturated, ErrInvalid
// for a value it cannot store, ErrExists for a used id, or the commit's error. done runs on a
// store goroutine, never the caller's, and must not block for long: it delays other dones.
func (s *Store) Submit(m *Message, done func(error)) {
	c := *m
	c.Final = false
	c.Outbox = !c.TestMode
	if c.TestMode {
		c.DueAt = c.dueTime()
	} else {
		c.DueAt = time.Time{}
	}
	if err := c.validate(); err != nil {
		go done(err)
		return
	}
	s.enqueue(newSubmitOp(&c, nil, false, "", done))
}

// SubmitFinal stores a new message already in the state t describes, with t's receipt and
// callback, in one operation: the common test-mode case where the outcome is known at submit
// time costs one commit instead of two (Submit, then Transition). A final t leaves the message
// out of the due index and the outbox; a non-final one indexes it as Submit would, a test-mode
// message at t.NextDue when set. t.ID must be 0 or m.ID; t.TokenID is ignored. Errors and done
// as for Submit (it counts against MaxQueue).
func (s *Store) SubmitFinal(m *Message, t Transition, done func(error)) {
	if t.ID != 0 && t.ID != m.ID {
		go done(fmt.Errorf("%w: transition for %d, message %d", ErrInvalid, t.ID, m.ID))
		return
	}
	if err := checkTransition(&t); err != nil {
		go done(err)
		return
	}
	c := *m
	at := t.At
	if at.IsZero() {
		at = time.Now()
	}
	c.State, c.ErrCode, c.NetworkError = t.State, t.ErrCode, t.NetworkError
	c.Final, c.Outbox, c.DueAt = false, false, time.Time{}
	switch {
	case t.Final || finalState(t.State):
		c.Final = true
		c.DoneAt = at
	case c.TestMode && !t.NextDue.IsZero():
		c.DueAt = t.NextDue
	case c.TestMode:
		c.DueAt = m.dueTime()
	default:
		c.Outbox = true
	}
	if err := c.validate(); err != nil {
		go done(err)
		return
	}
	var r Receipt
	if t.Receipt || t.Callback != "" {
		r = newReceipt(&c, at)
	}
	s.enqueue(newSubmitOp(&c, &r, t.Receipt, t.Callback, done))
}

// newSubmitOp encodes c (validated, its indexes decided: DueAt for the due index, Outbox) and, when
// receipt is set, r, in the caller's goroutine, and returns the op that stores them, with r's
// callback to url when url is set (r is ignored when neither is). Key, due key, record, receipt
// record and receipt key share one allocation; the closure captures only what the committer needs
// (r itself only for a callback).
func newSubmitOp(c *Message, r *Receipt, receipt bool, url string, done func(error)) op {
	id, outbox, tokenID := c.ID, c.Outbox, c.TokenID
	size := 8 + 16 + 64 + len(c.Body) + len(c.Text) + len(c.TokenID) + len(c.Source.Addr) + len(c.Dest.Addr) +
		len(c.ServiceType) + len(c.ErrCode)
	if receipt {
		size += 64 + 2*len(c.TokenID) + len(c.Source.Addr) + len(c.Dest.Addr) + len(c.ServiceType) + len(c.ErrCode) +
			min(len(c.Text), receiptTextMax)
	}
	buf := make([]byte, 0, size)
	buf = binary.BigEndian.AppendUint64(buf, id)
	key := buf[0:8:8]
	var dueKey []byte
	if !c.DueAt.IsZero() {
		buf = appendTimeKey(buf, c.DueAt, id)
		dueKey = buf[8:24:24]
	}
	start := len(buf)
	buf, _ = c.AppendBinary(buf)
	rec := buf[start:len(buf):len(buf)]
	var rrec, rkey []byte
	if receipt {
		start = len(buf)
		buf, _ = r.AppendBinary(buf)
		rrec = buf[start:len(buf):len(buf)]
		start = len(buf)
		// The seq is filled in by apply, from the bucket's sequence.
		buf = append(append(append(buf, byte(len(tokenID))), tokenID...), 0, 0, 0, 0, 0, 0, 0, 0)
		rkey = buf[start:len(buf):len(buf)]
	}
	// The callback's record is encoded here too, but for the receipt's seq, which
	// apply joins in (callbackRecord): the committer is the store's one writer, and
	// encoding field by field there cost every other operation's latency.
	var cbHead, cbRec []byte
	var cbNext time.Time
	var cbReceipt *Receipt // for the callback hook
	if url != "" {
		cbReceipt = r
		c := Callback{TokenID: tokenID, URL: url, NextAttempt: r.QueuedAt, FirstAttempt: r.QueuedAt}
		cbHead = c.appendHead(make([]byte, 0, 64+len(tokenID)+len(url)))
		if cbRec = rrec; cbRec == nil {
			cbRec, _ = r.AppendBinary(nil)
		}
		cbNext = r.QueuedAt
	}
	return op{submit: true, callback: url != "", done: done, apply: func(tx *bolt.Tx, d *delta) error {
		msgs := tx.Bucket(bucketMessages)
		if !d.maxIDKnown {
			// Ids grow: once the highest key of this transaction is known, a
			// new id above it needs no lookup to prove it is unused.
			if k, _ := msgs.Cursor().Last(); len(k) == 8 {
				d.maxID = beUint64(k)
			}
			d.maxIDKnown = true
		}
		if id <= d.maxID && msgs.Get(key) != nil {
			return fmt.Errorf("%w: %d", ErrExists, id)
		}
		// Ids grow within a run: fill pages for appends, not for random inserts.
		msgs.FillPercent = 0.95
		if err := put(msgs, key, rec); err != nil {
			return err
		}
		d.maxID = max(d.maxID, id)
		d.messages++
		switch {
		case dueKey != nil:
			due := tx.Bucket(bucketDue)
			due.FillPercent = 0.9
			if err := put(due, dueKey, nil); err != nil {
				return err
			}
			d.pending++
		case outbox:
			if err := put(tx.Bucket(bucketOutbox), key, nil); err != nil {
				return err
			}
			d.outbox++
		}
		var seq uint64
		if receipt {
			b := tx.Bucket(bucketReceipts)
			var err error
			if seq, err = b.NextSequence(); err != nil {
				return &writeError{err}
			}
			binary.BigEndian.PutUint64(rkey[len(rkey)-8:], seq)
			if err := put(b, rkey, rrec); err != nil {
				return err
			}
			d.receipts++
		}
		if cbHead != nil {
			cseq, err := putCallbackRecord(tx, cbHead, seq, cbRec)
			if err != nil {
				return err
			}
			d.callbacks++
			if d.wantQueued {
				next := storedTime(cbNext)
				c := Callback{Seq: cseq, TokenID: tokenID, URL: url, Receipt: cbReceipt.stored(), NextAttempt: next, FirstAttempt: next}
				c.Receipt.Seq = seq
				d.addQueued(&c)
			}
		}
		return nil
	}}
}

// Get returns a copy of the message with id, or ErrNotFound.
func (s *Store) Get(id uint64) (Message, error) {
	var m Message
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		m, err = getMessage(tx, id)
		return err
	})
	return m, err
}

func getMessage(tx *bolt.Tx, id uint64) (Message, error) {
	var m Message
	v := tx.Bucket(bucketMessages).Get(u64(id))
	if v == nil {
		return m, fmt.Errorf("%w: message %d", ErrNotFound, id)
	}
	if err := m.UnmarshalBinary(v); err != nil {
		return m, fmt.Errorf("message %d: %w", id, err)
	}
	return m, nil
}

// unindex removes m from the due index and the outbox (writes; call after validation).
func unindex(tx *bolt.Tx, m *Message, d *delta) error {
	if m.TestMode && !m.DueAt.IsZero() {
		if err := del(tx.Bucket(bucketDue), timeKey(m.DueAt, m.ID)); err != nil {
			return err
		}
		d.pending--
		m.DueAt = time.Time{}
	}
	if m.Outbox {
		if err := del(tx.Bucket(bucketOutbox), u64(m.ID)); err != nil {
			return err
		}
		d.outbox--
		m.Outbox = false
	}
	return nil
}

// moveDue moves test-mode message m (not yet rewritten) to at in the due index.
func moveDue(tx *bolt.Tx, m *Message, at time.Time, d *delta) error {
	due := tx.Bucket(bucketDue)
	if !m.DueAt.IsZero() {
		if err := del(due, timeKey(m.DueAt, m.ID)); err != nil {
			return err
		}
		d.pending--
	}
	m.DueAt = at
	if err := put(due, timeKey(at, m.ID), nil); err != nil {
		return err
	}
	d.pending++
	return nil
}

func putMessage(tx *bolt.Tx, m *Message) error {
	rec, _ := m.AppendBinary(nil)
	return put(tx.Bucket(bucketMessages), u64(m.ID), rec)
}

// Transition applies t atomically: the message's state, error and done time change; a final
// state takes it out of the due index and the outbox; a non-final one keeps its place (a test-mode
// message moves to t.NextDue when set); and the receipt and callback t asks for are queued with
// a snapshot of the message (see Receipt.Message). ErrNotFound for an unknown message (or one of
// another token when t.TokenID is set), ErrFinal when it is already final: so a simulator that
// replays a due message after a crash cannot produce a second final receipt.
func (s *Store) Transition(t Transition, done func(error)) {
	if err := checkTransition(&t); err != nil {
		go done(err)
		return
	}
	s.enqueue(op{callback: t.Callback != "", done: done, apply: func(tx *bolt.Tx, d *delta) error {
		return applyTransition(tx, d, &t)
	}})
}

func checkTransition(t *Transition) error {
	if err := checkString("error code", t.ErrCode, maxString); err != nil {
		return err
	}
	if err := checkString("callback url", t.Callback, maxString); err != nil {
		return err
	}
	if err := checkTime("At", t.At); err != nil {
		return err
	}
	return checkTime("NextDue", t.NextDue)
}

func applyTransition(tx *bolt.Tx, d *delta, t *Transition) error {
	m, err := getMessage(tx, t.ID)
	if err != nil {
		return err
	}
	if t.TokenID != "" && t.TokenID != m.TokenID {
		return fmt.Errorf("%w: message %d", ErrNotFound, t.ID)
	}
	if m.Final {
		return fmt.Errorf("%w: message %d", ErrFinal, t.ID)
	}
	at := t.At
	if at.IsZero() {
		at = time.Now()
	}
	final := t.Final || finalState(t.State)
	m.State = t.State
	m.ErrCode = t.ErrCode
	m.NetworkError = t.NetworkError
	// Writes from here on.
	switch {
	case final:
		if err := unindex(tx, &m, d); err != nil {
			return err
		}
		m.Final = true
		m.DoneAt = at
	case m.TestMode && !t.NextDue.IsZero():
		if err := moveDue(tx, &m, t.NextDue, d); err != nil {
			return err
		}
	}
	if err := putMessage(tx, &m); err != nil {
		return err
	}
	if !t.Receipt && t.Callback == "" {
		return nil
	}
	r := newReceipt(&m, at)
	return queueReport(tx, d, &r, nil, t.Receipt, t.Callback)
}

// newReceipt is the receipt of m's current state at event time at.
func newReceipt(m *Message, at time.Time) Receipt {
	return Receipt{
		TokenID:   m.TokenID,
		MessageID: m.ID,
		Message:   *m,
		State:     m.State,
		ErrCode:   m.ErrCode,
		DoneAt:    at,
		// Wall-clock queue time, not the (possibly simulated) event time: the TTL counts time
		// spent waiting in the queue, and queue order then (nearly) matches QueuedAt order.
		QueuedAt: time.Now(),
	}
}

// queueReport queues r as a receipt (when receipt is set; rec is its encoding, or nil to encode
// here) and as a callback to url (when url is not empty).
func queueReport(tx *bolt.Tx, d *delta, r *Receipt, rec []byte, receipt bool, url string) error {
	if receipt {
		if rec == nil {
			rec, _ = r.AppendBinary(nil)
		}
		seq, err := putReceipt(tx, r.TokenID, rec)
		if err != nil {
			return err
		}
		r.Seq = seq
		d.receipts++
	}
	if url != "" {
		c := Callback{TokenID: r.TokenID, URL: url, Receipt: *r, NextAttempt: r.QueuedAt, FirstAttempt: r.QueuedAt}
		if err := putCallback(tx, &c); err != nil {
			return err
		}
		d.callbacks++
		if d.wantQueued {
			c.Receipt = r.stored()
			c.NextAttempt, c.FirstAttempt = storedTime(c.NextAttempt), storedTime(c.FirstAttempt)
			d.addQueued(&c)
		}
	}
	return nil
}

// Cancel moves a non-final message of tokenID to DELETED (cancel_sm), with no receipt.
// ErrNotFound when the message does not exist or belongs to another token, ErrFinal when it is
// already final.
func (s *Store) Cancel(id uint64, tokenID string, done func(error)) {
	s.Transition(Transition{ID: id, TokenID: tokenID, State: pdu.StateDeleted, Final: true, At: time.Now()}, done)
}

// Replace applies apply to a copy of a non-final message of tokenID and stores the result
// (replace_sm), re-indexing it at its new DueAt (zero: ScheduleAt, or now). apply runs on the
// committer goroutine inside the transaction: it must be quick, must not call the store, and may
// run more than once. An error from apply is passed to done and nothing is written. ID, TokenID,
// TestMode, Outbox and Final cannot be changed. Errors as for Cancel, and ErrInvalid.
func (s *Store) Replace(id uint64, tokenID string, apply func(*Message) error, done func(error)) {
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		old, err := getMessage(tx, id)
		if err != nil {
			return err
		}
		if old.TokenID != tokenID {
			return fmt.Errorf("%w: message %d", ErrNotFound, id)
		}
		if old.Final {
			return fmt.Errorf("%w: message %d", ErrFinal, id)
		}
		m := old
		m.Body = append([]byte(nil), old.Body...)
		m.Text = append([]byte(nil), old.Text...)
		m.DueAt = time.Time{}
		if err := apply(&m); err != nil {
			return err
		}
		m.ID, m.TokenID, m.TestMode, m.Outbox, m.Final = old.ID, old.TokenID, old.TestMode, old.Outbox, old.Final
		if m.TestMode {
			if m.DueAt.IsZero() && m.ScheduleAt.IsZero() {
				m.DueAt = time.Now()
			} else {
				m.DueAt = m.dueTime()
			}
		}
		if err := m.validate(); err != nil {
			return err
		}
		if m.TestMode {
			at := m.DueAt
			m.DueAt = old.DueAt
			if err := moveDue(tx, &m, at, d); err != nil {
				return err
			}
		}
		return putMessage(tx, &m)
	}})
}

// Reschedule moves a pending test-mode message to at in the due index (after an intermediate
// step). ErrNotFound, ErrFinal, or ErrInvalid for a live message.
func (s *Store) Reschedule(id uint64, at time.Time, done func(error)) {
	if err := checkTime("at", at); err != nil || at.IsZero() {
		go done(fmt.Errorf("%w: reschedule time %v", ErrInvalid, at))
		return
	}
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		m, err := getMessage(tx, id)
		if err != nil {
			return err
		}
		if m.Final {
			return fmt.Errorf("%w: message %d", ErrFinal, id)
		}
		if !m.TestMode {
			return fmt.Errorf("%w: message %d is not a test-mode message", ErrInvalid, id)
		}
		if err := moveDue(tx, &m, at, d); err != nil {
			return err
		}
		return putMessage(tx, &m)
	}})
}

// Due returns up to limit pending test-mode messages whose DueAt is at or before now, oldest
// first (ties by id). They stay due until a Transition or Reschedule moves them: a caller that
// polls again before its changes committed sees them again, and after a crash everything not
// transitioned is due again. limit <= 0 means no limit.
func (s *Store) Due(now time.Time, limit int) ([]Message, error) {
	var out []Message
	bound := timeKeyBound(now)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && string(k) < string(bound); k, _ = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			if len(k) != 16 {
				return fmt.Errorf("%w: due key %x", ErrCorrupt, k)
			}
			m, err := getMessage(tx, beUint64(k[8:]))
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// NextDue returns the earliest DueAt in the due index, for the simulator's timer; false when
// nothing is pending.
func (s *Store) NextDue() (time.Time, bool) {
	return s.firstTime(bucketDue)
}

func (s *Store) firstTime(bucket []byte) (time.Time, bool) {
	var t time.Time
	var ok bool
	_ = s.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucket).Cursor().First()
		if len(k) == 16 {
			t, ok = time.Unix(0, int64(beUint64(k))).UTC(), true
		}
		return nil
	})
	return t, ok
}

// Outbox returns up to limit live messages waiting for the upstream connector with ids above
// afterID, in id order. A message leaves the outbox with a final Transition. limit <= 0 means no
// limit.
func (s *Store) Outbox(afterID uint64, limit int) ([]Message, error) {
	var out []Message
	if afterID == ^uint64(0) {
		return nil, nil
	}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, _ := c.Seek(u64(afterID + 1)); k != nil; k, _ = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			m, err := getMessage(tx, beUint64(k))
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// Prune deletes up to limit final messages submitted before cutoff, oldest id first, and returns
// how many it deleted (limit <= 0: 4096). Messages still pending are kept whatever their age.
// Queued receipts and callbacks carry their own snapshot and are not affected. Ids grow with
// submit time, so the scan stops at the first message submitted at or after cutoff; call it
// again while it returns limit.
func (s *Store) Prune(cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = expireChunk
	}
	var n int
	err := s.doSync(func(tx *bolt.Tx, d *delta) error {
		n = 0
		msgs := tx.Bucket(bucketMessages)
		var doomed [][]byte
		c := msgs.Cursor()
		for k, v := c.First(); k != nil && len(doomed) < limit; k, v = c.Next() {
			var m Message
			if err := m.UnmarshalBinary(v); err != nil {
				continue // keep what cannot be read; it is reported by Get
			}
			if !m.SubmitAt.Before(cutoff) {
				break
			}
			if m.Final {
				doomed = append(doomed, k)
			}
		}
		for _, k := range doomed {
			if err := del(msgs, k); err != nil {
				return err
			}
		}
		n = len(doomed)
		d.messages -= n
		return nil
	})
	return n, err
}

func beUint64(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}
