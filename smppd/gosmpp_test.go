package smppd_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp"
	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/smppd/smppdtest"
)

// waitStatus waits for go-smpp's connection status want, failing on any
// other status than the ones listed in skip.
func waitStatus(t *testing.T, ch <-chan smpp.ConnStatus, want smpp.ConnStatusID) smpp.ConnStatus {
	t.Helper()
	select {
	case st, ok := <-ch:
		if !ok {
			t.Fatalf("go-smpp status channel closed, want %v", want)
		}
		if st.Status() != want {
			t.Fatalf("go-smpp status = %v (%v), want %v", st.Status(), st.Error(), want)
		}
		return st
	case <-time.After(10 * time.Second):
		t.Fatalf("no go-smpp status %v within 10s", want)
	}
	return nil
}

// TestGoSMPPBinds binds each bind type with go-smpp's client, submits
// where the bind allows it, receives a server-initiated deliver_sm where
// it allows that, and unbinds.
func TestGoSMPPBinds(t *testing.T) {
	tests := []struct {
		name    string
		want    smppd.BindType
		connect func(addr string, deliveries chan<- gopdu.Body) (smpp.ClientConn, <-chan smpp.ConnStatus, *smpp.Transmitter)
	}{
		{
			name: "transmitter",
			want: smppd.BindTransmitter,
			connect: func(addr string, _ chan<- gopdu.Body) (smpp.ClientConn, <-chan smpp.ConnStatus, *smpp.Transmitter) {
				tx := &smpp.Transmitter{Addr: addr, User: testUser, Passwd: testPass, BindInterval: time.Minute, RespTimeout: 5 * time.Second}
				return tx, tx.Bind(), tx
			},
		},
		{
			name: "receiver",
			want: smppd.BindReceiver,
			connect: func(addr string, d chan<- gopdu.Body) (smpp.ClientConn, <-chan smpp.ConnStatus, *smpp.Transmitter) {
				rx := &smpp.Receiver{Addr: addr, User: testUser, Passwd: testPass, BindInterval: time.Minute,
					Handler: func(p gopdu.Body) { d <- p }}
				return rx, rx.Bind(), nil
			},
		},
		{
			name: "transceiver",
			want: smppd.BindTransceiver,
			connect: func(addr string, d chan<- gopdu.Body) (smpp.ClientConn, <-chan smpp.ConnStatus, *smpp.Transmitter) {
				trx := &smpp.Transceiver{Addr: addr, User: testUser, Passwd: testPass, BindInterval: time.Minute,
					RespTimeout: 5 * time.Second, Handler: func(p gopdu.Body) { d <- p }}
				return trx, trx.Bind(), &trx.Transmitter
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
			ev := watch(srv)
			srv.Start()

			deliveries := make(chan gopdu.Body, 4)
			conn, status, tx := tt.connect(srv.Addr, deliveries)
			waitStatus(t, status, smpp.Connected)
			s := ev.wait(t, smppd.StateBound).s
			if s.BindType() != tt.want || s.SystemID() != testUser || s.Identity().ID != testUser {
				t.Errorf("session = %v %q %q, want %v %q", s.BindType(), s.SystemID(), s.Identity().ID, tt.want, testUser)
			}

			if tt.want.CanSubmit() {
				sm, err := tx.Submit(&smpp.ShortMessage{Src: "4912345", Dst: "4967890", Text: pdutext.Raw("hello")})
				if err != nil {
					t.Fatalf("Submit() error = %v", err)
				}
				if got := sm.RespID(); got != smppdtest.MessageID {
					t.Errorf("Submit() message id = %q, want %q", got, smppdtest.MessageID)
				}
			}

			if tt.want.CanReceive() {
				type result struct {
					h   pdu.Header
					err error
				}
				done := make(chan result, 1)
				dsm := &pdu.DeliverSM{
					Source:       pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "4967890"},
					Dest:         pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "4912345"},
					ShortMessage: []byte("from the server"),
				}
				if err := s.Send(dsm, func(h pdu.Header, _ pdu.PDU, err error) { done <- result{h, err} }); err != nil {
					t.Fatalf("Send() error = %v", err)
				}
				select {
				case p := <-deliveries:
					if p.Header().ID != gopdu.DeliverSMID {
						t.Fatalf("client got %v, want deliver_sm", p.Header().ID)
					}
					if p.Header().Seq < 0x40000000 {
						t.Errorf("server sequence number = %#x, want far from the client's (>= 0x40000000)", p.Header().Seq)
					}
					if got := p.Fields()[pdufield.ShortMessage].String(); got != "from the server" {
						t.Errorf("short_message = %q", got)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("client got no deliver_sm")
				}
				select {
				case r := <-done:
					if r.err != nil || r.h.ID != pdu.CmdDeliverSMResp || r.h.Status != pdu.StatusOK {
						t.Errorf("done(%v %v, %v), want deliver_sm_resp ESME_ROK", r.h.ID, r.h.Status, r.err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("done not called")
				}
			} else if err := s.Send(&pdu.DeliverSM{}, nil); err != smppd.ErrNotReceiver {
				t.Errorf("Send() on %v = %v, want ErrNotReceiver", tt.want, err)
			}

			conn.Close()
			if got := ev.wait(t, smppd.StateClosed).reason; got != smppd.ClientUnbind {
				t.Errorf("close reason = %v, want %v", got, smppd.ClientUnbind)
			}
		})
	}
}

// syncBuffer is a log sink safe for the session goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestGoSMPPBindFailed checks that go-smpp parses the error bind_resp
// (empty system_id) and gets the status, and that the log line has the
// password's length and not the password.
func TestGoSMPPBindFailed(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	var logs syncBuffer
	srv.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	ev := watch(srv)
	srv.Start()

	const wrong = "wrong-password-123"
	tx := &smpp.Transmitter{Addr: srv.Addr, User: testUser, Passwd: wrong, BindInterval: time.Minute}
	st := waitStatus(t, tx.Bind(), smpp.BindFailed)
	tx.Close()
	ev.wait(t, smppd.StateClosed) // the log line is written by then
	if st.Error() != gopdu.Status(pdu.StatusInvPaswd) {
		t.Errorf("go-smpp bind error = %v, want %v", st.Error(), gopdu.Status(pdu.StatusInvPaswd))
	}

	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, wrong) {
			t.Errorf("log line contains the password: %s", line)
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "bind" {
			continue
		}
		found = true
		if rec["result"] != "failed" || rec["system_id"] != testUser || rec["password_length"] != float64(len(wrong)) ||
			rec["bind_type"] != "transmitter" || rec["remote"] == nil {
			t.Errorf("bind log = %s", line)
		}
	}
	if !found {
		t.Errorf("no bind log line in:\n%s", logs.String())
	}
}

