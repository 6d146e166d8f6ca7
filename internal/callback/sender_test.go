package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

const secretA = "whsec_test_secret_a"

func TestDeliverSigned(t *testing.T) {
	st := newStore(t)
	rv := newReceiver(t, secretA, nil)
	obs := newObserver()
	toks := newTokens("tokA", Token{Name: "acme", URL: rv.URL + "/dlr", Secret: secretA})

	single := enqueue(t, st, "tokA", rv.URL+"/dlr", nil)
	multi := enqueue(t, st, "tokA", rv.URL+"/dlr", func(m *msgstore.Message) {
		m.TestMode = false
		m.Concat.Ref, m.Concat.Total, m.Concat.Part = 0x1234, 3, 2
	})
	start(t, &Sender{Store: st, Tokens: toks, Observer: obs,
		FormatMessageID: func(id uint64) string { return "m" + strconv.FormatUint(id, 10) }})

	waitFor(t, "both callbacks acked", func() bool { return len(rv.requests()) == 2 && len(queued(t, st)) == 0 })

	byMsg := map[string]received{}
	for _, r := range rv.requests() {
		if r.sigErr != nil {
			t.Errorf("Verify() = %v, want nil", r.sigErr)
		}
		if !slices.Contains(strings.Split(r.headerID, ","), r.event.EventID) {
			t.Errorf("%s = %q, does not list body event_id %q", EventIDHeader, r.headerID, r.event.EventID)
		}
		byMsg[r.event.MessageID] = r
	}
	want := Event{
		Type: EventType, Attempt: 1,
		MessageID: "m" + strconv.FormatUint(single.ID, 10), TokenID: "tokA", TokenName: "acme",
		Source: "SMPPD", Destination: "34600000001", Status: "DELIVRD", Final: true, ErrorCode: "000",
		SubmittedAt: "2026-11-30T00:41:07.123Z", DoneAt: "2026-11-30T00:41:10.123Z", TestMode: true,
	}
	got := byMsg[want.MessageID].event
	if diff := cmp.Diff(want, got, ignoreEventID); diff != "" {
		t.Errorf("single-part event mismatch (-want +got):\n%s", diff)
	}
	wantMulti := want
	wantMulti.MessageID = "m" + strconv.FormatUint(multi.ID, 10)
	wantMulti.TestMode = false
	wantMulti.Segment = &Segment{Ref: 0x1234, Total: 3, Part: 2}
	if diff := cmp.Diff(wantMulti, byMsg[wantMulti.MessageID].event, ignoreEventID); diff != "" {
		t.Errorf("multipart event mismatch (-want +got):\n%s", diff)
	}
	if a, b := byMsg[want.MessageID].event.EventID, byMsg[wantMulti.MessageID].event.EventID; a == b || a == "" {
		t.Errorf("event ids %q and %q: want distinct, non-empty", a, b)
	}
	waitFor(t, "observer", func() bool { return obs.get(func(o *countObserver) int { return o.delivered }) == 2 })
	// Both were due at once: one request (one Attempt) carries both, in queue order.
	if n := obs.get(func(o *countObserver) int { return o.attempts[ResultSuccess] }); n != 1 || rv.requestCount() != 1 {
		t.Errorf("Attempt(success) calls = %d, requests = %d, want 1 and 1", n, rv.requestCount())
	}
	if reqs := rv.requests(); reqs[0].event.EventID != reqs[0].headerID[:strings.IndexByte(reqs[0].headerID+",", ',')] {
		t.Errorf("%s = %q, want the body's event ids in body order", EventIDHeader, reqs[0].headerID)
	}
}

