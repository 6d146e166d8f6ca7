package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp"
	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/tokenstore"
)

// secDaemon is a running `smppd serve` whose every stderr line is kept,
// raw, for the security tests (which search them for secrets and reasons).
type secDaemon struct {
	cmd             *exec.Cmd
	addr, tls, http string
	exit            chan error
	mu              sync.Mutex
	log             bytes.Buffer
	startLine       string
}

func startSecDaemon(t *testing.T, dataDir string, extra ...string) *secDaemon {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0", "--log-format", "json"}, extra...)
	cmd := exec.Command(smppdBinary(t), args...)
	cmd.Env = append(os.Environ(), "SMPPD_DATA_DIR=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &secDaemon{cmd: cmd, exit: make(chan error, 1)}
	started := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.log.Write(sc.Bytes())
			d.log.WriteByte('\n')
			d.mu.Unlock()
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "smppd serving" {
				started <- m
			}
		}
		d.exit <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.exit
		}
	})
	select {
	case m := <-started:
		d.addr, _ = m["listen"].(string)
		d.tls, _ = m["tls_listen"].(string)
		d.http, _ = m["http_listen"].(string)
	case err := <-d.exit:
		t.Fatalf("smppd serve exited before serving: %v\n%s", err, d.logText())
	case <-time.After(30 * time.Second):
		t.Fatal("smppd serve did not start within 30s")
	}
	return d
}

func (d *secDaemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// waitLog waits until a log line matches re; it returns the line.
func (d *secDaemon) waitLog(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(d.logText(), "\n") {
			if rx.MatchString(line) {
				return line
			}
		}
	}
	t.Fatalf("no log line matching %s within 15s; log:\n%s", re, d.logText())
	return ""
}

