package callback

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

// BenchmarkSender measures the sender end to end on one machine: b.N callbacks queued
// beforehand (not timed), then delivered to a local receiver answering 204 and acked
// in the store (fsync on), until the queue is empty. ns/op and allocs/op are the
// sender's CPU cost per callback (plus the receiver's), which is what it takes away
// from the SMPP path when both share cores.
//
//	go test -run '^$' -bench BenchmarkSender -benchtime 20000x ./internal/callback
func BenchmarkSender(b *testing.B) {
	for _, hosts := range []int{1, 8} {
		b.Run("hosts="+string(rune('0'+hosts)), func(b *testing.B) { benchmarkSender(b, hosts) })
	}
}

func benchmarkSender(b *testing.B, hosts int) {
	st, err := msgstore.Open(filepath.Join(b.TempDir(), "msg.db"), msgstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	toks := newTokens()
	for h := range hosts {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		toks.set("tok"+string(rune('a'+h)), Token{Name: "bench", URL: srv.URL, Secret: secretA})
	}
	var wg sync.WaitGroup
	for i := range b.N {
		id := "tok" + string(rune('a'+i%hosts))
		tok, _ := toks.CallbackToken(id)
		m := &msgstore.Message{ID: st.NextID(), TokenID: id, TestMode: true,
			Source: pdu.Address{Addr: "SMPPD"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "34600000001"},
			SubmitAt: time.Now(), ExpireAt: time.Now().Add(time.Hour), State: pdu.StateEnroute}
		wg.Add(1)
		st.SubmitFinal(m, msgstore.Transition{State: pdu.StateDelivered, At: time.Now(), ErrCode: "000", Callback: tok.URL, Final: true},
			func(err error) {
				if err != nil {
					b.Error(err)
				}
				wg.Done()
			})
	}
	wg.Wait()
	obs := newObserver()
	s := &Sender{Store: st, Tokens: toks, Observer: obs}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	waitDrained(b, st)
	b.StopTimer()
	if err := s.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	if got := obs.get(func(o *countObserver) int { return o.delivered }); got != b.N {
		b.Fatalf("delivered %d, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "callbacks/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/callback")
}

// cpuTime is the process's user+system CPU time so far: unlike wall-clock rates it
// hardly moves when other processes load the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSubmitPathWithCallbacks measures what callbacks cost the SMPP path's store
// work: 200 concurrent "sessions" each doing what the gateway does per test-mode
// message with registered_delivery (SubmitFinal with a receipt, read the receipt, ack
// it), fsync on, with callbacks off, and on (the same SubmitFinal also queues a
// callback; a running Sender delivers it to a local receiver and acks it in the same
// store). msgs/s is the submit path's rate; compare the two. Callbacks still queued
// when the timer stops are drained untimed and checked.
//
//	go test -run '^$' -bench SubmitPathWithCallbacks -benchtime 20000x -count 3 ./internal/callback
func BenchmarkSubmitPathWithCallbacks(b *testing.B) {
	b.Run("callbacks=off", func(b *testing.B) { benchmarkSubmitPath(b, false, 0) })
	// Queued but not sent (no sender running): the store cost of queueing alone.
	b.Run("callbacks=queued", func(b *testing.B) { benchmarkSubmitPath(b, true, -1) })
	b.Run("callbacks=on", func(b *testing.B) { benchmarkSubmitPath(b, true, 0) })
	// MaxRate bounds the sender's CPU share: the submit path keeps its rate and
	// the queue absorbs the difference (drained untimed afterwards).
	b.Run("callbacks=on,maxrate=1000", func(b *testing.B) { benchmarkSubmitPath(b, true, 1000) })
}

// benchmarkSubmitPath: maxRate < 0 queues callbacks with no sender running.
func benchmarkSubmitPath(b *testing.B, callbacks bool, maxRate float64) {
	st, err := msgstore.Open(filepath.Join(b.TempDir(), "msg.db"), msgstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rv.Close()
	const sessions = 200
	toks := newTokens()
	for w := range sessions {
		toks.set("tok_"+strconv.Itoa(w), Token{Name: "bench", URL: rv.URL, Secret: secretA})
	}
	obs := newObserver()
	var s *Sender
	if callbacks && maxRate >= 0 {
		s = &Sender{Store: st, Tokens: toks, Observer: obs, MaxRate: maxRate}
		st.SetCallbackHook(s.Offer) // as serve wires it
		if err := s.Start(); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for w := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := "tok_" + strconv.Itoa(w)
			ch := make(chan error, 1)
			for next.Add(1) <= int64(b.N) {
				now := time.Now()
				m := &msgstore.Message{ID: st.NextID(), TokenID: token, TestMode: true, RegisteredDelivery: 1,
					Source: pdu.Address{Addr: "SMPPD"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "34600000001"},
					Text: []byte("hello world"), SubmitAt: now, ExpireAt: now.Add(time.Hour), State: pdu.StateEnroute}
				tr := msgstore.Transition{State: pdu.StateDelivered, At: now, ErrCode: "000", Receipt: true, Final: true}
				if callbacks {
					tr.Callback = rv.URL
				}
				st.SubmitFinal(m, tr, func(err error) { ch <- err })
				if err := <-ch; err != nil {
					b.Error(err)
					return
				}
				rs, err := st.Receipts(token, 0, 1)
				if err != nil || len(rs) != 1 {
					b.Errorf("Receipts() = %v, %v", rs, err)
					return
				}
				st.AckReceipt(token, rs[0].Seq, func(err error) { ch <- err })
				if err := <-ch; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if s == nil {
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
		if callbacks && st.Stats().Callbacks != b.N {
			b.Fatalf("%d callbacks queued, want %d", st.Stats().Callbacks, b.N)
		}
		return
	}
	sent := obs.get(func(o *countObserver) int { return o.delivered })
	b.ReportMetric(float64(sent)/float64(b.N), "callbacks_done_in_time")
	waitDrained(b, st)
	// CPU including the callbacks drained after the timer: the whole cost of the
	// feature per message, the in-process receiver's share included.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
	b.ReportMetric(0, "ns/op") // wall time per message is msgs/s above; drained callbacks are not in it
	if err := s.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	if got := obs.get(func(o *countObserver) int { return o.delivered }); got != b.N {
		b.Fatalf("delivered %d callbacks, want %d", got, b.N)
	}
}

// waitDrained waits until st holds no callback. A queue that stops shrinking for a
// minute is a sender that lost track of reports: that fails the run rather than
// hanging it.
func waitDrained(b *testing.B, st *msgstore.Store) {
	b.Helper()
	for last, since := -1, time.Now(); ; time.Sleep(time.Millisecond) {
		left := st.Stats().Callbacks
		switch {
		case left == 0:
			return
		case last < 0 || left < last:
			last, since = left, time.Now()
		case time.Since(since) > time.Minute:
			b.Fatalf("%d callbacks still queued after a minute without progress", left)
		}
	}
}
