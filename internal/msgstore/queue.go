package msgstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smppd/smppd/pdu"
)

// Receipt is a delivery receipt owed to a token's receivers. It stays queued until AckReceipt
// (after deliver_sm_resp ESME_ROK) or until ExpireReceipts drops it.
type Receipt struct {
	Seq       uint64 // queue key: unique across all tokens, never reused, increasing with queue time
	TokenID   string
	MessageID uint64
	// Message is the snapshot a deliver_sm and an HTTP callback need, taken at the transition:
	// ID, TokenID, TestMode, Source, Dest, ServiceType, ESMClass, ProtocolID, PriorityFlag,
	// RegisteredDelivery, DataCoding, Text (first 40 bytes), Concat, SubmitAt, NetworkError, and
	// State, ErrCode, DoneAt and Final as of the receipt. Other fields are zero.
	Message  Message
	State    pdu.MessageState
	ErrCode  string
	DoneAt   time.Time
	QueuedAt time.Time
	Attempts int
}

// Callback is a pending HTTP delivery report (issue 5 sends them).
type Callback struct {
	Seq          uint64 // queue key: unique, never reused
	TokenID, URL string
	Receipt      Receipt // what to report (Receipt.Seq is 0 when no SMPP receipt was queued)
	NextAttempt  time.Time
	Attempts     int       // failed attempts so far
	FirstAttempt time.Time // when it was queued: the start of the retry window
	LastError    string    // the last failure (RetryCallback) or the reason given up (GiveUpCallback)
	LastAttempt  time.Time // when RetryCallback or GiveUpCallback last recorded an attempt
}

// receiptKey is len(token) ‖ token ‖ seq: one flat bucket holds every token's queue, each a
// contiguous key range in seq order (a bucket per token would cost a nested-bucket open and an
// inline-bucket rewrite per receipt).
func receiptKey(tokenID string, seq uint64) []byte {
	k := make([]byte, 0, 1+len(tokenID)+8)
	k = append(k, byte(len(tokenID)))
	k = append(k, tokenID...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// receiptPrefix is the key prefix of tokenID's queue.
func receiptPrefix(tokenID string) []byte {
	return append([]byte{byte(len(tokenID))}, tokenID...)
}

// splitReceiptKey returns the token and seq of a receipt key.
func splitReceiptKey(k []byte) (token []byte, seq uint64, ok bool) {
	if len(k) < 9 || int(k[0]) != len(k)-9 {
		return nil, 0, false
	}
	return k[1 : len(k)-8], binary.BigEndian.Uint64(k[len(k)-8:]), true
}

// putReceipt stores the receipt record rec under a new sequence in tokenID's queue.
func putReceipt(tx *bolt.Tx, tokenID string, rec []byte) (uint64, error) {
	b := tx.Bucket(bucketReceipts)
	seq, err := b.NextSequence()
	if err != nil {
		return 0, &writeError{err}
	}
	return seq, put(b, receiptKey(tokenID, seq), rec)
}

// putCallback stores c, a new callback due at c.NextAttempt = its enqueue time, under a
// new sequence.
func putCallback(tx *bolt.Tx, c *Callback) error {
	rec, _ := c.Receipt.AppendBinary(make([]byte, 0, 256))
	seq, err := putCallbackRecord(tx, c.appendHead(make([]byte, 0, 64+len(c.TokenID)+len(c.URL))), c.Receipt.Seq, rec)
	c.Seq = seq
	return err
}

// putCallbackRecord stores a new callback encoded as head (Callback.appendHead),
// receiptSeq and the receipt's record, under a new sequence, in callback_new: a new
// callback is due at its enqueue time, and seq order is that order, so it needs no
// callback_due entry (one B-tree insert, and later one delete, less per report). It
// returns the sequence.
func putCallbackRecord(tx *bolt.Tx, head []byte, receiptSeq uint64, receipt []byte) (uint64, error) {
	seq, err := tx.Bucket(bucketCallbacks).NextSequence()
	if err != nil {
		return 0, &writeError{err}
	}
	return seq, put(tx.Bucket(bucketCbNew), u64(seq), callbackRecord(head, receiptSeq, receipt))
}

// Receipts returns up to limit queued receipts of tokenID with Seq above afterSeq, oldest first.
// limit <= 0 means no limit.
func (s *Store) Receipts(tokenID string, afterSeq uint64, limit int) ([]Receipt, error) {
	return s.AppendReceipts(nil, tokenID, afterSeq, limit)
}

// AppendReceipts is Receipts appending to dst: a dispatcher that reuses its batch's array costs no
// slice growth per batch (a Receipt is several hundred bytes; growing the slice from empty was a
// third of the cost of reading a batch).
func (s *Store) AppendReceipts(dst []Receipt, tokenID string, afterSeq uint64, limit int) ([]Receipt, error) {
	out := dst
	if afterSeq == ^uint64(0) || len(tokenID) > maxToken {
		return out, nil
	}
	prefix := receiptPrefix(tokenID)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketReceipts).Cursor()
		for k, v := c.Seek(receiptKey(tokenID, afterSeq+1)); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, v = c.Next() {
			if limit > 0 && len(out)-len(dst) >= limit {
				break
			}
			out = append(out, Receipt{Seq: binary.BigEndian.Uint64(k[len(prefix):])})
			r := &out[len(out)-1]
			if err := r.unmarshalOf(v, tokenID); err != nil {
				out = out[:len(out)-1]
				return fmt.Errorf("receipt %s/%d: %w", tokenID, r.Seq, err)
			}
		}
		return nil
	})
	return out, err
}

