package main

import (
	"bufio"
	"encoding/json"
	"github.com/smppd/smppd/pdu"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// smppdBinary builds the real binary once per test run.
func smppdBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smppd-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "smppd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("building smppd: %v\n%s", binErr, binPath)
	}
	return binPath
}

// daemon is a running `smppd serve` process.
type daemon struct {
	cmd   *exec.Cmd
	addr  string // SMPP listen address
	http  string // metrics listen address
	exit  chan error
	lines chan map[string]any // JSON log lines after the start line
}

// startDaemon runs `smppd serve` on 127.0.0.1:0 ports in dataDir and waits
// for its "smppd serving" log line, which names the addresses.
func startDaemon(t *testing.T, dataDir string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0", "--log-format", "json"}, extra...)
	cmd := exec.Command(smppdBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, exit: make(chan error, 1), lines: make(chan map[string]any, 1024)}
	started := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			if m["msg"] == "smppd serving" {
				started <- m
				continue
			}
			select {
			case d.lines <- m:
			default:
			}
		}
		d.exit <- cmd.Wait()
		close(d.lines)
	}()
	t.Cleanup(func() { d.kill() })
	select {
	case m := <-started:
		d.addr, _ = m["listen"].(string)
		d.http, _ = m["http_listen"].(string)
	case err := <-d.exit:
		t.Fatalf("smppd serve exited before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("smppd serve did not start within 30s")
	}
	return d
}

// kill sends SIGKILL (no chance to flush anything) and waits.
func (d *daemon) kill() {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Kill()
	<-d.exit
}

// stop sends SIGTERM and returns the exit error.
func (d *daemon) stop(t *testing.T) error {
	t.Helper()
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-d.exit:
		d.exit <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("smppd did not stop within 30s of SIGINT")
		return nil
	}
}

// dialDaemon connects to the daemon's SMPP port.
func dialDaemon(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var _ = strings.Contains

// submitForReceipt sends one submit_sm asking for a final receipt over a
// bound transceiver and reads until both its submit_sm_resp (ESME_ROK) and
// the receipt arrived; it acknowledges the receipt. It returns the message
// id from the response and the receipt's receipted_message_id and state.
func submitForReceipt(t *testing.T, e *pipelinedESME, r *pdu.Reader, dest, text string, wait time.Duration) (msgID, receiptID string, state pdu.MessageState) {
	t.Helper()
	s := &pdu.SubmitSM{
		Source:             pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "15550001"},
		Dest:               pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: dest},
		RegisteredDelivery: 1,
		ShortMessage:       []byte(text),
	}
	if err := e.write(2, pdu.StatusOK, s); err != nil {
		t.Fatal(err)
	}
	e.conn.SetReadDeadline(time.Now().Add(wait))
	defer e.conn.SetReadDeadline(time.Time{})
	for msgID == "" || receiptID == "" {
		h, body, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("read (message id %q): %v", msgID, err)
		}
		p, err := pdu.Decode(h, body)
		if err != nil {
			t.Fatal(err)
		}
		switch p := p.(type) {
		case *pdu.SubmitSMResp:
			if h.Status != pdu.StatusOK {
				t.Fatalf("submit: %v", h.Status)
			}
			msgID = p.MessageID
		case *pdu.DeliverSM:
			receiptID, _ = p.TLVs.ReceiptedMessageID()
			if receiptID == "" {
				t.Fatalf("receipt without receipted_message_id: %q", p.ShortMessage)
			}
			state, _ = p.TLVs.MessageState()
			e.write(h.Seq, pdu.StatusOK, &pdu.DeliverSMResp{})
		}
	}
	return msgID, receiptID, state
}
