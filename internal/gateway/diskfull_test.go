package gateway_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/pdu"
)

// TestDiskFull puts messages.db on a 256 KiB tmpfs and submits until the disk
// is full: every answer is ESME_ROK (stored) or ESME_RSYSERR/ESME_RMSGQFUL
// (not stored), never a false ESME_ROK — every acknowledged id is in the
// store afterwards. It needs root (mount); CI runs as root.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })

	e := newEnvIn(t, gateway.Config{}, dir)
	tok, pw := e.token("full", true, nil)
	c := dialRaw(t, e.addr)
	if st := c.bind(pdu.CmdBindTransmitter, tok.SystemID, pw); st != pdu.StatusOK {
		t.Fatalf("bind: %v", st)
	}
	var acked []string
	failures := 0
	for i := 0; i < 20000 && failures < 5; i++ {
		s := submit("447700900005", 0)
		s.ShortMessage = []byte(strings.Repeat("x", 250))
		h, resp := c.call(s)
		switch h.Status {
		case pdu.StatusOK:
			acked = append(acked, idOf(t, resp))
		case pdu.StatusSysErr, pdu.StatusMsgQFul:
			failures++
		default:
			t.Fatalf("submit %d: unexpected %v", i, h.Status)
		}
	}
	if failures == 0 {
		t.Fatalf("the 256 KiB disk never filled after %d messages", len(acked))
	}
	t.Logf("%d messages acknowledged before the disk filled", len(acked))

	// Every acknowledged message is in the store: query_sm finds each.
	for _, id := range acked {
		if h, _ := c.call(&pdu.QuerySM{MessageID: id}); h.Status != pdu.StatusOK {
			t.Fatalf("acknowledged message %s is not stored (query_sm %v)", id, h.Status)
		}
	}
}