// AckReceipt removes a delivered receipt. ErrNotFound when it is not queued (acked or expired).
func (s *Store) AckReceipt(tokenID string, seq uint64, done func(error)) {
	if len(tokenID) > maxToken {
		go done(fmt.Errorf("%w: receipt %s/%d", ErrNotFound, tokenID, seq))
		return
	}
	key := receiptKey(tokenID, seq)
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		// One B-tree search: find and delete with the same cursor.
		c := tx.Bucket(bucketReceipts).Cursor()
		if k, _ := c.Seek(key); !bytes.Equal(k, key) {
			return fmt.Errorf("%w: receipt %s/%d", ErrNotFound, tokenID, seq)
		}
		if err := c.Delete(); err != nil {
			return &writeError{err}
		}
		d.receipts--
		return nil
	}})
}

// AckReceipts removes delivered receipts of tokenID, all in one operation: a dispatcher that
// collects the acks arriving while the previous batch commits pays one queued op and one B-tree
// cursor per batch instead of per receipt. seqs need not be sorted (AckReceipts sorts them in
// place). A seq that is not queued (acked before, or expired) is skipped: done gets nil unless the
// commit fails.
func (s *Store) AckReceipts(tokenID string, seqs []uint64, done func(error)) {
	if len(tokenID) > maxToken {
		go done(fmt.Errorf("%w: receipts of %s", ErrNotFound, tokenID))
		return
	}
	slices.Sort(seqs)
	key := receiptKey(tokenID, 0)
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		// One cursor for the batch: Seek reuses its stack, and ascending
		// keys walk the same few leaves.
		c := tx.Bucket(bucketReceipts).Cursor()
		for _, seq := range seqs {
			binary.BigEndian.PutUint64(key[len(key)-8:], seq)
			if k, _ := c.Seek(key); !bytes.Equal(k, key) {
				continue
			}
			if err := c.Delete(); err != nil {
				return &writeError{err}
			}
			d.receipts--
		}
		return nil
	}})
}

// expireChunk bounds the receipts one ExpireReceipts commit deletes, so that a large backlog
// does not hold the committer (and every submit behind it) in one long transaction. A variable
// for tests.
var expireChunk = 4096

