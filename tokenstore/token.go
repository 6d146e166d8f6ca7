package tokenstore

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest token name, in characters.
const MaxNameLen = 64

// Token is the public view of an API token: everything an operator may see.
// It never holds a secret or a hash of one; those stay inside the Store.
type Token struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Permissions Permissions `json:"permissions"`
	TestMode    bool        `json:"test_mode"`
	// CallbackURL receives delivery reports over HTTP; empty means none.
	CallbackURL string `json:"callback_url"`
	Limits      Limits `json:"limits"`

	// SystemID is the SMPP system_id; empty when the token never had the
	// SMPP permission. It is not a secret.
	SystemID string `json:"system_id"`
	// LongPassword records that the SMPP password is longer than the
	// 8 characters of SMPP 3.4; rotations keep the same kind.
	LongPassword bool `json:"long_password,omitempty"`
	// APIKeyPrefix is the start of the API key (its test/live prefix and
	// four random characters), enough to recognise a leaked key.
	APIKeyPrefix string `json:"api_key_prefix"`
	// CallbackSecretVersion is bumped by a callback-secret rotation; the
	// signing secret is derived from it (see CallbackSecret).
	CallbackSecretVersion uint32 `json:"callback_secret_version"`

	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastBindAt time.Time `json:"last_bind_at,omitzero"`

	// Revision counts the changes to the token (update, rotate, revoke),
	// starting at 1. Callers that cache a Token can compare revisions.
	Revision uint64 `json:"revision"`
}

// Active reports whether the token has not been revoked.
func (t Token) Active() bool { return t.RevokedAt.IsZero() }

// Permissions says which channels a token may send on. A token has at
// least one.
type Permissions struct {
	SMPP bool
	HTTP bool
}

// Strings returns the permissions as names, "smpp" before "http".
func (p Permissions) Strings() []string {
	s := []string{}
	if p.SMPP {
		s = append(s, "smpp")
	}
	if p.HTTP {
		s = append(s, "http")
	}
	return s
}

// String returns the permissions joined by commas, or "none".
func (p Permissions) String() string {
	if !p.SMPP && !p.HTTP {
		return "none"
	}
	return strings.Join(p.Strings(), ",")
}

// MarshalJSON encodes the permissions as an array of names, e.g. ["smpp","http"].
func (p Permissions) MarshalJSON() ([]byte, error) { return json.Marshal(p.Strings()) }

// UnmarshalJSON decodes an array of permission names.
func (p *Permissions) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	*p = Permissions{}
	for _, n := range names {
		switch n {
		case "smpp":
			p.SMPP = true
		case "http":
			p.HTTP = true
		default:
			return fmt.Errorf("unknown permission %q", n)
		}
	}
	return nil
}

// Limits bound what a token may do. Zero or empty means unlimited or any.
type Limits struct {
	// MaxBinds caps the token's concurrently bound SMPP sessions. The
	// gateway enforces it, since it knows the live sessions.
	MaxBinds int `json:"max_binds"`
	// MaxTPS caps submitted messages per second across the token's sessions.
	MaxTPS int `json:"max_tps"`
	// AllowIPs lists the source networks a bind may come from.
	AllowIPs []netip.Prefix `json:"allow_ips"`
}

// AllowsIP reports whether a bind from addr is allowed by AllowIPs.
func (l Limits) AllowsIP(addr netip.Addr) bool {
	if len(l.AllowIPs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range l.AllowIPs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// CreateParams describe a new token.
type CreateParams struct {
	Name        string      `json:"name"`
	Permissions Permissions `json:"permissions"`
	TestMode    bool        `json:"test_mode"`
	CallbackURL string      `json:"callback_url"`
	Limits      Limits      `json:"limits"`
	// LongPassword issues a 32-character SMPP password instead of the
	// 8 characters SMPP 3.4 allows, for clients that send long passwords.
	LongPassword bool `json:"long_password"`
}

// UpdateParams change a token. Nil fields are left as they are.
type UpdateParams struct {
	Name *string `json:"name,omitempty"`
	// CallbackURL set to "" removes the callback URL.
	CallbackURL *string `json:"callback_url,omitempty"`
	TestMode    *bool   `json:"test_mode,omitempty"`
	SMPP        *bool   `json:"smpp,omitempty"`
	HTTP        *bool   `json:"http,omitempty"`
	MaxBinds    *int    `json:"max_binds,omitempty"`
	MaxTPS      *int    `json:"max_tps,omitempty"`
	// AllowIPs replaces the allowed networks; an empty, non-nil slice
	// allows any address.
	AllowIPs *[]netip.Prefix `json:"allow_ips,omitempty"`
}

// RotateParams choose which credentials a rotation replaces. With none
// chosen, Rotate replaces the API key and, when the token has the SMPP
// permission, the SMPP password; the callback secret only changes when
// asked for, since receivers must be reconfigured with it.
type RotateParams struct {
	SMPPPassword   bool `json:"smpp_password"`
	APIKey         bool `json:"api_key"`
	CallbackSecret bool `json:"callback_secret"`
}

// Secrets are the credentials issued by Create or Rotate (and by Update
// when it enables SMPP on a token that never had SMPP credentials). They
// are returned once and never stored; empty fields were not issued.
type Secrets struct {
	APIKey   string `json:"api_key"`
	Password string `json:"password"`
}

// ValidateName checks a token name: 1 to MaxNameLen printable characters,
// no leading or trailing space, and not shaped like a token id (so that
// "ID or name" arguments stay unambiguous).
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: name is empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name is not valid UTF-8", ErrInvalidName)
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Errorf("%w: name is %d characters long, the limit is %d", ErrInvalidName, utf8.RuneCountInString(name), MaxNameLen)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w: name %q has leading or trailing space", ErrInvalidName, name)
	case looksLikeID(name):
		return fmt.Errorf("%w: name %q looks like a token id", ErrInvalidName, name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: name %q contains a control character", ErrInvalidName, name)
		}
	}
	return nil
}

// ValidateCallbackURL checks a callback URL: empty, or an absolute http or
// https URL with a host.
func ValidateCallbackURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalidURL, raw, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w %q: scheme must be http or https", ErrInvalidURL, raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w %q: no host", ErrInvalidURL, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w %q: credentials in the URL are not allowed", ErrInvalidURL, raw)
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// ParsePrefix parses an allowed source network: a CIDR ("10.0.0.0/8") or a
// single address ("192.0.2.7", taken as /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w %q", ErrInvalidCIDR, s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%w %q", ErrInvalidCIDR, s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func validateLimits(l Limits) error {
	if l.MaxBinds < 0 {
		return fmt.Errorf("%w: max binds %d is negative", ErrInvalidLimit, l.MaxBinds)
	}
	if l.MaxTPS < 0 {
		return fmt.Errorf("%w: max TPS %d is negative", ErrInvalidLimit, l.MaxTPS)
	}
	for _, p := range l.AllowIPs {
		if !p.IsValid() {
			return fmt.Errorf("%w %q", ErrInvalidCIDR, p.String())
		}
	}
	return nil
}

func normalizePrefixes(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, len(ps))
	seen := make(map[netip.Prefix]bool, len(ps))
	for _, p := range ps {
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		p = p.Masked()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
