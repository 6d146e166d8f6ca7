package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/callback"
	"github.com/smppd/smppd/pdu"
)

// callbackReceiver is a real HTTP receiver that checks every signature and
// counts, per event, the attempts it answered with 2xx.
type callbackReceiver struct {
	t      *testing.T
	secret string
	fail   atomic.Bool // answer 503 while set

	mu        sync.Mutex
	delivered map[string]int            // event_id → 2xx answers
	events    map[string]callback.Event // event_id → last body
	refused   int
	badSig    int
}

func (rcv *callbackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if err := callback.Verify(rcv.secret, r.Header.Get("Smppd-Signature"), body, 0); err != nil {
		rcv.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rcv.fail.Load() {
		rcv.refused++
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var batch callback.Batch
	if err := json.Unmarshal(body, &batch); err != nil || len(batch.Events) == 0 {
		rcv.t.Errorf("callback body %q: want {\"events\":[…]} with at least one event: %v", body, err)
		return
	}
	for _, ev := range batch.Events {
		rcv.delivered[ev.EventID]++
		rcv.events[ev.EventID] = ev
	}
}

// TestCallbacksSurviveKill: a token with a callback URL submits while its
// receiver answers 503; the daemon is SIGKILLed with every report pending,
// restarted, and once the receiver recovers every message's report arrives,
// signed, exactly once with a 2xx.
func TestCallbacksSurviveKill(t *testing.T) {
	rcv := &callbackReceiver{t: t, delivered: map[string]int{}, events: map[string]callback.Event{}}
	rcv.fail.Store(true)
	hs := httptest.NewServer(rcv)
	defer hs.Close()

	dir := t.TempDir()
	var created struct {
		SystemID       string `json:"system_id"`
		Password       string `json:"password"`
		CallbackSecret string `json:"callback_secret"`
	}
	out := runCLI(t, "token", "create", "--data-dir", dir, "--name", "hooked", "--smpp", "--test",
		"--callback-url", hs.URL+"/dlr", "--output", "json")
	if err := json.Unmarshal(out, &created); err != nil || created.CallbackSecret == "" {
		t.Fatalf("token create output %q: %v", out, err)
	}
	rcv.mu.Lock()
	rcv.secret = created.CallbackSecret
	rcv.mu.Unlock()

	d := startDaemon(t, dir)
	conn := dialDaemon(t, d.addr)
	r := pdu.NewReader(conn, 0)
	e := &pipelinedESME{conn: conn}
	e.bind(t, r, created.SystemID, created.Password)
	const n = 40
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		s := &pdu.SubmitSM{
			Source:       pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
			Dest:         pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "4477009" + strconv.Itoa(10000+i)},
			ShortMessage: []byte("callback me"),
		}
		if err := e.write(uint32(2+i), pdu.StatusOK, s); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(ids) < n {
		h, body, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if h.ID != pdu.CmdSubmitSMResp || h.Status != pdu.StatusOK {
			t.Fatalf("got %v %v", h.ID, h.Status)
		}
		var resp pdu.SubmitSMResp
		if err := resp.DecodeBody(body); err != nil {
			t.Fatal(err)
		}
		ids[resp.MessageID] = true
	}

	// Wait until the receiver has refused some reports, then kill.
	for deadline := time.Now().Add(30 * time.Second); ; {
		rcv.mu.Lock()
		refused := rcv.refused
		rcv.mu.Unlock()
		if refused >= n/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d reports attempted before the kill", refused)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.kill()

	rcv.fail.Store(false)
	d = startDaemon(t, dir)
	for deadline := time.Now().Add(90 * time.Second); ; {
		rcv.mu.Lock()
		got := len(rcv.delivered)
		rcv.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d reports delivered after the restart", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := d.stop(t); err != nil {
		t.Errorf("clean stop: %v", err)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.badSig > 0 {
		t.Errorf("%d reports with a bad signature", rcv.badSig)
	}
	seen := map[string]bool{}
	for id, count := range rcv.delivered {
		if count != 1 {
			t.Errorf("event %s acknowledged %d times, want exactly once", id, count)
		}
		ev := rcv.events[id]
		if !ids[ev.MessageID] || ev.Status != "DELIVRD" || !ev.Final || !ev.TestMode || ev.TokenName != "hooked" {
			t.Errorf("event %+v does not describe one of the submitted messages", ev)
		}
		seen[ev.MessageID] = true
	}
	if len(seen) != n {
		t.Errorf("reports for %d distinct messages, want %d", len(seen), n)
	}
}

// TestCallbackGiveUpShown: a receiver that answers 404 makes the daemon give
// the report up after a few tries, and `smppd token show` says so.
func TestCallbackGiveUpShown(t *testing.T) {
	var attempts atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		http.NotFound(w, r)
	}))
	defer hs.Close()

	dir := t.TempDir()
	var created struct {
		SystemID string `json:"system_id"`
		Password string `json:"password"`
	}
	out := runCLI(t, "token", "create", "--data-dir", dir, "--name", "gone-hook", "--smpp", "--test",
		"--callback-url", hs.URL+"/missing", "--output", "json")
	if err := json.Unmarshal(out, &created); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dir)
	conn := dialDaemon(t, d.addr)
	r := pdu.NewReader(conn, 0)
	e := &pipelinedESME{conn: conn}
	e.bind(t, r, created.SystemID, created.Password)
	s := &pdu.SubmitSM{
		Source:       pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
		Dest:         pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "447700900099"},
		ShortMessage: []byte("nobody listens"),
	}
	if err := e.write(2, pdu.StatusOK, s); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		var shown struct {
			CallbackFailures callbackFailures `json:"callback_failures"`
		}
		if err := json.Unmarshal(runCLI(t, "token", "show", "--data-dir", dir, "gone-hook", "--output", "json"), &shown); err != nil {
			t.Fatal(err)
		}
		if cf := shown.CallbackFailures; cf.Count == 1 {
			if cf.LastReason == "" || cf.LastAt.IsZero() {
				t.Errorf("callback_failures = %+v, want a reason and a time", cf)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no give-up shown after %d attempts", attempts.Load())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := attempts.Load(); n < 2 {
		t.Errorf("gave up after %d attempts, want a few tries first", n)
	}
	conn.Close()
	d.stop(t)

	// Without the daemon, token show reads the message store itself.
	text := string(runCLI(t, "token", "show", "--data-dir", dir, "gone-hook"))
	if !regexp.MustCompile(`(?m)^callbacks_failed +1 \(last `).MatchString(text) {
		t.Errorf("token show without the daemon:\n%s", text)
	}
}
