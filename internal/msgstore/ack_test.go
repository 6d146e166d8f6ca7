package msgstore

import (
	"testing"

	"github.com/smppd/smppd/pdu"
)

// TestAckReceipts acks a batch out of order, with seqs that are not queued
// (acked before, another token's, never issued), and checks that exactly
// the named receipts of the token left the queue, also after a reopen.
func TestAckReceipts(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	for _, tok := range []string{"tok", "tok", "tok", "tok", "tok", "other"} {
		if err := wait(t, func(done func(error)) {
			s.SubmitFinal(testMsg(s, tok, true), Transition{State: pdu.StateDelivered, At: t0, Receipt: true}, done)
		}); err != nil {
			t.Fatal(err)
		}
	}
	rs, _ := s.Receipts("tok", 0, 0)
	other, _ := s.Receipts("other", 0, 0)
	if len(rs) != 5 || len(other) != 1 {
		t.Fatalf("queued %d and %d receipts, want 5 and 1", len(rs), len(other))
	}
	if err := wait(t, func(done func(error)) { s.AckReceipt("tok", rs[0].Seq, done) }); err != nil {
		t.Fatal(err)
	}
	batch := []uint64{rs[3].Seq, rs[0].Seq, other[0].Seq, rs[1].Seq, 1 << 40}
	if err := wait(t, func(done func(error)) { s.AckReceipts("tok", batch, done) }); err != nil {
		t.Fatalf("AckReceipts = %v", err)
	}
	check := func() {
		t.Helper()
		left, _ := s.Receipts("tok", 0, 0)
		if len(left) != 2 || left[0].Seq != rs[2].Seq || left[1].Seq != rs[4].Seq {
			t.Errorf("left in the queue: %+v, want seqs %d and %d", left, rs[2].Seq, rs[4].Seq)
		}
		if o, _ := s.Receipts("other", 0, 0); len(o) != 1 {
			t.Errorf("another token's receipt was acked: %d left", len(o))
		}
		if n := s.Stats().Receipts; n != 3 {
			t.Errorf("Stats().Receipts = %d, want 3", n)
		}
	}
	check()
	s.Close()
	s = openTest(t, path, Options{})
	check()
	if err := wait(t, func(done func(error)) { s.AckReceipts("tok", nil, done) }); err != nil {
		t.Errorf("AckReceipts(none) = %v", err)
	}
}

// TestAppendReceipts checks that AppendReceipts keeps dst, counts limit in
// new receipts only, and reuses dst's array when it has room.
func TestAppendReceipts(t *testing.T) {
	s := openTest(t, newPath(t), Options{})
	for range 3 {
		if err := wait(t, func(done func(error)) {
			s.SubmitFinal(testMsg(s, "tok", true), Transition{State: pdu.StateDelivered, At: t0, Receipt: true}, done)
		}); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := s.Receipts("tok", 0, 0)
	dst := make([]Receipt, 1, 8)
	dst[0].Seq = 99
	got, err := s.AppendReceipts(dst, "tok", all[0].Seq, 1)
	if err != nil || len(got) != 2 || got[0].Seq != 99 || got[1].Seq != all[1].Seq || got[1].TokenID != "tok" {
		t.Fatalf("AppendReceipts = %+v, %v; want the marker and receipt %d", got, err, all[1].Seq)
	}
	if &got[0] != &dst[0] {
		t.Error("AppendReceipts did not reuse dst's array")
	}
	if n := testing.AllocsPerRun(20, func() { got, _ = s.AppendReceipts(got[:0], "tok", 0, 0) }); len(got) != 3 || n > 30 {
		t.Errorf("AppendReceipts into a reused array: %d receipts, %v allocations", len(got), n)
	}
}
