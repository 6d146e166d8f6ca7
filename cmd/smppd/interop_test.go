package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

// The interop tests bind widely used third-party SMPP clients to the real
// daemon: node-smpp (npm "smpp"), Perl Net::SMPP, the C library libsmpp34
// and Kannel's bearerbox+smsbox (go-smpp is covered by the other tests).
// Their programs and configuration live in test/interop (see its README);
// .ci/run installs the tools. A subtest is skipped, saying what to
// install, only when its tool is missing on the machine.

const interopDir = "../../test/interop"

// interopDest is a destination a client submits to, with what smppd's
// test mode owes it (README "Test mode").
type interopDest struct {
	dest   string
	status string // submit_sm_resp command_status, decimal
	stat   string // receipt's Appendix B stat word; "" when refused
	state  string // receipt's message_state TLV
}

var (
	acceptedDests = []interopDest{
		{dest: "15550002", status: "0", stat: "DELIVRD", state: "2"},
		{dest: "15559001", status: "0", stat: "UNDELIV", state: "5"},
	}
	// refusedDest has a letter in a TON 1 (international) number:
	// ESME_RINVDSTADR (0x0B), no message id, no receipt.
	refusedDest = interopDest{dest: "1555000A", status: "11"}
	// allDests puts the refused submit between two accepted ones.
	allDests = []interopDest{acceptedDests[0], refusedDest, acceptedDests[1]}
)

