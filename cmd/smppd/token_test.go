package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/smppd/smppd/tokenstore"
)

// runTokenCLI runs the smppd root command in-process, as main would.
func runTokenCLI(t *testing.T, dataDir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs(append([]string{"--data-dir", dataDir}, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func isUsageErr(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}

// TestTokenCreateFlags checks flag parsing into the options struct
// without running the command.
func TestTokenCreateFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want tokenstore.CreateParams
	}{
		{"minimal", []string{"--name", "shop", "--smpp"},
			tokenstore.CreateParams{Name: "shop", Permissions: tokenstore.Permissions{SMPP: true}}},
		{"everything", []string{"--name", "bulk", "--smpp", "--http", "--test", "--callback-url", "https://x.example/dlr",
			"--max-binds", "2", "--max-tps", "100", "--allow-ip", "203.0.113.0/24", "--allow-ip", "192.0.2.7", "--long-password"},
			tokenstore.CreateParams{Name: "bulk", Permissions: tokenstore.Permissions{SMPP: true, HTTP: true}, TestMode: true,
				CallbackURL: "https://x.example/dlr", LongPassword: true,
				Limits: tokenstore.Limits{MaxBinds: 2, MaxTPS: 100, AllowIPs: []netip.Prefix{
					netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("192.0.2.7/32")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got tokenstore.CreateParams
			cmd := newTokenCreateCmd(&globalOptions{}, func(_ context.Context, o *tokenCreateOptions) error {
				var err error
				got, err = o.params()
				return err
			})
			cmd.SetArgs(tt.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenUpdateFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the UpdateParams as JSON
	}{
		{"name", []string{"shop", "--name", "shop2"}, `{"name":"shop2"}`},
		{"live and no smpp", []string{"shop", "--live", "--no-smpp"}, `{"test_mode":false,"smpp":false}`},
		{"remove callback", []string{"shop", "--no-callback-url"}, `{"callback_url":""}`},
		{"limits", []string{"shop", "--max-tps", "0", "--max-binds", "3", "--allow-ip", "10.0.0.1/8"},
			`{"max_binds":3,"max_tps":0,"allow_ips":["10.0.0.0/8"]}`},
		{"any ip", []string{"shop", "--any-ip", "--http"}, `{"http":true,"allow_ips":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got tokenstore.UpdateParams
			var token string
			cmd := newTokenUpdateCmd(&globalOptions{}, func(_ context.Context, o *tokenUpdateOptions) error {
				var err error
				got, err = o.params()
				token = o.Token
				return err
			})
			cmd.SetArgs(tt.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.want || token != "shop" {
				t.Errorf("params = %s for %q, want %s for shop", b, token, tt.want)
			}
		})
	}
}

// TestTokenBadInput runs every kind of bad input through the root
// command: each is one line that names the problem; flag and argument
// mistakes are usage errors (exit 2), the rest runtime errors (exit 1).
func TestTokenBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--name", "shop", "--smpp", "--http"}, {"--name", "web", "--http"}} {
		if _, _, err := runTokenCLI(t, dir, append([]string{"token", "create"}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	long := strings.Repeat("n", 65)
	tests := []struct {
		name     string
		dataDir  string
		args     []string
		usage    bool
		mentions string
		sentinel error
	}{
		{"no name", dir, []string{"token", "create", "--smpp"}, true, "--name is required", nil},
		{"no permission", dir, []string{"token", "create", "--name", "x"}, true, "no permission chosen", nil},
		{"name too long", dir, []string{"token", "create", "--name", long, "--smpp"}, true, "65 characters", nil},
		{"bad url", dir, []string{"token", "create", "--name", "x", "--smpp", "--callback-url", "ftp://h/x"}, true, "--callback-url", nil},
		{"bad cidr", dir, []string{"token", "create", "--name", "x", "--smpp", "--allow-ip", "10.0.0.0/33"}, true, `"10.0.0.0/33"`, nil},
		{"negative binds", dir, []string{"token", "create", "--name", "x", "--smpp", "--max-binds", "-1"}, true, "--max-binds", nil},
		{"not a number", dir, []string{"token", "create", "--name", "x", "--smpp", "--max-tps", "lots"}, true, "--max-tps", nil},
		{"bad output", dir, []string{"token", "list", "--output", "xml"}, true, "--output", nil},
		{"unknown flag", dir, []string{"token", "rotate", "shop", "--bogus"}, true, "--bogus", nil},
		{"show no arg", dir, []string{"token", "show"}, true, "expected one token", nil},
		{"show two args", dir, []string{"token", "show", "a", "b"}, true, "got 2 arguments", nil},
		{"list with arg", dir, []string{"token", "list", "x"}, true, "takes no arguments", nil},
		{"unknown subcommand", dir, []string{"token", "frobnicate"}, true, `"frobnicate"`, nil},
		{"update nothing", dir, []string{"token", "update", "shop"}, true, "nothing to update", nil},
		{"update contradiction", dir, []string{"token", "update", "shop", "--test", "--live"}, true, "--test and --live", nil},
		{"update no permissions", dir, []string{"token", "update", "shop", "--no-smpp", "--no-http"}, true, "without permissions", nil},
		{"unknown token", dir, []string{"token", "show", "nosuch"}, false, `"nosuch"`, tokenstore.ErrNotFound},
		{"unknown token update", dir, []string{"token", "update", "nosuch", "--test"}, false, `"nosuch"`, tokenstore.ErrNotFound},
		{"duplicate name", dir, []string{"token", "create", "--name", "shop", "--http"}, false, `name already in use: "shop"`, tokenstore.ErrDuplicateName},
		{"rotate password without smpp", dir, []string{"token", "rotate", "web", "--smpp-password"}, false, "no SMPP permission", tokenstore.ErrNoSMPP},
		{"unwritable data dir", filepath.Join(file, "sub"), []string{"token", "create", "--name", "x", "--smpp"}, false, "not a directory", nil},
		{"missing data dir read", filepath.Join(t.TempDir(), "none"), []string{"token", "show", "shop"}, false, `"shop"`, tokenstore.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runTokenCLI(t, tt.dataDir, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tt.mentions) {
				t.Errorf("error %q: want one line mentioning %q", msg, tt.mentions)
			}
			if strings.HasPrefix(msg, "tokenstore:") || strings.HasPrefix(msg, "admin:") {
				t.Errorf("error %q starts with a package prefix", msg)
			}
			if isUsageErr(err) != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", isUsageErr(err), tt.usage, err)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.sentinel)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a failed create left something behind")
	}
}

// TestTokenReadsCreateNothing: list and show on a fresh data directory
// must not create it.
func TestTokenReadsCreateNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh")
	out, _, err := runTokenCLI(t, dir, "token", "list", "--output", "json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("list on a fresh dir = %q, %v; want []", out, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("list created the data directory: %v", err)
	}
}

// TestTokenHelp: every token command has help with examples.
func TestTokenHelp(t *testing.T) {
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	var tokenCmd = root
	for _, c := range root.Commands() {
		if c.Name() == "token" {
			tokenCmd = c
		}
	}
	if tokenCmd == root {
		t.Fatal("no token command")
	}
	for _, c := range append(tokenCmd.Commands(), tokenCmd) {
		if c.Example == "" || c.Short == "" || c.Long == "" {
			t.Errorf("%s: Short, Long and Example must be set", c.CommandPath())
		}
		out, _, err := runTokenCLI(t, t.TempDir(), strings.Fields(strings.TrimPrefix(c.CommandPath(), "smppd ")+" --help")...)
		if err != nil || !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help = %v, output without examples:\n%s", c.CommandPath(), err, out)
		}
	}
}

// TestTokenCommandsInProcess runs the whole life of a token on the file
// (no daemon) and checks the text and JSON outputs.
func TestTokenCommandsInProcess(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := runTokenCLI(t, dir, "token", "create", "--name", "shop", "--smpp", "--callback-url", "https://x.example/dlr")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Created token "shop"`, "system_id", "password", "api_key", "smppd_live_", "callback_secret", "whsec_"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "cannot be shown again") {
		t.Errorf("create stderr lacks the warning: %q", errOut)
	}

	out, _, err = runTokenCLI(t, dir, "token", "create", "--name", "api", "--http", "--test", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --output json: %v\n%s", err, out)
	}
	for _, k := range []string{"id", "name", "system_id", "password", "api_key", "permissions", "test_mode", "callback_url", "created_at", "callback_secret"} {
		if _, ok := created[k]; !ok {
			t.Errorf("create JSON lacks %q: %s", k, out)
		}
	}
	if created["system_id"] != "" || created["password"] != "" || !strings.HasPrefix(created["api_key"].(string), "smppd_test_") {
		t.Errorf("HTTP-only test token JSON = %s", out)
	}
	if perms, _ := json.Marshal(created["permissions"]); string(perms) != `["http"]` {
		t.Errorf("permissions = %s, want [\"http\"]", perms)
	}

	out, _, err = runTokenCLI(t, dir, "token", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[1], "shop") || !strings.Contains(lines[2], "test") {
		t.Errorf("list table:\n%s", out)
	}
	// Aligned: every row's ID column starts where the header's does.
	col := strings.Index(lines[0], "ID")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "tok_") {
			t.Errorf("list row not aligned with the header:\n%s", out)
		}
	}

	out, _, err = runTokenCLI(t, dir, "token", "update", "shop", "--test", "--max-tps", "7", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var upd tokenView
	if err := json.Unmarshal([]byte(out), &upd); err != nil || !upd.TestMode || upd.Limits.MaxTPS != 7 || !upd.Active {
		t.Errorf("update JSON = %s (%v)", out, err)
	}

	out, _, err = runTokenCLI(t, dir, "token", "show", "shop")
	if err != nil || !regexp.MustCompile(`(?m)^max_tps +7$`).MatchString(out) || !regexp.MustCompile(`(?m)^mode +test$`).MatchString(out) {
		t.Errorf("show after update = %v:\n%s", err, out)
	}

	out, _, err = runTokenCLI(t, dir, "token", "rotate", "shop", "--callback-secret", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rot map[string]any
	json.Unmarshal([]byte(out), &rot)
	if s, _ := rot["callback_secret"].(string); !strings.HasPrefix(s, "whsec_") || rot["password"] != nil || rot["api_key"] != nil {
		t.Errorf("rotate --callback-secret JSON = %s; want only a callback secret", out)
	}

	out, _, err = runTokenCLI(t, dir, "token", "revoke", "shop")
	if err != nil || !strings.Contains(out, `Revoked token "shop"`) {
		t.Errorf("revoke = %v: %s", err, out)
	}
	if _, _, err := runTokenCLI(t, dir, "token", "rotate", "shop"); !errors.Is(err, tokenstore.ErrRevoked) {
		t.Errorf("rotate after revoke = %v, want ErrRevoked", err)
	}
}
