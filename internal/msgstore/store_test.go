package msgstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/smppd/smppd/pdu"
)

func TestMain(m *testing.M) {
	if crashChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

func openTest(t testing.TB, path string, o Options) *Store {
	t.Helper()
	s, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPath(t testing.TB) string { return filepath.Join(t.TempDir(), "msg.db") }

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func testMsg(s *Store, token string, test bool) *Message {
	return &Message{
		ID:         s.NextID(),
		TokenID:    token,
		TestMode:   test,
		Source:     pdu.Address{TON: 5, Addr: "ACME"},
		Dest:       pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"},
		Body:       []byte("body"),
		Text:       []byte("hello"),
		SubmitAt:   t0,
		ExpireAt:   t0.Add(72 * time.Hour),
		State:      pdu.StateEnroute,
		ScheduleAt: time.Time{},
	}
}

// wait runs one asynchronous op and returns its done error, checking done runs exactly once.
func wait(t testing.TB, f func(done func(error))) error {
	t.Helper()
	ch := make(chan error, 2)
	f(func(err error) { ch <- err })
	err := <-ch
	select {
	case err2 := <-ch:
		t.Fatalf("done called twice: %v, %v", err, err2)
	default:
	}
	return err
}

func submit(t testing.TB, s *Store, m *Message) {
	t.Helper()
	if err := wait(t, func(done func(error)) { s.Submit(m, done) }); err != nil {
		t.Fatalf("Submit(%d) = %v", m.ID, err)
	}
}

func transition(t testing.TB, s *Store, tr Transition) error {
	t.Helper()
	return wait(t, func(done func(error)) { s.Transition(tr, done) })
}

func TestSubmitGetAndReopen(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	live := testMsg(s, "tokA", false)
	test := testMsg(s, "tokA", true)
	submit(t, s, live)
	submit(t, s, test)
	if err := wait(t, func(done func(error)) { s.Submit(live, done) }); !errors.Is(err, ErrExists) {
		t.Errorf("Submit(same id) = %v, want ErrExists", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, func(done func(error)) { s.Submit(testMsg(s, "tokA", true), done) }); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Get(live.ID); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if _, err := s.ExpireReceipts(time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("ExpireReceipts after Close = %v, want ErrClosed", err)
	}

	s = openTest(t, path, Options{})
	got, err := s.Get(live.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Outbox || got.TestMode || string(got.Body) != "body" || !got.DueAt.IsZero() {
		t.Errorf("live message = %+v, want in outbox with body, no due time", got)
	}
	got, err = s.Get(test.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outbox || !got.DueAt.Equal(t0) {
		t.Errorf("test message DueAt = %v Outbox = %v, want %v false", got.DueAt, got.Outbox, t0)
	}
	if _, err := s.Get(12345); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	st := s.Stats()
	if st.Messages != 2 || st.Pending != 1 || st.Outbox != 1 {
		t.Errorf("Stats() after reopen = %+v, want 2 messages, 1 pending, 1 outbox", st)
	}
}

func TestSubmitInvalid(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	tests := []struct {
		name string
		edit func(*Message)
	}{
		{"zero id", func(m *Message) { m.ID = 0 }},
		{"no token", func(m *Message) { m.TokenID = "" }},
		{"huge body", func(m *Message) { m.Body = make([]byte, maxBytes+1) }},
		{"time out of range", func(m *Message) { m.ExpireAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMsg(s, "tok", true)
			tt.edit(m)
			if err := wait(t, func(done func(error)) { s.Submit(m, done) }); !errors.Is(err, ErrInvalid) {
				t.Errorf("Submit() = %v, want ErrInvalid", err)
			}
		})
	}
	if st := s.Stats(); st.Messages != 0 || st.CommitBatches != 0 {
		t.Errorf("Stats() = %+v, want nothing written", st)
	}
}

// gate blocks the committer inside OnCommit after its first commit, so that a test can queue
// operations while a commit is "in progress" and observe how the next group is formed.
type gate struct {
	mu      sync.Mutex
	batches []int
	entered chan struct{}
	release chan struct{}
}

func newGate(s *Store) *gate {
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	s.OnCommit = func(n int, _ time.Duration) {
		g.mu.Lock()
		g.batches = append(g.batches, n)
		first := len(g.batches) == 1
		g.mu.Unlock()
		if first {
			close(g.entered)
			<-g.release
		}
	}
	return g
}

func (g *gate) sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.batches...)
}

// TestGroupCommitOneTransaction: a lone op on an idle store is committed alone and at once; the
// ops that arrive while a commit runs are committed together, in exactly one transaction.
func TestGroupCommitOneTransaction(t *testing.T) {
	s := openTest(t, newPath(t), Options{})
	g := newGate(s)
	first := make(chan error, 1)
	s.Submit(testMsg(s, "tok", true), func(err error) { first <- err })
	<-g.entered // committed alone, before anything else was queued

	const n = 300
	var wg sync.WaitGroup
	var calls atomic.Int64
	errs := make(chan error, n)
	ids := make([]uint64, n)
	for i := range n {
		m := testMsg(s, "tok", i%2 == 0)
		ids[i] = m.ID
		wg.Add(1)
		s.Submit(m, func(err error) {
			calls.Add(1)
			errs <- err
			wg.Done()
		})
	}
	if q := s.Stats().Queued; q != n {
		t.Fatalf("Stats().Queued = %d while the committer is busy, want %d", q, n)
	}
	close(g.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("done(%v), want nil", err)
		}
	}
	if c := calls.Load(); c != n {
		t.Fatalf("done called %d times, want %d", c, n)
	}
	if got := g.sizes(); len(got) != 2 || got[0] != 1 || got[1] != n {
		t.Errorf("commit groups = %v, want [1 %d]", got, n)
	}
	for _, id := range ids {
		if _, err := s.Get(id); err != nil {
			t.Errorf("Get(%d) = %v", id, err)
		}
	}
	if st := s.Stats(); st.CommitBatches != 2 || st.CommittedOps != n+1 || st.Messages != n+1 {
		t.Errorf("Stats() = %+v, want 2 batches, %d ops and messages", st, n+1)
	}
	checkConsistency(t, s)
}

// TestQueueFull: with the committer busy, MaxQueue submits wait and the next fails fast.
func TestQueueFull(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true, MaxQueue: 10})
	g := newGate(s)
	s.Submit(testMsg(s, "tok", true), func(error) {})
	<-g.entered
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		s.Submit(testMsg(s, "tok", true), func(err error) {
			if err != nil {
				t.Errorf("queued submit: %v", err)
			}
			wg.Done()
		})
	}
	full := make(chan error, 1)
	s.Submit(testMsg(s, "tok", true), func(err error) { full <- err })
	if err := <-full; !errors.Is(err, ErrQueueFull) {
		t.Errorf("Submit over MaxQueue = %v, want ErrQueueFull", err)
	}
	// Acks and transitions are not refused under load.
	ack := make(chan error, 1)
	s.AckReceipt("tok", 1, func(err error) { ack <- err })
	close(g.release)
	wg.Wait()
	if err := <-ack; !errors.Is(err, ErrNotFound) {
		t.Errorf("AckReceipt(unknown) = %v, want ErrNotFound", err)
	}
}

