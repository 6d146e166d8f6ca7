package callback

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

var (
	stressRounds = flag.Int("stress", 4, "TestSenderStress: random configurations to run")
	stressSeed   = flag.Uint64("stress-seed", 0, "TestSenderStress: first seed (0: from the clock)")
)

// TestSenderStress runs the sender through random configurations (limits, batch
// sizes, fairness thresholds, request rate caps, with and without the in-memory
// hand-over) against receivers that answer at once, slowly, with 500s now and then,
// or not until every report is queued, while many tokens queue reports through both
// store paths and store reads are forced at random. With the safety-net poll out of
// reach, a report the sender loses track of shows up as a hang; every report must be
// answered 2xx, once but for the attempts whose answer the sender did not get
// (timeouts), and the sender must never report finding a lost one. Seeds are logged;
// more rounds: go test -run TestSenderStress ./internal/callback -args -stress 500
// (and -stress-seed N to start from a logged seed).
func TestSenderStress(t *testing.T) {
	seed := *stressSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	for i := range *stressRounds {
		t.Run(strconv.Itoa(i), func(t *testing.T) { stressOnce(t, seed+uint64(i)) })
	}
}

func stressOnce(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	var mu sync.Mutex
	reqs := 0
	fast := newReceiver(t, secretA, nil)
	slow := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(time.Duration(1+n%4) * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	flaky := newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		reqs++
		fail := reqs%5 == 0
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	rvs := []*receiver{fast, slow, flaky}
	// One that hangs until every report is queued (requests time out meanwhile, or
	// wait), then recovers: stalled hosts, passed-over backlogs, readBehind.
	release := make(chan struct{})
	released := sync.OnceFunc(func() { close(release) })
	defer released()
	hangs := rng.IntN(2) == 0
	if hangs {
		rvs = append(rvs, newReceiver(t, secretA, func(w http.ResponseWriter, r *http.Request, n int) {
			select {
			case <-release:
				w.WriteHeader(http.StatusNoContent)
			case <-r.Context().Done():
			}
		}))
	}
	tokens := 3 + rng.IntN(20)
	toks := newTokens()
	urlOf := make([]string, tokens)
	for i := range tokens {
		urlOf[i] = rvs[i%len(rvs)].URL + "/t" + strconv.Itoa(i)
		toks.set("tok"+strconv.Itoa(i), Token{Name: "stress", URL: urlOf[i], Secret: secretA})
	}
	st := newStore(t)
	var logs bytes.Buffer
	var logMu sync.Mutex
	obs := newObserver()
	workers := 1 + rng.IntN(8)
	s := &Sender{Store: st, Tokens: toks, Workers: workers, PerHost: 1 + rng.IntN(workers),
		BatchSize: 1 + rng.IntN(16), MaxBatch: 1 + rng.IntN(5), PollInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil)), Observer: obs}
	if hangs {
		s.RequestTimeout = time.Duration(20+rng.IntN(500)) * time.Millisecond
	}
	if rng.IntN(4) == 0 {
		s.MaxRate = float64(300 + rng.IntN(3000)) // passes stopped by the cap
	}
	s.stallAfter = time.Duration(5+rng.IntN(50)) * time.Millisecond
	s.blockedWait = time.Duration(5+rng.IntN(50)) * time.Millisecond
	t.Logf("tokens %d, workers %d, per host %d, batch size %d, max batch %d, max rate %v, stall after %v, blocked wait %v, hung receiver %v (timeout %v)",
		tokens, s.Workers, s.PerHost, s.BatchSize, s.MaxBatch, s.MaxRate, s.stallAfter, s.blockedWait, hangs, s.RequestTimeout)
	start(t, s)
	if rng.IntN(3) == 0 {
		st.SetCallbackHook(nil) // reads alone
		t.Log("no hand-over")
	}
	stop := make(chan struct{})
	reads := make(chan struct{})
	readEvery := time.Duration(50+rng.IntN(2000)) * time.Microsecond
	go func() {
		defer close(reads)
		for {
			select {
			case <-stop:
				return
			case <-time.After(readEvery):
				s.Notify()
			}
		}
	}()
	const each = 30
	var wg sync.WaitGroup
	for w := range tokens {
		wg.Go(func() {
			for i := range each {
				tok := "tok" + strconv.Itoa(w)
				if i%3 == 0 {
					enqueue(t, st, tok, urlOf[w], nil)
					continue
				}
				m := msgstore.Message{ID: st.NextID(), TokenID: tok, TestMode: true,
					Dest: pdu.Address{Addr: "34600000001"}, SubmitAt: baseTime, ExpireAt: baseTime.Add(time.Hour)}
				wait(t, "SubmitFinal", func(done func(error)) {
					st.SubmitFinal(&m, msgstore.Transition{State: pdu.StateDelivered, Final: true, Callback: urlOf[w]}, done)
				})
			}
		})
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	released()
	total := func() int {
		n := 0
		for _, rv := range rvs {
			n += len(rv.successes())
		}
		return n
	}
	for deadline := time.Now().Add(20 * time.Second); total() != tokens*each; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for every report answered 2xx (%d of %d)\n%s", total(), tokens*each, senderState(s, st))
		}
	}
	waitFor(t, "the queue emptied", func() bool { return len(queued(t, st)) == 0 })
	close(stop)
	<-reads
	// Exactly once, but for what an attempt the receiver answered 2xx and the sender
	// saw fail (a timeout, the connection lost on the way back) sends again: at least
	// once is the contract (receivers dedupe on event_id), and each such attempt
	// carries at most MaxBatch reports.
	obs.mu.Lock()
	lostAnswers := obs.attempts[ResultNetwork] + obs.attempts[ResultTimeout]
	obs.mu.Unlock()
	extra := 0
	for i, rv := range rvs {
		for id, n := range rv.successes() {
			if n == 1 {
				continue
			}
			extra += n - 1
			t.Logf("event %s answered 2xx %d times by receiver %d", id, n, i)
			for _, r := range rv.requests() {
				if r.event.EventID == id {
					t.Logf("  request %d carried it", r.req)
				}
			}
		}
	}
	if extra > lostAnswers*s.MaxBatch {
		t.Errorf("%d reports answered 2xx more than once, %d attempts lost their answer (max batch %d)", extra, lostAnswers, s.MaxBatch)
	}
	if t.Failed() || extra > 0 {
		obs.mu.Lock()
		t.Logf("attempts %v, retries %v, deferred %d, delivered %d", obs.attempts, obs.retries, obs.deferred, obs.delivered)
		obs.mu.Unlock()
	}
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logs.String(), "lost track") {
		t.Errorf("the sender lost track of reports: %s", logs.String())
	}
}

