package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

// tokenSecretsWarning follows every display of freshly issued secrets.
const tokenSecretsWarning = "Store these secrets now: they cannot be shown again (smppd keeps only their hashes)."

// tokenView is a token as `--output json` prints it.
type tokenView struct {
	tokenstore.Token
	Active bool `json:"active"`
}

func tokenViewOf(t tokenstore.Token) tokenView {
	if t.Limits.AllowIPs == nil {
		t.Limits.AllowIPs = []netip.Prefix{} // "allow_ips": [] rather than null
	}
	return tokenView{Token: t, Active: t.Active()}
}

// createdView is what `token create --output json` prints: the token and
// every secret key, empty when not issued (no SMPP: no system_id, no
// password).
type createdView struct {
	tokenView
	Password       string `json:"password"`
	APIKey         string `json:"api_key"`
	CallbackSecret string `json:"callback_secret"`
}

// issuedView is what update and rotate print: the token and the secrets
// they issued, if any.
type issuedView struct {
	tokenView
	Password       string `json:"password,omitempty"`
	APIKey         string `json:"api_key,omitempty"`
	CallbackSecret string `json:"callback_secret,omitempty"`
}

func writeTokenJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func tokenMode(t tokenstore.Token) string {
	if t.TestMode {
		return "test"
	}
	return "live"
}

func tokenStatus(t tokenstore.Token) string {
	if t.Active() {
		return "active"
	}
	return "revoked"
}

func tokenTimeText(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func tokenLimitText(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

func tokenOr(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}

// writeTokenText prints a token as aligned "field  value" lines.
// writeTokenText prints t as aligned "key value" rows, extra rows last.
func writeTokenText(w io.Writer, t tokenstore.Token, extra ...[2]string) error {
	ips := "any"
	if len(t.Limits.AllowIPs) > 0 {
		s := make([]string, len(t.Limits.AllowIPs))
		for i, p := range t.Limits.AllowIPs {
			s[i] = p.String()
		}
		ips = strings.Join(s, ", ")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"name", t.Name},
		{"id", t.ID},
		{"status", tokenStatus(t)},
		{"mode", tokenMode(t)},
		{"permissions", t.Permissions.String()},
		{"system_id", tokenOr(t.SystemID, "-")},
		{"api_key", tokenOr(t.APIKeyPrefix, "-") + "…"},
		{"callback_url", tokenOr(t.CallbackURL, "-")},
		{"max_binds", tokenLimitText(t.Limits.MaxBinds)},
		{"max_tps", tokenLimitText(t.Limits.MaxTPS)},
		{"allow_ips", ips},
		{"created", tokenTimeText(t.CreatedAt, "-")},
		{"updated", tokenTimeText(t.UpdatedAt, "-")},
		{"last_bind", tokenTimeText(t.LastBindAt, "never")},
	}
	if !t.Active() {
		rows = append(rows, [2]string{"revoked", tokenTimeText(t.RevokedAt, "-")})
	}
	rows = append(rows, extra...)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// writeSecretsText prints issued secrets, one per line.
func writeSecretsText(w io.Writer, r admin.TokenResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Secrets.Password != "" {
		fmt.Fprintf(tw, "system_id\t%s\n", r.Token.SystemID)
		fmt.Fprintf(tw, "password\t%s\n", r.Secrets.Password)
	}
	if r.Secrets.APIKey != "" {
		fmt.Fprintf(tw, "api_key\t%s\n", r.Secrets.APIKey)
	}
	if r.CallbackSecret != "" {
		fmt.Fprintf(tw, "callback_secret\t%s\n", r.CallbackSecret)
	}
	return tw.Flush()
}

// writeTokenTable prints the list table.
func writeTokenTable(w io.Writer, ts []tokenstore.Token) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tSYSTEM_ID\tPERMISSIONS\tMODE\tSTATUS\tCREATED\tLAST BIND")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.ID, tokenOr(t.SystemID, "-"),
			t.Permissions.String(), tokenMode(t), tokenStatus(t), tokenTimeText(t.CreatedAt, "-"), tokenTimeText(t.LastBindAt, "never"))
	}
	return tw.Flush()
}