// TestConcurrentSubmitters: many goroutines, each done exactly once, all readable after reopen.
func TestConcurrentSubmitters(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	const workers, each = 40, 50
	var mu sync.Mutex
	seen := make(map[uint64]int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				m := testMsg(s, "tok", false)
				if err := wait(t, func(done func(error)) { s.Submit(m, done) }); err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
				mu.Lock()
				seen[m.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Fatalf("%d distinct acknowledged ids, want %d", len(seen), workers*each)
	}
	st := s.Stats()
	if st.CommittedOps != workers*each {
		t.Errorf("CommittedOps = %d, want %d", st.CommittedOps, workers*each)
	}
	t.Logf("%d ops in %d commits", st.CommittedOps, st.CommitBatches)
	s.Close()
	s = openTest(t, path, Options{})
	for id := range seen {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("after reopen Get(%d) = %v", id, err)
		}
	}
	out, err := s.Outbox(0, 0)
	if err != nil || len(out) != workers*each {
		t.Errorf("Outbox() = %d messages, %v; want %d", len(out), err, workers*each)
	}
	checkConsistency(t, s)
}

// TestIDsUniqueAcrossReopen: ids never repeat across many runs and keep increasing.
func TestIDsUniqueAcrossReopen(t *testing.T) {
	path := newPath(t)
	seen := make(map[uint64]bool)
	var last uint64
	for run := range 50 {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range 20 + run {
			id := s.NextID()
			if seen[id] {
				t.Fatalf("run %d: id %d reused", run, id)
			}
			if id <= last {
				t.Fatalf("run %d: id %d after %d, want increasing", run, id, last)
			}
			seen[id], last = true, id
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNextIDEpochWrap(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	a := s.NextID()
	s.counter.Store(1<<32 - 2)
	b := s.NextID()
	c := s.NextID() // wraps: a new, persisted epoch
	if !(a < b && b < c) || b>>32 != a>>32 || c>>32 != a>>32+1 {
		t.Errorf("ids %x %x %x: want increasing, the last in the next epoch", a, b, c)
	}
}

func TestDueIndexAndTransitions(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	// Three pending test messages at different times, inserted out of order.
	late, early, sched := testMsg(s, "tokA", true), testMsg(s, "tokA", true), testMsg(s, "tokB", true)
	late.DueAt = t0.Add(2 * time.Second)
	early.DueAt = t0.Add(time.Second)
	sched.ScheduleAt = t0.Add(time.Hour)
	sched.State = pdu.StateScheduled
	for _, m := range []*Message{late, early, sched} {
		submit(t, s, m)
	}
	if next, ok := s.NextDue(); !ok || !next.Equal(early.DueAt) {
		t.Errorf("NextDue() = %v %v, want %v", next, ok, early.DueAt)
	}
	due, err := s.Due(t0.Add(2*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].ID != early.ID || due[1].ID != late.ID {
		t.Fatalf("Due(t0+2s) = %v, want [early late]", ids(due))
	}
	if due, _ := s.Due(t0.Add(2*time.Second), 1); len(due) != 1 || due[0].ID != early.ID {
		t.Errorf("Due(limit 1) = %v, want [early]", ids(due))
	}

	// A crash before the simulator acted: everything is still due after reopen.
	s.Close()
	s = openTest(t, path, Options{})
	if due, _ := s.Due(t0.Add(time.Hour), 0); len(due) != 3 {
		t.Fatalf("after reopen Due(t0+1h) = %v, want 3", ids(due))
	}

	// 9006: ENROUTE with a receipt, moved to a later due time; then DELIVRD.
	if err := transition(t, s, Transition{ID: early.ID, State: pdu.StateEnroute, At: t0.Add(time.Second),
		Receipt: true, NextDue: t0.Add(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Due(t0.Add(2*time.Second), 0); len(due) != 1 || due[0].ID != late.ID {
		t.Errorf("Due after reschedule = %v, want [late]", ids(due))
	}
	if err := transition(t, s, Transition{ID: early.ID, State: pdu.StateDelivered, At: t0.Add(3 * time.Second),
		ErrCode: "000", Receipt: true, Callback: "https://example.com/dlr"}); err != nil {
		t.Fatal(err)
	}
	// A replay after a crash cannot produce a second final receipt.
	if err := transition(t, s, Transition{ID: early.ID, State: pdu.StateDelivered, Receipt: true}); !errors.Is(err, ErrFinal) {
		t.Errorf("second final Transition = %v, want ErrFinal", err)
	}
	if err := transition(t, s, Transition{ID: 999, State: pdu.StateDelivered}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Transition(unknown) = %v, want ErrNotFound", err)
	}
	got, _ := s.Get(early.ID)
	if !got.Final || got.State != pdu.StateDelivered || !got.DoneAt.Equal(t0.Add(3*time.Second)) || !got.DueAt.IsZero() {
		t.Errorf("after DELIVRD: %+v", got)
	}
	rs, err := s.Receipts("tokA", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].State != pdu.StateEnroute || rs[1].State != pdu.StateDelivered ||
		rs[0].Seq >= rs[1].Seq || rs[1].MessageID != early.ID || rs[1].Message.Body != nil ||
		string(rs[1].Message.Text) != "hello" || rs[1].Message.Dest != early.Dest || !rs[1].Message.Final {
		t.Fatalf("Receipts(tokA) = %+v", rs)
	}
	if more, _ := s.Receipts("tokA", rs[0].Seq, 10); len(more) != 1 || more[0].Seq != rs[1].Seq {
		t.Errorf("Receipts(after first) = %+v, want the second", more)
	}
	if toks, _ := s.PendingTokens(); len(toks) != 1 || toks[0] != "tokA" {
		t.Errorf("PendingTokens() = %v, want [tokA]", toks)
	}
	if err := wait(t, func(done func(error)) { s.AckReceipt("tokA", rs[0].Seq, done) }); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, func(done func(error)) { s.AckReceipt("tokA", rs[0].Seq, done) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("second AckReceipt = %v, want ErrNotFound", err)
	}
	// The TTL counts wall-clock time in the queue.
	if n, err := s.ExpireReceipts(time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Errorf("ExpireReceipts(an hour ago) = %d %v, want 0", n, err)
	}
	if n, err := s.ExpireReceipts(time.Now().Add(time.Second)); n != 1 || err != nil {
		t.Errorf("ExpireReceipts(now) = %d %v, want 1", n, err)
	}
	if toks, _ := s.PendingTokens(); len(toks) != 0 {
		t.Errorf("PendingTokens() after expiry = %v, want none", toks)
	}
	cbs, err := s.DueCallbacks(time.Now(), 0)
	if err != nil || len(cbs) != 1 || cbs[0].URL != "https://example.com/dlr" || cbs[0].Receipt.MessageID != early.ID {
		t.Errorf("DueCallbacks() = %+v %v", cbs, err)
	}
	st := s.Stats()
	if st.Pending != 2 || st.Receipts != 0 || st.Callbacks != 1 || st.Messages != 3 {
		t.Errorf("Stats() = %+v, want 2 pending, 0 receipts, 1 callback, 3 messages", st)
	}
	checkConsistency(t, s)
}

func ids(ms []Message) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestCallbackQueue(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	var msgs []*Message
	for i := range 3 {
		m := testMsg(s, "tok", true)
		submit(t, s, m)
		msgs = append(msgs, m)
		if err := transition(t, s, Transition{ID: m.ID, State: pdu.StateUndeliverable, ErrCode: "001",
			At: t0.Add(time.Duration(i) * time.Second), Callback: "https://cb.example/" + fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if next, ok := s.NextCallback(); !ok || next.After(now) {
		t.Errorf("NextCallback() = %v %v, want a time before %v", next, ok, now)
	}
	cbs, _ := s.DueCallbacks(now, 0)
	if len(cbs) != 3 || cbs[0].Receipt.MessageID != msgs[0].ID || cbs[2].Receipt.MessageID != msgs[2].ID ||
		cbs[1].URL != "https://cb.example/1" || cbs[0].Receipt.ErrCode != "001" {
		t.Fatalf("DueCallbacks(now) = %+v, want all three in order", cbs)
	}
	if cbs, _ := s.DueCallbacks(now, 1); len(cbs) != 1 {
		t.Errorf("DueCallbacks(limit 1) = %d callbacks", len(cbs))
	}
	first, second := cbs[0], cbs[1]
	if err := wait(t, func(done func(error)) { s.RetryCallback(first.Seq, now.Add(time.Minute), "HTTP 503", done) }); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, func(done func(error)) { s.AckCallback(second.Seq, done) }); err != nil {
		t.Fatal(err)
	}
	if next, ok := s.NextCallbackAfter(now); !ok || !next.Equal(now.Add(time.Minute)) {
		t.Errorf("NextCallbackAfter(now) = %v %v, want the retry at %v", next, ok, now.Add(time.Minute))
	}
	if _, ok := s.NextCallbackAfter(now.Add(time.Minute)); ok {
		t.Errorf("NextCallbackAfter(the last retry) found one, want none")
	}
	if cbs, _ := s.DueCallbacks(now, 0); len(cbs) != 1 || cbs[0].Receipt.MessageID != msgs[2].ID {
		t.Errorf("DueCallbacks(now) after retry and ack = %+v, want the third", cbs)
	}
	cbs, _ = s.DueCallbacks(now.Add(time.Hour), 0)
	if len(cbs) != 2 || cbs[0].Receipt.MessageID != msgs[2].ID || cbs[1].Seq != first.Seq ||
		cbs[1].Attempts != 1 || cbs[1].LastError != "HTTP 503" || !cbs[1].FirstAttempt.Equal(first.FirstAttempt) {
		t.Fatalf("DueCallbacks(now+1h) = %+v, want third, then the retried first", cbs)
	}
	if err := wait(t, func(done func(error)) { s.DeferCallback(cbs[0].Seq, now.Add(2*time.Hour), done) }); err != nil {
		t.Fatal(err)
	}
	if cbs, _ := s.DueCallbacks(now.Add(time.Hour), 0); len(cbs) != 1 || cbs[0].Seq != first.Seq {
		t.Errorf("DueCallbacks(now+1h) after DeferCallback = %+v, want only the retried first", cbs)
	}
	if cbs, _ := s.DueCallbacks(now.Add(2*time.Hour), 0); len(cbs) != 2 || cbs[1].Attempts != 0 {
		t.Errorf("DueCallbacks(now+2h) = %+v, want the deferred one back with no attempt counted", cbs)
	}
	if err := wait(t, func(done func(error)) { s.GiveUpCallback(first.Seq, "HTTP 410", done) }); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, func(done func(error)) { s.AckCallback(first.Seq, done) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("AckCallback(given up) = %v, want ErrNotFound", err)
	}
	failed, _ := s.FailedCallbacks("tok", 0)
	if len(failed) != 1 || failed[0].Seq != first.Seq || failed[0].LastError != "HTTP 410" || failed[0].Attempts != 2 {
		t.Errorf("FailedCallbacks() = %+v", failed)
	}
	if n, at, reason, err := s.CallbackFailures("tok"); n != 1 || at.IsZero() || reason != "HTTP 410" || err != nil {
		t.Errorf("CallbackFailures(tok) = %d %v %q %v", n, at, reason, err)
	}
	if n, _, _, _ := s.CallbackFailures("other"); n != 0 {
		t.Errorf("CallbackFailures(other) = %d, want 0", n)
	}
	if st := s.Stats(); st.Callbacks != 1 || st.CallbacksFailed != 1 {
		t.Errorf("Stats() = %+v, want 1 callback, 1 failed", st)
	}
	checkConsistency(t, s)
}

func TestCancelReplaceReschedule(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	m := testMsg(s, "tokA", true)
	m.ScheduleAt = t0.Add(time.Hour)
	submit(t, s, m)
	live := testMsg(s, "tokA", false)
	submit(t, s, live)

	replace := func(id uint64, token string, f func(*Message) error) error {
		return wait(t, func(done func(error)) { s.Replace(id, token, f, done) })
	}
	if err := replace(m.ID, "tokB", func(*Message) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Replace(other token) = %v, want ErrNotFound", err)
	}
	errApply := errors.New("bad short message")
	if err := replace(m.ID, "tokA", func(*Message) error { return errApply }); !errors.Is(err, errApply) {
		t.Errorf("Replace(apply fails) = %v, want the apply error", err)
	}
	if err := replace(m.ID, "tokA", func(n *Message) error {
		n.Text = []byte("new text")
		n.ScheduleAt = t0.Add(2 * time.Hour)
		n.TokenID = "tokB" // ignored
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(m.ID)
	if string(got.Text) != "new text" || got.TokenID != "tokA" || !got.DueAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("after Replace: %+v", got)
	}
	if due, _ := s.Due(t0.Add(90*time.Minute), 0); len(due) != 0 {
		t.Errorf("Due(before the new schedule) = %v, want none", ids(due))
	}
	if err := wait(t, func(done func(error)) { s.Reschedule(m.ID, t0, done) }); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Due(t0, 0); len(due) != 1 || due[0].ID != m.ID {
		t.Errorf("Due(t0) after Reschedule = %v, want [m]", ids(due))
	}
	if err := wait(t, func(done func(error)) { s.Reschedule(live.ID, t0, done) }); !errors.Is(err, ErrInvalid) {
		t.Errorf("Reschedule(live) = %v, want ErrInvalid", err)
	}

	if err := wait(t, func(done func(error)) { s.Cancel(m.ID, "tokB", done) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cancel(other token) = %v, want ErrNotFound", err)
	}
	for _, id := range []uint64{m.ID, live.ID} {
		if err := wait(t, func(done func(error)) { s.Cancel(id, "tokA", done) }); err != nil {
			t.Fatalf("Cancel(%d) = %v", id, err)
		}
		if err := wait(t, func(done func(error)) { s.Cancel(id, "tokA", done) }); !errors.Is(err, ErrFinal) {
			t.Errorf("second Cancel(%d) = %v, want ErrFinal", id, err)
		}
	}
	if err := replace(m.ID, "tokA", func(*Message) error { return nil }); !errors.Is(err, ErrFinal) {
		t.Errorf("Replace(cancelled) = %v, want ErrFinal", err)
	}
	got, _ = s.Get(m.ID)
	if got.State != pdu.StateDeleted || !got.Final {
		t.Errorf("cancelled message state %v final %v", got.State, got.Final)
	}
	if rs, _ := s.Receipts("tokA", 0, 0); len(rs) != 0 {
		t.Errorf("Cancel queued receipts %+v, want none", rs)
	}
	st := s.Stats()
	if st.Pending != 0 || st.Outbox != 0 {
		t.Errorf("Stats() = %+v, want nothing pending", st)
	}
	if out, _ := s.Outbox(0, 0); len(out) != 0 {
		t.Errorf("Outbox() = %v, want empty", ids(out))
	}
	checkConsistency(t, s)
}

func TestOutboxPaging(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	var want []uint64
	for range 5 {
		m := testMsg(s, "tok", false)
		submit(t, s, m)
		want = append(want, m.ID)
	}
	page, _ := s.Outbox(0, 2)
	if got := ids(page); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Outbox(0, 2) = %v, want %v", got, want[:2])
	}
	page, _ = s.Outbox(page[1].ID, 0)
	if got := ids(page); len(got) != 3 || got[0] != want[2] {
		t.Errorf("Outbox(after, 0) = %v, want %v", got, want[2:])
	}
	if page, _ := s.Outbox(^uint64(0), 0); len(page) != 0 {
		t.Errorf("Outbox(max) = %v, want none", ids(page))
	}
}

// TestPartialWriteIsRerun: an op that fails after writing is dropped alone; the rest of its
// group is committed without its partial write.
func TestPartialWriteIsRerun(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	g := newGate(s)
	s.Submit(testMsg(s, "tok", true), func(error) {})
	<-g.entered
	a, b := testMsg(s, "tok", true), testMsg(s, "tok", true)
	errA, errBad, errB := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	s.Submit(a, func(err error) { errA <- err })
	runs := 0
	s.enqueue(op{done: func(err error) { errBad <- err }, apply: func(tx *bolt.Tx, d *delta) error {
		runs++
		if err := put(tx.Bucket(bucketMeta), []byte("partial"), []byte("x")); err != nil {
			return err
		}
		return &writeError{errors.New("injected")}
	}})
	s.Submit(b, func(err error) { errB <- err })
	close(g.release)
	if err := <-errA; err != nil {
		t.Errorf("op before the bad one: %v", err)
	}
	if err := <-errB; err != nil {
		t.Errorf("op after the bad one: %v", err)
	}
	if err := <-errBad; err == nil {
		t.Errorf("bad op: done(nil), want its error")
	}
	if runs != 1 {
		t.Errorf("bad op applied %d times, want 1 (not re-run)", runs)
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get([]byte("partial")) != nil {
			return errors.New("partial write of the failed op was committed")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if got := g.sizes(); len(got) != 2 || got[1] != 3 {
		t.Errorf("commit groups = %v, want [1 3]", got)
	}
	for _, m := range []*Message{a, b} {
		if _, err := s.Get(m.ID); err != nil {
			t.Errorf("Get(%d) = %v", m.ID, err)
		}
	}
}

func TestPrune(t *testing.T) {
	s := openTest(t, newPath(t), Options{NoSync: true})
	var ms []*Message
	for i := range 4 {
		m := testMsg(s, "tok", true)
		m.SubmitAt = t0.Add(time.Duration(i) * time.Minute)
		submit(t, s, m)
		ms = append(ms, m)
	}
	// 0 and 2 final, 1 pending, 3 final but too young.
	for _, i := range []int{0, 2, 3} {
		if err := transition(t, s, Transition{ID: ms[i].ID, State: pdu.StateDelivered, Receipt: true}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Prune(t0.Add(3*time.Minute), 0)
	if err != nil || n != 2 {
		t.Fatalf("Prune() = %d %v, want 2", n, err)
	}
	for i, want := range []error{ErrNotFound, nil, ErrNotFound, nil} {
		if _, err := s.Get(ms[i].ID); !errors.Is(err, want) {
			t.Errorf("Get(message %d) = %v, want %v", i, err, want)
		}
	}
	if rs, _ := s.Receipts("tok", 0, 0); len(rs) != 3 {
		t.Errorf("receipts after Prune = %d, want 3 (they keep their snapshot)", len(rs))
	}
	if st := s.Stats(); st.Messages != 2 {
		t.Errorf("Stats().Messages = %d, want 2", st.Messages)
	}
	checkConsistency(t, s)
}

// TestExpireReceiptsInChunks: a backlog larger than one chunk is expired over several commits,
// each token's queue only up to its first young receipt.
func TestExpireReceiptsInChunks(t *testing.T) {
	defer func(n int) { expireChunk = n }(expireChunk)
	expireChunk = 2
	s := openTest(t, newPath(t), Options{NoSync: true})
	for i := range 7 {
		m := testMsg(s, fmt.Sprint("tok", i%2), true)
		submit(t, s, m)
		if err := transition(t, s, Transition{ID: m.ID, State: pdu.StateDelivered, Receipt: true}); err != nil {
			t.Fatal(err)
		}
	}
	cut := time.Now() // the young receipt is queued by a later commit, so strictly after cut
	young := testMsg(s, "tok0", true)
	submit(t, s, young)
	if err := transition(t, s, Transition{ID: young.ID, State: pdu.StateDelivered, Receipt: true}); err != nil {
		t.Fatal(err)
	}
	if toks, _ := s.PendingTokens(); len(toks) != 2 || toks[0] != "tok0" || toks[1] != "tok1" {
		t.Errorf("PendingTokens() = %v, want [tok0 tok1]", toks)
	}
	if rs, _ := s.Receipts("tok1", 0, 0); len(rs) != 3 {
		t.Errorf("Receipts(tok1) = %d receipts, want 3", len(rs))
	}
	batches := s.Stats().CommitBatches
	n, err := s.ExpireReceipts(cut.Add(time.Nanosecond))
	if err != nil || n != 7 {
		t.Fatalf("ExpireReceipts() = %d %v, want 7", n, err)
	}
	if c := s.Stats().CommitBatches - batches; c < 4 {
		t.Errorf("ExpireReceipts used %d commits, want at least 4 chunks of 2", c)
	}
	rs, _ := s.Receipts("tok0", 0, 0)
	if len(rs) != 1 || rs[0].MessageID != young.ID {
		t.Errorf("left in the queue: %+v, want the young receipt", rs)
	}
	if st := s.Stats(); st.Receipts != 1 {
		t.Errorf("Stats().Receipts = %d, want 1", st.Receipts)
	}
	checkConsistency(t, s)
}

func TestSubmitFinal(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	final := testMsg(s, "tok", true)
	if err := wait(t, func(done func(error)) {
		s.SubmitFinal(final, Transition{State: pdu.StateUndeliverable, ErrCode: "001", NetworkError: [3]byte{3, 0, 1},
			At: t0, Receipt: true, Callback: "https://cb.example/"}, done)
	}); err != nil {
		t.Fatal(err)
	}
	// 9006: ENROUTE at once, DELIVRD due later.
	inter := testMsg(s, "tok", true)
	if err := wait(t, func(done func(error)) {
		s.SubmitFinal(inter, Transition{State: pdu.StateEnroute, At: t0, Receipt: true, NextDue: t0.Add(time.Minute)}, done)
	}); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, func(done func(error)) { s.SubmitFinal(final, Transition{State: pdu.StateDelivered}, done) }); !errors.Is(err, ErrExists) {
		t.Errorf("SubmitFinal(same id) = %v, want ErrExists", err)
	}
	if err := wait(t, func(done func(error)) { s.SubmitFinal(testMsg(s, "tok", true), Transition{ID: 1}, done) }); !errors.Is(err, ErrInvalid) {
		t.Errorf("SubmitFinal(other id) = %v, want ErrInvalid", err)
	}
	s.Close()
	s = openTest(t, path, Options{})

	got, err := s.Get(final.ID)
	if err != nil || !got.Final || got.State != pdu.StateUndeliverable || !got.DoneAt.Equal(t0) || got.Outbox || !got.DueAt.IsZero() {
		t.Errorf("Get(final) = %+v, %v", got, err)
	}
	got, err = s.Get(inter.ID)
	if err != nil || got.Final || got.State != pdu.StateEnroute || !got.DueAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Get(intermediate) = %+v, %v", got, err)
	}
	if due, _ := s.Due(t0.Add(time.Hour), 0); len(due) != 1 || due[0].ID != inter.ID {
		t.Errorf("Due() = %v, want only the intermediate one", ids(due))
	}
	rs, _ := s.Receipts("tok", 0, 0)
	if len(rs) != 2 || rs[0].MessageID != final.ID || rs[0].Message.NetworkError != [3]byte{3, 0, 1} ||
		rs[0].ErrCode != "001" || rs[1].State != pdu.StateEnroute {
		t.Errorf("Receipts() = %+v", rs)
	}
	if cbs, _ := s.DueCallbacks(time.Now(), 0); len(cbs) != 1 || cbs[0].Receipt.Seq != rs[0].Seq || cbs[0].Receipt.State != pdu.StateUndeliverable {
		t.Errorf("DueCallbacks() = %+v, want the final one, linked to its receipt", cbs)
	}
	if err := transition(t, s, Transition{ID: final.ID, State: pdu.StateDelivered}); !errors.Is(err, ErrFinal) {
		t.Errorf("Transition(after SubmitFinal) = %v, want ErrFinal", err)
	}
	if st := s.Stats(); st.Messages != 2 || st.Pending != 1 || st.Receipts != 2 || st.Callbacks != 1 || st.Outbox != 0 {
		t.Errorf("Stats() = %+v", st)
	}
	checkConsistency(t, s)
}

func TestSchemaVersion(t *testing.T) {
	path := newPath(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaSchema, u64(schemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(path, Options{}); !errors.Is(err, ErrSchema) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open(newer schema) = %v, want ErrSchema", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("data file mode = %v, want 0600", perm)
	}
}