func (d *secDaemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-d.exit:
		if err != nil {
			t.Errorf("smppd serve exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("smppd did not stop within 30s of SIGINT")
	}
}

// noKeepAlive: a kept-alive connection would hold a goroutine in the
// daemon and spoil the leak check.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := noKeepAlive.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goroutines reads the daemon's goroutine count from pprof.
func (d *secDaemon) goroutines(t *testing.T) int {
	t.Helper()
	body := httpGet(t, "http://"+d.http+"/debug/pprof/goroutine?debug=1")
	m := regexp.MustCompile(`goroutine profile: total (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no goroutine total in pprof output: %.200s", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// shortDataDir: the admin socket's path must fit in sun_path.
func shortDataDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "smppd-sec")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// rawConn is a hand-driven SMPP connection from a chosen loopback address.
type rawConn struct {
	t *testing.T
	net.Conn
	r *pdu.Reader
}

func dialFrom(t *testing.T, local, addr string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, Conn: c, r: pdu.NewReader(c, 1<<20)}
}

func (c *rawConn) send(seq uint32, p pdu.PDU) {
	c.t.Helper()
	b, err := pdu.Append(nil, seq, pdu.StatusOK, p)
	if err != nil {
		c.t.Fatal(err)
	}
	c.raw(b)
}

func (c *rawConn) raw(b []byte) {
	c.t.Helper()
	if _, err := c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads one PDU, answering enquire_link on the way; err at EOF.
func (c *rawConn) next() (pdu.Header, []byte, error) {
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		h, body, err := c.r.ReadFrame()
		if err == nil && h.ID == pdu.CmdEnquireLink {
			c.send(h.Seq, &pdu.EnquireLinkResp{})
			continue
		}
		return h, body, err
	}
}

func (c *rawConn) expect(id pdu.CommandID, status pdu.Status, seq uint32) []byte {
	c.t.Helper()
	h, body, err := c.next()
	if err != nil {
		c.t.Fatalf("expecting %v %v seq %d: %v", id, status, seq, err)
	}
	if h.ID != id || h.Status != status || h.Seq != seq {
		c.t.Fatalf("got %v %v seq %d, want %v %v seq %d", h.ID, h.Status, h.Seq, id, status, seq)
	}
	return body
}

// expectClosed reads until the server closes; any PDU first fails.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	h, _, err := c.next()
	if err == nil {
		c.t.Fatalf("got %v %v seq %d, want the connection closed", h.ID, h.Status, h.Seq)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection still open after 15s")
	}
}

func (c *rawConn) bind(cmd pdu.CommandID, sysID, pw string) pdu.Status {
	c.t.Helper()
	c.send(1, &pdu.Bind{Cmd: cmd, SystemID: sysID, Password: pw, InterfaceVersion: 0x34})
	h, _, err := c.next()
	if err != nil || h.ID != cmd.Response() {
		c.t.Fatalf("bind: %v %v", h.ID, err)
	}
	return h.Status
}

func secSubmit(dest string) *pdu.SubmitSM {
	return &pdu.SubmitSM{
		Source:             pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
		Dest:               pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: dest},
		RegisteredDelivery: 1,
		ShortMessage:       []byte("hardening"),
	}
}

// hdr builds a PDU by hand; length 0 means the true length.
func hdr(length uint32, id pdu.CommandID, seq uint32, body []byte) []byte {
	if length == 0 {
		length = uint32(pdu.HeaderLen + len(body))
	}
	b := binary.BigEndian.AppendUint32(nil, length)
	b = binary.BigEndian.AppendUint32(b, uint32(id))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, seq)
	return append(b, body...)
}

func pduBody(t *testing.T, p pdu.PDU) []byte {
	b, err := pdu.Append(nil, 1, pdu.StatusOK, p)
	if err != nil {
		t.Fatal(err)
	}
	return b[pdu.HeaderLen:]
}

func tlvBytes(tag pdu.Tag, v []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(tag))
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// selfSignedFiles writes a fresh self-signed certificate for 127.0.0.1 and
// its key to certFile and keyFile, and returns the certificate's DER.
func selfSignedFiles(t *testing.T, certFile, keyFile string, serial int64) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "smppd test " + strconv.FormatInt(serial, 10)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return der
}

type wantPDU struct {
	id     pdu.CommandID
	status pdu.Status
	seq    uint32
}

// TestHostileInputThroughDaemon drives raw bytes at the real daemon: each
// row gets the documented answer (README "command_status smppd returns"),
// a close is logged with its reason, a bound sibling keeps working after
// every row, a client pipelining far past --max-pending gets
// ESME_RTHROTTLED for the excess and an answer to every request, and the
// daemon's goroutines return to their baseline at the end.
func TestHostileInputThroughDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel() // each runs its own daemon; mostly waiting on timers
	dir := shortDataDir(t)
	d := startSecDaemon(t, dir, "--max-pdu-size", "4096", "--max-pending", "8", "--failed-bind-delay", "10ms")
	sysID, pw := createToken(t, dir, "--name", "hostile", "--test")

	sibling := dialFrom(t, "", d.addr)
	if st := sibling.bind(pdu.CmdBindTransceiver, sysID, pw); st != pdu.StatusOK { // the token's receipt dispatcher runs from here on
		t.Fatalf("sibling bind: %v", st)
	}
	siblingSeq := uint32(100)
	siblingWorks := func(after string) {
		t.Helper()
		siblingSeq++
		s := secSubmit("447700900123")
		s.RegisteredDelivery = 0
		sibling.send(siblingSeq, s)
		h, _, err := sibling.next()
		if err != nil || h.ID != pdu.CmdSubmitSMResp || h.Status != pdu.StatusOK || h.Seq != siblingSeq {
			t.Fatalf("after %q the sibling's submit got %v %v seq %d (%v)", after, h.ID, h.Status, h.Seq, err)
		}
	}
	baseline := d.goroutines(t)

	validSubmit := pduBody(t, secSubmit("447700900001"))
	shortSM := secSubmit("447700900001")
	shortSM.ShortMessage = nil
	cut := pduBody(t, shortSM)
	cut[len(cut)-1] = 16 // sm_length 16, no message behind it
	var flood []byte
	var floodWant []wantPDU
	for seq := uint32(40); seq < 40+17; seq++ { // MaxUnboundRequests (16) + 1
		flood = append(flood, hdr(0, pdu.CmdQuerySM, seq, pduBody(t, &pdu.QuerySM{MessageID: "1"}))...)
		floodWant = append(floodWant, wantPDU{pdu.CmdQuerySMResp, pdu.StatusInvBndSts, seq})
	}
	absurdBind, err := pdu.Append(nil, 60, pdu.StatusOK, &pdu.Bind{Cmd: pdu.CmdBindReceiver, SystemID: sysID, Password: pw,
		SystemType: strings.Repeat("t", 12), InterfaceVersion: 0xFF, AddrTON: 0xFF, AddrNPI: 0xFF, AddressRange: strings.Repeat("9", 40)})
	if err != nil {
		t.Fatal(err)
	}

	rows := []struct {
		name   string
		bind   bool
		input  []byte
		want   []wantPDU
		closed bool // and logged as protocol_error
	}{
		{"command_length under 16", false, hdr(8, pdu.CmdSubmitSM, 7, make([]byte, 8)),
			[]wantPDU{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 7}}, true},
		{"command_length over --max-pdu-size", true, hdr(4097, pdu.CmdSubmitSM, 9, nil),
			[]wantPDU{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 9}}, true},
		{"command_length 0x7FFFFFFF before bind", false, hdr(0x7FFFFFFF, pdu.CmdBindTransmitter, 10, nil),
			[]wantPDU{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 10}}, true},
		{"truncated submit_sm body", true, hdr(0, pdu.CmdSubmitSM, 11, validSubmit[:5]),
			[]wantPDU{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 11}}, false},
		{"command_length shorter than the body (sm_length past it)", true,
			append(hdr(0, pdu.CmdSubmitSM, 13, cut), hdr(0, pdu.CmdEnquireLink, 14, nil)...),
			[]wantPDU{{pdu.CmdSubmitSMResp, pdu.StatusInvMsgLen, 13}, {pdu.CmdEnquireLinkResp, pdu.StatusOK, 14}}, false},
		{"command_length longer than the body (trailing bytes)", true,
			hdr(0, pdu.CmdQuerySM, 15, append(pduBody(t, &pdu.QuerySM{MessageID: "1"}), "junk"...)),
			[]wantPDU{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 15}}, false},
		{"duplicated TLV", true, hdr(0, pdu.CmdSubmitSM, 16, append(append(append([]byte(nil), validSubmit...),
			tlvBytes(pdu.TagUserMessageReference, []byte{0, 1})...), tlvBytes(pdu.TagUserMessageReference, []byte{0, 2})...)),
			[]wantPDU{{pdu.CmdSubmitSMResp, pdu.StatusInvOptParStream, 16}}, false},
		{"TLV length past the body", true, hdr(0, pdu.CmdSubmitSM, 17, append(append([]byte(nil), validSubmit...), 0x04, 0x24, 0x00, 0x40, 'x')),
			[]wantPDU{{pdu.CmdSubmitSMResp, pdu.StatusInvParLen, 17}}, false},
		{"fixed-size TLV with the wrong length", true, hdr(0, pdu.CmdSubmitSM, 18, append(append([]byte(nil), validSubmit...),
			tlvBytes(pdu.TagUserMessageReference, []byte{1, 2, 3})...)),
			[]wantPDU{{pdu.CmdSubmitSMResp, pdu.StatusInvParLen, 18}}, false},
		{"C-string without NUL", false, hdr(0, pdu.CmdBindTransmitter, 19, []byte("useruseruser")),
			[]wantPDU{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 19}}, false},
		{"system_id over its maximum", false, hdr(0, pdu.CmdBindTransmitter, 20,
			[]byte(strings.Repeat("u", 30)+"\x00pass\x00\x00\x34\x00\x00\x00")),
			[]wantPDU{{pdu.CmdBindTransmitterResp, pdu.StatusInvSysID, 20}}, false},
		{"password far over its maximum", false, hdr(0, pdu.CmdBindTransceiver, 25,
			[]byte(sysID+"\x00"+strings.Repeat("p", 500)+"\x00\x00\x34\x00\x00\x00")),
			[]wantPDU{{pdu.CmdBindTransceiverResp, pdu.StatusInvPaswd, 25}}, false},
		{"unknown command id", true, hdr(0, 0x00000777, 21, nil),
			[]wantPDU{{pdu.CmdGenericNack, pdu.StatusInvCmdID, 21}}, false},
		{"response to nothing is ignored", true,
			append(hdr(0, pdu.CmdDeliverSMResp, 22, []byte{0}), hdr(0, pdu.CmdEnquireLink, 23, nil)...),
			[]wantPDU{{pdu.CmdEnquireLinkResp, pdu.StatusOK, 23}}, false},
		{"submit before bind", false, hdr(0, pdu.CmdSubmitSM, 24, validSubmit),
			[]wantPDU{{pdu.CmdSubmitSMResp, pdu.StatusInvBndSts, 24}}, false},
		{"flood of requests before bind", false, flood, floodWant, true},
		{"bind with absurd field values", false, absurdBind,
			[]wantPDU{{pdu.CmdBindReceiverResp, pdu.StatusOK, 60}}, false},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c := dialFrom(t, "", d.addr)
			c.t = t
			if row.bind {
				if st := c.bind(pdu.CmdBindTransceiver, sysID, pw); st != pdu.StatusOK {
					t.Fatalf("bind: %v", st)
				}
			}
			c.raw(row.input)
			for _, w := range row.want {
				c.expect(w.id, w.status, w.seq)
			}
			if row.closed {
				c.expectClosed()
				d.waitLog(t, `"msg":"session closed".*"remote":"`+regexp.QuoteMeta(c.LocalAddr().String())+`".*"reason":"protocol_error"`)
			}
			c.Close()
			siblingWorks(row.name)
		})
	}

	t.Run("window far above --max-pending", func(t *testing.T) {
		c := dialFrom(t, "", d.addr)
		c.t = t
		if st := c.bind(pdu.CmdBindTransmitter, sysID, pw); st != pdu.StatusOK {
			t.Fatalf("bind: %v", st)
		}
		const n = 400
		var burst []byte
		for seq := uint32(2); seq < 2+n; seq++ {
			s := secSubmit("447700900002")
			s.RegisteredDelivery = 0
			b, err := pdu.Append(nil, seq, pdu.StatusOK, s)
			if err != nil {
				t.Fatal(err)
			}
			burst = append(burst, b...)
		}
		c.raw(burst)
		answered := map[uint32]bool{}
		counts := map[pdu.Status]int{}
		for len(answered) < n {
			h, _, err := c.next()
			if err != nil {
				t.Fatalf("after %d answers: %v", len(answered), err)
			}
			if h.ID != pdu.CmdSubmitSMResp || answered[h.Seq] || h.Seq < 2 || h.Seq >= 2+n {
				t.Fatalf("unexpected %v seq %d (answered before: %v)", h.ID, h.Seq, answered[h.Seq])
			}
			answered[h.Seq] = true
			counts[h.Status]++
		}
		if counts[pdu.StatusThrottled] == 0 || counts[pdu.StatusOK] == 0 || counts[pdu.StatusOK]+counts[pdu.StatusThrottled] != n {
			t.Fatalf("answers by status %v: want ESME_ROK and ESME_RTHROTTLED only, both present", counts)
		}
		t.Logf("%d pipelined submits with --max-pending 8: %v", n, counts)
		c.send(1000, &pdu.EnquireLink{})
		c.expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, 1000)
		c.Close()
		siblingWorks("throttled burst")
	})

	// Leak check: every connection above is closed; the daemon's goroutines
	// return to what they were with only the sibling bound.
	var now int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if now = d.goroutines(t); now <= baseline {
			break
		}
	}
	if now > baseline {
		t.Errorf("daemon goroutines %d after the matrix, baseline %d:\n%s", now, baseline,
			httpGet(t, "http://"+d.http+"/debug/pprof/goroutine?debug=1"))
	}
	d.stop(t)
}

// TestBindLockoutThroughDaemon: password guessing against the real daemon
// with its default limits, from several loopback addresses (Linux routes
// all of 127/8 to lo). Ten wrong passwords from 127.0.0.2 use up both the
// address's and the system_id's failure budget: from then on even the
// right password gets ESME_RBINDFAIL (a guess teaches nothing), from
// 127.0.0.2 and from a new address 127.0.0.4 alike, while the owner's
// address 127.0.0.3 (which bound before) still binds and another token is
// untouched.
func TestBindLockoutThroughDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel() // each runs its own daemon; mostly waiting on timers
	if c, err := net.Dial("tcp", "127.0.0.2:1"); err == nil {
		c.Close()
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Skipf("127.0.0.2 is not routed to lo here: %v", err)
	}
	dir := shortDataDir(t)
	d := startSecDaemon(t, dir) // defaults: --failed-bind-delay 1s, 10 failures, one back every 6s
	victim, pw := createToken(t, dir, "--name", "victim", "--test")
	other, otherPW := createToken(t, dir, "--name", "bystander", "--test")

	bindFrom := func(local, sysID, pass string) pdu.Status {
		c := dialFrom(t, local, d.addr)
		defer c.Close()
		return c.bind(pdu.CmdBindTransmitter, sysID, pass)
	}
	if st := bindFrom("127.0.0.3", victim, pw); st != pdu.StatusOK {
		t.Fatalf("owner's first bind: %v", st)
	}

	// Ten guesses at once (each answer held 1s; parallel connections do
	// not get around the budget).
	const burst = 10
	var wg sync.WaitGroup
	guesses := make(chan pdu.Status, burst)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			guesses <- bindFrom("127.0.0.2", victim, "guess"+strconv.Itoa(i))
		}()
	}
	wg.Wait()
	close(guesses)
	for st := range guesses {
		if st != pdu.StatusInvPaswd {
			t.Fatalf("a wrong guess within the budget got %v, want ESME_RINVPASWD", st)
		}
	}

	// Within the next 6 s (one failure drains per 6 s): all at once.
	results := map[string]chan pdu.Status{}
	for name, b := range map[string][3]string{
		"attacker, right password":    {"127.0.0.2", victim, pw},
		"new address, right password": {"127.0.0.4", victim, pw},
		"owner's address":             {"127.0.0.3", victim, pw},
		"another token":               {"127.0.0.5", other, otherPW},
	} {
		ch := make(chan pdu.Status, 1)
		results[name] = ch
		go func() { ch <- bindFrom(b[0], b[1], b[2]) }()
	}
	for name, want := range map[string]pdu.Status{
		"attacker, right password":    pdu.StatusBindFail,
		"new address, right password": pdu.StatusBindFail,
		"owner's address":             pdu.StatusOK,
		"another token":               pdu.StatusOK,
	} {
		if got := <-results[name]; got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	d.waitLog(t, `"msg":"bind refused: too many failed binds".*"remote":"127\.0\.0\.2:`)
	d.waitLog(t, `"msg":"bind refused: too many failed binds".*"remote":"127\.0\.0\.4:`)
	if log := d.logText(); strings.Contains(log, "guess3") || strings.Contains(log, pw) {
		t.Error("a password (guessed or real) is in the daemon's log")
	}
	d.stop(t)
}

// TestTLSThroughDaemon: go-smpp's TLS transceiver binds and submits over
// --tls-listen with a self-signed certificate; a TLS 1.1 client is refused;
// after the certificate files are replaced and SIGHUP is sent, a new
// handshake gets the new certificate while the established session keeps
// working.
func TestTLSThroughDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel() // each runs its own daemon; mostly waiting on timers
	dir := shortDataDir(t)
	certs := t.TempDir()
	certFile, keyFile := filepath.Join(certs, "cert.pem"), filepath.Join(certs, "key.pem")
	der1 := selfSignedFiles(t, certFile, keyFile, 1)
	d := startSecDaemon(t, dir, "--tls-listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	if d.tls == "" {
		t.Fatal("no tls_listen address in the start line")
	}
	sysID, pw := createToken(t, dir, "--name", "tls", "--test")

	trust := func(der []byte) *tls.Config {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(c)
		return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	}
	connect := func(cfg *tls.Config) *smpp.Transceiver {
		t.Helper()
		trx := &smpp.Transceiver{Addr: d.tls, User: sysID, Passwd: pw, TLS: cfg, BindInterval: time.Minute,
			RespTimeout: 5 * time.Second, Handler: func(p gopdu.Body) {}}
		st := trx.Bind()
		select {
		case s := <-st:
			if s.Status() != smpp.Connected {
				t.Fatalf("go-smpp TLS bind: %v %v", s.Status(), s.Error())
			}
		case <-time.After(15 * time.Second):
			t.Fatal("go-smpp TLS bind: no status within 15s")
		}
		t.Cleanup(func() { trx.Close() })
		return trx
	}
	submit := func(trx *smpp.Transceiver, text string) {
		t.Helper()
		sm, err := trx.Submit(&smpp.ShortMessage{Src: "15550001", Dst: "447700900001", Text: pdutext.Raw(text)})
		if err != nil || sm.RespID() == "" {
			t.Fatalf("submit over TLS: %v (id %q)", err, sm.RespID())
		}
	}
	first := connect(trust(der1))
	submit(first, "over tls")

	// TLS 1.1 and below are refused at the handshake.
	old := trust(der1)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if c, err := tls.Dial("tcp", d.tls, old); err == nil {
		c.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}

	// Renew the certificate on disk, SIGHUP, and a new handshake sees it.
	der2 := selfSignedFiles(t, certFile, keyFile, 2)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var seen []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := tls.Dial("tcp", d.tls, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		seen = c.ConnectionState().PeerCertificates[0].Raw
		c.Close()
		if bytes.Equal(seen, der2) {
			break
		}
	}
	if !bytes.Equal(seen, der2) {
		t.Fatal("after SIGHUP new handshakes still get the old certificate")
	}
	second := connect(trust(der2))
	submit(second, "after reload")
	submit(first, "old session still up") // established sessions keep theirs
	d.stop(t)
}

// metricValue scrapes one unlabelled sample from /metrics (-1: absent).
func (d *secDaemon) metricValue(t *testing.T, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(httpGet(t, "http://"+d.http+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

func (d *secDaemon) waitMetric(t *testing.T, name string, want float64) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = d.metricValue(t, name); got == want {
			return
		}
	}
	t.Fatalf("%s = %v, want %v", name, got, want)
}

// TestSlowConsumerThroughDaemon: a receiver that reads receipts (and
// answers enquire_link) but never acknowledges them gets a bounded number
// of them (under two windows), is closed as slow_consumer once a window's
// worth timed out in a row
// (--response-timeout), and loses nothing: the receipts stay in the store
// and a well-behaved receiver that binds later gets each of them once.
func TestSlowConsumerThroughDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel() // each runs its own daemon; mostly waiting on timers
	dir := shortDataDir(t)
	d := startSecDaemon(t, dir, "--response-timeout", "300ms", "--window", "10")
	sysID, pw := createToken(t, dir, "--name", "receipts", "--test")

	bad := dialFrom(t, "", d.addr)
	if st := bad.bind(pdu.CmdBindReceiver, sysID, pw); st != pdu.StatusOK {
		t.Fatalf("bad receiver bind: %v", st)
	}
	tx := dialFrom(t, "", d.addr)
	if st := tx.bind(pdu.CmdBindTransmitter, sysID, pw); st != pdu.StatusOK {
		t.Fatalf("transmitter bind: %v", st)
	}
	const n = 15
	ids := map[string]bool{}
	for seq := uint32(2); seq < 2+n; seq++ {
		tx.send(seq, secSubmit("447700900"+strconv.Itoa(100+int(seq))))
		var resp pdu.SubmitSMResp
		if err := resp.DecodeBody(tx.expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq)); err != nil {
			t.Fatal(err)
		}
		ids[resp.MessageID] = true
	}

	got := 0
	for {
		h, _, err := bad.next()
		if err != nil {
			break // closed by the server
		}
		if h.ID != pdu.CmdDeliverSM {
			t.Fatalf("bad receiver got %v", h.ID)
		}
		got++ // and never answered
	}
	// The window holds 10; the session closes at the 10th timeout in a row,
	// so at most 9 more can have gone out as earlier ones timed out.
	if got == 0 || got > 2*10-1 {
		t.Fatalf("the unacknowledging receiver got %d receipts, want 1..19 (bounded by the window)", got)
	}
	d.waitLog(t, `"msg":"session closed".*"remote":"`+regexp.QuoteMeta(bad.LocalAddr().String())+`".*"reason":"slow_consumer"`)
	d.waitMetric(t, "smppd_receipts_pending", n)

	good := dialFrom(t, "", d.addr)
	if st := good.bind(pdu.CmdBindReceiver, sysID, pw); st != pdu.StatusOK {
		t.Fatalf("good receiver bind: %v", st)
	}
	seen := map[string]int{}
	for len(seen) < n {
		h, body, err := good.next()
		if err != nil {
			t.Fatalf("good receiver after %d receipts: %v", len(seen), err)
		}
		var dsm pdu.DeliverSM
		if h.ID != pdu.CmdDeliverSM || dsm.DecodeBody(body) != nil {
			t.Fatalf("good receiver got %v", h.ID)
		}
		id, _ := dsm.TLVs.ReceiptedMessageID()
		if !ids[id] {
			t.Fatalf("receipt for unknown id %q", id)
		}
		if seen[id]++; seen[id] > 1 {
			t.Fatalf("receipt for %s delivered twice to the good receiver", id)
		}
		good.send(h.Seq, &pdu.DeliverSMResp{})
	}
	d.waitMetric(t, "smppd_receipts_pending", 0)
	d.stop(t)
}