var ignoreEventID = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "EventID" }, cmp.Ignore())

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		first      func(t *testing.T, w *statusRecorder)
		wantResult Result
	}{
		{"500", func(t *testing.T, w *statusRecorder) { http.Error(w, "boom", http.StatusInternalServerError) }, ResultServerError},
		{"429 without Retry-After", func(t *testing.T, w *statusRecorder) { w.WriteHeader(http.StatusTooManyRequests) }, ResultThrottled},
		{"408", func(t *testing.T, w *statusRecorder) { w.WriteHeader(http.StatusRequestTimeout) }, ResultThrottled},
		{"dropped connection", func(t *testing.T, w *statusRecorder) { w.hijackAndClose(t) }, ResultNetwork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t)
			rv := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					tt.first(t, w.(*statusRecorder))
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			obs := newObserver()
			enqueue(t, st, "tokA", rv.URL, nil)
			start(t, &Sender{Store: st, Observer: obs, Tokens: newTokens("tokA", Token{Name: "acme", URL: rv.URL, Secret: secretA})})

			waitFor(t, "delivery after a retry", func() bool { return len(queued(t, st)) == 0 })
			reqs := rv.requests()
			if len(reqs) != 2 {
				t.Fatalf("receiver saw %d requests, want 2", len(reqs))
			}
			if reqs[0].event.EventID != reqs[1].event.EventID {
				t.Errorf("retry changed event_id: %q then %q", reqs[0].event.EventID, reqs[1].event.EventID)
			}
			if reqs[0].event.Attempt != 1 || reqs[1].event.Attempt != 2 {
				t.Errorf("attempts = %d, %d; want 1, 2", reqs[0].event.Attempt, reqs[1].event.Attempt)
			}
			for _, r := range reqs {
				if r.sigErr != nil {
					t.Errorf("Verify() = %v", r.sigErr)
				}
			}
			if got := obs.get(func(o *countObserver) int { return o.retries[tt.wantResult] }); got != 1 {
				t.Errorf("Retry(%v) calls = %d, want 1", tt.wantResult, got)
			}
			if got := rv.successes()[reqs[0].event.EventID]; got != 1 {
				t.Errorf("2xx answers for the event = %d, want 1", got)
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name  string
		value func(now time.Time) string
		code  int
	}{
		{"seconds", func(time.Time) string { return "120" }, http.StatusServiceUnavailable},
		{"http-date", func(now time.Time) string { return now.Add(120 * time.Second).UTC().Format(http.TimeFormat) }, http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The fake clock starts after the enqueue (the store stamps NextAttempt with
			// the wall clock), on a whole second so that an HTTP date is exact.
			clock := &fakeClock{t: time.Now().Add(2 * time.Second).Truncate(time.Second)}
			st := newStore(t)
			rv := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.value(clock.Now()))
					w.WriteHeader(tt.code)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			enqueue(t, st, "tokA", rv.URL, nil)
			// BaseBackoff is tiny: a retry before Retry-After would show up at once.
			s := start(t, &Sender{Store: st, Now: clock.Now, Tokens: newTokens("tokA", Token{URL: rv.URL, Secret: secretA})})

			waitFor(t, "the retry to be recorded", func() bool {
				q := queued(t, st)
				return len(q) == 1 && q[0].Attempts == 1 && s.Stats().InFlight == 0
			})
			q := queued(t, st)
			if want := clock.Now().Add(120 * time.Second); !q[0].NextAttempt.Equal(want) {
				t.Errorf("NextAttempt = %v, want %v (now + Retry-After)", q[0].NextAttempt, want)
			}
			s.Notify() // a scan before Retry-After elapsed must not send
			clock.Add(119 * time.Second)
			s.Notify()
			waitFor(t, "a scan", func() bool { return s.Stats().InFlight == 0 })
			if n := len(rv.requests()); n != 1 {
				t.Fatalf("requests before Retry-After elapsed = %d, want 1", n)
			}
			clock.Add(time.Second)
			s.Notify()
			waitFor(t, "delivery", func() bool { return len(queued(t, st)) == 0 })
			if n := len(rv.requests()); n != 2 {
				t.Errorf("requests = %d, want 2", n)
			}
		})
	}
}