// ExpireReceipts drops every queued receipt whose QueuedAt is before olderThan (the receipt TTL)
// and returns how many it dropped. Receipts are queued in QueuedAt order (wall clock at the
// transition), so each token's queue is scanned from its oldest entry up to the first one that is
// still young. Large backlogs are deleted in several commits of at most 4096 receipts.
func (s *Store) ExpireReceipts(olderThan time.Time) (int, error) {
	total := 0
	for {
		var n int
		err := s.doSync(func(tx *bolt.Tx, d *delta) error {
			n = 0
			b := tx.Bucket(bucketReceipts)
			var expired [][]byte
			c := b.Cursor()
			for k, v := c.First(); k != nil && len(expired) < expireChunk; {
				var r Receipt
				if err := r.UnmarshalBinary(v); err == nil && !r.QueuedAt.Before(olderThan) {
					// The rest of this token's queue is younger: skip to the next token.
					token, _, _ := splitReceiptKey(k)
					k, v = c.Seek(append(receiptPrefix(string(token)), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0))
					continue
				}
				// An undecodable receipt can never be delivered: it expires too.
				expired = append(expired, k)
				k, v = c.Next()
			}
			// Delete after the scan: keys must not be deleted under a running cursor loop.
			for _, k := range expired {
				if err := del(b, k); err != nil {
					return err
				}
			}
			n = len(expired)
			d.receipts -= n
			return nil
		})
		total += n
		if err != nil || n < expireChunk {
			return total, err
		}
	}
}

// PendingTokens returns the tokens that have queued receipts, ordered by length, then bytes.
func (s *Store) PendingTokens() ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketReceipts).Cursor()
		for k, _ := c.First(); k != nil; {
			token, _, ok := splitReceiptKey(k)
			if !ok {
				return fmt.Errorf("%w: receipt key %x", ErrCorrupt, k)
			}
			out = append(out, string(token))
			k, _ = c.Seek(append(receiptPrefix(string(token)), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0))
		}
		return nil
	})
	return out, err
}

// DueCallbacks returns up to limit queued callbacks whose NextAttempt is at or before now, earliest
// first. They stay queued until AckCallback, RetryCallback or GiveUpCallback. limit <= 0 means no
// limit.
func (s *Store) DueCallbacks(now time.Time, limit int) ([]Callback, error) {
	return s.AppendDueCallbacks(nil, now, &DueRead{Limit: limit})
}

// DueRead shapes a read of due callbacks (AppendDueCallbacks) and reports what it saw
// besides the callbacks it returns.
type DueRead struct {
	Limit int // callbacks returned at most; <= 0: no limit
	// SkipSeq, when set, passes over a callback by its seq alone, before its record
	// is looked up: a sender skips the entries it has in flight, which stay due until
	// their outcome is written. hold keeps NextFrom and NextDueFrom from moving past
	// it, so that the next read looks at it again (one whose outcome the sender has
	// just written, seen where the write put it).
	SkipSeq func(seq uint64) (skip, hold bool)
	// Skip, when set, passes over a callback by its stored URL (valid only during the
	// call), read from the record without decoding the rest: a sender skips those
	// whose receiver host has no free slot.
	//
	// Callbacks passed over are neither decoded nor counted against Limit. SkipSeq
	// and Skip are called inside the read transaction and must not use the store.
	Skip func(seq uint64, url []byte) bool
	// From: new callbacks (never attempted) with a lower seq are not looked at. A
	// sender that saw them all skipped starts its next read after them (NextFrom), so
	// that a hung receiver's backlog is not walked again on every read.
	From uint64
	// To, when set, bounds the new callbacks looked at: those above it are not.
	To uint64
	// NewOnly leaves the rescheduled callbacks out of the read.
	NewOnly bool
	// DueFrom is From for the rescheduled callbacks (retries), ordered by due time:
	// those before it are not looked at. Nil starts at the first; otherwise a
	// NextDueFrom of an earlier read. Reschedules land at or after their time of
	// writing, past any position a read reached before, so only a slot freeing up (or
	// a failed write) needs a sender to start over.
	DueFrom []byte
	// MaxSkip, when positive, ends the read after that many skipped callbacks, with
	// Truncated set: a read behind a large skipped backlog costs at most that much.
	MaxSkip int

	// Issued is the highest callback seq queued as of the read: every callback up to
	// it was visible to the read, so one the callback hook hands over later with a seq
	// at or below it was seen here (or skipped, or beyond Limit) and must not be
	// taken twice.
	Issued uint64
	// NextFrom is From moved past the new callbacks at the head of the read that were
	// all skipped (From itself when the first was not).
	NextFrom uint64
	// NextDueFrom is DueFrom moved likewise past the skipped head of the rescheduled
	// ones.
	NextDueFrom []byte
	// Reached is the highest new callback seq the read looked at (From-1 when none):
	// where a read that stopped at Limit or MaxSkip may go on.
	Reached uint64
	// Truncated reports that MaxSkip ended the read: more may be due.
	Truncated bool
}

