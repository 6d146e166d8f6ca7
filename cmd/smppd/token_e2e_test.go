package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

// runSmppd runs the built binary and returns its outputs and exit code.
func runSmppd(t *testing.T, dataDir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(smppdBinary(t), append([]string{"--data-dir", dataDir}, args...)...)
	cmd.Env = append(os.Environ(), "SMPPD_DATA_DIR=") // the flag decides
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running smppd %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// issued is what create and rotate print with --output json.
type issued struct {
	tokenView
	Password       string `json:"password"`
	APIKey         string `json:"api_key"`
	CallbackSecret string `json:"callback_secret"`
}

func (i issued) secrets() []string {
	var s []string
	for _, v := range []string{i.Password, i.APIKey, i.CallbackSecret} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// tokenLifeCycle runs create → list → show → update → rotate → revoke
// through the binary and returns every secret it was shown. It is the
// same whether or not a daemon runs, which is the point.
func tokenLifeCycle(t *testing.T, dataDir string) (shop, rotated issued, secrets []string) {
	t.Helper()
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := runSmppd(t, dataDir, args...)
		if code != 0 {
			t.Fatalf("smppd %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	decode := func(out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("bad JSON %v:\n%s", err, out)
		}
	}

	decode(mustRun("token", "create", "--name", "shop", "--smpp", "--http", "--callback-url", "https://shop.example/dlr",
		"--allow-ip", "127.0.0.0/8", "--output", "json"), &shop)
	if shop.SystemID == "" || len(shop.Password) != tokenstore.ShortPasswordLen || !strings.HasPrefix(shop.APIKey, tokenstore.APIKeyLive) ||
		!strings.HasPrefix(shop.CallbackSecret, tokenstore.CallbackSecretPrefix) {
		t.Fatalf("create: %+v", shop)
	}
	secrets = append(secrets, shop.secrets()...)
	var long issued
	decode(mustRun("token", "create", "--name", "long", "--smpp", "--long-password", "--test", "--output", "json"), &long)
	if len(long.Password) != tokenstore.LongPasswordLen || !strings.HasPrefix(long.APIKey, tokenstore.APIKeyTest) {
		t.Fatalf("create --long-password --test: %+v", long)
	}
	secrets = append(secrets, long.secrets()...)

	listOut := mustRun("token", "list", "--output", "json")
	var list []tokenView
	decode(listOut, &list)
	if len(list) != 2 || list[0].Name != "shop" || list[1].Name != "long" {
		t.Errorf("list = %+v", list)
	}
	table := mustRun("token", "list")
	showOut := mustRun("token", "show", "shop")

	var upd issued
	decode(mustRun("token", "update", "shop", "--name", "shop-eu", "--max-binds", "2", "--no-http", "--output", "json"), &upd)
	if upd.Name != "shop-eu" || upd.Limits.MaxBinds != 2 || upd.Permissions.HTTP || upd.Password != "" {
		t.Errorf("update = %+v", upd)
	}

	var rot issued
	decode(mustRun("token", "rotate", shop.ID, "--smpp-password", "--callback-secret", "--output", "json"), &rot)
	if rot.Password == "" || rot.Password == shop.Password || rot.APIKey != "" || rot.CallbackSecret == shop.CallbackSecret || rot.CallbackSecretVersion != 1 {
		t.Errorf("rotate = %+v", rot)
	}
	secrets = append(secrets, rot.secrets()...)

	revOut := mustRun("token", "revoke", "shop-eu")
	if !strings.Contains(revOut, `Revoked token "shop-eu"`) {
		t.Errorf("revoke output: %s", revOut)
	}
	var after tokenView
	decode(mustRun("token", "show", shop.ID, "--output", "json"), &after)
	if after.Active || after.RevokedAt.IsZero() {
		t.Errorf("show after revoke = %+v", after)
	}

	// Listings never show a secret.
	for _, out := range []string{listOut, table, showOut} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("list/show output holds secret %q:\n%s", s, out)
			}
		}
	}

	// Bad input: one line on stderr, exit 2 for usage, 1 otherwise.
	for _, bad := range []struct {
		args []string
		code int
	}{
		{[]string{"token", "create", "--name", "x"}, exitUsage},
		{[]string{"token", "create", "--name", "x", "--smpp", "--callback-url", "nope"}, exitUsage},
		{[]string{"token", "create", "--name", "x", "--smpp", "--allow-ip", "300.1.1.1"}, exitUsage},
		{[]string{"token", "show"}, exitUsage},
		{[]string{"token", "show", "nosuch"}, exitError},
		{[]string{"token", "create", "--name", "long", "--http"}, exitError},
		{[]string{"token", "update", "shop-eu", "--test"}, exitError}, // revoked
	} {
		out, errOut, code := runSmppd(t, dataDir, bad.args...)
		if code != bad.code || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "smppd: ") {
			t.Errorf("smppd %s: exit %d, stdout %q, stderr %q; want exit %d and one line on stderr",
				strings.Join(bad.args, " "), code, out, errOut, bad.code)
		}
	}
	return shop, rot, secrets
}

