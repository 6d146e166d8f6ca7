package msgstore

import (
	"errors"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smppd/smppd/pdu"
)

// TestReceiptStored holds Receipt.stored, which the callback hook uses instead of
// decoding, to what a record's round trip gives back, for receipts with every field
// set, long texts, zero times and times with a location and a monotonic reading.
func TestReceiptStored(t *testing.T) {
	long := []byte("0123456789012345678901234567890123456789-and-more")
	for i, r := range []Receipt{
		{},
		{Seq: 9, MessageID: 1, TokenID: "tok", State: pdu.StateDelivered},
		{
			Seq: 7, MessageID: 1 << 40, TokenID: "tok_8f3a", State: pdu.StateUndeliverable, ErrCode: "001",
			DoneAt: time.Now(), QueuedAt: time.Now().In(time.FixedZone("X", 3600)), Attempts: 3,
			Message: Message{
				ID: 99, TokenID: "other", TestMode: true, Body: []byte("body is not kept"),
				Source: pdu.Address{TON: 5, Addr: "ACME"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "34600000001"},
				ServiceType: "CMT", ESMClass: 0x40, ProtocolID: 1, PriorityFlag: 2, RegisteredDelivery: 0x11,
				DataCoding: 8, Text: long,
				SubmitAt: t0.In(time.FixedZone("CET", 3600)), NetworkError: [3]byte{3, 0, 7},
				ExpireAt: t0.Add(time.Hour), Final: false, Outbox: true,
			},
		},
		{MessageID: 5, Message: Message{Text: []byte("short")}, State: pdu.StateEnroute},
	} {
		if i == 2 {
			r.Message.Concat.Ref, r.Message.Concat.Total, r.Message.Concat.Part = 513, 3, 2
		}
		rec, _ := r.AppendBinary(nil)
		want := Receipt{Seq: r.Seq}
		if err := want.UnmarshalBinary(rec); err != nil {
			t.Fatalf("%d: UnmarshalBinary: %v", i, err)
		}
		if got := r.stored(); !reflect.DeepEqual(got, want) {
			t.Errorf("%d: stored() =\n%+v\nwant (decoded record)\n%+v", i, got, want)
		}
	}
}

