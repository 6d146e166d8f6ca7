package msgstore

import (
	"bytes"
	"fmt"
	"slices"

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
