package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/responder"
	"github.com/smppd/smppd/pdu"
)

// startResponder serves srv on 127.0.0.1:0 for the test's lifetime.
func startResponder(t *testing.T, srv *responder.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, responder.ErrServerClosed) {
			t.Errorf("Serve() = %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

func TestRunCountedClosedLoop(t *testing.T) {
	tests := []struct {
		name     string
		srv      func(t *testing.T) *responder.Server
		opts     Options
		receipts bool
	}{
		{name: "memory 1x1", srv: memResponder, opts: Options{Binds: 1, Window: 1, Count: 50}},
		{name: "memory 3x20", srv: memResponder, opts: Options{Binds: 3, Window: 20, Count: 600}},
		{name: "receipts 2x10", srv: receiptResponder, opts: Options{Binds: 2, Window: 10, Count: 300, RegisteredDelivery: true}, receipts: true},
		{name: "bbolt receipts 2x10", srv: dbResponder, opts: Options{Binds: 2, Window: 10, Count: 300, RegisteredDelivery: true}, receipts: true},
		{name: "ucs2 payload", srv: memResponder, opts: Options{Binds: 1, Window: 4, Count: 20, Coding: "ucs2", Size: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.srv(t)
			o := tt.opts
			o.Addr = startResponder(t, srv)
			o.SystemID, o.Password = "bench", "secret"
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			n := uint64(o.Count)
			if res.Sent != n || res.Acked != n || res.ErrorCount() != 0 || res.Unanswered != 0 || res.Stray != 0 {
				t.Errorf("sent %d acked %d errors %v unanswered %d stray %d; want %d, %d, none, 0, 0",
					res.Sent, res.Acked, res.Errors, res.Unanswered, res.Stray, n, n)
			}
			if res.Latency.Count() != n {
				t.Errorf("latency histogram has %d values, want %d", res.Latency.Count(), n)
			}
			if got, _ := srv.Stats(); got != n {
				t.Errorf("responder accepted %d submit_sm, want %d", got, n)
			}
			if tt.receipts {
				if res.Receipts != n || res.ReceiptsMissing != 0 || res.ReceiptsUnmatched != 0 || res.ReceiptLatency.Count() != n {
					t.Errorf("receipts %d missing %d unmatched %d (histogram %d); want %d, 0, 0",
						res.Receipts, res.ReceiptsMissing, res.ReceiptsUnmatched, res.ReceiptLatency.Count(), n)
				}
			}
			if len(res.SessionErrors) != 0 {
				t.Errorf("session errors: %v", res.SessionErrors)
			}
		})
	}
}

func memResponder(*testing.T) *responder.Server { return &responder.Server{} }

func receiptResponder(*testing.T) *responder.Server { return &responder.Server{Receipts: true} }

func dbResponder(t *testing.T) *responder.Server {
	db, err := responder.OpenDB(filepath.Join(t.TempDir(), "responder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // runs after the server's Close
	return &responder.Server{Receipts: true, DB: db}
}

func TestRunOpenLoopSendsExactlyTheSchedule(t *testing.T) {
	// 200/s for one second over two binds: 200 messages are due before the
	// end, however late the machine runs them.
	addr := startResponder(t, &responder.Server{})
	res, err := Run(context.Background(), Options{Addr: addr, Binds: 2, Window: 5, Rate: 200, Duration: time.Second})
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if res.Sent != 200 || res.Acked != 200 {
		t.Errorf("sent %d acked %d, want 200 and 200", res.Sent, res.Acked)
	}
	if res.Mode != "open 200/s" {
		t.Errorf("Mode = %q, want %q", res.Mode, "open 200/s")
	}
}

// slowServer binds anything and answers each submit_sm only after delay,
// one at a time: a server that stalls.
func slowServer(t *testing.T, delay time.Duration, bindStatus pdu.Status) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			wg.Go(func() {
				rd := pdu.NewReader(bufio.NewReader(c), 0)
				for {
					h, _, err := rd.ReadFrame()
					if err != nil {
						return
					}
					var out []byte
					switch h.ID {
					case pdu.CmdBindTransceiver, pdu.CmdBindTransmitter:
						out, _ = pdu.Append(nil, h.Seq, bindStatus, &pdu.BindResp{Cmd: h.ID.Response(), SystemID: "slow"})
					case pdu.CmdSubmitSM:
						time.Sleep(delay)
						out, _ = pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.SubmitSMResp{MessageID: "1"})
					case pdu.CmdUnbind:
						out, _ = pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.UnbindResp{})
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			})
		}
	})
	return l.Addr().String()
}

func TestRunOpenLoopChargesStallsToLatency(t *testing.T) {
	// Offered 1000/s, but the server takes at least 10 ms per message and
	// the window is 1: message k is due at k ms and cannot leave before
	// k×10 ms, so the last of 20 waits at least 171 ms. A generator that
	// measured from the actual send (coordinated omission) would report
	// about 10 ms.
	addr := slowServer(t, 10*time.Millisecond, pdu.StatusOK)
	res, err := Run(context.Background(), Options{Addr: addr, Window: 1, Rate: 1000, Count: 20, Duration: time.Hour})
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if res.Acked != 20 {
		t.Fatalf("acked %d, want 20", res.Acked)
	}
	if got := res.Latency.Max(); got < 171*time.Millisecond {
		t.Errorf("max latency %v, want at least 171ms: the wait for the window is missing", got)
	}
}