// TestCallbackHook checks that the hook gets every callback a commit queued, through
// SubmitFinal (with and without an SMPP receipt) and Transition, equal to what a read
// of the store returns, before the commit's done functions run; and nothing for an op
// that failed or a commit that queued no callback.
func TestCallbackHook(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	var got []Callback
	var doneSeen int // done functions that ran before the hook saw their callback
	hookCalls := 0
	s.SetCallbackHook(func(cbs []Callback) { hookCalls++; got = append(got, cbs...) })

	withReceipt, noReceipt, later := testMsg(s, "tok", true), testMsg(s, "tok", true), testMsg(s, "tok", true)
	later.Concat.Ref, later.Concat.Total, later.Concat.Part = 7, 2, 1
	for _, c := range []struct {
		m       *Message
		receipt bool
	}{{withReceipt, true}, {noReceipt, false}} {
		if err := wait(t, func(done func(error)) {
			s.SubmitFinal(c.m, Transition{State: pdu.StateDelivered, ErrCode: "000", Final: true, Receipt: c.receipt,
				Callback: "https://cb.example/dlr"}, func(err error) {
				if len(got) == 0 {
					doneSeen++
				}
				done(err)
			})
		}); err != nil {
			t.Fatal(err)
		}
	}
	submit(t, s, later) // no callback: no hook call
	if hookCalls != 2 {
		t.Errorf("hook called %d times after 2 commits that queued callbacks and 1 that did not, want 2", hookCalls)
	}
	if err := transition(t, s, Transition{ID: later.ID, State: pdu.StateUndeliverable, ErrCode: "001", Final: true,
		Receipt: true, Callback: "https://cb.example/other"}); err != nil {
		t.Fatal(err)
	}
	// A failing op queues nothing: a duplicate id.
	if err := wait(t, func(done func(error)) {
		s.SubmitFinal(withReceipt, Transition{State: pdu.StateDelivered, Final: true, Callback: "https://cb.example/dlr"}, done)
	}); !errors.Is(err, ErrExists) {
		t.Fatalf("SubmitFinal(same id) = %v, want ErrExists", err)
	}
	if doneSeen != 0 {
		t.Errorf("a done ran before the hook had the commit's callbacks")
	}

	want, err := s.DueCallbacks(farAhead, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 {
		t.Fatalf("store holds %d callbacks, want 3", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hook got\n%+v\nthe store holds\n%+v", got, want)
	}
	if want[0].Receipt.Seq == 0 || want[1].Receipt.Seq != 0 || want[2].Receipt.Seq == 0 {
		t.Errorf("receipt links = %d %d %d; want set, 0 (no SMPP receipt), set",
			want[0].Receipt.Seq, want[1].Receipt.Seq, want[2].Receipt.Seq)
	}

	// A rolled-back attempt (a partial write elsewhere in the group) hands over
	// nothing from it; the re-run's callbacks are handed over once.
	got = nil
	g := newGate(s)
	s.Submit(testMsg(s, "tok", true), func(error) {})
	<-g.entered
	m := testMsg(s, "tok", true)
	errc := make(chan error, 1)
	s.SubmitFinal(m, Transition{State: pdu.StateDelivered, Final: true, Callback: "https://cb.example/dlr"}, func(err error) { errc <- err })
	s.enqueue(op{done: func(error) {}, apply: func(tx *bolt.Tx, d *delta) error {
		return &writeError{errors.New("injected")}
	}})
	close(g.release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Receipt.MessageID != m.ID {
		t.Errorf("after a re-run group the hook got %+v, want the one callback once", got)
	}
}

// TestSchema1Upgrade opens a version 1 file, whose callbacks all sit in the callbacks
// bucket with due entries: it is recorded as version 2, its callbacks are still due and
// can be acked, and new ones go to callback_new.
func TestSchema1Upgrade(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	m := testMsg(s, "tok", true)
	submit(t, s, m)
	if err := transition(t, s, Transition{ID: m.ID, State: pdu.StateDelivered, Final: true, Callback: "https://cb.example/"}); err != nil {
		t.Fatal(err)
	}
	old, _ := s.DueCallbacks(farAhead, 0)
	// The version 1 layout: what a reschedule leaves (callbacks + callback_due).
	if err := wait(t, func(done func(error)) { s.DeferCallback(old[0].Seq, time.Now().Add(-time.Minute), done) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketCbNew).Stats().KeyN; n != 0 {
			t.Fatalf("callback_new holds %d entries after the reschedule, want 0", n)
		}
		if err := tx.DeleteBucket(bucketCbNew); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, u64(1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = openTest(t, path, Options{})
	if err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaSchema); beUint64(v) != schemaVersion {
			t.Errorf("schema after Open = %x, want %d", v, schemaVersion)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m2 := testMsg(s, "tok", true)
	if err := wait(t, func(done func(error)) {
		s.SubmitFinal(m2, Transition{State: pdu.StateDelivered, Final: true, Callback: "https://cb.example/"}, done)
	}); err != nil {
		t.Fatal(err)
	}
	due, _ := s.DueCallbacks(time.Now(), 0)
	if len(due) != 2 || due[0].Seq != old[0].Seq || due[1].Receipt.MessageID != m2.ID {
		t.Fatalf("DueCallbacks() = %+v, want the version 1 callback, then the new one", due)
	}
	if st := s.Stats(); st.Callbacks != 2 {
		t.Errorf("Stats().Callbacks = %d, want 2", st.Callbacks)
	}
	if err := wait(t, func(done func(error)) { s.AckCallbacks([]uint64{due[0].Seq, due[1].Seq}, done) }); err != nil {
		t.Fatal(err)
	}
	checkConsistency(t, s)
	if left, _ := s.DueCallbacks(farAhead, 0); len(left) != 0 {
		t.Errorf("after acks %d callbacks left", len(left))
	}
}
