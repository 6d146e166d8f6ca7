package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smppd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

// TestKeysCoverConfig checks that every flat field has a key of a known
// kind and a distinct environment variable.
func TestKeysCoverConfig(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keys() {
		if k.Kind == "" || strings.ContainsAny(k.Name, "_ ") {
			t.Errorf("key %+v", k)
		}
		if seen[k.EnvVar()] {
			t.Errorf("env var %s twice", k.EnvVar())
		}
		seen[k.EnvVar()] = true
	}
	if k, _ := LookupKey("receipt-ttl"); k.EnvVar() != "SMPPD_RECEIPT_TTL" || k.Kind != "duration" {
		t.Errorf("receipt-ttl = %+v, %s", k, k.EnvVar())
	}
}

// TestPrecedence sets window in every layer and checks that each layer
// overrides the ones before it, and that Origins says which one won.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "window: 20\nreceipt-ttl: 1h\nlisten: 127.0.0.1:2775\n")
	tests := []struct {
		name       string
		file       string
		env        map[string]string
		flags      []Flag
		wantWindow int
		wantOrigin string
	}{
		{name: "default", wantWindow: 10},
		{name: "file", file: file, wantWindow: 20, wantOrigin: "file " + file + " line 1"},
		{name: "env over file", file: file, env: map[string]string{"SMPPD_WINDOW": "30"}, wantWindow: 30, wantOrigin: "env SMPPD_WINDOW"},
		{name: "empty env is unset", file: file, env: map[string]string{"SMPPD_WINDOW": ""}, wantWindow: 20, wantOrigin: "file " + file + " line 1"},
		{name: "flag over env", file: file, env: map[string]string{"SMPPD_WINDOW": "30"}, flags: []Flag{{"window", "40"}}, wantWindow: 40, wantOrigin: "flag --window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, origins, err := Load(LoadOptions{File: tt.file, LookupEnv: env(tt.env), Flags: tt.flags})
			if err != nil {
				t.Fatal(err)
			}
			if c.Window != tt.wantWindow || origins["window"] != tt.wantOrigin {
				t.Errorf("window = %d from %q, want %d from %q", c.Window, origins["window"], tt.wantWindow, tt.wantOrigin)
			}
			if tt.file != "" && (c.ReceiptTTL != time.Hour || c.Listen != "127.0.0.1:2775") {
				t.Errorf("file keys not applied: %+v", c)
			}
		})
	}
}

