package upstream_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/tokenstore"
)

// Environment of the re-executed child of TestCrashNoLossNoDuplicate.
const (
	crashEnvDir  = "UPSTREAM_CRASH_CHILD_DIR"
	crashEnvAddr = "UPSTREAM_CRASH_CHILD_SMSC"
)

// crashChild runs the connector on the store in $UPSTREAM_CRASH_CHILD_DIR,
// forwarding to the SMSC at $UPSTREAM_CRASH_CHILD_SMSC, until SIGKILL (or
// SIGTERM: a clean stop, exit 0).
func crashChild() bool {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		return false
	}
	fail := func(what string, err error) {
		fmt.Fprintln(os.Stderr, "child:", what, err)
		os.Exit(2)
	}
	store, err := msgstore.Open(filepath.Join(dir, "messages.db"), msgstore.Options{Logger: quietLogger()})
	if err != nil {
		fail("store", err)
	}
	tokens, err := tokenstore.Open(filepath.Join(dir, "tokens.db"), tokenstore.Options{Logger: quietLogger()})
	if err != nil {
		fail("tokens", err)
	}
	gw := gateway.New(gateway.Config{Logger: quietLogger()}, tokens, store)
	up := upstream.Upstream{Name: "smsc", Address: os.Getenv(crashEnvAddr), SystemID: "crash", Window: crashWindow,
		Reconnect: upstream.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}}
	c, err := upstream.New(upstream.Options{
		Config: upstream.Config{Upstreams: []upstream.Upstream{up}, Routes: []upstream.Route{{Upstreams: []string{"smsc"}}}},
		Store:  store, Reporter: gw, Logger: quietLogger(),
	})
	if err != nil {
		fail("connector", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	c.Start()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(sctx); err != nil {
		fail("stop", err)
	}
	store.Close()
	tokens.Close()
	os.Exit(0)
	return true
}

const crashWindow = 20

// TestCrashNoLossNoDuplicate SIGKILLs a connector in the middle of
// forwarding 2000 messages (fsync on), then runs it again to the end:
//   - every message the store recorded as accepted was accepted by the
//     upstream, and is not submitted again after the crash;
//   - every message reaches the upstream (nothing lost);
//   - the only messages the upstream got twice are ones it accepted before
//     the crash whose acceptance was not yet committed here: the documented
//     window, never more than Upstream.Window messages.
func TestCrashNoLossNoDuplicate(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	up := newSMSC(t)
	dir := t.TempDir()
	const n = 2000
	store, err := msgstore.Open(filepath.Join(dir, "messages.db"), msgstore.Options{Logger: quietLogger(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	textOf := make(map[uint64]string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		text := fmt.Sprintf("crash-%04d", i)
		body, _ := (&pdu.SubmitSM{Dest: pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"}, ShortMessage: []byte(text)}).AppendBody(nil)
		m := &msgstore.Message{ID: store.NextID(), TokenID: "tok", Dest: pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"}, Body: body,
			SubmitAt: time.Now(), ExpireAt: time.Now().Add(time.Hour), State: pdu.StateEnroute}
		textOf[m.ID] = text
		store.Submit(m, func(err error) { errs <- err })
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	store.Close()

	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvAddr+"="+up.addr)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	accepted := func() map[string]int {
		up.mu.Lock()
		defer up.mu.Unlock()
		out := make(map[string]int, len(up.submits))
		for k, v := range up.submits {
			out[k] = v
		}
		return out
	}

	// Round 1: killed mid-traffic.
	cmd := child()
	waitFor(t, "the upstream to accept 500 messages", func() bool { return len(accepted()) >= 500 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitFor(t, "the upstream to see the connection close", func() bool { return len(up.bound()) == 0 })
	before := accepted()
	store, err = msgstore.Open(filepath.Join(dir, "messages.db"), msgstore.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	committed := make(map[string]bool)
	for id, text := range textOf {
		m, err := store.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Outbox {
			committed[text] = true
			if before[text] == 0 {
				t.Errorf("%s recorded as accepted but the upstream never got it", text)
			}
		}
	}
	store.Close()
	window := 0
	for text := range before {
		if !committed[text] {
			window++
		}
	}
	t.Logf("at the crash: upstream accepted %d, committed here %d, in the window %d", len(before), len(committed), window)
	if window > crashWindow {
		t.Errorf("%d messages accepted upstream and not recorded here, want at most the window (%d)", window, crashWindow)
	}

	// Round 2: runs to the end and stops cleanly.
	cmd = child()
	waitFor(t, "every message to reach the upstream", func() bool { return len(accepted()) == n })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	after := accepted()
	dups := 0
	for text, k := range after {
		if k > 1 {
			dups++
			if committed[text] {
				t.Errorf("%s was committed as accepted before the crash and submitted again", text)
			}
			if before[text] == 0 {
				t.Errorf("%s duplicated although the upstream did not have it at the crash", text)
			}
		}
		if k > 2 {
			t.Errorf("%s accepted %d times", text, k)
		}
	}
	store, err = msgstore.Open(filepath.Join(dir, "messages.db"), msgstore.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if st := store.Stats(); st.Outbox != 0 {
		t.Errorf("outbox holds %d after the clean stop, want 0", st.Outbox)
	}
	t.Logf("duplicates after the restart: %d (window at the crash: %d)", dups, window)
}
