package msgstore

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
)

// benchMsg is the size of a typical test-mode submit: a 160-character GSM text and its PDU body.
func benchMsg(s *Store) *Message {
	return &Message{
		ID:                 s.NextID(),
		TokenID:            "tok_benchmark_0001",
		TestMode:           true,
		Source:             pdu.Address{TON: 5, Addr: "ACME"},
		Dest:               pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"},
		RegisteredDelivery: 1,
		Body:               make([]byte, 200),
		Text:               make([]byte, 160),
		SubmitAt:           time.Now(),
		ExpireAt:           time.Now().Add(72 * time.Hour),
		State:              pdu.StateEnroute,
	}
}

// runSubmitters runs submitters goroutines that each submit and wait for done, like a bind
// with a full window, until b.N messages are committed (with fsync).
func runSubmitters(b *testing.B, submitters int, perMsg func(s *Store, m *Message) error) {
	runSubmittersOf(b, submitters, Options{}, func(s *Store, _ int) *Message { return benchMsg(s) }, perMsg)
}

func runSubmittersOf(b *testing.B, submitters int, o Options, newMsg func(s *Store, worker int) *Message, perMsg func(s *Store, m *Message) error) {
	var commitNanos atomic.Int64
	o.OnCommit = func(_ int, d time.Duration) { commitNanos.Add(int64(d)) }
	s := openTest(b, newPath(b), o)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for w := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := make(chan error, 1)
			for next.Add(1) <= int64(b.N) {
				m := newMsg(s, w)
				s.Submit(m, func(err error) { ch <- err })
				if err := <-ch; err != nil {
					b.Error(err)
					return
				}
				if perMsg != nil {
					if err := perMsg(s, m); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(st.CommittedOps)/float64(max(st.CommitBatches, 1)), "ops/commit")
	b.ReportMetric(float64(commitNanos.Load())/1e3/float64(max(st.CommitBatches, 1)), "µs/commit")
	dbst := s.db.Stats().TxStats
	b.ReportMetric(float64(dbst.GetWrite())/float64(max(st.CommitBatches, 1)), "pwrites/commit")
}

// BenchmarkSubmit200: 4 binds × window 50 = 200 submits in flight; committed messages per second.
func BenchmarkSubmit200(b *testing.B) { runSubmitters(b, 200, nil) }

// BenchmarkSubmit200Small: as BenchmarkSubmit200 with a short text and the smallest body (about
// 110-byte records instead of 430): commit time is mostly bytes written, so this is the ceiling.
func BenchmarkSubmit200Small(b *testing.B) {
	runSubmittersOf(b, 200, Options{}, func(s *Store, _ int) *Message {
		m := benchMsg(s)
		m.Body, m.Text = make([]byte, 40), []byte("hi there")
		return m
	}, nil)
}

// BenchmarkSubmit200NoSync: as BenchmarkSubmit200 without fsync (never in production): the CPU
// ceiling of the committer, to tell disk-bound from CPU-bound.
func BenchmarkSubmit200NoSync(b *testing.B) {
	runSubmittersOf(b, 200, Options{NoSync: true}, func(s *Store, _ int) *Message { return benchMsg(s) }, nil)
}

// BenchmarkSubmitLone: one submitter, one message in flight: the latency of an idle store
// (ns/op is the time from Submit to done, fsync included).
func BenchmarkSubmitLone(b *testing.B) { runSubmitters(b, 1, nil) }

// BenchmarkLifecycle200: 200 in flight, and each message also goes through its final transition
// with a queued receipt and the receipt's ack: the store's work per message of a test-mode run
// with receipts (three operations, each committed before the next starts).
func BenchmarkLifecycle200(b *testing.B) {
	// One token per submitter, so that each acks its own receipt (a token's receivers share its
	// queue; which one acks is the gateway's business, not the store's).
	runSubmittersOf(b, 200, Options{}, func(s *Store, w int) *Message {
		m := benchMsg(s)
		m.TokenID = "tok_benchmark_" + strconv.Itoa(w)
		return m
	}, func(s *Store, m *Message) error {
		ch := make(chan error, 1)
		s.Transition(Transition{ID: m.ID, State: pdu.StateDelivered, ErrCode: "000", Receipt: true},
			func(err error) { ch <- err })
		if err := <-ch; err != nil {
			return err
		}
		rs, err := s.Receipts(m.TokenID, 0, 1)
		if err != nil {
			return err
		}
		if len(rs) != 1 || rs[0].MessageID != m.ID {
			return fmt.Errorf("Receipts() = %d receipts, want the one of %d", len(rs), m.ID)
		}
		s.AckReceipt(m.TokenID, rs[0].Seq, func(err error) { ch <- err })
		return <-ch
	})
}

// BenchmarkSubmitFinalAck200: the gateway's immediate test-mode path with receipts, shaped like
// 4 transceiver binds × window 50: 200 submitters (50 per token) each store a message already
// final with its receipt in one operation (SubmitFinal) and wait for done; one dispatcher per
// token reads its queue in batches (Receipts) and acks each receipt (AckReceipt, as on
// deliver_sm_resp) without waiting for the ack's commit. msgs/s counts messages whose receipt was
// acked and committed: two committed operations per message.
func BenchmarkSubmitFinalAck200(b *testing.B) {
	const tokens, window = 4, 50
	var commitNanos atomic.Int64
	s := openTest(b, newPath(b), Options{OnCommit: func(_ int, d time.Duration) { commitNanos.Add(int64(d)) }})
	var next, acked atomic.Int64
	allAcked := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for tok := range tokens {
		token := "tok_benchmark_" + strconv.Itoa(tok)
		wg.Add(1)
		go func() { // the token's receipt dispatcher
			defer wg.Done()
			var cursor uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				rs, err := s.Receipts(token, cursor, 256)
				if err != nil {
					b.Error(err)
					return
				}
				if len(rs) == 0 {
					time.Sleep(100 * time.Microsecond)
					continue
				}
				for _, r := range rs {
					s.AckReceipt(token, r.Seq, func(err error) {
						if err != nil {
							b.Error(err)
						}
						if acked.Add(1) == int64(b.N) {
							close(allAcked)
						}
					})
				}
				cursor = rs[len(rs)-1].Seq
			}
		}()
		for range window {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ch := make(chan error, 1)
				for next.Add(1) <= int64(b.N) {
					m := benchMsg(s)
					m.TokenID = token
					s.SubmitFinal(m, Transition{State: pdu.StateDelivered, ErrCode: "000", Receipt: true},
						func(err error) { ch <- err })
					if err := <-ch; err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
	}
	<-allAcked
	b.StopTimer()
	close(stop)
	wg.Wait()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(st.CommittedOps)/float64(max(st.CommitBatches, 1)), "ops/commit")
	b.ReportMetric(float64(commitNanos.Load())/1e3/float64(max(st.CommitBatches, 1)), "µs/commit")
	ts := s.db.Stats().TxStats
	b.ReportMetric(float64(ts.GetWrite())/float64(max(st.CommitBatches, 1)), "pwrites/commit")
	// Of µs/commit: the page writes with their fdatasyncs, and the node spill (CPU).
	b.ReportMetric(float64(ts.GetWriteTime().Microseconds())/float64(max(st.CommitBatches, 1)), "writeµs/commit")
	b.ReportMetric(float64(ts.GetSpillTime().Microseconds())/float64(max(st.CommitBatches, 1)), "spillµs/commit")
}

// BenchmarkCallbackQueue: what queueing a delivery report for an HTTP callback costs the
// committer, the store's one writer that every SMPP submit waits on. 200 submitters store
// messages already final with a receipt (SubmitFinal, as the test-mode path does), each
// receipt acked after its commit (a token per submitter, as in BenchmarkLifecycle200); "callback" also queues a callback report in the same
// operation, and "callback+ack" acks those too, in batches of 64 as the sender does. No
// fsync: commit-µs/msg is then the committer's CPU per message (tx build, spill, page
// writes), the number to compare between the three.
//
//	go test -run '^$' -bench CallbackQueue -benchtime 100000x -count 5 ./internal/msgstore
func BenchmarkCallbackQueue(b *testing.B) {
	for _, mode := range []string{"receipt", "callback", "callback+ack"} {
		b.Run(mode, func(b *testing.B) { benchmarkCallbackQueue(b, mode) })
	}
}

func benchmarkCallbackQueue(b *testing.B, mode string) {
	var commitNanos atomic.Int64
	s := openTest(b, newPath(b), Options{NoSync: true, OnCommit: func(_ int, d time.Duration) { commitNanos.Add(int64(d)) }})
	acks := make(chan uint64, 1024)
	ackerDone := make(chan struct{})
	var acking sync.WaitGroup // ack writes not yet committed
	// The sender's part: ack delivered reports in batches.
	go func() {
		defer close(ackerDone)
		batch := make([]uint64, 0, 64)
		flush := func() {
			if len(batch) > 0 {
				acking.Add(1)
				s.AckCallbacks(batch, func(err error) {
					if err != nil {
						b.Error(err)
					}
					acking.Done()
				})
				batch = batch[:0]
			}
		}
		for seq := range acks {
			if batch = append(batch, seq); len(batch) == cap(batch) {
				flush()
			}
		}
		flush()
	}()
	if mode == "callback+ack" {
		s.SetCallbackHook(func(cbs []Callback) {
			for _, c := range cbs {
				acks <- c.Seq
			}
		})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for w := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := "tok_benchmark_" + strconv.Itoa(w) // each acks its own receipts
			ch := make(chan error, 1)
			for next.Add(1) <= int64(b.N) {
				m := benchMsg(s)
				m.TokenID = token
				t := Transition{State: pdu.StateDelivered, ErrCode: "000", Receipt: true, Final: true}
				if mode != "receipt" {
					t.Callback = "https://hooks.example.com/smppd/dlr"
				}
				s.SubmitFinal(m, t, func(err error) { ch <- err })
				if err := <-ch; err != nil {
					b.Error(err)
					return
				}
				rs, err := s.Receipts(token, 0, 1)
				if err != nil || len(rs) == 0 {
					b.Errorf("Receipts() = %d, %v", len(rs), err)
					return
				}
				s.AckReceipt(token, rs[0].Seq, func(err error) { ch <- err })
				if err := <-ch; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(acks)
	<-ackerDone
	acking.Wait() // their commits are part of the cost, and b.Error must not run after the benchmark
	b.StopTimer()
	want := 0
	if mode == "callback" {
		want = b.N // queued, never acked
	}
	if got := s.Stats().Callbacks; got != want {
		b.Fatalf("%d callbacks queued at the end, want %d", got, want)
	}
	b.ReportMetric(float64(commitNanos.Load())/1e3/float64(b.N), "commit-µs/msg")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