// TestLoadErrors checks that each kind of bad input fails with one line
// that names the key and where it was set.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags []Flag
		want  []string // substrings of the error
	}{
		{name: "unknown key with hint", file: "windw: 5\n", want: []string{"windw: unknown key", `did you mean "window"`, "line 1"}},
		{name: "underscore spelling", file: "receipt_ttl: 1h\n", want: []string{`did you mean "receipt-ttl"`}},
		{name: "duration without unit", file: "listen: :2775\nreceipt-ttl: 30\n", want: []string{"receipt-ttl", "no unit", "30s", "line 2"}},
		{name: "bad int in env", env: map[string]string{"SMPPD_WINDOW": "ten"}, want: []string{"window", "not a whole number", "env SMPPD_WINDOW"}},
		{name: "bad bool flag", flags: []Flag{{"dev", "maybe"}}, want: []string{"dev", "not a boolean", "flag --dev"}},
		{name: "window zero from file", file: "window: 0\n", want: []string{"window: must be at least 1, got 0", "line 1"}},
		{name: "tls without key", flags: []Flag{{"tls-listen", ":3550"}, {"tls-cert", "c.pem"}}, want: []string{"tls-key: tls-listen needs a private key file"}},
		{name: "retention below ttl", env: map[string]string{"SMPPD_MESSAGE_RETENTION": "1h"}, want: []string{"message-retention", "shorter than receipt-ttl", "env SMPPD_MESSAGE_RETENTION"}},
		{name: "listen not host:port", flags: []Flag{{"listen", "2775"}}, want: []string{"listen", "not host:port"}},
		{name: "list for a flat key", file: "listen: [a, b]\n", want: []string{"listen: must be a single value"}},
		{name: "not a mapping", file: "- listen\n", want: []string{"top level must be a mapping"}},
		{name: "bad yaml", file: "listen: \"unterminated\n", want: []string{"config file"}},
		{name: "unknown upstream field", file: "upstreams:\n  - name: a\n    adress: x:1\n", want: []string{"line 3", "adress"}},
		{name: "upstream invalid", file: "upstreams:\n  - name: a\n    address: nowhere\n    system_id: x\n", want: []string{"upstreams[0].address", "line 1"}},
		{name: "log level", env: map[string]string{"SMPPD_LOG_LEVEL": "loud"}, want: []string{"log-level", "loud"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var file string
			if tt.file != "" {
				file = writeFile(t, tt.file)
			}
			_, _, err := Load(LoadOptions{File: file, LookupEnv: env(tt.env), Flags: tt.flags})
			if err == nil {
				t.Fatal("Load() = nil error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, _, err := Load(LoadOptions{File: filepath.Join(t.TempDir(), "nope.yaml")})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("Load(missing) = %v", err)
	}
}

// TestPrintRoundTrip prints a configuration and loads the output back: the
// printed file is a valid config, secrets are masked and durations short.
func TestPrintRoundTrip(t *testing.T) {
	file := writeFile(t, `# production
listen: 127.0.0.1:2775
receipt-ttl: 96h
message-retention: 240h
dev: yes
upstreams:
  - name: carrier-a
    address: smsc.example.net:2775
    system_id: acme
    password: hunter22
routes:
  - {prefix: "44", upstreams: [carrier-a]}
`)
	c, origins, err := Load(LoadOptions{File: file, LookupEnv: env(map[string]string{"SMPPD_WINDOW": "50"})})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Dev || len(c.Live.Upstreams) != 1 || c.Live.Upstreams[0].Window != 10 {
		t.Fatalf("loaded %+v", c)
	}
	out, err := c.YAML(origins)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"receipt-ttl: 96h # file ", "window: 50 # env SMPPD_WINDOW", "password: '" + Mask + "'", "bind-timeout: 30s\n", "map_ttl: 72h"} {
		if !strings.Contains(text, want) {
			t.Errorf("printed config lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "hunter22") {
		t.Errorf("password printed:\n%s", text)
	}
	back, _, err := Load(LoadOptions{File: writeFile(t, text)})
	if err != nil {
		t.Fatalf("loading the printed config: %v\n%s", err, text)
	}
	if back.Window != 50 || back.ReceiptTTL != 96*time.Hour || back.Live.Routes[0].Prefix != "44" {
		t.Errorf("round trip lost values: %+v", back)
	}
	var m map[string]any
	if err := yaml.Unmarshal(out, &m); err != nil || len(m) != len(knownTopKeys()) {
		t.Errorf("printed %d keys (%v), want %d", len(m), err, len(knownTopKeys()))
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		72 * time.Hour: "72h", 90 * time.Minute: "1h30m", 10 * time.Second: "10s", 0: "0s",
		time.Hour + time.Second: "1h0m1s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestPackagedExample loads the example shipped as /etc/smppd/smppd.yaml:
// it must stay valid and equal to the defaults except where it says so.
func TestPackagedExample(t *testing.T) {
	c, origins, err := Load(LoadOptions{File: "../../packaging/smppd.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	d.DataDir, d.LogFormat = "/var/lib/smppd", "json"
	if c.DataDir != d.DataDir || c.LogFormat != d.LogFormat {
		t.Errorf("example: data-dir %q log-format %q", c.DataDir, c.LogFormat)
	}
	c.DataDir, c.LogFormat = d.DataDir, d.LogFormat
	if a, b := fmt.Sprintf("%+v", c), fmt.Sprintf("%+v", d); a != b {
		t.Errorf("example differs from the defaults beyond data-dir and log-format:\n%s\n%s", a, b)
	}
	if len(origins) < 20 {
		t.Errorf("example sets only %d keys", len(origins))
	}
}

// TestDevListensOnLoopback: --dev keeps off the network unless a layer
// sets listen.
func TestDevListensOnLoopback(t *testing.T) {
	c, origins, err := Load(LoadOptions{Flags: []Flag{{"dev", "true"}}})
	if err != nil || c.Listen != DevListen || origins["listen"] == "" {
		t.Errorf("dev: listen %q from %q, %v", c.Listen, origins["listen"], err)
	}
	c, _, err = Load(LoadOptions{Flags: []Flag{{"dev", "true"}, {"listen", "0.0.0.0:2775"}}})
	if err != nil || c.Listen != "0.0.0.0:2775" {
		t.Errorf("dev with --listen: %q, %v", c.Listen, err)
	}
	c, _, _ = Load(LoadOptions{})
	if c.Listen != "0.0.0.0:2775" {
		t.Errorf("default listen %q", c.Listen)
	}
}
