// Package config is smppd's one configuration: every setting of
// `smppd serve`, its default, its validation, and how it is loaded from
// four layers with one precedence:
//
//	defaults < config file (--config / SMPPD_CONFIG) < environment (SMPPD_<KEY>) < flags
//
// A key is spelled the same everywhere: the YAML key is the flag name
// (`receipt-ttl`, flag --receipt-ttl) and the environment variable is
// SMPPD_ followed by the key in upper case with dashes as underscores
// (SMPPD_RECEIPT_TTL). Durations are Go durations ("30s", "5m", "72h").
//
// The live-traffic part (upstreams, routes, inbound, map_ttl, mo_ttl) is
// internal/upstream's Config, inlined at the top level of the same file and
// decoded with the same strictness; it has no environment variables or
// flags, being lists.
package config

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/pdu"
)

// ErrInvalid is wrapped by every error Validate and Load return for a bad
// value, an unknown key or a malformed file.
var ErrInvalid = errors.New("invalid configuration")

// EnvPrefix starts the environment variable of every key.
const EnvPrefix = "SMPPD_"

// Config is the configuration of `smppd serve`. The yaml tag of a field is
// its key, its flag name and (see EnvVar) its environment variable.
type Config struct {
	// DataDir holds tokens.db, messages.db, the master key and the admin
	// socket.
	DataDir string `yaml:"data-dir"`
	Dev     bool   `yaml:"dev"`

	Listen     string `yaml:"listen"`
	HTTPListen string `yaml:"http-listen"`
	TLSListen  string `yaml:"tls-listen"`
	TLSCert    string `yaml:"tls-cert"`
	TLSKey     string `yaml:"tls-key"`

	LogFormat string `yaml:"log-format"`
	LogLevel  string `yaml:"log-level"`

	SystemID             string        `yaml:"system-id"`
	BindTimeout          time.Duration `yaml:"bind-timeout"`
	EnquireInterval      time.Duration `yaml:"enquire-interval"`
	EnquireMaxUnanswered int           `yaml:"enquire-max-unanswered"`
	IdleTimeout          time.Duration `yaml:"idle-timeout"`
	ResponseTimeout      time.Duration `yaml:"response-timeout"`
	MaxResponseTimeouts  int           `yaml:"max-response-timeouts"`
	ReadTimeout          time.Duration `yaml:"read-timeout"`
	WriteTimeout         time.Duration `yaml:"write-timeout"`
	UnbindTimeout        time.Duration `yaml:"unbind-timeout"`
	Window               int           `yaml:"window"`
	MaxPending           int           `yaml:"max-pending"`
	MaxPDUSize           int           `yaml:"max-pdu-size"`
	MaxConns             int           `yaml:"max-conns"`
	MaxConnsPerIP        int           `yaml:"max-conns-per-ip"`
	FailedBindDelay      time.Duration `yaml:"failed-bind-delay"`

	ReceiptTTL       time.Duration `yaml:"receipt-ttl"`
	TestReceiptDelay time.Duration `yaml:"test-receipt-delay"`
	DefaultValidity  time.Duration `yaml:"default-validity"`
	MessageIDFormat  string        `yaml:"message-id-format"`
	MessageRetention time.Duration `yaml:"message-retention"`
	ShutdownTimeout  time.Duration `yaml:"shutdown-timeout"`
	UnsafeNoSync     bool          `yaml:"unsafe-no-sync"`

	// HTTP delivery reports (internal/callback.Sender).
	CallbackTimeout  time.Duration `yaml:"callback-timeout"`
	CallbackRetryFor time.Duration `yaml:"callback-retry-for"`
	CallbackWorkers  int           `yaml:"callback-workers"`
	CallbackPerHost  int           `yaml:"callback-per-host"`
	CallbackMaxRate  int           `yaml:"callback-max-rate"`
	CallbackMaxBatch int           `yaml:"callback-max-batch"`

	// Live is the upstream part: upstreams, routes, inbound, map_ttl,
	// mo_ttl. Its keys and rules belong to internal/upstream.
	Live upstream.Config `yaml:",inline"`
}

// Default returns the defaults: the values `smppd serve` runs with when
// nothing is configured.
func Default() Config {
	c := Config{
		DataDir:              "./smppd-data",
		Listen:               "0.0.0.0:2775",
		HTTPListen:           "127.0.0.1:9775",
		LogFormat:            "text",
		LogLevel:             "info",
		SystemID:             "smppd",
		BindTimeout:          30 * time.Second,
		EnquireInterval:      30 * time.Second,
		EnquireMaxUnanswered: 3,
		IdleTimeout:          5 * time.Minute,
		ResponseTimeout:      30 * time.Second,
		ReadTimeout:          30 * time.Second,
		WriteTimeout:         30 * time.Second,
		UnbindTimeout:        5 * time.Second,
		Window:               10,
		MaxPending:           256,
		MaxPDUSize:           pdu.DefaultMaxLen,
		MaxConns:             10000,
		MaxConnsPerIP:        200,
		FailedBindDelay:      time.Second,
		ReceiptTTL:           72 * time.Hour,
		DefaultValidity:      48 * time.Hour,
		MessageIDFormat:      "hex",
		MessageRetention:     7 * 24 * time.Hour,
		ShutdownTimeout:      10 * time.Second,
		CallbackTimeout:      10 * time.Second,
		CallbackRetryFor:     24 * time.Hour,
		CallbackWorkers:      256,
		CallbackPerHost:      32,
		CallbackMaxBatch:     100,
	}
	c.Live.SetDefaults()
	return c
}