// DueKey is the position of a callback rescheduled to next, in the order DueRead.DueFrom
// and NextDueFrom use.
func DueKey(next time.Time, seq uint64) []byte { return timeKey(next, seq) }

// AppendDueCallbacks is DueCallbacks appending to dst, as r says (r is updated).
//
// The read merges the two queues by time: callback_new in seq order (enqueue times,
// in commit order, so ordered up to the few microseconds between a report's creation
// and its commit) and callback_due.
func (s *Store) AppendDueCallbacks(dst []Callback, now time.Time, r *DueRead) (out []Callback, err error) {
	out = dst
	bound := timeKeyBound(now)
	nowNano := unixNano(now)
	r.NextFrom, r.NextDueFrom, r.Truncated = r.From, r.DueFrom, false
	r.Reached = max(r.From, 1) - 1
	err = s.view(func(tx *bolt.Tx) error {
		cbs := tx.Bucket(bucketCallbacks)
		r.Issued = cbs.Sequence()
		nc := tx.Bucket(bucketCbNew).Cursor()
		dc := tx.Bucket(bucketCbDue).Cursor()
		nk, nv := nc.Seek(u64(r.From))
		dk, _ := dc.First()
		if r.DueFrom != nil {
			dk, _ = dc.Seek(r.DueFrom)
		}
		if r.NewOnly {
			dk = nil
		}
		head, dueHead := true, true // every new (rescheduled) callback so far was skipped
		skipped := 0
		for r.Limit <= 0 || len(out)-len(dst) < r.Limit {
			var newAt int64   // the new entry's time; 0 when there is none due
			var newURL []byte // and its URL
			if nk != nil {
				url, t, err := callbackRoute(nv)
				if err != nil {
					return fmt.Errorf("callback %d: %w", beUint64(nk), err)
				}
				if newAt, newURL = unixNano(t), url; newAt > nowNano || (r.To != 0 && beUint64(nk) > r.To) {
					nk, newAt = nil, 0 // later ones are later still
				}
			}
			dueOK := dk != nil && bytes.Compare(dk, bound) < 0
			if nk == nil && !dueOK {
				return nil
			}
			var seq uint64
			var v, url, key []byte // v, url: nil until looked up; key: a rescheduled one's due key
			isNew := nk != nil && (!dueOK || newAt <= int64(beUint64(dk)))
			if isNew {
				seq, v, url = beUint64(nk), nv, newURL
				r.Reached = seq
				nk, nv = nc.Next()
			} else {
				seq, key = beUint64(dk[8:]), dk
				dk, _ = dc.Next()
			}
			skip, hold := false, false
			if r.SkipSeq != nil {
				skip, hold = r.SkipSeq(seq)
			}
			if !skip && v == nil {
				if v = cbs.Get(u64(seq)); v == nil {
					return fmt.Errorf("%w: callback %d", ErrNotFound, seq)
				}
				if r.Skip != nil {
					var err error
					if url, _, err = callbackRoute(v); err != nil {
						return fmt.Errorf("callback %d: %w", seq, err)
					}
				}
			}
			if !skip && r.Skip != nil {
				skip = r.Skip(seq, url)
			}
			switch {
			case !skip || hold:
				// Returned, or passed over here and looked at again by the next read.
				if isNew {
					head = false
				} else {
					dueHead = false
				}
			case isNew && head:
				r.NextFrom = seq + 1
			case !isNew && dueHead:
				// The key's successor: the next read seeks past it.
				r.NextDueFrom = append(append(r.NextDueFrom[:0:0], key...), 0)
			}
			if skip {
				if skipped++; r.MaxSkip > 0 && skipped >= r.MaxSkip {
					r.Truncated = true
					return nil
				}
				continue
			}
			cb := Callback{Seq: seq}
			if err := cb.UnmarshalBinary(v); err != nil {
				return fmt.Errorf("callback %d: %w", seq, err)
			}
			out = append(out, cb)
		}
		return nil
	})
	return out, err
}

