package smppdtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/smppd/smppdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRecorder(t *testing.T) {
	r := smppdtest.NewRecorder()
	smppdtest.OK.ServeSMPP(context.Background(), r, &smppd.Request{Header: pdu.Header{ID: pdu.CmdSubmitSM, Seq: 1}})
	if !r.Wait(time.Second) {
		t.Fatal("OK did not respond")
	}
	if err := r.Respond(pdu.StatusOK, nil); !errors.Is(err, smppd.ErrAlreadyResponded) {
		t.Errorf("second Respond() = %v, want ErrAlreadyResponded", err)
	}
	status, body, calls := r.Result()
	resp, ok := body.(*pdu.SubmitSMResp)
	if status != pdu.StatusOK || !ok || resp.MessageID != smppdtest.MessageID || calls != 2 {
		t.Errorf("Result() = %v, %#v, %d", status, body, calls)
	}
}

func TestCredentials(t *testing.T) {
	creds := smppdtest.Credentials{"u": "p"}
	tests := []struct {
		id, pw string
		want   pdu.Status
	}{
		{"u", "p", pdu.StatusOK},
		{"u", "P", pdu.StatusInvPaswd},
		{"u", "", pdu.StatusInvPaswd},
		{"x", "p", pdu.StatusInvPaswd},
	}
	for _, tt := range tests {
		id, got := creds.Authenticate(context.Background(), nil, &pdu.Bind{SystemID: tt.id, Password: tt.pw})
		if got != tt.want || (got == pdu.StatusOK && id.ID != tt.id) {
			t.Errorf("Authenticate(%q, %q) = %+v, %v; want %v", tt.id, tt.pw, id, got, tt.want)
		}
	}
}

// TestServerAndClient: the helpers' own round trip, plain and TLS, and a
// Close that leaves nothing running.
func TestServerAndClient(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, smppdtest.Credentials{"u": "p"})
		var c *smppdtest.Client
		if useTLS {
			srv.StartTLS()
			c = smppdtest.DialTLS(t, srv.Addr, srv.ClientTLSConfig)
		} else {
			srv.Start()
			c = smppdtest.Dial(t, srv.Addr)
		}
		c.Bind(pdu.CmdBindTransceiver, "u", "p")
		seq := c.Send(&pdu.SubmitSM{ShortMessage: []byte("x")})
		_, p := c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq)
		if id := p.(*pdu.SubmitSMResp).MessageID; id != smppdtest.MessageID {
			t.Errorf("message_id = %q", id)
		}
		c.Unbind()
		srv.Close()
		if n := len(srv.Sessions()); n != 0 {
			t.Errorf("%d sessions after Close", n)
		}
	}
}
