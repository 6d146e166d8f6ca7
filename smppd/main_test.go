package smppd_test

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/smppd/smppdtest"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// session, timer goroutine and client must be gone when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testUser = "user"
	testPass = "pass"
)

var testCreds = smppdtest.Credentials{testUser: testPass, "other": "secret"}

// event is one ConnState call.
type event struct {
	s      *smppd.Session
	state  smppd.ConnState
	reason smppd.CloseReason
}

// events records ConnState calls of a server.
type events struct {
	ch chan event
	mu sync.Mutex
	// byState counts calls per state, for checks that need no order.
	byState map[smppd.ConnState]int
}

// watch installs a ConnState recorder on an unstarted server.
func watch(srv *smppdtest.Server) *events {
	e := &events{ch: make(chan event, 4096), byState: make(map[smppd.ConnState]int)}
	srv.ConnState = func(s *smppd.Session, st smppd.ConnState) {
		e.mu.Lock()
		e.byState[st]++
		e.mu.Unlock()
		ev := event{s: s, state: st}
		if st == smppd.StateClosed {
			ev.reason = s.CloseReason()
		}
		select {
		case e.ch <- ev:
		default:
		}
	}
	return e
}

// wait returns the next event with state st, skipping others, or fails
// after a generous timeout.
func (e *events) wait(t *testing.T, st smppd.ConnState) event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.state == st {
				return ev
			}
		case <-timeout:
			t.Fatalf("no ConnState %v within 10s", st)
		}
	}
}

// waitSession waits until srv has a session satisfying ok.
func waitSession(t *testing.T, srv *smppdtest.Server, ok func(*smppd.Session) bool) *smppd.Session {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range srv.Sessions() {
			if ok(s) {
				return s
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no matching session within 10s")
	return nil
}

func bound(s *smppd.Session) bool { return s.State() == smppd.StateBound }

// submit is a valid submit_sm.
func submit() *pdu.SubmitSM {
	return &pdu.SubmitSM{
		Source:       pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "4912345"},
		Dest:         pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "4967890"},
		ShortMessage: []byte("hello"),
	}
}
