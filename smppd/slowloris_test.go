package smppd_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/smppd/smppdtest"
)

// slowlorisServer has a short ReadTimeout and every other timer far away,
// so that a session closed as IncompletePDU can only have been closed by
// the read timeout.
func slowlorisServer(t *testing.T, auth smppd.Authenticator) (*smppdtest.Server, *events) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, auth)
	srv.ReadTimeout = 200 * time.Millisecond
	srv.BindTimeout = time.Minute
	srv.IdleTimeout = time.Minute
	srv.EnquireLinkInterval = -1
	return srv, watch(srv)
}

// trickle writes b one byte every interval until the connection fails or
// b is written; it returns how many bytes were written.
func trickle(c *smppdtest.Client, b []byte, interval time.Duration) int {
	for i := range b {
		if _, err := c.Conn.Write(b[i : i+1]); err != nil {
			return i
		}
		time.Sleep(interval)
	}
	return len(b)
}

// TestSlowlorisClosed: a client that trickles a PDU one byte at a time is
// closed as IncompletePDU (logged with that reason) before and after bind,
// over plain TCP and TLS, and never gets to finish the PDU.
func TestSlowlorisClosed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tls   bool
		bind  bool
		trick pdu.PDU
	}{
		{"unbound", false, false, &pdu.Bind{Cmd: pdu.CmdBindTransceiver, SystemID: testUser, Password: testPass, InterfaceVersion: 0x34}},
		{"bound", false, true, submit()},
		{"bound_tls", true, true, submit()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ev := slowlorisServer(t, testCreds)
			var c *smppdtest.Client
			if tc.tls {
				srv.StartTLS()
				c = smppdtest.DialTLS(t, srv.Addr, srv.ClientTLSConfig)
			} else {
				srv.Start()
				c = smppdtest.Dial(t, srv.Addr)
			}
			if tc.bind {
				c.Bind(pdu.CmdBindTransceiver, testUser, testPass)
			}
			b := encode(t, 7, tc.trick)
			written := trickle(c, b, srv.ReadTimeout/4)
			closed := ev.wait(t, smppd.StateClosed)
			if closed.reason != smppd.IncompletePDU {
				t.Fatalf("closed as %v, want %v", closed.reason, smppd.IncompletePDU)
			}
			if written == len(b) {
				t.Errorf("the whole %d-byte PDU was trickled in before the close", len(b))
			}
			for _, h := range c.ExpectClosed() {
				if h.ID != pdu.CmdBindTransceiverResp && h.ID != pdu.CmdEnquireLinkResp {
					t.Errorf("unexpected %v after the trickle", h.ID)
				}
			}
		})
	}
}

// TestReadTimeoutOnlyWithinPDU: the read timeout never hurts a healthy
// client: silence between PDUs longer than ReadTimeout is fine, and time
// the read loop spends in a slow Authenticator does not count against a
// PDU that is already buffered behind the bind.
func TestReadTimeoutOnlyWithinPDU(t *testing.T) {
	slowAuth := smppd.AuthenticatorFunc(func(ctx context.Context, s *smppd.Session, b *pdu.Bind) (smppd.Identity, pdu.Status) {
		time.Sleep(600 * time.Millisecond) // three ReadTimeouts
		return testCreds.Authenticate(ctx, s, b)
	})
	srv, _ := slowlorisServer(t, slowAuth)
	srv.Start()
	c := smppdtest.Dial(t, srv.Addr)
	bind := encode(t, 1, &pdu.Bind{Cmd: pdu.CmdBindTransceiver, SystemID: testUser, Password: testPass, InterfaceVersion: 0x34})
	enq := encode(t, 2, &pdu.EnquireLink{})
	// The bind and half of the enquire_link in one write: the half is
	// buffered while the Authenticator runs.
	c.SendRaw(cat(bind, enq[:8]))
	c.Expect(pdu.CmdBindTransceiverResp, pdu.StatusOK, 1)
	c.SendRaw(enq[8:])
	c.Expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, 2)

	time.Sleep(3 * srv.ReadTimeout) // idle between PDUs
	seq := c.Send(submit())
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq)
	if n := len(srv.Sessions()); n != 1 {
		t.Fatalf("%d sessions, want the one still bound", n)
	}
}

// recordingConn passes writes through, or, while hold is set, keeps them:
// the test then sends TLS records' raw bytes as it likes.
type recordingConn struct {
	net.Conn
	hold bool
	kept []byte
}

func (c *recordingConn) Write(b []byte) (int, error) {
	if c.hold {
		c.kept = append(c.kept, b...)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// TestSlowlorisTLSRecords: over TLS a PDU can start inside a record that
// is not complete yet, so no decrypted byte shows it. A record trickled one
// raw byte at a time, and the first bytes of a record sent in one segment
// behind a complete one, are both closed as IncompletePDU.
func TestSlowlorisTLSRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(raw net.Conn, complete, partial []byte, interval time.Duration)
	}{
		{"record trickled", func(raw net.Conn, complete, partial []byte, interval time.Duration) {
			raw.Write(complete)
			for i := range partial {
				if _, err := raw.Write(partial[i : i+1]); err != nil {
					return
				}
				time.Sleep(interval)
			}
		}},
		{"partial record behind a complete one", func(raw net.Conn, complete, partial []byte, _ time.Duration) {
			raw.Write(append(append([]byte(nil), complete...), partial[:3]...))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ev := slowlorisServer(t, testCreds)
			srv.StartTLS()
			raw, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			rc := &recordingConn{Conn: raw}
			conn := tls.Client(rc, srv.ClientTLSConfig)
			if err := conn.Handshake(); err != nil {
				t.Fatal(err)
			}
			c := smppdtest.NewClient(t, conn)
			c.Bind(pdu.CmdBindTransceiver, testUser, testPass)

			rc.hold = true
			conn.Write(encode(t, 5, &pdu.EnquireLink{}))
			complete := rc.kept
			rc.kept = nil
			conn.Write(encode(t, 6, submit()))
			partial := rc.kept
			rc.hold = false

			tc.send(raw, complete, partial, srv.ReadTimeout/4)
			c.Expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, 5)
			closed := ev.wait(t, smppd.StateClosed)
			if closed.reason != smppd.IncompletePDU {
				t.Fatalf("closed as %v, want %v", closed.reason, smppd.IncompletePDU)
			}
			c.ExpectClosed()
		})
	}
}
