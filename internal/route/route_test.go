package route

import (
	"errors"
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	tab, err := New([]Rule{
		{Prefix: "", Upstreams: []string{"default"}},
		{Prefix: "+44", Upstreams: []string{"uk-a", "uk-b"}},
		{Prefix: "447", Upstreams: []string{"uk-mobile"}},
		{Prefix: "44", Token: "acme", Upstreams: []string{"acme-uk"}},
		{Token: "tok_123", Upstreams: []string{"by-id"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, id, tokName, dest string
		want                    []string
	}{
		{"catch-all", "t1", "other", "33612345678", []string{"default"}},
		{"prefix", "t1", "other", "441234", []string{"uk-a", "uk-b"}},
		{"longest prefix", "t1", "other", "447700900000", []string{"uk-mobile"}},
		{"plus sign in dest", "t1", "other", "+447700900000", []string{"uk-mobile"}},
		{"token by name beats longer prefix", "t1", "acme", "447700900000", []string{"acme-uk"}},
		{"token rule prefix must still match", "t1", "acme", "33612345678", []string{"default"}},
		{"token by id", "tok_123", "x", "1555", []string{"by-id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tab.Lookup(tt.id, tt.tokName, tt.dest); !slices.Equal(got, tt.want) {
				t.Errorf("Lookup(%q, %q, %q) = %v, want %v", tt.id, tt.tokName, tt.dest, got, tt.want)
			}
		})
	}
	if got := tab.Upstreams(); !slices.Equal(got, []string{"acme-uk", "by-id", "default", "uk-a", "uk-b", "uk-mobile"}) {
		t.Errorf("Upstreams() = %v", got)
	}
}

func TestLookupNoMatch(t *testing.T) {
	tab, err := New([]Rule{{Prefix: "44", Upstreams: []string{"uk"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Lookup("t", "n", "33612345678"); got != nil {
		t.Errorf("Lookup = %v, want nil", got)
	}
	var nilTab *Table
	if got := nilTab.Lookup("t", "n", "44"); got != nil {
		t.Errorf("nil table Lookup = %v", got)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want error
	}{
		{"letters", Rule{Prefix: "44a", Upstreams: []string{"x"}}, ErrBadPrefix},
		{"no upstream", Rule{Prefix: "44"}, ErrNoUpstreams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New([]Rule{tt.rule}); !errors.Is(err, tt.want) {
				t.Errorf("New() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	n, err := NewNumbers([]Range{
		{Token: "wide", Spec: "4477"},
		{Token: "block", Spec: "447700100000-447700199999"},
		{Token: "one", Spec: "+447700150000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dest, want string
		ok         bool
	}{
		{"447712345678", "wide", true},
		{"447700100000", "block", true},
		{"447700199999", "block", true},
		{"447700150000", "one", true},
		{"4477001500001", "one", true}, // prefix form: longer numbers too
		{"44770010000", "wide", true},  // shorter than the range: not in it
		{"33612345678", "", false},
	}
	for _, tt := range tests {
		got, ok := n.Owner(tt.dest)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Owner(%q) = %q, %v; want %q, %v", tt.dest, got, ok, tt.want, tt.ok)
		}
	}
	for _, bad := range []Range{{Token: "t", Spec: "44a"}, {Token: "t", Spec: "4499-4400"}, {Token: "t", Spec: "44-4400"}, {Token: "", Spec: "44"}, {Token: "t", Spec: ""}} {
		if _, err := NewNumbers([]Range{bad}); err == nil {
			t.Errorf("NewNumbers(%+v) = nil error", bad)
		}
	}
}
