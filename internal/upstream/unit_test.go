package upstream

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

func TestIDCandidates(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"0000A1B", []string{"a1b", "2587"}},
		{"a1b", []string{"a1b", "2587"}},
		{"2587", []string{"2587", "a1b", "9607"}},
		{"000002587", []string{"2587", "a1b", "9607"}},
		{" 42\x00", []string{"42", "2a", "66"}},
		{"0", []string{"0"}},
		{"000", []string{"0"}},
		{"MSG-ABC-001", []string{"msg-abc-001"}},
		{"ff", []string{"ff", "255"}},
		{"", []string{""}},
		{"99999999999999999999999", []string{"99999999999999999999999"}}, // over 64 bits: as is
	}
	for _, tt := range tests {
		if got := idCandidates(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("idCandidates(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// What the upstream acknowledged is stored as normID; every spelling of
	// it in a receipt must produce that form among its candidates.
	pairs := []struct{ ack, receipt string }{
		{"000000002587", "A1B"}, {"0A1B", "2587"}, {"A1B", "a1b"}, {"00a1b", "0A1B"}, {"12345", "0000012345"},
	}
	for _, p := range pairs {
		if !slices.Contains(idCandidates(p.receipt), normID(p.ack)) {
			t.Errorf("receipt id %q does not find ack id %q (stored %q, candidates %q)", p.receipt, p.ack, normID(p.ack), idCandidates(p.receipt))
		}
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for n := 1; n <= 10; n++ {
		want := min(b.Min<<(n-1), b.Max)
		for i := 0; i < 50; i++ {
			if d := backoff(b, n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func validConfig() Config {
	return Config{
		Upstreams: []Upstream{{Name: "a", Address: "127.0.0.1:2775", SystemID: "acme"}, {Name: "b", Address: "[::1]:2775", SystemID: "acme", Bind: BindTxRx}},
		Routes:    []Route{{Prefix: "+44", Upstreams: []string{"a", "b"}}},
		Inbound:   []Inbound{{Token: "acme", Numbers: []string{"4477001", "447700200000-447700299999"}}},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		key  string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"empty", func(c *Config) { *c = Config{} }, ""},
		{"no name", func(c *Config) { c.Upstreams[0].Name = "" }, "upstreams[0].name"},
		{"duplicate name", func(c *Config) { c.Upstreams[1].Name = "a" }, "upstreams[1].name"},
		{"bad address", func(c *Config) { c.Upstreams[0].Address = "nohost" }, "upstreams[0].address"},
		{"no system_id", func(c *Config) { c.Upstreams[0].SystemID = "" }, "upstreams[0].system_id"},
		{"long system_id", func(c *Config) { c.Upstreams[0].SystemID = strings.Repeat("x", 16) }, "upstreams[0].system_id"},
		{"bind mode", func(c *Config) { c.Upstreams[1].Bind = "receiver" }, "upstreams[1].bind"},
		{"window", func(c *Config) { c.Upstreams[0].Window = 20000 }, "upstreams[0].window"},
		{"tps", func(c *Config) { c.Upstreams[0].MaxTPS = -1 }, "upstreams[0].max_tps"},
		{"enquire", func(c *Config) { c.Upstreams[0].EnquireInterval = time.Millisecond }, "upstreams[0].enquire_interval"},
		{"reconnect", func(c *Config) { c.Upstreams[0].Reconnect = Backoff{Min: time.Minute, Max: time.Second} }, "upstreams[0].reconnect"},
		{"ca without tls", func(c *Config) { c.Upstreams[0].TLS.CAFile = "/x.pem" }, "upstreams[0].tls.ca_file"},
		{"route without upstreams", func(c *Config) { c.Routes[0].Upstreams = nil }, "routes[0].upstreams"},
		{"route to unknown upstream", func(c *Config) { c.Routes[0].Upstreams = []string{"a", "zz"} }, "routes[0].upstreams[1]"},
		{"route prefix", func(c *Config) { c.Routes[0].Prefix = "44x" }, "routes[0].prefix"},
		{"inbound token", func(c *Config) { c.Inbound[0].Token = "" }, "inbound[0].token"},
		{"inbound range", func(c *Config) { c.Inbound[0].Numbers[1] = "4477-4400" }, "inbound[0].numbers[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mod(&c)
			c.SetDefaults()
			err := c.Validate()
			switch {
			case tt.key == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.key != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.key+":")):
				t.Errorf("Validate() = %v, want ErrConfig naming %s", err, tt.key)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := LoadFile(write("ok.yaml", `
upstreams:
  - name: carrier-a
    address: smsc.example.net:2775
    system_id: acme
    password: secret12
    bind: transmitter+receiver
    tls: {enabled: true, server_name: smsc.example.net}
    window: 50
    max_tps: 200
    enquire_interval: 15s
    reconnect: {min: 2s, max: 2m}
routes:
  - {prefix: "44", upstreams: [carrier-a]}
inbound:
  - {token: acme, numbers: ["4477001"]}
map_ttl: 24h
`))
	if err != nil {
		t.Fatalf("LoadFile = %v", err)
	}
	u := c.Upstreams[0]
	if u.Window != 50 || u.MaxTPS != 200 || u.EnquireInterval != 15*time.Second || u.Reconnect.Max != 2*time.Minute ||
		u.ResponseTimeout != 30*time.Second || !u.TLS.Enabled || u.Bind != BindTxRx || c.MapTTL != 24*time.Hour || c.MOTTL != 72*time.Hour {
		t.Errorf("LoadFile = %+v", c)
	}
	if c, err := LoadFile(write("empty.yaml", "")); err != nil || len(c.Upstreams) != 0 {
		t.Errorf("empty file: %+v, %v", c, err)
	}
	if _, err := LoadFile(write("typo.yaml", "upstream: []\n")); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown key: %v, want ErrConfig", err)
	}
	if _, err := LoadFile(write("bad.yaml", "upstreams:\n  - name: a\n    address: x:1\n    system_id: s\n    window: -5\n")); err != nil {
		t.Errorf("negative window defaults: %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file: nil error")
	}
}

func TestSubmitPDU(t *testing.T) {
	src := pdu.Address{TON: 5, Addr: "ACME"}
	dst := pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"}
	expire := time.Date(2026, 12, 1, 10, 20, 30, 0, time.UTC)
	enc := func(p pdu.PDU) []byte {
		b, err := p.AppendBody(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	long := []byte(strings.Repeat("x", 150))
	tests := []struct {
		name string
		body []byte
		want pdu.PDU
	}{
		{"submit_sm", enc(&pdu.SubmitSM{Source: src, Dest: dst, RegisteredDelivery: 0x12, ScheduleDeliveryTime: "000000000500000R",
			ValidityPeriod: "000001000000000R", ShortMessage: long}),
			&pdu.SubmitSM{Source: src, Dest: dst, RegisteredDelivery: 0x11, ValidityPeriod: "261201102030000+", ShortMessage: long}},
		{"data_sm", enc(&pdu.DataSM{Source: src, Dest: dst, DataCoding: pdu.CodingUCS2, TLVs: pdu.TLVs{{Tag: pdu.TagMessagePayload, Value: long}}}),
			&pdu.DataSM{Source: src, Dest: dst, DataCoding: pdu.CodingUCS2, RegisteredDelivery: 1, TLVs: pdu.TLVs{{Tag: pdu.TagMessagePayload, Value: long}}}},
		{"submit_multi", enc(&pdu.SubmitMulti{Source: src, Dests: []pdu.DestAddr{{Addr: pdu.Address{Addr: "1"}}, {Addr: dst}}, ShortMessage: long}),
			&pdu.SubmitSM{Source: src, Dest: dst, RegisteredDelivery: 1, ValidityPeriod: "261201102030000+", ShortMessage: long}},
		{"no body", nil, &pdu.SubmitSM{Source: src, Dest: dst, RegisteredDelivery: 1, ValidityPeriod: "261201102030000+", ShortMessage: []byte("text kept")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := pdu.CodingDefault
			if d, ok := tt.want.(*pdu.DataSM); ok {
				dc = d.DataCoding
			}
			m := &msgstore.Message{Source: src, Dest: dst, DataCoding: dc, Body: tt.body, Text: []byte("text kept"), ExpireAt: expire}
			got, err := submitPDU(m)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("submitPDU() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