// KeyError is a problem with one key. Its text is "key: problem", followed
// by where the value came from when that is known.
type KeyError struct {
	Key     string
	Problem string
	// Origin says where the value was set: "file smppd.yaml line 4",
	// "env SMPPD_WINDOW", "flag --window"; empty for a default.
	Origin string
}

func (e *KeyError) Error() string {
	s := e.Key + ": " + e.Problem
	if e.Origin != "" {
		s += " (set by " + e.Origin + ")"
	}
	return s
}

// Unwrap makes every KeyError an ErrInvalid.
func (e *KeyError) Unwrap() error { return ErrInvalid }

func keyErr(key, format string, a ...any) error {
	return &KeyError{Key: key, Problem: fmt.Sprintf(format, a...)}
}

// Validate checks every key and returns the first problem as a *KeyError
// naming the key. It changes nothing.
func (c *Config) Validate() error {
	if c.DataDir == "" && !c.Dev {
		return keyErr("data-dir", "must not be empty")
	}
	if c.Listen == "" && c.TLSListen == "" {
		return keyErr("listen", "nothing to listen on: set listen or tls-listen")
	}
	for _, a := range []struct{ key, addr string }{
		{"listen", c.Listen}, {"tls-listen", c.TLSListen}, {"http-listen", c.HTTPListen},
	} {
		if a.addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "" {
			return keyErr(a.key, "%q is not host:port (e.g. 0.0.0.0:2775 or :2775)", a.addr)
		}
	}
	switch {
	case c.TLSListen != "" && c.TLSCert == "":
		return keyErr("tls-cert", "tls-listen needs a certificate file")
	case c.TLSListen != "" && c.TLSKey == "":
		return keyErr("tls-key", "tls-listen needs a private key file")
	case c.TLSListen == "" && c.TLSCert != "":
		return keyErr("tls-cert", "set without tls-listen: no TLS listener would use it")
	case c.TLSListen == "" && c.TLSKey != "":
		return keyErr("tls-key", "set without tls-listen: no TLS listener would use it")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return keyErr("log-format", "%q is not text or json", c.LogFormat)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(c.LogLevel)) {
		return keyErr("log-level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.SystemID == "" || len(c.SystemID) > 15 {
		return keyErr("system-id", "%q must be 1 to 15 characters (SMPP system_id)", c.SystemID)
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"bind-timeout", c.BindTimeout}, {"response-timeout", c.ResponseTimeout},
		{"write-timeout", c.WriteTimeout}, {"unbind-timeout", c.UnbindTimeout},
		{"receipt-ttl", c.ReceiptTTL}, {"default-validity", c.DefaultValidity},
		{"message-retention", c.MessageRetention}, {"shutdown-timeout", c.ShutdownTimeout},
		{"callback-timeout", c.CallbackTimeout}, {"callback-retry-for", c.CallbackRetryFor},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return keyErr(p.key, "must be a positive duration, got %s", p.d)
		}
	}
	nonNegative := []struct {
		key string
		d   time.Duration
	}{
		{"enquire-interval", c.EnquireInterval}, {"idle-timeout", c.IdleTimeout}, {"read-timeout", c.ReadTimeout},
		{"failed-bind-delay", c.FailedBindDelay}, {"test-receipt-delay", c.TestReceiptDelay},
	}
	for _, p := range nonNegative {
		if p.d < 0 {
			return keyErr(p.key, "must not be negative (0 disables it), got %s", p.d)
		}
	}
	if c.MessageRetention < c.ReceiptTTL {
		return keyErr("message-retention", "%s is shorter than receipt-ttl %s: a waiting receipt's message would be deleted",
			c.MessageRetention, c.ReceiptTTL)
	}
	atLeast := []struct {
		key    string
		v, min int
	}{
		{"enquire-max-unanswered", c.EnquireMaxUnanswered, 1}, {"window", c.Window, 1},
		{"max-pending", c.MaxPending, 1}, {"max-conns", c.MaxConns, 0}, {"max-conns-per-ip", c.MaxConnsPerIP, 0},
		{"max-response-timeouts", c.MaxResponseTimeouts, -1},
		{"callback-workers", c.CallbackWorkers, 1}, {"callback-per-host", c.CallbackPerHost, 1}, {"callback-max-rate", c.CallbackMaxRate, 0},
		{"callback-max-batch", c.CallbackMaxBatch, 1},
	}
	for _, a := range atLeast {
		if a.v < a.min {
			return keyErr(a.key, "must be at least %d, got %d", a.min, a.v)
		}
	}
	if c.CallbackPerHost > c.CallbackWorkers {
		return keyErr("callback-per-host", "%d is more than callback-workers %d", c.CallbackPerHost, c.CallbackWorkers)
	}
	if c.MaxPDUSize < pdu.HeaderLen || c.MaxPDUSize > 1<<20 {
		return keyErr("max-pdu-size", "must be between %d and %d octets, got %d", pdu.HeaderLen, 1<<20, c.MaxPDUSize)
	}
	if !slices.Contains([]string{"hex", "decimal", "uuid"}, c.MessageIDFormat) {
		return keyErr("message-id-format", "%q is not hex, decimal or uuid", c.MessageIDFormat)
	}
	live := c.Live
	live.Upstreams = slices.Clone(live.Upstreams) // SetDefaults writes to the elements
	live.SetDefaults()
	if err := live.Validate(); err != nil {
		// upstream names the key itself ("upstreams[0].address: ...").
		msg := strings.TrimPrefix(err.Error(), upstream.ErrConfig.Error()+": ")
		key, problem, _ := strings.Cut(msg, ": ")
		return &KeyError{Key: key, Problem: problem}
	}
	return nil
}