// NextCallback returns the earliest NextAttempt of the callback queue, for the sender's timer.
func (s *Store) NextCallback() (time.Time, bool) {
	next, ok := s.firstTime(bucketCbDue)
	_ = s.view(func(tx *bolt.Tx) error {
		if _, v := tx.Bucket(bucketCbNew).Cursor().First(); v != nil {
			if t, err := callbackNextAttempt(v); err == nil && (!ok || t.Before(next)) {
				next, ok = t, true
			}
		}
		return nil
	})
	return next, ok
}

// NextCallbackAfter returns the earliest NextAttempt strictly after t: with the due callbacks in
// flight, the time a sender's timer should fire for the next retry.
func (s *Store) NextCallbackAfter(t time.Time) (time.Time, bool) {
	var next time.Time
	var ok bool
	_ = s.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketCbDue).Cursor().Seek(timeKeyBound(t))
		if len(k) == 16 {
			next, ok = time.Unix(0, int64(beUint64(k))).UTC(), true
		}
		// New entries are in time order: walk back from the newest while they are
		// after t (almost always none: they are due when queued).
		c := tx.Bucket(bucketCbNew).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			at, err := callbackNextAttempt(v)
			if err != nil || !at.After(t) {
				break
			}
			if !ok || at.Before(next) {
				next, ok = at, true
			}
		}
		return nil
	})
	return next, ok
}

// findCallback returns the record of a queued callback and whether it is new (in
// callback_new, no due entry) or rescheduled (in callbacks, with a due entry).
func findCallback(tx *bolt.Tx, seq uint64) (c Callback, isNew bool, err error) {
	c = Callback{Seq: seq}
	key := u64(seq)
	v := tx.Bucket(bucketCbNew).Get(key)
	isNew = v != nil
	if !isNew {
		if v = tx.Bucket(bucketCallbacks).Get(key); v == nil {
			return c, false, fmt.Errorf("%w: callback %d", ErrNotFound, seq)
		}
	}
	if err := c.UnmarshalBinary(v); err != nil {
		return c, isNew, fmt.Errorf("callback %d: %w", seq, err)
	}
	return c, isNew, nil
}

// unqueueCallback deletes a queued callback found by findCallback, with its due entry.
func unqueueCallback(tx *bolt.Tx, c *Callback, isNew bool) error {
	if isNew {
		return del(tx.Bucket(bucketCbNew), u64(c.Seq))
	}
	if err := del(tx.Bucket(bucketCallbacks), u64(c.Seq)); err != nil {
		return err
	}
	return del(tx.Bucket(bucketCbDue), timeKey(c.NextAttempt, c.Seq))
}

// AckCallback removes a callback that was delivered. ErrNotFound when it is not queued.
func (s *Store) AckCallback(seq uint64, done func(error)) {
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		c, isNew, err := findCallback(tx, seq)
		if err != nil {
			return err
		}
		if err := unqueueCallback(tx, &c, isNew); err != nil {
			return err
		}
		d.callbacks--
		return nil
	}})
}