// assertNoSecretsInFile reads a file's raw bytes and fails if any secret
// is in it.
func assertNoSecretsInFile(t *testing.T, path string, secrets []string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) == 0 {
		t.Fatal("no secrets to look for")
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%s holds the secret %q", path, s)
		}
	}
}

func TestTokenBinaryWithoutDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	_, _, secrets := tokenLifeCycle(t, dataDir)
	for _, f := range []string{tokenstore.DBFile, tokenstore.MasterKeyFile} {
		fi, err := os.Stat(filepath.Join(dataDir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	if fi, err := os.Stat(dataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	assertNoSecretsInFile(t, filepath.Join(dataDir, tokenstore.DBFile), secrets)
}

// TestTokenBinaryWithDaemon runs the same commands while a daemon holds
// tokens.db: an admin.Server in this process, as `smppd serve` runs it.
// The binary cannot open the locked file, so every command must go
// through the socket.
func TestTokenBinaryWithDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dataDir, err := os.MkdirTemp("", "smppd-tok") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	store, err := tokenstore.Open(filepath.Join(dataDir, tokenstore.DBFile), tokenstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	key, err := tokenstore.LoadOrCreateMasterKey(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	srv := admin.NewServer(store, key, nil)
	var mu sync.Mutex
	var changed []tokenstore.Token
	srv.Hooks.TokenChanged = func(tok tokenstore.Token) {
		mu.Lock()
		changed = append(changed, tok)
		mu.Unlock()
	}
	ln, err := admin.Listen(filepath.Join(dataDir, admin.SocketFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeListener() = %v", err)
		}
	}()

	shop, rot, secrets := tokenLifeCycle(t, dataDir)

	// The daemon saw each change at once, in order.
	mu.Lock()
	var shopChanges []tokenstore.Token
	for _, c := range changed {
		if c.ID == shop.ID {
			shopChanges = append(shopChanges, c)
		}
	}
	mu.Unlock()
	if len(shopChanges) != 4 {
		t.Fatalf("TokenChanged for shop fired %d times, want 4 (create, update, rotate, revoke)", len(shopChanges))
	}
	if c := shopChanges[1]; c.Name != "shop-eu" || c.Permissions.HTTP {
		t.Errorf("update hook saw %+v", c)
	}
	if c := shopChanges[3]; c.Active() {
		t.Errorf("revoke hook saw an active token: %+v", c)
	}
	// The daemon's store has the result: even the rotated password no
	// longer binds after the revocation.
	if _, err := store.Authenticate(shop.SystemID, rot.Password, netip.MustParseAddr("127.0.0.1")); !errors.Is(err, tokenstore.ErrInvalidCredentials) {
		t.Errorf("Authenticate after revoke = %v, want ErrInvalidCredentials", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoSecretsInFile(t, filepath.Join(dataDir, tokenstore.DBFile), secrets)
}

// TestTokenBinaryLockedWithoutDaemon: a process holds tokens.db but does
// not answer on the socket; the command says so in one line.
func TestTokenBinaryLockedWithoutDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dataDir := t.TempDir()
	store, err := tokenstore.Open(filepath.Join(dataDir, tokenstore.DBFile), tokenstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, errOut, code := runSmppd(t, dataDir, "token", "list")
	if code != exitError || !strings.Contains(errOut, "locked by another process") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want exit 1 and a one-line lock error", code, errOut)
	}
}

// TestTokenBinaryWithServe runs the same life cycle against the real
// `smppd serve` (startDaemon, daemon_test.go), then checks the file the
// daemon wrote.
func TestTokenBinaryWithServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dataDir, err := os.MkdirTemp("", "smppd-tok") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	d := startDaemon(t, dataDir)
	_, _, secrets := tokenLifeCycle(t, dataDir)
	if err := d.stop(t); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dataDir, admin.SocketFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket left after the daemon stopped: %v", err)
	}
	assertNoSecretsInFile(t, filepath.Join(dataDir, tokenstore.DBFile), secrets)
}
