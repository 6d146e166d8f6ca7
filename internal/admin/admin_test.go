package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/smppd/smppd/tokenstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// shortDir returns a fresh directory with a path short enough for a unix
// socket (t.TempDir() under a long test name may exceed sun_path).
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "adm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

type fixture struct {
	store   *tokenstore.Store
	srv     *Server
	client  *Client
	key     []byte
	sock    string
	mu      sync.Mutex
	changed []tokenstore.Token
}

// start runs a Server on a fresh data directory until the test ends.
func start(t *testing.T) *fixture {
	t.Helper()
	dir := shortDir(t)
	st, err := tokenstore.Open(filepath.Join(dir, tokenstore.DBFile), tokenstore.Options{
		KDF: tokenstore.KDFParams{Time: 1, Memory: 64, Threads: 1}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	key, err := tokenstore.LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, key: key, sock: filepath.Join(dir, SocketFile)}
	f.srv = NewServer(st, key, nil)
	f.srv.Hooks.TokenChanged = func(tok tokenstore.Token) {
		f.mu.Lock()
		f.changed = append(f.changed, tok)
		f.mu.Unlock()
	}
	ln, err := Listen(f.sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeListener() = %v", err)
		}
		if _, err := os.Lstat(f.sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file left after shutdown: %v", err)
		}
		st.Close()
	})
	f.client = NewClient(f.sock)
	return f
}

func (f *fixture) takeChanged() []tokenstore.Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.changed
	f.changed = nil
	return c
}

func TestTokenOpsThroughSocket(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := f.client

	cr, err := c.CreateToken(ctx, tokenstore.CreateParams{Name: "shop", Permissions: tokenstore.Permissions{SMPP: true}})
	if err != nil {
		t.Fatal(err)
	}
	if cr.Secrets.Password == "" || cr.Secrets.APIKey == "" || cr.CallbackSecret != tokenstore.CallbackSecret(f.key, cr.Token) {
		t.Errorf("CreateToken() result = %+v", cr)
	}
	if got := f.takeChanged(); len(got) != 1 || got[0].ID != cr.Token.ID {
		t.Errorf("TokenChanged after create = %v", got)
	}

	got, err := c.GetToken(ctx, "shop")
	if err != nil || got.ID != cr.Token.ID || got.SystemID != cr.Token.SystemID {
		t.Errorf("GetToken() = %+v, %v", got, err)
	}
	list, err := c.ListTokens(ctx)
	if err != nil || len(list) != 1 {
		t.Errorf("ListTokens() = %v, %v", list, err)
	}
	if got := f.takeChanged(); len(got) != 0 {
		t.Errorf("TokenChanged after reads = %v, want none", got)
	}

	off := false
	ur, err := c.UpdateToken(ctx, "shop", tokenstore.UpdateParams{SMPP: &off, HTTP: new(true)})
	if err != nil || ur.Token.Permissions.SMPP || !ur.Token.Permissions.HTTP || ur.Secrets != (tokenstore.Secrets{}) {
		t.Errorf("UpdateToken() = %+v, %v", ur, err)
	}
	if got := f.takeChanged(); len(got) != 1 || got[0].Permissions.SMPP {
		t.Errorf("TokenChanged after removing SMPP = %v, want the token without SMPP", got)
	}

	rr, err := c.RotateToken(ctx, cr.Token.ID, tokenstore.RotateParams{CallbackSecret: true})
	if err != nil || rr.Token.CallbackSecretVersion != 1 || rr.CallbackSecret == cr.CallbackSecret ||
		rr.CallbackSecret != tokenstore.CallbackSecret(f.key, rr.Token) {
		t.Errorf("RotateToken(callback) = %+v, %v", rr, err)
	}
	f.takeChanged()

	rv, err := c.RevokeToken(ctx, "shop")
	if err != nil || rv.Active() {
		t.Errorf("RevokeToken() = %+v, %v", rv, err)
	}
	if got := f.takeChanged(); len(got) != 1 || got[0].Active() {
		t.Errorf("TokenChanged after revoke = %v, want the revoked token", got)
	}
}

