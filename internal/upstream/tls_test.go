package upstream_test

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/smppd/smppdtest"
)

// TestTLSUpstream binds over TLS to an smppd server with a self-signed
// certificate: trusted through tls.ca_file it carries traffic; without it
// the handshake fails and the status says why.
func TestTLSUpstream(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppd.HandlerFunc(func(ctx context.Context, w smppd.ResponseWriter, r *smppd.Request) {
		w.Respond(pdu.StatusOK, &pdu.SubmitSMResp{MessageID: "tls1"})
	}), smppd.AuthenticatorFunc(func(ctx context.Context, s *smppd.Session, b *pdu.Bind) (smppd.Identity, pdu.Status) {
		return smppd.Identity{ID: b.SystemID}, pdu.StatusOK
	}))
	srv.Logger = quietLogger()
	srv.StartTLS()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	der := srv.TLSConfig.Certificates[0].Certificate[0]
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	good := fastUpstream("tls", srv.Listener.Addr().String())
	good.TLS = upstream.TLSConfig{Enabled: true, CAFile: ca}
	bad := fastUpstream("untrusted", srv.Listener.Addr().String())
	bad.TLS = upstream.TLSConfig{Enabled: true}
	front := newNode(t, gateway.Config{}, &upstream.Config{
		Upstreams: []upstream.Upstream{good, bad},
		Routes:    []upstream.Route{{Upstreams: []string{"tls"}}},
	})
	tok, pass := front.token("acme", false)
	cl := dial(t, front.addr, pdu.CmdBindTransceiver, tok.SystemID, pass)
	if st, _ := cl.submit("447700900001", "over tls"); st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	waitFor(t, "the TLS upstream to accept", func() bool { return front.store.Stats().Outbox == 0 })
	waitFor(t, "the untrusted upstream to report its error", func() bool {
		return strings.Contains(front.conn.Status().Upstreams[1].LastError, "certificate")
	})
	if st := front.conn.Status().Upstreams[0]; st.State != upstream.StateBound || st.Accepted != 1 {
		t.Errorf("tls upstream status %+v", st)
	}
}