// interopToken issues a test-mode SMPP token through the real CLI. Each
// subtest has its own, so receipts (served round-robin to a token's
// receivers) cannot go to another client.
func interopToken(t *testing.T, dataDir, name string) (systemID, password string) {
	t.Helper()
	out := runCLI(t, "token", "create", "--data-dir", dataDir, "--name", name, "--smpp", "--test", "--output", "json")
	var created struct {
		SystemID string `json:"system_id"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.SystemID == "" || len(created.Password) != 8 {
		t.Fatalf("token create output %q: %v (want an 8-character password)", out, err)
	}
	return created.SystemID, created.Password
}

func TestInterop(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemon(t, dataDir)
	host, port, err := net.SplitHostPort(d.addr)
	if err != nil {
		t.Fatal(err)
	}
	// runClient runs one client program with the common arguments and
	// checks the lines it printed.
	runClient := func(t *testing.T, mode string, binds []string, dests []interopDest, argv ...string) {
		systemID, password := interopToken(t, dataDir, strings.ReplaceAll(t.Name(), "/", "-"))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := append(argv[1:], host, port, systemID, password, mode)
		for _, d := range dests {
			args = append(args, d.dest)
		}
		cmd := exec.CommandContext(ctx, argv[0], args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		t.Logf("%s output:\n%s", filepath.Base(argv[len(argv)-1]), out)
		if err != nil {
			t.Fatalf("%s: %v\nstderr:\n%s", strings.Join(argv, " "), err, stderr.String())
		}
		checkClientLines(t, string(out), binds, dests)
	}

	t.Run("node-smpp", func(t *testing.T) {
		t.Parallel()
		node, err := exec.LookPath("node")
		if err != nil {
			t.Skip("node is not installed: install Node.js 18+ (CI: .ci/run)")
		}
		if _, err := os.Stat(filepath.Join(interopDir, "node/node_modules/smpp")); err != nil {
			t.Skip("npm package smpp missing: run `npm ci` in test/interop/node (CI: .ci/run)")
		}
		script := filepath.Join(interopDir, "node/client.js")
		t.Run("transceiver", func(t *testing.T) {
			runClient(t, "trx", []string{"transceiver"}, allDests, node, script)
		})
		t.Run("transmitter+receiver", func(t *testing.T) {
			runClient(t, "txrx", []string{"receiver", "transmitter"}, allDests, node, script)
		})
	})

	t.Run("perl-Net-SMPP", func(t *testing.T) {
		t.Parallel()
		perl, err := exec.LookPath("perl")
		if err != nil {
			t.Skip("perl is not installed")
		}
		if out, err := exec.Command(perl, "-MNet::SMPP", "-e1").CombinedOutput(); err != nil {
			t.Skipf("Net::SMPP missing: apt-get install libnet-smpp-perl (CI: .ci/run): %s", bytes.TrimSpace(out))
		}
		script := filepath.Join(interopDir, "perl/client.pl")
		t.Run("transceiver", func(t *testing.T) {
			runClient(t, "trx", []string{"transceiver"}, allDests, perl, script)
		})
		t.Run("transmitter+receiver", func(t *testing.T) {
			runClient(t, "txrx", []string{"receiver", "transmitter"}, allDests, perl, script)
		})
	})

	t.Run("c-libsmpp34", func(t *testing.T) {
		t.Parallel()
		cc, err := exec.LookPath("gcc")
		if err != nil {
			t.Skip("gcc is not installed (CI: .ci/run)")
		}
		const include = "/usr/include/libsmpp34"
		if _, err := os.Stat(filepath.Join(include, "smpp34.h")); err != nil {
			t.Skip("libsmpp34 headers missing: apt-get install libsmpp34-dev (CI: .ci/run)")
		}
		bin := filepath.Join(t.TempDir(), "client")
		if out, err := exec.Command(cc, "-Wall", "-Werror", "-o", bin, filepath.Join(interopDir, "c/client.c"),
			"-I"+include, "-lsmpp34").CombinedOutput(); err != nil {
			t.Fatalf("compiling the libsmpp34 client: %v\n%s", err, out)
		}
		t.Run("transceiver", func(t *testing.T) {
			runClient(t, "trx", []string{"transceiver"}, acceptedDests, bin)
		})
		// Apart, so that a regression shows as itself: libsmpp34 unpacks a
		// refused submit_sm_resp only without a body, as SMPP 3.4 §4.4.2
		// says; smppd sent an empty message_id until commit 2af8731.
		t.Run("refused submit", func(t *testing.T) {
			runClient(t, "trx", []string{"transceiver"}, allDests, bin)
		})
	})

	for _, v := range []kannelVariant{
		{name: "transceiver", transceiver: true},
		// Kannel reads the transmitter and the receiver connection in two
		// threads and drops a receipt that it reads before the submit_sm_resp
		// it belongs to ("got DLR but could not find message"); smppd's
		// test-mode receipts come at once by default, so this variant gives
		// them the second a real SMSC would take, as docs/integration-guide.md
		// (Kannel) tells integrators to.
		{name: "transmitter+receiver msg-id-type=0x03", msgIDType: "0x03", receiptDelay: "1s"},
	} {
		t.Run("kannel/"+v.name, func(t *testing.T) {
			t.Parallel()
			bins := kannelBinaries(t)
			dir, smppHost, smppPort := dataDir, host, port
			if v.receiptDelay != "" {
				dir = t.TempDir()
				d := startDaemon(t, dir, "--test-receipt-delay", v.receiptDelay)
				var err error
				if smppHost, smppPort, err = net.SplitHostPort(d.addr); err != nil {
					t.Fatal(err)
				}
			}
			systemID, password := interopToken(t, dir, "kannel-"+strings.ReplaceAll(v.name, " ", "-"))
			testKannel(t, bins, smppHost, smppPort, systemID, password, v)
		})
	}
}

// checkClientLines checks what a client program printed (the line protocol
// of test/interop/README.md): every bind, submit, enquire_link and unbind
// answered ESME_ROK, one receipt per submit that the client parsed, whose
// receipted_message_id TLV and text id: both equal the submit_sm_resp
// message_id, with the stat and message_state test mode owes.
func checkClientLines(t *testing.T, out string, binds []string, dests []interopDest) {
	t.Helper()
	type receipt struct{ textID, stat, state, esm string }
	var (
		gotBinds          []string
		submitted         = map[string][2]string{} // dest -> command_status, message_id
		receipts          = map[string]receipt{}   // receipted_message_id -> receipt
		enquires, unbinds int
		done              bool
	)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		bad := func() { t.Errorf("client line %q", sc.Text()) }
		switch {
		case f[0] == "bind" && len(f) == 3:
			if f[2] != "0" {
				bad()
			}
			gotBinds = append(gotBinds, f[1])
		case f[0] == "submit" && len(f) == 4:
			submitted[f[1]] = [2]string{f[2], f[3]}
		case f[0] == "receipt" && len(f) == 6:
			if _, dup := receipts[f[1]]; dup {
				t.Errorf("receipt for %s twice (was deliver_sm_resp understood?)", f[1])
			}
			receipts[f[1]] = receipt{f[2], f[3], f[4], f[5]}
		case f[0] == "enquire_link" && len(f) == 2:
			if f[1] != "0" {
				bad()
			}
			enquires++
		case f[0] == "unbind" && len(f) == 2:
			if f[1] != "0" {
				bad()
			}
			unbinds++
		case f[0] == "done":
			done = true
		default:
			bad()
		}
	}
	if strings.Join(gotBinds, ",") != strings.Join(binds, ",") {
		t.Errorf("binds %v, want %v", gotBinds, binds)
	}
	accepted := 0
	for _, want := range dests {
		sub, ok := submitted[want.dest]
		if !ok {
			t.Errorf("no submit_sm_resp for %s", want.dest)
			continue
		}
		status, id := sub[0], sub[1]
		if want.stat == "" {
			if status != want.status || id != "-" {
				t.Errorf("%s: submit_sm_resp status %s message_id %q, want status %s and no id", want.dest, status, id, want.status)
			}
			continue
		}
		accepted++
		if status != want.status || id == "-" {
			t.Errorf("%s: submit_sm_resp status %s message_id %q, want status %s and an id", want.dest, status, id, want.status)
			continue
		}
		r, ok := receipts[id]
		if !ok {
			t.Errorf("%s: no receipt whose receipted_message_id is the submit_sm_resp id %q", want.dest, id)
			continue
		}
		if r != (receipt{id, want.stat, want.state, "4"}) {
			t.Errorf("%s: receipt id:%s stat:%s message_state:%s esm_class:%s, want id:%s stat:%s message_state:%s esm_class:4",
				want.dest, r.textID, r.stat, r.state, r.esm, id, want.stat, want.state)
		}
	}
	if len(receipts) != accepted {
		t.Errorf("%d receipts, want %d", len(receipts), accepted)
	}
	if enquires != len(binds) || unbinds != len(binds) {
		t.Errorf("%d enquire_link_resp and %d unbind_resp, want %d each", enquires, unbinds, len(binds))
	}
	if !done {
		t.Error("the client did not finish")
	}
}

// kannelDLR is one delivery report Kannel's smsbox called the dlr-url with.
type kannelDLR struct {
	dest      string
	typ       string // %d: 1 delivered, 2 failed, 8 accepted by the SMSC
	foreignID string // %F: the SMSC's message id
	text      string // %A: the receipt's text, or "ACK/" for type 8
}

// kannelVariant is one way of configuring Kannel's smsc group for smppd.
type kannelVariant struct {
	name         string
	transceiver  bool   // transceiver-mode = true; else a transmitter and a receiver (receive-port)
	msgIDType    string // msg-id-type; "" leaves it unset (ids compared as strings)
	receiptDelay string // smppd --test-receipt-delay; "" = the default, at once
}

// testKannel runs bearerbox (binding a transceiver to smppd with the smsc
// group of docs/integration-guide.md) and smsbox, sends one message per
// destination through sendsms with dlr-mask 11 (delivered, failed, SMSC
// accepted), and reads the reports from dlr-url: the type 8 report carries
// the submit_sm_resp id, the final one exists only when Kannel matched the
// receipt's id to it.
func testKannel(t *testing.T, bins [2]string, host, port, systemID, password string, v kannelVariant) {
	dlrs := make(chan kannelDLR, 16)
	dlrServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		dlrs <- kannelDLR{dest: q.Get("dest"), typ: q.Get("type"), foreignID: q.Get("fid"), text: q.Get("text")}
	}))
	t.Cleanup(dlrServer.Close)

	dir := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"bearerbox.log", "smsbox.log", "bearerbox.out", "smsbox.out"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("%s (last 6 kB):\n%s", f, b[max(0, len(b)-6<<10):])
			}
		}
	})
	conf := filepath.Join(dir, "kannel.conf")
	vars := struct {
		Dir, Secret, SMPPPort, SystemID, Password, MsgIDType string
		AdminPort, SmsboxPort, SendsmsPort                   int
		Transceiver                                          bool
	}{dir, "interop1", port, systemID, password, v.msgIDType, freePort(t), freePort(t), freePort(t), v.transceiver}
	tmpl := template.Must(template.ParseFiles(filepath.Join(interopDir, "kannel/kannel.conf.tmpl")))
	var rendered bytes.Buffer
	if err := tmpl.Execute(&rendered, vars); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, rendered.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	bearerbox := startKannelBox(t, bins[0], conf, filepath.Join(dir, "bearerbox.out"))
	// smsbox gives up at once when bearerbox does not listen yet.
	waitForListener(t, vars.SmsboxPort, 15*time.Second)
	startKannelBox(t, bins[1], conf, filepath.Join(dir, "smsbox.out"))
	bearerLog := filepath.Join(dir, "bearerbox.log")

	send := func(from, to, mask string) {
		dlrURL := dlrServer.URL + "/dlr?dest=" + to + "&type=%d&fid=%F&text=%A"
		q := url.Values{"username": {"interop"}, "password": {vars.Secret}, "from": {from},
			"to": {to}, "text": {"hello from Kannel"}, "dlr-mask": {mask}, "dlr-url": {dlrURL}}
		sendsms(t, fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms?%s", vars.SendsmsPort, q.Encode()))
	}
	for _, want := range acceptedDests {
		send("15550001", want.dest, "11") // delivered, failed, accepted by the SMSC
	}
	// smsbox itself refuses a destination with a letter (refusedDest); a
	// 13-character alphanumeric sender gets past it, and smppd refuses it
	// with ESME_RINVSRCADR, which Kannel reports as type 16 (SMSC reject).
	const refusedTo = "15550005"
	send("ThisIsTooLong", refusedTo, "27")

	// Per destination: the id smppd answered submit_sm with (type 8), and
	// the final report Kannel matched to it; the refused one's type 16.
	accepted := map[string]string{}
	final := map[string]kannelDLR{}
	deadline := time.After(20 * time.Second)
	for len(final) < len(acceptedDests)+1 || len(accepted) < len(acceptedDests) {
		select {
		case r := <-dlrs:
			t.Logf("dlr-url: dest=%s type=%s id=%s text=%q", r.dest, r.typ, r.foreignID, r.text)
			if r.typ == "8" {
				accepted[r.dest] = r.foreignID
			} else {
				final[r.dest] = r
			}
		case <-deadline:
			t.Fatalf("after 20s Kannel reported submits %v and receipts %v", accepted, final)
		}
	}
	if r := final[refusedTo]; r.typ != "16" || !strings.HasPrefix(r.text, "NACK/0x0000000a/") || accepted[refusedTo] != "" {
		t.Errorf("refused submit: report type %s text %q (and accepted as %q); want type 16, NACK/0x0000000a/…",
			r.typ, r.text, accepted[refusedTo])
	}
	for _, want := range acceptedDests {
		id, r := accepted[want.dest], final[want.dest]
		wantType := map[string]string{"DELIVRD": "1", "UNDELIV": "2"}[want.stat]
		// %F is the id as Kannel stores it: with msg-id-type 0x03 it read
		// both smppd ids as hexadecimal and keeps them in decimal.
		textID := id
		if v.msgIDType == "0x03" {
			n, err := strconv.ParseUint(id, 10, 64)
			if err != nil {
				t.Errorf("%s: Kannel's id %q is not decimal with msg-id-type 0x03", want.dest, id)
			}
			textID = strconv.FormatUint(n, 16)
		}
		if id == "" || r.foreignID != id || r.typ != wantType ||
			!strings.Contains(r.text, "id:"+textID+" ") || !strings.Contains(r.text, "stat:"+want.stat+" ") {
			t.Errorf("%s: submit_sm_resp id %q, report type %s id %q text %q; want type %s, the same id, stat:%s",
				want.dest, id, r.typ, r.foreignID, r.text, wantType, want.stat)
		}
	}

	// enquire-link-interval is 1s: wait for one answered enquire_link.
	waitForLog(t, bearerLog, kannelGotOK("enquire_link_resp"), 5*time.Second)
	b, _ := os.ReadFile(bearerLog)
	binds := []string{"bind_transceiver_resp"}
	if !v.transceiver {
		binds = []string{"bind_transmitter_resp", "bind_receiver_resp"}
	}
	for _, bind := range binds {
		if !kannelGotOK(bind).Match(stripLogPrefix(b)) {
			t.Errorf("bearerbox.log has no successful %s", bind)
		}
	}
	if bytes.Contains(b, []byte("could not find message")) {
		t.Error("bearerbox.log: Kannel got a receipt it could not match to a message")
	}

	// Shutting bearerbox down unbinds the SMSC link.
	shutdown := fmt.Sprintf("http://127.0.0.1:%d/shutdown?password=%s", vars.AdminPort, vars.Secret)
	if resp, err := http.Get(shutdown); err != nil {
		t.Fatalf("kannel shutdown: %v", err)
	} else {
		resp.Body.Close()
	}
	select {
	case <-bearerbox:
	case <-time.After(15 * time.Second):
		t.Fatal("bearerbox did not stop within 15s of /shutdown")
	}
	b, _ = os.ReadFile(bearerLog)
	if n := len(kannelGotOK("unbind_resp").FindAllIndex(stripLogPrefix(b), -1)); n != len(binds) {
		t.Errorf("bearerbox.log: %d successful unbind_resp after /shutdown, want %d", n, len(binds))
	}
}

// kannelBinaries finds bearerbox and smsbox (in /usr/sbin, which a
// non-root PATH may lack), or skips the test.
func kannelBinaries(t *testing.T) [2]string {
	var bins [2]string
	for i, name := range []string{"bearerbox", "smsbox"} {
		p, err := exec.LookPath(name)
		if err != nil {
			if p, err = exec.LookPath("/usr/sbin/" + name); err != nil {
				t.Skipf("Kannel's %s is not installed: apt-get install kannel (CI: .ci/run)", name)
			}
		}
		bins[i] = p
	}
	return bins
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// programs (Kannel) that cannot be told to listen on port 0.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startKannelBox runs a Kannel box on conf; it is killed at cleanup if it
// still runs. The returned channel is closed when it exits.
func startKannelBox(t *testing.T, bin, conf, outFile string) <-chan struct{} {
	t.Helper()
	out, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf)
	cmd.Dir = filepath.Dir(conf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		out.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	return exited
}

// waitForListener waits until something accepts connections on the port.
func waitForListener(t *testing.T, port int, wait time.Duration) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %v: %v", addr, wait, err)
		}
	}
}

// sendsms calls smsbox's sendsms, retrying while smsbox is still starting.
func sendsms(t *testing.T, u string) {
	t.Helper()
	var lastErr error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(u)
		if err != nil {
			lastErr = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("sendsms: %s: %s", resp.Status, body)
		}
		return
	}
	t.Fatalf("sendsms: smsbox did not answer within 15s: %v", lastErr)
}

// kannelLogLine is one line of a Kannel log: "date time [pid] [thread] LEVEL: text".
var kannelLogLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[\d+\] \[(\d+)\] [A-Z]+: +(.*)$`)

// kannelGotOK matches bearerbox's dump of a received PDU of that type with
// command_status 0 (in a log rearranged by stripLogPrefix).
func kannelGotOK(typeName string) *regexp.Regexp {
	return regexp.MustCompile(`Got PDU:\nSMPP PDU \S+ dump:\ntype_name: ` + typeName + `\n.*\ncommand_status: 0 `)
}

// stripLogPrefix rearranges a Kannel log so that PDU dumps can be matched
// line by line: each thread's lines together (other threads interleave
// theirs into a dump), without the "date [pid] [thread] LEVEL:" prefixes.
func stripLogPrefix(b []byte) []byte {
	var order []string
	byThread := map[string]*bytes.Buffer{}
	for _, line := range strings.Split(string(b), "\n") {
		m := kannelLogLine.FindStringSubmatch(line)
		if m == nil {
			continue // the continuation of a multi-line message
		}
		buf, ok := byThread[m[1]]
		if !ok {
			buf = new(bytes.Buffer)
			byThread[m[1]] = buf
			order = append(order, m[1])
		}
		buf.WriteString(m[2])
		buf.WriteByte('\n')
	}
	var out []byte
	for _, th := range order {
		out = append(out, byThread[th].Bytes()...)
	}
	return out
}

// waitForLog waits until the Kannel log file matches re (prefixes stripped).
func waitForLog(t *testing.T, file string, re *regexp.Regexp, wait time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(file)
		if re.Match(stripLogPrefix(b)) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: no %q within %v", filepath.Base(file), re, wait)
			return
		}
	}
}
