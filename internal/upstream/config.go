package upstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smppd/smppd/internal/route"
)

// ErrConfig is wrapped by every error of Validate and LoadFile.
var ErrConfig = errors.New("upstream: invalid config")

// Bind modes of an upstream connection.
const (
	BindTransceiver = "transceiver"          // one TRX session carries submits, receipts and MO
	BindTxRx        = "transmitter+receiver" // a TX session for submits and an RX session for receipts and MO
	BindTransmitter = "transmitter"          // submits only: the upstream sends no receipts
)

// Config is the live-traffic part of smppd's configuration file. Durations
// are Go durations ("30s", "5m").
//
//	upstreams:
//	  - name: carrier-a
//	    address: smsc.example.net:2775
//	    system_id: acme
//	    password: secret12
//	    bind: transceiver          # or transmitter+receiver
//	    tls: {enabled: true, server_name: smsc.example.net}
//	    window: 50
//	    max_tps: 200
//	    enquire_interval: 30s
//	    reconnect: {min: 1s, max: 1m}
//	routes:
//	  - {prefix: "44", upstreams: [carrier-a, carrier-b]}
//	  - {token: acme, upstreams: [carrier-b]}
//	inbound:
//	  - {token: acme, numbers: ["447700100000-447700199999", "4477002"]}
type Config struct {
	Upstreams []Upstream `yaml:"upstreams"`
	Routes    []Route    `yaml:"routes"`
	Inbound   []Inbound  `yaml:"inbound"`
	// MapTTL is how long an upstream's message id is kept to map its
	// receipt back (default 72h). A message whose receipt has not come by
	// then is reported UNKNOWN.
	MapTTL time.Duration `yaml:"map_ttl"`
	// MOTTL is how long an inbound message waits for a receiver of its
	// token (default 72h).
	MOTTL time.Duration `yaml:"mo_ttl"`
}

// Upstream is one upstream SMSC.
type Upstream struct {
	Name       string `yaml:"name"`
	Address    string `yaml:"address"` // host:port
	SystemID   string `yaml:"system_id"`
	Password   string `yaml:"password"`
	SystemType string `yaml:"system_type"`
	// Bind is BindTransceiver (default), BindTxRx or BindTransmitter.
	Bind string    `yaml:"bind"`
	TLS  TLSConfig `yaml:"tls"`
	// Window is how many submit_sm may await their response (default 10).
	Window int `yaml:"window"`
	// MaxTPS caps submit_sm per second to this upstream (0: no cap).
	MaxTPS float64 `yaml:"max_tps"`
	// EnquireInterval is the idle time after which enquire_link is sent
	// (default 30s).
	EnquireInterval time.Duration `yaml:"enquire_interval"`
	// ResponseTimeout is how long a request waits for its response before
	// the connection is judged dead and closed (default 30s).
	ResponseTimeout time.Duration `yaml:"response_timeout"`
	// Reconnect is the backoff between connection attempts (default 1s..60s).
	Reconnect Backoff `yaml:"reconnect"`
	// Retry is the backoff of a message the upstream throttled
	// (ESME_RTHROTTLED, ESME_RMSGQFUL) (default 1s..5m).
	Retry Backoff `yaml:"retry"`
}

// TLSConfig enables TLS to an upstream.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	ServerName         string `yaml:"server_name"` // default: the address's host
	CAFile             string `yaml:"ca_file"`     // PEM roots; default: the system's
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Backoff is an exponential backoff with full jitter between Min and Max.
type Backoff struct {
	Min time.Duration `yaml:"min"`
	Max time.Duration `yaml:"max"`
}

// Route sends messages matching Prefix (E.164 destination prefix, empty:
// all) and Token (token id or name, empty: all) to Upstreams, tried in order.
type Route struct {
	Prefix    string   `yaml:"prefix"`
	Token     string   `yaml:"token"`
	Upstreams []string `yaml:"upstreams"`
}

// Inbound gives a token the MO traffic to its numbers: prefixes
// ("4477001") or inclusive ranges of equal length ("447700100000-447700199999").
type Inbound struct {
	Token   string   `yaml:"token"`
	Numbers []string `yaml:"numbers"`
}

// LoadFile reads a YAML file holding Config (unknown keys are errors), applies
// the defaults and validates it.
func LoadFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("upstream: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file (io.EOF) is the empty config: no live traffic.
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// SetDefaults fills zero values with the documented defaults.
func (c *Config) SetDefaults() {
	if c.MapTTL <= 0 {
		c.MapTTL = 72 * time.Hour
	}
	if c.MOTTL <= 0 {
		c.MOTTL = 72 * time.Hour
	}
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		if u.Bind == "" {
			u.Bind = BindTransceiver
		}
		if u.Window <= 0 {
			u.Window = 10
		}
		if u.EnquireInterval <= 0 {
			u.EnquireInterval = 30 * time.Second
		}
		if u.ResponseTimeout <= 0 {
			u.ResponseTimeout = 30 * time.Second
		}
		if u.Reconnect.Min <= 0 {
			u.Reconnect.Min = time.Second
		}
		if u.Reconnect.Max <= 0 {
			u.Reconnect.Max = time.Minute
		}
		if u.Retry.Min <= 0 {
			u.Retry.Min = time.Second
		}
		if u.Retry.Max <= 0 {
			u.Retry.Max = 5 * time.Minute
		}
	}
}

