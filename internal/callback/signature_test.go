package callback

import (
	"errors"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"event_id":"evt_1_1"}`)
	good := Sign("whsec_k", now, body)
	tests := []struct {
		name      string
		secret    string
		header    string
		body      []byte
		tolerance time.Duration
		want      error
	}{
		{"valid", "whsec_k", good, body, 0, nil},
		{"valid with spaces and unknown keys", "whsec_k", " v0=zz, " + good + " ,x=1", body, 0, nil},
		{"second v1 matches (rotation overlap)", "whsec_k", Sign("whsec_old", now, body) + "," + good[len("t=1800000000,"):], body, 0, nil},
		{"tampered body", "whsec_k", good, []byte(`{"event_id":"evt_1_2"}`), 0, ErrSignatureMismatch},
		{"wrong secret", "whsec_other", good, body, 0, ErrSignatureMismatch},
		{"secret without prefix", "k", good, body, 0, ErrSignatureMismatch},
		{"too old", "whsec_k", Sign("whsec_k", now.Add(-6*time.Minute), body), body, 0, ErrTimestamp},
		{"too far ahead", "whsec_k", Sign("whsec_k", now.Add(6*time.Minute), body), body, 0, ErrTimestamp},
		{"old but within custom tolerance", "whsec_k", Sign("whsec_k", now.Add(-6*time.Minute), body), body, 10 * time.Minute, nil},
		{"old, check disabled", "whsec_k", Sign("whsec_k", now.Add(-48*time.Hour), body), body, -1, nil},
		{"timestamp changed", "whsec_k", "t=1800000001," + good[len("t=1800000000,"):], body, 0, ErrSignatureMismatch},
		{"empty", "whsec_k", "", body, 0, ErrNoSignature},
		{"no v1", "whsec_k", "t=1800000000", body, 0, ErrNoSignature},
		{"no t", "whsec_k", good[len("t=1800000000,"):], body, 0, ErrNoSignature},
		{"v1 not hex", "whsec_k", "t=1800000000,v1=xyz", body, 0, ErrNoSignature},
		{"v1 short", "whsec_k", "t=1800000000,v1=abcd", body, 0, ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifyAt(tt.secret, tt.header, tt.body, tt.tolerance, now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify() = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSignKnownAnswer pins the scheme to a value computed independently with
// printf '%s' '1800000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_k
func TestSignKnownAnswer(t *testing.T) {
	got := Sign("whsec_k", time.Unix(1_800_000_000, 0), []byte(`{"a":1}`))
	const want = "t=1800000000,v1=" + knownMAC
	if got != want {
		t.Errorf("Sign() = %q, want %q", got, want)
	}
}

const knownMAC = "e4d70eae31709ba0dd7d42ee9bf4ecf92970bd86557bc8f11b39d64c7abba284"
