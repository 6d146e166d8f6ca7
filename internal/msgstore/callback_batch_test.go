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

// TestDueReadSkipAndFrom: Skip sees each callback's URL and passes over it without
// counting it; NextFrom moves past the skipped head of the new callbacks only (not past
// one returned, not past a rescheduled one); From starts the next read there; MaxSkip
// ends a read early and says so.
func TestDueReadSkipAndFrom(t *testing.T) {
	s := openTest(t, newPath(t), Options{})
	for i := range 6 {
		url := "https://hung.example/"
		if i == 3 {
			url = "https://ok.example/"
		}
		m := testMsg(s, "tok", true)
		submit(t, s, m)
		if err := transition(t, s, Transition{ID: m.ID, State: pdu.StateDelivered, ErrCode: "000", At: t0, Callback: url}); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := s.DueCallbacks(farAhead, 0)
	if len(all) != 6 {
		t.Fatalf("DueCallbacks() = %d callbacks, want 6", len(all))
	}
	// The first moves to the rescheduled ones, due now: reads merge it in by time.
	now := time.Now()
	if err := wait(t, func(done func(error)) {
		s.RescheduleCallbacks([]Reschedule{{Seq: all[0].Seq, Next: now.Add(-time.Hour)}}, "", done)
	}); err != nil {
		t.Fatal(err)
	}
	hung := func(seq uint64, url []byte) bool { return string(url) == "https://hung.example/" }

	r := DueRead{Skip: hung}
	got, err := s.AppendDueCallbacks(nil, now, &r)
	if err != nil || len(got) != 1 || got[0].Seq != all[3].Seq {
		t.Fatalf("read skipping the hung host = %v, %v; want only seq %d", seqsOf(got), err, all[3].Seq)
	}
	if r.NextFrom != all[3].Seq || r.Truncated || r.Issued < all[5].Seq {
		t.Errorf("NextFrom %d, Truncated %v, Issued %d; want %d (the returned one stops it), false, ≥ %d", r.NextFrom, r.Truncated, r.Issued, all[3].Seq, all[5].Seq)
	}
	// Without the returned one, the whole skipped head is passed: the next read need not look.
	r = DueRead{Skip: func(seq uint64, url []byte) bool { return true }}
	if got, _ := s.AppendDueCallbacks(nil, now, &r); len(got) != 0 || r.NextFrom != all[5].Seq+1 {
		t.Errorf("read skipping all = %v, NextFrom %d; want none, %d", seqsOf(got), r.NextFrom, all[5].Seq+1)
	}
	// SkipSeq's hold: passed over, but the start does not move past it.
	r = DueRead{Skip: func(seq uint64, url []byte) bool { return true },
		SkipSeq: func(seq uint64) (bool, bool) { return seq == all[2].Seq, seq == all[2].Seq }}
	if got, _ := s.AppendDueCallbacks(nil, now, &r); len(got) != 0 || r.NextFrom != all[2].Seq {
		t.Errorf("read holding %d = %v, NextFrom %d; want none, %d", all[2].Seq, seqsOf(got), r.NextFrom, all[2].Seq)
	}
	// SkipSeq decides before the record is looked at: Skip is not asked.
	r = DueRead{SkipSeq: func(uint64) (bool, bool) { return true, false },
		Skip: func(seq uint64, url []byte) bool {
			t.Errorf("Skip(%d) asked after SkipSeq passed over it", seq)
			return true
		}}
	if got, _ := s.AppendDueCallbacks(nil, now, &r); len(got) != 0 || r.NextFrom != all[5].Seq+1 || r.NextDueFrom == nil {
		t.Errorf("read with SkipSeq passing all = %v, NextFrom %d, NextDueFrom %x; want none, %d, set", seqsOf(got), r.NextFrom, r.NextDueFrom, all[5].Seq+1)
	}
	// From: new callbacks below it are not looked at; the rescheduled one still is.
	r = DueRead{From: all[4].Seq}
	if got, _ := s.AppendDueCallbacks(nil, now, &r); len(got) != 3 || got[0].Seq != all[0].Seq || got[1].Seq != all[4].Seq {
		t.Errorf("read from %d = %v, want %d (rescheduled), %d, %d", all[4].Seq, seqsOf(got), all[0].Seq, all[4].Seq, all[5].Seq)
	}
	// DueFrom: the rescheduled one, skipped at the head of its queue, is behind
	// NextDueFrom; a read from there does not see it, one from its own key does.
	r = DueRead{Skip: hung}
	s.AppendDueCallbacks(nil, now, &r)
	if r.NextDueFrom == nil {
		t.Fatalf("NextDueFrom = nil after skipping the rescheduled one")
	}
	r = DueRead{DueFrom: r.NextDueFrom, From: all[5].Seq + 1}
	if got, _ := s.AppendDueCallbacks(nil, now, &r); len(got) != 0 {
		t.Errorf("read from NextDueFrom = %v, want none", seqsOf(got))
	}
	r = DueRead{DueFrom: DueKey(now.Add(-time.Hour), all[0].Seq), From: all[5].Seq + 1}
	if got, _ := s.AppendDueCallbacks(nil, now, &r); len(got) != 1 || got[0].Seq != all[0].Seq {
		t.Errorf("read from its DueKey = %v, want %d", seqsOf(got), all[0].Seq)
	}
	r = DueRead{Skip: hung, MaxSkip: 2}
	if got, _ := s.AppendDueCallbacks(nil, now, &r); len(got) != 0 || !r.Truncated {
		t.Errorf("read with MaxSkip 2 = %v, Truncated %v; want none, true", seqsOf(got), r.Truncated)
	}
}

// TestRescheduleCallbacks moves several callbacks in one write: failed ones count an
// attempt and carry the error, deferred ones do not; seqs not queued are skipped.
func TestRescheduleCallbacks(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	for range 3 {
		m := testMsg(s, "tok", true)
		submit(t, s, m)
		if err := transition(t, s, Transition{ID: m.ID, State: pdu.StateDelivered, ErrCode: "000", At: t0, Callback: "https://cb.example/"}); err != nil {
			t.Fatal(err)
		}
	}
	cbs, _ := s.DueCallbacks(farAhead, 0)
	now := time.Now()
	later := now.Add(time.Hour).Truncate(time.Millisecond)
	rs := []Reschedule{{Seq: cbs[2].Seq, Next: later, Failed: true}, {Seq: 1 << 40, Next: later}, {Seq: cbs[0].Seq, Next: later}}
	if err := wait(t, func(done func(error)) { s.RescheduleCallbacks(rs, "HTTP 503", done) }); err != nil {
		t.Fatalf("RescheduleCallbacks = %v", err)
	}
	check := func() {
		t.Helper()
		if due, _ := s.DueCallbacks(now, 0); len(due) != 1 || due[0].Seq != cbs[1].Seq {
			t.Errorf("due now: %v, want only %d", seqsOf(due), cbs[1].Seq)
		}
		moved, _ := s.DueCallbacks(later, 0)
		if len(moved) != 3 {
			t.Fatalf("due by %v: %v, want all 3", later, seqsOf(moved))
		}
		for _, c := range moved {
			switch c.Seq {
			case cbs[2].Seq:
				if c.Attempts != 1 || c.LastError != "HTTP 503" || !c.NextAttempt.Equal(later) {
					t.Errorf("failed one: attempts %d, error %q, next %v; want 1, HTTP 503, %v", c.Attempts, c.LastError, c.NextAttempt, later)
				}
			case cbs[0].Seq:
				if c.Attempts != 0 || c.LastError != "" || !c.NextAttempt.Equal(later) {
					t.Errorf("deferred one: attempts %d, error %q, next %v; want 0, none, %v", c.Attempts, c.LastError, c.NextAttempt, later)
				}
			}
		}
		if n := s.Stats().Callbacks; n != 3 {
			t.Errorf("Stats().Callbacks = %d, want 3", n)
		}
	}
	check()
	s.Close()
	s = openTest(t, path, Options{})
	check()
}

func seqsOf(cbs []Callback) []uint64 {
	out := make([]uint64, len(cbs))
	for i, c := range cbs {
		out[i] = c.Seq
	}
	return out
}
