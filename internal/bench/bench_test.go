package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/smppd/smppd/internal/responder"
)

// BenchmarkRun drives the in-repo responder over loopback with b.N messages:
// ns/op is wall time per acknowledged submit_sm for generator and responder
// together, on however many cores the machine has. For the figures in
// BENCHMARKS.md use scripts/bench-matrix.sh, which runs them as separate
// processes and reports each one's CPU.
func BenchmarkRun(b *testing.B) {
	for _, bc := range []struct {
		binds, window int
		receipts      bool
	}{
		{1, 10, false},
		{4, 50, false},
		{4, 50, true},
	} {
		b.Run(fmt.Sprintf("%dx%d receipts=%v", bc.binds, bc.window, bc.receipts), func(b *testing.B) {
			l := startBenchListener(b, &responder.Server{Receipts: bc.receipts})
			b.ResetTimer()
			res, err := Run(context.Background(), Options{
				Addr: l, Binds: bc.binds, Window: bc.window, Count: int64(b.N), RegisteredDelivery: bc.receipts,
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if res.Acked != uint64(b.N) {
				b.Fatalf("acked %d of %d", res.Acked, b.N)
			}
			b.ReportMetric(res.MsgsPerSecond(), "msgs/s")
			b.ReportMetric(float64(res.CPUPerMessage().Nanoseconds()), "proc-cpu-ns/msg") // generator + responder: one process
		})
	}
}

func startBenchListener(b *testing.B, srv *responder.Server) string {
	b.Helper()
	l, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	b.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}