func TestClientErrorGivesUp(t *testing.T) {
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request, n int)
	}{
		{"404", func(w http.ResponseWriter, r *http.Request, n int) {
			http.Error(w, "no such hook", http.StatusNotFound)
		}},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request, n int) {
			if r.URL.Path == "/moved" {
				w.WriteHeader(http.StatusOK) // following the redirect would "deliver" here
				return
			}
			http.Redirect(w, r, "/moved", http.StatusFound)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t)
			rv := newReceiver(t, secretA, tt.respond)
			obs := newObserver()
			enqueue(t, st, "tokA", rv.URL, nil)
			start(t, &Sender{Store: st, Observer: obs, MaxClientErrorAttempts: 3, Tokens: newTokens("tokA", Token{URL: rv.URL + "/hook", Secret: secretA})})

			waitFor(t, "give-up", func() bool { return obs.get(func(o *countObserver) int { return o.giveUps[GiveUpClientError] }) == 1 })
			waitFor(t, "queue empty", func() bool { return len(queued(t, st)) == 0 })
			if n := len(rv.requests()); n != 3 {
				t.Errorf("requests = %d, want 3", n)
			}
			if n := obs.get(func(o *countObserver) int { return o.retries[ResultClientError] }); n != 2 {
				t.Errorf("Retry(client_error) calls = %d, want 2", n)
			}
			failed, err := st.FailedCallbacks("tokA", 0)
			if err != nil || len(failed) != 1 || !strings.HasPrefix(failed[0].LastError, "client_error: HTTP 3") && !strings.HasPrefix(failed[0].LastError, "client_error: HTTP 4") {
				t.Errorf("FailedCallbacks() = %+v, %v; want one, recorded as a client_error with its status", failed, err)
			}
		})
	}
}

func TestRetryWindowExpires(t *testing.T) {
	clock := &fakeClock{t: time.Now().Add(time.Second)} // after the enqueue
	st := newStore(t)
	rv := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusBadGateway)
	})
	obs := newObserver()
	enqueue(t, st, "tokA", rv.URL, nil)
	s := start(t, &Sender{Store: st, Observer: obs, Now: clock.Now, RetryFor: time.Hour,
		BaseBackoff: time.Hour, MaxBackoff: time.Hour, // the retry lands at the window's end at the latest
		Tokens: newTokens("tokA", Token{URL: rv.URL, Secret: secretA})})

	waitFor(t, "first retry recorded", func() bool {
		q := queued(t, st)
		return len(q) == 1 && q[0].Attempts == 1 && s.Stats().InFlight == 0
	})
	clock.Add(2 * time.Hour)
	s.Notify()
	waitFor(t, "give-up", func() bool { return len(queued(t, st)) == 0 })
	if n := obs.get(func(o *countObserver) int { return o.giveUps[GiveUpExpired] }); n != 1 {
		t.Errorf("GiveUp(expired) calls = %d, want 1", n)
	}
	if n := len(rv.requests()); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

func TestTokenChanges(t *testing.T) {
	st := newStore(t)
	oldRV := newReceiver(t, secretA, nil)
	const rotated = "whsec_rotated"
	newRV := newReceiver(t, rotated, nil)
	obs := newObserver()
	toks := newTokens(
		"rotated", Token{URL: newRV.URL, Secret: rotated}, // URL and secret changed since enqueue
		"nourl", Token{Secret: secretA},
	)
	enqueue(t, st, "rotated", oldRV.URL, nil)
	enqueue(t, st, "gone", oldRV.URL, nil)
	enqueue(t, st, "nourl", oldRV.URL, nil)
	start(t, &Sender{Store: st, Observer: obs, Tokens: toks})

	waitFor(t, "all handled", func() bool { return len(queued(t, st)) == 0 })
	if n := len(oldRV.requests()); n != 0 {
		t.Errorf("old URL got %d requests, want 0", n)
	}
	reqs := newRV.requests()
	if len(reqs) != 1 || reqs[0].sigErr != nil {
		t.Fatalf("new URL requests = %d (first: %+v), want 1 signed with the rotated secret", len(reqs), reqs)
	}
	if err := Verify(secretA, "", reqs[0].body, 0); err == nil {
		t.Errorf("old secret verified a request signed after rotation")
	}
	for _, g := range []GiveUpReason{GiveUpNoToken, GiveUpNoURL} {
		if n := obs.get(func(o *countObserver) int { return o.giveUps[g] }); n != 1 {
			t.Errorf("GiveUp(%v) calls = %d, want 1", g, n)
		}
	}
}

