package callback

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor polls cond until it holds; the generous limit only catches a hang, it
// asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func openStore(t *testing.T, path string) *msgstore.Store {
	t.Helper()
	st, err := msgstore.Open(path, msgstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("msgstore.Open: %v", err)
	}
	return st
}

func newStore(t *testing.T) *msgstore.Store {
	t.Helper()
	st := openStore(t, filepath.Join(t.TempDir(), "msg.db"))
	t.Cleanup(func() { st.Close() })
	return st
}

func wait(t *testing.T, what string, op func(done func(error))) {
	t.Helper()
	errc := make(chan error, 1)
	op(func(err error) { errc <- err })
	if err := <-errc; err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var baseTime = time.Date(2026, 11, 30, 0, 41, 7, 123e6, time.UTC)

// enqueue stores a message of tokenID and moves it to state with a callback to url,
// the way the gateway does, and returns the message.
func enqueue(t *testing.T, st *msgstore.Store, tokenID, url string, mod func(*msgstore.Message)) msgstore.Message {
	t.Helper()
	m := msgstore.Message{
		ID:                 st.NextID(),
		TokenID:            tokenID,
		TestMode:           true,
		Source:             pdu.Address{TON: 5, NPI: 0, Addr: "SMPPD"},
		Dest:               pdu.Address{TON: 1, NPI: 1, Addr: "34600000001"},
		RegisteredDelivery: 1,
		Text:               []byte("hello"),
		SubmitAt:           baseTime,
		ExpireAt:           baseTime.Add(48 * time.Hour),
		State:              pdu.StateEnroute,
	}
	if mod != nil {
		mod(&m)
	}
	wait(t, "Submit", func(done func(error)) { st.Submit(&m, done) })
	wait(t, "Transition", func(done func(error)) {
		st.Transition(msgstore.Transition{ID: m.ID, State: pdu.StateDelivered, At: baseTime.Add(3 * time.Second), ErrCode: "000", Callback: url, Final: true}, done)
	})
	return m
}

// queued returns every callback still in the store, due or not.
func queued(t *testing.T, st *msgstore.Store) []msgstore.Callback {
	t.Helper()
	cbs, err := st.DueCallbacks(farFuture, 1<<20)
	if err != nil {
		t.Fatalf("DueCallbacks: %v", err)
	}
	return cbs
}

// tokenTable is a Tokens backed by a map, changeable while the sender runs.
type tokenTable struct {
	mu sync.Mutex
	m  map[string]Token
}

func newTokens(kv ...any) *tokenTable {
	tt := &tokenTable{m: map[string]Token{}}
	for i := 0; i < len(kv); i += 2 {
		tt.m[kv[i].(string)] = kv[i+1].(Token)
	}
	return tt
}

func (tt *tokenTable) set(id string, tok Token) {
	tt.mu.Lock()
	tt.m[id] = tok
	tt.mu.Unlock()
}

func (tt *tokenTable) CallbackToken(id string) (Token, error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tok, ok := tt.m[id]
	if !ok {
		return Token{}, ErrTokenNotFound
	}
	return tok, nil
}

// received is one event a test receiver saw, signature of its request already
// checked. A request carrying several events gives one received per event, sharing
// req (1-based request count), headerID, sigErr and body.
type received struct {
	event    Event
	req      int
	headerID string
	sigErr   error
	body     []byte
}

// receiver is an httptest server that records every request and answers with
// respond (nil: 204). respond may hijack the connection or block.
type receiver struct {
	*httptest.Server
	secret  func() string
	respond func(w http.ResponseWriter, r *http.Request, n int) // n: 1-based request count
	mu      sync.Mutex
	reqs    []received
	n       int            // requests
	ok      map[string]int // event id → 2xx answers written
}

func newReceiver(t *testing.T, secret string, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rv := &receiver{secret: func() string { return secret }, respond: respond, ok: map[string]int{}}
	rv.Server = httptest.NewServer(http.HandlerFunc(rv.serve))
	t.Cleanup(rv.Close)
	return rv
}

func (rv *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var rec received
	rec.body = body
	rec.headerID = r.Header.Get(EventIDHeader)
	rec.sigErr = Verify(rv.secret(), r.Header.Get(SignatureHeader), body, 0)
	var batch Batch
	if err := json.Unmarshal(body, &batch); err != nil || len(batch.Events) == 0 {
		rec.sigErr = fmt.Errorf("body %q: want {\"events\":[…]} with at least one event: %v", body, err)
		batch.Events = []Event{{}}
	}
	rv.mu.Lock()
	rv.n++
	n := rv.n
	rec.req = n
	for _, ev := range batch.Events {
		rec.event = ev
		rv.reqs = append(rv.reqs, rec)
	}
	rv.mu.Unlock()
	if rv.respond == nil {
		w.WriteHeader(http.StatusNoContent)
		rv.success(batch.Events)
		return
	}
	rw := &statusRecorder{ResponseWriter: w}
	rv.respond(rw, r, n)
	if rw.code >= 200 && rw.code < 300 || rw.code == 0 && !rw.hijacked && r.Context().Err() == nil {
		rv.success(batch.Events)
	}
}

func (rv *receiver) success(evs []Event) {
	rv.mu.Lock()
	for _, ev := range evs {
		rv.ok[ev.EventID]++
	}
	rv.mu.Unlock()
}

// requestCount returns how many requests the receiver has seen.
func (rv *receiver) requestCount() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.n
}

