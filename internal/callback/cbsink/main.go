// Command cbsink is a callback receiver for manual tests and measurements: it checks
// every request's Smppd-Signature, counts events (valid, bad signature, duplicate
// event_id) and prints one line per second and a summary on exit.
//
//	go run ./internal/callback/cbsink -listen 127.0.0.1:8080 -secret whsec_…
//
// -status and -delay make it a failing or slow receiver (retry and backoff by hand);
// -count-only makes it nearly free, for measuring smppd with the receiver on the same
// machine (it then checks nothing: measure correctness without it).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smppd/smppd/internal/callback"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "`host:port` to listen on")
	secret := flag.String("secret", os.Getenv("SMPPD_CALLBACK_SECRET"), "the token's callback secret (whsec_…); env SMPPD_CALLBACK_SECRET")
	status := flag.Int("status", http.StatusNoContent, "HTTP status to answer")
	delay := flag.Duration("delay", 0, "wait this long before answering")
	verbose := flag.Bool("v", false, "print every event body")
	countOnly := flag.Bool("count-only", false, "only count events, checking no signature and decoding no JSON: to measure the sender rather than the receiver sharing its CPU")
	flag.Parse()
	if *secret == "" {
		log.Fatal("cbsink: -secret is required")
	}

	var valid, invalid, dups atomic.Int64
	var mu sync.Mutex
	seen := map[string]struct{}{}
	// Count-only bodies are read into reused buffers: io.ReadAll's growing copies
	// were most of this receiver's CPU, which it shares with the smppd it measures.
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *countOnly {
			buf := bufs.Get().(*bytes.Buffer)
			defer bufs.Put(buf)
			buf.Reset()
			if _, err := buf.ReadFrom(io.LimitReader(r.Body, 1<<20)); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			valid.Add(int64(bytes.Count(buf.Bytes(), []byte(`"event_id":`))))
			w.WriteHeader(*status)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := callback.Verify(*secret, r.Header.Get(callback.SignatureHeader), body, 0); err != nil {
			invalid.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var batch callback.Batch
		if err := json.Unmarshal(body, &batch); err != nil || len(batch.Events) == 0 {
			http.Error(w, "want {\"events\":[…]}", http.StatusBadRequest)
			return
		}
		valid.Add(int64(len(batch.Events)))
		mu.Lock()
		for _, ev := range batch.Events {
			if _, dup := seen[ev.EventID]; dup {
				dups.Add(1)
			}
			seen[ev.EventID] = struct{}{}
		}
		mu.Unlock()
		if *verbose {
			fmt.Printf("%s\n", body)
		}
		if *delay > 0 {
			select {
			case <-time.After(*delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(*status)
	})

	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				v := valid.Load()
				fmt.Fprintf(os.Stderr, "cbsink: %d/s valid=%d bad_signature=%d duplicate=%d\n", v-last, v, invalid.Load(), dups.Load())
				last = v
			}
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "cbsink: listening on %s\n", *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	fmt.Printf("valid=%d bad_signature=%d duplicate=%d distinct=%d\n", valid.Load(), invalid.Load(), dups.Load(), valid.Load()-dups.Load())
}
