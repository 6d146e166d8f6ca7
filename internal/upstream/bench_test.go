package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/internal/responder"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/tokenstore"
)

// The client choice (issue 6): go-smpp, the client the user chose, against
// a client on smppd's own codec, both submitting to the same in-memory
// responder (internal/responder: answers ESME_ROK at once, one write per
// burst) over loopback at the same window. go-smpp's Submit is synchronous,
// so its window is filled by as many goroutines; ours is asynchronous with
// a window of outstanding requests and a write loop that coalesces.
//
//	go test -run '^$' -bench 'BenchmarkClient' -benchtime 200000x ./internal/upstream
func startResponder(b *testing.B) string {
	b.Helper()
	srv := &responder.Server{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	b.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, responder.ErrServerClosed) {
			b.Errorf("responder: %v", err)
		}
	})
	return l.Addr().String()
}

var benchWindows = []struct {
	name   string
	window int
}{{"window=10", 10}, {"window=100", 100}, {"window=1000", 1000}}

func BenchmarkClientOwn(b *testing.B) {
	for _, w := range benchWindows {
		b.Run(w.name, func(b *testing.B) {
			addr := startResponder(b)
			u := Upstream{Name: "bench", Address: addr, SystemID: "bench", Password: "pw", Window: w.window}
			cfg := Config{Upstreams: []Upstream{u}}
			cfg.SetDefaults()
			u = cfg.Upstreams[0]
			s, err := dialSession(context.Background(), &u, pdu.CmdBindTransmitter, func(h pdu.Header, p pdu.PDU, respond func(pdu.Status)) { respond(pdu.StatusOK) })
			if err != nil {
				b.Fatal(err)
			}
			defer func() { s.unbind(time.Second); s.wait() }()
			sm := &pdu.SubmitSM{
				Source: pdu.Address{TON: 5, Addr: "ACME"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"},
				ShortMessage: []byte("hello from the benchmark"),
			}
			var wg sync.WaitGroup
			var failed atomic.Int64
			done := func(h pdu.Header, _ pdu.PDU, err error) {
				if err != nil || h.Status != pdu.StatusOK {
					failed.Add(1)
				}
				wg.Done()
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if !s.acquire(context.Background()) {
					b.Fatal("session closed")
				}
				wg.Add(1)
				s.send(sm, true, done)
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d submits failed", n)
			}
		})
	}
}

func BenchmarkClientGoSMPP(b *testing.B) {
	for _, w := range benchWindows {
		b.Run(w.name, func(b *testing.B) {
			addr := startResponder(b)
			tx := &smpp.Transmitter{Addr: addr, User: "bench", Passwd: "pw", WindowSize: uint(w.window), RespTimeout: 10 * time.Second}
			conn := tx.Bind()
			if st := <-conn; st.Status() != smpp.Connected {
				b.Fatalf("bind: %v", st.Error())
			}
			defer tx.Close()
			var next atomic.Int64
			var failed atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for g := 0; g < w.window; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						_, err := tx.Submit(&smpp.ShortMessage{Src: "ACME", Dst: "447700900001", Text: pdutext.Raw("hello from the benchmark"),
							SourceAddrTON: 5, DestAddrTON: 1, DestAddrNPI: 1})
						if err != nil {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d submits failed", n)
			}
		})
	}
}

// BenchmarkConnectorDrain measures the whole forward path: N live messages
// waiting in a real (fsynced) store's outbox are submitted to the in-memory
// responder and each acceptance is committed (Store.Forwarded: the message
// leaves the outbox and its upstream id is mapped) — msgs/s until the outbox
// is empty.
//
//	go test -run '^$' -bench 'BenchmarkConnectorDrain' -benchtime 50000x ./internal/upstream
//
// The max_tps case shows the pacing: msgs/s should come out at the cap.
//
//	go test -run '^$' -bench 'BenchmarkConnectorDrain/.*max_tps' -benchtime 3000x ./internal/upstream
func BenchmarkConnectorDrain(b *testing.B) {
	for _, tc := range []struct {
		w   int
		tps float64
	}{{100, 0}, {1000, 0}, {100, 1000}} {
		w := tc.w
		name := fmt.Sprintf("window=%d", w)
		if tc.tps > 0 {
			name += fmt.Sprintf(",max_tps=%g", tc.tps)
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			store, err := msgstore.Open(filepath.Join(dir, "messages.db"), msgstore.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			tokens, err := tokenstore.Open(filepath.Join(dir, "tokens.db"), tokenstore.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer tokens.Close()
			gw := gateway.New(gateway.Config{Logger: slog.New(slog.DiscardHandler)}, tokens, store)
			body, _ := (&pdu.SubmitSM{Source: pdu.Address{TON: 5, Addr: "ACME"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"},
				ShortMessage: []byte("hello from the benchmark")}).AppendBody(nil)
			var wg sync.WaitGroup
			for i := 0; i < b.N; i++ {
				wg.Add(1)
				store.Submit(&msgstore.Message{ID: store.NextID(), TokenID: "tok", Dest: pdu.Address{Addr: "447700900001"}, Body: body,
					SubmitAt: time.Now(), ExpireAt: time.Now().Add(time.Hour), State: pdu.StateEnroute}, func(err error) {
					if err != nil {
						b.Error(err)
					}
					wg.Done()
				})
			}
			wg.Wait()
			c, err := New(Options{
				Config: Config{
					Upstreams: []Upstream{{Name: "r", Address: startResponder(b), SystemID: "bench", Window: w, MaxTPS: tc.tps}},
					Routes:    []Route{{Upstreams: []string{"r"}}},
				},
				Store: store, Reporter: gw, Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			c.Start()
			for store.Stats().Outbox > 0 {
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			st := store.Stats()
			b.ReportMetric(float64(st.CommittedOps)/float64(max(st.CommitBatches, 1)), "ops/commit")
			c.Stop(context.Background())
		})
	}
}