func (rv *receiver) requests() []received {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]received(nil), rv.reqs...)
}

func (rv *receiver) successes() map[string]int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	m := make(map[string]int, len(rv.ok))
	for k, v := range rv.ok {
		m[k] = v
	}
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	code     int
	hijacked bool
}

func (w *statusRecorder) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) hijackAndClose(t *testing.T) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		t.Errorf("ResponseWriter is not a Hijacker")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		t.Errorf("Hijack: %v", err)
		return
	}
	w.hijacked = true
	conn.Close()
}

// countObserver counts observer events.
type countObserver struct {
	mu        sync.Mutex
	attempts  map[Result]int
	retries   map[Result]int
	giveUps   map[GiveUpReason]int
	deferred  int
	delivered int
}

func newObserver() *countObserver {
	return &countObserver{attempts: map[Result]int{}, retries: map[Result]int{}, giveUps: map[GiveUpReason]int{}}
}

func (o *countObserver) CallbackAttempt(r Result, d time.Duration) {
	o.mu.Lock()
	o.attempts[r]++
	o.mu.Unlock()
}
func (o *countObserver) CallbackRetry(r Result) { o.mu.Lock(); o.retries[r]++; o.mu.Unlock() }
func (o *countObserver) CallbackDeferred()      { o.mu.Lock(); o.deferred++; o.mu.Unlock() }
func (o *countObserver) CallbackGiveUp(g GiveUpReason) {
	o.mu.Lock()
	o.giveUps[g]++
	o.mu.Unlock()
}
func (o *countObserver) CallbackDelivered(time.Duration) { o.mu.Lock(); o.delivered++; o.mu.Unlock() }

func (o *countObserver) get(f func(o *countObserver) int) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return f(o)
}

// noHook leaves the store's callback hook unset in start, so that a run of the
// package's tests (go test -args -nohook) covers the sender finding every callback
// by reading the store, as it does for whatever Offer could not take.
var noHook = flag.Bool("nohook", false, "do not offer new callbacks to the sender in memory")

// start starts s with test-friendly defaults and stops it at cleanup.
func start(t *testing.T, s *Sender) *Sender {
	t.Helper()
	if s.BaseBackoff == 0 {
		s.BaseBackoff = time.Millisecond
		s.MaxBackoff = 10 * time.Millisecond
	}
	// As `smppd serve` wires it: callbacks queued from now on are offered in memory
	// (those queued before are found by Start's first read).
	if st, ok := s.Store.(*msgstore.Store); ok && !*noHook {
		st.SetCallbackHook(s.Offer)
		t.Cleanup(func() { st.SetCallbackHook(nil) })
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	s.Notify()
	return s
}

// fakeClock is a settable scheduling clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
