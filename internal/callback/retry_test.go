package callback

import (
	"net/http"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code int
		want Result
	}{
		{200, ResultSuccess}, {202, ResultSuccess}, {204, ResultSuccess}, {299, ResultSuccess},
		{100, ResultClientError}, {301, ResultClientError}, {302, ResultClientError},
		{400, ResultClientError}, {401, ResultClientError}, {404, ResultClientError}, {410, ResultClientError},
		{408, ResultThrottled}, {429, ResultThrottled},
		{500, ResultServerError}, {502, ResultServerError}, {503, ResultServerError}, {599, ResultServerError},
	}
	for _, tt := range tests {
		if got := classify(tt.code); got != tt.want {
			t.Errorf("classify(%d) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 120 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999", 365 * 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Mon, 30 Nov 2026 00:59:00 GMT", 0, true},            // in the past
		{"Monday, 30-Nov-26 01:01:00 GMT", time.Minute, true}, // RFC 850, still valid
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	base, limit := time.Second, time.Minute
	for attempts := 1; attempts <= 40; attempts++ {
		ceil := min(limit, base<<min(attempts-1, 20))
		for range 50 {
			if d := backoff(attempts, base, limit); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", attempts, d, ceil)
			}
		}
	}
	// Full jitter: across many draws the delay is not pinned to the ceiling.
	var below int
	for range 200 {
		if backoff(10, base, limit) < limit/2 {
			below++
		}
	}
	if below == 0 {
		t.Errorf("backoff never drew below half the ceiling in 200 tries: no jitter")
	}
}
