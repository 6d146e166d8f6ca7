package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/responder"
)

func startBenchResponder(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &responder.Server{Receipts: true}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

func TestBenchCommandWritesJSONCSVAndPlot(t *testing.T) {
	addr := startBenchResponder(t)
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"bench", "--addr", addr, "--system-id", "t", "--password", "p",
		"--binds", "2", "--window", "5", "--count", "100", "--registered-delivery",
		"--output", "json", "--csv", filepath.Join(dir, "s.csv"), "--plot", filepath.Join(dir, "p.html")})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("bench: %v (stderr %q)", err, stderr.String())
	}
	var got struct {
		Sent, Acked, Receipts uint64
		Errors                map[string]uint64
		Latency               map[string]float64 `json:"latency_us"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if got.Sent != 100 || got.Acked != 100 || got.Receipts != 100 || len(got.Errors) != 0 || got.Latency["p99"] <= 0 {
		t.Errorf("JSON = %+v, want 100 sent, acked and receipted, no errors, a p99", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "s.csv")); err != nil || !strings.HasPrefix(string(b), "t_s,warmup,submits") {
		t.Errorf("CSV: %v, %.40q", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "p.html")); err != nil || !strings.Contains(string(b), "<svg") || !strings.HasPrefix(string(b), "<!doctype html>") {
		t.Errorf("HTML plot: %v, %.40q", err, b)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr is not a terminal, yet got progress %q", stderr.String())
	}
}

func TestBenchCommandUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--output", "yaml"},
		{"bench", "--coding", "ebcdic"},
		{"bench", "--window", "0", "--binds", "-1"},
	} {
		root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
		root.SetArgs(args)
		var ue *usageError
		if err := root.ExecuteContext(context.Background()); !errors.As(err, &ue) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBenchResponderCommand(t *testing.T) {
	var stdout syncBuffer
	root := newRootCmd(&stdout, &bytes.Buffer{})
	root.SetArgs([]string{"bench", "responder", "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "r.db")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); {
		if line, ok := strings.CutPrefix(stdout.String(), "responder listening on "); ok {
			addr = strings.TrimSpace(strings.SplitN(line, "\n", 2)[0])
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("no listening line in %q", stdout.String())
	}
	bench := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	bench.SetArgs([]string{"bench", "--addr", addr, "--count", "20"})
	if err := bench.ExecuteContext(context.Background()); err != nil {
		t.Errorf("bench against the responder command: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("responder command returned %v after cancel", err)
	}
	if !strings.Contains(stdout.String(), "answered 20 submit_sm") {
		t.Errorf("responder summary missing from %q", stdout.String())
	}
}
