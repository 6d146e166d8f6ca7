package main

import (
	"bytes"
	"encoding/json"
	"github.com/smppd/smppd/internal/msgstore"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smppd/smppd/pdu"
)

// runCLIStatus runs the real binary and returns stdout, stderr and the
// exit code, whatever it is.
func runCLIStatus(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(smppdBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestServeConfigPrecedence runs the real binary with a config file, the
// environment and flags all setting keys, checks --print-config's merge,
// then starts the daemon with the same layers and checks that it runs with
// the merged values: the system_id in bind_resp comes from the environment
// over the file, and the client commands find the daemon through the
// config file's data-dir alone.
func TestServeConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "smppd.yaml")
	body := "# test config\ndata-dir: " + dir + "\nsystem-id: from-file\nwindow: 7\nmax-pending: 64\nreceipt-ttl: 96h\nmessage-retention: 200h\n" +
		"upstreams:\n  - name: carrier-a\n    address: 127.0.0.1:1\n    system_id: acme\n    password: hunter22\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SMPPD_DATA_DIR", "")
	t.Setenv("SMPPD_CONFIG", file)
	t.Setenv("SMPPD_SYSTEM_ID", "from-env")
	t.Setenv("SMPPD_WINDOW", "8")

	out, stderr, code := runCLIStatus(t, nil, "serve", "--print-config", "--window", "9", "--listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("--print-config: exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := yaml.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--print-config output is not YAML: %v\n%s", err, out)
	}
	want := map[string]any{
		"data-dir": dir, "system-id": "from-env", "window": 9, "max-pending": 64, "receipt-ttl": "96h",
		"bind-timeout": "30s", "listen": "127.0.0.1:0", "http-listen": "127.0.0.1:9775",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for _, line := range []string{"system-id: from-env # env SMPPD_SYSTEM_ID", "window: 9 # flag --window", "max-pending: 64 # file " + file + " line 5"} {
		if !strings.Contains(out, line) {
			t.Errorf("--print-config lacks %q:\n%s", line, out)
		}
	}
	if strings.Contains(out, "hunter22") || !strings.Contains(out, "password: '********'") {
		t.Errorf("upstream password not masked:\n%s", out)
	}

	// The daemon itself, same layers (startDaemon adds --data-dir dir,
	// --listen and --http-listen as flags).
	d := startDaemon(t, dir, "--window", "9")
	stdout, stderr, code := runCLIStatus(t, nil, "token", "create", "--name", "precedence", "--smpp", "--test", "--output", "json")
	if code != 0 {
		t.Fatalf("token create through the config file's data-dir: exit %d: %s", code, stderr)
	}
	var created struct {
		SystemID string `json:"system_id"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(stdout), &created); err != nil {
		t.Fatal(err)
	}
	conn := dialDaemon(t, d.addr)
	e := &pipelinedESME{conn: conn}
	if err := e.write(1, pdu.StatusOK, &pdu.Bind{Cmd: pdu.CmdBindTransmitter, SystemID: created.SystemID, Password: created.Password, InterfaceVersion: 0x34}); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := pdu.NewReader(conn, 0)
	h, b, err := r.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pdu.Decode(h, b)
	if err != nil || h.Status != pdu.StatusOK {
		t.Fatalf("bind: %v %v", h.Status, err)
	}
	if resp := p.(*pdu.BindResp); resp.SystemID != "from-env" {
		t.Errorf("bind_resp system_id = %q, want from-env (SMPPD_SYSTEM_ID over the file)", resp.SystemID)
	}

	// A transmitter's receipt has no receiver: status shows it waiting for
	// the token, and sessions list on the session.
	s := &pdu.SubmitSM{
		Source:             pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
		Dest:               pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550002"},
		RegisteredDelivery: 1,
		ShortMessage:       []byte("nobody receives this receipt"),
	}
	if err := e.write(2, pdu.StatusOK, s); err != nil {
		t.Fatal(err)
	}
	if h, _, err := r.ReadFrame(); err != nil || h.Status != pdu.StatusOK {
		t.Fatalf("submit: %v %v", h.Status, err)
	}
	var st statusInfo
	for deadline := time.Now().Add(10 * time.Second); ; {
		stdout, stderr, code = runCLIStatus(t, nil, "status", "--output", "json")
		if code != 0 {
			t.Fatalf("status: exit %d: %s", code, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.ReceiptsByToken) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the simulator's outcome is asynchronous
	}
	if len(st.ReceiptsByToken) != 1 || st.ReceiptsByToken[0].Token != "precedence" || st.ReceiptsByToken[0].Waiting != 1 ||
		st.ReceiptsByToken[0].Oldest.IsZero() || st.DataDir != dir || st.TokensBytes == 0 {
		t.Errorf("status = %+v, want 1 receipt waiting for token precedence", st)
	}
	stdout, _, _ = runCLIStatus(t, nil, "status")
	if !strings.Contains(stdout, "receipts waiting per token:") || !strings.Contains(stdout, "precedence") {
		t.Errorf("status text:\n%s", stdout)
	}
	var rows []sessionInfo
	stdout, _, _ = runCLIStatus(t, nil, "sessions", "list", "--output", "json")
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 1 || rows[0].ReceiptsPending != 1 || rows[0].BindType != "transmitter" {
		t.Errorf("sessions list = %+v (%v), want the transmitter with 1 receipt pending", rows, err)
	}

	// A hot backup through the admin socket, while the daemon holds both
	// files: the copies open as stores and hold what the daemon committed.
	to := filepath.Join(t.TempDir(), "backup")
	stdout, stderr, code = runCLIStatus(t, nil, "backup", "--to", to)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
	for _, f := range []string{"tokens.db", "messages.db", "secret.key"} {
		if fi, err := os.Stat(filepath.Join(to, f)); err != nil || fi.Size() == 0 {
			t.Errorf("backup %s: %v", f, err)
		}
	}
	if !strings.Contains(stdout, "messages.db") {
		t.Errorf("backup output %q", stdout)
	}
	if copied, err := msgstore.Open(filepath.Join(to, "messages.db"), msgstore.Options{}); err != nil {
		t.Errorf("the backup of messages.db does not open: %v", err)
	} else {
		if st := copied.Stats(); st.Messages == 0 {
			t.Errorf("the backup of messages.db holds no message: %+v", st)
		}
		copied.Close()
	}

	conn.Close() // an ESME that would not answer the shutdown's unbind
	if err := d.stop(t); err != nil {
		t.Errorf("daemon exit: %v", err)
	}
}

// TestServeBadConfig: every invalid configuration stops the start at once
// with exit 2 and one line on stderr naming the key.
func TestServeBadConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen: 127.0.0.1:0\nwindw: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"unknown key in file", nil, []string{"serve", "--config", bad}, []string{"windw: unknown key", `did you mean "window"`, "line 2"}},
		{"duration without unit in env", []string{"SMPPD_RECEIPT_TTL=30"}, []string{"serve"}, []string{"receipt-ttl", "no unit", "env SMPPD_RECEIPT_TTL"}},
		{"invalid flag value", nil, []string{"serve", "--window", "0"}, []string{"window: must be at least 1, got 0", "flag --window"}},
		{"missing file", nil, []string{"serve", "--config", bad + ".nope"}, []string{"bad.yaml.nope"}},
		{"unknown flag", nil, []string{"serve", "--windw", "5"}, []string{"unknown flag: --windw", "did you mean --window?"}},
		{"unknown command", nil, []string{"serv"}, []string{`unknown command "serv"`, "did you mean 'serve'?"}},
		{"missing argument", nil, []string{"sessions", "kick"}, []string{"accepts 1 arg", "see 'smppd sessions kick --help'"}},
		{"backup without --to", nil, []string{"backup"}, []string{"backup needs --to DIR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"SMPPD_CONFIG=", "SMPPD_DATA_DIR=" + t.TempDir()}, tt.env...)
			stdout, stderr, code := runCLIStatus(t, env, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, stderr)
			}
			if stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "smppd: ") {
				t.Errorf("want one line on stderr and nothing on stdout; got stdout %q, stderr %q", stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

// createToken runs `smppd token create` against dir's daemon and returns
// the SMPP credentials.
func createToken(t *testing.T, dir string, args ...string) (systemID, password string) {
	t.Helper()
	out := runCLI(t, append([]string{"token", "create", "--data-dir", dir, "--smpp", "--output", "json"}, args...)...)
	var created struct {
		SystemID string `json:"system_id"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.SystemID == "" {
		t.Fatalf("token create: %q %v", out, err)
	}
	return created.SystemID, created.Password
}

// TestServeWiresUpstream chains two real daemons: A has B as its upstream
// in its config file. A live token's message on A goes to B (a test-mode
// token there), B's receipt comes back through A's connector, and A
// delivers it to the client with A's message id; `smppd status`, `smppd
// upstream status` and /metrics on A show the upstream up.
func TestServeWiresUpstream(t *testing.T) {
	dirB := t.TempDir()
	b := startDaemon(t, dirB)
	upSys, upPass := createToken(t, dirB, "--name", "carrier-account", "--test")

	dirA := t.TempDir()
	cfgA := filepath.Join(t.TempDir(), "a.yaml")
	body := "upstreams:\n  - name: b\n    address: " + b.addr + "\n    system_id: " + upSys + "\n    password: " + upPass + "\n" +
		"routes:\n  - {upstreams: [b]}\n"
	if err := os.WriteFile(cfgA, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startDaemon(t, dirA, "--config", cfgA)
	sys, pass := createToken(t, dirA, "--name", "shop")

	conn := dialDaemon(t, a.addr)
	r := pdu.NewReader(conn, 0)
	e := &pipelinedESME{conn: conn}
	e.bind(t, r, sys, pass)
	msgID, receiptID, state := submitForReceipt(t, e, r, "15550002", "through two daemons", 20*time.Second)
	if receiptID != msgID || state != pdu.StateDelivered {
		t.Errorf("receipt for %q in state %v, want %q DELIVERED", receiptID, state, msgID)
	}

	var st statusInfo
	if err := json.Unmarshal(runCLI(t, "status", "--data-dir", dirA, "--output", "json"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Upstreams == nil || len(st.Upstreams.Upstreams) != 1 || st.Upstreams.Upstreams[0].State != "bound" || st.Upstreams.Upstreams[0].Accepted != 1 {
		t.Errorf("status upstreams = %+v, want b bound with 1 accepted", st.Upstreams)
	}
	if out := string(runCLI(t, "upstream", "status", "--data-dir", dirA)); !strings.Contains(out, b.addr) {
		t.Errorf("upstream status:\n%s", out)
	}
	resp, err := http.Get("http://" + a.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`smppd_upstream_up{upstream="b"} 1`, `smppd_upstream_submits_total{result="ESME_ROK",upstream="b"} 1`, "smppd_callbacks_in_flight 0"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	conn.Close()
	if err := a.stop(t); err != nil {
		t.Errorf("daemon A exit: %v", err)
	}
}

// TestServeSendsCallbacks: a token with a callback URL gets its delivery
// report POSTed by the real daemon, with the message id submit_sm_resp
// returned.
func TestServeSendsCallbacks(t *testing.T) {
	got := make(chan map[string]any, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch struct{ Events []map[string]any }
		json.NewDecoder(r.Body).Decode(&batch)
		ev := map[string]any{"events": len(batch.Events)}
		if len(batch.Events) == 1 {
			ev = batch.Events[0]
		}
		if r.Header.Get("Smppd-Signature") == "" {
			ev["unsigned"] = true
		}
		got <- ev
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	dir := t.TempDir()
	d := startDaemon(t, dir)
	sys, pass := createToken(t, dir, "--name", "hooked", "--test", "--callback-url", recv.URL+"/dlr")
	conn := dialDaemon(t, d.addr)
	r := pdu.NewReader(conn, 0)
	e := &pipelinedESME{conn: conn}
	e.bind(t, r, sys, pass)
	s := &pdu.SubmitSM{
		Source:       pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
		Dest:         pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15559001"}, // UNDELIV
		ShortMessage: []byte("report me"),
	}
	if err := e.write(2, pdu.StatusOK, s); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, body, err := r.ReadFrame()
	if err != nil || h.Status != pdu.StatusOK {
		t.Fatalf("submit: %v %v", h.Status, err)
	}
	p, _ := pdu.Decode(h, body)
	msgID := p.(*pdu.SubmitSMResp).MessageID
	select {
	case ev := <-got:
		if ev["message_id"] != msgID || ev["status"] != "UNDELIV" || ev["token_name"] != "hooked" || ev["unsigned"] != nil {
			t.Errorf("callback %v, want message %s UNDELIV, signed", ev, msgID)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no callback within 20s")
	}
	conn.Close()
	if err := d.stop(t); err != nil {
		t.Errorf("daemon exit: %v", err)
	}
}