// TestGoSMPPTLS binds go-smpp over TLS.
func TestGoSMPPTLS(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	ev := watch(srv)
	srv.StartTLS()

	tx := &smpp.Transmitter{Addr: srv.Addr, User: testUser, Passwd: testPass, TLS: srv.ClientTLSConfig,
		BindInterval: time.Minute, RespTimeout: 5 * time.Second}
	waitStatus(t, tx.Bind(), smpp.Connected)
	sm, err := tx.Submit(&smpp.ShortMessage{Src: "4912345", Dst: "4967890", Text: pdutext.Raw("over tls")})
	if err != nil || sm.RespID() != smppdtest.MessageID {
		t.Fatalf("Submit() = %q, %v", sm.RespID(), err)
	}
	s := ev.wait(t, smppd.StateBound).s
	if cs, ok := s.TLSConnectionState(); !ok || cs.Version < tls.VersionTLS12 {
		t.Errorf("TLSConnectionState() = %x, %v; want TLS >= 1.2", cs.Version, ok)
	}
	tx.Close()
	ev.wait(t, smppd.StateClosed)

	// TLS 1.1 is refused even though TLSConfig does not say so.
	old := srv.ClientTLSConfig.Clone()
	old.MinVersion = tls.VersionTLS10
	old.MaxVersion = tls.VersionTLS11
	if c, err := tls.Dial("tcp", srv.Addr, old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake succeeded, want refused")
	}
	if got := ev.wait(t, smppd.StateClosed).reason; got != smppd.TLSHandshakeError {
		t.Errorf("close reason = %v, want %v", got, smppd.TLSHandshakeError)
	}
}

// TestShutdownUnbindsGoSMPP shuts the server down under a bound go-smpp
// client: the client sees the link go down and Shutdown returns in time.
// go-smpp does not answer unbind, so the session closes after
// UnbindTimeout.
func TestShutdownUnbindsGoSMPP(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	srv.UnbindTimeout = 100 * time.Millisecond
	ev := watch(srv)
	srv.Start()

	unbinds := make(chan gopdu.Body, 1)
	trx := &smpp.Transceiver{Addr: srv.Addr, User: testUser, Passwd: testPass, BindInterval: time.Minute,
		Handler: func(p gopdu.Body) {
			if p.Header().ID == gopdu.UnbindID {
				unbinds <- p
			}
		}}
	status := trx.Bind()
	defer trx.Close()
	waitStatus(t, status, smpp.Connected)
	ev.wait(t, smppd.StateBound)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	select {
	case <-unbinds:
	case <-time.After(10 * time.Second):
		t.Fatal("client got no unbind")
	}
	waitStatus(t, status, smpp.Disconnected)
	if got := ev.wait(t, smppd.StateClosed).reason; got != smppd.ServerShutdown {
		t.Errorf("close reason = %v, want %v", got, smppd.ServerShutdown)
	}
	if err := srv.ServeErr(); err != smppd.ErrServerClosed {
		t.Errorf("Serve() = %v, want ErrServerClosed", err)
	}
}