// A receiver that accepts connections but never answers holds at most PerHost
// workers; another token's callbacks, queued behind its whole backlog, still go out,
// and the backlog is not rewritten.
func TestHungReceiverDoesNotStallOthers(t *testing.T) {
	// queued: the backlog is in the store when the sender starts. live: it is queued
	// while the sender runs, more than the sender holds in memory (4·BatchSize), so the
	// hand-over from memory must keep the fairness of store reads too.
	for _, live := range []bool{false, true} {
		t.Run(map[bool]string{false: "queued", true: "live"}[live], func(t *testing.T) { testHungReceiver(t, live) })
	}
}

func testHungReceiver(t *testing.T, live bool) {
	st := newStore(t)
	release := make(chan struct{})
	hung := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before hung.Close
	fast := newReceiver(t, secretA, nil)
	obs := newObserver()
	toks := newTokens("slow", Token{URL: hung.URL, Secret: secretA}, "fast", Token{URL: fast.URL, Secret: secretA})
	enqueueAll := func(s *Sender) {
		if !live { // the slow backlog first: it fills every scan window
			for range 30 {
				enqueue(t, st, "slow", hung.URL, nil)
			}
			for range 10 {
				enqueue(t, st, "fast", fast.URL, nil)
			}
			return
		}
		for i := range 110 { // traffic: a fast report after every ten slow ones
			if i%11 == 10 {
				enqueue(t, st, "fast", fast.URL, nil)
			} else {
				enqueue(t, st, "slow", hung.URL, nil)
			}
			if *noHook {
				s.Notify()
			}
		}
	}
	if !live {
		enqueueAll(nil)
	}
	s := start(t, &Sender{Store: st, Tokens: toks, Observer: obs, Workers: 4, PerHost: 2, BatchSize: 8,
		RequestTimeout: time.Minute, BaseBackoff: time.Minute, MaxBackoff: time.Hour})
	if live {
		enqueueAll(s)
	}

	waitFor(t, "the fast receiver to get all its callbacks", func() bool { return len(fast.successes()) == 10 })
	if n := hung.requestCount(); n > 2 {
		t.Errorf("hung receiver has %d requests in flight, want ≤ PerHost = 2", n)
	}
	// The hung receiver's backlog stays where it is: no write for any of it (neither a
	// deferral nor a failed attempt), which at SMPP rates took the store's committer
	// from the SMPP path. The fast reports were behind it in every read window (slow
	// first, BatchSize 8), so reads passed over it rather than stopping at it.
	slow := 0
	for _, cb := range queued(t, st) {
		if cb.TokenID != "slow" {
			continue
		}
		slow++
		if cb.Attempts != 0 || !cb.LastAttempt.IsZero() {
			t.Errorf("slow callback %d was rewritten (attempts %d): want it left queued as it was", cb.Seq, cb.Attempts)
		}
	}
	if want := map[bool]int{false: 30, true: 100}[live]; slow != want {
		t.Errorf("slow callbacks queued = %d, want all %d", slow, want)
	}
	if n := obs.get(func(o *countObserver) int { return o.deferred }); n != 0 {
		t.Errorf("%d callbacks deferred behind a hung receiver, want 0 (left in place)", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop() = %v, want DeadlineExceeded (hung requests cancelled)", err)
	}
}

// A receiver that hangs while its token's reports pile up, then recovers: its
// backlog, passed over by reads while its slots were busy, all arrives afterwards,
// each report with exactly one 2xx, and the other token's reports went out during
// the hang.
func TestHungReceiverRecovers(t *testing.T) {
	st := newStore(t)
	recovered := make(chan struct{})
	var recoverOnce sync.Once
	t.Cleanup(func() { recoverOnce.Do(func() { close(recovered) }) })
	flaky := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-recovered:
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done(): // the sender's timeout: no answer
		}
	})
	fast := newReceiver(t, secretA, nil)
	toks := newTokens("flaky", Token{URL: flaky.URL, Secret: secretA}, "fast", Token{URL: fast.URL, Secret: secretA})
	s := start(t, &Sender{Store: st, Tokens: toks, Workers: 4, PerHost: 2, BatchSize: 8, MaxBatch: 4,
		RequestTimeout: 100 * time.Millisecond, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	for i := range 120 { // more than the sender holds in memory (4·BatchSize)
		if i%12 == 11 {
			enqueue(t, st, "fast", fast.URL, nil)
		} else {
			enqueue(t, st, "flaky", flaky.URL, nil)
		}
		if *noHook {
			s.Notify()
		}
	}
	waitFor(t, "the fast token's 10 reports during the hang", func() bool { return len(fast.successes()) == 10 })
	time.Sleep(300 * time.Millisecond) // a few timeout rounds: slots free up and fill again
	recoverOnce.Do(func() { close(recovered) })
	waitFor(t, "the flaky token's backlog after it recovers", func() bool { return len(flaky.successes()) == 110 })
	waitFor(t, "the queue to drain", func() bool { return len(queued(t, st)) == 0 })
	for name, rv := range map[string]*receiver{"flaky": flaky, "fast": fast} {
		for id, n := range rv.successes() {
			if n != 1 {
				t.Errorf("%s: event %s answered 2xx %d times, want 1", name, id, n)
			}
		}
	}
}

// Stopping with callbacks pending and in flight, then reopening the store and
// starting again delivers every callback, each exactly once with a 2xx.
func TestRestartWithPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "msg.db")
	st := openStore(t, path)
	const n = 20
	release := make(chan struct{})
	phase2 := make(chan struct{})
	rv := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, k int) {
		select {
		case <-phase2:
			w.WriteHeader(http.StatusOK)
			return
		default:
		}
		if k <= 5 {
			w.WriteHeader(http.StatusOK)
			return
		}
		select { // hang until the first sender gives up on us
		case <-r.Context().Done():
		case <-release:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	t.Cleanup(func() { close(release) })
	toks := newTokens("tokA", Token{URL: rv.URL, Secret: secretA})
	for range n {
		enqueue(t, st, "tokA", rv.URL, nil)
	}
	obs := newObserver()
	// One report per request, so that the receiver's request count is a report count.
	s1 := &Sender{Store: st, Tokens: toks, Observer: obs, Workers: 4, PerHost: 4, MaxBatch: 1, RequestTimeout: time.Minute,
		BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	if err := s1.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "5 delivered and 4 hanging", func() bool {
		return obs.get(func(o *countObserver) int { return o.delivered }) == 5 && len(rv.requests()) == 9
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := s1.Stop(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop() = %v, want DeadlineExceeded", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	close(phase2)
	st = openStore(t, path)
	defer st.Close()
	if q := queued(t, st); len(q) != n-5 {
		t.Fatalf("after restart %d callbacks queued, want %d", len(q), n-5)
	}
	s2 := start(t, &Sender{Store: st, Tokens: toks})
	waitFor(t, "all delivered", func() bool { return len(queued(t, st)) == 0 })
	if err := s2.Stop(context.Background()); err != nil {
		t.Errorf("Stop() = %v", err)
	}
	ok := rv.successes()
	if len(ok) != n {
		t.Errorf("%d distinct events answered 2xx, want %d", len(ok), n)
	}
	for id, c := range ok {
		if c != 1 {
			t.Errorf("event %s answered 2xx %d times, want 1", id, c)
		}
	}
}

func TestStartStop(t *testing.T) {
	st := newStore(t)
	s := &Sender{Store: st, Tokens: newTokens()}
	s.Notify() // before Start: harmless
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start = %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start() = %v, want ErrStarted", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("Stop() = %v", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop() = %v", err)
	}
	s.Notify() // after Stop: harmless
	if err := (&Sender{}).Start(); err == nil {
		t.Errorf("Start without Store and Tokens succeeded")
	}
}

func TestMaxRate(t *testing.T) {
	st := newStore(t)
	rv := newReceiver(t, secretA, nil)
	for range 10 {
		enqueue(t, st, "tokA", rv.URL, nil)
	}
	start(t, &Sender{Store: st, MaxRate: 500, Tokens: newTokens("tokA", Token{URL: rv.URL, Secret: secretA})})
	waitFor(t, "all delivered under the rate cap", func() bool { return len(queued(t, st)) == 0 })
	if n := len(rv.successes()); n != 10 {
		t.Errorf("delivered %d distinct events, want 10", n)
	}
}

func TestTakeToken(t *testing.T) {
	s := &Sender{MaxRate: 100}
	s.rateAt, s.rateTokens = time.Now(), 0
	if wait := s.takeToken(); wait <= 0 || wait > 20*time.Millisecond {
		t.Errorf("empty bucket: takeToken() = %v, want a wait of about 10ms", wait)
	}
	s.rateAt = time.Now().Add(-time.Second) // a second's refill, capped at the burst of 10
	for i := range 10 {
		if wait := s.takeToken(); wait != 0 {
			t.Fatalf("take %d of a full bucket: wait %v, want 0", i, wait)
		}
	}
	if wait := s.takeToken(); wait == 0 {
		t.Errorf("11th take from a bucket of 10: no wait")
	}
	if wait := (&Sender{}).takeToken(); wait != 0 {
		t.Errorf("no MaxRate: wait %v, want 0", wait)
	}
}

// A receiver that works but is slower than its token's traffic: reads pass over its
// backlog while its slots are busy, so another token's callbacks queued behind it go
// out long before it drains; nothing is lost or sent twice on the way.
func TestSlowReceiverBacklogPassedOver(t *testing.T) {
	st := newStore(t)
	slow := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	fast := newReceiver(t, secretA, nil)
	obs := newObserver()
	toks := newTokens("slow", Token{URL: slow.URL, Secret: secretA}, "fast", Token{URL: fast.URL, Secret: secretA})
	for range 12 {
		enqueue(t, st, "slow", slow.URL, nil)
	}
	for range 3 {
		enqueue(t, st, "fast", fast.URL, nil)
	}
	// One report per request: a batch would take the slow token's whole window at once.
	s := &Sender{Store: st, Tokens: toks, Observer: obs, Workers: 4, PerHost: 1, BatchSize: 4, MaxBatch: 1,
		BaseBackoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	s.blockedWait, s.stallAfter = 10*time.Millisecond, time.Minute // progressing, never stalled
	start(t, s)

	waitFor(t, "the fast token's callbacks", func() bool { return len(fast.successes()) == 3 })
	if n := len(slow.successes()); n >= 12 {
		t.Errorf("the slow backlog (12 × 20ms, one at a time) drained before the 3 fast callbacks behind it went out")
	}
	waitFor(t, "everything delivered", func() bool { return len(queued(t, st)) == 0 })
	for name, rv := range map[string]*receiver{"slow": slow, "fast": fast} {
		for id, c := range rv.successes() {
			if c != 1 {
				t.Errorf("%s: event %s answered 2xx %d times, want 1", name, id, c)
			}
		}
	}
	if a, b := len(slow.successes()), len(fast.successes()); a != 12 || b != 3 {
		t.Errorf("delivered slow=%d fast=%d, want 12 and 3", a, b)
	}
	for _, r := range slow.requests() {
		if r.event.Attempt != 1 {
			t.Errorf("event %s attempt = %d, want 1: a push-back behind a working receiver is not an attempt", r.event.EventID, r.event.Attempt)
		}
	}
}

// Reports of one token due together go out MaxBatch at a time, one signed request per
// batch; a 2xx acks every report of the batch, a failure reschedules every one of them
// (Retry-After included) and leaves the other batches alone.
func TestBatches(t *testing.T) {
	st := newStore(t)
	rv := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	obs := newObserver()
	for range 7 {
		enqueue(t, st, "tokA", rv.URL, nil)
	}
	before := time.Now()
	// One worker: the batches are formed from the cache in queue order, one at a time.
	start(t, &Sender{Store: st, Observer: obs, Workers: 1, MaxBatch: 3, BaseBackoff: time.Millisecond,
		Tokens: newTokens("tokA", Token{URL: rv.URL, Secret: secretA})})

	waitFor(t, "4 delivered, 3 rescheduled", func() bool {
		return obs.get(func(o *countObserver) int { return o.delivered }) == 4 &&
			obs.get(func(o *countObserver) int { return o.retries[ResultServerError] }) == 3
	})
	waitFor(t, "acks written", func() bool { return len(queued(t, st)) == 3 })
	reqs := rv.requests()
	perReq := map[int][]string{}
	for _, r := range reqs {
		if r.sigErr != nil {
			t.Errorf("request %d: %v", r.req, r.sigErr)
		}
		perReq[r.req] = append(perReq[r.req], r.event.EventID)
	}
	if len(perReq) != 3 || len(reqs) != 7 {
		t.Fatalf("%d requests carrying %d events, want 3 carrying 7", len(perReq), len(reqs))
	}
	for n, ids := range perReq {
		if len(ids) > 3 {
			t.Errorf("request %d carried %d events, want ≤ MaxBatch = 3", n, len(ids))
		}
	}
	failed := map[string]bool{}
	for _, id := range perReq[1] {
		failed[id] = true
	}
	for _, cb := range queued(t, st) {
		id := EventID(cb.Receipt.MessageID, cb.Seq)
		if !failed[id] {
			t.Errorf("event %s still queued, but its batch was answered 2xx", id)
		}
		if cb.Attempts != 1 || cb.NextAttempt.Before(before.Add(time.Hour)) {
			t.Errorf("event %s: attempts %d, next %v; want 1 and Retry-After (1h) honoured", id, cb.Attempts, cb.NextAttempt)
		}
	}
	for id, c := range rv.successes() {
		if failed[id] || c != 1 {
			t.Errorf("event %s answered 2xx %d times (failed batch: %v), want once, outside the failed batch", id, c, failed[id])
		}
	}
	if a, n := obs.get(func(o *countObserver) int { return o.attempts[ResultSuccess] + o.attempts[ResultServerError] }), rv.requestCount(); a != n {
		t.Errorf("Attempt calls = %d, requests = %d: want one per request", a, n)
	}
}

// Callbacks queued while the sender runs reach it in memory (the store's callback
// hook), while store reads forced at random moments race those hand-overs, and a
// small BatchSize makes the sender leave overflow to the store: still every event is
// sent exactly once, through both the submit and the transition paths.
func TestOfferedExactlyOnce(t *testing.T) {
	st := newStore(t)
	rv := newReceiver(t, secretA, nil)
	s := start(t, &Sender{Store: st, Workers: 8, PerHost: 4, BatchSize: 4, MaxBatch: 3,
		Tokens: newTokens("tokA", Token{URL: rv.URL, Secret: secretA})})
	stop := make(chan struct{})
	reads := make(chan struct{})
	go func() { // a store read at any moment: as Notify, a due retry or a timer cause
		defer close(reads)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Microsecond):
				s.Notify()
			}
		}
	}()
	const writers, each = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if (w+i)%2 == 0 {
					enqueue(t, st, "tokA", rv.URL, nil) // Transition: queueReport
					continue
				}
				m := msgstore.Message{ID: st.NextID(), TokenID: "tokA", TestMode: true, RegisteredDelivery: 1,
					Dest: pdu.Address{Addr: "34600000001"}, SubmitAt: baseTime, ExpireAt: baseTime.Add(time.Hour)}
				wait(t, "SubmitFinal", func(done func(error)) {
					st.SubmitFinal(&m, msgstore.Transition{State: pdu.StateDelivered, Final: true, Receipt: i%3 == 0, Callback: rv.URL}, done)
				})
			}
		})
	}
	wg.Wait()
	waitFor(t, "every event answered 2xx", func() bool { return len(rv.successes()) == writers*each })
	waitFor(t, "the queue emptied", func() bool { return len(queued(t, st)) == 0 })
	close(stop)
	<-reads

	seen := map[string]int{}
	for _, r := range rv.requests() {
		if r.sigErr != nil {
			t.Errorf("request %d: %v", r.req, r.sigErr)
		}
		seen[r.event.EventID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s sent %d times, want once", id, n)
		}
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct events sent, want %d", len(seen), writers*each)
	}
}

