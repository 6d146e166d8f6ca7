package callback

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
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
	b.ResetTimer()
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	for st.Stats().Callbacks > 0 {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if err := s.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	if got := obs.get(func(o *countObserver) int { return o.delivered }); got != b.N {
		b.Fatalf("delivered %d, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "callbacks/s")
}