// TestSecretsNeverLeakThroughDaemon issues tokens through the CLI against
// the running daemon, binds with wrong and right passwords, rotates every
// secret, and then looks for every secret it was shown (and every wrong
// password it tried) in the daemon's log, /metrics, the admin socket's
// list and show answers, and the raw bytes of every file in the data
// directory: none may appear anywhere but in create's and rotate's own
// answers. The data directory, its files and the admin socket are private
// to the daemon's user, and a data directory that others can read is
// warned about at start.
func TestSecretsNeverLeakThroughDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel() // each runs its own daemon; mostly waiting on timers
	dir := shortDataDir(t)
	d := startSecDaemon(t, dir, "--failed-bind-delay", "0") // the delay has its own test
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := runSmppd(t, dir, args...)
		if code != 0 {
			t.Fatalf("smppd %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	issue := func(args ...string) issued {
		t.Helper()
		var v issued
		if err := json.Unmarshal([]byte(cli(append(args, "--output", "json")...)), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	shop := issue("token", "create", "--name", "shop", "--smpp", "--http", "--callback-url", "https://shop.example/dlr")
	long := issue("token", "create", "--name", "long", "--smpp", "--long-password", "--test")
	secrets := append(shop.secrets(), long.secrets()...)
	wrong := []string{"Zq9xWv7K", "Yt8uRr6J", strings.Repeat("Wx", 16)}

	bind := func(sysID, pass string) pdu.Status {
		c := dialFrom(t, "", d.addr)
		defer c.Close()
		return c.bind(pdu.CmdBindTransceiver, sysID, pass)
	}
	for _, b := range []struct {
		sysID, pass string
		want        pdu.Status
	}{
		{shop.SystemID, wrong[0], pdu.StatusInvPaswd},
		{shop.SystemID, shop.Password, pdu.StatusOK},
		{long.SystemID, wrong[2], pdu.StatusInvPaswd},
		{long.SystemID, long.Password[:8], pdu.StatusInvPaswd}, // a client that truncates
		{long.SystemID, long.Password, pdu.StatusOK},
	} {
		if got := bind(b.sysID, b.pass); got != b.want {
			t.Errorf("bind %s: %v, want %v", b.sysID, got, b.want)
		}
	}
	rot := issue("token", "rotate", "shop", "--smpp-password", "--api-key", "--callback-secret")
	if rot.Password == "" || rot.APIKey == "" || rot.CallbackSecret == "" {
		t.Fatalf("rotate showed %+v", rot)
	}
	secrets = append(secrets, rot.secrets()...)
	if got := bind(shop.SystemID, shop.Password); got != pdu.StatusInvPaswd {
		t.Errorf("old password after rotate: %v", got)
	}
	if got := bind(shop.SystemID, wrong[1]); got != pdu.StatusInvPaswd {
		t.Errorf("wrong password after rotate: %v", got)
	}
	if got := bind(shop.SystemID, rot.Password); got != pdu.StatusOK {
		t.Errorf("rotated password: %v", got)
	}

	// Permissions while the daemon runs.
	for name, want := range map[string]os.FileMode{
		".": 0o700, tokenstore.DBFile: 0o600, tokenstore.MasterKeyFile: 0o600, "messages.db": 0o600, admin.SocketFile: 0o600,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}

	places := map[string]string{
		"token list":               cli("token", "list"),
		"token list --output json": cli("token", "list", "--output", "json"),
		"token show shop":          cli("token", "show", "shop"),
		"token show --output json": cli("token", "show", shop.ID, "--output", "json"),
		"token show long":          cli("token", "show", "long"),
		"/metrics":                 httpGet(t, "http://"+d.http+"/metrics"),
	}
	d.stop(t)
	places["daemon log"] = d.logText()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			places["data dir file "+f.Name()] = string(b)
		}
	}
	if places["data dir file "+tokenstore.DBFile] == "" || places["data dir file messages.db"] == "" {
		t.Fatalf("the stores are not where the test looks: %v", files)
	}
	for where, text := range places {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q", where, s)
			}
		}
		for _, s := range wrong {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the tried password %q", where, s)
			}
		}
	}
	if !strings.Contains(places["daemon log"], `"password_length":8`) {
		t.Errorf("failed binds are not logged with the password's length:\n%s", places["daemon log"])
	}

	// A data directory others can read is warned about at start.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d = startSecDaemon(t, dir)
	d.waitLog(t, `"level":"WARN".*data directory is accessible by other users`)
	d.stop(t)
}