// A batch takes along later entries of its token; when the pass then stops (every
// worker busy, or the MaxRate budget spent), those must not stay behind to be sent
// again after their batch is done. Two tokens interleaved, one worker: each batch
// takes entries from beyond the point where the pass stops.
func TestBatchedEntriesNotSentTwice(t *testing.T) {
	for _, rate := range []float64{0, 50} {
		t.Run(fmt.Sprintf("maxrate=%v", rate), func(t *testing.T) {
			st := newStore(t)
			rv := newReceiver(t, secretA, nil)
			for i := range 24 {
				tok := []string{"tokA", "tokB"}[i%2]
				enqueue(t, st, tok, rv.URL, nil)
			}
			start(t, &Sender{Store: st, Workers: 1, MaxBatch: 2, MaxRate: rate,
				Tokens: newTokens("tokA", Token{URL: rv.URL, Secret: secretA}, "tokB", Token{URL: rv.URL, Secret: secretA})})
			waitFor(t, "the queue to empty", func() bool { return len(queued(t, st)) == 0 })
			time.Sleep(50 * time.Millisecond) // a second send would come within a few passes
			seen := map[string]int{}
			for _, r := range rv.requests() {
				seen[r.event.EventID]++
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("event %s sent %d times, want once", id, n)
				}
			}
			if len(seen) != 24 {
				t.Errorf("%d events sent, want 24", len(seen))
			}
		})
	}
}