// Validate checks the config (after SetDefaults); its errors wrap ErrConfig
// and name the key, e.g. "upstreams[1].window".
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, key, fmt.Sprintf(format, a...))
	}
	names := map[string]bool{}
	for i, u := range c.Upstreams {
		k := fmt.Sprintf("upstreams[%d]", i)
		switch {
		case u.Name == "":
			return bad(k+".name", "required")
		case names[u.Name]:
			return bad(k+".name", "%q used twice", u.Name)
		case len(u.Name) > 64:
			return bad(k+".name", "longer than 64 characters")
		}
		names[u.Name] = true
		if _, _, err := net.SplitHostPort(u.Address); err != nil {
			return bad(k+".address", "%v", err)
		}
		if u.SystemID == "" || len(u.SystemID) > 15 {
			return bad(k+".system_id", "1 to 15 characters required")
		}
		if len(u.Password) > 64 {
			return bad(k+".password", "longer than 64 characters")
		}
		if len(u.SystemType) > 12 {
			return bad(k+".system_type", "longer than 12 characters")
		}
		switch u.Bind {
		case BindTransceiver, BindTxRx, BindTransmitter:
		default:
			return bad(k+".bind", "%q: want %s, %s or %s", u.Bind, BindTransceiver, BindTxRx, BindTransmitter)
		}
		if u.Window < 1 || u.Window > 10000 {
			return bad(k+".window", "%d: want 1..10000", u.Window)
		}
		if u.MaxTPS < 0 {
			return bad(k+".max_tps", "negative")
		}
		if u.EnquireInterval < 100*time.Millisecond {
			return bad(k+".enquire_interval", "%v: at least 100ms", u.EnquireInterval)
		}
		if u.ResponseTimeout < 10*time.Millisecond {
			return bad(k+".response_timeout", "%v: at least 10ms", u.ResponseTimeout)
		}
		if u.Reconnect.Min > u.Reconnect.Max {
			return bad(k+".reconnect", "min %v over max %v", u.Reconnect.Min, u.Reconnect.Max)
		}
		if u.Retry.Min > u.Retry.Max {
			return bad(k+".retry", "min %v over max %v", u.Retry.Min, u.Retry.Max)
		}
		if u.TLS.CAFile != "" && !u.TLS.Enabled {
			return bad(k+".tls.ca_file", "set but tls.enabled is false")
		}
	}
	for i, r := range c.Routes {
		k := fmt.Sprintf("routes[%d]", i)
		if len(r.Upstreams) == 0 {
			return bad(k+".upstreams", "required")
		}
		for j, n := range r.Upstreams {
			if !names[n] {
				return bad(fmt.Sprintf("%s.upstreams[%d]", k, j), "no upstream named %q", n)
			}
		}
		if _, err := route.New([]route.Rule{{Prefix: r.Prefix, Upstreams: r.Upstreams}}); err != nil {
			return bad(k+".prefix", "%q: digits only (E.164, optional +)", r.Prefix)
		}
	}
	for i, in := range c.Inbound {
		k := fmt.Sprintf("inbound[%d]", i)
		if in.Token == "" {
			return bad(k+".token", "required")
		}
		if len(in.Numbers) == 0 {
			return bad(k+".numbers", "required")
		}
		for j, n := range in.Numbers {
			if _, err := route.NewNumbers([]route.Range{{Token: in.Token, Spec: n}}); err != nil {
				return bad(fmt.Sprintf("%s.numbers[%d]", k, j), "%v", err)
			}
		}
	}
	if c.MapTTL < 0 {
		return bad("map_ttl", "negative")
	}
	return nil
}

// routes builds the routing tables (Validate has passed).
func (c *Config) tables() (*route.Table, *route.Numbers, error) {
	rules := make([]route.Rule, 0, len(c.Routes))
	for _, r := range c.Routes {
		rules = append(rules, route.Rule{Prefix: r.Prefix, Token: r.Token, Upstreams: r.Upstreams})
	}
	t, err := route.New(rules)
	if err != nil {
		return nil, nil, err
	}
	var ranges []route.Range
	for _, in := range c.Inbound {
		for _, n := range in.Numbers {
			ranges = append(ranges, route.Range{Token: in.Token, Spec: n})
		}
	}
	n, err := route.NewNumbers(ranges)
	return t, n, err
}
