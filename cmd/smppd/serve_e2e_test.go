package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
)

// runCLI runs the real binary with args and returns stdout; it fails the
// test on a non-zero exit.
func runCLI(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(smppdBinary(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("smppd %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestServeWithAdminSocket: with the daemon running (it holds tokens.db),
// the token commands go through the admin socket: a token created there
// can bind at once, and revoking it unbinds the live session.
func TestServeWithAdminSocket(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)

	var created struct {
		SystemID string `json:"system_id"`
		Password string `json:"password"`
	}
	out := runCLI(t, "token", "create", "--data-dir", dir, "--name", "live-session", "--smpp", "--test", "--output", "json")
	if err := json.Unmarshal(out, &created); err != nil || created.SystemID == "" || created.Password == "" {
		t.Fatalf("token create output %q: %v", out, err)
	}

	conn := dialDaemon(t, d.addr)
	r := pdu.NewReader(conn, 0)
	e := &pipelinedESME{conn: conn}
	e.bind(t, r, created.SystemID, created.Password)

	// A submit works, and its receipt comes back on the same transceiver.
	if msgID, receiptID, state := submitForReceipt(t, e, r, "15550002", "through the daemon", 10*time.Second); receiptID != msgID || state != pdu.StateDelivered {
		t.Errorf("receipt for %q in state %v, want %q DELIVERED", receiptID, state, msgID)
	}

	var rows []sessionInfo
	if err := json.Unmarshal(runCLI(t, "sessions", "list", "--data-dir", dir, "--output", "json"), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].SystemID != created.SystemID || rows[0].BindType != "transceiver" || rows[0].Submits != 1 {
		t.Errorf("sessions list = %+v, want the one transceiver with 1 submit", rows)
	}
	var st statusInfo
	if err := json.Unmarshal(runCLI(t, "status", "--data-dir", dir, "--output", "json"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Bound != 1 || st.Messages != 1 || st.StoreBytes == 0 {
		t.Errorf("status = %+v, want 1 bound session and 1 message", st)
	}

	runCLI(t, "token", "revoke", "--data-dir", dir, "live-session")
	for {
		h, _, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for unbind after revoke: %v", err)
		}
		if h.ID == pdu.CmdUnbind {
			e.write(h.Seq, pdu.StatusOK, &pdu.UnbindResp{})
			break
		}
	}

	// Metrics are served and count what happened.
	resp, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`smppd_submits_total{status="ESME_ROK"} 1`,
		`smppd_receipts_sent_total{status="ESME_ROK"} 1`,
		`smppd_binds_total{result="ok"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if err := d.stop(t); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
}