// Many tokens whose callback URLs share one receiver host, which stays full: store
// reads pass over its reports (noted, for readBehind), readBehind reads them back into
// the cache, the host fills up again, and a store read comes. Reports readBehind had
// cached below where that read started were dropped unseen, and stayed queued until
// a restart (found by BenchmarkSubmitPathWithCallbacks/callbacks=on, which never ended).
func TestManyTokensOneHostAllDelivered(t *testing.T) {
	st := newStore(t)
	rv := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(time.Millisecond) // keeps the host's slots busy
		w.WriteHeader(http.StatusNoContent)
	})
	const writers, each = 40, 25
	toks := newTokens()
	for w := range writers {
		toks.set("tok"+strconv.Itoa(w), Token{Name: "bench", URL: rv.URL, Secret: secretA})
	}
	start(t, &Sender{Store: st, Workers: 8, PerHost: 2, BatchSize: 16, MaxBatch: 4, Tokens: toks})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range each {
				m := msgstore.Message{ID: st.NextID(), TokenID: "tok" + strconv.Itoa(w), TestMode: true,
					Dest: pdu.Address{Addr: "34600000001"}, SubmitAt: baseTime, ExpireAt: baseTime.Add(time.Hour)}
				wait(t, "SubmitFinal", func(done func(error)) {
					st.SubmitFinal(&m, msgstore.Transition{State: pdu.StateDelivered, Final: true, Callback: rv.URL}, done)
				})
			}
		})
	}
	wg.Wait()
	waitFor(t, "every event answered 2xx", func() bool { return len(rv.successes()) == writers*each })
	waitFor(t, "the queue emptied", func() bool { return len(queued(t, st)) == 0 })
}

// The PollInterval read of an idle sender starts from the head of the queues, so a
// report the sender lost track of (a read position moved past it by a bug, as the
// one TestManyTokensOneHostAllDelivered guards against) goes out within a poll
// instead of waiting for a restart, and the sender says so in its log.
func TestPollFindsLostReports(t *testing.T) {
	st := newStore(t)
	rv := newReceiver(t, secretA, nil)
	var logs bytes.Buffer
	var logMu sync.Mutex
	s := start(t, &Sender{Store: st, PollInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil)),
		Tokens: newTokens("tokA", Token{URL: rv.URL, Secret: secretA})})
	st.SetCallbackHook(nil) // reads alone find it
	s.mu.Lock()
	s.newFrom = 1 << 40 // lost track: reads start past everything
	s.mu.Unlock()
	ev := enqueue(t, st, "tokA", rv.URL, nil)
	s.Notify()
	waitFor(t, "the lost report delivered", func() bool { return len(rv.successes()) == 1 })
	waitFor(t, "the queue emptied", func() bool { return len(queued(t, st)) == 0 })
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "lost track") {
		t.Errorf("log %q does not report the lost report of message %d", logs.String(), ev.ID)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