// senderState describes s and what st still holds, for a stress run that hung.
func senderState(s *Sender, st *msgstore.Store) string {
	s.mu.Lock()
	out := fmt.Sprintf("active %d, in flight %d, just done %d, cache %d, newFrom %d, dueFrom %x, behind %v, horizon %d, stale %v, wakes %d, hosts:",
		s.active, len(s.inflight), len(s.justDone), len(s.cache), s.newFrom, s.dueFrom, s.behind, s.readHorizon, s.stale, len(s.wakes))
	for h, hs := range s.hosts {
		out += fmt.Sprintf(" %s active %d", h, hs.active)
	}
	for _, c := range s.cache {
		out += fmt.Sprintf("\n  cached seq %d host %s attempts %d", c.Seq, c.host, c.Attempts)
	}
	s.mu.Unlock()
	s.freshMu.Lock()
	out += fmt.Sprintf("\nfresh %d, readUpTo %d", len(s.fresh), s.readUpTo)
	s.freshMu.Unlock()
	cbs, err := st.DueCallbacks(farFuture, 20)
	for _, c := range cbs {
		out += fmt.Sprintf("\n  queued seq %d host %s attempts %d next %s first %s", c.Seq, hostKey(c.URL), c.Attempts,
			c.NextAttempt.Format("15:04:05.000000"), c.FirstAttempt.Format("15:04:05.000000"))
	}
	return out + fmt.Sprintf("\nerr %v, now %s", err, time.Now().Format("15:04:05.000000"))
}
