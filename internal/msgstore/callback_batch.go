package msgstore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AckCallbacks removes callbacks that were delivered together (one HTTP request carrying
// several reports) in one write. Seqs that are not queued (acked before, never issued)
// are skipped rather than failing the batch: the receiver has the reports either way.
// The caller's slice is not modified.
func (s *Store) AckCallbacks(seqs []uint64, done func(error)) {
	seqs = slices.Clone(seqs)
	slices.Sort(seqs)
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		// One cursor per bucket for the batch, as in AckReceipts: ascending keys walk
		// the same few leaves. Most acked callbacks are new ones (first attempt).
		nc := tx.Bucket(bucketCbNew).Cursor()
		c := tx.Bucket(bucketCallbacks).Cursor()
		due := tx.Bucket(bucketCbDue)
		for _, seq := range seqs {
			key := u64(seq)
			if k, _ := nc.Seek(key); bytes.Equal(k, key) {
				if err := nc.Delete(); err != nil {
					return &writeError{err}
				}
				d.callbacks--
				continue
			}
			k, v := c.Seek(key)
			if !bytes.Equal(k, key) {
				continue
			}
			next, err := callbackNextAttempt(v)
			if err != nil {
				return fmt.Errorf("callback %d: %w", seq, err)
			}
			if err := c.Delete(); err != nil {
				return &writeError{err}
			}
			d.callbacks--
			if err := del(due, timeKey(next, seq)); err != nil {
				return err
			}
		}
		return nil
	}})
}

// Reschedule is one entry of RescheduleCallbacks.
type Reschedule struct {
	Seq  uint64
	Next time.Time // when it is next due
	// Failed counts a failed attempt (Attempts+1, LastError, LastAttempt = now), as
	// RetryCallback does; otherwise the move is DeferCallback's.
	Failed bool
}

// RescheduleCallbacks is RetryCallback and DeferCallback for many callbacks in one write: the
// reports of a batched request that failed, or those pushed back behind a receiver that stopped
// answering, which arrive by the thousand. lastErr goes to the Failed ones. Callbacks no longer
// queued are skipped.
func (s *Store) RescheduleCallbacks(rs []Reschedule, lastErr string, done func(error)) {
	for _, r := range rs {
		if err := checkTime("next", r.Next); err != nil {
			go done(err)
			return
		}
	}
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Reschedule) int { return cmp.Compare(a.Seq, b.Seq) })
	lastErr = truncate(lastErr, maxString)
	s.enqueue(op{done: done, apply: func(tx *bolt.Tx, d *delta) error {
		now := time.Now()
		for _, r := range rs {
			c, isNew, err := findCallback(tx, r.Seq)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := moveCallback(tx, &c, isNew, r, lastErr, now); err != nil {
				return err
			}
		}
		return nil
	}})
}
