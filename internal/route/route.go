// Package route is smppd's routing table for live traffic: which upstream
// SMSCs may carry a message (by destination prefix and/or token), and which
// token owns an inbound (MO) destination number. It is pure: no I/O, no
// clock, safe for concurrent reads once built.
package route

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Errors returned by New and NewNumbers. Callers compare with errors.Is.
var (
	// ErrBadPrefix reports a prefix or number range that is not digits.
	ErrBadPrefix = errors.New("route: prefix must be digits (E.164, an optional leading +)")
	// ErrNoUpstreams reports a rule that names no upstream.
	ErrNoUpstreams = errors.New("route: rule names no upstream")
	// ErrBadRange reports a number range whose ends differ in length or are reversed.
	ErrBadRange = errors.New("route: bad number range")
)

// Rule sends messages to Upstreams, tried in order. A rule matches a
// message when its Token (a token id or name; empty: any token) matches and
// the destination starts with Prefix (empty: any destination).
type Rule struct {
	Prefix    string
	Token     string
	Upstreams []string
}

// Table is an immutable set of rules.
type Table struct {
	rules []Rule // most specific first
}

// New validates rules and returns the table. Precedence, independent of the
// order given: a rule naming the token beats one that does not; among
// those, the longest prefix wins; ties keep the given order.
func New(rules []Rule) (*Table, error) {
	t := &Table{rules: make([]Rule, 0, len(rules))}
	for i, r := range rules {
		p, err := normalizePrefix(r.Prefix)
		if err != nil {
			return nil, fmt.Errorf("route %d: %w: %q", i, err, r.Prefix)
		}
		if len(r.Upstreams) == 0 {
			return nil, fmt.Errorf("route %d: %w", i, ErrNoUpstreams)
		}
		r.Prefix = p
		r.Upstreams = append([]string(nil), r.Upstreams...)
		t.rules = append(t.rules, r)
	}
	sort.SliceStable(t.rules, func(i, j int) bool {
		a, b := t.rules[i], t.rules[j]
		if (a.Token != "") != (b.Token != "") {
			return a.Token != ""
		}
		return len(a.Prefix) > len(b.Prefix)
	})
	return t, nil
}

// Lookup returns the upstreams, in the order to try, for a message of the
// token (known by its id and its name) to dest; nil when no rule matches.
// The slice is shared: do not modify it.
func (t *Table) Lookup(tokenID, tokenName, dest string) []string {
	if t == nil {
		return nil
	}
	d := Normalize(dest)
	for _, r := range t.rules {
		if r.Token != "" && r.Token != tokenID && r.Token != tokenName {
			continue
		}
		if strings.HasPrefix(d, r.Prefix) {
			return r.Upstreams
		}
	}
	return nil
}

// Upstreams returns every upstream name the rules refer to, sorted.
func (t *Table) Upstreams() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range t.rules {
		for _, u := range r.Upstreams {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Normalize returns an address in the digits-only form the tables use: a
// leading "+" or international "00" is dropped, and spaces, dashes and dots
// are ignored. Anything else (an alphanumeric sender) is returned as is.
func Normalize(addr string) string {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimPrefix(addr, "+")
	if strings.ContainsAny(addr, " -.") {
		addr = strings.NewReplacer(" ", "", "-", "", ".", "").Replace(addr)
	}
	return addr
}

func normalizePrefix(p string) (string, error) {
	p = Normalize(p)
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return "", ErrBadPrefix
		}
	}
	return p, nil
}

// Range is one block of numbers owned by a token: either a prefix ("4477001"
// owns every number that starts with it) or an inclusive range of numbers
// of the same length ("447700100000-447700199999").
type Range struct {
	Token string // token id or name
	Spec  string
}

// Numbers maps inbound destination numbers to the tokens that own them.
type Numbers struct {
	entries []numberEntry // longest prefix / narrowest range first
}

type numberEntry struct {
	token   string
	prefix  string // prefix form
	lo, hi  string // range form (same length)
	width   int    // specificity: len(prefix), or digits shared by lo and hi
	isRange bool
}

// NewNumbers validates ranges and returns the table. The most specific entry
// wins: the longest prefix, a range counting as the digits its ends share.
func NewNumbers(ranges []Range) (*Numbers, error) {
	n := &Numbers{}
	for i, r := range ranges {
		e := numberEntry{token: r.Token}
		spec := strings.TrimSpace(r.Spec)
		if lo, hi, ok := strings.Cut(spec, "-"); ok && !strings.HasPrefix(spec, "-") {
			l, err1 := normalizePrefix(lo)
			h, err2 := normalizePrefix(hi)
			if err1 != nil || err2 != nil || l == "" {
				return nil, fmt.Errorf("number range %d: %w: %q", i, ErrBadPrefix, r.Spec)
			}
			if len(l) != len(h) || l > h {
				return nil, fmt.Errorf("number range %d: %w: %q", i, ErrBadRange, r.Spec)
			}
			e.lo, e.hi, e.isRange = l, h, true
			for e.width < len(l) && l[e.width] == h[e.width] {
				e.width++
			}
		} else {
			p, err := normalizePrefix(spec)
			if err != nil || p == "" {
				return nil, fmt.Errorf("number range %d: %w: %q", i, ErrBadPrefix, r.Spec)
			}
			e.prefix, e.width = p, len(p)
		}
		if r.Token == "" {
			return nil, fmt.Errorf("number range %d: no token", i)
		}
		n.entries = append(n.entries, e)
	}
	sort.SliceStable(n.entries, func(i, j int) bool { return n.entries[i].width > n.entries[j].width })
	return n, nil
}

// Owner returns the token (as configured: id or name) that owns dest.
func (n *Numbers) Owner(dest string) (string, bool) {
	if n == nil {
		return "", false
	}
	d := Normalize(dest)
	for _, e := range n.entries {
		if e.isRange {
			if len(d) == len(e.lo) && d >= e.lo && d <= e.hi {
				return e.token, true
			}
			continue
		}
		if strings.HasPrefix(d, e.prefix) {
			return e.token, true
		}
	}
	return "", false
}
