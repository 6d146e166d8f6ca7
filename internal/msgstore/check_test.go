package msgstore

import (
	"errors"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// checkConsistency verifies the invariants that every write keeps in one transaction: each due
// entry points at a pending test-mode message with that DueAt and each pending test-mode message
// has its entry; the same for the outbox; receipt and callback records decode and the callback
// schedule matches; and Stats agrees with the buckets. After a crash this proves that no
// operation was half applied.
func checkConsistency(t testing.TB, s *Store) {
	t.Helper()
	if err := s.view(func(tx *bolt.Tx) error {
		var errs []error
		fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
		due, outbox := tx.Bucket(bucketDue), tx.Bucket(bucketOutbox)
		var messages, pending, inOutbox int
		_ = tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			messages++
			var m Message
			if err := m.UnmarshalBinary(v); err != nil {
				fail("message %x: %v", k, err)
				return nil
			}
			if m.ID != beUint64(k) {
				fail("message key %x holds id %d", k, m.ID)
			}
			hasDue := !m.DueAt.IsZero() && due.Get(timeKey(m.DueAt, m.ID)) != nil
			switch {
			case m.Final && (!m.DueAt.IsZero() || m.Outbox):
				fail("final message %d still indexed (due %v, outbox %v)", m.ID, m.DueAt, m.Outbox)
			case !m.Final && m.TestMode && !hasDue:
				fail("pending test message %d has no due entry at %v", m.ID, m.DueAt)
			case !m.Final && !m.TestMode && m.Outbox && outbox.Get(k) == nil:
				fail("live message %d flagged Outbox but not in the outbox", m.ID)
			}
			if hasDue {
				pending++
			}
			if m.Outbox {
				inOutbox++
			}
			return nil
		})
		if n := due.Stats().KeyN; n != pending {
			fail("due index has %d entries, %d messages point at one", n, pending)
		}
		if n := outbox.Stats().KeyN; n != inOutbox {
			fail("outbox has %d entries, %d messages flagged", n, inOutbox)
		}
		receipts := 0
		_ = tx.Bucket(bucketReceipts).ForEach(func(k, v []byte) error {
			receipts++
			var r Receipt
			if _, _, ok := splitReceiptKey(k); !ok {
				fail("receipt key %x", k)
			} else if err := r.UnmarshalBinary(v); err != nil {
				fail("receipt %x: %v", k, err)
			}
			return nil
		})
		cbDue := tx.Bucket(bucketCbDue)
		callbacks := 0
		_ = tx.Bucket(bucketCallbacks).ForEach(func(k, v []byte) error {
			callbacks++
			c := Callback{Seq: beUint64(k)}
			if err := c.UnmarshalBinary(v); err != nil {
				fail("callback %d: %v", c.Seq, err)
			} else if cbDue.Get(timeKey(c.NextAttempt, c.Seq)) == nil {
				fail("callback %d not scheduled at %v", c.Seq, c.NextAttempt)
			}
			return nil
		})
		if n := cbDue.Stats().KeyN; n != callbacks {
			fail("callback schedule has %d entries for %d callbacks", n, callbacks)
		}
		_ = tx.Bucket(bucketCbNew).ForEach(func(k, v []byte) error {
			callbacks++
			c := Callback{Seq: beUint64(k)}
			if err := c.UnmarshalBinary(v); err != nil {
				fail("new callback %d: %v", c.Seq, err)
			} else if c.Attempts != 0 || !c.NextAttempt.Equal(c.FirstAttempt) {
				fail("new callback %d: %d attempts, next %v, first %v; want none, due when queued", c.Seq, c.Attempts, c.NextAttempt, c.FirstAttempt)
			}
			if tx.Bucket(bucketCallbacks).Get(k) != nil {
				fail("callback %d both new and rescheduled", c.Seq)
			}
			if c.Seq > tx.Bucket(bucketCallbacks).Sequence() {
				fail("new callback %d above the issued sequence", c.Seq)
			}
			return nil
		})
		st := s.Stats()
		if st.Messages != messages || st.Pending != pending || st.Outbox != inOutbox ||
			st.Receipts != receipts || st.Callbacks != callbacks {
			fail("Stats() = %+v, buckets hold %d messages, %d pending, %d outbox, %d receipts, %d callbacks",
				st, messages, pending, inOutbox, receipts, callbacks)
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Errorf("store inconsistent:\n%v", err)
	}
}

// errRecorder records Errorf calls instead of failing the test.
type errRecorder struct {
	testing.TB
	errs []string
}

func (r *errRecorder) Helper() {}
func (r *errRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestCheckConsistencyCatchesHalfOps: the checker itself sees a half-applied write.
func TestCheckConsistencyCatchesHalfOps(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	m := testMsg(s, "tok", true)
	submit(t, s, m)
	rec := &errRecorder{TB: t}
	checkConsistency(rec, s)
	if len(rec.errs) != 0 {
		t.Fatalf("consistent store reported: %v", rec.errs)
	}
	stored, err := s.Get(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDue).Delete(timeKey(stored.DueAt, m.ID))
	}); err != nil {
		t.Fatal(err)
	}
	checkConsistency(rec, s)
	if len(rec.errs) == 0 {
		t.Error("a message without its due entry was not reported")
	}
}