// Key describes one flat key: the ones with a flag and an environment
// variable.
type Key struct {
	Name string // YAML key and flag name
	Kind string // "string", "bool", "int" or "duration"
	// index is the field's index in Config.
	index int
}

// EnvVar is the key's environment variable: SMPPD_RECEIPT_TTL for
// receipt-ttl.
func (k Key) EnvVar() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(k.Name, "-", "_"))
}

var durationType = reflect.TypeFor[time.Duration]()

// Keys lists the flat keys in the order of Config's fields.
func Keys() []Key {
	t := reflect.TypeFor[Config]()
	var keys []Key
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			continue // the inlined upstream part
		}
		k := Key{Name: name, index: i}
		switch {
		case f.Type == durationType:
			k.Kind = "duration"
		case f.Type.Kind() == reflect.String:
			k.Kind = "string"
		case f.Type.Kind() == reflect.Bool:
			k.Kind = "bool"
		case f.Type.Kind() == reflect.Int:
			k.Kind = "int"
		default:
			panic("config: field " + f.Name + " has no Kind") // a programming error, caught by the tests
		}
		keys = append(keys, k)
	}
	return keys
}

// LookupKey finds a flat key by name.
func LookupKey(name string) (Key, bool) {
	for _, k := range Keys() {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// Set parses value as the key's type and stores it: how environment
// variables and flags reach the Config. Errors are *KeyError.
func (c *Config) Set(name, value string) error {
	k, ok := LookupKey(name)
	if !ok {
		return keyErr(name, "unknown key%s", suggest(name))
	}
	v, err := parseValue(k, value)
	if err != nil {
		return err
	}
	reflect.ValueOf(c).Elem().Field(k.index).Set(v)
	return nil
}

func parseValue(k Key, s string) (reflect.Value, error) {
	s = strings.TrimSpace(s)
	switch k.Kind {
	case "string":
		return reflect.ValueOf(s), nil
	case "bool":
		switch strings.ToLower(s) {
		case "1", "true", "yes", "on":
			return reflect.ValueOf(true), nil
		case "0", "false", "no", "off", "":
			return reflect.ValueOf(false), nil
		}
		return reflect.Value{}, keyErr(k.Name, "%q is not a boolean (true or false)", s)
	case "int":
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || fmt.Sprint(n) != strings.TrimPrefix(s, "+") {
			return reflect.Value{}, keyErr(k.Name, "%q is not a whole number", s)
		}
		return reflect.ValueOf(n), nil
	case "duration":
		d, err := ParseDuration(s)
		if err != nil {
			return reflect.Value{}, keyErr(k.Name, "%v", err)
		}
		return reflect.ValueOf(d), nil
	}
	return reflect.Value{}, keyErr(k.Name, "unsupported kind %s", k.Kind)
}

// ParseDuration is time.ParseDuration that also takes "0", and refuses a
// bare number other than 0 with a hint: "30" in a config file is far more
// often meant as 30s than as 30ns.
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if strings.Trim(s, "0123456789") == "" && s != "" {
			return 0, fmt.Errorf("%q has no unit: write %ss, %sm or %sh", s, s, s, s)
		}
		return 0, fmt.Errorf("%q is not a duration (e.g. 30s, 5m, 72h)", s)
	}
	return d, nil
}

// FormatDuration spells d without zero units: 72h, 1h30m, 10s, 0s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// knownTopKeys lists every key a config file may hold at its top level.
func knownTopKeys() []string {
	var names []string
	for _, k := range Keys() {
		names = append(names, k.Name)
	}
	t := reflect.TypeFor[upstream.Config]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// suggest returns ` (did you mean "x"?)` for the known key closest to
// name, or "".
func suggest(name string) string {
	best := Closest(name, knownTopKeys())
	if best == "" {
		best = Closest(strings.ReplaceAll(name, "_", "-"), knownTopKeys())
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Closest returns the candidate within a small edit distance of name (the
// nearest), or "": the "did you mean" of keys and flags.
func Closest(name string, candidates []string) string {
	best, bestDist := "", min(4, len(name)/2+1)
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
