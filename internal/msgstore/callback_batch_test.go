package msgstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
)

// TestAckCallbacks acks a batch out of order, including a rescheduled entry and seqs
// that are not queued (acked before, never issued), and checks that exactly the named
// callbacks left both the queue and its due index, also after a reopen.
func TestAckCallbacks(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	for i := range 5 {
		m := testMsg(s, "tok", true)
		submit(t, s, m)
		if err := transition(t, s, Transition{ID: m.ID, State: pdu.StateDelivered, ErrCode: "000",
			At: t0.Add(time.Duration(i) * time.Second), Callback: "https://cb.example/" + fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	cbs, _ := s.DueCallbacks(now, 0)
	if len(cbs) != 5 {
		t.Fatalf("DueCallbacks() = %d callbacks, want 5", len(cbs))
	}
	// A retried entry has moved in the due index: the ack must find it at its new key.
	if err := wait(t, func(done func(error)) { s.RetryCallback(cbs[3].Seq, now.Add(-time.Second), "HTTP 503", done) }); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, func(done func(error)) { s.AckCallback(cbs[0].Seq, done) }); err != nil {
		t.Fatal(err)
	}
	batch := []uint64{cbs[3].Seq, cbs[0].Seq, cbs[1].Seq, 1 << 40}
	if err := wait(t, func(done func(error)) { s.AckCallbacks(batch, done) }); err != nil {
		t.Fatalf("AckCallbacks = %v", err)
	}
	if batch[0] != cbs[3].Seq {
		t.Errorf("AckCallbacks reordered the caller's slice: %v", batch)
	}
	check := func() {
		t.Helper()
		left, _ := s.DueCallbacks(farAhead, 0)
		if len(left) != 2 || left[0].Seq != cbs[2].Seq || left[1].Seq != cbs[4].Seq {
			t.Errorf("left in the queue: %+v, want seqs %d and %d", left, cbs[2].Seq, cbs[4].Seq)
		}
		if n := s.Stats().Callbacks; n != 2 {
			t.Errorf("Stats().Callbacks = %d, want 2", n)
		}
		if _, ok := s.NextCallbackAfter(now.Add(time.Hour)); ok {
			t.Errorf("NextCallbackAfter found an entry after the acked ones; want none")
		}
	}
	check()
	s.Close()
	s = openTest(t, path, Options{})
	check()
}

var farAhead = time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC)