// TestSlowlorisThroughDaemon: clients trickling a PDU one byte at a time,
// one before bind and one after, are closed by --read-timeout (logged as
// incomplete_pdu) long before --bind-timeout or the keepalive would, while
// a bound sibling keeps working.
func TestSlowlorisThroughDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel()
	dir := shortDataDir(t)
	d := startSecDaemon(t, dir, "--read-timeout", "300ms", "--bind-timeout", "1m", "--idle-timeout", "1m")
	sysID, pw := createToken(t, dir, "--name", "slow", "--test")

	sibling := dialFrom(t, "", d.addr)
	if st := sibling.bind(pdu.CmdBindTransmitter, sysID, pw); st != pdu.StatusOK {
		t.Fatalf("sibling bind: %v", st)
	}
	unbound := dialFrom(t, "", d.addr)
	bound := dialFrom(t, "", d.addr)
	if st := bound.bind(pdu.CmdBindTransmitter, sysID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	bindPDU, err := pdu.Append(nil, 1, pdu.StatusOK, &pdu.Bind{Cmd: pdu.CmdBindTransmitter, SystemID: sysID, Password: pw, InterfaceVersion: 0x34})
	if err != nil {
		t.Fatal(err)
	}
	submitPDU, err := pdu.Append(nil, 2, pdu.StatusOK, secSubmit("447700900003"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, tr := range []struct {
		c *rawConn
		b []byte
	}{{unbound, bindPDU}, {bound, submitPDU}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tr.b {
				if _, err := tr.c.Write(tr.b[i : i+1]); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	for _, c := range []*rawConn{unbound, bound} {
		c.expectClosed()
		d.waitLog(t, `"msg":"session closed".*"remote":"`+regexp.QuoteMeta(c.LocalAddr().String())+`".*"reason":"incomplete_pdu"`)
	}
	wg.Wait()
	s := secSubmit("447700900004")
	s.RegisteredDelivery = 0
	sibling.send(9, s)
	sibling.expect(pdu.CmdSubmitSMResp, pdu.StatusOK, 9)
	d.stop(t)
}
