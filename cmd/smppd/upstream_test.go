package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/tokenstore"
)

// TestUpstreamStatusCmd runs `smppd upstream status` against an admin
// socket serving the upstream.status operation (no connector: the empty
// status), in text and JSON.
func TestUpstreamStatusCmd(t *testing.T) {
	dir := t.TempDir()
	tokens, err := tokenstore.Open(filepath.Join(dir, "tokens.db"), tokenstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tokens.Close()
	adm := admin.NewServer(tokens, make([]byte, 32), nil)
	registerUpstreamOps(adm, nil)
	ln, err := admin.Listen(filepath.Join(dir, admin.SocketFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- adm.ServeListener(ctx, ln) }()
	defer func() { cancel(); <-served }()

	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		g := &globalOptions{DataDir: dir, Stdout: &out, Stderr: &errOut}
		cmd := newUpstreamCmd(g)
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer tcancel()
		if err := cmd.ExecuteContext(tctx); err != nil {
			t.Fatalf("upstream %v: %v (%s)", args, err, errOut.String())
		}
		return out.String()
	}
	if out := run("status"); !strings.Contains(out, "no upstream configured") || !strings.Contains(out, "outbox 0") {
		t.Errorf("text output:\n%s", out)
	}
	var st upstream.Status
	if err := json.Unmarshal([]byte(run("status", "--output", "json")), &st); err != nil || st.Upstreams == nil {
		t.Errorf("json output: %+v, %v", st, err)
	}
	var out bytes.Buffer
	g := &globalOptions{DataDir: t.TempDir(), Stdout: &out, Stderr: &out}
	cmd := newUpstreamCmd(g)
	cmd.SetArgs([]string{"status"})
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "no smppd daemon") {
		t.Errorf("without a daemon: %v", err)
	}
}