func TestRunBindRefused(t *testing.T) {
	addr := slowServer(t, 0, pdu.StatusInvPaswd)
	_, err := Run(context.Background(), Options{Addr: addr, Binds: 2, Count: 1, SystemID: "x", Password: "wrong"})
	if !errors.Is(err, ErrBindFailed) || !strings.Contains(err.Error(), "ESME_RINVPASWD") {
		t.Errorf("Run() error = %v, want ErrBindFailed naming ESME_RINVPASWD", err)
	}
}

func TestRunInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"no address", Options{}},
		{"window too big", Options{Addr: "x:1", Window: maxWindow + 1}},
		{"bad coding", Options{Addr: "x:1", Coding: "ebcdic"}},
		{"gsm7 refuses non-GSM text", Options{Addr: "x:1", Text: "日本"}},
		{"latin1 refuses non-Latin-1 text", Options{Addr: "x:1", Coding: "latin1", Text: "€"}},
		{"warmup eats the run", Options{Addr: "x:1", Duration: time.Second, Warmup: time.Second}},
		{"long destination", Options{Addr: "x:1", Dest: strings.Repeat("1", 21)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tt.o); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("Run() error = %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestRunTimedWithProgressAndOutputs(t *testing.T) {
	addr := startResponder(t, &responder.Server{Receipts: true})
	var progress bytes.Buffer
	res, err := Run(context.Background(), Options{
		Addr: addr, Binds: 2, Window: 4, Rate: 500, Duration: 2 * time.Second, Warmup: time.Second,
		RegisteredDelivery: true, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	// Totals start at the end of the warmup, so up to a window per bind of
	// messages straddle the boundary.
	const straddle = 2 * 4
	if res.Sent == 0 || absDiff(res.Acked, res.Sent) > straddle || absDiff(res.Receipts, res.Acked) > straddle {
		t.Errorf("sent %d acked %d receipts %d: want non-zero and within %d of each other", res.Sent, res.Acked, res.Receipts, straddle)
	}
	if res.Unanswered != 0 || res.ReceiptsMissing != 0 {
		t.Errorf("unanswered %d, receipts missing %d; want 0", res.Unanswered, res.ReceiptsMissing)
	}
	if res.Sent >= 1000 {
		t.Errorf("sent %d after a 1 s warmup of a 2 s run at 500/s, want fewer than all 1000", res.Sent)
	}
	if !strings.Contains(progress.String(), "submits") {
		t.Errorf("progress output %q has no per-second line", progress.String())
	}
	var warm, measured int
	for _, s := range res.Series {
		if s.Warmup {
			warm++
		} else {
			measured++
		}
	}
	if warm == 0 || measured == 0 {
		t.Errorf("series has %d warmup and %d measured seconds, want both", warm, measured)
	}

	var csvOut, svg, js bytes.Buffer
	if err := res.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(csvOut.String(), "\n"); lines != len(res.Series)+1 {
		t.Errorf("CSV has %d lines, want header + %d", lines, len(res.Series))
	}
	if err := res.WritePlot(&svg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "</svg>", "<polyline", "receipts/s", "warmup"} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("plot lacks %q", want)
		}
	}
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"sent"`, `"acked"`, `"errors"`, `"duration_s"`, `"msgs_per_s"`, `"receipts"`,
		`"receipts_per_s"`, `"latency_us"`, `"receipt_latency_us"`, `"p50"`, `"p90"`, `"p99"`, `"p999"`, `"max"`} {
		if !strings.Contains(js.String(), key) {
			t.Errorf("JSON lacks key %s", key)
		}
	}
}

func TestRunCancelStopsClosedLoop(t *testing.T) {
	addr := startResponder(t, &responder.Server{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	res, err := Run(ctx, Options{Addr: addr, Window: 8, Duration: time.Hour})
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if res.Acked != res.Sent || res.Unanswered != 0 {
		t.Errorf("after cancel: sent %d acked %d unanswered %d, want all answered", res.Sent, res.Acked, res.Unanswered)
	}
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestRunIdleHoldsSessionsBound(t *testing.T) {
	addr := startResponder(t, &responder.Server{})
	res, err := Run(context.Background(), Options{Addr: addr, Binds: 40, Idle: true, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if res.Sent != 0 || res.Mode != "idle" || res.BindDuration <= 0 || len(res.SessionErrors) != 0 {
		t.Errorf("idle run: sent %d, mode %q, bind time %v, session errors %v; want 0, idle, > 0, none",
			res.Sent, res.Mode, res.BindDuration, res.SessionErrors)
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func TestRunEndsWhenServerStopsReading(t *testing.T) {
	// The server binds the session and then never reads again: the
	// generator's writes block once the socket buffers fill (1,000 messages
	// of 60 kB each). The run must still end after its drain, counting the
	// outstanding submits and the failed session.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		rd := pdu.NewReader(bufio.NewReader(c), 0)
		h, _, err := rd.ReadFrame()
		if err != nil {
			return
		}
		b, _ := pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.BindResp{Cmd: h.ID.Response(), SystemID: "deaf"})
		c.Write(b)
		<-t.Context().Done() // hold the connection open, unread
	})
	res, err := Run(t.Context(), Options{Addr: l.Addr().String(), Window: 1000, Size: 60000, Coding: "latin1",
		Duration: 200 * time.Millisecond, Drain: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if res.Acked != 0 || res.Unanswered == 0 || len(res.SessionErrors) == 0 {
		t.Errorf("acked %d unanswered %d session errors %v; want 0, > 0, a write error", res.Acked, res.Unanswered, res.SessionErrors)
	}
}