// RetryCallback records a failed attempt (Attempts+1, LastError, LastAttempt = now) and schedules
// the next at next. ErrNotFound when the callback is not queued.
func (s *Store) RetryCallback(seq uint64, next time.Time, lastErr string, done func(error)) {
	s.rescheduleCallback(seq, next, true, lastErr, done)
}

// DeferCallback moves a queued callback to next without counting an attempt (for example while
// the receiving host is saturated). ErrNotFound when the callback is not queued.
func (s *Store) DeferCallback(seq uint64, next time.Time, done func(error)) {
	s.rescheduleCallback(seq, next, false, "", done)
}

func (s *Store) rescheduleCallback(seq uint64, next time.Time, attempt bool, lastErr string, done func(error)) {
	if err := checkTime("next", next); err != nil {
		go done(err)
		return
	}
	lastErr = truncate(lastErr, maxString)
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		c, isNew, err := findCallback(tx, seq)
		if err != nil {
			return err
		}
		return moveCallback(tx, &c, isNew, Reschedule{Seq: seq, Next: next, Failed: attempt}, lastErr, time.Now())
	}})
}

// moveCallback reschedules c, found by findCallback, as r says. A new callback moves to the
// rescheduled ones, which callback_due orders.
func moveCallback(tx *bolt.Tx, c *Callback, isNew bool, r Reschedule, lastErr string, now time.Time) error {
	if err := unqueueCallback(tx, c, isNew); err != nil {
		return err
	}
	if r.Failed {
		c.Attempts++
		c.LastError = lastErr
		c.LastAttempt = now
	}
	c.NextAttempt = r.Next
	rec, _ := c.AppendBinary(nil)
	if err := put(tx.Bucket(bucketCallbacks), u64(c.Seq), rec); err != nil {
		return err
	}
	return put(tx.Bucket(bucketCbDue), timeKey(r.Next, c.Seq), nil)
}

// GiveUpCallback takes a callback out of the queue for good (Attempts+1, LastError = reason,
// LastAttempt = now) and keeps it in the failed list (FailedCallbacks, CallbackFailures).
func (s *Store) GiveUpCallback(seq uint64, reason string, done func(error)) {
	reason = truncate(reason, maxString)
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		c, isNew, err := findCallback(tx, seq)
		if err != nil {
			return err
		}
		if err := unqueueCallback(tx, &c, isNew); err != nil {
			return err
		}
		c.Attempts++
		c.LastError = reason
		c.LastAttempt = time.Now()
		rec, _ := c.AppendBinary(nil)
		d.callbacks--
		d.cbFailed++
		return put(tx.Bucket(bucketCbFailed), u64(seq), rec)
	}})
}

// FailedCallbacks returns up to limit callbacks of tokenID that gave up, oldest first (all tokens
// when tokenID is empty). limit <= 0 means no limit.
func (s *Store) FailedCallbacks(tokenID string, limit int) ([]Callback, error) {
	var out []Callback
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCbFailed).ForEach(func(k, v []byte) error {
			if limit > 0 && len(out) >= limit {
				return nil
			}
			c := Callback{Seq: beUint64(k)}
			if err := c.UnmarshalBinary(v); err != nil {
				return fmt.Errorf("failed callback %d: %w", c.Seq, err)
			}
			if tokenID == "" || c.TokenID == tokenID {
				out = append(out, c)
			}
			return nil
		})
	})
	return out, err
}

// CallbackFailures summarises the callbacks of tokenID that gave up: how many, and the time and
// reason of the latest (for `smppd token show`).
func (s *Store) CallbackFailures(tokenID string) (n int, lastAt time.Time, lastReason string, err error) {
	failed, err := s.FailedCallbacks(tokenID, 0)
	for _, c := range failed {
		if !c.LastAttempt.Before(lastAt) {
			lastAt, lastReason = c.LastAttempt, c.LastError
		}
	}
	return len(failed), lastAt, lastReason, err
}

func truncate(s string, max int) string {
	if len(s) > max {
		return s[:max]
	}
	return s
}
