package main

import (
	"bufio"
	"encoding/json"
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