func TestErrorsCrossTheSocket(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := f.client
	if _, err := c.CreateToken(ctx, tokenstore.CreateParams{Name: "shop", Permissions: tokenstore.Permissions{HTTP: true}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"not found", func() error { _, err := c.GetToken(ctx, "nosuch"); return err }, tokenstore.ErrNotFound},
		{"duplicate", func() error {
			_, err := c.CreateToken(ctx, tokenstore.CreateParams{Name: "shop", Permissions: tokenstore.Permissions{HTTP: true}})
			return err
		}, tokenstore.ErrDuplicateName},
		{"bad url", func() error {
			_, err := c.CreateToken(ctx, tokenstore.CreateParams{Name: "x", Permissions: tokenstore.Permissions{HTTP: true}, CallbackURL: "x"})
			return err
		}, tokenstore.ErrInvalidURL},
		{"no permission", func() error {
			_, err := c.CreateToken(ctx, tokenstore.CreateParams{Name: "x"})
			return err
		}, tokenstore.ErrNoPermission},
		{"no smpp", func() error {
			_, err := c.RotateToken(ctx, "shop", tokenstore.RotateParams{SMPPPassword: true})
			return err
		}, tokenstore.ErrNoSMPP},
		{"unknown op", func() error { return c.Call(ctx, "nosuch.op", nil, nil) }, ErrUnknownOp},
		{"bad args", func() error { return c.Call(ctx, OpTokenGet, []int{1}, nil) }, ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var re *RemoteError
			if !errors.As(err, &re) || strings.Contains(re.Message, "\n") {
				t.Errorf("err = %#v, want a one-line *RemoteError", err)
			}
		})
	}
	if got := f.takeChanged(); len(got) != 1 {
		t.Errorf("failed calls fired TokenChanged: %v", got)
	}
}

// TestAnswersHoldNoSecrets reads the raw answers of the operations that
// must not carry secrets.
func TestAnswersHoldNoSecrets(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	cr, err := f.client.CreateToken(ctx, tokenstore.CreateParams{Name: "shop", Permissions: tokenstore.Permissions{SMPP: true, HTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{cr.Secrets.Password, cr.Secrets.APIKey, cr.CallbackSecret}
	calls := []struct {
		op   string
		args any
	}{
		{OpTokenGet, tokenRef{Token: "shop"}},
		{OpTokenList, nil},
		{OpTokenUpdate, updateArgs{Token: "shop", Params: tokenstore.UpdateParams{TestMode: new(true)}}},
		{OpTokenRevoke, tokenRef{Token: "shop"}},
	}
	for _, c := range calls {
		var raw json.RawMessage
		if err := f.client.Call(ctx, c.op, c.args, &raw); err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		for _, s := range secrets {
			if strings.Contains(string(raw), s) {
				t.Errorf("%s answer %s holds secret %q", c.op, raw, s)
			}
		}
	}
}

func TestCustomHandlerAndPing(t *testing.T) {
	f := start(t)
	f.srv.Handle("sessions.list", func(_ context.Context, req json.RawMessage) (any, error) {
		var args struct{ Token string }
		json.Unmarshal(req, &args)
		if args.Token == "boom" {
			return nil, errors.New("gateway: no such session")
		}
		return []string{"s1:" + args.Token}, nil
	})
	var out []string
	if err := f.client.Call(context.Background(), "sessions.list", map[string]string{"token": "shop"}, &out); err != nil || len(out) != 1 || out[0] != "s1:shop" {
		t.Errorf("custom op = %v, %v", out, err)
	}
	err := f.client.Call(context.Background(), "sessions.list", map[string]string{"token": "boom"}, nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != "error" || re.Message != "gateway: no such session" {
		t.Errorf("custom op error = %#v", err)
	}
	if pid, err := f.client.Ping(context.Background()); err != nil || pid != os.Getpid() {
		t.Errorf("Ping() = %d, %v", pid, err)
	}
}

func TestMalformedRequest(t *testing.T) {
	f := start(t)
	c, err := net.Dial("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "{not json\n")
	var resp response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	if resp.Error == nil || resp.Error.Code != "bad_request" {
		t.Errorf("answer = %+v, want bad_request", resp)
	}
}

func TestListen(t *testing.T) {
	f := start(t)
	fi, err := os.Lstat(f.sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := Listen(f.sock); !errors.Is(err, ErrDaemonRunning) {
		t.Errorf("Listen() beside a live daemon = %v, want ErrDaemonRunning", err)
	}

	dir := shortDir(t)
	stale := filepath.Join(dir, SocketFile)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // a crashed daemon's leftover
	ln2, err := Listen(stale)
	if err != nil {
		t.Fatalf("Listen() over a stale socket = %v", err)
	}
	ln2.Close()

	notSock := filepath.Join(dir, "file")
	os.WriteFile(notSock, nil, 0o600)
	if _, err := Listen(notSock); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen() over a regular file = %v", err)
	}
}

func TestClientNoDaemon(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, SocketFile)
	if _, err := NewClient(sock).ListTokens(context.Background()); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("no socket file: %v, want ErrNoDaemon", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := NewClient(sock).ListTokens(context.Background()); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("stale socket file: %v, want ErrNoDaemon", err)
	}
}
